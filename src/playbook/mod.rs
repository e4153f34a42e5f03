//! Playbooks and the legal clock: what each law asks after a personal-data
//! breach, and by when.
//!
//! Owns [`Playbook`] (one regime: when it applies, its [`Obligation`]s, its
//! [`Step`]s), loading and validating playbook YAML (`playbooks/`, compiled
//! in, or a configured directory), the [`calendar`] that turns a clock time
//! and an offset into a deadline, the ENISA [`severity`] score, and the
//! obligation engine ([`assess::assess`]) that decides, from plain
//! [`facts::Facts`], which obligations are required, by when and why.
//!
//! [`schedule`] runs the steps against live incidents: it plans them per
//! incident (pinned to the playbook version the incident started with) and
//! fires due steps exactly once through the [`schedule::ScheduleStore`]
//! trait.
//!
//! Invariants: everything here except [`schedule::Scheduler::tick`] is a pure
//! function of its inputs — no wall clock, no store, no sending; the tick
//! takes `now` from its caller and reaches the store only through traits.
//! Sending notices belongs to `notify`. Output is never legal advice and
//! says so.

pub mod assess;
pub mod calendar;
pub mod facts;
pub mod locate;
pub mod schedule;
pub mod severity;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::classify::{Categories, Category};
use calendar::{Calendar, Offset};
use locate::{field_name, locate, Seg};

/// The playbooks shipped with breachd, compiled in.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "playbooks/gdpr.yaml",
        include_str!("../../playbooks/gdpr.yaml"),
    ),
    (
        "playbooks/uk_gdpr.yaml",
        include_str!("../../playbooks/uk_gdpr.yaml"),
    ),
    (
        "playbooks/pipl.yaml",
        include_str!("../../playbooks/pipl.yaml"),
    ),
    (
        "playbooks/california.yaml",
        include_str!("../../playbooks/california.yaml"),
    ),
    (
        "playbooks/hipaa.yaml",
        include_str!("../../playbooks/hipaa.yaml"),
    ),
    (
        "playbooks/nydfs.yaml",
        include_str!("../../playbooks/nydfs.yaml"),
    ),
    (
        "playbooks/sec_8k.yaml",
        include_str!("../../playbooks/sec_8k.yaml"),
    ),
    (
        "playbooks/lgpd.yaml",
        include_str!("../../playbooks/lgpd.yaml"),
    ),
    (
        "playbooks/pipeda.yaml",
        include_str!("../../playbooks/pipeda.yaml"),
    ),
    (
        "playbooks/pdpa_sg.yaml",
        include_str!("../../playbooks/pdpa_sg.yaml"),
    ),
    (
        "playbooks/ndb_au.yaml",
        include_str!("../../playbooks/ndb_au.yaml"),
    ),
    (
        "playbooks/appi_jp.yaml",
        include_str!("../../playbooks/appi_jp.yaml"),
    ),
    (
        "playbooks/pipa_kr.yaml",
        include_str!("../../playbooks/pipa_kr.yaml"),
    ),
    (
        "playbooks/dpdp_in.yaml",
        include_str!("../../playbooks/dpdp_in.yaml"),
    ),
    (
        "playbooks/nis2.yaml",
        include_str!("../../playbooks/nis2.yaml"),
    ),
    (
        "playbooks/eprivacy.yaml",
        include_str!("../../playbooks/eprivacy.yaml"),
    ),
    (
        "playbooks/dora.yaml",
        include_str!("../../playbooks/dora.yaml"),
    ),
    (
        "playbooks/cn_incident.yaml",
        include_str!("../../playbooks/cn_incident.yaml"),
    ),
];

/// Who an obligation is owed to (DESIGN.md's one list; extend, don't fork).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    SupervisoryAuthority,
    DataSubjects,
    AttorneyGeneral,
    Media,
    Hhs,
    Controller,
    Public,
    /// The controller's own breach register (GDPR Art. 33(5), PIPEDA records).
    InternalRecord,
}

impl Recipient {
    pub const ALL: [Recipient; 8] = [
        Recipient::SupervisoryAuthority,
        Recipient::DataSubjects,
        Recipient::AttorneyGeneral,
        Recipient::Media,
        Recipient::Hhs,
        Recipient::Controller,
        Recipient::Public,
        Recipient::InternalRecord,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Recipient::SupervisoryAuthority => "supervisory_authority",
            Recipient::DataSubjects => "data_subjects",
            Recipient::AttorneyGeneral => "attorney_general",
            Recipient::Media => "media",
            Recipient::Hhs => "hhs",
            Recipient::Controller => "controller",
            Recipient::Public => "public",
            Recipient::InternalRecord => "internal_record",
        }
    }
    pub fn from_name(s: &str) -> Option<Recipient> {
        Recipient::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A clock a deadline or step counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// When breachd detected it (first alert).
    DetectedAt,
    /// When the organisation became aware of a personal-data breach.
    AwareAt,
    /// When it determined the breach occurred, or was material.
    DeterminedAt,
}

