//! `[notify]` in the config: who notices come from, the on-call language,
//! and the channels. Validated by [`build`] into [`Settings`] with
//! [`ChannelSpec`]s; nothing connects anywhere until a channel is opened.
//!
//! Secrets (SMTP password, webhook signing secret, Slack URL, PagerDuty
//! routing key) come from a file (`*_file`) or an environment variable
//! (`*_env`), never from the config text or the command line.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::notice::{Contact, Locale};

/// `[notify]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The on-call alerts' language (`en`, `zh-CN`).
    #[serde(default)]
    pub locale: Option<Spanned<String>>,
    /// The organisation notices come from.
    #[serde(default)]
    pub organisation: ContactConfig,
    /// The data protection officer or other contact point.
    #[serde(default)]
    pub dpo: ContactConfig,
    #[serde(default, rename = "channel")]
    pub channels: Vec<ChannelConfig>,
    /// Roles a playbook step names (`oncall`, `legal`, `regulator`,
    /// `subjects`, ...) to the channels that serve them.
    #[serde(default)]
    pub routes: std::collections::BTreeMap<String, Spanned<Vec<String>>>,
    /// Where drafts are written for people to read (default `DATA_DIR/drafts`).
    #[serde(default)]
    pub drafts_dir: Option<Spanned<String>>,
    /// Attempts before a message is dead (default 8).
    #[serde(default)]
    pub max_attempts: Option<Spanned<u32>>,
    /// The first retry's delay, doubled each attempt (default `5s`).
    #[serde(default)]
    pub backoff_base: Option<Spanned<String>>,
    /// The longest delay between attempts (default `1h`).
    #[serde(default)]
    pub backoff_max: Option<Spanned<String>>,
}

/// `[notify.organisation]`, `[notify.dpo]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub website: String,
}

/// One `[[notify.channel]]` as written: the union of every kind's fields;
/// [`build`] says which belong to which kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: Spanned<String>,
    /// `smtp`, `webhook`, `slack`, `pagerduty` or `file`.
    pub kind: Spanned<String>,
    pub host: Option<Spanned<String>>,
    pub port: Option<Spanned<u16>>,
    /// `starttls` (default), `implicit`, or `none` (loopback only).
    pub tls: Option<Spanned<String>>,
    /// PEM file of certificate authorities to trust beside the public roots
    /// (an internal mail relay's CA).
    pub ca_file: Option<Spanned<String>>,
    pub username: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<Vec<String>>>,
    pub url: Option<Spanned<String>>,
    pub url_file: Option<Spanned<String>>,
    pub url_env: Option<Spanned<String>>,
    pub secret_file: Option<Spanned<String>>,
    pub secret_env: Option<Spanned<String>>,
    pub routing_key_file: Option<Spanned<String>>,
    pub routing_key_env: Option<Spanned<String>>,
    /// PagerDuty `payload.source` (default `breachd`).
    pub source: Option<Spanned<String>>,
    pub dir: Option<Spanned<String>>,
    /// Per-send timeout (default `10s`).
    pub timeout: Option<Spanned<String>>,
}

/// A secret's value; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only to a server on this machine.
    None,
}

/// A validated channel, ready to open.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSpec {
    pub name: String,
    pub kind: KindSpec,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KindSpec {
    Smtp {
        host: String,
        port: u16,
        tls: Tls,
        /// Extra trusted CA certificates, PEM.
        ca: Option<Vec<u8>>,
        credentials: Option<(String, Secret)>,
        from: String,
        to: Vec<String>,
    },
    Webhook {
        url: String,
        secret: Secret,
    },
    Slack {
        url: Secret,
    },
    PagerDuty {
        url: String,
        routing_key: Secret,
        source: String,
    },
    File {
        dir: PathBuf,
    },
}

/// `[notify]` built.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub locale: Locale,
    pub organisation: Contact,
    pub dpo: Contact,
    pub channels: Vec<ChannelSpec>,
    /// Role → channel names (`[notify.routes]`).
    pub routes: std::collections::BTreeMap<String, Vec<String>>,
    /// `[notify] drafts_dir`, resolved; `None`: `DATA_DIR/drafts`.
    pub drafts_dir: Option<PathBuf>,
    /// Retries and dead letters.
    pub backoff: super::outbox::Backoff,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            locale: Locale::En,
            organisation: Contact::default(),
            dpo: Contact::default(),
            channels: Vec::new(),
            routes: Default::default(),
            drafts_dir: None,
            backoff: Default::default(),
        }
    }
}

