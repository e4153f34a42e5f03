//! sshd in syslog format (`auth.log`, `secure`, journald's short-iso export).
//!
//! Turns each login attempt sshd reports into an [`Event`] with `action =
//! "login"`, `resource = "ssh"`, the client address, the user, an outcome and
//! a `detail` saying why (`bad_password`, `invalid_user`, `max_auth_tries`...).
//! Lines of other programs, and sshd lines that are no attempt (sessions,
//! normal disconnects, key exchange chatter), are `Ignored`.
//!
//! sshd logs one connection over several lines under one pid, and some lines
//! name no address (`Disconnecting: Too many authentication failures`). The
//! parser keeps a small fixed table of recent connections — the address each
//! pid last showed, and a failure seen before its address — so those lines get
//! the address of their connection. The table never grows and never
//! allocates; a connection that falls out of it just loses that help.
//!
//! Not for: the address of a client sshd logged by host name (with
//! `UseDNS yes`): `Event` has no field for a remote host name, so `ip` stays
//! empty.

use std::borrow::Cow;
use std::net::IpAddr;

use super::syslog::parse_header;
use super::time::ZoneCache;
use super::{Event, IgnoreReason, LocalTime, Outcome, Parsed};

/// How many recent connections the parser remembers (per parser, so per input).
const CONNECTIONS: usize = 64;

/// Parses sshd lines from a syslog-format file.
#[derive(Debug)]
pub struct SshdParser {
    clock: ZoneCache,
    conns: Connections,
}

impl SshdParser {
    pub fn new(local: LocalTime) -> SshdParser {
        SshdParser {
            clock: ZoneCache::new(local),
            conns: Connections::default(),
        }
    }

    /// Parses one line (without its terminator).
    pub fn parse<'a>(&mut self, line: &'a str) -> Parsed<'a> {
        if line.trim().is_empty() {
            return Parsed::Ignored(IgnoreReason::Blank);
        }
        let h = match parse_header(line, &mut self.clock) {
            Ok(h) => h,
            Err(m) => return Parsed::Malformed(m),
        };
        if !is_sshd(h.program) {
            return Parsed::Ignored(IgnoreReason::NotAccessEvent);
        }
        let key = h.pid.map(|pid| conn_key(h.host.unwrap_or(""), pid));
        let event = |a: Attempt<'a>| Event {
            time: h.time,
            ip: a.ip,
            user: a.user.map(Cow::Borrowed),
            action: Some(Cow::Borrowed("login")),
            resource: Some(Cow::Borrowed("ssh")),
            outcome: a.outcome,
            detail: Some(a.detail),
            host: h.host.map(Cow::Borrowed),
            ..Event::default()
        };
        match classify(h.message) {
            Message::Attempt(mut a) => {
                if let Some(key) = key {
                    match a.ip {
                        Some(ip) => self.conns.remember(key, ip),
                        None => a.ip = self.conns.ip(key),
                    }
                    if a.ip.is_none() && !a.named {
                        // Nothing to attribute it to yet: wait for the line
                        // that names the address (`Connection closed by ...`).
                        self.conns.defer(key, a.outcome, a.detail);
                        return Parsed::Ignored(IgnoreReason::NotAccessEvent);
                    }
                    if let Some((outcome, detail)) = self.conns.take_deferred(key) {
                        a.outcome = outcome;
                        a.detail = detail;
                    }
                }
                Parsed::Event(event(a))
            }
            Message::Connection(ip) => {
                if let Some(key) = key {
                    self.conns.remember(key, ip);
                }
                Parsed::Ignored(IgnoreReason::NotAccessEvent)
            }
            Message::Closed(ip) => {
                let Some(key) = key else {
                    return Parsed::Ignored(IgnoreReason::NotAccessEvent);
                };
                let deferred = self.conns.take_deferred(key);
                self.conns.forget(key);
                match (deferred, ip) {
                    (Some((outcome, detail)), Some(ip)) => Parsed::Event(event(Attempt {
                        outcome,
                        detail,
                        user: None,
                        ip: Some(ip),
                        named: true,
                    })),
                    _ => Parsed::Ignored(IgnoreReason::NotAccessEvent),
                }
            }
            Message::Other => Parsed::Ignored(IgnoreReason::NotAccessEvent),
        }
    }
}

fn is_sshd(program: &str) -> bool {
    program == "sshd" || program.starts_with("sshd-")
}

/// What one sshd message says.
#[derive(Debug, PartialEq)]
enum Message<'a> {
    /// A login attempt or a refused connection.
    Attempt(Attempt<'a>),
    /// A connection opened from this address (no attempt yet).
    Connection(IpAddr),
    /// A connection ended normally (after login, or without a failure).
    Closed(Option<IpAddr>),
    Other,
}

