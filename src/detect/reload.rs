//! A rules reload that keeps what the detectors learned.
//!
//! State moves from the running engine to the one built on the new rules,
//! by rule name, so editing one threshold does not wipe a month of
//! baselines or re-open an attack's alert. What happens to a rule:
//! - **kept**: its compiled definition is unchanged; all its state (windows,
//!   buckets, peer norms, open alerts) carries over.
//! - **retuned**: only what is judged when the rule decides changed — a
//!   threshold, the skipping of shared addresses, a baseline's factor,
//!   floor, quantile or history/peer minimums,
//!   the severity, description, quiet period or named-value cap. The state has
//!   the same shape and meaning, so it carries over; the next decision uses
//!   the new values. An alert already open keeps the severity it opened with.
//! - **restarted**: what the state holds changed (filter, key, detector kind,
//!   window, a baseline's measure, bucket, peers or alignment, a harvest's
//!   visit gap, memory or per-visit cap, a chain's steps...). Old state would
//!   mean something else, so the rule starts empty; its open alerts close as
//!   at shutdown (they are handed on, not lost).
//! - **added** rules start empty; **removed** rules' open alerts close the
//!   same way and their state is dropped.
//!
//! Engine-wide state carries over too: the event clock, the seeded hasher
//! (every stored key hash depends on it), the accounts' login profiles and
//! the addresses' login tallies (when a new rule still asks for them),
//! alerts closed or opened and not yet taken, and the counters.

use super::rules::{Detector, Rule};
use super::{unname_guessers, Engine};

/// What a reload did with each rule's state, by rule name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Carried {
    pub kept: Vec<String>,
    pub retuned: Vec<String>,
    pub restarted: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Open alerts of restarted and removed rules, closed by the reload.
    pub closed_alerts: usize,
}

/// How a rule of the same name changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    None,
    Retuned,
    Reshaped,
}

fn change(old: &Rule, new: &Rule) -> Change {
    if format!("{old:?}") == format!("{new:?}") {
        Change::None
    } else if shape(old) == shape(new) {
        Change::Retuned
    } else {
        Change::Reshaped
    }
}

/// The rule with every parameter that is only read when it decides blanked
/// out: two rules with the same shape keep state of the same meaning.
fn shape(rule: &Rule) -> String {
    let mut r = rule.clone();
    r.description.clear();
    r.severity = super::alert::Severity::Low;
    r.quiet = 0;
    r.report_values = 0;
    r.skip_shared = false;
    match &mut r.detector {
        Detector::Threshold { threshold, .. }
        | Detector::Distinct { threshold, .. }
        | Detector::Sequence { threshold, .. }
        | Detector::Signature { threshold, .. } => *threshold = 0,
        Detector::Harvest {
            threshold,
            fresh_share,
            ..
        } => {
            *threshold = 0;
            *fresh_share = 0.0;
        }
        Detector::Baseline { spec, .. } => {
            spec.factor = 0.0;
            spec.floor = 0.0;
            spec.quantile = 0.0;
            spec.min_history = 0;
            spec.min_peers = 0;
            spec.min_role_peers = 0;
        }
        Detector::Novelty { .. } | Detector::Chain { .. } => {}
    }
    format!("{r:?}")
}

