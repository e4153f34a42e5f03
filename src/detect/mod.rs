//! Detect: stateful rules over classified events, on event time.
//!
//! Owns the [`Engine`] (per-rule, per-key state; open alerts), the rule
//! language ([`rules`]) and the [`alert::Alert`] it produces. Invariants:
//! only event time drives windows (a replay gives the alerts the live daemon
//! would have); state per key expires after its window; the number of keys per
//! rule is capped, and hitting the cap is counted, never silent; one attack on
//! one key is one alert, extended while it goes on, closed after `quiet`.

pub mod alert;
pub mod rules;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::hash::BuildHasher;

use crate::classify::{Categories, Class, Kind};
use crate::parse::{Event, EventTime, Outcome};
use alert::{Alert, Entity, EntityType};
use rules::{Detector, KeyPart, Rule};

/// Default cap on keys per rule.
pub const DEFAULT_MAX_KEYS: usize = 200_000;

/// Subject ids remembered per alert (beyond this the estimate saturates).
const MAX_SUBJECTS_PER_ALERT: usize = 1_000_000;

/// Per-key state of one rule.
#[derive(Debug, Default)]
struct KeyState {
    /// Times of recent matching events (threshold, sequence), oldest first.
    times: VecDeque<i64>,
    /// Distinct values seen → when last seen (distinct).
    seen: HashMap<u64, i64>,
    last: i64,
}

/// An alert still growing.
#[derive(Debug)]
struct Open {
    alert: Alert,
    last: i64,
    subjects: HashSet<u64>,
    /// Subjects the app log counted but did not list (`subjects_truncated`).
    unlisted: u64,
}

/// Counters an operator would graph.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DetectStats {
    pub alerts: u64,
    /// Keys refused because a rule's state was at its cap.
    pub cap_hits: u64,
    /// Most keys held at once, over all rules.
    pub peak_keys: usize,
}

/// Runs the rules over events in (approximately) time order.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    state: Vec<HashMap<Box<str>, KeyState>>,
    open: Vec<HashMap<Box<str>, Open>>,
    closed: Vec<Alert>,
    hasher: std::collections::hash_map::RandomState,
    max_keys: usize,
    now: i64,
    next_sweep: i64,
    key_buf: String,
    pub stats: DetectStats,
}

impl Engine {
    pub fn new(rules: Vec<Rule>, max_keys: usize) -> Engine {
        let n = rules.len();
        Engine {
            rules,
            state: (0..n).map(|_| HashMap::new()).collect(),
            open: (0..n).map(|_| HashMap::new()).collect(),
            closed: Vec::new(),
            hasher: Default::default(),
            max_keys,
            now: i64::MIN,
            next_sweep: i64::MIN,
            key_buf: String::new(),
            stats: DetectStats::default(),
        }
    }

    /// Keys held now over all rules.
    pub fn keys(&self) -> usize {
        self.state.iter().map(HashMap::len).sum()
    }

    /// Feeds one classified event.
    pub fn observe(&mut self, ev: &Event<'_>, c: &Class<'_>) {
        let t = ev.time.unix_micros;
        if t > self.now {
            self.now = t;
        }
        if self.now >= self.next_sweep {
            self.sweep();
        }
        for ri in 0..self.rules.len() {
            if !build_key(&self.rules[ri].key, ev, c, &mut self.key_buf) {
                continue;
            }
            // an open alert on this key grows with everything the key does
            if let Some(open) = self.open[ri].get_mut(self.key_buf.as_str()) {
                extend(open, ev, c, &self.hasher);
            }
            self.step(ri, ev, c);
        }
    }

