//! The facts of a breach that the obligation engine decides on: a plain
//! struct ([`Facts`]) that a live incident fills in as well as a facts file
//! (the DESIGN.md `assess` contract, [`Facts::from_str`]).

use std::fmt;

use jiff::Timestamp;
use serde::Deserialize;

use super::locate::{locate, Seg};
use super::severity::Ease;
use crate::classify::{Categories, Category};

/// What is known about one breach. A boolean that is false means "not
/// known to be true".
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub categories: Categories,
    pub subjects: Subjects,
    /// `EU`, `UK`, `US-CA`, ... as written (upper case).
    pub jurisdictions: Vec<String>,
    pub breach: Breach,
    pub malicious: bool,
    pub encrypted: bool,
    pub key_compromised: bool,
    pub backup_available: bool,
    pub exfiltration_confirmed: bool,
    /// The data went only to a known, trusted party who confirmed deletion.
    pub recipients_known_trusted: bool,
    /// The data reached only identified recipients (a named person, a
    /// mis-addressed customer), not an unknown attacker or the public.
    pub recipients_known: bool,
    pub aware_at: Timestamp,
    /// When the breach was first detected (ePrivacy and China's measures
    /// count from it). Defaults to `aware_at`.
    pub detected_at: Option<Timestamp>,
    /// When the breach was determined (materiality, occurrence); the clock
    /// of SEC, NYDFS and PIPEDA. Defaults to `aware_at`.
    pub determined_at: Option<Timestamp>,
    pub vulnerable_subjects: bool,
    pub ease_of_identification: Option<Ease>,
    pub recovery: Option<Recovery>,
    pub mitigated: bool,
    pub enisa: EnisaOverrides,
    /// Sectors and roles that bring in their own regimes: `hipaa`, `nydfs`,
    /// `sec_registrant`, `nis2`, `dora`, `telecom` (ePrivacy), `processor`.
    pub sectors: Vec<String>,
    /// The incident was determined material (SEC), significant (NIS2) or
    /// major (DORA).
    pub material: bool,
}

/// The number of subjects affected, exactly or as a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subjects {
    pub min: u64,
    pub max: u64,
}

impl fmt::Display for Subjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.max)
        } else {
            write!(f, "{}–{}", self.min, self.max)
        }
    }
}

/// Which security properties were lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breach {
    pub confidentiality: bool,
    pub integrity: bool,
    pub availability: bool,
}

/// How soon lost or altered data came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    Immediate,
    Hours,
    Days,
    None,
}

/// An assessor's own ENISA scores, replacing the computed ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnisaOverrides {
    pub dpc: Option<f64>,
    pub ei: Option<f64>,
    pub cb: Option<f64>,
}

/// A problem in a facts file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for FactsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one facts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsErrors(pub Vec<FactsError>);

impl fmt::Display for FactsErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for FactsErrors {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactsFile {
    data_categories: Vec<String>,
    subjects: SubjectsFile,
    jurisdictions: Vec<String>,
    breach: Vec<BreachKind>,
    aware_at: String,
    #[serde(default)]
    malicious: bool,
    #[serde(default)]
    encrypted: bool,
    #[serde(default)]
    key_compromised: bool,
    #[serde(default)]
    backup_available: bool,
    #[serde(default)]
    exfiltration_confirmed: bool,
    #[serde(default)]
    recipients_known_trusted: bool,
    #[serde(default)]
    recipients_known: bool,
    #[serde(default)]
    detected_at: Option<String>,
    #[serde(default)]
    determined_at: Option<String>,
    #[serde(default)]
    vulnerable_subjects: bool,
    #[serde(default)]
    ease_of_identification: Option<Ease>,
    #[serde(default)]
    recovery: Option<Recovery>,
    #[serde(default)]
    mitigated: bool,
    #[serde(default)]
    enisa: EnisaOverrides,
    #[serde(default)]
    sectors: Vec<String>,
    #[serde(default)]
    material: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SubjectsFile {
    Count(u64),
    Pair([u64; 2]),
    Range { min: u64, max: u64 },
    Text(String),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum BreachKind {
    Confidentiality,
    Integrity,
    Availability,
}

/// The sectors a facts file may name.
pub const SECTORS: [&str; 7] = [
    "hipaa",
    "nydfs",
    "sec_registrant",
    "nis2",
    "dora",
    "telecom",
    "processor",
];

impl Facts {
    /// Reads a facts file (YAML or JSON).
    pub fn load(path: &std::path::Path) -> Result<Facts, FactsErrors> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            FactsErrors(vec![FactsError {
                file: name.clone(),
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("cannot read the facts file: {e}"),
            }])
        })?;
        Facts::from_str(&text, &name)
    }

