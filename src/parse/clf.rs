//! nginx/apache access logs: `combined` and `common`.
use super::{Malformed, Parsed};

#[derive(Debug, Default)]
pub struct ClfParser {}

impl ClfParser {
    pub fn new() -> ClfParser {
        ClfParser {}
    }
    pub fn parse<'a>(&mut self, _line: &'a str) -> Parsed<'a> {
        Parsed::Malformed(Malformed::Syntax)
    }
}
