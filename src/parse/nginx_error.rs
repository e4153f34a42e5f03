//! nginx's error log (`2012/04/09 11:53:29 [error] 2865#0: *66647 msg, client:
//! 1.2.3.4, server: s, request: "GET / HTTP/1.1", host: "h"`).
//!
//! Turns the messages that record a client's failed or refused request into an
//! [`Event`]: basic-auth failures (`action = "login"`, `Failure`), `access
//! forbidden by rule` and request/connection limits (`Denied`), missing files
//! (probing, `Failure`), TLS handshake garbage and malformed requests
//! (`Failure`). `ip` is the `client:` field, `action`/`resource` come from
//! `request:`, `referer` from `referrer:`. Lines without a client (start-up,
//! upstream chatter) and client lines whose message is none of those (an
//! upstream timeout is the server's trouble, not the client's) are `Ignored`.
//!
//! `Event::host` stays empty: it names the machine that wrote the line, and
//! nginx's `server:` is a virtual server name while `host:` is the client's
//! `Host` header, which the client chooses.
//!
//! The stamp has no zone: it is read in the configured zone (`LocalTime`).
//!
//! nginx writes the message before the `client:` field without escaping, so a
//! user name or file name can contain a fake `, client: 6.6.6.6, ...`. The
//! parser takes the first `, client: ` whose tail is a well-formed field list
//! (`key: value` or `key: "value"` up to the end of the line); a fake one in
//! the message cannot be, since nginx's own `"` and words follow it. Only a
//! request line holding quotes and spaces (which nginx since 1.21.1 refuses)
//! can still shift the address; then the first readable one is used.

use std::borrow::Cow;
use std::net::IpAddr;

use memchr::memmem;

use super::time::{digits, Civil, ZoneCache};
use super::{split_request, Event, IgnoreReason, LocalTime, Malformed, Outcome, Parsed};

/// Parses nginx error-log lines; keeps only a zone cache.
#[derive(Debug)]
pub struct NginxErrorParser {
    clock: ZoneCache,
}

impl NginxErrorParser {
    pub fn new(local: LocalTime) -> NginxErrorParser {
        NginxErrorParser {
            clock: ZoneCache::new(local),
        }
    }

    /// Parses one line (without its terminator).
    pub fn parse<'a>(&mut self, line: &'a str) -> Parsed<'a> {
        if line.trim().is_empty() {
            return Parsed::Ignored(IgnoreReason::Blank);
        }
        let b = line.as_bytes();
        let civil = match stamp(b) {
            Ok(c) => c,
            Err(m) => return Parsed::Malformed(m),
        };
        // ` [level] pid#tid: `
        let Some(rest) = line.get(19..) else {
            return Parsed::Malformed(Malformed::Syntax);
        };
        let Some(rest) = rest.strip_prefix(" [") else {
            return Parsed::Malformed(Malformed::Syntax);
        };
        let Some((level, rest)) = rest.split_once("] ") else {
            return Parsed::Malformed(Malformed::Syntax);
        };
        if !is_level(level) {
            return Parsed::Malformed(Malformed::Syntax);
        }
        let Some(msg) = after_pid(rest) else {
            return Parsed::Malformed(Malformed::Syntax);
        };
        let Some(time) = self.clock.resolve(&civil) else {
            return Parsed::Malformed(Malformed::BadTimestamp);
        };
        // `*66647 ` is the connection number.
        let msg = match msg.strip_prefix('*') {
            Some(r) => r
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start(),
            None => msg,
        };
        let Some((message, fields)) = split_client(msg) else {
            return Parsed::Ignored(IgnoreReason::NotAccessEvent);
        };
        let Some(class) = classify(message) else {
            return Parsed::Ignored(IgnoreReason::NotAccessEvent);
        };
        let (action, resource) = match fields.request {
            Some(r) => split_request(r),
            None => (None, None),
        };
        Parsed::Event(Event {
            time,
            ip: Some(fields.ip),
            user: class.user.filter(|u| !u.is_empty()).map(Cow::Borrowed),
            action: if class.login {
                Some(Cow::Borrowed("login"))
            } else {
                action.map(Cow::Borrowed)
            },
            resource: resource.map(Cow::Borrowed),
            outcome: class.outcome,
            detail: Some(class.detail),
            referer: fields
                .referrer
                .filter(|r| !r.is_empty() && *r != "-")
                .map(Cow::Borrowed),
            ..Event::default()
        })
    }
}

