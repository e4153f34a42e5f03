//! PostgreSQL's server log (stderr format) with pgaudit entries.
//!
//! The line starts with the `log_line_prefix` the server was configured with;
//! [`PgOptions`] carries it and the parser reads each escape (`%m`, `%u`,
//! `%h`...) back out of the line. After the prefix comes `SEVERITY:  text`:
//!
//! - `AUDIT: SESSION|OBJECT,...` (pgaudit's CSV) → an event per audited
//!   statement: `action` = the command (`SELECT`), `resource` = the object
//!   (`public.customers`, or the statement's table when pgaudit names none),
//!   `records` = pgaudit's row count when `pgaudit.log_rows` is on;
//! - failed logins (`FATAL:  password authentication failed for user "x"`,
//!   `no pg_hba.conf entry for host ...`, `role "x" does not exist`) and
//!   authorised ones (`connection authorized: user=...`, with
//!   `log_connections`) → `action = "login"`, `resource = "postgres"`;
//! - `ERROR:  permission denied for table x` → denied, `relation "x" does not
//!   exist` → error, both with the table as resource;
//! - anything else (`STATEMENT:`, `DETAIL:`, checkpoints) → `Ignored`.
//!
//! User, client address (`%h`/`%r`) and session id (`%c`) come from the
//! prefix. Time zone abbreviations in `%m`/`%t`: `UTC`, `GMT` and numeric
//! offsets are honoured; other abbreviations (`CET`, `EST`: ambiguous in
//! general) are read in the configured local zone.
//!
//! Not for: csvlog/jsonlog output, and prefixes without a time escape (the
//! syslog destination), which yield `BadTimestamp`.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Deserialize;

use super::time::{parse_iso, parse_offset, Civil, ZoneCache};
use super::{Event, EventTime, IgnoreReason, LocalTime, Malformed, Outcome, Parsed};

/// How the server writes its log.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PgOptions {
    /// The server's `log_line_prefix`, escapes and all.
    pub log_line_prefix: String,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            log_line_prefix: "%m [%p] %q%u@%d ".to_string(),
        }
    }
}

/// One piece of a compiled `log_line_prefix`.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Literal(Box<str>),
    /// An escape and its padding width (`%-10u` → 10).
    Escape(Escape, usize),
    /// `%q`: non-session processes stop the prefix here.
    SessionOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// `%m`, `%t`: the event time with a zone abbreviation.
    Time,
    /// `%s`: session start, same shape, not the event time.
    SessionStart,
    /// `%n`: epoch seconds with milliseconds.
    Epoch,
    User,
    Database,
    /// `%h`: client host; `%r`: client host and port `(5432)`.
    Host,
    Session,
    /// Anything else, read and dropped.
    Other,
}

fn compile(prefix: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut lit = String::new();
    let mut chars = prefix.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        let mut width = 0usize;
        if chars.peek() == Some(&'-') {
            chars.next();
        }
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width.saturating_mul(10).saturating_add(d as usize);
            chars.next();
        }
        let Some(e) = chars.next() else { break };
        let escape = match e {
            '%' => {
                lit.push('%');
                continue;
            }
            'm' | 't' => Escape::Time,
            's' => Escape::SessionStart,
            'n' => Escape::Epoch,
            'u' => Escape::User,
            'd' => Escape::Database,
            'h' | 'r' => Escape::Host,
            'c' => Escape::Session,
            'q' => {
                flush(&mut items, &mut lit);
                items.push(Item::SessionOnly);
                continue;
            }
            'a' | 'b' | 'p' | 'P' | 'l' | 'v' | 'x' | 'e' | 'i' | 'L' | 'Q' => Escape::Other,
            // PostgreSQL prints nothing for an unknown escape.
            _ => continue,
        };
        flush(&mut items, &mut lit);
        items.push(Item::Escape(escape, width));
    }
    flush(&mut items, &mut lit);
    items
}

fn flush(items: &mut Vec<Item>, lit: &mut String) {
    if !lit.is_empty() {
        items.push(Item::Literal(std::mem::take(lit).into()));
    }
}

