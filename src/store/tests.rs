//! The store on its own: correlation, idempotence, lifecycle, audit.

use super::SqliteStore;
use crate::classify::{Categories, Category};
use crate::detect::alert::{Alert, Entity, EntityType, Severity};
use crate::incident::{
    AwarePolicy, Change, Correlation, IncidentId, IncidentStore, ListFilter, Status, StoreError,
};

fn t(s: &str) -> crate::parse::EventTime {
    crate::parse::time::parse_rfc3339(s).unwrap()
}

fn alert(
    detector: &str,
    ents: &[(EntityType, &str)],
    start: &str,
    end: &str,
    subjects: u64,
) -> Alert {
    Alert {
        detector: detector.into(),
        entities: ents
            .iter()
            .map(|(k, v)| Entity {
                kind: *k,
                value: v.to_string(),
            })
            .collect(),
        start: t(start),
        end: t(end),
        detected_at: t(start),
        severity: Severity::High,
        incident: None,
        subjects,
        categories: [Category::Identity].into_iter().collect::<Categories>(),
        events: 10,
        summary: format!("{detector} test"),
        exposed: Default::default(),
    }
}

use EntityType::{Ip, User};

#[test]
fn recording_the_same_alert_twice_changes_nothing() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation::default();
    let a = alert(
        "brute_force",
        &[(Ip, "203.0.113.7")],
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:05:00Z",
        0,
    );
    let r1 = s.record_alert(&a, true, &p).unwrap();
    let audit_before = s.audit(None).unwrap().len();
    let r2 = s.record_alert(&a, true, &p).unwrap();
    assert!(r1.opened && r1.new_alert);
    assert_eq!(r2.incident, r1.incident);
    assert!(!r2.opened && !r2.new_alert);
    assert_eq!(s.audit(None).unwrap().len(), audit_before);
    let all = s.list(&ListFilter::default()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].alerts, 1);
}

#[test]
fn a_campaign_and_the_takeover_from_one_of_its_addresses_are_one_incident() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation::default();
    let ips: Vec<String> = (1..=300)
        .map(|i| format!("198.51.{}.{}", i / 250, i % 250))
        .collect();
    let ents: Vec<(EntityType, &str)> = ips.iter().map(|i| (Ip, i.as_str())).collect();
    let campaign = alert(
        "credential_stuffing",
        &ents,
        "2026-03-02T10:00:00Z",
        "2026-03-02T11:00:00Z",
        3,
    );
    let takeover = alert(
        "account_takeover",
        &[(User, "alice"), (Ip, ips[120].as_str())],
        "2026-03-02T10:40:00Z",
        "2026-03-02T12:00:00Z",
        1,
    );
    let insider = alert(
        "insider",
        &[(User, "bob")],
        "2026-03-02T09:00:00Z",
        "2026-03-02T17:00:00Z",
        400,
    );
    let a = s.record_alert(&campaign, true, &p).unwrap();
    let b = s.record_alert(&takeover, true, &p).unwrap();
    let c = s.record_alert(&insider, true, &p).unwrap();
    assert_eq!(a.incident, b.incident);
    assert!(!b.opened);
    assert_ne!(c.incident, a.incident);
    let d = s.get(a.incident).unwrap();
    assert_eq!(d.incident.alerts, 2);
    assert_eq!(d.incident.subjects, 3);
    assert_eq!(
        d.incident.subjects_upper, 4,
        "the takeover's account may be another"
    );
    assert_eq!(d.incident.subjects_confidence, "medium");
    assert_aggregates_consistent(&mut s, &p);
    assert_eq!(d.entities.len() as u64 + d.entities_more, 301);
    // the same account a week later is a new attack
    let later = alert(
        "account_takeover",
        &[(User, "alice")],
        "2026-03-09T10:00:00Z",
        "2026-03-09T10:10:00Z",
        1,
    );
    assert!(s.record_alert(&later, true, &p).unwrap().opened);
}

#[test]
fn an_alert_still_open_at_a_crash_is_continued_not_duplicated() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation::default();
    let first = alert(
        "mass_access",
        &[(User, "eve")],
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:10:00Z",
        50,
    );
    let r = s.record_alert(&first, false, &p).unwrap();
    // after a restart the detector fires again on the re-read lines, later
    let mut again = alert(
        "mass_access",
        &[(User, "eve")],
        "2026-03-02T10:02:00Z",
        "2026-03-02T10:30:00Z",
        80,
    );
    again.detected_at = t("2026-03-02T10:20:00Z");
    let r2 = s.record_alert(&again, true, &p).unwrap();
    assert_eq!(r2.incident, r.incident);
    assert!(!r2.new_alert);
    let d = s.get(r.incident).unwrap();
    assert_eq!(d.evidence.len(), 1);
    assert!(!d.evidence[0].open);
    assert_eq!(d.incident.subjects, 80);
    assert_eq!(d.incident.end, t("2026-03-02T10:30:00Z"));
}

