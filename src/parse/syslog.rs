//! The syslog header: when, which host, which program and process, and the
//! message, borrowed from the line.
//!
//! Reads the three shapes that reach `auth.log`-style files:
//! - RFC 3164, `Mmm dd hh:mm:ss host prog[pid]: msg`, with the day space-padded
//!   or not, no year (inferred) and no zone (resolved in the configured zone);
//! - the high-precision form rsyslog and journald write,
//!   `2024-03-10T11:43:00.123456+02:00 host prog[pid]: msg`;
//! - RFC 5424, `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] msg`.
//!
//! An optional `<PRI>` may lead any of them. The host may be missing and the
//! tag may be `prog:`, `prog[pid]:`, `[prog]:` or `[prog]` (seen in the wild).
//! It does not interpret the message: that is the program parser's job.

use super::time::{digits, month_from_abbr, parse_iso, Civil, ZoneCache};
use super::{EventTime, Malformed};

/// A syslog line split into its header fields and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Header<'a> {
    pub time: EventTime,
    /// The host that wrote the line; `None` when the line names none.
    pub host: Option<&'a str>,
    /// The program (`sshd`, `sshd-session`, `CRON`...).
    pub program: &'a str,
    pub pid: Option<u32>,
    /// The message after the tag, without the separating `": "`.
    pub message: &'a str,
}

/// Splits a syslog line into its header and message.
///
/// Errors: `BadTimestamp` when the line starts like a syslog timestamp that
/// does not hold (a 30 February, an hour 25), `Syntax` for anything else that
/// is not a syslog line.
pub fn parse_header<'a>(line: &'a str, clock: &mut ZoneCache) -> Result<Header<'a>, Malformed> {
    let mut rest = line;
    if rest.as_bytes().first() == Some(&b'<') {
        let close = rest
            .as_bytes()
            .iter()
            .take(5)
            .position(|&b| b == b'>')
            .ok_or(Malformed::Syntax)?;
        let pri = &rest[1..close];
        if pri.is_empty() || !pri.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Malformed::Syntax);
        }
        rest = &rest[close + 1..];
        if let Some(r5424) = rest.strip_prefix("1 ") {
            return parse_5424(r5424, clock);
        }
    }
    let b = rest.as_bytes();
    let (time, used) = if b.first().is_some_and(u8::is_ascii_digit) {
        iso_stamp(b, clock)?
    } else {
        bsd_stamp(b, clock)?
    };
    let rest = rest.get(used..).ok_or(Malformed::Syntax)?;
    let rest = rest.strip_prefix(' ').ok_or(Malformed::Syntax)?;
    let rest = rest.trim_start_matches(' ');
    let (first, after) = split_word(rest);
    if let Some((program, pid, message)) = tag(first, after) {
        return Ok(Header {
            time,
            host: None,
            program,
            pid,
            message,
        });
    }
    let (second, after) = split_word(after);
    let (program, pid, message) = tag(second, after).ok_or(Malformed::Syntax)?;
    Ok(Header {
        time,
        host: Some(first),
        program,
        pid,
        message,
    })
}

/// `Mmm dd hh:mm:ss[.frac]` (day padded with a space or a zero, or one digit).
fn bsd_stamp(b: &[u8], clock: &mut ZoneCache) -> Result<(EventTime, usize), Malformed> {
    let month = b
        .get(..3)
        .and_then(month_from_abbr)
        .ok_or(Malformed::Syntax)?;
    if b.get(3) != Some(&b' ') {
        return Err(Malformed::Syntax);
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let day_len = if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        2
    } else {
        1
    };
    let day = digits(b.get(i..).unwrap_or_default(), day_len).ok_or(Malformed::BadTimestamp)? as u8;
    i += day_len;
    let t = b.get(i..i + 9).ok_or(Malformed::BadTimestamp)?;
    if t[0] != b' ' || t[3] != b':' || t[6] != b':' {
        return Err(Malformed::BadTimestamp);
    }
    let hour = digits(&t[1..], 2).ok_or(Malformed::BadTimestamp)? as u8;
    let minute = digits(&t[4..], 2).ok_or(Malformed::BadTimestamp)? as u8;
    let second = digits(&t[7..], 2).ok_or(Malformed::BadTimestamp)? as u8;
    i += 9;
    let (micros, used) = fraction(b.get(i..).unwrap_or_default());
    i += used;
    if !(1..=31).contains(&day) {
        return Err(Malformed::BadTimestamp);
    }
    let c = Civil {
        year: clock.infer_year(month, day),
        month,
        day,
        hour,
        minute,
        second,
        micros,
    };
    let time = clock.resolve(&c).ok_or(Malformed::BadTimestamp)?;
    Ok((time, i))
}

