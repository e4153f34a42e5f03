//! The daemon runs the playbooks: `breachd run` opens an incident from the
//! logs, plans its GDPR steps in the same loop turn and fires what is due;
//! a restart fires nothing twice. The daemon's clock is moved with the
//! test-only `BREACHD_NOW`.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;
use jiff::{Timestamp, ToSpan};

const CONFIG: &str = r#"data_dir = "data"
[[source]]
paths = ["logs/*.jsonl"]
poll_interval = "50ms"
[pipeline]
checkpoint_interval = "100ms"
[detect]
inventory = "inventory.yaml"
rules = "rules.yaml"
"#;

fn setup(dir: &Path) {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("breachd.toml"), CONFIG).unwrap();
    write_customer_portal(dir);
    let start = Timestamp::now() - 10.minutes();
    let mut s = String::new();
    for i in 0..120 {
        let ts = start + (i as i64).seconds();
        let _ = writeln!(
            s,
            r#"{{"ts":"{ts}","user":"scraper","role":"customer","ip":"203.0.113.9","method":"GET","path":"/api/customers/{}","status":200,"bytes":900,"records":1,"subjects":[],"session":"s-1"}}"#,
            1000 + i
        );
    }
    std::fs::write(dir.join("logs/app.jsonl"), s).unwrap();
}

/// `breachd run` with its clock at `now`.
fn daemon(dir: &Path, now: Timestamp) -> Child {
    Command::new(bin())
        .args(["run", "--config", "breachd.toml"])
        .current_dir(dir)
        .env("BREACHD_LOG", "info")
        .env("BREACHD_NOW", now.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("daemon.log"))
                .unwrap(),
        ))
        .spawn()
        .expect("breachd starts")
}

fn firings(dir: &Path) -> Vec<serde_json::Value> {
    if !dir.join("data/breachd.db").exists() {
        return Vec::new();
    }
    let out = run(
        dir,
        &["audit", "--config", "breachd.toml", "--json", "show"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trail: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    trail
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["action"] == "step_fired")
        .collect()
}

fn step_of(e: &serde_json::Value) -> String {
    let d: serde_json::Value = serde_json::from_str(e["detail"].as_str().unwrap()).unwrap();
    d["step"].as_str().unwrap().to_string()
}

#[test]
fn the_daemon_plans_and_fires_each_due_step_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    // the daemon's clock stands four days ahead: every one-off GDPR step is
    // due (the four-hourly chase counts from when the plan was made)
    let now = Timestamp::now() + 96.hours();
    let child = daemon(d, now);
    let all_fired = wait_for(30, || {
        let f: Vec<String> = firings(d).iter().map(step_of).collect();
        f.contains(&"authority_deadline".to_string())
    });
    terminate(child);
    assert!(all_fired, "{}", daemon_log(d));
    let first = firings(d);
    let mut steps: Vec<String> = first.iter().map(step_of).collect();
    steps.sort();
    assert_eq!(
        steps,
        [
            "assess_risk",
            "authority_deadline",
            "draft_authority_notice",
            "page_oncall"
        ],
        "{}",
        daemon_log(d)
    );
    assert!(daemon_log(d).contains("playbook step fired"));

    // a restart at the same instant fires nothing again
    let child = daemon(d, now);
    let restarted = wait_for(10, || daemon_log(d).matches("breachd running").count() >= 2);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    terminate(child);
    assert!(restarted, "{}", daemon_log(d));
    assert_eq!(firings(d).len(), first.len(), "{}", daemon_log(d));
}
