//! `breachd schedule ...`: the playbook scheduler by hand. `tick` runs what
//! the daemon runs every second (plan, fire due steps, dispatch) once, for
//! an operator catching up without the daemon and for tests; `replan` moves
//! an incident to the current playbooks (audited); `determine` records when
//! an incident was determined and whether it is material (the SEC clock).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::incident::{IncidentId, StoreError};
use crate::playbook::schedule::{human_span, Determination, Scheduler};

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Config file: its store and playbooks (the shipped ones without it).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The store file itself (overrides the config's).
    #[arg(long, global = true, value_name = "FILE")]
    store: Option<PathBuf>,
    /// JSON for scripts instead of lines for people.
    #[arg(long, global = true)]
    json: bool,
    /// Who acts (recorded in the audit trail); defaults to $USER.
    #[arg(long, global = true, value_name = "NAME")]
    by: Option<String>,
    #[command(subcommand)]
    command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
enum ScheduleCommand {
    /// Plans new or changed incidents and fires the steps due now, once.
    Tick,
    /// Moves an incident's plans to the current playbooks; steps that fired stay fired.
    Replan {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Records when the incident was determined (and whether it is material): the SEC/NYDFS clock.
    Determine {
        id: String,
        /// When it was determined (RFC 3339); now without it.
        #[arg(long)]
        at: Option<String>,
        /// The incident is material (SEC), significant (NIS2) or major (DORA).
        #[arg(long)]
        material: bool,
        #[arg(long)]
        reason: String,
    },
}

pub fn schedule(args: ScheduleArgs) -> anyhow::Result<ExitCode> {
    let (config, path) = super::existing_store(args.config.as_deref(), args.store.as_deref())?;
    let sectors = config
        .as_ref()
        .map(|c| c.sectors.clone())
        .unwrap_or_default();
    // fired notify/escalate steps go to the outbox, and this tick delivers
    // what is due (with the config's channels; without a config, the
    // built-in file channel of the embedded default)
    let notify_config = match &config {
        Some(c) => c.clone(),
        None => {
            let mut c = super::load_config(None)?;
            c.store_path = path.clone();
            if let Some(dir) = path.parent() {
                c.data_dir = dir.to_path_buf();
            }
            c
        }
    };
    let playbooks = match config {
        Some(c) => c.playbooks,
        None => crate::playbook::shipped(None).map_err(|e| {
            anyhow::anyhow!(
                "the shipped playbooks do not compile: {}",
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?,
    };
    let incidents = crate::store::open(&path)?;
    let mut store = crate::store::open_schedule(&path)?;
    let actor = super::actor(args.by.as_deref());
    let now = super::now();
    let (dispatch, mut notifier) = crate::notify::courier::open(&notify_config, None)?;
    let mut scheduler = Scheduler::new(playbooks)
        .with_sectors(sectors)
        .with_dispatch(Box::new(dispatch));
    let mut out = io::stdout().lock();
    let id = |s: &str| s.parse::<IncidentId>().map_err(StoreError::Refused);
    let r: Result<(), StoreError> = (|| {
        match args.command {
            ScheduleCommand::Tick => {
                let r = scheduler.tick(&*incidents, &mut *store, now)?;
                let mut outbox = crate::store::open_notify(&path)?;
                let d = notifier.pass(&*incidents, &mut *outbox, now)?;
                if args.json {
                    let mut v = serde_json::to_value(&r).unwrap_or_default();
                    v["delivered"] = serde_json::json!({
                        "sent": d.sent, "retrying": d.retrying, "dead": d.dead, "drafts": d.drafts,
                    });
                    writeln!(out, "{v}").map_err(io_err)?;
                    return Ok(());
                }
                for (i, regime) in &r.planned {
                    writeln!(out, "planned {i} {regime}").map_err(io_err)?;
                }
                for f in &r.fired {
                    let late = if f.firing.late {
                        format!(" (late by {})", human_span(f.firing.late_secs))
                    } else {
                        String::new()
                    };
                    writeln!(
                        out,
                        "fired {} {}/{}: {}{late}",
                        f.firing.incident, f.firing.regime, f.firing.step, f.firing.effect
                    )
                    .map_err(io_err)?;
                }
                if r.cancelled > 0 {
                    writeln!(out, "cancelled {} step(s) of closed incidents", r.cancelled)
                        .map_err(io_err)?;
                }
                writeln!(out, "{} planned, {} fired", r.planned.len(), r.fired.len())
                    .map_err(io_err)?;
                writeln!(
                    out,
                    "notifications: {} sent, {} to retry, {} dead; {} draft(s) written",
                    d.sent, d.retrying, d.dead, d.drafts
                )
                .map_err(io_err)?;
            }
            ScheduleCommand::Replan { id: i, reason } => {
                let i = id(&i)?;
                if reason.trim().is_empty() {
                    return Err(StoreError::Refused(
                        "give the reason for re-planning".into(),
                    ));
                }
                let moved = scheduler.replan(&*incidents, &mut *store, i, &actor, &reason, now)?;
                let msg = format!(
                    "{i} re-planned on the current playbooks: {}",
                    moved.join(", ")
                );
                done(&mut out, args.json, &msg, i)?;
            }
            ScheduleCommand::Determine {
                id: i,
                at,
                material,
                reason,
            } => {
                let i = id(&i)?;
                let at = match at {
                    Some(s) => s.parse::<jiff::Timestamp>().map_err(|e| {
                        StoreError::Refused(format!(
                            "--at `{s}` is not an RFC 3339 time ({e}); write e.g. 2026-11-05T10:00:00-05:00"
                        ))
                    })?,
                    None => now,
                };
                let d = Determination {
                    determined_at: Some(at),
                    material,
                };
                store.determine(i, &d, &actor, &reason, now)?;
                let msg = format!(
                    "{i} determined at {at}{}",
                    if material { " (material)" } else { "" }
                );
                done(&mut out, args.json, &msg, i)?;
            }
        }
        Ok(())
    })();
    match r {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ (StoreError::Refused(_) | StoreError::NotFound(_))) => {
            eprintln!("breachd: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

fn done(out: &mut impl Write, json: bool, what: &str, i: IncidentId) -> Result<(), StoreError> {
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

fn io_err(e: io::Error) -> StoreError {
    StoreError::Other {
        path: "<stdout>".into(),
        detail: e.to_string(),
    }
}
