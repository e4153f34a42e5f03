//! One end-to-end replay per shipped rule: a small app audit log (JSON lines)
//! with one attack, through `breachd replay`, must raise that rule's alert on
//! the attacker; the benign traffic around it must raise nothing.

mod common;

use std::fmt::Write as _;

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
  - pattern: "/api/customers/{id}/cards"
    methods: [GET]
    categories: [payment_card]
    sensitivity: very_high
    subject_param: id
  - pattern: "/api/customers/{id}/addresses"
    methods: [GET, POST]
    categories: [contact, location]
    sensitivity: high
    subject_param: id
subjects:
  total: 5000
"#;

/// Builds an app log: (seconds from start, user, ip, method, path, status, subjects).
struct Log(String);

impl Log {
    fn new() -> Log {
        Log(String::new())
    }

    fn add(
        &mut self,
        t: i64,
        user: &str,
        ip: &str,
        method: &str,
        path: &str,
        status: u16,
    ) -> &mut Log {
        self.add_sized(t, user, ip, method, path, status, 500)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_sized(
        &mut self,
        t: i64,
        user: &str,
        ip: &str,
        method: &str,
        path: &str,
        status: u16,
        bytes: u64,
    ) -> &mut Log {
        let ts = jiff::Timestamp::from_second(1_773_100_800 + t).unwrap();
        let subject = path
            .strip_prefix("/api/customers/")
            .map(|r| r.split('/').next().unwrap_or_default().to_string());
        let subjects = match (&subject, status) {
            (Some(s), 200) => format!("[\"{s}\"]"),
            _ => "[]".into(),
        };
        let _ = writeln!(
            self.0,
            r#"{{"ts":"{ts}","user":"{user}","role":"customer","ip":"{ip}","method":"{method}","path":"{path}","status":{status},"bytes":{bytes},"records":{},"subjects":{subjects},"session":"s-{user}"}}"#,
            if subjects == "[]" { 0 } else { 1 }
        );
        self
    }

    /// Ordinary customers: each logs in and reads their own record, every hour.
    fn benign(&mut self, hours: i64) -> &mut Log {
        for h in 0..hours {
            for c in 0..40 {
                let t = h * 3600 + c * 60;
                let user = format!("cust{c}");
                let ip = format!("198.51.100.{c}");
                self.add(t, &user, &ip, "POST", "/login", 200);
                self.add(
                    t + 5,
                    &user,
                    &ip,
                    "GET",
                    &format!("/api/customers/{}", 1000 + c),
                    200,
                );
            }
        }
        self
    }
}

/// Replays `log` (sorted by time) and returns the alerts.
fn alerts(log: &Log) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<&str> = log.0.lines().collect();
    // every "ts" is UTC and whole seconds, so its text sorts as time
    lines.sort_by_key(|l| l.split('"').nth(3).unwrap_or_default().to_string());
    std::fs::write(dir.path().join("app.jsonl"), lines.join("\n") + "\n").unwrap();
    std::fs::write(dir.path().join("inventory.yaml"), INVENTORY).unwrap();
    replay_alerts(dir.path(), &["--inventory", "inventory.yaml", "app.jsonl"])
}

fn fired<'a>(a: &'a [serde_json::Value], rule: &str) -> Vec<&'a serde_json::Value> {
    a.iter().filter(|x| x["detector"] == rule).collect()
}