impl Clock {
    pub const NAMES: [&'static str; 3] = ["detected_at", "aware_at", "determined_at"];
    pub fn from_name(s: &str) -> Option<Clock> {
        match s {
            "detected_at" => Some(Clock::DetectedAt),
            "aware_at" => Some(Clock::AwareAt),
            "determined_at" => Some(Clock::DeterminedAt),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        Clock::NAMES[self as usize]
    }
}

/// What a deadline or step counts from: a clock, or another obligation's
/// deadline in the same playbook (California's AG copy follows the resident
/// notice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Clock(Clock),
    After(Recipient),
}

/// A point in time relative to a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub from: Start,
    pub within: Offset,
}

/// What makes an obligation due, before exemptions and thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Every breach.
    Any,
    /// A breach likely to result in a risk to the subjects (not unlikely).
    Risk,
    /// A breach likely to result in a high risk (serious, significant harm).
    HighRisk,
    /// Intelligible personal information acquired by an unauthorised person.
    Acquired,
    /// The incident was determined material or significant.
    Material,
    /// An unlawful purpose is suspected (a malicious breach).
    Malicious,
    /// Whenever the playbook's earlier obligation to this recipient is required.
    Follows(Recipient),
}

impl Trigger {
    pub const NAMES: [&'static str; 7] = [
        "any",
        "risk",
        "high_risk",
        "acquired",
        "material",
        "malicious",
        "follows RECIPIENT",
    ];
    fn from_name(s: &str) -> Option<Trigger> {
        if let Some(r) = s.strip_prefix("follows ") {
            return Recipient::from_name(r.trim()).map(Trigger::Follows);
        }
        Some(match s {
            "malicious" => Trigger::Malicious,
            "any" => Trigger::Any,
            "risk" => Trigger::Risk,
            "high_risk" => Trigger::HighRisk,
            "acquired" => Trigger::Acquired,
            "material" => Trigger::Material,
            _ => return None,
        })
    }
}

/// A reason the law gives for not notifying although the trigger holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exemption {
    /// Encrypted data whose key was not compromised.
    Encryption,
    /// Measures taken since make the harm no longer likely.
    Mitigation,
}

impl Exemption {
    pub const NAMES: [&'static str; 2] = ["encryption", "mitigation"];
    fn from_name(s: &str) -> Option<Exemption> {
        match s {
            "encryption" => Some(Exemption::Encryption),
            "mitigation" => Some(Exemption::Mitigation),
            _ => None,
        }
    }
}

/// One notice (or record) a law asks for, and when it is required.
#[derive(Debug, Clone, PartialEq)]
pub struct Obligation {
    pub recipient: Recipient,
    /// The article or section it comes from.
    pub basis: String,
    pub trigger: Trigger,
    /// Required only when one of these categories is involved (empty: any).
    pub categories: Categories,
    /// Required only above this many subjects.
    pub subjects_over: Option<u64>,
    /// Required only below this many subjects.
    pub subjects_under: Option<u64>,
    /// Required only from this ENISA severity band up.
    pub min_severity: Option<severity::Band>,
    /// Required only for these sectors or roles (empty: everyone).
    pub sectors: Vec<String>,
    pub exempt: Vec<Exemption>,
    /// No fixed deadline (`without undue delay`) when absent.
    pub deadline: Option<Due>,
    /// A short note shown with the deadline (`without undue delay`).
    pub note: Option<String>,
}

/// When a recurring step stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Acknowledged,
    Approved,
    Sent,
}

impl Until {
    pub const NAMES: [&'static str; 3] = ["acknowledged", "approved", "sent"];
    pub fn as_str(self) -> &'static str {
        Until::NAMES[self as usize]
    }
}

/// When a step fires.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Once, at an offset from a start.
    At(Due),
    /// On a cron schedule, read in the playbook calendar's local time, until
    /// its condition holds.
    Every {
        cron: Box<cron::Schedule>,
        expr: String,
        until: Until,
    },
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a message to a channel (on-call, legal, ...).
    Notify { channel: String },
    /// Render a notice from a template as a draft for approval.
    Draft {
        template: String,
        recipient: Recipient,
    },
    /// Raise to the next person on a channel.
    Escalate { channel: String },
    /// Record a legal deadline on the incident.
    Deadline { recipient: Recipient },
    /// Add a task for a person to do.
    Task { title: String },
}

impl Action {
    pub const NAMES: [&'static str; 5] = ["notify", "draft", "escalate", "deadline", "task"];
}

/// One step of a playbook.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub schedule: Schedule,
    pub action: Action,
    /// The article the step serves.
    pub basis: Option<String>,
}

