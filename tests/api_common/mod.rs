//! The daemon with `[api]` on a loopback port, a real store and the customer
//! portal's logs (one bulk-read incident), and three token holders: `ann`
//! (oncall), `lee` (legal), `ada` (admin). Hashes are made with the real
//! `breachd token hash`.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::*;

pub const ONCALL: &str = "oncall-secret-7f3a";
pub const LEGAL: &str = "legal-secret-91c2";
pub const ADMIN: &str = "admin-secret-0d5e";

/// A running daemon with its API.
pub struct Breachd {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub base: String,
    pub http: reqwest::blocking::Client,
}

impl Breachd {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET with an optional bearer token: (status, JSON or text as a string value).
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().expect("the API answers"))
    }

    /// POST a JSON body with an optional bearer token.
    pub fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().expect("the API answers"))
    }

    /// The first incident's id, once the daemon has opened it.
    pub fn incident(&self) -> String {
        let mut id = None;
        let found = wait_for(30, || {
            let (status, list) = self.get("/api/incidents", Some(ONCALL));
            if status == 200 {
                id = list[0]["id"].as_str().map(str::to_string);
            }
            id.is_some()
        });
        assert!(
            found,
            "no incident opened; daemon log:\n{}",
            daemon_log(self.root())
        );
        id.unwrap()
    }

    pub fn stop(&mut self) {
        if let Some(c) = self.child.take() {
            terminate(c);
        }
    }
}

impl Drop for Breachd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn answer(resp: reqwest::blocking::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, v)
}

/// `breachd token hash` with the token on stdin.
pub fn hash(dir: &Path, token: &str) -> String {
    let mut child = Command::new(bin())
        .args(["token", "hash"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{token}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The config: customer portal logs, `[api]` on port 0 (the OS picks), tokens.
pub fn config(dir: &Path, extra: &str) -> String {
    let mut c = String::from(
        "data_dir = \"data\"\n[[source]]\nname = \"app\"\npaths = [\"logs/*.jsonl\"]\npoll_interval = \"50ms\"\n[pipeline]\ncheckpoint_interval = \"100ms\"\n[detect]\ninventory = \"inventory.yaml\"\nrules = \"rules.yaml\"\n",
    );
    c.push_str(extra);
    c.push_str("[api]\nlisten = \"127.0.0.1:0\"\n");
    for (name, role, token) in [
        ("ann", "oncall", ONCALL),
        ("lee", "legal", LEGAL),
        ("ada", "admin", ADMIN),
    ] {
        let _ = write!(
            c,
            "[[api.token]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{}\"\n",
            hash(dir, token)
        );
    }
    c
}

/// `n` reads of distinct customers by one scraper, one a second, ending now.
pub fn scraper_lines(n: u32, first_customer: u32) -> String {
    use jiff::ToSpan;
    let start = jiff::Timestamp::now() - (i64::from(n) + 60).seconds();
    let mut s = String::new();
    for i in 0..n {
        let ts = start + i64::from(i).seconds();
        let _ = writeln!(
            s,
            r#"{{"ts":"{ts}","user":"scraper","role":"customer","ip":"203.0.113.9","method":"GET","path":"/api/customers/{}","status":200,"bytes":900,"records":1,"subjects":[],"session":"s-1"}}"#,
            first_customer + i
        );
    }
    s
}

/// Starts the daemon on a fresh portal and waits for its API.
pub fn start() -> Breachd {
    start_with("", true)
}

/// Like [`start`], with extra config and optionally no log lines yet.
pub fn start_with(extra: &str, with_logs: bool) -> Breachd {
    start_full(extra, with_logs, None)
}

/// Like [`start_with`], with the daemon's scheduler clock at `now`
/// (`BREACHD_NOW`, test only) so playbook steps fall due.
pub fn start_full(extra: &str, with_logs: bool, now: Option<jiff::Timestamp>) -> Breachd {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    write_customer_portal(root);
    if with_logs {
        std::fs::write(root.join("logs/app.jsonl"), scraper_lines(120, 1000)).unwrap();
    }
    std::fs::write(root.join("breachd.toml"), config(root, extra)).unwrap();
    let child = match now {
        None => spawn_daemon(root, "breachd.toml"),
        Some(t) => Command::new(bin())
            .args(["run", "--config", "breachd.toml"])
            .current_dir(root)
            .env("BREACHD_LOG", "info")
            .env("BREACHD_NOW", t.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(root.join("daemon.log")).unwrap(),
            ))
            .spawn()
            .unwrap(),
    };
    let base = wait_for_api(root);
    Breachd {
        dir,
        child: Some(child),
        base,
        http: reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap(),
    }
}

/// The API's address from the daemon's log (`API listening listen=...`).
pub fn wait_for_api(root: &Path) -> String {
    let mut base = None;
    let ok = wait_for(30, || {
        let log = strip_ansi(&daemon_log(root));
        base = log
            .lines()
            .find(|l| l.contains("API listening"))
            .and_then(|l| l.split("listen=").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .map(|a| format!("http://{a}"));
        base.is_some()
    });
    assert!(
        ok,
        "the API did not start; daemon log:\n{}",
        daemon_log(root)
    );
    base.unwrap()
}

pub fn artifacts() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts");
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// The log without terminal colour codes.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
