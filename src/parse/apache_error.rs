//! Apache's error log: 2.2's `[Thu Jul 11 01:21:41 2013] [error] [client
//! 1.2.3.4] msg` and 2.4's `[Wed Oct 11 14:32:52.123456 2023] [auth_basic:error]
//! [pid 1234:tid 5678] [client 1.2.3.4:5678] AH01617: msg`, also sent through
//! syslog (`ErrorLog syslog`: `Feb 15 16:23:00 srv httpd[22034]: [authz_core:error] ...`).
//!
//! Turns the messages that record a client's failed or refused request into an
//! [`Event`], guided by what fail2ban's apache-* filters count:
//! - authentication failures (basic and digest: unknown user, password
//!   mismatch, wrong scheme, bad nonce/realm/algorithm/qop): `action =
//!   "login"`, `Failure`, `user` where the message names one;
//! - refusals (`client denied by server configuration`, authorization
//!   failures, `access to ... denied`, ModSecurity blocks, SNI mismatches):
//!   `Denied`;
//! - probing and malformed requests (`File does not exist`, `script not
//!   found`, invalid URI or method, URI too long, shellshock attempts):
//!   `Failure`, like the 4xx status the access log shows for them.
//!
//! `resource` is the path the message names (a file-system path for `File
//! does not exist`, as Apache writes it); `detail` says which message it was.
//! Lines without a client (server notices) and client lines whose message is
//! none of those (PHP warnings, script output) are `Ignored`. The stamp has
//! no zone: it is read in the configured zone (`LocalTime`).
//!
//! The message is the client's to shape (a path can hold `[client 6.6.6.6]`),
//! so the address is taken from the header brackets only, never searched for
//! in the message.

use std::borrow::Cow;
use std::net::IpAddr;

use memchr::memmem;

use super::syslog::parse_header;
use super::time::{digits, month_from_abbr, Civil, ZoneCache};
use super::{split_request, Event, IgnoreReason, LocalTime, Malformed, Outcome, Parsed};

/// Parses Apache error-log lines; keeps only a zone cache.
#[derive(Debug)]
pub struct ApacheErrorParser {
    clock: ZoneCache,
}

impl ApacheErrorParser {
    pub fn new(local: LocalTime) -> ApacheErrorParser {
        ApacheErrorParser {
            clock: ZoneCache::new(local),
        }
    }

    /// Parses one line (without its terminator).
    pub fn parse<'a>(&mut self, line: &'a str) -> Parsed<'a> {
        if line.trim().is_empty() {
            return Parsed::Ignored(IgnoreReason::Blank);
        }
        let (time, body) = if line.starts_with('[') {
            let Some(close) = memchr::memchr(b']', line.as_bytes()) else {
                return Parsed::Malformed(Malformed::Syntax);
            };
            let civil = match stamp(&line.as_bytes()[1..close]) {
                Ok(c) => c,
                Err(m) => return Parsed::Malformed(m),
            };
            let Some(body) = line[close + 1..].strip_prefix(' ') else {
                return Parsed::Malformed(Malformed::Syntax);
            };
            let Some(time) = self.clock.resolve(&civil) else {
                return Parsed::Malformed(Malformed::BadTimestamp);
            };
            (time, body)
        } else {
            // `ErrorLog syslog`: Apache's line without its stamp, after a syslog header.
            let h = match parse_header(line, &mut self.clock) {
                Ok(h) => h,
                Err(m) => return Parsed::Malformed(m),
            };
            if !h.message.starts_with('[') {
                return Parsed::Ignored(IgnoreReason::NotAccessEvent);
            }
            (h.time, h.message)
        };
        let head = match header(body) {
            Ok(h) => h,
            Err(m) => return Parsed::Malformed(m),
        };
        let Some(ip) = head.client else {
            return Parsed::Ignored(IgnoreReason::NotAccessEvent);
        };
        let (message, referer) = split_referer(head.message);
        let Some(c) = classify(message, head.module) else {
            return Parsed::Ignored(IgnoreReason::NotAccessEvent);
        };
        let (action, resource) = match c.resource {
            Resource::None => (None, None),
            Resource::Path(p) => (None, Some(p)),
            // What the client sent as its request line: the target when it
            // has the shape of one, else the whole text.
            Resource::Request(r) => match split_request(r) {
                (Some(_), target) => (None, target),
                _ => (None, Some(r)),
            },
        };
        Parsed::Event(Event {
            time,
            ip: Some(ip),
            user: c.user.filter(|u| !u.is_empty()).map(Cow::Borrowed),
            action: if c.login {
                Some(Cow::Borrowed("login"))
            } else {
                action
            },
            resource: resource.filter(|r| !r.is_empty()).map(Cow::Borrowed),
            outcome: c.outcome,
            detail: Some(c.detail),
            referer: referer.map(Cow::Borrowed),
            ..Event::default()
        })
    }
}

