//! The whole chain, live: `breachd run` watches a log directory; the test
//! appends a customer portal's benign traffic with two scrapers among it,
//! at a compressed pace and on the wall clock; on-call is paged by SMTP and
//! by webhook once per attack incident, each page carrying its incident id.
//! Later (the daemon restarted with its clock moved past the GDPR draft
//! step) each incident's regulator draft waits for approval, and no page
//! was sent twice.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::sinks::{header, HttpServer, SmtpServer};
use common::*;
use jiff::{Timestamp, ToSpan};

fn config(dir: &Path, smtp: u16, hook: &str) {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("hook.secret"), "whsec-live\n").unwrap();
    write_customer_portal(dir);
    std::fs::write(
        dir.join("breachd.toml"),
        format!(
            r#"data_dir = "data"
[[source]]
paths = ["logs/*.jsonl"]
poll_interval = "50ms"
[pipeline]
checkpoint_interval = "100ms"
[detect]
inventory = "inventory.yaml"
rules = "rules.yaml"
[notify.routes]
oncall = ["mail", "hook"]
legal = ["hook"]
[[notify.channel]]
name = "mail"
kind = "smtp"
host = "127.0.0.1"
port = {smtp}
tls = "none"
from = "breachd@example.org"
to = ["oncall@example.org"]
[[notify.channel]]
name = "hook"
kind = "webhook"
url = "{hook}/page"
secret_file = "hook.secret"
"#
        ),
    )
    .unwrap();
}

fn daemon(dir: &Path, now: Option<Timestamp>) -> Child {
    let mut c = Command::new(bin());
    c.args(["run", "--config", "breachd.toml"])
        .current_dir(dir)
        .env("BREACHD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("daemon.log"))
                .unwrap(),
        ));
    if let Some(now) = now {
        c.env("BREACHD_NOW", now.to_string());
    }
    c.spawn().expect("breachd starts")
}

fn line(ts: Timestamp, user: &str, ip: &str, path: &str) -> String {
    format!(
        r#"{{"ts":"{ts}","user":"{user}","role":"customer","ip":"{ip}","method":"GET","path":"{path}","status":200,"bytes":900,"records":1,"subjects":[],"session":"s-{user}"}}"#
    ) + "\n"
}

/// Benign customers (each reads a few records: their own, a household's)
/// and product pages, with one scraper's 60 reads woven in at `attack`.
fn traffic(start: Timestamp, seed: u64, scraper: (&str, &str)) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..400u64 {
        let ts = start + (i as i64 * 10).milliseconds();
        let u = (i * 7 + seed) % 150;
        let path = if i % 3 == 0 {
            format!("/api/products/{}", i % 40)
        } else {
            format!("/api/customers/{}", 5000 + u * 2 + i % 2)
        };
        out.push(line(
            ts,
            &format!("customer{u}"),
            &format!("10.1.{}.{}", u / 250, u % 250 + 1),
            &path,
        ));
        if (100..160).contains(&i) {
            out.push(line(
                ts,
                scraper.0,
                scraper.1,
                &format!("/api/customers/{}", 1000 + (i - 100) * 13 + seed),
            ));
        }
    }
    out
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    // at a compressed pace: chunks of 20 lines, 10 ms apart
    for chunk in lines.chunks(20) {
        f.write_all(chunk.concat().as_bytes()).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Pages per incident id: from the mail subjects and the webhook bodies.
fn pages(
    smtp: &SmtpServer,
    hook: &HttpServer,
) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut mail = BTreeMap::new();
    for m in smtp.mails() {
        let s = header(&m.data, "Subject");
        let id = s
            .rsplit_once("(INC-")
            .map(|(_, rest)| format!("INC-{}", rest.trim_end_matches(')')))
            .unwrap_or(s);
        *mail.entry(id).or_default() += 1;
    }
    let mut web = BTreeMap::new();
    for r in hook.requests() {
        let j = r.json();
        if j["subject"].as_str().unwrap_or("").contains("escalation") {
            continue;
        }
        *web.entry(j["incident_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    (mail, web)
}

#[test]
fn each_attack_pages_on_call_once_by_mail_and_webhook_and_its_regulator_draft_waits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let smtp = SmtpServer::start();
    let hook = HttpServer::start(&[200]);
    config(d, smtp.port, &hook.base);
    let log = d.join("logs/app.jsonl");
    std::fs::write(&log, "").unwrap();
    let child = daemon(d, None);
    assert!(
        wait_for(30, || daemon_log(d).contains("breachd running")),
        "{}",
        daemon_log(d)
    );

    // two attacks, a few seconds apart, among benign traffic on the wall clock
    append(
        &log,
        &traffic(
            Timestamp::now() - 4.seconds(),
            1,
            ("scraper-a", "203.0.113.9"),
        ),
    );
    append(
        &log,
        &traffic(
            Timestamp::now() - 4.seconds(),
            2,
            ("scraper-b", "198.51.100.77"),
        ),
    );
    let paged = wait_for(30, || {
        let (m, w) = pages(&smtp, &hook);
        m.len() >= 2 && w.len() >= 2
    });
    // anything sent twice would arrive within this
    std::thread::sleep(Duration::from_secs(2));
    terminate(child);
    assert!(paged, "{:?}\n{}", pages(&smtp, &hook), daemon_log(d));
    let (mail, web) = pages(&smtp, &hook);
    assert_eq!(mail.len(), 2, "one incident per attack: {mail:?}");
    assert_eq!(mail, web, "the same incidents by mail and webhook");
    assert!(mail.values().all(|n| *n == 1), "each page once: {mail:?}");
    let incidents: Vec<String> = mail.keys().cloned().collect();
    for id in &incidents {
        assert!(id.starts_with("INC-"), "{id}");
    }

    // five hours on, the GDPR draft step has fired: the regulator notices
    // wait for approval, and a restart sent no page again
    let child = daemon(d, Some(Timestamp::now() + 5.hours()));
    let drafted = wait_for(30, || {
        let out = run(d, &["draft", "--config", "breachd.toml", "--json", "list"]);
        let text = String::from_utf8_lossy(&out.stdout);
        incidents.iter().all(|id| {
            text.lines().any(|l| {
                l.contains(&format!("\"incident\":\"{id}\""))
                    && l.contains("\"recipient\":\"supervisory_authority\"")
                    && l.contains("\"status\":\"pending_approval\"")
                    && l.contains("\"body\":\"")
            })
        })
    });
    std::thread::sleep(Duration::from_millis(500));
    terminate(child);
    let out = run(d, &["draft", "--config", "breachd.toml", "list"]);
    assert!(
        drafted,
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        daemon_log(d)
    );
    let (mail, web) = pages(&smtp, &hook);
    assert!(mail.values().all(|n| *n == 1), "{mail:?}");
    assert!(web.values().all(|n| *n == 1), "{web:?}");
    let mut report = String::new();
    let _ = write!(report, "{mail:?}");
    assert_eq!(mail.len(), 2, "{report}");
}
