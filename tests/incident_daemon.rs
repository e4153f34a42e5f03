//! The daemon and the store under stress, as an operator would meet it:
//! `kill -9` while incidents open, and people acking and noting incidents
//! from the CLI while the daemon writes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

const CONFIG: &str = "data_dir = \"data\"\n[[source]]\npaths = [\"logs/*.log\"]\nformat = \"sshd\"\ntimezone = \"UTC\"\npoll_interval = \"50ms\"\n[pipeline]\ncheckpoint_interval = \"100ms\"\n";

/// Eight failed root logins from address `i`, four minutes after address
/// `i - 1` (distinct addresses and times, fewer than the 20 an hour that make
/// a botnet: one attack, one incident, per address).
fn burst(i: u32) -> String {
    let minute = 4 * i;
    let (day, h, m) = (1 + minute / 1440, minute % 1440 / 60, minute % 60);
    let mut s = String::new();
    for k in 0..8 {
        s.push_str(&format!(
            "Nov {day:2} {h:02}:{m:02}:{:02} web-1 sshd[{}]: Failed password for root from {} port {} ssh2\n",
            k * 5,
            1000 + i * 10 + k,
            ip(i),
            40000 + k
        ));
    }
    s
}

fn ip(i: u32) -> String {
    format!("203.0.{}.{}", i / 200, i % 200 + 1)
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("breachd.toml"), CONFIG).unwrap();
    dir
}

