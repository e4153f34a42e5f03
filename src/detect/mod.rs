//! Detect: stateful rules over classified events, on event time.
//!
//! Owns the [`Engine`] (per-rule, per-key state; open alerts), the rule
//! language ([`rules`]) and the [`alert::Alert`] it produces. Invariants:
//! only event time drives windows (a replay gives the alerts the live daemon
//! would have); state per key expires after its window; the number of keys per
//! rule is capped, and hitting the cap is counted, never silent; one attack on
//! one key is one alert, extended while it goes on, closed after `quiet`.

pub mod alert;
pub mod reload;
pub mod rules;
pub mod sigma;
mod small;
mod table;

use std::collections::VecDeque;

/// State keys are attacker-controlled (addresses, user names), so maps are
/// seeded per process; foldhash is that and several times faster than SipHash.
type Fast = foldhash::fast::RandomState;
/// Maps keyed by text (peer groups): seeded hashing.
type TextMap<K, V> = std::collections::HashMap<K, V, Fast>;
/// Every other map is keyed by a value `Fast` already hashed (state keys,
/// subjects, addresses, accounts): it only needs spreading, not a second
/// keyed hash, and no seed stored in each map (16 bytes in every key state
/// that holds a set).
type HashMap<K, V> = std::collections::HashMap<K, V, Prehashed>;
type HashSet<K> = std::collections::HashSet<K, Prehashed>;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

/// Hashing for keys that are already seeded 64-bit hashes.
#[derive(Debug, Clone, Copy, Default)]
struct Prehashed;

impl BuildHasher for Prehashed {
    type Hasher = PrehashedHasher;
    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}

#[derive(Debug, Default)]
struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    /// Not used by our maps (their keys are `u64`); mixes like FxHash so a
    /// key of another type still spreads.
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    /// The table picks buckets by the low bits and tags by the top seven:
    /// the low bit of a subject hash is its account tag ([`tagged`]), so the
    /// halves are swapped to give both ends random bits.
    fn write_u64(&mut self, v: u64) {
        self.0 = v.rotate_left(32);
    }
}

use crate::classify::{Categories, Class, Kind};
use crate::parse::{Event, EventTime, Outcome};
use alert::{Alert, Entity, EntityType, IdBook};
use rules::{Align, Detector, Filter, KeyPart, Measure, Peers, Rule};
use small::{Lazy, SmallMap, SmallSet};
use table::KeyTable;

/// Default cap on keys per rule.
pub const DEFAULT_MAX_KEYS: usize = 200_000;

/// Subject ids remembered per alert (beyond this the estimate saturates).
const MAX_SUBJECTS_PER_ALERT: usize = 1_000_000;

/// Exposed subjects remembered per key before an alert exists.
const MAX_EXPOSED_PER_KEY: usize = 100_000;

/// One day of event time, in microseconds.
const DAY: i64 = 86_400_000_000;

/// How long an idle account's login profile is kept.
const PROFILE_RETENTION: i64 = 30 * 86_400_000_000;

/// Size at which a key's exposure memory is pruned to its horizon (and
/// again at each doubling, so pruning stays amortised).
const PRUNE_EXPOSED_AT: usize = 4096;

/// Per-key state of one rule.
#[derive(Debug, Default)]
struct KeyState {
    /// Times of recent matching events (threshold, sequence), oldest first.
    times: Lazy<VecDeque<i64>>,
    /// Distinct values seen → when last seen (distinct).
    seen: Lazy<HashMap<u64, i64>>,
    /// Subjects the key's matching events exposed → when (so an alert counts
    /// what happened before it fired too).
    exposed: SmallMap,
    /// Subjects counted but not listed by the app log, within the window,
    /// and when that tally began.
    unlisted: u64,
    unlisted_since: i64,
    /// Data categories the key's successful matching events touched.
    categories: Categories,
    /// Buckets of a `baseline` rule.
    base: Option<BaseState>,
    /// Visits and subjects read of a `harvest` rule.
    harvest: Option<Box<Harvest>>,
    /// Matching events seen, and when the first was (novelty), or when the
    /// running chain began.
    events: u64,
    first_seen: i64,
    /// Steps of a running chain done, as bits (step 0 is bit 0).
    chain: u64,
    /// The value a novelty rule last saw (the new one, when it fires).
    novel: u64,
    /// The counted values themselves (those still in `seen`), for rules
    /// that name them in the alert.
    values: Lazy<Vec<Box<str>>>,
    /// For a threshold rule not keyed on the account: the account every
    /// failure of the current run went for (`Several` once two differed,
    /// or one named none).
    aim: Aim,
    last: i64,
}

impl KeyState {
    /// Ends the key's run of matching events.
    fn clear_times(&mut self) {
        if let Some(times) = self.times.existing() {
            times.clear();
        }
    }
}

/// Rule `i`'s bit in a mask of rules (with more than 64 rules, the masks
/// are not kept and a rule past the 64th has no bit).
fn bit(mask: u64, i: usize) -> bool {
    i < 64 && mask >> i & 1 == 1
}

/// What a rule's filters make of one class signature, by rule bit.
#[derive(Debug, Clone, Copy)]
struct Memo {
    /// Verdicts of the class-only rule filters.
    filters: u64,
    /// Verdicts of the class-only follow filters.
    follows: u64,
    /// Rules whose filters could pass (all but the text tests passed).
    may: u64,
}

/// The filter that follows a rule's run: a sequence's completing event, a
/// threshold's reset.
fn follow_filter(r: &Rule) -> Option<&Filter> {
    match &r.detector {
        Detector::Sequence { then, .. } => Some(then),
        Detector::Threshold { reset, .. } => reset.as_ref(),
        _ => None,
    }
}

/// Per rule, the index of its key shape among the rules' distinct shapes,
/// and how many shapes there are.
fn key_shapes(rules: &[Rule]) -> (Vec<usize>, usize) {
    let mut shapes: Vec<&[KeyPart]> = Vec::new();
    let of = rules
        .iter()
        .map(
            |r| match shapes.iter().position(|s| *s == r.key.as_slice()) {
                Some(i) => i,
                None => {
                    shapes.push(&r.key);
                    shapes.len() - 1
                }
            },
        )
        .collect();
    (of, shapes.len())
}

/// Which account a run of failures went for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Aim {
    #[default]
    Unknown,
    One(u64),
    Several,
}

impl Aim {
    fn add(&mut self, account: u64) {
        *self = match *self {
            Aim::Unknown => Aim::One(account),
            Aim::One(a) if a == account => Aim::One(a),
            _ => Aim::Several,
        };
    }
}

/// Failures on one account, and on no other, that make a campaign's
/// address a guesser of that account's password: a stuffing list tries each
/// leaked pair once or twice, a person who mistyped gets in or resets.
const GUESSES_ON_ONE_ACCOUNT: u32 = 5;

/// What a surge's named address tried since it was named.
#[derive(Debug, Default)]
struct Tries {
    aim: Aim,
    /// The account's name, while it is one.
    account: Option<Box<str>>,
    fails: u32,
    /// Successful logins (a guesser has none).
    wins: u32,
    first: Option<EventTime>,
    last: Option<EventTime>,
    /// When its failures reached the count that can make it a guesser.
    loud_at: Option<EventTime>,
}

/// Failures that make an address loud among a campaign's crowd when the
/// log does not say which account they went for (the guessing rule's own
/// threshold).
const LOUD_FAILURES: u32 = 6;

/// One entity's buckets for a `baseline` rule.
#[derive(Debug, Default)]
struct BaseState {
    /// Start of the current bucket.
    bucket: i64,
    /// First matching event in the current bucket.
    first: i64,
    /// Last matching event in the current bucket.
    last: i64,
    value: f64,
    /// Subjects seen in the current bucket (distinct-subject measure).
    distinct: SmallSet,
    /// Subjects the app log counted but did not list, in the current bucket.
    unlisted: u64,
    /// Addresses of the current bucket an alert names (`report_values`).
    named: Lazy<Vec<Box<str>>>,
    /// How many of `named` the open alert names already.
    synced: usize,
    /// Addresses that succeeded in the current bucket (failing-address measure).
    succeeded: Lazy<SmallSet>,
    /// The entity is on its rule's list of entities active in this bucket.
    listed: bool,
    /// The bucket that last raised an alert, and whether it was judged
    /// against the entity's own history.
    alerted: Option<i64>,
    alerted_own: bool,
    /// Completed buckets with activity, and the largest of them.
    n: u32,
    own_max: f64,
    /// The entity's role, its peer group.
    role: Option<Box<str>>,
    /// What the entity reads with, in a log without roles: a program's
    /// principals are peers of each other, not of the people.
    client: Client,
    /// Start of the entity's first bucket.
    since: i64,
}

impl BaseState {
    /// The entity's peer group short of everyone: its role where the log
    /// carries roles, else the programs' group for a program's principal.
    fn group(&self) -> Option<&str> {
        self.role
            .as_deref()
            .or((self.client == Client::Program).then_some(PROGRAMS))
    }

    /// Closes the current bucket into the entity's history and its peer
    /// groups' histograms, and starts `bucket`.
    fn roll(&mut self, peers: &mut TextMap<Box<str>, Hist>, bucket: i64) {
        // An active bucket counts even at zero: "peers never do this" is a
        // norm. A bucket that rose over the entity's own line is no norm (an
        // attack going on for hours must not become the line its next hours
        // are held to); a newcomer's first bucket over its peers' line is
        // kept, or it would be held to its peers' line again every bucket.
        if self.listed && !(self.alerted == Some(self.bucket) && self.alerted_own) {
            self.n += 1;
            self.own_max = self.own_max.max(self.value);
            add_to_group(peers, "*", self.value);
            if let Some(r) = self.group() {
                add_to_group(peers, r, self.value);
            }
        }
        self.bucket = bucket;
        self.value = 0.0;
        self.distinct.clear();
        self.unlisted = 0;
        if let Some(named) = self.named.existing() {
            named.clear();
        }
        self.synced = 0;
        if let Some(succeeded) = self.succeeded.existing() {
            succeeded.clear();
        }
        self.listed = false;
    }
}

/// What a principal reads with, as far as the log shows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// No user agent seen yet (an app audit log carries none).
    #[default]
    Unknown,
    /// A browser or a device's app at least once, or the principal logged in.
    Person,
    /// Only a program's agent (a library, a tool, a batch job), and it never
    /// logged in: an API key or a service account.
    Program,
}

/// The peer group of programs' principals in a log without roles (a name
/// no role in a log is likely to have).
const PROGRAMS: &str = "(programs)";

/// Whether a user agent is a person's: a browser (every browser's agent
/// begins `Mozilla/`) or an app on a phone or a computer, whose agent names
/// the device's system (`PortalApp/5.12 (Android 14; SM-S911B)`,
/// `Mail/1 CFNetwork/1410 Darwin/22.6.0`). A program's agent names a
/// library or a tool and no device (`python-httpx/0.27.0`, `curl/8.5.0`,
/// `crm-sync/3.2 (+internal)`, `Go-http-client/1.1`).
fn person_agent(ua: &str) -> bool {
    const DEVICES: [&str; 8] = [
        "Android",
        "iPhone",
        "iPad",
        "iOS",
        "CFNetwork",
        "Windows",
        "Macintosh",
        "Mac OS",
    ];
    ua.starts_with("Mozilla/") || ua.starts_with("Opera/") || DEVICES.iter().any(|d| ua.contains(d))
}

/// Adds a closed bucket's value to a peer group's histogram (allocating
/// the group's name only the first time: this runs for every entity's
/// every bucket).
fn add_to_group(peers: &mut TextMap<Box<str>, Hist>, group: &str, value: f64) {
    match peers.get_mut(group) {
        Some(h) => h.add(value),
        None => peers.entry(group.into()).or_default().add(value),
    }
}

/// Whether an activity-aligned bucket is over at `t`: a bucket's length
/// after it began, or idle for a sixth of that (a working day ends overnight,
/// a nightly job's run before the next night's).
fn activity_ended(b: &BaseState, bucket: i64, t: i64) -> bool {
    t >= activity_end(b, bucket)
}

/// When an activity-aligned bucket ends if the entity does nothing more.
fn activity_end(b: &BaseState, bucket: i64) -> i64 {
    b.bucket
        .saturating_add(bucket)
        .min(b.last.saturating_add(bucket / 6))
}

/// One principal's reading for a `harvest` rule: the subjects it read (up to
/// the rule's memory), by visit, and how many were new on return visits.
#[derive(Debug, Default)]
struct Harvest {
    reads: Vec<Read>,
    /// Current visit (0-based), when it began and its last matching event.
    visit: u32,
    last: i64,
    /// The first visit that read more than one subject: what it reads is the
    /// working set's start, not news; later visits are return visits.
    base: Option<u32>,
    /// New subjects in the current visit, and the most in any visit.
    visit_new: u32,
    max_new: u32,
    /// Subjects new on return visits, and how many return visits had one.
    fresh: u32,
    fresh_visits: u32,
    visit_had_fresh: bool,
    /// Subjects read again on a later visit: the working set.
    working: u32,
    /// Read more than `max_per_visit` new subjects in a visit: the volume
    /// rules' to judge; nothing more is remembered.
    heavy: bool,
}

/// A subject a principal read (or tried to).
#[derive(Debug, Clone, Copy)]
struct Read {
    subject: u64,
    first: i64,
    /// The visit it was last read on, [`Read::WORKING`] once it was read again on a later one.
    visit: u32,
    /// A read of it succeeded (an exposure, not only an attempt).
    exposed: bool,
}

impl Read {
    const WORKING: u32 = u32::MAX;
}

impl Harvest {
    /// Records one read (or refused attempt) of `subject` at `t`.
    fn read(&mut self, subject: u64, t: i64, exposed: bool, memory: usize) {
        let visit = self.visit;
        if let Some(r) = self.reads.iter_mut().find(|r| r.subject == subject) {
            r.exposed |= exposed;
            if r.visit != visit && r.visit != Read::WORKING {
                r.visit = Read::WORKING;
                self.working += 1;
            }
            return;
        }
        if self.reads.len() >= memory {
            return;
        }
        self.reads.push(Read {
            subject,
            first: t,
            visit,
            exposed,
        });
        self.visit_new += 1;
        self.max_new = self.max_new.max(self.visit_new);
        if self.base.is_none() && self.reads.len() > 1 {
            self.base = Some(visit);
        } else if self.base.is_some_and(|b| visit > b) {
            self.fresh += 1;
            if !self.visit_had_fresh {
                self.visit_had_fresh = true;
                self.fresh_visits += 1;
            }
        }
    }

    /// Subjects read outside the working set: what the harvest exposed.
    fn harvested(&self) -> impl Iterator<Item = &Read> {
        self.reads
            .iter()
            .filter(|r| r.visit != Read::WORKING && r.exposed)
    }
}

/// Return visits with new subjects a harvest needs: one could be a long
/// visit cut by a pause, two are a habit.
const HARVEST_VISITS: u32 = 2;

/// A `harvest` rule's principal that has read one subject so far (most of
/// them: a customer reading their own record). It cannot fire yet, so it is
/// kept this small until a second subject makes it a full [`KeyState`],
/// which then holds exactly what it would have held from the start.
#[derive(Debug, Clone, Copy, Default)]
struct FirstRead {
    /// The key's last matching event (expiry).
    last: i64,
    categories: Categories,
    /// Whether a non-bulk event started the reading (a [`Harvest`] exists).
    harvest: bool,
    /// The reading's current visit and its last event ([`Harvest::visit`], [`Harvest::last`]).
    visit: u32,
    visit_last: i64,
    /// The subject read, when, on which visit first, and on which visit last
    /// ([`Read::WORKING`] once read again on a later one).
    subject: Option<u64>,
    first: i64,
    first_visit: u32,
    read_visit: u32,
    exposed: bool,
}

impl FirstRead {
    /// The full state this reading would have built.
    fn promote(self) -> KeyState {
        let harvest = self.harvest.then(|| {
            let reads: Vec<Read> = self
                .subject
                .map(|subject| Read {
                    subject,
                    first: self.first,
                    visit: self.read_visit,
                    exposed: self.exposed,
                })
                .into_iter()
                .collect();
            Box::new(Harvest {
                visit: self.visit,
                last: self.visit_last,
                visit_new: u32::from(self.subject.is_some() && self.first_visit == self.visit),
                max_new: u32::from(self.subject.is_some()),
                working: u32::from(self.read_visit == Read::WORKING),
                reads,
                ..Harvest::default()
            })
        });
        KeyState {
            last: self.last,
            categories: self.categories,
            harvest,
            ..KeyState::default()
        }
    }
}

/// What one account has logged in from, shared by every rule that asks
/// whether a login is new for it: hashes of its networks (/24, /48) and its
/// browsers, the most recent few of each.
#[derive(Debug, Default)]
struct Profile {
    networks: Vec<u64>,
    agents: Vec<u64>,
    last: i64,
}

/// Whether the account `user` (hashed) has a login profile: it logs in, a
/// person rather than an API key.
fn logs_in(profiles: &Option<KeyTable<Profile>>, user: Option<u64>) -> bool {
    user.zip(profiles.as_ref())
        .is_some_and(|(h, p)| p.contains_key(&h))
}

/// Values an account's profile keeps of each kind (older ones are dropped).
const PROFILE_VALUES: usize = 16;

impl Profile {
    /// Records a value; true when it was new.
    fn learn(list: &mut Vec<u64>, v: u64) -> bool {
        if list.contains(&v) {
            return false;
        }
        if list.len() >= PROFILE_VALUES {
            list.remove(0);
        }
        list.push(v);
        true
    }
}

/// How a successful login compares with its account's profile.
#[derive(Debug, Clone, Copy, Default)]
struct Newness {
    /// The account had logged in before.
    known: bool,
    network: bool,
    agent: bool,
    /// The log carries browsers at all (an app audit log may not).
    has_agent: bool,
}

impl Newness {
    fn of(self, part: KeyPart) -> bool {
        match part {
            KeyPart::IpPrefix | KeyPart::Ip => self.network,
            KeyPart::UserAgent => self.agent,
            _ => false,
        }
    }