/// What the prefix of one line said.
#[derive(Debug, Default)]
struct Prefix<'a> {
    time: Option<EventTime>,
    user: Option<&'a str>,
    host: Option<&'a str>,
    session: Option<&'a str>,
}

/// Parses a PostgreSQL log.
#[derive(Debug)]
pub struct PgParser {
    items: Vec<Item>,
    clock: ZoneCache,
}

impl PgParser {
    pub fn new(options: PgOptions, local: LocalTime) -> PgParser {
        PgParser {
            items: compile(&options.log_line_prefix),
            clock: ZoneCache::new(local),
        }
    }

    /// Parses one line (without its terminator).
    pub fn parse<'a>(&mut self, line: &'a str) -> Parsed<'a> {
        if line.trim().is_empty() {
            return Parsed::Ignored(IgnoreReason::Blank);
        }
        let (prefix, rest) = match self.prefix(line) {
            Ok(v) => v,
            // A statement spanning lines continues without a prefix; such
            // lines are usually indented SQL.
            Err(Malformed::Syntax) if line.starts_with([' ', '\t']) => {
                return Parsed::Ignored(IgnoreReason::NotAccessEvent)
            }
            Err(m) => return Parsed::Malformed(m),
        };
        let Some(time) = prefix.time else {
            return Parsed::Malformed(Malformed::BadTimestamp);
        };
        let Some((severity, text)) = severity(rest) else {
            return Parsed::Malformed(Malformed::Syntax);
        };
        let mut e = Event {
            time,
            ip: prefix.host.and_then(parse_ip),
            user: prefix.user.map(Cow::Borrowed),
            session: prefix.session.map(Cow::Borrowed),
            ..Event::default()
        };
        let found = if let Some(audit) = text.strip_prefix("AUDIT: ") {
            match pgaudit(audit, &mut e) {
                Ok(()) => true,
                Err(m) => return Parsed::Malformed(m),
            }
        } else {
            match severity {
                "FATAL" => auth_failure(text, &mut e),
                "LOG" => authorized(text, &mut e),
                "ERROR" => statement_error(text, &mut e),
                _ => false,
            }
        };
        if found {
            Parsed::Event(e)
        } else {
            Parsed::Ignored(IgnoreReason::NotAccessEvent)
        }
    }

    /// Reads the prefix back out of the line; returns it and the rest.
    fn prefix<'a>(&mut self, line: &'a str) -> Result<(Prefix<'a>, &'a str), Malformed> {
        let mut p = Prefix::default();
        let mut pos = 0;
        for (k, item) in self.items.iter().enumerate() {
            let rest = &line[pos..];
            match item {
                Item::Literal(s) => {
                    if !rest.starts_with(&**s) {
                        return Err(Malformed::Syntax);
                    }
                    pos += s.len();
                }
                Item::SessionOnly => {
                    if severity(rest).is_some() {
                        break;
                    }
                }
                Item::Escape(Escape::Time | Escape::SessionStart, _) => {
                    let (t, used) = stamp(rest, &mut self.clock)?;
                    if matches!(item, Item::Escape(Escape::Time, _)) && p.time.is_none() {
                        p.time = Some(t);
                    }
                    pos += used;
                }
                Item::Escape(Escape::Epoch, _) => {
                    let used = rest
                        .bytes()
                        .take_while(|b| b.is_ascii_digit() || *b == b'.')
                        .count();
                    let t = epoch_millis(&rest[..used]).ok_or(Malformed::BadTimestamp)?;
                    p.time.get_or_insert(t);
                    pos += used;
                }
                Item::Escape(escape, width) => {
                    let end = field_end(rest, *width, next_literal(&self.items[k + 1..]));
                    let value = rest[..end].trim_matches(' ');
                    pos += end;
                    let value = (!value.is_empty() && value != "[unknown]").then_some(value);
                    match escape {
                        Escape::User => p.user = value,
                        Escape::Host => {
                            // `%r` adds `(port)`; `[local]` is a Unix socket.
                            p.host = value.map(|v| v.split_once('(').map_or(v, |(h, _)| h))
                        }
                        Escape::Session => p.session = value,
                        _ => {}
                    }
                }
            }
        }
        Ok((p, &line[pos..]))
    }
}

