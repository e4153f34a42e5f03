//! Every channel against a real server on loopback: an SMTP sink speaking
//! SMTP on a socket, and HTTP receivers, started by the test. The messages
//! arrive with the expected contents, in English and Chinese; the webhook's
//! HMAC verifies; PagerDuty's events follow the incident; failures are
//! classified transient or permanent.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::Duration;

use breachd::config::Config;
use breachd::notify::{Channel, Locale, Notice, Notification, Status, Templates};
use hmac::{Hmac, Mac};

// ---------- a small SMTP server ----------

#[derive(Debug, Default)]
struct Mail {
    /// Whether the message came over TLS.
    tls: bool,
    auth: Option<String>,
    from: String,
    rcpt: Vec<String>,
    data: String,
}

/// How the sink secures its connections.
#[derive(Clone)]
enum Security {
    Plain,
    /// Offers STARTTLS, and AUTH only once TLS is up (as real servers do).
    StartTls(Arc<rustls::ServerConfig>),
    /// TLS from the first byte.
    Implicit(Arc<rustls::ServerConfig>),
}

/// Accepts connections forever on a loopback port; each delivered message
/// is sent on the channel. `mail_reply` answers MAIL FROM (`250 ok`, or a
/// failure to test classification).
fn smtp_sink(mail_reply: &'static str) -> (u16, Receiver<Mail>) {
    smtp_sink_with(mail_reply, Security::Plain)
}

fn smtp_sink_with(mail_reply: &'static str, security: Security) -> (u16, Receiver<Mail>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            let security = security.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = match security {
                    Security::Plain => {
                        smtp_session(stream, mail_reply, false, false, true, &tx).map(drop)
                    }
                    Security::Implicit(cfg) => {
                        let tls = rustls::StreamOwned::new(
                            rustls::ServerConnection::new(cfg).unwrap(),
                            stream,
                        );
                        smtp_session(tls, mail_reply, true, false, true, &tx).map(drop)
                    }
                    Security::StartTls(cfg) => {
                        match smtp_session(stream, mail_reply, false, true, true, &tx) {
                            Ok(Some(plain)) => {
                                let tls = rustls::StreamOwned::new(
                                    rustls::ServerConnection::new(cfg).unwrap(),
                                    plain,
                                );
                                smtp_session(tls, mail_reply, true, false, false, &tx).map(drop)
                            }
                            other => other.map(drop),
                        }
                    }
                };
            });
        }
    });
    (port, rx)
}

