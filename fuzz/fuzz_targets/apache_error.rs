//! Apache error-log lines: never a panic.
#![no_main]

use breachd::parse::apache_error::ApacheErrorParser;
use breachd::parse::LocalTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let local = LocalTime::new(jiff::tz::TimeZone::UTC, jiff::Timestamp::UNIX_EPOCH);
    let _ = ApacheErrorParser::new(local).parse(&line);
});
