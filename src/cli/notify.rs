//! `breachd notify test --channel NAME`: sends a sample on-call alert through
//! one configured channel, so an admin can see their SMTP, webhook, Slack or
//! PagerDuty setup work end to end. Exit 1 when the send fails.
//! `breachd notify list [--state S] [--json]` shows the outbox;
//! `breachd notify retry ID` puts a dead message back (audited).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::incident::{IncidentId, StoreError};
use crate::notify::outbox::{Filter, State};
use crate::notify::{Channel, Locale, Notice, Notification};

#[derive(Debug, clap::Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    command: NotifyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum NotifyCommand {
    /// Send a sample on-call alert (incident INC-0042) through a channel.
    Test {
        /// The `[[notify.channel]]` name.
        #[arg(long)]
        channel: String,
        #[arg(long)]
        config: Option<PathBuf>,
        /// `en` or `zh-CN` (default: `[notify] locale`).
        #[arg(long)]
        locale: Option<String>,
    },
    /// The outbox: every notification, its state, attempts and last error.
    List {
        /// Only messages in this state: pending, sending, sent, dead.
        #[arg(long)]
        state: Option<String>,
        /// Only this incident's messages.
        #[arg(long)]
        incident: Option<String>,
        #[command(flatten)]
        at: StoreArgs,
        /// JSON lines for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Puts a dead message back to be sent now (attempts start again; audited).
    Retry {
        id: i64,
        #[command(flatten)]
        at: StoreArgs,
        /// Who acts (recorded in the audit trail); defaults to $USER.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
}

/// Which store a command works on.
#[derive(Debug, clap::Args)]
struct StoreArgs {
    #[arg(long)]
    config: Option<PathBuf>,
    /// The store file itself (overrides the config's).
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
}

pub fn notify(args: NotifyArgs) -> anyhow::Result<ExitCode> {
    let (channel, config, locale) = match args.command {
        NotifyCommand::Test {
            channel,
            config,
            locale,
        } => (channel, config, locale),
        NotifyCommand::List {
            state,
            incident,
            at,
            json,
        } => return list(state, incident, at, json),
        NotifyCommand::Retry { id, at, by } => return retry(id, at, by),
    };
    let config = super::load_config(config.as_deref())?;
    let settings = &config.notify;
    let Some(spec) = settings.channel(&channel) else {
        let names: Vec<&str> = settings.channels.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "no channel `{channel}` in the config; configured: {}",
            if names.is_empty() {
                "none (add a [[notify.channel]])".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let locale = match locale {
        Some(l) => Locale::parse(&l)
            .ok_or_else(|| anyhow::anyhow!("unknown locale `{l}`; use en or zh-CN"))?,
        None => settings.locale,
    };
    let mut notice = Notice::sample(locale);
    notice.title = format!("TEST from breachd: {}", notice.title);
    if !settings.organisation.name.is_empty() {
        notice.organisation = settings.organisation.clone();
    }
    if !settings.dpo.name.is_empty() {
        notice.dpo = settings.dpo.clone();
    }
    let key = format!("test/{channel}/{}", jiff::Timestamp::now().as_millisecond());
    let templates = config
        .templates()
        .map_err(|e| anyhow::anyhow!("the templates have problems:\n{e}"))?;
    let n = Notification::alert(&templates, &notice, &key)?;
    let sent = Channel::open(spec).and_then(|c| c.send(&n));
    match sent {
        Ok(r) => {
            println!("sent a test alert through `{channel}`: {}", r.detail);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn list(
    state: Option<String>,
    incident: Option<String>,
    at: StoreArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let state = match state {
        Some(s) => Some(State::from_name(&s).ok_or_else(|| {
            anyhow::anyhow!("unknown state `{s}`; use pending, sending, sent or dead")
        })?),
        None => None,
    };
    let incident = match incident {
        Some(i) => Some(
            i.parse::<IncidentId>()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        None => None,
    };
    let (_, path) = super::existing_store(at.config.as_deref(), at.store.as_deref())?;
    let store = crate::store::open_outbox(&path)?;
    let rows = store.messages(&Filter {
        state,
        incident,
        channel: None,
    })?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        for m in &rows {
            writeln!(out, "{}", serde_json::to_string(m)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<5} {:<8} {:>8} {:<12} {:<10} {:<9} {:<25} KEY / LAST ERROR",
        "ID", "STATE", "ATTEMPTS", "CHANNEL", "KIND", "INCIDENT", "NEXT / SENT"
    )?;
    for m in &rows {
        let when = match (m.state, m.sent_at) {
            (State::Sent, Some(t)) => t.to_string(),
            (State::Dead, _) => "-".to_string(),
            _ => m.next_attempt.to_string(),
        };
        writeln!(
            out,
            "{:<5} {:<8} {:>8} {:<12} {:<10} {:<9} {:<25} {}{}",
            m.id,
            m.state.as_str(),
            m.attempts,
            m.channel,
            m.kind.as_str(),
            m.incident
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into()),
            when,
            m.key,
            m.last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )?;
    }
    let counts = store.counts()?;
    let summary: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    writeln!(out, "{}", summary.join(", "))?;
    Ok(ExitCode::SUCCESS)
}

fn retry(id: i64, at: StoreArgs, by: Option<String>) -> anyhow::Result<ExitCode> {
    let (_, path) = super::existing_store(at.config.as_deref(), at.store.as_deref())?;
    let mut store = crate::store::open_outbox(&path)?;
    let actor = super::actor(by.as_deref());
    match store.retry(id, &actor, super::now()) {
        Ok(()) => {
            println!("notification {id} will be sent again (retried by {actor})");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (StoreError::Refused(_) | StoreError::NotFound(_))) => {
            eprintln!("breachd: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}
