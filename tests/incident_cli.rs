//! Incidents as a user works them: `breachd replay --store`, then
//! `breachd incident ...` and `breachd audit verify` on the same SQLite file.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Output;

use common::*;

const INVENTORY: &str = r#"resources:
  - pattern: "/login"
    methods: [POST]
    kind: login
  - pattern: "/api/customers/{id}"
    methods: [GET, PUT]
    categories: [identity, contact]
    sensitivity: high
    subject_param: id
subjects:
  total: 5000
  jurisdictions: {EU: 0.5, US-CA: 0.5}
"#;

fn line(out: &mut String, t: i64, user: &str, ip: &str, path: &str, status: u16) {
    let ts = jiff::Timestamp::from_second(1_773_100_800 + t).unwrap();
    let method = if path == "/login" { "POST" } else { "GET" };
    let _ = writeln!(
        out,
        r#"{{"ts":"{ts}","user":"{user}","role":"customer","ip":"{ip}","method":"{method}","path":"{path}","status":{status},"bytes":300,"records":0,"subjects":[],"session":"s-{user}"}}"#
    );
}

/// Three hours of customers, and two brute-force attacks from two addresses
/// on two accounts, six hours apart.
fn scenario(dir: &Path) {
    let mut s = String::new();
    let mut lines: Vec<(i64, String)> = Vec::new();
    for h in 0..10 {
        for c in 0..30 {
            let mut l = String::new();
            let t = h * 3600 + c * 60;
            line(
                &mut l,
                t,
                &format!("cust{c}"),
                &format!("198.51.100.{c}"),
                "/login",
                200,
            );
            lines.push((t, l));
        }
    }
    for (start, ip, account) in [
        (3600, "203.0.113.66", "victim"),
        (7 * 3600, "192.0.2.77", "other"),
    ] {
        for i in 0..30 {
            let mut l = String::new();
            line(&mut l, start + i * 10, account, ip, "/login", 401);
            lines.push((start + i * 10, l));
        }
    }
    lines.sort_by_key(|(t, _)| *t);
    for (_, l) in lines {
        s.push_str(&l);
    }
    std::fs::write(dir.join("app.jsonl"), s).unwrap();
    std::fs::write(dir.join("inventory.yaml"), INVENTORY).unwrap();
}

fn replay_into(dir: &Path, store: &str) -> Vec<serde_json::Value> {
    replay_alerts(
        dir,
        &[
            "--inventory",
            "inventory.yaml",
            "--store",
            store,
            "app.jsonl",
        ],
    )
}

fn breachd(dir: &Path, args: &[&str]) -> Output {
    run(dir, args)
}