fn names(a: &serde_json::Value) -> Vec<String> {
    a["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn benign_traffic_alone_raises_nothing() {
    let mut log = Log::new();
    log.benign(30);
    let a = alerts(&log);
    assert!(a.is_empty(), "{a:#?}");
}

#[test]
fn brute_force_from_one_address() {
    let mut log = Log::new();
    log.benign(3);
    for i in 0..30 {
        log.add(
            3600 + i * 10,
            "victim",
            "203.0.113.66",
            "POST",
            "/login",
            401,
        );
    }
    let a = alerts(&log);
    let bf = fired(&a, "brute_force");
    assert_eq!(bf.len(), 1, "{a:#?}");
    // the address, and the one account its failures went for
    assert_eq!(names(bf[0]), vec!["203.0.113.66", "victim"]);
    assert_eq!(bf[0]["subjects"], 0, "nobody got in");
}

#[test]
fn credential_stuffing_from_one_address_many_accounts() {
    let mut log = Log::new();
    log.benign(3);
    for i in 0..12 {
        log.add(
            3600 + i * 30,
            &format!("acct{i}"),
            "203.0.113.77",
            "POST",
            "/login",
            401,
        );
    }
    let a = alerts(&log);
    let cs = fired(&a, "credential_stuffing");
    assert_eq!(cs.len(), 1, "{a:#?}");
    assert_eq!(names(cs[0]), vec!["203.0.113.77"]);
}

#[test]
fn takeover_after_failures_from_a_new_network() {
    let mut log = Log::new();
    log.benign(3);
    // the owner logged in before from home
    log.add(100, "owner", "198.51.100.200", "POST", "/login", 200);
    for i in 0..6 {
        log.add(
            7200 + i * 20,
            "owner",
            "203.0.113.88",
            "POST",
            "/login",
            401,
        );
    }
    log.add(7400, "owner", "203.0.113.88", "POST", "/login", 200);
    let a = alerts(&log);
    let ato = fired(&a, "account_takeover");
    assert_eq!(ato.len(), 1, "{a:#?}");
    assert_eq!(names(ato[0]), vec!["owner"]);
    // by address needs the browser, which this log does not carry
    assert!(
        fired(&a, "account_takeover_by_address").is_empty(),
        "{a:#?}"
    );
}

/// Three failures in a row from one address, then it gets into an account
/// (its first login in the log, so no network is new to it), changes the
/// contact details and reads the cards: a takeover after a short guess.
#[test]
fn a_login_after_a_run_of_failures_then_contact_change_and_card_read() {
    let mut log = Log::new();
    log.benign(3);
    for i in 0..3 {
        log.add(
            7200 + i * 20,
            "victim",
            "203.0.113.77",
            "POST",
            "/login",
            401,
        );
    }
    log.add(7300, "victim", "203.0.113.77", "POST", "/login", 200);
    let quiet = alerts(&log);
    assert!(
        fired(&quiet, "account_takeover_after_failures").is_empty(),
        "a login alone is no takeover: {quiet:#?}"
    );
    log.add(
        7360,
        "victim",
        "203.0.113.77",
        "PUT",
        "/api/customers/42",
        200,
    );
    log.add(
        7400,
        "victim",
        "203.0.113.77",
        "GET",
        "/api/customers/42/cards",
        200,
    );
    let a = alerts(&log);
    let t = fired(&a, "account_takeover_after_failures");
    assert_eq!(t.len(), 1, "{a:#?}");
    // the shorter run stays under the five-failure sequences
    assert!(fired(&a, "account_takeover").is_empty(), "{a:#?}");
}

/// Combined access-log lines for `user` (`-` when not logged in).
fn combined(
    t: i64,
    ip: &str,
    user: &str,
    agent: &str,
    method: &str,
    path: &str,
    status: u16,
) -> String {
    let ts = jiff::Timestamp::from_second(1_773_100_800 + t)
        .unwrap()
        .strftime("%d/%b/%Y:%H:%M:%S +0000");
    format!("{ip} - {user} [{ts}] \"{method} {path} HTTP/1.1\" {status} 100 \"-\" \"{agent}\"\n")
}

#[test]
fn takeover_by_address_needs_one_browser_failing_then_getting_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut access = String::new();
    // both accounts logged in before from home
    access += &combined(0, "198.51.100.7", "owner", "App/1", "POST", "/login", 200);
    access += &combined(5, "198.51.100.8", "rider", "App/1", "POST", "/login", 200);
    // one tool fails six times from one address, then gets into the owner's account
    for i in 0..6 {
        access += &combined(
            7200 + i * 20,
            "203.0.113.88",
            "-",
            "Tool/1",
            "POST",
            "/login",
            401,
        );
    }
    access += &combined(
        7400,
        "203.0.113.88",
        "owner",
        "Tool/1",
        "POST",
        "/login",
        200,
    );
    // a carrier address shared by phones: six failures from two browsers, then
    // someone else logs in there for the first time
    for i in 0..6 {
        let agent = if i % 2 == 0 { "PhoneA/1" } else { "PhoneB/2" };
        access += &combined(
            9000 + i * 30,
            "172.58.0.9",
            "-",
            agent,
            "POST",
            "/login",
            401,
        );
    }
    access += &combined(
        9300,
        "172.58.0.9",
        "rider",
        "PhoneB/2",
        "POST",
        "/login",
        200,
    );
    std::fs::write(dir.path().join("access.log"), access).unwrap();
    std::fs::write(dir.path().join("inventory.yaml"), INVENTORY).unwrap();
    let a = replay_alerts(dir.path(), &["--inventory", "inventory.yaml", "access.log"]);
    let by_addr = fired(&a, "account_takeover_by_address");
    assert_eq!(by_addr.len(), 1, "{a:#?}");
    assert_eq!(names(by_addr[0]), vec!["203.0.113.88", "Tool/1"]);
    assert_eq!(by_addr[0]["subjects"], 1);
}

