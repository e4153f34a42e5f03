//! The facts and playbook readers never panic, whatever the text; and the
//! engine keeps its invariants over any combination of facts.

use breachd::playbook::{self, assess, facts::Facts, locate};
use proptest::prelude::*;

/// Text made of the formats' own pieces, in any order and number.
fn pieces(alphabet: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..40).prop_map(|v| v.concat())
}

const YAML: &[&str] = &[
    "data_categories: ",
    "[identity, health]",
    "subjects: ",
    "12",
    "1-5",
    "[3, 9]",
    "{min: 1, max: 2}",
    "jurisdictions: ",
    "[EU, US-CA]",
    "breach: ",
    "[confidentiality]",
    "aware_at: ",
    "2026-03-06T16:00:00+01:00",
    "enisa: ",
    "{dpc: 9}",
    "steps:",
    "  - id: a",
    "    action: ",
    "notify",
    "    every: ",
    "\"0 61 * * 1-7\"",
    "    at: ",
    "{from: x, within: 3 bd}",
    "obligations:",
    "- recipient: ",
    "public",
    "  trigger: ",
    "follows public",
    "\n",
    "  ",
    "- ",
    ": ",
    "\"",
    "'",
    "#",
    "{",
    "}",
    "[",
    "]",
    ",",
    "regime: X\n",
    "title: t\n",
    "calendar:\n",
    "  zone: ",
    "Mars/Base",
    "  holidays: [2026-02-30]\n",
    "\t",
    "\u{feff}",
    "~",
    "null",
    "&a",
    "*a",
];

proptest! {
    #[test]
    fn facts_never_panic(text in "\\PC*") {
        let _ = Facts::from_str(&text, "f");
    }

    #[test]
    fn facts_from_pieces_never_panic(text in pieces(YAML)) {
        let _ = Facts::from_str(&text, "f");
    }

    #[test]
    fn playbooks_never_panic(text in pieces(YAML)) {
        let _ = playbook::compile(&text, "p", None);
    }

    #[test]
    fn the_locator_never_panics(text in pieces(YAML), i in 0usize..4, key in "[a-z]{1,6}") {
        use locate::Seg::{Index, Key};
        let _ = locate::locate(&text, &[Key("steps"), Index(i), Key(&key)]);
        let _ = locate::locate(&text, &[Index(i), Key(&key), Index(i)]);
    }

    #[test]
    fn the_engine_keeps_its_invariants(
        cats in prop::sample::subsequence(
            vec!["identity", "contact", "credentials", "financial", "payment_card", "location",
                 "behavioural", "health", "biometric", "children", "government_id", "special_category"],
            1..5),
        kinds in prop::sample::subsequence(vec!["confidentiality", "integrity", "availability"], 1..4),
        subjects in 1u64..200_000,
        flags in prop::collection::vec(any::<bool>(), 11),
        recovery in prop::sample::select(vec!["immediate", "hours", "days", "none"]),
    ) {
        let names = ["malicious", "encrypted", "key_compromised", "backup_available",
            "exfiltration_confirmed", "recipients_known_trusted", "recipients_known",
            "vulnerable_subjects", "mitigated", "material", "encrypted"];
        let mut text = format!(
            "data_categories: [{}]\nsubjects: {subjects}\njurisdictions: [EU, UK, US-CA, BR, JP, KR, SG, AU, CA, CN, IN]\nbreach: [{}]\naware_at: 2027-06-01T12:00:00Z\nrecovery: {recovery}\nsectors: [hipaa, nis2, sec_registrant]\n",
            cats.join(", "), kinds.join(", ")
        );
        for (name, on) in names.iter().zip(&flags).take(10) {
            text.push_str(&format!("{name}: {on}\n"));
        }
        let facts = Facts::from_str(&text, "f").unwrap();
        let all = playbook::shipped(None).unwrap();
        let a = assess::assess(&facts, &all);
        let gdpr = |r: &str| a.obligations.iter()
            .find(|o| o.regime == "GDPR" && o.recipient.as_str() == r)
            .map(|o| o.required)
            .unwrap();
        // every breach is documented; a high risk is also a risk
        prop_assert!(gdpr("internal_record"));
        prop_assert!(!gdpr("data_subjects") || gdpr("supervisory_authority"));
        for o in &a.obligations {
            prop_assert!(!o.reason.is_empty());
            prop_assert!(o.required || o.deadline.is_none());
        }
        prop_assert!((1.0..=4.0).contains(&a.severity.dpc));
        // encryption with a safe key never adds an obligation
        let mut safe = facts.clone();
        safe.encrypted = true;
        safe.key_compromised = false;
        let b = assess::assess(&safe, &all);
        for (x, y) in a.obligations.iter().zip(&b.obligations) {
            prop_assert!(!y.required || x.required, "{:?} became required with encryption", y);
        }
    }
}
