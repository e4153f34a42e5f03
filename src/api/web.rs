//! The web page: server-rendered HTML with one small script and stylesheet
//! compiled in (nothing is fetched from anywhere else). Login with a token
//! starts a session; every form that changes something carries the
//! session's CSRF token, and the same role rules as the JSON API apply.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::Value;

use super::config::Role;
use super::routes::{apply, blocking, list_incidents, lock, parse_id, timeline_of, ApiError};
use super::session::{self, Session};
use super::App;
use crate::incident::{Change, Status};

const SCRIPT: &str = include_str!("static/app.js");
const STYLE: &str = include_str!("static/app.css");

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/incidents") }))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/incidents", get(incidents))
        .route("/ui/incidents/{id}", get(incident))
        .route("/ui/incidents/{id}/act", post(act))
        .route("/ui/drafts/{id}", get(super::drafts::review_page))
        .route("/ui/drafts/{id}/edit", post(super::drafts::review_edit))
        .route(
            "/ui/drafts/{id}/approve",
            post(super::drafts::review_approve),
        )
        .route(
            "/ui/static/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/ui/static/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
}

/// HTML-escapes text for element content and quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body`.
pub(crate) fn page(title: &str, session: Option<&Session>, body: &str) -> Html<String> {
    let who = match session {
        Some(s) => format!(
            "<span class=\"who\">{} ({})</span> <form method=\"post\" action=\"/ui/logout\" class=\"inline\">{}<button type=\"submit\">Log out</button></form>",
            esc(&s.caller.name),
            s.caller.role.as_str(),
            csrf_field(s)
        ),
        None => String::new(),
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} · breachd</title><link rel=\"stylesheet\" href=\"/ui/static/app.css\"></head>\
<body><a class=\"skip\" href=\"#main\">Skip to content</a><header><nav><a href=\"/ui/incidents\" accesskey=\"i\">Incidents</a></nav>{who}</header>\
<main id=\"main\" tabindex=\"-1\"><h1>{t}</h1>{body}</main><footer>Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> opens, <kbd>g</kbd> incidents.</footer>\
<script src=\"/ui/static/app.js\"></script></body></html>",
        t = esc(title)
    ))
}

pub(crate) fn csrf_field(s: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&s.csrf)
    )
}

/// An error page with the API's status and message.
pub(crate) fn error_page(e: ApiError, session: Option<&Session>) -> Response {
    let status = e.status;
    let mut body = format!("<p class=\"error\" role=\"alert\">{}</p>", esc(&e.message));
    if status == StatusCode::FORBIDDEN {
        if let Some(r) = e.needed {
            let _ = write!(
                body,
                "<p>Ask someone with the <strong>{}</strong> role.</p>",
                r.as_str()
            );
        }
    }
    body.push_str("<p><a href=\"/ui/incidents\">Back to the incidents</a></p>");
    (status, page("Refused", session, &body)).into_response()
}

/// The session, or a redirect to the login page.
pub(crate) fn need_session(app: &App, headers: &HeaderMap) -> Result<Session, Redirect> {
    app.sessions
        .find(headers)
        .ok_or_else(|| Redirect::to("/ui/login"))
}

/// A state-changing form must carry the session's CSRF token.
pub(crate) fn check_csrf(s: &Session, sent: &str) -> Result<(), ApiError> {
    if session::same(sent.as_bytes(), s.csrf.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or stale; reload the page and try again",
        ))
    }
}

fn login_page(message: Option<&str>) -> Html<String> {
    let msg = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default();
    page(
        "Log in",
        None,
        &format!(
            "{msg}<form method=\"post\" action=\"/ui/login\" class=\"login\">\
<label for=\"token\">API token</label> <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" autofocus required>\
<button type=\"submit\">Log in</button></form><p class=\"hint\">Your token is the one whose SHA-256 is in <code>[[api.token]]</code>.</p>"
        ),
    )
}

