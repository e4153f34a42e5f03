//! A tiny harness: run the real `breachd` binary in a temp dir, as a user would.
#![allow(dead_code)]

pub mod sinks;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A folder of the shared test corpus (`../shared/corpus` beside the
/// checkout, or `$BREACHD_SHARED/corpus`).
pub fn corpus(name: &str) -> PathBuf {
    let shared = std::env::var_os("BREACHD_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let dir = shared.join("corpus").join(name);
    assert!(
        dir.is_dir(),
        "{} is missing: the shared corpus must sit beside the checkout (or set BREACHD_SHARED)",
        dir.display()
    );
    dir
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_breachd"))
}

/// Runs `breachd ARGS` to completion in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("BREACHD_LOG", "warn")
        .output()
        .expect("breachd runs")
}

/// Runs `breachd replay --output jsonl ARGS` in `dir` and returns its alert lines.
pub fn replay_alerts(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut full = vec!["replay", "--output", "jsonl"];
    full.extend_from_slice(args);
    let out = run(dir, &full);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Starts the daemon in `dir` with `--config CONFIG`.
pub fn spawn_daemon(dir: &Path, config: &str) -> Child {
    Command::new(bin())
        .args(["run", "--config", config])
        .current_dir(dir)
        .env("BREACHD_LOG", "info")
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

/// SIGTERM, then wait for a clean exit.
pub fn terminate(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "breachd exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "breachd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the daemon has logged so far (its stderr).
pub fn daemon_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
}

/// Polls `f` until it returns true or `secs` pass.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}

/// A combined-format line whose path carries `n`.
pub fn numbered_line(n: u64) -> String {
    format!("10.0.0.{} - - [10/Mar/2026:10:00:00 +0000] \"GET /n/{n} HTTP/1.1\" 200 {n} \"-\" \"test\"\n", n % 250 + 1)
}

/// The numbers in `/n/N` resources of an events file, in order.
pub fn emitted_numbers(events: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(events).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["resource"].as_str()?.strip_prefix("/n/")?.parse().ok()
        })
        .collect()
}

/// A portal whose customers (EU, identity and contact) are read at
/// `/api/customers/{id}`, and one rule that fires when a principal reads 50
/// of them within an hour: the smallest setup that opens a GDPR incident.
/// Writes `inventory.yaml` and `rules.yaml` into `dir`.
pub fn write_customer_portal(dir: &Path) {
    std::fs::write(dir.join("inventory.yaml"), CUSTOMER_INVENTORY).unwrap();
    std::fs::write(dir.join("rules.yaml"), BULK_READS_RULE).unwrap();
}

const CUSTOMER_INVENTORY: &str = r#"resources:
  - pattern: "/api/customers/{id}"
    methods: [GET]
    categories: [identity, contact]
    sensitivity: high
    subject_param: id
subjects:
  total: 5000
  jurisdictions: {EU: 1.0}
"#;

const BULK_READS_RULE: &str = r#"rules:
  - name: bulk_customer_reads
    description: one principal reading many customers' records
    detector: distinct
    match: {has_subject: true, outcome: [success], min_sensitivity: medium}
    key: [user]
    distinct: subject
    window: 1h
    threshold: 50
    severity: high
"#;

/// A temp dir for a tailing daemon: `logs/` to write into and `breachd.toml`.
pub fn tail_dir(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("breachd.toml"), config).unwrap();
    dir
}

/// A log file opened for appending (created if missing), as a writer would.
pub fn append_to(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}
