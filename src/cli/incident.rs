//! `breachd incident ...` and `breachd audit ...`: people working on
//! incidents in the store, while the daemon writes to it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::incident::severity::{Band, Overrides};
use crate::incident::{
    Change, Correlation, Incident, IncidentDetail, IncidentId, IncidentStore, ListFilter, Status,
    StoreError,
};

/// Where the store is and who acts.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Config file: its store (`[incident] store`, else DATA_DIR/breachd.db).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The store file itself (overrides the config's).
    #[arg(long, global = true, value_name = "FILE")]
    store: Option<PathBuf>,
    /// JSON for scripts instead of a table for people.
    #[arg(long, global = true)]
    json: bool,
    /// Who acts (recorded in the audit trail); defaults to $USER.
    #[arg(long, global = true, value_name = "NAME")]
    by: Option<String>,
}

#[derive(Debug, Args)]
pub struct IncidentArgs {
    #[command(flatten)]
    at: StoreArgs,
    #[command(subcommand)]
    command: IncidentCommand,
}

#[derive(Debug, Subcommand)]
enum IncidentCommand {
    /// Incidents being worked on (open, acknowledged, contained).
    List {
        /// Every incident, closed and merged ones too.
        #[arg(long)]
        all: bool,
        /// Only these statuses (repeatable): open, acknowledged, contained, resolved, false_positive.
        #[arg(long)]
        status: Vec<String>,
        /// Only incidents whose ENISA band is at least this: low, medium, high, very_high.
        #[arg(long)]
        severity: Option<String>,
        /// Only incidents active since then: an RFC 3339 time
        /// (2026-03-10T05:00:00Z) or a span back from now (90m, 24h, 7d, 2w).
        #[arg(long)]
        since: Option<String>,
    },
    /// One incident: impact, severity with its inputs, evidence, notes, trail.
    Show { id: String },
    /// The data subjects' ids the incident's alerts exposed (for legal to
    /// check and export), one a line; `--json` adds when and by which alert.
    Subjects { id: String },
    /// A person has seen it and owns the response.
    Ack {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// The attack is stopped (accounts locked, addresses blocked, keys revoked).
    Contain {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// The response is finished.
    Resolve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Not a breach; the reason is required.
    FalsePositive {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Adds a note.
    Note { id: String, text: String },
    /// Assigns the incident to a person.
    Assign { id: String, to: String },
    /// Moves FROM's alerts into INTO (FROM stays, marked merged).
    Merge {
        into: String,
        from: String,
        #[arg(long)]
        reason: String,
    },
    /// Moves the named alerts (keys from `show`) to a new incident.
    Split {
        id: String,
        #[arg(long = "alert", required = true)]
        alerts: Vec<String>,
        #[arg(long)]
        reason: String,
    },
    /// Overrides ENISA inputs (the legal role's call); the reason is required.
    Severity {
        id: String,
        #[arg(long)]
        dpc: Option<f64>,
        #[arg(long)]
        ei: Option<f64>,
        #[arg(long)]
        cb: Option<f64>,
        #[arg(long)]
        reason: String,
    },
    /// Past and coming playbook steps with deadlines and time left, in your time zone.
    Timeline {
        id: String,
        /// The zone to show times in (IANA name); the system zone / $TZ without it.
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    at: StoreArgs,
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Checks the whole hash chain; exit 1 when an entry was edited, removed or reordered.
    Verify,
    /// The trail, of one incident or of everything.
    Show { id: Option<String> },
}

/// The opened store and the policy it runs under.
struct Opened {
    store: Box<dyn IncidentStore>,
    policy: Correlation,
    legal: Vec<String>,
    actor: String,
    json: bool,
}

fn open(at: &StoreArgs) -> anyhow::Result<Opened> {
    let (config, path) = super::existing_store(at.config.as_deref(), at.store.as_deref())?;
    let store = crate::store::open(&path)?;
    let actor = super::actor(at.by.as_deref());
    Ok(Opened {
        store,
        policy: config
            .as_ref()
            .map(|c| c.correlation.clone())
            .unwrap_or_default(),
        legal: config.map(|c| c.legal).unwrap_or_default(),
        actor,
        json: at.json,
    })
}

fn id(s: &str) -> Result<IncidentId, StoreError> {
    s.parse::<IncidentId>().map_err(StoreError::Refused)
}

/// A refusal or a missing incident is the user's to fix: exit 1 with the
/// message; anything else (the store itself) is an error: exit 2.
fn outcome(r: Result<(), StoreError>) -> anyhow::Result<ExitCode> {
    match r {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ (StoreError::Refused(_) | StoreError::NotFound(_))) => {
            eprintln!("breachd: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn incident(args: IncidentArgs) -> anyhow::Result<ExitCode> {
    if let IncidentCommand::Timeline { id, tz } = &args.command {
        return timeline(&args.at, id, tz.as_deref());
    }
    let mut o = open(&args.at)?;
    let r = run_incident(&mut o, args.command);
    outcome(r)
}

fn run_incident(o: &mut Opened, cmd: IncidentCommand) -> Result<(), StoreError> {
    let status_change = |to: Status, reason: Option<String>| Change::Status { to, reason };
    let (target, change) = match cmd {
        IncidentCommand::List {
            all,
            status,
            severity,
            since,
        } => {
            let mut statuses = Vec::new();
            for s in &status {
                let name = s.replace('-', "_");
                statuses.push(Status::from_name(&name).ok_or_else(|| {
                    StoreError::Refused(format!(
                        "unknown status `{s}`; use one of: open, acknowledged, contained, resolved, false_positive"
                    ))
                })?);
            }
            let min_band = severity.as_deref().map(band).transpose()?;
            let since_us = since
                .as_deref()
                .map(|s| since_micros(s, jiff::Timestamp::now()))
                .transpose()?;
            let list = o.store.list(&ListFilter {
                statuses,
                all,
                min_band,
                since_us,
            })?;
            return print_list(&list, o.json).map_err(io_err);
        }
        IncidentCommand::Show { id: i } => {
            let i = id(&i)?;
            let d = o.store.get(i)?;
            let trail = o.store.audit(Some(i))?;
            return print_show(&d, &trail, o.json).map_err(io_err);
        }
        IncidentCommand::Subjects { id: i } => {
            let i = id(&i)?;
            let d = o.store.get(i)?;
            let ids = o.store.subject_ids(i)?;
            return print_subjects(&d, &ids, o.json).map_err(io_err);
        }
        IncidentCommand::Ack { id: i, reason } => (i, status_change(Status::Acknowledged, reason)),
        IncidentCommand::Contain { id: i, reason } => (i, status_change(Status::Contained, reason)),
        IncidentCommand::Resolve { id: i, reason } => (i, status_change(Status::Resolved, reason)),
        IncidentCommand::FalsePositive { id: i, reason } => {
            (i, status_change(Status::FalsePositive, Some(reason)))
        }
        IncidentCommand::Note { id: i, text } => {
            if text.trim().is_empty() {
                return Err(StoreError::Refused("the note is empty".into()));
            }
            (i, Change::Note(text))
        }
        IncidentCommand::Assign { id: i, to } => (i, Change::Assign(to)),
        IncidentCommand::Severity {
            id: i,
            dpc,
            ei,
            cb,
            reason,
        } => {
            if !o.legal.is_empty() && !o.legal.contains(&o.actor) {
                return Err(StoreError::Refused(format!(
                    "{} is not in the legal role (`[incident] legal` in the config); ENISA inputs are theirs to override",
                    o.actor
                )));
            }
            let overrides = Overrides { dpc, ei, cb };
            if overrides == Overrides::default() {
                return Err(StoreError::Refused(
                    "give at least one of --dpc, --ei, --cb".into(),
                ));
            }
            overrides.check().map_err(StoreError::Refused)?;
            (i, Change::Enisa { overrides, reason })
        }
        IncidentCommand::Timeline { .. } => unreachable!("`incident` runs the timeline"),
        IncidentCommand::Merge { into, from, reason } => {
            let (into, from) = (id(&into)?, id(&from)?);
            o.store.merge(into, from, &o.actor, &reason, &o.policy)?;
            return done(o.json, &format!("{from} merged into {into}"), into);
        }
        IncidentCommand::Split {
            id: i,
            alerts,
            reason,
        } => {
            let i = id(&i)?;
            let new = o.store.split(i, &alerts, &o.actor, &reason, &o.policy)?;
            return done(
                o.json,
                &format!("{} alert(s) of {i} split off into {new}", alerts.len()),
                new,
            );
        }
    };
    let i = id(&target)?;
    let changed = o.store.change(i, &change, &o.actor, &o.policy)?;
    let what = match &change {
        Change::Status { to, .. } => format!("{i} is now {}", to.as_str()),
        Change::Note(_) => format!("note added to {i}"),
        Change::Assign(who) if changed => format!("{i} assigned to {who}"),
        Change::Assign(who) => format!("{i} was already assigned to {who}"),
        Change::Enisa { .. } if changed => {
            let a = o.store.get(i)?.incident.assessment();
            format!(
                "{i}: ENISA severity now {:.2} ({})",
                a.score,
                a.band.as_str()
            )
        }
        Change::Enisa { .. } => format!("{i}: those overrides were already set"),
    };
    done(o.json, &what, i)
}

fn io_err(e: io::Error) -> StoreError {
    StoreError::Other {
        path: "<stdout>".into(),
        detail: e.to_string(),
    }
}

fn done(json: bool, what: &str, i: IncidentId) -> Result<(), StoreError> {
    let mut out = io::stdout().lock();
    let r = if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"ok": true, "incident": i.to_string(), "message": what})
        )
    } else {
        writeln!(out, "{what}")
    };
    r.map_err(io_err)
}

/// An incident as scripts see it: the stored fields plus the assessment.
fn incident_json(i: &Incident) -> serde_json::Value {
    let mut v = serde_json::to_value(i).unwrap_or_default();
    v["enisa"] = serde_json::to_value(i.assessment()).unwrap_or_default();
    v
}

fn band(s: &str) -> Result<Band, StoreError> {
    let name = s.replace('-', "_").to_ascii_lowercase();
    [Band::Low, Band::Medium, Band::High, Band::VeryHigh]
        .into_iter()
        .find(|b| b.as_str() == name)
        .ok_or_else(|| {
            StoreError::Refused(format!(
                "unknown severity `{s}` for --severity; use one of: low, medium, high, very_high (the ENISA band)"
            ))
        })
}

/// `--since`: an RFC 3339 time, or a span back from `now` (`90m`, `24h`,
/// `7d`, `2w`), as event time in microseconds.
fn since_micros(s: &str, now: jiff::Timestamp) -> Result<i64, StoreError> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_microsecond());
    }
    let bad = || {
        StoreError::Refused(format!(
            "`{s}` is no time for --since; give an RFC 3339 time (2026-03-10T05:00:00Z) or a span back from now (90m, 24h, 7d, 2w)"
        ))
    };
    let unit = s.chars().last().ok_or_else(bad)?;
    let secs: i64 = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(bad()),
    };
    let n: i64 = s[..s.len() - 1].parse().map_err(|_| bad())?;
    n.checked_mul(secs * 1_000_000)
        .map(|back| now.as_microsecond().saturating_sub(back))
        .filter(|_| n >= 0)
        .ok_or_else(bad)
}

