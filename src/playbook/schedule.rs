//! The scheduler: playbook steps run against live incidents.
//!
//! What it owns: deciding which steps an incident needs (the obligation
//! engine [`super::assess::assess`] over [`Facts`] built from the incident),
//! pinning each incident's plan to the playbook version it started with,
//! computing when each step falls due, and firing due steps exactly once.
//! What it never does: read the wall clock (every entry point takes `now`),
//! know SQL (it reaches the store through [`ScheduleStore`] and
//! [`IncidentStore`]), or send anything (a fired `notify`/`escalate` waits in
//! the outbox for a [`Dispatch`]; the notify stage will plug in there).
//!
//! Invariants:
//! - **A step fires once per due time.** [`ScheduleStore::fire`] marks the
//!   step fired, appends the firing (the outbox row), its record (draft,
//!   deadline, task) and its audit entry in one transaction, and only if the
//!   step is still pending at the due time the scheduler read; the effect
//!   (dispatch) happens after that commit, from the outbox.
//! - **Downtime does not multiply firings.** An overdue one-off step fires
//!   once, marked late with its delay; a recurring step fires once for all
//!   the occurrences it missed, then counts on from `now`.
//! - **Plans are pinned.** A plan records the playbook version (hash of its
//!   YAML) and the text is kept in the store, so reloading playbooks changes
//!   nothing for running incidents; only a person's re-plan (audited) moves
//!   an incident to the current version, and it keeps the steps that fired.
//! - **Re-planning never re-fires.** New facts (a jurisdiction, a category)
//!   add the steps they call for; steps already planned keep their rows.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use super::facts::{Breach, EnisaOverrides, Facts, Subjects};
use super::{Action, Clocks, Playbook, Recipient, Schedule, Step, Until};
use crate::incident::{Incident, IncidentId, IncidentStore, ListFilter, Status, StoreError};

/// A step that fires later than this after its due time is marked late.
pub const LATE_AFTER_SECS: i64 = 60;

/// The actor the scheduler writes in the audit trail.
pub const ACTOR: &str = "breachd";

/// Clocks and facts a person sets on an incident that logs cannot show: when
/// the incident was determined (material), the SEC and NYDFS clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Determination {
    pub determined_at: Option<Timestamp>,
    pub material: bool,
}

/// Where a planned step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Its clock has not started (awareness, determination).
    Waiting,
    /// It has a due time and has not fired (a recurring step: not any more).
    Pending,
    /// It fired (one-off), or its condition holds (recurring).
    Done,
    /// The incident closed, or a re-plan dropped it, before it fired.
    Cancelled,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Waiting => "waiting",
            StepState::Pending => "pending",
            StepState::Done => "done",
            StepState::Cancelled => "cancelled",
        }
    }
    pub fn from_name(s: &str) -> Option<StepState> {
        [
            StepState::Waiting,
            StepState::Pending,
            StepState::Done,
            StepState::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One incident's plan for one regime, pinned to a playbook version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub incident: IncidentId,
    pub regime: String,
    /// The playbook version ([`Playbook::version`]) the steps come from.
    pub version: String,
    pub planned_at: Timestamp,
    pub planned_by: String,
    /// The material facts it was planned on ([`material_key`]).
    pub facts: String,
}

/// A step to add to a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStep {
    pub step: String,
    pub recurring: bool,
    pub due_at: Option<Timestamp>,
}

/// A planned step as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    pub id: i64,
    pub incident: IncidentId,
    pub regime: String,
    pub step: String,
    pub recurring: bool,
    pub state: StepState,
    /// When it fires next (`None` while its clock has not started).
    pub due_at: Option<Timestamp>,
    pub fired: u32,
    pub last_fired_at: Option<Timestamp>,
    /// Why it is done or cancelled.
    pub note: Option<String>,
}

/// What a step did when it fired, as recorded (and dispatched).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Effect {
    Notify {
        channel: String,
    },
    Escalate {
        channel: String,
    },
    /// A draft notice waiting for a person with the legal role.
    Draft {
        template: String,
        recipient: Recipient,
    },
    /// A legal deadline reached; `due_at` of the firing is the deadline.
    Deadline {
        recipient: Recipient,
    },
    Task {
        title: String,
    },
}

impl Effect {
    /// What a step's action does when it fires.
    pub fn of(a: &Action) -> Effect {
        match a {
            Action::Notify { channel } => Effect::Notify {
                channel: channel.clone(),
            },
            Action::Escalate { channel } => Effect::Escalate {
                channel: channel.clone(),
            },
            Action::Draft {
                template,
                recipient,
            } => Effect::Draft {
                template: template.clone(),
                recipient: *recipient,
            },
            Action::Deadline { recipient } => Effect::Deadline {
                recipient: *recipient,
            },
            Action::Task { title } => Effect::Task {
                title: title.clone(),
            },
        }
    }

