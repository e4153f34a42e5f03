//! The audit trail: every change to an incident, by whom, append-only and
//! hash-chained.
//!
//! Entry `n` carries the hash of entry `n-1`; its own hash covers its sequence
//! number, time, actor, incident, action, detail and that previous hash. Editing
//! an entry breaks its hash; removing or reordering entries breaks the chain;
//! removing the newest entries is caught against the head (count and last
//! hash) that every append updates in the same transaction. Someone who can
//! rewrite the whole file can rewrite the whole chain: the head is also logged
//! on every start so an outside copy of the log can vouch for it.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::IncidentId;

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub seq: i64,
    /// Wall-clock time of the change, RFC 3339 UTC.
    pub at: String,
    /// A person, or `breachd` itself.
    pub actor: String,
    pub incident: Option<IncidentId>,
    pub action: String,
    /// What changed, as JSON text.
    pub detail: String,
    pub prev: String,
    pub hash: String,
}

/// The hash of an entry's content chained to `prev`.
pub fn hash(
    seq: i64,
    at: &str,
    actor: &str,
    incident: Option<IncidentId>,
    action: &str,
    detail: &str,
    prev: &str,
) -> String {
    let mut h = Sha256::new();
    // Length-prefixed fields: no two different entries hash the same text.
    for part in [
        seq.to_string().as_str(),
        at,
        actor,
        &incident.map(|i| i.0.to_string()).unwrap_or_default(),
        action,
        detail,
        prev,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

/// Lower-case hex of bytes (hashes, ids).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub entries: i64,
    pub ok: bool,
    /// Every problem found, each naming the entry.
    pub problems: Vec<String>,
}

/// Checks entries (in stored order) against their hashes, their chain and the
/// recorded head (`count`, `last hash`).
pub fn verify(entries: &[Entry], head: Option<(i64, String)>) -> Verdict {
    let mut problems = Vec::new();
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let want_seq = i as i64 + 1;
        if e.seq != want_seq {
            problems.push(format!(
                "entry {}: expected sequence number {want_seq} (an entry was removed or reordered)",
                e.seq
            ));
        }
        if e.prev != prev {
            problems.push(format!(
                "entry {}: does not follow the entry before it (removed, inserted or reordered entries)",
                e.seq
            ));
        }
        let h = hash(
            e.seq, &e.at, &e.actor, e.incident, &e.action, &e.detail, &e.prev,
        );
        if h != e.hash {
            problems.push(format!(
                "entry {}: content does not match its hash (edited after it was written)",
                e.seq
            ));
        }
        prev = e.hash.clone();
        if problems.len() >= 20 {
            problems.push("further entries not checked".into());
            break;
        }
    }
    match head {
        Some((count, last)) => {
            if count != entries.len() as i64 {
                problems.push(format!(
                    "the trail has {} entries but {count} were written (entries removed or added outside breachd)",
                    entries.len()
                ));
            } else if entries.last().map_or(GENESIS, |e| e.hash.as_str()) != last {
                problems.push("the newest entry is not the one last written".into());
            }
        }
        None if !entries.is_empty() => {
            problems.push("the trail's head record is missing".into());
        }
        None => {}
    }
    Verdict {
        entries: entries.len() as i64,
        ok: problems.is_empty(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Entry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let at = format!("2026-01-01T00:00:{seq:02}Z");
                let detail = format!("{{\"n\":{seq}}}");
                let h = hash(
                    seq,
                    &at,
                    "breachd",
                    Some(IncidentId(1)),
                    "opened",
                    &detail,
                    &prev,
                );
                let e = Entry {
                    seq,
                    at,
                    actor: "breachd".into(),
                    incident: Some(IncidentId(1)),
                    action: "opened".into(),
                    detail,
                    prev: prev.clone(),
                    hash: h.clone(),
                };
                prev = h;
                e
            })
            .collect()
    }

    fn head(c: &[Entry]) -> Option<(i64, String)> {
        Some((c.len() as i64, c.last().unwrap().hash.clone()))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let v = verify(&c, head(&c));
        assert!(v.ok, "{:?}", v.problems);
        assert_eq!(v.entries, 5);
        assert!(verify(&[], None).ok);
    }

    #[test]
    fn an_edit_is_found() {
        let c = chain(5);
        let h = head(&c);
        let mut c = c;
        c[2].actor = "mallory".into();
        let v = verify(&c, h);
        assert!(!v.ok);
        assert!(
            v.problems[0].starts_with("entry 3: content"),
            "{:?}",
            v.problems
        );
    }

    #[test]
    fn a_removal_a_reorder_and_a_cut_tail_are_found() {
        let c = chain(5);
        let h = head(&c);
        let mut removed = c.clone();
        removed.remove(1);
        assert!(!verify(&removed, h.clone()).ok);
        let mut swapped = c.clone();
        swapped.swap(1, 2);
        assert!(!verify(&swapped, h.clone()).ok);
        let cut = &c[..4];
        let v = verify(cut, h);
        assert!(!v.ok);
        assert!(
            v.problems[0].contains("4 entries but 5"),
            "{:?}",
            v.problems
        );
    }
}
