//! Parse: one log line in, one normalized [`Event`] out.
//!
//! Owns the `Event` type every later stage consumes, the per-format parsers
//! (`clf` for nginx/apache combined and common, `json` for JSON lines with a
//! field mapping, `sshd` for syslog sshd lines, `postgres` for PostgreSQL
//! logs with pgaudit, `apache_error` and `nginx_error` for the web servers'
//! error logs) and format sniffing.
//!
//! Invariants: a parser never panics and never allocates for the fields it can
//! borrow from the line; a line is either an event, a valid line that is not an
//! access event (`Ignored`), or malformed with a reason. Nothing is invented:
//! a field the line does not carry stays empty.

pub mod apache_error;
pub mod clf;
pub mod json;
pub mod nginx_error;
pub mod postgres;
pub(crate) mod scan;
pub mod sshd;
pub mod syslog;
pub mod time;

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use time::EventTime;

/// What happened to the request or attempt, as far as the log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    Unknown,
    Success,
    /// An authentication attempt that failed (bad password, unknown user).
    Failure,
    /// Authenticated or not, the request was refused (401/403, permission denied).
    Denied,
    /// The server failed (5xx, database error).
    Error,
}

impl Outcome {
    /// The outcome an HTTP status code stands for.
    pub fn from_http_status(status: u16) -> Outcome {
        match status {
            100..=399 => Outcome::Success,
            401 | 403 => Outcome::Denied,
            400..=499 => Outcome::Failure,
            500..=599 => Outcome::Error,
            _ => Outcome::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Unknown => "unknown",
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }
}

/// The normalized event. Borrows from the line wherever it can.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Event<'a> {
    /// Event time from the line, with the offset the line carried.
    pub time: EventTime,
    /// Index of the source (file or input) the line came from.
    pub source: u32,
    /// Client address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Authenticated principal: user name, API key id or service account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Cow<'a, str>>,
    /// The principal's role where the log carries it (app audit logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Cow<'a, str>>,
    /// Session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Cow<'a, str>>,
    /// HTTP method, `login`, or a database verb such as `SELECT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Cow<'a, str>>,
    /// Path (with query) or table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Cow<'a, str>>,
    pub outcome: Outcome,
    /// Why the outcome is what it is, when the line says (`invalid_user`, `bad_password`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    /// Records returned, where the app log counts them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// Data-subject ids the request touched, where the app log lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Cow<'a, str>>,
    /// How many more subjects the request touched than `subjects` lists.
    #[serde(skip_serializing_if = "is_zero")]
    pub subjects_truncated: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referer: Option<Cow<'a, str>>,
    /// The host that wrote the line (syslog host name), when the line names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<Cow<'a, str>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why a line is not an event although the format recognised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgnoreReason {
    /// A well-formed line that records no access (sshd "Connection closed", an error log).
    NotAccessEvent,
    /// Empty or whitespace-only line.
    Blank,
}

impl IgnoreReason {
    pub const ALL: [IgnoreReason; 2] = [IgnoreReason::NotAccessEvent, IgnoreReason::Blank];
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoreReason::NotAccessEvent => "not_access_event",
            IgnoreReason::Blank => "blank",
        }
    }
}

/// Why a line was counted as malformed and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Malformed {
    InvalidUtf8,
    TooLong,
    /// Control bytes (NUL and friends) that no text log carries.
    Binary,
    /// The line does not have the shape of its format.
    Syntax,
    BadTimestamp,
    /// A field has the wrong type or range (a status of 999999, an address that is not one).
    BadField,
    /// The last line of a file that was closed without its newline.
    Truncated,
}

