//! `breachd assess FILE` as a user runs it: the EDPB's worked examples
//! (Guidelines 01/2021 v2.0) decided by the real binary, deadlines in the
//! regimes' own zones, and facts-file errors named by file, line and field.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn assess(dir: &Path, file: &Path) -> Value {
    let out = run(dir, &["assess", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The obligation of `regime` to `recipient` (the first, where several).
fn obligation<'a>(a: &'a Value, regime: &str, recipient: &str) -> &'a Value {
    a["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["regime"] == regime && o["recipient"] == recipient)
        .unwrap_or_else(|| panic!("no {regime} obligation to {recipient} in {a:#}"))
}

fn required(a: &Value, regime: &str, recipient: &str) -> bool {
    obligation(a, regime, recipient)["required"]
        .as_bool()
        .unwrap()
}

fn edpb_cases() -> Vec<PathBuf> {
    cases("edpb")
}

fn cases(folder: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/assess")
        .join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// The regulator's conclusion, from the case file's `# edpb:` or
/// `# expect:` line.
fn expected(file: &Path) -> (bool, bool) {
    let text = std::fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("# edpb: ")
                .or_else(|| l.strip_prefix("# expect: "))
        })
        .unwrap_or_else(|| panic!("{} has no `# edpb:` line", file.display()));
    let flag = |key: &str| {
        let v = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap();
        v == "yes"
    };
    (flag("supervisory_authority"), flag("data_subjects"))
}

