//! Drafts and notifications over HTTP: legal reads, edits and approves a
//! draft (JSON API and the review page, with a diff against the text
//! breachd generated); anyone reads the outbox, on-call retries a dead
//! notification. The notify stage's functions do the work ([`draft::edit`],
//! [`draft::approve`], `OutboxStore::retry`): they check the legal list,
//! audit, and enqueue the approved notice in one transaction.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::config::Role;
use super::routes::{self, blocking, lock, parse_id, ApiError, Need};
use super::session::Caller;
use super::web::{check_csrf, csrf_field, error_page, esc, need_session, page};
use super::App;
use crate::notify::draft::{self, Draft, DraftStore};
use crate::notify::outbox::{Filter, OutboxStore, State as MsgState};

fn notify_lock(
    app: &App,
) -> Result<std::sync::MutexGuard<'_, crate::store::SqliteStore>, ApiError> {
    app.notify.lock().map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a previous request failed while holding the store; restart breachd",
        )
    })
}

fn find_draft(app: &App, id: i64) -> Result<Draft, ApiError> {
    notify_lock(app)?.draft(id)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no draft {id}; GET /api/incidents/ID/drafts lists an incident's drafts"),
        )
    })
}

fn draft_id(s: &str) -> Result<i64, ApiError> {
    s.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`{s}` is not a draft id (a number)"),
        )
    })
}

/// The drafts of an incident.
pub(crate) fn drafts_of(
    app: &App,
    id: crate::incident::IncidentId,
) -> Result<Vec<Draft>, ApiError> {
    Ok(notify_lock(app)?.drafts(Some(id))?)
}

fn edit(
    app: &App,
    caller: &Caller,
    id: i64,
    subject: Option<&str>,
    body: &str,
) -> Result<Draft, ApiError> {
    if body.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "give `body`: the new text",
        ));
    }
    // the draft file's form: a `Subject:` line, a blank line, the text
    let text = match subject.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => format!("Subject: {s}\n\n{body}"),
        None => body.to_string(),
    };
    let mut store = notify_lock(app)?;
    let d = draft::edit(
        &mut *store,
        &app.legal,
        id,
        &text,
        &caller.name,
        crate::cli::now(),
    )?;
    tracing::info!(draft = id, actor = %caller.name, "draft edited through the API");
    Ok(d)
}

fn approve(app: &App, caller: &Caller, id: i64, reason: &str) -> Result<Vec<i64>, ApiError> {
    if reason.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "give `reason`: why this text may go out (it is kept in the audit trail)",
        ));
    }
    let incidents = lock(&app.incidents)?;
    let mut store = notify_lock(app)?;
    let queued = draft::approve(
        &mut *store,
        &**incidents,
        &app.notify_settings,
        &app.legal,
        id,
        &caller.name,
        reason,
        crate::cli::now(),
    )?;
    tracing::info!(draft = id, actor = %caller.name, queued = queued.len(), "draft approved through the API");
    Ok(queued)
}

// ---- JSON API ----

pub(crate) async fn list_drafts(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    routes::authorize(&app, &headers, Need::Read)?;
    let id = parse_id(&id)?;
    let list = blocking(move || {
        lock(&app.incidents)?.get(id)?;
        drafts_of(&app, id)
    })
    .await?;
    Ok(Json(serde_json::to_value(list).unwrap_or_default()))
}