impl Settings {
    pub fn channel(&self, name: &str) -> Option<&ChannelSpec> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// The channels serving `role` (a playbook step's `channel`): its
    /// `[notify.routes]` entry, else the channel of that name, else none.
    pub fn route(&self, role: &str) -> Vec<&ChannelSpec> {
        match self.routes.get(role) {
            Some(names) => names.iter().filter_map(|n| self.channel(n)).collect(),
            None => self.channel(role).into_iter().collect(),
        }
    }
}

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

pub const KINDS: [&str; 5] = ["smtp", "webhook", "slack", "pagerduty", "file"];

/// Builds `[notify]`. Problems are pushed as (span in the config text,
/// message); the config turns spans into file:line:column: field.
/// `resolve` makes a relative path relative to the config file; `env` reads
/// an environment variable (a parameter so tests need not set real ones).
pub fn build(
    c: &NotifyConfig,
    resolve: &dyn Fn(&str) -> PathBuf,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<(Range<usize>, String)>,
) -> Settings {
    let locale = match &c.locale {
        Some(l) => Locale::parse(l.get_ref()).unwrap_or_else(|| {
            errors.push((
                l.span(),
                format!("unknown locale `{}`; use en or zh-CN", l.get_ref()),
            ));
            Locale::En
        }),
        None => Locale::En,
    };
    let contact = |c: &ContactConfig| Contact {
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        address: c.address.clone(),
        website: c.website.clone(),
    };
    let mut channels: Vec<ChannelSpec> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for ch in &c.channels {
        if seen.contains(&ch.name.get_ref().as_str()) {
            errors.push((
                ch.name.span(),
                format!(
                    "a channel named `{}` is already defined above",
                    ch.name.get_ref()
                ),
            ));
        }
        seen.push(ch.name.get_ref());
        if ch.name.get_ref().trim().is_empty() {
            errors.push((ch.name.span(), "give the channel a name".into()));
        }
        if let Some(spec) = build_channel(ch, resolve, env, errors) {
            channels.push(spec);
        }
    }
    let mut routes = std::collections::BTreeMap::new();
    for (role, names) in &c.routes {
        for n in names.get_ref() {
            if !channels.iter().any(|ch| &ch.name == n) {
                errors.push((
                    names.span(),
                    format!(
                        "route `{role}` names channel `{n}`, which no [[notify.channel]] defines"
                    ),
                ));
            }
        }
        routes.insert(role.clone(), names.get_ref().clone());
    }
    let mut backoff = super::outbox::Backoff::default();
    if let Some(m) = &c.max_attempts {
        if *m.get_ref() == 0 {
            errors.push((m.span(), "max_attempts must be at least 1".into()));
        } else {
            backoff.max_attempts = *m.get_ref();
        }
    }
    for (field, into) in [
        (&c.backoff_base, &mut backoff.base),
        (&c.backoff_max, &mut backoff.max),
    ] {
        if let Some(v) = field {
            match crate::config::parse_duration(v.get_ref()) {
                Ok(d) => *into = d,
                Err(m) => errors.push((v.span(), m)),
            }
        }
    }
    Settings {
        locale,
        organisation: contact(&c.organisation),
        dpo: contact(&c.dpo),
        channels,
        routes,
        drafts_dir: c.drafts_dir.as_ref().map(|d| resolve(d.get_ref())),
        backoff,
    }
}

