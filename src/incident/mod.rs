//! Incidents: what on-call and legal work on.
//!
//! An alert is a signal; an incident is one attack: the alerts that belong to
//! it, the data it touched, the people it exposed, where it stands
//! (`open → acknowledged → contained → resolved`, or `false_positive`), who did
//! what to it, and when the organisation became aware of it (the legal clock's
//! start).
//!
//! This module owns the types and the policy — which alerts join which
//! incident ([`Correlation`]), which status changes are allowed
//! ([`Status::check`]), when awareness starts ([`AwarePolicy`]) — and the
//! [`IncidentStore`] trait every backend implements. `crate::store` holds the
//! SQLite backend; a PostgreSQL one can come later without touching callers.

pub mod audit;
pub mod severity;

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::classify::Categories;
use crate::detect::alert::{Alert, EntityType, Severity};
use crate::parse::EventTime;
use crate::source::checkpoint::Checkpoint;

/// An incident's number, shown as `INC-0007`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncidentId(pub i64);

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "INC-{:04}", self.0)
    }
}

impl FromStr for IncidentId {
    type Err = String;
    /// Accepts `INC-0007`, `inc-7` or `7`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("inc-"))
            .map_or(s, |_| &s[4..]);
        match digits.parse::<i64>() {
            Ok(n) if n > 0 => Ok(IncidentId(n)),
            _ => Err(format!(
                "`{s}` is not an incident id; use the form INC-0007 (see `breachd incident list`)"
            )),
        }
    }
}

impl Serialize for IncidentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Acknowledged,
    Contained,
    Resolved,
    FalsePositive,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::Acknowledged,
        Status::Contained,
        Status::Resolved,
        Status::FalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Contained => "contained",
            Status::Resolved => "resolved",
            Status::FalsePositive => "false_positive",
        }
    }

    pub fn from_name(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the incident is still being worked on (new alerts join it).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Open | Status::Acknowledged | Status::Contained
        )
    }

    /// Whether a person may move an incident from `self` to `to`. Moves go
    /// forward only; a closed incident (resolved, false positive) stays closed,
    /// and a new attack by the same entities opens a new incident.
    pub fn check(self, to: Status) -> Result<(), String> {
        use Status::*;
        let ok = matches!(
            (self, to),
            (Open, Acknowledged | Contained | Resolved | FalsePositive)
                | (Acknowledged, Contained | Resolved | FalsePositive)
                | (Contained, Resolved | FalsePositive)
        );
        if ok {
            Ok(())
        } else if self == to {
            Err(format!("the incident is already {}", self.as_str()))
        } else {
            Err(format!(
                "an incident that is {} cannot become {} (the order is open → acknowledged → contained → resolved; false_positive from any open state)",
                self.as_str(),
                to.as_str()
            ))
        }
    }
}

/// When the organisation becomes aware of a breach: the start of the legal
/// clock (GDPR Art. 33(1): 72 hours "after having become aware").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AwarePolicy {
    /// When breachd opens the incident (the conservative reading).
    #[default]
    Detection,
    /// When a person acknowledges it (after a first triage).
    Acknowledgement,
}

impl AwarePolicy {
    pub fn from_name(s: &str) -> Option<AwarePolicy> {
        match s {
            "detection" => Some(AwarePolicy::Detection),
            "acknowledgement" => Some(AwarePolicy::Acknowledgement),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            AwarePolicy::Detection => "detection",
            AwarePolicy::Acknowledgement => "acknowledgement",
        }
    }
}

/// Which alerts join one incident: alerts sharing an entity of a linking type
/// (an address, an account, a session — never a browser string or a path,
/// which unrelated attacks share) whose event times come within `window` of
/// the incident's. A stuffing campaign's addresses are its entities, so the
/// account takeover from one of them joins the campaign's incident.
#[derive(Debug, Clone)]
pub struct Correlation {
    pub link_types: Vec<EntityType>,
    /// Microseconds of event time between an incident's end and a joining
    /// alert's start (or the other way round).
    pub window_us: i64,
    /// Awareness policy, applied when an incident opens or is acknowledged.
    pub aware: AwarePolicy,
    /// Share of data subjects per jurisdiction (inventory), for estimates.
    pub jurisdictions: Vec<(String, f64)>,
    /// Exposed subject ids kept per incident (`[incident] max_subject_ids`);
    /// beyond it the list is marked incomplete and the count stays an estimate.
    pub max_subject_ids: u64,
}