async fn login_form() -> Html<String> {
    login_page(None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): State<Arc<App>>, Form(f): Form<LoginForm>) -> Response {
    match session::by_token(&f.token, &app.settings.tokens) {
        Some(caller) => match app.sessions.open(caller.clone()) {
            Ok(cookie) => {
                tracing::info!(actor = %caller.name, role = caller.role.as_str(), "web login");
                (
                    StatusCode::SEE_OTHER,
                    [
                        (header::SET_COOKIE, cookie),
                        (header::LOCATION, "/ui/incidents".to_string()),
                    ],
                )
                    .into_response()
            }
            Err(e) => error_page(
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot start a session: {e}"),
                ),
                None,
            ),
        },
        None => (
            StatusCode::UNAUTHORIZED,
            login_page(Some("That token is not configured.")),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let s = match need_session(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    if let Err(e) = check_csrf(&s, &f.csrf) {
        return error_page(e, Some(&s));
    }
    let cookie = app.sessions.close(&headers);
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/ui/login".to_string()),
        ],
    )
        .into_response()
}

/// `<time>` that the script turns into a live countdown.
fn countdown(at: &str) -> String {
    format!(
        "<time datetime=\"{a}\" data-due=\"{a}\">{a}</time>",
        a = esc(at)
    )
}