#[test]
fn lifecycle_moves_forward_and_every_change_is_audited() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation {
        aware: AwarePolicy::Acknowledgement,
        ..Correlation::default()
    };
    let a = alert(
        "brute_force",
        &[(Ip, "203.0.113.7")],
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:05:00Z",
        0,
    );
    let id = s.record_alert(&a, true, &p).unwrap().incident;
    assert!(s.get(id).unwrap().incident.aware.is_none());
    let ack = Change::Status {
        to: Status::Acknowledged,
        reason: None,
    };
    assert!(s.change(id, &ack, "carol", &p).unwrap());
    let i = s.get(id).unwrap().incident;
    assert_eq!(i.status, Status::Acknowledged);
    assert_eq!(i.aware.as_ref().unwrap().by, "carol");
    match s.change(id, &ack, "carol", &p) {
        Err(StoreError::Refused(m)) => assert!(m.contains("already acknowledged"), "{m}"),
        other => panic!("{other:?}"),
    }
    s.change(id, &Change::Note("blocked at the edge".into()), "carol", &p)
        .unwrap();
    s.change(id, &Change::Assign("dave".into()), "carol", &p)
        .unwrap();
    let actions: Vec<String> = s
        .audit(Some(id))
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["opened", "status", "aware", "note", "assign"]);
    assert!(s.verify_audit().unwrap().ok);
    assert!(matches!(
        s.get(IncidentId(99)),
        Err(StoreError::NotFound(_))
    ));
    // contained straight from open: whoever contained it was aware of it
    let b = alert(
        "brute_force",
        &[(Ip, "192.0.2.1")],
        "2026-03-05T10:00:00Z",
        "2026-03-05T10:05:00Z",
        0,
    );
    let ib = s.record_alert(&b, true, &p).unwrap().incident;
    let contain = Change::Status {
        to: Status::Contained,
        reason: Some("blocked".into()),
    };
    s.change(ib, &contain, "erin", &p).unwrap();
    assert_eq!(s.get(ib).unwrap().incident.aware.unwrap().by, "erin");
}

#[test]
fn merge_and_split_move_alerts_and_are_audited() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation::default();
    let a = alert(
        "brute_force",
        &[(Ip, "203.0.113.7")],
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:05:00Z",
        0,
    );
    let b = alert(
        "sqli_probe",
        &[(Ip, "203.0.113.99")],
        "2026-03-02T10:01:00Z",
        "2026-03-02T10:06:00Z",
        0,
    );
    let ia = s.record_alert(&a, true, &p).unwrap().incident;
    let ib = s.record_alert(&b, true, &p).unwrap().incident;
    s.merge(ia, ib, "carol", "same actor", &p).unwrap();
    assert_eq!(s.get(ia).unwrap().incident.alerts, 2);
    assert_eq!(s.get(ib).unwrap().incident.merged_into, Some(ia));
    assert_aggregates_consistent(&mut s, &p);
    assert_eq!(s.list(&ListFilter::default()).unwrap().len(), 1);
    let key = crate::incident::alert_key(&b);
    let ic = s
        .split(ia, &[key], "carol", "not the same after all", &p)
        .unwrap();
    assert_eq!(s.get(ia).unwrap().incident.alerts, 1);
    assert_eq!(s.get(ic).unwrap().incident.alerts, 1);
    // a later alert from the split-off address joins the split-off incident
    let b2 = alert(
        "sqli_probe",
        &[(Ip, "203.0.113.99")],
        "2026-03-02T10:30:00Z",
        "2026-03-02T10:35:00Z",
        0,
    );
    assert_eq!(s.record_alert(&b2, true, &p).unwrap().incident, ic);
    assert!(s.verify_audit().unwrap().ok);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breachd.db");
    drop(SqliteStore::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let e = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(e, StoreError::NewerSchema { found: 99, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade breachd"), "{e}");
}

#[test]
fn an_address_a_campaign_stops_naming_no_longer_links_to_its_incident() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation::default();
    let mut surge = alert(
        "login_failure_surge",
        &[
            (EntityType::Resource, "/login"),
            (Ip, "198.51.100.1"),
            (Ip, "198.51.100.2"),
            (Ip, "192.0.2.9"),
        ],
        "2026-03-02T10:00:00Z",
        "2026-03-02T11:00:00Z",
        0,
    );
    let campaign = s.record_alert(&surge, false, &p).unwrap().incident;
    // at its close the surge no longer names the guesser of one account
    surge.entities.retain(|e| e.value != "192.0.2.9");
    surge.end = t("2026-03-02T11:30:00Z");
    assert_eq!(s.record_alert(&surge, true, &p).unwrap().incident, campaign);
    let guess = alert(
        "password_guessing_run",
        &[(Ip, "192.0.2.9"), (User, "cust7")],
        "2026-03-02T10:10:00Z",
        "2026-03-02T12:00:00Z",
        0,
    );
    let r = s.record_alert(&guess, true, &p).unwrap();
    assert!(r.opened, "the guesser is its own incident");
    assert_ne!(r.incident, campaign);
    let still = alert(
        "account_takeover_by_address",
        &[(Ip, "198.51.100.2")],
        "2026-03-02T10:40:00Z",
        "2026-03-02T10:41:00Z",
        1,
    );
    assert_eq!(s.record_alert(&still, true, &p).unwrap().incident, campaign);
}

#[test]
fn a_time_edited_into_garbage_is_an_error_naming_its_row_not_1970() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breachd.db");
    let mut s = SqliteStore::open(&path).unwrap();
    let p = Correlation::default();
    let a = alert(
        "brute_force",
        &[(Ip, "203.0.113.7")],
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:05:00Z",
        0,
    );
    let id = s.record_alert(&a, true, &p).unwrap().incident;
    s.change(id, &Change::Note("looked".into()), "ana", &p)
        .unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute("UPDATE notes SET at = 'yesterday'", []).unwrap();
    let e = s.get(id).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("table notes, row 1, column at: `yesterday`"),
        "{text}"
    );
    c.execute("UPDATE incidents SET opened_at = '2026-13-45'", [])
        .unwrap();
    let e = s.list(&ListFilter::default()).unwrap_err().to_string();
    assert!(
        e.contains("table incidents, row 1, column opened_at: `2026-13-45`"),
        "{e}"
    );
    assert!(e.contains("restore it from a backup"), "{e}");
}