impl Malformed {
    pub const ALL: [Malformed; 7] = [
        Malformed::InvalidUtf8,
        Malformed::TooLong,
        Malformed::Binary,
        Malformed::Syntax,
        Malformed::BadTimestamp,
        Malformed::BadField,
        Malformed::Truncated,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::InvalidUtf8 => "invalid_utf8",
            Malformed::TooLong => "too_long",
            Malformed::Binary => "binary",
            Malformed::Syntax => "syntax",
            Malformed::BadTimestamp => "bad_timestamp",
            Malformed::BadField => "bad_field",
            Malformed::Truncated => "truncated",
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of parsing one line.
#[derive(Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // returned by value, never stored: boxing would allocate per line
pub enum Parsed<'a> {
    Event(Event<'a>),
    Ignored(IgnoreReason),
    Malformed(Malformed),
}

/// A log format as configured (`format = "..."` or `--format`).
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// Sniff the format from the first lines of each input.
    Auto,
    /// nginx/apache `combined`, and `common` (the same parser takes both).
    Clf,
    /// JSON lines with a field mapping.
    Json(json::JsonMapping),
    /// sshd (and other programs, ignored) in syslog format.
    Sshd,
    /// PostgreSQL server log with pgaudit entries.
    Postgres(postgres::PgOptions),
    /// Apache's error log (2.2 and 2.4, also through syslog): failed and refused requests.
    ApacheError,
    /// nginx's error log: failed and refused requests.
    NginxError,
}

impl Format {
    /// The names `--format` and `format =` accept.
    pub const NAMES: &'static [&'static str] = &[
        "auto",
        "combined",
        "common",
        "clf",
        "json",
        "app",
        "sshd",
        "syslog",
        "postgres",
        "apache_error",
        "nginx_error",
    ];

    /// Parses a format name; JSON takes the built-in `app` mapping (our
    /// scenario audit log) unless the config names another.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "auto" => Format::Auto,
            "combined" | "common" | "clf" | "nginx" | "apache" => Format::Clf,
            "json" | "app" => Format::Json(json::JsonMapping::app()),
            "sshd" | "syslog" | "auth" => Format::Sshd,
            "postgres" | "postgresql" | "pgaudit" => {
                Format::Postgres(postgres::PgOptions::default())
            }
            "apache_error" => Format::ApacheError,
            "nginx_error" => Format::NginxError,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Clf => "clf",
            Format::Json(_) => "json",
            Format::Sshd => "sshd",
            Format::Postgres(_) => "postgres",
            Format::ApacheError => "apache_error",
            Format::NginxError => "nginx_error",
        }
    }
}

/// A parser for one input. `Auto` settles on a concrete format at the first
/// line some format accepts, and keeps it for the rest of that input.
#[derive(Debug)]
pub enum Parser {
    Clf(clf::ClfParser),
    Json(json::JsonParser),
    Sshd(sshd::SshdParser),
    Postgres(postgres::PgParser),
    ApacheError(apache_error::ApacheErrorParser),
    NginxError(nginx_error::NginxErrorParser),
    Auto(AutoParser),
}

impl Parser {
    /// Builds the parser for `format`; `local` places zoneless timestamps.
    pub fn new(format: &Format, local: &LocalTime) -> Parser {
        match format {
            Format::Auto => Parser::Auto(AutoParser {
                local: local.clone(),
                settled: None,
            }),
            Format::Clf => Parser::Clf(clf::ClfParser::new()),
            Format::Json(m) => Parser::Json(json::JsonParser::new(m.clone(), local.clone())),
            Format::Sshd => Parser::Sshd(sshd::SshdParser::new(local.clone())),
            Format::Postgres(o) => {
                Parser::Postgres(postgres::PgParser::new(o.clone(), local.clone()))
            }
            Format::ApacheError => {
                Parser::ApacheError(apache_error::ApacheErrorParser::new(local.clone()))
            }
            Format::NginxError => {
                Parser::NginxError(nginx_error::NginxErrorParser::new(local.clone()))
            }
        }
    }

    /// Parses one line (without its line terminator).
    #[inline]
    pub fn parse<'a>(&mut self, line: &'a str) -> Parsed<'a> {
        match self {
            Parser::Clf(p) => p.parse(line),
            Parser::Json(p) => p.parse(line),
            Parser::Sshd(p) => p.parse(line),
            Parser::Postgres(p) => p.parse(line),
            Parser::ApacheError(p) => p.parse(line),
            Parser::NginxError(p) => p.parse(line),
            Parser::Auto(a) => {
                let parsed = a.parse(line);
                // Once sniffed, the input's parser is the format's own, so
                // later lines take one dispatch instead of two and a box.
                if let Some(p) = a.settled.take() {
                    *self = *p;
                }
                parsed
            }
        }
    }

    /// The concrete format in use (for `auto`, once sniffed).
    pub fn format_name(&self) -> &'static str {
        match self {
            Parser::Clf(_) => "clf",
            Parser::Json(_) => "json",
            Parser::Sshd(_) => "sshd",
            Parser::Postgres(_) => "postgres",
            Parser::ApacheError(_) => "apache_error",
            Parser::NginxError(_) => "nginx_error",
            Parser::Auto(a) => a.settled.as_ref().map_or("auto", |p| p.format_name()),
        }
    }
}

pub use time::LocalTime;

