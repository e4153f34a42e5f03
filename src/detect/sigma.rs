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
//! separator, so `startswith: '_'` is selective; a regex gives the literals
//! every match of it contains, when a small conservative reading of its
//! source finds some). Each part of the request (method, target with its
//! decoded view, status, host, user, user agent, referer) is scanned apart,
//! by an ASCII case-insensitive Aho-Corasick automaton of the literals that
//! can lie in it (keywords lie in the method, target, status and agent); a
//! part no rule reads is not looked at. Logs repeat these values, so a
//! part's value is scanned once and the rules it makes candidates are
//! cached, per part, in a direct-mapped cache keyed by the value itself when
//! it is short (16 bytes or fewer) and by a seeded hash of it otherwise; on
//! benign traffic an event costs a key and a compare per part. Targets carry
//! ids and miss the cache most often, so theirs is a DFA (fastest to run);
//! the other parts hit it, so theirs are contiguous NFAs (a fraction of the
//! build time). A part's views are walked through its automaton one byte
//! at a time, as one text, without being copied into one. Rules with
//! no literal that read one part (a regex with no literal to read, an empty
//! user agent) are evaluated once per distinct value of it and cached the
//! same way; the rest with no literal are evaluated on every event. Only
//! candidates are evaluated on the event itself. After warm-up nothing
//! allocates.

mod compile;
mod condition;
mod eval;
mod pattern;

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous;
use aho_corasick::{dfa, Anchored, MatchKind};
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
    /// prefilter on and read more than one part of the event.
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
        let index = &self.index;
        if index.watched == 0 && index.always.is_empty() {
            return;
        }
        let Scratch {
            decoded,
            cands,
            seen,
            seeds,
        } = scratch;
        if seen.len() != SEEN_SLOTS {
            seen.clear();
            seen.resize_with(SEEN_SLOTS, Seen::default);
        }
        cands.clear();
        // One test per part, in line, not a loop over the watched ones: over
        // a loop, the compiler read every part's value (and wrote out the
        // status) ahead of it, on every event.
        macro_rules! probe {
            ($part:expr, $value:expr) => {
                if index.watched & $part.bit() != 0 {
                    let value: &[u8] = $value;
                    // no literal occurs in an empty part; only a rule of its own can fire on it
                    if !value.is_empty() || index.own & $part.bit() != 0 {
                        let (key, slot) = seeds.key($part, value);
                        if let Some(entry) = seen.get_mut(slot) {
                            if entry.key != key || entry.set != self.id {
                                self.fill(entry, $part, value, ev, decoded);
                                entry.key = key;
                            }
                            if !entry.rules.is_empty() {
                                cands.extend_from_slice(&entry.rules);
                            }
                        }
                    }
                }
            };
        }
        probe!(Part::Method, eval::opt(&ev.action));
        probe!(Part::Target, eval::opt(&ev.resource));
        let mut status_buf = [0u8; 5];
        probe!(
            Part::Status,
            ev.status
                .map_or(&[][..], |s| eval::itoa(s, &mut status_buf))
        );
        probe!(Part::Host, eval::opt(&ev.host));
        probe!(Part::User, eval::opt(&ev.user));
        probe!(Part::UserAgent, eval::opt(&ev.user_agent));
        probe!(Part::Referer, eval::opt(&ev.referer));
        if cands.is_empty() && index.always.is_empty() {
            return;
        }
        cands.extend_from_slice(&index.always);
        cands.sort_unstable();
        cands.dedup();
        let ctx = Ctx::new(ev, decoded, &mut status_buf);
        for &r in cands.iter() {
            if ctx.fires(&self.rules[r as usize].detection) {
                out.push(RuleId(r));
            }
        }
    }

    /// Makes `entry` hold the rules that `value`, as the event's `part`, makes
    /// candidates: those one of whose literals it holds (between NULs, so
    /// anchored literals carry their NUL; a target also in its decoded view),
    /// and the part's own rules that fire on it.
    #[inline(never)]
    fn fill(
        &self,
        entry: &mut Seen,
        part: Part,
        value: &[u8],
        ev: &Event<'_>,
        decoded: &mut Vec<u8>,
    ) {
        entry.set = self.id;
        entry.rules.clear();
        let scan = &self.index.scans[part as usize];
        if let (Some(lits), false) = (&scan.lits, value.is_empty()) {
            let d = if part == Part::Target && memchr::memchr(b'%', value).is_some() {
                eval::decode_into(&Uri::split(value), decoded).target
            } else {
                &[]
            };
            // one text, as if the views were copied out between NULs
            let text: [&[u8]; 5] = [
                b"\0",
                value,
                b"\0",
                d,
                if d.is_empty() { b"" } else { b"\0" },
            ];
            let rules = &mut entry.rules;
            lits.overlapping(&text, |p| {
                for &r in scan.consumers(p) {
                    if !rules.contains(&r) {
                        rules.push(r);
                    }
                }
            });
        }
        let own = &self.index.local[part as usize];
        if own.is_empty() {
            return;
        }
        let alone = part.alone(ev);
        let mut status_buf = [0u8; 5];
        let ctx = Ctx::new(&alone, decoded, &mut status_buf);
        for &r in own {
            if ctx.fires(&self.rules[r as usize].detection) && !entry.rules.contains(&r) {
                entry.rules.push(r);
            }
        }
    }
}