/// `.123456` after the seconds: microseconds and bytes used (0 when absent).
fn fraction(b: &[u8]) -> (u32, usize) {
    if b.first() != Some(&b'.') {
        return (0, 0);
    }
    let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return (0, 0);
    }
    let mut micros = 0u32;
    for k in 0..6 {
        let d = if k < n { (b[1 + k] - b'0') as u32 } else { 0 };
        micros = micros * 10 + d;
    }
    (micros, 1 + n)
}

/// ISO 8601 with or without offset; a zoneless one is read in the local zone.
fn iso_stamp(b: &[u8], clock: &mut ZoneCache) -> Result<(EventTime, usize), Malformed> {
    let looks_like = b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-';
    let (c, off, used) = match parse_iso(b) {
        Some(v) => v,
        None if looks_like => return Err(Malformed::BadTimestamp),
        None => return Err(Malformed::Syntax),
    };
    let time = match off {
        Some(off) => EventTime::from_civil(&c, off),
        None => clock.resolve(&c).ok_or(Malformed::BadTimestamp)?,
    };
    Ok((time, used))
}

/// The word up to the next space, and what follows that space.
fn split_word(s: &str) -> (&str, &str) {
    match memchr::memchr(b' ', s.as_bytes()) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// Reads a tag word (`prog[pid]:`, `prog:`, `[prog]:`, `[prog]`) and returns
/// program, pid and the message that follows it.
fn tag<'a>(word: &'a str, after: &'a str) -> Option<(&'a str, Option<u32>, &'a str)> {
    let (body, colon) = match word.strip_suffix(':') {
        Some(b) => (b, true),
        None => (word, false),
    };
    if let Some(inner) = body.strip_prefix('[') {
        // `[sshd]` or `[sshd]:`: a program in brackets, no pid.
        let program = inner.strip_suffix(']')?;
        if program.is_empty() || program.contains(['[', ']']) {
            return None;
        }
        return Some((program, None, after));
    }
    if !colon {
        return None;
    }
    let (program, pid) = match body.find('[') {
        Some(open) => {
            let pid = body[open + 1..].strip_suffix(']')?;
            (&body[..open], Some(parse_pid(pid)?))
        }
        None => (body, None),
    };
    if program.is_empty() || program.contains(']') {
        return None;
    }
    Some((program, pid, after))
}

fn parse_pid(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// RFC 5424 after `<PRI>1 `: `TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
fn parse_5424<'a>(s: &'a str, clock: &mut ZoneCache) -> Result<Header<'a>, Malformed> {
    let (stamp, rest) = split_word(s);
    if stamp == "-" {
        // A nil timestamp: the line carries no time we could place.
        return Err(Malformed::BadTimestamp);
    }
    let (time, used) = iso_stamp(stamp.as_bytes(), clock)?;
    if used != stamp.len() {
        return Err(Malformed::BadTimestamp);
    }
    let (host, rest) = split_word(rest);
    let (app, rest) = split_word(rest);
    let (procid, rest) = split_word(rest);
    let (msgid, rest) = split_word(rest);
    if host.is_empty() || app.is_empty() || procid.is_empty() || msgid.is_empty() {
        return Err(Malformed::Syntax);
    }
    let message = skip_structured_data(rest).ok_or(Malformed::Syntax)?;
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    Ok(Header {
        time,
        host: (host != "-").then_some(host),
        program: if app == "-" { "" } else { app },
        pid: parse_pid(procid),
        message,
    })
}