#[test]
fn an_account_reading_many_others_records() {
    let mut log = Log::new();
    log.benign(6);
    for i in 0..200 {
        log.add(
            5 * 3600 + i * 5,
            "cust7",
            "198.51.100.7",
            "GET",
            &format!("/api/customers/{}", 2000 + i),
            200,
        );
    }
    let a = alerts(&log);
    let m = fired(&a, "mass_access");
    assert_eq!(m.len(), 1, "{a:#?}");
    assert_eq!(names(m[0]), vec!["cust7"]);
    let n = m[0]["subjects"].as_u64().unwrap();
    assert!(
        (195..=202).contains(&n),
        "200 others' records (and its own) exposed: {n}"
    );
}

#[test]
fn refused_reads_of_many_records_spread_over_hours() {
    let mut log = Log::new();
    log.benign(12);
    for i in 0..30 {
        log.add(
            3600 + i * 1200,
            "walker",
            "198.51.100.250",
            "GET",
            &format!("/api/customers/{}", 3000 + i),
            403,
        );
    }
    let a = alerts(&log);
    let s = fired(&a, "slow_enumeration");
    assert_eq!(s.len(), 1, "{a:#?}");
    assert_eq!(names(s[0]), vec!["walker"]);
    assert_eq!(s[0]["subjects"], 0, "refused reads expose nobody");
}

#[test]
fn takeover_from_a_new_device_then_contact_change_and_card_read() {
    // the access log names the browser, so this one is written as combined lines
    let dir = tempfile::tempdir().unwrap();
    let line = |t: i64, ip: &str, agent: &str, method: &str, path: &str| {
        let ts = jiff::Timestamp::from_second(1_773_100_800 + t)
            .unwrap()
            .strftime("%d/%b/%Y:%H:%M:%S +0000");
        format!("{ip} - owner [{ts}] \"{method} {path} HTTP/1.1\" 200 100 \"-\" \"{agent}\"\n")
    };
    let mut access = String::new();
    access += &line(0, "198.51.100.5", "App/1", "POST", "/login");
    access += &line(3600, "198.51.100.5", "App/1", "PUT", "/api/customers/42"); // the owner, at home
    access += &line(
        3700,
        "198.51.100.5",
        "App/1",
        "GET",
        "/api/customers/42/cards",
    );
    access += &line(9000, "203.0.113.9", "Mozilla/5.0 Evil", "POST", "/login");
    access += &line(
        9060,
        "203.0.113.9",
        "Mozilla/5.0 Evil",
        "PUT",
        "/api/customers/42",
    );
    access += &line(
        9120,
        "203.0.113.9",
        "Mozilla/5.0 Evil",
        "GET",
        "/api/customers/42/cards",
    );
    access += &line(
        9180,
        "203.0.113.9",
        "Mozilla/5.0 Evil",
        "POST",
        "/api/customers/42/addresses",
    );
    std::fs::write(dir.path().join("access.log"), access).unwrap();
    std::fs::write(dir.path().join("inventory.yaml"), INVENTORY).unwrap();
    let a = replay_alerts(dir.path(), &["--inventory", "inventory.yaml", "access.log"]);
    let t = fired(&a, "account_takeover_changes");
    assert_eq!(t.len(), 1, "{a:#?}");
    assert_eq!(names(t[0]), vec!["owner"]);
    assert_eq!(t[0]["start"], "2026-03-10T02:30:00+00:00");
}

