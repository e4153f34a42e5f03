//! Every channel against a real server on loopback: an SMTP sink speaking
//! SMTP on a socket, and HTTP receivers, started by the test. The messages
//! arrive with the expected contents, in English and Chinese; the webhook's
//! HMAC verifies; PagerDuty's events follow the incident; failures are
//! classified transient or permanent.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use common::sinks::{header, http_receiver, part, smtp_sink, smtp_sink_with, Security};

use breachd::config::Config;
use breachd::notify::{Channel, Locale, Notice, Notification, Status, Templates};
use hmac::{Hmac, Mac};

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
