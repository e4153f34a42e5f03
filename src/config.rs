//! Config: `breachd.toml` as data, validated and built once into runtime
//! values. `breachd check` is this build without running anything.
//!
//! Every problem is reported with the file, line, column and field, and the
//! loader keeps going after a bad section so one run lists them all.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::parse::json::JsonMapping;
use crate::parse::postgres::PgOptions;
use crate::parse::Format;

/// The config used when no `--config` is given: watch `./logs/*.log`, keep
/// state in `./breachd-data`.
pub const DEFAULT_CONFIG: &str = include_str!("../breachd.default.toml");

/// Where an embedded default's problems are reported from.
const DEFAULT_NAME: &str = "<embedded default config>";

/// The config file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Directory for checkpoints and state.
    #[serde(default = "default_data_dir")]
    pub data_dir: Spanned<String>,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// Optional copy of every normalized event, as JSON lines.
    #[serde(default)]
    pub events: Option<EventsConfig>,
    #[serde(default)]
    pub detect: DetectConfig,
    #[serde(default)]
    pub playbooks: PlaybooksConfig,
    #[serde(default)]
    pub incident: IncidentConfig,
    /// `[notify]`: sender, DPO and channels.
    #[serde(default)]
    pub notify: crate::notify::config::NotifyConfig,
    /// `[api]`: the HTTP API, web page and `/metrics`; off without it.
    #[serde(default)]
    pub api: Option<crate::api::config::ApiConfig>,
}

/// `[playbooks]`: where the playbooks and the notice templates live.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybooksConfig {
    /// A directory of playbook YAML used instead of the shipped playbooks.
    #[serde(default)]
    pub dir: Option<Spanned<String>>,
    /// The templates directory a `draft` step's template must exist in, when
    /// the directory exists (default `templates`).
    #[serde(default)]
    pub templates: Option<Spanned<String>>,
    /// The organisation's sectors and roles, which bring in sector regimes
    /// for live incidents (`sec_registrant`, `hipaa`, `nydfs`, ...).
    #[serde(default)]
    pub sectors: Vec<Spanned<String>>,
}

/// `[incident]`: how alerts become incidents and where they are kept.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentConfig {
    /// The store file; `DATA_DIR/breachd.db` by default.
    #[serde(default)]
    pub store: Option<Spanned<String>>,
    /// When the legal clock starts: `detection` or `acknowledgement`.
    #[serde(default)]
    pub aware_at: Option<Spanned<String>>,
    /// Event time between an incident and an alert that may still join it.
    #[serde(default)]
    pub window: Option<Spanned<String>>,
    /// People who may override ENISA inputs; empty means anyone.
    #[serde(default)]
    pub legal: Vec<String>,
    /// Exposed subject ids kept per incident (default 100000).
    #[serde(default)]
    pub max_subject_ids: Option<Spanned<u64>>,
}

/// `[detect]`: the data inventory and the rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// The data inventory (YAML); without it nothing is known of the data.
    #[serde(default)]
    pub inventory: Option<Spanned<String>>,
    /// Rules files (YAML) used instead of the shipped defaults.
    #[serde(default)]
    pub rules: Option<Spanned<String>>,
    /// Cap on keys held per rule.
    #[serde(default)]
    pub max_keys: Option<Spanned<u64>>,
    /// Sigma rule files or directories loaded beside the shipped signatures.
    #[serde(default)]
    pub sigma: Vec<String>,
}

fn default_data_dir() -> Spanned<String> {
    Spanned::new(0..0, "./breachd-data".to_string())
}

