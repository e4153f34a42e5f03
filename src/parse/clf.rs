//! nginx/apache access logs: `combined` and `common` (NCSA) formats.
//!
//! `ip ident user [time] "request" status bytes ["referer" "agent" ...]`
//!
//! A hand-written byte scanner: no regex, no allocation. Quoted fields are
//! returned as written (nginx's `\x22` and apache's `\"` escapes are kept), so
//! every field borrows from the line. Fields after the user agent (custom
//! nginx formats append request times and upstream addresses) are ignored.

use std::borrow::Cow;
use std::net::IpAddr;

use super::scan::{find1, find2};
use super::time::{clf_seconds_of_day, parse_clf, EventTime};
use super::{split_request, Event, IgnoreReason, Malformed, Outcome, Parsed};
use crate::source::framer::ByteSearch;

/// Parser state: only the last parsed timestamp. An access log writes a few
/// lines a second, so consecutive stamps often share their second (40% on our
/// scenario) and nearly always their day: then only the `hh:mm:ss` between
/// the two needs reading.
#[derive(Debug)]
pub struct ClfParser {
    /// The last 26-byte stamp `parse_clf` accepted (a valid stamp at first).
    day: [u8; 26],
    /// Its date's midnight in its offset, in Unix microseconds.
    day_base: i64,
    day_offset: i32,
    /// Its instant: `parse_clf(day)`, for the next line of the same second.
    last: EventTime,
    /// Finds the quote that closes a field.
    quote: ByteSearch,
}

impl Default for ClfParser {
    fn default() -> ClfParser {
        ClfParser {
            day: *b"01/Jan/1970:00:00:00 +0000",
            day_base: 0,
            day_offset: 0,
            last: EventTime::default(),
            quote: ByteSearch::new(b'"'),
        }
    }
}

impl ClfParser {
    pub fn new() -> ClfParser {
        ClfParser::default()
    }