/// `Www Mmm dd hh:mm:ss[.ffffff] yyyy`.
fn stamp(s: &[u8]) -> Result<Civil, Malformed> {
    use Malformed::{BadTimestamp, Syntax};
    if s.len() < 24 || s[3] != b' ' || s[7] != b' ' || s[10] != b' ' {
        return Err(Syntax);
    }
    let month = month_from_abbr(&s[4..7]).ok_or(Syntax)?;
    let day = if s[8] == b' ' {
        digits(&s[9..], 1)
    } else {
        digits(&s[8..], 2)
    }
    .ok_or(Syntax)?;
    if s[13] != b':' || s[16] != b':' {
        return Err(Syntax);
    }
    let two = |at: usize| digits(&s[at..], 2).ok_or(BadTimestamp);
    let mut i = 19;
    let mut micros = 0u32;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 6 {
                micros = micros * 10 + (s[i] - b'0') as u32;
            }
            i += 1;
        }
        if i == start {
            return Err(Syntax);
        }
        for _ in (i - start).min(6)..6 {
            micros *= 10;
        }
    }
    if s.get(i) != Some(&b' ') || s.len() != i + 5 {
        return Err(Syntax);
    }
    Ok(Civil {
        year: digits(&s[i + 1..], 4).ok_or(Syntax)? as i32,
        month,
        day: day as u8,
        hour: two(11)? as u8,
        minute: two(14)? as u8,
        second: two(17)? as u8,
        micros,
    })
}

/// The bracketed fields after the stamp.
#[derive(Debug)]
struct Header<'a> {
    /// `auth_basic` of `[auth_basic:error]`; empty in 2.2.
    module: &'a str,
    client: Option<IpAddr>,
    message: &'a str,
}

/// Reads `[module:level] [pid N:tid M] (errno)text: [client A:P] ` and
/// returns the message after them.
fn header(body: &str) -> Result<Header<'_>, Malformed> {
    let inner = body.strip_prefix('[').ok_or(Malformed::Syntax)?;
    let close = memchr::memchr(b']', inner.as_bytes()).ok_or(Malformed::Syntax)?;
    let tag = &inner[..close];
    let (module, level) = tag.rsplit_once(':').unwrap_or(("", tag));
    if !is_level(level) || module.contains(' ') {
        return Err(Malformed::Syntax);
    }
    let mut rest = &inner[close + 1..];
    let mut client = None;
    loop {
        let r = rest.trim_start_matches(' ');
        if let Some(a) = r
            .strip_prefix("[client ")
            .or_else(|| r.strip_prefix("[remote "))
        {
            let Some((addr, after)) = bracketed_addr(a) else {
                break;
            };
            // mod_security repeats the client (`[client a:p] [client a]`): the first counts.
            client = client.or(addr);
            rest = after;
        } else if let Some(a) = r.strip_prefix("[pid ") {
            let Some(e) = memchr::memchr(b']', a.as_bytes()) else {
                break;
            };
            rest = &a[e + 1..];
        } else if let Some(after) = apr_error(r).filter(|_| client.is_none()) {
            // `(13)Permission denied: ` comes before the client in 2.4.
            rest = after;
        } else {
            rest = r;
            break;
        }
    }
    Ok(Header {
        module,
        client,
        message: rest,
    })
}

