//! The alert: what a detector says about one attack, and its JSON line
//! (the ⚑ alert-line contract of DESIGN.md, read by `score.py`).

use serde::{Serialize, Serializer};

use super::table::KeyTable;
use crate::classify::Categories;
use crate::parse::EventTime;

/// How bad an alert is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What an entity is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    Ip,
    User,
    Session,
    IpPrefix,
    UserAgent,
    Host,
    Resource,
}

/// One entity an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Entity {
    #[serde(rename = "type")]
    pub kind: EntityType,
    pub value: String,
}

/// One alert, extended while its attack goes on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The rule that raised it.
    pub detector: String,
    pub entities: Vec<Entity>,
    /// Event time of the first line the alert covers.
    pub start: EventTime,
    /// Event time of the last line the alert covers.
    pub end: EventTime,
    /// Event time of the line that made the detector fire.
    pub detected_at: EventTime,
    pub severity: Severity,
    /// Set once incidents exist (issue 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// Estimated data subjects whose data the attack exposed (0: none).
    pub subjects: u64,
    #[serde(serialize_with = "category_names")]
    pub categories: Categories,
    /// Lines (events) the alert covers.
    pub events: u64,
    /// One sentence for people.
    pub summary: String,
    /// The data subjects' ids its reads exposed, as the logs name them.
    /// Never in the alert line: it is personal data, kept in the store only.
    #[serde(skip)]
    pub exposed: SubjectIds,
}

/// Subject ids an alert exposed, bounded per alert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectIds {
    /// Distinct ids, in the order they were read.
    pub ids: Vec<Box<str>>,
    /// Some exposed subjects are missing from `ids`: the cap bit, or they
    /// were read before the alert and their ids were no longer remembered.
    pub incomplete: bool,
}

impl SubjectIds {
    /// Ids kept per alert; beyond this the list is marked incomplete.
    pub const CAP: usize = 100_000;

    /// Adds an id known to be new to this alert.
    pub fn push(&mut self, id: &str) {
        if self.ids.len() < Self::CAP {
            self.ids.push(id.into());
        } else {
            self.incomplete = true;
        }
    }
}

/// The engine's memory of recently exposed subject ids by hash, so an alert
/// can name the subjects its key exposed before it fired, while the rules'
/// per-key state keeps only hashes. One book for all keys and rules (a
/// subject read by many keys is kept once), in two generations: when the
/// young one is full the old one is dropped, so memory stays bounded and the
/// ids read most recently are the ones kept.
/// Key tables, so the engine can ask for an id's slot ahead of learning it.
#[derive(Debug, Default)]
pub struct IdBook {
    young: KeyTable<Box<str>>,
    old: KeyTable<Box<str>>,
}

/// A tagged hash as a table key: the tag is the low bit, and a table homes
/// keys by their low bits, so it is turned to the top (a bijection).
fn slot_key(hash: u64) -> u64 {
    hash.rotate_right(1)
}

impl IdBook {
    /// Ids per generation.
    const GENERATION: usize = 200_000;

    /// Asks for the cache line where `learn(hash, ..)` will look first.
    pub fn prefetch(&self, hash: u64) {
        self.young.prefetch(slot_key(hash));
    }

    /// Remembers `id` under its (tagged) hash.
    pub fn learn(&mut self, hash: u64, id: &str) {
        let key = slot_key(hash);
        if self.young.contains_key(&key) {
            return;
        }
        let id = self.old.remove(&key).unwrap_or_else(|| id.into());
        self.young.insert(key, id);
        if self.young.len() >= Self::GENERATION {
            self.old = std::mem::take(&mut self.young);
        }
    }

    /// The id behind `hash`, if still remembered.
    pub fn get(&self, hash: u64) -> Option<&str> {
        let key = slot_key(hash);
        self.young
            .get(&key)
            .or_else(|| self.old.get(&key))
            .map(|s| &**s)
    }
}

fn category_names<S: Serializer>(c: &Categories, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(c.names())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Category;

    #[test]
    fn the_id_book_keeps_two_generations_at_most() {
        let mut b = IdBook::default();
        let n = IdBook::GENERATION as u64;
        // the book's keys are seeded hashes: spread, not consecutive
        let hash = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & !1;
        for i in 0..3 * n {
            b.learn(hash(i), &i.to_string());
        }
        assert!(b.young.len() + b.old.len() <= 2 * IdBook::GENERATION);
        assert_eq!(b.get(hash(3 * n - 1)), Some(&*(3 * n - 1).to_string()));
        assert_eq!(b.get(hash(0)), None, "the oldest were dropped");
    }

    #[test]
    fn subject_ids_beyond_the_cap_mark_the_list_incomplete() {
        let mut s = SubjectIds::default();
        for i in 0..=SubjectIds::CAP {
            s.push(&i.to_string());
        }
        assert_eq!(s.ids.len(), SubjectIds::CAP);
        assert!(s.incomplete);
    }

    #[test]
    fn alert_line_follows_the_contract() {
        let t = |s| crate::parse::time::parse_rfc3339(s).unwrap();
        let a = Alert {
            detector: "credential_stuffing".into(),
            entities: vec![
                Entity {
                    kind: EntityType::Ip,
                    value: "203.0.113.7".into(),
                },
                Entity {
                    kind: EntityType::User,
                    value: "alice".into(),
                },
            ],
            start: t("2026-03-02T10:00:01+00:00"),
            end: t("2026-03-02T10:14:40+00:00"),
            detected_at: t("2026-03-02T10:01:12+00:00"),
            severity: Severity::High,
            incident: None,
            subjects: 240,
            categories: [Category::Identity, Category::Contact]
                .into_iter()
                .collect(),
            events: 12,
            summary: "x".into(),
            exposed: SubjectIds {
                ids: vec!["c-1".into()],
                incomplete: false,
            },
        };
        let v: serde_json::Value = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "detector": "credential_stuffing",
                "entities": [{"type": "ip", "value": "203.0.113.7"}, {"type": "user", "value": "alice"}],
                "start": "2026-03-02T10:00:01+00:00",
                "end": "2026-03-02T10:14:40+00:00",
                "detected_at": "2026-03-02T10:01:12+00:00",
                "severity": "high",
                "subjects": 240,
                "categories": ["identity", "contact"],
                "events": 12,
                "summary": "x"
            })
        );
    }
}
