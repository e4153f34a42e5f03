//! The JSON API's routes, the role each needs, and the router that serves
//! them with the web page and `/metrics`.
//!
//! Every handler authenticates, checks its role, then makes the same store
//! call the CLI makes (`IncidentStore::change`, `list`, `get`, `audit`,
//! `verify_audit`); none decides anything about an incident itself.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::config::Role;
use super::session::{self, Caller};
use super::App;
use crate::incident::severity::Overrides;
use crate::incident::{Change, Incident, IncidentId, ListFilter, Status, StoreError};

/// The OpenAPI 3 document, kept beside the code; a test checks that its
/// paths and methods are exactly the router's.
const OPENAPI: &str = include_str!("openapi.json");

/// The OpenAPI document served at `/api/openapi.json`.
pub fn openapi_document() -> &'static str {
    OPENAPI
}

type Route = (&'static str, &'static str, MethodRouter<Arc<App>>);

/// The JSON API (and `/metrics`): method, path, handler. The router is built
/// from this table, and the OpenAPI test reads it, so the two cannot drift.
fn api_table() -> Vec<Route> {
    vec![
        ("get", "/api/health", get(health)),
        ("get", "/api/openapi.json", get(openapi)),
        ("get", "/metrics", get(metrics)),
        ("get", "/api/incidents", get(list)),
        ("get", "/api/incidents/{id}", get(show)),
        (
            "post",
            "/api/incidents/{id}/ack",
            status_route(Status::Acknowledged),
        ),
        (
            "post",
            "/api/incidents/{id}/contain",
            status_route(Status::Contained),
        ),
        (
            "post",
            "/api/incidents/{id}/resolve",
            status_route(Status::Resolved),
        ),
        (
            "post",
            "/api/incidents/{id}/false-positive",
            status_route(Status::FalsePositive),
        ),
        ("post", "/api/incidents/{id}/notes", post(note)),
        ("post", "/api/incidents/{id}/assign", post(assign)),
        ("post", "/api/incidents/{id}/severity", post(severity)),
        ("get", "/api/incidents/{id}/timeline", get(timeline)),
        ("get", "/api/audit", get(audit)),
        ("get", "/api/audit/verify", get(audit_verify)),
        ("post", "/api/reload", post(reload)),
        (
            "get",
            "/api/incidents/{id}/drafts",
            get(super::drafts::list_drafts),
        ),
        ("get", "/api/drafts/{id}", get(super::drafts::show_draft)),
        (
            "post",
            "/api/drafts/{id}/edit",
            post(super::drafts::edit_draft),
        ),
        (
            "post",
            "/api/drafts/{id}/approve",
            post(super::drafts::approve_draft),
        ),
        (
            "get",
            "/api/notifications",
            get(super::drafts::list_notifications),
        ),
        (
            "post",
            "/api/notifications/{id}/retry",
            post(super::drafts::retry_notification),
        ),
    ]
}

/// The API's (method, path) pairs, as routed.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    api_table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The whole service: JSON API, `/metrics`, the web page.
pub(crate) fn router(app: Arc<App>) -> Router {
    let mut r = Router::new();
    for (_, path, handler) in api_table() {
        r = r.route(path, handler);
    }
    r.merge(super::web::routes())
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such route; /api/openapi.json lists them",
            )
        })
        .with_state(app)
}

/// An error as the API answers it: a status and `{"error": "..."}`, plus
/// `needed_role` on a 403.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub needed: Option<Role>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            needed: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(r) = self.needed {
            body["needed_role"] = json!(r.as_str());
        }
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"breachd\""),
            );
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let status = match &e {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Refused(_) => StatusCode::CONFLICT,
            StoreError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "the API's store call failed");
        }
        ApiError::new(status, e.to_string())
    }
}

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need {
    /// Any configured token.
    Read,
    /// This role.
    Role(Role),
}

/// Checks the role a caller has against what the route needs.
pub(crate) fn allow(caller: Caller, need: Need) -> Result<Caller, ApiError> {
    match need {
        Need::Read => Ok(caller),
        Need::Role(r) if caller.role == r => Ok(caller),
        Need::Role(r) => Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "this needs the `{}` role; the token of `{}` has `{}`",
                r.as_str(),
                caller.name,
                caller.role.as_str()
            ),
            needed: Some(r),
        }),
    }
}