/// Default of `[incident] max_subject_ids`.
pub const DEFAULT_MAX_SUBJECT_IDS: u64 = 100_000;

impl Default for Correlation {
    fn default() -> Self {
        Correlation {
            link_types: vec![EntityType::Ip, EntityType::User, EntityType::Session],
            window_us: 24 * 3600 * 1_000_000,
            aware: AwarePolicy::Detection,
            jurisdictions: Vec::new(),
            max_subject_ids: DEFAULT_MAX_SUBJECT_IDS,
        }
    }
}

impl Correlation {
    /// The entities of `alert` that can link it to an incident.
    pub fn links<'a>(&'a self, alert: &'a Alert) -> impl Iterator<Item = (EntityType, &'a str)> {
        alert
            .entities
            .iter()
            .filter(|e| self.link_types.contains(&e.kind))
            .map(|e| (e.kind, e.value.as_str()))
    }
}

/// An alert's identity: the rule, its key entity and the instant it fired.
/// The same lines replayed give the same key, so recording is idempotent.
pub fn alert_key(a: &Alert) -> String {
    let key = a
        .entities
        .first()
        .map(|e| format!("{}={}", entity_type_name(e.kind), e.value))
        .unwrap_or_default();
    format!("{}|{}|{}", a.detector, key, a.detected_at.unix_micros)
}

pub fn entity_type_name(t: EntityType) -> &'static str {
    match t {
        EntityType::Ip => "ip",
        EntityType::User => "user",
        EntityType::Session => "session",
        EntityType::IpPrefix => "ip_prefix",
        EntityType::UserAgent => "user_agent",
        EntityType::Host => "host",
        EntityType::Resource => "resource",
    }
}

pub fn entity_type_from_name(s: &str) -> Option<EntityType> {
    use EntityType::*;
    [Ip, User, Session, IpPrefix, UserAgent, Host, Resource]
        .into_iter()
        .find(|t| entity_type_name(*t) == s)
}

/// When awareness was set, by whom and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aware {
    pub at: jiff::Timestamp,
    pub by: String,
    pub reason: String,
}

/// Estimated affected data subjects in one jurisdiction.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct JurisdictionShare {
    pub jurisdiction: String,
    pub subjects: u64,
    /// Always `low`: the inventory's shares applied to the estimate, not the
    /// subjects' own residence.
    #[serde(default)]
    pub confidence: String,
}

/// One incident as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: IncidentId,
    pub status: Status,
    /// The worst alert severity (the ENISA assessment is separate).
    pub severity: Severity,
    pub title: String,
    pub start: EventTime,
    pub end: EventTime,
    pub detected_at: EventTime,
    pub opened_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
    pub aware: Option<Aware>,
    #[serde(serialize_with = "category_names")]
    pub categories: Categories,
    /// Estimated affected data subjects.
    pub subjects: u64,
    /// How the estimate was made and how far to trust it.
    pub subjects_basis: String,
    /// Affected subjects if every alert exposed different people.
    pub subjects_upper: u64,
    /// How far to trust `subjects`: `high` or `medium`.
    pub subjects_confidence: String,
    pub jurisdictions: Vec<JurisdictionShare>,
    pub alerts: u64,
    pub assignee: Option<String>,
    /// Set when a person merged this incident into another.
    pub merged_into: Option<IncidentId>,
    /// The legal role's overrides of the ENISA inputs.
    pub enisa_overrides: severity::Overrides,
}

impl Incident {
    /// The ENISA assessment: computed inputs, then the overrides.
    pub fn assessment(&self) -> severity::Assessment {
        severity::for_incident(self.categories, self.subjects, &self.enisa_overrides)
    }
}

fn category_names<S: Serializer>(c: &Categories, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(c.names())
}

/// An alert as part of an incident (its evidence).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    pub key: String,
    pub incident: IncidentId,
    /// Still growing (the detector has not closed it).
    pub open: bool,
    /// The alert line as last recorded.
    pub alert: serde_json::Value,
}