fn print_list(list: &[Incident], json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        let v: Vec<serde_json::Value> = list.iter().map(incident_json).collect();
        return writeln!(out, "{}", serde_json::Value::Array(v));
    }
    writeln!(
        out,
        "{:<10} {:<14} {:<10} {:>8} {:>6}  {:<25}  title",
        "id", "status", "enisa", "subjects", "alerts", "start"
    )?;
    for i in list {
        let status = match i.merged_into {
            Some(m) => format!("merged→{}", m.0),
            None => i.status.as_str().to_string(),
        };
        writeln!(
            out,
            "{:<10} {:<14} {:<10} {:>8} {:>6}  {:<25}  {}",
            i.id.to_string(),
            status,
            i.assessment().band.as_str(),
            i.subjects,
            i.alerts,
            i.start.to_string(),
            i.title
        )?;
    }
    writeln!(
        out,
        "{} incident{}",
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    )
}

/// The exposed subjects' ids: plain, one a line (to export), or JSON with
/// whether the list is complete.
fn print_subjects(
    d: &IncidentDetail,
    ids: &[crate::incident::ExposedSubject],
    json: bool,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        let v = serde_json::json!({
            "incident": d.incident.id,
            "count": ids.len(),
            "incomplete": d.subject_ids_incomplete,
            "subjects": ids,
        });
        return writeln!(out, "{v}");
    }
    for s in ids {
        writeln!(out, "{}", s.subject)?;
    }
    if d.subject_ids_incomplete {
        eprintln!(
            "{}: incomplete: more subjects were exposed than the {} ids stored (cap `[incident] max_subject_ids`, or read before the alert and no longer remembered)",
            d.incident.id,
            ids.len()
        );
    }
    Ok(())
}

