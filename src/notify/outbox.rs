//! The outbox: every notification is a row in the store before it is a
//! send. A row has an idempotency key (unique: enqueueing the same key twice
//! keeps one row), a state (`pending` → `sending` → `sent`, or `dead`), its
//! attempts, when it may be tried next, and the last error.
//!
//! Delivery claims due rows in one transaction with a lease
//! ([`OutboxStore::claim_due`]): two processes never send one row at once,
//! and a row whose sender crashed is claimed again once its lease ran out.
//! A failed send is retried with exponential backoff and jitter
//! ([`Backoff`]) until `[notify] max_attempts`, then the row is `dead`:
//! visible in `breachd notify list`, never dropped, and a person can retry
//! it (`breachd notify retry ID`, audited).
//!
//! Approval is enforced here, in the store call that enqueues: a message of
//! kind [`Kind::Regulator`] or [`Kind::Subject`] is refused unless it names
//! a draft a person approved; claiming checks the approval again.
//!
//! Delivery guarantee: at least once, with a dedup id per channel (the
//! idempotency key: SMTP Message-ID, webhook `Idempotency-Key` header,
//! PagerDuty `dedup_key` = incident, file name). A duplicate can still reach
//! a receiver when breachd crashes (or its store refuses the write) after
//! the receiver accepted a message and before the row is marked `sent`, or
//! when a send outlives its lease (a channel timeout longer than the lease);
//! the retry then carries the same key, which receivers that honour it drop.
//! Slack has no dedup id: a Slack duplicate is shown twice.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::{Locale, Notification, Status};
use crate::incident::{IncidentId, StoreError};
use crate::playbook::severity::Band;

/// Who a message is for, which decides whether it needs an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// People inside: on-call pages, escalations, status updates. Sent at once.
    Oncall,
    /// A supervisory authority or other outside body (attorney general,
    /// HHS, media, the public, the controller). Needs an approved draft.
    Regulator,
    /// Data subjects. Needs an approved draft.
    Subject,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Oncall, Kind::Regulator, Kind::Subject];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Oncall => "oncall",
            Kind::Regulator => "regulator",
            Kind::Subject => "subject",
        }
    }

    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether nothing of this kind may leave without a person's approval.
    pub fn needs_approval(self) -> bool {
        matches!(self, Kind::Regulator | Kind::Subject)
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a sender, until its lease runs out.
    Sending,
    Sent,
    /// Gave up after `max_attempts` (or a permanent failure); a person retries it.
    Dead,
}

impl State {
    pub const ALL: [State; 4] = [State::Pending, State::Sending, State::Sent, State::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Dead => "dead",
        }
    }

    pub fn from_name(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub incident: Option<IncidentId>,
    /// The `[[notify.channel]]` name it goes through.
    pub channel: String,
    pub kind: Kind,
    /// The rendered notification; its `key` is the row's idempotency key.
    pub notification: Notification,
    /// The approved draft it comes from (required for regulator and subject
    /// messages).
    pub draft: Option<i64>,
    /// The playbook firing that asked for it, if any.
    pub firing: Option<i64>,
}

/// A row of the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub id: i64,
    pub key: String,
    pub incident: Option<IncidentId>,
    pub channel: String,
    pub kind: Kind,
    pub state: State,
    pub attempts: u32,
    /// When it may be tried next (pending), or when its lease ends (sending).
    pub next_attempt: Timestamp,
    pub last_error: Option<String>,
    /// What the receiver gave back (Message-ID, HTTP status, file).
    pub receipt: Option<String>,
    pub draft: Option<i64>,
    pub firing: Option<i64>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    #[serde(skip)]
    pub notification: Notification,
}

/// Which rows to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<State>,
    pub incident: Option<IncidentId>,
    pub channel: Option<String>,
}

/// Retry policy: the delay after attempt `n` (1-based) is `base · 2^(n-1)`,
/// capped at `max`, then jittered into `[delay/2, delay]` so many rows that
/// failed together do not retry together; after `max_attempts` the row is
/// dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(5),
            max: Duration::from_secs(3600),
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// The wait after `attempts` failed attempts, with `jitter` in `[0, 1)`.
    pub fn delay(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << exp).min(self.max);
        let jitter = jitter.clamp(0.0, 1.0);
        full.mul_f64(0.5 + 0.5 * jitter)
    }

    /// When to try again after `attempts`, or `None`: give up (dead).
    pub fn next(&self, attempts: u32, now: Timestamp) -> Option<Timestamp> {
        if attempts >= self.max_attempts {
            return None;
        }
        let d = self.delay(attempts, random_unit());
        let span = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
        Some(now.checked_add(span).unwrap_or(Timestamp::MAX))
    }
}

