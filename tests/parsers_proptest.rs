//! No parser panics, whatever the line: arbitrary bytes (as a log reader
//! would hand them over after lossy UTF-8 conversion), and strings built from
//! each format's own alphabet and fragments, which reach deeper branches.

use breachd::parse::apache_error::ApacheErrorParser;
use breachd::parse::json::{JsonMapping, JsonParser};
use breachd::parse::nginx_error::NginxErrorParser;
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

const APACHE_ERROR: &[&str] = &[
    "[Thu Jul 11 01:21:41 2013] ",
    "[Sat Jul 20 21:37:32.266605 2013] ",
    "[Sun Dec  4 04:47:44 2005] ",
    "[Sun Feb 30 04:47:44 2005] ",
    "Feb 15 16:23:00 srv httpd[22034]: ",
    "[error] ",
    "[auth_basic:error] ",
    "[:error] ",
    "[evasive20:error] ",
    "[pid 17512:tid 140123079128832] ",
    "[pid 1] ",
    "[client ",
    "[remote ",
    "127.0.0.1",
    "127.0.0.1:51386",
    "[2001:db8::1]:5",
    "2001:db8::1",
    "]",
    "] ",
    "[",
    "(13)Permission denied: ",
    "(",
    ")",
    "AH01618: ",
    "AH",
    "Digest: ",
    "user ",
    "`",
    "'",
    " in realm `",
    " not found",
    ": ",
    ": authentication failure for \"",
    ": authorization failure for \"",
    "\": Password Mismatch",
    ": password mismatch",
    "Authorization of user ",
    " to access ",
    " failed, reason: ",
    "client denied by server configuration",
    "client used wrong authentication scheme",
    "invalid nonce ",
    "File does not exist:",
    "script '",
    "' not found or unable to stat",
    "stderr from ",
    "script not found or unable to stat",
    "Invalid URI in request ",
    "invalid URI path (",
    "Invalid method in request ",
    "request failed: URI too long",
    "access to ",
    " denied",
    "ModSecurity: ",
    "Access denied",
    "[uri \"",
    "\"]",
    "Hostname x provided via SNI",
    "Got error 'Primary script unknown'",
    "ignoring function definition attempt",
    ", referer: ",
    "GET / HTTP/1.1",
    "/p",
    " ",
    "\u{e9}",
    "\u{1F600}",
];

const NGINX_ERROR: &[&str] = &[
    "2012/04/09 11:53:29 ",
    "2012/02/30 11:53:29 ",
    "[error] ",
    "[warn] ",
    "2865#0: ",
    "2865#0:",
    "*66647 ",
    "*",
    "user \"",
    "\" was not found in \"",
    "\": password mismatch",
    "PAM: user '",
    "' - not authenticated",
    "access forbidden by rule",
    "limiting requests, excess: 1.8 by zone \"one\"",
    "delaying request",
    "open() \"/x\" failed (2: No such file or directory)",
    "SSL_do_handshake() failed (SSL: x) while SSL handshaking",
    "client sent invalid request",
    ", client: ",
    "192.0.43.10",
    "2001:db8::1",
    ", server: ",
    "www.myhost.com",
    ", request: \"",
    "GET / HTTP/1.1",
    ", host: \"",
    ", referrer: \"",
    "\"",
    ", ",
    ": ",
    " ",
    "\u{e9}",
    "\u{1F600}",
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
        ApacheErrorParser::new(local()).parse(&line);
        NginxErrorParser::new(local()).parse(&line);
    }

    #[test]
    fn apache_error_survives_its_own_alphabet(line in pieces(APACHE_ERROR)) {
        ApacheErrorParser::new(local()).parse(&line);
    }

    #[test]
    fn nginx_error_survives_its_own_alphabet(line in pieces(NGINX_ERROR)) {
        NginxErrorParser::new(local()).parse(&line);
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