impl Step {
    /// The next time a recurring step fires strictly after `after`, reading
    /// the cron fields as wall-clock time in `zone` (`0 9 * * 1-5` is nine in
    /// the morning there). A wall time that a DST change skips fires at the
    /// same offset after the change.
    pub fn next_fire(
        &self,
        after: jiff::Timestamp,
        zone: &jiff::tz::TimeZone,
    ) -> Option<jiff::Timestamp> {
        let Schedule::Every { cron, .. } = &self.schedule else {
            return None;
        };
        // cron counts on a naive clock: hand it local wall time as if UTC
        let local = after.to_zoned(zone.clone()).datetime();
        let naive = local.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
        let start = chrono::DateTime::from_timestamp(naive.as_second(), 0)?;
        for next in cron.after(&start).take(4) {
            let wall = jiff::Timestamp::from_second(next.timestamp())
                .ok()?
                .to_zoned(jiff::tz::TimeZone::UTC)
                .datetime();
            let at = wall.to_zoned(zone.clone()).ok()?.timestamp();
            // a wall time repeated by a DST change must not fire twice
            if at > after {
                return Some(at);
            }
        }
        None
    }
}

/// One regime's playbook.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// Short name shown in output (`GDPR`, `CCPA-1798.82`).
    pub regime: String,
    pub title: String,
    pub file: String,
    /// Where it applies: `EU`, `US`, `US-CA`, ... (`US` covers every `US-*`).
    pub jurisdictions: Vec<String>,
    /// Only for these sectors (empty: everyone in the jurisdictions).
    pub sectors: Vec<String>,
    /// Breaches known before this date are outside the law's breach rules.
    pub in_force: Option<jiff::civil::Date>,
    pub calendar: Calendar,
    pub obligations: Vec<Obligation>,
    pub steps: Vec<Step>,
    /// The version: the first 16 hex digits of the SHA-256 of the YAML text.
    /// The scheduler pins each incident's plan to it.
    pub version: String,
    /// The YAML text it was compiled from, kept so a pinned version can be
    /// compiled again after the file changed.
    pub source: std::sync::Arc<str>,
}

/// The clocks of one breach, as far as they have started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clocks {
    pub detected_at: Option<jiff::Timestamp>,
    pub aware_at: Option<jiff::Timestamp>,
    pub determined_at: Option<jiff::Timestamp>,
}

impl Clocks {
    pub fn get(&self, c: Clock) -> Option<jiff::Timestamp> {
        match c {
            Clock::DetectedAt => self.detected_at,
            Clock::AwareAt => self.aware_at,
            Clock::DeterminedAt => self.determined_at,
        }
    }
}

/// EEA member states, which the `EU` regimes cover.
const EEA: [&str; 30] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

impl Playbook {
    /// When `due` falls in this playbook's calendar, or `None` while its
    /// clock has not started. A pure function of the clocks, the offset and
    /// the calendar: the scheduler calls it, and so does `assess`.
    pub fn due_at(&self, due: &Due, clocks: &Clocks) -> Option<jiff::Zoned> {
        let start = match due.from {
            Start::Clock(c) => clocks.get(c)?,
            // the latest obligation to that recipient with a deadline, before
            // the one this is the deadline of (a step's: before none)
            Start::After(r) => {
                let own = self
                    .obligations
                    .iter()
                    .position(|o| o.deadline.as_ref() == Some(due))
                    .unwrap_or(self.obligations.len());
                let before = self.obligations[..own]
                    .iter()
                    .rev()
                    .filter(|o| o.recipient == r)
                    .find_map(|o| o.deadline)?;
                self.due_at(&before, clocks)?.timestamp()
            }
        };
        self.calendar.deadline(start, due.within).ok()
    }

    /// When a one-off step fires (`None` for recurring steps, and while its
    /// clock has not started).
    pub fn step_at(&self, step: &Step, clocks: &Clocks) -> Option<jiff::Zoned> {
        match &step.schedule {
            Schedule::At(due) => self.due_at(due, clocks),
            Schedule::Every { .. } => None,
        }
    }

    /// Whether the playbook covers a jurisdiction and the facts' sectors.
    pub fn applies_to(&self, jurisdictions: &[String], sectors: &[String]) -> bool {
        let covers = |j: &str| {
            self.jurisdictions.iter().any(|p| {
                p == j
                    || j.strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with('-'))
                    || (p == "EU" && EEA.contains(&j))
            })
        };
        jurisdictions.iter().any(|j| covers(j))
            && (self.sectors.is_empty() || self.sectors.iter().any(|s| sectors.contains(s)))
    }
}

