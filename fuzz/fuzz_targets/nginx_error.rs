//! nginx error-log lines: never a panic.
#![no_main]

use breachd::parse::nginx_error::NginxErrorParser;
use breachd::parse::LocalTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let local = LocalTime::new(jiff::tz::TimeZone::UTC, jiff::Timestamp::UNIX_EPOCH);
    let _ = NginxErrorParser::new(local).parse(&line);
});