    fn step(&mut self, ri: usize, ev: &Event<'_>, c: &Class<'_>) {
        let rule = &self.rules[ri];
        let t = ev.time.unix_micros;
        let matched = rule.filter.matches(ev, c);
        let completes = match &rule.detector {
            Detector::Sequence { then, .. } => then.matches(ev, c),
            _ => false,
        };
        if !matched && !completes {
            return;
        }
        let states = &mut self.state[ri];
        if !states.contains_key(self.key_buf.as_str()) {
            if !matched {
                return;
            }
            if states.len() >= self.max_keys {
                self.stats.cap_hits += 1;
                return;
            }
            states.insert(self.key_buf.as_str().into(), KeyState::default());
            let total: usize = self.state.iter().map(HashMap::len).sum();
            self.stats.peak_keys = self.stats.peak_keys.max(total);
        }
        let Some(st) = self.state[ri].get_mut(self.key_buf.as_str()) else {
            return;
        };
        st.last = t;
        let fired = match &rule.detector {
            Detector::Threshold { window, threshold } => {
                push_time(&mut st.times, t, *window, *threshold);
                st.times.len() as u64 >= *threshold
            }
            Detector::Sequence {
                window, threshold, ..
            } => {
                if matched {
                    push_time(&mut st.times, t, *window, *threshold);
                    false
                } else {
                    while st.times.front().is_some_and(|&x| x < t - window) {
                        st.times.pop_front();
                    }
                    st.times.len() as u64 >= *threshold
                }
            }
            Detector::Distinct {
                window,
                threshold,
                of,
            } => {
                let horizon = t - window;
                let mut any = false;
                for_each_value(*of, ev, c, |v| {
                    st.seen.insert(self.hasher.hash_one(v), t);
                    any = true;
                });
                if !any {
                    return;
                }
                if st.seen.len() as u64 >= *threshold {
                    st.seen.retain(|_, &mut s| s >= horizon);
                }
                st.seen.len() as u64 >= *threshold
            }
        };
        if !fired {
            return;
        }
        let start = match &rule.detector {
            Detector::Distinct { .. } => st.seen.values().min().copied().unwrap_or(t),
            _ => st.times.front().copied().unwrap_or(t),
        };
        let key = self.key_buf.as_str();
        if self.open[ri].contains_key(key) {
            return; // already open: `observe` extended it
        }
        let rule = &self.rules[ri];
        let mut open = Open {
            alert: Alert {
                detector: rule.name.clone(),
                entities: entities(&rule.key, ev),
                start: EventTime {
                    unix_micros: start,
                    offset_secs: ev.time.offset_secs,
                },
                end: ev.time,
                detected_at: ev.time,
                severity: rule.severity,
                incident: None,
                subjects: 0,
                categories: Categories::default(),
                events: 0,
                summary: rule.description.clone(),
            },
            last: t,
            subjects: HashSet::new(),
            unlisted: 0,
        };
        extend(&mut open, ev, c, &self.hasher);
        self.open[ri].insert(key.into(), open);
    }

    /// Drops expired key state and closes quiet alerts.
    fn sweep(&mut self) {
        let now = self.now;
        let mut min_window = i64::MAX;
        for (ri, rule) in self.rules.iter().enumerate() {
            let window = match rule.detector {
                Detector::Threshold { window, .. }
                | Detector::Distinct { window, .. }
                | Detector::Sequence { window, .. } => window,
            };
            min_window = min_window.min(window);
            self.state[ri].retain(|_, s| s.last >= now - window);
            let quiet = rule.quiet;
            let closing: Vec<Box<str>> = self.open[ri]
                .iter()
                .filter(|(_, o)| o.last < now - quiet)
                .map(|(k, _)| k.clone())
                .collect();
            for k in closing {
                if let Some(o) = self.open[ri].remove(&k) {
                    self.stats.alerts += 1;
                    self.closed.push(o.alert);
                }
            }
        }
        // sweep about twice per shortest window, at least once a minute of event time
        let step = (min_window / 2).clamp(1, 60_000_000);
        self.next_sweep = now.saturating_add(step);
    }

    /// Whether alerts closed since the last `take_closed`.
    #[inline]
    pub fn has_closed(&self) -> bool {
        !self.closed.is_empty()
    }

    /// Alerts closed since the last call.
    pub fn take_closed(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.closed)
    }

    /// Closes every open alert (end of input, or shutdown).
    pub fn finish(&mut self) -> Vec<Alert> {
        for open in &mut self.open {
            for (_, o) in open.drain() {
                self.stats.alerts += 1;
                self.closed.push(o.alert);
            }
        }
        let mut out = std::mem::take(&mut self.closed);
        out.sort_by_key(|a| (a.detected_at, a.detector.clone()));
        out
    }
}

fn push_time(times: &mut VecDeque<i64>, t: i64, window: i64, cap: u64) {
    while times.front().is_some_and(|&x| x < t - window) {
        times.pop_front();
    }
    times.push_back(t);
    while times.len() as u64 > cap.max(1) {
        times.pop_front();
    }
}