/// A person's note on an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub at: jiff::Timestamp,
    pub author: String,
    pub text: String,
}

/// An incident with its evidence and notes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: Incident,
    pub entities: Vec<(String, String)>,
    /// Entities beyond those listed (a campaign's thousand addresses).
    pub entities_more: u64,
    pub evidence: Vec<AlertRecord>,
    pub notes: Vec<Note>,
    /// Exposed data subjects' ids stored with the incident.
    pub subject_ids: u64,
    /// Some exposed subjects' ids are not stored (a cap bit, or they were
    /// read before an alert and no longer remembered).
    pub subject_ids_incomplete: bool,
}

/// One exposed data subject's id stored with an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposedSubject {
    pub subject: String,
    /// Event time of the alert record that first named it.
    pub first_seen: String,
    /// The alert whose reads exposed it.
    pub alert: String,
}

/// What recording an alert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub incident: IncidentId,
    /// A new incident was opened for it.
    pub opened: bool,
    /// The alert was new (not a re-record of a known key).
    pub new_alert: bool,
}

/// A change a person (or breachd) makes to an incident.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Status {
        to: Status,
        reason: Option<String>,
    },
    Note(String),
    Assign(String),
    /// Overrides of ENISA inputs, with the reason (audited).
    Enisa {
        overrides: severity::Overrides,
        reason: String,
    },
}

/// Which incidents to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only these statuses; empty means the active ones.
    pub statuses: Vec<Status>,
    /// Every status, merged ones included.
    pub all: bool,
    /// Only incidents whose ENISA band is at least this one.
    pub min_band: Option<severity::Band>,
    /// Only incidents whose last event is at or after this event time
    /// (microseconds since the epoch).
    pub since_us: Option<i64>,
}

impl ListFilter {
    /// Whether `i` is listed.
    pub fn keeps(&self, i: &Incident) -> bool {
        let status = if self.all {
            true
        } else if self.statuses.is_empty() {
            i.status.is_active() && i.merged_into.is_none()
        } else {
            self.statuses.contains(&i.status) && i.merged_into.is_none()
        };
        status
            && self.since_us.is_none_or(|t| i.end.unix_micros >= t)
            && self.min_band.is_none_or(|b| i.assessment().band >= b)
    }
}

/// Errors of the store, each saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no incident {0}; `breachd incident list --all` shows them")]
    NotFound(IncidentId),
    #[error("{0}")]
    Refused(String),
    #[error("the store {path} was written by a newer breachd (schema {found}, this one knows up to {supported}); upgrade breachd or point it at another data_dir")]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("the store {path} is not a readable breachd database ({detail}); restore it from a backup or move it aside to start a new one")]
    Corrupt { path: String, detail: String },
    #[error("the store {path} cannot be written ({detail}); check the disk space, and the permissions of the file and its directory")]
    Unwritable { path: String, detail: String },
    #[error("the store {path} stayed locked by another process for {waited_ms} ms; retry, or check for a stuck breachd")]
    Busy { path: String, waited_ms: u64 },
    #[error("store {path}: {detail}")]
    Other { path: String, detail: String },
}