#[test]
fn many_addresses_failing_logins_in_an_hour() {
    let mut log = Log::new();
    log.benign(10);
    for i in 0..120 {
        log.add(
            8 * 3600 + i * 20,
            &format!("acct{i}"),
            &format!("203.0.{}.{}", i / 200, i % 200 + 1),
            "POST",
            "/login",
            401,
        );
    }
    // the proxies try a second account; ten of those get in
    for i in 0..120 {
        let ip = format!("203.0.{}.{}", i / 200, i % 200 + 1);
        let t = 8 * 3600 + 2400 + i * 5;
        log.add(t, &format!("acct{i}b"), &ip, "POST", "/login", 401);
        if i < 10 {
            log.add(t + 1, &format!("victim{i}"), &ip, "POST", "/login", 200);
        }
    }
    // meanwhile a customer mistypes once at home, then gets in
    log.add(
        8 * 3600 + 3000,
        "cust5",
        "198.51.100.5",
        "POST",
        "/login",
        401,
    );
    log.add(
        8 * 3600 + 3010,
        "cust5",
        "198.51.100.5",
        "POST",
        "/login",
        200,
    );
    let a = alerts(&log);
    let s = fired(&a, "login_failure_surge");
    assert_eq!(s.len(), 1, "{a:#?}");
    let ips = names(s[0])
        .iter()
        .filter(|v| v.starts_with("203.0."))
        .count();
    assert!(ips >= 40, "names the failing addresses: {ips}");
    assert_eq!(
        s[0]["subjects"], 10,
        "the accounts the guessing addresses got into, not the customer who mistyped"
    );
}

#[test]
fn a_botnet_against_sshd_is_one_alert_naming_its_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let mut auth = String::new();
    for i in 0..60 {
        let _ = writeln!(
            auth,
            "Nov 25 10:{:02}:{:02} app-2 sshd[{}]: Failed password for root from 192.0.2.{} port 4{i} ssh2",
            i / 2,
            (i % 2) * 30,
            1000 + i,
            i / 2 + 1
        );
    }
    std::fs::write(dir.path().join("auth.log"), auth).unwrap();
    let a = replay_alerts(dir.path(), &["--timezone", "UTC", "auth.log"]);
    let d = fired(&a, "ssh_distributed_bruteforce");
    assert_eq!(d.len(), 1, "{a:#?}");
    assert_eq!(
        names(d[0])
            .iter()
            .filter(|v| v.starts_with("192.0.2."))
            .count(),
        30
    );
    assert!(
        fired(&a, "ssh_bruteforce").is_empty(),
        "two tries per address stay under the per-address rule"
    );
}

/// A larger crowd over days, for the daily baselines: 120 customers, each
/// logging in every other hour, reading their record and now and then their cards.
fn crowd(log: &mut Log, hours: i64) {
    for h in (0..hours).step_by(2) {
        for c in 0..120 {
            let t = h * 3600 + c * 29;
            let user = format!("member{c}");
            let ip = format!("198.18.{}.{}", c / 250, c % 250 + 1);
            if (h / 2 + c) % 7 == 0 {
                log.add(t - 2, &user, &ip, "POST", "/login", 401); // a typo now and then
            }
            log.add(t, &user, &ip, "POST", "/login", 200);
            log.add(
                t + 3,
                &user,
                &ip,
                "GET",
                &format!("/api/customers/{}", 4000 + c),
                200,
            );
            if (h / 2 + c) % 5 == 0 {
                log.add(
                    t + 6,
                    &user,
                    &ip,
                    "GET",
                    &format!("/api/customers/{}/cards", 4000 + c),
                    200,
                );
            }
        }
    }
}

