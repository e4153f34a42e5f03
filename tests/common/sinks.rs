//! Real servers on loopback for tests: an SMTP sink (plain, STARTTLS,
//! implicit TLS) and an HTTP receiver, each started by the test. The
//! restartable [`SmtpServer`] and [`HttpServer`] keep every message they
//! accepted, so a test counts deliveries per recipient or per header; an
//! SMTP server can be stopped (its port refuses connections) and started
//! again on the same port ("down, then up").

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

// ---------- a small SMTP server ----------

#[derive(Debug, Default, Clone)]
pub struct Mail {
    /// Whether the message came over TLS.
    pub tls: bool,
    pub auth: Option<String>,
    pub from: String,
    pub rcpt: Vec<String>,
    pub data: String,
}

/// How the sink secures its connections.
#[derive(Clone)]
pub enum Security {
    Plain,
    /// Offers STARTTLS, and AUTH only once TLS is up (as real servers do).
    StartTls(Arc<rustls::ServerConfig>),
    /// TLS from the first byte.
    Implicit(Arc<rustls::ServerConfig>),
}

/// Accepts connections forever on a loopback port; each delivered message
/// is sent on the channel. `mail_reply` answers MAIL FROM (`250 ok`, or a
/// failure to test classification).
pub fn smtp_sink(mail_reply: &'static str) -> (u16, Receiver<Mail>) {
    smtp_sink_with(mail_reply, Security::Plain)
}

pub fn smtp_sink_with(mail_reply: &'static str, security: Security) -> (u16, Receiver<Mail>) {
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
pub fn smtp_session<S: Read + Write>(
    stream: S,
    mail_reply: &str,
    tls: bool,
    offer_starttls: bool,
    greet: bool,
    tx: &Sender<Mail>,
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
            // recorded before the reply: once the client has its 250, the
            // message is there for the test to count
            let _ = tx.send(std::mem::replace(
                &mut mail,
                Mail {
                    tls,
                    ..Mail::default()
                },
            ));
            r.get_mut().write_all(b"250 2.0.0 queued\r\n")?;
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

pub fn base64(s: &str) -> Vec<u8> {
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
pub fn header(data: &str, name: &str) -> String {
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
pub fn part(data: &str, content_type: &str) -> String {
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

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Answers requests with `statuses` in turn (the last one repeats).
pub fn http_receiver(statuses: &'static [u16]) -> (String, Receiver<Request>) {
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
            // recorded before the answer, so a client that has it finds
            // its request on the channel
            let _ = tx.send(req);
            let body = if status < 300 { "ok" } else { "no thanks" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, rx)
}

pub fn read_request(stream: &mut TcpStream) -> std::io::Result<Request> {
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

// ---------- restartable servers that keep what they received ----------

/// Where an [`SmtpServer`]'s sessions deliver, kept across restarts so a
/// session still open on the old port loses nothing. A session sends a
/// message before it answers `250`, so a client holding its answer finds
/// the message here.
#[derive(Clone)]
struct Inbox {
    mails: Arc<Mutex<Vec<Mail>>>,
    rx: Arc<Mutex<Receiver<Mail>>>,
    tx: Sender<Mail>,
}

/// An SMTP sink that records every message; `stop` closes its port and
/// `start_on` opens the same port again.
pub struct SmtpServer {
    pub port: u16,
    inbox: Inbox,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// A plain SMTP sink answering `250` to everything, on a free port.
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(0)
    }

    /// The sink on `port` (0: any free port).
    pub fn start_on(port: u16) -> SmtpServer {
        let (tx, rx) = channel::<Mail>();
        let inbox = Inbox {
            mails: Arc::new(Mutex::new(Vec::new())),
            rx: Arc::new(Mutex::new(rx)),
            tx,
        };
        SmtpServer::start_with(port, inbox)
    }

    fn start_with(port: u16, inbox: Inbox) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("binding the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let tx = inbox.tx.clone();
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = smtp_session(stream, "250 ok", false, false, true, &tx);
                });
            }
        });
        SmtpServer {
            port,
            inbox,
            stop,
            thread: Some(thread),
        }
    }

    /// Closes the port: connections are refused until [`SmtpServer::restart`].
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Opens the same port again, keeping the messages received so far.
    pub fn restart(&mut self) {
        self.stop();
        *self = SmtpServer::start_with(self.port, self.inbox.clone());
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.collect();
        self.inbox.mails.lock().unwrap().clone()
    }

    fn collect(&self) {
        let rx = self.inbox.rx.lock().unwrap();
        self.inbox.mails.lock().unwrap().extend(rx.try_iter());
    }

    /// How many messages went to `rcpt` (as in `RCPT TO:<rcpt>`).
    pub fn count_to(&self, rcpt: &str) -> usize {
        let want = format!("<{rcpt}>");
        self.collect();
        self.inbox
            .mails
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.rcpt.contains(&want))
            .count()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An HTTP receiver that answers with scripted statuses (the last one
/// repeats) and records every request.
pub struct HttpServer {
    pub base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl HttpServer {
    pub fn start(statuses: &'static [u16]) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let requests: Arc<Mutex<Vec<Request>>> = Arc::new(Mutex::new(Vec::new()));
        let keep = requests.clone();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let status = statuses[i.min(statuses.len() - 1)];
                let Ok(req) = read_request(&mut stream) else {
                    continue;
                };
                keep.lock().unwrap().push(req);
                let body = if status < 300 { "ok" } else { "no thanks" };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        HttpServer { base, requests }
    }

    /// Every request received so far (answered or not yet).
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}