#[derive(Debug, PartialEq)]
struct Attempt<'a> {
    outcome: Outcome,
    detail: &'static str,
    user: Option<&'a str>,
    ip: Option<IpAddr>,
    /// The line names the client somehow (address, host name or user).
    named: bool,
}

fn failure<'a>(detail: &'static str, user: Option<&'a str>, addr: Option<&'a str>) -> Message<'a> {
    attempt(Outcome::Failure, detail, user, addr)
}

fn attempt<'a>(
    outcome: Outcome,
    detail: &'static str,
    user: Option<&'a str>,
    addr: Option<&'a str>,
) -> Message<'a> {
    // An empty name (`Invalid user  from`) names nobody.
    let user = user.filter(|u| !u.is_empty());
    Message::Attempt(Attempt {
        outcome,
        detail,
        user,
        ip: addr.and_then(parse_ip),
        named: user.is_some() || addr.is_some_and(|a| !a.is_empty()),
    })
}

/// Reads a client address as sshd prints it; IPv4-mapped IPv6 becomes IPv4.
/// A host name (sshd with `UseDNS`, PAM's rhost) is no address: `None`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// Interprets an sshd message (the text after `sshd[pid]: `).
fn classify(msg: &str) -> Message<'_> {
    let mut m = msg.trim_end();
    // rsyslog's duplicate suppression: `message repeated 2 times: [ Failed ...]`.
    if let Some(r) = m.strip_prefix("message repeated ") {
        if let Some((_, inner)) = r.split_once(" times: [") {
            m = inner.strip_suffix(']').unwrap_or(inner).trim();
        }
    }
    // Solaris: `[ID 800047 auth.info] Failed ...`.
    if m.starts_with("[ID ") {
        if let Some((_, r)) = m.split_once("] ") {
            m = r;
        }
    }
    let m = m
        .strip_prefix("error: ")
        .or_else(|| m.strip_prefix("fatal: "))
        .unwrap_or(m);
    let (m, preauth) = match m.strip_suffix("[preauth]") {
        Some(r) => (r.trim_end(), true),
        None => (m, false),
    };

    if let Some(r) = m.strip_prefix("Failed ") {
        let Some((method, r)) = r.split_once(" for ") else {
            return Message::Other;
        };
        let Some((user, invalid, addr)) = user_from(r) else {
            return Message::Other;
        };
        let solaris_unknown = user == "<invalid username>";
        let detail = if invalid || solaris_unknown {
            "invalid_user"
        } else {
            match method_name(method) {
                "password" => "bad_password",
                "publickey" => "bad_publickey",
                "keyboard_interactive" => "bad_keyboard_interactive",
                "hostbased" => "bad_hostbased",
                _ => "auth_failed",
            }
        };
        let user = (!solaris_unknown).then_some(user);
        return failure(detail, user, Some(addr));
    }
    if let Some(r) = m.strip_prefix("Accepted ") {
        let Some((method, r)) = r.split_once(" for ") else {
            return Message::Other;
        };
        return match user_from(r) {
            Some((user, _, addr)) => attempt(
                Outcome::Success,
                method_name(method),
                Some(user),
                Some(addr),
            ),
            None => Message::Other,
        };
    }
    if let Some(r) = m
        .strip_prefix("Invalid user ")
        .or_else(|| m.strip_prefix("Illegal user "))
    {
        return match user_from(r) {
            Some((user, _, addr)) => failure("invalid_user", Some(user), Some(addr)),
            None => failure("invalid_user", Some(r), None),
        };
    }
    if let Some(r) = m.strip_prefix("PAM: ") {
        return pam_message(r);
    }
    if m.starts_with("pam_") {
        if m.contains("(sshd:auth): authentication failure;") {
            return pam_kv(m);
        }
        return Message::Other;
    }
    if let Some(r) = m.strip_prefix("PAM ") {
        // `PAM 2 more authentication failures; logname= ... rhost=...`
        if r.contains(" more authentication failure") {
            return pam_kv(r);
        }
        return Message::Other;
    }
    if let Some(r) = m.strip_prefix("maximum authentication attempts exceeded for ") {
        return match user_from(r) {
            Some((user, _, addr)) => failure("max_auth_tries", Some(user), Some(addr)),
            None => Message::Other,
        };
    }
    if let Some(r) = m.strip_prefix("Disconnecting: Too many authentication failures") {
        let user = r
            .strip_prefix(" for ")
            .map(|u| u.strip_prefix("invalid user ").unwrap_or(u));
        return failure("max_auth_tries", user, None);
    }
    if let Some(r) = m.strip_prefix("Disconnecting ") {
        // `Disconnecting invalid user X 1.2.3.4 port 5: reason` (also `authenticating user`).
        let (invalid, r) = match r.strip_prefix("invalid user ") {
            Some(r) => (true, r),
            None => match r.strip_prefix("authenticating user ") {
                Some(r) => (false, r),
                None => return Message::Other,
            },
        };
        let Some((user, addr, reason)) = user_addr_port(r) else {
            return Message::Other;
        };
        let detail = if reason.contains("Too many authentication failures") {
            "max_auth_tries"
        } else if invalid {
            "invalid_user"
        } else {
            "preauth_disconnect"
        };
        return failure(detail, Some(user), Some(addr));
    }
    if let Some(r) = m.strip_prefix("Did not receive identification string from ") {
        return failure("no_identification", None, Some(first_word(r)));
    }
    if let Some(r) = m.strip_prefix("Bad protocol version identification ") {
        // The client's string is quoted and may hold ` from `: take the last.
        return match r.rsplit_once(" from ") {
            Some((_, addr)) => failure("bad_protocol", None, Some(first_word(addr))),
            None => Message::Other,
        };
    }
    for prefix in [
        "Connection closed by ",
        "Connection reset by ",
        "Disconnected from ",
    ] {
        if let Some(r) = m.strip_prefix(prefix) {
            return closed(r, preauth);
        }
    }
    if let Some(r) = m.strip_prefix("Received disconnect from ") {
        let addr = first_word(r).trim_end_matches(':');
        let (_, reason) = r.split_once(": ").unwrap_or(("", r));
        let auth_fail =
            reason.contains("Auth fail") || reason.contains("authentication methods available");
        if preauth || auth_fail {
            return failure("preauth_disconnect", None, Some(addr));
        }
        return Message::Closed(parse_ip(addr));
    }
    if let Some(r) = m.strip_prefix("User ") {
        // `User root from 1.2.3.4 not allowed because listed in DenyUsers`.
        let Some((who, _)) = r.split_once(" not allowed because ") else {
            return Message::Other;
        };
        return match who.rsplit_once(" from ") {
            Some((user, addr)) => attempt(Outcome::Denied, "not_allowed", Some(user), Some(addr)),
            None => attempt(Outcome::Denied, "not_allowed", Some(who), None),
        };
    }
    if let Some(r) = m.strip_prefix("ROOT LOGIN REFUSED FROM ") {
        return attempt(
            Outcome::Denied,
            "root_refused",
            Some("root"),
            Some(first_word(r)),
        );
    }
    if let Some(r) = m.strip_prefix("refused connect from ") {
        // tcp wrappers: `refused connect from name@host (1.2.3.4)`.
        let addr = r
            .rsplit_once('(')
            .and_then(|(_, a)| a.strip_suffix(')'))
            .unwrap_or_else(|| first_word(r));
        return attempt(Outcome::Denied, "tcp_wrappers", None, Some(addr));
    }
    if let Some(r) = m.strip_prefix("Timeout before authentication for ") {
        let r = r.strip_prefix("connection from ").unwrap_or(r);
        return failure("auth_timeout", None, Some(first_word(r)));
    }
    if let Some(r) = m.strip_prefix("Unable to negotiate with ") {
        return failure("kex_failure", None, Some(first_word(r)));
    }
    if m.starts_with("Unable to negotiate a key exchange method") || m.starts_with("no matching ") {
        return failure("kex_failure", None, None);
    }
    for prefix in [
        "banner exchange: Connection from ",
        "ssh_dispatch_run_fatal: Connection from ",
    ] {
        if let Some(r) = m.strip_prefix(prefix) {
            return failure("bad_protocol", None, Some(first_word(r)));
        }
    }
    if m.starts_with("kex_exchange_identification: ") {
        return failure("bad_protocol", None, None);
    }
    if preauth && (m.starts_with("Read from socket failed") || m.starts_with("Write failed")) {
        return failure("preauth_disconnect", None, None);
    }
    if let Some(r) = m.strip_prefix("Connection from ") {
        return match parse_ip(first_word(r)) {
            Some(ip) => Message::Connection(ip),
            None => Message::Other,
        };
    }
    if let Some(r) = m.strip_prefix("SSH: Server;") {
        // Old Debian patch: `SSH: Server;Ltype: Version;Remote: 1.2.3.4-1780;...`.
        let addr = r
            .split(';')
            .find_map(|kv| kv.trim_start().strip_prefix("Remote: "))
            .and_then(|a| a.rsplit_once('-').map(|(ip, _)| ip));
        if let Some(ip) = addr.and_then(parse_ip) {
            return Message::Connection(ip);
        }
    }
    Message::Other
}

