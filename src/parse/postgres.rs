//! PLACEHOLDER (being written): PostgreSQL log with pgaudit.
use super::{LocalTime, Malformed, Parsed};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgOptions {}

#[derive(Debug)]
pub struct PgParser {}

impl PgParser {
    pub fn new(_o: PgOptions, _l: LocalTime) -> PgParser {
        PgParser {}
    }
    pub fn parse<'a>(&mut self, _line: &'a str) -> Parsed<'a> {
        Parsed::Malformed(Malformed::Syntax)
    }
}
