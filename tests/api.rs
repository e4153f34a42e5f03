//! The HTTP API as on-call, legal and an admin meet it: the real daemon on a
//! loopback port with a real store. Every role boundary, no token no data,
//! CSRF on the web page's forms, the OpenAPI document and `/metrics`.

mod api_common;
mod common;

use api_common::*;
use common::*;
use serde_json::json;

#[test]
fn no_token_no_data() {
    let b = start();
    let id = b.incident();
    for path in [
        "/api/incidents".to_string(),
        format!("/api/incidents/{id}"),
        format!("/api/incidents/{id}/timeline"),
        "/api/audit".to_string(),
        "/api/audit/verify".to_string(),
    ] {
        let (status, body) = b.get(&path, None);
        assert_eq!(status, 401, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("Bearer"),
            "{path}: {body}"
        );
        assert!(
            !body.to_string().contains("scraper"),
            "{path} leaked data: {body}"
        );
        let (status, _) = b.get(&path, Some("not-a-configured-token"));
        assert_eq!(status, 401, "{path} with an unknown token");
    }
    let (status, body) = b.post(&format!("/api/incidents/{id}/ack"), None, json!({}));
    assert_eq!(status, 401, "{body}");
    let resp = b.http.get(b.url("/api/incidents")).send().unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer realm=\"breachd\""
    );
    // health is open and says nothing else
    let (status, body) = b.get("/api/health", None);
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    // the web page sends strangers to the login form
    let resp = b.http.get(b.url("/ui/incidents")).send().unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/ui/login");
}

