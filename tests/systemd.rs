//! breachd as systemd runs it: the unit verifies and its sandbox rates 2.0
//! or lower; READY/WATCHDOG/RELOADING/STOPPING reach `$NOTIFY_SOCKET`;
//! SIGHUP under load keeps detector state, loses no event and re-fires no
//! step; SIGTERM flushes the checkpoint so a restart re-reads nothing.

mod api_common;
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use api_common::strip_ansi;
use common::*;

fn analyze(args: &[&str]) -> std::process::Output {
    Command::new("systemd-analyze").args(args).output().expect(
        "systemd-analyze runs (`apt-get install -y systemd` provides it; .ci/test installs it)",
    )
}

/// The shipped unit with `ExecStart` pointing at the binary under test
/// (`verify` checks that the command exists).
fn unit_copy(dir: &Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/breachd.service"),
    )
    .unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/breachd run"),
        "the unit runs the packaged binary"
    );
    let copy = dir.join("breachd.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/bin/breachd", &bin().display().to_string()),
    )
    .unwrap();
    copy
}

#[test]
fn the_unit_verifies_and_its_sandbox_rates_2_0_or_lower() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path());
    let unit = unit.to_str().unwrap();
    let out = analyze(&["verify", unit]);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = analyze(&["security", "--offline=yes", "--threshold=20", unit]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let rating: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for breachd.service: ")
                .nth(1)
        })
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rating in:\n{text}"));
    assert!(rating <= 2.0, "exposure {rating} > 2.0:\n{text}");
    assert!(out.status.success(), "{text}");
    for must in [
        "Type=notify",
        "WatchdogSec=",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/breachd\n",
        "SystemCallFilter=@system-service",
        "User=breachd",
    ] {
        assert!(
            std::fs::read_to_string(unit).unwrap().contains(must),
            "the unit lacks {must:?}"
        );
    }
}

const CONFIG: &str = "data_dir = \"data\"\n[[source]]\nname = \"app\"\npaths = [\"logs/*.jsonl\"]\npoll_interval = \"50ms\"\n[pipeline]\ncheckpoint_interval = \"100ms\"\n[events]\npath = \"events.jsonl\"\n[detect]\ninventory = \"inventory.yaml\"\nrules = \"rules.yaml\"\n";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    write_customer_portal(dir.path());
    std::fs::write(dir.path().join("breachd.toml"), CONFIG).unwrap();
    dir
}

/// Line `n`: a read at `t0 + n` seconds; `scraper` reads customer `1000+n`
/// (distinct), clerks re-read three customers (never 50 distinct).
fn line(t0: jiff::Timestamp, n: u32, scraper: bool) -> String {
    use jiff::ToSpan;
    let ts = t0 + i64::from(n).seconds();
    let (user, customer) = if scraper {
        ("scraper".to_string(), 1000 + n)
    } else {
        (format!("clerk-{}", n % 40), n % 3)
    };
    format!(
        "{{\"ts\":\"{ts}\",\"user\":\"{user}\",\"role\":\"staff\",\"ip\":\"198.51.100.{}\",\"method\":\"GET\",\"path\":\"/api/customers/{customer}\",\"status\":200,\"bytes\":900,\"records\":1,\"subjects\":[],\"session\":\"s-{n}\"}}\n",
        n % 200 + 1
    )
}

fn append(root: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("logs/app.jsonl"))
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Events written to `events.jsonl`, counted by their time.
fn events(root: &Path) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for l in std::fs::read_to_string(root.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        *out.entry(v["time"].to_string()).or_insert(0) += 1;
    }
    out
}