/// Speaks SMTP on `stream`; returns the stream when the client asked for
/// STARTTLS (and `offer_starttls`), so the caller can wrap it in TLS.
fn smtp_session<S: Read + Write>(
    stream: S,
    mail_reply: &str,
    tls: bool,
    offer_starttls: bool,
    greet: bool,
    tx: &std::sync::mpsc::Sender<Mail>,
) -> std::io::Result<Option<S>> {
    let mut r = BufReader::new(stream);
    let mut mail = Mail {
        tls,
        ..Mail::default()
    };
    // after STARTTLS the client speaks first (EHLO again)
    if greet {
        r.get_mut().write_all(b"220 sink.test ESMTP\r\n")?;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let w = r.get_mut();
        if upper.starts_with("EHLO") {
            if offer_starttls {
                w.write_all(b"250-sink.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")?;
            } else {
                w.write_all(b"250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n")?;
            }
        } else if upper == "STARTTLS" && offer_starttls {
            w.write_all(b"220 2.0.0 ready to start TLS\r\n")?;
            w.flush()?;
            return Ok(Some(r.into_inner()));
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = cmd[10..].trim().to_string();
            let arg = if arg.is_empty() {
                w.write_all(b"334 \r\n")?;
                let mut l = String::new();
                r.read_line(&mut l)?;
                l.trim_end().to_string()
            } else {
                arg
            };
            mail.auth = Some(String::from_utf8(base64(&arg)).unwrap());
            r.get_mut()
                .write_all(b"235 2.7.0 Authentication successful\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = cmd[10..].trim().to_string();
            w.write_all(format!("{mail_reply}\r\n").as_bytes())?;
        } else if upper.starts_with("RCPT TO:") {
            mail.rcpt.push(cmd[8..].trim().to_string());
            w.write_all(b"250 2.1.5 ok\r\n")?;
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l)? == 0 {
                    return Ok(None);
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(
                    l.strip_prefix('.')
                        .filter(|_| l.starts_with(".."))
                        .unwrap_or(&l),
                );
            }
            mail.data = data;
            r.get_mut().write_all(b"250 2.0.0 queued\r\n")?;
            let _ = tx.send(std::mem::replace(
                &mut mail,
                Mail {
                    tls,
                    ..Mail::default()
                },
            ));
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n")?;
            w.flush()?;
            return Ok(None);
        } else {
            w.write_all(b"250 ok\r\n")?;
        }
        r.get_mut().flush()?;
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// A header's value, with RFC 2047 base64 encoded-words decoded.
fn header(data: &str, name: &str) -> String {
    let mut value = String::new();
    let mut lines = data.lines().peekable();
    while let Some(l) = lines.next() {
        if l.is_empty() {
            break;
        }
        if l.to_ascii_lowercase()
            .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        {
            value.push_str(l[name.len() + 1..].trim());
            while let Some(next) = lines.peek() {
                if next.starts_with(' ') || next.starts_with('\t') {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
        }
    }
    // whitespace between two encoded-words is dropped, elsewhere kept
    let mut out = String::new();
    let mut prev_encoded = None;
    for w in value.split_whitespace() {
        let decoded = w
            .strip_prefix("=?utf-8?b?")
            .and_then(|w| w.strip_suffix("?="))
            .map(|b| String::from_utf8(base64(b)).unwrap());
        match (prev_encoded, decoded.is_some()) {
            (None, _) | (Some(true), true) => {}
            _ => out.push(' '),
        }
        prev_encoded = Some(decoded.is_some());
        out.push_str(&decoded.unwrap_or_else(|| w.to_string()));
    }
    out
}

/// The decoded body of the MIME part with `content_type`.
fn part(data: &str, content_type: &str) -> String {
    let start = data
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in:\n{data}"));
    let rest = &data[start..];
    let body_at = rest.find("\r\n\r\n").unwrap() + 4;
    let body = &rest[body_at..];
    let end = body.find("\r\n--").unwrap_or(body.len());
    String::from_utf8(base64(&body[..end])).unwrap()
}

// ---------- a small HTTP receiver ----------

#[derive(Debug)]
struct Request {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Answers requests with `statuses` in turn (the last one repeats).
fn http_receiver(statuses: &'static [u16]) -> (String, Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let status = statuses[i.min(statuses.len() - 1)];
            let Ok(req) = read_request(&mut stream) else {
                continue;
            };
            let body = if status < 300 { "ok" } else { "no thanks" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tx.send(req);
        }
    });
    (base, rx)
}

fn read_request(stream: &mut TcpStream) -> std::io::Result<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut r = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l)?;
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Request {
        path,
        headers,
        body,
    })
}

// ---------- helpers ----------

