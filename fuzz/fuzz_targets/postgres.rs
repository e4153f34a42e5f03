//! PostgreSQL lines: never a panic. The first line of the input is the
//! `log_line_prefix`, the rest are log lines read with it and with the default.
#![no_main]

use breachd::parse::postgres::{PgOptions, PgParser};
use breachd::parse::LocalTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let prefix = lines.next().unwrap_or_default().to_string();
    let local = LocalTime::new(jiff::tz::TimeZone::UTC, jiff::Timestamp::UNIX_EPOCH);
    let mut custom = PgParser::new(
        PgOptions {
            log_line_prefix: prefix,
        },
        local.clone(),
    );
    let mut default = PgParser::new(PgOptions::default(), local);
    for line in lines {
        let _ = custom.parse(line);
        let _ = default.parse(line);
    }
});