fn signal(child: &std::process::Child, sig: &str) {
    assert!(Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

fn reloads(root: &Path) -> usize {
    strip_ansi(&daemon_log(root))
        .matches("reloaded inventory, rules, playbooks and templates")
        .count()
}

fn step_firings(root: &Path) -> Vec<String> {
    let out = run(
        root,
        &["audit", "--config", "breachd.toml", "--json", "show"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trail: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "step_fired")
        .map(|e| e["detail"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sighup_under_load_keeps_detector_state_loses_no_event_and_refires_no_step() {
    let dir = setup();
    let root = dir.path();
    let t0 = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1800);
    // 30 distinct reads by the scraper: 20 short of the rule's 50
    let mut first = String::new();
    for n in 0..30 {
        first.push_str(&line(t0, n, true));
    }
    append(root, &first);
    let child = spawn_daemon(root, "breachd.toml");
    assert!(
        wait_for(30, || events(root).len() == 30),
        "{}",
        daemon_log(root)
    );
    signal(&child, "-HUP");
    assert!(wait_for(20, || reloads(root) == 1), "{}", daemon_log(root));

    // load: 480 clerk reads and the scraper's last 20, while SIGHUP keeps coming
    let writer = {
        let root = root.to_path_buf();
        std::thread::spawn(move || {
            let mut next_scraper = 30;
            for n in 30..530u32 {
                let scraper = n % 24 == 0 && next_scraper < 50;
                let mut l = line(t0, n, false);
                if scraper {
                    // the scraper's reads keep their own customer numbers
                    l = line(t0, n, true).replace(
                        &format!("/api/customers/{}", 1000 + n),
                        &format!("/api/customers/{}", 1000 + next_scraper),
                    );
                    next_scraper += 1;
                }
                append(&root, &l);
                if n % 10 == 0 {
                    std::thread::sleep(Duration::from_millis(4));
                }
            }
            next_scraper
        })
    };
    for _ in 0..8 {
        signal(&child, "-HUP");
        std::thread::sleep(Duration::from_millis(40));
    }
    let scraped = writer.join().unwrap();
    assert_eq!(scraped, 50, "the writer gave the scraper 20 more reads");
    assert!(
        wait_for(30, || events(root).len() == 530),
        "events: {}\n{}",
        events(root).len(),
        daemon_log(root)
    );
    assert!(wait_for(20, || reloads(root) >= 2), "{}", daemon_log(root));
    let log = strip_ansi(&daemon_log(root));
    assert!(log.contains("rules_changed=false"), "{log}");
    // no event lost, none twice
    let seen = events(root);
    assert_eq!(seen.len(), 530);
    assert!(seen.values().all(|&c| c == 1), "an event was read twice");
    // the scraper's 50th read opened the alert: the 30 before the reloads were remembered
    assert!(
        wait_for(20, || strip_ansi(&daemon_log(root))
            .contains("incident opened")),
        "state was lost across SIGHUP:\n{log}"
    );
    assert!(wait_for(20, || !step_firings(root).is_empty()));
    std::thread::sleep(Duration::from_millis(500));
    let fired = step_firings(root);
    // more reloads fire nothing again
    for _ in 0..3 {
        signal(&child, "-HUP");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(wait_for(20, || reloads(root) >= 5));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(step_firings(root), fired, "a reload re-fired a step");
    let mut unique = fired.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), fired.len(), "a step fired twice: {fired:?}");
    terminate(child);
}

#[test]
fn sigterm_flushes_the_checkpoint_so_a_restart_reads_nothing_again() {
    let dir = setup();
    let root = dir.path();
    let t0 = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1800);
    let mut text = String::new();
    for n in 0..200 {
        text.push_str(&line(t0, n, false));
    }
    append(root, &text);
    let child = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(30, || events(root).len() == 200));
    // more lines just before the stop: their checkpoint is saved on SIGTERM
    let mut more = String::new();
    for n in 200..260 {
        more.push_str(&line(t0, n, false));
    }
    append(root, &more);
    assert!(wait_for(30, || events(root).len() == 260));
    terminate(child);
    let size = std::fs::metadata(root.join("logs/app.jsonl"))
        .unwrap()
        .len();
    let child = spawn_daemon(root, "breachd.toml");
    let resumed = format!("offset={size} resumed=true");
    assert!(
        wait_for(30, || strip_ansi(&daemon_log(root)).contains(&resumed)),
        "the restart did not resume at the end ({resumed}):\n{}",
        daemon_log(root)
    );
    std::thread::sleep(Duration::from_millis(500));
    terminate(child);
    let seen = events(root);
    assert_eq!(seen.len(), 260);
    assert!(
        seen.values().all(|&c| c == 1),
        "the restart read lines again"
    );
}

#[test]
fn systemd_hears_ready_watchdog_reloading_and_stopping() {
    let dir = setup();
    let root = dir.path();
    let sock_path = root.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = std::fs::File::create(root.join("daemon.log")).unwrap();
    let child = Command::new(bin())
        .args(["run", "--config", "breachd.toml"])
        .current_dir(root)
        .env("BREACHD_LOG", "info")
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "300000")
        .stderr(log)
        .spawn()
        .unwrap();
    let mut heard = String::new();
    // reads datagrams until `until` has been heard `times` times
    let listen_n = |until: &str, times: usize, heard: &mut String| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 512];
        while heard.matches(until).count() < times && std::time::Instant::now() < deadline {
            if let Ok(n) = sock.recv(&mut buf) {
                let _ = writeln!(heard, "{}", String::from_utf8_lossy(&buf[..n]));
            }
        }
        heard.matches(until).count() >= times
    };
    let listen = |until: &str, heard: &mut String| listen_n(until, 1, heard);
    assert!(
        listen("READY=1", &mut heard),
        "{heard}\n{}",
        daemon_log(root)
    );
    assert!(listen("WATCHDOG=1", &mut heard), "{heard}");
    signal(&child, "-HUP");
    assert!(listen("RELOADING=1", &mut heard), "{heard}");
    assert_eq!(heard.matches("READY=1").count(), 1);
    // ready again once the reload is done
    assert!(listen_n("READY=1", 2, &mut heard), "{heard}");
    assert!(wait_for(5, || reloads(root) == 1));
    terminate(child);
    assert!(listen("STOPPING=1", &mut heard), "{heard}");
}