    /// Parses one line without its terminator.
    pub fn parse<'a>(&mut self, line: &'a str) -> Parsed<'a> {
        let b = line.as_bytes();
        if b.is_empty() {
            return Parsed::Ignored(IgnoreReason::Blank);
        }
        // The scan returns the few fields of a line and the event is built
        // here, in the caller's slot: an `Event` is some 300 bytes, and
        // building it inside a `Result` cost a copy of it per line.
        let f = match self.scan(line, b) {
            Ok(f) => f,
            Err(m) => return Parsed::Malformed(m),
        };
        Parsed::Event(Event {
            time: f.time,
            ip: f.ip,
            user: dash_none(f.user),
            action: f.action.map(Cow::Borrowed),
            resource: f.resource.map(Cow::Borrowed),
            outcome: Outcome::from_http_status(f.status),
            status: Some(f.status),
            bytes_out: f.bytes_out,
            user_agent: f.user_agent.and_then(dash_none),
            referer: f.referer.and_then(dash_none),
            ..Event::default()
        })
    }

    /// `parse_clf`, reusing the last stamp's date and offset. A stamp whose
    /// date (`10/Oct/2000:`) and offset (` -0700`) bytes equal those of a
    /// stamp `parse_clf` accepted differs from it only in its time of day,
    /// which `clf_seconds_of_day` checks as `parse_clf` would.
    #[inline]
    fn time(&mut self, stamp: &[u8]) -> Result<EventTime, Malformed> {
        if let Ok(s) = <&[u8; 26]>::try_from(stamp) {
            if *s == self.day {
                return Ok(self.last);
            }
            if s[..12] == self.day[..12] && s[20..] == self.day[20..] {
                if let Some(sod) = clf_seconds_of_day(s) {
                    let t = EventTime {
                        unix_micros: self.day_base + sod as i64 * 1_000_000,
                        offset_secs: self.day_offset,
                    };
                    self.day = *s;
                    self.last = t;
                    return Ok(t);
                }
            }
        }
        let t = parse_clf(stamp).ok_or(Malformed::BadTimestamp)?;
        if let Ok(s) = <&[u8; 26]>::try_from(stamp) {
            // accepted by `parse_clf`, so its time of day reads
            if let Some(sod) = clf_seconds_of_day(s) {
                self.day = *s;
                self.day_base = t.unix_micros - sod as i64 * 1_000_000;
                self.day_offset = t.offset_secs;
                self.last = t;
            }
        }
        Ok(t)
    }

    #[inline]
    fn scan<'a>(&mut self, line: &'a str, b: &[u8]) -> Result<Fields<'a>, Malformed> {
        use Malformed::{BadField, Syntax};

        // Every field boundary below is the index of an ASCII byte (a space,
        // quote or bracket), the index after one, or the end of the line: a
        // char boundary of `line` in each case (a UTF-8 continuation byte
        // never follows an ASCII byte). `field` slices on that invariant
        // without the two boundary checks (an out-of-line call each) of
        // `&line[a..b]`.
        let field = |from: usize, to: usize| -> &'a str {
            let bytes = &line.as_bytes()[from..to];
            debug_assert!(line.is_char_boundary(from) && line.is_char_boundary(to));
            // SAFETY: `line` is UTF-8 and `from` and `to` are char
            // boundaries of it (the invariant above), so the bytes between
            // them are UTF-8 too.
            unsafe { std::str::from_utf8_unchecked(bytes) }
        };

        // remote address
        let (mut sp, mut addr, mut ip) = match leading_ipv4(b) {
            Some((ip, sp)) => (sp, field(0, sp), Some(ip)),
            None => {
                let sp = find_near(b, 0, b' ').ok_or(Syntax)?;
                let addr = field(0, sp);
                (sp, addr, parse_ip(addr))
            }
        };
        if ip.is_none() {
            // apache `vhost_combined`: `%v[:%p] %h ...` puts the server name first
            let next = find_near(b, sp + 1, b' ').ok_or(Syntax)?;
            if let Some(client) = parse_ip(field(sp + 1, next)) {
                ip = Some(client);
                addr = field(sp + 1, next);
                sp = next;
            }
        }
        if ip.is_none() && !plausible_host(addr.as_bytes()) {
            return Err(Syntax);
        }
        // ident, then user up to " ["; nearly always both are `-`, which
        // the searches below would find at these very places
        let (user_start, open) = if b.get(sp + 1..sp + 6) == Some(b"- - [") {
            (sp + 3, sp + 5)
        } else {
            let sp2 = find_near(b, sp + 1, b' ').ok_or(Syntax)?;
            let user_start = sp2 + 1;
            // a user name (`cust109606`) is long enough to search by words
            let open = find1(b, user_start, b'[').ok_or(Syntax)?;
            if open == user_start || b[open - 1] != b' ' {
                return Err(Syntax);
            }
            (user_start, open)
        };
        let user = field(user_start, open - 1);
        // `10/Oct/2000:13:55:36 -0700` is 26 bytes in every log we know, so
        // look for its `]` there before searching. A stamp that parses holds
        // no `]`, so both ways find the same stamp wherever it is valid (and
        // a stamp with an early `]` fails as a bad timestamp either way).
        let close = if b.get(open + 27) == Some(&b']') {
            open + 27
        } else {
            find_near(b, open, b']').ok_or(Syntax)?
        };
        let time = self.time(&b[open + 1..close])?;

        // "request"
        let mut i = close + 1;
        if b.get(i) != Some(&b' ') || b.get(i + 1) != Some(&b'"') {
            return Err(Syntax);
        }
        i += 2;
        let (action, resource, req_end) = match simple_request(b, i) {
            Some((sp, end)) => (Some(field(i, sp)), Some(field(sp + 1, end)), end + 9),
            None => {
                let req_end = closing_quote(&self.quote, b, i).ok_or(Syntax)?;
                let (action, resource) = split_request(field(i, req_end));
                (action, resource, req_end)
            }
        };
        i = req_end + 1;

        // status and bytes
        if b.get(i) != Some(&b' ') {
            return Err(Syntax);
        }
        i += 1;
        // A status is three digits and a space: read so without a loop.
        let status = match b.get(i..i + 4) {
            Some(&[x, y, z, b' '])
                if x.is_ascii_digit() && y.is_ascii_digit() && z.is_ascii_digit() =>
            {
                (x - b'0') as u32 * 100 + (y - b'0') as u32 * 10 + (z - b'0') as u32
            }
            _ => {
                let (status, used) = number(&b[i..]).ok_or(Syntax)?;
                if used != 3 {
                    return Err(BadField);
                }
                status as u32
            }
        };
        if !(100..=599).contains(&status) {
            return Err(BadField);
        }
        i += 3;
        if b.get(i) != Some(&b' ') {
            return Err(Syntax);
        }
        i += 1;
        let bytes_out = if b.get(i) == Some(&b'-') {
            i += 1;
            None
        } else {
            let (n, used) = number(&b[i..]).ok_or(Syntax)?;
            i += used;
            Some(n)
        };

        // combined: "referer" "agent"; common: end of line
        let mut referer = None;
        let mut user_agent = None;
        if i < b.len() {
            if b[i] != b' ' || b.get(i + 1) != Some(&b'"') {
                return Err(Syntax);
            }
            // Real logs have lines cut inside the last quoted fields (a
            // truncated user agent): take the rest of the line rather than
            // lose the request.
            let start = i + 2;
            // Half the referers are `"-"`: no search for that one (its quote
            // follows a `-`, so it is not escaped).
            let end = if b.get(start..start + 2) == Some(b"-\"") {
                start + 1
            } else {
                closing_quote(&self.quote, b, start).unwrap_or(b.len())
            };
            referer = Some(field(start, end));
            i = end + 1;
            if i < b.len() {
                if b[i] != b' ' || b.get(i + 1) != Some(&b'"') {
                    return Err(Syntax);
                }
                let start = i + 2;
                let end = closing_quote(&self.quote, b, start).unwrap_or(b.len());
                user_agent = Some(field(start, end));
            }
        }

        Ok(Fields {
            time,
            ip,
            user,
            action,
            resource,
            status: status as u16,
            bytes_out,
            referer,
            user_agent,
        })
    }
}

