//! Source: where lines come from. Files tailed through rotation with durable
//! checkpoints (`file`, `checkpoint`), and the finite inputs of `replay`
//! (files, gzip, stdin) in `input`. Framing bytes into lines is `framer`.
//!
//! Invariant: a line is handed on only when complete, and a checkpoint never
//! records an offset past a line that was not handed on.

pub mod checkpoint;
pub mod file;
pub mod framer;
pub mod input;
pub mod merge;