fn is_level(s: &str) -> bool {
    matches!(
        s,
        "emerg" | "alert" | "crit" | "error" | "warn" | "notice" | "info" | "debug"
    ) || s
        .strip_prefix("trace")
        .is_some_and(|n| n.len() == 1 && n.as_bytes()[0].is_ascii_digit())
}

/// `(13)Permission denied: rest` → `rest`.
fn apr_error(s: &str) -> Option<&str> {
    let r = s.strip_prefix('(')?;
    let close = r.find(')')?;
    let code = &r[..close];
    if code.is_empty() || !code.bytes().all(|c| c.is_ascii_digit() || c == b'-') {
        return None;
    }
    let sep = memmem::find(r.as_bytes(), b": ")?;
    Some(&r[sep + 2..])
}

/// The address inside `[client ADDR]` (after `client `), with the text after
/// the `]`. `ADDR` is `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:5678` or
/// `2001:db8::1`; an address it cannot read (a host name) gives `None`.
fn bracketed_addr(a: &str) -> Option<(Option<IpAddr>, &str)> {
    if let Some(v6) = a.strip_prefix('[') {
        let e = v6.find(']')?;
        let after = v6[e + 1..].trim_start_matches(|c: char| c == ':' || c.is_ascii_digit());
        let after = after.strip_prefix(']')?;
        return Some((v6[..e].parse::<IpAddr>().ok(), after));
    }
    let e = a.find(']')?;
    let addr = &a[..e];
    let ip = addr.parse::<IpAddr>().ok().or_else(|| {
        // `1.2.3.4:5678`, and 2.4's unbracketed `2001:db8::1:5678` when the
        // whole is no address. A short port after an IPv6 address can read
        // as one more group: then the whole wins (see `bracketed_addr` doc).
        let (host, port) = addr.rsplit_once(':')?;
        if port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        host.parse::<IpAddr>().ok()
    });
    Some((ip.map(|ip| ip.to_canonical()), &a[e + 1..]))
}

/// Splits off the `, referer: R` Apache appends.
fn split_referer(m: &str) -> (&str, Option<&str>) {
    match m.rfind(", referer: ") {
        Some(at) => (&m[..at], Some(&m[at + 11..]).filter(|r| !r.is_empty())),
        None => (m, None),
    }
}

#[derive(Debug, PartialEq)]
enum Resource<'a> {
    None,
    /// A path or URI named by the message.
    Path(&'a str),
    /// A request line (or what the client sent in its place).
    Request(&'a str),
}

/// What a message says about the client's request.
#[derive(Debug, PartialEq)]
struct Class<'a> {
    outcome: Outcome,
    detail: &'static str,
    /// An authentication attempt (`action = "login"`).
    login: bool,
    user: Option<&'a str>,
    resource: Resource<'a>,
}

fn login<'a>(
    detail: &'static str,
    user: Option<&'a str>,
    path: Option<&'a str>,
) -> Option<Class<'a>> {
    Some(Class {
        outcome: Outcome::Failure,
        detail,
        login: true,
        user,
        resource: path.map_or(Resource::None, Resource::Path),
    })
}

fn class<'a>(outcome: Outcome, detail: &'static str, resource: Resource<'a>) -> Option<Class<'a>> {
    Some(Class {
        outcome,
        detail,
        login: false,
        user: None,
        resource,
    })
}

fn path(p: Option<&str>) -> Resource<'_> {
    p.map(str::trim).map_or(Resource::None, Resource::Path)
}