    /// The action's name (`notify`, `draft`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Effect::Notify { .. } => "notify",
            Effect::Escalate { .. } => "escalate",
            Effect::Draft { .. } => "draft",
            Effect::Deadline { .. } => "deadline",
            Effect::Task { .. } => "task",
        }
    }

    /// Whether the effect leaves breachd (a channel), so it goes through the
    /// outbox to a [`Dispatch`]; drafts, deadlines and tasks are rows.
    pub fn is_sent(&self) -> bool {
        matches!(self, Effect::Notify { .. } | Effect::Escalate { .. })
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::Notify { channel } => write!(f, "notify {channel}"),
            Effect::Escalate { channel } => write!(f, "escalate to {channel}"),
            Effect::Draft {
                template,
                recipient,
            } => write!(f, "draft {template} for {}", recipient.as_str()),
            Effect::Deadline { recipient } => write!(f, "deadline: {}", recipient.as_str()),
            Effect::Task { title } => write!(f, "task: {title}"),
        }
    }
}

/// One firing of a step: what the scheduler asks the store to record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Firing {
    /// The step row ([`StepRow::id`]).
    pub step_row: i64,
    pub incident: IncidentId,
    pub regime: String,
    pub step: String,
    pub version: String,
    pub effect: Effect,
    pub basis: Option<String>,
    /// The due time it fires for; with `step_row`, the firing's identity.
    pub due_at: Timestamp,
    pub fired_at: Timestamp,
    /// Seconds after `due_at` (0 when on time).
    pub late_secs: i64,
    /// More than [`LATE_AFTER_SECS`] late (downtime, a stopped daemon).
    pub late: bool,
    /// A recurring step's next due time; `None`: the step is done.
    pub next_due: Option<Timestamp>,
}

/// A recorded firing (the outbox row), with its id: the idempotency key of
/// whatever the firing sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fired {
    pub id: i64,
    #[serde(flatten)]
    pub firing: Firing,
    /// `recorded` (a row is the effect), `pending` (waits for dispatch) or
    /// `dispatched`.
    pub delivery: String,
}

/// A legal deadline recorded on an incident when its step fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadlineRow {
    pub regime: String,
    pub recipient: Recipient,
    pub due_at: Timestamp,
    pub basis: Option<String>,
}