#[test]
fn reading_others_cards_when_peers_read_only_their_own() {
    let mut log = Log::new();
    crowd(&mut log, 72);
    // day three: one member reads 25 other members' cards, a few an hour
    for i in 0..25 {
        log.add(
            50 * 3600 + i * 700,
            "member7",
            "198.18.0.8",
            "GET",
            &format!("/api/customers/{}/cards", 4100 - i),
            200,
        );
    }
    let a = alerts(&log);
    let s = fired(&a, "unusual_sensitive_reads");
    assert_eq!(s.len(), 1, "{a:#?}");
    assert_eq!(names(s[0]), vec!["member7"]);
    assert!(
        a.iter().all(|x| names(x) == vec!["member7"]),
        "nobody else: {a:#?}"
    );
}

#[test]
fn a_day_far_above_the_accounts_own_days() {
    let mut log = Log::new();
    crowd(&mut log, 72);
    // day three: one member reads 80 other records spread over the day
    for i in 0..80 {
        log.add(
            49 * 3600 + i * 500,
            "member9",
            "198.18.0.10",
            "GET",
            &format!("/api/customers/{}", 6000 + i),
            200,
        );
    }
    let a = alerts(&log);
    let d = fired(&a, "mass_access_daily");
    assert_eq!(d.len(), 1, "{a:#?}");
    assert_eq!(names(d[0]), vec!["member9"]);
}

#[test]
fn an_account_guessed_at_all_day() {
    let mut log = Log::new();
    crowd(&mut log, 72);
    // day three: 40 wrong passwords for one account, from rotating addresses, hours apart
    for i in 0..40 {
        log.add(
            49 * 3600 + i * 400,
            "member3",
            &format!("203.0.113.{}", i % 5 + 1),
            "POST",
            "/login",
            401,
        );
    }
    let a = alerts(&log);
    let g = fired(&a, "slow_password_guessing");
    assert_eq!(g.len(), 1, "{a:#?}");
    assert_eq!(names(g[0]), vec!["member3"]);
}

#[test]
fn a_day_of_downloads_far_above_the_accounts_own() {
    let mut log = Log::new();
    crowd(&mut log, 72);
    // day three: one member pulls 3 MB of their record (an export, say)
    for i in 0..3 {
        log.add_sized(
            49 * 3600 + i * 600,
            "member11",
            "198.18.0.12",
            "GET",
            "/api/customers/4011",
            200,
            1_000_000,
        );
    }
    let a = alerts(&log);
    let v = fired(&a, "data_volume_daily");
    assert_eq!(v.len(), 1, "{a:#?}");
    assert_eq!(names(v[0]), vec!["member11"]);
}

#[test]
fn the_crowd_alone_raises_nothing() {
    let mut log = Log::new();
    crowd(&mut log, 72);
    let a = alerts(&log);
    assert!(a.is_empty(), "{a:#?}");
}

#[test]
fn one_address_guessing_for_hours_without_getting_in() {
    let mut log = Log::new();
    log.benign(12);
    // ten wrong passwords, twenty minutes apart: never 20 in 10 minutes
    for i in 0..10 {
        log.add(
            3600 + i * 1200,
            "victim",
            "203.0.113.70",
            "POST",
            "/login",
            401,
        );
    }
    // a customer who mistypes three times every hour, then gets in
    for h in 0..10 {
        for k in 0..3 {
            log.add(
                h * 3600 + 30 + k,
                "clumsy",
                "198.18.5.5",
                "POST",
                "/login",
                401,
            );
        }
        log.add(h * 3600 + 40, "clumsy", "198.18.5.5", "POST", "/login", 200);
    }
    let a = alerts(&log);
    let g = fired(&a, "password_guessing_run");
    assert_eq!(g.len(), 1, "{a:#?}");
    // the address, and the one account its failures went for
    assert_eq!(names(g[0]), vec!["203.0.113.70", "victim"]);
    assert_eq!(g[0]["subjects"], 0, "nobody got in");
}