    /// Whether every part is new, a part the log does not carry counting as
    /// no evidence either way (a chain asking for a new network and browser
    /// still works on a log without browsers, on the network alone).
    fn all_of(self, parts: &[KeyPart]) -> bool {
        parts
            .iter()
            .all(|p| self.of(*p) || *p == KeyPart::UserAgent && !self.has_agent)
    }
}

/// Logins from one address over the last half day to a day, for rules that
/// ask whether the address is shared (`skip_shared_addresses`): behind a
/// carrier-grade NAT or an office, many accounts get in and most logins
/// succeed; a guesser's logins mostly fail.
#[derive(Debug, Default, Clone, Copy)]
struct AddressLogins {
    /// Start of the current half day (the previous one is index 1).
    since: i64,
    wins: [u32; 2],
    fails: [u32; 2],
    /// The first few accounts that got in, per half day.
    accounts: [[u64; SHARED_ACCOUNTS]; 2],
    /// Every account that got in, per half day, as one bit of 128 (their
    /// number is estimated from the bits set: linear counting).
    signed_in: [u128; 2],
    last: i64,
    /// Logins that failed in a row since the address's last success (a
    /// pause of [`FAILING_RUN_GAP`] starts a new run).
    failing: u32,
}

/// A pause after which an address's next failed login starts a new run.
const FAILING_RUN_GAP: i64 = 3_600_000_000;

/// Logins a person makes from one place in a day that count towards its
/// address being shared: more are one person's, or someone who owns a few
/// accounts logging into them again and again to outweigh their guesses.
const LOGINS_PER_ACCOUNT: u64 = 3;

/// Accounts that must have got in from an address, within the day, for it
/// to be shared by several people.
const SHARED_ACCOUNTS: usize = 3;

/// The length of one of an address tally's two generations.
const HALF_DAY: i64 = DAY / 2;

impl AddressLogins {
    /// Counts one login at `t`, by `account` when it got in; returns the
    /// failures in a row from the address just before it.
    fn learn(&mut self, t: i64, won: bool, account: Option<u64>) -> u32 {
        if t.saturating_sub(self.last) > FAILING_RUN_GAP {
            self.failing = 0;
        }
        let failing = self.failing;
        self.failing = if won { 0 } else { failing.saturating_add(1) };
        let half = t.saturating_sub(t.rem_euclid(HALF_DAY));
        if half > self.since {
            let next = half.saturating_sub(self.since) == HALF_DAY;
            self.wins = [0, if next { self.wins[0] } else { 0 }];
            self.fails = [0, if next { self.fails[0] } else { 0 }];
            self.accounts = [
                [0; SHARED_ACCOUNTS],
                if next {
                    self.accounts[0]
                } else {
                    [0; SHARED_ACCOUNTS]
                },
            ];
            self.signed_in = [0, if next { self.signed_in[0] } else { 0 }];
            self.since = half;
        }
        self.last = self.last.max(t);
        if !won {
            self.fails[0] = self.fails[0].saturating_add(1);
            return failing;
        }
        self.wins[0] = self.wins[0].saturating_add(1);
        if let Some(a) = account {
            self.signed_in[0] |= 1u128 << (a % 128);
        }
        // 0 marks a free place; an account hashing to 0 is not remembered
        if let Some(a) = account.filter(|a| *a != 0) {
            let now = &mut self.accounts[0];
            if !now.contains(&a) {
                if let Some(free) = now.iter_mut().find(|x| **x == 0) {
                    *free = a;
                }
            }
        }
        failing
    }

    /// Whether several accounts got in from the address within the day and
    /// most of its logins succeeded, counting at most a few logins per
    /// account that got in.
    fn shared(&self) -> bool {
        let mut seen = [0u64; 2 * SHARED_ACCOUNTS];
        let mut n = 0;
        for &a in self.accounts.iter().flatten() {
            if a != 0 && !seen[..n].contains(&a) {
                seen[n] = a;
                n += 1;
            }
        }
        let wins = u64::from(self.wins[0]) + u64::from(self.wins[1]);
        let fails = u64::from(self.fails[0]) + u64::from(self.fails[1]);
        // an access log names no account: there, every login is counted
        let wins = match self.accounts_in() {
            Some(accounts) => wins.min(accounts.saturating_mul(LOGINS_PER_ACCOUNT)),
            None => wins,
        };
        n >= SHARED_ACCOUNTS && wins >= fails
    }

    /// About how many accounts got in within the day (None: none named, or
    /// too many to tell).
    fn accounts_in(&self) -> Option<u64> {
        let bits = self.signed_in[0] | self.signed_in[1];
        let empty = 128 - bits.count_ones();
        if bits == 0 || empty == 0 {
            return None;
        }
        Some((-128.0 * (f64::from(empty) / 128.0).ln()).round().max(1.0) as u64)
    }
}

/// A log-binned histogram of bucket values: a robust quantile of a peer
/// group's norm in constant memory (bins grow by 25%).
#[derive(Debug, Clone)]
struct Hist {
    bins: [u32; 96],
    total: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            bins: [0; 96],
            total: 0,
        }
    }
}

impl Hist {
    const BASE: f64 = 1.25;

    fn add(&mut self, v: f64) {
        let i = if v <= 1.0 {
            0
        } else {
            (v.ln() / Self::BASE.ln()).ceil() as usize
        };
        self.bins[i.min(95)] += 1;
        self.total += 1;
    }

    /// The upper edge of the bin holding quantile `q`.
    fn quantile(&self, q: f64) -> f64 {
        let want = (q * self.total as f64).ceil() as u64;
        let mut seen = 0u64;
        for (i, &n) in self.bins.iter().enumerate() {
            seen += n as u64;
            if seen >= want.max(1) {
                return Self::BASE.powi(i as i32);
            }
        }
        Self::BASE.powi(95)
    }
}

/// An alert still growing.
#[derive(Debug)]
struct Open {
    alert: Alert,
    last: i64,
    /// Exposed subjects and accounts, tagged (see [`tagged`]).
    subjects: HashSet<u64>,
    /// How many of `subjects` are accounts logged into.
    accounts: u64,
    /// Subjects the app log counted but did not list (`subjects_truncated`).
    unlisted: u64,
    /// Hashes of the counted values already named among the entities.
    named: HashSet<u64>,
    /// A campaign's named addresses: their failed and successful logins
    /// since the alert opened (bounded by the names).
    tally: HashMap<u64, (u32, u32)>,
    /// A failing-address surge's named addresses: the account their failed
    /// logins went for and how many (bounded by the names).
    aims: HashMap<u64, Tries>,
    /// For a novelty alert: only events showing this value of this part
    /// (the new network) expose anyone; the principal's usual work does not.
    only: Option<(KeyPart, u64)>,
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
    /// Per rule: key → state. A key is the seeded 64-bit hash of its parts
    /// (see [`hash_key`], [`Engine::key_of`]): no string per key, one hash
    /// per key shape per event.
    /// Boxed: the tables stay dense (a key is 16 bytes of table), and a
    /// table's growth copies pointers, not states.
    state: Vec<KeyTable<Box<KeyState>>>,
    open: Vec<HashMap<u64, Open>>,
    /// Per rule: peer group (role, or `*` for everyone) → completed buckets.
    peers: Vec<TextMap<Box<str>, Hist>>,
    /// Per rule: the bucket up to which every entity has been rolled.
    rolled: Vec<i64>,
    /// Accounts' login profiles, when a rule asks what is new for an account.
    profiles: Option<KeyTable<Profile>>,
    /// The current event's account name, hashed (profiles are keyed by it).
    user_hash: Option<u64>,
    /// The current event's address as an `ip` key (address tallies are
    /// keyed by it), when a tally may ask.
    ip_hash: Option<u64>,
    /// The current event against its account's profile (successful logins).
    newness: Option<Newness>,
    /// When idle profiles are next expired.
    next_profile_expiry: i64,
    /// Addresses' recent logins, by address hash, when a rule asks whether
    /// an address is shared.
    addresses: Option<HashMap<u64, AddressLogins>>,
    /// When idle address tallies are next expired.
    next_address_expiry: i64,
    /// The current event's login: failures in a row from its address just
    /// before it (0 for other events, for a shared address, or when no rule
    /// asks).
    failed_before: u32,
    /// Per rule: keys whose current bucket has a value (to roll them), each
    /// with a time before which its activity-aligned bucket cannot have
    /// ended ([`activity_end`] when last looked at: the bucket only gets
    /// longer), so the hourly check passes most keys without their state.
    active: Vec<Vec<(u64, i64)>>,
    /// Per `harvest` rule: principals that read one subject so far, by key hash.
    first_reads: Vec<KeyTable<FirstRead>>,
    /// Reused buffer for an event's subject hashes.
    subjects_buf: Vec<u64>,
    /// The current event's (rule, key) pairs whose table slots were asked
    /// for, so their states can be asked for next without a second pass.
    fetching: Vec<(usize, u64)>,
    /// Per rule: when idle keys are next expired.
    next_expire: Vec<i64>,
    /// Per rule: when activity-aligned buckets are next checked for their end.
    next_roll: Vec<i64>,
    /// Per rule: whole buckets seen since the engine started.
    whole_buckets: Vec<u32>,
    /// Per rule: the UTC offset of the latest event (local bucket alignment),
    /// `i64::MIN` before the rule's first event.
    offset: Vec<i64>,
    /// Per rule: the clock-aligned bucket the last event fell in, as
    /// (offset, start, end), so most events skip the division.
    clock_bucket: Vec<(i64, i64, i64)>,
    closed: Vec<Alert>,
    hasher: Fast,
    max_keys: usize,
    now: i64,
    next_sweep: i64,
    /// Per rule: which distinct key shape (`rule.key`) it uses.
    key_shape: Vec<usize>,
    /// Rules (by bit) whose filter reads only the event's class signature,
    /// and their verdicts per signature seen (a few dozen in a log): one
    /// lookup per event instead of a filter per rule.
    class_filters: u64,
    /// Likewise for the filter that follows a rule's run (a sequence's
    /// `then`, a threshold's `reset`), checked on every event.
    class_follows: u64,
    filter_memo: std::collections::HashMap<u64, Memo, Fast>,
    /// The current event's verdicts of the class-only follow filters.
    follows: u64,
    /// Rules (by bit) the current event may concern, judged by its class
    /// signature alone.
    may: u64,
    /// The `signature` rules, which concern only events with a Sigma hit.
    signature_rules: u64,
    /// Rules (by bit) that may hold open alerts: set when one opens, cleared
    /// by a sweep that finds none left (a superset, never missing a rule).
    open_rules: u64,
    /// Per key shape: the current event's key, `None` until computed and
    /// `Some(None)` when the event has no value for it.
    key_cache: Vec<Option<Option<u64>>>,
    /// Reused text buffer for addresses and prefixes (no allocation per event).
    scratch: String,
    /// Signatures for `signature` rules, matched once per event.
    sigma: Option<std::sync::Arc<sigma::SigmaSet>>,
    sigma_scratch: sigma::Scratch,
    hits: Vec<sigma::RuleId>,
    /// Data subjects the organisation holds (inventory), the ceiling of every estimate.
    subjects_total: Option<u64>,
    /// Alerts opened and not yet taken, when asked for.
    opened: Option<Vec<Alert>>,
    /// Recently exposed subject ids by hash, for alerts to name them.
    ids: IdBook,
    /// What the current event exposes (`exposures`), as tagged hashes.
    exposed: Vec<u64>,
    /// And how many subjects it exposes that it does not list (`exposed_unlisted`).
    unlisted: u64,
    pub stats: DetectStats,
}

impl Engine {
    pub fn new(rules: Vec<Rule>, max_keys: usize) -> Engine {
        let n = rules.len();
        let (key_shape, shapes) = key_shapes(&rules);
        let bits = |f: &dyn Fn(&Rule) -> bool| {
            let by_bit = rules.iter().enumerate().filter(|(_, r)| f(r));
            if n <= 64 {
                by_bit.fold(0, |m, (i, _)| m | 1 << i)
            } else {
                0
            }
        };
        let class_filters = bits(&|r| r.filter.by_class_only());
        let class_follows = bits(&|r| follow_filter(r).is_some_and(Filter::by_class_only));
        let signature_rules = bits(&|r| matches!(r.detector, Detector::Signature { .. }));
        Engine {
            rules,
            state: (0..n).map(|_| KeyTable::default()).collect(),
            open: (0..n).map(|_| HashMap::default()).collect(),
            peers: (0..n).map(|_| TextMap::default()).collect(),
            rolled: vec![i64::MIN; n],
            whole_buckets: vec![0; n],
            next_expire: vec![i64::MIN; n],
            next_roll: vec![i64::MIN; n],
            profiles: None,
            user_hash: None,
            ip_hash: None,
            newness: None,
            next_profile_expiry: i64::MIN,
            addresses: None,
            next_address_expiry: i64::MIN,
            failed_before: 0,
            active: vec![Vec::new(); n],
            first_reads: (0..n).map(|_| KeyTable::default()).collect(),
            subjects_buf: Vec::new(),
            fetching: Vec::new(),
            offset: vec![i64::MIN; n],
            clock_bucket: vec![(0, 0, i64::MIN); n],
            closed: Vec::new(),
            hasher: Default::default(),
            max_keys,
            now: i64::MIN,
            next_sweep: i64::MIN,
            key_shape,
            class_filters,
            class_follows,
            filter_memo: Default::default(),
            follows: 0,
            may: u64::MAX,
            signature_rules,
            open_rules: 0,
            key_cache: vec![None; shapes],
            scratch: String::new(),
            sigma: None,
            subjects_total: None,
            opened: None,
            ids: IdBook::default(),
            exposed: Vec::new(),
            unlisted: 0,
            sigma_scratch: sigma::Scratch::default(),
            hits: Vec::new(),
            stats: DetectStats::default(),
        }
    }

    /// Bounds subject estimates by the inventory's population, and lets a
    /// parameterless bulk read stand for all of it.
    pub fn with_subjects_total(mut self, total: Option<u64>) -> Engine {
        self.subjects_total = total;
        self
    }

    /// Gives `signature` rules their signatures.
    pub fn with_sigma(mut self, set: std::sync::Arc<sigma::SigmaSet>) -> Engine {
        let wanted = self
            .rules
            .iter()
            .any(|r| matches!(r.detector, Detector::Signature { .. }));
        self.sigma = (wanted && !set.is_empty()).then_some(set);
        self
    }

    /// The first signature hit of at least `min` from one of `categories`.
    fn signature_hit(&self, min: sigma::Level, categories: &[String]) -> Option<&sigma::SigmaRule> {
        let set = self.sigma.as_ref()?;
        self.hits.iter().filter_map(|id| set.rule(*id)).find(|r| {
            r.level >= min
                && r.category
                    .as_deref()
                    .is_some_and(|c| categories.iter().any(|x| x == c))
        })
    }

    /// Keys held now per rule, by rule name (detector state sizes for operators).
    pub fn keys_by_rule(&self) -> Vec<(&str, usize)> {
        self.rules
            .iter()
            .zip(self.state.iter().zip(&self.first_reads))
            .map(|(r, (s, f))| (r.name.as_str(), s.len() + f.len()))
            .collect()
    }

    /// Keys held now over all rules.
    pub fn keys(&self) -> usize {
        self.state.iter().map(KeyTable::len).sum::<usize>()
            + self.first_reads.iter().map(KeyTable::len).sum::<usize>()
    }