/// Sniffs the format: the first format to accept a line wins.
#[derive(Debug)]
pub struct AutoParser {
    local: LocalTime,
    settled: Option<Box<Parser>>,
}

impl AutoParser {
    fn parse<'a>(&mut self, line: &'a str) -> Parsed<'a> {
        if let Some(p) = &mut self.settled {
            return p.parse(line);
        }
        if line.trim().is_empty() {
            return Parsed::Ignored(IgnoreReason::Blank);
        }
        for format in Self::candidates(line) {
            let mut p = Parser::new(&format, &self.local);
            let parsed = p.parse(line);
            let accepted = match &parsed {
                Parsed::Event(_) => true,
                Parsed::Ignored(_) => true,
                Parsed::Malformed(_) => false,
            };
            if accepted {
                self.settled = Some(Box::new(p));
                return parsed;
            }
        }
        Parsed::Malformed(Malformed::Syntax)
    }

    /// Formats worth trying for this line, most specific first.
    ///
    /// A line that opens with `[` can only be Apache's error log. nginx's
    /// error-log shape (`yyyy/mm/dd hh:mm:ss [level] pid#tid:`) is strict, so
    /// it goes before the lenient syslog and postgres parsers. `apache_error`
    /// also reads syslog-wrapped lines (`ErrorLog syslog`) and ignores other
    /// programs' lines, so it must come after `sshd`, or every auth.log would
    /// sniff as Apache's: a syslog-wrapped Apache log sniffs as `sshd`, and
    /// needs `format = "apache_error"`.
    fn candidates(line: &str) -> Vec<Format> {
        if line.trim_start().starts_with('{') {
            return vec![Format::Json(json::JsonMapping::app())];
        }
        if line.starts_with('[') {
            return vec![Format::ApacheError];
        }
        vec![
            Format::Clf,
            Format::NginxError,
            Format::Sshd,
            Format::Postgres(postgres::PgOptions::default()),
            Format::ApacheError,
        ]
    }
}

impl Event<'_> {
    /// An owned copy, for the few places an event must outlive its line
    /// (merging inputs on event time).
    pub fn into_owned(self) -> Event<'static> {
        fn own(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        Event {
            time: self.time,
            source: self.source,
            ip: self.ip,
            user: own(self.user),
            role: own(self.role),
            session: own(self.session),
            action: own(self.action),
            resource: own(self.resource),
            outcome: self.outcome,
            detail: self.detail,
            status: self.status,
            bytes_out: self.bytes_out,
            records: self.records,
            subjects: self
                .subjects
                .into_iter()
                .map(|s| Cow::Owned(s.into_owned()))
                .collect(),
            subjects_truncated: self.subjects_truncated,
            user_agent: own(self.user_agent),
            referer: own(self.referer),
            host: own(self.host),
        }
    }
}

/// `GET /path?q HTTP/1.1` → method and target, for the request lines error
/// logs quote. Text that is no request line (TLS bytes, `-`) is all target.
pub(crate) fn split_request(r: &str) -> (Option<&str>, Option<&str>) {
    let r = trim_spaces(r);
    let b = r.as_bytes();
    if b.is_empty() || b == b"-" {
        return (None, None);
    }
    // A method is upper-case letters up to the first space: one loop finds
    // both where they end and whether a space ends them.
    let sp = b
        .iter()
        .position(|c| !c.is_ascii_uppercase())
        .unwrap_or(b.len());
    if sp == 0 || b.get(sp) != Some(&b' ') {
        return (None, Some(r));
    }
    let rest = &r[sp + 1..];
    // ` HTTP/1.1`, ` HTTP/2.0`, ` HTTP/2`: look at the tail, not the whole target.
    let rb = rest.as_bytes();
    // Most requests end so: no need to look for the space.
    if let Some(target) = rb.strip_suffix(b" HTTP/1.1") {
        return (Some(&r[..sp]), Some(&rest[..target.len()]));
    }
    let tail = rb.len().saturating_sub(10);
    let target = match rb[tail..].iter().rposition(|&c| c == b' ') {
        Some(p) if rb[tail + p + 1..].starts_with(b"HTTP/") => &rest[..tail + p],
        _ => rest,
    };
    (Some(&r[..sp]), Some(target))
}

