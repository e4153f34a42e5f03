//! Sigma signatures for web access logs.
//!
//! Loads SigmaHQ rules of the `webserver` and `proxy` log sources, compiles the
//! detection subset they use (field modifiers `contains`, `startswith`,
//! `endswith`, `all`, `re`, `cidr`, `base64`, `base64offset`, `windash`,
//! `wide`/`utf16*`, `exists`, `gt`/`gte`/`lt`/`lte`, `cased`; wildcards; keyword
//! lists; `null`; conditions with `and`/`or`/`not`, parentheses, `1 of` and
//! `all of`) and matches them against [`Event`]s. It is not a Sigma backend:
//! aggregations, correlations, placeholders and field references are refused
//! with a [`SigmaWarning`], never a panic, and the rule is skipped.
//!
//! **Fields.** W3C/IIS and proxy names map onto the event: `cs-method` →
//! action; `cs-uri`/`c-uri` → the request target as logged; `cs-uri-stem` →
//! the path before `?`; `cs-uri-query`/`c-uri-query` → the text after `?`;
//! `c-uri-extension` → the path's extension; `sc-status` → status; `c-ip` →
//! ip; `cs-user-agent`/`c-useragent` → user agent; `cs-referer` → referer;
//! `cs-host`/`r-dns` → host; `cs-username` → user; `sc-bytes` → bytes out.
//! SigmaHQ's web rules put whole paths in `cs-uri-query` (`/owa/auth/...`)
//! and query strings in `cs-uri-stem` (`/access/set?param=...`), so every URI
//! field also matches against the whole target; the part proper keeps anchored
//! values (`cs-uri-query|startswith: cmd=`) and `null` (no query) meaningful.
//! A field events do not carry (`cs-cookie`, `dst_ip`...) disables the
//! selections that test it when that can only make the rule fire less; under
//! `not`, or when nothing else could fire, the rule is skipped.
//!
//! **Values.** Strings match ASCII case-insensitively (`cased` for exact
//! case); `re` is case-sensitive unless `(?i)` or `|i`. `null` and `''` both
//! mean the field is absent or empty: parsers log `-` and an empty field alike
//! as absent. Numbers compare as their decimal text (`sc-status: 200`).
//! Keywords (values without a field) are searched in the request as logged:
//! method, target (raw and decoded), status and user agent (not the referer,
//! which is the previous page's URL, not this request's).
//!
//! **Encoding.** Attackers percent-encode and rules are written against both
//! raw and decoded URLs, so a target holding `%` is also decoded once (path
//! and query apart) into a reused buffer, and URI fields and keywords match if
//! either view does. `+` is not decoded.
//!
//! **Speed.** For each rule, the loader picks literals one of which must
//! occur for it to fire (for `a and b` the more selective side, for `a or b`
//! both; values anchored at a field's start or end keep the field's NUL
//! separator, so `startswith: '_'` is selective). All of them go into one
//! ASCII case-insensitive Aho-Corasick DFA, run over the request text
//! (method, target, decoded target, status, host, user); hits for the user
//! agent and referer are cached per distinct value, as logs repeat them.
//! Only rules whose literal occurred, and the few with none (a lone regex,
//! an empty-field test), are evaluated. After warm-up nothing allocates.

mod compile;
mod condition;
mod eval;
mod pattern;

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

use crate::parse::Event;
use compile::{Cond, Detection, Field, FieldTest, Selection, Unsupported};
use eval::{Ctx, Uri};

/// A rule's index in its [`SigmaSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(pub u32);

/// Sigma's rule level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A loaded rule: what it says about itself, and its compiled detection.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    pub id: String,
    pub title: String,
    pub level: Level,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
    /// The file the rule came from (the name given to [`SigmaSet::from_str`]).
    pub file: PathBuf,
    detection: Detection,
}

/// Something the loader could not honour: a skipped rule, a rule loaded with
/// a selection disabled, or a file that is not a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmaWarning {
    pub file: PathBuf,
    /// YAML errors carry the line (1-based).
    pub line: Option<usize>,
    pub rule_id: Option<String>,
    pub title: Option<String>,
    /// The construct at fault: `modifier expand`, `field cs-cookie`, `yaml`...
    pub construct: String,
    pub message: String,
    /// True when the rule (or file) was not loaded; false when it loaded without a selection.
    pub skipped: bool,
}

