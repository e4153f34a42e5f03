//! The `breachd` command line: `run`, `replay`, `check`, `incident`, `audit`, `schedule`. Parses arguments,
//! sets up breachd's own logging, and maps errors to exit codes. Everything
//! else lives in the stage modules.

mod assess;
mod check;
mod draft;
pub mod heap;
mod incident;
mod notify;
mod replay;
mod run;
mod schedule;
mod subjects;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "breachd",
    version,
    about = "Detects personal-data breaches in access logs and runs the response."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: tail the configured logs (embedded default without --config).
    Run(run::RunArgs),
    /// Run the detection path offline over files, gzip files or stdin (`-`), on event time.
    Replay(replay::ReplayArgs),
    /// Decide the notification obligations of a breach from a facts file (JSON out).
    Assess(assess::AssessArgs),
    /// Validate the config; report every problem with file, line and field.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Work on incidents: list, show, ack, contain, resolve, false-positive, note, assign, merge, split, severity.
    Incident(incident::IncidentArgs),
    /// The audit trail: verify the hash chain, or show it.
    Audit(incident::AuditArgs),
    /// Notifications: `test --channel NAME` sends a sample alert; `list`, `retry ID` work the outbox.
    Notify(notify::NotifyArgs),
    /// The playbook scheduler: run one tick, re-plan an incident, record a determination.
    Schedule(schedule::ScheduleArgs),
    /// Notices to regulators and data subjects: list, show, edit, approve (legal role).
    Draft(draft::DraftArgs),
    /// API tokens: `token hash` prints the SHA-256 of a token read from stdin.
    Token(token::TokenArgs),
}

pub fn main() -> ExitCode {
    heap::setup();
    let cli = Cli::parse();
    init_logging();
    if let Ok(v) = std::env::var("BREACHD_NOW") {
        tracing::warn!(
            now = %v,
            "BREACHD_NOW is set: the scheduler runs on a test clock; never set it in production"
        );
    }
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Replay(args) => replay::replay(args),
        Command::Check { config } => check::check(config.as_deref()),
        Command::Assess(args) => assess::assess(args),
        Command::Incident(args) => incident::incident(args),
        Command::Audit(args) => incident::audit(args),
        Command::Notify(args) => notify::notify(args),
        Command::Schedule(args) => schedule::schedule(args),
        Command::Draft(args) => draft::draft(args),
        Command::Token(args) => token::token(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("breachd: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// breachd's own log goes to stderr; `BREACHD_LOG` (or `RUST_LOG`) filters it.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("BREACHD_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Loads `--config FILE`, or the embedded default.
fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<crate::config::Config> {
    let loaded = match path {
        Some(p) => crate::config::Config::load(p),
        None => crate::config::Config::embedded_default(),
    };
    loaded.map_err(|e| anyhow::anyhow!("the config has problems:\n{e}"))
}

/// Peak resident set size of this process in bytes (Linux), for summaries.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The wall clock, read at the edges (the daemon's loop, the CLI).
///
/// **Test only:** `BREACHD_NOW` (RFC 3339) replaces it, so end-to-end tests
/// can move time instead of sleeping. Never set it in production: the
/// scheduler would fire steps at the wrong time.
pub fn now() -> jiff::Timestamp {
    std::env::var("BREACHD_NOW")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(jiff::Timestamp::now)
}

/// The config (unless only `--store` names the store) and the store file,
/// which must exist: the incident, audit and schedule commands work on one
/// the daemon or a replay made.
fn existing_store(
    config: Option<&std::path::Path>,
    store: Option<&std::path::Path>,
) -> anyhow::Result<(Option<crate::config::Config>, PathBuf)> {
    let config = match (config, store) {
        (None, Some(_)) => None,
        (c, _) => Some(load_config(c)?),
    };
    let path = match (store, &config) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(c)) => c.store_path.clone(),
        (None, None) => unreachable!("a config is loaded when no store is named"),
    };
    if !path.exists() {
        anyhow::bail!(
            "no store at {}; `breachd run` or `breachd replay --store FILE` creates one (or name it with --store / --config)",
            path.display()
        );
    }
    Ok((config, path))
}

/// Who acts: `--by`, else `$USER`, else `unknown`.
fn actor(by: Option<&str>) -> String {
    by.map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}
