//! The daemon tails files through rotation, truncation and `kill -9`, losing
//! no line and repeating few.

mod common;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::time::Duration;

use common::*;

const CONFIG: &str = r#"data_dir = "data"
[[source]]
name = "web"
paths = ["logs/*.log"]
format = "combined"
poll_interval = "100ms"
rotate_wait = "1s"
[pipeline]
checkpoint_interval = "200ms"
[events]
path = "out/events.jsonl"
"#;

fn counts(nums: &[u64]) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for n in nums {
        *m.entry(*n).or_insert(0) += 1;
    }
    m
}

#[test]
fn rotation_truncation_and_kill_9_lose_no_line() {
    let dir = tail_dir(CONFIG);
    let root = dir.path();
    let log = root.join("logs/app.log");
    let events = root.join("out/events.jsonl");
    let mut daemon = Some(spawn_daemon(root, "breachd.toml"));
    // A first start creates the store (a few fsyncs); a kill -9 before the
    // first checkpoint names the file cannot find it after a rotation.
    assert!(wait_for(20, || daemon_log(root).contains("breachd running")));
    let mut out = append_to(&log);
    let total: u64 = 6000;
    let mut kills = 0;
    for n in 0..total {
        out.write_all(numbered_line(n).as_bytes()).unwrap();
        if n % 50 == 0 {
            std::thread::sleep(Duration::from_millis(10)); // ~5,000 lines/s
        }
        match n {
            // logrotate `create`: rename, the writer keeps its old descriptor
            // for a few lines, then reopens the path.
            1000 | 4000 => {
                let k = n / 1000;
                fs::rename(&log, root.join(format!("logs/app.log.{k}"))).unwrap();
                for m in 0..5 {
                    out.write_all(numbered_line(total + k * 10 + m).as_bytes())
                        .unwrap();
                }
                out = append_to(&log);
            }
            // copytruncate: copy, then truncate in place. Wait until the
            // daemon restarted at 1500 has caught up: the file is deleted at
            // 3000, and a file deleted while breachd is down is gone with its
            // unread lines. (Lines unread at a copytruncate are read from the
            // copy: `tests/tail_kill.rs`.)
            2000 => {
                assert!(
                    wait_for(20, || emitted_numbers(&events).contains(&n)),
                    "caught up before copytruncate"
                );
                fs::copy(&log, root.join("logs/app.log.copy")).unwrap();
                OpenOptions::new()
                    .write(true)
                    .open(&log)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
            }
            // delete and recreate
            3000 => {
                fs::remove_file(&log).unwrap();
                out = append_to(&log);
            }
            // kill -9 and restart, twice, once right after a rotation
            1500 | 4001 | 5000 => {
                let mut d = daemon.take().unwrap();
                d.kill().unwrap();
                d.wait().unwrap();
                kills += 1;
                daemon = Some(spawn_daemon(root, "breachd.toml"));
            }
            _ => {}
        }
    }
    // the last line arrives in two writes: never emitted half
    out.write_all(b"10.0.0.9 - - [10/Mar/2026:10:00:00 +0000] \"GET /n/99999")
        .unwrap();
    out.flush().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    out.write_all(b"9 HTTP/1.1\" 200 1 \"-\" \"test\"\n")
        .unwrap();

    let mut expected: Vec<u64> = (0..total).collect();
    expected.extend([total + 10, total + 11, total + 12, total + 13, total + 14]);
    expected.extend([total + 40, total + 41, total + 42, total + 43, total + 44]);
    expected.push(999_999);
    let all_there = wait_for(30, || {
        let c = counts(&emitted_numbers(&events));
        expected.iter().all(|n| c.contains_key(n))
    });
    terminate(daemon.take().unwrap());
    let got = emitted_numbers(&events);
    let c = counts(&got);
    let missing: Vec<_> = expected
        .iter()
        .filter(|n| !c.contains_key(n))
        .take(20)
        .collect();
    assert!(
        all_there && missing.is_empty(),
        "missing lines: {missing:?}\n{}",
        fs::read_to_string(root.join("daemon.log")).unwrap()
    );
    let unexpected: Vec<_> = c.keys().filter(|n| !expected.contains(n)).collect();
    assert!(unexpected.is_empty(), "lines never written: {unexpected:?}");
    let duplicates: usize = c.values().map(|v| v - 1).sum();
    // At most one checkpoint interval (200 ms, ~1,000 lines at this rate) per kill.
    eprintln!(
        "{} lines, {} kills, {} re-read after kill -9",
        expected.len(),
        kills,
        duplicates
    );
    assert!(
        duplicates <= kills * 1000,
        "{duplicates} duplicates after {kills} kills"
    );
}