/// The literal that ends a variable-length field (skipping `%q`).
fn next_literal(items: &[Item]) -> Option<&str> {
    match items.iter().find(|i| !matches!(i, Item::SessionOnly))? {
        Item::Literal(s) => Some(s),
        _ => None,
    }
}

/// Where a variable field starting at `rest` ends: at the next literal,
/// searched from its padded width on, or at a space when no literal follows.
fn field_end(rest: &str, width: usize, literal: Option<&str>) -> usize {
    let from = width.min(rest.len());
    let found = match literal {
        Some(lit) => memchr::memmem::find(&rest.as_bytes()[from..], lit.as_bytes()),
        None => memchr::memchr(b' ', &rest.as_bytes()[from..]),
    };
    found.map_or(rest.len(), |i| from + i)
}

/// `2024-03-10 11:43:00[.123] ZONE`: the instant and bytes used.
fn stamp(s: &str, clock: &mut ZoneCache) -> Result<(EventTime, usize), Malformed> {
    let b = s.as_bytes();
    let (c, off, used) = parse_iso(b).ok_or(if b.first().is_some_and(u8::is_ascii_digit) {
        Malformed::BadTimestamp
    } else {
        Malformed::Syntax
    })?;
    if let Some(off) = off {
        return Ok((EventTime::from_civil(&c, off), used));
    }
    let Some(zone_start) = s.get(used..).and_then(|r| r.strip_prefix(' ')) else {
        return clock
            .resolve(&c)
            .map(|t| (t, used))
            .ok_or(Malformed::BadTimestamp);
    };
    let zone = zone_start.split(' ').next().unwrap_or("");
    let t = zoned(&c, zone, clock).ok_or(Malformed::BadTimestamp)?;
    Ok((t, used + 1 + zone.len()))
}

/// Civil time in the zone PostgreSQL named by abbreviation or offset.
fn zoned(c: &Civil, zone: &str, clock: &mut ZoneCache) -> Option<EventTime> {
    let off = match zone {
        "UTC" | "GMT" | "UCT" | "Z" => 0,
        z if z.starts_with(['+', '-']) => {
            let b = z.as_bytes();
            if b.len() == 3 {
                // `+02`: hours only.
                let h = super::time::digits(&b[1..], 2)? as i32;
                if h > 23 {
                    return None;
                }
                if b[0] == b'-' {
                    -h * 3600
                } else {
                    h * 3600
                }
            } else {
                let (off, used) = parse_offset(b)?;
                if used != b.len() {
                    return None;
                }
                off
            }
        }
        _ => return clock.resolve(c),
    };
    // `c` comes from parse_iso, which checked the date.
    Some(EventTime::from_civil(c, off))
}

/// `%n`: `1710070980.123`.
fn epoch_millis(s: &str) -> Option<EventTime> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty()
        || secs.len() > 12
        || frac.len() > 6
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut micros = 0i64;
    for k in 0..6 {
        micros = micros * 10 + frac.as_bytes().get(k).map_or(0, |d| (d - b'0') as i64);
    }
    Some(EventTime {
        unix_micros: secs * 1_000_000 + micros,
        offset_secs: 0,
    })
}

