//! `breachd token hash|new`: the SHA-256 that `[[api.token]]` holds. A token
//! is read from stdin, never from the command line, where `ps` and shell
//! history would keep it.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Reads a token from stdin (one line) and prints its SHA-256 for `[[api.token]] sha256`.
    Hash,
    /// Makes a new random token: prints it (give it to its holder) and the `[[api.token]]` entry.
    New {
        /// The holder's name (the actor in the audit trail).
        #[arg(long)]
        name: String,
        /// oncall, legal or admin.
        #[arg(long)]
        role: String,
    },
}

pub fn token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TokenCommand::Hash => {
            let mut line = String::new();
            io::stdin().lock().read_line(&mut line)?;
            if line.trim().is_empty() {
                eprintln!(
                    "breachd: no token on stdin; pipe it in, e.g. `breachd token hash < token.txt`"
                );
                return Ok(ExitCode::from(1));
            }
            println!("{}", crate::api::config::hash_token(&line));
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::New { name, role } => {
            if crate::api::Role::from_name(&role).is_none() {
                eprintln!(
                    "breachd: unknown role `{role}`; use one of: {}",
                    crate::api::Role::NAMES.join(", ")
                );
                return Ok(ExitCode::from(1));
            }
            let mut bytes = [0u8; 32];
            io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
            let token = crate::incident::audit::hex(&bytes);
            let mut out = io::stdout().lock();
            writeln!(
                out,
                "token (give it to {name}; it is not stored anywhere): {token}"
            )?;
            writeln!(out)?;
            writeln!(out, "[[api.token]]")?;
            writeln!(out, "name = {}", toml::Value::String(name))?;
            writeln!(out, "role = \"{role}\"")?;
            writeln!(
                out,
                "sha256 = \"{}\"",
                crate::api::config::hash_token(&token)
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