pub(crate) async fn show_draft(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    routes::authorize(&app, &headers, Need::Read)?;
    let id = draft_id(&id)?;
    let d = blocking(move || find_draft(&app, id)).await?;
    Ok(Json(serde_json::to_value(d).unwrap_or_default()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    #[serde(default)]
    body: String,
    /// The new first line; the current one when absent.
    #[serde(default)]
    subject: Option<String>,
}

pub(crate) async fn edit_draft(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = routes::authorize(&app, &headers, Need::Role(Role::Legal))?;
    let id = draft_id(&id)?;
    let e: EditBody = routes::body(&b)?;
    let d = blocking(move || edit(&app, &caller, id, e.subject.as_deref(), &e.body)).await?;
    Ok(Json(serde_json::to_value(d).unwrap_or_default()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    #[serde(default)]
    reason: String,
}

pub(crate) async fn approve_draft(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = routes::authorize(&app, &headers, Need::Role(Role::Legal))?;
    let id = draft_id(&id)?;
    let a: ApproveBody = routes::body(&b)?;
    let queued = blocking(move || approve(&app, &caller, id, &a.reason)).await?;
    Ok(Json(json!({ "ok": true, "draft": id, "queued": queued })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    incident: Option<String>,
}

pub(crate) async fn list_notifications(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<OutboxQuery>,
) -> Result<Json<Value>, ApiError> {
    routes::authorize(&app, &headers, Need::Read)?;
    let state = match q.state.as_deref() {
        Some(s) => Some(MsgState::from_name(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown state `{s}`; use pending, sending, sent or dead"),
            )
        })?),
        None => None,
    };
    let incident = q.incident.as_deref().map(parse_id).transpose()?;
    let rows = blocking(move || {
        Ok(notify_lock(&app)?.messages(&Filter {
            state,
            incident,
            channel: None,
        })?)
    })
    .await?;
    Ok(Json(serde_json::to_value(rows).unwrap_or_default()))
}

pub(crate) async fn retry_notification(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = routes::authorize(&app, &headers, Need::Role(Role::Oncall))?;
    let id: i64 = id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`{id}` is not a notification id (a number)"),
        )
    })?;
    blocking(move || Ok(notify_lock(&app)?.retry(id, &caller.name, crate::cli::now())?)).await?;
    Ok(Json(
        json!({ "ok": true, "notification": id, "message": "it will be sent again" }),
    ))
}

/// (waiting, dead) notifications, for `/metrics`.
pub(crate) fn outbox_depth(app: &App) -> Result<(u64, u64), ApiError> {
    let counts = notify_lock(app)?.counts()?;
    let n = |s: MsgState| {
        counts
            .iter()
            .filter(|(x, _)| *x == s)
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    Ok((
        n(MsgState::Pending) + n(MsgState::Sending),
        n(MsgState::Dead),
    ))
}

// ---- the review page ----

/// A line diff (longest common subsequence): `(-|+| , line)`.
pub(crate) fn diff_lines<'a>(old: &'a str, new: &'a str) -> Option<Vec<(char, &'a str)>> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() * b.len() > 4_000_000 {
        return None;
    }
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(('-', a[i]));
            i += 1;
        } else {
            out.push(('+', b[j]));
            j += 1;
        }
    }
    Some(out)
}