/// A problem in a playbook file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybookError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for PlaybookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybookFile {
    regime: String,
    title: String,
    jurisdictions: Vec<String>,
    #[serde(default)]
    sectors: Vec<String>,
    #[serde(default)]
    in_force: Option<String>,
    #[serde(default)]
    calendar: CalendarFile,
    #[serde(default)]
    obligations: Vec<ObligationFile>,
    #[serde(default)]
    steps: Vec<StepFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default)]
    zone: Option<String>,
    #[serde(default)]
    weekend: Option<Vec<String>>,
    #[serde(default)]
    holidays: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObligationFile {
    recipient: String,
    basis: String,
    trigger: String,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    subjects_over: Option<u64>,
    #[serde(default)]
    subjects_under: Option<u64>,
    #[serde(default)]
    min_severity: Option<String>,
    #[serde(default)]
    sectors: Vec<String>,
    #[serde(default)]
    exempt: Vec<String>,
    #[serde(default)]
    deadline: Option<DueFile>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DueFile {
    from: String,
    within: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    id: String,
    #[serde(default)]
    at: Option<DueFile>,
    #[serde(default)]
    every: Option<String>,
    #[serde(default)]
    until: Option<String>,
    action: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    recipient: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    basis: Option<String>,
}

/// The sectors a playbook or obligation may be limited to.
pub use facts::SECTORS;

/// Compiles one playbook. `templates` is the templates directory a `draft`
/// step's template must exist in, when that directory exists.
pub fn compile(
    text: &str,
    file: &str,
    templates: Option<&Path>,
) -> Result<Playbook, Vec<PlaybookError>> {
    let raw: PlaybookFile = serde_yaml_ng::from_str(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        let (field, message) = locate::serde_error(&e.to_string(), text, line);
        vec![PlaybookError {
            file: file.into(),
            line,
            field,
            message,
        }]
    })?;
    let mut errors = Vec::new();
    let mut err = |path: &[Seg], message: String| {
        errors.push(PlaybookError {
            file: file.into(),
            line: locate(text, path),
            field: field_name(path),
            message,
        })
    };
    use Seg::{Index, Key};
    if raw.jurisdictions.is_empty() {
        err(
            &[Key("jurisdictions")],
            "name at least one jurisdiction".into(),
        );
    }
    for (i, s) in raw.sectors.iter().enumerate() {
        if !SECTORS.contains(&s.as_str()) {
            err(
                &[Key("sectors"), Index(i)],
                format!("unknown sector `{s}`; use one of: {}", SECTORS.join(", ")),
            );
        }
    }
    let in_force = raw.in_force.as_deref().and_then(|d| match d.parse() {
        Ok(d) => Some(d),
        Err(_) => {
            err(
                &[Key("in_force")],
                format!("`{d}` is not a date such as `2027-05-13`"),
            );
            None
        }
    });
    let mut calendar = Calendar::default();
    if let Some(z) = &raw.calendar.zone {
        match crate::config::parse_timezone(z) {
            Ok(tz) if z != "local" => calendar.zone = tz,
            Ok(_) => err(
                &[Key("calendar"), Key("zone")],
                "a legal calendar needs a named zone, not `local`".into(),
            ),
            Err(m) => err(&[Key("calendar"), Key("zone")], m),
        }
    }
    if let Some(days) = &raw.calendar.weekend {
        calendar.weekend.clear();
        for (i, d) in days.iter().enumerate() {
            match weekday(d) {
                Some(w) => calendar.weekend.push(w),
                None => err(
                    &[Key("calendar"), Key("weekend"), Index(i)],
                    format!("`{d}` is not a weekday name such as `saturday`"),
                ),
            }
        }
    }
    if calendar
        .weekend
        .iter()
        .map(|w| w.to_monday_zero_offset())
        .collect::<BTreeSet<_>>()
        .len()
        >= 7
    {
        err(
            &[Key("calendar"), Key("weekend")],
            "a weekend of every day leaves no business day to count".into(),
        );
    }
    let mut holidays = BTreeSet::new();
    for (i, d) in raw.calendar.holidays.iter().enumerate() {
        match d.parse() {
            Ok(d) => {
                holidays.insert(d);
            }
            Err(_) => err(
                &[Key("calendar"), Key("holidays"), Index(i)],
                format!("`{d}` is not a date such as `2026-12-25`"),
            ),
        }
    }
    calendar.holidays = holidays;

    let mut obligations: Vec<Obligation> = Vec::new();
    for (i, o) in raw.obligations.iter().enumerate() {
        let at = |k: &'static str| [Key("obligations"), Index(i), Key(k)];
        let recipient = Recipient::from_name(&o.recipient).unwrap_or_else(|| {
            err(
                &at("recipient"),
                unknown("recipient", &o.recipient, &recipient_names()),
            );
            Recipient::InternalRecord
        });
        let trigger = Trigger::from_name(&o.trigger).unwrap_or_else(|| {
            err(
                &at("trigger"),
                unknown("trigger", &o.trigger, &Trigger::NAMES),
            );
            Trigger::Any
        });
        if let Trigger::Follows(r) = trigger {
            if !obligations.iter().any(|e| e.recipient == r) {
                err(
                    &at("trigger"),
                    format!("no earlier obligation to `{}` to follow", r.as_str()),
                );
            }
        }
        let mut categories = Categories::default();
        for (j, c) in o.categories.iter().enumerate() {
            match Category::from_name(c) {
                Some(c) => categories.insert(c),
                None => err(
                    &[Key("obligations"), Index(i), Key("categories"), Index(j)],
                    unknown("category", c, &Category::ALL.map(Category::as_str)),
                ),
            }
        }
        for (j, s) in o.sectors.iter().enumerate() {
            if !SECTORS.contains(&s.as_str()) {
                err(
                    &[Key("obligations"), Index(i), Key("sectors"), Index(j)],
                    unknown("sector", s, &SECTORS),
                );
            }
        }
        let min_severity = o.min_severity.as_deref().and_then(|b| {
            let band = severity::band_from_name(b);
            if band.is_none() {
                err(
                    &at("min_severity"),
                    unknown("severity band", b, &severity::BAND_NAMES),
                );
            }
            band
        });
        let mut exempt = Vec::new();
        for (j, x) in o.exempt.iter().enumerate() {
            match Exemption::from_name(x) {
                Some(x) => exempt.push(x),
                None => err(
                    &[Key("obligations"), Index(i), Key("exempt"), Index(j)],
                    unknown("exemption", x, &Exemption::NAMES),
                ),
            }
        }
        let deadline = o.deadline.as_ref().and_then(|d| {
            due(d, &obligations, &mut |k, m| {
                err(&[Key("obligations"), Index(i), Key("deadline"), Key(k)], m)
            })
        });
        obligations.push(Obligation {
            recipient,
            basis: o.basis.clone(),
            trigger,
            categories,
            subjects_over: o.subjects_over,
            subjects_under: o.subjects_under,
            min_severity,
            sectors: o.sectors.clone(),
            exempt,
            deadline,
            note: o.note.clone(),
        });
    }

    let mut steps = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, s) in raw.steps.iter().enumerate() {
        let at = |k: &'static str| [Key("steps"), Index(i), Key(k)];
        if !ids.insert(s.id.as_str()) {
            err(&at("id"), format!("step id `{}` is used twice", s.id));
        }
        let schedule = match (&s.at, &s.every) {
            (Some(d), None) => {
                if s.until.is_some() {
                    err(
                        &at("until"),
                        "`until` belongs to a recurring step (`every`)".into(),
                    );
                }
                due(d, &obligations, &mut |k, m| {
                    err(&[Key("steps"), Index(i), Key("at"), Key(k)], m)
                })
                .map(Schedule::At)
            }
            (None, Some(expr)) => {
                let cron = parse_cron(expr).map_err(|m| err(&at("every"), m)).ok();
                let until = match s.until.as_deref() {
                    Some("acknowledged") => Some(Until::Acknowledged),
                    Some("approved") => Some(Until::Approved),
                    Some("sent") => Some(Until::Sent),
                    Some(other) => {
                        err(&at("until"), unknown("condition", other, &Until::NAMES));
                        None
                    }
                    None => {
                        err(
                            &at("every"),
                            "a recurring step needs `until`: acknowledged, approved or sent".into(),
                        );
                        None
                    }
                };
                cron.zip(until).map(|(cron, until)| Schedule::Every {
                    cron: Box::new(cron),
                    expr: expr.clone(),
                    until,
                })
            }
            (Some(_), Some(_)) => {
                err(&at("every"), "give either `at` or `every`, not both".into());
                None
            }
            (None, None) => {
                err(
                    &at("action"),
                    "give the step a time: `at: {from: aware_at, within: 1 hour}` or `every: \"0 */4 * * *\"`".into(),
                );
                None
            }
        };
        let mut need = |k: &'static str, v: &Option<String>| -> String {
            match v {
                Some(v) if !v.trim().is_empty() => v.clone(),
                _ => {
                    err(&at("action"), format!("a `{}` step needs `{k}`", s.action));
                    String::new()
                }
            }
        };
        let action = match s.action.as_str() {
            "notify" => Some(Action::Notify {
                channel: need("channel", &s.channel),
            }),
            "escalate" => Some(Action::Escalate {
                channel: need("channel", &s.channel),
            }),
            "task" => Some(Action::Task {
                title: need("title", &s.title),
            }),
            "draft" | "deadline" => {
                let template = if s.action == "draft" {
                    need("template", &s.template)
                } else {
                    String::new()
                };
                let name = need("recipient", &s.recipient);
                let recipient = Recipient::from_name(&name);
                if recipient.is_none() && !name.is_empty() {
                    err(
                        &at("recipient"),
                        unknown("recipient", &name, &recipient_names()),
                    );
                }
                if let (Some(dir), false) = (templates, template.is_empty()) {
                    if dir.is_dir() && !template_exists(dir, &template) {
                        err(
                            &at("template"),
                            format!(
                                "template `{template}` does not exist in {}; add {}/{template}.hbs or name an existing one",
                                dir.display(),
                                dir.display()
                            ),
                        );
                    }
                }
                recipient.map(|recipient| {
                    if s.action == "draft" {
                        Action::Draft {
                            template,
                            recipient,
                        }
                    } else {
                        Action::Deadline { recipient }
                    }
                })
            }
            other => {
                err(&at("action"), unknown("action", other, &Action::NAMES));
                None
            }
        };
        if let (Some(schedule), Some(action)) = (schedule, action) {
            steps.push(Step {
                id: s.id.clone(),
                schedule,
                action,
                basis: s.basis.clone(),
            });
        }
    }
    if errors.is_empty() {
        Ok(Playbook {
            regime: raw.regime,
            title: raw.title,
            file: file.into(),
            jurisdictions: raw
                .jurisdictions
                .iter()
                .map(|j| j.trim().to_ascii_uppercase())
                .collect(),
            sectors: raw.sectors,
            in_force,
            calendar,
            obligations,
            steps,
            version: version_of(text),
            source: text.into(),
        })
    } else {
        Err(errors)
    }
}