async fn incidents(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let s = match need_session(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let a = app.clone();
    let rows = match blocking(move || list_incidents(&a, false, None)).await {
        Ok(r) => r,
        Err(e) => return error_page(e, Some(&s)),
    };
    let mut body = String::new();
    if rows.is_empty() {
        body.push_str("<p>No active incident.</p>");
    } else {
        body.push_str("<table class=\"list\"><thead><tr><th scope=\"col\">Incident</th><th scope=\"col\">Title</th><th scope=\"col\">Status</th><th scope=\"col\">Severity</th><th scope=\"col\">ENISA</th><th scope=\"col\">Subjects</th><th scope=\"col\">Next legal deadline</th><th scope=\"col\">Next step</th></tr></thead><tbody>");
        for (i, next) in &rows {
            let a = i.assessment();
            let due = |d: &Option<(jiff::Timestamp, String)>| match d {
                Some((at, step)) => format!(
                    "{} <span class=\"step\">{}</span>",
                    countdown(&at.to_string()),
                    esc(step)
                ),
                None => "—".into(),
            };
            let (deadline, next) = (due(&next.deadline), due(&next.step));
            let _ = write!(
                body,
                "<tr class=\"sev-{sev}\"><td><a href=\"/ui/incidents/{id}\" class=\"row-link\">{id}</a></td><td>{title}</td><td>{status}</td><td>{sev}</td><td>{score:.2} {band}</td><td>{subj}</td><td>{deadline}</td><td>{next}</td></tr>",
                id = esc(&i.id.to_string()),
                title = esc(&i.title),
                status = i.status.as_str(),
                sev = i.severity.as_str(),
                score = a.score,
                band = esc(a.band.as_str()),
                subj = i.subjects,
            );
        }
        body.push_str("</tbody></table>");
    }
    page("Incidents", Some(&s), &body).into_response()
}

/// The actions a role may take from the incident page: (form action, label).
fn actions_for(role: Role, status: Status) -> Vec<(&'static str, &'static str)> {
    match role {
        Role::Oncall => {
            let mut v = Vec::new();
            for (to, action, label) in [
                (Status::Acknowledged, "ack", "Acknowledge"),
                (Status::Contained, "contain", "Contained"),
                (Status::Resolved, "resolve", "Resolve"),
                (Status::FalsePositive, "false-positive", "False positive"),
            ] {
                if status.check(to).is_ok() {
                    v.push((action, label));
                }
            }
            v.push(("note", "Add note"));
            v.push(("assign", "Assign"));
            v
        }
        // legal's changes (drafts, severity) have their own pages and routes
        Role::Legal | Role::Admin => Vec::new(),
    }
}

async fn incident(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match need_session(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(e) => return error_page(e, Some(&s)),
    };
    let a = app.clone();
    let now = crate::cli::now();
    let got = blocking(move || {
        let store = lock(&a.incidents)?;
        let d = store.get(id)?;
        let trail = store.audit(Some(id))?;
        drop(store);
        let t = timeline_of(&a, id, now)?;
        let drafts = super::drafts::drafts_of(&a, id)?;
        Ok((d, trail, t, drafts))
    })
    .await;
    let (d, trail, timeline, drafts) = match got {
        Ok(x) => x,
        Err(e) => return error_page(e, Some(&s)),
    };
    let i = &d.incident;
    let a = i.assessment();
    let mut b = String::new();
    let _ = write!(
        b,
        "<p class=\"title\">{title}</p><dl class=\"facts\">\
<dt>Status</dt><dd id=\"status\">{status}</dd><dt>Severity</dt><dd>ENISA {band}: {score:.2} = DPC {dpc} × EI {ei} + CB {cb} (the detectors rated the attack {sev})</dd>\
<dt>Assignee</dt><dd>{assignee}</dd><dt>Attack</dt><dd>{start} → {end}</dd><dt>Detected</dt><dd>{detected}</dd>\
<dt>Aware</dt><dd>{aware}</dd><dt>Categories</dt><dd id=\"categories\">{cats}</dd>\
<dt>Subjects</dt><dd id=\"subjects\">{subj} (confidence {conf}; at most {upper}) — {basis}</dd><dt>Jurisdictions</dt><dd>{jur}</dd></dl>",
        title = esc(&i.title),
        status = i.status.as_str(),
        sev = i.severity.as_str(),
        score = a.score,
        band = esc(a.band.as_str()),
        dpc = a.dpc.value,
        ei = a.ei.value,
        cb = a.cb.value,
        assignee = esc(i.assignee.as_deref().unwrap_or("—")),
        start = esc(&i.start.to_string()),
        end = esc(&i.end.to_string()),
        detected = esc(&i.detected_at.to_string()),
        aware = match &i.aware {
            Some(w) => format!("{} by {} ({})", esc(&w.at.to_string()), esc(&w.by), esc(&w.reason)),
            None => "not yet".into(),
        },
        cats = esc(&i.categories.names().join(", ")),
        subj = i.subjects,
        conf = esc(&i.subjects_confidence),
        upper = i.subjects_upper,
        basis = esc(&i.subjects_basis),
        jur = esc(&i
            .jurisdictions
            .iter()
            .map(|j| format!("{} {}", j.jurisdiction, j.subjects))
            .collect::<Vec<_>>()
            .join(", ")),
    );
    // actions
    let acts = actions_for(s.caller.role, i.status);
    if s.caller.role == Role::Oncall && !acts.is_empty() {
        b.push_str("<section aria-labelledby=\"act-h\"><h2 id=\"act-h\">Act</h2>");
        for (action, label) in acts {
            let field = match action {
                "note" => "<label>Note <textarea name=\"text\" required></textarea></label>",
                "assign" => "<label>To <input name=\"text\" required></label>",
                "false-positive" => "<label>Reason <input name=\"text\" required></label>",
                _ => "<label>Reason <input name=\"text\"></label>",
            };
            let _ = write!(
                b,
                "<form method=\"post\" action=\"/ui/incidents/{id}/act\" class=\"act\">{csrf}<input type=\"hidden\" name=\"action\" value=\"{action}\">{field} <button type=\"submit\">{label}</button></form>",
                id = esc(&i.id.to_string()),
                csrf = csrf_field(&s),
            );
        }
        b.push_str("</section>");
    }
    if s.caller.role == Role::Legal {
        let _ = write!(
            b,
            "<section aria-labelledby=\"sev-h\"><h2 id=\"sev-h\">Override ENISA inputs</h2>\
<form method=\"post\" action=\"/ui/incidents/{id}/act\" class=\"severity\">{csrf}<input type=\"hidden\" name=\"action\" value=\"severity\">\
<label>DPC <input name=\"dpc\" inputmode=\"decimal\" size=\"4\" placeholder=\"{dpc}\"></label> <label>EI <input name=\"ei\" inputmode=\"decimal\" size=\"4\" placeholder=\"{ei}\"></label> \
<label>CB <input name=\"cb\" inputmode=\"decimal\" size=\"4\" placeholder=\"{cb}\"></label> <label>Reason <input name=\"text\" required></label> <button type=\"submit\">Override</button></form></section>",
            id = esc(&i.id.to_string()),
            csrf = csrf_field(&s),
            dpc = a.dpc.value,
            ei = a.ei.value,
            cb = a.cb.value,
        );
    }
    // deadlines and timeline
    b.push_str("<section aria-labelledby=\"tl-h\"><h2 id=\"tl-h\">Timeline</h2>");
    if let Some(dl) = timeline["deadlines"].as_array().filter(|d| !d.is_empty()) {
        b.push_str("<h3>Legal deadlines</h3><ul class=\"deadlines\">");
        for x in dl {
            let _ = write!(
                b,
                "<li>{} {} — {} {}</li>",
                esc(x["regime"].as_str().unwrap_or_default()),
                esc(&x["recipient"].to_string().replace('"', "")),
                countdown(x["due_at"].as_str().unwrap_or_default()),
                esc(x["basis"].as_str().unwrap_or_default())
            );
        }
        b.push_str("</ul>");
    }
    b.push_str("<table class=\"timeline\"><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Regime</th><th scope=\"col\">Step</th><th scope=\"col\">State</th><th scope=\"col\">Time left</th></tr></thead><tbody>");
    let mut rows: Vec<(String, String)> = Vec::new();
    for f in timeline["firings"].as_array().into_iter().flatten() {
        let at = f["fired_at"].as_str().unwrap_or_default().to_string();
        rows.push((
            at.clone(),
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>fired{}</td><td>—</td></tr>",
                esc(&at),
                esc(f["regime"].as_str().unwrap_or_default()),
                esc(f["step"].as_str().unwrap_or_default()),
                if f["late"].as_bool() == Some(true) {
                    " (late)"
                } else {
                    ""
                }
            ),
        ));
    }
    for st in timeline["steps"].as_array().into_iter().flatten() {
        let state = st["state"].as_str().unwrap_or_default();
        if state == "done" && st["recurring"] != Value::Bool(true) {
            continue;
        }
        let due = st["due_at"].as_str().unwrap_or_default().to_string();
        let left = if st["left_secs"].is_null() {
            "—".to_string()
        } else {
            countdown(&due)
        };
        rows.push((
            if due.is_empty() {
                "~".into()
            } else {
                due.clone()
            },
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if due.is_empty() {
                    "waits for its clock".into()
                } else {
                    esc(&due)
                },
                esc(st["regime"].as_str().unwrap_or_default()),
                esc(st["step"].as_str().unwrap_or_default()),
                esc(state),
                left
            ),
        ));
    }
    rows.sort();
    for (_, r) in rows {
        b.push_str(&r);
    }
    b.push_str("</tbody></table></section>");
    if !drafts.is_empty() {
        b.push_str("<section aria-labelledby=\"drafts-h\"><h2 id=\"drafts-h\">Drafts</h2><ul class=\"drafts\">");
        for dr in &drafts {
            let _ = write!(
                b,
                "<li><a href=\"/ui/drafts/{}\" class=\"draft-link\">{} to {}</a> — {}</li>",
                dr.id,
                esc(&dr.template),
                esc(&dr.recipient),
                esc(&dr.status)
            );
        }
        b.push_str("</ul></section>");
    }
    // evidence
    let _ = write!(b, "<section aria-labelledby=\"ev-h\"><h2 id=\"ev-h\">Evidence ({} alerts)</h2><ul class=\"evidence\">", d.evidence.len());
    for e in &d.evidence {
        let _ = write!(
            b,
            "<li><code>{}</code>{} {}</li>",
            esc(&e.key),
            if e.open { " (open)" } else { "" },
            esc(e.alert["summary"].as_str().unwrap_or_default())
        );
    }
    b.push_str("</ul>");
    let ents: Vec<String> = d.entities.iter().map(|(t, v)| format!("{t}:{v}")).collect();
    let _ = write!(
        b,
        "<p>Entities: {}{}</p></section>",
        esc(&ents.join(", ")),
        if d.entities_more > 0 {
            format!(" and {} more", d.entities_more)
        } else {
            String::new()
        }
    );
    if !d.notes.is_empty() {
        b.push_str("<section aria-labelledby=\"notes-h\"><h2 id=\"notes-h\">Notes</h2><ul>");
        for n in &d.notes {
            let _ = write!(
                b,
                "<li>{} {}: {}</li>",
                esc(&n.at.to_string()),
                esc(&n.author),
                esc(&n.text)
            );
        }
        b.push_str("</ul></section>");
    }
    b.push_str("<section aria-labelledby=\"audit-h\"><h2 id=\"audit-h\">Audit trail</h2><ol class=\"audit\" id=\"audit\">");
    for e in &trail {
        let _ = write!(
            b,
            "<li>#{} {} <strong>{}</strong> {} <code>{}</code></li>",
            e.seq,
            esc(&e.at),
            esc(&e.actor),
            esc(&e.action),
            esc(&e.detail)
        );
    }
    b.push_str("</ol></section>");
    page(&format!("Incident {}", i.id), Some(&s), &b).into_response()
}