impl fmt::Display for SigmaWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(t) = self.title.as_deref().or(self.rule_id.as_deref()) {
            write!(f, ": rule {t:?}")?;
        }
        write!(
            f,
            ": {}: {} ({})",
            self.construct,
            self.message,
            if self.skipped {
                "skipped"
            } else {
                "loaded without it"
            }
        )
    }
}

/// The compiled rules, their warnings, and the prefilter that matches them.
#[derive(Debug)]
pub struct SigmaSet {
    /// Tells this set's cached agent hits from another's in a shared [`Scratch`].
    id: u64,
    rules: Vec<SigmaRule>,
    warnings: Vec<SigmaWarning>,
    seen: usize,
    index: Index,
}

/// Loads every rule under `paths` (directories are walked recursively for
/// `*.yml`/`*.yaml`, in name order); problems become warnings.
pub fn load_paths(paths: &[PathBuf]) -> SigmaSet {
    let mut b = Loader::default();
    for p in paths {
        b.path(p, true);
    }
    b.finish()
}

/// Loads rules given as text (name, YAML) — the shipped ones, compiled into
/// the binary — and then every rule under `paths`, into one set.
pub fn load_all(embedded: &[(&str, &str)], paths: &[PathBuf]) -> SigmaSet {
    let mut b = Loader::default();
    for (name, text) in embedded {
        b.text(text, Path::new(name));
    }
    for p in paths {
        b.path(p, true);
    }
    b.finish()
}

impl SigmaSet {
    /// Loads the rule (or YAML stream) `yaml` as if read from a file named `name`.
    pub fn from_str(yaml: &str, name: &str) -> SigmaSet {
        let mut b = Loader::default();
        b.text(yaml, Path::new(name));
        b.finish()
    }

    /// The loaded rules; a [`RuleId`] indexes this slice.
    pub fn rules(&self) -> &[SigmaRule] {
        &self.rules
    }

    pub fn rule(&self, id: RuleId) -> Option<&SigmaRule> {
        self.rules.get(id.0 as usize)
    }

    pub fn warnings(&self) -> &[SigmaWarning] {
        &self.warnings
    }

    /// How many rule files were examined (loaded, skipped or unreadable).
    pub fn seen(&self) -> usize {
        self.seen
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rules evaluated on every event because they have no literal to
    /// prefilter on (a lone regex, an empty-field test).
    pub fn unfiltered(&self) -> usize {
        self.index.always.len()
    }

    /// Replaces `out` with the rules that fire on `ev`, in rule order. Uses a
    /// per-thread [`Scratch`]; [`SigmaSet::matches_with`] takes one explicitly.
    pub fn matches(&self, ev: &Event<'_>, out: &mut Vec<RuleId>) {
        thread_local! {
            static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
        }
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.matches_with(&mut s, ev, out),
            Err(_) => self.matches_with(&mut Scratch::default(), ev, out),
        });
    }

    /// [`SigmaSet::matches`] with caller-owned buffers.
    pub fn matches_with(&self, scratch: &mut Scratch, ev: &Event<'_>, out: &mut Vec<RuleId>) {
        out.clear();
        if self.rules.is_empty() {
            return;
        }
        let Scratch {
            scan,
            decoded,
            stamps,
            generation,
            cands,
            agents,
        } = scratch;
        let method = ev.action.as_deref().unwrap_or_default().as_bytes();
        let raw = Uri::split(ev.resource.as_deref().unwrap_or_default().as_bytes());
        let decoded = memchr::memchr(b'%', raw.target).map(|_| eval::decode_into(&raw, decoded));
        let mut status_buf = [0u8; 5];
        let status = ev.status.map_or(&[][..], |s| itoa(s, &mut status_buf));

        if stamps.len() < self.rules.len() {
            stamps.resize(self.rules.len(), 0);
        }
        *generation = generation.wrapping_add(1);
        if *generation == 0 {
            stamps.iter_mut().for_each(|s| *s = 0);
            *generation = 1;
        }
        let mut marks = Marks {
            index: &self.index,
            stamps,
            gen: *generation,
            cands,
        };
        marks.cands.clear();
        if let Some(ac) = &self.index.ac {
            // The request, each field between NULs so no literal spans two
            // fields and anchored literals carry their NUL.
            scan.clear();
            scan.push(0);
            for part in [
                method,
                raw.target,
                decoded.map_or(&[][..], |d| d.target),
                status,
                ev.host.as_deref().unwrap_or_default().as_bytes(),
                ev.user.as_deref().unwrap_or_default().as_bytes(),
            ] {
                scan.extend_from_slice(part);
                scan.push(0);
            }
            for m in ac.find_overlapping_iter(scan.as_slice()) {
                marks.pattern(m.pattern().as_usize());
            }
            // User agents and referers repeat: their hits are cached per value.
            if agents.is_empty() {
                agents.resize_with(AGENT_SLOTS, AgentHits::default);
            }
            for (tag, value) in [(1u8, &ev.user_agent), (2u8, &ev.referer)] {
                let value = value.as_deref().unwrap_or_default().as_bytes();
                if value.is_empty() {
                    continue;
                }
                let Some(entry) = agents.get_mut(agent_slot(tag, value)) else {
                    continue;
                };
                if entry.set != self.id || entry.tag != tag || entry.agent != value {
                    entry.set = self.id;
                    entry.tag = tag;
                    entry.agent.clear();
                    entry.agent.extend_from_slice(value);
                    entry.patterns.clear();
                    scan.clear();
                    scan.push(0);
                    scan.extend_from_slice(value);
                    scan.push(0);
                    for m in ac.find_overlapping_iter(scan.as_slice()) {
                        entry.patterns.push(m.pattern().as_usize() as u32);
                    }
                }
                for &p in &entry.patterns {
                    marks.pattern(p as usize);
                }
            }
        }
        let Marks {
            stamps, gen, cands, ..
        } = marks;
        for &r in &self.index.always {
            if stamps[r as usize] != gen {
                cands.push(r);
            }
        }
        if cands.is_empty() {
            return;
        }
        cands.sort_unstable();
        let ctx = Ctx {
            ev,
            method,
            raw,
            decoded,
            status,
        };
        for &r in cands.iter() {
            if ctx.fires(&self.rules[r as usize].detection) {
                out.push(RuleId(r));
            }
        }
    }
}

