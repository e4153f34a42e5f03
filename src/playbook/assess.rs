//! The obligation engine: from [`Facts`] and the playbooks, the ENISA
//! severity, the risk to the subjects, and every obligation of every regime
//! that applies — required or not, by when, on what basis, and why.
//!
//! The risk follows the reasoning of the EDPB (Guidelines 01/2021 and 9/2022):
//! unintelligible data (encrypted, key safe) carries no confidentiality risk;
//! data that reached only a known, trusted recipient who deleted it is an
//! unlikely risk; any other readable data in untrusted hands is a risk; an
//! outage restored at once from backup is an unlikely risk;
//! special categories, vulnerable subjects, data that enables fraud in the
//! hands of an unknown or malicious party, data taken by an attacker, and
//! large scale make a high risk; measures taken since can remove the risk.

use std::fmt::Write as _;

use serde::Serialize;

use super::calendar::rfc3339;
use super::facts::{Facts, Recovery};
use super::severity::{self, Band, Ease, Exposure, Inputs, Loss, Severity};
use super::{Clocks, Exemption, Obligation, Playbook, Recipient, Start, Trigger};
use crate::classify::{Categories, Category};

/// Shown with every assessment.
pub const DISCLAIMER: &str = "breachd's assessment applies fixed rules to the facts given; it is not legal advice. Confirm every obligation with counsel before acting on it.";

/// From this many subjects a breach is large-scale (a high risk by itself).
pub const LARGE_SCALE: u64 = 10_000;
/// Above this many subjects the number itself is named as a reason.
pub const FEW: u64 = 100;

/// How likely harm to the subjects is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Nothing anyone could use or miss.
    None,
    Unlikely,
    Risk,
    High,
}

/// What drove the risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    Confidentiality,
    Availability,
}

/// The risk to the subjects with the reason, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Risk {
    pub level: Level,
    pub driver: Driver,
    pub reason: String,
}

/// One obligation, decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decided {
    pub regime: String,
    pub recipient: Recipient,
    pub required: bool,
    /// RFC 3339 in the regime's zone; null when not required or when the law
    /// sets no fixed time (`without undue delay`).
    pub deadline: Option<String>,
    pub basis: String,
    pub reason: String,
}

/// What `assess` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub disclaimer: &'static str,
    pub severity: Severity,
    pub risk: Risk,
    pub obligations: Vec<Decided>,
    /// Jurisdictions of the facts that no playbook covers: nothing was
    /// decided for them.
    pub uncovered: Vec<String>,
}

const SPECIAL: [Category; 4] = [
    Category::Health,
    Category::Biometric,
    Category::Children,
    Category::SpecialCategory,
];
const FRAUD: [Category; 4] = [
    Category::Financial,
    Category::PaymentCard,
    Category::Credentials,
    Category::GovernmentId,
];

/// The categories of `c` among `of`, in words (`payment card`).
fn named(c: Categories, of: &[Category]) -> Vec<String> {
    c.iter()
        .filter(|x| of.contains(x))
        .map(|x| x.as_str().replace('_', " "))
        .collect()
}