/// The fields of one access-log line, as written (quoted fields unquoted).
struct Fields<'a> {
    time: EventTime,
    ip: Option<IpAddr>,
    user: &'a str,
    /// The request line's method and target (`split_request`).
    action: Option<&'a str>,
    resource: Option<&'a str>,
    status: u16,
    bytes_out: Option<u64>,
    referer: Option<&'a str>,
    user_agent: Option<&'a str>,
}

/// `a.b.c.d ` at the start of a line, the client address of nearly every
/// access-log line: the address and the index of the space after it, in one
/// pass instead of a search for the space and a parse. `None` sends the line
/// down the general path, which takes every address this one takes.
#[inline]
fn leading_ipv4(b: &[u8]) -> Option<(IpAddr, usize)> {
    // A digit's value, or `None` for any other byte (or past the end).
    let digit = |i: usize| b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9);
    let mut oct = [0u8; 4];
    let mut i = 0;
    for (k, o) in oct.iter_mut().enumerate() {
        // one to three digits, unrolled: the loop's bookkeeping was most of
        // the cost of a short octet
        let mut n = digit(i)? as u32;
        i += 1;
        if let Some(d) = digit(i) {
            n = n * 10 + d as u32;
            i += 1;
            if let Some(d) = digit(i) {
                n = n * 10 + d as u32;
                i += 1;
            }
        }
        if n > 255 {
            return None;
        }
        *o = n as u8;
        let sep = if k < 3 { b'.' } else { b' ' };
        if *b.get(i)? != sep {
            return None;
        }
        i += 1;
    }
    Some((IpAddr::from(oct), i - 1))
}

/// IPv4 fast path, then the general parser (IPv6, mapped addresses).
#[inline]
fn parse_ip(s: &str) -> Option<IpAddr> {
    let b = s.as_bytes();
    if b.len() <= 15 && b.first().is_some_and(u8::is_ascii_digit) {
        let mut oct = [0u8; 4];
        let (mut n, mut k, mut digits) = (0u32, 0usize, 0);
        for &c in b {
            if c == b'.' {
                if digits == 0 || k == 3 {
                    return None;
                }
                oct[k] = n as u8;
                k += 1;
                n = 0;
                digits = 0;
            } else {
                let d = c.wrapping_sub(b'0');
                if d > 9 || digits == 3 {
                    return None;
                }
                n = n * 10 + d as u32;
                if n > 255 {
                    return None;
                }
                digits += 1;
            }
        }
        if k != 3 || digits == 0 {
            return None;
        }
        oct[3] = n as u8;
        return Some(IpAddr::from(oct));
    }
    s.parse().ok()
}

/// Apache with `HostnameLookups On` logs names instead of addresses; a name's
/// last label is never all digits (that would be a broken address).
fn plausible_host(b: &[u8]) -> bool {
    let tld = b.rsplit(|&c| c == b'.').next().unwrap_or_default();
    b.len() <= 253
        && b.contains(&b'.')
        && tld.iter().any(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

/// Index of `c` at or after `from`, for fields that are a few bytes long:
/// a plain loop beats a vectorised search's setup there.
#[inline]
fn find_near(b: &[u8], from: usize, c: u8) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&x| x == c)
        .map(|p| from + p)
}