/// A playbook text's version: the first 16 hex digits of its SHA-256.
pub fn version_of(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    crate::incident::audit::hex(&digest[..8])
}

fn unknown(what: &str, value: &str, names: &[&str]) -> String {
    format!("unknown {what} `{value}`; use one of: {}", names.join(", "))
}

fn recipient_names() -> Vec<&'static str> {
    Recipient::ALL.map(Recipient::as_str).to_vec()
}

fn weekday(s: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    Some(match s.to_ascii_lowercase().as_str() {
        "monday" => Monday,
        "tuesday" => Tuesday,
        "wednesday" => Wednesday,
        "thursday" => Thursday,
        "friday" => Friday,
        "saturday" => Saturday,
        "sunday" => Sunday,
        _ => return None,
    })
}

/// A start and offset; `from` is a clock or an earlier obligation's recipient.
fn due(
    d: &DueFile,
    earlier: &[Obligation],
    err: &mut dyn FnMut(&'static str, String),
) -> Option<Due> {
    let from = match Clock::from_name(&d.from) {
        Some(c) => Some(Start::Clock(c)),
        None => match Recipient::from_name(&d.from) {
            Some(r)
                if earlier
                    .iter()
                    .any(|o| o.recipient == r && o.deadline.is_some()) =>
            {
                Some(Start::After(r))
            }
            _ => {
                err(
                    "from",
                    format!(
                        "unknown clock `{}`; use one of: {}, or the recipient of an earlier obligation with a deadline",
                        d.from,
                        Clock::NAMES.join(", ")
                    ),
                );
                None
            }
        },
    };
    let within = Offset::parse(&d.within).map_err(|m| err("within", m)).ok();
    Some(Due {
        from: from?,
        within: within?,
    })
}

/// Parses a cron expression. Five fields are crontab's (minute hour day
/// month weekday, Sunday 0 or 7): the `cron` crate counts seconds too and
/// numbers weekdays from Sunday = 1, so a zero seconds field goes in front and
/// weekday numbers become names. Six or seven fields are passed as they are.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let bad = |e: String| {
        format!("bad cron expression `{expr}`: {e}; write five fields, e.g. `0 */4 * * *` (every four hours)")
    };
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let full = if fields.len() == 5 {
        let weekday = crontab_weekdays(fields[4]).map_err(bad)?;
        format!("0 {} {weekday}", fields[..4].join(" "))
    } else {
        expr.to_string()
    };
    full.parse::<cron::Schedule>()
        .map_err(|e| bad(e.to_string()))
}