/// A number in `[0, 1)` from the process's hash seed and a counter: enough
/// to spread retries, without a random-number dependency.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Errors of the outbox are the store's.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The outbox in the store. One transaction per call; the SQLite backend
/// implements it beside the incident and schedule stores.
pub trait OutboxStore: Send {
    /// Adds a message unless its key is already there (`None` then: the
    /// first one stands). Refused for regulator and subject messages that do
    /// not name an approved draft of the same incident.
    fn enqueue(&mut self, m: &NewMessage, now: Timestamp) -> Result<Option<i64>>;
    /// Claims up to `limit` due messages (pending and due, or sending with
    /// an expired lease), oldest due first: each is marked `sending` until
    /// `now + lease` and its attempts are counted. Messages that need an
    /// approval and lack one are never claimed.
    fn claim_due(&mut self, now: Timestamp, lease: Duration, limit: usize) -> Result<Vec<Message>>;
    /// Records a delivery (audited on the incident); a draft whose messages
    /// are all sent becomes `sent`.
    fn mark_sent(&mut self, id: i64, receipt: &str, now: Timestamp) -> Result<()>;
    /// Records a failed attempt: back to `pending` until `retry_at`, or
    /// `dead` when `retry_at` is `None` (audited).
    fn mark_failed(
        &mut self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<State>;
    /// Messages, oldest first.
    fn messages(&self, filter: &Filter) -> Result<Vec<Message>>;
    /// One message.
    fn message(&self, id: i64) -> Result<Option<Message>>;
    /// A person puts a dead (or pending) message back to be sent now, with
    /// its attempts reset; audited with `actor`.
    fn retry(&mut self, id: i64, actor: &str, now: Timestamp) -> Result<()>;
    /// Counts per state, for metrics and `notify list`.
    fn counts(&self) -> Result<Vec<(State, u64)>>;
}

/// The notification as stored in the outbox (JSON).
#[derive(Debug, Serialize, serde::Deserialize)]
struct Stored {
    key: String,
    incident_id: String,
    template: String,
    locale: String,
    status: String,
    band: String,
    subject: String,
    body: String,
    slack: Option<String>,
    summary: String,
    to: Vec<String>,
    details: serde_json::Value,
}

/// The notification as the outbox keeps it.
pub fn to_json(n: &Notification) -> String {
    serde_json::to_string(&Stored {
        key: n.key.clone(),
        incident_id: n.incident_id.clone(),
        template: n.template.clone(),
        locale: n.locale.tag().into(),
        status: n.status.as_str().into(),
        band: n.band.as_str().into(),
        subject: n.subject.clone(),
        body: n.body.clone(),
        slack: n.slack.clone(),
        summary: n.summary.clone(),
        to: n.to.clone(),
        details: n.details.clone(),
    })
    .unwrap_or_default()
}

/// Reads back what [`to_json`] wrote.
pub fn from_json(s: &str) -> std::result::Result<Notification, String> {
    let v: Stored = serde_json::from_str(s).map_err(|e| e.to_string())?;
    Ok(Notification {
        key: v.key,
        incident_id: v.incident_id,
        template: v.template,
        locale: Locale::parse(&v.locale).unwrap_or(Locale::En),
        status: Status::from_name(&v.status).unwrap_or(Status::Open),
        band: [Band::Low, Band::Medium, Band::High, Band::VeryHigh]
            .into_iter()
            .find(|b| b.as_str() == v.band)
            .unwrap_or(Band::High),
        subject: v.subject,
        body: v.body,
        slack: v.slack,
        summary: v.summary,
        to: v.to,
        details: v.details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let b = Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
            max_attempts: 5,
        };
        let cases = [
            (1, 0.0, 1_000),
            (1, 1.0, 2_000),
            (2, 1.0, 4_000),
            (3, 0.5, 6_000),
            (6, 1.0, 60_000),
            (40, 1.0, 60_000),
        ];
        for (attempts, jitter, ms) in cases {
            assert_eq!(
                b.delay(attempts, jitter).as_millis(),
                ms,
                "attempts {attempts}, jitter {jitter}"
            );
        }
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let next = b.next(1, now).unwrap();
        assert!(next >= now + jiff::SignedDuration::from_secs(1));
        assert!(next <= now + jiff::SignedDuration::from_secs(2));
        assert_eq!(b.next(5, now), None, "the fifth failure is the last");
    }

    #[test]
    fn only_outside_recipients_need_an_approval() {
        assert!(!Kind::Oncall.needs_approval());
        assert!(Kind::Regulator.needs_approval());
        assert!(Kind::Subject.needs_approval());
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.as_str()), Some(k));
        }
    }

    #[test]
    fn a_notification_survives_the_outbox() {
        let t = super::super::Templates::shipped().unwrap();
        let n =
            Notification::alert(&t, &super::super::Notice::sample(Locale::ZhCn), "k/1").unwrap();
        assert_eq!(from_json(&to_json(&n)).unwrap(), n);
    }
}
