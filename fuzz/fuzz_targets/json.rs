//! JSON lines: never a panic, with the app mapping and a nested one.
#![no_main]

use breachd::parse::json::{FieldKeys, JsonMapping, JsonParser, TimeFormat};
use breachd::parse::LocalTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let local = LocalTime::new(jiff::tz::TimeZone::UTC, jiff::Timestamp::UNIX_EPOCH);
    let _ = JsonParser::new(JsonMapping::app(), local.clone()).parse(&line);
    let nested = JsonMapping::new(FieldKeys {
        time: Some("t".into()),
        time_format: TimeFormat::UnixMillis,
        ip: Some("source.ip".into()),
        user: Some("a.b.c".into()),
        outcome: Some("a.outcome".into()),
        ..JsonMapping::app().keys().clone()
    });
    let _ = JsonParser::new(nested, local).parse(&line);
});