/// Everything that keeps incidents, their evidence and audit trail, and the
/// daemon's file checkpoints. One transaction per call: a call either
/// happened entirely (with its audit entries) or not at all. Callers hold a
/// `Box<dyn IncidentStore>` (`crate::store::open`), so another backend
/// (PostgreSQL for several instances) replaces SQLite without touching them.
pub trait IncidentStore: Send {
    /// Where the store is, for messages.
    fn location(&self) -> &str;
    /// Records several alerts in one transaction (`true`: the detector
    /// closed it), each joined to its incident.
    fn record_batch(
        &mut self,
        alerts: &[(Alert, bool)],
        policy: &Correlation,
    ) -> Result<Vec<Recorded>, StoreError>;
    /// The file checkpoints last saved, `None` when none ever were.
    fn load_checkpoints(&self) -> Result<Option<Vec<Checkpoint>>, StoreError>;
    /// Saves the file checkpoints (after the alerts their lines raised).
    fn save_checkpoints(&mut self, all: &[Checkpoint]) -> Result<(), StoreError>;
    /// The audit head: entries written and the newest hash.
    fn audit_head(&self) -> Result<(i64, String), StoreError>;
    /// Records an alert (new or grown): joins it to the incident it belongs
    /// to, or opens one. Recording the same alert again changes nothing but
    /// what grew.
    /// `closed` says the detector is done with it.
    fn record_alert(
        &mut self,
        alert: &Alert,
        closed: bool,
        policy: &Correlation,
    ) -> Result<Recorded, StoreError>;
    fn list(&self, filter: &ListFilter) -> Result<Vec<Incident>, StoreError>;
    fn get(&self, id: IncidentId) -> Result<IncidentDetail, StoreError>;
    /// Applies a change by `actor`; `Ok(false)` when it changed nothing.
    fn change(
        &mut self,
        id: IncidentId,
        change: &Change,
        actor: &str,
        policy: &Correlation,
    ) -> Result<bool, StoreError>;
    /// Moves `from`'s alerts and entities into `into`; `from` stays, marked merged.
    fn merge(
        &mut self,
        into: IncidentId,
        from: IncidentId,
        actor: &str,
        reason: &str,
        policy: &Correlation,
    ) -> Result<(), StoreError>;
    /// Moves the named alerts of `id` to a new incident, which is returned.
    fn split(
        &mut self,
        id: IncidentId,
        alert_keys: &[String],
        actor: &str,
        reason: &str,
        policy: &Correlation,
    ) -> Result<IncidentId, StoreError>;
    /// The exposed data subjects' ids stored with an incident, by id.
    fn subject_ids(&self, id: IncidentId) -> Result<Vec<ExposedSubject>, StoreError>;
    /// The incident an alert (by key) belongs to now, after any merges.
    fn incident_of(&self, alert_key: &str) -> Result<Option<IncidentId>, StoreError>;
    /// The audit trail, oldest first, of one incident or of everything.
    fn audit(&self, incident: Option<IncidentId>) -> Result<Vec<audit::Entry>, StoreError>;
    /// Checks the whole audit chain.
    fn verify_audit(&self) -> Result<audit::Verdict, StoreError>;
}

/// Estimated subjects per jurisdiction from the inventory's shares.
pub fn by_jurisdiction(subjects: u64, shares: &[(String, f64)]) -> Vec<JurisdictionShare> {
    shares
        .iter()
        .map(|(j, share)| JurisdictionShare {
            jurisdiction: j.clone(),
            subjects: (subjects as f64 * share).round() as u64,
            confidence: "low".into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_ids_read_as_people_write_them() {
        assert_eq!("INC-0007".parse::<IncidentId>(), Ok(IncidentId(7)));
        assert_eq!("inc-12".parse::<IncidentId>(), Ok(IncidentId(12)));
        assert_eq!("3".parse::<IncidentId>(), Ok(IncidentId(3)));
        assert_eq!(IncidentId(7).to_string(), "INC-0007");
        assert_eq!(IncidentId(12345).to_string(), "INC-12345");
        for bad in ["", "INC-", "INC-0", "-1", "x7", "INC-7x"] {
            let e = bad.parse::<IncidentId>().unwrap_err();
            assert!(e.contains("INC-0007"), "{e}");
        }
    }

    #[test]
    fn status_moves_forward_only() {
        use Status::*;
        assert!(Open.check(Acknowledged).is_ok());
        assert!(Open.check(Resolved).is_ok());
        assert!(Acknowledged.check(Contained).is_ok());
        assert!(Contained.check(Resolved).is_ok());
        assert!(Contained.check(FalsePositive).is_ok());
        assert!(Acknowledged.check(Open).is_err());
        assert!(Resolved.check(Open).is_err());
        assert!(FalsePositive.check(Acknowledged).is_err());
        assert!(Contained.check(Acknowledged).is_err());
        let e = Acknowledged.check(Acknowledged).unwrap_err();
        assert!(e.contains("already acknowledged"), "{e}");
    }

    #[test]
    fn jurisdiction_estimates_follow_the_inventory_shares() {
        let shares = vec![("EU".to_string(), 0.6), ("US-CA".to_string(), 0.3)];
        let j = by_jurisdiction(105, &shares);
        assert_eq!(j[0].subjects, 63);
        assert_eq!(j[1].subjects, 32);
    }
}