/// `password` → `password`, `keyboard-interactive/pam` → `keyboard_interactive`...
fn method_name(method: &str) -> &'static str {
    let base = method.split('/').next().unwrap_or(method);
    match base {
        "password" => "password",
        "publickey" => "publickey",
        "keyboard-interactive" => "keyboard_interactive",
        "hostbased" => "hostbased",
        "gssapi-with-mic" | "gssapi-keyex" => "gssapi",
        "none" => "none",
        _ => "other",
    }
}

/// `[invalid user ]USER from ADDR[ port N][ ssh2][: info]` → user, invalid, address.
///
/// The user name comes from the client and may itself hold ` from 1.2.3.4
/// port 5 ssh2`; the real address is the first ` from ` whose tail has the
/// shape sshd writes (address, optional port and protocol, then the end of the
/// line or `: info`).
fn user_from(s: &str) -> Option<(&str, bool, &str)> {
    let (invalid, s) = match s
        .strip_prefix("invalid user ")
        .or_else(|| s.strip_prefix("illegal user "))
    {
        Some(r) => (true, r),
        None => (false, s),
    };
    if let Some(tail) = s.strip_prefix("from ") {
        // An empty user printed with one space: `Invalid user from 1.2.3.4`.
        if let Some(addr) = from_tail(tail) {
            return Some(("", invalid, addr));
        }
    }
    let mut start = 0;
    while let Some(i) = s.get(start..).and_then(|r| r.find(" from ")) {
        let at = start + i;
        if let Some(addr) = from_tail(&s[at + 6..]) {
            return Some((&s[..at], invalid, addr));
        }
        start = at + 1;
    }
    None
}

