//! `kill -9` at the dangerous moments of a rotation: a file that appeared and
//! was rotated away between two checkpoints, a copytruncate the daemon did
//! not see, and many kills right after a rename. Nothing may be lost; lines
//! read since the last checkpoint may be read again.

mod common;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;

/// Checkpoints an hour apart: the first lines read are checkpointed at once
/// (the daemon records files as soon as it reads them), then none until a
/// clean stop, so whatever happens after the first checkpoint is "between two
/// checkpoints" for certain.
const RARE_CHECKPOINTS: &str = r#"data_dir = "data"
[[source]]
name = "web"
paths = ["logs/*.log"]
format = "combined"
poll_interval = "100ms"
rotate_wait = "1s"
[pipeline]
checkpoint_interval = "1h"
[events]
path = "out/events.jsonl"
"#;

fn write_lines(out: &mut fs::File, nums: impl IntoIterator<Item = u64>) {
    let text: String = nums.into_iter().map(numbered_line).collect();
    out.write_all(text.as_bytes()).unwrap();
}

fn kill_9(mut d: Child) {
    d.kill().unwrap();
    d.wait().unwrap();
}

/// Stops (SIGSTOP) or resumes (SIGCONT) the daemon: a stalled daemon reads
/// nothing, as under heavy load, but keeps its state.
fn signal(d: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &d.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn times_following(root: &Path) -> usize {
    daemon_log(root).matches("following a file").count()
}

/// Waits until every expected number was emitted, stops the daemon, and
/// checks: none missing, none invented, duplicates at most `max_dups`.
/// `log` gets lines 0..100, read and checkpointed (a later turn following
/// a second file proves the checkpoint saved), then 100..150 after it, and
/// the daemon is killed -9 before the next checkpoint. Returns the writer.
fn killed_after_a_checkpoint(root: &Path, log: &Path) -> fs::File {
    let events = root.join("out/events.jsonl");
    let mut out = append_to(log);
    write_lines(&mut out, 0..100);
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 100));
    write_lines(&mut append_to(&root.join("logs/other.log")), 900..901);
    assert!(
        wait_for(20, || times_following(root) >= 2),
        "other.log followed"
    );
    write_lines(&mut out, 100..150);
    kill_9(d);
    out
}

fn assert_all_read_once_or_more(
    root: &Path,
    daemon: Child,
    expected: &[u64],
    max_dups: usize,
) -> usize {
    let events = root.join("out/events.jsonl");
    let all_there = wait_for(30, || {
        let got = emitted_numbers(&events);
        let have: std::collections::BTreeSet<_> = got.iter().collect();
        expected.iter().all(|n| have.contains(n))
    });
    terminate(daemon);
    let mut c = BTreeMap::new();
    for n in emitted_numbers(&events) {
        *c.entry(n).or_insert(0usize) += 1;
    }
    let missing: Vec<_> = expected.iter().filter(|n| !c.contains_key(n)).collect();
    let text = fs::read_to_string(&events).unwrap_or_default();
    let damaged: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_err())
        .collect();
    assert!(
        all_there && missing.is_empty(),
        "{} lines lost, e.g. {:?}; damaged event lines: {damaged:?}\n{}",
        missing.len(),
        &missing[..missing.len().min(20)],
        daemon_log(root)
    );
    let unexpected: Vec<_> = c.keys().filter(|n| !expected.contains(n)).collect();
    assert!(unexpected.is_empty(), "lines never written: {unexpected:?}");
    let dups: usize = c.values().map(|v| v - 1).sum();
    assert!(
        dups <= max_dups,
        "{dups} lines read twice (at most {max_dups})"
    );
    dups
}

#[test]
fn a_file_rotated_away_before_any_checkpoint_named_it_is_read_after_kill_9() {
    let dir = tail_dir(RARE_CHECKPOINTS);
    let root = dir.path();
    let log = root.join("logs/app.log");
    let events = root.join("out/events.jsonl");
    // A: read and checkpointed by the first turn
    let mut out = append_to(&log);
    write_lines(&mut out, 0..100);
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 100));
    // rename rotation: A -> app.log.1, its writer adds 5 lines, then B appears
    fs::rename(&log, root.join("logs/app.log.1")).unwrap();
    write_lines(&mut out, 100..105);
    out = append_to(&log);
    write_lines(&mut out, 200..400);
    assert!(wait_for(20, || times_following(root) >= 2), "B followed");
    // B is rotated too, before any checkpoint recorded it; C appears
    fs::rename(&log, root.join("logs/app.log.2")).unwrap();
    write_lines(&mut out, 400..405);
    out = append_to(&log);
    write_lines(&mut out, 500..510);
    assert!(wait_for(20, || times_following(root) >= 3), "C followed");
    kill_9(d);
    let d = spawn_daemon(root, "breachd.toml");
    write_lines(&mut out, 510..520);
    let expected: Vec<u64> = (0..105).chain(200..405).chain(500..520).collect();
    // read again: at most what was read since the checkpoint (B and C whole)
    let dups = assert_all_read_once_or_more(root, d, &expected, 205 + 5 + 10);
    eprintln!("{dups} lines read twice");
}