fn ok_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut full = args.to_vec();
    full.push("--json");
    let out = breachd(dir, &full);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn replay_fills_a_store_and_replaying_the_same_file_again_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let first = replay_into(dir.path(), "s.db");
    assert!(first.len() >= 2, "{first:#?}");
    for a in &first {
        assert!(a["incident"].as_str().unwrap().starts_with("INC-"), "{a}");
    }
    let list = ok_json(dir.path(), &["incident", "--store", "s.db", "list"]);
    let incidents = list.as_array().unwrap().len();
    assert_eq!(incidents, 2, "two attacks, two incidents: {list:#}");
    let trail = ok_json(dir.path(), &["audit", "--store", "s.db", "show"]);
    let second = replay_into(dir.path(), "s.db");
    assert_eq!(
        first.iter().map(|a| &a["incident"]).collect::<Vec<_>>(),
        second.iter().map(|a| &a["incident"]).collect::<Vec<_>>(),
        "the same lines give the same incidents"
    );
    let list2 = ok_json(
        dir.path(),
        &["incident", "--store", "s.db", "list", "--all"],
    );
    assert_eq!(list2.as_array().unwrap().len(), incidents);
    let alerts: u64 = list2
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["alerts"].as_u64().unwrap())
        .sum();
    assert_eq!(alerts as usize, first.len(), "no alert stored twice");
    let trail2 = ok_json(dir.path(), &["audit", "--store", "s.db", "show"]);
    assert_eq!(trail, trail2, "a replay of known lines changes nothing");
    // the summary counts them for scripts
    let out = run(
        dir.path(),
        &[
            "replay",
            "--inventory",
            "inventory.yaml",
            "--summary",
            "json",
            "app.jsonl",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let summary: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert_eq!(summary["incidents"], 2, "{summary}");
    // without --store, replay still numbers incidents (in memory)
    let mem = replay_alerts(dir.path(), &["--inventory", "inventory.yaml", "app.jsonl"]);
    assert_eq!(
        mem.iter().map(|a| &a["incident"]).collect::<Vec<_>>(),
        first.iter().map(|a| &a["incident"]).collect::<Vec<_>>()
    );
}

#[test]
fn an_incident_is_worked_through_its_lifecycle_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    replay_into(dir.path(), "s.db");
    let d = dir.path();
    let st = |args: &[&str]| {
        let mut full = vec!["incident", "--store", "s.db", "--by", "carol"];
        full.extend_from_slice(args);
        breachd(d, &full)
    };
    assert!(st(&["ack", "INC-0001"]).status.success());
    let again = st(&["ack", "INC-0001"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already acknowledged"),
        "{}",
        stderr(&again)
    );
    assert!(
        st(&["note", "INC-0001", "blocked 203.0.113.66 at the edge"])
            .status
            .success()
    );
    assert!(st(&["assign", "inc-1", "dave"]).status.success());
    assert!(st(&["contain", "INC-0001", "--reason", "address blocked"])
        .status
        .success());
    let back = st(&["ack", "INC-0001"]);
    assert_eq!(back.status.code(), Some(1), "contained cannot go back");
    assert!(st(&["resolve", "INC-0001"]).status.success());
    let fp = st(&["false-positive", "INC-0002"]);
    assert_eq!(fp.status.code(), Some(2), "a false positive needs --reason");
    assert!(st(&["false-positive", "INC-0002", "--reason", "pen test"])
        .status
        .success());
    let missing = st(&["show", "INC-0099"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no incident INC-0099"));
    let bad = st(&["show", "seven"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("INC-0007"), "{}", stderr(&bad));

    let show = ok_json(d, &["incident", "--store", "s.db", "show", "INC-0001"]);
    assert_eq!(show["status"], "resolved");
    assert_eq!(show["assignee"], "dave");
    assert_eq!(show["notes"][0]["author"], "carol");
    assert_eq!(
        show["aware"]["by"], "breachd",
        "default policy: aware at detection"
    );
    assert_eq!(
        show["enisa"]["band"], "low",
        "nobody got in: {:#}",
        show["enisa"]
    );
    // the lifecycle, without the alerts that joined the incident meanwhile
    // (how many rules fire on one attack is detection's business)
    let lifecycle: Vec<&serde_json::Value> = show["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] != "alert_joined")
        .collect();
    let actions: Vec<&str> = lifecycle
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["opened", "aware", "status", "note", "assign", "status", "status"]
    );
    let by: Vec<&str> = lifecycle
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(
        by,
        ["breachd", "breachd", "carol", "carol", "carol", "carol", "carol"]
    );
    // the active list no longer holds closed incidents; the table is for people
    let active = ok_json(d, &["incident", "--store", "s.db", "list"]);
    assert!(active.as_array().unwrap().is_empty(), "{active:#}");
    let table = breachd(d, &["incident", "--store", "s.db", "list", "--all"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("INC-0001") && text.contains("resolved"),
        "{text}"
    );
    assert!(text.contains("false_positive"), "{text}");
    let verify = breachd(d, &["audit", "--store", "s.db", "verify"]);
    assert!(verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stdout).contains("intact"));
}

#[test]
fn aware_at_acknowledgement_is_set_by_who_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    std::fs::write(
        dir.path().join("breachd.toml"),
        "data_dir = \"data\"\n[incident]\naware_at = \"acknowledgement\"\nlegal = [\"lena\"]\n",
    )
    .unwrap();
    replay_alerts(
        dir.path(),
        &[
            "--config",
            "breachd.toml",
            "--inventory",
            "inventory.yaml",
            "--store",
            "data/breachd.db",
            "app.jsonl",
        ],
    );
    let d = dir.path();
    let show = ok_json(
        d,
        &["incident", "--config", "breachd.toml", "show", "INC-0001"],
    );
    assert!(show["aware"].is_null(), "{show:#}");
    let ack = breachd(
        d,
        &[
            "incident",
            "--config",
            "breachd.toml",
            "--by",
            "carol",
            "ack",
            "INC-0001",
            "--reason",
            "triaged: real",
        ],
    );
    assert!(ack.status.success(), "{}", stderr(&ack));
    let show = ok_json(
        d,
        &["incident", "--config", "breachd.toml", "show", "INC-0001"],
    );
    assert_eq!(show["aware"]["by"], "carol");
    // ENISA inputs are the legal role's to override, with a reason
    let not_legal = breachd(
        d,
        &[
            "incident",
            "--config",
            "breachd.toml",
            "--by",
            "carol",
            "severity",
            "INC-0001",
            "--dpc",
            "3",
            "--reason",
            "x",
        ],
    );
    assert_eq!(not_legal.status.code(), Some(1));
    assert!(
        stderr(&not_legal).contains("legal role"),
        "{}",
        stderr(&not_legal)
    );
    let bad = breachd(
        d,
        &[
            "incident",
            "--config",
            "breachd.toml",
            "--by",
            "lena",
            "severity",
            "INC-0001",
            "--ei",
            "0.3",
            "--reason",
            "x",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("0.25 (negligible)"),
        "{}",
        stderr(&bad)
    );
    let set = breachd(
        d,
        &[
            "incident",
            "--config",
            "breachd.toml",
            "--by",
            "lena",
            "severity",
            "INC-0001",
            "--dpc",
            "3",
            "--ei",
            "1",
            "--reason",
            "the accounts hold card data",
        ],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    let show = ok_json(
        d,
        &["incident", "--config", "breachd.toml", "show", "INC-0001"],
    );
    assert_eq!(show["enisa"]["dpc"]["value"], 3.0);
    assert_eq!(show["enisa"]["dpc"]["source"], "override");
    assert_eq!(
        show["enisa"]["band"], "high",
        "3 × 1 + CB {}",
        show["enisa"]["cb"]
    );
    let last = show["audit"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "severity_override");
    assert_eq!(last["actor"], "lena");
    assert!(last["detail"].as_str().unwrap().contains("card data"));
}

#[test]
fn a_person_merges_and_splits_incidents() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    replay_into(dir.path(), "s.db");
    let d = dir.path();
    let m = breachd(
        d,
        &[
            "incident",
            "--store",
            "s.db",
            "--by",
            "carol",
            "merge",
            "INC-0001",
            "INC-0002",
            "--reason",
            "same botnet",
        ],
    );
    assert!(m.status.success(), "{}", stderr(&m));
    let list = ok_json(d, &["incident", "--store", "s.db", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let show = ok_json(d, &["incident", "--store", "s.db", "show", "INC-0001"]);
    let keys: Vec<String> = show["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect();
    let moved = keys.iter().find(|k| k.contains("192.0.2.77")).unwrap();
    let s = breachd(
        d,
        &[
            "incident",
            "--store",
            "s.db",
            "--by",
            "carol",
            "split",
            "INC-0001",
            "--alert",
            moved,
            "--reason",
            "different actor after all",
        ],
    );
    assert!(s.status.success(), "{}", stderr(&s));
    assert!(String::from_utf8_lossy(&s.stdout).contains("INC-0003"));
    let new = ok_json(d, &["incident", "--store", "s.db", "show", "INC-0003"]);
    assert_eq!(new["alerts"], 1);
    let merged_again = breachd(
        d,
        &[
            "incident", "--store", "s.db", "merge", "INC-0001", "INC-0002", "--reason", "x",
        ],
    );
    assert_eq!(merged_again.status.code(), Some(1));
    assert!(breachd(d, &["audit", "--store", "s.db", "verify"])
        .status
        .success());
}

/// Opens the store as an attacker with file access would, past breachd's
/// append-only triggers.
fn tamper(db: &Path, sql: &str) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;",
    )
    .unwrap();
    c.execute_batch(sql).unwrap();
}

#[test]
fn audit_verify_finds_an_edited_a_removed_and_a_reordered_entry() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    replay_into(dir.path(), "s.db");
    let d = dir.path();
    assert!(breachd(
        d,
        &["incident", "--store", "s.db", "--by", "carol", "ack", "INC-0001"]
    )
    .status
    .success());
    assert!(breachd(
        d,
        &["incident", "--store", "s.db", "--by", "carol", "note", "INC-0001", "n"]
    )
    .status
    .success());
    let pristine = std::fs::read(d.join("s.db")).unwrap();
    // the triggers refuse edits through SQLite itself
    {
        let c = rusqlite::Connection::open(d.join("s.db")).unwrap();
        let e = c.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3", []);
        assert!(e.unwrap_err().to_string().contains("append-only"));
    }
    let cases = [
        ("edited", "UPDATE audit SET actor = 'mallory' WHERE seq = 3", "edited after it was written"),
        ("removed", "DELETE FROM audit WHERE seq = 2", "removed"),
        (
            "reordered",
            "UPDATE audit SET seq = -1 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = -1;",
            "does not follow",
        ),
        ("cut", "DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)", "were written"),
    ];
    for (what, sql, expect) in cases {
        // back to the intact file (WAL folded in by the CLI's close)
        let _ = std::fs::remove_file(d.join("s.db-wal"));
        let _ = std::fs::remove_file(d.join("s.db-shm"));
        std::fs::write(d.join("s.db"), &pristine).unwrap();
        assert!(
            breachd(d, &["audit", "--store", "s.db", "verify"])
                .status
                .success(),
            "{what}: intact first"
        );
        tamper(&d.join("s.db"), sql);
        let v = breachd(d, &["audit", "--store", "s.db", "verify"]);
        assert_eq!(v.status.code(), Some(1), "{what}");
        let text = String::from_utf8_lossy(&v.stdout);
        assert!(
            text.contains("BROKEN") && text.contains(expect),
            "{what}: {text}"
        );
        let j = ok_json_code(d, &["audit", "--store", "s.db", "verify", "--json"]);
        assert_eq!(j["ok"], false, "{what}");
    }
}

fn ok_json_code(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = breachd(dir, args);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_missing_corrupt_newer_or_full_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let d = dir.path();
    let none = breachd(d, &["incident", "--store", "nope.db", "list"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no store at nope.db"),
        "{}",
        stderr(&none)
    );
    assert!(!d.join("nope.db").exists(), "listing creates nothing");

    std::fs::write(d.join("junk.db"), vec![b'x'; 8192]).unwrap();
    let junk = breachd(d, &["incident", "--store", "junk.db", "list"]);
    assert_eq!(junk.status.code(), Some(2));
    assert!(
        stderr(&junk).contains("not a readable breachd database"),
        "{}",
        stderr(&junk)
    );
    let r = run(
        d,
        &[
            "replay",
            "--inventory",
            "inventory.yaml",
            "--store",
            "junk.db",
            "app.jsonl",
        ],
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(
        stderr(&r).contains("restore it from a backup"),
        "{}",
        stderr(&r)
    );

    replay_into(d, "s.db");
    {
        let c = rusqlite::Connection::open(d.join("s.db")).unwrap();
        c.pragma_update(None, "user_version", 42).unwrap();
    }
    let newer = breachd(d, &["incident", "--store", "s.db", "list"]);
    assert_eq!(newer.status.code(), Some(2));
    assert!(
        stderr(&newer).contains("newer breachd"),
        "{}",
        stderr(&newer)
    );
    {
        let c = rusqlite::Connection::open(d.join("s.db")).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
    }

    // a full disk (a file-size limit; SIGXFSZ ignored so writes fail with EFBIG)
    let _ = std::fs::remove_file(d.join("s.db"));
    let _ = std::fs::remove_file(d.join("s.db-wal"));
    let _ = std::fs::remove_file(d.join("s.db-shm"));
    let full = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 1; exec '{}' replay --inventory inventory.yaml --store s.db app.jsonl",
            bin().display()
        ))
        .current_dir(d)
        .env("BREACHD_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(2), "{}", stderr(&full));
    assert!(
        stderr(&full).contains("cannot be written"),
        "{}",
        stderr(&full)
    );
    assert!(
        full.stdout.is_empty(),
        "no alert line claims a store it is not in"
    );
}

#[test]
fn check_reports_incident_settings_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "data_dir = \"data\"\n[incident]\naware_at = \"later\"\nwindow = \"soon\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["check", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("bad.toml:3:") && text.contains("acknowledgement"),
        "{text}"
    );
    assert!(
        text.contains("bad.toml:4:") && text.contains("bad duration"),
        "{text}"
    );
}

/// Makes a file immutable (read-only even for root) while it lives.
struct Immutable(std::path::PathBuf);

impl Immutable {
    fn set(p: &Path) -> Option<Immutable> {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(p)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Immutable(p.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_read_only_store_can_be_read_and_refuses_changes_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let d = dir.path();
    replay_into(d, "s.db");
    // root ignores file modes; an immutable file is read-only for everyone
    let Some(_guard) = Immutable::set(&d.join("s.db")) else {
        eprintln!("chattr +i is not available here; skipped");
        return;
    };
    let list = ok_json(d, &["incident", "--store", "s.db", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let ack = breachd(d, &["incident", "--store", "s.db", "ack", "INC-0001"]);
    assert_eq!(ack.status.code(), Some(2));
    assert!(
        stderr(&ack).contains("cannot be written")
            && stderr(&ack).contains("permissions of the file"),
        "{}",
        stderr(&ack)
    );
    let r = run(
        d,
        &[
            "replay",
            "--inventory",
            "inventory.yaml",
            "--store",
            "s.db",
            "app.jsonl",
        ],
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(
        r.stdout.is_empty(),
        "no alert line without its incident stored"
    );
}

#[test]
fn list_filters_by_status_severity_and_event_time() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let d = dir.path();
    replay_into(d, "s.db");
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = ok_json(d, &["incident", "--store", "s.db", "list", "--all"]);
    assert_eq!(ids(&all).len(), 2, "{all:#}");
    // the second attack began at 07:00 UTC, the first ended before 02:00
    let late = ok_json(
        d,
        &[
            "incident",
            "--store",
            "s.db",
            "list",
            "--since",
            "2026-03-10T05:00:00Z",
        ],
    );
    let late_ids = ids(&late);
    assert_eq!(late_ids.len(), 1, "{late:#}");
    assert!(
        late[0]["start"].as_str().unwrap() >= "2026-03-10T07:00:00",
        "{late:#}"
    );
    breachd(d, &["incident", "--store", "s.db", "ack", &late_ids[0]]);
    let acked = ok_json(
        d,
        &[
            "incident",
            "--store",
            "s.db",
            "list",
            "--status",
            "acknowledged",
        ],
    );
    assert_eq!(ids(&acked), late_ids);
    let open_late = ok_json(
        d,
        &[
            "incident",
            "--store",
            "s.db",
            "list",
            "--status",
            "open",
            "--since",
            "2026-03-10T05:00:00Z",
        ],
    );
    assert!(ids(&open_late).is_empty(), "{open_late:#}");
    // the severity filter keeps the bands at or above the one asked for
    let order = ["low", "medium", "high", "very_high"];
    let rank = |b: &str| order.iter().position(|x| *x == b).unwrap();
    for (i, want) in order.iter().enumerate() {
        let got = ok_json(
            d,
            &[
                "incident",
                "--store",
                "s.db",
                "list",
                "--all",
                "--severity",
                want,
            ],
        );
        let expect: Vec<String> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| rank(x["enisa"]["band"].as_str().unwrap()) >= i)
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids(&got), expect, "--severity {want}");
    }
    let bad = breachd(
        d,
        &[
            "incident",
            "--store",
            "s.db",
            "list",
            "--since",
            "yesterday",
        ],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("RFC 3339"), "{}", stderr(&bad));
    let bad = breachd(
        d,
        &[
            "incident",
            "--store",
            "s.db",
            "list",
            "--severity",
            "critical",
        ],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("very_high"), "{}", stderr(&bad));
}
