//! Rules: declarative YAML, each an instance of a detector kind with its
//! parameters, compiled once into [`Rule`]s the engine runs.
//!
//! Rules speak the inventory's language (kind, sensitivity, categories,
//! subjects) and the event's (outcome, action), never one application's
//! paths, so the same rules carry to another app given its inventory.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::classify::{Class, Kind, Sensitivity};
use crate::detect::alert::Severity;
use crate::detect::sigma::Level;
use crate::parse::{Event, Outcome};

/// The rules shipped in the repository (`rules/default.yaml`).
pub const DEFAULT_RULES: &str = include_str!("../../rules/default.yaml");

/// The Sigma signatures shipped in the repository (`rules/sigma/`), as
/// (name, text); more are loaded from `[detect] sigma` paths.
pub const SHIPPED_SIGMA: &[(&str, &str)] = &[
    (
        "rules/sigma/breachd_sqli.yml",
        include_str!("../../rules/sigma/breachd_sqli.yml"),
    ),
    (
        "rules/sigma/breachd_traversal.yml",
        include_str!("../../rules/sigma/breachd_traversal.yml"),
    ),
    (
        "rules/sigma/breachd_scanner_agents.yml",
        include_str!("../../rules/sigma/breachd_scanner_agents.yml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    detector: DetectorFile,
    #[serde(rename = "match", default)]
    filter: FilterFile,
    /// For `sequence`: the events that complete it.
    #[serde(default)]
    then: Option<FilterFile>,
    /// For `threshold`: events that end the key's run (a successful login
    /// ends a run of failures), so only matching events in a row count.
    #[serde(default)]
    reset: Option<FilterFile>,
    key: Vec<KeyPart>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    threshold: Option<u64>,
    /// For `distinct`: which field's distinct values are counted.
    #[serde(default)]
    distinct: Option<KeyPart>,
    severity: Severity,
    /// Event time without a matching event after which the alert is closed.
    #[serde(default)]
    quiet: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    /// For `distinct`: name the counted values (up to this many) among the
    /// alert's entities: the addresses of a distributed attack.
    #[serde(default)]
    report_values: Option<usize>,
    /// For `signature`: the lowest Sigma level that counts.
    #[serde(default)]
    min_level: Option<String>,
    /// For `signature`: the Sigma log-source categories that count (default `webserver`).
    #[serde(default)]
    sigma_categories: Option<Vec<String>>,
    /// For `baseline`: what is measured per bucket.
    #[serde(default)]
    measure: Option<Measure>,
    /// For `baseline`: the bucket length (`1h`, `1d`).
    #[serde(default)]
    bucket: Option<String>,
    /// For `baseline`: how many times the reference the bucket must reach.
    #[serde(default)]
    factor: Option<f64>,
    /// For `baseline`: the least value that can fire, whatever the reference.
    #[serde(default)]
    floor: Option<f64>,
    /// For `baseline`: the peer group an entity without enough history of
    /// its own is compared with.
    #[serde(default)]
    peers: Option<Peers>,
    /// For `baseline`: the quantile of the peers' buckets taken as their norm.
    #[serde(default)]
    quantile: Option<f64>,
    /// For `baseline`: completed buckets of its own an entity needs before
    /// its own history is its reference.
    #[serde(default)]
    min_history: Option<u32>,
    /// For `baseline`: completed buckets a peer group needs before it is a reference.
    #[serde(default)]
    min_peers: Option<u64>,
    /// For `baseline`: completed buckets a role's peer group needs (default
    /// `min_peers`); a role is alike, so it can set a norm sooner than the
    /// mixed crowd of a log without roles.
    #[serde(default)]
    min_role_peers: Option<u64>,
    /// For `baseline`: where an entity's buckets begin (`clock`: on the
    /// log's local clock, midnight for `1d`; `activity`: at the entity's first
    /// event after its last bucket ended, so a night's work is one bucket).
    #[serde(default)]
    align: Option<Align>,
    /// For `baseline`: the events the measure counts, among those `match`
    /// lets in; the others still make the entity active in the bucket, so a
    /// peer group that never does something has a norm of zero.
    #[serde(default)]
    measure_match: Option<FilterFile>,
    /// For `chain`: the steps, the first in front, the others in any order.
    #[serde(default)]
    steps: Option<Vec<FilterFile>>,
    /// For `sequence`: the completing event must show a new value of this
    /// part for the key (`ip_prefix`: a success from a network it never
    /// logged in from).
    #[serde(default)]
    then_new: Option<KeyPart>,
    /// For `sequence`, `threshold` and `distinct`: an event from a shared
    /// address (several accounts got in from it within the day, and most of
    /// its logins succeeded: a carrier-grade NAT, an office) does not fire
    /// the rule; failures there are people behind the address mistyping,
    /// not a guesser, whose logins mostly fail.
    #[serde(default)]
    skip_shared_addresses: Option<bool>,
    /// For `novelty`: what is new (`ip_prefix`, `user_agent`, `resource`...).
    #[serde(default)]
    of: Option<KeyPart>,
    /// For `novelty`: the most distinct values a settled entity has shown.
    #[serde(default)]
    max_known: Option<usize>,
    /// For `novelty`: how long after its first event an entity can be
    /// settled (default `1d`; a nightly job has shown its habits after one run).
    #[serde(default)]
    settle: Option<String>,
    /// For `novelty`: watch only principals that never logged in (keys that
    /// authenticate per request: API keys, service accounts); people who log
    /// in are the login rules' to judge, and they roam.
    #[serde(default)]
    without_login: Option<bool>,
    /// For `harvest`: event time without a matching event that ends a visit.
    #[serde(default)]
    gap: Option<String>,
    /// For `harvest`: the least share of the subjects read on return visits
    /// that must be new to the principal (the rest is its working set).
    #[serde(default)]
    fresh_share: Option<f64>,
    /// For `harvest`: a principal reading more new subjects than this in one
    /// visit is the volume rules' to judge (against its own history); this
    /// rule watches the few-a-visit pace that volume never shows.
    #[serde(default)]
    max_per_visit: Option<u32>,
    /// For `harvest`: subjects remembered per principal.
    #[serde(default)]
    memory: Option<usize>,
}

/// What a `baseline` rule measures per entity and bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Matching events.
    Events,
    /// Distinct data subjects the matching events exposed.
    DistinctSubjects,
    /// Records returned (app logs), else 1 per subject named.
    Records,
    /// Bytes sent.
    Bytes,
    /// Distinct client addresses (named in the alert up to `report_values`).
    DistinctIps,
    /// Distinct addresses whose attempts in the bucket failed and did not
    /// (yet) succeed: users who mistype and then get in do not count.
    FailingIps,
}

/// Where a baseline entity's buckets begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    /// On the log's local clock (midnight for a day).
    Clock,
    /// At the entity's first event after its previous bucket ended: a slow
    /// walk from evening into the night is one bucket, not two halves each
    /// under the line.
    Activity,
}

