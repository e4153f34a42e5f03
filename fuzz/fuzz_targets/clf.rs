//! nginx/apache access-log lines: never a panic.
#![no_main]

use breachd::parse::clf::ClfParser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let _ = ClfParser::new().parse(&line);
});