/// Interprets the message after the header brackets.
fn classify<'a>(m: &'a str, module: &str) -> Option<Class<'a>> {
    use Outcome::{Denied, Failure};
    let m = m.trim_end();
    // 2.4's message id, `AH01617: `.
    let m = match m.strip_prefix("AH") {
        Some(r) if r.len() > 7 && r.as_bytes()[..5].iter().all(u8::is_ascii_digit) => {
            r.get(5..).and_then(|r| r.strip_prefix(": ")).unwrap_or(m)
        }
        _ => m,
    };
    // 2.2 names the module in the message.
    let m = m.strip_prefix("Digest: ").unwrap_or(m);
    let m = apr_error(m).unwrap_or(m);

    if let Some(r) = m.strip_prefix("user ") {
        return user_message(r);
    }
    if let Some(r) = m.strip_prefix("Authorization of user ") {
        let (user, r) = r.split_once(" to access ")?;
        let (p, _) = r.rsplit_once(" failed")?;
        return Some(Class {
            outcome: Denied,
            detail: "authz_failure",
            login: false,
            user: Some(user),
            resource: Resource::Path(p),
        });
    }
    if let Some(r) = m.strip_prefix("client denied by server configuration") {
        // mod_evasive refuses through the same message.
        let detail = if module.starts_with("evasive") {
            "rate_limited"
        } else {
            "denied_by_config"
        };
        return class(Denied, detail, path(r.strip_prefix(':')));
    }
    if let Some(r) = m.strip_prefix("client used wrong authentication scheme") {
        return login("wrong_auth_scheme", None, r.strip_prefix(": "));
    }
    if m.starts_with("invalid nonce ") {
        return login("digest_nonce", None, None);
    }
    if m.starts_with("realm mismatch - ") {
        return login("digest_realm_mismatch", None, None);
    }
    if m.starts_with("unknown algorithm `") {
        return login("digest_bad_algorithm", None, after_colon(m));
    }
    if m.starts_with("invalid qop `") {
        return login("digest_bad_qop", None, after_colon(m));
    }
    if (m.starts_with("Hostname ") || m.starts_with("No hostname ")) && m.contains(" via SNI") {
        return class(Denied, "sni_mismatch", Resource::None);
    }
    if let Some(r) = m.strip_prefix("access to ") {
        let end = r.find(" denied").or_else(|| r.find(" failed"))?;
        return class(Denied, "access_denied", Resource::Path(&r[..end]));
    }
    if let Some(r) = m.strip_prefix("Directory index forbidden by rule:") {
        return class(Denied, "directory_index_forbidden", path(Some(r)));
    }
    if let Some(r) = m.strip_prefix("ModSecurity:") {
        let outcome = if r.contains("Access denied") {
            Denied
        } else {
            Outcome::Unknown
        };
        let uri = r
            .split_once("[uri \"")
            .and_then(|(_, u)| u.split_once("\"]"))
            .map(|(u, _)| u);
        return class(outcome, "modsecurity", path(uri));
    }
    if let Some(r) = m.strip_prefix("File does not exist:") {
        return class(Failure, "file_not_found", path(Some(r)));
    }
    if m.ends_with(" not found or unable to stat") {
        // `script '/p' not found or unable to stat`, `stderr from /p: script not found...`
        let p = m
            .strip_prefix("script '")
            .and_then(|r| r.split_once("' not found"))
            .or_else(|| {
                m.strip_prefix("stderr from ")?
                    .rsplit_once(": script not found")
            })
            .map(|(p, _)| p);
        return class(Failure, "script_not_found", path(p));
    }
    if let Some(r) = m.strip_prefix("script not found or unable to stat:") {
        return class(Failure, "script_not_found", path(Some(r)));
    }
    if m.starts_with("Got error '") && m.contains("Primary script unknown") {
        return class(Failure, "script_not_found", Resource::None);
    }
    if let Some(r) = m.strip_prefix("Invalid URI in request ") {
        return class(Failure, "invalid_uri", Resource::Request(r));
    }
    if let Some(r) = m.strip_prefix("invalid URI path (") {
        return class(Failure, "invalid_uri", path(r.strip_suffix(')')));
    }
    if let Some(r) = m.strip_prefix("Invalid method in request ") {
        return class(Failure, "invalid_method", Resource::Request(r));
    }
    if let Some(r) = m.strip_prefix("request failed: ") {
        let detail = if r.starts_with("URI too long") {
            "request_too_long"
        } else {
            "bad_request"
        };
        return class(Failure, detail, Resource::None);
    }
    if m.starts_with("Request header exceeds LimitRequestFieldSize")
        || m.starts_with("Request header field is missing ':' separator")
        || m.starts_with("client sent HTTP/1.1 request without hostname")
    {
        let detail = if m.contains("exceeds") {
            "request_too_long"
        } else {
            "bad_request"
        };
        return class(Failure, detail, Resource::None);
    }
    if m.contains("ignoring function definition attempt")
        || m.contains("error importing function definition for")
    {
        return class(Failure, "shellshock", Resource::None);
    }
    None
}

