//! breachd detects personal-data breaches in access logs and runs the response.
//!
//! The modules follow the data: [`source`] (tail files, checkpoints) →
//! [`parse`] (line → [`parse::Event`]) → [`pipeline`] (framing, bad input,
//! stats) → later stages. See ARCHITECTURE.md for the map.

pub mod api;
pub mod classify;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod detect;
pub mod incident;
pub mod notify;
pub mod parse;
pub mod pipeline;
pub mod playbook;
pub mod source;
pub mod store;