/// Buffers [`SigmaSet::matches_with`] reuses from event to event.
#[derive(Debug, Default)]
pub struct Scratch {
    decoded: Vec<u8>,
    cands: Vec<u32>,
    /// Candidate rules per recent part value (see [`Seen`]).
    seen: Vec<Seen>,
    seeds: Seeds,
}

/// What names a part's value in the cache: its part, its length, and two
/// words. A value of up to 16 bytes is its own key (its bytes packed into
/// the words, so equal keys mean equal values, and reading it costs two
/// loads). A longer value's words are a seeded 64-bit hash of it, which
/// stands for the value as a key's hash does in the engine: two values
/// collide with odds of 2⁻⁶⁴, and an attacker cannot aim a value at a cached
/// benign one without the per-process seed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Key {
    words: [u64; 2],
    /// `len << 8 | part`: never 0, so a fresh slot's key matches no value.
    len_part: u64,
}

/// Per-process random seeds for the cache's slots and long values' hashes.
#[derive(Debug)]
struct Seeds {
    slot: [u64; 2],
    long: foldhash::fast::RandomState,
}

impl Default for Seeds {
    fn default() -> Seeds {
        let long = foldhash::fast::RandomState::default();
        Seeds {
            slot: [long.hash_one(1u64), long.hash_one(2u64)],
            long,
        }
    }
}

/// Values up to this long are their own cache key.
const SHORT: usize = 16;

impl Seeds {
    /// The key of `value` as the event's `part`, and its slot in the cache.
    #[inline(always)]
    fn key(&self, part: Part, value: &[u8]) -> (Key, usize) {
        let words = if value.len() <= SHORT {
            pack(value)
        } else {
            let mut h = self.long.build_hasher();
            h.write(value);
            [h.finish(), 0]
        };
        let key = Key {
            words,
            len_part: (value.len() as u64) << 8 | part as u64,
        };
        let h = folded_multiply(
            words[0] ^ self.slot[0],
            words[1] ^ key.len_part ^ self.slot[1],
        );
        (key, (h >> (64 - SEEN_BITS)) as usize)
    }
}

/// The bytes of a value of at most 16 bytes in two words; with its length,
/// the words give the value back (the two reads cover every byte, and may
/// overlap).
fn pack(v: &[u8]) -> [u64; 2] {
    let n = v.len();
    if let (Some(a), Some(b)) = (v.first_chunk::<8>(), v.last_chunk::<8>()) {
        [u64::from_le_bytes(*a), u64::from_le_bytes(*b)]
    } else if let (Some(a), Some(b)) = (v.first_chunk::<4>(), v.last_chunk::<4>()) {
        [
            u64::from(u32::from_le_bytes(*a)),
            u64::from(u32::from_le_bytes(*b)),
        ]
    } else if let (Some(&a), Some(&b)) = (v.first(), v.last()) {
        [
            u64::from(a) | u64::from(v[n / 2]) << 8 | u64::from(b) << 16,
            0,
        ]
    } else {
        [0, 0]
    }
}