/// `LOG:  text` → (`LOG`, `text`), for PostgreSQL's severities.
fn severity(s: &str) -> Option<(&str, &str)> {
    let colon = s.as_bytes().iter().take(11).position(|&b| b == b':')?;
    let word = &s[..colon];
    let known =
        matches!(
            word,
            "LOG"
                | "ERROR"
                | "FATAL"
                | "PANIC"
                | "WARNING"
                | "NOTICE"
                | "INFO"
                | "DEBUG"
                | "STATEMENT"
                | "DETAIL"
                | "HINT"
                | "CONTEXT"
                | "QUERY"
                | "LOCATION"
        ) || (word.len() == 6 && word.starts_with("DEBUG") && word.as_bytes()[5].is_ascii_digit());
    if !known {
        return None;
    }
    let text = s[colon + 1..].strip_prefix("  ")?;
    Some((word, text))
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The text between the first pair of double quotes after `key`
/// (`for user "x"`). PostgreSQL does not escape quotes in names, so the
/// closing quote is the one followed by `,` or the end.
fn quoted_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let r = text.get(start..)?.strip_prefix('"')?;
    let mut end = None;
    for (i, _) in r.match_indices('"') {
        let after = &r[i + 1..];
        end = Some(i);
        if after.is_empty() || after.starts_with(',') {
            break;
        }
    }
    Some(&r[..end?])
}

fn login<'a>(e: &mut Event<'a>, outcome: Outcome, detail: &'static str, user: Option<&'a str>) {
    e.action = Some(Cow::Borrowed("login"));
    e.resource = Some(Cow::Borrowed("postgres"));
    e.outcome = outcome;
    e.detail = Some(detail);
    if let Some(u) = user {
        e.user = Some(Cow::Borrowed(u));
    }
}

/// `FATAL:` lines of a refused connection.
fn auth_failure<'a>(text: &'a str, e: &mut Event<'a>) -> bool {
    if let Some((method, _)) = text.split_once(" authentication failed for user ") {
        let detail = if method == "password" {
            "bad_password"
        } else {
            "auth_failed"
        };
        login(e, Outcome::Failure, detail, quoted_after(text, "for user "));
        return true;
    }
    for (head, detail) in [
        ("no pg_hba.conf entry for host ", "no_hba_entry"),
        ("pg_hba.conf rejects connection for host ", "hba_reject"),
    ] {
        if text.starts_with(head) {
            login(e, Outcome::Denied, detail, quoted_after(text, "user "));
            if let Some(ip) = quoted_after(text, "host ").and_then(parse_ip) {
                e.ip = Some(ip);
            }
            return true;
        }
    }
    if text.starts_with("role \"") && text.ends_with("\" does not exist") {
        login(
            e,
            Outcome::Failure,
            "invalid_user",
            quoted_after(text, "role "),
        );
        return true;
    }
    if text.starts_with("permission denied for database ") {
        login(e, Outcome::Denied, "permission_denied", None);
        return true;
    }
    false
}

/// `LOG:  connection authorized: user=alice database=crm ...`.
fn authorized<'a>(text: &'a str, e: &mut Event<'a>) -> bool {
    let Some(r) = text.strip_prefix("connection authorized: ") else {
        return false;
    };
    let user = r.split(' ').find_map(|kv| kv.strip_prefix("user="));
    login(e, Outcome::Success, "authorized", user);
    true
}

/// `ERROR:` lines that say a statement was refused or aimed at a missing table.
fn statement_error<'a>(text: &'a str, e: &mut Event<'a>) -> bool {
    if let Some(r) = text.strip_prefix("permission denied for ") {
        // `table x`, `relation x` (before PostgreSQL 15), `schema x`, `view x`...
        let Some((_, name)) = r.split_once(' ') else {
            return false;
        };
        e.resource = Some(Cow::Borrowed(name));
        e.outcome = Outcome::Denied;
        e.detail = Some("permission_denied");
        return true;
    }
    if let Some(r) = text.strip_prefix("relation \"") {
        if let Some((name, _)) = r.split_once("\" does not exist") {
            e.resource = Some(Cow::Borrowed(name));
            e.outcome = Outcome::Error;
            e.detail = Some("undefined_table");
            return true;
        }
    }
    false
}