/// A batch key, `svc-sync`, reading 30 records a night from its own network.
fn nightly_batch(log: &mut Log, nights: i64) {
    for night in 0..nights {
        for k in 0..30 {
            log.add(
                night * 86_400 + 7200 + k,
                "svc-sync",
                "10.20.0.5",
                "GET",
                &format!("/api/customers/{}", 2000 + k),
                200,
            );
        }
    }
}

#[test]
fn a_service_key_used_from_a_network_it_never_used() {
    let mut log = Log::new();
    log.benign(40);
    nightly_batch(&mut log, 2);
    // the second night, the same key from a cloud address reads 12 other records
    for k in 0..12 {
        log.add(
            86_400 + 3600 + k * 5,
            "svc-sync",
            "203.0.113.90",
            "GET",
            &format!("/api/customers/{}", 3000 + k),
            200,
        );
    }
    let a = alerts(&log);
    let k = fired(&a, "api_key_new_network");
    assert_eq!(k.len(), 1, "{a:#?}");
    assert_eq!(names(k[0]), vec!["svc-sync", "203.0.113.90"]);
    assert_eq!(
        k[0]["subjects"], 12,
        "what the new network read, not the key's own nightly work"
    );
}

#[test]
fn an_owner_on_a_new_phone_changing_one_thing_is_no_takeover() {
    let mut log = Log::new();
    log.benign(3);
    log.add(0, "owner", "198.51.100.5", "POST", "/login", 200);
    // hours later from a new network: contact change and a card read, no new address
    log.add(9000, "owner", "203.0.113.9", "POST", "/login", 200);
    log.add(
        9060,
        "owner",
        "203.0.113.9",
        "PUT",
        "/api/customers/42",
        200,
    );
    log.add(
        9120,
        "owner",
        "203.0.113.9",
        "GET",
        "/api/customers/42/cards",
        200,
    );
    assert!(fired(&alerts(&log), "account_takeover_changes").is_empty());
    // the whole sequence, in a log without browsers: the new network is enough
    log.add(
        9180,
        "owner",
        "203.0.113.9",
        "POST",
        "/api/customers/42/addresses",
        200,
    );
    let a = alerts(&log);
    let t = fired(&a, "account_takeover_changes");
    assert_eq!(t.len(), 1, "{a:#?}");
    assert_eq!(
        t[0]["subjects"], 1,
        "one person: the account and its own record"
    );
}

#[test]
fn rows_an_injection_pulled_from_a_catalog_endpoint_count_as_subjects() {
    let mut log = Log::new();
    log.benign(2);
    // the catalog holds no personal data; an injected UNION returns 100 rows a page
    for page in 0..4 {
        let ts = jiff::Timestamp::from_second(1_773_100_800 + 3600 + page * 60).unwrap();
        let _ = writeln!(
            log.0,
            r#"{{"ts":"{ts}","user":null,"role":null,"ip":"203.0.113.50","method":"GET","path":"/api/products?id=1%20UNION%20SELECT%20email%20FROM%20customers%20LIMIT%20100%20OFFSET%20{}","status":200,"bytes":9000,"records":100,"subjects":[],"session":"-"}}"#,
            page * 100
        );
    }
    let a = alerts(&log);
    let w = fired(&a, "web_attack_probe");
    assert_eq!(w.len(), 1, "{a:#?}");
    assert_eq!(w[0]["subjects"], 400, "{a:#?}");
}