#[test]
fn every_edpb_example_is_decided_as_the_edpb_decided_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases = edpb_cases();
    assert_eq!(cases.len(), 18, "the guidelines hold 18 cases");
    let (mut sa_count, mut ds_count) = (0, 0);
    let mut wrong = Vec::new();
    for file in &cases {
        let (sa, ds) = expected(file);
        sa_count += sa as usize;
        ds_count += ds as usize;
        let a = assess(dir.path(), file);
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        // every breach is documented (Art. 33(5))
        assert!(required(&a, "GDPR", "internal_record"), "{name}");
        for (recipient, want) in [("supervisory_authority", sa), ("data_subjects", ds)] {
            let o = obligation(&a, "GDPR", recipient);
            if o["required"].as_bool() != Some(want) {
                wrong.push(format!(
                    "{name}: {recipient} should be required={want}; breachd says {} because: {}",
                    o["required"], o["reason"]
                ));
            }
            assert!(
                !o["reason"].as_str().unwrap().is_empty(),
                "{name}: {recipient}"
            );
        }
    }
    // the guidelines' own tally
    assert_eq!((sa_count, ds_count), (12, 9));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_wp250_annex_b_examples_with_a_clear_answer_are_decided_alike() {
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    let all = cases("wp250");
    assert_eq!(all.len(), 5);
    for file in &all {
        let (sa, ds) = expected(file);
        let a = assess(dir.path(), file);
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        for (recipient, want) in [("supervisory_authority", sa), ("data_subjects", ds)] {
            let o = obligation(&a, "GDPR", recipient);
            if o["required"].as_bool() != Some(want) {
                wrong.push(format!("{name}: {recipient}: {o}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_output_says_it_is_not_legal_advice_and_shows_the_enisa_score() {
    let dir = tempfile::tempdir().unwrap();
    let a = assess(dir.path(), &edpb_cases()[3]);
    assert!(a["disclaimer"]
        .as_str()
        .unwrap()
        .contains("not legal advice"));
    let s = &a["severity"];
    for k in ["dpc", "ei", "cb", "score"] {
        assert!(s[k].is_number(), "{k} in {s}");
    }
    // case 04: financial data (DPC 3) fully identifiable, stolen by an
    // attacker (0.5 + 0.5), lost for good (integrity and availability 0.5 each)
    assert_eq!(s["score"], 5.0);
    assert_eq!(s["band"], "very_high");
}

#[test]
fn deadlines_are_computed_in_each_regimes_calendar() {
    let dir = tempfile::tempdir().unwrap();
    // aware on Friday 2026-03-06 at 16:00 Brussels time; materiality determined
    // on Thursday 2026-02-12 (Monday 2026-02-16 is a US federal holiday)
    let facts = "\
data_categories: [identity, contact, payment_card]
subjects: 2000
jurisdictions: [EU, BR, US-CA]
breach: [confidentiality]
malicious: true
exfiltration_confirmed: true
sectors: [sec_registrant]
material: true
determined_at: 2026-02-12T10:00:00-05:00
aware_at: 2026-03-06T16:00:00+01:00
";
    std::fs::write(dir.path().join("facts.yaml"), facts).unwrap();
    let a = assess(dir.path(), &dir.path().join("facts.yaml"));
    let deadline = |regime: &str, recipient: &str| {
        obligation(&a, regime, recipient)["deadline"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        deadline("GDPR", "supervisory_authority"),
        "2026-03-09T16:00:00+01:00"
    );
    assert_eq!(deadline("SEC 8-K", "public"), "2026-02-19T10:00:00-05:00");
    // LGPD: Friday 12:00 in São Paulo + 3 business days = Wednesday
    assert_eq!(
        deadline("LGPD", "supervisory_authority"),
        "2026-03-11T12:00:00-03:00"
    );
    // California: 30 days to residents, then 15 for the AG's copy
    assert_eq!(
        deadline("CA 1798.82", "data_subjects"),
        "2026-04-05T07:00:00-07:00"
    );
    assert_eq!(
        deadline("CA 1798.82", "attorney_general"),
        "2026-04-20T07:00:00-07:00"
    );
    // without a fixed number the law sets no deadline
    assert!(obligation(&a, "GDPR", "data_subjects")["deadline"].is_null());
}

#[test]
fn obligations_that_do_not_apply_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let facts = r#"{"data_categories": ["identity", "contact", "financial"], "subjects": 300,
 "jurisdictions": ["US-CA", "IN", "JP"], "breach": ["confidentiality"],
 "malicious": true, "exfiltration_confirmed": true, "encrypted": true,
 "aware_at": "2026-06-01T12:00:00+00:00"}"#;
    std::fs::write(dir.path().join("facts.json"), facts).unwrap();
    let a = assess(dir.path(), &dir.path().join("facts.json"));
    let reason = |regime: &str, recipient: &str| {
        let o = obligation(&a, regime, recipient);
        assert_eq!(o["required"], false, "{o}");
        o["reason"].as_str().unwrap().to_string()
    };
    assert!(reason("CA 1798.82", "data_subjects").contains("encrypted"));
    assert!(reason("CA 1798.82", "attorney_general").contains("encrypted"));
    // India's breach rules are not in force yet on that date
    assert!(reason("DPDP", "supervisory_authority").contains("2027-05-13"));
    // Japan: highly encrypted data is excluded
    assert!(reason("APPI", "data_subjects").contains("encrypted"));
}

#[test]
fn a_threshold_decides_the_attorney_general_copy() {
    let dir = tempfile::tempdir().unwrap();
    let facts = "data_categories: [identity, government_id]\nsubjects: 400\njurisdictions: [US-CA]\nbreach: [confidentiality]\naware_at: 2026-06-01T12:00:00Z\n";
    std::fs::write(dir.path().join("f.yaml"), facts).unwrap();
    let a = assess(dir.path(), &dir.path().join("f.yaml"));
    assert!(required(&a, "CA 1798.82", "data_subjects"));
    let ag = obligation(&a, "CA 1798.82", "attorney_general");
    assert_eq!(ag["required"], false);
    assert!(ag["reason"].as_str().unwrap().contains("500"), "{ag}");
}

#[test]
fn a_facts_file_with_an_unknown_key_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let facts = "data_categories: [identity]\nsubjects: 3\njurisdictions: [EU]\nbreach: [confidentiality]\nransom_paid: true\naware_at: 2026-06-01T12:00:00Z\n";
    std::fs::write(dir.path().join("f.yaml"), facts).unwrap();
    let out = run(dir.path(), &["assess", "f.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("f.yaml:5:"), "{err}");
    assert!(err.contains("unknown field `ransom_paid`"), "{err}");
    assert!(out.stdout.is_empty());
}