/// pgaudit's `AUDIT_TYPE,STATEMENT_ID,SUBSTATEMENT_ID,CLASS,COMMAND,
/// OBJECT_TYPE,OBJECT_NAME,STATEMENT,PARAMETER[,ROWS]`.
fn pgaudit<'a>(csv: &'a str, e: &mut Event<'a>) -> Result<(), Malformed> {
    let mut fields = CsvFields { rest: Some(csv) };
    let mut next = || fields.next().ok_or(Malformed::Syntax);
    let kind = next()?;
    if kind != "SESSION" && kind != "OBJECT" {
        return Err(Malformed::Syntax);
    }
    let (_statement_id, _substatement_id) = (next()?, next()?);
    let class = next()?;
    let command = next()?;
    let _object_type = next()?;
    let object = next()?;
    let statement = fields.next();
    let _parameter = fields.next();
    let rows = fields.next();
    e.detail = Some(match &*class {
        "READ" => "read",
        "WRITE" => "write",
        "DDL" => "ddl",
        "ROLE" => "role",
        "FUNCTION" => "function",
        "MISC" => "misc",
        "MISC_SET" => "misc_set",
        _ => "other",
    });
    e.outcome = Outcome::Success;
    e.records = rows.and_then(|r| r.parse().ok());
    e.resource = if !object.is_empty() {
        Some(object)
    } else {
        statement.and_then(|s| match s {
            Cow::Borrowed(s) => statement_table(&command, s).map(Cow::Borrowed),
            Cow::Owned(s) => statement_table(&command, &s).map(|t| Cow::Owned(t.to_owned())),
        })
    };
    e.action = (!command.is_empty()).then_some(command);
    Ok(())
}

/// pgaudit's CSV: a field is quoted (with `""` for `"`) only when it holds a
/// comma, quote or newline. A quoted field left open runs to the end of the
/// line (a statement continued on the next lines).
struct CsvFields<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for CsvFields<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Cow<'a, str>> {
        let s = self.rest?;
        let Some(q) = s.strip_prefix('"') else {
            return Some(Cow::Borrowed(match s.split_once(',') {
                Some((f, r)) => {
                    self.rest = Some(r);
                    f
                }
                None => {
                    self.rest = None;
                    s
                }
            }));
        };
        let b = q.as_bytes();
        let mut i = 0;
        let mut doubled = false;
        let end = loop {
            match memchr::memchr(b'"', &b[i..]) {
                None => break q.len(),
                Some(k) if b.get(i + k + 1) == Some(&b'"') => {
                    doubled = true;
                    i += k + 2;
                }
                Some(k) => break i + k,
            }
        };
        let field = &q[..end];
        let after = q.get(end + 1..).unwrap_or("");
        self.rest = after.strip_prefix(',');
        Some(if doubled {
            Cow::Owned(field.replace("\"\"", "\""))
        } else {
            Cow::Borrowed(field)
        })
    }
}

/// The table a statement names, for pgaudit entries without an object
/// (session logging without `log_relation`): the word after `FROM` for
/// SELECT/DELETE, `INTO` for INSERT, `UPDATE`, `COPY`, `TRUNCATE`, or
/// `TABLE` for DDL. A subquery or a function call is no table.
fn statement_table<'s>(command: &str, stmt: &'s str) -> Option<&'s str> {
    let keyword = match command {
        "SELECT" | "DELETE" => "from",
        "INSERT" => "into",
        "UPDATE" => "update",
        "COPY" => "copy",
        "TRUNCATE TABLE" => "truncate",
        c if c.ends_with("TABLE") => "table",
        _ => return None,
    };
    let mut words = Words { s: stmt };
    while let Some(w) = words.next() {
        if !w.eq_ignore_ascii_case(keyword) {
            continue;
        }
        // `FROM (subquery)`: no table.
        let mut name = words.next_here()?;
        for skip in ["only", "table", "if", "not", "exists"] {
            if name.eq_ignore_ascii_case(skip) {
                name = words.next_here()?;
            }
        }
        // `FROM generate_series(...)`: a function, no table (`INTO t(a, b)` is one).
        if keyword == "from" && words.s.starts_with('(') {
            return None;
        }
        return Some(name);
    }
    None
}

/// SQL words: runs of identifier characters (with `.` and quoted parts),
/// split at whitespace and punctuation.
struct Words<'s> {
    s: &'s str,
}