/// `METHOD target HTTP/1.1"`, the request of nearly every line, split in one
/// scan from `from` (after the opening quote): the index of the space after
/// the method and of the one before `HTTP/1.1`. `None` sends the request
/// down the general path (`closing_quote`, then `split_request`), which
/// splits every request this takes the same way: no quote comes before the
/// one after `HTTP/1.1`, which follows a `1` and so is not escaped, and the
/// request neither starts nor ends with a space.
#[inline]
fn simple_request(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut sp = from;
    while b.get(sp).is_some_and(u8::is_ascii_uppercase) {
        sp += 1;
    }
    if sp == from || b.get(sp) != Some(&b' ') {
        return None;
    }
    let end = find2(b, sp + 1, b' ', b'"')?;
    (b.get(end..end + 10)? == b" HTTP/1.1\"").then_some((sp, end))
}

/// Index of the quote that closes a field starting at `from`, skipping `\"`.
/// `memchr`, not an eight-bytes-a-time scan: most fields left for this are user agents,
/// some ninety bytes long, where the vector search pays (measured: 110
/// instructions a field, against 170 eight bytes at a time).
#[inline]
fn closing_quote(quote: &ByteSearch, b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let q = i + quote.find(b.get(i..)?)?;
        // an odd number of backslashes before the quote escapes it
        let mut bs = 0;
        while q > from + bs && b[q - 1 - bs] == b'\\' {
            bs += 1;
        }
        if bs % 2 == 0 {
            return Some(q);
        }
        i = q + 1;
    }
}

