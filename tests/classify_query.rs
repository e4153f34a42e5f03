//! Data subjects named in a query parameter (`/api/orders?customer=42`),
//! through `breachd replay` of an nginx access log: the inventory describes
//! its routes by path template, as most do, and the reads still count.

mod common;

use std::fmt::Write as _;

use common::*;

/// The customer portal's inventory (`write_customer_portal`) plus the order
/// list, which names its customer in the query, and invoices, whose buyer
/// parameter the inventory declares. SUBJECTS_EXTRA is replaced per test.
const INVENTORY: &str = r#"resources:
  - pattern: "/api/customers/{id}"
    methods: [GET]
    categories: [identity, contact]
    sensitivity: high
    subject_param: id
  - pattern: "/api/orders"
    methods: [GET]
    categories: [financial]
    sensitivity: medium
  - pattern: "/api/invoices"
    methods: [GET]
    categories: [financial]
    sensitivity: medium
    subject_query: [buyer]
subjects:
  total: 5000
  id_format: integer
SUBJECTS_EXTRA
"#;

/// One combined-format line, `t` seconds into the day.
fn line(out: &mut String, t: u32, user: &str, ip: &str, target: &str, status: u16) {
    let _ = writeln!(
        out,
        r#"{ip} - {user} [10/Mar/2026:{:02}:{:02}:{:02} +0000] "GET {target} HTTP/1.1" {status} 812 "-" "Mozilla/5.0 (X11; Linux x86_64)""#,
        t / 3600,
        t / 60 % 60,
        t % 60
    );
}

/// Customers reading their own orders, and one account walking through 60
/// other customers' order lists, a few refused, a few not naming an id.
fn access_log(list: &str, param: &str) -> String {
    let mut out = String::new();
    for i in 0..600u32 {
        let t = 3600 + i * 5;
        if i % 10 == 0 {
            let c = 100 + i / 10;
            line(
                &mut out,
                t,
                &format!("cust{c}"),
                "198.51.100.20",
                &format!("{list}?{param}={c}"),
                200,
            );
        }
        // mallory: one read every 50 s, 60 in all
        if i % 10 == 5 {
            let n = i / 10;
            line(
                &mut out,
                t,
                "mallory",
                "203.0.113.9",
                &format!("{list}?page=1&{param}={}", 3000 + n),
                200,
            );
            // refused reads and ids of another shape expose nobody
            line(
                &mut out,
                t + 1,
                "mallory",
                "203.0.113.9",
                &format!("{list}?{param}={}", 9000 + n),
                404,
            );
            line(
                &mut out,
                t + 2,
                "mallory",
                "203.0.113.9",
                &format!("{list}?{param}=me{n}"),
                200,
            );
        }
    }
    out
}

fn replay(log: &str, extra: &str) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    write_customer_portal(dir.path());
    std::fs::write(
        dir.path().join("inventory.yaml"),
        INVENTORY.replace("SUBJECTS_EXTRA", extra),
    )
    .unwrap();
    std::fs::write(dir.path().join("access.log"), log).unwrap();
    replay_alerts(
        dir.path(),
        &[
            "--inventory",
            "inventory.yaml",
            "--rules",
            "rules.yaml",
            "access.log",
        ],
    )
}

fn mallorys(alerts: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    alerts
        .iter()
        .filter(|a| a["detector"] == "bulk_customer_reads")
        .filter(|a| {
            a["entities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["value"] == "mallory")
        })
        .collect()
}

#[test]
fn reads_naming_a_customer_in_the_query_count_as_exposed_subjects() {
    let alerts = replay(&access_log("/api/orders", "customer"), "");
    let m = mallorys(&alerts);
    assert_eq!(m.len(), 1, "{alerts:#?}");
    assert_eq!(
        m[0]["subjects"], 60,
        "60 order lists of other customers read; refused reads and `me` name nobody: {:#?}",
        m[0]
    );
    assert_eq!(
        alerts.len(),
        1,
        "customers reading their own orders raise nothing: {alerts:#?}"
    );
}

#[test]
fn the_common_name_is_found_in_any_spelling() {
    let alerts = replay(&access_log("/api/orders", "customerId"), "");
    let m = mallorys(&alerts);
    assert_eq!(m.len(), 1, "{alerts:#?}");
    assert_eq!(m[0]["subjects"], 60, "{:#?}", m[0]);
}

#[test]
fn a_declared_subject_query_parameter_counts() {
    let alerts = replay(&access_log("/api/invoices", "buyer"), "");
    let m = mallorys(&alerts);
    assert_eq!(m.len(), 1, "{alerts:#?}");
    // declared: every value with a successful read is a subject, `me7` too
    assert_eq!(m[0]["subjects"], 120, "{:#?}", m[0]);
}

#[test]
fn an_inventory_that_turns_the_default_off_sees_no_subjects_there() {
    let alerts = replay(&access_log("/api/orders", "customer"), "  query_params: []");
    assert!(mallorys(&alerts).is_empty(), "{alerts:#?}");
}

#[test]
fn check_accepts_query_subjects_and_names_a_bad_id_format() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = INVENTORY.replace("SUBJECTS_EXTRA", "  query_params: [customer, shopper_id]");
    std::fs::write(dir.path().join("inv.yaml"), &inventory).unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        "[detect]\ninventory = \"inv.yaml\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["check", "--config", "b.toml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        dir.path().join("inv.yaml"),
        inventory.replace("id_format: integer", "id_format: guid"),
    )
    .unwrap();
    let out = run(dir.path(), &["check", "--config", "b.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "inv.yaml:18: subjects.id_format: unknown id format `guid`; use one of: integer, uuid"
        ),
        "{err}"
    );
}
