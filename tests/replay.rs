//! `breachd replay` as a user runs it: files, gzip, stdin, real corpora,
//! bad input, and the summary on stderr.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// Runs replay and returns (stdout, the JSON summary).
fn replay(dir: &Path, args: &[&str]) -> (String, serde_json::Value) {
    let mut full = vec!["replay", "--summary", "json"];
    full.extend_from_slice(args);
    let out = run(dir, &full);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay {args:?} failed: {stderr}");
    let summary = stderr
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON summary in: {stderr}"));
    (String::from_utf8(out.stdout).unwrap(), summary)
}

#[test]
fn real_apache_access_log_parses_without_a_malformed_line() {
    let log = corpus("elastic-examples").join("apache_logs");
    let dir = tempfile::tempdir().unwrap();
    let (stdout, s) = replay(
        dir.path(),
        &[
            "--until",
            "parse",
            "--output",
            "jsonl",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(stdout, "", "--until parse prints nothing");
    assert_eq!(s["lines"], 10_000);
    assert_eq!(s["events"], 10_000);
    assert_eq!(s["malformed_total"], 0, "{s}");
    assert_eq!(s["inputs"][0]["format"], "clf");
}

#[test]
fn events_output_is_normalized_json_with_the_lines_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(
        &log,
        "203.0.113.7 - alice [02/Mar/2026:10:00:01 +0100] \"POST /login HTTP/1.1\" 401 12 \"-\" \"curl/8.0\"\n",
    )
    .unwrap();
    let (stdout, _) = replay(dir.path(), &["--output", "events", "access.log"]);
    let ev: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(ev["time"], "2026-03-02T10:00:01+01:00");
    assert_eq!(ev["ip"], "203.0.113.7");
    assert_eq!(ev["user"], "alice");
    assert_eq!(ev["action"], "POST");
    assert_eq!(ev["resource"], "/login");
    assert_eq!(ev["outcome"], "denied");
    assert_eq!(ev["status"], 401);
    assert_eq!(ev["user_agent"], "curl/8.0");
}

#[test]
fn gzip_and_stdin_give_the_same_events_as_the_plain_file() {
    let src = corpus("elastic-examples").join("apache_logs");
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(&src).unwrap();
    let gz = dir.path().join("apache_logs.1.gz"); // compressed rotation, as logrotate leaves it
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&plain).unwrap();
    enc.finish().unwrap();
    let (from_file, _) = replay(dir.path(), &["--output", "events", src.to_str().unwrap()]);
    let (from_gz, _) = replay(dir.path(), &["--output", "events", "apache_logs.1.gz"]);
    assert_eq!(from_file.lines().count(), 10_000);
    assert_eq!(from_gz, from_file);

    let mut child = Command::new(bin())
        .args(["replay", "--output", "events", "-"])
        .env("BREACHD_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&plain).unwrap());
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), from_file);
}

#[test]
fn bad_input_is_counted_by_reason_and_never_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    let good = "10.0.0.1 - - [02/Mar/2026:10:00:01 +0000] \"GET /a HTTP/1.1\" 200 1 \"-\" \"x\"\n";
    data.extend_from_slice(good.as_bytes());
    data.extend_from_slice(b"\xc3\x28 invalid utf-8\n"); // invalid_utf8
    data.extend_from_slice(b"\x00\x01\x02\x03 binary junk \x7f\n"); // binary
    data.extend_from_slice(&vec![b'A'; 70 * 1024]); // too_long (default limit 64 KiB)
    data.push(b'\n');
    data.extend_from_slice(b"10.0.0.1 - - [02/Mar/2026:10:00:01 +0000] \"GET /b HTT\n"); // syntax (truncated line)
    data.extend_from_slice(
        b"10.0.0.1 - - [31/Feb/2026:10:00:01 +0000] \"GET /c HTTP/1.1\" 200 1\n",
    ); // bad_timestamp
    data.extend_from_slice(
        b"10.0.0.1 - - [02/Mar/2026:09:00:00 +0000] \"GET /d HTTP/1.1\" 200 1\n",
    ); // time goes backwards
    data.extend_from_slice(good.as_bytes());
    std::fs::write(dir.path().join("bad.log"), &data).unwrap();
    let (stdout, s) = replay(
        dir.path(),
        &["--format", "combined", "--output", "events", "bad.log"],
    );
    assert_eq!(
        stdout.lines().count(),
        3,
        "good lines still come out: {stdout}"
    );
    assert_eq!(s["lines"], 8);
    assert_eq!(s["events"], 3);
    let m = &s["malformed"];
    assert_eq!(m["invalid_utf8"], 1, "{s}");
    assert_eq!(m["binary"], 1, "{s}");
    assert_eq!(m["too_long"], 1, "{s}");
    assert_eq!(m["syntax"], 1, "{s}");
    assert_eq!(m["bad_timestamp"], 1, "{s}");
    assert_eq!(s["out_of_order"], 1, "{s}");
}