/// `s.trim_matches(' ')` as a byte loop: the generic pattern search was a
/// measurable part of every access-log line.
#[inline]
fn trim_spaces(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    let mut end = b.len();
    while start < end && b[start] == b' ' {
        start += 1;
    }
    while end > start && b[end - 1] == b' ' {
        end -= 1;
    }
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_settles_on_the_format_of_the_first_line() {
        let local = LocalTime::new(
            jiff::tz::TimeZone::UTC,
            "2024-06-01T00:00:00Z".parse().unwrap(),
        );
        let rows = [
            ("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties", "apache_error"),
            ("[Thu Jul 11 01:21:41 2013] [error] [client 194.228.20.113] user  not found: /", "apache_error"),
            ("[Sat Jul 20 21:37:32.266605 2013] [auth_basic:error] [pid 17512:tid 140123079128832] [client 127.0.0.1:51386] AH01618: user  not found: /basic/file/cant_get_me.html", "apache_error"),
            (r#"2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/var/www/.htpasswd", client: 192.0.43.10, server: www.myhost.com, request: "GET / HTTP/1.1", host: "www.myhost.com""#, "nginx_error"),
            ("2015/01/21 10:56:10 [notice] 1#1: signal process started", "nginx_error"),
            (r#"12.34.56.78 - - [20/Jan/2015:19:53:28 +0100] "GET //pma/scripts/setup.php HTTP/1.1" 404 47 "-" "-" "-""#, "clf"),
            (r#"10.0.0.2 - username [18/Nov/2018:21:34:34 +0000] "GET /dashboard/ HTTP/2.0" 401 17 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:57.0) Gecko/20100101 Firefox/57.0" 72 "Auth for frontend-Host-traefik-0" "/dashboard/" 0ms"#, "clf"),
            ("Mar  7 18:53:24 bar sshd[1558]: Failed password for root from 192.0.2.1 port 22 ssh2", "sshd"),
            ("Feb 15 16:23:00 srv httpd[22034]: [authz_core:error] [pid 22034] [client 192.0.2.1:58585] AH01630: client denied by server configuration: /home/www/", "sshd"),
            (r#"{"ts":"2026-03-10T00:00:12Z","ip":"1.2.3.4"}"#, "json"),
        ];
        for (line, want) in rows {
            let mut p = Parser::new(&Format::Auto, &local);
            let parsed = p.parse(line);
            assert!(
                !matches!(parsed, Parsed::Malformed(_)),
                "{line}: {parsed:?}"
            );
            assert_eq!(p.format_name(), want, "{line}");
        }
    }

    #[test]
    fn request_lines_split_into_method_and_target() {
        let rows: &[(&str, Option<&str>, Option<&str>)] = &[
            ("GET /a?b=1 HTTP/1.1", Some("GET"), Some("/a?b=1")),
            ("GET /a HTTP/2.0", Some("GET"), Some("/a")),
            ("GET /a HTTP/2", Some("GET"), Some("/a")),
            (
                "  GET /with space HTTP/1.1 ",
                Some("GET"),
                Some("/with space"),
            ),
            ("GET  HTTP/1.1", Some("GET"), Some("")),
            ("GET /a", Some("GET"), Some("/a")),
            ("get /a HTTP/1.1", None, Some("get /a HTTP/1.1")),
            ("-", None, None),
            ("", None, None),
            ("/alone", None, Some("/alone")),
        ];
        for &(r, method, target) in rows {
            assert_eq!(split_request(r), (method, target), "{r}");
        }
    }

    proptest::proptest! {
        /// The one-loop method check splits as the search for the first
        /// space and a check of the bytes before it did.
        #[test]
        fn split_request_agrees_with_first_space_split(r in "[ A-Za-z/-]{0,6}( [A-Z/a-z]{0,4})?( HTTP/1\\.[01])? ?") {
            let t = r.trim_matches(' ');
            let want = if t.is_empty() || t == "-" {
                (None, None)
            } else {
                match t.split_once(' ') {
                    Some((m, rest)) if !m.is_empty() && m.bytes().all(|c| c.is_ascii_uppercase()) => {
                        let target = match rest.rsplit_once(' ') {
                            Some((p, v)) if v.starts_with("HTTP/") => p,
                            _ => rest,
                        };
                        (Some(m), Some(target))
                    }
                    _ => (None, Some(t)),
                }
            };
            proptest::prop_assert_eq!(split_request(&r), want);
        }
    }

    #[test]
    fn every_format_name_builds() {
        for name in Format::NAMES {
            assert!(Format::from_name(name).is_some(), "{name}");
        }
        assert_eq!(
            Format::from_name("nginx_error").map(|f| f.name()),
            Some("nginx_error")
        );
    }
}
