//! Per-subject notices: one approved data-subject draft becomes one message
//! per affected data subject, in the subject's language, through the outbox,
//! at `[notify.subjects] rate`.
//!
//! A campaign belongs to one draft. [`start`] records the affected subject
//! ids in the store (so a resume needs nothing but the draft id) and is
//! audited; [`enqueue`] resolves waiting ids through the [`Directory`] in
//! batches and inserts one outbox row per subject under the idempotency key
//! `draft:<draft>:subject:<id>` — each batch, with the subjects it marks
//! queued or unknown, in one transaction, so a crash loses no subject and a
//! re-run enqueues no second row. [`deliver`] then sends the campaign's due
//! rows one at a time: claim (a lease, up to 16 rows in one transaction),
//! send, mark sent (one transaction per row).
//!
//! The rate lives in the data: enqueued rows are due one `1/rate` apart
//! (virtual scheduling, the token bucket of burst one), re-spaced from
//! `now` on every resume, so whichever process delivers them — this
//! command or the daemon's delivery pass — sends at the rate, and the
//! sender sleeps until the next due time instead of polling.
//!
//! Exactly once, except in flight: a row is claimed (committed) before its
//! send and marked sent (committed) after. A sender killed after the mail
//! server accepted a message and before the mark commits leaves that row
//! claimed; when its lease runs out it is sent again, with the same
//! Message-ID. One row is sent at a time and marked sent on its own, so
//! each crash can duplicate at most one notice; rows claimed but not yet
//! sent were never delivered and simply wait for their lease.
//!
//! Where the subject ids come from: the store keeps an incident's subject
//! *count* (the detector hashes ids and the alert line carries a number), so
//! the ids are the investigation's list, handed to the first `send`
//! (`--subjects FILE`, one id per line) — e.g. from `breachd replay
//! --output events` filtered to the attacker: the `subjects` its requests
//! returned, or the ids in their `resource`.
//!
//! Never: send a row without an approved draft (the outbox refuses to
//! enqueue it and to claim it), or decide who is affected.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::directory::{Directory, DirectoryError, SubjectContact, SubjectsSpec};
use super::draft::{Draft, DraftStore};
use super::outbox::{Kind, Message, NewMessage, OutboxStore};
use super::{Channel, Locale, Notice, Notification, SendError};
use crate::incident::{IncidentId, IncidentStore, StoreError};

/// How many subjects one enqueue transaction resolves and inserts.
pub const BATCH: usize = 200;

/// How many due rows one claim takes. Rows are sent one at a time and each
/// is marked sent on its own, so this widens no duplicate window: a row
/// claimed but not sent when the sender dies was never delivered, and is
/// claimed again when its lease runs out.
const CLAIM: usize = 16;

/// The outbox idempotency key of draft `draft`'s notice to `subject`.
pub fn key(draft: i64, subject: &str) -> String {
    format!("draft:{draft}:subject:{subject}")
}

/// Subject ids from a list: one per line; blank lines and `#` comments are
/// skipped, surrounding spaces trimmed, repeats kept once.
pub fn read_ids(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| seen.insert(*l))
        .map(str::to_string)
        .collect()
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    pub draft: i64,
    pub incident: IncidentId,
    pub channel: String,
    pub started_at: Timestamp,
    pub started_by: String,
    /// Each language's approved draft (`{"en": 4, "zh-CN": 2}`).
    pub texts: serde_json::Value,
}

/// Where a campaign stands: its subjects by state, the outbox rows by
/// state, and the ids the directory did not know.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Progress {
    /// Subjects named for the campaign.
    pub total: u64,
    /// Named but not yet looked up and enqueued.
    pub waiting: u64,
    /// Rows in the outbox, by state.
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub dead: u64,
    /// Ids the directory gave no usable address for.
    pub unknown: u64,
    pub unknown_ids: Vec<String>,
    /// When the next pending row falls due (the sender sleeps until then).
    pub next_due: Option<Timestamp>,
}