#[test]
fn a_configured_line_limit_applies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[pipeline]\nmax_line_bytes = 256\n",
    )
    .unwrap();
    let long = format!(
        "10.0.0.1 - - [02/Mar/2026:10:00:01 +0000] \"GET /{} HTTP/1.1\" 200 1\n",
        "a".repeat(300)
    );
    std::fs::write(dir.path().join("x.log"), long).unwrap();
    let (_, s) = replay(dir.path(), &["--config", "c.toml", "x.log"]);
    assert_eq!(s["malformed"]["too_long"], 1, "{s}");
}

#[test]
fn scenario_logs_are_sniffed_and_parse_cleanly() {
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/scenarios/gen.py");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scen");
    let ok = Command::new("python3")
        .args([
            gen.to_str().unwrap(),
            "--seed",
            "7",
            "--days",
            "1",
            "--scale",
            "0.2",
            "--variant",
            "v2",
            "--gzip",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".gz"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        let (_, s) = replay(&out, &["--until", "parse", f]);
        let want = if f.starts_with("app") {
            "json"
        } else if f.starts_with("auth") {
            "sshd"
        } else {
            "clf"
        };
        assert_eq!(s["inputs"][0]["format"], want, "{f}: {s}");
        assert_eq!(s["malformed_total"], 0, "{f}: {s}");
        assert!(s["events"].as_u64().unwrap() > 0, "{f}: {s}");
    }
}

#[test]
fn a_missing_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["replay", "nope.log"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope.log") && err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn apache_error_log_is_read_without_a_crash_and_is_not_access_traffic() {
    let log = corpus("loghub").join("Apache_2k.log");
    let dir = tempfile::tempdir().unwrap();
    // sniffed: recognised as an error log; only client-refusal lines become events
    let (_, s) = replay(dir.path(), &["--until", "parse", log.to_str().unwrap()]);
    assert_eq!(s["inputs"][0]["format"], "apache_error", "{s}");
    assert_eq!(s["lines"], 2000);
    assert_eq!(s["malformed_total"], 0, "{s}");
    assert_eq!(s["ignored"]["not_access_event"], 1968, "{s}");
    assert_eq!(
        s["events"], 32,
        "the `Directory index forbidden` refusals: {s}"
    );
    // forced through the access-log parser: every line counted, none crashes it
    let (_, s) = replay(
        dir.path(),
        &[
            "--format",
            "combined",
            "--until",
            "parse",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(s["events"], 0, "{s}");
    assert_eq!(s["malformed"]["syntax"], 2000, "{s}");
}

/// On glibc, where the kernel gives transparent huge pages only on request
/// (`madvise` mode), replay re-executes itself once to back its heap with
/// them; the output is the same, and `BREACHD_HUGE_PAGES=0` opts out.
#[test]
fn replay_asks_for_huge_pages_where_the_kernel_gives_them_on_request() {
    let log = corpus("elastic-examples").join("apache_logs");
    let dir = tempfile::tempdir().unwrap();
    let replay = |opt_out: bool| {
        let mut cmd = Command::new(bin());
        cmd.args(["replay", "--summary", "json", "--output", "jsonl"])
            .arg(&log)
            .current_dir(dir.path())
            .env("BREACHD_LOG", "warn")
            .env_remove("GLIBC_TUNABLES");
        if opt_out {
            cmd.env("BREACHD_HUGE_PAGES", "0");
        }
        let out = cmd.output().expect("breachd runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let summary: serde_json::Value =
            serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
        (String::from_utf8(out.stdout).unwrap(), summary)
    };
    let mode =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    let on_request =
        cfg!(all(target_os = "linux", target_env = "gnu")) && mode.contains("[madvise]");
    let (alerts, s) = replay(false);
    assert_eq!(s["huge_pages"], on_request, "THP mode {mode:?}: {s}");
    let (same, off) = replay(true);
    assert_eq!(off["huge_pages"], false, "{off}");
    assert_eq!(
        (alerts, &s["events"], &s["alerts"]),
        (same, &off["events"], &off["alerts"])
    );
    assert_eq!(s["events"], 10_000);
}