#[test]
fn a_few_strangers_every_evening_while_a_family_plan_rereads_its_members() {
    let mut log = Log::new();
    crowd(&mut log, 72);
    for day in 0..3 {
        let evening = day * 86_400 + 19 * 3600 + 1800;
        // member20 reads six customers it never read before, ten minutes apart
        for i in 0..6 {
            log.add(
                evening + i * 600,
                "member20",
                "198.18.0.21",
                "GET",
                &format!("/api/customers/{}", 7000 + day * 10 + i),
                200,
            );
        }
        // member30 is on a family plan: eight of the same twelve members each evening
        for k in (0..12).filter(|k| (k + day) % 3 != 0) {
            log.add(
                evening + 100 + k * 30,
                "member30",
                "198.18.0.31",
                "GET",
                &format!("/api/customers/{}", 4040 + k),
                200,
            );
        }
    }
    let a = alerts(&log);
    let h = fired(&a, "slow_harvest");
    assert_eq!(h.len(), 1, "{a:#?}");
    assert_eq!(names(h[0]), vec!["member20"]);
    // eighteen strangers; its own record, read while the alert is open, may count once
    let n = h[0]["subjects"].as_u64().unwrap();
    assert!((18..=19).contains(&n), "{n}");
    assert!(
        a.iter().all(|x| names(x) == vec!["member20"]),
        "the family plan is no harvest: {a:#?}"
    );
}

#[test]
fn a_stolen_key_reading_cards_beside_its_nightly_batch_exposes_only_the_cards() {
    let mut log = Log::new();
    log.benign(60);
    nightly_batch(&mut log, 2);
    // night three: its batch reads 200 records as usual while the same key,
    // from a cloud address, reads 30 customers' cards it never reads
    for k in 0..200 {
        log.add(
            2 * 86_400 + 3000 + k * 10,
            "svc-sync",
            "10.20.0.5",
            "GET",
            &format!("/api/customers/{}", 2000 + k),
            200,
        );
    }
    for k in 0..30 {
        log.add(
            2 * 86_400 + 3605 + k * 20,
            "svc-sync",
            "203.0.113.90",
            "GET",
            &format!("/api/customers/{}/cards", 3000 + k),
            200,
        );
    }
    let a = alerts(&log);
    let key: Vec<_> = a.iter().filter(|x| names(x)[0] == "svc-sync").collect();
    assert!(
        key.iter().any(|x| x["detector"] == "api_key_new_network"),
        "{a:#?}"
    );
    assert!(
        key.iter()
            .any(|x| x["detector"] == "unusual_sensitive_reads"),
        "{a:#?}"
    );
    for x in key {
        assert_eq!(
            x["subjects"], 30,
            "{}: the cards the new network read, not the batch's records",
            x["detector"]
        );
    }
}

/// Replays an access log (combined lines, in time order) against the
/// inventory; an access log carries no roles.
fn access_alerts(lines: &[String]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("access.log"), lines.concat()).unwrap();
    std::fs::write(dir.path().join("inventory.yaml"), INVENTORY).unwrap();
    replay_alerts(dir.path(), &["--inventory", "inventory.yaml", "access.log"])
}

const BROWSER: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