/// Checks `ADDR[ port N][ ssh1|ssh2]` then end or `:`; returns ADDR.
fn from_tail(s: &str) -> Option<&str> {
    let addr = first_word(s);
    if addr.is_empty()
        || !addr
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:%".contains(&b))
    {
        return None;
    }
    let mut rest = &s[addr.len()..];
    if let Some(r) = rest.strip_prefix(" port ") {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &r[n..];
    }
    if let Some(r) = rest
        .strip_prefix(" ssh2")
        .or_else(|| rest.strip_prefix(" ssh1"))
    {
        rest = r;
    }
    (rest.is_empty() || rest.starts_with(':')).then_some(addr)
}

/// `USER ADDR port N[: reason]` (the user may hold spaces) → user, address, reason.
fn user_addr_port(s: &str) -> Option<(&str, &str, &str)> {
    let mut start = 0;
    while let Some(i) = s.get(start..).and_then(|r| r.find(" port ")) {
        let at = start + i;
        let r = &s[at + 6..];
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        let after = &r[n..];
        if n > 0 && (after.is_empty() || after.starts_with(':')) {
            let (user, addr) = s[..at].rsplit_once(' ').unwrap_or(("", &s[..at]));
            if parse_ip(addr).is_some() {
                let reason = after.strip_prefix(':').unwrap_or(after).trim_start();
                return Some((user, addr, reason));
            }
        }
        start = at + 1;
    }
    None
}

/// After `Connection closed by `, `Connection reset by `, `Disconnected from `.
fn closed(r: &str, preauth: bool) -> Message<'_> {
    for (prefix, detail) in [
        ("authenticating user ", "preauth_disconnect"),
        ("invalid user ", "invalid_user"),
    ] {
        if let Some(r) = r.strip_prefix(prefix) {
            return match user_addr_port(r) {
                Some((user, addr, _)) => failure(detail, Some(user), Some(addr)),
                None => Message::Other,
            };
        }
    }
    if let Some(r) = r.strip_prefix("user ") {
        // A logged-in user leaving.
        return Message::Closed(user_addr_port(r).and_then(|(_, a, _)| parse_ip(a)));
    }
    let addr = first_word(r);
    if preauth {
        return failure("preauth_disconnect", None, Some(addr));
    }
    Message::Closed(parse_ip(addr))
}

fn first_word(s: &str) -> &str {
    s.split(' ').next().unwrap_or(s)
}

/// `PAM: Authentication failure for USER from HOST[ via ADDR]` and kin.
fn pam_message(r: &str) -> Message<'_> {
    if let Some(r) = r.strip_prefix("User not known to the underlying authentication module for ") {
        let r = r
            .strip_prefix("illegal user ")
            .or_else(|| r.strip_prefix("invalid user "))
            .unwrap_or(r);
        return match r.rsplit_once(" from ") {
            Some((user, addr)) => failure("invalid_user", Some(user), Some(first_word(addr))),
            None => Message::Other,
        };
    }
    let Some((head, rest)) = r.split_once(" for ") else {
        return Message::Other;
    };
    if !head.eq_ignore_ascii_case("authentication failure")
        && !head.eq_ignore_ascii_case("authentication error")
    {
        return Message::Other;
    }
    match rest.rsplit_once(" from ") {
        Some((user, addr)) => failure("pam_failure", Some(user), Some(first_word(addr))),
        None => failure("pam_failure", Some(rest), None),
    }
}