#[test]
fn every_role_does_its_own_things_only() {
    let mut b = start();
    let id = b.incident();
    // the list says what is due next, and the next legal deadline (GDPR's 72 hours)
    assert!(
        wait_for(20, || {
            let (_, list) = b.get("/api/incidents", Some(LEGAL));
            list[0]["next_deadline"]["step"] == "GDPR authority_deadline"
                && list[0]["next_due"]["at"].is_string()
        }),
        "{}",
        b.get("/api/incidents", Some(LEGAL)).1
    );
    // every role reads
    for t in [ONCALL, LEGAL, ADMIN] {
        let (status, body) = b.get(&format!("/api/incidents/{id}"), Some(t));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], id.as_str());
    }
    // on-call's actions: legal and admin are refused, naming the role needed
    for action in [
        "ack",
        "contain",
        "resolve",
        "false-positive",
        "notes",
        "assign",
    ] {
        for t in [LEGAL, ADMIN] {
            let (status, body) =
                b.post(&format!("/api/incidents/{id}/{action}"), Some(t), json!({}));
            assert_eq!(status, 403, "{action}: {body}");
            assert_eq!(body["needed_role"], "oncall", "{action}: {body}");
            assert!(
                body["error"].as_str().unwrap().contains("`oncall` role"),
                "{body}"
            );
        }
    }
    // legal's override: on-call and admin are refused
    let override_body = json!({"dpc": 3.0, "reason": "health data in the records"});
    for t in [ONCALL, ADMIN] {
        let (status, body) = b.post(
            &format!("/api/incidents/{id}/severity"),
            Some(t),
            override_body.clone(),
        );
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["needed_role"], "legal");
    }
    // reload is the admin's: on-call and legal are refused
    for t in [ONCALL, LEGAL] {
        let (status, body) = b.post("/api/reload", Some(t), json!({}));
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["needed_role"], "admin");
    }
    // nothing refused changed anything
    let (_, shown) = b.get(&format!("/api/incidents/{id}"), Some(ONCALL));
    assert_eq!(shown["status"], "open");
    assert!(
        shown["enisa_overrides"]["dpc"].is_null(),
        "{}",
        shown["enisa_overrides"]
    );

    // each role's own action goes through, in the trail under the holder's name
    let (status, body) = b.post(
        &format!("/api/incidents/{id}/ack"),
        Some(ONCALL),
        json!({"reason": "looking"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "acknowledged");
    let (status, body) = b.post(
        &format!("/api/incidents/{id}/notes"),
        Some(ONCALL),
        json!({"text": "scraper blocked at the edge"}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = b.post(
        &format!("/api/incidents/{id}/severity"),
        Some(LEGAL),
        override_body,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = b.post("/api/reload", Some(ADMIN), json!({}));
    assert_eq!(status, 202, "{body}");
    assert!(
        wait_for(20, || daemon_log(b.root())
            .contains("reloaded inventory, rules, playbooks and templates")),
        "{}",
        daemon_log(b.root())
    );
    // a refused status move is the store's answer, not the API's
    let (status, body) = b.post(&format!("/api/incidents/{id}/ack"), Some(ONCALL), json!({}));
    assert_eq!(status, 409, "{body}");

    let (status, trail) = b.get(&format!("/api/audit?incident={id}"), Some(LEGAL));
    assert_eq!(status, 200);
    let by = |action: &str| -> Vec<String> {
        trail
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"].as_str().unwrap_or_default().contains(action))
            .map(|e| e["actor"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        by("ack").contains(&"ann".to_string()) || by("status").contains(&"ann".to_string()),
        "{trail}"
    );
    assert!(by("note").contains(&"ann".to_string()), "{trail}");
    assert!(
        by("enisa").contains(&"lee".to_string()) || by("severity").contains(&"lee".to_string()),
        "{trail}"
    );
    let (status, verdict) = b.get("/api/audit/verify", Some(ADMIN));
    assert_eq!(status, 200);
    assert_eq!(verdict["ok"], true, "{verdict}");
    // the CLI sees what the API did: one store
    let out = run(
        b.root(),
        &[
            "incident",
            "show",
            &id,
            "--config",
            "breachd.toml",
            "--json",
        ],
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["status"], "acknowledged");
    assert_eq!(shown["enisa_overrides"]["dpc"], 3.0);
    b.stop();
}

/// Pulls `name="csrf" value="..."` out of a page.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("the page has a CSRF field")
        + 19;
    page[at..].split('"').next().unwrap().to_string()
}

fn login(b: &Breachd, token: &str) -> String {
    let resp = b
        .http
        .post(b.url("/ui/login"))
        .form(&[("token", token)])
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_string()
}

#[test]
fn web_forms_without_the_csrf_token_are_refused() {
    let b = start();
    let id = b.incident();
    // a wrong token does not log in
    let resp = b
        .http
        .post(b.url("/ui/login"))
        .form(&[("token", "guess")])
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().get("set-cookie").is_none());

    let cookie = login(&b, ONCALL);
    let page = b
        .http
        .get(b.url(&format!("/ui/incidents/{id}")))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("Audit trail") && page.contains("Acknowledge"),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let act = |fields: &[(&str, &str)], cookie: &str| {
        b.http
            .post(b.url(&format!("/ui/incidents/{id}/act")))
            .header("cookie", cookie)
            .form(fields)
            .send()
            .unwrap()
    };
    // no CSRF token, a wrong one, or another session's: refused, nothing changes
    let other = login(&b, ONCALL);
    for fields in [
        vec![("action", "ack")],
        vec![("action", "ack"), ("csrf", "0000")],
    ] {
        let resp = act(&fields, &cookie);
        assert_eq!(resp.status().as_u16(), 403);
        assert!(resp.text().unwrap().contains("CSRF"));
    }
    let resp = act(&[("action", "ack"), ("csrf", &csrf)], &other);
    assert_eq!(
        resp.status().as_u16(),
        403,
        "a CSRF token is good for its own session only"
    );
    let (_, shown) = b.get(&format!("/api/incidents/{id}"), Some(ONCALL));
    assert_eq!(shown["status"], "open");
    // with it: done, in the trail under ann
    let resp = act(
        &[("action", "ack"), ("csrf", &csrf), ("text", "on it")],
        &cookie,
    );
    assert_eq!(resp.status().as_u16(), 303);
    let (_, shown) = b.get(&format!("/api/incidents/{id}"), Some(ONCALL));
    assert_eq!(shown["status"], "acknowledged");
    // legal's session with a good CSRF token still may not ack
    let legal = login(&b, LEGAL);
    let page = b
        .http
        .get(b.url(&format!("/ui/incidents/{id}")))
        .header("cookie", &legal)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let resp = act(&[("action", "contain"), ("csrf", &csrf_of(&page))], &legal);
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().unwrap().contains("oncall"));
    // legal overrides the ENISA inputs from the page; on-call may not
    let legal_csrf = csrf_of(&page);
    let severity = |cookie: &str, csrf: &str| {
        act(
            &[
                ("action", "severity"),
                ("csrf", csrf),
                ("dpc", "3"),
                ("ei", ""),
                ("cb", "0.5"),
                ("text", "health data"),
            ],
            cookie,
        )
    };
    assert_eq!(severity(&cookie, &csrf).status().as_u16(), 403);
    assert_eq!(severity(&legal, "").status().as_u16(), 403, "no CSRF token");
    assert_eq!(severity(&legal, &legal_csrf).status().as_u16(), 303);
    let (_, shown) = b.get(&format!("/api/incidents/{id}"), Some(ONCALL));
    assert_eq!(
        shown["enisa_overrides"]["dpc"], 3.0,
        "{}",
        shown["enisa_overrides"]
    );
    assert_eq!(shown["enisa_overrides"]["cb"], 0.5);
    // logging out ends the session
    let resp = b
        .http
        .post(b.url("/ui/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let resp = b
        .http
        .get(b.url("/ui/incidents"))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}

#[test]
fn openapi_and_metrics_are_served() {
    let b = start();
    let _ = b.incident();
    let (status, doc) = b.get("/api/openapi.json", None);
    assert_eq!(status, 200);
    assert!(
        doc["paths"]["/api/incidents/{id}/ack"]["post"].is_object(),
        "{doc}"
    );
    assert!(
        wait_for(10, || {
            let text = b
                .http
                .get(b.url("/metrics"))
                .send()
                .unwrap()
                .text()
                .unwrap();
            text.contains("breachd_source_lines_total{source=\"app\"} 120")
                && text.contains("breachd_alerts_opened_total{severity=\"high\"} 1")
                && text.contains("breachd_incidents{severity=\"high\",status=\"open\"} 1")
                && text.contains("breachd_detector_keys{rule=\"bulk_customer_reads\"}")
        }),
        "{}",
        b.http
            .get(b.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    );
}

/// The first draft of the incident, once the scheduler has recorded it.
fn first_draft(b: &Breachd, id: &str) -> serde_json::Value {
    let mut draft = serde_json::Value::Null;
    assert!(
        wait_for(30, || {
            let (status, list) = b.get(&format!("/api/incidents/{id}/drafts"), Some(LEGAL));
            assert_eq!(status, 200, "{list}");
            draft = list[0].clone();
            !draft.is_null()
        }),
        "no draft recorded:\n{}",
        daemon_log(b.root())
    );
    draft
}

#[test]
fn drafts_are_legals_to_edit_and_approve_and_the_outbox_is_on_calls_to_retry() {
    use jiff::ToSpan;
    // five hours on: the GDPR authority notice's draft step has fired
    let b = start_full("", true, Some(jiff::Timestamp::now() + 5.hours()));
    let id = b.incident();
    let draft = first_draft(&b, &id);
    let d = draft["id"].as_i64().unwrap();
    assert_eq!(draft["recipient"], "supervisory_authority", "{draft}");
    for t in [ONCALL, ADMIN] {
        let (status, body) = b.post(
            &format!("/api/drafts/{d}/approve"),
            Some(t),
            json!({"reason": "ok"}),
        );
        assert_eq!(
            (status, body["needed_role"].clone()),
            (403, json!("legal")),
            "{body}"
        );
        let (status, body) = b.post(
            &format!("/api/drafts/{d}/edit"),
            Some(t),
            json!({"body": "x"}),
        );
        assert_eq!(
            (status, body["needed_role"].clone()),
            (403, json!("legal")),
            "{body}"
        );
    }
    for t in [ONCALL, LEGAL, ADMIN] {
        let (status, shown) = b.get(&format!("/api/drafts/{d}"), Some(t));
        assert_eq!(status, 200, "{shown}");
        assert_eq!(shown["status"], "pending_approval");
        let (status, list) = b.get("/api/notifications", Some(t));
        assert_eq!(status, 200, "{list}");
        assert!(list.is_array());
    }
    let (status, _) = b.get(&format!("/api/drafts/{d}"), None);
    assert_eq!(status, 401);
    let (status, body) = b.post("/api/notifications/999/retry", Some(LEGAL), json!({}));
    assert_eq!(
        (status, body["needed_role"].clone()),
        (403, json!("oncall")),
        "{body}"
    );
    let (status, body) = b.post("/api/notifications/999/retry", Some(ONCALL), json!({}));
    assert!(status == 404 || status == 409, "{status} {body}");

    // legal edits the rendered text and approves it; the trail says who
    let mut shown = serde_json::Value::Null;
    assert!(
        wait_for(30, || {
            shown = b.get(&format!("/api/drafts/{d}"), Some(LEGAL)).1;
            shown["body"].is_string()
        }),
        "the draft was never rendered: {shown}"
    );
    let (status, body) = b.post(&format!("/api/drafts/{d}/approve"), Some(LEGAL), json!({}));
    assert_eq!(status, 400, "an approval needs its reason: {body}");
    // the marked places are what only people know: legal fills them in
    let subject = shown["subject"]
        .as_str()
        .unwrap()
        .replace("[to be completed before approval]", "Example Ltd");
    let edited = format!(
        "{}\nContact: dpo@example.org\n",
        shown["body"]
            .as_str()
            .unwrap()
            .replace("[to be completed before approval]", "not yet known")
    );
    let (status, body) = b.post(
        &format!("/api/drafts/{d}/edit"),
        Some(LEGAL),
        json!({"subject": subject, "body": edited}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["edited_by"], "lee");
    let (status, body) = b.post(
        &format!("/api/drafts/{d}/approve"),
        Some(LEGAL),
        json!({"reason": "facts checked"}),
    );
    assert_eq!(status, 200, "{body}");
    let (_, shown) = b.get(&format!("/api/drafts/{d}"), Some(ONCALL));
    assert_eq!(shown["status"], "approved");
    assert_eq!(shown["body"], edited.as_str());
    assert_ne!(shown["generated_body"], shown["body"]);
    let (status, body) = b.post(
        &format!("/api/drafts/{d}/approve"),
        Some(LEGAL),
        json!({"reason": "again"}),
    );
    assert_eq!(status, 409, "approved once only: {body}");
    let (_, trail) = b.get(&format!("/api/audit?incident={id}"), Some(ONCALL));
    let actions: Vec<(String, String)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("draft_edited".into(), "lee".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("draft_approved".into(), "lee".into())),
        "{actions:?}"
    );
}

#[test]
fn the_api_speaks_tls_from_pem_files() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("api.crt"), ck.cert.pem()).unwrap();
    std::fs::write(root.join("api.key"), ck.signing_key.serialize_pem()).unwrap();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    write_customer_portal(root);
    let config = config(root, "").replace(
        "[api]\nlisten = \"127.0.0.1:0\"\n",
        "[api]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"api.crt\"\ntls_key = \"api.key\"\n",
    );
    std::fs::write(root.join("breachd.toml"), config).unwrap();
    let child = spawn_daemon(root, "breachd.toml");
    let base = wait_for_api(root).replace("http://127.0.0.1", "https://localhost");
    let trusting = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp = trusting
        .get(format!("{base}/api/incidents"))
        .bearer_auth(LEGAL)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // the login cookie is Secure under TLS
    let resp = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/ui/login"))
        .form(&[("token", ONCALL)])
        .send()
        .unwrap();
    assert!(resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));
    // plain HTTP gets no answer from the TLS port
    let plain = reqwest::blocking::Client::new()
        .get(base.replace("https://", "http://") + "/api/health")
        .send();
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    terminate(child);
}

#[test]
fn api_config_problems_name_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("breachd.toml"),
        "[api]\nlisten = \"0.0.0.0:8787\"\n[[api.token]]\nname = \"ann\"\nrole = \"boss\"\nsha256 = \"abc\"\n",
    )
    .unwrap();
    let out = run(root, &["check", "--config", "breachd.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    for wanted in [
        "breachd.toml:2:10: api.listen: 0.0.0.0:8787 is not a loopback address",
        "breachd.toml:5:8: api.token[0].role: unknown role `boss`; use one of: oncall, legal, admin",
        "breachd.toml:6:10: api.token[0].sha256: not a SHA-256",
    ] {
        assert!(text.contains(wanted), "missing {wanted:?} in:\n{text}");
    }
}
