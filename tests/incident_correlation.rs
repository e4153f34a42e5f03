//! Correlation seen from the alert lines of `breachd replay`: which alerts
//! share an incident when two attacks on one login page overlap in time.

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use common::*;

const INVENTORY: &str = r#"resources:
  - pattern: "/login"
    methods: [POST]
    kind: login
  - pattern: "/api/customers/{id}"
    methods: [GET]
    categories: [identity, contact]
    sensitivity: high
    subject_param: id
subjects:
  total: 5000
"#;

/// App audit log lines, `t` in seconds from 2026-03-10T00:00:00Z.
#[derive(Default)]
struct Log(Vec<(i64, String)>);

impl Log {
    fn add(&mut self, t: i64, user: &str, ip: &str, path: &str, status: u16) {
        let ts = jiff::Timestamp::from_second(1_773_100_800 + t).unwrap();
        let mut line = String::new();
        let _ = write!(
            line,
            r#"{{"ts":"{ts}","user":"{user}","role":"customer","ip":"{ip}","method":"{}","path":"{path}","status":{status},"bytes":500,"records":0,"subjects":[],"session":"-"}}"#,
            if path == "/login" { "POST" } else { "GET" }
        );
        self.0.push((t, line));
    }

    fn replay(mut self) -> Vec<serde_json::Value> {
        self.0.sort_by_key(|(t, _)| *t);
        let dir = tempfile::tempdir().unwrap();
        let text: String = self.0.iter().map(|(_, l)| format!("{l}\n")).collect();
        std::fs::write(dir.path().join("app.jsonl"), text).unwrap();
        std::fs::write(dir.path().join("inventory.yaml"), INVENTORY).unwrap();
        replay_alerts(dir.path(), &["--inventory", "inventory.yaml", "app.jsonl"])
    }
}

fn values(a: &serde_json::Value, kind: &str) -> Vec<String> {
    a["entities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| e["value"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_brute_force_on_one_account_during_a_stuffing_campaign_is_its_own_incident() {
    let mut log = Log::default();
    // ten quiet hours: forty customers log in and read their record
    for h in 0..10 {
        for c in 0..40 {
            let (t, user, ip) = (
                h * 3600 + c * 60,
                format!("cust{c}"),
                format!("198.51.100.{c}"),
            );
            log.add(t, &user, &ip, "/login", 200);
            log.add(
                t + 5,
                &user,
                &ip,
                &format!("/api/customers/{}", 1000 + c),
                200,
            );
        }
    }
    // a stuffing list from 300 addresses, one try per leaked pair, two pairs each
    for i in 0..300 {
        let ip = format!("203.0.{}.{}", i / 200, i % 200 + 1);
        log.add(10 * 3600 + i * 12, &format!("leak{i}a"), &ip, "/login", 401);
        log.add(11 * 3600 + i * 12, &format!("leak{i}b"), &ip, "/login", 401);
    }
    // meanwhile three addresses guess one customer's password, every ten minutes
    for k in 0..20 {
        for a in 1..=3 {
            let t = 10 * 3600 + 100 + k * 600 + a * 30;
            log.add(t, "cust7", &format!("192.0.2.{a}"), "/login", 401);
        }
    }
    let alerts = log.replay();
    let surge: Vec<_> = alerts
        .iter()
        .filter(|a| a["detector"] == "login_failure_surge")
        .collect();
    assert_eq!(surge.len(), 1, "{alerts:#?}");
    let named = values(surge[0], "ip");
    assert!(
        named.len() >= 300,
        "the campaign's addresses: {}",
        named.len()
    );
    assert!(
        !named.iter().any(|ip| ip.starts_with("192.0.2.")),
        "the guessers of one account are not the campaign's: {named:?}"
    );
    let guessing: Vec<_> = alerts
        .iter()
        .filter(|a| a["detector"] == "password_guessing_run")
        .collect();
    assert_eq!(guessing.len(), 3, "{alerts:#?}");
    for g in &guessing {
        assert_eq!(values(g, "user"), ["cust7"], "the account it went for: {g}");
    }
    let incidents: BTreeSet<&str> = guessing
        .iter()
        .map(|g| g["incident"].as_str().unwrap())
        .collect();
    assert_eq!(
        incidents.len(),
        1,
        "one brute force, one incident: {incidents:?}"
    );
    assert_ne!(
        surge[0]["incident"], guessing[0]["incident"],
        "the stuffing campaign is another incident"
    );
    // the surge reports the addresses it took out, together, by their victim
    let apart: Vec<_> = alerts
        .iter()
        .filter(|a| a["detector"] == "login_failure_surge_guessers")
        .collect();
    assert_eq!(apart.len(), 1, "{alerts:#?}");
    assert_eq!(values(apart[0], "user"), ["cust7"]);
    let mut ips = values(apart[0], "ip");
    ips.sort();
    assert_eq!(ips, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
    assert_eq!(apart[0]["incident"], guessing[0]["incident"]);
}