/// Adds an event of the alert's key to the alert: time span, categories and
/// the data subjects it exposed (successful reads that name subjects, and
/// accounts logged into).
fn extend(open: &mut Open, ev: &Event<'_>, c: &Class<'_>, hasher: &impl BuildHasher) {
    let a = &mut open.alert;
    let t = ev.time.unix_micros;
    open.last = open.last.max(t);
    if t > a.end.unix_micros {
        a.end = ev.time;
    }
    if t < a.start.unix_micros {
        a.start = ev.time;
    }
    a.events += 1;
    if ev.outcome != Outcome::Success {
        return;
    }
    a.categories = a.categories.union(c.categories);
    let mut add = |v: &str| {
        if open.subjects.len() < MAX_SUBJECTS_PER_ALERT {
            open.subjects.insert(hasher.hash_one(v));
        }
    };
    if c.kind == Some(Kind::Login) {
        if let Some(u) = ev.user.as_deref() {
            add(u);
        }
    } else if !c.categories.is_empty() {
        for s in &ev.subjects {
            add(s);
        }
        if ev.subjects.is_empty() {
            if let Some(s) = c.subject {
                add(s);
            }
        }
        open.unlisted += ev.subjects_truncated;
    }
    a.subjects = open.subjects.len() as u64 + open.unlisted;
}

/// Writes the key for `parts` into `buf`; false when the event lacks a part.
fn build_key(parts: &[KeyPart], ev: &Event<'_>, c: &Class<'_>, buf: &mut String) -> bool {
    buf.clear();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            buf.push('\u{1f}');
        }
        let ok = match p {
            KeyPart::Ip => ev.ip.map(|ip| write!(buf, "{ip}")).is_some(),
            KeyPart::IpPrefix => ev.ip.map(|ip| write_prefix(buf, ip)).is_some(),
            KeyPart::User => push(buf, ev.user.as_deref()),
            KeyPart::Session => push(buf, ev.session.as_deref()),
            KeyPart::UserAgent => push(buf, ev.user_agent.as_deref()),
            KeyPart::Subject => push(buf, ev.subjects.first().map(|s| s.as_ref()).or(c.subject)),
        };
        if !ok {
            return false;
        }
    }
    true
}

fn push(buf: &mut String, v: Option<&str>) -> bool {
    match v {
        Some(s) if !s.is_empty() => {
            buf.push_str(s);
            true
        }
        _ => false,
    }
}

fn write_prefix(buf: &mut String, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v) => {
            let o = v.octets();
            let _ = write!(buf, "{}.{}.{}.0/24", o[0], o[1], o[2]);
        }
        std::net::IpAddr::V6(v) => {
            let s = v.segments();
            let _ = write!(buf, "{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]);
        }
    }
}

/// Calls `f` with each value of `part` the event carries (several subjects).
fn for_each_value(part: KeyPart, ev: &Event<'_>, c: &Class<'_>, mut f: impl FnMut(&str)) {
    let mut buf = String::new();
    match part {
        KeyPart::Subject => {
            if ev.subjects.is_empty() {
                if let Some(s) = c.subject {
                    f(s);
                }
            } else {
                for s in &ev.subjects {
                    f(s);
                }
            }
        }
        other => {
            if build_key(&[other], ev, c, &mut buf) {
                f(&buf);
            }
        }
    }
}

fn entities(parts: &[KeyPart], ev: &Event<'_>) -> Vec<Entity> {
    let mut out = Vec::new();
    for p in parts {
        let (kind, value) = match p {
            KeyPart::Ip => (EntityType::Ip, ev.ip.map(|i| i.to_string())),
            KeyPart::IpPrefix => (
                EntityType::IpPrefix,
                ev.ip.map(|i| {
                    let mut s = String::new();
                    write_prefix(&mut s, i);
                    s
                }),
            ),
            KeyPart::User => (EntityType::User, ev.user.as_deref().map(String::from)),
            KeyPart::Session => (EntityType::Session, ev.session.as_deref().map(String::from)),
            KeyPart::UserAgent => (
                EntityType::UserAgent,
                ev.user_agent.as_deref().map(String::from),
            ),
            KeyPart::Subject => continue,
        };
        if let Some(value) = value {
            out.push(Entity { kind, value });
        }
    }
    out
}