/// The high and low halves of the full product, folded into one word.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// The parts of an event the prefilter scans apart, each with its own cache
/// entries: a literal never spans two parts, and logs repeat values (the same
/// pages, agents, statuses, users), so a value is scanned once while it stays
/// in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Method = 1,
    Target,
    Status,
    Host,
    User,
    UserAgent,
    Referer,
}

const PARTS: usize = 8;

/// Every part.
const PARTS_ALL: [Part; PARTS - 1] = [
    Part::Method,
    Part::Target,
    Part::Status,
    Part::Host,
    Part::User,
    Part::UserAgent,
    Part::Referer,
];

impl Part {
    /// The part a field reads; `None` for fields that read several parts
    /// (keywords) or none the prefilter scans (bytes, address).
    fn of(field: Field) -> Option<Part> {
        Some(match field {
            Field::Method => Part::Method,
            Field::Uri(_) | Field::Extension => Part::Target,
            Field::Status => Part::Status,
            Field::Host => Part::Host,
            Field::User => Part::User,
            Field::UserAgent => Part::UserAgent,
            Field::Referer => Part::Referer,
            Field::BytesOut | Field::Ip | Field::Keywords => return None,
        })
    }

    /// The parts whose scanned text holds the values of `field` (keywords
    /// are searched in the method, the target, the status and the agent).
    fn holding(field: Field) -> &'static [Part] {
        match field {
            Field::Keywords => &[Part::Method, Part::Target, Part::Status, Part::UserAgent],
            f => match Part::of(f) {
                Some(Part::Method) => &[Part::Method],
                Some(Part::Target) => &[Part::Target],
                Some(Part::Status) => &[Part::Status],
                Some(Part::Host) => &[Part::Host],
                Some(Part::User) => &[Part::User],
                Some(Part::UserAgent) => &[Part::UserAgent],
                Some(Part::Referer) => &[Part::Referer],
                None => &[],
            },
        }
    }

    /// Whether `literal` can occur in this part's scanned text. A status is
    /// scanned as its decimal digits, so a keyword with a letter cannot lie
    /// in it: leaving those out spares the status an automaton (and every
    /// event its status lookup) when no rule reads status digits.
    fn can_hold(self, literal: &[u8]) -> bool {
        self != Part::Status || literal.iter().all(|&b| b.is_ascii_digit() || b == 0)
    }

    /// This part's bit in [`Index::watched`] and [`Index::own`].
    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// An event that carries only this part of `ev`: a rule that reads only
    /// this part fires on it exactly when it fires on `ev`.
    fn alone<'a>(self, ev: &'a Event<'_>) -> Event<'a> {
        let keep = |f: &'a Option<Cow<'_, str>>| f.as_deref().map(Cow::Borrowed);
        let mut e = Event::default();
        match self {
            Part::Method => e.action = keep(&ev.action),
            Part::Target => e.resource = keep(&ev.resource),
            Part::Status => e.status = ev.status,
            Part::Host => e.host = keep(&ev.host),
            Part::User => e.user = keep(&ev.user),
            Part::UserAgent => e.user_agent = keep(&ev.user_agent),
            Part::Referer => e.referer = keep(&ev.referer),
        }
        e
    }
}

/// The part a detection reads, when it reads exactly one.
fn only_part(det: &Detection) -> Option<Part> {
    let mut part = None;
    for t in det
        .selections
        .iter()
        .flat_map(|s| s.alternatives.iter().flatten())
    {
        let p = Part::of(t.field)?;
        if part.is_some_and(|q| q != p) {
            return None;
        }
        part = Some(p);
    }
    part
}

/// The candidate rules of the part value `key` names, for the set `set`.
#[derive(Debug, Default)]
struct Seen {
    key: Key,
    set: u64,
    rules: Vec<u32>,
}