/// Whom an entity is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Peers {
    /// Entities with the same role (where the log carries roles), else everyone.
    Role,
    /// Every entity of the rule.
    All,
    /// Only the entity's own history.
    None,
}

/// Parameters of a `baseline` rule.
#[derive(Debug, Clone)]
pub struct BaselineSpec {
    pub measure: Measure,
    /// Events the measure counts (all matching events when absent).
    pub measure_filter: Option<Filter>,
    pub bucket: i64,
    pub factor: f64,
    pub floor: f64,
    pub peers: Peers,
    pub quantile: f64,
    pub min_history: u32,
    pub min_peers: u64,
    pub min_role_peers: u64,
    pub align: Align,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DetectorFile {
    Threshold,
    Distinct,
    Sequence,
    Signature,
    Baseline,
    Novelty,
    Chain,
    Harvest,
}

/// Which events a rule looks at. Every condition given must hold.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterFile {
    #[serde(default)]
    kind: Option<Vec<Kind>>,
    #[serde(default)]
    outcome: Option<Vec<Outcome>>,
    #[serde(default)]
    action: Option<Vec<String>>,
    /// Resource equals one of these (exact, e.g. `ssh`).
    #[serde(default)]
    resource: Option<Vec<String>>,
    #[serde(default)]
    min_sensitivity: Option<Sensitivity>,
    /// The event is about data subjects (app log list, path parameter, or a
    /// bulk resource).
    #[serde(default)]
    has_subject: Option<bool>,
    /// The parser's detail tag is one of these (`bad_password`, `invalid_user`...).
    #[serde(default)]
    detail: Option<Vec<String>>,
    /// The resource holds at least one of these data categories.
    #[serde(default)]
    categories: Option<Vec<crate::classify::Category>>,
    /// For a chain's first step: the key shows values of these parts it never
    /// showed in this step before, every one of them (`[ip_prefix,
    /// user_agent]`: a login from a new network with a new browser).
    #[serde(default)]
    new: Option<Vec<KeyPart>>,
    /// For a chain's first step: the login's address had at least this many
    /// logins fail in a row just before it (someone guessing, or trying a
    /// leaked password's variants, got in), whatever accounts they named.
    #[serde(default)]
    after_failures: Option<u32>,
}