/// One `[[source]]`: a set of files in one format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// A name for stats and logs; defaults to `source-N`.
    #[serde(default)]
    pub name: Option<String>,
    /// Glob patterns (`/var/log/nginx/access*.log`).
    pub paths: Spanned<Vec<String>>,
    #[serde(default = "default_format")]
    pub format: Spanned<String>,
    /// Where to start in a file seen for the first time: `beginning` or `end`.
    #[serde(default)]
    pub read_from: ReadFrom,
    /// Zone for timestamps that carry none (syslog); an IANA name, `UTC`, or `local`.
    #[serde(default = "default_timezone")]
    pub timezone: Spanned<String>,
    /// `auto` (inotify, falling back to polling), `inotify`, or `poll`.
    #[serde(default)]
    pub watch: Watch,
    /// How often to look for changes when polling (and to rescan the globs).
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Spanned<String>,
    /// How long to keep reading a rotated-away file after it stops growing.
    #[serde(default = "default_rotate_wait")]
    pub rotate_wait: Spanned<String>,
    /// Field mapping for `format = "json"` (defaults to the `app` audit-log mapping).
    #[serde(default)]
    pub json: Option<JsonMapping>,
    /// Options for `format = "postgres"`.
    #[serde(default)]
    pub postgres: Option<PgOptions>,
}

fn default_format() -> Spanned<String> {
    Spanned::new(0..0, "auto".into())
}
fn default_timezone() -> Spanned<String> {
    Spanned::new(0..0, "local".into())
}
fn default_poll_interval() -> Spanned<String> {
    Spanned::new(0..0, "1s".into())
}
fn default_rotate_wait() -> Spanned<String> {
    Spanned::new(0..0, "5s".into())
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    #[default]
    Beginning,
    End,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Watch {
    #[default]
    Auto,
    Inotify,
    Poll,
}

/// `[pipeline]`: limits and checkpointing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Lines longer than this are skipped and counted as `too_long`.
    #[serde(default = "default_max_line")]
    pub max_line_bytes: Spanned<u64>,
    /// How often file positions are made durable; a `kill -9` re-reads at most
    /// the lines read during one interval.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: Spanned<String>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            max_line_bytes: default_max_line(),
            checkpoint_interval: default_checkpoint_interval(),
        }
    }
}

fn default_max_line() -> Spanned<u64> {
    Spanned::new(0..0, 64 * 1024)
}
fn default_checkpoint_interval() -> Spanned<String> {
    Spanned::new(0..0, "1s".into())
}

/// `[events]`: write every normalized event to a file, as JSON lines.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    pub path: Spanned<String>,
}

/// The built, checked configuration the daemon runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub origin: PathBuf,
    pub data_dir: PathBuf,
    pub sources: Vec<Source>,
    pub max_line_bytes: usize,
    pub checkpoint_interval: Duration,
    pub events_path: Option<PathBuf>,
    pub inventory: std::sync::Arc<crate::classify::Inventory>,
    pub rules: Vec<crate::detect::rules::Rule>,
    pub max_keys: usize,
    /// Shipped signatures plus `[detect] sigma` paths, compiled.
    pub sigma: std::sync::Arc<crate::detect::sigma::SigmaSet>,
    /// The shipped playbooks, or those of `[playbooks] dir`.
    pub playbooks: Vec<crate::playbook::Playbook>,
    /// The organisation's sectors (`[playbooks] sectors`), for the scheduler.
    pub sectors: Vec<String>,
    /// The incident store file.
    pub store_path: PathBuf,
    /// Which alerts join one incident, and the awareness policy.
    pub correlation: crate::incident::Correlation,
    /// People who may override ENISA inputs; empty means anyone.
    pub legal: Vec<String>,
    /// The notice templates folder (`[playbooks] templates`) when it exists;
    /// `None` means the shipped templates. Compiled by [`Config::templates`].
    pub templates: Option<PathBuf>,
    /// Where template problems are reported (`[playbooks] templates`).
    pub templates_at: ConfigError,
    /// `[notify]`, built.
    pub notify: crate::notify::config::Settings,
    /// `[api]`, built; `None`: no API.
    pub api: Option<crate::api::Settings>,
}