/// Direct-mapped cache size: enough for the pages, users and agents a log
/// repeats within a few thousand lines.
const SEEN_BITS: u32 = 13;
const SEEN_SLOTS: usize = 1 << SEEN_BITS;

/// The prefilter: per part of the event, literal → rules that need it.
#[derive(Debug, Default)]
struct Index {
    /// By [`Part`]: the literals that can occur in it.
    scans: [Scan; PARTS],
    /// Rules without a sound literal that read one part of the event (a lone
    /// regex, an empty-field test), by [`Part`]: evaluated once per distinct
    /// value of that part.
    local: [Vec<u32>; PARTS],
    /// Rules without a sound literal that read several parts, evaluated on
    /// every event.
    always: Vec<u32>,
    /// The parts a value of which can make a rule a candidate, by
    /// [`Part::bit`]; the others are not looked at.
    watched: u8,
    /// The parts with rules of their own in `local` (which an empty value
    /// can make fire), by [`Part::bit`].
    own: u8,
}

/// The literals of one part and the rules that need each.
#[derive(Debug, Default)]
struct Scan {
    lits: Option<Literals>,
    /// `consumers[starts[p]..starts[p + 1]]` are the rules of pattern `p`.
    starts: Vec<u32>,
    consumers: Vec<u32>,
}

impl Scan {
    /// The rules that need pattern `p`.
    fn consumers(&self, p: usize) -> &[u32] {
        match (self.starts.get(p), self.starts.get(p + 1)) {
            (Some(&from), Some(&to)) => self
                .consumers
                .get(from as usize..to as usize)
                .unwrap_or_default(),
            _ => &[],
        }
    }
}

/// Literals one of which must occur for a detection to fire; `score` is the
/// shortest (a proxy for how often it occurs), larger is better.
struct Pre {
    /// Each literal with the field whose value holds it.
    needles: Vec<(Vec<u8>, Field)>,
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
        let one = |n: Vec<u8>| Pre {
            // a NUL anchor is worth a few letters of selectivity
            score: if weak {
                1
            } else {
                n.len() + 2 * n.iter().filter(|&&b| b == 0).count()
            },
            needles: vec![(n, field)],
        };
        // a regex's literals are alternatives: any of them may be the one
        m.needles(field)
            .map(|ns| ns.into_iter().map(one).fold(Pre::never(), Pre::union))
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
    let mut patterns: [Vec<Vec<u8>>; PARTS] = Default::default();
    let mut lists: [Vec<Vec<u32>>; PARTS] = Default::default();
    let mut by_pattern: std::collections::HashMap<(usize, Vec<u8>), usize> = Default::default();
    let mut always = Vec::new();
    let mut local: [Vec<u32>; PARTS] = Default::default();
    for (r, rule) in rules.iter().enumerate() {
        let r = r as u32;
        match pre_cond(&rule.detection, &rule.detection.cond) {
            None => match only_part(&rule.detection) {
                Some(part) => local[part as usize].push(r),
                None => always.push(r),
            },
            Some(pre) => {
                for (n, field) in pre.needles {
                    let key = n.to_ascii_lowercase();
                    for &part in Part::holding(field) {
                        if !part.can_hold(&key) {
                            continue;
                        }
                        let i = part as usize;
                        let p = *by_pattern.entry((i, key.clone())).or_insert_with(|| {
                            patterns[i].push(key.clone());
                            lists[i].push(Vec::new());
                            patterns[i].len() - 1
                        });
                        if lists[i][p].last() != Some(&r) {
                            lists[i][p].push(r);
                        }
                    }
                }
            }
        }
    }
    let mut scans: [Scan; PARTS] = Default::default();
    for (part, ((scan, patterns), lists)) in scans.iter_mut().zip(patterns).zip(lists).enumerate() {
        if patterns.is_empty() {
            continue;
        }
        // Targets are mostly unique (they carry ids), so the target's
        // automaton runs on most events and is worth a DFA's build time; the
        // other parts repeat and hit the cache, and a contiguous NFA builds
        // in a fraction of the time.
        match Literals::build(&patterns, part == Part::Target as usize) {
            Ok(lits) => scan.lits = Some(lits),
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
        scan.starts.push(0);
        for l in lists {
            scan.consumers.extend(l);
            scan.starts.push(scan.consumers.len() as u32);
        }
    }
    let own = PARTS_ALL
        .iter()
        .filter(|&&p| !local[p as usize].is_empty())
        .fold(0, |m, &p| m | p.bit());
    let watched = PARTS_ALL
        .iter()
        .filter(|&&p| scans[p as usize].lits.is_some())
        .fold(own, |m, &p| m | p.bit());
    Index {
        scans,
        local,
        always,
        watched,
        own,
    }
}

/// A part's literals, compiled to find every occurrence of each, ASCII
/// case-insensitively. Searched through the automaton interface, so that a
/// part's views are fed as one text without being copied into one, and
/// every match is reported in one pass (a value seldom holds any).
#[derive(Debug)]
enum Literals {
    Dfa(dfa::DFA),
    Nfa(contiguous::NFA),
}

impl Literals {
    /// Compiles lower-case `patterns` into a DFA or a contiguous NFA, to
    /// match ASCII case-insensitively. The DFA folds case itself, in its
    /// transitions (it reads the most bytes); the NFA matches bytes exactly
    /// and the text is lower-cased as it is read, which halves its
    /// transitions and its build time at a small cost per byte.
    fn build(patterns: &[Vec<u8>], dfa: bool) -> Result<Literals, aho_corasick::BuildError> {
        if dfa {
            dfa::DFA::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(patterns)
                .map(Literals::Dfa)
        } else {
            contiguous::NFA::builder()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(patterns)
                .map(Literals::Nfa)
        }
    }