/// A part of a state key, or of what `distinct` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    Ip,
    User,
    Session,
    /// /24 for IPv4, /48 for IPv6.
    IpPrefix,
    UserAgent,
    /// The data subject an event names.
    Subject,
    /// The host that wrote the line (syslog host).
    Host,
    /// The resource (path or table, as written).
    Resource,
}

/// A compiled event filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Kinds and outcomes as bit sets (0: any), tested first: most rules
    /// turn most events away on them, for a few instructions.
    kinds: u8,
    outcomes: u8,
    action: Option<Vec<String>>,
    resource: Option<Vec<String>>,
    min_sensitivity: Option<Sensitivity>,
    has_subject: Option<bool>,
    detail: Option<Vec<String>>,
    categories: Option<crate::classify::Categories>,
    /// For chain steps: what must be new for the key.
    pub new: Option<Vec<KeyPart>>,
    /// For a chain's first step: failed logins in a row from the address
    /// just before the event.
    pub after_failures: Option<u32>,
}

impl Filter {
    fn build(f: &FilterFile) -> Filter {
        Filter {
            kinds: f.kind.as_ref().map_or(0, |v| {
                // bit 0 is "no kind", never wanted; an empty list matches nothing
                v.iter().fold(NOTHING, |m, k| m | kind_bit(Some(*k)))
            }),
            outcomes: f
                .outcome
                .as_ref()
                .map_or(0, |v| v.iter().fold(NOTHING, |m, o| m | outcome_bit(*o))),
            action: f.action.clone(),
            resource: f.resource.clone(),
            min_sensitivity: f.min_sensitivity,
            has_subject: f.has_subject,
            detail: f.detail.clone(),
            categories: f.categories.as_ref().map(|v| v.iter().copied().collect()),
            new: f.new.clone(),
            after_failures: f.after_failures,
        }
    }

    /// Whether the filter reads only what [`class_signature`] packs, so its
    /// verdict on one event holds for every event with the same signature.
    pub fn by_class_only(&self) -> bool {
        self.action.is_none() && self.resource.is_none() && self.detail.is_none()
    }

    /// Whether the event passes.
    #[inline]
    pub fn matches(&self, ev: &Event<'_>, c: &Class<'_>) -> bool {
        self.matches_class(ev, c) && self.matches_text(ev)
    }