/// Crontab weekday numbers (0-7, Sunday 0 and 7) as names (`1-5` → `MON-FRI`).
fn crontab_weekdays(field: &str) -> Result<String, String> {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let name = |n: &str| -> Result<&'static str, String> {
        match n.parse::<usize>() {
            Ok(i) if i < 8 => Ok(NAMES[i]),
            Ok(_) => Err(format!("weekday `{n}` is not 0-7")),
            Err(_) => Ok(""),
        }
    };
    let mut parts = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let mapped = match range.split_once('-') {
            Some((a, b)) => match (name(a)?, name(b)?) {
                ("", _) | (_, "") => range.to_string(),
                // a range up to Sunday (7) wraps: FRI-SUN is FRI-SAT and SUN
                (x, "SUN") if x != "SUN" && step.is_none() => format!("{x}-SAT,SUN"),
                (x, y) => format!("{x}-{y}"),
            },
            None => match name(range)? {
                "" => range.to_string(),
                x => x.to_string(),
            },
        };
        parts.push(match step {
            Some(s) => format!("{mapped}/{s}"),
            None => mapped,
        });
    }
    Ok(parts.join(","))
}

/// Whether `templates/` holds `name` in any language or format
/// (`name.hbs`, `name.en.hbs`, `en/name.hbs`).
fn template_exists(dir: &Path, name: &str) -> bool {
    let matches = |p: &Path| {
        p.file_name()
            .and_then(|f| f.to_str())
            .is_some_and(|f| f == name || f.split('.').next() == Some(name))
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_file() && matches(&p) {
            return true;
        }
        if p.is_dir() {
            if let Ok(inner) = std::fs::read_dir(&p) {
                if inner
                    .flatten()
                    .any(|e| e.path().is_file() && matches(&e.path()))
                {
                    return true;
                }
            }
        }
    }
    false
}