/// One built source.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub patterns: Vec<String>,
    pub format: Format,
    pub read_from: ReadFrom,
    pub timezone: jiff::tz::TimeZone,
    pub watch: Watch,
    pub poll_interval: Duration,
    pub rotate_wait: Duration,
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field (`source[1].format`), or empty for the file.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// All problems found in one config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Loads and builds a config file; relative paths in it are relative to
    /// the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("cannot read the config file: {e}"),
            }])
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::from_str(&text, &path.display().to_string(), &base)
    }

    /// Compiles the notice templates: the folder's, or the shipped ones.
    /// Not part of the build, so the daemon does not pay for it at each start
    /// before it sends anything.
    pub fn templates(&self) -> Result<crate::notify::Templates, ConfigErrors> {
        match &self.templates {
            Some(dir) => crate::notify::Templates::load_dir(dir),
            None => crate::notify::Templates::shipped(),
        }
        .map_err(|problems| {
            ConfigErrors(
                problems
                    .iter()
                    .map(|p| self.template_problem(p.to_string()))
                    .collect(),
            )
        })
    }

    /// Compiles the templates and renders each against the sample incident,
    /// listing every required item a notice lacks (`breachd check`).
    pub fn check_templates(&self) -> Vec<ConfigError> {
        match self.templates() {
            Ok(t) => crate::notify::checklist::check(&t)
                .into_iter()
                .map(|p| self.template_problem(p))
                .collect(),
            Err(e) => e.0,
        }
    }

    fn template_problem(&self, message: String) -> ConfigError {
        ConfigError {
            message: format!("template problem: {message}"),
            ..self.templates_at.clone()
        }
    }

    /// The embedded default; relative paths are relative to the working directory.
    pub fn embedded_default() -> Result<Config, ConfigErrors> {
        Config::from_str(DEFAULT_CONFIG, DEFAULT_NAME, Path::new(""))
    }

    /// Parses and builds `text`, collecting every problem.
    pub fn from_str(text: &str, file: &str, base: &Path) -> Result<Config, ConfigErrors> {
        let doc = Doc { text, file };
        let mut errors = Vec::new();
        // Deserialize; on an error, record it, blank the section it is in
        // (keeping line numbers) and try again, so one run reports them all.
        let mut work = text.to_string();
        let mut parsed = None;
        for _ in 0..64 {
            match toml::from_str::<ConfigFile>(&work) {
                Ok(c) => {
                    parsed = Some(c);
                    break;
                }
                Err(e) => {
                    let span = e.span().unwrap_or(0..0);
                    errors.push(doc.error(span.clone(), e.message().to_string()));
                    if !blank_section(&mut work, span.start) {
                        break;
                    }
                }
            }
        }
        let built = parsed.map(|c| build(&c, &doc, base, &mut errors));
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        match built {
            Some(config) if errors.is_empty() => Ok(config),
            _ => Err(ConfigErrors(errors)),
        }
    }
}

