//! The scheduler against a real SQLite store, with a clock the tests move:
//! deadlines on the playbooks' calendars, downtime, restarts, reloads.

use std::cell::Cell;
use std::path::Path;

use breachd::classify::{Categories, Category};
use breachd::detect::alert::{Alert, Entity, EntityType, Severity};
use breachd::incident::{Change, Correlation, IncidentId, IncidentStore, Status};
use breachd::playbook::schedule::{ScheduleStore, Scheduler, StepState};
use breachd::playbook::{calendar, compile, shipped, Playbook};
use breachd::store::SqliteStore;
use jiff::Timestamp;

thread_local! {
    /// The store's clock for this test (each test runs on its own thread).
    static NOW: Cell<i64> = const { Cell::new(0) };
}

fn clock() -> Timestamp {
    Timestamp::from_second(NOW.with(Cell::get)).unwrap()
}

fn set_now(s: &str) -> Timestamp {
    let t: Timestamp = s.parse().unwrap();
    NOW.with(|n| n.set(t.as_second()));
    t
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap().with_clock(clock)
}

fn policy(shares: &[(&str, f64)]) -> Correlation {
    Correlation {
        jurisdictions: shares.iter().map(|(j, s)| (j.to_string(), *s)).collect(),
        ..Correlation::default()
    }
}

fn alert(ip: &str, at: &str, categories: &[Category], subjects: u64) -> Alert {
    let t = breachd::parse::time::parse_rfc3339(at).unwrap();
    Alert {
        detector: "bulk_read".into(),
        entities: vec![Entity {
            kind: EntityType::Ip,
            value: ip.into(),
        }],
        start: t,
        end: t,
        detected_at: t,
        severity: Severity::High,
        incident: None,
        subjects,
        categories: categories.iter().copied().collect::<Categories>(),
        events: 500,
        summary: "bulk read of customer records".into(),
        exposed: Default::default(),
    }
}

/// Opens an incident at the store's clock (awareness: at detection).
fn open_incident(s: &mut SqliteStore, p: &Correlation, ip: &str, at: &str) -> IncidentId {
    let a = alert(ip, at, &[Category::Identity, Category::Contact], 800);
    s.record_alert(&a, true, p).unwrap().incident
}

fn gdpr() -> Vec<Playbook> {
    shipped(None)
        .unwrap()
        .into_iter()
        .filter(|p| p.regime == "GDPR" || p.regime == "UK GDPR" || p.regime == "SEC 8-K")
        .collect()
}

fn step<'a>(
    steps: &'a [breachd::playbook::schedule::StepRow],
    regime: &str,
    id: &str,
) -> &'a breachd::playbook::schedule::StepRow {
    steps
        .iter()
        .find(|s| s.regime == regime && s.step == id)
        .unwrap_or_else(|| panic!("no {regime}/{id} in {steps:#?}"))
}

fn in_zone(t: Timestamp, zone: &str) -> String {
    calendar::rfc3339(&t.to_zoned(jiff::tz::TimeZone::get(zone).unwrap()))
}

#[test]
fn a_gdpr_incident_opened_friday_at_four_is_due_at_the_authority_monday_at_four() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let p = policy(&[("EU", 1.0)]);
    // Friday 2026-03-06 16:00 in Brussels
    let now = set_now("2026-03-06T15:00:00Z");
    let mut s = open(&path);
    let id = open_incident(&mut s, &p, "203.0.113.7", "2026-03-06T15:00:00Z");
    let mut sched = Scheduler::new(gdpr());
    let incidents = open(&path);
    let r = sched.tick(&incidents, &mut s, now).unwrap();
    assert_eq!(r.planned, vec![(id, "GDPR".to_string())]);
    let steps = s.steps(Some(id), false).unwrap();
    let deadline = step(&steps, "GDPR", "authority_deadline");
    assert_eq!(
        in_zone(deadline.due_at.unwrap(), "Europe/Brussels"),
        "2026-03-09T16:00:00+01:00",
        "72 calendar hours, over the weekend"
    );
    assert_eq!(deadline.state, StepState::Pending);
    // paging on-call and the risk task were due at once: they fired, on time
    let fired: Vec<&str> = r.fired.iter().map(|f| f.firing.step.as_str()).collect();
    assert_eq!(fired, ["page_oncall", "assess_risk"], "{r:#?}");
    assert!(r.fired.iter().all(|f| !f.firing.late));
    // the plan is audited, and so is each firing
    let trail = s.audit(Some(id)).unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"planned"), "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "step_fired").count(), 2);
    assert!(s.verify_audit().unwrap().ok);
}

