//! Apache's error log (`[Sun Dec 04 04:47:44 2005] [notice] ...`): recognised
//! so that pointing breachd at it is not a flood of malformed lines, but it
//! records no client access, so every line is `Ignored`.

use super::{IgnoreReason, Malformed, Parsed};

/// Accepts the error log's `[Www Mmm dd hh:mm:ss[.frac] yyyy] [level...]` shape.
pub fn parse(line: &str) -> Parsed<'static> {
    let b = line.as_bytes();
    if b.is_empty() {
        return Parsed::Ignored(IgnoreReason::Blank);
    }
    let Some(close) = memchr::memchr(b']', b) else {
        return Parsed::Malformed(Malformed::Syntax);
    };
    let stamp = &b[1.min(b.len())..close];
    let ok = b[0] == b'['
        && stamp.len() >= 24
        && stamp[3] == b' '
        && super::time::month_from_abbr(&stamp[4..7]).is_some()
        && b.get(close + 1) == Some(&b' ')
        && b.get(close + 2) == Some(&b'[');
    if ok {
        Parsed::Ignored(IgnoreReason::NotAccessEvent)
    } else {
        Parsed::Malformed(Malformed::Syntax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_log_lines_are_not_access_events() {
        for line in [
            "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
            "[Wed Oct 11 14:32:52.123456 2023] [core:error] [pid 1234] [client 1.2.3.4:5678] AH00037: x",
        ] {
            assert_eq!(parse(line), Parsed::Ignored(IgnoreReason::NotAccessEvent), "{line}");
        }
        assert_eq!(
            parse("1.2.3.4 - - [x]"),
            Parsed::Malformed(Malformed::Syntax)
        );
    }
}