fn build(c: &ConfigFile, doc: &Doc<'_>, base: &Path, errors: &mut Vec<ConfigError>) -> Config {
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let mut sources = Vec::new();
    for (i, s) in c.sources.iter().enumerate() {
        let mut format = match Format::from_name(s.format.get_ref()) {
            Some(f) => f,
            None => {
                errors.push(doc.error(
                    s.format.span(),
                    format!(
                        "unknown format `{}`; use one of: {}",
                        s.format.get_ref(),
                        Format::NAMES.join(", ")
                    ),
                ));
                Format::Auto
            }
        };
        // Point at `format`, or at the source's `paths` when format is left out.
        let format_at = if s.format.span() == (0..0) {
            s.paths.span()
        } else {
            s.format.span()
        };
        match (&mut format, &s.json, &s.postgres) {
            (Format::Json(m), Some(custom), _) => {
                if custom.keys().time.is_none() {
                    errors.push(doc.error(
                        s.format.span(),
                        "the [source.json] mapping needs `time`: the key that holds the event time".into(),
                    ));
                }
                *m = custom.clone();
            }
            (Format::Postgres(o), _, Some(custom)) => *o = custom.clone(),
            (_, Some(_), _) => errors.push(doc.error(
                format_at.clone(),
                "a [source.json] mapping is given: set format = \"json\" to use it".into(),
            )),
            (_, _, Some(_)) => errors.push(doc.error(
                format_at,
                "[source.postgres] options are given: set format = \"postgres\" to use them".into(),
            )),
            _ => {}
        }
        if s.paths.get_ref().is_empty() {
            errors.push(doc.error(s.paths.span(), "list at least one path or glob".into()));
        }
        let mut patterns = Vec::new();
        for p in s.paths.get_ref() {
            let full = resolve(p).display().to_string();
            if let Err(e) = glob::Pattern::new(&full) {
                errors.push(doc.error(s.paths.span(), format!("bad glob `{p}`: {e}")));
            }
            patterns.push(full);
        }
        let timezone = parse_timezone(s.timezone.get_ref()).unwrap_or_else(|msg| {
            errors.push(doc.error(s.timezone.span(), msg));
            jiff::tz::TimeZone::UTC
        });
        let mut duration = |v: &Spanned<String>| {
            parse_duration(v.get_ref()).unwrap_or_else(|msg| {
                errors.push(doc.error(v.span(), msg));
                Duration::from_secs(1)
            })
        };
        sources.push(Source {
            name: s
                .name
                .clone()
                .unwrap_or_else(|| format!("source-{}", i + 1)),
            patterns,
            format,
            read_from: s.read_from,
            timezone,
            watch: s.watch,
            poll_interval: duration(&s.poll_interval),
            rotate_wait: duration(&s.rotate_wait),
        });
    }
    let max = *c.pipeline.max_line_bytes.get_ref();
    if !(256..=(64 << 20)).contains(&max) {
        errors.push(doc.error(
            c.pipeline.max_line_bytes.span(),
            "must be between 256 and 67108864 bytes".into(),
        ));
    }
    let checkpoint_interval = parse_duration(c.pipeline.checkpoint_interval.get_ref())
        .unwrap_or_else(|msg| {
            errors.push(doc.error(c.pipeline.checkpoint_interval.span(), msg));
            Duration::from_secs(1)
        });
    let events_path = c.events.as_ref().map(|e| {
        if e.path.get_ref().is_empty() {
            errors.push(doc.error(e.path.span(), "give a file path".into()));
        }
        resolve(e.path.get_ref())
    });
    let inventory = match &c.detect.inventory {
        Some(p) => match crate::classify::Inventory::load(&resolve(p.get_ref())) {
            Ok(inv) => inv,
            Err(problems) => {
                for e in problems.0 {
                    errors.push(doc.error(p.span(), format!("inventory problem: {e}")));
                }
                crate::classify::Inventory::default()
            }
        },
        None => crate::classify::Inventory::default(),
    };
    let rules = match &c.detect.rules {
        Some(p) => crate::detect::rules::load(&resolve(p.get_ref())),
        None => {
            crate::detect::rules::compile(crate::detect::rules::DEFAULT_RULES, "<shipped rules>")
        }
    }
    .unwrap_or_else(|problems| {
        let at = c.detect.rules.as_ref().map_or(0..0, |p| p.span());
        for e in problems {
            errors.push(doc.error(at.clone(), format!("rules problem: {e}")));
        }
        Vec::new()
    });
    let max_keys = match &c.detect.max_keys {
        Some(n) if *n.get_ref() < 100 => {
            errors.push(doc.error(n.span(), "must be at least 100".into()));
            crate::detect::DEFAULT_MAX_KEYS
        }
        Some(n) => *n.get_ref() as usize,
        None => crate::detect::DEFAULT_MAX_KEYS,
    };
    let sigma_paths: Vec<PathBuf> = c.detect.sigma.iter().map(|p| resolve(p)).collect();
    for p in &sigma_paths {
        if !p.exists() {
            errors.push(doc.error(
                0..0,
                format!("detect.sigma: {} does not exist", p.display()),
            ));
        }
    }
    let sigma = crate::detect::sigma::load_all(crate::detect::rules::SHIPPED_SIGMA, &sigma_paths);
    let templates = resolve(
        c.playbooks
            .templates
            .as_ref()
            .map_or("templates", |t| t.get_ref().as_str()),
    );
    let playbooks = match &c.playbooks.dir {
        Some(d) => crate::playbook::load_dir(&resolve(d.get_ref()), Some(&templates)),
        None => crate::playbook::shipped(Some(&templates)),
    }
    .unwrap_or_else(|problems| {
        let at = c.playbooks.dir.as_ref().map_or(0..0, |d| d.span());
        for e in problems {
            errors.push(doc.error(at.clone(), format!("playbook problem: {e}")));
        }
        Vec::new()
    });
    let templates = templates.is_dir().then_some(templates);
    let mut notify_errors = Vec::new();
    let notify = crate::notify::config::build(
        &c.notify,
        &|p: &str| resolve(p),
        &|k: &str| std::env::var(k).ok(),
        &mut notify_errors,
    );
    for (span, message) in notify_errors {
        errors.push(doc.error(span, message));
    }
    let api = c.api.as_ref().map(|a| {
        let mut api_errors = Vec::new();
        let built = crate::api::config::build(a, &|p: &str| resolve(p), &mut api_errors);
        for (span, message) in api_errors {
            errors.push(doc.error(span, message));
        }
        built
    });
    let templates_at = doc.error(
        c.playbooks.templates.as_ref().map_or(0..0, |t| t.span()),
        String::new(),
    );
    let mut sectors = Vec::new();
    for sec in &c.playbooks.sectors {
        if crate::playbook::SECTORS.contains(&sec.get_ref().as_str()) {
            sectors.push(sec.get_ref().clone());
        } else {
            errors.push(doc.error(
                sec.span(),
                format!(
                    "unknown sector `{}`; use one of: {}",
                    sec.get_ref(),
                    crate::playbook::SECTORS.join(", ")
                ),
            ));
        }
    }
    let mut correlation = crate::incident::Correlation {
        jurisdictions: inventory.jurisdictions.clone(),
        ..Default::default()
    };
    if let Some(m) = &c.incident.max_subject_ids {
        correlation.max_subject_ids = *m.get_ref();
    }
    if let Some(a) = &c.incident.aware_at {
        match crate::incident::AwarePolicy::from_name(a.get_ref()) {
            Some(p) => correlation.aware = p,
            None => errors.push(doc.error(
                a.span(),
                format!(
                    "unknown aware_at `{}`; use `detection` or `acknowledgement`",
                    a.get_ref()
                ),
            )),
        }
    }
    if let Some(w) = &c.incident.window {
        match parse_duration(w.get_ref()) {
            Ok(d) => correlation.window_us = d.as_micros().min(i64::MAX as u128) as i64,
            Err(msg) => errors.push(doc.error(w.span(), msg)),
        }
    }
    let data_dir = resolve(c.data_dir.get_ref());
    let store_path = match &c.incident.store {
        Some(p) => resolve(p.get_ref()),
        None => crate::store::SqliteStore::path_in(&data_dir),
    };
    Config {
        api,
        playbooks,
        templates,
        templates_at,
        notify,
        sectors,
        store_path,
        correlation,
        legal: c.incident.legal.clone(),
        sigma: std::sync::Arc::new(sigma),
        inventory: std::sync::Arc::new(inventory),
        rules,
        max_keys,
        origin: PathBuf::from(doc.file),
        data_dir,
        sources,
        max_line_bytes: max as usize,
        checkpoint_interval,
        events_path,
    }
}