/// Errors of the scheduler.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything the scheduler keeps: playbook versions, plans, steps, firings
/// (the outbox) and what firings record (drafts, deadlines, tasks). A separate
/// trait from [`IncidentStore`] so either can change without the other; the
/// SQLite backend implements both on one file. One transaction per call.
pub trait ScheduleStore: Send {
    /// Where the store is, for messages.
    fn location(&self) -> &str;
    /// The plans of one incident, or of every incident.
    fn plans(&self, incident: Option<IncidentId>) -> Result<Vec<Plan>>;
    /// Records `plan` (new, or its facts and version updated) with the
    /// playbook text of its version and `add`ed steps (steps already planned
    /// under the same id are left as they are), audited as `action` by
    /// `plan.planned_by` when `audit` holds. With `replace_unfired` (a
    /// person's re-plan onto another version), the regime's steps that never
    /// fired are dropped first, in the same transaction.
    fn save_plan(
        &mut self,
        plan: &Plan,
        playbook: &Playbook,
        replace_unfired: bool,
        add: &[NewStep],
        audit: Option<(&str, serde_json::Value)>,
        now: Timestamp,
    ) -> Result<()>;
    /// The text and file of a playbook version kept by `save_plan`.
    fn playbook_source(&self, version: &str) -> Result<Option<(String, String)>>;
    /// Planned steps of one incident (or all), optionally only those still
    /// waiting or pending.
    fn steps(&self, incident: Option<IncidentId>, live_only: bool) -> Result<Vec<StepRow>>;
    /// Sets when waiting or pending steps fall due (their clocks moved);
    /// not audited: due times are derived from audited clocks.
    fn set_due(&mut self, updates: &[(i64, Option<Timestamp>)]) -> Result<()>;
    /// Fires one step: only if it is still pending with `due_at` as read,
    /// marks it fired (or moves a recurring one to `next_due`), appends the
    /// firing to the outbox, records its draft, deadline or task, and audits
    /// it — all in one transaction. `None`: it had already fired.
    fn fire(&mut self, firing: &Firing) -> Result<Option<i64>>;
    /// Ends steps that have not fired (`Done` or `Cancelled`) with a reason,
    /// audited once for the incident.
    fn end_steps(
        &mut self,
        incident: IncidentId,
        rows: &[i64],
        state: StepState,
        reason: &str,
        now: Timestamp,
    ) -> Result<()>;
    /// Firings of one incident (or all), oldest first.
    fn firings(&self, incident: Option<IncidentId>) -> Result<Vec<Fired>>;
    /// Firings whose effect has not been dispatched yet, oldest first.
    fn undelivered(&self) -> Result<Vec<Fired>>;
    /// Marks a firing's effect dispatched.
    fn mark_dispatched(&mut self, firing: i64) -> Result<()>;
    /// Deadlines recorded on an incident.
    fn deadlines(&self, incident: IncidentId) -> Result<Vec<DeadlineRow>>;
    /// Draft statuses of an incident's regime (`pending_approval`,
    /// `approved`, `sent`), for recurring steps' conditions.
    fn draft_statuses(&self, incident: IncidentId, regime: &str) -> Result<Vec<String>>;
    /// A person's determination of an incident.
    fn determination(&self, incident: IncidentId) -> Result<Determination>;
    /// Records a determination (audited, by `actor`).
    fn determine(
        &mut self,
        incident: IncidentId,
        d: &Determination,
        actor: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<()>;
}

/// Where fired `notify`/`escalate` effects go. The notify stage implements
/// it; until then [`LogDispatch`] writes them to breachd's log.
pub trait Dispatch: Send {
    /// Delivers one firing; `Err` leaves it in the outbox for the next tick.
    fn dispatch(&mut self, fired: &Fired) -> std::result::Result<(), String>;
}

/// Logs each dispatched firing with its fields (no channels yet).
#[derive(Debug, Default)]
pub struct LogDispatch;

impl Dispatch for LogDispatch {
    fn dispatch(&mut self, f: &Fired) -> std::result::Result<(), String> {
        tracing::warn!(
            incident_id = %f.firing.incident,
            regime = %f.firing.regime,
            step = %f.firing.step,
            action = f.firing.effect.name(),
            effect = %f.firing.effect,
            firing_id = f.id,
            "playbook step dispatched (no channel configured yet: logged only)"
        );
        Ok(())
    }
}

/// The facts the obligation engine decides on, from what an incident shows
/// and a person's determination. Inputs the logs cannot show take the
/// worse reading, as the ENISA defaults do: the access was malicious and a
/// confidentiality breach when anyone's data was read.
pub fn facts_of(i: &Incident, d: &Determination, sectors: &[String]) -> Facts {
    let detected = event_ts(i.detected_at);
    let aware = i.aware.as_ref().map(|a| a.at);
    let mut jurisdictions: Vec<String> = i
        .jurisdictions
        .iter()
        .map(|j| j.jurisdiction.trim().to_ascii_uppercase())
        .collect();
    jurisdictions.sort();
    jurisdictions.dedup();
    Facts {
        categories: i.categories,
        subjects: Subjects {
            min: i.subjects,
            max: i.subjects_upper.max(i.subjects),
        },
        jurisdictions,
        breach: Breach {
            confidentiality: !i.categories.is_empty() || i.subjects > 0,
            integrity: false,
            availability: false,
        },
        malicious: true,
        encrypted: false,
        key_compromised: false,
        backup_available: false,
        exfiltration_confirmed: false,
        recipients_known_trusted: false,
        recipients_known: false,
        // the engine needs an awareness time to decide; the schedule itself
        // waits for the real one (see `clocks_of`)
        aware_at: aware.unwrap_or(i.opened_at),
        detected_at: Some(detected),
        determined_at: d.determined_at,
        vulnerable_subjects: false,
        ease_of_identification: None,
        recovery: None,
        mitigated: false,
        enisa: EnisaOverrides {
            dpc: i.enisa_overrides.dpc,
            ei: i.enisa_overrides.ei,
            cb: i.enisa_overrides.cb,
        },
        sectors: sectors.to_vec(),
        material: d.material,
    }
}

/// The clocks of an incident as far as they have started: detection (the
/// event time of the first alert), awareness (set by the incident's aware
/// policy), determination (set by a person).
pub fn clocks_of(i: &Incident, d: &Determination) -> Clocks {
    Clocks {
        detected_at: Some(event_ts(i.detected_at)),
        aware_at: i.aware.as_ref().map(|a| a.at),
        determined_at: d.determined_at,
    }
}

fn event_ts(t: crate::parse::EventTime) -> Timestamp {
    Timestamp::from_microsecond(t.unix_micros).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The facts whose change re-plans an incident: jurisdictions, categories,
/// the determination (materiality brings in the SEC's steps), and what the
/// engine finds owed on them (a subject count crossing a threshold makes
/// notices required that were not).
pub fn material_key(f: &Facts, playbooks: &[Playbook]) -> String {
    let owed: Vec<String> = super::assess::assess(f, playbooks)
        .obligations
        .iter()
        .filter(|o| o.required)
        .map(|o| format!("{}/{}", o.regime, o.recipient.as_str()))
        .collect();
    format!(
        "j={};c={};m={};owed={}",
        f.jurisdictions.join(","),
        f.categories.names().join(","),
        f.material,
        owed.join(",")
    )
}

/// The steps each applicable playbook asks for on these facts: every step
/// without a recipient, and `draft`/`deadline` steps whose recipient the
/// engine finds an obligation is required to.
pub fn wanted_steps<'p>(
    f: &Facts,
    playbooks: &'p [Playbook],
) -> Vec<(&'p Playbook, Vec<&'p Step>)> {
    let decided = super::assess::assess(f, playbooks);
    playbooks
        .iter()
        .filter(|p| p.applies_to(&f.jurisdictions, &f.sectors))
        .map(|p| {
            let required = |r: Recipient| {
                decided
                    .obligations
                    .iter()
                    .any(|o| o.regime == p.regime && o.recipient == r && o.required)
            };
            let steps = p
                .steps
                .iter()
                .filter(|s| match &s.action {
                    Action::Draft { recipient, .. } | Action::Deadline { recipient } => {
                        required(*recipient)
                    }
                    _ => true,
                })
                .collect();
            (p, steps)
        })
        .collect()
}

/// When a step falls due next: a one-off step at its offset from its clock
/// (`None` until that clock starts); a recurring one at its next cron time
/// after `after` (its plan time, or the last firing).
pub fn due_of(p: &Playbook, s: &Step, clocks: &Clocks, after: Timestamp) -> Option<Timestamp> {
    match &s.schedule {
        Schedule::At(_) => p.step_at(s, clocks).map(|z| z.timestamp()),
        Schedule::Every { .. } => s.next_fire(after, &p.calendar.zone),
    }
}

/// Whether a recurring step's condition holds.
fn condition_holds(until: Until, status: Status, drafts: &[String]) -> bool {
    match until {
        Until::Acknowledged => status != Status::Open,
        Until::Approved => {
            !drafts.is_empty() && drafts.iter().all(|s| s == "approved" || s == "sent")
        }
        Until::Sent => !drafts.is_empty() && drafts.iter().all(|s| s == "sent"),
    }
}

/// What one tick did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TickReport {
    /// Regimes planned or re-planned, per incident.
    pub planned: Vec<(IncidentId, String)>,
    pub fired: Vec<Fired>,
    /// Steps cancelled because their incident closed.
    pub cancelled: usize,
}