    /// Feeds one classified event.
    pub fn observe(&mut self, ev: &Event<'_>, c: &Class<'_>) {
        let t = ev.time.unix_micros;
        if self.now == i64::MIN {
            // the first event sets the log's clock for every rule's buckets
            let off = ev.time.offset_secs as i64 * 1_000_000;
            self.offset.iter_mut().for_each(|o| *o = off);
        }
        if t > self.now {
            self.now = t;
        }
        if self.now >= self.next_sweep {
            self.sweep();
        }
        self.key_cache.iter_mut().for_each(|k| *k = None);
        self.user_hash = ev
            .user
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(|u| self.hasher.hash_one(u));
        if let (Some(p), Some(h)) = (&self.profiles, self.user_hash) {
            p.prefetch(h);
        }
        self.ip_hash = (self.addresses.is_some() || c.kind == Some(Kind::Login))
            .then(|| hash_key(&[KeyPart::Ip], ev, c, &self.hasher))
            .flatten();
        let verdicts = self.class_verdicts(ev, c);
        // The rules whose filter already took this event will look up its
        // key: ask for their table slots now, and for the states in them
        // after the work below, so the misses overlap rather than queue.
        let ahead = self.class_filters & verdicts;
        self.prefetch_slots(ahead, ev, c);
        self.newness = self.profile_login(ev, c);
        self.tally_address(ev, c);
        // what the event exposes, hashed once for every rule
        let (book, hasher, exposed) = (&self.ids, &self.hasher, &mut self.exposed);
        exposed.clear();
        exposures(ev, c, |v, account| {
            let h = tagged(hasher.hash_one(v), account);
            exposed.push(h);
            if !account {
                book.prefetch(h);
            }
        });
        self.unlisted = exposed_unlisted(ev, c, self.subjects_total);
        self.prefetch_values();
        match &self.sigma {
            Some(set) if ev.action.is_some() || ev.user_agent.is_some() => {
                set.matches_with(&mut self.sigma_scratch, ev, &mut self.hits);
            }
            _ => self.hits.clear(),
        }
        // the ids behind the hashes rules keep, for an alert to name them
        // (after Sigma, so the book's slots asked for above have arrived)
        let (book, exposed) = (&mut self.ids, &self.exposed);
        let mut hashes = exposed.iter();
        exposures(ev, c, |v, account| {
            if let Some(&h) = hashes.next().filter(|_| !account) {
                book.learn(h, v);
            }
        });
        if !self.hits.is_empty() {
            self.may |= self.signature_rules;
        }
        // Most rules ignore most events: visit only those the event's class
        // may concern and those with open alerts (every rule past 64).
        let masked = self.rules.len() <= 64;
        let mut left = self.may | self.open_rules;
        let mut next = 0;
        loop {
            let ri = if masked {
                if left == 0 {
                    break;
                }
                let ri = left.trailing_zeros() as usize;
                left &= left - 1;
                ri
            } else if next < self.rules.len() {
                next += 1;
                next - 1
            } else {
                break;
            };
            let rule = &self.rules[ri];
            let filtered = if bit(self.class_filters, ri) {
                bit(verdicts, ri)
            } else {
                rule.filter.matches(ev, c)
            };
            let relevant = !self.open[ri].is_empty()
                || match &rule.detector {
                    // a chain's key holds state only while its chain runs:
                    // with none running, only a start concerns the rule
                    Detector::Chain { steps, .. } if self.state[ri].is_empty() => {
                        self.chain_starts(&steps[0], ev, c)
                    }
                    Detector::Chain { steps, .. } => steps.iter().any(|f| f.matches(ev, c)),
                    Detector::Sequence { then, .. } => filtered || self.follows(ri, then, ev, c),
                    Detector::Threshold {
                        reset: Some(reset), ..
                    } => filtered || self.follows(ri, reset, ev, c),
                    _ => filtered,
                };
            if !relevant {
                continue;
            }
            let Some(key) = self.key_of(ri, ev, c) else {
                continue;
            };
            // An open alert on this key: its span grows with what the rule
            // looks for; what the key exposes meanwhile counts whatever it is.
            if self.open[ri].contains_key(&key) {
                self.follow_novelty(ri, key);
                let grows = self.grows(ri, filtered, ev, c);
                let campaign = self.rules[ri].report_values > 0;
                let signature = matches!(self.rules[ri].detector, Detector::Signature { .. });
                if let Some(open) = self.open[ri].get_mut(&key) {
                    let ip = ev.ip.filter(|_| campaign).map(|ip| {
                        self.scratch.clear();
                        push_ip(&mut self.scratch, ip);
                        self.hasher.hash_one(self.scratch.as_str())
                    });
                    // named before this event: it failed at least once already
                    let known_name = ip.is_some_and(|h| open.named.contains(&h));
                    name_values(&self.rules[ri], open, ev, c, &self.hasher);
                    // which account a named address's failures go for
                    let failed = matches!(ev.outcome, Outcome::Failure | Outcome::Denied);
                    let won = ev.outcome == Outcome::Success;
                    if known_name && c.kind == Some(Kind::Login) && surge(&self.rules[ri]) {
                        if let Some(h) = ip.filter(|_| won) {
                            // got in: a customer behind the address, no guesser
                            open.aims.entry(h).or_default().wins += 1;
                        }
                    }
                    if known_name && failed && c.kind == Some(Kind::Login) && surge(&self.rules[ri])
                    {
                        if let Some(h) = ip {
                            let tries = open.aims.entry(h).or_default();
                            // an access log names no account: only the count is known
                            if let Some(user) = ev.user.as_deref().filter(|u| !u.is_empty()) {
                                tries.aim.add(self.hasher.hash_one(user));
                                if tries.account.is_none() {
                                    tries.account = Some(user.into());
                                }
                            }
                            tries.fails = tries.fails.saturating_add(1);
                            tries.first.get_or_insert(ev.time);
                            tries.last = Some(ev.time);
                            let enough = match tries.aim {
                                Aim::One(_) => GUESSES_ON_ONE_ACCOUNT,
                                _ => LOUD_FAILURES,
                            };
                            if tries.fails >= enough && tries.loud_at.is_none() {
                                tries.loud_at = Some(ev.time);
                            }
                        }
                    }
                    // A campaign's key (a login page, a service) is shared with
                    // everyone: only logins by its named addresses that mostly
                    // fail (guessing), into accounts that never used their
                    // network, expose anyone. A customer who mistyped once and
                    // got in, or a carrier address where most logins succeed,
                    // is no victim.
                    let newness = self.newness;
                    let ours = !campaign || {
                        match ip.filter(|h| open.named.contains(h)) {
                            Some(h) if c.kind == Some(Kind::Login) => {
                                let (fails, wins) =
                                    open.tally.entry(h).or_insert((u32::from(known_name), 0));
                                if ev.outcome == Outcome::Success {
                                    *wins += 1;
                                } else {
                                    *fails += 1;
                                }
                                ev.outcome == Outcome::Success
                                    && *fails > *wins
                                    && newness.is_some_and(|n| !n.known || n.network)
                            }
                            _ => false,
                        }
                    };
                    let mine = open.only.is_none_or(|(part, want)| {
                        let mut same = false;
                        for_each_value(part, ev, c, |v| {
                            same |= self.hasher.hash_one(v) == want;
                        });
                        same
                    });
                    let total = self.subjects_total;
                    if !mine {
                    } else if ours {
                        extend(open, ev, c, &self.hasher, total, grows);
                        if grows && signature {
                            open.unlisted += injected(ev, c);
                            open.alert.subjects = estimate(open, total);
                        }
                    } else if grows {
                        extend_span(open, ev);
                    }
                }
            }
            self.step(ri, key, filtered, ev, c);
        }
    }

    /// A baseline alert on a key that a novelty rule (a new network) has an
    /// open alert on too, e.g. a stolen service key reading cards from a
    /// cloud address while its nightly batch runs as usual: what the key
    /// read from its usual network is its usual work, so the baseline
    /// alert takes the novelty's exposures and, from now on, counts only
    /// what shows the new value. Done once per alert.
    fn follow_novelty(&mut self, ri: usize, key: u64) {
        if !matches!(self.rules[ri].detector, Detector::Baseline { .. })
            || self.open[ri].get(&key).is_none_or(|o| o.only.is_some())
        {
            return;
        }
        let shape = self.key_shape[ri];
        let novel = (0..self.rules.len()).find_map(|rj| {
            let same = matches!(self.rules[rj].detector, Detector::Novelty { .. })
                && self.key_shape[rj] == shape;
            let o = self.open[rj].get(&key).filter(|_| same)?;
            Some((
                o.only?,
                o.subjects.clone(),
                o.accounts,
                o.unlisted,
                o.alert.exposed.clone(),
            ))
        });
        let Some((only, subjects, accounts, unlisted, exposed)) = novel else {
            return;
        };
        let total = self.subjects_total;
        if let Some(open) = self.open[ri].get_mut(&key) {
            open.only = Some(only);
            open.subjects = subjects;
            open.accounts = accounts;
            open.unlisted = unlisted;
            open.alert.exposed = exposed;
            open.alert.subjects = estimate(open, total);
        }
    }

    /// Prefetches, for the rules in `rules` (by bit), the table slot of the
    /// event's key, and lists the keys for `prefetch_values`.
    fn prefetch_slots(&mut self, rules: u64, ev: &Event<'_>, c: &Class<'_>) {
        self.fetching.clear();
        let mut left = rules;
        while left != 0 {
            let ri = left.trailing_zeros() as usize;
            left &= left - 1;
            // nothing to fetch from an empty table, so no key to build
            if self.state[ri].is_empty() && self.first_reads[ri].is_empty() {
                continue;
            }
            if let Some(key) = self.key_of(ri, ev, c) {
                self.state[ri].prefetch(key);
                // a harvest rule's readers of one subject (most of its keys)
                self.first_reads[ri].prefetch(key);
                self.fetching.push((ri, key));
            }
        }
    }

    /// Asks for the states in the slots `prefetch_slots` asked for, once
    /// those have had time to arrive.
    fn prefetch_values(&self) {
        for &(ri, key) in &self.fetching {
            self.state[ri].prefetch_value(key);
        }
    }

    /// The verdicts of the class-only filters on this event, by rule bit;
    /// those of the class-only follow filters go to `self.follows`, and the
    /// rules the event may concern to `self.may`.
    fn class_verdicts(&mut self, ev: &Event<'_>, c: &Class<'_>) -> u64 {
        if self.rules.len() > 64 {
            return 0;
        }
        let sig = rules::class_signature(ev, c);
        let memo = match self.filter_memo.get(&sig) {
            Some(&memo) => memo,
            None => {
                let by_bit = |mask: u64, f: &dyn Fn(&Rule) -> bool| {
                    let rules = self.rules.iter().enumerate();
                    rules
                        .filter(|&(i, r)| bit(mask, i) && f(r))
                        .fold(0, |m, (i, _)| m | 1 << i)
                };
                let memo = Memo {
                    filters: by_bit(self.class_filters, &|r| r.filter.matches(ev, c)),
                    follows: by_bit(self.class_follows, &|r| {
                        follow_filter(r).is_some_and(|f| f.matches(ev, c))
                    }),
                    // a signature rule's filter is the Sigma hit, per event
                    may: by_bit(!self.signature_rules, &|r| {
                        let mut filters = std::iter::once(&r.filter).chain(follow_filter(r));
                        let steps = match &r.detector {
                            Detector::Chain { steps, .. } => &steps[..],
                            _ => &[],
                        };
                        filters.any(|f| f.matches_class(ev, c))
                            || steps.iter().any(|f| f.matches_class(ev, c))
                    }),
                };
                // signatures are few; a log that somehow had more stays bounded
                if self.filter_memo.len() < 4096 {
                    self.filter_memo.insert(sig, memo);
                }
                memo
            }
        };
        self.follows = memo.follows;
        self.may = memo.may;
        memo.filters
    }

    /// Whether the event passes rule `ri`'s follow filter `f`.
    fn follows(&self, ri: usize, f: &Filter, ev: &Event<'_>, c: &Class<'_>) -> bool {
        if bit(self.class_follows, ri) {
            bit(self.follows, ri)
        } else {
            f.matches(ev, c)
        }
    }

    /// The current event's key for rule `ri`, computed once per key shape
    /// per event (most rules share a shape: the account, the address).
    /// A 64-bit seeded hash stands for the key text: two keys collide with
    /// odds of about n²/2⁶⁴ (10⁻⁸ for a million keys), and an attacker
    /// cannot aim at a collision without the per-process seed.
    fn key_of(&mut self, ri: usize, ev: &Event<'_>, c: &Class<'_>) -> Option<u64> {
        let shape = self.key_shape[ri];
        if let Some(k) = self.key_cache[shape] {
            return k;
        }
        let k = match self.rules[ri].key.as_slice() {
            // the account's hash, taken once per event, is its key
            [KeyPart::User] => self.user_hash,
            parts => hash_key(parts, ev, c, &self.hasher),
        };
        self.key_cache[shape] = Some(k);
        k
    }

    /// Records a matching event of a `harvest` key with no full state yet in
    /// its [`FirstRead`]; once the key reads a second subject, moves it to a
    /// full [`KeyState`] and returns true (the event is then stepped as usual).
    fn first_read(&mut self, ri: usize, key: u64, ev: &Event<'_>, c: &Class<'_>, gap: i64) -> bool {
        let t = ev.time.unix_micros;
        let exposed = ev.outcome == Outcome::Success;
        let bulk = c.kind == Some(Kind::Bulk);
        // the subjects the harvest detector would read from this event
        let buf = &mut self.subjects_buf;
        buf.clear();
        if !bulk {
            if ev.subjects.is_empty() || !exposed {
                if let Some(s) = c.subject {
                    buf.push(tagged(self.hasher.hash_one(s), false));
                }
            } else {
                for s in &ev.subjects {
                    buf.push(tagged(self.hasher.hash_one(&**s), false));
                }
            }
        }
        let firsts = &mut self.first_reads[ri];
        let known = firsts.get(&key).and_then(|f| f.subject);
        let one = known.or(buf.first().copied());
        if buf.iter().any(|&s| Some(s) != one) {
            let st = firsts
                .remove(&key)
                .map(FirstRead::promote)
                .unwrap_or_default();
            if self.state[ri].len() >= self.max_keys {
                self.stats.cap_hits += 1;
                return false;
            }
            self.state[ri].insert(key, Box::new(st));
            return true;
        }
        if !firsts.contains_key(&key) && firsts.len() >= self.max_keys {
            self.stats.cap_hits += 1;
            return false;
        }
        let f = firsts.get_or_default(key);
        f.last = t;
        if exposed {
            f.categories = f.categories.union(c.categories);
        }
        if bulk {
            return false;
        }
        f.harvest = true;
        if f.visit_last != 0 && t.saturating_sub(f.visit_last) > gap {
            f.visit += 1;
        }
        f.visit_last = f.visit_last.max(t);
        for &s in buf.iter() {
            if f.subject.is_none() {
                f.subject = Some(s);
                f.first = t;
                f.first_visit = f.visit;
                f.read_visit = f.visit;
                f.exposed = exposed;
            } else {
                f.exposed |= exposed;
                if f.read_visit != f.visit && f.read_visit != Read::WORKING {
                    f.read_visit = Read::WORKING;
                }
            }
        }
        false
    }

    /// Whether the event starts a chain whose first step is `first`: it
    /// matches, is new for the account where the step asks (against a
    /// history: an account's first login in the logs is no change of
    /// network), and followed enough failures where the step asks.
    fn chain_starts(&self, first: &Filter, ev: &Event<'_>, c: &Class<'_>) -> bool {
        first.matches(ev, c)
            && match &first.new {
                Some(parts) => self.newness.is_some_and(|n| n.known && n.all_of(parts)),
                None => true,
            }
            && first.after_failures.is_none_or(|n| self.failed_before >= n)
    }

    /// Whether a rule asks what is new for an account (its login profile).
    fn wants_profiles(&self) -> bool {
        self.rules.iter().any(|r| match &r.detector {
            Detector::Sequence { then_new, .. } => then_new.is_some(),
            Detector::Chain { steps, .. } => steps[0].new.is_some(),
            Detector::Novelty { without_login, .. } => *without_login,
            // whether a principal without a role logs in tells a person
            // from a program
            Detector::Baseline { spec, .. } => spec.peers == Peers::Role,
            _ => false,
        })
    }

    /// For a successful login of a named account, how it compares with the
    /// account's profile (then learns it). None for other events, or when no
    /// rule asks.
    fn profile_login(&mut self, ev: &Event<'_>, c: &Class<'_>) -> Option<Newness> {
        if ev.outcome != Outcome::Success || c.kind != Some(Kind::Login) {
            return None;
        }
        if self.profiles.is_none() {
            if !self.wants_profiles() {
                return None;
            }
            self.profiles = Some(KeyTable::default());
        }
        let profiles = self.profiles.as_mut()?;
        let t = ev.time.unix_micros;
        if t >= self.next_profile_expiry {
            profiles.retain(|_, p| p.last >= t.saturating_sub(PROFILE_RETENTION));
            self.next_profile_expiry = t.saturating_add(86_400_000_000);
        }
        let key = self.user_hash?;
        if !profiles.contains_key(&key) && profiles.len() >= self.max_keys {
            self.stats.cap_hits += 1;
            return None;
        }
        let p = profiles.get_or_default(key);
        let known = !p.networks.is_empty() || !p.agents.is_empty();
        p.last = t;
        // the network is the address's /24 or /48, hashed as a key part is
        let network = hash_key(&[KeyPart::IpPrefix], ev, c, &self.hasher)
            .is_some_and(|h| Profile::learn(&mut p.networks, h));
        let agent = ev
            .user_agent
            .as_deref()
            .is_some_and(|a| Profile::learn(&mut p.agents, self.hasher.hash_one(a)));
        Some(Newness {
            known,
            network,
            agent,
            has_agent: ev.user_agent.as_deref().is_some_and(|a| !a.is_empty()),
        })
    }

    /// Whether a rule asks whether an address is shared.
    fn wants_addresses(&self) -> bool {
        self.rules.iter().any(|r| {
            r.skip_shared
                || matches!(&r.detector, Detector::Chain { steps, .. } if steps[0].after_failures.is_some())
        })
    }

    /// Counts a login (success or failure) in its address's tally, when a
    /// rule asks.
    fn tally_address(&mut self, ev: &Event<'_>, c: &Class<'_>) {
        self.failed_before = 0;
        if c.kind != Some(Kind::Login) {
            return;
        }
        let won = match ev.outcome {
            Outcome::Success => true,
            Outcome::Failure | Outcome::Denied => false,
            _ => return,
        };
        let Some(key) = self.ip_hash else {
            return;
        };
        if self.addresses.is_none() {
            if !self.wants_addresses() {
                return;
            }
            self.addresses = Some(HashMap::default());
        }
        let Some(addresses) = self.addresses.as_mut() else {
            return;
        };
        let t = ev.time.unix_micros;
        // Expiry only bounds memory: a tally idle for a day is all zeros to
        // `learn` anyway (both its half days are over).
        if t >= self.next_address_expiry {
            addresses.retain(|_, a| a.last >= t.saturating_sub(DAY));
            self.next_address_expiry = t.saturating_add(HALF_DAY / 2);
        }
        if !addresses.contains_key(&key) && addresses.len() >= self.max_keys {
            self.stats.cap_hits += 1;
            return;
        }
        let tally = addresses.entry(key).or_default();
        let failed_before = tally.learn(t, won, self.user_hash);
        // behind a shared address the failures were other people mistyping
        self.failed_before = if tally.shared() { 0 } else { failed_before };
    }

    /// Whether the event is part of what the rule detects (so it extends an
    /// open alert's span), not merely something its key did.
    /// Whether the event grows rule `ri`'s open alert (`filtered`: the
    /// rule's filter passes it).
    fn grows(&self, ri: usize, filtered: bool, ev: &Event<'_>, c: &Class<'_>) -> bool {
        let rule = &self.rules[ri];
        if !filtered {
            return matches!(&rule.detector, Detector::Sequence { then, .. } if then.matches(ev, c));
        }
        match &rule.detector {
            Detector::Signature {
                min_level,
                categories,
                ..
            } => self.signature_hit(*min_level, categories).is_some(),
            // a baseline alert grows in `step`, while the bucket is over the line
            Detector::Baseline { .. } => false,
            Detector::Chain { steps, .. } => steps.iter().any(|f| f.matches(ev, c)),
            _ => true,
        }
    }