    /// Parses facts from YAML or JSON text, reporting every problem with its
    /// line and field.
    pub fn from_str(text: &str, file: &str) -> Result<Facts, FactsErrors> {
        let raw: FactsFile = serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let (field, message) = super::locate::serde_error(&e.to_string(), text, line);
            FactsErrors(vec![FactsError {
                file: file.into(),
                line,
                column,
                field,
                message,
            }])
        })?;
        let mut errors = Vec::new();
        let mut err = |path: &[Seg], message: String| {
            errors.push(FactsError {
                file: file.into(),
                line: locate(text, path),
                column: 1,
                field: super::locate::field_name(path),
                message,
            })
        };
        let mut categories = Categories::default();
        for (i, c) in raw.data_categories.iter().enumerate() {
            match Category::from_name(c) {
                Some(c) => categories.insert(c),
                None => err(
                    &[Seg::Key("data_categories"), Seg::Index(i)],
                    format!(
                        "unknown category `{c}`; use one of: {}",
                        Category::ALL.map(Category::as_str).join(", ")
                    ),
                ),
            }
        }
        let subjects = match raw.subjects {
            SubjectsFile::Count(n) => Some(Subjects { min: n, max: n }),
            SubjectsFile::Pair([min, max]) | SubjectsFile::Range { min, max } => {
                Some(Subjects { min, max })
            }
            SubjectsFile::Text(s) => s
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
                .map(|(min, max)| Subjects { min, max }),
        }
        .filter(|s| s.min <= s.max);
        if subjects.is_none() {
            err(
                &[Seg::Key("subjects")],
                "give a number, or a range as `100-500`, `[100, 500]` or `{min: 100, max: 500}`"
                    .into(),
            );
        }
        if raw.jurisdictions.is_empty() {
            err(
                &[Seg::Key("jurisdictions")],
                "name at least one jurisdiction (`EU`, `US-CA`, ...)".into(),
            );
        }
        if raw.breach.is_empty() {
            err(
                &[Seg::Key("breach")],
                "name what was lost: confidentiality, integrity, availability".into(),
            );
        }
        let mut time = |key: &'static str, s: &str| match s.parse::<Timestamp>() {
            Ok(t) => Some(t),
            Err(_) => {
                err(
                    &[Seg::Key(key)],
                    format!("`{s}` is not an RFC 3339 time such as `2026-03-06T16:00:00+01:00`"),
                );
                None
            }
        };
        let aware_at = time("aware_at", &raw.aware_at);
        let detected_at = raw
            .detected_at
            .as_deref()
            .and_then(|s| time("detected_at", s));
        let determined_at = raw
            .determined_at
            .as_deref()
            .and_then(|s| time("determined_at", s));
        for (i, s) in raw.sectors.iter().enumerate() {
            if !SECTORS.contains(&s.as_str()) {
                err(
                    &[Seg::Key("sectors"), Seg::Index(i)],
                    format!("unknown sector `{s}`; use one of: {}", SECTORS.join(", ")),
                );
            }
        }
        let e = raw.enisa;
        for (key, v, range) in [
            ("dpc", e.dpc, 1.0..=4.0),
            ("ei", e.ei, 0.25..=1.0),
            ("cb", e.cb, 0.0..=2.0),
        ] {
            if v.is_some_and(|v| !range.contains(&v)) {
                err(
                    &[Seg::Key("enisa"), Seg::Key(key)],
                    format!("must lie between {} and {}", range.start(), range.end()),
                );
            }
        }
        match (subjects, aware_at) {
            (Some(subjects), Some(aware_at)) if errors.is_empty() => Ok(Facts {
                categories,
                subjects,
                jurisdictions: raw
                    .jurisdictions
                    .iter()
                    .map(|j| j.trim().to_ascii_uppercase())
                    .collect(),
                breach: Breach {
                    confidentiality: raw
                        .breach
                        .iter()
                        .any(|b| matches!(b, BreachKind::Confidentiality)),
                    integrity: raw
                        .breach
                        .iter()
                        .any(|b| matches!(b, BreachKind::Integrity)),
                    availability: raw
                        .breach
                        .iter()
                        .any(|b| matches!(b, BreachKind::Availability)),
                },
                malicious: raw.malicious,
                encrypted: raw.encrypted,
                key_compromised: raw.key_compromised,
                backup_available: raw.backup_available,
                exfiltration_confirmed: raw.exfiltration_confirmed,
                recipients_known_trusted: raw.recipients_known_trusted,
                recipients_known: raw.recipients_known,
                aware_at,
                detected_at,
                determined_at,
                vulnerable_subjects: raw.vulnerable_subjects,
                ease_of_identification: raw.ease_of_identification,
                recovery: raw.recovery,
                mitigated: raw.mitigated,
                enisa: raw.enisa,
                sectors: raw.sectors,
                material: raw.material,
            }),
            _ => Err(FactsErrors(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "data_categories: [identity, health]\nsubjects: 120\njurisdictions: [EU]\nbreach: [confidentiality]\naware_at: 2026-03-06T16:00:00+01:00\n";

    #[test]
    fn minimal_yaml_and_json_read_alike() {
        let y = Facts::from_str(MINIMAL, "f.yaml").unwrap();
        let j = Facts::from_str(
            r#"{"data_categories": ["identity", "health"], "subjects": 120, "jurisdictions": ["EU"],
                "breach": ["confidentiality"], "aware_at": "2026-03-06T16:00:00+01:00"}"#,
            "f.json",
        )
        .unwrap();
        assert_eq!(y, j);
        assert_eq!(y.subjects, Subjects { min: 120, max: 120 });
        assert!(y.breach.confidentiality && !y.breach.availability);
        assert!(!y.malicious && !y.encrypted);
    }

    #[test]
    fn subjects_may_be_a_range() {
        for s in ["100-500", "[100, 500]", "{min: 100, max: 500}"] {
            let text = MINIMAL.replace("subjects: 120", &format!("subjects: {s}"));
            let f = Facts::from_str(&text, "f").unwrap();
            assert_eq!(f.subjects, Subjects { min: 100, max: 500 }, "{s}");
        }
        let text = MINIMAL.replace("subjects: 120", "subjects: lots");
        let e = Facts::from_str(&text, "f").unwrap_err().to_string();
        assert!(e.starts_with("f:2:1: subjects: give a number"), "{e}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let text = format!("{MINIMAL}encrypted: true\nransom_paid: true\n");
        let e = Facts::from_str(&text, "f.yaml").unwrap_err().to_string();
        assert!(e.starts_with("f.yaml:7:1: "), "{e}");
        assert!(e.contains("unknown field `ransom_paid`"), "{e}");
    }

    #[test]
    fn bad_values_are_named_with_line_and_field() {
        let text = "data_categories: [identity, helth]\nsubjects: 3\njurisdictions: [EU]\nbreach: [confidentiality]\naware_at: yesterday\nsectors: [banking]\n";
        let e = Facts::from_str(text, "f").unwrap_err().0;
        let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 3, "{shown:#?}");
        assert!(shown[0].starts_with("f:1:1: data_categories[1]: unknown category `helth`"));
        assert!(shown[1].starts_with("f:5:1: aware_at: `yesterday` is not an RFC 3339 time"));
        assert!(shown[2].starts_with("f:6:1: sectors[0]: unknown sector `banking`"));
    }

    #[test]
    fn a_missing_required_field_is_an_error() {
        let text = MINIMAL.replace("breach: [confidentiality]\n", "");
        let e = Facts::from_str(&text, "f").unwrap_err().to_string();
        assert!(e.contains("missing field `breach`"), "{e}");
        let text = MINIMAL.replace("breach: [confidentiality]", "breach: [leak]");
        let e = Facts::from_str(&text, "f").unwrap_err().to_string();
        assert!(e.starts_with("f:4:"), "{e}");
        assert!(e.contains("unknown variant `leak`"), "{e}");
    }
}