#[test]
fn clean_restart_rereads_nothing() {
    let dir = tail_dir(CONFIG);
    let root = dir.path();
    let log = root.join("logs/app.log");
    let events = root.join("out/events.jsonl");
    let mut out = append_to(&log);
    for n in 0..500 {
        out.write_all(numbered_line(n).as_bytes()).unwrap();
    }
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 500));
    terminate(d);
    for n in 500..600 {
        out.write_all(numbered_line(n).as_bytes()).unwrap();
    }
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 600));
    std::thread::sleep(Duration::from_millis(300));
    terminate(d);
    assert_eq!(emitted_numbers(&events), (0..600).collect::<Vec<_>>());
}

#[test]
fn read_from_end_skips_history_only_on_first_start() {
    let dir = tail_dir(&CONFIG.replace(
        "format = \"combined\"",
        "format = \"combined\"\nread_from = \"end\"",
    ));
    let root = dir.path();
    let events = root.join("out/events.jsonl");
    let mut old = append_to(&root.join("logs/old.log"));
    for n in 0..100 {
        old.write_all(numbered_line(n).as_bytes()).unwrap();
    }
    let d = spawn_daemon(root, "breachd.toml");
    assert!(
        wait_for(20, || daemon_log(root).contains("following a file")),
        "daemon started"
    );
    old.write_all(numbered_line(100).as_bytes()).unwrap();
    // a file created while running is read from its beginning
    let mut new = append_to(&root.join("logs/new.log"));
    new.write_all(numbered_line(200).as_bytes()).unwrap();
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 2));
    terminate(d);
    // written while down: read on restart despite read_from = end
    old.write_all(numbered_line(101).as_bytes()).unwrap();
    let mut later = append_to(&root.join("logs/later.log"));
    later.write_all(numbered_line(300).as_bytes()).unwrap();
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 4));
    std::thread::sleep(Duration::from_millis(300));
    terminate(d);
    let mut got = emitted_numbers(&events);
    got.sort();
    assert_eq!(got, vec![100, 101, 200, 300]);
}

#[test]
fn polling_mode_follows_files_too() {
    let dir = tail_dir(&CONFIG.replace(
        "format = \"combined\"",
        "format = \"combined\"\nwatch = \"poll\"",
    ));
    let root = dir.path();
    let events = root.join("out/events.jsonl");
    let d = spawn_daemon(root, "breachd.toml");
    std::thread::sleep(Duration::from_millis(300));
    let mut f = append_to(&root.join("logs/late.log"));
    for n in 0..50 {
        f.write_all(numbered_line(n).as_bytes()).unwrap();
    }
    // A file must be seen once (within a poll interval) before it is rotated
    // away under a name the glob does not match.
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 50));
    fs::rename(root.join("logs/late.log"), root.join("logs/late.log.1")).unwrap();
    let mut f = append_to(&root.join("logs/late.log"));
    for n in 50..100 {
        f.write_all(numbered_line(n).as_bytes()).unwrap();
    }
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 100));
    terminate(d);
    let mut got = emitted_numbers(&events);
    got.sort();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn malformed_lines_are_counted_and_skipped_while_tailing() {
    let dir = tail_dir(CONFIG);
    let root = dir.path();
    let events = root.join("out/events.jsonl");
    let mut f = append_to(&root.join("logs/app.log"));
    f.write_all(numbered_line(1).as_bytes()).unwrap();
    f.write_all(b"\xff\xfe not utf8\n\0\0\0binary\nnot a log line\n")
        .unwrap();
    f.write_all(&vec![b'x'; 100_000]).unwrap();
    f.write_all(b"\n").unwrap();
    f.write_all(numbered_line(2).as_bytes()).unwrap();
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 2));
    terminate(d);
    assert_eq!(emitted_numbers(&events), vec![1, 2]);
    let log = fs::read_to_string(root.join("daemon.log")).unwrap();
    for reason in ["invalid_utf8", "binary", "syntax", "too_long"] {
        assert!(log.contains(reason), "{reason} not reported:\n{log}");
    }
    assert!(
        log.contains("malformed=4") || log.contains("malformed\u{1b}[0m\u{1b}[2m=\u{1b}[0m4"),
        "{log}"
    );
}

#[test]
fn a_half_written_event_line_left_by_kill_9_is_cut_not_joined_to_the_next() {
    let dir = tail_dir(CONFIG);
    let root = dir.path();
    let events = root.join("out/events.jsonl");
    // what a kill -9 in the middle of writing out a full buffer leaves
    fs::create_dir_all(root.join("out")).unwrap();
    let whole = "{\"time\":\"2026-03-10T10:00:00+00:00\",\"resource\":\"/n/7\"}\n";
    fs::write(&events, format!("{whole}{{\"time\":\"2026-03-10T10:00")).unwrap();
    let mut f = append_to(&root.join("logs/app.log"));
    for n in 0..10 {
        f.write_all(numbered_line(n).as_bytes()).unwrap();
    }
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 11));
    terminate(d);
    let text = fs::read_to_string(&events).unwrap();
    for line in text.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "damaged line: {line}"
        );
    }
    let mut expected = vec![7];
    expected.extend(0..10);
    assert_eq!(emitted_numbers(&events), expected);
    assert!(daemon_log(root).contains("cut a half-written last line"));
}
