//! `[api]` in the config: where the HTTP API listens, its optional TLS, and
//! the bearer tokens with their roles. Validated by [`build`] into
//! [`Settings`]; nothing listens until the daemon starts the API.
//!
//! Tokens are never written in the config: only their SHA-256 (`breachd
//! token hash` reads a token from stdin and prints it), so a leaked config
//! grants nothing.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

/// `[api]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address and port; `127.0.0.1:8787` by default (loopback).
    #[serde(default)]
    pub listen: Option<Spanned<String>>,
    /// PEM certificate chain; with `tls_key`, the API speaks HTTPS.
    #[serde(default)]
    pub tls_cert: Option<Spanned<String>>,
    /// PEM private key of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<Spanned<String>>,
    /// How long a web session lasts without use (default `8h`).
    #[serde(default)]
    pub session_idle: Option<Spanned<String>>,
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenConfig>,
}

/// One `[[api.token]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it: recorded as the actor in the audit trail.
    pub name: Spanned<String>,
    /// `oncall`, `legal` or `admin`.
    pub role: Spanned<String>,
    /// Lowercase hex SHA-256 of the token (`breachd token hash`).
    pub sha256: Spanned<String>,
}

/// What a token may do. Every role reads; each changes only its own things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Acknowledges, contains, resolves, notes and assigns incidents.
    Oncall,
    /// Approves drafts and overrides the ENISA severity inputs.
    Legal,
    /// Reloads the configuration.
    Admin,
}