#[test]
fn downtime_across_due_steps_fires_each_once_marked_late_and_a_restart_does_not_fire_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let p = policy(&[("EU", 1.0)]);
    let now = set_now("2026-03-06T15:00:00Z");
    let mut s = open(&path);
    let id = open_incident(&mut s, &p, "203.0.113.7", "2026-03-06T15:00:00Z");
    let mut sched = Scheduler::new(gdpr());
    sched.tick(&open(&path), &mut s, now).unwrap();
    let before = s.firings(Some(id)).unwrap().len();
    // breachd is down from Friday 16:00 until Tuesday 10:00 Brussels
    let later = set_now("2026-03-10T09:00:00Z");
    let r = sched.tick(&open(&path), &mut s, later).unwrap();
    let by_step = |name: &str| {
        r.fired
            .iter()
            .filter(|f| f.firing.step == name)
            .collect::<Vec<_>>()
    };
    let deadline = by_step("authority_deadline");
    assert_eq!(deadline.len(), 1, "{r:#?}");
    assert!(deadline[0].firing.late);
    // due Monday 16:00, fired Tuesday 10:00: 18 hours late
    assert_eq!(deadline[0].firing.late_secs, 18 * 3600);
    assert_eq!(by_step("draft_authority_notice").len(), 1);
    // the four-hourly chase missed 23 turns: it fires once, then counts on
    let chase = by_step("chase_approval");
    assert_eq!(chase.len(), 1);
    assert!(chase[0].firing.late);
    let steps = s.steps(Some(id), false).unwrap();
    let next = step(&steps, "GDPR", "chase_approval").due_at.unwrap();
    assert_eq!(
        in_zone(next, "Europe/Brussels"),
        "2026-03-10T12:00:00+01:00"
    );
    // the draft is a pending row for legal to approve; the deadline is recorded
    // (no high risk on these facts: the subjects' notice is not drafted)
    assert_eq!(
        s.draft_statuses(id, "GDPR").unwrap(),
        vec!["pending_approval".to_string()]
    );
    let deadlines = s.deadlines(id).unwrap();
    assert_eq!(deadlines.len(), 1);
    assert_eq!(
        in_zone(deadlines[0].due_at, "Europe/Brussels"),
        "2026-03-09T16:00:00+01:00"
    );
    let after_downtime = s.firings(Some(id)).unwrap().len();
    assert_eq!(after_downtime, before + r.fired.len());

    // a restart: a new process, a new store handle, the same instant
    drop(s);
    let mut s = open(&path);
    let mut sched = Scheduler::new(gdpr());
    let r = sched.tick(&open(&path), &mut s, later).unwrap();
    assert!(r.fired.is_empty(), "{r:#?}");
    assert!(r.planned.is_empty(), "a restart plans nothing anew: {r:#?}");
    assert_eq!(s.firings(Some(id)).unwrap().len(), after_downtime);
    // and a second scheduler racing the first on the same due step loses
    let mut other = Scheduler::new(gdpr());
    let mut s2 = open(&path);
    let turn = set_now("2026-03-10T11:00:00Z");
    let a = sched.tick(&open(&path), &mut s, turn).unwrap();
    let b = other.tick(&open(&path), &mut s2, turn).unwrap();
    assert_eq!(a.fired.len() + b.fired.len(), 1, "{a:#?} {b:#?}");
    assert!(s.verify_audit().unwrap().ok);
}

#[test]
fn a_false_positive_cancels_the_steps_that_have_not_fired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let p = policy(&[("EU", 1.0)]);
    let now = set_now("2026-03-06T15:00:00Z");
    let mut s = open(&path);
    let id = open_incident(&mut s, &p, "203.0.113.7", "2026-03-06T15:00:00Z");
    let mut sched = Scheduler::new(gdpr());
    sched.tick(&open(&path), &mut s, now).unwrap();
    let mut inc = open(&path);
    inc.change(
        id,
        &Change::Status {
            to: Status::FalsePositive,
            reason: Some("a load test".into()),
        },
        "alice",
        &p,
    )
    .unwrap();
    let r = sched
        .tick(&open(&path), &mut s, set_now("2026-03-10T09:00:00Z"))
        .unwrap();
    assert!(r.fired.is_empty(), "{r:#?}");
    // the deadline, the draft and the chase had not fired
    assert_eq!(r.cancelled, 3, "{r:#?}");
    let steps = s.steps(Some(id), false).unwrap();
    assert!(steps
        .iter()
        .all(|s| matches!(s.state, StepState::Done | StepState::Cancelled)));
    let trail = s.audit(Some(id)).unwrap();
    assert!(trail.iter().any(|e| e.action == "steps_cancelled"));
}