/// Runs the playbooks against live incidents. Holds the current playbooks
/// and the pinned versions it has compiled from the store.
pub struct Scheduler {
    current: Vec<Playbook>,
    /// The organisation's sectors (`sec_registrant`, `hipaa`, ...).
    sectors: Vec<String>,
    pinned: HashMap<String, Playbook>,
    /// The material facts each incident was last planned on (saves
    /// re-deciding unchanged incidents every tick).
    seen: HashMap<IncidentId, String>,
    dispatch: Box<dyn Dispatch>,
    last_tick: Option<Timestamp>,
    /// Since when the store refuses the scheduler (errors logged once a minute).
    failing: Option<Timestamp>,
    /// At most one tick per this many seconds ([`Scheduler::tick_due`]).
    pub every_secs: i64,
}

impl Scheduler {
    pub fn new(playbooks: Vec<Playbook>) -> Scheduler {
        Scheduler {
            current: playbooks,
            sectors: Vec::new(),
            pinned: HashMap::new(),
            seen: HashMap::new(),
            dispatch: Box::new(LogDispatch),
            last_tick: None,
            failing: None,
            every_secs: 1,
        }
    }

    /// The organisation's sectors, which bring in sector regimes.
    pub fn with_sectors(mut self, sectors: Vec<String>) -> Scheduler {
        self.sectors = sectors;
        self
    }

    /// Where sent effects go (the notify stage's seam).
    pub fn with_dispatch(mut self, d: Box<dyn Dispatch>) -> Scheduler {
        self.dispatch = d;
        self
    }

    /// Replaces the current playbooks (a reload); running plans keep theirs.
    pub fn reload(&mut self, playbooks: Vec<Playbook>) {
        self.current = playbooks;
        self.seen.clear();
    }

    /// Ticks when at least `every_secs` passed since the last tick (the
    /// daemon calls this every loop turn). A failing store is logged once a
    /// minute, and retried every turn; nothing fired is lost meanwhile, since
    /// due steps stay pending in the store.
    pub fn tick_due(
        &mut self,
        incidents: &dyn IncidentStore,
        store: &mut dyn ScheduleStore,
        now: Timestamp,
    ) -> Option<TickReport> {
        if self
            .last_tick
            .is_some_and(|t| now.as_second() - t.as_second() < self.every_secs && now >= t)
        {
            return None;
        }
        match self.tick(incidents, store, now) {
            Ok(r) => {
                if self.failing.take().is_some() {
                    tracing::info!(store = %store.location(), "the playbook scheduler runs again");
                }
                Some(r)
            }
            Err(e) => {
                let quiet = self
                    .failing
                    .is_some_and(|t| (now.as_second() - t.as_second()).abs() < 60);
                if !quiet {
                    tracing::error!(error = %e, "the playbook scheduler could not run; due steps stay pending and it retries");
                    self.failing = Some(now);
                }
                None
            }
        }
    }