/// The bearer token's holder, if it may do what `need` says.
pub(crate) fn authorize(app: &App, headers: &HeaderMap, need: Need) -> Result<Caller, ApiError> {
    let caller = session::bearer(headers, &app.settings.tokens).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "send `Authorization: Bearer TOKEN` with a token configured in [[api.token]]",
        )
    })?;
    allow(caller, need)
}

/// Runs a store call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request's worker failed: {e}"),
        ))
    })
}

pub(crate) fn parse_id(s: &str) -> Result<IncidentId, ApiError> {
    s.parse::<IncidentId>()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))
}

/// A JSON body, or the default when the body is empty.
pub(crate) fn body<T: serde::de::DeserializeOwned + Default>(b: &Bytes) -> Result<T, ApiError> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(b).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not the JSON this route takes ({e}); /api/openapi.json shows it"),
        )
    })
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Prometheus text. No token: it holds counts and source and rule names,
/// nothing about people, and scrapers rarely carry secrets; the API listens
/// on loopback unless TLS is set.
async fn metrics(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let a = app.clone();
    let incidents = blocking(move || {
        let store = lock(&a.incidents)?;
        let list = store.list(&ListFilter::default())?;
        let mut counts: Vec<(String, String, u64)> = Vec::new();
        for i in &list {
            let key = (
                i.severity.as_str().to_string(),
                i.status.as_str().to_string(),
            );
            match counts
                .iter_mut()
                .find(|(s, t, _)| (s, t) == (&key.0, &key.1))
            {
                Some(c) => c.2 += 1,
                None => counts.push((key.0, key.1, 1)),
            }
        }
        Ok((counts, super::drafts::outbox_depth(&a)?))
    })
    .await?;
    let text = app.metrics.render(&incidents.0, Some(incidents.1));
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

pub(crate) fn lock<T: ?Sized>(
    m: &std::sync::Mutex<Box<T>>,
) -> Result<std::sync::MutexGuard<'_, Box<T>>, ApiError> {
    m.lock().map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a previous request failed while holding the store; restart breachd",
        )
    })
}

/// What comes next for an incident: its earliest live step, and its
/// earliest legal deadline (a `deadline` step), each with its name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Next {
    pub step: Option<(jiff::Timestamp, String)>,
    pub deadline: Option<(jiff::Timestamp, String)>,
}

fn due_json(d: &Option<(jiff::Timestamp, String)>) -> Value {
    match d {
        Some((at, step)) => json!({ "at": at.to_string(), "step": step }),
        None => Value::Null,
    }
}

/// An incident as the API shows it: the stored fields, the ENISA
/// assessment, the next step due and the next legal deadline.
pub(crate) fn incident_json(i: &Incident, next: &Next) -> Value {
    let mut v = serde_json::to_value(i).unwrap_or_default();
    v["enisa"] = serde_json::to_value(i.assessment()).unwrap_or_default();
    v["next_due"] = due_json(&next.step);
    v["next_deadline"] = due_json(&next.deadline);
    v
}

/// The earliest live step and the earliest live `deadline` step of an
/// incident (a step is a deadline when the current playbook of its regime
/// says so).
pub(crate) fn next_due(
    playbooks: &[crate::playbook::Playbook],
    schedule: &dyn crate::playbook::schedule::ScheduleStore,
    id: IncidentId,
) -> Result<Next, StoreError> {
    let is_deadline = |regime: &str, step: &str| {
        playbooks
            .iter()
            .filter(|p| p.regime == regime)
            .flat_map(|p| p.steps.iter())
            .any(|s| s.id == step && matches!(s.action, crate::playbook::Action::Deadline { .. }))
    };
    let mut next = Next::default();
    for s in schedule.steps(Some(id), true)? {
        let Some(t) = s.due_at else { continue };
        let named = (t, format!("{} {}", s.regime, s.step));
        if next.step.as_ref().is_none_or(|(x, _)| t < *x) {
            next.step = Some(named.clone());
        }
        if is_deadline(&s.regime, &s.step) && next.deadline.as_ref().is_none_or(|(x, _)| t < *x) {
            next.deadline = Some(named);
        }
    }
    Ok(next)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    all: bool,
    /// Comma-separated statuses.
    #[serde(default)]
    status: Option<String>,
}

/// An incident and what comes next for it.
pub(crate) type Listed = (Incident, Next);

