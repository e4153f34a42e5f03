//! Checkpoints live in the store now: an older breachd's `checkpoints.json`
//! is taken over on the first start, and a restart resumes from the store.

mod common;

use std::os::unix::fs::MetadataExt;

use breachd::source::checkpoint::{Checkpoint, CheckpointStore, Fingerprint};
use common::*;

const CONFIG: &str = "data_dir = \"data\"\n[[source]]\nname = \"web\"\npaths = [\"logs/*.log\"]\nformat = \"combined\"\npoll_interval = \"50ms\"\n[pipeline]\ncheckpoint_interval = \"100ms\"\n[events]\npath = \"out/events.jsonl\"\n";

#[test]
fn an_older_breachds_checkpoints_are_taken_over_and_then_kept_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::write(root.join("breachd.toml"), CONFIG).unwrap();
    let log = root.join("logs/app.log");
    let first: String = (0..5).map(numbered_line).collect();
    let rest: String = (5..10).map(numbered_line).collect();
    std::fs::write(&log, format!("{first}{rest}")).unwrap();
    // what an older breachd left: lines 0-4 read
    let meta = std::fs::metadata(&log).unwrap();
    let file = std::fs::File::open(&log).unwrap();
    let old = CheckpointStore::open(&root.join("data")).unwrap();
    old.save(&[Checkpoint {
        source: "web".into(),
        path: log.clone(),
        dev: meta.dev(),
        ino: meta.ino(),
        fingerprint: Fingerprint::of(&file, meta.len()).unwrap(),
        offset: first.len() as u64,
        closed_at: None,
        scanned_at: None,
    }])
    .unwrap();
    let d = spawn_daemon(root, "breachd.toml");
    let events = root.join("out/events.jsonl");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 5));
    terminate(d);
    assert_eq!(emitted_numbers(&events), (5..10).collect::<Vec<_>>());
    assert!(daemon_log(root).contains("checkpoints moved from checkpoints.json into the store"));
    // the store's checkpoints win from now on: the stale JSON is not read again
    let more: String = (10..13).map(numbered_line).collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, more.as_bytes()))
        .unwrap();
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || emitted_numbers(&events).len() >= 8));
    terminate(d);
    assert_eq!(emitted_numbers(&events), (5..13).collect::<Vec<_>>());
}