/// Leading decimal digits (at most 19), with how many bytes they took.
/// Not inlined: inside the line scanner, short of registers, the sum lived
/// on the stack (a load and a store per digit).
#[inline(never)]
fn number(b: &[u8]) -> Option<(u64, usize)> {
    let mut n = 0u64;
    let mut i = 0;
    while i < b.len() && i < 19 {
        let d = b[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n * 10 + d as u64;
        i += 1;
    }
    (i > 0).then_some((n, i))
}

#[inline]
fn dash_none<'a>(s: &'a str) -> Option<Cow<'a, str>> {
    if s.is_empty() || s == "-" {
        None
    } else {
        Some(Cow::Borrowed(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: &str) -> Event<'_> {
        match ClfParser::new().parse(line) {
            Parsed::Event(e) => e,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn combined_line_fields() {
        let e = event(
            r#"216.146.78.6 - cust1 [10/Mar/2026:00:00:03 +0200] "GET /api/customers/42?x=1 HTTP/1.1" 200 48213 "https://portal.example.com/" "PortalApp/5.12.0 (iOS 17.4; iPhone15,2)""#,
        );
        assert_eq!(e.ip, Some("216.146.78.6".parse().unwrap()));
        assert_eq!(e.user.as_deref(), Some("cust1"));
        assert_eq!(e.time.to_string(), "2026-03-10T00:00:03+02:00");
        assert_eq!(e.action.as_deref(), Some("GET"));
        assert_eq!(e.resource.as_deref(), Some("/api/customers/42?x=1"));
        assert_eq!(e.status, Some(200));
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.bytes_out, Some(48213));
        assert_eq!(e.referer.as_deref(), Some("https://portal.example.com/"));
        assert_eq!(
            e.user_agent.as_deref(),
            Some("PortalApp/5.12.0 (iOS 17.4; iPhone15,2)")
        );
    }

    #[test]
    fn table_of_shapes() {
        // (line, ip, user, action, resource, status, bytes, agent)
        type Row = (
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            u16,
            Option<u64>,
            Option<&'static str>,
        );
        let rows: &[Row] = &[
            (
                r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
                Some("127.0.0.1"),
                Some("frank"),
                Some("GET"),
                Some("/apache_pb.gif"),
                200,
                Some(2326),
                None,
            ),
            (
                r#"::1 - - [10/Oct/2000:13:55:36 +0000] "POST /login HTTP/2.0" 401 - "-" "curl/8.0""#,
                Some("::1"),
                None,
                Some("POST"),
                Some("/login"),
                401,
                None,
                Some("curl/8.0"),
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "\x16\x03\x01\x00\xA5\x01" 400 157 "-" "-""#,
                Some("1.2.3.4"),
                None,
                None,
                Some(r"\x16\x03\x01\x00\xA5\x01"),
                400,
                Some(157),
                None,
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "-" 408 0 "-" "-""#,
                Some("1.2.3.4"),
                None,
                None,
                None,
                408,
                Some(0),
                None,
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /a\"b HTTP/1.1" 404 10 "-" "say \"hi\"" 0.004 "10.0.0.1:80""#,
                Some("1.2.3.4"),
                None,
                Some("GET"),
                Some(r#"/a\"b"#),
                404,
                Some(10),
                Some(r#"say \"hi\""#),
            ),
            (
                r#"crawl-66-249-66-1.googlebot.com - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1"#,
                None,
                None,
                Some("GET"),
                Some("/"),
                200,
                Some(1),
                None,
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://w"#,
                Some("1.2.3.4"),
                None,
                Some("GET"),
                Some("/"),
                200,
                Some(1),
                Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://w"),
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /with space HTTP/1.1" 500 1"#,
                Some("1.2.3.4"),
                None,
                Some("GET"),
                Some("/with space"),
                500,
                Some(1),
                None,
            ),
        ];
        for &(line, ip, user, action, resource, status, bytes, agent) in rows {
            let e = event(line);
            assert_eq!(e.ip, ip.map(|s| s.parse().unwrap()), "{line}");
            assert_eq!(e.user.as_deref(), user, "{line}");
            assert_eq!(e.action.as_deref(), action, "{line}");
            assert_eq!(e.resource.as_deref(), resource, "{line}");
            assert_eq!(e.status, Some(status), "{line}");
            assert_eq!(e.bytes_out, bytes, "{line}");
            assert_eq!(e.user_agent.as_deref(), agent, "{line}");
        }
    }

    #[test]
    fn malformed_lines_say_why() {
        let rows = [
            ("garbage", Malformed::Syntax),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200"#,
                Malformed::Syntax,
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1"#,
                Malformed::Syntax,
            ),
            (
                r#"1.2.3.4 - - [99/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1"#,
                Malformed::BadTimestamp,
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 2000 1"#,
                Malformed::BadField,
            ),
            (
                "Jun 21 16:47:48 host sshd[1]: Failed password for root from 1.2.3.4",
                Malformed::Syntax,
            ),
            (
                r#"999.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1"#,
                Malformed::Syntax,
            ),
        ];
        for (line, why) in rows {
            assert_eq!(
                ClfParser::new().parse(line),
                Parsed::Malformed(why),
                "{line}"
            );
        }
    }

    proptest::proptest! {
        /// The one-pass address at the start of a line is the address the
        /// search for the first space and `parse_ip` find.
        #[test]
        fn leading_ipv4_agrees_with_the_general_path(s in "[0-9.]{0,18} ?[0-9a-f:. ]{0,4}") {
            if let Some((ip, sp)) = leading_ipv4(s.as_bytes()) {
                proptest::prop_assert_eq!(s.find(' '), Some(sp));
                proptest::prop_assert_eq!(parse_ip(&s[..sp]), Some(ip));
            }
        }
    }

    proptest::proptest! {
        /// The one-scan split of a request finds the closing quote, method
        /// and target that `closing_quote` and `split_request` find.
        #[test]
        fn simple_request_agrees_with_the_general_path(
            r in "[A-Z]{0,3}[ a-z/\"\\\\]{0,12}( HTTP/1\\.[01]\"?)?[ \"a-z]{0,12}",
        ) {
            let b = r.as_bytes();
            if let Some((sp, end)) = simple_request(b, 0) {
                let quote = ByteSearch::new(b'"');
                proptest::prop_assert_eq!(closing_quote(&quote, b, 0), Some(end + 9));
                proptest::prop_assert_eq!(
                    split_request(&r[..end + 9]),
                    (Some(&r[..sp]), Some(&r[sp + 1..end]))
                );
            }
        }
    }

    #[test]
    fn simple_request_takes_common_requests_only() {
        let rows: &[(&str, Option<(&str, &str)>)] = &[
            (
                r#"GET /static/app.js HTTP/1.1" 200"#,
                Some(("GET", "/static/app.js")),
            ),
            (r#"POST /login HTTP/1.1" 302"#, Some(("POST", "/login"))),
            (r#"GET  HTTP/1.1" 200"#, Some(("GET", ""))),
            (r#"GET /a?b=c%20d HTTP/1.1""#, Some(("GET", "/a?b=c%20d"))),
            (r#"GET /with space HTTP/1.1" 200"#, None),
            (r#"GET /a"b HTTP/1.1" 200"#, None),
            (r#"GET / HTTP/1.0" 200"#, None),
            (r#"GET / HTTP/2.0" 200"#, None),
            (r#"GET / HTTP/1.1"#, None),
            (r#" GET / HTTP/1.1" 200"#, None),
            (r#"get / HTTP/1.1" 200"#, None),
            (r#"-" 400"#, None),
        ];
        for &(r, want) in rows {
            let got = simple_request(r.as_bytes(), 0).map(|(sp, end)| (&r[..sp], &r[sp + 1..end]));
            assert_eq!(got, want, "{r}");
        }
    }

    #[test]
    fn leading_ipv4_table() {
        let rows: &[(&str, Option<&str>)] = &[
            ("1.2.3.4 -", Some("1.2.3.4")),
            ("255.255.255.255 x", Some("255.255.255.255")),
            ("010.0.0.1 x", Some("10.0.0.1")),
            ("1.2.3.4", None),
            ("1.2.3.4x ", None),
            ("256.1.1.1 ", None),
            ("1.2.3.4.5 ", None),
            ("1.2.3 ", None),
            ("1..3.4 ", None),
            ("1234.1.1.1 ", None),
            ("::1 ", None),
        ];
        for &(line, want) in rows {
            assert_eq!(
                leading_ipv4(line.as_bytes()).map(|(ip, _)| ip),
                want.map(|w| w.parse().unwrap()),
                "{line}"
            );
        }
    }

    proptest::proptest! {
        /// Stamps read with the parser's day cache, one after another, read
        /// as `parse_clf` reads each alone: a new second, day, month, year
        /// or offset is never taken from the line before.
        #[test]
        fn timestamp_cache_agrees_with_parse_clf(
            stamps in proptest::collection::vec(
                ("(0[19]|1[0-2]|29|3[01])/(Jan|Feb|Oct)/(2000|2001):([01][0-9]|2[3-5]):[0-6][0-9]:[0-6][0-9] [+-](0[0-2]|24)[03]0", 0..3),
                1..20,
            ),
        ) {
            let mut p = ClfParser::new();
            let mut last: Option<String> = None;
            for (stamp, again) in stamps {
                // a third each: the stamp before, its day and offset, or new
                let stamp = match (&last, again) {
                    (Some(l), 0) => l.clone(),
                    (Some(l), 1) => format!("{}{}{}", &l[..12], &stamp[12..20], &l[20..]),
                    _ => stamp,
                };
                let want = parse_clf(stamp.as_bytes()).ok_or(Malformed::BadTimestamp);
                proptest::prop_assert_eq!(p.time(stamp.as_bytes()), want, "{}", stamp);
                last = Some(stamp);
            }
        }
    }

    #[test]
    fn timestamp_cache_takes_nothing_from_another_day_or_offset() {
        let mut p = ClfParser::new();
        let rows: &[&[u8]] = &[
            b"10/Oct/2000:13:55:36 +0000",
            b"10/Oct/2000:13:55:37 +0000",
            b"11/Oct/2000:13:55:37 +0000",
            b"11/Oct/2000:13:55:37 +0200",
            b"11/Nov/2000:13:55:37 +0200",
            b"11/Nov/2001:13:55:37 +0200",
            b"11/Nov/2001:24:55:37 +0200",
            b"11/Nov/2001:23:60:37 +0200",
            b"11/Nov/2001:23:59:61 +0200",
            b"11/Nov/2001:23:59:60 +0200",
            b"11/Nov/2001:23:59-60 +0200",
            b"11/Nov/2001:23:59:6x +0200",
            b"11/Nov/2001:13:55:37 +0200x",
            b"31/Feb/2001:13:55:37 +0200",
            b"31/Feb/2001:13:55:38 +0200",
            b"01/Jan/1970:00:00:00 +0000",
            b"01/Jan/1970:00:00:00 +9900",
        ];
        for stamp in rows {
            assert_eq!(
                p.time(stamp),
                parse_clf(stamp).ok_or(Malformed::BadTimestamp),
                "{}",
                String::from_utf8_lossy(stamp)
            );
        }
    }

    #[test]
    fn timestamp_cache_does_not_leak_between_lines() {
        let mut p = ClfParser::new();
        let a = r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1"#;
        let b = r#"1.2.3.4 - - [10/Oct/2000:13:55:37 +0000] "GET / HTTP/1.1" 200 1"#;
        let ta = match p.parse(a) {
            Parsed::Event(e) => e.time,
            _ => unreachable!(),
        };
        let tb = match p.parse(b) {
            Parsed::Event(e) => e.time,
            _ => unreachable!(),
        };
        assert_eq!(tb.unix_micros - ta.unix_micros, 1_000_000);
    }
}