/// `yyyy/mm/dd hh:mm:ss`.
fn stamp(b: &[u8]) -> Result<Civil, Malformed> {
    if b.len() < 19
        || b[4] != b'/'
        || b[7] != b'/'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(Malformed::Syntax);
    }
    let field = |at: usize, n: usize| digits(&b[at..], n).ok_or(Malformed::Syntax);
    Ok(Civil {
        year: field(0, 4)? as i32,
        month: field(5, 2)? as u8,
        day: field(8, 2)? as u8,
        hour: field(11, 2)? as u8,
        minute: field(14, 2)? as u8,
        second: field(17, 2)? as u8,
        micros: 0,
    })
}

fn is_level(s: &str) -> bool {
    matches!(
        s,
        "debug" | "info" | "notice" | "warn" | "error" | "crit" | "alert" | "emerg"
    )
}

/// Skips `2865#0: ` and returns the message.
fn after_pid(s: &str) -> Option<&str> {
    let (pid, rest) = s.split_once(": ").or_else(|| {
        // A message can be empty: `2865#0:` at the end of the line.
        s.strip_suffix(':').map(|p| (p, ""))
    })?;
    let (p, t) = pid.split_once('#')?;
    let numeric = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    (numeric(p) && numeric(t)).then_some(rest)
}

/// The fields after the message that the event uses.
#[derive(Debug)]
struct Fields<'a> {
    ip: IpAddr,
    request: Option<&'a str>,
    referrer: Option<&'a str>,
}

/// Splits `message, client: ADDR, key: value...` at the right `, client: `
/// (see the module doc); `None` when no readable client address is there.
fn split_client(msg: &str) -> Option<(&str, Fields<'_>)> {
    const SEP: &[u8] = b", client: ";
    let b = msg.as_bytes();
    let mut first: Option<(usize, Fields<'_>)> = None;
    for at in memmem::find_iter(b, SEP) {
        let tail = &msg[at + SEP.len()..];
        let (fields, well_formed) = match read_fields(tail) {
            Some(x) => x,
            None => continue,
        };
        if well_formed {
            return Some((&msg[..at], fields));
        }
        if first.is_none() {
            first = Some((at, fields));
        }
    }
    first.map(|(at, f)| (&msg[..at], f))
}

/// Reads `ADDR[, key: value]...`: the address (required) and the fields the
/// event uses, and whether the whole tail is a well-formed field list.
fn read_fields(tail: &str) -> Option<(Fields<'_>, bool)> {
    let end = memchr::memchr(b',', tail.as_bytes()).unwrap_or(tail.len());
    let ip = tail[..end].parse::<IpAddr>().ok()?.to_canonical();
    let mut f = Fields {
        ip,
        request: None,
        referrer: None,
    };
    let mut rest = &tail[end..];
    let mut well_formed = true;
    while !rest.is_empty() {
        let Some(r) = rest.strip_prefix(", ") else {
            well_formed = false;
            break;
        };
        let Some((key, r)) = r.split_once(": ") else {
            well_formed = false;
            break;
        };
        if key.is_empty() || !key.bytes().all(|c| c.is_ascii_lowercase() || c == b'_') {
            well_formed = false;
            break;
        }
        let (value, r) = if let Some(q) = r.strip_prefix('"') {
            match memchr::memchr(b'"', q.as_bytes()) {
                Some(e) => (&q[..e], &q[e + 1..]),
                None => {
                    well_formed = false;
                    break;
                }
            }
        } else {
            // A bare value (`server: www.example.com`, `server: `) ends at the next `, `.
            let e = memmem::find(r.as_bytes(), b", ").unwrap_or(r.len());
            let v = &r[..e];
            if v.contains([' ', '"']) {
                well_formed = false;
                break;
            }
            (v, &r[e..])
        };
        match key {
            "request" => f.request = Some(value),
            "referrer" => f.referrer = Some(value),
            _ => {}
        }
        rest = r;
    }
    if !well_formed {
        // Keep what an unambiguous prefix gave: the address only.
        f.request = None;
        f.referrer = None;
    }
    Some((f, well_formed))
}

/// What a message says about the client's request.
#[derive(Debug, PartialEq)]
struct Class<'a> {
    outcome: Outcome,
    detail: &'static str,
    /// An authentication attempt (`action = "login"`).
    login: bool,
    user: Option<&'a str>,
}

