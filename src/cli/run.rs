//! `breachd run`: the daemon.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config file; the embedded default (watch ./logs/*.log) without it.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(args.config.as_deref())?;
    crate::daemon::run(&config)?;
    Ok(ExitCode::SUCCESS)
}