fn build_channel(
    ch: &ChannelConfig,
    resolve: &dyn Fn(&str) -> PathBuf,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<(Range<usize>, String)>,
) -> Option<ChannelSpec> {
    let kind = ch.kind.get_ref().as_str();
    let allowed: &[&str] = match kind {
        "smtp" => &[
            "host",
            "port",
            "tls",
            "ca_file",
            "username",
            "password_file",
            "password_env",
            "from",
            "to",
        ],
        "webhook" => &["url", "secret_file", "secret_env"],
        "slack" => &["url_file", "url_env"],
        "pagerduty" => &["url", "routing_key_file", "routing_key_env", "source"],
        "file" => &["dir"],
        _ => {
            errors.push((
                ch.kind.span(),
                format!(
                    "unknown channel kind `{kind}`; use one of: {}",
                    KINDS.join(", ")
                ),
            ));
            return None;
        }
    };
    let before = errors.len();
    let s = |v: &Option<Spanned<String>>| v.as_ref().map(|v| (v.span(), v.get_ref().clone()));
    let present: [(&str, Option<Range<usize>>); 19] = [
        ("host", ch.host.as_ref().map(|v| v.span())),
        ("port", ch.port.as_ref().map(|v| v.span())),
        ("tls", ch.tls.as_ref().map(|v| v.span())),
        ("ca_file", ch.ca_file.as_ref().map(|v| v.span())),
        ("username", ch.username.as_ref().map(|v| v.span())),
        ("password_file", ch.password_file.as_ref().map(|v| v.span())),
        ("password_env", ch.password_env.as_ref().map(|v| v.span())),
        ("from", ch.from.as_ref().map(|v| v.span())),
        ("to", ch.to.as_ref().map(|v| v.span())),
        ("url", ch.url.as_ref().map(|v| v.span())),
        ("url_file", ch.url_file.as_ref().map(|v| v.span())),
        ("url_env", ch.url_env.as_ref().map(|v| v.span())),
        ("secret_file", ch.secret_file.as_ref().map(|v| v.span())),
        ("secret_env", ch.secret_env.as_ref().map(|v| v.span())),
        (
            "routing_key_file",
            ch.routing_key_file.as_ref().map(|v| v.span()),
        ),
        (
            "routing_key_env",
            ch.routing_key_env.as_ref().map(|v| v.span()),
        ),
        ("source", ch.source.as_ref().map(|v| v.span())),
        ("dir", ch.dir.as_ref().map(|v| v.span())),
        ("timeout", ch.timeout.as_ref().map(|v| v.span())),
    ];
    for (field, span) in &present {
        if let Some(span) = span {
            if *field != "timeout" && !allowed.contains(field) {
                errors.push((
                    span.clone(),
                    format!(
                        "`{field}` does not apply to a {kind} channel; its fields are: {}, timeout",
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }
    let at = ch.kind.span();
    let need = |what: &str,
                v: Option<(Range<usize>, String)>,
                errors: &mut Vec<(Range<usize>, String)>|
     -> String {
        match v {
            Some((span, s)) if s.trim().is_empty() => {
                errors.push((span, format!("`{what}` is empty")));
                String::new()
            }
            Some((_, s)) => s,
            None => {
                errors.push((at.clone(), format!("a {kind} channel needs `{what}`")));
                String::new()
            }
        }
    };
    let timeout = match &ch.timeout {
        Some(t) => crate::config::parse_duration(t.get_ref()).unwrap_or_else(|m| {
            errors.push((t.span(), m));
            Duration::from_secs(10)
        }),
        None => Duration::from_secs(10),
    };
    let spec = match kind {
        "smtp" => {
            let host = need("host", s(&ch.host), errors);
            let from = need("from", s(&ch.from), errors);
            let tls = match ch.tls.as_ref().map(|t| (t.span(), t.get_ref().as_str())) {
                None | Some((_, "starttls")) => Tls::Starttls,
                Some((_, "implicit")) => Tls::Implicit,
                Some((span, "none")) => {
                    if !is_loopback(&host) {
                        errors.push((
                            span,
                            "tls = \"none\" sends mail and passwords in clear: it is only allowed to a server on this machine (localhost, 127.0.0.1, ::1); use starttls or implicit".into(),
                        ));
                    }
                    Tls::None
                }
                Some((span, other)) => {
                    errors.push((
                        span,
                        format!("unknown tls `{other}`; use starttls, implicit or none"),
                    ));
                    Tls::Starttls
                }
            };
            let port = ch.port.as_ref().map_or(
                match tls {
                    Tls::Starttls => 587,
                    Tls::Implicit => 465,
                    Tls::None => 25,
                },
                |p| *p.get_ref(),
            );
            let to = match &ch.to {
                Some(t) if t.get_ref().is_empty() => {
                    errors.push((t.span(), "list at least one address".into()));
                    Vec::new()
                }
                Some(t) => {
                    for a in t.get_ref() {
                        if a.parse::<lettre::message::Mailbox>().is_err() {
                            errors.push((t.span(), format!("`{a}` is not an e-mail address")));
                        }
                    }
                    t.get_ref().clone()
                }
                None => {
                    errors.push((at.clone(), format!("a {kind} channel needs `to`")));
                    Vec::new()
                }
            };
            if !from.is_empty() && from.parse::<lettre::message::Mailbox>().is_err() {
                if let Some(f) = &ch.from {
                    errors.push((f.span(), format!("`{from}` is not an e-mail address")));
                }
            }
            let ca = ch.ca_file.as_ref().and_then(|f| {
                let path = resolve(f.get_ref());
                match std::fs::read(&path) {
                    Ok(pem)
                        if lettre::transport::smtp::client::Certificate::from_pem(&pem).is_ok() =>
                    {
                        Some(pem)
                    }
                    Ok(_) => {
                        errors.push((
                            f.span(),
                            format!("{} holds no PEM certificate", path.display()),
                        ));
                        None
                    }
                    Err(e) => {
                        errors.push((f.span(), format!("cannot read {}: {e}", path.display())));
                        None
                    }
                }
            });
            let password = secret(
                "password",
                &ch.password_file,
                &ch.password_env,
                false,
                &at,
                resolve,
                env,
                errors,
            );
            let credentials = match (s(&ch.username), password) {
                (Some((_, u)), Some(p)) => Some((u, p)),
                (None, None) => None,
                (Some((span, _)), None) => {
                    errors.push((
                        span,
                        "a username needs a password: set password_file or password_env".into(),
                    ));
                    None
                }
                (None, Some(_)) => {
                    errors.push((at.clone(), "a password is set but no `username`".into()));
                    None
                }
            };
            KindSpec::Smtp {
                host,
                port,
                tls,
                ca,
                credentials,
                from,
                to,
            }
        }
        "webhook" => {
            let url = need("url", s(&ch.url), errors);
            check_url(
                &url,
                ch.url.as_ref().map_or(at.clone(), |u| u.span()),
                errors,
            );
            let secret = secret(
                "secret",
                &ch.secret_file,
                &ch.secret_env,
                true,
                &at,
                resolve,
                env,
                errors,
            )
            .unwrap_or_else(|| Secret::new(""));
            KindSpec::Webhook { url, secret }
        }
        "slack" => {
            let url = secret(
                "url",
                &ch.url_file,
                &ch.url_env,
                true,
                &at,
                resolve,
                env,
                errors,
            )
            .unwrap_or_else(|| Secret::new(""));
            if !url.expose().is_empty() {
                let span = ch
                    .url_file
                    .as_ref()
                    .or(ch.url_env.as_ref())
                    .map_or(at.clone(), |u| u.span());
                check_url(url.expose(), span, errors);
            }
            KindSpec::Slack { url }
        }
        "pagerduty" => {
            let url = s(&ch.url).map_or(PAGERDUTY_URL.to_string(), |(_, u)| u);
            check_url(
                &url,
                ch.url.as_ref().map_or(at.clone(), |u| u.span()),
                errors,
            );
            let routing_key = secret(
                "routing_key",
                &ch.routing_key_file,
                &ch.routing_key_env,
                true,
                &at,
                resolve,
                env,
                errors,
            )
            .unwrap_or_else(|| Secret::new(""));
            let source = s(&ch.source).map_or("breachd".to_string(), |(_, s)| s);
            KindSpec::PagerDuty {
                url,
                routing_key,
                source,
            }
        }
        _ => {
            let dir = need("dir", s(&ch.dir), errors);
            KindSpec::File { dir: resolve(&dir) }
        }
    };
    (errors.len() == before).then(|| ChannelSpec {
        name: ch.name.get_ref().clone(),
        kind: spec,
        timeout,
    })
}

/// Reads a secret from `NAME_file` or `NAME_env` (exactly one).
#[allow(clippy::too_many_arguments)]
fn secret(
    name: &str,
    file: &Option<Spanned<String>>,
    var: &Option<Spanned<String>>,
    required: bool,
    at: &Range<usize>,
    resolve: &dyn Fn(&str) -> PathBuf,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<(Range<usize>, String)>,
) -> Option<Secret> {
    match (file, var) {
        (Some(f), Some(_)) => {
            errors.push((
                f.span(),
                format!("set either {name}_file or {name}_env, not both"),
            ));
            None
        }
        (Some(f), None) => {
            let path = resolve(f.get_ref());
            match std::fs::read_to_string(&path) {
                Ok(s) if s.trim().is_empty() => {
                    errors.push((f.span(), format!("{} is empty", path.display())));
                    None
                }
                Ok(s) => Some(Secret(s.trim_end_matches(['\n', '\r']).to_string())),
                Err(e) => {
                    errors.push((f.span(), format!("cannot read {}: {e}", path.display())));
                    None
                }
            }
        }
        (None, Some(v)) => match env(v.get_ref()) {
            Some(s) if !s.is_empty() => Some(Secret(s)),
            _ => {
                errors.push((
                    v.span(),
                    format!("the environment variable `{}` is not set", v.get_ref()),
                ));
                None
            }
        },
        (None, None) => {
            if required {
                errors.push((
                    at.clone(),
                    format!(
                        "set {name}_file (a file holding it) or {name}_env (a variable holding it)"
                    ),
                ));
            }
            None
        }
    }
}

/// https anywhere; plain http only to this machine.
fn check_url(url: &str, span: Range<usize>, errors: &mut Vec<(Range<usize>, String)>) {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => {}
        Ok(u) if u.scheme() == "http" && u.host_str().is_some_and(is_loopback) => {}
        Ok(_) => errors.push((
            span,
            "use an https:// URL (plain http is only allowed to this machine)".into(),
        )),
        Err(e) => errors.push((span, format!("not a URL: {e}"))),
    }
}

/// localhost, 127.0.0.0/8 or ::1.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The default `resolve` for paths outside a config (tests, tools).
pub fn same_path(p: &str) -> PathBuf {
    Path::new(p).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build_text(text: &str) -> (Settings, Vec<String>) {
        #[derive(Deserialize)]
        struct Root {
            notify: NotifyConfig,
        }
        let root: Root = toml::from_str(text).unwrap();
        let mut errors = Vec::new();
        let env = |k: &str| (k == "HOOK_SECRET").then(|| "s3cret".to_string());
        let s = build(&root.notify, &same_path, &env, &mut errors);
        let msgs = errors
            .into_iter()
            .map(|(span, m)| format!("{}: {m}", &text[span]))
            .collect();
        (s, msgs)
    }

    #[test]
    fn channels_build_from_their_own_fields() {
        let (s, e) = build_text(
            r#"[notify]
locale = "zh-CN"
[[notify.channel]]
name = "mail"
kind = "smtp"
host = "127.0.0.1"
port = 2525
tls = "none"
from = "breachd <breachd@example.org>"
to = ["oncall@example.org"]
[[notify.channel]]
name = "hook"
kind = "webhook"
url = "https://hooks.example.org/breachd"
secret_env = "HOOK_SECRET"
timeout = "3s"
"#,
        );
        assert_eq!(e, Vec::<String>::new());
        assert_eq!(s.locale, Locale::ZhCn);
        assert_eq!(s.channels.len(), 2);
        assert_eq!(
            s.channels[1].kind,
            KindSpec::Webhook {
                url: "https://hooks.example.org/breachd".into(),
                secret: Secret::new("s3cret")
            }
        );
        assert_eq!(s.channels[1].timeout, Duration::from_secs(3));
        assert!(!format!("{:?}", s.channels[1]).contains("s3cret"));
    }

    #[test]
    fn every_channel_problem_is_named_at_its_field() {
        let (_, e) = build_text(
            r#"[notify]
[[notify.channel]]
name = "mail"
kind = "smtp"
host = "smtp.example.org"
tls = "none"
url = "https://x"
from = "breachd@example.org"
to = ["not an address"]
username = "u"
[[notify.channel]]
name = "mail"
kind = "webhook"
url = "http://hooks.example.org/"
secret_env = "UNSET_VAR"
[[notify.channel]]
name = "pd"
kind = "pagerduty"
[[notify.channel]]
name = "x"
kind = "carrier_pigeon"
"#,
        );
        assert_eq!(
            e,
            vec![
                "\"https://x\": `url` does not apply to a smtp channel; its fields are: host, port, tls, ca_file, username, password_file, password_env, from, to, timeout",
                "\"none\": tls = \"none\" sends mail and passwords in clear: it is only allowed to a server on this machine (localhost, 127.0.0.1, ::1); use starttls or implicit",
                "[\"not an address\"]: `not an address` is not an e-mail address",
                "\"u\": a username needs a password: set password_file or password_env",
                "\"mail\": a channel named `mail` is already defined above",
                "\"http://hooks.example.org/\": use an https:// URL (plain http is only allowed to this machine)",
                "\"UNSET_VAR\": the environment variable `UNSET_VAR` is not set",
                "\"pagerduty\": set routing_key_file (a file holding it) or routing_key_env (a variable holding it)",
                "\"carrier_pigeon\": unknown channel kind `carrier_pigeon`; use one of: smtp, webhook, slack, pagerduty, file",
            ]
        );
    }

    #[test]
    fn loopback_hosts() {
        for (h, l) in [
            ("localhost", true),
            ("127.0.0.1", true),
            ("127.8.0.1", true),
            ("[::1]", true),
            ("::1", true),
            ("10.0.0.1", false),
            ("example.org", false),
        ] {
            assert_eq!(is_loopback(h), l, "{h}");
        }
    }
}