#[test]
fn the_package_installs_files_that_exist_and_a_config_that_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"]
        .as_array()
        .expect("[package.metadata.deb] assets");
    let mut dests = Vec::new();
    for a in assets {
        let (src, dest) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
        dests.push(dest.to_string());
        if src.starts_with("target/") {
            continue; // built by `cargo deb`
        }
        let found = glob::glob(root.join(src).to_str().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .count();
        assert!(found > 0, "the package names {src}, which matches no file");
    }
    for wanted in [
        "usr/bin/",
        "lib/systemd/system/",
        "usr/lib/sysusers.d/breachd.conf",
        "usr/lib/tmpfiles.d/breachd.conf",
        "etc/breachd/breachd.toml",
    ] {
        assert!(
            dests.iter().any(|d| d == wanted),
            "nothing installed to {wanted}"
        );
    }
    for script in ["postinst", "prerm"] {
        let p = root
            .join(deb["maintainer-scripts"].as_str().unwrap())
            .join(script);
        let out = Command::new("sh").arg("-n").arg(&p).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // the unit runs the installed config, which `breachd check` accepts
    let unit = std::fs::read_to_string(root.join("systemd/breachd.service")).unwrap();
    assert!(unit.contains("--config /etc/breachd/breachd.toml"));
    let out = run(root, &["check", "--config", "systemd/breachd.toml"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = std::fs::read_to_string(root.join("systemd/breachd.toml")).unwrap();
    assert!(
        cfg.contains("data_dir = \"/var/lib/breachd\""),
        "the data dir is the unit's ReadWritePaths"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn sighup_reloads_templates_and_a_broken_config_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    write_customer_portal(root);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
        &root.join("templates"),
    );
    let config = format!("{CONFIG}[playbooks]\ntemplates = \"templates\"\n");
    std::fs::write(root.join("breachd.toml"), &config).unwrap();
    let mut child = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(30, || strip_ansi(&daemon_log(root))
        .contains("breachd running")));

    // the on-call alert's template changes, then SIGHUP
    let alert = root.join("templates/en/oncall_alert.hbs");
    let mut text = std::fs::read_to_string(&alert).unwrap();
    text.push_str("\nRunbook: https://wiki.example/breach-runbook-v2\n");
    std::fs::write(&alert, text).unwrap();
    signal(&child, "-HUP");
    assert!(wait_for(20, || reloads(root) == 1), "{}", daemon_log(root));

    // an incident opens: its page is rendered with the new template
    let t0 = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(600);
    let mut lines = String::new();
    for n in 0..60 {
        lines.push_str(&line(t0, n, true));
    }
    append(root, &lines);
    let pages = root.join("data/notifications");
    assert!(
        wait_for(30, || std::fs::read_dir(&pages)
            .into_iter()
            .flatten()
            .flatten()
            .any(|f| {
                std::fs::read_to_string(f.path())
                    .unwrap_or_default()
                    .contains("breach-runbook-v2")
            })),
        "no page with the reloaded template in {}:\n{}",
        pages.display(),
        daemon_log(root)
    );

    // a broken config is refused; the daemon runs on
    std::fs::write(
        root.join("breachd.toml"),
        format!("{config}bogus_key = 1\n"),
    )
    .unwrap();
    signal(&child, "-HUP");
    assert!(
        wait_for(20, || strip_ansi(&daemon_log(root))
            .contains("reload refused: the config has problems")),
        "{}",
        daemon_log(root)
    );
    assert!(
        strip_ansi(&daemon_log(root)).contains("bogus_key"),
        "the refusal names the problem"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "breachd stopped on a bad reload"
    );
    assert_eq!(reloads(root), 1);
    terminate(child);
}
