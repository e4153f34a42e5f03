//! A rules reload mid-attack keeps what the detectors learned: the daemon
//! tails a log, one unrelated rule's threshold is edited and SIGHUP sent
//! while a scraper is being caught; the scraper's alert grows on (one alert,
//! fired before the reload, ending at its last read after it), and a
//! baseline that learned a clerk's normal before the reload judges the
//! clerk's surge after it without learning again.

mod api_common;
mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use api_common::strip_ansi;
use common::*;

const CONFIG: &str = "data_dir = \"data\"\n[[source]]\nname = \"app\"\npaths = [\"logs/*.jsonl\"]\npoll_interval = \"50ms\"\n[pipeline]\ncheckpoint_interval = \"100ms\"\n[events]\npath = \"events.jsonl\"\n[detect]\ninventory = \"inventory.yaml\"\nrules = \"rules.yaml\"\n";

/// The portal's bulk-read rule, a per-user baseline of reads in 10-minute
/// buckets (judged only against the user's own history, 3 buckets of it),
/// and an unrelated rule on refused requests whose threshold is edited.
fn rules(refused_threshold: u32) -> String {
    format!(
        r#"rules:
  - name: bulk_customer_reads
    detector: distinct
    match: {{has_subject: true, outcome: [success], min_sensitivity: medium}}
    key: [user]
    distinct: subject
    window: 1h
    threshold: 50
    severity: high
  - name: customer_reads_surge
    detector: baseline
    match: {{has_subject: true, outcome: [success]}}
    key: [user]
    measure: events
    bucket: 10m
    window: 30d
    factor: 3
    floor: 10
    peers: none
    min_history: 3
    severity: medium
  - name: refused_requests
    detector: threshold
    match: {{outcome: [failure, denied]}}
    key: [ip]
    window: 10m
    threshold: {refused_threshold}
    severity: low
"#
    )
}

/// A read of customer `customer` by `user` at `t`.
fn read(t: jiff::Timestamp, user: &str, customer: u32) -> String {
    format!(
        "{{\"ts\":\"{t}\",\"user\":\"{user}\",\"role\":\"staff\",\"ip\":\"198.51.100.7\",\"method\":\"GET\",\"path\":\"/api/customers/{customer}\",\"status\":200,\"bytes\":900,\"records\":1,\"subjects\":[],\"session\":\"s-{user}\"}}\n"
    )
}

fn append(root: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("logs/app.jsonl"))
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn events(root: &Path) -> usize {
    std::fs::read_to_string(root.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .count()
}

fn reloads(root: &Path) -> usize {
    strip_ansi(&daemon_log(root))
        .matches("reloaded inventory, rules, playbooks and templates")
        .count()
}

fn time(v: &serde_json::Value) -> jiff::Timestamp {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn a_rules_edit_mid_attack_extends_the_alert_and_keeps_learned_baselines() {
    use jiff::ToSpan;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    write_customer_portal(root);
    std::fs::write(root.join("rules.yaml"), rules(5)).unwrap();
    std::fs::write(root.join("breachd.toml"), CONFIG).unwrap();
    // event time three hours back, on a bucket boundary
    let now = jiff::Timestamp::now().as_second();
    let t0 = jiff::Timestamp::from_second((now - 3 * 3600) / 600 * 600).unwrap();

    // before: the clerk's normal (5 reads per 10 minutes for 40 minutes),
    // then the scraper's first 60 distinct customers (the alert opens at 50)
    let mut before = String::new();
    for b in 0..4 {
        for i in 0..5 {
            before.push_str(&read(t0 + (b * 600 + i * 60).seconds(), "clerk", i as u32));
        }
    }
    for n in 0..60 {
        before.push_str(&read(
            t0 + (2400 + n * 5).seconds(),
            "scraper",
            1000 + n as u32,
        ));
    }
    append(root, &before);
    let child = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(30, || events(root) == 80), "{}", daemon_log(root));
    assert!(
        wait_for(20, || strip_ansi(&daemon_log(root))
            .contains("detector=bulk_customer_reads")),
        "the scraper's alert did not open:\n{}",
        daemon_log(root)
    );

    // an unrelated rule's threshold is edited, then SIGHUP mid-attack
    std::fs::write(root.join("rules.yaml"), rules(7)).unwrap();
    assert!(Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(wait_for(20, || reloads(root) == 1), "{}", daemon_log(root));
    assert!(
        strip_ansi(&daemon_log(root)).contains("rules_changed=true"),
        "{}",
        daemon_log(root)
    );

    // after: the scraper's next 20 customers, then the clerk reading 40 in
    // one bucket (8 times its norm), then one read in the next bucket
    let mut after = String::new();
    for n in 0..20 {
        after.push_str(&read(
            t0 + (2700 + n * 5).seconds(),
            "scraper",
            1060 + n as u32,
        ));
    }
    for i in 0..40 {
        after.push_str(&read(
            t0 + (3000 + i * 10).seconds(),
            "clerk",
            (i % 5) as u32,
        ));
    }
    after.push_str(&read(t0 + 3700.seconds(), "clerk", 0));
    append(root, &after);
    assert!(wait_for(30, || events(root) == 141), "{}", daemon_log(root));
    let surged = wait_for(20, || {
        strip_ansi(&daemon_log(root)).contains("detector=customer_reads_surge")
    });
    let log = daemon_log(root);
    terminate(child);

    let alerts: Vec<serde_json::Value> = std::fs::read_to_string(root.join("data/alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bulk: Vec<_> = alerts
        .iter()
        .filter(|a| a["detector"] == "bulk_customer_reads")
        .collect();
    assert_eq!(
        bulk.len(),
        1,
        "one alert for the whole attack, not re-opened or cut at the reload: {alerts:#?}"
    );
    let a = bulk[0];
    assert_eq!(a["entities"][0]["value"], "scraper");
    // fired before the reload, on the 50th distinct customer
    assert_eq!(time(&a["detected_at"]), t0 + (2400 + 49 * 5).seconds());
    // grew after it, to the scraper's last read
    assert_eq!(time(&a["end"]), t0 + (2700 + 19 * 5).seconds());
    assert_eq!(a["subjects"], 80, "{a:#}");
    assert!(
        surged,
        "the clerk's learned baseline was lost across the reload (no surge alert):\n{log}"
    );
    let surge: Vec<_> = alerts
        .iter()
        .filter(|a| a["detector"] == "customer_reads_surge")
        .collect();
    assert_eq!(surge.len(), 1, "{alerts:#?}");
    assert_eq!(surge[0]["entities"][0]["value"], "clerk");
    assert!(time(&surge[0]["detected_at"]) >= t0 + 3000.seconds());
}