    /// Whether the event passes the tests on what [`class_signature`]
    /// packs: all of a [`Filter::by_class_only`] filter, a necessary
    /// condition for any other.
    #[inline]
    pub fn matches_class(&self, ev: &Event<'_>, c: &Class<'_>) -> bool {
        if self.kinds != 0 && self.kinds & kind_bit(c.kind) == 0 {
            return false;
        }
        if self.outcomes != 0 && self.outcomes & outcome_bit(ev.outcome) == 0 {
            return false;
        }
        if let Some(s) = self.min_sensitivity {
            if c.sensitivity < s {
                return false;
            }
        }
        if let Some(h) = self.has_subject {
            if has_subject(ev, c) != h {
                return false;
            }
        }
        if let Some(want) = self.categories {
            if want.intersection(c.categories).is_empty() {
                return false;
            }
        }
        true
    }

    /// The tests on the event's action, resource and parser detail.
    fn matches_text(&self, ev: &Event<'_>) -> bool {
        if let Some(a) = &self.action {
            if !ev
                .action
                .as_deref()
                .is_some_and(|x| a.iter().any(|y| y.eq_ignore_ascii_case(x)))
            {
                return false;
            }
        }
        if let Some(r) = &self.resource {
            if !ev
                .resource
                .as_deref()
                .is_some_and(|x| r.iter().any(|y| y == x))
            {
                return false;
            }
        }
        if let Some(d) = &self.detail {
            if !ev.detail.is_some_and(|x| d.iter().any(|y| y == x)) {
                return false;
            }
        }
        true
    }
}

/// What a filter reads of an event apart from its action, resource and
/// parser detail (kind, outcome, sensitivity, subject, categories), packed:
/// events with one signature pass the same [`Filter::by_class_only`] filters.
pub fn class_signature(ev: &Event<'_>, c: &Class<'_>) -> u64 {
    u64::from(kind_bit(c.kind))
        | u64::from(outcome_bit(ev.outcome)) << 8
        | (c.sensitivity as u64) << 16
        | u64::from(has_subject(ev, c)) << 24
        | u64::from(c.categories.bits()) << 32
}

/// A filter's bit set that is set but holds no value (an empty list).
const NOTHING: u8 = 0x80;

fn kind_bit(k: Option<Kind>) -> u8 {
    match k {
        None => 1,
        Some(Kind::Login) => 2,
        Some(Kind::Bulk) => 4,
        Some(Kind::Admin) => 8,
        Some(Kind::Health) => 16,
    }
}

fn outcome_bit(o: Outcome) -> u8 {
    match o {
        Outcome::Unknown => 1,
        Outcome::Success => 2,
        Outcome::Failure => 4,
        Outcome::Denied => 8,
        Outcome::Error => 16,
    }
}

/// Whether an event is about data subjects: the app log lists them, the
/// path names one, or it reads a bulk resource (a list or export returns
/// many, named or not; an access log shows a page of them by its size).
pub fn has_subject(ev: &Event<'_>, c: &Class<'_>) -> bool {
    !ev.subjects.is_empty() || c.subject.is_some() || c.kind == Some(Kind::Bulk)
}

/// What a rule's detector does.
#[derive(Debug, Clone)]
pub enum Detector {
    /// At least `threshold` matching events per key within `window`; with
    /// `reset`, an event it matches clears the count (failures in a row).
    Threshold {
        window: i64,
        threshold: u64,
        reset: Option<Filter>,
    },
    /// At least `threshold` distinct values of `of` per key within `window`.
    Distinct {
        window: i64,
        threshold: u64,
        of: KeyPart,
    },
    /// At least `threshold` matching events, then one `then` event, for the
    /// same key within `window`.
    Sequence {
        window: i64,
        threshold: u64,
        then: Filter,
        /// When set, only a completing event whose value of this part the key
        /// never completed with before counts (a success from a new network).
        then_new: Option<KeyPart>,
    },
    /// At least `threshold` events per key within `window` that a Sigma
    /// signature of at least `min_level`, from one of `categories`, matches.
    Signature {
        window: i64,
        threshold: u64,
        min_level: Level,
        categories: Vec<String>,
    },
    /// An entity's measure per bucket against its own history, or its peers'
    /// norm while it has too little; `window` is how long history is kept
    /// for an idle entity.
    Baseline { window: i64, spec: BaselineSpec },
    /// A settled entity (at least `min_history` matching events over at least
    /// one day, all with at most `max_known` distinct values of `of`) shows a
    /// value it never showed: a machine account from a new network, a reader
    /// of one endpoint on another.
    Novelty {
        window: i64,
        of: KeyPart,
        min_history: u64,
        max_known: usize,
        /// Microseconds after its first event before an entity is settled.
        settle: i64,
        /// Only principals without a login profile.
        without_login: bool,
    },
    /// A first step, then every other step (in any order), for the same key
    /// within `window` of the first: a login from a new network, then a change
    /// of contact details and a read of card data.
    Chain { window: i64, steps: Vec<Filter> },
    /// A principal that, visit after visit, reads data subjects it never read
    /// before, a few at a time, where a genuine user re-reads a stable working
    /// set (its own record, a family's or a client's members): at least
    /// `threshold` subjects new on return visits, spread over at least two of
    /// them, making at least `fresh_share` of what those visits read.
    Harvest {
        window: i64,
        threshold: u64,
        /// Microseconds without a matching event that end a visit.
        gap: i64,
        fresh_share: f64,
        max_per_visit: u32,
        memory: usize,
    },
}