    /// Ticks now, whatever the last tick's time (the daemon calls it when an
    /// incident opened, so its page leaves in the same turn).
    pub fn tick_now(
        &mut self,
        incidents: &dyn IncidentStore,
        store: &mut dyn ScheduleStore,
        now: Timestamp,
    ) -> Option<TickReport> {
        self.last_tick = None;
        self.tick_due(incidents, store, now)
    }

    /// One pass: plan new or changed incidents, cancel the steps of closed
    /// ones, update due times whose clocks moved, fire what is due at `now`,
    /// and dispatch the outbox.
    pub fn tick(
        &mut self,
        incidents: &dyn IncidentStore,
        store: &mut dyn ScheduleStore,
        now: Timestamp,
    ) -> Result<TickReport> {
        self.last_tick = Some(now);
        let mut report = TickReport::default();
        let active = incidents.list(&ListFilter::default())?;
        let mut by_id: BTreeMap<IncidentId, &Incident> = BTreeMap::new();
        for i in &active {
            if i.merged_into.is_none() {
                by_id.insert(i.id, i);
            }
        }
        // plan
        for i in by_id.values() {
            let d = store.determination(i.id)?;
            let facts = facts_of(i, &d, &self.sectors);
            let key = material_key(&facts, &self.current);
            if self.seen.get(&i.id) == Some(&key) {
                continue;
            }
            for regime in self.plan(store, i, &facts, &key, now, ACTOR, None)? {
                report.planned.push((i.id, regime));
            }
            self.seen.insert(i.id, key);
        }
        // due times, cancellations and firings
        let live = store.steps(None, true)?;
        let mut closed: BTreeMap<IncidentId, Vec<i64>> = BTreeMap::new();
        let mut moved = Vec::new();
        let mut due = Vec::new();
        let plans: HashMap<(IncidentId, String), Plan> = store
            .plans(None)?
            .into_iter()
            .map(|p| ((p.incident, p.regime.clone()), p))
            .collect();
        let mut dets: HashMap<IncidentId, Determination> = HashMap::new();
        for row in live {
            let Some(inc) = by_id.get(&row.incident) else {
                closed.entry(row.incident).or_default().push(row.id);
                continue;
            };
            let Some(plan) = plans.get(&(row.incident, row.regime.clone())) else {
                continue;
            };
            let Some(p) = self.version(store, &plan.version)? else {
                continue;
            };
            let Some(step) = p.steps.iter().find(|s| s.id == row.step) else {
                continue;
            };
            if !row.recurring {
                let d = match dets.get(&row.incident) {
                    Some(d) => d.clone(),
                    None => {
                        let d = store.determination(row.incident)?;
                        dets.insert(row.incident, d.clone());
                        d
                    }
                };
                let at = due_of(p, step, &clocks_of(inc, &d), plan.planned_at);
                if at != row.due_at {
                    moved.push((row.id, at));
                }
                if let Some(at) = at.filter(|at| *at <= now) {
                    due.push((row, at, inc.status));
                }
            } else if let Some(at) = row.due_at.filter(|at| *at <= now) {
                due.push((row, at, inc.status));
            }
        }
        if !moved.is_empty() {
            store.set_due(&moved)?;
        }
        for (incident, rows) in closed {
            // a merged or closed incident's remaining steps stop (only if
            // it really is closed: the list above shows active ones only)
            let reason = match incidents.get(incident) {
                Ok(d) if d.incident.merged_into.is_some() => format!(
                    "the incident was merged into {}",
                    d.incident
                        .merged_into
                        .map(|m| m.to_string())
                        .unwrap_or_default()
                ),
                Ok(d) if !d.incident.status.is_active() => {
                    format!("the incident is {}", d.incident.status.as_str())
                }
                Ok(_) => continue,
                Err(StoreError::NotFound(_)) => "the incident no longer exists".into(),
                Err(e) => return Err(e),
            };
            report.cancelled += rows.len();
            store.end_steps(incident, &rows, StepState::Cancelled, &reason, now)?;
            self.seen.remove(&incident);
        }
        // in due order, so a catch-up after downtime fires as the plan ran
        due.sort_by_key(|(row, at, _)| (*at, row.id));
        for (row, at, status) in due {
            let plan = &plans[&(row.incident, row.regime.clone())];
            let Some(p) = self.version(store, &plan.version)? else {
                continue;
            };
            let Some(step) = p.steps.iter().find(|s| s.id == row.step).cloned() else {
                continue;
            };
            let next_due = match &step.schedule {
                Schedule::Every { until, .. } => {
                    let drafts = store.draft_statuses(row.incident, &row.regime)?;
                    if condition_holds(*until, status, &drafts) {
                        let why = format!("its condition holds ({})", until.as_str());
                        store.end_steps(row.incident, &[row.id], StepState::Done, &why, now)?;
                        continue;
                    }
                    // missed occurrences fire once: count on from now
                    step.next_fire(now, &p.calendar.zone)
                }
                Schedule::At(_) => None,
            };
            let late_secs = (now.as_second() - at.as_second()).max(0);
            let firing = Firing {
                step_row: row.id,
                incident: row.incident,
                regime: row.regime.clone(),
                step: row.step.clone(),
                version: plan.version.clone(),
                effect: Effect::of(&step.action),
                basis: step.basis.clone(),
                due_at: at,
                fired_at: now,
                late_secs,
                late: late_secs > LATE_AFTER_SECS,
                next_due,
            };
            if let Some(id) = store.fire(&firing)? {
                tracing::info!(
                    incident_id = %firing.incident,
                    regime = %firing.regime,
                    step = %firing.step,
                    action = firing.effect.name(),
                    due_at = %firing.due_at,
                    late_secs = firing.late_secs,
                    late = firing.late,
                    firing_id = id,
                    "playbook step fired"
                );
                report.fired.push(Fired {
                    id,
                    delivery: if firing.effect.is_sent() {
                        "pending".into()
                    } else {
                        "recorded".into()
                    },
                    firing,
                });
            }
        }
        // outbox: after the firings committed
        for f in store.undelivered()? {
            match self.dispatch.dispatch(&f) {
                Ok(()) => store.mark_dispatched(f.id)?,
                Err(e) => {
                    tracing::error!(firing_id = f.id, error = %e, "dispatching a fired step failed; it stays in the outbox")
                }
            }
        }
        Ok(report)
    }

