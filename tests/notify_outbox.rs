//! The outbox through the real binary: replay opens a GDPR incident in a
//! store, `breachd schedule tick` (moved in time with the test-only
//! `BREACHD_NOW`) fires its steps and delivers through real servers on
//! loopback. A server that is down, or answers 500, delays a page but never
//! duplicates or loses it; a dead message is visible and a person retries
//! it; PagerDuty follows the incident's status on one `dedup_key`.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use common::sinks::{HttpServer, SmtpServer};
use common::*;
use jiff::{Timestamp, ToSpan};

/// A scraper reads 120 customers' records, one a second, ending an hour ago.
pub fn scenario(dir: &Path) {
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

/// Writes `breachd.toml`: the portal's inventory and rule, the store
/// `s.db`, and `notify` (channels, routes, retry policy).
fn config(dir: &Path, notify: &str) {
    std::fs::write(dir.join("hook.secret"), "whsec-test\n").unwrap();
    std::fs::write(dir.join("pd.key"), "R0UT1NGKEY0123456789012345678901\n").unwrap();
    std::fs::write(
        dir.join("breachd.toml"),
        format!(
            "data_dir = \"data\"\n[detect]\ninventory = \"inventory.yaml\"\nrules = \"rules.yaml\"\n[incident]\nstore = \"s.db\"\nlegal = [\"lena\"]\n{notify}"
        ),
    )
    .unwrap();
}

fn smtp(port: u16) -> String {
    format!(
        "[[notify.channel]]\nname = \"mail\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"breachd@example.org\"\nto = [\"oncall@example.org\"]\ntimeout = \"3s\"\n"
    )
}

fn webhook(base: &str) -> String {
    format!(
        "[[notify.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{base}/hook\"\nsecret_file = \"hook.secret\"\ntimeout = \"3s\"\n"
    )
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

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Replays the scenario into the store: the incident id and when the
/// store became aware of it.
fn open_incident(dir: &Path) -> (String, Timestamp) {
    scenario(dir);
    let alerts = replay_alerts(
        dir,
        &["--config", "breachd.toml", "--store", "s.db", "app.jsonl"],
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let id = alerts[0]["incident"].as_str().unwrap().to_string();
    let show: serde_json::Value = serde_json::from_str(&ok(at(
        dir,
        Timestamp::now(),
        &[
            "incident",
            "--config",
            "breachd.toml",
            "--json",
            "show",
            &id,
        ],
    )))
    .unwrap();
    let aware = show["aware"]["at"].as_str().unwrap().parse().unwrap();
    (id, aware)
}

fn tick(dir: &Path, now: Timestamp) -> serde_json::Value {
    serde_json::from_str(&ok(at(
        dir,
        now,
        &["schedule", "--config", "breachd.toml", "--json", "tick"],
    )))
    .unwrap()
}

fn outbox(dir: &Path, state: Option<&str>) -> Vec<serde_json::Value> {
    let mut args = vec!["notify", "list", "--config", "breachd.toml", "--json"];
    if let Some(s) = state {
        args.extend(["--state", s]);
    }
    ok(at(dir, Timestamp::now(), &args))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn smtp_down_then_up_delivers_each_page_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut server = SmtpServer::start();
    server.stop();
    config(
        d,
        &format!(
            "[notify]\nbackoff_base = \"1m\"\n[notify.routes]\noncall = [\"mail\"]\n{}",
            smtp(server.port)
        ),
    );
    let (id, aware) = open_incident(d);
    let t0 = aware + 1.minute();

    // the server is down: the page waits in the outbox with the error
    let r = tick(d, t0);
    assert_eq!(r["delivered"]["retrying"], 1, "{r:#}");
    let rows = outbox(d, None);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["state"], "pending");
    assert_eq!(rows[0]["attempts"], 1);
    assert_eq!(rows[0]["incident"], id.as_str());
    assert!(rows[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("temporary failure"));
    // not yet due again: nothing is attempted
    let r = tick(d, t0 + 10.seconds());
    assert_eq!(r["delivered"]["retrying"], 0, "{r:#}");
    assert_eq!(outbox(d, None)[0]["attempts"], 1);

    // up again on the same port: delivered once, and never again
    server.restart();
    let r = tick(d, t0 + 1.hour());
    assert_eq!(r["delivered"]["sent"], 1, "{r:#}");
    tick(d, t0 + 2.hours());
    tick(d, t0 + 5.hours());
    assert_eq!(server.count_to("oncall@example.org"), 1);
    let mail = &server.mails()[0];
    let subject = common::sinks::header(&mail.data, "Subject");
    assert!(subject.contains(&format!("({id})")), "{subject}");
    let rows = outbox(d, Some("sent"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["attempts"], 2);
    assert!(rows[0]["receipt"]
        .as_str()
        .unwrap()
        .ends_with(".breachd@example.org>"));
}

#[test]
fn a_webhook_answering_500_three_times_gets_the_page_once_with_one_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hook = HttpServer::start(&[500, 500, 500, 200]);
    config(
        d,
        &format!(
            "[notify]\nbackoff_base = \"1m\"\n[notify.routes]\noncall = [\"hook\"]\n{}",
            webhook(&hook.base)
        ),
    );
    let (id, aware) = open_incident(d);
    let t0 = aware + 1.minute();
    for h in 0..6 {
        tick(d, t0 + h.hours());
    }
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 4, "three 500s, then one 200, then nothing");
    let keys: Vec<&str> = reqs
        .iter()
        .map(|r| r.header("idempotency-key").unwrap())
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    assert!(
        keys[0].starts_with(&format!("{id}/GDPR/page_oncall/")),
        "{keys:?}"
    );
    assert_eq!(reqs[3].json()["incident_id"], id.as_str());
    let rows = outbox(d, None);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["state"], "sent");
    assert_eq!(rows[0]["attempts"], 4);
    let table = ok(at(
        d,
        Timestamp::now(),
        &["notify", "list", "--config", "breachd.toml"],
    ));
    assert!(
        table
            .lines()
            .any(|l| l.contains(" sent ") && l.contains(" 4 hook ")),
        "{table}"
    );
    assert!(table.contains("1 sent, 0 dead"), "{table}");
}

#[test]
fn a_message_is_dead_after_max_attempts_until_a_person_retries_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hook = HttpServer::start(&[503, 503, 200]);
    config(
        d,
        &format!(
            "[notify]\nmax_attempts = 2\nbackoff_base = \"1m\"\n[notify.routes]\noncall = [\"hook\"]\n{}",
            webhook(&hook.base)
        ),
    );
    let (id, aware) = open_incident(d);
    let t0 = aware + 1.minute();
    tick(d, t0);
    let r = tick(d, t0 + 1.hour());
    assert_eq!(r["delivered"]["dead"], 1, "{r:#}");
    tick(d, t0 + 2.hours());
    assert_eq!(
        hook.requests().len(),
        2,
        "a dead message is not tried again"
    );
    let dead = outbox(d, Some("dead"));
    assert_eq!(dead.len(), 1);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("HTTP 503"));
    let msg_id = dead[0]["id"].to_string();

    let out = at(
        d,
        Timestamp::now(),
        &[
            "notify",
            "retry",
            &msg_id,
            "--config",
            "breachd.toml",
            "--by",
            "sam",
        ],
    );
    assert!(ok(out).contains("retried by sam"));
    let r = tick(d, t0 + 3.hours());
    assert_eq!(r["delivered"]["sent"], 1, "{r:#}");
    assert_eq!(hook.requests().len(), 3);
    let trail = ok(at(
        d,
        Timestamp::now(),
        &["audit", "--config", "breachd.toml", "--json", "show", &id],
    ));
    for action in [
        "notification_dead",
        "notification_retried",
        "notification_sent",
    ] {
        assert!(trail.contains(action), "{action} missing from {trail}");
    }
    assert!(trail.contains("\"sam\""), "{trail}");
    // a sent message is not retried
    let out = at(
        d,
        Timestamp::now(),
        &["notify", "retry", &msg_id, "--config", "breachd.toml"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is sent"));
}

#[test]
fn pagerduty_triggers_then_acknowledges_then_resolves_on_one_dedup_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pd = HttpServer::start(&[202]);
    config(
        d,
        &format!(
            "[notify.routes]\noncall = [\"pd\"]\n[[notify.channel]]\nname = \"pd\"\nkind = \"pagerduty\"\nurl = \"{}/v2/enqueue\"\nrouting_key_file = \"pd.key\"\n",
            pd.base
        ),
    );
    let (id, aware) = open_incident(d);
    let t0 = aware + 1.minute();
    tick(d, t0);
    tick(d, t0 + 1.minute());
    ok(at(
        d,
        t0,
        &[
            "incident",
            "--config",
            "breachd.toml",
            "--by",
            "sam",
            "ack",
            &id,
        ],
    ));
    tick(d, t0 + 2.minutes());
    tick(d, t0 + 3.minutes());
    ok(at(
        d,
        t0,
        &[
            "incident",
            "--config",
            "breachd.toml",
            "--by",
            "sam",
            "resolve",
            &id,
        ],
    ));
    tick(d, t0 + 4.minutes());
    tick(d, t0 + 5.minutes());
    let events: Vec<serde_json::Value> = pd.requests().iter().map(|r| r.json()).collect();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["trigger", "acknowledge", "resolve"],
        "{events:#?}"
    );
    assert!(
        events.iter().all(|e| e["dedup_key"] == id.as_str()),
        "{events:#?}"
    );
    assert!(events[0]["payload"]["summary"]
        .as_str()
        .unwrap()
        .starts_with(&id));
}