impl Detector {
    /// The window the detector counts over.
    pub fn window(&self) -> i64 {
        match self {
            Detector::Threshold { window, .. }
            | Detector::Distinct { window, .. }
            | Detector::Sequence { window, .. }
            | Detector::Signature { window, .. }
            | Detector::Baseline { window, .. }
            | Detector::Novelty { window, .. }
            | Detector::Chain { window, .. }
            | Detector::Harvest { window, .. } => *window,
        }
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub description: String,
    pub detector: Detector,
    pub filter: Filter,
    pub key: Vec<KeyPart>,
    pub severity: Severity,
    /// Microseconds of event time without activity that close an alert.
    pub quiet: i64,
    /// How many of a `distinct` rule's values the alert names (0: none).
    pub report_values: usize,
    /// An event from a shared address (a carrier-grade NAT, an office: see
    /// `skip_shared_addresses`) does not fire the rule.
    pub skip_shared: bool,
}

/// A problem in a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.field, self.message
        )
    }
}

/// Loads a rules file.
pub fn load(path: &Path) -> Result<Vec<Rule>, Vec<RuleError>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![RuleError {
            file: name.clone(),
            line: 0,
            field: String::new(),
            message: format!("cannot read the rules: {e}"),
        }]
    })?;
    compile(&text, &name)
}