impl Progress {
    /// Nothing left to send now or later (dead rows wait for a person).
    pub fn finished(&self) -> bool {
        self.waiting == 0 && self.pending == 0 && self.sending == 0
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// Campaigns in the store; one transaction per call.
pub trait CampaignStore: OutboxStore + DraftStore {
    /// Records the campaign of `draft` (once) and adds the ids not in it
    /// yet, audited as `actor` with `texts` (each language's draft). Returns the campaign and how many ids were new.
    fn start_campaign(
        &mut self,
        draft: &Draft,
        channel: &str,
        ids: &[String],
        texts: serde_json::Value,
        actor: &str,
        now: Timestamp,
    ) -> Result<(Campaign, u64)>;
    fn campaign(&self, draft: i64) -> Result<Option<Campaign>>;
    /// Up to `limit` ids of the campaign not enqueued yet (waiting, or
    /// unknown at the last look-up), after `after` in id order.
    fn unqueued(&self, draft: i64, after: Option<&str>, limit: usize) -> Result<Vec<String>>;
    /// Inserts one outbox row per message (keys already there are kept as
    /// they are) and marks their subjects queued and `unknown` ones
    /// unknown, in one transaction. Returns how many rows were new.
    fn enqueue_batch(
        &mut self,
        draft: i64,
        messages: &[(String, NewMessage)],
        unknown: &[String],
        now: Timestamp,
    ) -> Result<u64>;
    /// Makes the campaign's never-tried pending rows due one `interval`
    /// apart, the first at `from`.
    fn pace(&mut self, draft: i64, from: Timestamp, interval: Duration) -> Result<()>;
    /// Claims up to `limit` of the campaign's due rows (pending and due, or
    /// sending with their lease run out), due order, until `now + lease`.
    fn claim_campaign(
        &mut self,
        draft: i64,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Message>>;
    fn progress(&self, draft: i64) -> Result<Progress>;
}

/// Why a campaign cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// A refusal a person can act on (exit 1).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// The approved data-subject draft `id`, or a refusal that says what to do.
pub fn approved_draft(
    store: &dyn CampaignStore,
    id: i64,
) -> std::result::Result<Draft, CampaignError> {
    let refused = |m: String| CampaignError::Refused(m);
    let d = store
        .draft(id)?
        .ok_or_else(|| refused(format!("no draft {id}; `breachd draft list` shows them")))?;
    if d.recipient != "data_subjects" {
        return Err(refused(format!(
            "draft {id} is a notice to {}, not to data subjects; per-subject notices come from a data_subjects draft",
            d.recipient
        )));
    }
    if d.approved_by.is_none() || !(d.status == "approved" || d.status == "sent") {
        return Err(refused(format!(
            "draft {id} is {} and nobody approved it; nothing is sent to data subjects without an approval: `breachd draft approve {id} --reason ...`",
            d.status
        )));
    }
    if d.body.is_none() || d.subject.is_none() {
        return Err(refused(format!("draft {id} has no text")));
    }
    Ok(d)
}

/// The notice text for each language: each an approved data-subject draft
/// of the incident (the campaign's draft first). A subject whose language no
/// draft is in gets the campaign draft's text: breachd never renders a text
/// nobody approved.
pub struct Texts {
    primary: Draft,
    status: super::Status,
    band: crate::playbook::severity::Band,
    /// Language → (subject line, text, the draft they come from).
    by_locale: BTreeMap<Locale, (String, String, i64)>,
    /// Subjects who got the campaign draft's text, not their own language.
    pub fallbacks: u64,
}

impl Texts {
    /// `drafts` are approved (see [`approved_draft`]); the first is the
    /// campaign's. Refused when they belong to different incidents or two
    /// are in one language.
    pub fn new(
        drafts: &[Draft],
        incident: &crate::incident::Incident,
        settings: &super::config::Settings,
        now: Timestamp,
    ) -> std::result::Result<Texts, CampaignError> {
        let primary = drafts.first().ok_or_else(|| {
            CampaignError::Refused("name the approved draft with --draft ID".into())
        })?;
        let mut by_locale = BTreeMap::new();
        for d in drafts {
            if d.incident != primary.incident {
                return Err(CampaignError::Refused(format!(
                    "draft {} is for {}, draft {} for {}: one campaign sends one incident's notice",
                    d.id, d.incident, primary.id, primary.incident
                )));
            }
            let locale = d
                .locale
                .as_deref()
                .and_then(Locale::parse)
                .unwrap_or(Locale::En);
            let text = (
                d.subject.clone().unwrap_or_default(),
                d.body.clone().unwrap_or_default(),
                d.id,
            );
            if let Some((_, _, other)) = by_locale.insert(locale, text) {
                return Err(CampaignError::Refused(format!(
                    "drafts {other} and {} are both in {}; name one draft per language",
                    d.id,
                    locale.tag()
                )));
            }
        }
        let facts = Notice::of_incident(
            incident,
            &settings.organisation,
            &settings.dpo,
            Locale::En,
            now,
        );
        Ok(Texts {
            primary: primary.clone(),
            status: facts.status,
            band: facts.severity.band,
            by_locale,
            fallbacks: 0,
        })
    }

    /// Each language's draft, for the audit.
    pub fn drafts(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .by_locale
            .iter()
            .map(|(l, (_, _, id))| (l.tag().to_string(), (*id).into()))
            .collect();
        map.into()
    }

    /// The message to one subject.
    pub fn message(&mut self, c: &SubjectContact, channel: &str) -> NewMessage {
        let primary_locale = self
            .primary
            .locale
            .as_deref()
            .and_then(Locale::parse)
            .unwrap_or(Locale::En);
        let locale = if self.by_locale.contains_key(&c.locale) {
            c.locale
        } else {
            self.fallbacks += 1;
            primary_locale
        };
        let (subject, body, text_draft) = self.by_locale[&locale].clone();
        let d = &self.primary;
        NewMessage {
            incident: Some(d.incident),
            channel: channel.to_string(),
            kind: Kind::Subject,
            notification: Notification {
                key: key(d.id, &c.id),
                incident_id: d.incident.to_string(),
                template: d.template.clone(),
                locale,
                status: self.status,
                band: self.band,
                summary: subject.clone(),
                subject,
                body,
                slack: None,
                to: vec![c.email.clone()],
                details: serde_json::json!({
                    "incident_id": d.incident.to_string(),
                    "draft": d.id,
                    "text_draft": text_draft,
                    "recipient": "data_subjects",
                }),
            },
            draft: Some(d.id),
            firing: None,
        }
    }
}

/// What one enqueue run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub queued: u64,
    pub unknown: u64,
    pub batches: u64,
    /// Subjects who got the approved text, not their own language.
    pub locale_fallbacks: u64,
    /// Directory rows that could not be used (CSV: the whole file; SQLite:
    /// the rows looked up).
    pub bad_rows: u64,
}

/// Resolves every id of the campaign not enqueued yet, in batches of
/// [`BATCH`], and enqueues one row per subject the directory knows.
pub fn enqueue(
    store: &mut dyn CampaignStore,
    directory: &mut Directory,
    texts: &mut Texts,
    campaign: &Campaign,
    now: Timestamp,
) -> std::result::Result<Enqueued, CampaignError> {
    let mut done = Enqueued::default();
    let mut after: Option<String> = None;
    loop {
        let ids = store.unqueued(campaign.draft, after.as_deref(), BATCH)?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        let r = directory.resolve(&ids)?;
        let messages: Vec<(String, NewMessage)> = r
            .found
            .iter()
            .map(|c| (c.id.clone(), texts.message(c, &campaign.channel)))
            .collect();
        done.queued += store.enqueue_batch(campaign.draft, &messages, &r.unknown, now)?;
        done.unknown += r.unknown.len() as u64;
        done.batches += 1;
        tracing::info!(
            draft = campaign.draft,
            incident_id = %campaign.incident,
            batch = done.batches,
            queued = done.queued,
            unknown = done.unknown,
            "subject notices enqueued"
        );
        after = Some(last);
    }
    done.locale_fallbacks = texts.fallbacks;
    Ok(done)
}

/// What one delivery run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub sent: u64,
    pub retrying: u64,
    pub dead: u64,
}

/// Sends the campaign's rows as they fall due, one at a time, until none is
/// pending or the next is more than `patience` away (a retry's backoff:
/// the daemon or a later run sends it). `now` is the clock; the sender
/// sleeps until the next due time.
#[allow(clippy::too_many_arguments)]
pub fn deliver(
    store: &mut dyn CampaignStore,
    channel: &Channel,
    spec: &SubjectsSpec,
    timeout: Duration,
    backoff: &super::outbox::Backoff,
    campaign: &Campaign,
    patience: Duration,
    now: &dyn Fn() -> Timestamp,
) -> std::result::Result<(Delivered, Progress), CampaignError> {
    // A claim outlives any send the channel allows, so no other process
    // claims a row while it is being sent.
    let lease = timeout * 2 + Duration::from_secs(5);
    let mut done = Delivered::default();
    let mut last_report = std::time::Instant::now();
    loop {
        let t = now();
        let batch = store.claim_campaign(campaign.draft, t, lease, CLAIM)?;
        if !batch.is_empty() {
            for m in batch {
                match channel.send(&m.notification) {
                    Ok(r) => {
                        store.mark_sent(m.id, &r.detail, now())?;
                        done.sent += 1;
                    }
                    Err(e) => failed(store, &m, &e, backoff, now(), &mut done)?,
                }
            }
            if last_report.elapsed() >= Duration::from_secs(2) {
                last_report = std::time::Instant::now();
                let p = store.progress(campaign.draft)?;
                log_progress(campaign, &p, spec.rate);
            }
            continue;
        }
        let p = store.progress(campaign.draft)?;
        let next = match p.next_due {
            Some(n) if !p.finished() => n,
            _ => return Ok((done, p)),
        };
        let wait = t.duration_until(next).unsigned_abs();
        if next > t && wait > patience {
            return Ok((done, p));
        }
        // Nothing was claimable although a row is due (another process
        // claimed it in between): look again shortly rather than spin.
        let pause = if next > t {
            wait.min(Duration::from_secs(1))
        } else {
            Duration::from_millis(50)
        };
        std::thread::sleep(pause);
    }
}

fn failed(
    store: &mut dyn CampaignStore,
    m: &Message,
    e: &SendError,
    backoff: &super::outbox::Backoff,
    now: Timestamp,
    done: &mut Delivered,
) -> std::result::Result<(), CampaignError> {
    let retry_at = if e.is_transient() {
        backoff.next(m.attempts, now)
    } else {
        None
    };
    match store.mark_failed(m.id, &e.to_string(), retry_at, now)? {
        super::outbox::State::Dead => {
            done.dead += 1;
            tracing::error!(outbox = m.id, key = %m.key, attempts = m.attempts, error = %e, "subject notice dead: `breachd notify list --state dead` shows it, `breachd notify retry ID` sends it again");
        }
        _ => done.retrying += 1,
    }
    Ok(())
}

/// One progress event, with the numbers an operator graphs.
pub fn log_progress(c: &Campaign, p: &Progress, rate: f64) {
    tracing::info!(
        draft = c.draft,
        incident_id = %c.incident,
        total = p.total,
        sent = p.sent,
        pending = p.pending + p.sending + p.waiting,
        dead = p.dead,
        unknown = p.unknown,
        rate,
        "subject notices progress"
    );
}

/// Starts (or resumes) the campaign of draft `draft_id`: checks the
/// approval, records any new ids, enqueues what is not enqueued, and
/// re-spaces the pending rows from `now` at the configured rate.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    store: &mut dyn CampaignStore,
    incidents: &dyn IncidentStore,
    settings: &super::config::Settings,
    draft_ids: &[i64],
    ids: Option<&[String]>,
    actor: &str,
    now: Timestamp,
) -> std::result::Result<(Campaign, Enqueued), CampaignError> {
    let spec = settings.subjects.as_ref().ok_or_else(|| {
        CampaignError::Refused(
            "no [notify.subjects] in the config: name the subject directory (kind, path) and the channel"
                .into(),
        )
    })?;
    // A resume that names only the campaign's draft keeps the languages
    // the campaign started with.
    let mut draft_ids = draft_ids.to_vec();
    if let (1, Some(c)) = (draft_ids.len(), store.campaign(draft_ids[0])?) {
        draft_ids.extend(
            c.texts
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
                .filter_map(|v| v.as_i64())
                .filter(|id| *id != c.draft),
        );
    }
    let drafts = draft_ids
        .iter()
        .map(|id| approved_draft(store, *id))
        .collect::<std::result::Result<Vec<Draft>, CampaignError>>()?;
    let draft = drafts
        .first()
        .ok_or_else(|| CampaignError::Refused("name the approved draft with --draft ID".into()))?
        .clone();
    let draft_id = draft.id;
    // Everything that can refuse is checked before the campaign is recorded.
    let mut directory = Directory::open(spec)?;
    for b in directory.bad_rows().iter().take(20) {
        tracing::warn!(directory = %directory.path(), line = b.line, field = b.field, reason = %b.reason, "subject directory row skipped");
    }
    let detail = incidents.get(draft.incident)?;
    // Without a list from the person, the subjects are those whose ids the
    // incident's alerts exposed (stored with the incident).
    let stored: Vec<String>;
    let ids = match ids {
        Some(ids) => Some(ids),
        None => {
            stored = incidents
                .subject_ids(draft.incident)?
                .into_iter()
                .map(|s| s.subject)
                .collect();
            if detail.subject_ids_incomplete && !stored.is_empty() {
                tracing::warn!(
                    incident = %draft.incident,
                    stored = stored.len(),
                    estimate = detail.incident.subjects,
                    "the incident's stored subject ids are incomplete: more subjects were exposed; name the rest with --subjects FILE"
                );
            }
            (!stored.is_empty()).then_some(stored.as_slice())
        }
    };
    let incident = detail.incident;
    let mut texts = Texts::new(&drafts, &incident, settings, now)?;
    let campaign = match (store.campaign(draft_id)?, ids) {
        (_, Some(ids)) => {
            store
                .start_campaign(&draft, &spec.channel, ids, texts.drafts(), actor, now)?
                .0
        }
        (Some(c), None) => c,
        (None, None) => {
            return Err(CampaignError::Refused(format!(
                "draft {draft_id} has no campaign yet and incident {} has no stored subject ids (the logs named none): name the affected subjects with --subjects FILE (one id per line)",
                draft.incident
            )))
        }
    };
    let mut e = enqueue(store, &mut directory, &mut texts, &campaign, now)?;
    e.bad_rows = directory.bad_rows().len() as u64;
    store.pace(draft_id, now, Duration::from_secs_f64(1.0 / spec.rate))?;
    Ok((campaign, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_lists_skip_blanks_comments_and_repeats() {
        let ids = read_ids("# affected, from the investigation\n c-1 \n\nc-2\r\nc-1\n#c-3\n");
        assert_eq!(ids, ["c-1", "c-2"]);
    }

    #[test]
    fn a_subject_notice_key_names_the_draft_and_the_subject() {
        assert_eq!(key(7, "c-19"), "draft:7:subject:c-19");
    }
}
