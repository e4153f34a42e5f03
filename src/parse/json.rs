//! PLACEHOLDER (being written): JSON lines with a field mapping.
use super::{LocalTime, Malformed, Parsed};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMapping {}

impl JsonMapping {
    pub fn app() -> JsonMapping {
        JsonMapping {}
    }
}

#[derive(Debug)]
pub struct JsonParser {}

impl JsonParser {
    pub fn new(_m: JsonMapping, _l: LocalTime) -> JsonParser {
        JsonParser {}
    }
    pub fn parse<'a>(&mut self, _line: &'a str) -> Parsed<'a> {
        Parsed::Malformed(Malformed::Syntax)
    }
}