#[test]
fn a_batch_key_on_the_logs_first_night_is_not_judged_by_the_customers() {
    // (time, line): 250 customers an hour, each logging in with a browser
    // and reading their own record, over the log's first three hours
    let mut lines: Vec<(i64, String)> = Vec::new();
    for h in 0..3 {
        for c in 0..250 {
            let t = h * 3600 + c * 14;
            let (ip, user) = (
                format!("198.18.{}.{}", c / 200, c % 200 + 1),
                format!("cust{c}"),
            );
            lines.push((t, combined(t, &ip, &user, BROWSER, "POST", "/login", 200)));
            let own = format!("/api/customers/{}", 1000 + c);
            lines.push((
                t + 2,
                combined(t + 2, &ip, &user, BROWSER, "GET", &own, 200),
            ));
        }
    }
    // in the second hour, three principals new to the log read 100 records each
    let readers = [
        // a nightly batch: a program's agent, no login, its own network
        ("svc-sync", "10.20.0.5", "sync-job/2.0 (+internal)", false),
        // a person with a browser
        ("cust900", "203.0.113.20", BROWSER, true),
        // a script that logged in as a customer
        ("cust901", "203.0.113.21", "python-requests/2.31.0", true),
    ];
    for (i, (user, ip, agent, logs_in)) in readers.iter().enumerate() {
        let t0 = 3600 + 300 + i as i64 * 1000;
        if *logs_in {
            lines.push((
                t0 - 5,
                combined(t0 - 5, ip, user, agent, "POST", "/login", 200),
            ));
        }
        for k in 0..100 {
            let path = format!("/api/customers/{}", 5000 + i as i64 * 100 + k);
            lines.push((
                t0 + k * 3,
                combined(t0 + k * 3, ip, user, agent, "GET", &path, 200),
            ));
        }
    }
    lines.sort_by_key(|(t, _)| *t);
    let a = access_alerts(&lines.into_iter().map(|(_, l)| l).collect::<Vec<_>>());
    let mut flagged: Vec<String> = fired(&a, "mass_access")
        .iter()
        .map(|x| names(x)[0].clone())
        .collect();
    flagged.sort();
    // the people are judged by the crowd; the batch key, with no peers of
    // its kind yet, waits for a history of its own
    assert_eq!(flagged, vec!["cust900", "cust901"], "{a:#?}");
    assert!(
        a.iter().all(|x| names(x)[0] != "svc-sync"),
        "no alert claims the batch's reads: {a:#?}"
    );
}

#[test]
fn failures_behind_a_carrier_address_where_most_logins_succeed_are_no_takeover() {
    let mut access = String::new();
    // six customers logged in from home before; then, one after another,
    // four of them log in from one carrier address (phones behind a NAT)
    for c in 0..6 {
        access += &combined(
            c,
            &format!("198.51.100.{}", c + 1),
            &format!("rider{c}"),
            PHONE,
            "POST",
            "/login",
            200,
        );
    }
    for c in 0..4 {
        access += &combined(
            3600 + c * 600,
            "172.58.0.9",
            &format!("rider{c}"),
            PHONE,
            "POST",
            "/login",
            200,
        );
    }
    // one rider there forgets their password: five failures, then gets in
    for i in 0..5 {
        access += &combined(
            7200 + i * 20,
            "172.58.0.9",
            "-",
            PHONE,
            "POST",
            "/login",
            401,
        );
    }
    access += &combined(7400, "172.58.0.9", "rider4", PHONE, "POST", "/login", 200);
    // a guesser's address, where logins only fail, then one gets in
    for i in 0..6 {
        access += &combined(
            9000 + i * 20,
            "203.0.113.88",
            "-",
            PHONE,
            "POST",
            "/login",
            401,
        );
    }
    access += &combined(9200, "203.0.113.88", "rider5", PHONE, "POST", "/login", 200);
    let a = access_alerts(&[access]);
    let by_addr = fired(&a, "account_takeover_by_address");
    assert_eq!(by_addr.len(), 1, "{a:#?}");
    assert_eq!(names(by_addr[0])[0], "203.0.113.88");
}

#[test]
fn a_password_reset_wave_behind_a_carrier_address_is_no_stuffing() {
    let mut log = Log::new();
    log.benign(3);
    // six customers get in from one carrier address in the first hour
    for c in 0..6 {
        log.add(
            600 + c * 300,
            &format!("rider{c}"),
            "172.58.0.9",
            "POST",
            "/login",
            200,
        );
    }
    // after a mailing, five others there mistype once each, then get in
    for c in 6..11 {
        let t = 3600 + c * 120;
        let user = format!("rider{c}");
        log.add(t, &user, "172.58.0.9", "POST", "/login", 401);
        log.add(t + 60, &user, "172.58.0.9", "POST", "/login", 200);
    }
    let a = alerts(&log);
    assert!(fired(&a, "credential_stuffing").is_empty(), "{a:#?}");
}