fn print_show(
    d: &IncidentDetail,
    trail: &[crate::incident::audit::Entry],
    json: bool,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let i = &d.incident;
    let a = i.assessment();
    if json {
        let mut v = serde_json::to_value(d).unwrap_or_default();
        v["enisa"] = serde_json::to_value(&a).unwrap_or_default();
        v["audit"] = serde_json::to_value(trail).unwrap_or_default();
        return writeln!(out, "{v}");
    }
    writeln!(out, "{}  {}", i.id, i.title)?;
    let status = match i.merged_into {
        Some(m) => format!("{} (merged into {m})", i.status.as_str()),
        None => i.status.as_str().to_string(),
    };
    writeln!(out, "  status       {status}")?;
    writeln!(
        out,
        "  assignee     {}",
        i.assignee.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "  attack       {} → {} (detected {})",
        i.start, i.end, i.detected_at
    )?;
    match &i.aware {
        Some(w) => writeln!(out, "  aware at     {} by {} ({})", w.at, w.by, w.reason)?,
        None => writeln!(out, "  aware at     not yet (policy: at acknowledgement)")?,
    }
    writeln!(out, "  categories   {}", i.categories.names().join(", "))?;
    writeln!(
        out,
        "  subjects     {} (confidence {}; at most {}) — {}",
        i.subjects, i.subjects_confidence, i.subjects_upper, i.subjects_basis
    )?;
    writeln!(
        out,
        "  subject ids  {} stored{} (`breachd incident subjects {}` lists them)",
        d.subject_ids,
        if d.subject_ids_incomplete {
            "; incomplete: more were exposed than are stored"
        } else {
            ""
        },
        i.id
    )?;
    if !i.jurisdictions.is_empty() {
        let j: Vec<String> = i
            .jurisdictions
            .iter()
            .map(|j| format!("{} {}", j.jurisdiction, j.subjects))
            .collect();
        writeln!(
            out,
            "  jurisdictions {} (the inventory's shares of the estimate; confidence low)",
            j.join(", ")
        )?;
    }
    writeln!(
        out,
        "  severity     ENISA {:.2} {} = DPC {} × EI {} + CB {}",
        a.score,
        a.band.as_str(),
        a.dpc.value,
        a.ei.value,
        a.cb.value
    )?;
    for (name, inp) in [("DPC", &a.dpc), ("EI", &a.ei), ("CB", &a.cb)] {
        writeln!(
            out,
            "    {name:<4} {} ({}): {}",
            inp.value, inp.source, inp.why
        )?;
    }
    let ents: Vec<String> = d.entities.iter().map(|(t, v)| format!("{t}:{v}")).collect();
    write!(out, "  entities     {}", ents.join(", "))?;
    if d.entities_more > 0 {
        write!(out, " and {} more", d.entities_more)?;
    }
    writeln!(out)?;
    writeln!(out, "  alerts ({}):", d.evidence.len())?;
    for e in &d.evidence {
        writeln!(
            out,
            "    {}{}  {}",
            e.key,
            if e.open { " (open)" } else { "" },
            e.alert["summary"].as_str().unwrap_or_default()
        )?;
    }
    if !d.notes.is_empty() {
        writeln!(out, "  notes:")?;
        for n in &d.notes {
            writeln!(out, "    {} {}: {}", n.at, n.author, n.text)?;
        }
    }
    writeln!(out, "  trail:")?;
    for e in trail {
        writeln!(
            out,
            "    #{} {} {} {} {}",
            e.seq, e.at, e.actor, e.action, e.detail
        )?;
    }
    Ok(())
}

