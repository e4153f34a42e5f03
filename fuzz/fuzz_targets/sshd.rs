//! sshd lines: never a panic. Several lines per input, split at newlines, so
//! the parser's per-connection table is exercised across lines.
#![no_main]

use breachd::parse::sshd::SshdParser;
use breachd::parse::LocalTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let local = LocalTime::new(jiff::tz::TimeZone::UTC, jiff::Timestamp::UNIX_EPOCH);
    let mut p = SshdParser::new(local);
    for line in text.split('\n') {
        let _ = p.parse(line);
    }
});