#[test]
fn an_alert_naming_several_incidents_entities_merges_them_and_two_detectors_on_one_line_join() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation::default();
    let one = alert(
        "credential_stuffing",
        &[(Ip, "198.51.100.1")],
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:20:00Z",
        0,
    );
    let two = alert(
        "credential_stuffing",
        &[(Ip, "198.51.100.2")],
        "2026-03-02T10:01:00Z",
        "2026-03-02T10:21:00Z",
        0,
    );
    let i1 = s.record_alert(&one, true, &p).unwrap().incident;
    let i2 = s.record_alert(&two, true, &p).unwrap().incident;
    assert_ne!(i1, i2);
    let surge = alert(
        "login_failure_surge",
        &[(Ip, "198.51.100.1"), (Ip, "198.51.100.2")],
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:30:00Z",
        0,
    );
    assert_eq!(s.record_alert(&surge, true, &p).unwrap().incident, i1);
    assert_eq!(s.get(i2).unwrap().incident.merged_into, Some(i1));
    assert_eq!(s.get(i1).unwrap().incident.alerts, 3);
    // the address's failures and the account's, read from the same lines
    let by_ip = alert(
        "brute_force",
        &[(Ip, "203.0.113.50")],
        "2026-03-03T09:37:28.886Z",
        "2026-03-03T09:50:08.927Z",
        0,
    );
    let by_user = alert(
        "slow_password_guessing",
        &[(User, "cust1")],
        "2026-03-03T09:37:28.886Z",
        "2026-03-03T09:50:08.927Z",
        2,
    );
    let a = s.record_alert(&by_ip, true, &p).unwrap().incident;
    assert_eq!(s.record_alert(&by_user, true, &p).unwrap().incident, a);
    // the takeover chain that starts at the login the address's sequence fired on
    let mut seq = alert(
        "account_takeover_by_address",
        &[(Ip, "203.0.113.60")],
        "2026-03-04T04:04:42Z",
        "2026-03-04T04:07:01Z",
        1,
    );
    seq.detected_at = t("2026-03-04T04:07:01Z");
    let chain = alert(
        "account_takeover_changes",
        &[(User, "cust2")],
        "2026-03-04T04:07:01Z",
        "2026-03-04T04:07:52Z",
        2,
    );
    let b = s.record_alert(&seq, true, &p).unwrap().incident;
    assert_ne!(b, a);
    assert_eq!(s.record_alert(&chain, true, &p).unwrap().incident, b);
    assert!(s.verify_audit().unwrap().ok);
}

