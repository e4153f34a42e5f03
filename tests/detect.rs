//! Detection end to end through `breachd replay`: log lines in, alert lines out.

mod common;

use common::*;

/// Alerts of a replay, with zoneless times read as UTC.
fn alerts(dir: &std::path::Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut full = vec!["--timezone", "UTC"];
    full.extend_from_slice(args);
    replay_alerts(dir, &full)
}

#[test]
fn double_encoded_commented_sql_injection_is_one_probe_alert() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    for (i, q) in [
        "1%252F%252A%252A%252FAND%252F%252A%252A%252F%2528%252F%252A%252150000SELECT%252A%252F%252F%252A%252A%252F4050",
        "1%2527%252F%252A%252A%252FAND%252F%252A%252A%252F%25271447%2527%253D%25275295",
        "1%252F%252A%252A%252FAND%252F%252A%252A%252FASCII%2528SUBSTRING%2528%2528%252F%252A%252150000SELECT",
        "1%2529%252F%252A%252A%252FAND%252F%252A%252A%252F%25288541%252F%252A%252A%252FBETWEEN",
    ]
    .iter()
    .enumerate()
    {
        log.push_str(&format!(
            "45.6.235.106 - - [12/Mar/2026:13:5{i}:59 +0200] \"GET /api/products?id={q} HTTP/1.1\" 500 2137 \"-\" \"Mozilla/5.0\"\n"
        ));
    }
    // a benign neighbour
    log.push_str("10.1.1.1 - - [12/Mar/2026:13:59:00 +0200] \"GET /api/products?q=between%20and%20select HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0\"\n");
    std::fs::write(dir.path().join("access.log"), log).unwrap();
    let a = alerts(dir.path(), &["access.log"]);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0]["detector"], "web_attack_probe");
    assert_eq!(a[0]["entities"][0]["value"], "45.6.235.106");
    assert_eq!(
        a[0]["detected_at"], "2026-03-12T13:52:59+02:00",
        "fires at the third probe"
    );
    assert_eq!(a[0]["subjects"], 0);
}

#[test]
fn real_ssh_attack_log_raises_brute_force_alerts_per_attacking_host() {
    let dir = tempfile::tempdir().unwrap();
    let log = corpus("loghub").join("OpenSSH_2k.log");
    let a = alerts(dir.path(), &[log.to_str().unwrap()]);
    let hosts: std::collections::BTreeSet<&str> = a
        .iter()
        .filter(|x| x["detector"] == "ssh_bruteforce")
        .map(|x| x["entities"][0]["value"].as_str().unwrap())
        .collect();
    // the sample's heaviest attackers (hundreds of failures each)
    for h in ["183.62.140.253", "187.141.143.180", "103.99.0.122"] {
        assert!(hosts.contains(h), "{h} not alerted: {hosts:?}");
    }
    // one alert per attack, not one per line
    assert!(a.len() < 40, "{} alerts for 2,000 lines", a.len());
}

#[test]
fn fail2ban_web_auth_samples_raise_brute_force_for_the_host_that_repeats_failures() {
    let dir = tempfile::tempdir().unwrap();
    // apache-auth: 127.0.0.1 fails HTTP auth six times within eight minutes
    // (2013-07-20 21:37-21:45); every other host fails at most twice.
    let log = corpus("fail2ban").join("apache-auth");
    let a = alerts(dir.path(), &[log.to_str().unwrap()]);
    let hosts: Vec<&str> = a
        .iter()
        .filter(|x| x["detector"] == "http_auth_bruteforce")
        .map(|x| x["entities"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["127.0.0.1"], "{a:#?}");
    // nginx-http-auth: no host fails more than three times, so no alert
    let log = corpus("fail2ban").join("nginx-http-auth");
    let quiet = alerts(dir.path(), &[log.to_str().unwrap()]);
    assert!(
        quiet
            .iter()
            .all(|x| x["detector"] != "http_auth_bruteforce"),
        "{quiet:#?}"
    );
}

#[test]
fn the_real_access_log_raises_no_high_alert() {
    let dir = tempfile::tempdir().unwrap();
    let log = corpus("elastic-examples").join("apache_logs");
    let a = alerts(dir.path(), &[log.to_str().unwrap()]);
    let loud: Vec<_> = a
        .iter()
        .filter(|x| x["severity"] == "high" || x["severity"] == "critical")
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
}

#[test]
fn the_daemon_pages_when_an_alert_opens_and_writes_it_when_it_closes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::write(
        root.join("breachd.toml"),
        "data_dir = \"data\"\n[[source]]\npaths = [\"logs/*.log\"]\ntimezone = \"UTC\"\npoll_interval = \"100ms\"\n[pipeline]\ncheckpoint_interval = \"200ms\"\n",
    )
    .unwrap();
    let d = spawn_daemon(root, "breachd.toml");
    assert!(wait_for(20, || daemon_log(root).contains("breachd running")));
    let mut log = String::new();
    for i in 0..8 {
        log.push_str(&format!(
            "Nov 25 10:00:{i:02} web-1 sshd[{}]: Failed password for root from 203.0.113.9 port 4{i}000 ssh2\n",
            100 + i
        ));
    }
    std::fs::write(root.join("logs/auth.log"), log).unwrap();
    assert!(
        wait_for(20, || daemon_log(root).contains("ssh_bruteforce")),
        "no page:\n{}",
        daemon_log(root)
    );
    terminate(d);
    let alerts = std::fs::read_to_string(root.join("data/alerts.jsonl")).unwrap();
    let a: serde_json::Value =
        serde_json::from_str(alerts.lines().next().expect("an alert line")).unwrap();
    assert_eq!(a["detector"], "ssh_bruteforce");
    assert_eq!(a["entities"][0]["value"], "203.0.113.9");
    assert_eq!(a["events"], 8);
}

#[test]
fn table_output_lists_alerts_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let log = corpus("loghub").join("OpenSSH_2k.log");
    let out = run(
        dir.path(),
        &[
            "replay",
            "--output",
            "table",
            "--timezone",
            "UTC",
            log.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("detected_at"), "{text}");
    assert!(
        text.contains("ssh_bruteforce") && text.contains("183.62.140.253"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("alerts"), "{text}");
}

#[test]
fn corpus_sigma_rules_load_through_the_cli_and_unsupported_ones_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.log"),
        "1.2.3.4 - - [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1\n",
    )
    .unwrap();
    let sigma = corpus("sigma");
    let out = run(
        dir.path(),
        &[
            "replay",
            "--summary",
            "json",
            "--sigma",
            sigma.to_str().unwrap(),
            "x.log",
        ],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let s: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    // 3 shipped files + the corpus's 119; 5 corpus rules use constructs or fields we do not have
    assert_eq!(s["sigma_rules_seen"], 122, "{s}");
    assert_eq!(s["sigma_rules_loaded"], 117, "{s}");
}
