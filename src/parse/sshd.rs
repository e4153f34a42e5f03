//! PLACEHOLDER (being written): sshd in syslog format.
use super::{LocalTime, Malformed, Parsed};

#[derive(Debug)]
pub struct SshdParser {}

impl SshdParser {
    pub fn new(_l: LocalTime) -> SshdParser {
        SshdParser {}
    }
    pub fn parse<'a>(&mut self, _line: &'a str) -> Parsed<'a> {
        Parsed::Malformed(Malformed::Syntax)
    }
}