/// The incident aggregates the incremental path keeps equal a recompute
/// from all alerts.
fn assert_aggregates_consistent(s: &mut SqliteStore, p: &Correlation) {
    let strip = |mut v: Vec<crate::incident::Incident>| {
        for i in &mut v {
            i.updated_at = jiff::Timestamp::UNIX_EPOCH;
        }
        v
    };
    let all = ListFilter {
        all: true,
        ..Default::default()
    };
    let before = strip(s.list(&all).unwrap());
    s.refresh_all(p);
    let after = strip(s.list(&all).unwrap());
    assert_eq!(before, after);
}

#[test]
fn a_campaign_of_thousands_of_alerts_is_recorded_consistently() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation::default();
    // (its cost is not timed here: timing belongs in benchmarks, not in a
    // unit test on a shared machine)
    for i in 0..3000u32 {
        let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
        let mut a = alert(
            "credential_stuffing",
            &[(Ip, ip.as_str()), (User, "victim")],
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:05:00Z",
            (i % 7) as u64,
        );
        a.detected_at.unix_micros += i as i64;
        a.start.unix_micros += i as i64 * 7;
        if i % 3 == 0 {
            a.severity = Severity::Critical;
        }
        s.record_alert(&a, i % 2 == 0, &p).unwrap();
        if i % 2 == 1 {
            // grows, then closes
            a.end.unix_micros += 60_000_000;
            a.subjects += 3;
            s.record_alert(&a, true, &p).unwrap();
        }
    }
    let list = s.list(&ListFilter::default()).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].alerts, 3000);
    assert_aggregates_consistent(&mut s, &p);
}

/// `alert(...)` exposing these subject ids.
fn exposing(mut a: Alert, ids: &[&str]) -> Alert {
    a.subjects = ids.len() as u64;
    a.exposed.ids = ids.iter().map(|s| (*s).into()).collect();
    a
}

fn stored_ids(s: &SqliteStore, id: IncidentId) -> Vec<String> {
    s.subject_ids(id)
        .unwrap()
        .into_iter()
        .map(|e| e.subject)
        .collect()
}

#[test]
fn exposed_subject_ids_follow_their_alerts_through_merge_and_split() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation::default();
    let a = exposing(
        alert(
            "mass_access",
            &[(User, "mallory")],
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:05:00Z",
            0,
        ),
        &["c-1", "c-2", "c-3"],
    );
    let b = exposing(
        alert(
            "mass_access",
            &[(User, "trudy")],
            "2026-03-02T10:01:00Z",
            "2026-03-02T10:06:00Z",
            0,
        ),
        &["c-3", "c-4"],
    );
    let ia = s.record_alert(&a, true, &p).unwrap().incident;
    let ib = s.record_alert(&b, true, &p).unwrap().incident;
    assert_ne!(ia, ib);
    let d = s.get(ia).unwrap();
    assert_eq!((d.subject_ids, d.subject_ids_incomplete), (3, false));
    assert_eq!(d.incident.subjects, 3);
    assert!(d.incident.subjects_basis.starts_with("counted"));

    s.merge(ia, ib, "carol", "same actor", &p).unwrap();
    assert_eq!(stored_ids(&s, ia), ["c-1", "c-2", "c-3", "c-4"]);
    assert!(stored_ids(&s, ib).is_empty());
    let d = s.get(ia).unwrap().incident;
    assert_eq!(
        (d.subjects, d.subjects_upper, d.subjects_confidence.as_str()),
        (4, 4, "high"),
        "the union of the ids, not the largest alert's 3 nor the sum's 5"
    );

    let ic = s
        .split(ia, &[crate::incident::alert_key(&b)], "carol", "apart", &p)
        .unwrap();
    // c-3 was first named by mallory's alert, so it stays with it
    assert_eq!(stored_ids(&s, ia), ["c-1", "c-2", "c-3"]);
    assert_eq!(stored_ids(&s, ic), ["c-4"]);
    assert_eq!(s.get(ia).unwrap().incident.subjects, 3);
    assert!(s.verify_audit().unwrap().ok);
}

#[test]
fn the_id_cap_marks_the_list_incomplete_and_keeps_the_estimate() {
    let mut s = SqliteStore::in_memory();
    let p = Correlation {
        max_subject_ids: 2,
        ..Correlation::default()
    };
    let a = exposing(
        alert(
            "mass_access",
            &[(User, "mallory")],
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:05:00Z",
            0,
        ),
        &["c-1", "c-2", "c-3"],
    );
    let i = s.record_alert(&a, true, &p).unwrap().incident;
    let d = s.get(i).unwrap();
    assert_eq!((d.subject_ids, d.subject_ids_incomplete), (2, true));
    assert_eq!(
        d.incident.subjects, 3,
        "the alert's count, not the 2 stored"
    );
    assert!(!d.incident.subjects_basis.starts_with("counted"));
}