const V2: &str = "authority_deadline\n    at: {from: aware_at, within: 48 hours}";

#[test]
fn a_playbook_reload_keeps_running_incidents_on_their_version_until_a_person_replans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let p = policy(&[("EU", 1.0)]);
    let now = set_now("2026-03-06T15:00:00Z");
    let mut s = open(&path);
    let first = open_incident(&mut s, &p, "203.0.113.7", "2026-03-06T15:00:00Z");
    let mut sched = Scheduler::new(gdpr());
    sched.tick(&open(&path), &mut s, now).unwrap();
    let v1 = s.plans(Some(first)).unwrap()[0].version.clone();

    // legal edits the GDPR playbook (a stricter internal target) and it is reloaded
    let text = breachd::playbook::SHIPPED
        .iter()
        .find(|(n, _)| n.ends_with("/gdpr.yaml"))
        .unwrap()
        .1
        .replace(
            "authority_deadline\n    at: {from: aware_at, within: 72 hours}",
            V2,
        );
    assert!(text.contains(V2));
    let v2_book = compile(&text, "playbooks/gdpr.yaml", None).unwrap();
    let mut books = gdpr();
    books.retain(|b| b.regime != "GDPR");
    books.push(v2_book.clone());
    // a new process, with the edited playbooks
    let mut sched = Scheduler::new(books);
    let later = set_now("2026-03-06T16:00:00Z");
    let second = open_incident(&mut s, &p, "192.0.2.9", "2026-03-06T15:55:00Z");
    let r = sched.tick(&open(&path), &mut s, later).unwrap();
    assert_eq!(r.planned, vec![(second, "GDPR".to_string())], "{r:#?}");
    assert!(
        r.fired.iter().all(|f| f.firing.incident == second),
        "nothing of the first incident fires again: {r:#?}"
    );
    assert_eq!(s.plans(Some(first)).unwrap()[0].version, v1);
    assert_eq!(s.plans(Some(second)).unwrap()[0].version, v2_book.version);
    let due = |s: &SqliteStore, id| {
        let steps = s.steps(Some(id), false).unwrap();
        in_zone(
            step(&steps, "GDPR", "authority_deadline").due_at.unwrap(),
            "Europe/Brussels",
        )
    };
    assert_eq!(due(&s, first), "2026-03-09T16:00:00+01:00", "v1: 72 hours");
    assert_eq!(due(&s, second), "2026-03-08T17:00:00+01:00", "v2: 48 hours");

    // a person re-plans the first incident: it moves to v2, audited, and
    // the steps that fired stay fired
    let fired_before = s.firings(Some(first)).unwrap().len();
    let moved = sched
        .replan(
            &open(&path),
            &mut s,
            first,
            "dpo",
            "the 48-hour internal target applies",
            later,
        )
        .unwrap();
    assert_eq!(moved, vec!["GDPR".to_string()]);
    assert_eq!(s.plans(Some(first)).unwrap()[0].version, v2_book.version);
    assert_eq!(due(&s, first), "2026-03-08T16:00:00+01:00");
    let r = sched.tick(&open(&path), &mut s, later).unwrap();
    assert!(r.fired.iter().all(|f| f.firing.incident != first), "{r:#?}");
    assert_eq!(s.firings(Some(first)).unwrap().len(), fired_before);
    let trail = s.audit(Some(first)).unwrap();
    let replanned = trail.iter().find(|e| e.action == "replanned").unwrap();
    assert_eq!(replanned.actor, "dpo");
    assert!(replanned.detail.contains("48-hour"), "{}", replanned.detail);
}

