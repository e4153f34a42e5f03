//! `breachd check`: build the config without running it.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

pub fn check(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = match path {
        Some(p) => Config::load(p),
        None => Config::embedded_default(),
    };
    let loaded = loaded.and_then(|c| {
        let problems = c.check_templates();
        if problems.is_empty() {
            Ok(c)
        } else {
            Err(crate::config::ConfigErrors(problems))
        }
    });
    match loaded {
        Ok(c) => {
            println!(
                "{}: ok ({} source{}, data in {}, {} playbook{})",
                path.map_or("<embedded default config>".into(), |p| p
                    .display()
                    .to_string()),
                c.sources.len(),
                if c.sources.len() == 1 { "" } else { "s" },
                c.data_dir.display(),
                c.playbooks.len(),
                if c.playbooks.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!(
                "{} problem{} found",
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::from(1))
        }
    }
}
