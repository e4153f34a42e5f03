//! loghub's OpenSSH sample (`../shared/corpus/loghub/OpenSSH_2k.log`): a
//! server under constant attack. loghub's structured CSV names each line's
//! event template; every template that is a login attempt must come out of
//! the sshd parser with the outcome below, and with the user and address the
//! template's variables hold.

mod common;

use std::net::IpAddr;

use breachd::parse::sshd::SshdParser;
use breachd::parse::{IgnoreReason, LocalTime, Outcome, Parsed};

/// What a template stands for.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A login attempt: outcome, and which template variable (0-based) holds
    /// the user and the address (`None`: the line has none; the address may
    /// then come from the connection's earlier lines, and is not checked).
    Attempt(Outcome, Option<usize>, Option<usize>),
    /// Not an attempt: the parser must ignore it.
    Ignored,
}

/// loghub's templates (OpenSSH_2k.log_templates.csv) and what each must give.
const TEMPLATES: &[(&str, Want)] = {
    use Outcome::*;
    use Want::*;
    &[
        // Accepted password for <*> from <*> port <*> ssh2
        ("E1", Attempt(Success, Some(0), Some(1))),
        // Connection closed by <*> [preauth]
        ("E2", Attempt(Failure, None, Some(0))),
        // Did not receive identification string from <*>
        ("E3", Attempt(Failure, None, Some(0))),
        // Disconnecting: Too many authentication failures for admin|root [preauth]
        ("E4", Attempt(Failure, None, None)),
        ("E5", Attempt(Failure, None, None)),
        // error: Received disconnect from <*>: <*>: com.jcraft.jsch.JSchException: Auth fail [preauth]
        ("E6", Attempt(Failure, None, Some(0))),
        // error: Received disconnect from <*>: <*>: No more user authentication methods available. [preauth]
        ("E7", Attempt(Failure, None, Some(0))),
        // Failed none for invalid user <*> from <*> port <*> ssh2
        ("E8", Attempt(Failure, Some(0), Some(1))),
        // Failed password for <*> from <*> port <*> ssh2
        ("E9", Attempt(Failure, Some(0), Some(1))),
        // Failed password for invalid user <*> from <*> port <*> ssh2
        ("E10", Attempt(Failure, Some(0), Some(1))),
        // fatal: Write failed: Connection reset by peer [preauth]: no address
        // on the line; a failure when its connection's address is known.
        // input_userauth_request: invalid user <*> [preauth]: repeats E13.
        ("E12", Ignored),
        // Invalid user <*> from <*>
        ("E13", Attempt(Failure, Some(0), Some(1))),
        // message repeated <*> times: [ Failed password for root from <*> port <*>]
        ("E14", Attempt(Failure, None, Some(1))),
        // PAM <*> more authentication failure(s); ... rhost=<*>[  user=root]
        ("E15", Attempt(Failure, None, Some(3))),
        ("E16", Attempt(Failure, None, Some(3))),
        ("E17", Attempt(Failure, None, Some(3))),
        // PAM service(sshd) ignoring max retries; <*> > <*>
        ("E18", Ignored),
        // pam_unix(sshd:auth): authentication failure; ... rhost=<*>
        ("E19", Attempt(Failure, None, Some(2))),
        // pam_unix(sshd:auth): authentication failure; ... rhost=<*> user=<*>
        ("E20", Attempt(Failure, Some(3), Some(2))),
        // pam_unix(sshd:auth): check pass; user unknown
        ("E21", Ignored),
        // pam_unix(sshd:session): session closed|opened for user <*>
        ("E22", Ignored),
        ("E23", Ignored),
        // Received disconnect from <*>: <*>: Bye Bye|Closed due to user request. [preauth]
        ("E24", Attempt(Failure, None, Some(0))),
        ("E25", Attempt(Failure, None, Some(0))),
        // Received disconnect from <*>: <*>: disconnected by user
        ("E26", Ignored),
        // reverse mapping checking getaddrinfo for <*> [<*>] failed - POSSIBLE BREAK-IN ATTEMPT!
        ("E27", Ignored),
    ]
};