/// Compiles rules YAML, reporting every problem.
pub fn compile(text: &str, file: &str) -> Result<Vec<Rule>, Vec<RuleError>> {
    let raw: RulesFile = serde_yaml_ng::from_str(text).map_err(|e| {
        vec![RuleError {
            file: file.into(),
            line: e.location().map_or(0, |l| l.line()),
            field: String::new(),
            message: e.to_string(),
        }]
    })?;
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    for (i, r) in raw.rules.iter().enumerate() {
        if r.enabled == Some(false) {
            continue;
        }
        let line = text
            .lines()
            .position(|l| l.contains("name:") && l.contains(&r.name))
            .map_or(0, |p| p + 1);
        let mut err = |field: &str, message: String| {
            errors.push(RuleError {
                file: file.into(),
                line,
                field: format!("rules[{i}].{field}"),
                message,
            })
        };
        let window = match r.window.as_deref().map(crate::config::parse_duration) {
            Some(Ok(d)) => micros(d),
            Some(Err(m)) => {
                err("window", m);
                0
            }
            None => {
                err(
                    "window",
                    "give the window the rule counts over, e.g. `10m`".into(),
                );
                0
            }
        };
        let quiet = match r.quiet.as_deref().map(crate::config::parse_duration) {
            Some(Ok(d)) => micros(d),
            Some(Err(m)) => {
                err("quiet", m);
                0
            }
            // a baseline's window is its memory, not its attack span
            None if r.detector == DetectorFile::Baseline => micros(Duration::from_secs(3600)),
            None => window.max(micros(Duration::from_secs(1800))),
        };
        let threshold = match (r.threshold, r.detector) {
            (Some(t), _) => t,
            (None, DetectorFile::Baseline | DetectorFile::Novelty | DetectorFile::Chain) => 1,
            (None, DetectorFile::Harvest) => 10,
            (None, _) => {
                err(
                    "threshold",
                    "give the count that makes the rule fire".into(),
                );
                1
            }
        };
        if r.key.is_empty() {
            err("key", "name at least one key part (ip, user, ...)".into());
        }
        if r.reset.is_some() && r.detector != DetectorFile::Threshold {
            err("reset", "only a `threshold` rule can be reset".into());
        }
        let on_logins = matches!(
            r.detector,
            DetectorFile::Sequence | DetectorFile::Threshold | DetectorFile::Distinct
        );
        if r.skip_shared_addresses.is_some() && !on_logins {
            err(
                "skip_shared_addresses",
                "only a `sequence`, `threshold` or `distinct` rule fires on one event's address"
                    .into(),
            );
        }
        // what can be new is what an account's login profile keeps
        let profiled =
            |p: &KeyPart| matches!(p, KeyPart::Ip | KeyPart::IpPrefix | KeyPart::UserAgent);
        if r.then_new.as_ref().is_some_and(|p| !profiled(p)) {
            err(
                "then_new",
                "only ip, ip_prefix or user_agent can be new for an account".into(),
            );
        }
        let chain_new = r
            .steps
            .as_ref()
            .and_then(|s| s.first())
            .and_then(|f| f.new.as_ref());
        if chain_new.is_some_and(|parts| !parts.iter().all(profiled)) {
            err(
                "steps[0].new",
                "only ip, ip_prefix or user_agent can be new for an account".into(),
            );
        }
        // the engine knows an address's failures in a row when a login
        // begins a chain, nowhere else
        let later_steps = r.steps.iter().flatten().skip(1);
        let elsewhere = [Some(&r.filter), r.then.as_ref(), r.reset.as_ref()];
        if later_steps
            .chain(elsewhere.into_iter().flatten())
            .any(|f| f.after_failures.is_some())
        {
            err(
                "after_failures",
                "only a chain's first step (a login) can follow failures".into(),
            );
        }
        let detector = match r.detector {
            DetectorFile::Threshold => Detector::Threshold {
                window,
                threshold,
                reset: r.reset.as_ref().map(Filter::build),
            },
            DetectorFile::Distinct => match r.distinct {
                Some(of) => Detector::Distinct {
                    window,
                    threshold,
                    of,
                },
                None => {
                    err(
                        "distinct",
                        "name what is counted (user, ip, subject...)".into(),
                    );
                    Detector::Threshold {
                        window,
                        threshold,
                        reset: None,
                    }
                }
            },
            DetectorFile::Chain => match &r.steps {
                Some(steps) if steps.len() >= 2 && steps.len() <= 16 => Detector::Chain {
                    window,
                    steps: steps.iter().map(Filter::build).collect(),
                },
                _ => {
                    err("steps", "a chain needs 2 to 16 steps".into());
                    Detector::Threshold {
                        window,
                        threshold,
                        reset: None,
                    }
                }
            },
            DetectorFile::Novelty => match r.of {
                Some(of) => Detector::Novelty {
                    window,
                    of,
                    min_history: r.threshold.unwrap_or(200),
                    max_known: r.max_known.unwrap_or(2).clamp(1, 64),
                    settle: match r.settle.as_deref().map(crate::config::parse_duration) {
                        Some(Ok(d)) => micros(d),
                        Some(Err(m)) => {
                            err("settle", m);
                            0
                        }
                        None => 86_400_000_000,
                    },
                    without_login: r.without_login.unwrap_or(false),
                },
                None => {
                    err(
                        "of",
                        "name what would be new (ip_prefix, user_agent, resource...)".into(),
                    );
                    Detector::Threshold {
                        window,
                        threshold,
                        reset: None,
                    }
                }
            },
            DetectorFile::Harvest => {
                let gap = match r.gap.as_deref().map(crate::config::parse_duration) {
                    Some(Ok(d)) if d.as_secs() >= 60 => micros(d),
                    Some(Ok(_)) => {
                        err("gap", "a visit gap is at least `1m`".into());
                        3_600_000_000
                    }
                    Some(Err(m)) => {
                        err("gap", m);
                        3_600_000_000
                    }
                    None => 3_600_000_000,
                };
                let fresh_share = r.fresh_share.unwrap_or(0.8);
                if !(0.5..=1.0).contains(&fresh_share) {
                    err("fresh_share", "must be in [0.5, 1]".into());
                }
                Detector::Harvest {
                    window,
                    threshold,
                    gap,
                    fresh_share,
                    max_per_visit: r.max_per_visit.unwrap_or(25).max(1),
                    memory: r.memory.unwrap_or(512).clamp(16, 65_536),
                }
            }
            DetectorFile::Signature => {
                let min_level = match r.min_level.as_deref().unwrap_or("medium") {
                    "informational" => Level::Informational,
                    "low" => Level::Low,
                    "medium" => Level::Medium,
                    "high" => Level::High,
                    "critical" => Level::Critical,
                    other => {
                        err("min_level", format!("unknown level `{other}`; use informational, low, medium, high or critical"));
                        Level::Medium
                    }
                };
                Detector::Signature {
                    window,
                    threshold,
                    min_level,
                    categories: r
                        .sigma_categories
                        .clone()
                        .unwrap_or_else(|| vec!["webserver".into()]),
                }
            }
            DetectorFile::Baseline => {
                let bucket = match r.bucket.as_deref().map(crate::config::parse_duration) {
                    Some(Ok(d)) if d.as_secs() >= 60 => micros(d),
                    Some(Ok(_)) => {
                        err("bucket", "a bucket is at least `1m`".into());
                        3_600_000_000
                    }
                    Some(Err(m)) => {
                        err("bucket", m);
                        3_600_000_000
                    }
                    None => 3_600_000_000,
                };
                let factor = r.factor.unwrap_or(4.0);
                if factor.is_nan() || factor <= 1.0 {
                    err("factor", "must be above 1".into());
                }
                let quantile = r.quantile.unwrap_or(0.99);
                if !(0.5..1.0).contains(&quantile) {
                    err("quantile", "must be in [0.5, 1)".into());
                }
                Detector::Baseline {
                    window,
                    spec: BaselineSpec {
                        measure: r.measure.unwrap_or(Measure::Events),
                        measure_filter: r.measure_match.as_ref().map(Filter::build),
                        bucket,
                        factor,
                        floor: r.floor.unwrap_or(1.0),
                        peers: r.peers.unwrap_or(Peers::Role),
                        quantile,
                        min_history: r.min_history.unwrap_or(24),
                        min_peers: r.min_peers.unwrap_or(50),
                        min_role_peers: r.min_role_peers.or(r.min_peers).unwrap_or(50),
                        align: r.align.unwrap_or(Align::Clock),
                    },
                }
            }
            DetectorFile::Sequence => match &r.then {
                Some(t) => Detector::Sequence {
                    window,
                    threshold,
                    then: Filter::build(t),
                    then_new: r.then_new,
                },
                None => {
                    err(
                        "then",
                        "a sequence needs the `then` events that complete it".into(),
                    );
                    Detector::Threshold {
                        window,
                        threshold,
                        reset: None,
                    }
                }
            },
        };
        rules.push(Rule {
            name: r.name.clone(),
            description: r.description.clone().unwrap_or_default(),
            detector,
            filter: Filter::build(&r.filter),
            key: r.key.clone(),
            severity: r.severity,
            quiet,
            report_values: r.report_values.unwrap_or(0).min(10_000),
            skip_shared: r.skip_shared_addresses.unwrap_or(false),
        });
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

fn micros(d: Duration) -> i64 {
    d.as_micros().min(i64::MAX as u128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_compile() {
        let rules = compile(DEFAULT_RULES, "rules/default.yaml").unwrap();
        assert!(rules.len() >= 4);
    }

    #[test]
    fn problems_name_the_rule_and_field() {
        let bad = "rules:\n  - name: x\n    detector: distinct\n    key: [ip]\n    window: 5 parsecs\n    threshold: 3\n    severity: high\n";
        let e = compile(bad, "r.yaml").unwrap_err();
        let s: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert!(
            s.iter()
                .any(|l| l.starts_with("r.yaml:2: rules[0].window: bad duration")),
            "{s:?}"
        );
        assert!(
            s.iter()
                .any(|l| l.starts_with("r.yaml:2: rules[0].distinct:")),
            "{s:?}"
        );
        let e = compile("rules:\n  - name: x\n    detector: magic\n", "r.yaml").unwrap_err();
        assert!(e[0].to_string().starts_with("r.yaml:3:"), "{:?}", e);
    }
    #[test]
    fn only_rules_firing_on_one_events_address_can_skip_shared_addresses() {
        let rule = |detector: &str| {
            format!("rules:\n  - name: x\n    detector: {detector}\n    key: [ip]\n    window: 10m\n    threshold: 3\n    distinct: user\n    then: {{outcome: [success]}}\n    severity: high\n    skip_shared_addresses: true\n")
        };
        for detector in ["threshold", "distinct", "sequence"] {
            let rules = compile(&rule(detector), "r.yaml").unwrap();
            assert!(rules[0].skip_shared, "{detector}");
        }
        let e = compile(&rule("baseline"), "r.yaml").unwrap_err();
        assert!(
            e.iter()
                .any(|x| x.field == "rules[0].skip_shared_addresses"),
            "{e:?}"
        );
    }

    #[test]
    fn only_a_chains_first_step_can_follow_failures() {
        let chain = |first: &str, second: &str| {
            format!("rules:\n  - name: x\n    detector: chain\n    key: [user]\n    window: 1h\n    steps:\n      - {first}\n      - {second}\n    severity: high\n")
        };
        let login = "{kind: [login], outcome: [success], after_failures: 3}";
        let read = "{min_sensitivity: very_high}";
        let rules = compile(&chain(login, read), "r.yaml").unwrap();
        assert!(
            matches!(&rules[0].detector, Detector::Chain { steps, .. } if steps[0].after_failures == Some(3))
        );
        for yaml in [
            chain(read, login),
            "rules:\n  - name: x\n    detector: threshold\n    match: {after_failures: 3}\n    key: [ip]\n    window: 1h\n    threshold: 3\n    severity: high\n".into(),
        ] {
            let e = compile(&yaml, "r.yaml").unwrap_err();
            assert!(e.iter().any(|x| x.field == "rules[0].after_failures"), "{e:?}");
        }
    }

    #[test]
    fn kind_and_outcome_lists_match_as_written() {
        let filter =
            |yaml: &str| Filter::build(&serde_yaml_ng::from_str::<FilterFile>(yaml).unwrap());
        let event = |outcome| Event {
            outcome,
            ..Default::default()
        };
        let login = Class {
            kind: Some(Kind::Login),
            ..Default::default()
        };
        let plain = Class::default();
        let f = filter("{kind: [login, admin], outcome: [failure, denied]}");
        assert!(f.matches(&event(Outcome::Failure), &login));
        assert!(f.matches(&event(Outcome::Denied), &login));
        assert!(!f.matches(&event(Outcome::Success), &login));
        // an event of no kind never passes a kind list
        assert!(!f.matches(&event(Outcome::Failure), &plain));
        // no list: anything passes; an empty list: nothing does
        assert!(filter("{}").matches(&event(Outcome::Unknown), &plain));
        assert!(!filter("{kind: []}").matches(&event(Outcome::Failure), &login));
        assert!(!filter("{outcome: []}").matches(&event(Outcome::Failure), &login));
    }
}
