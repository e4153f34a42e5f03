//! `breachd notify test --channel NAME`: sends a sample on-call alert through
//! one configured channel, so an admin can see their SMTP, webhook, Slack or
//! PagerDuty setup work end to end. Exit 1 when the send fails.

use std::path::PathBuf;
use std::process::ExitCode;

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
}

pub fn notify(args: NotifyArgs) -> anyhow::Result<ExitCode> {
    let NotifyCommand::Test {
        channel,
        config,
        locale,
    } = args.command;
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
