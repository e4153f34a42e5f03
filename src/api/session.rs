//! Who is calling: bearer tokens for the JSON API, and web sessions (a
//! cookie made at login from a token) with one CSRF token each.
//!
//! A session id and a CSRF token are 32 random bytes from the kernel; the
//! cookie is `HttpOnly` (scripts never see it), `SameSite=Strict` (other
//! sites' pages cannot send it) and `Secure` under TLS. Every state-changing
//! form carries the session's CSRF token, checked in constant time.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};

use super::config::{Role, Token};

/// The session cookie's name.
pub const COOKIE: &str = "breachd_session";

/// A caller the API has recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token holder's name (the actor in the audit trail).
    pub name: String,
    pub role: Role,
}

/// A logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
    last_used: Instant,
}

/// Live web sessions, in memory: a restart logs everyone out.
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
    idle: Duration,
    secure: bool,
}

impl Sessions {
    pub fn new(idle_secs: u64, secure: bool) -> Sessions {
        Sessions {
            live: Mutex::new(HashMap::new()),
            idle: Duration::from_secs(idle_secs),
            secure,
        }
    }

    /// Starts a session; returns its `Set-Cookie` value.
    pub fn open(&self, caller: Caller) -> std::io::Result<String> {
        let id = random_hex()?;
        let session = Session {
            caller,
            csrf: random_hex()?,
            last_used: Instant::now(),
        };
        if let Ok(mut live) = self.live.lock() {
            let idle = self.idle;
            live.retain(|_, s| s.last_used.elapsed() < idle);
            live.insert(id.clone(), session);
        }
        Ok(format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.idle.as_secs(),
            if self.secure { "; Secure" } else { "" }
        ))
    }

    /// The session the request's cookie names, if live (and marks it used).
    pub fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let mut live = self.live.lock().ok()?;
        let s = live.get_mut(&id)?;
        if s.last_used.elapsed() >= self.idle {
            live.remove(&id);
            return None;
        }
        s.last_used = Instant::now();
        Some(s.clone())
    }

    /// Ends the request's session; returns the cookie that clears it.
    pub fn close(&self, headers: &HeaderMap) -> String {
        if let (Some(id), Ok(mut live)) = (cookie(headers, COOKIE), self.live.lock()) {
            live.remove(&id);
        }
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }
}

/// The token a request presents as `Authorization: Bearer ...`, matched
/// against the configured hashes (every hash compared, in constant time).
pub fn bearer(headers: &HeaderMap, tokens: &[Token]) -> Option<Caller> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?;
    by_token(token, tokens)
}

/// The configured token whose hash `token` has.
pub fn by_token(token: &str, tokens: &[Token]) -> Option<Caller> {
    use sha2::Digest;
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    let h: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
    let mut found = None;
    for t in tokens {
        if same(&h, &t.sha256) {
            found = Some(Caller {
                name: t.name.clone(),
                role: t.role,
            });
        }
    }
    found
}

/// Constant-time equality of two byte strings of the same length.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// 32 random bytes from the kernel, as hex.
fn random_hex() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(crate::incident::audit::hex(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::config::hash_token;

    fn tokens() -> Vec<Token> {
        [
            ("ann", Role::Oncall, "t-oncall"),
            ("lee", Role::Legal, "t-legal"),
        ]
        .into_iter()
        .map(|(n, r, t)| Token {
            name: n.into(),
            role: r,
            sha256: crate::api::config::parse_sha256(&hash_token(t)).unwrap(),
        })
        .collect()
    }

    #[test]
    fn a_bearer_token_is_matched_by_its_hash() {
        let mut h = HeaderMap::new();
        let cases = [
            ("Bearer t-legal", Some(("lee", Role::Legal))),
            ("Bearer t-oncall", Some(("ann", Role::Oncall))),
            ("Bearer t-other", None),
            ("Bearer ", None),
            ("Basic t-legal", None),
        ];
        for (value, want) in cases {
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            let got = bearer(&h, &tokens()).map(|c| (c.name, c.role));
            assert_eq!(got, want.map(|(n, r)| (n.to_string(), r)), "{value}");
        }
    }

    #[test]
    fn sessions_are_found_by_cookie_and_closed() {
        let s = Sessions::new(3600, false);
        let set = s
            .open(Caller {
                name: "lee".into(),
                role: Role::Legal,
            })
            .unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(!set.contains("Secure"));
        let id = set.split(';').next().unwrap().to_string();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, format!("other=1; {id}").parse().unwrap());
        let found = s.find(&h).unwrap();
        assert_eq!(found.caller.name, "lee");
        assert_eq!(found.csrf.len(), 64);
        s.close(&h);
        assert!(s.find(&h).is_none());
    }
}