/// Skips `-` or `[id k="v"...]...` (values may hold `\]`, `\"` and `]`
/// inside quotes) and returns the message after it.
fn skip_structured_data(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if b.first() == Some(&b'-') {
        return Some(s.get(1..)?.strip_prefix(' ').unwrap_or(&s[1..]));
    }
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match *b.get(i)? {
                b'\\' if quoted => i += 2,
                b'"' => {
                    quoted = !quoted;
                    i += 1;
                }
                b']' if !quoted => {
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
    }
    if i == 0 {
        return None;
    }
    let rest = s.get(i..)?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::LocalTime;

    fn clock() -> ZoneCache {
        ZoneCache::new(LocalTime::new(
            jiff::tz::TimeZone::UTC,
            "2024-12-31T00:00:00Z".parse().unwrap(),
        ))
    }

    /// (line, time, host, program, pid, message)
    type HeaderCase = (
        &'static str,
        &'static str,
        Option<&'static str>,
        &'static str,
        Option<u32>,
        &'static str,
    );

    #[test]
    fn header_shapes() {
        let cases: &[HeaderCase] = &[
            (
                "Mar 10 11:43:00 app-2 sshd[21001]: Accepted publickey for deploy",
                "2024-03-10T11:43:00+00:00",
                Some("app-2"),
                "sshd",
                Some(21001),
                "Accepted publickey for deploy",
            ),
            (
                "Jul  3 14:59:17 host sshd-session[1571]: Failed password",
                "2024-07-03T14:59:17+00:00",
                Some("host"),
                "sshd-session",
                Some(1571),
                "Failed password",
            ),
            (
                "Feb 7 16:01:07 linux-m899 sshd[5106]: User root",
                "2024-02-07T16:01:07+00:00",
                Some("linux-m899"),
                "sshd",
                Some(5106),
                "User root",
            ),
            (
                "Jul 05 18:22:44 mercury sshd[4669]: x",
                "2024-07-05T18:22:44+00:00",
                Some("mercury"),
                "sshd",
                Some(4669),
                "x",
            ),
            (
                "Mar  3 00:17:22 [sshd]: User root from 1.2.3.4",
                "2024-03-03T00:17:22+00:00",
                None,
                "sshd",
                None,
                "User root from 1.2.3.4",
            ),
            (
                "Jun 25 23:53:34 [sshd] User root",
                "2024-06-25T23:53:34+00:00",
                None,
                "sshd",
                None,
                "User root",
            ),
            (
                "Nov 23 21:50:19 sshd[8148]: Disconnecting",
                "2024-11-23T21:50:19+00:00",
                None,
                "sshd",
                Some(8148),
                "Disconnecting",
            ),
            (
                "<38>Mar 10 11:43:00 h CRON[5]: (root) CMD",
                "2024-03-10T11:43:00+00:00",
                Some("h"),
                "CRON",
                Some(5),
                "(root) CMD",
            ),
            (
                "2024-03-10T11:43:00.123456+02:00 db-1 sshd[7]: msg: with colon",
                "2024-03-10T11:43:00.123456+02:00",
                Some("db-1"),
                "sshd",
                Some(7),
                "msg: with colon",
            ),
            (
                "2024-03-10T11:43:00 db-1 kernel: zoneless",
                "2024-03-10T11:43:00+00:00",
                Some("db-1"),
                "kernel",
                None,
                "zoneless",
            ),
            (
                "<38>1 2019-07-08T17:40:16.954167-04:00 hostname.example.com sshd 57915 - - Failed unknown",
                "2019-07-08T17:40:16.954167-04:00",
                Some("hostname.example.com"),
                "sshd",
                Some(57915),
                "Failed unknown",
            ),
            (
                "<38>1 2019-07-08T17:40:17Z h sshd 55 - [tq a=\"1\"][x@1 t=\"[b\\]\"] Failed x",
                "2019-07-08T17:40:17+00:00",
                Some("h"),
                "sshd",
                Some(55),
                "Failed x",
            ),
            (
                "Mar 10 11:43:00 h sshd[1]:",
                "2024-03-10T11:43:00+00:00",
                Some("h"),
                "sshd",
                Some(1),
                "",
            ),
        ];
        for &(line, time, host, program, pid, message) in cases {
            let h = parse_header(line, &mut clock()).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(h.time.to_string(), time, "{line}");
            assert_eq!(h.host, host, "{line}");
            assert_eq!(h.program, program, "{line}");
            assert_eq!(h.pid, pid, "{line}");
            assert_eq!(h.message, message, "{line}");
        }
    }

    #[test]
    fn year_is_inferred_from_the_reference() {
        let mut c = ZoneCache::new(LocalTime::new(
            jiff::tz::TimeZone::UTC,
            "2026-01-02T00:00:00Z".parse().unwrap(),
        ));
        let h = parse_header("Dec 31 23:59:59 h p: m", &mut c).unwrap();
        assert_eq!(h.time.to_string(), "2025-12-31T23:59:59+00:00");
    }

    #[test]
    fn broken_headers_say_why() {
        let cases = [
            ("", Malformed::Syntax),
            ("hello world", Malformed::Syntax),
            ("Mar 10 11:43:00", Malformed::Syntax),
            ("Mar 10 11:43:00 host", Malformed::Syntax),
            ("Mar 10 11:43:00 host no-tag message", Malformed::Syntax),
            ("Mar 10 11:43:00 host sshd[abc]: m", Malformed::Syntax),
            ("Mar 32 11:43:00 host sshd[1]: m", Malformed::BadTimestamp),
            ("Feb 30 11:43:00 host sshd[1]: m", Malformed::BadTimestamp),
            ("Mar 10 25:43:00 host sshd[1]: m", Malformed::BadTimestamp),
            ("Mar 10 11-43-00 host sshd[1]: m", Malformed::BadTimestamp),
            ("Mar 1", Malformed::BadTimestamp),
            (
                "2024-13-10T11:43:00Z host sshd[1]: m",
                Malformed::BadTimestamp,
            ),
            ("<999999>Mar 10 11:43:00 h p: m", Malformed::Syntax),
            ("<x>Mar 10 11:43:00 h p: m", Malformed::Syntax),
            ("<38>1 - h sshd 1 - - m", Malformed::BadTimestamp),
            (
                "<38>1 2019-07-08T17:40:16Z h sshd 1 - [unterminated m",
                Malformed::Syntax,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse_header(line, &mut clock()), Err(want), "{line:?}");
        }
    }
}