    /// Steps rule `ri`'s state for `key` (`filtered`: the rule's filter
    /// passes the event).
    fn step(&mut self, ri: usize, key: u64, filtered: bool, ev: &Event<'_>, c: &Class<'_>) {
        let rule = &self.rules[ri];
        let t = ev.time.unix_micros;
        let matched = match &rule.detector {
            Detector::Chain { steps, .. } => steps.iter().any(|f| f.matches(ev, c)),
            _ => filtered,
        } && match &rule.detector {
            Detector::Signature {
                min_level,
                categories,
                ..
            } => self.signature_hit(*min_level, categories).is_some(),
            _ => true,
        };
        let completes = match &rule.detector {
            Detector::Sequence { then, .. } => self.follows(ri, then, ev, c),
            _ => false,
        };
        let chain_starts = match &rule.detector {
            Detector::Chain { steps, .. } => self.chain_starts(&steps[0], ev, c),
            _ => false,
        };
        if !matched && !completes {
            // a reset event ends the key's run of matching events
            if let Detector::Threshold {
                reset: Some(reset), ..
            } = &rule.detector
            {
                if self.follows(ri, reset, ev, c) {
                    if let Some(st) = self.state[ri].get_mut(&key) {
                        st.clear_times();
                    }
                }
            }
            return;
        }
        if let Detector::Harvest {
            gap,
            max_per_visit,
            memory,
            ..
        } = &rule.detector
        {
            // one subject read cannot be a harvest: keep it small until a second
            if *max_per_visit >= 1
                && *memory >= 2
                && !self.state[ri].contains_key(&key)
                && !self.first_read(ri, key, ev, c, *gap)
            {
                return;
            }
        }
        let rule = &self.rules[ri];
        let states = &mut self.state[ri];
        if !states.contains_key(&key) {
            // a key starts with a matching event
            if !matched {
                return;
            }
            // a chain's key starts with its first step, and lives while it runs
            if matches!(rule.detector, Detector::Chain { .. }) && !chain_starts {
                return;
            }
            // a principal that logs in is never watched: keep no state for it
            if let Detector::Novelty {
                without_login: true,
                ..
            } = &rule.detector
            {
                if logs_in(&self.profiles, self.user_hash) {
                    return;
                }
            }
            if states.len() >= self.max_keys {
                self.stats.cap_hits += 1;
                return;
            }
            states.insert(key, Box::default());
            let total: usize = self.state.iter().map(KeyTable::len).sum();
            self.stats.peak_keys = self.stats.peak_keys.max(total);
        }
        let Some(st) = self.state[ri].get_mut(&key) else {
            return;
        };
        st.last = t;
        if st.exposed.len() >= PRUNE_EXPOSED_AT && st.exposed.len().is_power_of_two() {
            // only exposures an alert could still count matter
            let horizon = match &rule.detector {
                Detector::Baseline { spec, .. } => spec.bucket,
                d => d.window(),
            };
            st.exposed.retain(|_, at| at >= t.saturating_sub(horizon));
        }
        // A baseline over every subject its events expose keeps them itself;
        // other rules remember what the key exposed, for the alert to count.
        let counts_own = counts_exposures(&rule.detector);
        // the success that completes a sequence (the takeover) exposes its account
        if (matched || completes) && !counts_own && st.exposed.len() < MAX_EXPOSED_PER_KEY {
            for &h in &self.exposed {
                st.exposed.insert(h, t);
            }
            let mut n = self.unlisted;
            if matches!(rule.detector, Detector::Signature { .. }) {
                n += injected(ev, c);
            }
            if n > 0 {
                // the tally covers at most one window, like `exposed`
                if st.unlisted == 0 || st.unlisted_since < t.saturating_sub(rule.detector.window())
                {
                    st.unlisted = 0;
                    st.unlisted_since = t;
                }
                st.unlisted += n;
            }
        }
        if matched && ev.outcome == Outcome::Success {
            st.categories = st.categories.union(c.categories);
        }
        let fired = match &rule.detector {
            Detector::Threshold {
                window, threshold, ..
            }
            | Detector::Signature {
                window, threshold, ..
            } => {
                push_time(st.times.make(), t, *window, *threshold);
                if names_account(rule) {
                    // a run starts afresh after a reset or a quiet window
                    if st.times.len() == 1 {
                        st.aim = Aim::Unknown;
                    }
                    // only the application's own logins (the inventory's
                    // login resource) name a customer's account; `root` on
                    // sshd is every botnet's target, no victim's name
                    let user = ev.user.as_deref().filter(|u| !u.is_empty());
                    match user.filter(|_| c.kind == Some(Kind::Login)) {
                        Some(u) => st.aim.add(self.hasher.hash_one(u)),
                        None => st.aim = Aim::Several,
                    }
                }
                st.times.len() as u64 >= *threshold
            }
            Detector::Sequence {
                window, threshold, ..
            } => {
                if matched {
                    push_time(st.times.make(), t, *window, *threshold);
                    false
                } else {
                    while st
                        .times
                        .front()
                        .is_some_and(|&x| x < t.saturating_sub(*window))
                    {
                        st.times.make().pop_front();
                    }
                    // a success ends the run: the failures must come in a
                    // row (behind a shared address, others' successes break it)
                    let mut fired = st.times.len() as u64 >= *threshold;
                    if let Detector::Sequence {
                        then_new: Some(part),
                        ..
                    } = &rule.detector
                    {
                        // only a success from a value the account never
                        // logged in with (or its first login at all) is new
                        fired &= self.newness.is_some_and(|n| !n.known || n.of(*part));
                    }
                    if !fired {
                        st.clear_times();
                    }
                    fired
                }
            }
            Detector::Distinct {
                window,
                threshold,
                of,
            } => {
                let horizon = t.saturating_sub(*window);
                let mut any = false;
                let report = rule.report_values;
                for_each_value(*of, ev, c, |v| {
                    let fresh = st.seen.make().insert(self.hasher.hash_one(v), t).is_none();
                    if fresh && report > 0 && st.values.len() < report {
                        st.values.make().push(v.into());
                    }
                    any = true;
                });
                if !any {
                    return;
                }
                if st.seen.len() as u64 >= *threshold {
                    st.seen.make().retain(|_, &mut s| s >= horizon);
                    if !st.values.is_empty() {
                        let (seen, hasher) = (&st.seen, &self.hasher);
                        st.values
                            .make()
                            .retain(|v| seen.contains_key(&hasher.hash_one(&**v)));
                    }
                }
                st.seen.len() as u64 >= *threshold
            }
            Detector::Novelty {
                of,
                min_history,
                max_known,
                settle,
                without_login,
                ..
            } => {
                let mut value = None;
                for_each_value(*of, ev, c, |v| value = Some(self.hasher.hash_one(v)));
                let Some(v) = value else {
                    return;
                };
                if st.events == 0 {
                    st.first_seen = t;
                }
                let known = st.seen.contains_key(&v);
                // a principal that logs in has a login profile
                let logs_in = *without_login && logs_in(&self.profiles, self.user_hash);
                // settled: enough history, over long enough, few values
                let settled = st.events >= *min_history
                    && t.saturating_sub(st.first_seen) >= *settle
                    && st.seen.len() <= *max_known
                    && !logs_in;
                st.novel = v;
                st.events += 1;
                // remember values while they are few; an entity with many is
                // never settled, so more need not be kept
                if known || st.seen.len() <= *max_known {
                    st.seen.make().insert(v, t);
                }
                !known && settled
            }
            Detector::Chain { window, steps } => {
                if chain_starts {
                    st.first_seen = t;
                    st.chain = 1;
                }
                if st.chain & 1 == 1 && t.saturating_sub(st.first_seen) > *window {
                    st.chain = 0;
                }
                if st.chain & 1 == 1 {
                    for (i, f) in steps.iter().enumerate().skip(1) {
                        if f.matches(ev, c) {
                            st.chain |= 1 << i;
                        }
                    }
                }
                let done = st.chain == (1u64 << steps.len()) - 1;
                if done {
                    st.chain = 0;
                }
                done
            }
            Detector::Harvest {
                threshold,
                gap,
                fresh_share,
                max_per_visit,
                memory,
                ..
            } => {
                // a list or an export is the volume rules' business
                if c.kind == Some(Kind::Bulk) {
                    return;
                }
                let h = st.harvest.get_or_insert_with(Default::default);
                if h.heavy {
                    return;
                }
                if h.last != 0 && t.saturating_sub(h.last) > *gap {
                    h.visit += 1;
                    h.visit_new = 0;
                    h.visit_had_fresh = false;
                }
                h.last = h.last.max(t);
                let exposed = ev.outcome == Outcome::Success;
                let hasher = &self.hasher;
                if ev.subjects.is_empty() || !exposed {
                    if let Some(s) = c.subject {
                        h.read(tagged(hasher.hash_one(s), false), t, exposed, *memory);
                    }
                } else {
                    for s in &ev.subjects {
                        h.read(tagged(hasher.hash_one(&**s), false), t, exposed, *memory);
                    }
                }
                if h.max_new > *max_per_visit {
                    h.heavy = true;
                    h.reads = Vec::new();
                    return;
                }
                let (fresh, working) = (h.fresh as f64, h.working as f64);
                h.fresh as u64 >= *threshold
                    && h.fresh_visits >= HARVEST_VISITS
                    && fresh >= fresh_share * (fresh + working)
            }
            Detector::Baseline { spec, .. } => {
                let b = st.base.get_or_insert_with(Default::default);
                let peers = &mut self.peers[ri];
                // buckets follow the log's local day, not UTC's
                let off = ev.time.offset_secs as i64 * 1_000_000;
                let bucket = match spec.align {
                    Align::Clock => {
                        let (o, start, end) = &mut self.clock_bucket[ri];
                        if *o != off || t < *start || t >= *end {
                            *start =
                                t.saturating_sub(t.saturating_add(off).rem_euclid(spec.bucket));
                            *end = start.saturating_add(spec.bucket);
                            *o = off;
                        }
                        *start
                    }
                    // a bucket begins with the entity's first event after the
                    // last ended: a bucket's length later, or idle for a sixth of it
                    Align::Activity if b.listed && !activity_ended(b, spec.bucket, t) => b.bucket,
                    Align::Activity => t.max(b.bucket.saturating_add(1)),
                };
                self.offset[ri] = off;
                if bucket > b.bucket {
                    b.roll(peers, bucket);
                }
                if b.since == 0 {
                    b.since = bucket;
                }
                b.last = b.last.max(t);
                if !b.listed {
                    b.listed = true;
                    b.first = t;
                    self.active[ri].push((key, activity_end(b, spec.bucket)));
                }
                let counts = spec
                    .measure_filter
                    .as_ref()
                    .is_none_or(|f| f.matches(ev, c));
                if let Some(role) = ev.role.as_deref() {
                    if b.role.as_deref() != Some(role) {
                        b.role = Some(role.into());
                    }
                } else if b.client != Client::Person {
                    // Without roles, a principal that reads only with a
                    // program and never logs in (a nightly batch's key) is
                    // no person: the crowd of customers is no norm for it.
                    if let Some(ua) = ev.user_agent.as_deref().filter(|a| !a.is_empty()) {
                        b.client = if logs_in(&self.profiles, self.user_hash) || person_agent(ua) {
                            Client::Person
                        } else {
                            Client::Program
                        };
                    }
                }
                match spec.measure {
                    _ if !counts => {}
                    Measure::Events => b.value += 1.0,
                    Measure::Bytes => b.value += ev.bytes_out.unwrap_or(0) as f64,
                    Measure::Records => {
                        b.value += ev.records.unwrap_or_else(|| {
                            ev.subjects.len().max(c.subject.is_some() as usize) as u64
                        }) as f64
                    }
                    Measure::DistinctSubjects => {
                        let distinct = &mut b.distinct;
                        for &h in &self.exposed {
                            distinct.insert(h);
                        }
                        b.unlisted += self.unlisted;
                        b.value = distinct.len() as f64 + b.unlisted as f64;
                    }
                    Measure::FailingIps => {
                        if let Some(ip) = ev.ip {
                            let text = &mut self.scratch;
                            text.clear();
                            push_ip(text, ip);
                            let h = self.hasher.hash_one(text.as_str());
                            if ev.outcome == Outcome::Success {
                                if b.succeeded.make().insert(h) && b.distinct.contains(&h) {
                                    b.value -= 1.0;
                                }
                            } else if !b.succeeded.contains(&h) && b.distinct.insert(h) {
                                b.value += 1.0;
                                if b.named.len() < rule.report_values {
                                    b.named.make().push(text.as_str().into());
                                }
                            }
                        }
                    }
                    Measure::DistinctIps => {
                        if let Some(ip) = ev.ip {
                            let text = &mut self.scratch;
                            text.clear();
                            push_ip(text, ip);
                            if b.distinct.insert(self.hasher.hash_one(text.as_str()))
                                && b.named.len() < rule.report_values
                            {
                                b.named.make().push(text.as_str().into());
                            }
                        }
                        b.value = b.distinct.len() as f64;
                    }
                }
                // A regular is judged by itself: enough buckets of its own,
                // or any history from a previous day (a nightly job has one
                // busy hour a day; it is no newcomer on its second night).
                let regular =
                    b.n >= spec.min_history || b.n >= 1 && b.bucket.saturating_sub(b.since) >= DAY;
                // under the floor nothing fires, whatever the norm: most
                // entities' events stop here, before any norm is looked up
                let reference = if !counts || b.value < spec.floor {
                    None
                } else if regular {
                    Some(b.own_max)
                } else {
                    // An entity with a role is judged by its role's peers only
                    // (a service account is no customer); without roles, a
                    // program's principal by the programs, anyone else by all.
                    // A norm needs whole buckets. On the log's clock the
                    // first is partial, so one must have passed. An
                    // activity-aligned bucket is whole once it ended (a
                    // bucket long, or idle for a sixth of one), so a role
                    // sets its norm as soon as enough of its peers' days
                    // ended, on the log's first day too (a harvester's
                    // first day is no free pass). The mixed crowd of a log
                    // without roles still waits for a whole bucket: staff
                    // who read customers all day have no history of their
                    // own on the first day and would be held to the
                    // customers' norm.
                    let whole = self.whole_buckets[ri] >= 1;
                    let ended = spec.align == Align::Activity;
                    let group = |name: &str, min: u64, ready: bool| {
                        peers.get(name).filter(|h| ready && h.total >= min)
                    };
                    let norm = match (spec.peers, b.group()) {
                        (Peers::None, _) => None,
                        // a role, or the programs, are alike
                        (Peers::Role, Some(like)) => {
                            group(like, spec.min_role_peers, whole || ended)
                        }
                        _ => group("*", spec.min_peers, whole),
                    };
                    norm.map(|h| h.quantile(spec.quantile))
                };
                let over = reference.is_some_and(|r| b.value >= spec.floor.max(spec.factor * r));
                // one alert per bucket over the line: once it has closed, later
                // events of the same bucket do not open another
                let open = self.open[ri].contains_key(&key);
                let fired = over && (open || b.alerted != Some(b.bucket));
                if fired {
                    b.alerted = Some(b.bucket);
                    b.alerted_own = regular;
                }
                fired
            }
        };
        if !fired {
            return;
        }
        if rule.skip_shared && shared_address(self.addresses.as_ref(), self.ip_hash) {
            // behind a shared address, failures are people mistyping, not
            // one guesser; a sequence's run ended with this success
            if let Detector::Sequence { .. } = rule.detector {
                st.clear_times();
            }
            return;
        }
        if self.open[ri].contains_key(&key) {
            // Already open: what the key exposed before is only for a new
            // alert to count (and collecting it is O(subjects)). A rule that
            // does not count the key's exposures itself restarts its
            // unlisted tally here, as a new alert would.
            let own_tally = rule.report_values > 0
                || counts_exposures(&rule.detector) && st.base.is_some()
                || matches!(rule.detector, Detector::Harvest { .. });
            if !own_tally {
                st.unlisted = 0;
            }
            if completes {
                st.clear_times();
            }
            if let Some(open) = self.open[ri].get_mut(&key) {
                // `observe` extended it, except a baseline's, which grows
                // only while its bucket stays over the line
                if matches!(self.rules[ri].detector, Detector::Baseline { .. }) {
                    extend_span(open, ev);
                    let cap = self.rules[ri].report_values;
                    if let Some(b) = st.base.as_mut() {
                        name_bucket(open, b, cap, &self.hasher);
                    }
                    // an address that got into one account and fails at others
                    // is no customer who mistyped: the measure does not count
                    // it, the campaign names it
                    let failed = matches!(ev.outcome, Outcome::Failure | Outcome::Denied);
                    if let Some(ip) = ev.ip.filter(|_| failed && open.named.len() < cap) {
                        self.scratch.clear();
                        push_ip(&mut self.scratch, ip);
                        if open
                            .named
                            .insert(self.hasher.hash_one(self.scratch.as_str()))
                        {
                            open.alert.entities.push(Entity {
                                kind: EntityType::Ip,
                                value: self.scratch.clone(),
                            });
                        }
                    }
                }
            }
            return;
        }
        let start = match &rule.detector {
            Detector::Distinct { .. } => st.seen.values().min().copied().unwrap_or(t),
            Detector::Baseline { .. } => st.base.as_ref().map_or(t, |b| b.first),
            Detector::Novelty { .. } => t,
            Detector::Chain { .. } => st.first_seen,
            Detector::Harvest { .. } => st
                .harvest
                .as_ref()
                .and_then(|h| h.harvested().map(|r| r.first).min())
                .unwrap_or(t),
            _ => st.times.front().copied().unwrap_or(t),
        };
        // what the key exposed before the alert (not for a campaign's shared key)
        let (before, unlisted_before): (HashSet<u64>, u64) = match (&rule.detector, &st.base) {
            // a campaign's shared key: nothing before counts
            _ if rule.report_values > 0 => (HashSet::default(), 0),
            // a baseline over every exposed subject: its bucket's subjects
            (d, Some(b)) if counts_exposures(d) => (b.distinct.iter().collect(), b.unlisted),
            // a harvest: what it read outside its working set
            (Detector::Harvest { .. }, _) => (
                st.harvest
                    .as_ref()
                    .map(|h| h.harvested().map(|r| r.subject).collect())
                    .unwrap_or_default(),
                0,
            ),
            _ => {
                let unlisted = std::mem::take(&mut st.unlisted);
                (
                    st.exposed
                        .iter()
                        .filter(|&(_, at)| at >= start)
                        .map(|(h, _)| h)
                        .collect(),
                    // only what the firing event and those after `start` showed
                    if matches!(rule.detector, Detector::Novelty { .. }) {
                        self.unlisted
                    } else if st.unlisted_since >= start {
                        unlisted
                    } else {
                        0
                    },
                )
            }
        };
        let categories_before = st.categories;
        // matching lines before the one that fired (that one is counted below)
        let events_before = match &rule.detector {
            Detector::Threshold { .. } | Detector::Signature { .. } => {
                st.times.len().saturating_sub(1)
            }
            Detector::Sequence { .. } => st.times.len(),
            Detector::Distinct { .. } => st.seen.len().saturating_sub(1),
            Detector::Baseline { .. }
            | Detector::Novelty { .. }
            | Detector::Chain { .. }
            | Detector::Harvest { .. } => 0,
        } as u64;
        if completes {
            st.clear_times();
        }
        let novel = st.novel;
        let rule = &self.rules[ri];
        let mut named = entities(&rule.key, ev);
        if let Detector::Novelty {
            of: KeyPart::Ip | KeyPart::IpPrefix,
            ..
        } = rule.detector
        {
            // the address that showed the new network
            named.extend(entities(&[KeyPart::Ip], ev));
        }
        // an address-keyed run that went for one account names it: the
        // addresses of a brute force spread over a botnet share their victim
        if names_account(rule) {
            if let Some(u) = ev.user.as_deref().filter(|u| !u.is_empty()) {
                if st.aim == Aim::One(self.hasher.hash_one(u)) {
                    named.push(Entity {
                        kind: EntityType::User,
                        value: u.to_string(),
                    });
                }
            }
        }
        let mut named_hashes = HashSet::default();
        if let Some(b) = st.base.as_mut() {
            for ip in b.named.iter() {
                if named_hashes.insert(self.hasher.hash_one(&**ip)) {
                    named.push(Entity {
                        kind: EntityType::Ip,
                        value: ip.to_string(),
                    });
                }
            }
            b.synced = b.named.len();
        }
        if let Detector::Distinct { of, .. } = rule.detector {
            if let Some(kind) = entity_type(of) {
                // the values still inside the window
                for v in st.values.iter() {
                    let h = self.hasher.hash_one(&**v);
                    if st.seen.contains_key(&h) && named_hashes.insert(h) {
                        named.push(Entity {
                            kind,
                            value: v.to_string(),
                        });
                    }
                }
            }
        }
        let mut exposed = alert::SubjectIds::default();
        for h in before.iter().filter(|h| *h & 1 == 0) {
            match self.ids.get(*h) {
                Some(id) => exposed.push(id),
                None => exposed.incomplete = true,
            }
        }
        let mut open = Open {
            alert: Alert {
                detector: rule.name.clone(),
                entities: named,
                start: EventTime {
                    unix_micros: start,
                    offset_secs: ev.time.offset_secs,
                },
                end: ev.time,
                detected_at: ev.time,
                severity: rule.severity,
                incident: None,
                subjects: 0,
                categories: categories_before,
                exposed: Default::default(),
                events: 0,
                summary: match &rule.detector {
                    Detector::Signature {
                        min_level,
                        categories,
                        ..
                    } => match self.signature_hit(*min_level, categories) {
                        Some(sig) => format!("{}: {}", rule.description, sig.title),
                        None => rule.description.clone(),
                    },
                    _ => rule.description.clone(),
                },
            },
            last: t,
            accounts: before.iter().filter(|h| *h & 1 == 1).count() as u64,
            subjects: before,
            unlisted: unlisted_before,
            named: named_hashes,
            tally: HashMap::default(),
            aims: HashMap::default(),
            only: match rule.detector {
                Detector::Novelty { of, .. } => Some((of, novel)),
                _ => None,
            },
        };
        // the firing event's exposures are already in `before`
        open.alert.exposed = exposed;
        open.alert.events = events_before;
        extend_span(&mut open, ev);
        open.alert.subjects = estimate(&open, self.subjects_total);
        if let Some(q) = &mut self.opened {
            q.push(open.alert.clone());
        }
        self.open[ri].insert(key, open);
        if ri < 64 {
            self.open_rules |= 1 << ri;
        }
    }