fn config(dir: &Path, notify: &str) -> Config {
    let path = dir.join("breachd.toml");
    std::fs::write(&path, notify).unwrap();
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn open(c: &Config, name: &str) -> Channel {
    Channel::open(c.notify.channel(name).unwrap()).unwrap()
}

fn recv<T>(rx: &Receiver<T>) -> T {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the server received it")
}

fn templates() -> Templates {
    Templates::shipped().unwrap()
}

fn notice(locale: Locale, status: Status) -> Notice {
    let mut n = Notice::sample(locale);
    n.status = status;
    n
}

fn smtp_config(dir: &Path, port: u16) -> Config {
    std::fs::write(dir.join("smtp.pass"), "hunter2\n").unwrap();
    config(
        dir,
        &format!(
            r#"[[notify.channel]]
name = "mail"
kind = "smtp"
host = "127.0.0.1"
port = {port}
tls = "none"
username = "breachd"
password_file = "smtp.pass"
from = "breachd <breachd@example.org>"
to = ["oncall@example.org", "Legal Team <legal@example.org>"]
timeout = "5s"
"#
        ),
    )
}

// ---------- SMTP ----------

#[test]
fn smtp_delivers_the_alert_and_a_chinese_notice_with_auth_and_a_stable_message_id() {
    let (port, rx) = smtp_sink("250 2.1.0 ok");
    let dir = tempfile::tempdir().unwrap();
    let c = smtp_config(dir.path(), port);
    let mail = open(&c, "mail");
    let t = templates();

    let alert =
        Notification::alert(&t, &notice(Locale::En, Status::Open), "INC-0042/alert/1").unwrap();
    let receipt = mail.send(&alert).unwrap();
    let m = recv(&rx);
    assert_eq!(m.auth.as_deref(), Some("\0breachd\0hunter2"));
    assert_eq!(m.from, "<breachd@example.org>");
    assert_eq!(m.rcpt, vec!["<oncall@example.org>", "<legal@example.org>"]);
    assert_eq!(
        header(&m.data, "Subject"),
        "[breachd] high severity: Customer records read through a stolen API key (INC-0042)"
    );
    let message_id = header(&m.data, "Message-ID");
    assert_eq!(message_id, receipt.detail);
    assert!(
        message_id.ends_with(".breachd@example.org>"),
        "{message_id}"
    );
    let text = part(&m.data, "text/plain");
    assert!(
        text.starts_with("Incident INC-0042: Customer records"),
        "{text}"
    );
    assert!(
        text.contains("Approximate subjects: 1240; records: 3712"),
        "{text}"
    );
    let html = part(&m.data, "text/html");
    assert!(
        html.contains("<p>Incident INC-0042: Customer records"),
        "{html}"
    );

    // a retry of the same notification carries the same Message-ID
    mail.send(&alert).unwrap();
    assert_eq!(header(&recv(&rx).data, "Message-ID"), message_id);

    let sa = Notification::notice(
        &t,
        "pipl_supervisory_authority",
        &notice(Locale::ZhCn, Status::Open),
        "INC-0042/pipl_supervisory_authority/zh-CN",
    )
    .unwrap();
    let receipt = mail.send(&sa).unwrap();
    assert_ne!(receipt.detail, message_id);
    let m = recv(&rx);
    assert_eq!(
        header(&m.data, "Subject"),
        "个人信息安全事件报告（《中华人民共和国个人信息保护法》）：Example Health GmbH，INC-0042"
    );
    let text = part(&m.data, "text/plain");
    for want in [
        "# 个人信息安全事件报告：《中华人民共和国个人信息保护法》",
        "法律依据：《个人信息保护法》第五十七条",
        "个人信息种类：姓名和身份标识、联系方式、健康信息、身份证件号码。",
        "原因：An API key committed",
        "数据保护负责人：Dana Officer，dpo@example.org",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
    assert!(part(&m.data, "text/html").contains("<h2 style=\"font-size: 14pt\">事件性质</h2>"));
}

/// A server certificate for `localhost` from a throwaway CA: (the server's
/// TLS config, the certificate as PEM for `ca_file`).
fn tls_server() -> (Arc<rustls::ServerConfig>, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    (Arc::new(cfg), ck.cert.pem())
}

fn tls_config(dir: &Path, port: u16, tls: &str, ca_pem: Option<&str>) -> Config {
    std::fs::write(dir.join("smtp.pass"), "hunter2\n").unwrap();
    let ca = match ca_pem {
        Some(pem) => {
            std::fs::write(dir.join("ca.pem"), pem).unwrap();
            "ca_file = \"ca.pem\"\n"
        }
        None => "",
    };
    config(
        dir,
        &format!(
            "[[notify.channel]]\nname = \"mail\"\nkind = \"smtp\"\nhost = \"localhost\"\nport = {port}\ntls = \"{tls}\"\n{ca}username = \"breachd\"\npassword_file = \"smtp.pass\"\nfrom = \"breachd@example.org\"\nto = [\"oncall@example.org\"]\ntimeout = \"5s\"\n"
        ),
    )
}

#[test]
fn starttls_and_implicit_tls_carry_the_login_and_the_message_encrypted() {
    let (server, ca) = tls_server();
    for (tls, security) in [
        ("starttls", Security::StartTls(server.clone())),
        ("implicit", Security::Implicit(server.clone())),
    ] {
        let (port, rx) = smtp_sink_with("250 ok", security);
        let dir = tempfile::tempdir().unwrap();
        let c = tls_config(dir.path(), port, tls, Some(&ca));
        let n = Notification::alert(&templates(), &notice(Locale::ZhCn, Status::Open), "k-tls")
            .unwrap();
        open(&c, "mail")
            .send(&n)
            .unwrap_or_else(|e| panic!("{tls}: {e}"));
        let m = recv(&rx);
        assert!(m.tls, "{tls}: the message came in clear");
        assert_eq!(m.auth.as_deref(), Some("\0breachd\0hunter2"), "{tls}");
        let text = part(&m.data, "text/plain");
        assert!(
            text.starts_with("事件 INC-0042：Customer records"),
            "{tls}: {text}"
        );
    }
}

#[test]
fn starttls_is_required_and_the_certificate_is_verified() {
    // a server that does not offer STARTTLS gets neither password nor mail
    let (server, ca) = tls_server();
    let (port, rx) = smtp_sink("250 ok");
    let dir = tempfile::tempdir().unwrap();
    let c = tls_config(dir.path(), port, "starttls", Some(&ca));
    let n = Notification::alert(&templates(), &notice(Locale::En, Status::Open), "k").unwrap();
    let e = open(&c, "mail").send(&n).unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(e.to_string().contains("STARTTLS"), "{e}");
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());

    // a certificate no trusted authority signed: refused, permanently
    let (port, rx) = smtp_sink_with("250 ok", Security::Implicit(server));
    let dir = tempfile::tempdir().unwrap();
    let c = tls_config(dir.path(), port, "implicit", None);
    let e = open(&c, "mail").send(&n).unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
}

#[test]
fn a_notice_to_named_recipients_goes_only_to_them() {
    let (port, rx) = smtp_sink("250 ok");
    let dir = tempfile::tempdir().unwrap();
    let c = smtp_config(dir.path(), port);
    let mut n = Notification::notice(
        &templates(),
        "ca_data_subjects",
        &notice(Locale::En, Status::Open),
        "INC-0042/ca/alice",
    )
    .unwrap();
    n.to = vec!["Alice <alice@example.net>".into()];
    open(&c, "mail").send(&n).unwrap();
    let m = recv(&rx);
    assert_eq!(m.rcpt, vec!["<alice@example.net>"]);
    let text = part(&m.data, "text/plain");
    assert!(text.starts_with("# Notice of Data Breach"), "{text}");
    assert!(text.contains("## What You Can Do"), "{text}");
    assert!(text.contains("Equifax: 1-800-525-6285"), "{text}");
}

#[test]
fn smtp_4xx_replies_are_transient_and_5xx_permanent() {
    let t = templates();
    let n = Notification::alert(&t, &notice(Locale::En, Status::Open), "k").unwrap();
    for (reply, transient) in [
        ("451 4.3.0 try again later", true),
        ("550 5.7.1 relaying denied", false),
    ] {
        let (port, _rx) = smtp_sink(reply);
        let dir = tempfile::tempdir().unwrap();
        let c = smtp_config(dir.path(), port);
        let e = open(&c, "mail").send(&n).unwrap_err();
        assert_eq!(e.is_transient(), transient, "{reply}: {e}");
    }
}

#[test]
fn an_unreachable_server_is_a_transient_failure() {
    // a port that was just free: nothing listens there
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let c = smtp_config(dir.path(), port);
    let n = Notification::alert(&templates(), &notice(Locale::En, Status::Open), "k").unwrap();
    let e = open(&c, "mail").send(&n).unwrap_err();
    assert!(e.is_transient(), "{e}");
    let c = config(
        dir.path(),
        &format!("[[notify.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/x\"\nsecret_file = \"smtp.pass\"\ntimeout = \"2s\"\n"),
    );
    let e = open(&c, "hook").send(&n).unwrap_err();
    assert!(e.is_transient(), "{e}");
}

// ---------- webhook ----------

#[test]
fn the_webhook_posts_signed_json_with_the_idempotency_key() {
    let (base, rx) = http_receiver(&[200, 503, 400]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hook.secret"), "whsec-0123456789\n").unwrap();
    let c = config(
        dir.path(),
        &format!(
            "[[notify.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{base}/breachd/events\"\nsecret_file = \"hook.secret\"\n"
        ),
    );
    let hook = open(&c, "hook");
    let n = Notification::notice(
        &templates(),
        "gdpr_supervisory_authority",
        &notice(Locale::En, Status::Open),
        "INC-0042/gdpr_supervisory_authority/en",
    )
    .unwrap();
    assert_eq!(hook.send(&n).unwrap().detail, "HTTP 200");
    let req = recv(&rx);
    assert_eq!(req.path, "/breachd/events");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.header("idempotency-key"),
        Some("INC-0042/gdpr_supervisory_authority/en")
    );
    // verify the signature as a receiver would
    let sig = req.header("x-breachd-signature").unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec-0123456789").unwrap();
    mac.update(&req.body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sig, format!("sha256={want}"));
    let j = req.json();
    assert_eq!(
        j["idempotency_key"],
        "INC-0042/gdpr_supervisory_authority/en"
    );
    assert_eq!(j["incident_id"], "INC-0042");
    assert_eq!(j["template"], "gdpr_supervisory_authority");
    assert_eq!(j["severity"], "high");
    assert_eq!(j["details"]["subjects"], 1240);
    assert!(j["body"]
        .as_str()
        .unwrap()
        .contains("Data protection officer: Dana Officer, dpo@example.org"));

    let e = hook.send(&n).unwrap_err();
    assert!(e.is_transient(), "503: {e}");
    let e = hook.send(&n).unwrap_err();
    assert!(!e.is_transient(), "400: {e}");
    assert!(e.to_string().contains("HTTP 400: no thanks"), "{e}");
}

// ---------- Slack ----------

#[test]
fn slack_gets_header_and_section_blocks_from_a_secret_url() {
    let (base, rx) = http_receiver(&[200]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slack.url"),
        format!("{base}/services/T000/B000/XXXX\n"),
    )
    .unwrap();
    let c = config(
        dir.path(),
        "[[notify.channel]]\nname = \"slack\"\nkind = \"slack\"\nurl_file = \"slack.url\"\n",
    );
    let n = Notification::alert(&templates(), &notice(Locale::ZhCn, Status::Open), "k").unwrap();
    open(&c, "slack").send(&n).unwrap();
    let req = recv(&rx);
    assert_eq!(req.path, "/services/T000/B000/XXXX");
    let j = req.json();
    assert_eq!(j["blocks"][0]["type"], "header");
    assert_eq!(
        j["blocks"][0]["text"]["text"],
        "[breachd] 严重程度高：Customer records read through a stolen API key（INC-0042）"
    );
    assert_eq!(j["blocks"][1]["text"]["type"], "mrkdwn");
    let text = j["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(text.starts_with("*INC-0042：Customer records"), "{text}");
    assert!(text.contains("*数据主体：*约 1240 人"), "{text}");
    assert!(j["text"].is_string());
}

// ---------- PagerDuty ----------

#[test]
fn pagerduty_triggers_then_acknowledges_then_resolves_one_alert_per_incident() {
    let (base, rx) = http_receiver(&[202]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pd.key"),
        "R0UT1NGKEY0123456789012345678901\n",
    )
    .unwrap();
    let c = config(
        dir.path(),
        &format!(
            "[[notify.channel]]\nname = \"pd\"\nkind = \"pagerduty\"\nurl = \"{base}/v2/enqueue\"\nrouting_key_file = \"pd.key\"\nsource = \"breachd.example.org\"\n"
        ),
    );
    let pd = open(&c, "pd");
    let t = templates();
    for (status, action) in [
        (Status::Open, "trigger"),
        (Status::Acknowledged, "acknowledge"),
        (Status::Resolved, "resolve"),
    ] {
        let n = Notification::alert(&t, &notice(Locale::En, status), "k").unwrap();
        assert_eq!(pd.send(&n).unwrap().detail, "HTTP 202");
        let req = recv(&rx);
        assert_eq!(req.path, "/v2/enqueue");
        let j = req.json();
        assert_eq!(j["routing_key"], "R0UT1NGKEY0123456789012345678901");
        assert_eq!(j["event_action"], action);
        assert_eq!(j["dedup_key"], "INC-0042");
        if action == "trigger" {
            let p = &j["payload"];
            assert_eq!(
                p["summary"],
                "INC-0042 high: Customer records read through a stolen API key (~1240 subjects; names and identifiers, contact details, health information, government identification numbers)"
            );
            assert_eq!(p["severity"], "error");
            assert_eq!(p["source"], "breachd.example.org");
            assert_eq!(p["custom_details"]["records"], 3712);
        } else {
            assert!(j.get("payload").is_none(), "{j}");
        }
    }
}

// ---------- file ----------

#[test]
fn the_file_channel_writes_each_key_once_and_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        dir.path(),
        "[[notify.channel]]\nname = \"drafts\"\nkind = \"file\"\ndir = \"drafts\"\n",
    );
    let drafts = open(&c, "drafts");
    let t = templates();
    let n = Notification::notice(
        &t,
        "gdpr_data_subjects",
        &notice(Locale::ZhCn, Status::Open),
        "INC-0042/gdpr_data_subjects/zh-CN",
    )
    .unwrap();
    let first = drafts.send(&n).unwrap().detail;
    let again = drafts.send(&n).unwrap().detail;
    assert_eq!(again, format!("{first} (already written)"));
    let files: Vec<_> = std::fs::read_dir(dir.path().join("drafts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(
        text.starts_with("Idempotency-Key: INC-0042/gdpr_data_subjects/zh-CN\n"),
        "{text}"
    );
    assert!(text.contains("# 数据泄露通知\n"), "{text}");
    assert!(text.contains("## 您可以采取的措施\n"), "{text}");
}

// ---------- the CLI ----------

#[test]
fn notify_test_sends_a_sample_alert_through_the_named_channel() {
    let (port, rx) = smtp_sink("250 ok");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smtp.pass"), "hunter2\n").unwrap();
    std::fs::write(
        dir.path().join("breachd.toml"),
        format!(
            r#"[notify]
locale = "zh-CN"
[notify.organisation]
name = "ACME Retail"
[[notify.channel]]
name = "mail"
kind = "smtp"
host = "localhost"
port = {port}
tls = "none"
username = "breachd"
password_file = "smtp.pass"
from = "breachd@acme.example"
to = ["oncall@acme.example"]
"#
        ),
    )
    .unwrap();
    let out = common::run(
        dir.path(),
        &[
            "notify",
            "test",
            "--channel",
            "mail",
            "--config",
            "breachd.toml",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("sent a test alert through `mail`: <"),
        "{stdout}"
    );
    let m = recv(&rx);
    assert_eq!(m.rcpt, vec!["<oncall@acme.example>"]);
    assert!(
        header(&m.data, "Subject").starts_with("[breachd] 严重程度高：TEST from breachd:"),
        "{}",
        header(&m.data, "Subject")
    );

    let out = common::run(
        dir.path(),
        &[
            "notify",
            "test",
            "--channel",
            "pager",
            "--config",
            "breachd.toml",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no channel `pager` in the config; configured: mail"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
