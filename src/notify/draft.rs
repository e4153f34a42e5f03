//! Drafts: notices to a regulator or to data subjects that wait for a
//! person with the legal role. A playbook `draft` step records the row (the
//! scheduler); breachd renders its text from the incident's facts with the
//! step's template, stores it and writes it to the drafts folder
//! ([`render_pending`]); a person edits and approves it ([`edit`],
//! [`approve`]), both audited; approving enqueues the notice to the
//! channels that serve its recipient, in the same transaction.
//!
//! Invariant: nothing addressed to a regulator or to data subjects leaves
//! without an approval — [`super::outbox::OutboxStore::enqueue`] refuses
//! such a message unless it names an approved draft, whoever calls it (this
//! CLI today, the HTTP API later).

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::config::Settings;
use super::outbox::{Kind, NewMessage};
use super::{Locale, Notice, Notification, Templates};
use crate::incident::{IncidentId, IncidentStore, StoreError};

/// A draft as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub id: i64,
    pub incident: IncidentId,
    pub regime: String,
    pub template: String,
    /// `supervisory_authority`, `data_subjects`, ...
    pub recipient: String,
    /// `pending_approval`, `approved` or `sent`.
    pub status: String,
    pub created_at: Timestamp,
    pub locale: Option<String>,
    pub subject: Option<String>,
    /// The text as it will be sent (a person's edit, or as rendered).
    pub body: Option<String>,
    /// The text as breachd rendered it.
    pub generated_body: Option<String>,
    /// The file in the drafts folder.
    pub path: Option<String>,
    pub edited_by: Option<String>,
    pub edited_at: Option<Timestamp>,
    pub approved_by: Option<String>,
    pub approved_at: Option<Timestamp>,
    pub approval_reason: Option<String>,
}

impl Draft {
    /// Who receives it, as an outbox kind.
    pub fn kind(&self) -> Kind {
        if self.recipient == "data_subjects" {
            Kind::Subject
        } else {
            Kind::Regulator
        }
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// Drafts in the store; one transaction per call.
pub trait DraftStore: Send {
    /// Drafts of one incident (or all), oldest first.
    fn drafts(&self, incident: Option<IncidentId>) -> Result<Vec<Draft>>;
    fn draft(&self, id: i64) -> Result<Option<Draft>>;
    /// Drafts a step recorded whose text is not rendered yet.
    fn unrendered_drafts(&self) -> Result<Vec<Draft>>;
    /// Stores the rendered text (once: a draft already rendered keeps its text).
    fn set_draft_text(
        &mut self,
        id: i64,
        locale: Locale,
        subject: &str,
        body: &str,
        path: Option<&str>,
    ) -> Result<()>;
    /// A person replaces the text of a draft still waiting for approval
    /// (audited with the hashes of both texts).
    fn edit_draft(&mut self, id: i64, body: &str, actor: &str, now: Timestamp) -> Result<()>;
    /// A person approves the draft whose text is `body` (refused if the
    /// text changed since it was read), audited with the reason; `messages`
    /// are enqueued in the same transaction. Returns the outbox ids.
    fn approve_draft(
        &mut self,
        id: i64,
        body: &str,
        actor: &str,
        reason: &str,
        messages: &[NewMessage],
        now: Timestamp,
    ) -> Result<Vec<i64>>;
}

/// The folder drafts are written to.
pub fn drafts_dir(settings: &Settings, data_dir: &Path) -> PathBuf {
    settings
        .drafts_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("drafts"))
}

/// The role whose channels receive a draft's notice once approved: the
/// recipient's own route (`supervisory_authority`, `data_subjects`, ...) if
/// `[notify.routes]` has one, else `regulator` (or `subjects` for data
/// subjects).
pub fn role_of(settings: &Settings, recipient: &str) -> String {
    if settings.routes.contains_key(recipient) {
        return recipient.to_string();
    }
    if recipient == "data_subjects" {
        "subjects".into()
    } else {
        "regulator".into()
    }
}

/// Renders every draft a step recorded and that has no text yet, from its
/// incident's facts, stores the text and writes it to `dir`. Returns how
/// many were rendered; a draft that cannot be rendered is logged and tried
/// again on the next pass.
pub fn render_pending(
    store: &mut dyn DraftStore,
    incidents: &dyn IncidentStore,
    templates: &Templates,
    settings: &Settings,
    dir: &Path,
    now: Timestamp,
) -> Result<usize> {
    let mut n = 0;
    for d in store.unrendered_drafts()? {
        let incident = incidents.get(d.incident)?.incident;
        let locale = locale_for(&d.template, settings.locale);
        let notice = Notice::of_incident(
            &incident,
            &settings.organisation,
            &settings.dpo,
            locale,
            now,
        );
        let r = match templates.render(&d.template, &notice) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(draft = d.id, incident_id = %d.incident, template = %d.template, error = %e, "cannot render a draft; fix the template (breachd check)");
                continue;
            }
        };
        let path = dir.join(format!("{}-{}-{}.txt", d.incident, d.template, d.id));
        let written = write_file(&path, &r.subject, &r.body)
            .inspect_err(|e| {
                tracing::error!(draft = d.id, path = %path.display(), error = %e, "cannot write the draft file; the text is in the store (breachd draft show)")
            })
            .ok()
            .map(|()| path.display().to_string());
        store.set_draft_text(d.id, locale, &r.subject, &r.body, written.as_deref())?;
        tracing::info!(draft = d.id, incident_id = %d.incident, template = %d.template, recipient = %d.recipient, "draft written; it waits for approval");
        n += 1;
    }
    Ok(n)
}