/// `... logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root`.
fn pam_kv(s: &str) -> Message<'_> {
    let value = |key: &str| {
        s.split(' ')
            .find_map(|kv| kv.strip_prefix(key))
            .filter(|v| !v.is_empty())
    };
    failure("pam_failure", value("user="), value("rhost="))
}

/// Identifies an sshd process of one host.
fn conn_key(host: &str, pid: u32) -> u64 {
    // FNV-1a over the host name, mixed with the pid.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in host.as_bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ pid as u64).wrapping_mul(0x0100_0000_01b3)
}

#[derive(Debug, Clone, Copy, Default)]
struct Connection {
    /// Host and pid, hashed: a collision only costs a wrong address hint.
    key: u64,
    /// A free slot is not `used`.
    used: bool,
    ip: Option<IpAddr>,
    deferred: Option<(Outcome, &'static str)>,
}

/// A fixed ring of recent connections, searched linearly (it is small).
#[derive(Debug)]
struct Connections {
    /// Boxed: allocated once per parser, and keeps `Parser` small.
    slots: Box<[Connection; CONNECTIONS]>,
    next: usize,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            slots: Box::new([Connection::default(); CONNECTIONS]),
            next: 0,
        }
    }
}

impl Connections {
    fn find(&mut self, key: u64) -> Option<&mut Connection> {
        self.slots.iter_mut().find(|c| c.used && c.key == key)
    }

    fn slot(&mut self, key: u64) -> &mut Connection {
        let i = match self.slots.iter().position(|c| c.used && c.key == key) {
            Some(i) => i,
            None => {
                let i = self.next;
                self.next = (self.next + 1) % CONNECTIONS;
                self.slots[i] = Connection {
                    key,
                    used: true,
                    ip: None,
                    deferred: None,
                };
                i
            }
        };
        &mut self.slots[i]
    }

    fn remember(&mut self, key: u64, ip: IpAddr) {
        self.slot(key).ip = Some(ip);
    }

    fn ip(&mut self, key: u64) -> Option<IpAddr> {
        self.find(key).and_then(|c| c.ip)
    }

    fn defer(&mut self, key: u64, outcome: Outcome, detail: &'static str) {
        self.slot(key).deferred = Some((outcome, detail));
    }

    fn take_deferred(&mut self, key: u64) -> Option<(Outcome, &'static str)> {
        self.find(key).and_then(|c| c.deferred.take())
    }

