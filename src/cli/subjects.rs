//! `breachd notify subjects send|status --draft ID`: per-subject notices
//! from an approved data-subject draft (see `notify::subjects`). `send`
//! starts or resumes a campaign and runs until nothing is left to send;
//! `status` shows where it stands. A refusal (no approval, no campaign,
//! no `[notify.subjects]`) exits 1 with what to do; a store problem exits 2.
//!
//! Sending runs on the wall clock, not `BREACHD_NOW`: the rate and the
//! leases are about real seconds, not the legal clock.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::notify::subjects::{self, CampaignError, Progress};
use crate::notify::Channel;

#[derive(Debug, clap::Args)]
pub struct SubjectsArgs {
    #[command(subcommand)]
    command: SubjectsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SubjectsCommand {
    /// Start or resume sending draft ID to each affected subject (idempotent:
    /// a subject is enqueued once, whatever the number of runs).
    Send {
        /// The approved data-subject draft (`breachd draft list`); repeat it
        /// to name one approved draft per language (the first is the
        /// campaign's, and the text of subjects in no named language).
        #[arg(long, required = true)]
        draft: Vec<i64>,
        /// The affected subject ids, one per line, instead of the ids stored
        /// with the draft's incident (`breachd incident subjects ID`); later
        /// runs add any new ids.
        #[arg(long, value_name = "FILE")]
        subjects: Option<PathBuf>,
        /// Config file: its store, `[notify.subjects]` and channels.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Who starts it (recorded in the audit trail); defaults to $USER.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Stop waiting when the next retry is further away than this many
        /// seconds (the daemon or a later run sends it).
        #[arg(long, default_value_t = 60)]
        patience: u64,
    },
    /// Where draft ID's campaign stands: total, sent, pending, dead, unknown.
    Status {
        #[arg(long)]
        draft: i64,
        /// Config file: its store.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The store file itself (overrides the config's).
        #[arg(long, value_name = "FILE")]
        store: Option<PathBuf>,
        /// JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub fn subjects(args: SubjectsArgs) -> anyhow::Result<ExitCode> {
    let out = match args.command {
        SubjectsCommand::Send {
            draft,
            subjects,
            config,
            by,
            patience,
        } => send(draft, subjects, config, by, patience),
        SubjectsCommand::Status {
            draft,
            config,
            store,
            json,
        } => status(draft, config, store, json),
    };
    match out {
        Err(CampaignError::Refused(m)) => {
            eprintln!("breachd: {m}");
            Ok(ExitCode::from(1))
        }
        Err(CampaignError::Directory(e)) => {
            eprintln!("breachd: {e}");
            Ok(ExitCode::from(1))
        }
        Err(CampaignError::Store(e @ crate::incident::StoreError::Refused(_))) => {
            eprintln!("breachd: {e}");
            Ok(ExitCode::from(1))
        }
        Err(CampaignError::Store(e)) => Err(e.into()),
        Ok(code) => Ok(code),
    }
}

fn refused(m: impl std::fmt::Display) -> CampaignError {
    CampaignError::Refused(m.to_string())
}

fn send(
    drafts: Vec<i64>,
    ids_file: Option<PathBuf>,
    config: Option<PathBuf>,
    by: Option<String>,
    patience: u64,
) -> Result<ExitCode, CampaignError> {
    let (config, path) = super::existing_store(config.as_deref(), None).map_err(refused)?;
    let config = config.ok_or_else(|| refused("a config is needed"))?;
    let settings = &config.notify;
    let spec = settings.subjects.as_ref().ok_or_else(|| {
        refused("no [notify.subjects] in the config: name the subject directory (kind, path) and the channel")
    })?;
    let ids = match &ids_file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| refused(format!("cannot read {}: {e}", f.display())))?;
            let ids = subjects::read_ids(&text);
            if ids.is_empty() {
                return Err(refused(format!(
                    "{} lists no subject ids (one per line)",
                    f.display()
                )));
            }
            Some(ids)
        }
        None => None,
    };
    let channel_spec = settings
        .channel(&spec.channel)
        .ok_or_else(|| refused(format!("no channel `{}`", spec.channel)))?;
    let channel = Channel::open(channel_spec).map_err(refused)?;
    let incidents = crate::store::open(&path)?;
    let mut store = crate::store::open_campaign(&path)?;
    let actor = super::actor(by.as_deref());
    let now = jiff::Timestamp::now();
    let (campaign, enqueued) = subjects::prepare(
        &mut *store,
        &*incidents,
        settings,
        &drafts,
        ids.as_deref(),
        &actor,
        now,
    )?;
    let draft = campaign.draft;
    let (done, p) = subjects::deliver(
        &mut *store,
        &channel,
        spec,
        channel_spec.timeout,
        &settings.backoff,
        &campaign,
        Duration::from_secs(patience),
        &jiff::Timestamp::now,
    )?;
    subjects::log_progress(&campaign, &p, spec.rate);
    println!(
        "draft {draft} ({}): {} subjects; {} sent ({} in this run), {} pending, {} dead, {} unknown",
        campaign.incident,
        p.total,
        p.sent,
        done.sent,
        p.pending + p.sending + p.waiting,
        p.dead,
        p.unknown
    );
    print_unknown(&p);
    if enqueued.locale_fallbacks > 0 {
        println!(
            "{} subject(s) prefer a language no named draft is in, and got draft {draft}'s text (name an approved draft in their language with another --draft)",
            enqueued.locale_fallbacks
        );
    }
    if enqueued.bad_rows > 0 {
        println!(
            "{} directory row(s) could not be used (the log names each, with its line and field)",
            enqueued.bad_rows
        );
    }
    if !p.finished() {
        println!("some notices wait for a retry; the daemon sends them, or run this command again");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_unknown(p: &Progress) {
    if p.unknown > 0 {
        println!(
            "no usable address in the directory for: {}",
            p.unknown_ids.join(", ")
        );
    }
}

fn status(
    draft: i64,
    config: Option<PathBuf>,
    store: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode, CampaignError> {
    let (_, path) = super::existing_store(config.as_deref(), store.as_deref()).map_err(refused)?;
    let store = crate::store::open_campaign(&path)?;
    let campaign = store.campaign(draft)?.ok_or_else(|| {
        refused(format!(
            "draft {draft} has no per-subject campaign; start one with `breachd notify subjects send --draft {draft} --subjects FILE`"
        ))
    })?;
    let p = store.progress(draft)?;
    if json {
        let v = serde_json::json!({
            "draft": draft,
            "incident": campaign.incident.to_string(),
            "channel": campaign.channel,
            "started_at": campaign.started_at.to_string(),
            "started_by": campaign.started_by,
            "texts": campaign.texts,
            "total": p.total,
            "waiting": p.waiting,
            "pending": p.pending,
            "sending": p.sending,
            "sent": p.sent,
            "dead": p.dead,
            "unknown": p.unknown,
            "unknown_ids": p.unknown_ids,
            "finished": p.finished(),
        });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "draft {draft} ({}) through `{}`, started {} by {}",
        campaign.incident, campaign.channel, campaign.started_at, campaign.started_by
    );
    println!(
        "total {}  sent {}  pending {}  sending {}  waiting {}  dead {}  unknown {}",
        p.total, p.sent, p.pending, p.sending, p.waiting, p.dead, p.unknown
    );
    print_unknown(&p);
    Ok(ExitCode::SUCCESS)
}
