//! The playbook clock as a user meets it, through the real binary: replay
//! opens an incident in a SQLite store, `breachd incident timeline` shows the
//! GDPR steps and deadlines in the viewer's zone, and `breachd schedule tick`
//! (moved in time with the test-only `BREACHD_NOW`) fires due steps exactly
//! once across separate processes.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use jiff::{Timestamp, ToSpan};

/// A scraper reads 120 customers' records, one a second, ending an hour ago.
fn scenario(dir: &Path) {
    let start = Timestamp::now() - 2.hours();
    let mut s = String::new();
    for i in 0..120 {
        let ts = start + (i as i64).seconds();
        let _ = writeln!(
            s,
            r#"{{"ts":"{ts}","user":"scraper","role":"customer","ip":"203.0.113.9","method":"GET","path":"/api/customers/{}","status":200,"bytes":900,"records":1,"subjects":[],"session":"s-1"}}"#,
            1000 + i
        );
    }
    std::fs::write(dir.join("app.jsonl"), s).unwrap();
    write_customer_portal(dir);
}

/// `breachd ARGS` with the test-only clock set to `now`.
fn at(dir: &Path, now: Timestamp, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("BREACHD_LOG", "warn")
        .env("BREACHD_NOW", now.to_string())
        .output()
        .expect("breachd runs")
}

fn json(dir: &Path, now: Timestamp, args: &[&str]) -> serde_json::Value {
    let mut full = args.to_vec();
    full.push("--json");
    let out = at(dir, now, &full);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tick(dir: &Path, now: Timestamp) -> serde_json::Value {
    json(dir, now, &["schedule", "--store", "s.db", "tick"])
}

fn fired(report: &serde_json::Value) -> Vec<String> {
    report["fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["step"].as_str().unwrap().to_string())
        .collect()
}

fn row<'a>(timeline: &'a serde_json::Value, step: &str) -> &'a serde_json::Value {
    timeline["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["step"] == step)
        .unwrap_or_else(|| panic!("no {step} in {timeline:#}"))
}

#[test]
fn replay_opens_a_gdpr_incident_whose_timeline_shows_the_deadline_and_ticks_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scenario(d);
    let alerts = replay_alerts(
        d,
        &[
            "--inventory",
            "inventory.yaml",
            "--rules",
            "rules.yaml",
            "--store",
            "s.db",
            "app.jsonl",
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let id = alerts[0]["incident"].as_str().unwrap().to_string();
    let show = json(
        d,
        Timestamp::now(),
        &["incident", "--store", "s.db", "show", &id],
    );
    let aware: Timestamp = show["aware"]["at"].as_str().unwrap().parse().unwrap();
    let deadline = aware + 72.hours();
    let paris = |t: Timestamp| {
        t.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string()
    };

    // before any scheduler ran: the timeline previews what will be planned
    let t0 = aware + 1.minute();
    let tl = json(
        d,
        t0,
        &[
            "incident",
            "--store",
            "s.db",
            "timeline",
            &id,
            "--tz",
            "Europe/Paris",
        ],
    );
    assert_eq!(tl["zone"], "Europe/Paris");
    assert_eq!(row(&tl, "authority_deadline")["status"], "preview");

    // the first tick plans GDPR and fires what is due at once
    let r = tick(d, t0);
    assert_eq!(r["planned"][0][1], "GDPR", "{r:#}");
    assert_eq!(fired(&r), ["page_oncall", "assess_risk"], "{r:#}");
    let tl = json(
        d,
        t0,
        &[
            "incident",
            "--store",
            "s.db",
            "timeline",
            &id,
            "--tz",
            "Europe/Paris",
        ],
    );
    let dl = row(&tl, "authority_deadline");
    assert_eq!(dl["status"], "pending");
    assert_eq!(dl["at"].as_str().unwrap(), paris(deadline));
    assert_eq!(
        dl["left_secs"].as_i64().unwrap(),
        72 * 3600 - 60,
        "time left to the 72-hour deadline"
    );
    assert_eq!(row(&tl, "page_oncall")["status"], "fired");
    assert_eq!(row(&tl, "draft_authority_notice")["status"], "pending");

    // the people's view says the same in words
    let out = at(
        d,
        t0,
        &[
            "incident",
            "--store",
            "s.db",
            "timeline",
            &id,
            "--tz",
            "Europe/Paris",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("times in Europe/Paris"), "{text}");
    assert!(
        text.contains(&paris(deadline)) && text.contains("pending (in 2d 23h)"),
        "{text}"
    );

    // five hours on: the draft is due; a second process at the same instant
    // (a restart) fires nothing again
    let t1 = aware + 5.hours();
    let r = tick(d, t1);
    let f = fired(&r);
    assert!(f.contains(&"draft_authority_notice".to_string()), "{r:#}");
    assert_eq!(
        f.iter().filter(|s| *s == "draft_authority_notice").count(),
        1
    );
    assert!(fired(&tick(d, t1)).is_empty());

    // breachd was down for three days: the deadline fires once, late
    let t2 = deadline + 1.hour();
    let r = tick(d, t2);
    let dl: Vec<&serde_json::Value> = r["fired"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["step"] == "authority_deadline")
        .collect();
    assert_eq!(dl.len(), 1, "{r:#}");
    assert_eq!(dl[0]["late"], true);
    assert_eq!(dl[0]["late_secs"], 3600);
    assert_eq!(
        fired(&r).iter().filter(|s| *s == "chase_approval").count(),
        1,
        "missed chases fire once: {r:#}"
    );
    assert!(fired(&tick(d, t2)).is_empty());

    // every firing is in the audit trail, which still verifies
    let trail = json(d, t2, &["audit", "--store", "s.db", "show", &id]);
    let firings = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "step_fired")
        .count();
    let tl = json(d, t2, &["incident", "--store", "s.db", "timeline", &id]);
    let fired_rows = tl["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "fired")
        .count();
    assert_eq!(firings, fired_rows);
    let out = at(d, t2, &["audit", "--store", "s.db", "verify"]);
    assert!(out.status.success());
}
