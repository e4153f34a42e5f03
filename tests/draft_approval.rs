//! Drafts and approval through the real binary: a GDPR incident's
//! regulator notice is rendered from its facts and waits in the drafts
//! folder; whatever the clock says, it never leaves until a person with the
//! legal role approves it, while the playbook's escalation pages on-call;
//! an edited, approved draft is sent once, and the trail shows who did what.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use common::sinks::{header, part, HttpServer, SmtpServer};
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

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn tick(dir: &Path, now: Timestamp) {
    ok(at(
        dir,
        now,
        &["schedule", "--config", "breachd.toml", "tick"],
    ));
}

fn drafts(dir: &Path) -> Vec<serde_json::Value> {
    json_lines(&ok(at(
        dir,
        Timestamp::now(),
        &["draft", "--config", "breachd.toml", "--json", "list"],
    )))
}

#[test]
fn an_unapproved_regulator_draft_is_never_sent_while_on_call_is_escalated_then_approval_sends_it_once(
) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let regulator = SmtpServer::start();
    let oncall = HttpServer::start(&[200]);
    std::fs::write(d.join("hook.secret"), "whsec-test\n").unwrap();
    std::fs::write(
        d.join("breachd.toml"),
        format!(
            r#"data_dir = "data"
[detect]
inventory = "inventory.yaml"
rules = "rules.yaml"
[incident]
store = "s.db"
legal = ["lena"]
[notify]
drafts_dir = "drafts"
[notify.routes]
oncall = ["hook"]
legal = ["hook"]
regulator = ["dpa-mail"]
[[notify.channel]]
name = "hook"
kind = "webhook"
url = "{}/oncall"
secret_file = "hook.secret"
[[notify.channel]]
name = "dpa-mail"
kind = "smtp"
host = "127.0.0.1"
port = {}
tls = "none"
from = "privacy@example.org"
to = ["breach-notification@dpa.example.eu"]
"#,
            oncall.base, regulator.port
        ),
    )
    .unwrap();
    scenario(d);
    let alerts = replay_alerts(
        d,
        &["--config", "breachd.toml", "--store", "s.db", "app.jsonl"],
    );
    let id = alerts[0]["incident"].as_str().unwrap().to_string();
    let show: serde_json::Value = serde_json::from_str(&ok(at(
        d,
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
    let aware: Timestamp = show["aware"]["at"].as_str().unwrap().parse().unwrap();

    // the clock runs through the 72-hour deadline and far beyond it
    for h in [0, 1, 5, 9, 13, 30, 60, 68, 71, 73, 100, 200] {
        tick(d, aware + h.hours() + 1.minute());
    }
    assert!(
        regulator.mails().is_empty(),
        "an unapproved regulator notice left: {:?}",
        regulator.mails()
    );
    let list = drafts(d);
    let authority: Vec<&serde_json::Value> = list
        .iter()
        .filter(|x| x["recipient"] == "supervisory_authority")
        .collect();
    assert_eq!(authority.len(), 1, "{list:#?}");
    let draft = authority[0];
    assert_eq!(draft["status"], "pending_approval");
    assert_eq!(draft["template"], "gdpr_supervisory_authority");
    let file = draft["path"].as_str().unwrap();
    assert!(
        file.starts_with("drafts/") || file.contains("/drafts/"),
        "{file}"
    );
    let written = std::fs::read_to_string(d.join(file))
        .unwrap_or_else(|_| std::fs::read_to_string(file).unwrap());
    assert!(
        written.contains(&id),
        "the draft names the incident:\n{written}"
    );
    // on-call was paged once, then escalated while the draft waited
    let pages: Vec<serde_json::Value> = oncall.requests().iter().map(|r| r.json()).collect();
    let subjects: Vec<&str> = pages
        .iter()
        .map(|p| p["subject"].as_str().unwrap())
        .collect();
    let escalations = subjects
        .iter()
        .filter(|s| s.contains("escalation (GDPR chase_approval)"))
        .count();
    assert!(escalations >= 2, "{subjects:#?}");
    assert!(
        subjects.iter().all(|s| s.contains(&id)),
        "every page names the incident: {subjects:#?}"
    );

    // only the legal role approves; the reason is required
    let draft_id = draft["id"].to_string();
    let out = at(
        d,
        Timestamp::now(),
        &[
            "draft",
            "--config",
            "breachd.toml",
            "--by",
            "mallory",
            "approve",
            &draft_id,
            "--reason",
            "ok",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not hold the legal role"));

    // lena edits the text, then approves it
    let body = draft["body"].as_str().unwrap();
    let edited = format!("{body}\n\nThe cause: a scraper using a customer's session.\n");
    std::fs::write(d.join("edited.txt"), &edited).unwrap();
    ok(at(
        d,
        Timestamp::now(),
        &[
            "draft",
            "--config",
            "breachd.toml",
            "--by",
            "lena",
            "edit",
            &draft_id,
            "--file",
            "edited.txt",
        ],
    ));
    let out = ok(at(
        d,
        Timestamp::now(),
        &[
            "draft",
            "--config",
            "breachd.toml",
            "--by",
            "lena",
            "approve",
            &draft_id,
            "--reason",
            "facts checked with the DPO",
        ],
    ));
    assert!(out.contains("approved by lena; queued"), "{out}");
    let later = aware + 201.hours();
    tick(d, later);
    tick(d, later + 1.hour());
    assert_eq!(regulator.count_to("breach-notification@dpa.example.eu"), 1);
    let mail = &regulator.mails()[0];
    assert!(header(&mail.data, "Subject").contains(&id), "{}", mail.data);
    assert!(part(&mail.data, "text/plain").contains("a scraper using a customer's session"));
    let after = drafts(d);
    let sent = after.iter().find(|x| x["id"] == draft["id"]).unwrap();
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["approved_by"], "lena");
    assert_eq!(sent["edited_by"], "lena");

    // the trail: edited and approved by lena, sent by breachd
    let trail = ok(at(
        d,
        Timestamp::now(),
        &["audit", "--config", "breachd.toml", "--json", "show", &id],
    ));
    let entries: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(&trail) {
        Ok(serde_json::Value::Array(a)) => a,
        _ => json_lines(&trail),
    };
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {trail}"))
    };
    assert_eq!(find("draft_edited")["actor"], "lena");
    assert_eq!(find("draft_approved")["actor"], "lena");
    assert_eq!(find("notification_sent")["actor"], "breachd");
    let out = ok(at(
        d,
        Timestamp::now(),
        &["audit", "--config", "breachd.toml", "verify"],
    ));
    assert!(!out.is_empty());

    // approving again is refused: it was sent
    let out = at(
        d,
        Timestamp::now(),
        &[
            "draft",
            "--config",
            "breachd.toml",
            "--by",
            "lena",
            "approve",
            &draft_id,
            "--reason",
            "again",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}