impl<'s> Words<'s> {
    /// The next word if only whitespace comes before it.
    fn next_here(&mut self) -> Option<&'s str> {
        let t = self.s.trim_start();
        let b = t.as_bytes().first()?;
        if !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'"') || *b >= 0x80) {
            return None;
        }
        self.next()
    }
}

impl<'s> Iterator for Words<'s> {
    type Item = &'s str;

    fn next(&mut self) -> Option<&'s str> {
        let b = self.s.as_bytes();
        let is_word = |c: u8| {
            c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'"' | b'$') || c >= 0x80
        };
        let start = b.iter().position(|&c| is_word(c))?;
        let mut end = start;
        let mut quoted = false;
        while let Some(&c) = b.get(end) {
            if c == b'"' {
                quoted = !quoted;
            } else if !quoted && !is_word(c) {
                break;
            }
            end += 1;
        }
        let w = &self.s[start..end];
        self.s = &self.s[end..];
        Some(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(prefix: &str) -> PgParser {
        let local = LocalTime::new(
            jiff::tz::TimeZone::fixed(jiff::tz::offset(1)),
            "2024-12-31T00:00:00Z".parse().unwrap(),
        );
        PgParser::new(
            PgOptions {
                log_line_prefix: prefix.to_string(),
            },
            local,
        )
    }

    fn default_parser() -> PgParser {
        parser(&PgOptions::default().log_line_prefix)
    }

    /// (line, action, resource, outcome, detail, user, ip, records)
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Outcome,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<u64>,
    );

    #[test]
    fn default_prefix_lines() {
        use Outcome::*;
        let cases: &[Case] = &[
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.customers,\"SELECT id, email FROM customers WHERE id = $1\",<not logged>",
                Some("SELECT"), Some("public.customers"), Success, "read", Some("alice"), None, None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm LOG:  AUDIT: SESSION,2,1,READ,SELECT,,,select * from crm.customers c join orders o on o.cid = c.id,<none>",
                Some("SELECT"), Some("crm.customers"), Success, "read", Some("alice"), None, None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm LOG:  AUDIT: OBJECT,3,1,WRITE,DELETE,TABLE,public.customers,delete from customers,<not logged>,1200",
                Some("DELETE"), Some("public.customers"), Success, "write", Some("alice"), None, Some(1200),
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm LOG:  AUDIT: SESSION,4,1,WRITE,INSERT,,,\"INSERT INTO \"\"Audit Log\"\" (a, b) VALUES ('x', 'y')\",<none>",
                Some("INSERT"), Some("\"Audit Log\""), Success, "write", Some("alice"), None, None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm LOG:  AUDIT: SESSION,5,1,DDL,CREATE TABLE,TABLE,public.important_table,CREATE TABLE important_table (id INT),<none>",
                Some("CREATE TABLE"), Some("public.important_table"), Success, "ddl", Some("alice"), None, None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm LOG:  AUDIT: SESSION,6,1,READ,SELECT,,,\"SELECT *",
                Some("SELECT"), None, Success, "read", Some("alice"), None, None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] bob@crm FATAL:  password authentication failed for user \"bob\"",
                Some("login"), Some("postgres"), Failure, "bad_password", Some("bob"), None, None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] [unknown]@[unknown] FATAL:  no pg_hba.conf entry for host \"203.0.113.9\", user \"mallory\", database \"crm\", no encryption",
                Some("login"), Some("postgres"), Denied, "no_hba_entry", Some("mallory"), Some("203.0.113.9"), None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] ghost@crm FATAL:  role \"ghost\" does not exist",
                Some("login"), Some("postgres"), Failure, "invalid_user", Some("ghost"), None, None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm LOG:  connection authorized: user=alice database=crm application_name=psql",
                Some("login"), Some("postgres"), Success, "authorized", Some("alice"), None, None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] eve@crm ERROR:  permission denied for table customers",
                None, Some("customers"), Denied, "permission_denied", Some("eve"), None, None,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] eve@crm ERROR:  relation \"secrets\" does not exist at character 15",
                None, Some("secrets"), Error, "undefined_table", Some("eve"), None, None,
            ),
        ];
        for &(line, action, resource, outcome, detail, user, ip, records) in cases {
            let got = default_parser().parse(line);
            let Parsed::Event(e) = got else {
                panic!("{line}: {got:?}")
            };
            assert_eq!(e.action.as_deref(), action, "{line}");
            assert_eq!(e.resource.as_deref(), resource, "{line}");
            assert_eq!(e.outcome, outcome, "{line}");
            assert_eq!(e.detail, Some(detail), "{line}");
            assert_eq!(e.user.as_deref(), user, "{line}");
            assert_eq!(e.ip.map(|i| i.to_string()).as_deref(), ip, "{line}");
            assert_eq!(e.records, records, "{line}");
            assert_eq!(
                e.time.to_string(),
                "2024-03-10T11:43:00.123+00:00",
                "{line}"
            );
        }
    }

    #[test]
    fn not_access_events_are_ignored() {
        for line in [
            "2024-03-10 11:43:00.123 UTC [77] LOG:  checkpoint starting: time",
            "2024-03-10 11:43:00.123 UTC [77] LOG:  database system is ready to accept connections",
            "2024-03-10 11:43:00.123 UTC [4242] bob@crm DETAIL:  Connection matched pg_hba.conf line 99: \"host all all 0.0.0.0/0 scram-sha-256\"",
            "2024-03-10 11:43:00.123 UTC [4242] eve@crm STATEMENT:  SELECT * FROM customers",
            "2024-03-10 11:43:00.123 UTC [4242] eve@crm ERROR:  syntax error at or near \"SELEC\" at character 1",
            "2024-03-10 11:43:00.123 UTC [4242] [unknown]@[unknown] LOG:  connection received: host=10.0.0.1 port=5555",
            "\tFROM customers WHERE id = 1\",<not logged>",
        ] {
            assert_eq!(default_parser().parse(line), Parsed::Ignored(IgnoreReason::NotAccessEvent), "{line}");
        }
    }

    #[test]
    fn broken_lines_are_malformed() {
        for (line, want) in [
            ("hello", Malformed::Syntax),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm",
                Malformed::Syntax,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm BLAH:  x",
                Malformed::Syntax,
            ),
            (
                "2024-02-30 11:43:00.123 UTC [4242] alice@crm LOG:  x",
                Malformed::BadTimestamp,
            ),
            (
                "2024-03-10 11:43:00.123 +99 [4242] alice@crm LOG:  x",
                Malformed::BadTimestamp,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm LOG:  AUDIT: FOO,1,1,READ,SELECT,,,x",
                Malformed::Syntax,
            ),
            (
                "2024-03-10 11:43:00.123 UTC [4242] alice@crm LOG:  AUDIT: SESSION,1,1",
                Malformed::Syntax,
            ),
        ] {
            assert_eq!(
                default_parser().parse(line),
                Parsed::Malformed(want),
                "{line}"
            );
        }
    }

    #[test]
    fn zones_in_the_timestamp() {
        for (line, want) in [
            (
                "2024-03-10 11:43:00.123 UTC [1] LOG:  x",
                "2024-03-10T11:43:00.123+00:00",
            ),
            (
                "2024-03-10 11:43:00.123 GMT [1] LOG:  x",
                "2024-03-10T11:43:00.123+00:00",
            ),
            (
                "2024-03-10 11:43:00.123 +02 [1] LOG:  x",
                "2024-03-10T11:43:00.123+02:00",
            ),
            (
                "2024-03-10 11:43:00.123 -03 [1] LOG:  x",
                "2024-03-10T11:43:00.123-03:00",
            ),
            (
                "2024-03-10 11:43:00.123 +0530 [1] LOG:  x",
                "2024-03-10T11:43:00.123+05:30",
            ),
            // An abbreviation we cannot know: the configured zone (+01 here).
            (
                "2024-03-10 11:43:00.123 CET [1] LOG:  x",
                "2024-03-10T11:43:00.123+01:00",
            ),
        ] {
            let mut p = parser("%m [%p] ");
            let before = p.parse(line);
            assert_eq!(
                before,
                Parsed::Ignored(IgnoreReason::NotAccessEvent),
                "{line}"
            );
            // The time itself: read through an event line.
            let audit = line.replace(
                "LOG:  x",
                "LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<none>",
            );
            let Parsed::Event(e) = p.parse(&audit) else {
                panic!("{audit}")
            };
            assert_eq!(e.time.to_string(), want, "{line}");
        }
    }

    /// (prefix, line, user, ip, session)
    type PrefixCase = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn other_prefixes() {
        let cases: &[PrefixCase] = &[
            (
                "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
                "2024-03-10 11:43:00 UTC [4242]: [3-1] user=alice,db=crm,app=pgAdmin 4 - DB:crm,client=203.0.113.5 LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.customers,select 1,<none>",
                Some("alice"), Some("203.0.113.5"), None,
            ),
            (
                "%m %r %u %d %c %x ",
                "2024-03-10 11:43:00.001 UTC 2001:db8::5(40000) alice crm 65ed8a3c.1a2b 0 LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.customers,select 1,<none>",
                Some("alice"), Some("2001:db8::5"), Some("65ed8a3c.1a2b"),
            ),
            (
                "%n [%-6p] %-10u|%h ",
                "1710070980.123 [42    ] alice     |[local] LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.customers,select 1,<none>",
                Some("alice"), None, None,
            ),
            (
                "%m %%%q[%u] ",
                "2024-03-10 11:43:00.001 UTC %[alice] LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.customers,select 1,<none>",
                Some("alice"), None, None,
            ),
        ];
        for &(prefix, line, user, ip, session) in cases {
            let got = parser(prefix).parse(line);
            let Parsed::Event(e) = got else {
                panic!("{prefix:?} {line}: {got:?}")
            };
            assert_eq!(e.user.as_deref(), user, "{line}");
            assert_eq!(e.ip.map(|i| i.to_string()).as_deref(), ip, "{line}");
            assert_eq!(e.session.as_deref(), session, "{line}");
            assert_eq!(e.resource.as_deref(), Some("public.customers"), "{line}");
        }
        let Parsed::Event(e) = parser("%n [%-6p] %-10u|%h ").parse(
            "1710070980.123 [42    ] alice     |[local] LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,t,x,<none>",
        ) else {
            panic!()
        };
        assert_eq!(e.time.to_string(), "2024-03-10T11:43:00.123+00:00");
        // `%q`: a background process stops the prefix there.
        assert_eq!(
            parser("%m %%%q[%u] ")
                .parse("2024-03-10 11:43:00.001 UTC %LOG:  checkpoint starting: time"),
            Parsed::Ignored(IgnoreReason::NotAccessEvent)
        );
    }

    #[test]
    fn statement_tables() {
        for (command, stmt, want) in [
            (
                "SELECT",
                "select * from customers where id=1",
                Some("customers"),
            ),
            (
                "SELECT",
                "SELECT a FROM ONLY crm.customers",
                Some("crm.customers"),
            ),
            ("SELECT", "select 1", None),
            ("SELECT", "select * from (select 1) s", None),
            ("SELECT", "select * from generate_series(1,3)", None),
            ("INSERT", "insert into t(a) values (1)", Some("t")),
            (
                "UPDATE",
                "UPDATE \"My Table\" SET a=1",
                Some("\"My Table\""),
            ),
            ("DELETE", "delete from public.x", Some("public.x")),
            ("COPY", "COPY customers TO STDOUT", Some("customers")),
            ("TRUNCATE TABLE", "truncate table orders", Some("orders")),
            ("DROP TABLE", "DROP TABLE IF EXISTS old", Some("old")),
            ("BEGIN", "begin", None),
        ] {
            assert_eq!(statement_table(command, stmt), want, "{stmt}");
        }
    }

    #[test]
    fn options_reject_unknown_keys() {
        let o: PgOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(o, PgOptions::default());
        assert!(serde_json::from_str::<PgOptions>(r#"{"prefix":"%m "}"#).is_err());
    }
}