/// The shipped playbooks, checked against `templates` when it exists.
pub fn shipped(templates: Option<&Path>) -> Result<Vec<Playbook>, Vec<PlaybookError>> {
    collect(
        SHIPPED
            .iter()
            .map(|(name, text)| compile(text, name, templates)),
    )
}

/// Every `*.yaml`/`*.yml` playbook in `dir`, in name order.
pub fn load_dir(dir: &Path, templates: Option<&Path>) -> Result<Vec<Playbook>, Vec<PlaybookError>> {
    let fail = |message: String| {
        vec![PlaybookError {
            file: dir.display().to_string(),
            line: 0,
            field: String::new(),
            message,
        }]
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(format!("cannot read the playbooks directory: {e}")))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(fail("no playbooks (*.yaml) in this directory".into()));
    }
    collect(files.iter().map(|p| {
        let name = p.display().to_string();
        match std::fs::read_to_string(p) {
            Ok(text) => compile(&text, &name, templates),
            Err(e) => Err(vec![PlaybookError {
                file: name,
                line: 0,
                field: String::new(),
                message: format!("cannot read the playbook: {e}"),
            }]),
        }
    }))
}

fn collect(
    results: impl Iterator<Item = Result<Playbook, Vec<PlaybookError>>>,
) -> Result<Vec<Playbook>, Vec<PlaybookError>> {
    let mut out: Vec<Playbook> = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(p) => {
                if let Some(first) = out.iter().find(|o| o.regime == p.regime) {
                    errors.push(PlaybookError {
                        file: p.file.clone(),
                        line: 1,
                        field: "regime".into(),
                        message: format!("regime `{}` is also defined in {}", p.regime, first.file),
                    });
                }
                out.push(p)
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_playbooks_compile() {
        let all = shipped(None).unwrap_or_else(|e| {
            panic!(
                "{}",
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(all.len(), SHIPPED.len());
        for p in &all {
            assert!(!p.obligations.is_empty(), "{} has no obligations", p.regime);
            assert!(!p.steps.is_empty(), "{} has no steps", p.regime);
        }
    }

    const BAD: &str = "\
regime: TEST
title: a playbook with mistakes
jurisdictions: [EU]
obligations:
  - recipient: supervisory_authority
    basis: Art. 1
    trigger: risk
    deadline: {from: aware_at, within: 72 hours}
steps:
  - id: page
    at: {from: detected_at, within: immediately}
    action: page
    channel: oncall
  - id: remind
    every: \"0 61 * * *\"
    until: approved
    action: escalate
    channel: legal
  - id: draft
    at: {from: aware_at, within: 1 hour}
    action: draft
    template: sa_notice
    recipient: supervisory_authority
";

    #[test]
    fn bad_steps_are_named_with_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("other.hbs"), "x").unwrap();
        let e = compile(BAD, "bad.yaml", Some(dir.path())).unwrap_err();
        let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 3, "{shown:#?}");
        assert!(
            shown[0].starts_with("bad.yaml:12: steps[0].action: unknown action `page`"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].starts_with("bad.yaml:15: steps[1].every: bad cron expression `0 61 * * *`"),
            "{}",
            shown[1]
        );
        assert!(
            shown[2]
                .starts_with("bad.yaml:22: steps[2].template: template `sa_notice` does not exist"),
            "{}",
            shown[2]
        );
        // with the template present, and no templates directory, only two remain
        std::fs::write(dir.path().join("sa_notice.en.hbs"), "x").unwrap();
        assert_eq!(
            compile(BAD, "bad.yaml", Some(dir.path()))
                .unwrap_err()
                .len(),
            2
        );
        assert_eq!(compile(BAD, "bad.yaml", None).unwrap_err().len(), 2);
    }

    #[test]
    fn unknown_keys_are_named() {
        let text = "regime: X\ntitle: x\njurisdictions: [EU]\ncolour: blue\n";
        let e = compile(text, "x.yaml", None).unwrap_err();
        assert_eq!(e[0].line, 4, "{:?}", e[0]);
        assert!(
            e[0].message.contains("unknown field `colour`"),
            "{:?}",
            e[0]
        );
    }

    #[test]
    fn a_weekend_of_every_day_is_refused() {
        let text = "regime: X\ntitle: x\njurisdictions: [EU]\ncalendar:\n  zone: UTC\n  weekend: [monday, tuesday, wednesday, thursday, friday, saturday, sunday]\n";
        let e = compile(text, "x.yaml", None).unwrap_err();
        assert_eq!(e[0].field, "calendar.weekend", "{:?}", e[0]);
        assert!(e[0].message.contains("no business day"), "{:?}", e[0]);
    }

    #[test]
    fn steps_fall_due_on_the_playbooks_calendar() {
        let all = shipped(None).unwrap();
        let gdpr = all.iter().find(|p| p.regime == "GDPR").unwrap();
        let step = |id: &str| gdpr.steps.iter().find(|s| s.id == id).unwrap();
        // aware on Friday 2026-03-06 at 16:00 in Brussels
        let clocks = Clocks {
            detected_at: Some("2026-03-06T14:20:00Z".parse().unwrap()),
            aware_at: Some("2026-03-06T15:00:00Z".parse().unwrap()),
            determined_at: None,
        };
        let at = |id: &str| {
            gdpr.step_at(step(id), &clocks)
                .map(|z| calendar::rfc3339(&z))
        };
        assert_eq!(
            at("page_oncall").as_deref(),
            Some("2026-03-06T15:20:00+01:00")
        );
        assert_eq!(
            at("authority_deadline").as_deref(),
            Some("2026-03-09T16:00:00+01:00")
        );
        assert_eq!(at("chase_approval"), None);
        // not aware yet: nothing counted from awareness is due
        let early = Clocks {
            aware_at: None,
            ..clocks
        };
        assert!(gdpr.step_at(step("authority_deadline"), &early).is_none());
        // a deadline after another obligation's deadline
        let ca = all.iter().find(|p| p.regime == "CA 1798.82").unwrap();
        let ag = ca
            .obligations
            .iter()
            .find(|o| o.recipient == Recipient::AttorneyGeneral)
            .unwrap();
        let due = ca.due_at(&ag.deadline.unwrap(), &clocks).unwrap();
        assert_eq!(calendar::rfc3339(&due), "2026-04-20T07:00:00-07:00");
    }

    #[test]
    fn cron_steps_fire_on_schedule() {
        let text = "regime: X\ntitle: x\njurisdictions: [EU]\nsteps:\n  - id: r\n    every: \"0 */4 * * *\"\n    until: approved\n    action: escalate\n    channel: legal\n";
        let p = compile(text, "x.yaml", None).unwrap();
        let t: jiff::Timestamp = "2026-03-06T09:30:00Z".parse().unwrap();
        let next = p.steps[0].next_fire(t, &jiff::tz::TimeZone::UTC).unwrap();
        assert_eq!(next.to_string(), "2026-03-06T12:00:00Z");
        // read in the playbook's zone: every four hours of Tokyo wall time
        let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        let next = p.steps[0].next_fire(t, &tokyo).unwrap();
        assert_eq!(next.to_string(), "2026-03-06T11:00:00Z");
    }

    #[test]
    fn crontab_weekdays_mean_what_crontab_means() {
        let table = [
            ("1-5", "MON-FRI"),
            ("0", "SUN"),
            ("7", "SUN"),
            ("5-7", "FRI-SAT,SUN"),
            ("1,3,5", "MON,WED,FRI"),
            ("*", "*"),
            ("MON-FRI", "MON-FRI"),
        ];
        for (crontab, want) in table {
            assert_eq!(crontab_weekdays(crontab).as_deref(), Ok(want), "{crontab}");
        }
        assert!(parse_cron("0 9 * * 8").is_err());
        assert!(parse_cron("0 9 * * 1-5").is_ok());
    }

    #[test]
    fn weekday_mornings_are_local_mornings() {
        let all = shipped(None).unwrap();
        let hipaa = all.iter().find(|p| p.regime == "HIPAA").unwrap();
        let chase = hipaa
            .steps
            .iter()
            .find(|s| s.id == "chase_approval")
            .unwrap();
        // Friday 2026-03-06 18:00 New York: next is Monday 09:00 New York
        let t: jiff::Timestamp = "2026-03-06T23:00:00Z".parse().unwrap();
        let next = chase.next_fire(t, &hipaa.calendar.zone).unwrap();
        assert_eq!(
            calendar::rfc3339(&next.to_zoned(hipaa.calendar.zone.clone())),
            "2026-03-09T09:00:00-04:00"
        );
    }

    #[test]
    fn jurisdictions_cover_states_and_members() {
        let text = "regime: X\ntitle: x\njurisdictions: [US, EU]\n";
        let p = compile(text, "x.yaml", None).unwrap();
        let j = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(p.applies_to(&j(&["US-CA"]), &[]));
        assert!(p.applies_to(&j(&["DE"]), &[]));
        assert!(!p.applies_to(&j(&["USA"]), &[]));
        assert!(!p.applies_to(&j(&["CA"]), &[]));
    }
}