impl Role {
    pub const NAMES: [&'static str; 3] = ["oncall", "legal", "admin"];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Oncall => "oncall",
            Role::Legal => "legal",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(s: &str) -> Option<Role> {
        match s {
            "oncall" => Some(Role::Oncall),
            "legal" => Some(Role::Legal),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A configured token: its holder, role and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub name: String,
    pub role: Role,
    pub sha256: [u8; 32],
}

/// TLS key material (paths; read when the API starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[api]`, built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: SocketAddr,
    pub tls: Option<Tls>,
    pub session_idle_secs: u64,
    pub tokens: Vec<Token>,
}

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

/// Checks `[api]`; every problem goes to `errors` with its span.
pub fn build(
    c: &ApiConfig,
    resolve: &dyn Fn(&str) -> PathBuf,
    errors: &mut Vec<(Range<usize>, String)>,
) -> Settings {
    let listen = match &c.listen {
        Some(l) => l.get_ref().parse::<SocketAddr>().unwrap_or_else(|_| {
            errors.push((
                l.span(),
                format!(
                    "`{}` is not an address and port; write e.g. \"{DEFAULT_LISTEN}\"",
                    l.get_ref()
                ),
            ));
            DEFAULT_LISTEN.parse().expect("the default parses")
        }),
        None => DEFAULT_LISTEN.parse().expect("the default parses"),
    };
    let tls = match (&c.tls_cert, &c.tls_key) {
        (Some(cert), Some(key)) => {
            let (cp, kp) = (resolve(cert.get_ref()), resolve(key.get_ref()));
            for (s, p) in [(cert, &cp), (key, &kp)] {
                if !p.is_file() {
                    errors.push((
                        s.span(),
                        format!("{} does not exist or is not a file", p.display()),
                    ));
                }
            }
            Some(Tls { cert: cp, key: kp })
        }
        (Some(s), None) | (None, Some(s)) => {
            errors.push((
                s.span(),
                "give both tls_cert and tls_key (PEM files), or neither for plain HTTP on loopback"
                    .into(),
            ));
            None
        }
        (None, None) => None,
    };
    if tls.is_none() && !listen.ip().is_loopback() {
        let at = c.listen.as_ref().map_or(0..0, |l| l.span());
        errors.push((
            at,
            format!(
                "{listen} is not a loopback address: bearer tokens would cross the network in clear; set tls_cert and tls_key, or listen on 127.0.0.1"
            ),
        ));
    }
    let session_idle_secs = match &c.session_idle {
        Some(s) => match crate::config::parse_duration(s.get_ref()) {
            Ok(d) => d.as_secs().max(60),
            Err(msg) => {
                errors.push((s.span(), msg));
                8 * 3600
            }
        },
        None => 8 * 3600,
    };
    let mut tokens: Vec<Token> = Vec::new();
    for t in &c.tokens {
        let name = t.name.get_ref().trim().to_string();
        if name.is_empty() {
            errors.push((t.name.span(), "give the token holder's name".into()));
        } else if tokens.iter().any(|x| x.name == name) {
            errors.push((
                t.name.span(),
                format!("a token named `{name}` is already configured; names must be unique"),
            ));
        }
        let role = Role::from_name(t.role.get_ref()).unwrap_or_else(|| {
            errors.push((
                t.role.span(),
                format!(
                    "unknown role `{}`; use one of: {}",
                    t.role.get_ref(),
                    Role::NAMES.join(", ")
                ),
            ));
            Role::Oncall
        });
        let sha256 = parse_sha256(t.sha256.get_ref()).unwrap_or_else(|| {
            errors.push((
                t.sha256.span(),
                "not a SHA-256 in hex (64 characters); `breachd token hash` prints it from the token on stdin".into(),
            ));
            [0; 32]
        });
        if tokens.iter().any(|x| x.sha256 == sha256) && sha256 != [0; 32] {
            errors.push((
                t.sha256.span(),
                "two tokens have the same hash; give each person their own token".into(),
            ));
        }
        tokens.push(Token { name, role, sha256 });
    }
    Settings {
        listen,
        tls,
        session_idle_secs,
        tokens,
    }
}

/// 64 hex digits → 32 bytes.
pub fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// SHA-256 of a token as configured: hex of its bytes, surrounding
/// whitespace (a newline from `echo`) removed.
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    crate::incident::audit::hex(&sha2::Sha256::digest(token.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(toml_text: &str) -> (Settings, Vec<String>) {
        let c: ApiConfig = toml::from_str(toml_text).unwrap();
        let mut errors = Vec::new();
        let s = build(&c, &|p| PathBuf::from(p), &mut errors);
        (s, errors.into_iter().map(|(_, m)| m).collect())
    }

    #[test]
    fn defaults_to_loopback_without_tls() {
        let (s, errors) = built("");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert!(s.tls.is_none());
    }

    #[test]
    fn problems_name_the_fix() {
        let h = hash_token("t");
        let cases: &[(&str, &str)] = &[
            ("listen = \"0.0.0.0:80\"", "set tls_cert and tls_key"),
            ("listen = \"localhost\"", "not an address and port"),
            ("tls_cert = \"c.pem\"", "give both tls_cert and tls_key"),
            (
                "[[token]]\nname = \"a\"\nrole = \"root\"\nsha256 = \"00\"",
                "unknown role `root`",
            ),
            (
                "[[token]]\nname = \"a\"\nrole = \"legal\"\nsha256 = \"xyz\"",
                "breachd token hash",
            ),
        ];
        for (text, wanted) in cases {
            let (_, errors) = built(text);
            assert!(
                errors.iter().any(|e| e.contains(wanted)),
                "{text}: {errors:?}"
            );
        }
        let dup = format!("[[token]]\nname = \"a\"\nrole = \"legal\"\nsha256 = \"{h}\"\n[[token]]\nname = \"a\"\nrole = \"oncall\"\nsha256 = \"{}\"", hash_token("u"));
        let (_, errors) = built(&dup);
        assert!(
            errors.iter().any(|e| e.contains("already configured")),
            "{errors:?}"
        );
    }

    #[test]
    fn hashes_ignore_the_trailing_newline() {
        assert_eq!(hash_token("secret\n"), hash_token("secret"));
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(parse_sha256(&hash_token("abc")).map(|b| b[0]), Some(0xba));
    }
}