/// The text after `: `, for messages ending in `: /path`.
fn after_colon(m: &str) -> Option<&str> {
    m.rsplit_once(": ").map(|(_, p)| p)
}

/// `user X not found[: /p]`, `user X: authentication failure for "/p": Password
/// Mismatch`, `user X: password mismatch: /p`, ``user `X' in realm `R' not
/// found: /p``, `user X: authorization failure for "/p": `, `user X denied by provider`.
fn user_message(r: &str) -> Option<Class<'_>> {
    if let Some((user, rest)) = r.split_once(": authentication failure for \"") {
        let (p, why) = rest.rsplit_once("\": ").unwrap_or((rest, ""));
        let detail = if why.eq_ignore_ascii_case("Password Mismatch") {
            "password_mismatch"
        } else {
            "auth_failure"
        };
        return login(detail, Some(user), Some(p));
    }
    if let Some((user, rest)) = r.split_once(": authorization failure for \"") {
        let p = rest.rsplit_once('"').map_or(rest, |(p, _)| p);
        return Some(Class {
            outcome: Outcome::Denied,
            detail: "authz_failure",
            login: false,
            user: Some(user),
            resource: Resource::Path(p),
        });
    }
    if let Some((user, rest)) = r.split_once(": password mismatch") {
        return login("password_mismatch", Some(user), rest.strip_prefix(": "));
    }
    if let Some(q) = r.strip_prefix('`') {
        // Digest: ``user `X' in realm `R' not found: /p``
        let (user, rest) = q.split_once("' in realm `")?;
        let (_, rest) = rest.rsplit_once("' not found")?;
        return login("user_not_found", Some(user), rest.strip_prefix(": "));
    }
    if let Some((user, rest)) = r.split_once(" not found") {
        if rest.is_empty() || rest.starts_with(':') {
            return login("user_not_found", Some(user), rest.strip_prefix(": "));
        }
    }
    if let Some((user, _)) = r.split_once(" denied by provider") {
        let user = user.strip_suffix(':').unwrap_or(user);
        return login("auth_failure", Some(user), None);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> ApacheErrorParser {
        let tz = jiff::tz::TimeZone::get("Europe/Zurich").unwrap();
        ApacheErrorParser::new(LocalTime::new(tz, "2024-06-01T00:00:00Z".parse().unwrap()))
    }

    fn event(line: &str) -> Event<'_> {
        match parser().parse(line) {
            Parsed::Event(e) => e,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn apache_24_auth_failure_fields() {
        let e = event(
            r#"[Wed Oct 11 14:32:52.123456 2023] [auth_basic:error] [pid 1234:tid 5678] [client 1.2.3.4:5678] AH01617: user x: authentication failure for "/": Password Mismatch, referer: https://r/"#,
        );
        assert_eq!(e.time.to_string(), "2023-10-11T14:32:52.123456+02:00");
        assert_eq!(e.ip, Some("1.2.3.4".parse().unwrap()));
        assert_eq!(e.user.as_deref(), Some("x"));
        assert_eq!(e.action.as_deref(), Some("login"));
        assert_eq!(e.resource.as_deref(), Some("/"));
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.detail, Some("password_mismatch"));
        assert_eq!(e.referer.as_deref(), Some("https://r/"));
    }

    #[test]
    fn table_of_messages() {
        // (line, ip, user, action, resource, outcome, detail)
        type Row = (
            &'static str,
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            Outcome,
            &'static str,
        );
        use Outcome::{Denied, Failure};
        let rows: &[Row] = &[
            (
                "[Thu Jul 11 01:21:44 2013] [error] [client 2001:db8::80da:af6b:8b2c] user test-ipv6 not found: /",
                "2001:db8::80da:af6b:8b2c",
                Some("test-ipv6"),
                Some("login"),
                Some("/"),
                Failure,
                "user_not_found",
            ),
            (
                "[Thu Jul 11 01:21:41 2013] [error] [client 194.228.20.113] user  not found: /",
                "194.228.20.113",
                None,
                Some("login"),
                Some("/"),
                Failure,
                "user_not_found",
            ),
            (
                "[Sat Jul 20 22:11:44.147674 2013] [authz_owner:error] [pid 17540:tid 1] [client [2001:db8::80da:af6b:8b2c]:51548] AH01637: Authorization of user test-ipv6 to access /basic/x.html failed, reason: file owner dan does not match",
                "2001:db8::80da:af6b:8b2c",
                Some("test-ipv6"),
                None,
                Some("/basic/x.html"),
                Denied,
                "authz_failure",
            ),
            (
                "[Sat Jul 20 21:45:28.890523 2013] [auth_digest:error] [pid 1:tid 2] [client 127.0.0.1:51408] AH01790: user `username' in realm `digest private area' not found: /digest_wrongrelm/x",
                "127.0.0.1",
                Some("username"),
                Some("login"),
                Some("/digest_wrongrelm/x"),
                Failure,
                "user_not_found",
            ),
            (
                "[Wed Jul 17 23:50:37 2013] [error] [client 127.0.0.1] Digest: user username: password mismatch: /digest/x",
                "127.0.0.1",
                Some("username"),
                Some("login"),
                Some("/digest/x"),
                Failure,
                "password_mismatch",
            ),
            (
                "[Sun Sep 14 21:44:43.008606 2014] [authz_core:error] [pid 10691] [client 192.3.9.178:44271] AH01630: client denied by server configuration: /var/www/html/noentry/x.html",
                "192.3.9.178",
                None,
                None,
                Some("/var/www/html/noentry/x.html"),
                Denied,
                "denied_by_config",
            ),
            (
                "[Mon Nov 06 13:39:56.637868 2023] [auth_basic:error] [pid 3175001:tid 1] [remote 192.0.2.111:35924] AH01618: user whatever not found: /admin",
                "192.0.2.111",
                Some("whatever"),
                Some("login"),
                Some("/admin"),
                Failure,
                "user_not_found",
            ),
            (
                "[Sat Jun 01 02:17:42 2013] [error] [client 192.168.33.1] File does not exist: /srv/http/site/[client 192.168.0.1] user root not found",
                "192.168.33.1",
                None,
                None,
                Some("/srv/http/site/[client 192.168.0.1] user root not found"),
                Failure,
                "file_not_found",
            ),
            (
                "[Tue Dec 31 09:13:47 2013] [error] [client 176.102.37.56] script '/var/www/wp-login.php' not found or unable to stat",
                "176.102.37.56",
                None,
                None,
                Some("/var/www/wp-login.php"),
                Failure,
                "script_not_found",
            ),
            (
                "[Wed Dec 18 23:58:03.148113 2024] [cgi:error] [pid 16720:tid 1878] [client 192.0.2.74:35092] AH02811: stderr from /usr/lib/cgi-bin/luci: script not found or unable to stat",
                "192.0.2.74",
                None,
                None,
                Some("/usr/lib/cgi-bin/luci"),
                Failure,
                "script_not_found",
            ),
            (
                "[Sat Mar 15 16:04:06.105212 2010] [core:error] [pid 17408] [client 192.0.2.1:55280] AH00126: Invalid URI in request GET /static/../../../a/../../../../etc/passwd HTTP/1.1",
                "192.0.2.1",
                None,
                None,
                Some("/static/../../../a/../../../../etc/passwd"),
                Failure,
                "invalid_uri",
            ),
            (
                "[Fri Jul 30 11:23:54 2010] [error] [client 10.85.6.69] request failed: URI too long (longer than 8190)",
                "10.85.6.69",
                None,
                None,
                None,
                Failure,
                "request_too_long",
            ),
            (
                "[Sat Sep 28 09:18:06 2018] [error] [client 192.0.2.1:55555] [client 192.0.2.1] ModSecurity: [id \"340069\"] Access denied with code 403 (phase 2). [hostname \"192.81.249.191\"] [uri \"/w00tw00t.at.blackhats\"] [unique_id \"4Q6R\"]",
                "192.0.2.1",
                None,
                None,
                Some("/w00tw00t.at.blackhats"),
                Denied,
                "modsecurity",
            ),
            (
                "[Thu Oct 17 18:43:40.160521 2019] [evasive20:error] [pid 22589] [client 192.0.2.1:56175] client denied by server configuration: /path/index.php, referer: https://hostname/path/",
                "192.0.2.1",
                None,
                None,
                Some("/path/index.php"),
                Denied,
                "rate_limited",
            ),
            (
                "[Wed Oct 11 14:32:52 2023] [core:error] [pid 1] (13)Permission denied: [client 1.2.3.4:5] AH00035: access to /x denied (filesystem path '/var/www/x') because search permissions are missing",
                "1.2.3.4",
                None,
                None,
                Some("/x"),
                Denied,
                "access_denied",
            ),
            (
                "Feb 15 16:23:40 srv httpd/backend1[22034]: [authz_core:error] [pid 22036] [client 192.0.2.2:59392] AH01630: client denied by server configuration: /home/backend1/",
                "192.0.2.2",
                None,
                None,
                Some("/home/backend1/"),
                Denied,
                "denied_by_config",
            ),
        ];
        for &(line, ip, user, action, resource, outcome, detail) in rows {
            let e = event(line);
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
            "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
            "[Wed Oct 11 14:32:52.123456 2023] [core:error] [pid 1234:tid 5678] [client 1.2.3.4:5678] AH00037: x",
            "[Wed Oct 11 14:32:52 2023] [php:warn] [pid 1] [client 1.2.3.4:5] PHP Warning: Undefined variable $x",
            "Feb 15 16:23:00 srv sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2",
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
            ("1.2.3.4 - - [x]", Malformed::Syntax),
            ("[Sun Dec 04 04:47:44 2005] notice", Malformed::Syntax),
            ("[Sun Dec 04 04:47:44 2005] [bogus] x", Malformed::Syntax),
            ("[Sun Foo 04 04:47:44 2005] [error] x", Malformed::Syntax),
            (
                "[Sun Feb 30 04:47:44 2005] [error] x",
                Malformed::BadTimestamp,
            ),
            (
                "[Sun Dec 04 04:77:44 2005] [error] x",
                Malformed::BadTimestamp,
            ),
            ("2012/04/09 11:53:29 [error] 2865#0: x", Malformed::Syntax),
        ] {
            assert_eq!(parser().parse(line), Parsed::Malformed(why), "{line}");
        }
    }

    #[test]
    fn loghub_apache_2k_has_no_malformed_line() {
        // A real 2.2 error log: mod_jk notices and errors, and 32 refused
        // directory listings, the only lines that name a client.
        let text = std::fs::read_to_string("/work/shared/corpus/loghub/Apache_2k.log")
            .expect("loghub corpus");
        let mut p = parser();
        let (mut events, mut ignored) = (0, 0);
        for line in text.lines() {
            match p.parse(line) {
                Parsed::Event(e) => {
                    assert_eq!(e.detail, Some("directory_index_forbidden"), "{line}");
                    assert_eq!(e.outcome, Outcome::Denied, "{line}");
                    assert!(e.ip.is_some() && e.resource.is_some(), "{line}");
                    events += 1;
                }
                Parsed::Ignored(_) => ignored += 1,
                Parsed::Malformed(m) => panic!("{m}: {line}"),
            }
        }
        assert_eq!((events, ignored), (32, 1968));
    }
}