    fn forget(&mut self, key: u64) {
        if let Some(c) = self.find(key) {
            c.used = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Malformed;

    fn parser() -> SshdParser {
        SshdParser::new(LocalTime::new(
            jiff::tz::TimeZone::UTC,
            "2024-12-31T00:00:00Z".parse().unwrap(),
        ))
    }

    /// (line, outcome, detail, user, ip)
    type Case = (
        &'static str,
        Outcome,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn attempts() {
        use Outcome::*;
        let cases: &[Case] = &[
            ("Mar 10 11:43:00 app-2 sshd[1]: Accepted publickey for deploy from 198.51.100.10 port 41768 ssh2: ED25519 SHA256:b7bd", Success, "publickey", Some("deploy"), Some("198.51.100.10")),
            ("Mar 10 11:43:00 h sshd[1]: Accepted password for known from 192.0.2.114 port 52100 ssh2", Success, "password", Some("known"), Some("192.0.2.114")),
            ("Mar 10 11:43:00 h sshd[1]: Accepted keyboard-interactive/pam for bob from 2001:db8::7 port 1 ssh2", Success, "keyboard_interactive", Some("bob"), Some("2001:db8::7")),
            ("Mar 10 11:43:00 h sshd[1]: Failed password for root from 192.0.2.1 port 56502 ssh2", Failure, "bad_password", Some("root"), Some("192.0.2.1")),
            ("Mar 10 11:43:00 h sshd[1]: Failed password for invalid user ROOT from aaaa:bbbb:cccc:1234::1:1", Failure, "invalid_user", Some("ROOT"), Some("aaaa:bbbb:cccc:1234::1:1")),
            ("Mar 10 11:43:00 h sshd[1]: Failed password for invalid user ROOT from 194.117.26.70 port 12345", Failure, "invalid_user", Some("ROOT"), Some("194.117.26.70")),
            ("Mar 10 11:43:00 h sshd[1]: Failed publickey for git from 192.0.2.1 port 57904 ssh2: ECDSA 0e:ff", Failure, "bad_publickey", Some("git"), Some("192.0.2.1")),
            ("Mar 10 11:43:00 h sshd[1]: Failed keyboard-interactive/pam for invalid user jamedds from 205.186.180.77 port 33723 ssh2", Failure, "invalid_user", Some("jamedds"), Some("205.186.180.77")),
            ("Mar 10 11:43:00 h sshd[1]: [ID 800047 auth.info] Failed keyboard-interactive for <invalid username> from 205.186.180.55 port 42742 ssh2", Failure, "invalid_user", None, Some("205.186.180.55")),
            ("Mar 10 11:43:00 h sshd[1]: Failed none for invalid user abc from 10.0.0.1 port 2 ssh2", Failure, "invalid_user", Some("abc"), Some("10.0.0.1")),
            ("Mar 10 11:43:00 h sshd[1]: Failed hostbased for dan from 127.0.0.1 port 45785 ssh2: RSA 8c:e3, client user \"dan\"", Failure, "bad_hostbased", Some("dan"), Some("127.0.0.1")),
            // The user name is the client's: it may carry a fake address.
            ("Mar 10 11:43:00 h sshd[1]: Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2", Failure, "invalid_user", Some("from 10.10.1.1"), Some("127.0.0.1")),
            ("Mar 10 11:43:00 h sshd[1]: Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2", Failure, "invalid_user", Some("test from 10.10.1.2 port 55555 ssh2"), Some("127.0.0.1")),
            ("Mar 10 11:43:00 h sshd[1]: Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2", Failure, "invalid_user", Some("test"), Some("127.0.0.1")),
            ("Mar 10 11:43:00 h sshd[1]: Failed password for user from 127.0.0.1 port 20000 ssh1: ruser from 1.2.3.4", Failure, "bad_password", Some("user"), Some("127.0.0.1")),
            ("Mar 10 11:43:00 h sshd[1]: message repeated 5 times: [ Failed password for root from 1.2.3.4 port 9]", Failure, "bad_password", Some("root"), Some("1.2.3.4")),
            ("Mar 10 11:43:00 h sshd[1]: Invalid user webmaster from 173.234.31.186", Failure, "invalid_user", Some("webmaster"), Some("173.234.31.186")),
            ("Mar 10 11:43:00 h sshd[1]: Invalid user  from 192.0.2.68 port 34916", Failure, "invalid_user", None, Some("192.0.2.68")),
            ("Mar 10 11:43:00 h sshd[1]: error: PAM: Authentication failure for stefanor from example.com", Failure, "pam_failure", Some("stefanor"), None),
            ("Mar 10 11:43:00 h sshd[1]: error: PAM: authentication error for james from 205.186.180.101 via 192.168.1.201", Failure, "pam_failure", Some("james"), Some("205.186.180.101")),
            ("Mar 10 11:43:00 h sshd[1]: error: PAM: User not known to the underlying authentication module for illegal user kernelitshell from 10.215.4.227 ", Failure, "invalid_user", Some("kernelitshell"), Some("10.215.4.227")),
            ("Mar 10 11:43:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.112  user=root", Failure, "pam_failure", Some("root"), Some("192.0.2.112")),
            ("Mar 10 11:43:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=scanner.example.net", Failure, "pam_failure", None, None),
            ("Mar 10 11:43:00 h sshd[1]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=183.62.140.253  user=root", Failure, "pam_failure", Some("root"), Some("183.62.140.253")),
            ("Mar 10 11:43:00 h sshd[1]: error: maximum authentication attempts exceeded for invalid user xxx from 192.0.2.7 port 49941 ssh2 [preauth]", Failure, "max_auth_tries", Some("xxx"), Some("192.0.2.7")),
            ("Mar 10 11:43:00 h sshd[1]: Disconnecting invalid user xxx 192.0.2.7 port 49941: Too many authentication failures [preauth]", Failure, "max_auth_tries", Some("xxx"), Some("192.0.2.7")),
            ("Mar 10 11:43:00 h sshd[1]: Disconnecting invalid user admin 192.0.2.117 port 44004: Change of username or service not allowed: (admin,ssh-connection) -> (user,ssh-connection) [preauth]", Failure, "invalid_user", Some("admin"), Some("192.0.2.117")),
            ("Mar 10 11:43:00 h sshd[1]: Did not receive identification string from 69.61.56.114", Failure, "no_identification", None, Some("69.61.56.114")),
            ("Mar 10 11:43:00 h sshd[1]: Bad protocol version identification 'dummy string' from 192.0.2.1' from 69.61.56.115 port 31778", Failure, "bad_protocol", None, Some("69.61.56.115")),
            ("Mar 10 11:43:00 h sshd[1]: Connection closed by authenticating user test 127.0.0.1 port 12345 192.0.2.11 port 46039 [preauth]", Failure, "preauth_disconnect", Some("test 127.0.0.1 port 12345"), Some("192.0.2.11")),
            ("Mar 10 11:43:00 h sshd[1]: Connection closed by invalid user  192.0.2.68 port 34916 [preauth]", Failure, "invalid_user", None, Some("192.0.2.68")),
            ("Mar 10 11:43:00 h sshd[1]: Connection reset by 192.0.2.39 port 14282 [preauth]", Failure, "preauth_disconnect", None, Some("192.0.2.39")),
            ("Mar 10 11:43:00 h sshd[1]: Connection closed by 192.0.2.212 [preauth]", Failure, "preauth_disconnect", None, Some("192.0.2.212")),
            ("Mar 10 11:43:00 h sshd[1]: Disconnected from authenticating user root 192.0.2.6 port 33553 [preauth]", Failure, "preauth_disconnect", Some("root"), Some("192.0.2.6")),
            ("Mar 10 11:43:00 h sshd[1]: Received disconnect from 198.51.100.76 port 58846:11: Bye Bye [preauth]", Failure, "preauth_disconnect", None, Some("198.51.100.76")),
            ("Mar 10 11:43:00 h sshd[1]: Received disconnect from 89.24.13.192: 3: com.jcraft.jsch.JSchException: Auth fail", Failure, "preauth_disconnect", None, Some("89.24.13.192")),
            ("Mar 10 11:43:00 h sshd[1]: User root from 46.45.128.3 not allowed because listed in DenyUsers", Denied, "not_allowed", Some("root"), Some("46.45.128.3")),
            ("Mar 10 11:43:00 h sshd[1]: User allena from example.com not allowed because not in any group", Denied, "not_allowed", Some("allena"), None),
            ("Mar  3 00:17:22 [sshd]: User root from 211.188.220.49 not allowed because not listed in AllowUsers", Denied, "not_allowed", Some("root"), Some("211.188.220.49")),
            ("Mar 10 11:43:00 h sshd[1]: ROOT LOGIN REFUSED FROM ::ffff:1.2.3.4", Denied, "root_refused", Some("root"), Some("1.2.3.4")),
            ("Mar 10 11:43:00 h sshd[1]: refused connect from _U2FsdGVkX19P@::ffff:218.249.210.161 (::ffff:218.249.210.161)", Denied, "tcp_wrappers", None, Some("218.249.210.161")),
            ("Mar 10 11:43:00 h sshd[1]: fatal: Timeout before authentication for 192.0.2.14 port 55555", Failure, "auth_timeout", None, Some("192.0.2.14")),
            ("Mar 10 11:43:00 h sshd[1]: Unable to negotiate with 192.0.2.2 port 50404: no matching MAC found. Their offer: hmac-sha1 [preauth]", Failure, "kex_failure", None, Some("192.0.2.2")),
            ("Mar 10 11:43:00 h sshd[1]: banner exchange: Connection from 192.0.2.12 port 44105: invalid format", Failure, "bad_protocol", None, Some("192.0.2.12")),
            ("<38>1 2019-07-08T17:40:16.954167-04:00 hostname.example.com sshd 57915 - - Failed unknown for invalid user redmond from 192.0.2.1 port 59197 ssh2", Failure, "invalid_user", Some("redmond"), Some("192.0.2.1")),
            ("2024-03-10T11:43:00.123456+02:00 db-1 sshd-session[7]: Failed password for alice from 203.0.113.7 port 22 ssh2", Failure, "bad_password", Some("alice"), Some("203.0.113.7")),
        ];
        for &(line, outcome, detail, user, ip) in cases {
            let Parsed::Event(e) = parser().parse(line) else {
                panic!("not an event: {line}\n{:?}", parser().parse(line));
            };
            assert_eq!(e.outcome, outcome, "{line}");
            assert_eq!(e.detail, Some(detail), "{line}");
            assert_eq!(e.user.as_deref(), user, "{line}");
            assert_eq!(e.ip.map(|i| i.to_string()).as_deref(), ip, "{line}");
            assert_eq!(e.action.as_deref(), Some("login"));
            assert_eq!(e.resource.as_deref(), Some("ssh"));
        }
    }

    #[test]
    fn header_fields_reach_the_event() {
        let line =
            "Mar  5 11:43:00 app-2 sshd[21001]: Failed password for bob from 1.2.3.4 port 2 ssh2";
        let Parsed::Event(e) = parser().parse(line) else {
            panic!()
        };
        assert_eq!(e.host.as_deref(), Some("app-2"));
        assert_eq!(e.time.to_string(), "2024-03-05T11:43:00+00:00");
        assert!(matches!(e.user, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn non_attempts_are_ignored() {
        for line in [
            "Mar 10 11:43:00 h sudo[1]:    bob : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls",
            "Mar 10 11:43:00 h CRON[1]: pam_unix(cron:session): session opened for user root by (uid=0)",
            "Mar 10 11:43:00 h sshd[1]: pam_unix(sshd:session): session opened for user known by (uid=0)",
            "Mar 10 11:43:00 h sshd[1]: Received disconnect from 198.51.100.10 port 41768:11: disconnected by user",
            "Mar 10 11:43:00 h sshd[1]: Connection closed by 192.0.2.1",
            "Mar 10 11:43:00 h sshd[1]: Disconnected from user bob 192.0.2.1 port 5",
            "Mar 10 11:43:00 h sshd[1]: Postponed publickey for git from 192.0.2.1 port 57904 ssh2 [preauth]",
            "Mar 10 11:43:00 h sshd[1]: input_userauth_request: invalid user root [preauth]",
            "Mar 10 11:43:00 h sshd[1]: reverse mapping checking getaddrinfo for x.com [1.2.3.4] failed - POSSIBLE BREAK-IN ATTEMPT!",
            "Mar 10 11:43:00 h sshd[1]: Server listening on 0.0.0.0 port 22.",
            "Mar 10 11:43:00 h sshd[1]: pam_unix(sshd:auth): check pass; user unknown",
            "Mar 10 11:43:00 h sshd[1]: Connection from 192.0.2.5 port 1 on 192.0.2.9 port 22",
            "Mar 10 11:43:00 h sshd[1]: Failed",
            "Mar 10 11:43:00 h sshd[1]: Accepted password for",
        ] {
            assert_eq!(parser().parse(line), Parsed::Ignored(IgnoreReason::NotAccessEvent), "{line}");
        }
        assert_eq!(parser().parse("  "), Parsed::Ignored(IgnoreReason::Blank));
    }

    #[test]
    fn broken_lines_are_malformed() {
        assert_eq!(
            parser().parse("garbage"),
            Parsed::Malformed(Malformed::Syntax)
        );
        assert_eq!(
            parser().parse("Feb 31 11:43:00 h sshd[1]: Failed password for a from 1.2.3.4"),
            Parsed::Malformed(Malformed::BadTimestamp)
        );
    }

    #[test]
    fn a_connection_lends_its_address_to_later_lines() {
        let mut p = parser();
        let lines = [
            "Feb 12 04:09:18 h sshd[26713]: Connection from 115.249.163.77 port 51353 on 127.0.0.1 port 22",
            "Feb 12 04:09:21 h sshd[26713]: Disconnecting: Too many authentication failures for root [preauth]",
        ];
        assert_eq!(
            p.parse(lines[0]),
            Parsed::Ignored(IgnoreReason::NotAccessEvent)
        );
        let Parsed::Event(e) = p.parse(lines[1]) else {
            panic!()
        };
        assert_eq!(e.ip, Some("115.249.163.77".parse().unwrap()));
        assert_eq!(e.detail, Some("max_auth_tries"));
        assert_eq!(e.user.as_deref(), Some("root"));
        // Another pid does not borrow it.
        let Parsed::Event(e) = p.parse(
            "Feb 12 04:09:21 h sshd[9]: Disconnecting: Too many authentication failures for root",
        ) else {
            panic!()
        };
        assert_eq!(e.ip, None);
    }

    #[test]
    fn a_failure_without_address_waits_for_it() {
        let mut p = parser();
        let kex = "Jun  7 04:10:35 host sshd[424228]: error: kex_exchange_identification: Connection closed by remote host";
        assert_eq!(p.parse(kex), Parsed::Ignored(IgnoreReason::NotAccessEvent));
        let Parsed::Event(e) = p
            .parse("Jun  7 04:10:35 host sshd[424228]: Connection closed by 192.0.2.15 port 35352")
        else {
            panic!()
        };
        assert_eq!(
            (e.outcome, e.detail),
            (Outcome::Failure, Some("bad_protocol"))
        );
        assert_eq!(e.ip, Some("192.0.2.15".parse().unwrap()));
        // Once used, the connection is forgotten: a second close is no failure.
        assert_eq!(
            p.parse(
                "Jun  7 04:10:36 host sshd[424228]: Connection closed by 192.0.2.15 port 35352"
            ),
            Parsed::Ignored(IgnoreReason::NotAccessEvent)
        );
    }

    #[test]
    fn the_connection_table_is_bounded() {
        let mut p = parser();
        for pid in 0..10_000u32 {
            let line = format!("Mar 10 11:43:00 h sshd[{pid}]: Connection from 10.0.0.1 port 5 on 10.0.0.2 port 22");
            p.parse(&line);
        }
        assert_eq!(p.conns.slots.len(), CONNECTIONS);
    }
}