pub fn audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let o = open(&args.at)?;
    match args.command {
        AuditCommand::Verify => {
            let v = o.store.verify_audit()?;
            let mut out = io::stdout().lock();
            if o.json {
                writeln!(out, "{}", serde_json::to_value(&v)?)?;
            } else if v.ok {
                writeln!(out, "audit trail intact: {} entries", v.entries)?;
            } else {
                writeln!(out, "audit trail BROKEN ({} entries read):", v.entries)?;
                for p in &v.problems {
                    writeln!(out, "  {p}")?;
                }
            }
            Ok(if v.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        AuditCommand::Show { id: i } => {
            let i = match i {
                Some(s) => match id(&s) {
                    Ok(i) => Some(i),
                    Err(e) => return outcome(Err(e)),
                },
                None => None,
            };
            let trail = o.store.audit(i)?;
            let mut out = io::stdout().lock();
            if o.json {
                writeln!(out, "{}", serde_json::to_value(&trail)?)?;
            } else {
                for e in &trail {
                    let inc = e.incident.map(|i| i.to_string()).unwrap_or_default();
                    writeln!(
                        out,
                        "#{} {} {} {} {} {}",
                        e.seq, e.at, e.actor, inc, e.action, e.detail
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

// ---- `breachd incident timeline` (the scheduler's view of one incident) ----

/// One line of a timeline: a firing (past) or a planned step (coming).
#[derive(Debug, serde::Serialize)]
struct TimelineRow {
    /// When it fired, or falls due (in the viewer's zone); `None` while its
    /// clock has not started.
    at: Option<String>,
    regime: String,
    step: String,
    what: String,
    basis: Option<String>,
    /// `fired`, `pending`, `waiting`, `done`, `cancelled`, or `preview` (not
    /// planned yet: what the current playbooks would plan).
    status: String,
    /// Seconds until it falls due (negative: overdue).
    left_secs: Option<i64>,
    /// Seconds a firing came after its due time.
    late_secs: Option<i64>,
    note: Option<String>,
}

fn timeline(at: &StoreArgs, id_text: &str, tz: Option<&str>) -> anyhow::Result<ExitCode> {
    use crate::playbook::schedule::{self as sched, StepState};
    let zone = match tz {
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(z) => z,
            Err(e) => {
                eprintln!("breachd: unknown time zone `{name}` ({e}); use an IANA name such as Europe/Paris or UTC");
                return Ok(ExitCode::from(1));
            }
        },
        None => jiff::tz::TimeZone::system(),
    };
    let zone_name = zone.iana_name().unwrap_or("system").to_string();
    let (playbooks, sectors) = match &at.store {
        Some(_) if at.config.is_none() => (
            crate::playbook::shipped(None).unwrap_or_default(),
            Vec::new(),
        ),
        _ => {
            let c = super::load_config(at.config.as_deref())?;
            (c.playbooks, c.sectors)
        }
    };
    let o = open(at)?;
    let i = match id(id_text) {
        Ok(i) => i,
        Err(e) => return outcome(Err(e)),
    };
    let detail = match o.store.get(i) {
        Ok(d) => d,
        Err(e) => return outcome(Err(e)),
    };
    let store = crate::store::open_schedule(std::path::Path::new(o.store.location()))?;
    let now = super::now();
    let show = |t: jiff::Timestamp| {
        t.to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string()
    };
    let mut rows: Vec<(Option<jiff::Timestamp>, TimelineRow)> = Vec::new();
    for f in store.firings(Some(i))? {
        let x = &f.firing;
        rows.push((
            Some(x.fired_at),
            TimelineRow {
                at: Some(show(x.fired_at)),
                regime: x.regime.clone(),
                step: x.step.clone(),
                what: x.effect.to_string(),
                basis: x.basis.clone(),
                status: "fired".into(),
                left_secs: None,
                late_secs: Some(x.late_secs),
                note: x.late.then(|| {
                    format!(
                        "due {}, late by {}",
                        show(x.due_at),
                        sched::human_span(x.late_secs)
                    )
                }),
            },
        ));
    }
    let plans = store.plans(Some(i))?;
    let d = store.determination(i)?;
    // the steps' definitions: the pinned version of each plan
    let book = |regime: &str| -> Option<crate::playbook::Playbook> {
        let plan = plans.iter().find(|p| p.regime == regime)?;
        if let Some(p) = playbooks.iter().find(|p| p.version == plan.version) {
            return Some(p.clone());
        }
        let (file, text) = store.playbook_source(&plan.version).ok()??;
        crate::playbook::compile(&text, &file, None).ok()
    };
    for s in store.steps(Some(i), false)? {
        if s.state == StepState::Done && !s.recurring {
            continue; // its firing is listed
        }
        let def = book(&s.regime).and_then(|p| p.steps.iter().find(|x| x.id == s.step).cloned());
        let status = s.state.as_str().to_string();
        let note = match (s.state, &def) {
            (StepState::Waiting, Some(st)) => match &st.schedule {
                crate::playbook::Schedule::At(due) => {
                    Some(format!("waits for {}", start_name(due.from)))
                }
                _ => None,
            },
            (StepState::Pending, Some(st)) => match &st.schedule {
                crate::playbook::Schedule::Every { expr, until, .. } => {
                    Some(format!("every `{expr}` until {}", until.as_str()))
                }
                _ => None,
            },
            _ => s.note.clone(),
        };
        let live = matches!(s.state, StepState::Pending | StepState::Waiting);
        rows.push((
            s.due_at,
            TimelineRow {
                at: s.due_at.map(show),
                regime: s.regime.clone(),
                step: s.step.clone(),
                what: def
                    .as_ref()
                    .map(|d| sched::Effect::of(&d.action).to_string())
                    .unwrap_or_default(),
                basis: def.and_then(|d| d.basis),
                status,
                left_secs: s
                    .due_at
                    .filter(|_| live)
                    .map(|t| t.as_second() - now.as_second()),
                late_secs: None,
                note,
            },
        ));
    }
    // regimes that apply but are not planned yet (no scheduler ran since
    // the incident opened): what the current playbooks would plan
    let facts = sched::facts_of(&detail.incident, &d, &sectors);
    let clocks = sched::clocks_of(&detail.incident, &d);
    let mut preview = false;
    if detail.incident.status.is_active() {
        for (p, steps) in sched::wanted_steps(&facts, &playbooks) {
            if plans.iter().any(|x| x.regime == p.regime) {
                continue;
            }
            preview = true;
            for st in steps {
                let due = sched::due_of(p, st, &clocks, now);
                rows.push((
                    due,
                    TimelineRow {
                        at: due.map(show),
                        regime: p.regime.clone(),
                        step: st.id.clone(),
                        what: sched::Effect::of(&st.action).to_string(),
                        basis: st.basis.clone(),
                        status: "preview".into(),
                        left_secs: due.map(|t| t.as_second() - now.as_second()),
                        late_secs: None,
                        note: None,
                    },
                ));
            }
        }
    }
    // past first, then coming; steps waiting for a clock last
    rows.sort_by_key(|(t, _)| (t.is_none(), *t));
    let rows: Vec<TimelineRow> = rows.into_iter().map(|(_, r)| r).collect();
    let mut out = io::stdout().lock();
    if o.json {
        let v = serde_json::json!({
            "incident": i.to_string(),
            "zone": zone_name,
            "now": show(now),
            "plans": plans,
            "steps": rows,
        });
        writeln!(out, "{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{i}  {}  ({}; times in {zone_name}, now {})",
        detail.incident.title,
        detail.incident.status.as_str(),
        show(now)
    )?;
    for p in &plans {
        writeln!(
            out,
            "  plan {} version {} (planned {} by {})",
            p.regime,
            p.version,
            show(p.planned_at),
            p.planned_by
        )?;
    }
    if plans.is_empty() && !preview {
        writeln!(
            out,
            "  no playbook applies (jurisdictions: {})",
            if facts.jurisdictions.is_empty() {
                "none known; the inventory's `subjects.jurisdictions` gives them".to_string()
            } else {
                facts.jurisdictions.join(", ")
            }
        )?;
    }
    writeln!(
        out,
        "  {:<24} {:<10} {:<24} {:<44} status",
        "when", "regime", "step", "what"
    )?;
    for r in &rows {
        let status = match (r.status.as_str(), r.left_secs) {
            ("pending" | "preview", Some(s)) if s >= 0 => {
                format!("{} (in {})", r.status, sched::human_span(s))
            }
            ("pending" | "preview", Some(s)) => {
                format!("{} (overdue by {})", r.status, sched::human_span(s))
            }
            _ => r.status.clone(),
        };
        let note = r
            .note
            .as_deref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {:<24} {:<10} {:<24} {:<44} {status}{note}",
            r.at.as_deref().unwrap_or("-"),
            r.regime,
            r.step,
            r.what
        )?;
    }
    if preview {
        writeln!(
            out,
            "  (preview: not planned yet; the daemon plans it on its next tick, or run `breachd schedule tick`)"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn start_name(s: crate::playbook::Start) -> String {
    match s {
        crate::playbook::Start::Clock(c) => c.as_str().to_string(),
        crate::playbook::Start::After(r) => format!("the {} deadline", r.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_a_span_back_from_now() {
        let now: jiff::Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_microsecond();
        for (arg, want) in [
            ("2026-03-10T05:00:00Z", at("2026-03-10T05:00:00Z")),
            ("90m", at("2026-03-10T10:30:00Z")),
            ("24h", at("2026-03-09T12:00:00Z")),
            ("7d", at("2026-03-03T12:00:00Z")),
            ("2w", at("2026-02-24T12:00:00Z")),
        ] {
            assert_eq!(since_micros(arg, now).unwrap(), want, "{arg}");
        }
        for bad in ["", "h", "7", "7y", "-3d", "yesterday", "1.5h"] {
            let e = since_micros(bad, now).unwrap_err().to_string();
            assert!(e.contains("RFC 3339") && e.contains("7d"), "{bad}: {e}");
        }
    }

    #[test]
    fn severity_names_the_enisa_bands() {
        assert_eq!(band("very-high").unwrap(), Band::VeryHigh);
        assert_eq!(band("HIGH").unwrap(), Band::High);
        let e = band("critical").unwrap_err().to_string();
        assert!(e.contains("low, medium, high, very_high"), "{e}");
    }
}