    /// A person re-plans an incident on the current playbooks: each regime
    /// moves to the current version, steps that never fired are planned
    /// afresh, steps that fired keep their history. Audited as `replanned`.
    pub fn replan(
        &mut self,
        incidents: &dyn IncidentStore,
        store: &mut dyn ScheduleStore,
        id: IncidentId,
        actor: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<Vec<String>> {
        let i = incidents.get(id)?.incident;
        if !i.status.is_active() || i.merged_into.is_some() {
            return Err(StoreError::Refused(format!(
                "{id} is {}; only incidents being worked on are planned",
                i.status.as_str()
            )));
        }
        let d = store.determination(id)?;
        let facts = facts_of(&i, &d, &self.sectors);
        let key = material_key(&facts, &self.current);
        let planned = self.plan(store, &i, &facts, &key, now, actor, Some(reason))?;
        self.seen.insert(id, key);
        Ok(planned)
    }

    /// Plans (or re-plans) one incident; returns the regimes that changed.
    /// With `person` (a reason), every regime moves to the current version.
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &mut self,
        store: &mut dyn ScheduleStore,
        i: &Incident,
        facts: &Facts,
        key: &str,
        now: Timestamp,
        actor: &str,
        person: Option<&str>,
    ) -> Result<Vec<String>> {
        let existing: HashMap<String, Plan> = store
            .plans(Some(i.id))?
            .into_iter()
            .map(|p| (p.regime.clone(), p))
            .collect();
        // the playbooks this incident runs on: pinned versions first
        let mut books: Vec<Playbook> = Vec::new();
        let current = self.current.clone();
        for cur in &current {
            match existing.get(&cur.regime) {
                Some(plan) if person.is_none() && plan.version != cur.version => {
                    match self.version(store, &plan.version)? {
                        Some(p) => books.push(p.clone()),
                        None => books.push(cur.clone()),
                    }
                }
                _ => books.push(cur.clone()),
            }
        }
        // regimes planned earlier whose playbook is no longer loaded keep going
        for plan in existing.values() {
            if !books.iter().any(|b| b.regime == plan.regime) {
                if let Some(p) = self.version(store, &plan.version)? {
                    books.push(p.clone());
                }
            }
        }
        let planned_steps: HashMap<String, Vec<StepRow>> = {
            let mut m: HashMap<String, Vec<StepRow>> = HashMap::new();
            for r in store.steps(Some(i.id), false)? {
                m.entry(r.regime.clone()).or_default().push(r);
            }
            m
        };
        let clocks = clocks_of(i, &store.determination(i.id)?);
        let mut changed = Vec::new();
        for (p, steps) in wanted_steps(facts, &books) {
            let old = existing.get(&p.regime);
            let version_moves = old.is_some_and(|o| o.version != p.version);
            if version_moves && person.is_none() {
                // its pinned version could not be read back: leave it be
                continue;
            }
            let have: Vec<&str> = if version_moves {
                planned_steps
                    .get(&p.regime)
                    .map(|v| {
                        v.iter()
                            .filter(|r| r.fired > 0)
                            .map(|r| r.step.as_str())
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                planned_steps
                    .get(&p.regime)
                    .map(|v| v.iter().map(|r| r.step.as_str()).collect())
                    .unwrap_or_default()
            };
            let add: Vec<NewStep> = steps
                .iter()
                .filter(|s| !have.contains(&s.id.as_str()))
                .map(|s| NewStep {
                    step: s.id.clone(),
                    recurring: matches!(s.schedule, Schedule::Every { .. }),
                    due_at: due_of(p, s, &clocks, now),
                })
                .collect();
            let plan = Plan {
                incident: i.id,
                regime: p.regime.clone(),
                version: p.version.clone(),
                planned_at: old.map_or(now, |o| o.planned_at),
                planned_by: old.map_or_else(|| actor.to_string(), |o| o.planned_by.clone()),
                facts: key.to_string(),
            };
            let names: Vec<&str> = add.iter().map(|s| s.step.as_str()).collect();
            let audit = match (old, person) {
                (_, Some(reason)) => Some((
                    "replanned",
                    serde_json::json!({
                        "regime": p.regime, "version": p.version,
                        "from_version": old.map(|o| o.version.clone()),
                        "steps_added": names, "reason": reason, "by": actor,
                    }),
                )),
                (None, None) => Some((
                    "planned",
                    serde_json::json!({
                        "regime": p.regime, "version": p.version, "steps": names,
                        "facts": key,
                    }),
                )),
                (Some(_), None) if !add.is_empty() => Some((
                    "replanned",
                    serde_json::json!({
                        "regime": p.regime, "version": p.version, "steps_added": names,
                        "reason": "the incident's facts changed", "facts": key,
                    }),
                )),
                (Some(o), None) if o.facts == key => continue,
                (Some(_), None) => None,
            };
            let plan = Plan {
                planned_by: if person.is_some() {
                    actor.to_string()
                } else {
                    plan.planned_by
                },
                ..plan
            };
            // only a person moves a version: unfired steps are planned afresh
            store.save_plan(&plan, p, version_moves, &add, audit, now)?;
            if !add.is_empty() || old.is_none() || person.is_some() {
                changed.push(p.regime.clone());
            }
        }
        Ok(changed)
    }

    /// The playbook of a pinned version: the current one when it matches,
    /// else compiled again from the text the store kept.
    fn version(&mut self, store: &dyn ScheduleStore, version: &str) -> Result<Option<&Playbook>> {
        if let Some(p) = self.current.iter().position(|p| p.version == version) {
            return Ok(self.current.get(p));
        }
        if !self.pinned.contains_key(version) {
            let Some((file, text)) = store.playbook_source(version)? else {
                return Ok(None);
            };
            match super::compile(&text, &file, None) {
                Ok(p) => {
                    self.pinned.insert(version.to_string(), p);
                }
                Err(e) => {
                    tracing::error!(version, file = %file, errors = e.len(), "a pinned playbook version no longer compiles; its steps are skipped");
                    return Ok(None);
                }
            }
        }
        Ok(self.pinned.get(version))
    }
}

/// A duration in words for people: `2d 3h`, `4h 05m`, `12m`, `40s`.
pub fn human_span(secs: i64) -> String {
    let s = secs.abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

/// `t` plus whole seconds (saturating at the ends of time).
pub fn plus_secs(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_add(secs.seconds()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::{calendar, shipped};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn book(regime: &str) -> Playbook {
        shipped(None)
            .unwrap()
            .into_iter()
            .find(|p| p.regime == regime)
            .unwrap()
    }

    #[test]
    fn gdpr_authority_deadline_is_72_calendar_hours_after_awareness() {
        let gdpr = book("GDPR");
        let step = gdpr
            .steps
            .iter()
            .find(|s| s.id == "authority_deadline")
            .unwrap();
        // Friday 2026-03-06 16:00 Brussels
        let clocks = Clocks {
            detected_at: Some(ts("2026-03-06T14:50:00Z")),
            aware_at: Some(ts("2026-03-06T15:00:00Z")),
            determined_at: None,
        };
        let at = due_of(&gdpr, step, &clocks, ts("2026-03-06T15:00:00Z")).unwrap();
        assert_eq!(
            calendar::rfc3339(&at.to_zoned(gdpr.calendar.zone.clone())),
            "2026-03-09T16:00:00+01:00"
        );
    }

    #[test]
    fn sec_filing_is_four_business_days_after_determination() {
        let sec = book("SEC 8-K");
        let step = sec
            .steps
            .iter()
            .find(|s| s.id == "filing_deadline")
            .unwrap();
        // determined Thursday 2026-11-05 10:00 New York; Veterans Day
        // (Wednesday 11-11) is a holiday: Fri, Mon, Tue, Thu
        let clocks = Clocks {
            detected_at: None,
            aware_at: None,
            determined_at: Some(ts("2026-11-05T15:00:00Z")),
        };
        let at = due_of(&sec, step, &clocks, ts("2026-11-05T15:00:00Z")).unwrap();
        assert_eq!(
            calendar::rfc3339(&at.to_zoned(sec.calendar.zone.clone())),
            "2026-11-12T10:00:00-05:00"
        );
        assert!(due_of(&sec, step, &Clocks::default(), ts("2026-11-05T15:00:00Z")).is_none());
    }

    #[test]
    fn recurring_conditions_read_the_incident_and_its_drafts() {
        let table: [(Until, Status, &[&str], bool); 7] = [
            (Until::Acknowledged, Status::Open, &[], false),
            (Until::Acknowledged, Status::Acknowledged, &[], true),
            (Until::Approved, Status::Open, &[], false),
            (Until::Approved, Status::Open, &["pending_approval"], false),
            (Until::Approved, Status::Open, &["approved", "sent"], true),
            (Until::Sent, Status::Open, &["approved", "sent"], false),
            (Until::Sent, Status::Open, &["sent"], true),
        ];
        for (until, status, drafts, want) in table {
            let d: Vec<String> = drafts.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                condition_holds(until, status, &d),
                want,
                "{until:?} {status:?} {drafts:?}"
            );
        }
    }

    #[test]
    fn draft_and_deadline_steps_follow_the_obligations_the_engine_finds() {
        let books = shipped(None).unwrap();
        let facts = |cats: &str, subjects: u64, j: &str| {
            let text = format!(
                "data_categories: [{cats}]\nsubjects: {subjects}\njurisdictions: [{j}]\nbreach: [confidentiality]\nmalicious: true\naware_at: 2026-03-06T15:00:00Z\n"
            );
            super::super::facts::Facts::from_str(&text, "t.yaml").unwrap()
        };
        let planned = |f: &Facts| -> Vec<String> {
            wanted_steps(f, &books)
                .into_iter()
                .flat_map(|(p, steps)| {
                    steps
                        .into_iter()
                        .map(move |s| format!("{}/{}", p.regime, s.id))
                })
                .collect()
        };
        // (categories, subjects, jurisdiction, planned, not planned)
        let table: [(&str, u64, &str, &str, &str); 4] = [
            (
                "identity, contact",
                800,
                "EU",
                "GDPR/authority_deadline",
                "GDPR/draft_subject_notice",
            ),
            (
                "health",
                20000,
                "EU",
                "GDPR/draft_subject_notice",
                "UK GDPR/authority_deadline",
            ),
            (
                "identity",
                800,
                "UK",
                "UK GDPR/page_oncall",
                "GDPR/page_oncall",
            ),
            (
                "identity",
                800,
                "BR",
                "LGPD/page_oncall",
                "GDPR/page_oncall",
            ),
        ];
        for (cats, n, j, yes, no) in table {
            let got = planned(&facts(cats, n, j));
            assert!(got.iter().any(|s| s == yes), "{cats} {n} {j}: {got:?}");
            assert!(!got.iter().any(|s| s == no), "{cats} {n} {j}: {got:?}");
        }
        // the key that re-plans: jurisdictions, categories, materiality, and
        // what is owed (a subject count crossing a threshold)
        let a = facts("identity", 800, "EU");
        let b = facts("identity", 9000, "EU");
        let c = facts("identity, health", 800, "EU");
        let d = facts("identity", 20000, "EU");
        let key = |f: &Facts| material_key(f, &books);
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
        assert_ne!(
            key(&a),
            key(&d),
            "large scale makes the subjects' notice owed"
        );
    }

    #[test]
    fn a_playbook_version_is_the_hash_of_its_text() {
        let gdpr = book("GDPR");
        assert_eq!(gdpr.version.len(), 16);
        assert_eq!(gdpr.version, crate::playbook::version_of(&gdpr.source));
        assert_ne!(
            gdpr.version,
            crate::playbook::version_of(&format!("{}\n# edited\n", gdpr.source))
        );
    }

    #[test]
    fn spans_read_as_people_write_them() {
        for (secs, want) in [
            (40, "40s"),
            (720, "12m"),
            (4 * 3600 + 300, "4h 05m"),
            (2 * 86_400 + 3 * 3600, "2d 3h"),
            (-7200, "2h 00m"),
        ] {
            assert_eq!(human_span(secs), want);
        }
    }
}
