//! No parser panics, whatever the line: arbitrary bytes (as a log reader
//! would hand them over after lossy UTF-8 conversion), and strings built from
//! each format's own alphabet and fragments, which reach deeper branches.

use breachd::parse::json::{JsonMapping, JsonParser};
use breachd::parse::postgres::{PgOptions, PgParser};
use breachd::parse::sshd::SshdParser;
use breachd::parse::LocalTime;
use proptest::prelude::*;

fn local() -> LocalTime {
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").expect("tz database");
    LocalTime::new(tz, "2024-06-01T00:00:00Z".parse().unwrap())
}

/// Lines made of a format's own pieces, in any order and number.
fn pieces(alphabet: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..24).prop_map(|v| v.concat())
}

const SSHD: &[&str] = &[
    "Mar 10 11:43:00 ",
    "Feb 29 ",
    "Jan  1 00:00:00 ",
    "2024-03-10T11:43:00.123456+02:00 ",
    "<38>",
    "<38>1 ",
    "host ",
    "sshd[",
    "123",
    "]: ",
    "[sshd]",
    "sshd: ",
    "- ",
    "[x a=\"]\\\"\"] ",
    "Failed ",
    "Accepted ",
    "password ",
    "publickey ",
    "for ",
    "invalid user ",
    "from ",
    " from ",
    "1.2.3.4",
    "::ffff:1.2.3.4",
    "2001:db8::1",
    " port ",
    "22",
    " ssh2",
    ": ",
    "[preauth]",
    " [preauth]",
    "error: ",
    "fatal: ",
    "PAM: ",
    "Authentication failure ",
    "pam_unix(sshd:auth): authentication failure; ",
    "rhost=",
    "user=",
    "Invalid user ",
    "User ",
    " not allowed because ",
    "Connection closed by ",
    "authenticating user ",
    "Disconnecting ",
    "Received disconnect from ",
    ":11: ",
    "message repeated 2 times: [ ",
    "]",
    "ROOT LOGIN REFUSED FROM ",
    "refused connect from ",
    "(",
    ")",
    "Connection from ",
    "kex_exchange_identification: ",
    "SSH: Server;Remote: ",
    "-",
    ";",
    "\u{e9}",
    "\u{1F600}",
    " ",
    "  ",
    "\t",
    "\"",
    "'",
];

const PG: &[&str] = &[
    "2024-03-10 11:43:00.123 ",
    "2024-03-10 11:43:00 ",
    "UTC ",
    "+02 ",
    "-0530 ",
    "CET ",
    "[4242] ",
    "[",
    "]",
    " ",
    "alice",
    "@",
    "crm",
    "[unknown]",
    "LOG:  ",
    "FATAL:  ",
    "ERROR:  ",
    "STATEMENT:  ",
    "AUDIT: ",
    "SESSION,",
    "OBJECT,",
    "1,",
    "READ,",
    "SELECT,",
    "TABLE,",
    "public.customers,",
    ",",
    "\"",
    "\"\"",
    "select * from ",
    "(",
    ")",
    "<not logged>",
    "password authentication failed for user ",
    "no pg_hba.conf entry for host ",
    "\"1.2.3.4\", user \"x\"",
    "role \"",
    "\" does not exist",
    "permission denied for table ",
    "relation \"",
    "connection authorized: user=",
    "%",
    "1710070980.123 ",
    "\u{e9}",
    "\u{1F600}",
    "\t",
];

const JSON: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u00e9",
    "\\ud83d",
    "\\n",
    "null",
    "true",
    "1",
    "-1",
    "1.5e3",
    "1e400",
    "18446744073709551616",
    "\"ts\"",
    "\"2026-03-10T00:00:12.036+02:00\"",
    "\"2026-03-10T00:00:12\"",
    "\"ip\"",
    "\"1.2.3.4\"",
    "\"[::1]:80\"",
    "\"status\"",
    "200",
    "\"subjects\"",
    "\"records\"",
    "\"user\"",
    "\"source\"",
    "\"a\"",
    " ",
    "\u{e9}",
];

fn pg_prefixes() -> impl Strategy<Value = String> {
    pieces(&[
        "%m", "%t", "%n", "%p", "%u", "%d", "%h", "%r", "%a", "%l", "%c", "%s", "%v", "%x", "%e",
        "%q", "%%", "%-10u", "%5p", "%", " ", "[", "]", "@", ":", "=",
    ])
}

fn nested_mapping() -> JsonMapping {
    serde_json::from_str(
        r#"{"time":"ts","time_format":"unix_millis","ip":"source.ip","user":"a.b.c","subjects":"subjects",
            "outcome":"a.outcome","status":"status"}"#,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn no_parser_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let line = String::from_utf8_lossy(&bytes);
        SshdParser::new(local()).parse(&line);
        PgParser::new(PgOptions::default(), local()).parse(&line);
        JsonParser::new(JsonMapping::app(), local()).parse(&line);
        JsonParser::new(nested_mapping(), local()).parse(&line);
    }

    #[test]
    fn sshd_survives_its_own_alphabet(lines in prop::collection::vec(pieces(SSHD), 1..8)) {
        // One parser for all lines: the connection table carries over.
        let mut p = SshdParser::new(local());
        for line in &lines {
            p.parse(line);
        }
    }

    #[test]
    fn postgres_survives_its_own_alphabet(prefix in pg_prefixes(), line in pieces(PG)) {
        PgParser::new(PgOptions::default(), local()).parse(&line);
        PgParser::new(PgOptions { log_line_prefix: prefix }, local()).parse(&line);
    }

    #[test]
    fn json_survives_its_own_alphabet(line in pieces(JSON)) {
        JsonParser::new(JsonMapping::app(), local()).parse(&line);
        JsonParser::new(nested_mapping(), local()).parse(&line);
    }
}