/// `UTC`, `local` (the system zone) or an IANA name such as `Europe/Berlin`.
pub fn parse_timezone(s: &str) -> Result<jiff::tz::TimeZone, String> {
    match s {
        "local" => Ok(jiff::tz::TimeZone::system()),
        "UTC" | "utc" | "Z" => Ok(jiff::tz::TimeZone::UTC),
        name => jiff::tz::TimeZone::get(name)
            .map_err(|_| format!("unknown time zone `{name}`; use an IANA name such as `Europe/Berlin`, `UTC` or `local`")),
    }
}

/// `250ms`, `5s`, `10m`, `2h`, `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let bad = || {
        format!("bad duration `{s}`; write a number and a unit: `250ms`, `5s`, `10m`, `2h`, `1d`")
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let per = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let ms = n.checked_mul(per).ok_or_else(|| {
        format!("duration `{s}` is too long; use at most a few years (e.g. `3650d`)")
    })?;
    Ok(Duration::from_millis(ms))
}

/// Locates spans in the config text and names the field there.
struct Doc<'a> {
    text: &'a str,
    file: &'a str,
}

impl Doc<'_> {
    fn error(&self, span: Range<usize>, message: String) -> ConfigError {
        let at = span.start.min(self.text.len());
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = at - before.rfind('\n').map_or(0, |p| p + 1) + 1;
        let field = if span == (0..0) {
            String::new()
        } else {
            self.field_at(at)
        };
        ConfigError {
            file: self.file.to_string(),
            line,
            column,
            field,
            message,
        }
    }

    /// `section[index].key` for the key on the line holding byte `at`.
    fn field_at(&self, at: usize) -> String {
        let mut section = String::new();
        let mut counts: Vec<(String, usize)> = Vec::new();
        let mut offset = 0;
        let mut key = String::new();
        for raw in self.text.split_inclusive('\n') {
            let line = raw.trim();
            let start = offset;
            offset += raw.len();
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
                let name = name.trim().to_string();
                let n = match counts.iter_mut().find(|(k, _)| *k == name) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        counts.push((name.clone(), 0));
                        0
                    }
                };
                section = format!("{name}[{n}]");
            } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
                section = name.trim().to_string();
            }
            if at < offset {
                if let Some((k, _)) = line.split_once('=') {
                    if !line.starts_with('[')
                        && start + raw.find(k.trim()).unwrap_or(0) <= at + k.len()
                    {
                        key = k.trim().trim_matches('"').to_string();
                    }
                }
                break;
            }
        }
        match (section.is_empty(), key.is_empty()) {
            (true, _) => key,
            (false, true) => section,
            (false, false) => format!("{section}.{key}"),
        }
    }
}