    /// Drops expired key state and closes quiet alerts.
    fn sweep(&mut self) {
        let now = self.now;
        let mut min_window = i64::MAX;
        for (ri, rule) in self.rules.iter().enumerate() {
            let window = rule.detector.window();
            min_window = min_window.min(window);
            // before the rule's first event the log's clock (and so its day) is
            // unknown, and a first bucket aligned on UTC would count as whole
            let off = self.offset[ri];
            if let (Detector::Baseline { spec, .. }, false) = (&rule.detector, off == i64::MIN) {
                // Close every entity's finished bucket, so peer norms include
                // the entities that did not come back.
                let current = now.saturating_sub(now.saturating_add(off).rem_euclid(spec.bucket));
                if spec.align == Align::Activity && now >= self.next_roll[ri] {
                    // each entity's bucket ends a bucket after its own start
                    self.next_roll[ri] = now.saturating_add((spec.bucket / 24).max(60_000_000));
                    let (peers, states) = (&mut self.peers[ri], &mut self.state[ri]);
                    let list = &mut self.active[ri];
                    let mut kept = 0;
                    for i in 0..list.len() {
                        prefetch_ahead(states, list, i, |end| now >= end);
                        let (key, end) = list[i];
                        let keep = now < end
                            || match states.get_mut(&key).and_then(|st| st.base.as_mut()) {
                                None => false,
                                Some(b) if !activity_ended(b, spec.bucket, now) => {
                                    list[i].1 = activity_end(b, spec.bucket);
                                    true
                                }
                                Some(b) => {
                                    let start = b.bucket;
                                    b.roll(peers, start);
                                    false
                                }
                            };
                        if keep {
                            list[kept] = list[i];
                            kept += 1;
                        }
                    }
                    list.truncate(kept);
                }
                if self.rolled[ri] < current {
                    if self.rolled[ri] != i64::MIN {
                        self.whole_buckets[ri] += 1;
                    }
                    self.rolled[ri] = current;
                    let peers = &mut self.peers[ri];
                    // only entities active since the last roll have a bucket to
                    // close (activity-aligned buckets close on their own time)
                    let clock = spec.align == Align::Clock;
                    let ended = if clock {
                        std::mem::take(&mut self.active[ri])
                    } else {
                        Vec::new()
                    };
                    let states = &mut self.state[ri];
                    for (i, &(key, _)) in ended.iter().enumerate() {
                        prefetch_ahead(states, &ended, i, |_| true);
                        let st = states.get_mut(&key);
                        if let Some(b) = st
                            .and_then(|st| st.base.as_mut())
                            .filter(|b| b.bucket < current)
                        {
                            b.roll(peers, current);
                        }
                    }
                }
            }
            // Expire idle keys a few times per window (not every sweep: a
            // pass over every key of a month-long baseline is not free).
            if now >= self.next_expire[ri] {
                let since = now.saturating_sub(window);
                match rule.detector {
                    // a chain's key lives while its chain runs (see `chain_starts`)
                    Detector::Chain { .. } => {
                        self.state[ri].retain(|_, s| s.chain & 1 == 1 && s.first_seen >= since)
                    }
                    _ => self.state[ri].retain(|_, s| s.last >= since),
                }
                self.first_reads[ri].retain(|_, f| f.last >= now.saturating_sub(window));
                self.next_expire[ri] = now.saturating_add((window / 4).max(60_000_000));
            }
            let quiet = rule.quiet;
            let closing: Vec<u64> = self.open[ri]
                .iter()
                .filter(|(_, o)| o.last < now.saturating_sub(quiet))
                .map(|(k, _)| *k)
                .collect();
            for k in closing {
                if let Some(mut o) = self.open[ri].remove(&k) {
                    self.stats.alerts += 1;
                    let guessers = unname_guessers(&mut o, &self.rules[ri], &self.hasher);
                    self.closed.push(o.alert);
                    self.stats.alerts += guessers.len() as u64;
                    self.closed.extend(guessers);
                }
            }
            if self.open[ri].is_empty() && ri < 64 {
                self.open_rules &= !(1 << ri);
            }
        }
        // sweep about twice per shortest window, at least once a minute of event time
        let step = (min_window / 2).clamp(1, 60_000_000);
        self.next_sweep = now.saturating_add(step);
    }

    /// The latest event time seen (or advanced to), in microseconds.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Moves event time forward without an event (the daemon's clock, so
    /// alerts close when the logs go quiet).
    pub fn advance_to(&mut self, t: i64) {
        if t > self.now {
            self.now = t;
        }
        if self.now >= self.next_sweep {
            self.sweep();
        }
    }

    /// Keeps a copy of each alert as it opens, for [`Engine::take_opened`]
    /// (the daemon pages on-call at once instead of when the alert closes).
    pub fn with_opened_queue(mut self) -> Engine {
        self.opened = Some(Vec::new());
        self
    }

    /// Alerts opened since the last call, as they were when they opened.
    pub fn take_opened(&mut self) -> Vec<Alert> {
        self.opened.as_mut().map(std::mem::take).unwrap_or_default()
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
        for (ri, open) in self.open.iter_mut().enumerate() {
            for (_, mut o) in open.drain() {
                self.stats.alerts += 1;
                let guessers = unname_guessers(&mut o, &self.rules[ri], &self.hasher);
                self.closed.push(o.alert);
                self.stats.alerts += guessers.len() as u64;
                self.closed.extend(guessers);
            }
        }
        let mut out = std::mem::take(&mut self.closed);
        out.sort_by_key(|a| (a.detected_at, a.detector.clone()));
        out
    }
}

/// In a pass over a list of keys' states (an hourly roll visits every
/// active entity's, each a cache miss), asks for the table slot of the key
/// two strides ahead of `i` and the state of the key one stride ahead, so
/// the misses overlap instead of queueing. `due` says which keys the pass
/// will look up, by the time kept beside them.
fn prefetch_ahead(
    states: &KeyTable<Box<KeyState>>,
    list: &[(u64, i64)],
    i: usize,
    due: impl Fn(i64) -> bool,
) {
    const STRIDE: usize = 8;
    if let Some(&(key, at)) = list.get(i + 2 * STRIDE) {
        if due(at) {
            states.prefetch(key);
        }
    }
    if let Some(&(key, at)) = list.get(i + STRIDE) {
        if due(at) {
            states.prefetch_value(key);
        }
    }
}

fn push_time(times: &mut VecDeque<i64>, t: i64, window: i64, cap: u64) {
    while times.front().is_some_and(|&x| x < t.saturating_sub(window)) {
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
fn extend(
    open: &mut Open,
    ev: &Event<'_>,
    c: &Class<'_>,
    hasher: &impl BuildHasher,
    total: Option<u64>,
    grows: bool,
) {
    if grows {
        extend_span(open, ev);
    }
    if ev.outcome == Outcome::Success {
        open.alert.categories = open.alert.categories.union(c.categories);
    }
    let (subjects, accounts) = (&mut open.subjects, &mut open.accounts);
    let ids = &mut open.alert.exposed;
    exposures(ev, c, |v, account| {
        if subjects.len() >= MAX_SUBJECTS_PER_ALERT {
            ids.incomplete |= !account;
        } else if subjects.insert(tagged(hasher.hash_one(v), account)) {
            if account {
                *accounts += 1;
            } else {
                ids.push(v);
            }
        }
    });
    open.unlisted += exposed_unlisted(ev, c, total);
    open.alert.subjects = estimate(open, total);
}

/// Whether the detector's own state already holds every subject its key
/// exposed in the current bucket (a baseline counting distinct subjects of
/// all its events), so the key need not keep a second record of them.
fn counts_exposures(d: &Detector) -> bool {
    matches!(d, Detector::Baseline { spec, .. }
        if spec.measure == Measure::DistinctSubjects && spec.measure_filter.is_none())
        || matches!(d, Detector::Harvest { .. })
}

/// For rules that name what they count (a distributed attack's addresses),
/// adds the event's value to the open alert's entities, up to the cap.
fn name_values(
    rule: &Rule,
    open: &mut Open,
    ev: &Event<'_>,
    c: &Class<'_>,
    hasher: &impl BuildHasher,
) {
    let cap = rule.report_values;
    if cap == 0 || open.named.len() >= cap || !rule.filter.matches(ev, c) {
        return;
    }
    let of = match &rule.detector {
        Detector::Distinct { of, .. } => *of,
        // a baseline names its bucket's addresses while the bucket is over
        // the line (`name_bucket`), not those of the quiet hour after it
        _ => return,
    };
    let Some(kind) = entity_type(of) else {
        return;
    };
    for_each_value(of, ev, c, |v| {
        if open.named.len() < cap && open.named.insert(hasher.hash_one(v)) {
            open.alert.entities.push(Entity {
                kind,
                value: v.to_string(),
            });
        }
    });
}

/// Names the addresses a baseline's bucket counted since the last call,
/// up to the rule's cap (called while the bucket is over the line).
fn name_bucket(open: &mut Open, b: &mut BaseState, cap: usize, hasher: &impl BuildHasher) {
    for ip in b.named.iter().skip(b.synced) {
        if open.named.len() >= cap {
            break;
        }
        if open.named.insert(hasher.hash_one(&**ip)) {
            open.alert.entities.push(Entity {
                kind: EntityType::Ip,
                value: ip.to_string(),
            });
        }
    }
    b.synced = b.named.len();
}

/// Whether a rule is a surge of failing addresses (a campaign counted at a
/// shared login page), whose named addresses' aims are tallied.
fn surge(rule: &Rule) -> bool {
    rule.report_values > 0
        && matches!(&rule.detector, Detector::Baseline { spec, .. } if spec.measure == Measure::FailingIps)
}

/// Whether a threshold rule names the account its key's run went for: one
/// keyed on addresses (or anything but the account) counting logins (of
/// the application's login resource: see `step`).
fn names_account(rule: &Rule) -> bool {
    matches!(rule.detector, Detector::Threshold { .. }) && !rule.key.contains(&KeyPart::User)
}

/// Takes out of a closing surge alert the addresses that guessed one
/// account's password (`GUESSES_ON_ONE_ACCOUNT` failures on it and none
/// elsewhere) while the crowd tried many accounts: they are another attack
/// going on at the same time (a brute force on one account), which its own
/// alerts report, not members of the campaign. Where the log names no
/// account (an access log), an address failing far more often than the
/// crowd's members (`LOUD_FAILURES` and three times their mean) is taken
/// out alike, unless it got in meanwhile (people behind a shared address). When guessers are not a small minority (a
/// tenth) the crowd itself is guessing, and all stay.
///
/// The guessers taken out are reported together, one alert per account
/// they went for (`<rule>_guessers`, naming the account and the addresses;
/// one alert for the loud addresses of a log without accounts), so the
/// brute force spread over them is one incident, apart from the campaign's.
fn unname_guessers(open: &mut Open, rule: &Rule, hasher: &impl BuildHasher) -> Vec<Alert> {
    if open.aims.is_empty() {
        return Vec::new();
    }
    // every named address failed once before its tally began
    let named = open.named.len().max(1) as f64;
    let mean = (open.aims.values().map(|t| t.fails as f64).sum::<f64>() + named) / named;
    let guesser = |t: &Tries| match t.aim {
        // its success, if any, is the guess that worked (the takeover)
        Aim::One(_) => t.fails >= GUESSES_ON_ONE_ACCOUNT,
        Aim::Unknown => t.wins == 0 && t.fails >= LOUD_FAILURES && t.fails as f64 > 3.0 * mean,
        Aim::Several => false,
    };
    let count = open.aims.values().filter(|t| guesser(t)).count();
    if count == 0 || count * 10 > open.named.len() {
        return Vec::new();
    }
    // by the account they went for (none: an access log's loud addresses)
    let mut groups: std::collections::BTreeMap<Option<Box<str>>, Vec<Entity>> = Default::default();
    let mut spans: TextMap<Option<Box<str>>, (EventTime, EventTime, EventTime, u64)> =
        TextMap::default();
    open.alert.entities.retain(|e| {
        if e.kind != EntityType::Ip {
            return true;
        }
        let Some(t) = open.aims.get(&hasher.hash_one(e.value.as_str())) else {
            return true;
        };
        if !guesser(t) {
            return true;
        }
        let (Some(first), Some(last), Some(loud)) = (t.first, t.last, t.loud_at) else {
            return true;
        };
        let account = match t.aim {
            Aim::One(_) => t.account.clone(),
            _ => None,
        };
        let span = spans
            .entry(account.clone())
            .or_insert((first, last, loud, 0));
        span.0 = span.0.min(first);
        span.1 = span.1.max(last);
        span.2 = span.2.min(loud);
        span.3 += u64::from(t.fails);
        groups.entry(account).or_default().push(e.clone());
        false
    });
    groups
        .into_iter()
        .filter_map(|(account, ips)| {
            let (start, end, detected_at, events) = *spans.get(&account)?;
            let mut entities: Vec<Entity> = account
                .iter()
                .map(|a| Entity {
                    kind: EntityType::User,
                    value: a.to_string(),
                })
                .collect();
            entities.extend(ips);
            Some(Alert {
                detector: format!("{}_guessers", rule.name),
                entities,
                start,
                end,
                detected_at,
                severity: rule.severity,
                incident: None,
                subjects: 0,
                categories: Categories::default(),
                events,
                exposed: Default::default(),
                summary: match account {
                    Some(_) => "addresses failing again and again at one account during a surge of failed logins from many addresses: guessing its password, apart from the surge's crowd".into(),
                    None => "addresses failing far more often than a surge's crowd of failing addresses: guessing, apart from the crowd".into(),
                },
            })
        })
        .collect()
}

/// Widens the alert's span to the event and counts it.
fn extend_span(open: &mut Open, ev: &Event<'_>) {
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
}

/// Distinct subjects seen plus those counted but not listed, never more than
/// the organisation holds.
///
/// An account logged into and that account's own record are one person
/// under two names the logs cannot join (no app tells breachd which
/// subject id an account is), so the estimate is the larger of the two
/// counts, not their sum: a takeover that logs in and reads its victim's
/// profile exposed one person.
fn estimate(open: &Open, total: Option<u64>) -> u64 {
    let records = open.subjects.len() as u64 - open.accounts + open.unlisted;
    let n = records.max(open.accounts);
    total.map_or(n, |t| n.min(t))
}

/// A subject's hash, its lowest bit saying whether it names an account
/// (a login) or a data subject (a record read), so one set holds both and
/// each can still be counted.
#[inline]
fn tagged(h: u64, account: bool) -> u64 {
    if account {
        h | 1
    } else {
        h & !1
    }
}

/// The data subjects a successful event exposed: the account logged into
/// (`f(account, true)`), or the subjects a read of personal data names.
fn exposures(ev: &Event<'_>, c: &Class<'_>, mut f: impl FnMut(&str, bool)) {
    if ev.outcome != Outcome::Success {
        return;
    }
    if c.kind == Some(Kind::Login) {
        if let Some(u) = ev.user.as_deref() {
            f(u, true);
        }
    } else if !c.categories.is_empty() {
        if ev.subjects.is_empty() {
            if let Some(s) = c.subject {
                f(s, false);
            }
        } else {
            for s in &ev.subjects {
                f(s, false);
            }
        }
    }
}

/// Subjects a successful read returned beyond those the log lists. A bulk
/// resource read without parameters, in a log that counts nothing (an access
/// log), is taken to return the whole population the inventory declares: an
/// export endpoint dumps its table.
fn exposed_unlisted(ev: &Event<'_>, c: &Class<'_>, total: Option<u64>) -> u64 {
    if ev.outcome != Outcome::Success || c.categories.is_empty() {
        return 0;
    }
    let counted = !ev.subjects.is_empty() || ev.records.is_some();
    match ev.resource.as_deref() {
        Some(r) if c.kind == Some(Kind::Bulk) && !counted => match r.split_once('?') {
            None => total.unwrap_or(0),
            // a page of a list: at most the page size it asked for
            Some((_, query)) => page_size(query).map_or(0, |n| total.map_or(n, |t| n.min(t))),
        },
        _ => ev.subjects_truncated,
    }
}

/// Records a request returned from a resource that holds no personal data:
/// when a signature flagged the request (an injection), those rows came from
/// somewhere else, and each is taken for one data subject.
fn injected(ev: &Event<'_>, c: &Class<'_>) -> u64 {
    if ev.outcome == Outcome::Success && c.categories.is_empty() {
        ev.records.unwrap_or(0)
    } else {
        0
    }
}

/// The page size a list request asks for, under the parameter names common
/// REST APIs use (`limit=50`, `per_page=50`...).
fn page_size(query: &str) -> Option<u64> {
    const NAMES: [&str; 6] = ["limit", "per_page", "page_size", "pagesize", "size", "top"];
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        let k = k.trim_start_matches('$');
        if NAMES.iter().any(|n| n.eq_ignore_ascii_case(k)) {
            v.parse().ok()
        } else {
            None
        }
    })
}