/// Chinese regimes' notices in Chinese, others in the on-call locale's
/// default of English (a person edits before approving).
fn locale_for(template: &str, fallback: Locale) -> Locale {
    if template.starts_with("pipl_") || template.starts_with("cn_") {
        Locale::ZhCn
    } else if fallback == Locale::ZhCn {
        Locale::En
    } else {
        fallback
    }
}

fn write_file(path: &Path, subject: &str, body: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("txt.tmp");
    std::fs::write(&tmp, format!("{subject}\n\n{body}"))?;
    std::fs::rename(&tmp, path)
}

/// Why a person's action on a draft was refused.
fn refused(msg: String) -> StoreError {
    StoreError::Refused(msg)
}

/// Checks that `actor` holds the legal role (`[incident] legal`; empty
/// means anyone).
pub fn check_legal(legal: &[String], actor: &str) -> Result<()> {
    if legal.is_empty() || legal.iter().any(|l| l == actor) {
        Ok(())
    } else {
        Err(refused(format!(
            "{actor} does not hold the legal role; [incident] legal lists: {}",
            legal.join(", ")
        )))
    }
}

/// A person with the legal role replaces a draft's text (audited); the file
/// in the drafts folder is rewritten.
pub fn edit(
    store: &mut dyn DraftStore,
    legal: &[String],
    id: i64,
    body: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Draft> {
    check_legal(legal, actor)?;
    if body.trim().is_empty() {
        return Err(refused("the new text is empty".into()));
    }
    store.edit_draft(id, body, actor, now)?;
    let d = store
        .draft(id)?
        .ok_or_else(|| refused(format!("no draft {id}")))?;
    if let (Some(p), Some(s)) = (&d.path, &d.subject) {
        if let Err(e) = write_file(Path::new(p), s, body) {
            tracing::warn!(draft = id, path = %p, error = %e, "cannot rewrite the draft file; the store has the edited text");
        }
    }
    Ok(d)
}

/// A person with the legal role approves a draft (audited with the reason):
/// its notice is enqueued to every channel serving its recipient, in the
/// same transaction. Returns the outbox ids (none when no channel serves the
/// recipient: the approval stands and is reported).
#[allow(clippy::too_many_arguments)]
pub fn approve(
    store: &mut dyn DraftStore,
    incidents: &dyn IncidentStore,
    settings: &Settings,
    legal: &[String],
    id: i64,
    actor: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Vec<i64>> {
    check_legal(legal, actor)?;
    if reason.trim().is_empty() {
        return Err(refused("give the reason for approving (--reason)".into()));
    }
    let d = store
        .draft(id)?
        .ok_or_else(|| refused(format!("no draft {id}; `breachd draft list` shows them")))?;
    if d.status != "pending_approval" {
        return Err(refused(format!("draft {id} is already {}", d.status)));
    }
    let (Some(body), Some(subject)) = (&d.body, &d.subject) else {
        return Err(refused(format!(
            "draft {id} has no text yet; the daemon (or `breachd schedule tick`) renders it"
        )));
    };
    let incident = incidents.get(d.incident)?.incident;
    let band = incident.assessment().band;
    let role = role_of(settings, &d.recipient);
    let locale = d
        .locale
        .as_deref()
        .and_then(Locale::parse)
        .unwrap_or(Locale::En);
    let messages: Vec<NewMessage> = settings
        .route(&role)
        .into_iter()
        .map(|spec| NewMessage {
            incident: Some(d.incident),
            channel: spec.name.clone(),
            kind: d.kind(),
            notification: Notification {
                key: format!("{}/draft/{}/{}", d.incident, d.id, spec.name),
                incident_id: d.incident.to_string(),
                template: d.template.clone(),
                locale,
                status: Notice::of_incident(
                    &incident,
                    &settings.organisation,
                    &settings.dpo,
                    locale,
                    now,
                )
                .status,
                band,
                subject: subject.clone(),
                body: body.clone(),
                slack: None,
                summary: subject.clone(),
                to: Vec::new(),
                details: serde_json::json!({
                    "incident_id": d.incident.to_string(),
                    "regime": d.regime,
                    "recipient": d.recipient,
                    "draft": d.id,
                }),
            },
            draft: Some(d.id),
            firing: None,
        })
        .collect();
    if messages.is_empty() {
        tracing::warn!(draft = id, role = %role, "approved, but no channel serves this recipient: add [notify.routes] {role} = [...]");
    }
    store.approve_draft(id, body, actor, reason, &messages, now)
}