fn class(outcome: Outcome, detail: &'static str) -> Option<Class<'static>> {
    Some(Class {
        outcome,
        detail,
        login: false,
        user: None,
    })
}

fn login<'a>(detail: &'static str, user: Option<&'a str>) -> Option<Class<'a>> {
    Some(Class {
        outcome: Outcome::Failure,
        detail,
        login: true,
        user,
    })
}

/// Interprets the message before `, client: `.
fn classify(m: &str) -> Option<Class<'_>> {
    if let Some(r) = m.strip_prefix("user \"") {
        // The file name after `was not found in` is configuration; the user
        // name before it is the client's and may hold anything, quotes too.
        if let Some(at) = m.rfind(" was not found in \"") {
            let user = m.get(6..at).unwrap_or("");
            // fail2ban has seen `user "x": was not found` too.
            let user = user
                .strip_suffix('"')
                .or_else(|| user.strip_suffix("\":"))
                .unwrap_or(user);
            return login("user_not_found", Some(user));
        }
        if let Some(user) = r.strip_suffix("\": password mismatch") {
            return login("password_mismatch", Some(user));
        }
        return None;
    }
    if let Some(r) = m.strip_prefix("PAM: user '") {
        // `PAM: user 'x' - not authenticated: Authentication failure`
        if let Some((user, _)) = r.split_once("' - not authenticated") {
            return login("auth_failure", Some(user));
        }
        return None;
    }
    if m == "access forbidden by rule" {
        return class(Outcome::Denied, "forbidden_by_rule");
    }
    if m.starts_with("limiting requests") {
        return class(Outcome::Denied, "rate_limited");
    }
    if m.starts_with("limiting connections") {
        return class(Outcome::Denied, "connection_limited");
    }
    if m.starts_with("delaying request") {
        // Served late, not refused: the final status is in the access log.
        return class(Outcome::Unknown, "rate_delayed");
    }
    if m.ends_with("(2: No such file or directory)")
        && (m.starts_with("open() \"") || m.starts_with('"'))
    {
        return class(Outcome::Failure, "file_not_found");
    }
    if m.starts_with("directory index of \"") && m.ends_with("\" is forbidden") {
        return class(Outcome::Denied, "directory_index_forbidden");
    }
    if m.starts_with("SSL_do_handshake() failed") {
        return class(Outcome::Failure, "tls_handshake");
    }
    if m.starts_with("SSL_") && m.contains(" failed (SSL: ") {
        return class(Outcome::Failure, "tls_error");
    }
    if m.starts_with("client sent ") {
        return class(Outcome::Failure, "bad_request");
    }
    if m.starts_with("client intended to send too large body") {
        return class(Outcome::Failure, "body_too_large");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> NginxErrorParser {
        let tz = jiff::tz::TimeZone::get("Europe/Zurich").unwrap();
        NginxErrorParser::new(LocalTime::new(tz, jiff::Timestamp::now()))
    }

    fn event(line: &str) -> Event<'_> {
        match parser().parse(line) {
            Parsed::Event(e) => e,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn auth_failure_fields() {
        let e = event(
            r#"2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/var/www/.htpasswd", client: 192.0.43.10, server: www.myhost.com, request: "GET /admin?x=1 HTTP/1.1", host: "www.myhost.com", referrer: "https://r/""#,
        );
        assert_eq!(e.time.to_string(), "2012-04-09T11:53:29+02:00");
        assert_eq!(e.ip, Some("192.0.43.10".parse().unwrap()));
        assert_eq!(e.user.as_deref(), Some("xyz"));
        assert_eq!(e.action.as_deref(), Some("login"));
        assert_eq!(e.resource.as_deref(), Some("/admin?x=1"));
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.detail, Some("user_not_found"));
        assert_eq!(e.referer.as_deref(), Some("https://r/"));
        assert_eq!(e.host, None);
    }

    #[test]
    fn table_of_messages() {
        // (message and fields after `*1 `, ip, user, action, resource, outcome, detail)
        type Row = (
            &'static str,
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            Outcome,
            &'static str,
        );
        let rows: &[Row] = &[
            (
                r#"user "scriben dio": password mismatch, client: 192.0.2.1, server: , request: "GET / HTTP/1.1", host: "localhost:8443""#,
                "192.0.2.1",
                Some("scriben dio"),
                Some("login"),
                Some("/"),
                Outcome::Failure,
                "password_mismatch",
            ),
            (
                r#"user "test": password mismatch, client: 127.0.0.1, server: test, request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , request: "GET / HTTP/1.1", host: "localhost:8443""#,
                "192.0.2.2",
                Some(
                    r#"test": password mismatch, client: 127.0.0.1, server: test, request: "GET / HTTP/1.1", host: "localhost:8443""#,
                ),
                Some("login"),
                Some("/"),
                Outcome::Failure,
                "user_not_found",
            ),
            (
                r#"access forbidden by rule, client: 12.34.56.78, server: www.example.com, request: "GET /wp-config.php~ HTTP/1.1", host: "www.example.com""#,
                "12.34.56.78",
                None,
                Some("GET"),
                Some("/wp-config.php~"),
                Outcome::Denied,
                "forbidden_by_rule",
            ),
            (
                r#"limiting requests, excess: 15.243 by zone "one", client: 2001:db8::80da:af6b:8b2c, server: example.com, request: "GET / HTTP/1.1", host: "example.com""#,
                "2001:db8::80da:af6b:8b2c",
                None,
                Some("GET"),
                Some("/"),
                Outcome::Denied,
                "rate_limited",
            ),
            (
                r#"open() "/var/www/site/cgi-bin/php4" failed (2: No such file or directory), client: 5.7.9.2, server: localhost, request: "POST /cgi-bin/php4 HTTP/1.1", host: "1.2.3.4""#,
                "5.7.9.2",
                None,
                Some("POST"),
                Some("/cgi-bin/php4"),
                Outcome::Failure,
                "file_not_found",
            ),
            (
                r#"SSL_do_handshake() failed (SSL: error:1408F0C6:SSL routines:ssl3_get_record:packet length too long) while SSL handshaking, client: 142.93.180.14, server: 0.0.0.0:443"#,
                "142.93.180.14",
                None,
                None,
                None,
                Outcome::Failure,
                "tls_handshake",
            ),
            (
                r#"access forbidden by rule, client: 1.2.3.4, server: s, request: "GET /x, client: 6.6.6.6, server: y HTTP/1.1", host: "h""#,
                "1.2.3.4",
                None,
                Some("GET"),
                Some("/x, client: 6.6.6.6, server: y"),
                Outcome::Denied,
                "forbidden_by_rule",
            ),
        ];
        for &(tail, ip, user, action, resource, outcome, detail) in rows {
            let line = format!("2015/01/21 10:56:10 [error] 2833#0: *1 {tail}");
            let e = event(&line);
            assert_eq!(e.ip, Some(ip.parse().unwrap()), "{line}");
            assert_eq!(e.user.as_deref(), user, "{line}");
            assert_eq!(e.action.as_deref(), action, "{line}");
            assert_eq!(e.resource.as_deref(), resource, "{line}");
            assert_eq!(e.outcome, outcome, "{line}");
            assert_eq!(e.detail, Some(detail), "{line}");
        }
    }

    #[test]
    fn lines_without_a_client_failure_are_ignored() {
        for line in [
            "2015/01/21 10:56:10 [notice] 1#1: signal process started",
            "2020/11/25 16:02:45 [error] 76952#76952: *5645766 connect() failed (111: Connection refused) while connecting to upstream, client: 5.126.32.148, server: www.google.de, request: \"GET /admin/config HTTP/2.0\", upstream: \"http://127.0.0.1:3000/admin/config\", host: \"www.google.de\"",
            "2015/01/21 10:56:10 [info] 1#1: *3 client 1.2.3.4 closed keepalive connection",
            "2015/01/21 10:56:10 [error] 1#1:",
        ] {
            assert_eq!(
                parser().parse(line),
                Parsed::Ignored(IgnoreReason::NotAccessEvent),
                "{line}"
            );
        }
    }

    #[test]
    fn malformed_lines_say_why() {
        for (line, why) in [
            ("garbage", Malformed::Syntax),
            ("2015/01/21 10:56:10 [fatal] 1#1: x", Malformed::Syntax),
            ("2015/01/21 10:56:10 [error] x: y", Malformed::Syntax),
            (
                "2015/02/30 10:56:10 [error] 1#1: y",
                Malformed::BadTimestamp,
            ),
            ("2015-01-21 10:56:10 [error] 1#1: y", Malformed::Syntax),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1"#,
                Malformed::Syntax,
            ),
        ] {
            assert_eq!(parser().parse(line), Parsed::Malformed(why), "{line}");
        }
    }
}
