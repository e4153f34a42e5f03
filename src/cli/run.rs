//! `breachd run`: the daemon.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let _config = super::load_config(args.config.as_deref())?;
    anyhow::bail!("the daemon is being written")
}