pub(crate) async fn review_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match need_session(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let id = match draft_id(&id) {
        Ok(i) => i,
        Err(e) => return error_page(e, Some(&s)),
    };
    let a = app.clone();
    let d = match blocking(move || find_draft(&a, id)).await {
        Ok(d) => d,
        Err(e) => return error_page(e, Some(&s)),
    };
    let body = d.body.clone().unwrap_or_default();
    let generated = d.generated_body.clone().unwrap_or_default();
    let mut b = String::new();
    let _ = write!(
        b,
        "<dl class=\"facts\"><dt>Incident</dt><dd><a href=\"/ui/incidents/{inc}\">{inc}</a></dd><dt>Regime</dt><dd>{regime}</dd><dt>Recipient</dt><dd>{rcpt}</dd><dt>Status</dt><dd id=\"draft-status\">{status}</dd><dt>Subject</dt><dd>{subject}</dd><dt>Edited</dt><dd>{edited}</dd><dt>Approved</dt><dd id=\"approved\">{approved}</dd></dl>",
        inc = esc(&d.incident.to_string()),
        regime = esc(&d.regime),
        rcpt = esc(&d.recipient),
        status = esc(&d.status),
        subject = esc(d.subject.as_deref().unwrap_or("(not rendered yet)")),
        edited = match (&d.edited_by, &d.edited_at) {
            (Some(by), Some(at)) => format!("{} at {}", esc(by), esc(&at.to_string())),
            _ => "not edited".into(),
        },
        approved = match (&d.approved_by, &d.approved_at) {
            (Some(by), Some(at)) => format!("by {} at {} ({})", esc(by), esc(&at.to_string()), esc(d.approval_reason.as_deref().unwrap_or_default())),
            _ => "not yet".into(),
        },
    );
    let pending = d.status == "pending_approval" && d.body.is_some();
    if s.caller.role == Role::Legal && pending {
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/ui/drafts/{id}/edit\" class=\"draft-edit\">{csrf}<label for=\"subject\">Subject</label><input id=\"subject\" name=\"subject\" class=\"draft-subject\" value=\"{subject}\"><label for=\"body\">Text</label><textarea id=\"body\" name=\"body\" class=\"draft\">{body}</textarea><button type=\"submit\" accesskey=\"s\">Save edit</button></form>\
<form method=\"post\" action=\"/ui/drafts/{id}/approve\" class=\"draft-approve\">{csrf}<label>Reason for approving <input name=\"reason\" required></label> <button type=\"submit\" accesskey=\"a\">Approve and send</button></form>",
            csrf = csrf_field(&s),
            subject = esc(d.subject.as_deref().unwrap_or_default()),
            body = esc(&body),
        );
    } else {
        let _ = write!(b, "<h2>Text</h2><pre class=\"diff\">{}</pre>", esc(&body));
        if s.caller.role != Role::Legal && pending {
            b.push_str("<p>Editing and approving need the <strong>legal</strong> role.</p>");
        }
    }
    b.push_str("<section aria-labelledby=\"diff-h\"><h2 id=\"diff-h\">Changes from the generated text</h2>");
    if body == generated {
        b.push_str("<p id=\"diff\">None: the text is as breachd generated it.</p>");
    } else {
        match diff_lines(&generated, &body) {
            Some(lines) => {
                b.push_str("<div class=\"diff\" id=\"diff\">");
                // changed lines with two lines of context; the rest folded
                let near = |i: usize| {
                    lines[i.saturating_sub(2)..(i + 3).min(lines.len())]
                        .iter()
                        .any(|(op, _)| *op != ' ')
                };
                let mut folded = false;
                for (i, &(op, l)) in lines.iter().enumerate() {
                    if !near(i) {
                        if !folded {
                            b.push_str("  ⋯\n");
                            folded = true;
                        }
                        continue;
                    }
                    folded = false;
                    let _ = match op {
                        '-' => writeln!(b, "<del>- {}</del>", esc(l)),
                        '+' => writeln!(b, "<ins>+ {}</ins>", esc(l)),
                        _ => writeln!(b, "  {}", esc(l)),
                    };
                }
                b.push_str("</div>");
            }
            None => b.push_str("<p id=\"diff\">The texts are too long to compare here.</p>"),
        }
    }
    b.push_str("</section>");
    page(&format!("Draft {id}: {}", d.template), Some(&s), &b).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ApproveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// Session, CSRF and the legal role, for the review page's forms.
fn legal_form(
    app: &App,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<(super::session::Session, Caller), Box<Response>> {
    let s = need_session(app, headers).map_err(|r| Box::new(r.into_response()))?;
    if let Err(e) = check_csrf(&s, csrf) {
        return Err(Box::new(error_page(e, Some(&s))));
    }
    match routes::allow(s.caller.clone(), Need::Role(Role::Legal)) {
        Ok(c) => Ok((s, c)),
        Err(e) => Err(Box::new(error_page(e, Some(&s)))),
    }
}

pub(crate) async fn review_edit(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<EditForm>,
) -> Response {
    let (s, caller) = match legal_form(&app, &headers, &f.csrf) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let id = match draft_id(&id) {
        Ok(i) => i,
        Err(e) => return error_page(e, Some(&s)),
    };
    // browsers send CRLF in textareas; the stored text keeps LF
    let body = f.body.replace("\r\n", "\n");
    let subject = f.subject;
    let a = app.clone();
    match blocking(move || edit(&a, &caller, id, Some(&subject), &body)).await {
        Ok(_) => Redirect::to(&format!("/ui/drafts/{id}")).into_response(),
        Err(e) => error_page(e, Some(&s)),
    }
}

pub(crate) async fn review_approve(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ApproveForm>,
) -> Response {
    let (s, caller) = match legal_form(&app, &headers, &f.csrf) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let id = match draft_id(&id) {
        Ok(i) => i,
        Err(e) => return error_page(e, Some(&s)),
    };
    let a = app.clone();
    match blocking(move || approve(&a, &caller, id, &f.reason)).await {
        Ok(_) => Redirect::to(&format!("/ui/drafts/{id}")).into_response(),
        Err(e) => error_page(e, Some(&s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_marks_removed_and_added_lines() {
        let d = diff_lines("a\nb\nc\n", "a\nB\nc\nd\n").unwrap();
        assert_eq!(
            d,
            vec![(' ', "a"), ('-', "b"), ('+', "B"), (' ', "c"), ('+', "d")]
        );
        assert_eq!(diff_lines("x", "x").unwrap(), vec![(' ', "x")]);
    }
}