/// A state key: the seeded hash of the key's parts, each tagged and in its
/// binary form (an address's octets, not its text), or `None` when the
/// event lacks one of them.
fn hash_key(parts: &[KeyPart], ev: &Event<'_>, c: &Class<'_>, hasher: &Fast) -> Option<u64> {
    // One part, the usual shapes: one seeded hash of a word, not a byte
    // stream (most of an event's hashing). The account's key is the hash of
    // its name, as `Engine::observe` takes it once per event.
    match parts {
        [KeyPart::User] => {
            return ev
                .user
                .as_deref()
                .filter(|u| !u.is_empty())
                .map(|u| hasher.hash_one(u));
        }
        [p @ (KeyPart::Ip | KeyPart::IpPrefix)] => {
            if let Some(std::net::IpAddr::V4(v)) = ev.ip {
                let bits = u32::from(v);
                let bits = if *p == KeyPart::IpPrefix {
                    bits >> 8
                } else {
                    bits
                };
                return Some(hasher.hash_one(((*p as u64) << 32) | u64::from(bits)));
            }
        }
        _ => {}
    }
    let mut h = hasher.build_hasher();
    for p in parts {
        h.write_u8(*p as u8);
        let text = match p {
            KeyPart::Ip | KeyPart::IpPrefix => {
                let prefix = *p == KeyPart::IpPrefix;
                match ev.ip? {
                    std::net::IpAddr::V4(v) => {
                        let o = v.octets();
                        h.write(if prefix { &o[..3] } else { &o });
                    }
                    std::net::IpAddr::V6(v) => {
                        let o = v.octets();
                        h.write(if prefix { &o[..6] } else { &o });
                    }
                }
                continue;
            }
            KeyPart::User => ev.user.as_deref(),
            KeyPart::Session => ev.session.as_deref(),
            KeyPart::UserAgent => ev.user_agent.as_deref(),
            KeyPart::Subject => ev.subjects.first().map(|s| s.as_ref()).or(c.subject),
            KeyPart::Host => ev.host.as_deref(),
            KeyPart::Resource => ev.resource.as_deref(),
        };
        match text {
            Some(s) if !s.is_empty() => {
                h.write(s.as_bytes());
                // a terminator, so parts cannot run into each other
                h.write_u8(0xff);
            }
            _ => return None,
        }
    }
    Some(h.finish())
}

/// Writes the key for `parts` into `buf`; false when the event lacks a part.
fn build_key(parts: &[KeyPart], ev: &Event<'_>, c: &Class<'_>, buf: &mut String) -> bool {
    buf.clear();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            buf.push('\u{1f}');
        }
        let ok = match p {
            KeyPart::Ip => ev.ip.map(|ip| push_ip(buf, ip)).is_some(),
            KeyPart::IpPrefix => ev.ip.map(|ip| write_prefix(buf, ip)).is_some(),
            KeyPart::User => push(buf, ev.user.as_deref()),
            KeyPart::Session => push(buf, ev.session.as_deref()),
            KeyPart::UserAgent => push(buf, ev.user_agent.as_deref()),
            KeyPart::Subject => push(buf, ev.subjects.first().map(|s| s.as_ref()).or(c.subject)),
            KeyPart::Host => push(buf, ev.host.as_deref()),
            KeyPart::Resource => push(buf, ev.resource.as_deref()),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether the event's address (its `ip` key) is shared by several people
/// (see [`AddressLogins::shared`]).
fn shared_address(addresses: Option<&HashMap<u64, AddressLogins>>, ip: Option<u64>) -> bool {
    ip.zip(addresses)
        .is_some_and(|(h, a)| a.get(&h).is_some_and(AddressLogins::shared))
}

/// An address as text, without the formatting machinery for IPv4.
#[inline]
fn push_ip(buf: &mut String, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v) => {
            for (i, o) in v.octets().into_iter().enumerate() {
                if i > 0 {
                    buf.push('.');
                }
                if o >= 100 {
                    buf.push((b'0' + o / 100) as char);
                }
                if o >= 10 {
                    buf.push((b'0' + o / 10 % 10) as char);
                }
                buf.push((b'0' + o % 10) as char);
            }
        }
        v6 => {
            let _ = write!(buf, "{v6}");
        }
    }
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