fn append(root: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("logs/auth.log"))
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn cli_json(root: &Path, args: &[&str]) -> serde_json::Value {
    let mut full = args.to_vec();
    full.extend_from_slice(&["--config", "breachd.toml", "--json"]);
    let out = run(root, &full);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every stored incident's id → the addresses of its alerts.
fn stored(root: &Path) -> BTreeMap<String, Vec<String>> {
    let list = cli_json(root, &["incident", "list", "--all"]);
    let mut out = BTreeMap::new();
    for i in list.as_array().unwrap() {
        if !i["merged_into"].is_null() {
            continue;
        }
        let id = i["id"].as_str().unwrap().to_string();
        let show = cli_json(root, &["incident", "show", &id]);
        let ips = show["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["alert"]["entities"][0]["value"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        out.insert(id, ips);
    }
    out
}

fn kill9(mut child: std::process::Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn kill_9_while_incidents_open_loses_no_committed_alert_and_duplicates_no_incident() {
    let dir = setup();
    let root = dir.path();
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || daemon_log(root).contains("breachd running")));
    let n = 120;
    for i in 0..n / 2 {
        append(root, &burst(i));
        std::thread::sleep(Duration::from_millis(15));
    }
    // some incidents are committed; kill mid-stream
    assert!(wait_for(20, || daemon_log(root).contains("incident opened")));
    kill9(d);
    let before = stored(root);
    assert!(!before.is_empty());
    let d = spawn_daemon(root, "breachd.toml");
    for i in n / 2..n {
        append(root, &burst(i));
        std::thread::sleep(Duration::from_millis(5));
    }
    // a late burst moves event time on, so every earlier alert closes
    append(root, &burst(n + 30));
    assert!(wait_for(30, || {
        stored(root).values().flatten().any(|a| *a == ip(n + 30))
    }));
    terminate(d);
    let after = stored(root);
    // nothing committed before the kill is missing, nor moved
    for (id, ips) in &before {
        for a in ips {
            assert!(
                after.get(id).is_some_and(|v| v.contains(a)),
                "{a} of {id} lost after the restart"
            );
        }
    }
    // one incident and one alert per attacking address
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for ips in after.values() {
        assert_eq!(
            ips.iter().collect::<BTreeSet<_>>().len(),
            1,
            "two addresses in one incident: {ips:?}"
        );
        for a in ips {
            *seen.entry(a.as_str()).or_default() += 1;
        }
    }
    let dup: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dup.is_empty(), "alerts stored twice: {dup:?}");
    // a burst cut by the kill (half read before the last checkpoint) can go
    // unseen: detector state does not survive a restart
    assert!(
        seen.len() as u32 >= n,
        "{} of {} attacks stored",
        seen.len(),
        n + 1
    );
    let v = run(root, &["audit", "--config", "breachd.toml", "verify"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn people_ack_and_note_incidents_while_the_daemon_writes() {
    let dir = setup();
    let root = dir.path().to_path_buf();
    let d = spawn_daemon(&root, "breachd.toml");
    assert!(wait_for(20, || daemon_log(&root).contains("breachd running")));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (root, stop) = (root.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 400 {
                append(&root, &burst(i));
                i += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            i
        })
    };
    let mut handled: BTreeSet<String> = BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while handled.len() < 40 && std::time::Instant::now() < deadline {
        let list = cli_json(&root, &["incident", "list", "--status", "open"]);
        for i in list.as_array().unwrap() {
            let id = i["id"].as_str().unwrap().to_string();
            if handled.contains(&id) {
                continue;
            }
            for args in [
                vec!["incident", "--by", "oncall", "ack", id.as_str()],
                vec![
                    "incident",
                    "--by",
                    "oncall",
                    "note",
                    id.as_str(),
                    "blocking it",
                ],
            ] {
                let mut full = args.clone();
                full.extend_from_slice(&["--config", "breachd.toml"]);
                let out = run(&root, &full);
                assert!(
                    out.status.success(),
                    "{full:?} while the daemon writes: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            handled.insert(id);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        handled.len() >= 20,
        "only {} incidents handled",
        handled.len()
    );
    // the daemon kept writing meanwhile, and nothing a person did was lost
    append(&root, &burst(written + 30));
    assert!(wait_for(30, || {
        cli_json(&root, &["incident", "list", "--all"])
            .as_array()
            .unwrap()
            .len() as u32
            >= written
    }));
    terminate(d);
    for id in &handled {
        let show = cli_json(&root, &["incident", "show", id]);
        assert_eq!(show["status"], "acknowledged", "{id}");
        assert_eq!(show["notes"][0]["text"], "blocking it", "{id}");
    }
    assert!(
        !daemon_log(&root).contains("cannot commit"),
        "{}",
        daemon_log(&root)
    );
    let v = run(&root, &["audit", "--config", "breachd.toml", "verify"]);
    assert!(v.status.success());
}

#[test]
fn a_full_store_holds_the_checkpoints_back_and_a_restart_recovers_every_alert() {
    let dir = setup();
    let root = dir.path();
    let n = 60;
    let mut log = String::new();
    for i in 0..n {
        log.push_str(&burst(i));
    }
    append(root, &log);
    // The schema is made first, without the limit, so the limit meets the
    // store's growth however many migrations there are.
    assert!(
        run(root, &["replay", "--store", "data/breachd.db", "/dev/null"])
            .status
            .success()
    );
    // A file-size limit plays the full disk: the store is there, its growth
    // (its WAL past `ulimit -f 100`) is not (SIGXFSZ ignored: writes fail, EFBIG).
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 100; exec '{}' run --config breachd.toml",
            bin().display()
        ))
        .current_dir(root)
        .env("BREACHD_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(root.join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    assert!(
        wait_for(30, || daemon_log(root)
            .contains("cannot commit alerts to the store")),
        "{}",
        daemon_log(root)
    );
    let text = daemon_log(root);
    assert!(
        text.contains("cannot be written") && text.contains("disk space"),
        "{text}"
    );
    // a stop with alerts the store would not take says so, and fails
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        daemon_log(root).contains("were not checkpointed"),
        "{}",
        daemon_log(root)
    );
    // with room again, the lines are read again and every attack is stored once
    let d = spawn_daemon(root, "breachd.toml");
    append(root, &burst(n + 30));
    assert!(wait_for(30, || {
        stored(root).values().flatten().any(|a| *a == ip(n + 30))
    }));
    terminate(d);
    let after = stored(root);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for a in after.values().flatten() {
        *seen.entry(a.as_str()).or_default() += 1;
    }
    assert_eq!(seen.len() as u32, n + 1, "{seen:?}");
    assert!(seen.values().all(|c| *c == 1), "{seen:?}");
    let v = run(root, &["audit", "--config", "breachd.toml", "verify"]);
    assert!(v.status.success());
}

#[test]
fn the_daemon_reports_a_tampered_audit_trail_when_it_starts() {
    let dir = setup();
    let root = dir.path();
    append(root, &burst(0));
    let first = spawn_daemon(root, "breachd.toml");
    append(root, &burst(30));
    assert!(wait_for(30, || daemon_log(root).contains("incident opened")));
    terminate(first);
    {
        let c = rusqlite::Connection::open(root.join("data/breachd.db")).unwrap();
        c.execute_batch(
            "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'mallory' WHERE seq = 1;",
        )
        .unwrap();
    }
    let d = spawn_daemon(root, "breachd.toml");
    assert!(
        wait_for(20, || daemon_log(root)
            .contains("the audit trail does not verify")),
        "{}",
        daemon_log(root)
    );
    assert!(daemon_log(root).contains("entry 1: content does not match"));
    // it keeps running (signal handlers are set up after the store opens)
    assert!(wait_for(20, || daemon_log(root)
        .matches("breachd running")
        .count()
        == 2));
    terminate(d);
}

#[test]
fn the_daemon_refuses_a_corrupt_or_newer_store_with_the_reason() {
    let dir = setup();
    let root = dir.path();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/breachd.db"), vec![7u8; 4096]).unwrap();
    let out = run(root, &["run", "--config", "breachd.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("data/breachd.db is not a readable breachd database")
            && err.contains("move it aside"),
        "{err}"
    );
    std::fs::remove_file(root.join("data/breachd.db")).unwrap();
    let c = rusqlite::Connection::open(root.join("data/breachd.db")).unwrap();
    c.pragma_update(None, "user_version", 7).unwrap();
    drop(c);
    let out = run(root, &["run", "--config", "breachd.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newer breachd (schema 7"), "{err}");
}