/// Buffers [`SigmaSet::matches_with`] reuses from event to event.
#[derive(Debug, Default)]
pub struct Scratch {
    scan: Vec<u8>,
    decoded: Vec<u8>,
    stamps: Vec<u32>,
    generation: u32,
    cands: Vec<u32>,
    agents: Vec<AgentHits>,
}

/// The patterns one user agent (`tag` 1) or referer (2) holds, for the set `set`.
#[derive(Debug, Default)]
struct AgentHits {
    set: u64,
    tag: u8,
    agent: Vec<u8>,
    patterns: Vec<u32>,
}

/// Direct-mapped cache size: logs carry few distinct agents and referers at a time.
const AGENT_SLOTS: usize = 256;

fn agent_slot(tag: u8, ua: &[u8]) -> usize {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (ua.len() as u64) << 8 | u64::from(tag);
    let mut chunks = ua.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    (h >> 56) as usize % AGENT_SLOTS
}

/// Marks the rules of hit patterns as candidates, once per event.
struct Marks<'a> {
    index: &'a Index,
    stamps: &'a mut Vec<u32>,
    gen: u32,
    cands: &'a mut Vec<u32>,
}

impl Marks<'_> {
    #[inline]
    fn pattern(&mut self, p: usize) {
        let (Some(&from), Some(&to)) = (self.index.starts.get(p), self.index.starts.get(p + 1))
        else {
            return;
        };
        for &r in self
            .index
            .consumers
            .get(from as usize..to as usize)
            .unwrap_or_default()
        {
            if let Some(stamp) = self.stamps.get_mut(r as usize) {
                if *stamp != self.gen {
                    *stamp = self.gen;
                    self.cands.push(r);
                }
            }
        }
    }
}