/// Active incidents (or all, or some statuses), each with its next step due.
pub(crate) fn list_incidents(
    app: &App,
    all: bool,
    status: Option<&str>,
) -> Result<Vec<Listed>, ApiError> {
    let mut statuses = Vec::new();
    for s in status
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
    {
        statuses.push(Status::from_name(&s.replace('-', "_")).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown status `{s}`; use open, acknowledged, contained, resolved, false_positive"),
            )
        })?);
    }
    let list = lock(&app.incidents)?.list(&ListFilter {
        statuses,
        all,
        ..ListFilter::default()
    })?;
    let schedule = lock(&app.schedule)?;
    let mut out = Vec::with_capacity(list.len());
    for i in list {
        let next = next_due(&app.playbooks, &**schedule, i.id)?;
        out.push((i, next));
    }
    Ok(out)
}

async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers, Need::Read)?;
    let rows = blocking(move || list_incidents(&app, q.all, q.status.as_deref())).await?;
    Ok(Json(Value::Array(
        rows.into_iter()
            .map(|(i, n)| incident_json(&i, &n))
            .collect(),
    )))
}

async fn show(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers, Need::Read)?;
    let id = parse_id(&id)?;
    let v = blocking(move || {
        let store = lock(&app.incidents)?;
        let d = store.get(id)?;
        let trail = store.audit(Some(id))?;
        drop(store);
        let next = next_due(&app.playbooks, &**lock(&app.schedule)?, id)?;
        let mut v = serde_json::to_value(&d).unwrap_or_default();
        let head = incident_json(&d.incident, &next);
        v["enisa"] = head["enisa"].clone();
        v["next_due"] = head["next_due"].clone();
        v["next_deadline"] = head["next_deadline"].clone();
        v["audit"] = serde_json::to_value(&trail).unwrap_or_default();
        Ok(v)
    })
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    #[serde(default)]
    text: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    #[serde(default)]
    to: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeverityBody {
    dpc: Option<f64>,
    ei: Option<f64>,
    cb: Option<f64>,
    #[serde(default)]
    reason: String,
}

/// Checks a change's input as the CLI does, then applies it through the
/// store (which checks the status move and writes the audit entry).
pub(crate) fn apply(
    app: &App,
    caller: &Caller,
    id: IncidentId,
    change: Change,
) -> Result<Value, ApiError> {
    match &change {
        Change::Note(t) if t.trim().is_empty() => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the note is empty; give `text`",
            ))
        }
        Change::Assign(to) if to.trim().is_empty() => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "give `to`: the person to assign",
            ))
        }
        Change::Status {
            to: Status::FalsePositive,
            reason,
        } if reason.as_deref().is_none_or(|r| r.trim().is_empty()) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "a false positive needs a `reason`",
            ))
        }
        Change::Enisa { overrides, reason } => {
            if *overrides == Overrides::default() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "give at least one of dpc, ei, cb",
                ));
            }
            if reason.trim().is_empty() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "an override needs a `reason`",
                ));
            }
            overrides
                .check()
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
        }
        _ => {}
    }
    let mut store = lock(&app.incidents)?;
    let changed = store.change(id, &change, &caller.name, &app.policy)?;
    let status = store.get(id)?.incident.status;
    tracing::info!(incident_id = %id, actor = %caller.name, role = caller.role.as_str(), changed, "incident changed through the API");
    Ok(
        json!({ "ok": true, "incident": id.to_string(), "changed": changed, "status": status.as_str() }),
    )
}

async fn act(
    app: Arc<App>,
    headers: HeaderMap,
    id: String,
    need: Role,
    change: Result<Change, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&app, &headers, Need::Role(need))?;
    let id = parse_id(&id)?;
    let change = change?;
    Ok(Json(
        blocking(move || apply(&app, &caller, id, change)).await?,
    ))
}

/// An on-call status action (ack, contain, resolve, false-positive): one
/// handler, the status it moves to fixed per route.
fn status_route(to: Status) -> MethodRouter<Arc<App>> {
    post(
        move |State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            act(app, headers, id, Role::Oncall, status_change(to, &b)).await
        },
    )
}

fn status_change(to: Status, b: &Bytes) -> Result<Change, ApiError> {
    let r: Reason = body(b)?;
    Ok(Change::Status {
        to,
        reason: r.reason,
    })
}

async fn note(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: Bytes,
) -> Result<Json<Value>, ApiError> {
    let change = body::<NoteBody>(&b).map(|n| Change::Note(n.text));
    act(app, headers, id, Role::Oncall, change).await
}