impl Engine {
    /// Replaces this engine by `next` (built on the reloaded rules, sigma
    /// set and inventory), carrying over each rule's state by name as the
    /// module doc describes. Open alerts of restarted and removed rules are
    /// closed and come out of [`Engine::take_closed`].
    pub fn reload(&mut self, mut next: Engine) -> Carried {
        let mut old = std::mem::replace(self, Engine::new(Vec::new(), 0));
        let mut carried = Carried::default();
        let mut taken = vec![false; old.rules.len()];
        for (ni, rule) in next.rules.iter().enumerate() {
            let Some(oi) = old.rules.iter().position(|r| r.name == rule.name) else {
                carried.added.push(rule.name.clone());
                continue;
            };
            match change(&old.rules[oi], rule) {
                Change::Reshaped => {
                    carried.restarted.push(rule.name.clone());
                    continue;
                }
                Change::Retuned => carried.retuned.push(rule.name.clone()),
                Change::None => carried.kept.push(rule.name.clone()),
            }
            taken[oi] = true;
            next.state[ni] = std::mem::take(&mut old.state[oi]);
            next.open[ni] = std::mem::take(&mut old.open[oi]);
            next.peers[ni] = std::mem::take(&mut old.peers[oi]);
            next.active[ni] = std::mem::take(&mut old.active[oi]);
            next.first_reads[ni] = std::mem::take(&mut old.first_reads[oi]);
            next.rolled[ni] = old.rolled[oi];
            next.next_expire[ni] = old.next_expire[oi];
            next.next_roll[ni] = old.next_roll[oi];
            next.whole_buckets[ni] = old.whole_buckets[oi];
            next.offset[ni] = old.offset[oi];
        }
        carried.removed = old
            .rules
            .iter()
            .filter(|r| !next.rules.iter().any(|n| n.name == r.name))
            .map(|r| r.name.clone())
            .collect();
        // what the dropped state had open closes as at shutdown
        for (oi, open) in old.open.iter_mut().enumerate() {
            if taken[oi] {
                continue;
            }
            for (_, mut o) in open.drain() {
                carried.closed_alerts += 1;
                old.stats.alerts += 1;
                let guessers = unname_guessers(&mut o, &old.rules[oi], &old.hasher);
                old.closed.push(o.alert);
                old.stats.alerts += guessers.len() as u64;
                old.closed.extend(guessers);
            }
        }
        next.open_rules = next
            .open
            .iter()
            .enumerate()
            .filter(|(ni, open)| *ni < 64 && !open.is_empty())
            .fold(0, |m, (ni, _)| m | 1 << ni);
        next.hasher = old.hasher;
        next.now = old.now;
        // sweep on the next event: windows and key caps may have changed
        next.next_sweep = i64::MIN;
        if next.wants_profiles() {
            next.profiles = old.profiles.take();
            next.next_profile_expiry = old.next_profile_expiry;
        }
        if next.wants_addresses() {
            next.addresses = old.addresses.take();
            next.next_address_expiry = old.next_address_expiry;
        }
        next.closed = old.closed;
        if let (Some(queue), Some(waiting)) = (next.opened.as_mut(), old.opened) {
            *queue = waiting;
        }
        next.stats = old.stats;
        *self = next;
        carried
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules;
    use super::*;
    use crate::classify::Inventory;
    use crate::parse::{Event, EventTime, Outcome};
    use std::borrow::Cow;

    const INV: &str = "resources:\n  - pattern: /login\n    methods: [POST]\n    kind: login\n  - pattern: \"/c/{id}\"\n    categories: [identity]\n    sensitivity: high\n    subject_param: id\n";

    /// A brute-force rule (threshold on failed logins by address) and a
    /// rule counting distinct customers read per user.
    fn rules_yaml(bf_threshold: u32, bf_window: &str, reads: u32) -> String {
        format!(
            "rules:\n  - name: bf\n    detector: threshold\n    match: {{kind: [login], outcome: [failure, denied]}}\n    key: [ip]\n    window: {bf_window}\n    threshold: {bf_threshold}\n    severity: high\n    quiet: 30m\n  - name: reads\n    detector: distinct\n    distinct: subject\n    match: {{has_subject: true, outcome: [success], min_sensitivity: medium}}\n    key: [user]\n    window: 1h\n    threshold: {reads}\n    severity: high\n    quiet: 30m\n"
        )
    }

    fn engine(yaml: &str) -> Engine {
        Engine::new(rules::compile(yaml, "t.yaml").unwrap(), 1000)
    }

    fn feed(e: &mut Engine, t: i64, ip: &str, user: &str, path: &str, status: u16) {
        let inv = Inventory::from_str(INV, "inv").unwrap();
        let method = if path == "/login" { "POST" } else { "GET" };
        let ev = Event {
            time: EventTime::from_unix_secs(t, 0),
            ip: ip.parse().ok(),
            user: (!user.is_empty()).then_some(Cow::Borrowed(user)),
            action: Some(Cow::Borrowed(method)),
            resource: Some(Cow::Borrowed(path)),
            status: Some(status),
            outcome: Outcome::from_http_status(status),
            ..Event::default()
        };
        let c = inv.classify(&ev);
        e.observe(&ev, &c);
    }

    #[test]
    fn a_rule_changes_as_its_state_allows() {
        let base = rules::compile(&rules_yaml(5, "10m", 20), "t").unwrap();
        let table = [
            (rules_yaml(5, "10m", 20), Change::None),
            (rules_yaml(9, "10m", 20), Change::Retuned),
            (
                rules_yaml(5, "10m", 20).replace(
                    "severity: high\n    quiet: 30m\n  - name: reads",
                    "severity: low\n    quiet: 5m\n  - name: reads",
                ),
                Change::Retuned,
            ),
            (rules_yaml(5, "20m", 20), Change::Reshaped),
            (
                rules_yaml(5, "10m", 20).replace("key: [ip]", "key: [user]"),
                Change::Reshaped,
            ),
        ];
        for (yaml, want) in table {
            let new = rules::compile(&yaml, "t").unwrap();
            assert_eq!(change(&base[0], &new[0]), want, "{yaml}");
        }
    }

    #[test]
    fn an_unrelated_threshold_edit_keeps_a_running_count_and_its_open_alert() {
        let mut e = engine(&rules_yaml(5, "10m", 20));
        // 15 distinct reads: 5 short of the rule
        for n in 0..15 {
            feed(
                &mut e,
                1000 + n,
                "10.0.0.1",
                "mallory",
                &format!("/c/{n}"),
                200,
            );
        }
        let carried = e.reload(engine(&rules_yaml(7, "10m", 20)));
        assert_eq!(carried.kept, ["reads"]);
        assert_eq!(carried.retuned, ["bf"]);
        for n in 15..20 {
            feed(
                &mut e,
                1000 + n,
                "10.0.0.1",
                "mallory",
                &format!("/c/{n}"),
                200,
            );
        }
        let opened_at = e.open[1]
            .values()
            .next()
            .expect("the 20th read fired")
            .alert
            .detected_at;
        // the alert is open; another reload keeps it open and it grows
        let carried = e.reload(engine(&rules_yaml(8, "10m", 20)));
        assert_eq!(carried.closed_alerts, 0);
        assert!(!e.has_closed());
        for n in 20..30 {
            feed(
                &mut e,
                1000 + n,
                "10.0.0.1",
                "mallory",
                &format!("/c/{n}"),
                200,
            );
        }
        let alerts = e.finish();
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].detected_at, opened_at, "one alert, not re-opened");
        assert_eq!(alerts[0].end.unix_secs(), 1029);
        assert_eq!(alerts[0].subjects, 30);
    }

    #[test]
    fn a_raised_threshold_applies_to_the_carried_count() {
        let mut e = engine(&rules_yaml(5, "10m", 20));
        for n in 0..4 {
            feed(&mut e, 1000 + n * 10, "10.9.9.9", "", "/login", 401);
        }
        assert_eq!(e.reload(engine(&rules_yaml(6, "10m", 20))).retuned, ["bf"]);
        feed(&mut e, 1040, "10.9.9.9", "", "/login", 401);
        assert!(
            e.open[0].is_empty(),
            "5 failures are under the new threshold of 6"
        );
        feed(&mut e, 1050, "10.9.9.9", "", "/login", 401);
        let alerts = e.finish();
        assert_eq!(
            alerts.len(),
            1,
            "the 4 before the reload count: {alerts:#?}"
        );
        assert_eq!(alerts[0].start.unix_secs(), 1000);
    }

    #[test]
    fn a_reshaped_rule_restarts_alone_and_a_removed_rule_closes_its_alert() {
        let mut e = engine(&rules_yaml(5, "10m", 20));
        for n in 0..6 {
            feed(&mut e, 1000 + n * 10, "10.9.9.9", "", "/login", 401);
        }
        for n in 0..25 {
            feed(
                &mut e,
                1000 + n,
                "10.0.0.1",
                "mallory",
                &format!("/c/{n}"),
                200,
            );
        }
        // bf's window changes (reshaped); reads is removed
        let only_bf = rules_yaml(5, "20m", 20);
        let only_bf = &only_bf[..only_bf.find("  - name: reads").unwrap()];
        let carried = e.reload(engine(only_bf));
        assert_eq!(carried.restarted, ["bf"]);
        assert_eq!(carried.removed, ["reads"]);
        assert_eq!(carried.closed_alerts, 2);
        let closed = e.take_closed();
        assert_eq!(
            closed.len(),
            2,
            "both open alerts closed, none lost: {closed:#?}"
        );
        assert!(
            e.state.iter().all(|s| s.is_empty()),
            "restarted state is empty"
        );
        // bf counts from zero again
        for n in 0..4 {
            feed(&mut e, 2000 + n * 10, "10.9.9.9", "", "/login", 401);
        }
        assert!(e.finish().is_empty());
    }

    #[test]
    fn an_added_rule_starts_empty_and_the_others_keep_their_state() {
        let only_reads = rules_yaml(5, "10m", 20);
        let only_reads = &only_reads[only_reads.find("  - name: reads").unwrap()..];
        let mut e = engine(&format!("rules:\n{only_reads}"));
        for n in 0..15 {
            feed(
                &mut e,
                1000 + n,
                "10.0.0.1",
                "mallory",
                &format!("/c/{n}"),
                200,
            );
        }
        let carried = e.reload(engine(&rules_yaml(5, "10m", 20)));
        assert_eq!(carried.added, ["bf"]);
        assert_eq!(carried.kept, ["reads"]);
        for n in 15..20 {
            feed(
                &mut e,
                1000 + n,
                "10.0.0.1",
                "mallory",
                &format!("/c/{n}"),
                200,
            );
        }
        let alerts = e.finish();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].detector, "reads");
    }
}