/// Replaces the section containing `at` (from its header to the next header,
/// or the single `key = value` line before any header) with spaces, keeping
/// newlines. Returns false when nothing could be blanked.
fn blank_section(text: &mut String, at: usize) -> bool {
    let mut bytes = std::mem::take(text).into_bytes();
    let at = at.min(bytes.len());
    let line_start = |i: usize| {
        bytes[..i]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1)
    };
    let is_header =
        |s: usize, b: &[u8]| b[s..].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'[');
    // find the header at or before `at`
    let mut s = line_start(at);
    let mut header = None;
    loop {
        if is_header(s, &bytes) {
            header = Some(s);
            break;
        }
        if s == 0 {
            break;
        }
        s = line_start(s - 1);
    }
    let (start, end) = match header {
        Some(h) => {
            let mut e = h + bytes[h..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(bytes.len() - h, |p| p + 1);
            while e < bytes.len() && !is_header(e, &bytes) {
                e += bytes[e..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(bytes.len() - e, |p| p + 1);
            }
            (h, e)
        }
        None => {
            let s = line_start(at);
            let e = s + bytes[s..]
                .iter()
                .position(|&c| c == b'\n')
                .unwrap_or(bytes.len() - s);
            (s, e)
        }
    };
    let changed = bytes[start..end].iter().any(|c| !c.is_ascii_whitespace());
    for c in &mut bytes[start..end] {
        if *c != b'\n' {
            *c = b' ';
        }
    }
    *text = String::from_utf8_lossy(&bytes).into_owned();
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match Config::from_str(text, "t.toml", Path::new("/base")) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn sectors_are_checked_against_the_playbook_vocabulary() {
        let text = "[[source]]\npaths = [\"/x/*.log\"]\n[playbooks]\nsectors = [\"sec_registrant\", \"banking\"]\n";
        let e = errors(text);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].contains(":4:") && e[0].contains("unknown sector `banking`"),
            "{e:#?}"
        );
        let ok =
            "[[source]]\npaths = [\"/x/*.log\"]\n[playbooks]\nsectors = [\"sec_registrant\"]\n";
        let c = Config::from_str(ok, "t.toml", Path::new("/base")).unwrap();
        assert_eq!(c.sectors, ["sec_registrant"]);
    }

    #[test]
    fn embedded_default_builds() {
        let c = Config::embedded_default().unwrap();
        assert_eq!(c.sources.len(), 1);
        assert_eq!(c.data_dir, PathBuf::from("./breachd-data"));
    }

    #[test]
    fn every_problem_is_named_with_line_and_field() {
        let text = r#"data_dir = "/var/lib/breachd"
colour = "blue"

[[source]]
paths = ["/var/log/nginx/*.log"]
format = "nginxx"

[[source]]
paths = ["/var/log/auth.log"]
formt = "sshd"

[[source]]
paths = ["/var/log/x.log"]
timezone = "Mars/Olympus"
poll_interval = "soon"

[pipeline]
max_line_bytes = "big"
"#;
        let e = errors(text);
        assert_eq!(e.len(), 6, "{e:#?}");
        assert!(
            e[0].starts_with("t.toml:2:1: colour: unknown field `colour`"),
            "{}",
            e[0]
        );
        assert!(
            e[1].starts_with("t.toml:6:10: source[0].format: unknown format `nginxx`"),
            "{}",
            e[1]
        );
        assert!(
            e[2].starts_with("t.toml:10:1: source[1].formt: unknown field `formt`"),
            "{}",
            e[2]
        );
        assert!(
            e[3].starts_with("t.toml:14:12: source[2].timezone: unknown time zone"),
            "{}",
            e[3]
        );
        assert!(
            e[4].starts_with("t.toml:15:17: source[2].poll_interval: bad duration"),
            "{}",
            e[4]
        );
        assert!(
            e[5].starts_with("t.toml:18:18: pipeline.max_line_bytes: invalid type"),
            "{}",
            e[5]
        );
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let e = errors("[[source]\npaths = [\"x\"]\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("t.toml:1:"), "{}", e[0]);
    }

    #[test]
    fn relative_paths_are_relative_to_the_config_file() {
        let c = Config::from_str(
            "[[source]]\npaths = [\"logs/*.log\"]\n[events]\npath = \"ev.jsonl\"\n",
            "t",
            Path::new("/etc/breachd"),
        )
        .unwrap();
        assert_eq!(
            c.sources[0].patterns,
            vec!["/etc/breachd/logs/*.log".to_string()]
        );
        assert_eq!(c.events_path, Some(PathBuf::from("/etc/breachd/ev.jsonl")));
    }

    #[test]
    fn a_json_mapping_needs_a_time_key_and_the_json_format() {
        let e = errors(
            "[[source]]\npaths = [\"a\"]\nformat = \"json\"\n[source.json]\nip = \"client\"\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "t.toml:3:10: source[0].format: the [source.json] mapping needs `time`"
            ),
            "{}",
            e[0]
        );
        let e = errors("[[source]]\npaths = [\"a\"]\n[source.json]\ntime = \"ts\"\n");
        assert!(
            e[0].starts_with("t.toml:2:9: source[0].paths: a [source.json] mapping is given"),
            "{e:?}"
        );
        let ok = Config::from_str(
            "[[source]]\npaths = [\"a\"]\nformat = \"json\"\n[source.json]\ntime = \"@timestamp\"\nip = \"source.ip\"\n",
            "t",
            Path::new(""),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn inventory_and_rules_problems_are_reported_through_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("inv.yaml"),
            "resources:\n  - pattern: /a\n    categories: [helth]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("rules.yaml"), "rules:\n  - name: x\n    detector: threshold\n    key: [ip]\n    window: 1 aeon\n    threshold: 3\n    severity: high\n").unwrap();
        let text = "[detect]\ninventory = \"inv.yaml\"\nrules = \"rules.yaml\"\n";
        let e = match Config::from_str(text, "t.toml", dir.path()) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("t.toml:2:13: detect.inventory: inventory problem:")
                && e.contains("inv.yaml:2: resources[0].categories: unknown category `helth`"),
            "{e}"
        );
        assert!(
            e.contains("t.toml:3:9: detect.rules: rules problem:")
                && e.contains("rules.yaml:2: rules[0].window: bad duration"),
            "{e}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("2 fortnights").is_err());
        assert!(parse_duration("").is_err());
        assert!(
            parse_duration("99999999999999999d").is_err(),
            "an overflowing duration is an error, not a wrap"
        );
    }
}