#[test]
fn a_copytruncate_after_kill_9_reads_the_copy_from_the_checkpoint() {
    let dir = tail_dir(RARE_CHECKPOINTS);
    let root = dir.path();
    let log = root.join("logs/app.log");
    let mut out = killed_after_a_checkpoint(root, &log);
    // copytruncate while breachd is down: only the copy holds 100..150
    fs::copy(&log, root.join("logs/app.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    write_lines(&mut out, 150..160);
    let d = spawn_daemon(root, "breachd.toml");
    let expected: Vec<u64> = (0..160).chain(900..901).collect();
    // the copy is read from the checkpoint on, not from its beginning
    let dups = assert_all_read_once_or_more(root, d, &expected, 1);
    eprintln!("{dups} lines read twice");
}

#[test]
fn kill_9_right_after_rotations_at_many_moments_loses_no_line() {
    let dir = tail_dir(&RARE_CHECKPOINTS.replace("\"1h\"", "\"200ms\""));
    let root = dir.path();
    let log = root.join("logs/app.log");
    // A first run records the file and stops cleanly: a first start has no
    // record of what it may have missed, every later start has one.
    let mut out = append_to(&log);
    write_lines(&mut out, 0..1);
    let daemon = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(
        &root.join("out/events.jsonl")
    )
    .len()
        == 1));
    terminate(daemon);
    let mut daemon = spawn_daemon(root, "breachd.toml");
    let mut expected = vec![0];
    let mut n = 1u64;
    let rounds = 12u64;
    for round in 0..rounds {
        // a file lives 20..460 ms: shorter and longer than a checkpoint interval
        let life = Duration::from_millis(20 + round * 40);
        let born = Instant::now();
        while born.elapsed() < life {
            write_lines(&mut out, n..n + 5);
            expected.extend(n..n + 5);
            n += 5;
            std::thread::sleep(Duration::from_millis(2));
        }
        // rename rotation; the writer adds 5 lines to the old file, reopens
        fs::rename(&log, root.join(format!("logs/app.log.{round}"))).unwrap();
        let extra = 1_000_000 + round * 10;
        write_lines(&mut out, extra..extra + 5);
        expected.extend(extra..extra + 5);
        out = append_to(&log);
        write_lines(&mut out, n..n + 1);
        expected.push(n);
        n += 1;
        // kill -9 at once, or a little later
        std::thread::sleep(Duration::from_millis(round % 3 * 30));
        kill_9(daemon);
        daemon = spawn_daemon(root, "breachd.toml");
    }
    write_lines(&mut out, n..n + 10);
    expected.extend(n..n + 10);
    let lines = expected.len();
    // A daemon killed before its first checkpoint leaves the next one the
    // same backlog (every file found since the last checkpoint) to read
    // again: duplicates grow with kills that come faster than checkpoints.
    let most = lines * rounds as usize;
    let dups = assert_all_read_once_or_more(root, daemon, &expected, most);
    eprintln!("{lines} lines, {rounds} kills, {dups} read twice");
}

#[test]
fn files_created_and_rotated_while_the_daemon_stalls_are_read() {
    let dir = tail_dir(&RARE_CHECKPOINTS.replace("\"1h\"", "\"200ms\""));
    let root = dir.path();
    let log = root.join("logs/app.log");
    let events = root.join("out/events.jsonl");
    let mut out = append_to(&log);
    write_lines(&mut out, 0..100);
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 100));
    signal(&d, "-STOP");
    // a copytruncate, then two rename rotations, that the daemon does not see
    write_lines(&mut out, 100..150);
    fs::copy(&log, root.join("logs/app.log.copy")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    write_lines(&mut out, 150..160);
    fs::rename(&log, root.join("logs/app.log.1")).unwrap();
    write_lines(&mut out, 160..165);
    out = append_to(&log);
    write_lines(&mut out, 200..250);
    fs::rename(&log, root.join("logs/app.log.2")).unwrap();
    write_lines(&mut out, 250..255);
    out = append_to(&log);
    write_lines(&mut out, 300..310);
    signal(&d, "-CONT");
    let expected: Vec<u64> = (0..165).chain(200..255).chain(300..310).collect();
    // the copy is read from where the truncated file was left, not again
    let dups = assert_all_read_once_or_more(root, d, &expected, 0);
    eprintln!("{dups} lines read twice");
}

#[test]
fn a_rotated_file_gzipped_while_breachd_is_down_is_read_from_the_checkpoint() {
    let dir = tail_dir(RARE_CHECKPOINTS);
    let root = dir.path();
    let log = root.join("logs/app.log");
    let mut out = killed_after_a_checkpoint(root, &log);
    // logrotate with `compress` (no delaycompress) while breachd is down
    let rotated = root.join("logs/app.log.1");
    fs::rename(&log, &rotated).unwrap();
    write_lines(&mut out, 150..155);
    let mut gz = flate2::write::GzEncoder::new(
        fs::File::create(root.join("logs/app.log.1.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&fs::read(&rotated).unwrap()).unwrap();
    gz.finish().unwrap();
    fs::remove_file(&rotated).unwrap();
    write_lines(&mut append_to(&log), 200..210);
    let d = spawn_daemon(root, "breachd.toml");
    let expected: Vec<u64> = (0..155).chain(200..210).chain(900..901).collect();
    let dups = assert_all_read_once_or_more(root, d, &expected, 1);
    eprintln!("{dups} lines read twice");
    assert!(daemon_log(root).contains("compressed while breachd was down"));
}

#[test]
fn a_file_created_and_rotated_before_any_file_was_followed_is_read() {
    let dir = tail_dir(&RARE_CHECKPOINTS.replace("\"1h\"", "\"200ms\""));
    let root = dir.path();
    let log = root.join("logs/app.log");
    let events = root.join("out/events.jsonl");
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || daemon_log(root).contains("no file matches yet")));
    signal(&d, "-STOP");
    // no followed file is orphaned: only the new file tells of a rotation
    let mut out = append_to(&log);
    write_lines(&mut out, 0..10);
    fs::rename(&log, root.join("logs/app.log.1")).unwrap();
    write_lines(&mut append_to(&log), 10..20);
    signal(&d, "-CONT");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 20));
    let expected: Vec<u64> = (0..20).collect();
    assert_all_read_once_or_more(root, d, &expected, 0);
}