/// The entity type a counted value names, if it names one.
fn entity_type(p: KeyPart) -> Option<EntityType> {
    Some(match p {
        KeyPart::Ip => EntityType::Ip,
        KeyPart::User => EntityType::User,
        KeyPart::Session => EntityType::Session,
        KeyPart::IpPrefix => EntityType::IpPrefix,
        KeyPart::UserAgent => EntityType::UserAgent,
        KeyPart::Host => EntityType::Host,
        KeyPart::Resource => EntityType::Resource,
        KeyPart::Subject => return None,
    })
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
            KeyPart::Host => (EntityType::Host, ev.host.as_deref().map(String::from)),
            KeyPart::Resource => (
                EntityType::Resource,
                ev.resource.as_deref().map(String::from),
            ),
            KeyPart::Subject => continue,
        };
        if let Some(value) = value {
            out.push(Entity { kind, value });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Inventory;
    use std::borrow::Cow;

    const INV: &str = "resources:\n  - pattern: /login\n    methods: [POST]\n    kind: login\n  - pattern: \"/c/{id}\"\n    categories: [identity]\n    sensitivity: high\n    subject_param: id\n";

    fn rules(yaml: &str) -> Vec<Rule> {
        rules::compile(yaml, "t.yaml").unwrap()
    }

    /// (seconds, ip, user, method, path, status)
    type Line = (i64, &'static str, &'static str, &'static str, String, u16);

    fn run(rules_yaml: &str, lines: &[Line]) -> Vec<Alert> {
        let inv = Inventory::from_str(INV, "inv").unwrap();
        let mut e = Engine::new(rules(rules_yaml), 1000);
        for (t, ip, user, m, path, status) in lines {
            let ev = Event {
                time: EventTime::from_unix_secs(*t, 0),
                ip: ip.parse().ok(),
                user: (!user.is_empty()).then_some(Cow::Borrowed(*user)),
                action: Some(Cow::Borrowed(*m)),
                resource: Some(Cow::Borrowed(path.as_str())),
                status: Some(*status),
                outcome: Outcome::from_http_status(*status),
                ..Event::default()
            };
            let c = inv.classify(&ev);
            e.observe(&ev, &c);
        }
        e.finish()
    }

    fn login(t: i64, ip: &'static str, user: &'static str, status: u16) -> Line {
        (t, ip, user, "POST", "/login".into(), status)
    }

    const THRESHOLD: &str = "rules:\n  - name: bf\n    detector: threshold\n    match: {kind: [login], outcome: [failure, denied]}\n    key: [ip]\n    window: 10m\n    threshold: 5\n    severity: high\n    quiet: 30m\n";

    #[test]
    fn threshold_fires_once_per_attack_and_extends() {
        // 4 failures: nothing; 20 failures over 10 minutes: one alert spanning them
        let below: Vec<Line> = (0..4).map(|i| login(i * 60, "1.1.1.1", "", 401)).collect();
        assert!(run(THRESHOLD, &below).is_empty());
        let attack: Vec<Line> = (0..20)
            .map(|i| login(1000 + i * 30, "2.2.2.2", "", 401))
            .collect();
        let a = run(THRESHOLD, &attack);
        assert_eq!(a.len(), 1, "{a:#?}");
        assert_eq!(a[0].start.unix_secs(), 1000);
        assert_eq!(
            a[0].detected_at.unix_secs(),
            1000 + 4 * 30,
            "fires on the 5th failure"
        );
        assert_eq!(a[0].end.unix_secs(), 1000 + 19 * 30);
        assert_eq!(a[0].events, 20);
        assert_eq!(a[0].entities[0].value, "2.2.2.2");
        assert_eq!(a[0].subjects, 0, "nobody logged in: nobody exposed");
    }

    #[test]
    fn threshold_forgets_outside_the_window_and_reopens_after_quiet() {
        // one failure every 3 minutes: never 5 within 10 minutes
        let slow: Vec<Line> = (0..30)
            .map(|i| login(i * 180, "3.3.3.3", "", 401))
            .collect();
        assert!(run(THRESHOLD, &slow).is_empty());
        // two bursts 2 hours apart: two alerts
        let mut two: Vec<Line> = (0..6).map(|i| login(i, "4.4.4.4", "", 401)).collect();
        two.extend((0..6).map(|i| login(7200 + i, "4.4.4.4", "", 401)));
        assert_eq!(run(THRESHOLD, &two).len(), 2);
    }

    /// An open alert sees the events its rule's filter never takes (the
    /// rule loop visits it for as long as it has one open), again after a
    /// sweep closed the rule's last alert and a new one opened.
    #[test]
    fn an_open_alert_counts_what_its_key_reads_meanwhile_alert_after_alert() {
        let mut lines = Vec::new();
        for (start, first_id) in [(0, 100), (7200, 200)] {
            lines.extend((0..6).map(|i| login(start + i, "6.6.6.6", "", 401)));
            lines.extend((0..3).map(|k| {
                (
                    start + 10 + k,
                    "6.6.6.6",
                    "",
                    "GET",
                    format!("/c/{}", first_id + k),
                    200,
                )
            }));
        }
        let a = run(THRESHOLD, &lines);
        assert_eq!(a.len(), 2, "{a:#?}");
        assert_eq!((a[0].subjects, a[1].subjects), (3, 3), "{a:#?}");
        // the span is the attack's (its failures), not the reads'
        assert_eq!(a[1].end.unix_secs(), 7200 + 5);
    }

    #[test]
    fn a_successful_login_after_the_failures_counts_one_exposed_subject() {
        let mut lines: Vec<Line> = (0..10).map(|i| login(i, "5.5.5.5", "bob", 401)).collect();
        lines.push(login(20, "5.5.5.5", "bob", 200));
        let a = run(THRESHOLD, &lines);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].subjects, 1);
    }

    #[test]
    fn distinct_counts_values_not_events() {
        let yaml = "rules:\n  - name: enum\n    detector: distinct\n    match: {has_subject: true}\n    key: [user]\n    distinct: subject\n    window: 1h\n    threshold: 10\n    severity: critical\n";
        // the same record 100 times: no alert
        let same: Vec<Line> = (0..100)
            .map(|i| (i, "6.6.6.6", "eve", "GET", "/c/1".into(), 200))
            .collect();
        assert!(run(yaml, &same).is_empty());
        // 30 different records, 20 refused: alert, 10 subjects exposed
        let walk: Vec<Line> = (0..30)
            .map(|i| {
                (
                    i * 10,
                    "6.6.6.6",
                    "eve",
                    "GET",
                    format!("/c/{i}"),
                    if i < 10 { 200 } else { 403 },
                )
            })
            .collect();
        let a = run(yaml, &walk);
        assert_eq!(a.len(), 1, "{a:#?}");
        assert_eq!(
            a[0].detected_at.unix_secs(),
            90,
            "fires at the 10th distinct subject"
        );
        assert_eq!(a[0].subjects, 10, "only served records expose subjects");
        // the ids read before the alert fired are named too, refused ones not
        let mut ids: Vec<&str> = a[0].exposed.ids.iter().map(|s| &**s).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
        assert!(!a[0].exposed.incomplete);
        assert_eq!(a[0].categories.names(), vec!["identity"]);
    }

    #[test]
    fn sequence_needs_the_failures_then_the_success() {
        let yaml = "rules:\n  - name: ato\n    detector: sequence\n    match: {kind: [login], outcome: [failure]}\n    then: {kind: [login], outcome: [success]}\n    key: [user]\n    window: 1h\n    threshold: 3\n    severity: high\n";
        let only_success = vec![login(0, "7.7.7.7", "amy", 200)];
        assert!(run(yaml, &only_success).is_empty());
        let two_failures = vec![
            login(0, "7.7.7.7", "amy", 400),
            login(1, "7.7.7.7", "amy", 400),
            login(2, "7.7.7.7", "amy", 200),
        ];
        assert!(run(yaml, &two_failures).is_empty());
        let mut takeover: Vec<Line> = (0..5).map(|i| login(i, "8.8.8.8", "amy", 400)).collect();
        takeover.push(login(100, "9.9.9.9", "amy", 200));
        let a = run(yaml, &takeover);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].detected_at.unix_secs(), 100);
        assert_eq!(a[0].entities[0].value, "amy");
        // failures too long before the success do not count
        let mut stale: Vec<Line> = (0..5).map(|i| login(i, "8.8.8.8", "amy", 400)).collect();
        stale.push(login(7200, "9.9.9.9", "amy", 200));
        assert!(run(yaml, &stale).is_empty());
    }

    #[test]
    fn a_distributed_attack_names_its_addresses() {
        let yaml = "rules:\n  - name: dist\n    detector: distinct\n    match: {kind: [login], outcome: [failure]}\n    key: [resource]\n    distinct: ip\n    window: 1h\n    threshold: 5\n    report_values: 100\n    severity: medium\n";
        const IPS: [&str; 8] = [
            "1.0.0.1", "1.0.0.2", "1.0.0.3", "1.0.0.4", "1.0.0.5", "1.0.0.6", "1.0.0.7", "1.0.0.8",
        ];
        // each address tries twice; the 5th address makes it fire, later ones join
        let lines: Vec<Line> = (0..16)
            .map(|i| login(i * 60, IPS[i as usize / 2], "", 400))
            .collect();
        let a = run(yaml, &lines);
        assert_eq!(a.len(), 1, "{a:#?}");
        let ips: Vec<&str> = a[0]
            .entities
            .iter()
            .filter(|e| e.kind == EntityType::Ip)
            .map(|e| e.value.as_str())
            .collect();
        assert_eq!(ips, IPS.to_vec());
        assert_eq!(
            a[0].entities[0],
            Entity {
                kind: EntityType::Resource,
                value: "/login".into()
            }
        );
    }

    const BASELINE: &str = "rules:\n  - name: mass\n    detector: baseline\n    match: {has_subject: true, outcome: [success]}\n    key: [user]\n    measure: distinct_subjects\n    bucket: 1h\n    window: 7d\n    factor: 5\n    floor: 10\n    peers: all\n    quantile: 0.9\n    min_history: 1\n    min_peers: 20\n    severity: high\n";

    /// `users` each read `per_hour` subjects of their own range every hour for `hours`.
    /// Classifies and observes `lines` in order, each with `role` if given.
    fn feed(e: &mut Engine, inv: &Inventory, lines: &[Line], role: Option<&'static str>) {
        for (t, ip, user, m, path, status) in lines {
            let ev = Event {
                time: EventTime::from_unix_secs(*t, 0),
                ip: ip.parse().ok(),
                user: Some(Cow::Borrowed(*user)),
                role: role.map(Cow::Borrowed),
                action: Some(Cow::Borrowed(*m)),
                resource: Some(Cow::Borrowed(path.as_str())),
                status: Some(*status),
                outcome: Outcome::from_http_status(*status),
                ..Event::default()
            };
            let c = inv.classify(&ev);
            e.observe(&ev, &c);
        }
    }

    fn routine(users: &[&'static str], hours: i64, per_hour: i64, start: i64) -> Vec<Line> {
        let mut out = Vec::new();
        for h in 0..hours {
            for (u, user) in users.iter().enumerate() {
                for k in 0..per_hour {
                    let subject = u as i64 * 1000 + k;
                    out.push((
                        start + h * 3600 + k,
                        "10.9.9.9",
                        *user,
                        "GET",
                        format!("/c/{subject}"),
                        200,
                    ));
                }
            }
        }
        out
    }

    const CROWD: [&str; 30] = [
        "u00", "u01", "u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09", "u10", "u11", "u12",
        "u13", "u14", "u15", "u16", "u17", "u18", "u19", "u20", "u21", "u22", "u23", "u24", "u25",
        "u26", "u27", "u28", "u29",
    ];

    const HARVEST: &str = "rules:\n  - name: harvest\n    detector: harvest\n    match: {has_subject: true, min_sensitivity: medium}\n    key: [user]\n    window: 30d\n    gap: 1h\n    threshold: 10\n    fresh_share: 0.85\n    max_per_visit: 25\n    quiet: 1d\n    severity: high\n";

    /// One evening visit per day by `user`: its own record, then `ids(day)`.
    fn evenings(
        user: &'static str,
        own: i64,
        days: i64,
        ids: impl Fn(i64) -> Vec<i64>,
    ) -> Vec<Line> {
        let mut out = Vec::new();
        for d in 0..days {
            let mut t = d * 86_400 + 19 * 3600;
            out.push((t, "10.1.1.1", user, "GET", format!("/c/{own}"), 200));
            for id in ids(d) {
                t += 300;
                out.push((t, "10.1.1.1", user, "GET", format!("/c/{id}"), 200));
            }
        }
        out
    }

    #[test]
    fn harvest_fires_on_new_subjects_every_visit_and_counts_them() {
        // seven strangers an evening, never the same twice
        let lines = evenings("h", 1, 3, |d| (0..7).map(|k| 100 + d * 10 + k).collect());
        let a = run(HARVEST, &lines);
        assert_eq!(a.len(), 1, "{a:?}");
        // the first evening's strangers count, the account's own record does not
        assert_eq!(a[0].subjects, 21);
        // it fires on the third evening, once ten are new on return visits
        assert_eq!(
            a[0].detected_at.unix_micros / 1_000_000,
            2 * 86_400 + 19 * 3600 + 3 * 300
        );
        assert_eq!(a[0].start.unix_micros / 1_000_000, 19 * 3600 + 300);
    }

    /// The state key of the account `user` (a rule keyed on `[user]`).
    fn user_key(hasher: &Fast) -> u64 {
        let ev = Event {
            user: Some(Cow::Borrowed("user")),
            ..Default::default()
        };
        hash_key(&[KeyPart::User], &ev, &Class::default(), hasher).unwrap()
    }

    /// Feeds `lines` to an engine on `HARVEST` seeded with `hasher`; with
    /// `full`, the key `user` has a full state from the start (as before
    /// [`FirstRead`]).
    fn harvest_engine(lines: &[Line], full: bool, hasher: &Fast) -> Engine {
        let inv = Inventory::from_str(INV, "inv").unwrap();
        let mut e = Engine::new(rules(HARVEST), 1000);
        e.hasher = hasher.clone();
        if full {
            let key = user_key(&e.hasher);
            e.state[0].insert(key, Box::default());
        }
        for (t, ip, user, m, path, status) in lines {
            let ev = Event {
                time: EventTime::from_unix_secs(*t, 0),
                ip: ip.parse().ok(),
                user: (!user.is_empty()).then_some(Cow::Borrowed(*user)),
                action: Some(Cow::Borrowed(*m)),
                resource: Some(Cow::Borrowed(path.as_str())),
                status: Some(*status),
                outcome: Outcome::from_http_status(*status),
                ..Event::default()
            };
            e.observe(&ev, &inv.classify(&ev));
        }
        e
    }

    #[test]
    fn harvest_keeps_one_subject_readers_small_and_promotes_them_unchanged() {
        // a thousand customers reading their own record, evening after evening
        let mut own = Vec::new();
        for d in 0..3 {
            for u in 0..1000 {
                let user: &'static str = Box::leak(format!("u{u}").into_boxed_str());
                own.push((
                    d * 86_400 + 19 * 3600 + u,
                    "10.1.1.1",
                    user,
                    "GET",
                    format!("/c/{u}"),
                    200,
                ));
            }
        }
        let e = harvest_engine(&own, false, &Fast::default());
        assert_eq!(e.state[0].len(), 0, "no full state for one subject");
        assert_eq!(e.first_reads[0].len(), 1000);
        // a reader's second subject builds the state it would have had all
        // along: its own record alone (evening 0), again (evening 1, refused
        // once), a stranger (evening 2)
        let at = |d: i64, k: i64| d * 86_400 + 19 * 3600 + k * 60;
        let table: Vec<Vec<Line>> = vec![
            vec![
                (at(0, 0), "10.1.1.1", "user", "GET", "/c/1".into(), 200),
                (at(1, 0), "10.1.1.1", "user", "GET", "/c/1".into(), 403),
                (at(1, 1), "10.1.1.1", "user", "GET", "/c/1".into(), 200),
                (at(2, 0), "10.1.1.1", "user", "GET", "/c/7".into(), 200),
            ],
            vec![
                (at(0, 0), "10.1.1.1", "user", "GET", "/c/1".into(), 403),
                (at(0, 1), "10.1.1.1", "user", "GET", "/c/1".into(), 403),
                (at(3, 0), "10.1.1.1", "user", "GET", "/c/2".into(), 200),
            ],
            vec![
                (at(0, 0), "10.1.1.1", "user", "GET", "/c/1".into(), 200),
                (at(0, 1), "10.1.1.1", "user", "GET", "/c/2".into(), 200),
            ],
        ];
        for lines in table {
            let hasher = Fast::default();
            let compact = harvest_engine(&lines, false, &hasher);
            let full = harvest_engine(&lines, true, &hasher);
            let key = user_key(&hasher);
            assert_eq!(
                format!("{:?}", compact.state[0].get(&key)),
                format!("{:?}", full.state[0].get(&key)),
                "{lines:?}"
            );
            assert_eq!(compact.first_reads[0].len(), 0);
        }
    }

    #[test]
    fn harvest_leaves_a_working_set_read_again_alone() {
        // a family plan: the same twelve members, a different half each evening
        let lines = evenings("f", 1, 5, |d| {
            (0..12)
                .filter(|k| (k + d) % 2 == 0 || k % 3 == 0)
                .map(|k| 500 + k)
                .collect()
        });
        assert!(run(HARVEST, &lines).is_empty());
    }

    #[test]
    fn harvest_leaves_heavy_readers_to_the_volume_rules() {
        // an agent: forty new customers every day
        let lines = evenings("agent", 1, 4, |d| {
            (0..40).map(|k| 1000 + d * 100 + k).collect()
        });
        assert!(run(HARVEST, &lines).is_empty());
    }

    #[test]
    fn harvest_counts_refused_attempts_as_new_but_not_as_exposed() {
        let mut lines = evenings("p", 1, 3, |d| (0..4).map(|k| 100 + d * 10 + k).collect());
        // ids that are not there, tried on the second and third evenings
        for d in 1..3 {
            for k in 0..3 {
                let t = d * 86_400 + 21 * 3600 + k * 60;
                lines.push((
                    t,
                    "10.1.1.1",
                    "p",
                    "GET",
                    format!("/c/{}", 9000 + d * 10 + k),
                    404,
                ));
            }
        }
        lines.sort_by_key(|l| l.0);
        let a = run(HARVEST, &lines);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].subjects, 12);
    }

    #[test]
    fn baseline_judges_a_newcomer_by_its_peers_and_a_regular_by_itself() {
        let mut lines = routine(&CROWD, 4, 2, 0);
        // a newcomer reading 60 subjects in an hour: far above peers' 2
        lines.extend((0..60).map(|k| {
            (
                4 * 3600 + k,
                "10.7.7.7",
                "new",
                "GET",
                format!("/c/{}", 50_000 + k),
                200,
            )
        }));
        // a heavy regular: 40 an hour for 4 hours, then 60 (not 5x its own norm)
        for h in 0..5 {
            let n = if h < 4 { 40 } else { 60 };
            lines.extend((0..n).map(|k| {
                (
                    h * 3600 + 100 + k,
                    "10.8.8.8",
                    "heavy",
                    "GET",
                    format!("/c/{}", 60_000 + k),
                    200,
                )
            }));
        }
        lines.sort_by_key(|l| l.0);
        let a = run(BASELINE, &lines);
        let who: Vec<&str> = a.iter().map(|x| x.entities[0].value.as_str()).collect();
        assert_eq!(who, vec!["new"], "{a:#?}");
        assert_eq!(a[0].subjects, 60);
        assert_eq!(
            a[0].start.unix_secs(),
            4 * 3600,
            "starts at the bucket's first read"
        );
    }

    #[test]
    fn baseline_stays_quiet_until_a_norm_exists() {
        // the very first hour: no whole bucket seen, nobody is judged
        let mut lines = routine(&CROWD, 1, 2, 0);
        lines.extend((0..60).map(|k| {
            (
                100 + k,
                "10.7.7.7",
                "early",
                "GET",
                format!("/c/{}", 50_000 + k),
                200,
            )
        }));
        lines.sort_by_key(|l| l.0);
        assert!(run(BASELINE, &lines).is_empty());
    }

    #[test]
    fn an_unparameterised_bulk_read_exposes_the_whole_population_and_no_estimate_exceeds_it() {
        let inv = Inventory::from_str(
            "resources:\n  - pattern: /export\n    categories: [identity]\n    sensitivity: high\n    kind: bulk\nsubjects:\n  total: 500\n",
            "inv",
        )
        .unwrap();
        let yaml = "rules:\n  - name: bulk\n    detector: threshold\n    match: {kind: [bulk], outcome: [success]}\n    key: [user]\n    window: 1h\n    threshold: 1\n    severity: critical\n";
        let mut e = Engine::new(rules(yaml), 100).with_subjects_total(inv.subjects_total);
        for (i, target) in ["/export", "/export?page=2", "/export"].iter().enumerate() {
            let ev = Event {
                time: EventTime::from_unix_secs(i as i64, 0),
                user: Some(Cow::Borrowed("mallory")),
                action: Some(Cow::Borrowed("GET")),
                resource: Some(Cow::Borrowed(target)),
                outcome: Outcome::Success,
                ..Event::default()
            };
            let c = inv.classify(&ev);
            e.observe(&ev, &c);
        }
        let a = e.finish();
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0].subjects, 500,
            "two full exports of 500 subjects are still 500 subjects"
        );
    }

    #[test]
    fn novelty_fires_when_a_settled_principal_shows_a_new_network() {
        let yaml = "rules:\n  - name: newnet\n    detector: novelty\n    match: {outcome: [success]}\n    key: [user]\n    of: ip_prefix\n    threshold: 20\n    max_known: 1\n    window: 30d\n    severity: high\n";
        // a batch account: 30 reads a night for two nights from one network
        let mut lines: Vec<Line> = Vec::new();
        for night in 0..2 {
            lines.extend((0..30).map(|k| {
                (
                    night * 86_400 + k,
                    "10.20.0.5",
                    "svc",
                    "GET",
                    format!("/c/{k}"),
                    200,
                )
            }));
        }
        // a customer roaming between networks from the start
        lines.extend((0..30).map(|k| {
            (
                k * 5000,
                ["1.1.1.1", "2.2.2.2", "3.3.3.3"][k as usize % 3],
                "roamer",
                "GET",
                "/c/1".to_string(),
                200,
            )
        }));
        // night three: the batch account from a cloud address, and the roamer from a fourth network
        lines.push((
            2 * 86_400 + 5,
            "203.0.113.50",
            "svc",
            "GET",
            "/c/1".into(),
            200,
        ));
        lines.push((
            2 * 86_400 + 6,
            "4.4.4.4",
            "roamer",
            "GET",
            "/c/1".into(),
            200,
        ));
        lines.sort_by_key(|l| l.0);
        let a = run(yaml, &lines);
        let who: Vec<&str> = a.iter().map(|x| x.entities[0].value.as_str()).collect();
        assert_eq!(who, vec!["svc"], "{a:#?}");
        assert_eq!(a[0].detected_at.unix_secs(), 2 * 86_400 + 5);
    }

    #[test]
    fn a_baseline_alert_beside_a_new_network_counts_only_what_the_new_network_read() {
        let yaml = "rules:\n  - name: daily\n    detector: baseline\n    match: {has_subject: true, outcome: [success]}\n    key: [user]\n    measure: distinct_subjects\n    bucket: 1d\n    window: 30d\n    factor: 2\n    floor: 10\n    peers: none\n    min_history: 1\n    severity: high\n  - name: newnet\n    detector: novelty\n    match: {outcome: [success]}\n    key: [user]\n    of: ip_prefix\n    threshold: 20\n    max_known: 1\n    window: 30d\n    severity: high\n";
        let usual = |t: i64, k: i64| (t, "10.20.0.5", "svc", "GET", format!("/c/{k}"), 200);
        // a batch key: the same 30 records a night from its own network
        let mut lines: Vec<Line> = (0..3)
            .flat_map(|night| (0..30).map(move |k| (night, k)))
            .map(|(night, k)| usual(night * 86_400 + k, k))
            .collect();
        // night four: the batch as usual, 40 others from a cloud address,
        // then the batch reads 10 more of its own
        lines.extend((0..30).map(|k| usual(3 * 86_400 + k, k)));
        lines.extend((0..40).map(|k| {
            let t = 3 * 86_400 + 100 + 2 * k;
            (
                t,
                "203.0.113.50",
                "svc",
                "GET",
                format!("/c/{}", 100 + k),
                200,
            )
        }));
        lines.extend((0..10).map(|k| usual(3 * 86_400 + 500 + k, 200 + k)));
        lines.sort_by_key(|l| l.0);
        let a = run(yaml, &lines);
        let by = |name: &str| a.iter().find(|x| x.detector == name).map(|x| x.subjects);
        assert_eq!(by("newnet"), Some(40), "{a:#?}");
        assert_eq!(by("daily"), Some(40), "not the batch's own 40: {a:#?}");
    }

    #[test]
    fn a_reset_event_restarts_a_threshold_count() {
        let yaml = "rules:\n  - name: run\n    detector: threshold\n    match: {kind: [login], outcome: [failure, denied]}\n    reset: {kind: [login], outcome: [success]}\n    key: [ip]\n    window: 24h\n    threshold: 5\n    severity: high\n";
        // (failures before each success, failures after the last): alerts
        let cases: &[(&[usize], usize, usize)] = &[
            (&[], 4, 0),     // four in a row: under the line
            (&[], 5, 1),     // five in a row
            (&[4, 4], 4, 0), // a typo-prone user: never five in a row
            (&[4], 5, 1),    // got in, then five more failures
            (&[], 40, 1),    // one long run is one alert
        ];
        for (runs, tail, want) in cases {
            let mut lines = Vec::new();
            let mut t = 0;
            for n in runs.iter() {
                for _ in 0..*n {
                    lines.push(login(t, "6.6.6.1", "amy", 401));
                    t += 600;
                }
                lines.push(login(t, "6.6.6.1", "amy", 200));
                t += 600;
            }
            for _ in 0..*tail {
                lines.push(login(t, "6.6.6.1", "amy", 401));
                t += 600;
            }
            let a = run(yaml, &lines);
            assert_eq!(a.len(), *want, "{runs:?} then {tail}: {a:#?}");
        }
    }

    #[test]
    fn novelty_without_login_leaves_people_who_log_in_to_the_login_rules() {
        let yaml = "rules:\n  - name: key\n    detector: novelty\n    match: {outcome: [success], has_subject: true}\n    key: [user]\n    of: ip_prefix\n    without_login: true\n    threshold: 10\n    max_known: 1\n    settle: 12h\n    window: 30d\n    quiet: 1h\n    severity: high\n  - name: ato\n    detector: sequence\n    match: {kind: [login], outcome: [failure]}\n    then: {kind: [login], outcome: [success]}\n    then_new: ip_prefix\n    key: [user]\n    window: 1h\n    threshold: 50\n    severity: low\n";
        let mut lines: Vec<Line> = Vec::new();
        for (who, logs_in) in [("svc", false), ("amy", true)] {
            if logs_in {
                lines.push(login(0, "10.1.1.1", who, 200));
            }
            lines.extend((0..20).map(|k| (k + 1, "10.1.1.1", who, "GET", format!("/c/{k}"), 200)));
            // the next night, from elsewhere: three reads
            lines.extend((0..3).map(|k| {
                (
                    50_000 + k,
                    "203.0.113.9",
                    who,
                    "GET",
                    format!("/c/{}", 100 + k),
                    200,
                )
            }));
        }
        lines.sort_by_key(|l| l.0);
        let a: Vec<Alert> = run(yaml, &lines)
            .into_iter()
            .filter(|a| a.detector == "key")
            .collect();
        assert_eq!(a.len(), 1, "{a:#?}");
        let names: Vec<&str> = a[0].entities.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(names, vec!["svc", "203.0.113.9"]);
        assert_eq!(a[0].subjects, 3, "only the new network's reads");
        assert_eq!(a[0].detected_at.unix_secs(), 50_000);
    }

    #[test]
    fn a_login_and_its_own_record_are_one_person() {
        // a takeover: five failures, a success, then the victim's own record read twice
        let yaml = "rules:\n  - name: bf\n    detector: threshold\n    match: {kind: [login], outcome: [failure, denied]}\n    key: [ip]\n    window: 1h\n    threshold: 5\n    severity: high\n";
        let mut lines: Vec<Line> = (0..5).map(|i| login(i, "7.7.7.1", "bob", 401)).collect();
        lines.push(login(10, "7.7.7.1", "bob", 200));
        lines.push((11, "7.7.7.1", "bob", "GET", "/c/42".into(), 200));
        lines.push((12, "7.7.7.1", "bob", "GET", "/c/42".into(), 200));
        let a = run(yaml, &lines);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].subjects, 1, "{a:#?}");
        // the same address then reads two more people's records
        lines.push((13, "7.7.7.1", "bob", "GET", "/c/43".into(), 200));
        lines.push((14, "7.7.7.1", "bob", "GET", "/c/44".into(), 200));
        assert_eq!(run(yaml, &lines)[0].subjects, 3);
    }

    #[test]
    fn page_size_reads_common_parameter_names() {
        let cases: &[(&str, Option<u64>)] = &[
            ("page=3&limit=25", Some(25)),
            ("per_page=100&page=2", Some(100)),
            ("cursor=abc&LIMIT=50", Some(50)),
            ("$top=20&$skip=40", Some(20)),
            ("page_size=10", Some(10)),
            ("search=ann", None),
            ("limit=all", None),
            ("", None),
        ];
        for (q, want) in cases {
            assert_eq!(page_size(q), *want, "{q}");
        }
    }

    #[test]
    fn pages_of_a_list_in_an_access_log_expose_their_page_size() {
        let inv = Inventory::from_str(
            "resources:\n  - pattern: /list\n    categories: [identity]\n    sensitivity: high\n    kind: bulk\nsubjects:\n  total: 1000\n",
            "inv",
        )
        .unwrap();
        let yaml = "rules:\n  - name: pages\n    detector: threshold\n    match: {has_subject: true, outcome: [success]}\n    key: [user]\n    window: 1h\n    threshold: 1\n    severity: high\n";
        let mut e = Engine::new(rules(yaml), 100).with_subjects_total(inv.subjects_total);
        for (i, target) in [
            "/list?page=1&limit=25",
            "/list?page=2&limit=25",
            "/list?q=x",
        ]
        .iter()
        .enumerate()
        {
            let ev = Event {
                time: EventTime::from_unix_secs(i as i64, 0),
                user: Some(Cow::Borrowed("pager")),
                action: Some(Cow::Borrowed("GET")),
                resource: Some(Cow::Borrowed(target)),
                outcome: Outcome::Success,
                ..Event::default()
            };
            let c = inv.classify(&ev);
            e.observe(&ev, &c);
        }
        let a = e.finish();
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0].subjects, 50,
            "two pages of 25; a search without a size counts none"
        );
    }

    #[test]
    fn an_activity_day_keeps_a_walk_across_midnight_in_one_bucket() {
        let daily = BASELINE
            .replace("bucket: 1h", "bucket: 1d")
            .replace("floor: 10", "floor: 20");
        let mut lines = routine(&CROWD, 72, 2, 0);
        // its own record on the first morning, then one stranger every 20
        // minutes from 20:00 on the second day until 04:00: twelve each side
        lines.push((10 * 3600, "10.7.7.7", "w", "GET", "/c/99999".into(), 200));
        for i in 0..24 {
            let t = 86_400 + 20 * 3600 + i * 1200;
            lines.push((t, "10.7.7.7", "w", "GET", format!("/c/{}", 80_000 + i), 200));
        }
        lines.sort_by_key(|l| l.0);
        let walker = |yaml: &str| -> Vec<Alert> {
            run(yaml, &lines)
                .into_iter()
                .filter(|a| a.entities[0].value == "w")
                .collect()
        };
        // on the calendar the halves stay under the floor, and the first
        // becomes the norm the second is held to
        assert!(walker(&daily).is_empty());
        let a = walker(&daily.replace("bucket: 1d", "bucket: 1d\n    align: activity"));
        assert_eq!(a.len(), 1, "{a:#?}");
        assert_eq!(a[0].start.unix_secs(), 86_400 + 20 * 3600);
        assert_eq!(a[0].detected_at.unix_secs(), 86_400 + 20 * 3600 + 19 * 1200);
        assert_eq!(a[0].subjects, 24);
    }

    #[test]
    fn a_nightly_job_is_judged_by_its_own_last_night() {
        // min_history 24 hourly buckets; the job is busy one hour a night
        let yaml = BASELINE.replace("min_history: 1", "min_history: 24");
        let mut lines = routine(&CROWD, 49, 2, 0);
        for night in 0..3 {
            lines.extend((0..60).map(|k| {
                (
                    night * 86_400 + 3600 + 1000 + k,
                    "10.5.5.5",
                    "job",
                    "GET",
                    format!("/c/{}", 70_000 + k),
                    200,
                )
            }));
        }
        lines.sort_by_key(|l| l.0);
        let a = run(&yaml, &lines);
        let nights: Vec<i64> = a
            .iter()
            .filter(|x| x.entities[0].value == "job")
            .map(|x| x.detected_at.unix_secs() / 86_400)
            .collect();
        assert_eq!(nights, vec![0], "a newcomer the first night only: {a:#?}");
    }

    #[test]
    fn a_part_the_log_does_not_carry_is_no_evidence_either_way() {
        use KeyPart::{IpPrefix, UserAgent};
        let n = |network, agent, has_agent| Newness {
            known: true,
            network,
            agent,
            has_agent,
        };
        // (newness, parts asked, all new?)
        let cases: &[(Newness, &[KeyPart], bool)] = &[
            (n(true, true, true), &[IpPrefix, UserAgent], true),
            (n(true, false, true), &[IpPrefix, UserAgent], false),
            (n(false, true, true), &[IpPrefix, UserAgent], false),
            (n(true, false, false), &[IpPrefix, UserAgent], true),
            (n(false, false, false), &[IpPrefix, UserAgent], false),
            (n(true, false, false), &[UserAgent], true),
        ];
        for (i, (newness, parts, want)) in cases.iter().enumerate() {
            assert_eq!(newness.all_of(parts), *want, "case {i}");
        }
    }

    #[test]
    fn an_agent_names_a_person_or_a_program() {
        // (user agent, a person's?)
        let cases = [
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", true),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15", true),
            ("PortalApp/5.12.0 (Android 14; SM-S911B)", true),
            ("PortalApp/5.12.0 (iOS 17.4; iPhone15,2)", true),
            ("Mail/1 CFNetwork/1410.0.3 Darwin/22.6.0", true),
            ("Opera/9.80 (X11; Linux x86_64) Presto/2.12.388 Version/12.16", true),
            ("python-httpx/0.27.0", false),
            ("python-requests/2.31.0", false),
            ("curl/8.5.0", false),
            ("crm-sync/3.2 (+internal)", false),
            ("Go-http-client/1.1", false),
            ("Apache-HttpClient/4.5.14 (Java/17.0.9)", false),
        ];
        for (ua, want) in cases {
            assert_eq!(person_agent(ua), want, "{ua}");
        }
    }

    #[test]
    fn an_address_is_shared_when_several_accounts_get_in_and_most_logins_succeed() {
        let h = HALF_DAY;
        /// A login: time, got in, the account (0: none named).
        type Login = (i64, bool, u64);
        // (logins, shared afterwards?)
        let cases: &[(&[Login], bool)] = &[
            // a carrier NAT: four customers in, two typos
            (
                &[
                    (1, true, 1),
                    (2, true, 2),
                    (3, false, 0),
                    (4, true, 3),
                    (5, false, 0),
                    (6, true, 4),
                ],
                true,
            ),
            // a guesser that got into three accounts among many failures
            (
                &[
                    (1, false, 0),
                    (2, false, 0),
                    (3, true, 1),
                    (4, false, 0),
                    (5, true, 2),
                    (6, false, 0),
                    (7, true, 3),
                    (8, false, 0),
                ],
                false,
            ),
            // one person logging in again and again at home
            (
                &[(1, true, 1), (2, true, 1), (3, true, 1), (4, true, 1)],
                false,
            ),
            // as many failures as successes is still mostly people
            (
                &[
                    (1, true, 1),
                    (2, true, 2),
                    (3, true, 3),
                    (4, false, 0),
                    (5, false, 0),
                    (6, false, 0),
                ],
                true,
            ),
            // the half day before counts...
            (&[(1, true, 1), (2, true, 2), (h + 1, true, 3)], true),
            // ...the one before that does not
            (&[(1, true, 1), (2, true, 2), (2 * h + 1, true, 3)], false),
            // nor a long pause
            (
                &[(1, true, 1), (2, true, 2), (3, true, 3), (5 * h, false, 0)],
                false,
            ),
        ];
        for (i, (logins, want)) in cases.iter().enumerate() {
            let mut a = AddressLogins::default();
            for &(t, won, account) in logins.iter() {
                a.learn(t, won, (account != 0).then_some(account));
            }
            assert_eq!(a.shared(), *want, "case {i}: {a:?}");
        }
        // someone who owns three accounts logs into them again and again,
        // to outweigh the guesses that follow: their logins count three each
        let mut a = AddressLogins::default();
        for t in 0..30 {
            a.learn(t, true, Some(t as u64 % 3 + 1));
        }
        for t in 30..50 {
            a.learn(t, false, None);
        }
        assert!(!a.shared(), "{a:?}");
        // behind a carrier address, 40 customers get in once or twice and 20
        // mistype: shared
        let mut a = AddressLogins::default();
        for t in 0..60 {
            a.learn(
                t,
                true,
                Some(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(t as u64 % 40 + 1)),
            );
        }
        for t in 60..80 {
            a.learn(t, false, None);
        }
        assert!(a.shared(), "{a:?}");
    }

    #[test]
    fn a_role_sets_a_norm_sooner_than_a_crowd_without_roles() {
        let yaml = BASELINE
            .replace("min_peers: 20", "min_peers: 200\n    min_role_peers: 20")
            .replace("peers: all", "peers: role");
        // (the log carries roles, alerts on the newcomer)
        for (roles, want) in [(true, 1), (false, 0)] {
            let inv = Inventory::from_str(INV, "inv").unwrap();
            let mut e = Engine::new(rules(&yaml), 1000);
            let mut lines = routine(&CROWD, 3, 2, 0);
            lines.extend((0..60).map(|k| {
                (
                    3 * 3600 + k,
                    "10.7.7.7",
                    "new",
                    "GET",
                    format!("/c/{}", 50_000 + k),
                    200,
                )
            }));
            lines.sort_by_key(|l| l.0);
            feed(&mut e, &inv, &lines, roles.then_some("agent"));
            let a = e.finish();
            assert_eq!(a.len(), want, "roles {roles}: {a:#?}");
        }
    }

    #[test]
    fn a_role_judges_a_daily_newcomer_on_the_logs_first_day_once_peers_days_ended() {
        // the crowd reads in the log's first hour; by the ninth hour their
        // activity days have ended (idle a sixth of a day). A newcomer of
        // the same role then reads 60 subjects: judged by the role's ended
        // days. Without roles (staff and customers mixed) or on the log's
        // clock (no whole day yet), the first day judges nobody.
        let daily = BASELINE
            .replace("bucket: 1h", "bucket: 1d\n    align: activity")
            .replace("min_peers: 20", "min_peers: 20\n    min_role_peers: 20")
            .replace("peers: all", "peers: role");
        let clock = daily.replace("\n    align: activity", "");
        for (yaml, roles, want) in [(&daily, true, 1), (&daily, false, 0), (&clock, true, 0)] {
            let inv = Inventory::from_str(INV, "inv").unwrap();
            let mut e = Engine::new(rules(yaml), 1000);
            let mut lines = routine(&CROWD, 1, 2, 0);
            lines.extend((0..60).map(|k| {
                (
                    8 * 3600 + k * 60,
                    "10.7.7.7",
                    "new",
                    "GET",
                    format!("/c/{}", 50_000 + k),
                    200,
                )
            }));
            feed(&mut e, &inv, &lines, roles.then_some("customer"));
            let a = e.finish();
            assert_eq!(a.len(), want, "roles {roles}, {yaml}: {a:#?}");
            if want == 1 {
                assert_eq!(a[0].entities[0].value, "new");
                assert!(a[0].detected_at.unix_secs() < 9 * 3600, "{a:#?}");
            }
        }
    }

    #[test]
    fn chain_needs_a_new_network_and_agent_then_every_step() {
        let inv = Inventory::from_str(
            "resources:\n  - pattern: /login\n    methods: [POST]\n    kind: login\n  - pattern: \"/c/{id}\"\n    categories: [contact]\n    sensitivity: high\n    subject_param: id\n  - pattern: \"/c/{id}/cards\"\n    categories: [payment_card]\n    sensitivity: very_high\n    subject_param: id\n",
            "inv",
        )
        .unwrap();
        let yaml = "rules:\n  - name: ato\n    detector: chain\n    key: [user]\n    window: 1h\n    steps:\n      - {kind: [login], outcome: [success], new: [ip_prefix, user_agent]}\n      - {action: [PUT], categories: [contact], outcome: [success]}\n      - {min_sensitivity: very_high, outcome: [success]}\n    severity: high\n";
        let mut e = Engine::new(rules(yaml), 100);
        // (t, ip, agent, method, path)
        let lines: &[(i64, &str, &str, &str, &str)] = &[
            (0, "1.1.1.1", "App/1", "POST", "/login"), // first login: history, not a change
            (10, "1.1.1.1", "App/1", "PUT", "/c/7"),
            (20, "1.1.1.1", "App/1", "GET", "/c/7/cards"),
            (100, "2.2.2.2", "App/1", "POST", "/login"), // new network, same app: roaming
            (110, "2.2.2.2", "App/1", "PUT", "/c/7"),
            (120, "2.2.2.2", "App/1", "GET", "/c/7/cards"),
            (9000, "9.9.9.9", "Evil/2", "POST", "/login"), // new network and browser
            (9010, "9.9.9.9", "Evil/2", "GET", "/c/7/cards"),
            (9020, "9.9.9.9", "Evil/2", "PUT", "/c/7"), // steps after the first in any order
        ];
        for (t, ip, ua, m, path) in lines {
            let ev = Event {
                time: EventTime::from_unix_secs(*t, 0),
                ip: ip.parse().ok(),
                user: Some(Cow::Borrowed("amy")),
                user_agent: Some(Cow::Borrowed(ua)),
                action: Some(Cow::Borrowed(m)),
                resource: Some(Cow::Borrowed(path)),
                outcome: Outcome::Success,
                ..Event::default()
            };
            let c = inv.classify(&ev);
            e.observe(&ev, &c);
        }
        let a = e.finish();
        assert_eq!(a.len(), 1, "{a:#?}");
        assert_eq!(a[0].start.unix_secs(), 9000);
        assert_eq!(a[0].detected_at.unix_secs(), 9020);
    }

    #[test]
    fn chain_after_failures_needs_a_run_of_failures_from_an_unshared_address() {
        let inv = Inventory::from_str(
            "resources:\n  - pattern: /login\n    methods: [POST]\n    kind: login\n  - pattern: \"/c/{id}\"\n    categories: [contact]\n    sensitivity: high\n    subject_param: id\n  - pattern: \"/c/{id}/cards\"\n    categories: [payment_card]\n    sensitivity: very_high\n    subject_param: id\n",
            "inv",
        )
        .unwrap();
        let yaml = "rules:\n  - name: ato\n    detector: chain\n    key: [user, ip]\n    window: 1h\n    steps:\n      - {kind: [login], outcome: [success], after_failures: 3}\n      - {action: [PUT], categories: [contact], outcome: [success]}\n      - {min_sensitivity: very_high, outcome: [success]}\n    severity: high\n";
        // (t, address, account: "" when the line names none, what happened)
        type Line = (i64, &'static str, &'static str, &'static str);
        let alerts = |lines: &[Line]| -> usize {
            let mut e = Engine::new(rules(yaml), 1000);
            for &(t, ip, user, what) in lines {
                let (method, path, outcome) = match what {
                    "fail" => ("POST", "/login", Outcome::Failure),
                    "login" => ("POST", "/login", Outcome::Success),
                    "change" => ("PUT", "/c/7", Outcome::Success),
                    _ => ("GET", "/c/7/cards", Outcome::Success),
                };
                let ev = Event {
                    time: EventTime::from_unix_secs(t, 0),
                    ip: ip.parse().ok(),
                    user: (!user.is_empty()).then_some(Cow::Borrowed(user)),
                    action: Some(Cow::Borrowed(method)),
                    resource: Some(Cow::Borrowed(path)),
                    outcome,
                    ..Event::default()
                };
                let c = inv.classify(&ev);
                e.observe(&ev, &c);
            }
            e.finish().len()
        };
        let g = "9.9.9.9";
        let fail = |t| (t, g, "", "fail");
        let win = |t, user| (t, g, user, "login");
        // amy's login at `t`, then her contact details changed and her cards read
        let takeover = |t| {
            [
                win(t, "amy"),
                (t + 10, g, "amy", "change"),
                (t + 20, g, "amy", "cards"),
            ]
        };
        let then = |before: &[Line], t| -> Vec<Line> {
            before.iter().copied().chain(takeover(t)).collect()
        };
        // (what happened, alerts)
        let cases: Vec<(Vec<Line>, usize)> = vec![
            // three failures in a row, then a takeover
            (then(&[fail(1), fail(2), fail(3)], 4), 1),
            // two failures are a typo
            (then(&[fail(1), fail(2)], 4), 0),
            // someone else getting in ends the run
            (then(&[fail(1), fail(2), win(3, "bob"), fail(5)], 6), 0),
            // failures an hour and more before the login are no run
            (then(&[fail(1), fail(2), fail(3)], 3700), 0),
            // a shared address (several accounts got in, most logins
            // succeed): other people mistyping
            (
                then(
                    &[
                        win(1, "bob"),
                        win(2, "cat"),
                        win(3, "dan"),
                        win(4, "eve"),
                        fail(5),
                        fail(6),
                        fail(7),
                    ],
                    8,
                ),
                0,
            ),
            // failures from another address
            (
                then(
                    &[
                        (1, "8.8.8.8", "", "fail"),
                        (2, "8.8.8.8", "", "fail"),
                        (3, "8.8.8.8", "", "fail"),
                    ],
                    4,
                ),
                0,
            ),
            // the change and the read from another address than the login's
            (
                vec![
                    fail(1),
                    fail(2),
                    fail(3),
                    win(4, "amy"),
                    (14, "7.7.7.7", "amy", "change"),
                    (24, "7.7.7.7", "amy", "cards"),
                ],
                0,
            ),
        ];
        for (i, (lines, want)) in cases.iter().enumerate() {
            assert_eq!(alerts(lines), *want, "case {i}: {lines:?}");
        }
    }

    #[test]
    fn ipv4_keys_are_written_as_dotted_quads() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.100.255.9",
            "255.255.255.255",
            "::1",
            "2001:db8::1",
        ] {
            let mut s = String::new();
            push_ip(&mut s, ip.parse().unwrap());
            assert_eq!(s, ip);
        }
    }

    #[test]
    fn keys_are_capped_and_the_cap_is_counted() {
        let inv = Inventory::from_str(INV, "inv").unwrap();
        let mut e = Engine::new(rules(THRESHOLD), 10);
        for i in 0..50u8 {
            let ip = std::net::IpAddr::from([10, 0, 0, i]);
            let ev = Event {
                time: EventTime::from_unix_secs(i as i64, 0),
                ip: Some(ip),
                action: Some(Cow::Borrowed("POST")),
                resource: Some(Cow::Borrowed("/login")),
                outcome: Outcome::Failure,
                ..Event::default()
            };
            let c = inv.classify(&ev);
            e.observe(&ev, &c);
        }
        assert_eq!(e.keys(), 10);
        assert_eq!(e.stats.cap_hits, 40);
    }
}