/// Splits one CSV record (quotes and doubled quotes honoured).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// The values of a template's `<*>` in `content` (each variable ends where the
/// next literal piece first occurs; the last one takes the rest).
fn variables(template: &str, content: &str) -> Option<Vec<String>> {
    let pieces: Vec<&str> = template.split("<*>").collect();
    let mut rest = content.strip_prefix(pieces[0])?;
    let mut vars = Vec::new();
    for (k, piece) in pieces.iter().enumerate().skip(1) {
        let end = if piece.is_empty() && k == pieces.len() - 1 {
            rest.len()
        } else if k == pieces.len() - 1 {
            rest.rfind(piece)?
        } else {
            rest.find(piece)?
        };
        // Only the end: a user name may start with a space (line 185: `Invalid user  0101`).
        vars.push(rest[..end].trim_end().to_string());
        rest = &rest[end + piece.len()..];
    }
    Some(vars)
}

#[test]
fn openssh_attempts_have_their_outcome_user_and_address() {
    let dir = common::corpus("loghub");
    let log = std::fs::read_to_string(dir.join("OpenSSH_2k.log")).expect("log");
    let csv = std::fs::read_to_string(dir.join("OpenSSH_2k.log_structured.csv")).expect("csv");
    let raw: Vec<&str> = log.lines().collect();
    let local = LocalTime::new(
        jiff::tz::TimeZone::UTC,
        "2024-12-31T00:00:00Z".parse().unwrap(),
    );
    let mut parser = SshdParser::new(local);
    let mut checked = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    let mut problems = Vec::new();
    for row in csv.lines().skip(1) {
        let f = csv_fields(row);
        let [id, _, _, _, _, _, content, event_id, template] = &f[..] else {
            panic!("bad row: {row}");
        };
        let n: usize = id.parse().expect("LineId");
        let line = raw[n - 1];
        assert!(
            line.trim_end().ends_with(content.as_str()),
            "line {n} is not its row"
        );
        let parsed = parser.parse(line);
        let Some(&(tid, want)) = TEMPLATES.iter().find(|(t, _)| t == event_id) else {
            // E11: the line names no address; counted either way.
            continue;
        };
        let entry = checked.entry(tid).or_default();
        entry.1 += 1;
        let vars =
            variables(template, content).unwrap_or_else(|| panic!("template {tid} vs {content}"));
        let ok = match (want, &parsed) {
            (Want::Ignored, Parsed::Ignored(IgnoreReason::NotAccessEvent)) => Ok(()),
            (Want::Attempt(outcome, user, addr), Parsed::Event(e)) => {
                let want_user = user.map(|k| vars[k].as_str());
                let want_ip = addr.map(|k| vars[k].parse::<IpAddr>().ok());
                if e.outcome != outcome {
                    Err(format!("outcome {:?}", e.outcome))
                } else if user.is_some() && e.user.as_deref() != want_user {
                    Err(format!("user {:?} != {want_user:?}", e.user))
                } else if let Some(ip) = want_ip.flatten() {
                    // (A host name in rhost, `...omantel.net.om`, is no address:
                    // the event may carry its connection's, or none.)
                    if e.ip != Some(ip) {
                        Err(format!("ip {:?} != {ip:?}", e.ip))
                    } else {
                        Ok(())
                    }
                } else {
                    Ok(())
                }
            }
            (_, other) => Err(format!("{other:?}")),
        };
        match ok {
            Ok(()) => entry.0 += 1,
            Err(why) => problems.push(format!("{tid} line {n}: {why}\n    {line}")),
        }
    }
    for (tid, (ok, total)) in &checked {
        eprintln!("loghub OpenSSH {tid}: {ok}/{total}");
    }
    let ok: usize = checked.values().map(|c| c.0).sum();
    let total: usize = checked.values().map(|c| c.1).sum();
    eprintln!("loghub OpenSSH_2k: {ok}/{total} lines as their template says");
    assert!(
        problems.is_empty(),
        "{} lines:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(total, 1999, "every line but E11's is checked");
}