#[test]
fn a_new_jurisdiction_adds_its_regime_without_firing_anything_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let now = set_now("2026-03-06T15:00:00Z");
    let mut s = open(&path);
    let id = open_incident(
        &mut s,
        &policy(&[("EU", 1.0)]),
        "203.0.113.7",
        "2026-03-06T15:00:00Z",
    );
    let mut sched = Scheduler::new(gdpr());
    sched.tick(&open(&path), &mut s, now).unwrap();
    let fired = s.firings(Some(id)).unwrap().len();
    // the inventory now knows a share of the subjects live in the UK; the
    // next alert of the attack refreshes the incident's jurisdictions
    let p = policy(&[("EU", 0.7), ("UK", 0.3)]);
    let a = alert(
        "203.0.113.7",
        "2026-03-06T15:20:00Z",
        &[Category::Identity],
        900,
    );
    assert_eq!(s.record_alert(&a, true, &p).unwrap().incident, id);
    let later = set_now("2026-03-06T15:30:00Z");
    let r = sched.tick(&open(&path), &mut s, later).unwrap();
    assert_eq!(r.planned, vec![(id, "UK GDPR".to_string())], "{r:#?}");
    assert!(
        r.fired.iter().all(|f| f.firing.regime == "UK GDPR"),
        "{r:#?}"
    );
    assert_eq!(
        s.firings(Some(id))
            .unwrap()
            .iter()
            .filter(|f| f.firing.regime == "GDPR")
            .count(),
        fired
    );
}

#[test]
fn an_sec_materiality_determination_on_a_thursday_is_due_four_business_days_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let p = policy(&[("US-NY", 1.0)]);
    let now = set_now("2026-11-03T15:00:00Z");
    let mut s = open(&path);
    let id = open_incident(&mut s, &p, "203.0.113.7", "2026-11-03T14:55:00Z");
    let mut sched = Scheduler::new(gdpr()).with_sectors(vec!["sec_registrant".into()]);
    sched.tick(&open(&path), &mut s, now).unwrap();
    let steps = s.steps(Some(id), false).unwrap();
    assert!(
        steps.iter().all(|s| s.step != "filing_deadline"),
        "not material yet: no filing deadline {steps:#?}"
    );
    // determined material Thursday 2026-11-05 at 10:00 New York; Veterans
    // Day (Wednesday 11-11) is a configured holiday: Fri, Mon, Tue, Thu
    let d = breachd::playbook::schedule::Determination {
        determined_at: Some("2026-11-05T15:00:00Z".parse().unwrap()),
        material: true,
    };
    let then = set_now("2026-11-05T15:05:00Z");
    s.determine(id, &d, "cfo", "loss of customer records is material", then)
        .unwrap();
    let r = sched.tick(&open(&path), &mut s, then).unwrap();
    assert_eq!(r.planned, vec![(id, "SEC 8-K".to_string())], "{r:#?}");
    let steps = s.steps(Some(id), false).unwrap();
    assert_eq!(
        in_zone(
            step(&steps, "SEC 8-K", "filing_deadline").due_at.unwrap(),
            "America/New_York"
        ),
        "2026-11-12T10:00:00-05:00"
    );
}

#[test]
fn steps_counted_from_awareness_wait_until_a_person_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let p = Correlation {
        aware: breachd::incident::AwarePolicy::Acknowledgement,
        ..policy(&[("EU", 1.0)])
    };
    let now = set_now("2026-03-06T15:00:00Z");
    let mut s = open(&path);
    let id = open_incident(&mut s, &p, "203.0.113.7", "2026-03-06T15:00:00Z");
    let mut sched = Scheduler::new(gdpr());
    let r = sched.tick(&open(&path), &mut s, now).unwrap();
    // paging counts from detection; the rest waits for awareness
    let fired: Vec<&str> = r.fired.iter().map(|f| f.firing.step.as_str()).collect();
    assert_eq!(fired, ["page_oncall"], "{r:#?}");
    let steps = s.steps(Some(id), false).unwrap();
    let deadline = step(&steps, "GDPR", "authority_deadline");
    assert_eq!(deadline.state, StepState::Waiting);
    assert_eq!(deadline.due_at, None);
    // acknowledged Saturday 10:00 Brussels: due Tuesday 10:00
    let ack = set_now("2026-03-07T09:00:00Z");
    let mut inc = open(&path);
    inc.change(
        id,
        &Change::Status {
            to: Status::Acknowledged,
            reason: None,
        },
        "alice",
        &p,
    )
    .unwrap();
    let r = sched.tick(&open(&path), &mut s, ack).unwrap();
    let fired: Vec<&str> = r.fired.iter().map(|f| f.firing.step.as_str()).collect();
    // (the chase, due Friday 20:00, fires once, late, before it)
    assert_eq!(fired, ["chase_approval", "assess_risk"], "{r:#?}");
    let steps = s.steps(Some(id), false).unwrap();
    let deadline = step(&steps, "GDPR", "authority_deadline");
    assert_eq!(deadline.state, StepState::Pending);
    assert_eq!(
        in_zone(deadline.due_at.unwrap(), "Europe/Brussels"),
        "2026-03-10T10:00:00+01:00"
    );
}