    /// Calls `hit` with the pattern of every match, overlapping ones
    /// included, in the concatenation of `text`.
    fn overlapping(&self, text: &[&[u8]], hit: impl FnMut(usize)) {
        match self {
            Literals::Dfa(a) => overlapping::<_, false>(a, text, hit),
            Literals::Nfa(a) => overlapping::<_, true>(a, text, hit),
        }
    }
}

/// [`Literals::overlapping`] for one automaton: an unanchored search with
/// standard semantics never dies, and a match state lists every pattern
/// that ends there (those of its failure states included).
/// With `LOWER`, the text is lower-cased as it is read.
fn overlapping<A: Automaton, const LOWER: bool>(
    aut: &A,
    text: &[&[u8]],
    mut hit: impl FnMut(usize),
) {
    let Ok(mut sid) = aut.start_state(Anchored::No) else {
        return;
    };
    let mut report = |sid| {
        for i in 0..aut.match_len(sid) {
            hit(aut.match_pattern(sid, i).as_usize());
        }
    };
    if aut.is_match(sid) {
        report(sid);
    }
    for &chunk in text {
        let mut rest = chunk;
        while !rest.is_empty() {
            let (next, used) = walk::<A, LOWER>(aut, sid, rest);
            sid = next;
            rest = rest.get(used..).unwrap_or_default();
            if aut.is_match(sid) {
                report(sid);
            }
        }
    }
}

/// Runs `aut` from `sid` over `bytes` up to the first match state (or the
/// end): the state reached and the bytes read. Kept apart so that the loop
/// that reads nearly every byte holds nothing else.
#[inline(always)]
fn walk<A: Automaton, const LOWER: bool>(
    aut: &A,
    mut sid: StateID,
    bytes: &[u8],
) -> (StateID, usize) {
    for (i, &b) in bytes.iter().enumerate() {
        let b = if LOWER { b.to_ascii_lowercase() } else { b };
        sid = aut.next_state(Anchored::No, sid, b);
        if aut.is_match(sid) {
            return (sid, i + 1);
        }
    }
    (sid, bytes.len())
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
            assert_same(&request(method, target, ua, referer, host, user, status));
        }
    }

    /// An access-log event with the given request parts.
    fn request(
        method: Option<&'static str>,
        target: Option<String>,
        ua: Option<String>,
        referer: Option<String>,
        host: Option<String>,
        user: Option<String>,
        status: Option<u16>,
    ) -> Event<'static> {
        Event {
            action: method.map(Cow::Borrowed),
            resource: target.map(Cow::Owned),
            user_agent: ua.map(Cow::Owned),
            referer: referer.map(Cow::Owned),
            host: host.map(Cow::Owned),
            user: user.map(Cow::Owned),
            status,
            ..Event::default()
        }
    }

    /// Every literal the corpus's rules prefilter on, without its NUL anchors.
    fn rule_literals() -> &'static [String] {
        static LITERALS: OnceLock<Vec<String>> = OnceLock::new();
        LITERALS.get_or_init(|| {
            let mut out: Vec<String> = sets()
                .0
                .rules
                .iter()
                .filter_map(|r| pre_cond(&r.detection, &r.detection.cond))
                .flat_map(|p| p.needles)
                .map(|(n, _)| String::from_utf8_lossy(&n).replace('\0', ""))
                .collect();
            out.sort();
            out.dedup();
            out
        })
    }

    /// A field value made of the rules' own literals and attack pieces, some
    /// upper-cased, so that many prefilter patterns hit and many miss by a
    /// byte; whole values repeat across cases, which exercises the cache.
    fn literal_soup() -> impl Strategy<Value = Option<String>> {
        let piece = prop_oneof![
            (proptest::sample::select(rule_literals()), any::<bool>()).prop_map(|(l, up)| if up {
                l.to_ascii_uppercase()
            } else {
                l
            }),
            proptest::sample::select(PIECES).prop_map(str::to_string),
        ];
        proptest::option::of(proptest::collection::vec(piece, 0..4).prop_map(|v| v.concat()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn prefilter_agrees_with_evaluating_every_rule_on_the_rules_own_literals(
            method in proptest::option::of(proptest::sample::select(&["GET", "POST", "PROPFIND", "get", ""][..])),
            target in literal_soup(), ua in literal_soup(), referer in literal_soup(),
            host in literal_soup(), user in literal_soup(),
            status in proptest::option::of(proptest::sample::select(&[200u16, 301, 401, 404, 500, 503, 207][..])),
        ) {
            assert_same(&request(method, target, ua, referer, host, user, status));
        }
    }

    #[test]
    fn rules_without_a_literal_are_evaluated_per_value_of_the_part_they_read() {
        // `\x40` (`@`) is an escape the prefilter does not read literals
        // through, so the regex has no literal to be found by
        let set = SigmaSet::from_str(
            "title: Regex\nlogsource: {category: webserver}\ndetection: {s: {cs-uri|re: '(?i)ipfs\\.io/.+\\x40'}, condition: s}\n",
            "re.yml",
        );
        let empty_agent = SigmaSet::from_str(
            "title: Empty\nlogsource: {category: proxy}\ndetection: {s: {c-useragent: ''}, condition: s}\n",
            "ua.yml",
        );
        let both = SigmaSet::from_str(
            "title: Both\nlogsource: {category: webserver}\ndetection: {s: {cs-uri|re: '\\x78', cs-user-agent|re: '\\x79'}, condition: s}\n",
            "both.yml",
        );
        assert_eq!(
            (
                set.unfiltered(),
                empty_agent.unfiltered(),
                both.unfiltered()
            ),
            (0, 0, 1)
        );
        let ev = |target: &'static str, ua: Option<&'static str>| Event {
            action: Some(Cow::Borrowed("GET")),
            resource: Some(Cow::Borrowed(target)),
            user_agent: ua.map(Cow::Borrowed),
            ..Event::default()
        };
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        // each value twice: once scanned, once from the cache
        for _ in 0..2 {
            for (e, re, empty) in [
                (ev("/x?u=https://ipfs.io/a@b.c", Some("curl")), true, false),
                (ev("/x%3Fu=https://IPFS.io/a%40b", None), true, true),
                (ev("/index.html", Some("")), false, true),
                (ev("/index.html", Some("curl")), false, false),
            ] {
                set.matches_with(&mut scratch, &e, &mut out);
                assert_eq!(!out.is_empty(), re, "{e:?}");
                empty_agent.matches_with(&mut scratch, &e, &mut out);
                assert_eq!(!out.is_empty(), empty, "{e:?}");
            }
        }
    }

    #[test]
    fn a_regex_with_literals_is_prefiltered_on_them() {
        let set = SigmaSet::from_str(
            "title: Regex\nlogsource: {category: proxy}\ndetection: {s: {c-uri|re: '(?i)(ipfs\\.io/|ipfs\\.io\\s).+\\..+@.+\\.[a-z]+'}, condition: s}\n",
            "ipfs.yml",
        );
        assert!(set.index.local.iter().all(Vec::is_empty));
        assert_eq!(set.unfiltered(), 0);
        let mut out = Vec::new();
        for (target, fires) in [
            ("/x?u=https://ipfs.io/ipfs/a.html@evil.com", true),
            ("/x?u=https://IPFS.IO/ipfs/a.html%40evil.com", true),
            ("/x?u=https://ipfs.io/ipfs/a.html", false),
            ("/index.html", false),
        ] {
            let ev = Event {
                resource: Some(Cow::Borrowed(target)),
                ..Event::default()
            };
            set.matches(&ev, &mut out);
            assert_eq!(!out.is_empty(), fires, "{target}");
        }
    }

    #[test]
    fn a_status_is_scanned_only_for_digit_literals() {
        let set = SigmaSet::from_str(
            "title: Kw\nlogsource: {category: webserver}\ndetection: {k: ['union select', '404'], condition: k}\n",
            "kw.yml",
        );
        let status = &set.index.scans[Part::Status as usize];
        assert_eq!(status.starts.len(), 2, "only `404` is a status literal");
        let words = SigmaSet::from_str(
            "title: Kw\nlogsource: {category: webserver}\ndetection: {k: ['union select'], condition: k}\n",
            "words.yml",
        );
        assert_eq!(words.index.watched & Part::Status.bit(), 0);
        let mut out = Vec::new();
        for (status, target, fires) in [
            (404, "/a", true),
            (200, "/a?q=1 UNION SELECT 2", true),
            (200, "/a", false),
        ] {
            let ev = Event {
                resource: Some(Cow::Borrowed(target)),
                status: Some(status),
                ..Event::default()
            };
            set.matches(&ev, &mut out);
            assert_eq!(!out.is_empty(), fires, "{status} {target}");
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn short_values_are_their_own_cache_keys(
            a in proptest::collection::vec(proptest::sample::select(&b"ab\0"[..]), 0..=SHORT),
            b in proptest::collection::vec(proptest::sample::select(&b"ab\0"[..]), 0..=SHORT),
        ) {
            let seeds = Seeds::default();
            let (ka, sa) = seeds.key(Part::Target, &a);
            let (kb, sb) = seeds.key(Part::Target, &b);
            prop_assert_eq!(ka == kb, a == b);
            prop_assert!(sa < SEEN_SLOTS && sb < SEEN_SLOTS);
            prop_assert!(a != b || sa == sb);
            // the same value in another part is another key
            prop_assert_ne!(ka, seeds.key(Part::UserAgent, &a).0);
        }

        #[test]
        fn literals_report_every_overlapping_match_as_the_library_search_does(
            pats in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(&b"aAb\0"[..]), 1..4),
                1..6,
            ),
            chunks in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(&b"aAbc\0"[..]), 0..8),
                0..4,
            ),
        ) {
            let ac = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&pats)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let text = chunks.concat();
            let mut want: Vec<usize> = ac
                .find_overlapping_iter(text.as_slice())
                .map(|m| m.pattern().as_usize())
                .collect();
            want.sort_unstable();
            let views: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            let lower: Vec<Vec<u8>> = pats.iter().map(|p| p.to_ascii_lowercase()).collect();
            for dfa in [true, false] {
                let lits = Literals::build(&lower, dfa)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let mut got = Vec::new();
                lits.overlapping(&views, |p| got.push(p));
                got.sort_unstable();
                prop_assert_eq!(&got, &want);
            }
        }
    }
}
