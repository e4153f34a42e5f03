//! `breachd draft ...`: notices to regulators and data subjects waiting for
//! a person with the legal role. `list` and `show` read them; `edit`
//! replaces a draft's text from a file (or stdin with `-`); `approve`
//! records the approval with its reason and enqueues the notice to the
//! channels serving its recipient. Edits and approvals are audited with the
//! actor (`--by`, else $USER); the rules live in `notify::draft`, so the
//! HTTP API applies the same ones.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::incident::{IncidentId, StoreError};
use crate::notify::draft::{self, Draft};

#[derive(Debug, Args)]
pub struct DraftArgs {
    /// Config file: its store, channels and `[incident] legal` people.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The store file itself (overrides the config's).
    #[arg(long, global = true, value_name = "FILE")]
    store: Option<PathBuf>,
    /// JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    /// Who acts (recorded in the audit trail); defaults to $USER.
    #[arg(long, global = true, value_name = "NAME")]
    by: Option<String>,
    #[command(subcommand)]
    command: DraftCommand,
}

#[derive(Debug, Subcommand)]
enum DraftCommand {
    /// Drafts, with their status (pending_approval, approved, sent).
    List {
        #[arg(long)]
        incident: Option<String>,
    },
    /// One draft's text and history.
    Show { id: i64 },
    /// Replaces a draft's text with the contents of FILE (`-`: stdin).
    Edit {
        id: i64,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Approves a draft: its notice is queued to the recipient's channels.
    Approve {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

pub fn draft(args: DraftArgs) -> anyhow::Result<ExitCode> {
    let (config, path) = super::existing_store(args.config.as_deref(), args.store.as_deref())?;
    let settings = config
        .as_ref()
        .map(|c| c.notify.clone())
        .unwrap_or_default();
    let legal = config.as_ref().map(|c| c.legal.clone()).unwrap_or_default();
    let mut store = crate::store::open_notify(&path)?;
    let actor = super::actor(args.by.as_deref());
    let now = super::now();
    let mut out = std::io::stdout().lock();
    let r: Result<(), StoreError> = (|| {
        match args.command {
            DraftCommand::List { incident } => {
                let incident = match incident {
                    Some(i) => Some(i.parse::<IncidentId>().map_err(StoreError::Refused)?),
                    None => None,
                };
                let drafts = store.drafts(incident)?;
                if args.json {
                    for d in &drafts {
                        writeln!(out, "{}", serde_json::to_string(d).unwrap_or_default())
                            .map_err(io_err)?;
                    }
                    return Ok(());
                }
                writeln!(
                    out,
                    "{:<5} {:<9} {:<17} {:<34} {:<22} FILE",
                    "ID", "INCIDENT", "STATUS", "TEMPLATE", "RECIPIENT"
                )
                .map_err(io_err)?;
                for d in &drafts {
                    writeln!(
                        out,
                        "{:<5} {:<9} {:<17} {:<34} {:<22} {}",
                        d.id,
                        d.incident.to_string(),
                        d.status,
                        d.template,
                        d.recipient,
                        d.path.as_deref().unwrap_or("(not written yet)")
                    )
                    .map_err(io_err)?;
                }
            }
            DraftCommand::Show { id } => {
                let d = store.draft(id)?.ok_or_else(|| {
                    StoreError::Refused(format!("no draft {id}; `breachd draft list` shows them"))
                })?;
                if args.json {
                    writeln!(out, "{}", serde_json::to_string(&d).unwrap_or_default())
                        .map_err(io_err)?;
                } else {
                    show(&mut out, &d).map_err(io_err)?;
                }
            }
            DraftCommand::Edit { id, file } => {
                let mut text = String::new();
                let read = if file.as_os_str() == "-" {
                    std::io::stdin().read_to_string(&mut text).map(drop)
                } else {
                    std::fs::read_to_string(&file).map(|t| text = t)
                };
                read.map_err(|e| {
                    StoreError::Refused(format!("cannot read {}: {e}", file.display()))
                })?;
                draft::edit(&mut *store, &legal, id, &text, &actor, now)?;
                writeln!(out, "draft {id} edited by {actor}").map_err(io_err)?;
            }
            DraftCommand::Approve { id, reason } => {
                let incidents = crate::store::open(&path)?;
                let queued = draft::approve(
                    &mut *store,
                    &*incidents,
                    &settings,
                    &legal,
                    id,
                    &actor,
                    &reason,
                    now,
                )?;
                if args.json {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"ok": true, "draft": id, "outbox": queued})
                    )
                    .map_err(io_err)?;
                } else if queued.is_empty() {
                    writeln!(out, "draft {id} approved by {actor}; no channel serves its recipient, so nothing was queued (add [notify.routes])").map_err(io_err)?;
                } else {
                    writeln!(
                        out,
                        "draft {id} approved by {actor}; queued as notification(s) {}",
                        queued
                            .iter()
                            .map(|i| i.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                    .map_err(io_err)?;
                }
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

fn show(out: &mut impl Write, d: &Draft) -> std::io::Result<()> {
    writeln!(
        out,
        "draft {} — {} {} to {} ({})",
        d.id, d.incident, d.template, d.recipient, d.status
    )?;
    writeln!(out, "created: {}", d.created_at)?;
    if let (Some(by), Some(at)) = (&d.edited_by, d.edited_at) {
        writeln!(out, "edited: {at} by {by}")?;
    }
    if let (Some(by), Some(at)) = (&d.approved_by, d.approved_at) {
        writeln!(
            out,
            "approved: {at} by {by}: {}",
            d.approval_reason.as_deref().unwrap_or("")
        )?;
    }
    if let Some(p) = &d.path {
        writeln!(out, "file: {p}")?;
    }
    writeln!(out)?;
    match (&d.subject, &d.body) {
        (Some(s), Some(b)) => writeln!(out, "Subject: {s}\n\n{b}"),
        _ => writeln!(
            out,
            "(no text yet: the daemon or `breachd schedule tick` renders it)"
        ),
    }
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Other {
        path: "<stdout>".into(),
        detail: e.to_string(),
    }
}