async fn assign(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: Bytes,
) -> Result<Json<Value>, ApiError> {
    let change = body::<AssignBody>(&b).map(|a| Change::Assign(a.to));
    act(app, headers, id, Role::Oncall, change).await
}

async fn severity(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: Bytes,
) -> Result<Json<Value>, ApiError> {
    let change = body::<SeverityBody>(&b).map(|s| Change::Enisa {
        overrides: Overrides {
            dpc: s.dpc,
            ei: s.ei,
            cb: s.cb,
        },
        reason: s.reason,
    });
    act(app, headers, id, Role::Legal, change).await
}

/// Plans, planned steps (with seconds left), firings and recorded deadlines
/// of one incident: what `breachd incident timeline --json` reads.
pub(crate) fn timeline_of(
    app: &App,
    id: IncidentId,
    now: jiff::Timestamp,
) -> Result<Value, ApiError> {
    lock(&app.incidents)?.get(id)?;
    let s = lock(&app.schedule)?;
    let steps: Vec<Value> = s
        .steps(Some(id), false)?
        .into_iter()
        .map(|st| {
            let live = matches!(
                st.state,
                crate::playbook::schedule::StepState::Pending
                    | crate::playbook::schedule::StepState::Waiting
            );
            json!({
                "regime": st.regime,
                "step": st.step,
                "state": st.state.as_str(),
                "recurring": st.recurring,
                "due_at": st.due_at.map(|t| t.to_string()),
                "left_secs": st.due_at.filter(|_| live).map(|t| t.as_second() - now.as_second()),
                "fired": st.fired,
                "last_fired_at": st.last_fired_at.map(|t| t.to_string()),
                "note": st.note,
            })
        })
        .collect();
    Ok(json!({
        "incident": id.to_string(),
        "now": now.to_string(),
        "plans": serde_json::to_value(s.plans(Some(id))?).unwrap_or_default(),
        "steps": steps,
        "firings": serde_json::to_value(s.firings(Some(id))?).unwrap_or_default(),
        "deadlines": serde_json::to_value(s.deadlines(id)?).unwrap_or_default(),
    }))
}

async fn timeline(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers, Need::Read)?;
    let id = parse_id(&id)?;
    let now = crate::cli::now();
    Ok(Json(blocking(move || timeline_of(&app, id, now)).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    #[serde(default)]
    incident: Option<String>,
}

async fn audit(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers, Need::Read)?;
    let id = q.incident.as_deref().map(parse_id).transpose()?;
    let trail = blocking(move || Ok(lock(&app.incidents)?.audit(id)?)).await?;
    Ok(Json(serde_json::to_value(trail).unwrap_or_default()))
}

async fn audit_verify(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers, Need::Read)?;
    let v = blocking(move || Ok(lock(&app.incidents)?.verify_audit()?)).await?;
    Ok(Json(serde_json::to_value(v).unwrap_or_default()))
}

/// The SIGHUP path: the daemon's loop reloads on its next turn.
async fn reload(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = authorize(&app, &headers, Need::Role(Role::Admin))?;
    tracing::info!(actor = %caller.name, "reload asked through the API");
    app.control.request_reload();
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({ "ok": true, "message": "reload requested; breachd's log and breachd_reloads_total say how it went" }),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OpenAPI document lists exactly the routed paths and methods.
    #[test]
    fn openapi_document_matches_the_router() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for method in ops.as_object().expect("operations").keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    documented.push((method.clone(), path.clone()));
                }
            }
        }
        let mut routed: Vec<(String, String)> = route_table()
            .into_iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        documented.sort();
        routed.sort();
        let missing: Vec<_> = routed.iter().filter(|r| !documented.contains(r)).collect();
        let stale: Vec<_> = documented.iter().filter(|d| !routed.contains(d)).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "openapi.json drifted from the router: undocumented {missing:?}, documented but not routed {stale:?}"
        );
    }

    #[test]
    fn a_wrong_role_is_told_which_role_is_needed() {
        let ann = Caller {
            name: "ann".into(),
            role: Role::Oncall,
        };
        let e = allow(ann.clone(), Need::Role(Role::Legal)).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.message.contains("`legal` role"), "{}", e.message);
        assert!(allow(ann.clone(), Need::Read).is_ok());
        assert!(allow(ann, Need::Role(Role::Oncall)).is_ok());
    }
}