fn join(parts: &[String]) -> String {
    match parts.len() {
        0 => String::new(),
        1 => parts[0].clone(),
        n => format!("{} and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

impl Facts {
    /// The data is unintelligible to whoever has it.
    pub fn unintelligible(&self) -> bool {
        self.encrypted && !self.key_compromised
    }
    fn confidentiality_lost(&self) -> bool {
        self.breach.confidentiality || self.exfiltration_confirmed
    }
    /// An unknown party with bad intent holds readable data: no later
    /// measure can take it back.
    fn taken_by_attacker(&self) -> bool {
        self.malicious && !self.recipients_known && self.exfiltration_confirmed
    }
    /// As given; else a backup at hand means an immediate restore, and no
    /// backup means days of rebuilding.
    fn recovery(&self) -> Recovery {
        self.recovery.unwrap_or(if self.backup_available {
            Recovery::Immediate
        } else {
            Recovery::Days
        })
    }
}

fn confidentiality_risk(f: &Facts) -> (Level, String) {
    let special = named(f.categories, &SPECIAL);
    let fraud = named(f.categories, &FRAUD);
    if f.unintelligible() {
        return (
            Level::None,
            "the data was encrypted and the key was not compromised, so it is unintelligible to whoever has it".into(),
        );
    }
    if f.ease_of_identification == Some(Ease::Negligible) {
        return (
            Level::Unlikely,
            "the data can hardly be linked to the people it is about".into(),
        );
    }
    if f.recipients_known_trusted {
        return if special.is_empty() {
            (
                Level::Unlikely,
                "the data reached only a known, trusted recipient who confirmed its deletion"
                    .into(),
            )
        } else {
            (
                Level::Risk,
                format!(
                    "{} data reached a party not entitled to it, though a trusted one who confirmed its deletion",
                    special.join(", ")
                ),
            )
        };
    }
    let unknown = !f.recipients_known;
    let mut high = Vec::new();
    if !special.is_empty() {
        high.push(format!("special-category data ({})", special.join(", ")));
    }
    if f.vulnerable_subjects {
        high.push("the subjects are vulnerable".to_string());
    }
    if f.subjects.max >= LARGE_SCALE {
        high.push(format!("large scale ({} subjects)", f.subjects));
    }
    if !fraud.is_empty() && (f.malicious || unknown) {
        high.push(format!(
            "{} data that enables fraud or account takeover reached {}",
            fraud.join(", "),
            if f.malicious {
                "a malicious party"
            } else {
                "unknown recipients"
            }
        ));
    } else if f.taken_by_attacker() {
        high.push("an attacker took readable personal data".into());
    }
    if !high.is_empty() {
        return (Level::High, join(&high));
    }
    // any readable data in untrusted hands is a risk; only measures that
    // recall it (or a trusted recipient's deletion) make it unlikely
    let mut some = Vec::new();
    if f.malicious {
        some.push("the disclosure was deliberate".to_string());
    }
    some.push(
        if unknown {
            "the data reached unknown recipients"
        } else {
            "the data reached identified recipients not entitled to it"
        }
        .to_string(),
    );
    if !fraud.is_empty() {
        some.push(format!("it includes {} data", fraud.join(", ")));
    }
    if f.subjects.max > FEW {
        some.push(format!("{} subjects are affected", f.subjects));
    }
    (Level::Risk, join(&some))
}

fn availability_risk(f: &Facts) -> (Level, String) {
    let special = named(f.categories, &SPECIAL);
    let critical = f.vulnerable_subjects || !special.is_empty();
    let who = if f.vulnerable_subjects {
        "vulnerable subjects who depend on the data"
    } else {
        "the subjects of special-category data"
    };
    match f.recovery() {
        Recovery::Immediate => (
            Level::Unlikely,
            "the data was restored at once from backup with no effect on the subjects".into(),
        ),
        Recovery::Hours if !critical => (
            Level::Unlikely,
            "the data was restored within hours with no lasting effect on the subjects".into(),
        ),
        // hospital records out for a day are a high risk (WP250 Annex B, viii)
        Recovery::Hours => (Level::High, format!("{who} went without it for hours")),
        Recovery::Days if critical => (Level::High, format!("{who} went without it for days")),
        Recovery::Days => (
            Level::Risk,
            "the data was unavailable or altered for days".into(),
        ),
        Recovery::None if critical => (Level::High, format!("the data of {who} is lost for good")),
        Recovery::None => (Level::Risk, "the data is lost for good".into()),
    }
}

/// The risk to the subjects' rights and freedoms, from the facts alone.
pub fn risk(f: &Facts) -> Risk {
    let mut parts = Vec::new();
    if f.confidentiality_lost() {
        let (l, r) = confidentiality_risk(f);
        parts.push((l, Driver::Confidentiality, r));
    }
    if f.breach.availability || f.breach.integrity {
        let (l, r) = availability_risk(f);
        parts.push((l, Driver::Availability, r));
    }
    // the worst part decides; on a tie, confidentiality speaks first
    let (mut level, driver, mut reason) = parts
        .iter()
        .cloned()
        .reduce(|a, b| if b.0 > a.0 { b } else { a })
        .unwrap_or((
            Level::None,
            Driver::Confidentiality,
            "no security property was lost".into(),
        ));
    // readable data an attacker took cannot be recalled by later measures
    let recallable = f.unintelligible() || !f.taken_by_attacker();
    if f.mitigated && level > Level::Unlikely && recallable {
        level = Level::Unlikely;
        reason =
            format!("measures taken since make the risk no longer likely (before them: {reason})");
    }
    Risk {
        level,
        driver,
        reason,
    }
}

/// The ENISA severity of the facts, with the assessor's overrides.
pub fn severity(f: &Facts) -> Severity {
    let ease = f.ease_of_identification.unwrap_or(if f.unintelligible() {
        // unintelligible data identifies no one while the key is safe
        Ease::Negligible
    } else if f.categories.contains(Category::Identity)
        || f.categories.contains(Category::GovernmentId)
    {
        Ease::Maximum
    } else {
        Ease::Significant
    });
    let loss = |on: bool| {
        on.then(|| match f.recovery() {
            Recovery::Immediate => Loss::Recoverable,
            Recovery::Hours | Recovery::Days => Loss::Temporary,
            Recovery::None => Loss::Permanent,
        })
    };
    let confidentiality = f.confidentiality_lost().then(|| {
        if f.recipients_known_trusted || f.unintelligible() {
            Exposure::NoEvidence
        } else if f.recipients_known {
            Exposure::Known
        } else {
            Exposure::Unknown
        }
    });
    let inputs = Inputs {
        categories: f.categories,
        context: if f.vulnerable_subjects { 3 } else { 0 },
        ease,
        confidentiality,
        integrity: loss(f.breach.integrity),
        availability: loss(f.breach.availability),
        malicious: f.malicious,
    };
    let computed = severity::severity(&inputs);
    severity::from_parts(
        f.enisa.dpc.unwrap_or(computed.dpc),
        f.enisa.ei.unwrap_or(computed.ei),
        f.enisa.cb.unwrap_or(computed.cb),
    )
}

/// Decides every obligation of every playbook that applies to the facts.
pub fn assess(f: &Facts, playbooks: &[Playbook]) -> Assessment {
    let risk = risk(f);
    let severity = severity(f);
    let clocks = Clocks {
        // detection is no later than awareness
        detected_at: Some(f.detected_at.unwrap_or(f.aware_at)),
        aware_at: Some(f.aware_at),
        determined_at: Some(f.determined_at.unwrap_or(f.aware_at)),
    };
    let mut obligations = Vec::new();
    for p in playbooks {
        if !p.applies_to(&f.jurisdictions, &f.sectors) {
            continue;
        }
        let mut decided: Vec<(Recipient, bool, Option<jiff::Zoned>)> = Vec::new();
        for o in &p.obligations {
            let (required, reason) = decide(p, o, f, &risk, severity.band, &decided);
            let deadline = if required {
                o.deadline.and_then(|d| p.due_at(&d, &clocks))
            } else {
                None
            };
            let mut reason = reason;
            if required {
                match (&o.deadline, &deadline) {
                    (Some(d), Some(_)) => {
                        let from = match d.from {
                            Start::Clock(c) => c.as_str().to_string(),
                            Start::After(r) => format!("the {} deadline", r.as_str()),
                        };
                        let _ = write!(reason, " Due {} after {from}", d.within);
                        match &o.note {
                            Some(n) => {
                                let _ = write!(reason, ": {n}.");
                            }
                            None => reason.push('.'),
                        }
                    }
                    _ => {
                        if let Some(n) = &o.note {
                            let _ = write!(reason, " {}", sentence(n));
                        }
                    }
                }
            }
            decided.push((o.recipient, required, deadline.clone()));
            obligations.push(Decided {
                regime: p.regime.clone(),
                recipient: o.recipient,
                required,
                deadline: deadline.as_ref().map(rfc3339),
                basis: o.basis.clone(),
                reason,
            });
        }
    }
    let uncovered = f
        .jurisdictions
        .iter()
        .filter(|j| {
            !playbooks
                .iter()
                .any(|p| p.sectors.is_empty() && p.applies_to(std::slice::from_ref(j), &[]))
        })
        .cloned()
        .collect();
    Assessment {
        disclaimer: DISCLAIMER,
        severity,
        uncovered,
        risk,
        obligations,
    }
}

fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

/// Whether one obligation is required, and the reason in one sentence.
fn decide(
    p: &Playbook,
    o: &Obligation,
    f: &Facts,
    risk: &Risk,
    band: Band,
    earlier: &[(Recipient, bool, Option<jiff::Zoned>)],
) -> (bool, String) {
    if let Some(from) = p.in_force {
        let aware = f.aware_at.to_zoned(p.calendar.zone.clone()).date();
        if aware < from {
            return (
                false,
                format!(
                    "The law's breach rules apply from {from}; this breach was known on {aware}."
                ),
            );
        }
    }
    if !o.sectors.is_empty() && !o.sectors.iter().any(|s| f.sectors.contains(s)) {
        return (
            false,
            format!(
                "Applies only to {}; the facts name none of these.",
                o.sectors.join(", ")
            ),
        );
    }
    if !o.categories.is_empty() && o.categories.intersection(f.categories).is_empty() {
        return (
            false,
            format!(
                "None of the data is of a covered kind ({}).",
                o.categories.names().join(", ").replace('_', " ")
            ),
        );
    }
    if let Some(min) = o.min_severity {
        if band < min {
            return (
                false,
                format!(
                    "The ENISA severity is {}, below the {} this needs.",
                    band.as_str().replace('_', " "),
                    min.as_str().replace('_', " ")
                ),
            );
        }
    }
    if o.exempt.contains(&Exemption::Encryption)
        && f.unintelligible()
        && risk.driver == Driver::Confidentiality
    {
        return (
            false,
            "The data was encrypted and the key was not compromised, which the law exempts.".into(),
        );
    }
    let (holds, reason) = match o.trigger {
        Trigger::Any => (true, "Every breach is covered, whatever the risk.".to_string()),
        Trigger::Risk if risk.level >= Level::Risk => (
            true,
            format!("Likely to result in a risk: {}.", risk.reason),
        ),
        Trigger::Risk => (
            false,
            format!("Unlikely to result in a risk: {}.", risk.reason),
        ),
        Trigger::HighRisk if risk.level >= Level::High => (
            true,
            format!("Likely to result in a high risk: {}.", risk.reason),
        ),
        Trigger::HighRisk => (
            false,
            format!(
                "{} {}",
                match risk.level {
                    Level::Risk => "Not a high risk:",
                    _ => "No likely risk:",
                },
                sentence(&risk.reason)
            ),
        ),
        Trigger::Acquired if f.recipients_known_trusted => (
            false,
            "The data reached only a known, trusted recipient who confirmed its deletion, not an unauthorised acquirer.".into(),
        ),
        Trigger::Acquired if f.confidentiality_lost() && !f.unintelligible() => (
            true,
            "Covered personal information was, or is reasonably believed to have been, acquired by an unauthorised person.".into(),
        ),
        Trigger::Acquired if f.confidentiality_lost() => (
            false,
            "Only encrypted data was acquired and the key was not compromised.".into(),
        ),
        Trigger::Acquired => (
            false,
            "No personal information was acquired: the breach touched only integrity or availability.".into(),
        ),
        Trigger::Material if f.material => (
            true,
            "The incident was determined to be material (significant).".into(),
        ),
        Trigger::Material => (
            false,
            "The incident has not been determined material (significant).".into(),
        ),
        Trigger::Malicious if f.malicious => (
            true,
            "The breach was malicious, so an unlawful purpose is suspected.".into(),
        ),
        Trigger::Malicious => (
            false,
            "Nothing suggests an unlawful purpose (the breach was not malicious).".into(),
        ),
        Trigger::Follows(r) => match earlier.iter().any(|(x, req, _)| *x == r && *req) {
            true => (
                true,
                format!("Required because the notice to the {} is.", r.as_str().replace('_', " ")),
            ),
            false => (
                false,
                format!("Not required because no notice to the {} is.", r.as_str().replace('_', " ")),
            ),
        },
    };
    if !holds {
        return (false, reason);
    }
    if let Some(n) = o.subjects_over {
        if f.subjects.max <= n {
            return (
                false,
                format!(
                    "{} subjects, not more than the threshold of {n}.",
                    f.subjects
                ),
            );
        }
    }
    if let Some(n) = o.subjects_under {
        if f.subjects.max >= n {
            return (
                false,
                format!(
                    "{} subjects, {n} or more: the larger-breach rule applies instead.",
                    f.subjects
                ),
            );
        }
    }
    if o.exempt.contains(&Exemption::Mitigation) && f.mitigated {
        return (
            false,
            "Measures taken since the breach make the harm to the subjects no longer likely, which the law exempts.".into(),
        );
    }
    let mut reason = reason;
    if let Some(n) = o.subjects_over {
        reason = format!("{} More than {n} subjects ({}).", reason, f.subjects);
    }
    (true, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::facts::Facts;

    /// Forty subjects' identity and contact data, confidentiality lost, in
    /// the EU, with `extra` lines added (a `subjects:` line replaces the 40).
    fn facts(extra: &str) -> Facts {
        let has = extra.starts_with("subjects:") || extra.contains("\nsubjects:");
        let subjects = if has { "" } else { "subjects: 40\n" };
        let text = format!(
            "data_categories: [identity, contact]\n{subjects}jurisdictions: [EU]\nbreach: [confidentiality]\naware_at: 2026-03-06T16:00:00+01:00\n{extra}"
        );
        Facts::from_str(&text, "t").unwrap()
    }

    #[test]
    fn risk_follows_the_principles() {
        let table: &[(&str, &str, Level)] = &[
            ("encrypted, key safe", "encrypted: true\nmalicious: true\nexfiltration_confirmed: true\n", Level::None),
            ("encrypted, key stolen", "encrypted: true\nkey_compromised: true\nmalicious: true\nexfiltration_confirmed: true\n", Level::High),
            ("trusted recipient deleted it", "recipients_known_trusted: true\n", Level::Unlikely),
            ("identifies no one", "malicious: true\nexfiltration_confirmed: true\nease_of_identification: negligible\n", Level::Unlikely),
            ("a few mis-sent letters", "recipients_known: true\n", Level::Risk),
            ("a few mis-sent letters, recalled", "recipients_known: true\nmitigated: true\n", Level::Unlikely),
            ("mis-sent to many", "recipients_known: true\nsubjects: 400\n", Level::Risk),
            ("published by accident", "", Level::Risk),
            ("taken by an ex-employee", "recipients_known: true\nmalicious: true\nexfiltration_confirmed: true\n", Level::Risk),
            ("taken by an unknown attacker", "malicious: true\nexfiltration_confirmed: true\n", Level::High),
            ("vulnerable subjects", "recipients_known: true\nvulnerable_subjects: true\n", Level::High),
            ("large scale", "recipients_known: true\nsubjects: 60000\n", Level::High),
            ("mitigated", "malicious: true\nrecipients_known: true\nmitigated: true\n", Level::Unlikely),
            ("mitigation cannot recall stolen data", "malicious: true\nexfiltration_confirmed: true\nmitigated: true\n", Level::High),
        ];
        for (case, extra, want) in table {
            let f = facts(extra);
            let r = risk(&f);
            assert_eq!(r.level, *want, "{case}: {}", r.reason);
        }
    }

    #[test]
    fn availability_depends_on_recovery_and_who_depends_on_the_data() {
        let base = "breach: [availability, integrity]\nmalicious: true\n";
        let table: &[(&str, &str, Level)] = &[
            ("restored at once", "recovery: immediate\n", Level::Unlikely),
            ("restored in hours", "recovery: hours\n", Level::Unlikely),
            ("days", "recovery: days\n", Level::Risk),
            (
                "patients for days",
                "recovery: days\nvulnerable_subjects: true\n",
                Level::High,
            ),
            (
                "backup, no recovery given",
                "backup_available: true\n",
                Level::Unlikely,
            ),
            ("no backup, no recovery given", "", Level::Risk),
            ("lost", "recovery: none\n", Level::Risk),
        ];
        for (case, extra, want) in table {
            let text = format!(
                "data_categories: [identity]\nsubjects: 40\njurisdictions: [EU]\naware_at: 2026-03-06T16:00:00+01:00\n{base}{extra}"
            );
            let f = Facts::from_str(&text, "t").unwrap();
            assert_eq!(risk(&f).level, *want, "{case}");
        }
    }

    /// One row per rule of a regime: the facts, the obligation (regime and
    /// a piece of its basis) and whether it is required.
    #[test]
    fn each_regime_applies_its_own_thresholds() {
        let all = crate::playbook::shipped(None).unwrap();
        let base = "breach: [confidentiality]\naware_at: 2026-06-01T12:00:00Z\n";
        let table: &[(&str, &str, &str, bool)] = &[
            // HIPAA: unsecured PHI; media and HHS at once above 500, else the annual log
            ("data_categories: [identity, health]\nsubjects: 600\njurisdictions: [US-TX]\nsectors: [hipaa]\n", "HIPAA", "164.406", true),
            ("data_categories: [identity, health]\nsubjects: 600\njurisdictions: [US-TX]\nsectors: [hipaa]\n", "HIPAA", "164.408(b)", true),
            ("data_categories: [identity, health]\nsubjects: 600\njurisdictions: [US-TX]\nsectors: [hipaa]\n", "HIPAA", "164.408(c)", false),
            ("data_categories: [identity, health]\nsubjects: 40\njurisdictions: [US-TX]\nsectors: [hipaa]\n", "HIPAA", "164.406", false),
            ("data_categories: [identity, health]\nsubjects: 40\njurisdictions: [US-TX]\nsectors: [hipaa]\n", "HIPAA", "164.408(c)", true),
            ("data_categories: [identity, health]\nsubjects: 40\njurisdictions: [US-TX]\nsectors: [hipaa]\nencrypted: true\n", "HIPAA", "164.404", false),
            ("data_categories: [identity, contact]\nsubjects: 40\njurisdictions: [US-TX]\nsectors: [hipaa]\n", "HIPAA", "164.404", false),
            // Singapore: significant harm, or 500 or more people
            ("data_categories: [identity, contact]\nsubjects: 500\njurisdictions: [SG]\nrecipients_known: true\n", "PDPA", "26B(1)(b)", true),
            ("data_categories: [identity, contact]\nsubjects: 499\njurisdictions: [SG]\nrecipients_known: true\n", "PDPA", "26B(1)(b)", false),
            ("data_categories: [identity, contact]\nsubjects: 499\njurisdictions: [SG]\nrecipients_known: true\n", "PDPA", "26B(1)(a)", false),
            // Japan: special-care data, property damage, unlawful purpose, or over 1,000
            ("data_categories: [identity, health]\nsubjects: 3\njurisdictions: [JP]\nrecipients_known: true\n", "APPI", "Art. 7(i)", true),
            ("data_categories: [identity]\nsubjects: 3\njurisdictions: [JP]\nmalicious: true\n", "APPI", "Art. 7(iii)", true),
            ("data_categories: [identity]\nsubjects: 1001\njurisdictions: [JP]\nrecipients_known: true\n", "APPI", "Art. 7(iv)", true),
            ("data_categories: [identity]\nsubjects: 1000\njurisdictions: [JP]\nrecipients_known: true\n", "APPI", "Art. 26(2)", false),
            ("data_categories: [identity]\nsubjects: 1001\njurisdictions: [JP]\nrecipients_known: true\n", "APPI", "Art. 26(2)", true),
            // Korea: every leak to the subjects; the PIPC from 1,000, for unique ids, or an outside attack
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [KR]\nrecipients_known: true\n", "PIPA", "Art. 34(1)", true),
            ("data_categories: [identity]\nsubjects: 999\njurisdictions: [KR]\nrecipients_known: true\n", "PIPA", "40(1)(i)", false),
            ("data_categories: [identity]\nsubjects: 1000\njurisdictions: [KR]\nrecipients_known: true\n", "PIPA", "40(1)(i)", true),
            ("data_categories: [identity, government_id]\nsubjects: 5\njurisdictions: [KR]\nrecipients_known: true\n", "PIPA", "40(1)(ii)", true),
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [KR]\nmalicious: true\nmitigated: true\nrecipients_known: true\n", "PIPA", "40(1)(iii)", false),
            // PIPL: the authority always, immediately
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [CN]\nrecipients_known: true\nmitigated: true\n", "PIPL", "57(1)", true),
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [CN]\nrecipients_known: true\nmitigated: true\n", "PIPL", "57(2)", false),
            // Australia and Canada: serious harm, real risk of significant harm
            ("data_categories: [identity, financial]\nsubjects: 5\njurisdictions: [AU]\nmalicious: true\n", "NDB", "26WK", true),
            ("data_categories: [identity, financial]\nsubjects: 5\njurisdictions: [AU]\nmalicious: true\nmitigated: true\nrecipients_known: true\n", "NDB", "26WK", false),
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [CA]\nrecipients_known: true\n", "PIPEDA", "10.1(1)", false),
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [CA]\nrecipients_known: true\n", "PIPEDA", "10.3", true),
            // SEC, NYDFS and NIS2 follow the sector and the determination
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [US-NY]\nsectors: [sec_registrant]\n", "SEC 8-K", "1.05", false),
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [US-NY]\nsectors: [sec_registrant]\nmaterial: true\n", "SEC 8-K", "1.05", true),
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [US-NY]\nsectors: [nydfs]\n", "NYDFS", "500.17", true),
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [DE]\nsectors: [nis2]\nmaterial: true\n", "NIS2", "23(4)(d)", true),
            // ePrivacy, DORA: their own sectors; China's measures from a million people
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [IT]\nsectors: [telecom]\nencrypted: true\n", "ePrivacy", "Art. 2(2)", true),
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [IT]\nsectors: [telecom]\nencrypted: true\n", "ePrivacy", "Art. 3, 4", false),
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [IT]\nsectors: [dora]\nmaterial: true\n", "DORA", "19(4)(c)", true),
            ("data_categories: [identity]\nsubjects: 1000000\njurisdictions: [CN]\n", "CN incident measures", "Art. 4", true),
            ("data_categories: [identity]\nsubjects: 999999\njurisdictions: [CN]\n", "CN incident measures", "Art. 4", false),
            // a processor tells its controller
            ("data_categories: [identity]\nsubjects: 5\njurisdictions: [FR]\nsectors: [processor]\n", "GDPR", "33(2)", true),
        ];
        for (extra, regime, basis, want) in table {
            let f = Facts::from_str(&format!("{base}{extra}"), "t").unwrap();
            let a = assess(&f, &all);
            let o = a
                .obligations
                .iter()
                .find(|o| o.regime == *regime && o.basis.contains(basis))
                .unwrap_or_else(|| panic!("no {regime} {basis} for {extra}"));
            assert_eq!(
                o.required, *want,
                "{regime} {basis} for {extra}: {}",
                o.reason
            );
        }
    }

    #[test]
    fn jurisdictions_without_a_playbook_are_named() {
        let all = crate::playbook::shipped(None).unwrap();
        let f = Facts::from_str(
            "data_categories: [identity]\nsubjects: 5\njurisdictions: [EU, MX, US-TX, DE]\nbreach: [confidentiality]\naware_at: 2026-06-01T12:00:00Z\n",
            "t",
        )
        .unwrap();
        // Texas has only sector regimes (HIPAA, SEC), none of which the facts name
        assert_eq!(assess(&f, &all).uncovered, vec!["MX", "US-TX"]);
    }

    #[test]
    fn an_obligation_can_wait_for_a_severity_band() {
        let text = "regime: X\ntitle: x\njurisdictions: [EU]\nobligations:\n  - recipient: public\n    basis: s. 1\n    trigger: any\n    min_severity: high\n";
        let p = crate::playbook::compile(text, "x.yaml", None).unwrap();
        let low = assess(&facts("recipients_known: true\n"), std::slice::from_ref(&p));
        assert!(!low.obligations[0].required);
        assert!(
            low.obligations[0].reason.contains("below the high"),
            "{:?}",
            low.obligations[0]
        );
        let high = assess(
            &facts("vulnerable_subjects: true\nmalicious: true\n"),
            std::slice::from_ref(&p),
        );
        assert!(high.obligations[0].required, "{:?}", high.severity);
    }

    #[test]
    fn gdpr_deadline_and_reasons() {
        let all = crate::playbook::shipped(None).unwrap();
        let f = facts("malicious: true\nexfiltration_confirmed: true\n");
        let a = assess(&f, &all);
        let sa = a
            .obligations
            .iter()
            .find(|o| o.regime == "GDPR" && o.recipient == Recipient::SupervisoryAuthority)
            .unwrap();
        assert!(sa.required);
        assert_eq!(sa.deadline.as_deref(), Some("2026-03-09T16:00:00+01:00"));
        assert!(
            sa.reason.starts_with("Likely to result in a risk"),
            "{}",
            sa.reason
        );
        let f = facts("encrypted: true\n");
        let a = assess(&f, &all);
        for o in a.obligations.iter().filter(|o| o.regime == "GDPR") {
            if o.recipient == Recipient::InternalRecord {
                assert!(o.required);
            } else if o.recipient != Recipient::Controller {
                assert!(!o.required, "{o:?}");
                assert!(o.reason.contains("encrypted"), "{}", o.reason);
                assert_eq!(o.deadline, None);
            }
        }
    }
}
