//! `breachd assess FILE`: the obligation engine on a facts file (DESIGN.md's
//! assess contract), printed as JSON. Exit 1 when the facts have problems.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::playbook::{self, facts::Facts};

#[derive(Debug, clap::Args)]
pub struct AssessArgs {
    /// The facts file (YAML or JSON).
    file: PathBuf,
    /// Use the playbooks of this config's `[playbooks]` section.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Use the playbooks in this directory instead of the shipped ones.
    #[arg(long, conflicts_with = "config")]
    playbooks: Option<PathBuf>,
}

pub fn assess(args: AssessArgs) -> anyhow::Result<ExitCode> {
    let facts = match Facts::load(&args.file) {
        Ok(f) => f,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    let playbooks = match (&args.playbooks, &args.config) {
        (Some(dir), _) => playbook::load_dir(dir, None).map_err(problems)?,
        (None, Some(_)) => super::load_config(args.config.as_deref())?.playbooks,
        (None, None) => playbook::shipped(None).map_err(problems)?,
    };
    let assessment = playbook::assess::assess(&facts, &playbooks);
    println!("{}", serde_json::to_string_pretty(&assessment)?);
    Ok(ExitCode::SUCCESS)
}

fn problems(errors: Vec<playbook::PlaybookError>) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    anyhow::anyhow!("the playbooks have problems:\n{}", lines.join("\n"))
}
