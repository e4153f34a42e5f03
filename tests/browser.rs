//! The web page in headless Chromium, driven over the W3C WebDriver protocol
//! (chromedriver on a loopback port): legal logs in with a token, opens an
//! incident from the list with the keyboard, sees its timeline, countdowns,
//! evidence, categories and subjects, edits the regulator draft (the diff
//! against the generated text shows the change) and approves it, and sees
//! the approval in the audit trail; on-call acknowledges the incident
//! through the page's form. Screenshots go to `target/artifacts/`.

mod api_common;
mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use api_common::*;
use common::*;
use serde_json::{json, Value};

/// A chromedriver and one browser session.
struct Browser {
    driver: Child,
    url: String,
    session: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (Debian's chromium-driver; .ci/test installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        assert!(
            wait_for(30, || http
                .get(format!("{url}/status"))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true)),
            "chromedriver did not become ready"
        );
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let resp: Value = http
            .post(format!("{url}/session"))
            .json(&caps)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {resp}"))
            .to_string();
        Browser {
            driver,
            url,
            session,
            http,
            _profile: profile,
        }
    }

    fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(
            method,
            format!("{}/session/{}{path}", self.url, self.session),
        );
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().unwrap().json().unwrap();
        assert!(v["value"]["error"].is_null(), "{path}: {v}");
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})));
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        );
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    fn keys(&self, keys: &[&str]) {
        let mut actions = Vec::new();
        for k in keys {
            actions.push(json!({"type": "keyDown", "value": k}));
            actions.push(json!({"type": "keyUp", "value": k}));
        }
        self.cmd(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    fn script(&self, js: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.cmd(reqwest::Method::GET, "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(artifacts().join(name), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.url, self.session))
            .send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(val(*c)) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn legal_reviews_and_approves_a_draft_and_oncall_acknowledges_in_the_browser() {
    use jiff::ToSpan;
    // five hours on: the GDPR authority notice is drafted and waits for legal
    let b = start_full("", true, Some(jiff::Timestamp::now() + 5.hours()));
    let id = b.incident();
    let browser = Browser::start();

    // legal logs in with a token
    browser.go(&b.url("/ui/login"));
    browser.type_into("#token", LEGAL);
    browser.click("form.login button");
    assert!(
        wait_for(10, || browser.current_url().ends_with("/ui/incidents")),
        "{}",
        browser.current_url()
    );
    let list = browser.source();
    assert!(list.contains(&id) && list.contains("lee (legal)"), "{list}");
    assert!(
        list.contains("GDPR authority_deadline"),
        "no legal deadline on the list: {list}"
    );
    // the next deadline counts down (the script ran, nothing fetched elsewhere)
    assert!(
        wait_for(5, || {
            let t = browser.script(
                "var e = document.querySelector('[data-due]'); return e ? e.textContent : 'none';",
            );
            let t = t.as_str().unwrap_or_default().to_string();
            t.starts_with("in ") || t.starts_with("overdue by ")
        }),
        "no countdown on the list"
    );
    browser.screenshot("browser-1-incident-list.png");

    // j focuses the first incident, Enter opens it
    browser.keys(&["j", "\u{E007}"]);
    assert!(
        wait_for(10, || browser
            .current_url()
            .ends_with(&format!("/ui/incidents/{id}"))),
        "{}",
        browser.current_url()
    );
    let page = browser.source();
    for wanted in [
        "Timeline",
        "Evidence",
        "bulk_customer_reads",
        "identity",
        "contact",
        "Subjects",
        "Audit trail",
        "GDPR",
    ] {
        assert!(page.contains(wanted), "the incident page lacks {wanted}");
    }
    assert!(
        !page.contains("Acknowledge"),
        "legal is offered on-call's buttons"
    );
    browser.screenshot("browser-2-incident-legal.png");

    // the draft review page: edit, see the diff, approve
    assert!(
        wait_for(30, || {
            browser.go(&b.url(&format!("/ui/incidents/{id}")));
            browser.source().contains("class=\"draft-link\"")
        }),
        "no draft on the incident page"
    );
    browser.click("a.draft-link");
    assert!(
        wait_for(30, || {
            let ok = browser.source().contains("textarea");
            if !ok {
                browser.go(&browser.current_url()); // not rendered yet: reload
            }
            ok
        }),
        "the draft has no text to review: {}",
        browser.source()
    );
    let draft_url = browser.current_url();
    assert!(browser
        .source()
        .contains("None: the text is as breachd generated it."));
    // legal fills in what only people know (the marked places), then adds a line
    browser.script(
        "const b = document.querySelector('#body'); \
         b.value = b.value.split('[to be completed before approval]').join('not yet known'); \
         const s = document.querySelector('#subject'); \
         s.value = s.value.split('[to be completed before approval]').join('Example Ltd'); \
         return null;",
    );
    browser.type_into("#body", "\nThe scraper's account was closed on the day.");
    browser.click("form.draft-edit button");
    assert!(
        wait_for(10, || browser.source().contains(
            "<ins>+ The scraper's account was closed on the day.</ins>"
        )),
        "{}",
        browser.source()
    );
    browser.screenshot("browser-3-draft-edited-diff.png");
    browser.type_into(
        "form.draft-approve input[name=reason]",
        "facts checked with the DPO",
    );
    browser.click("form.draft-approve button");
    assert!(
        wait_for(10, || browser
            .source()
            .contains("<dd id=\"draft-status\">approved</dd>")),
        "{}",
        browser.source()
    );
    assert!(browser.source().contains("by lee at"));
    browser.screenshot("browser-4-draft-approved.png");
    assert_eq!(browser.current_url(), draft_url);
    // the approval is in the incident's audit trail
    browser.go(&b.url(&format!("/ui/incidents/{id}")));
    let trail = browser.script("return document.getElementById('audit').innerText;");
    let trail = trail.as_str().unwrap().to_string();
    let approved = trail
        .lines()
        .find(|l| l.contains("draft_approved"))
        .unwrap_or_else(|| panic!("no approval in the trail:\n{trail}"));
    assert!(
        approved.contains("lee") && approved.contains("facts checked with the DPO"),
        "{approved}"
    );
    assert!(
        trail
            .lines()
            .any(|l| l.contains("draft_edited") && l.contains("lee")),
        "{trail}"
    );
    browser.screenshot("browser-5-approval-in-audit-trail.png");

    // on-call acknowledges through the form (CSRF token and all)
    browser.click("header form button");
    assert!(wait_for(10, || browser
        .current_url()
        .ends_with("/ui/login")));
    browser.type_into("#token", ONCALL);
    browser.click("form.login button");
    assert!(wait_for(10, || browser
        .current_url()
        .ends_with("/ui/incidents")));
    browser.go(&b.url(&format!("/ui/incidents/{id}")));
    browser.type_into("form.act input[name=text]", "scraper blocked at the edge");
    browser.click("form.act button");
    assert!(
        wait_for(10, || browser
            .source()
            .contains("<dd id=\"status\">acknowledged</dd>")),
        "{}",
        browser.source()
    );
    let trail = browser.script("return document.getElementById('audit').innerText;");
    let trail = trail.as_str().unwrap();
    assert!(
        trail.contains("ann") && trail.contains("scraper blocked at the edge"),
        "{trail}"
    );
    browser.screenshot("browser-6-acknowledged-by-oncall.png");
    let (_, shown) = b.get(&format!("/api/incidents/{id}"), Some(LEGAL));
    assert_eq!(shown["status"], "acknowledged");
}