#[derive(Debug, Deserialize)]
struct ActForm {
    #[serde(default)]
    csrf: String,
    action: String,
    #[serde(default)]
    text: String,
    /// ENISA overrides (legal's form); empty: unchanged.
    #[serde(default)]
    dpc: String,
    #[serde(default)]
    ei: String,
    #[serde(default)]
    cb: String,
}

/// A number field of a form: empty is `None`.
fn number(field: &str, v: &str) -> Result<Option<f64>, ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{field} must be a number, not `{v}`"),
        )
    })
}

async fn act(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> Response {
    let s = match need_session(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    if let Err(e) = check_csrf(&s, &f.csrf) {
        tracing::warn!(actor = %s.caller.name, "a form without its CSRF token was refused");
        return error_page(e, Some(&s));
    }
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(e) => return error_page(e, Some(&s)),
    };
    let text = (!f.text.trim().is_empty()).then(|| f.text.clone());
    let change = match f.action.as_str() {
        "ack" => Change::Status {
            to: Status::Acknowledged,
            reason: text,
        },
        "contain" => Change::Status {
            to: Status::Contained,
            reason: text,
        },
        "resolve" => Change::Status {
            to: Status::Resolved,
            reason: text,
        },
        "false-positive" => Change::Status {
            to: Status::FalsePositive,
            reason: text,
        },
        "note" => Change::Note(f.text),
        "assign" => Change::Assign(f.text),
        "severity" => {
            let parsed = (|| {
                Ok::<_, ApiError>(crate::incident::severity::Overrides {
                    dpc: number("DPC", &f.dpc)?,
                    ei: number("EI", &f.ei)?,
                    cb: number("CB", &f.cb)?,
                })
            })();
            match parsed {
                Ok(overrides) => Change::Enisa {
                    overrides,
                    reason: f.text,
                },
                Err(e) => return error_page(e, Some(&s)),
            }
        }
        other => {
            return error_page(
                ApiError::new(StatusCode::BAD_REQUEST, format!("unknown action `{other}`")),
                Some(&s),
            )
        }
    };
    let need = if f.action == "severity" {
        Role::Legal
    } else {
        Role::Oncall
    };
    let caller = match super::routes::allow(s.caller.clone(), super::routes::Need::Role(need)) {
        Ok(c) => c,
        Err(e) => return error_page(e, Some(&s)),
    };
    let a = app.clone();
    match blocking(move || apply(&a, &caller, id, change)).await {
        Ok(_) => Redirect::to(&format!("/ui/incidents/{id}")).into_response(),
        Err(e) => error_page(e, Some(&s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn only_oncall_gets_status_buttons_and_only_legal_moves() {
        let names = |r, s| {
            actions_for(r, s)
                .into_iter()
                .map(|(a, _)| a)
                .collect::<Vec<_>>()
        };
        assert!(names(Role::Oncall, Status::Open).contains(&"ack"));
        assert!(!names(Role::Oncall, Status::Resolved).contains(&"ack"));
        assert!(names(Role::Admin, Status::Open).is_empty());
    }
}