fn itoa(n: u16, buf: &mut [u8; 5]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// The prefilter: literal → rules that need it.
#[derive(Debug, Default)]
struct Index {
    ac: Option<AhoCorasick>,
    /// `consumers[starts[p]..starts[p + 1]]` are the rules of pattern `p`.
    starts: Vec<u32>,
    consumers: Vec<u32>,
    /// Rules without a sound literal, evaluated on every event.
    always: Vec<u32>,
}

/// Literals one of which must occur for a detection to fire; `score` is the
/// shortest (a proxy for how often it occurs), larger is better.
struct Pre {
    needles: Vec<Vec<u8>>,
    score: usize,
}

impl Pre {
    fn never() -> Pre {
        Pre {
            needles: Vec::new(),
            score: usize::MAX,
        }
    }

    fn union(mut self, other: Pre) -> Pre {
        self.needles.extend(other.needles);
        self.score = self.score.min(other.score);
        self
    }
}

fn best(options: impl Iterator<Item = Option<Pre>>) -> Option<Pre> {
    options.flatten().max_by_key(|p| p.score)
}

fn all_of(mut options: impl Iterator<Item = Option<Pre>>) -> Option<Pre> {
    options.try_fold(Pre::never(), |acc, p| Some(acc.union(p?)))
}

fn pre_test(t: &FieldTest) -> Option<Pre> {
    if !t.field.scanned() {
        return None;
    }
    // a method or status literal is in nearly every event
    let weak = matches!(t.field, Field::Method | Field::Status);
    if t.all {
        best(t.values.iter().map(|v| pre_value(v, t.field, weak)))
    } else {
        all_of(t.values.iter().map(|v| pre_value(v, t.field, weak)))
    }
}

fn pre_value(variants: &[compile::Matcher], field: Field, weak: bool) -> Option<Pre> {
    all_of(variants.iter().map(|m| {
        m.needle(field).map(|n| Pre {
            // a NUL anchor is worth a few letters of selectivity
            score: if weak {
                1
            } else {
                n.len() + 2 * n.iter().filter(|&&b| b == 0).count()
            },
            needles: vec![n],
        })
    }))
}

fn pre_sel(s: &Selection) -> Option<Pre> {
    all_of(
        s.alternatives
            .iter()
            .map(|alt| best(alt.iter().map(pre_test))),
    )
}

fn pre_cond(det: &Detection, c: &Cond) -> Option<Pre> {
    match c {
        Cond::Sel(i) => det.selections.get(*i as usize).and_then(pre_sel),
        Cond::And(v) => best(v.iter().map(|x| pre_cond(det, x))),
        Cond::Or(v) => all_of(v.iter().map(|x| pre_cond(det, x))),
        Cond::Const(false) => Some(Pre::never()),
        Cond::Not(_) | Cond::Const(true) => None,
    }
}

fn build_index(rules: &[SigmaRule], warnings: &mut Vec<SigmaWarning>) -> Index {
    let mut patterns: Vec<Vec<u8>> = Vec::new();
    let mut by_pattern: std::collections::HashMap<Vec<u8>, usize> = Default::default();
    let mut lists: Vec<Vec<u32>> = Vec::new();
    let mut always = Vec::new();
    for (r, rule) in rules.iter().enumerate() {
        let r = r as u32;
        match pre_cond(&rule.detection, &rule.detection.cond) {
            None => always.push(r),
            Some(pre) => {
                for n in pre.needles {
                    let key = n.to_ascii_lowercase();
                    let p = *by_pattern.entry(key.clone()).or_insert_with(|| {
                        patterns.push(key);
                        lists.push(Vec::new());
                        patterns.len() - 1
                    });
                    if lists[p].last() != Some(&r) {
                        lists[p].push(r);
                    }
                }
            }
        }
    }
    let ac = if patterns.is_empty() {
        None
    } else {
        match AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
        {
            Ok(ac) => Some(ac),
            Err(e) => {
                warnings.push(SigmaWarning {
                    file: PathBuf::new(),
                    line: None,
                    rule_id: None,
                    title: None,
                    construct: "prefilter".into(),
                    message: format!("{e}; every rule is evaluated on every event"),
                    skipped: false,
                });
                return Index {
                    always: (0..rules.len() as u32).collect(),
                    ..Index::default()
                };
            }
        }
    };
    let mut starts = vec![0u32];
    let mut consumers = Vec::new();
    for l in lists {
        consumers.extend(l);
        starts.push(consumers.len() as u32);
    }
    Index {
        ac,
        starts,
        consumers,
        always,
    }
}

/// Accumulates rules and warnings from files and texts.
#[derive(Default)]
struct Loader {
    rules: Vec<SigmaRule>,
    warnings: Vec<SigmaWarning>,
    seen: usize,
}

/// The log sources whose fields map onto access-log events.
const CATEGORIES: [&str; 2] = ["webserver", "proxy"];

impl Loader {
    fn warn(&mut self, file: &Path, meta: Option<(&str, &str)>, u: Unsupported, skipped: bool) {
        self.warnings.push(SigmaWarning {
            file: file.to_path_buf(),
            line: None,
            rule_id: meta.map(|m| m.0.to_string()).filter(|s| !s.is_empty()),
            title: meta.map(|m| m.1.to_string()).filter(|s| !s.is_empty()),
            construct: u.construct,
            message: u.message,
            skipped,
        });
    }

    fn path(&mut self, p: &Path, explicit: bool) {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => {
                    self.warn(p, None, compile::unsupported("file", e.to_string()), true);
                    return;
                }
            };
            entries.sort();
            for e in entries {
                self.path(&e, false);
            }
            return;
        }
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if !explicit && !matches!(ext, "yml" | "yaml") {
            return;
        }
        match std::fs::read_to_string(p) {
            Ok(text) => self.text(&text, p),
            Err(e) => {
                self.seen += 1;
                self.warn(p, None, compile::unsupported("file", e.to_string()), true);
            }
        }
    }

    fn text(&mut self, text: &str, file: &Path) {
        self.seen += 1;
        let mut docs = Vec::new();
        for de in serde_yaml_ng::Deserializer::from_str(text) {
            match Value::deserialize(de) {
                Ok(v) => docs.push(v),
                Err(e) => {
                    let loc = e.location();
                    self.warnings.push(SigmaWarning {
                        file: file.to_path_buf(),
                        line: loc.as_ref().map(|l| l.line()),
                        rule_id: None,
                        title: None,
                        construct: "yaml".into(),
                        message: match loc {
                            Some(l) => format!("line {} column {}: {e}", l.line(), l.column()),
                            None => e.to_string(),
                        },
                        skipped: true,
                    });
                    return;
                }
            }
        }
        match docs.as_slice() {
            [] | [Value::Null] => self.warn(
                file,
                None,
                compile::unsupported("empty file", "no rule in the file"),
                true,
            ),
            [Value::Mapping(m)] => self.rule(m, file),
            [_] => self.warn(
                file,
                None,
                compile::unsupported("rule shape", "the document is not a map"),
                true,
            ),
            _ => self.warn(
                file,
                None,
                compile::unsupported(
                    "multi-document rule collection",
                    "rule collections (action: global) are not supported",
                ),
                true,
            ),
        }
    }

    fn rule(&mut self, m: &Mapping, file: &Path) {
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        let list = |k: &str| -> Vec<String> {
            match m.get(k) {
                Some(Value::Sequence(v)) => v
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                Some(Value::String(x)) => vec![x.clone()],
                _ => Vec::new(),
            }
        };
        let id = s("id").unwrap_or_default();
        let title = s("title").unwrap_or_default();
        let meta = Some((id.as_str(), title.as_str()));
        if m.contains_key("correlation") || s("type").is_some_and(|t| t == "correlation") {
            return self.warn(
                file,
                meta,
                compile::unsupported("correlation", "correlation rules are not supported"),
                true,
            );
        }
        let logsource = match m.get("logsource") {
            Some(Value::Mapping(l)) => l,
            _ => {
                return self.warn(
                    file,
                    meta,
                    compile::unsupported("logsource", "the rule has no logsource"),
                    true,
                )
            }
        };
        let ls = |k: &str| {
            logsource
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
        };
        let (category, product, service) = (ls("category"), ls("product"), ls("service"));
        if !category.as_deref().is_some_and(|c| CATEGORIES.contains(&c)) {
            let what = match (&category, &service, &product) {
                (Some(c), _, _) => format!("logsource category {c}"),
                (None, Some(s), _) => format!("logsource service {s}"),
                (None, None, Some(p)) => format!("logsource product {p}"),
                _ => "logsource".to_string(),
            };
            return self.warn(
                file,
                meta,
                compile::unsupported(what, "only webserver and proxy rules apply to access-log events (service rules read error logs)"),
                true,
            );
        }
        let det = match m.get("detection") {
            Some(Value::Mapping(d)) => d,
            _ => {
                return self.warn(
                    file,
                    meta,
                    compile::unsupported("detection", "the rule has no detection map"),
                    true,
                )
            }
        };
        let compiled = match compile::compile(det) {
            Ok(c) => c,
            Err(u) => return self.warn(file, meta, u, true),
        };
        for u in compiled.degraded {
            self.warn(file, meta, u, false);
        }
        let level = match s("level") {
            Some(l) => Level::parse(&l).unwrap_or_else(|| {
                self.warn(
                    file,
                    meta,
                    compile::unsupported("level", format!("unknown level {l:?}, taken as medium")),
                    false,
                );
                Level::Medium
            }),
            None => Level::Medium,
        };
        self.rules.push(SigmaRule {
            id,
            title,
            level,
            status: s("status"),
            tags: list("tags"),
            falsepositives: list("falsepositives"),
            category,
            product,
            service,
            file: file.to_path_buf(),
            detection: compiled.detection,
        });
    }

    fn finish(mut self) -> SigmaSet {
        let index = build_index(&self.rules, &mut self.warnings);
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        SigmaSet {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            rules: self.rules,
            warnings: self.warnings,
            seen: self.seen,
            index,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::path::Path;
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;

    /// The corpus twice: with the prefilter, and with every rule evaluated on every event.
    fn sets() -> &'static (SigmaSet, SigmaSet) {
        static SETS: OnceLock<(SigmaSet, SigmaSet)> = OnceLock::new();
        SETS.get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/sigma");
            let filtered = load_paths(std::slice::from_ref(&root));
            let mut brute = load_paths(&[root]);
            brute.index = Index {
                always: (0..brute.rules.len() as u32).collect(),
                ..Index::default()
            };
            (filtered, brute)
        })
    }

    fn assert_same(ev: &Event<'_>) {
        let (filtered, brute) = sets();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        filtered.matches(ev, &mut a);
        brute.matches(ev, &mut b);
        assert_eq!(a, b, "prefilter lost or added a rule on {ev:?}");
    }

    #[test]
    fn prefilter_agrees_with_evaluating_every_rule_on_a_real_log() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/corpus/elastic-examples/apache_logs");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut p = crate::parse::clf::ClfParser::new();
        for l in text.lines() {
            if let crate::parse::Parsed::Event(ev) = p.parse(l) {
                assert_same(&ev);
            }
        }
    }

    /// Pieces of attack text the rules look for, to build events that hit.
    const PIECES: &[&str] = &[
        "/",
        "?",
        "=",
        "_",
        "%",
        "%2f",
        "%2F..",
        "..%2f",
        "../",
        "union select",
        "${jndi:ldap:/",
        "%24%7bjndi:",
        ".git/",
        "/owa/",
        "/ecp/",
        "autodiscover.json",
        "/powershell",
        "Microsoft BITS/",
        "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
        "sqlmap/",
        "MSIE",
        "M",
        ".exe",
        ".jsp",
        "cmd=",
        "/irj/",
        "=whoami",
        "<script>",
        "ipfs.io/",
        "@x.com",
        "POST",
        "200",
        "api.telegram.org",
        ".hopto.org",
        "1",
        "XMRig ",
        "/wp-content/plugins/wp2shell_",
        "logoimagehandler.ashx",
        "clazz",
        "/SetupWizard.aspx/",
        "rest_route=/batch/v1",
        "%00",
        " ",
        "\u{e9}",
        "Q2hyb21l",
        "anonymous",
        "$",
    ];

    fn soup() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(
            proptest::collection::vec(proptest::sample::select(PIECES), 0..8)
                .prop_map(|v| v.concat()),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn prefilter_agrees_with_evaluating_every_rule(
            method in proptest::option::of(proptest::sample::select(&["GET", "POST", "OPTIONS", "get"][..])),
            target in soup(), ua in soup(), referer in soup(), host in soup(), user in soup(),
            status in proptest::option::of(proptest::sample::select(&[200u16, 301, 401, 404, 500, 503, 207][..])),
        ) {
            let ev = Event {
                action: method.map(Cow::Borrowed),
                resource: target.map(Cow::Owned),
                user_agent: ua.map(Cow::Owned),
                referer: referer.map(Cow::Owned),
                host: host.map(Cow::Owned),
                user: user.map(Cow::Owned),
                status,
                ..Event::default()
            };
            assert_same(&ev);
        }
    }

    #[test]
    fn cached_agent_hits_belong_to_their_set() {
        let a = SigmaSet::from_str(
            "title: A\nlogsource: {category: webserver}\ndetection: {s: {cs-user-agent|contains: evil}, condition: s}\n",
            "a.yml",
        );
        let b = SigmaSet::from_str(
            "title: B\nlogsource: {category: webserver}\ndetection: {s: {cs-user-agent|contains: good}, condition: s}\n",
            "b.yml",
        );
        let ev = Event {
            user_agent: Some(Cow::Borrowed("evil-bot")),
            ..Event::default()
        };
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        a.matches_with(&mut scratch, &ev, &mut out);
        assert_eq!(out, vec![RuleId(0)]);
        b.matches_with(&mut scratch, &ev, &mut out);
        assert!(out.is_empty());
        a.matches_with(&mut scratch, &ev, &mut out);
        assert_eq!(out, vec![RuleId(0)]);
    }
}
