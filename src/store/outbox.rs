//! The SQLite side of [`OutboxStore`]: the `outbox` table (migration 3).
//! Each call is one `BEGIN IMMEDIATE` transaction, so a claim (state,
//! lease, attempt count) is atomic against other processes on the file.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::incidents::{append, ts, Fail, R};
use super::SqliteStore;
use crate::incident::{IncidentId, StoreError};
use crate::notify::draft::{Draft, DraftStore};
use crate::notify::outbox::{
    from_json, to_json, Filter, Kind, Message, NewMessage, OutboxStore, State,
};
use crate::notify::Locale;

type Result<T> = std::result::Result<T, StoreError>;

/// The actor of deliveries in the audit trail.
const ACTOR: &str = "breachd";

const COLS: &str = "id, key, incident, channel, kind, state, attempts, next_attempt_us, last_error,
    receipt, draft, firing, created_at, sent_at, notification";

fn us(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

fn from_us(v: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(v).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    let kind: String = r.get(4)?;
    let state: String = r.get(5)?;
    let sent: Option<String> = r.get(13)?;
    let json: String = r.get(14)?;
    let notification = from_json(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            14,
            rusqlite::types::Type::Text,
            format!("outbox notification: {e}").into(),
        )
    })?;
    Ok(Message {
        id: r.get(0)?,
        key: r.get(1)?,
        incident: r.get::<_, Option<i64>>(2)?.map(IncidentId),
        channel: r.get(3)?,
        kind: Kind::from_name(&kind).unwrap_or(Kind::Regulator),
        state: State::from_name(&state).unwrap_or(State::Dead),
        attempts: r.get(6)?,
        next_attempt: from_us(r.get(7)?),
        last_error: r.get(8)?,
        receipt: r.get(9)?,
        draft: r.get(10)?,
        firing: r.get(11)?,
        created_at: ts(&r.get::<_, String>(12)?),
        sent_at: sent.as_deref().map(ts),
        notification,
    })
}

/// Whether draft `draft` of `incident` carries a person's approval.
pub(super) fn approved(c: &Connection, draft: i64, incident: Option<IncidentId>) -> R<bool> {
    let ok = c
        .query_row(
            "SELECT 1 FROM drafts WHERE id = ?1 AND (?2 IS NULL OR incident = ?2)
                AND approved_by IS NOT NULL AND status IN ('approved', 'sent')",
            params![draft, incident.map(|i| i.0)],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    Ok(ok)
}

/// Inserts a message in the caller's transaction (the approval is checked
/// here, so no caller can skip it).
pub(super) fn insert(
    c: &Connection,
    m: &NewMessage,
    now_s: &str,
    now: jiff::Timestamp,
) -> R<Option<i64>> {
    if m.kind.needs_approval() {
        let ok = match m.draft {
            Some(d) => approved(c, d, m.incident)?,
            None => false,
        };
        if !ok {
            return Err(Fail::Store(StoreError::Refused(format!(
                "a {} notification ({}) leaves only from a draft a person approved; approve it with `breachd draft approve ID --reason ...`",
                m.kind.as_str(),
                m.notification.key
            ))));
        }
    }
    let n = c.execute(
        "INSERT OR IGNORE INTO outbox (key, incident, channel, kind, notification, state,
            attempts, next_attempt_us, draft, firing, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?7, ?8, ?9)",
        params![
            m.notification.key,
            m.incident.map(|i| i.0),
            m.channel,
            m.kind.as_str(),
            to_json(&m.notification),
            us(now),
            m.draft,
            m.firing,
            now_s
        ],
    )?;
    Ok((n > 0).then(|| c.last_insert_rowid()))
}

impl OutboxStore for SqliteStore {
    fn enqueue(&mut self, m: &NewMessage, now: jiff::Timestamp) -> Result<Option<i64>> {
        self.write_at(now, |c, now_s| insert(c, m, now_s, now))
    }

    fn claim_due(
        &mut self,
        now: jiff::Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let lease_us = lease.as_micros().min(i64::MAX as u128) as i64;
        self.write_at(now, |c, _| {
            let sql = format!(
                "SELECT {COLS} FROM outbox o
                 WHERE ((o.state = 'pending' AND o.next_attempt_us <= ?1)
                        OR (o.state = 'sending' AND o.next_attempt_us <= ?1))
                   AND (o.kind NOT IN ('regulator', 'subject') OR EXISTS (
                        SELECT 1 FROM drafts d WHERE d.id = o.draft
                          AND d.approved_by IS NOT NULL AND d.status IN ('approved', 'sent')))
                 ORDER BY o.next_attempt_us, o.id LIMIT ?2"
            );
            let mut rows: Vec<Message> = c
                .prepare(&sql)?
                .query_map(params![us(now), limit as i64], row)?
                .collect::<rusqlite::Result<_>>()?;
            let until = us(now).saturating_add(lease_us);
            for m in &mut rows {
                c.execute(
                    "UPDATE outbox SET state = 'sending', attempts = attempts + 1,
                        next_attempt_us = ?2 WHERE id = ?1",
                    params![m.id, until],
                )?;
                m.state = State::Sending;
                m.attempts += 1;
                m.next_attempt = from_us(until);
            }
            Ok(rows)
        })
    }

    fn mark_sent(&mut self, id: i64, receipt: &str, now: jiff::Timestamp) -> Result<()> {
        self.write_at(now, |c, now_s| {
            type Row = (Option<i64>, String, String, Option<i64>, i64);
            let m: Option<Row> = c
                .query_row(
                    "SELECT incident, channel, key, draft, attempts FROM outbox WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((incident, channel, key, draft, attempts)) = m else {
                return Err(Fail::Store(StoreError::Refused(format!(
                    "no notification {id} in the outbox"
                ))));
            };
            c.execute(
                "UPDATE outbox SET state = 'sent', receipt = ?2, sent_at = ?3, last_error = NULL
                 WHERE id = ?1",
                params![id, receipt, now_s],
            )?;
            if let Some(d) = draft {
                c.execute(
                    "UPDATE drafts SET status = 'sent' WHERE id = ?1 AND status = 'approved'
                       AND NOT EXISTS (SELECT 1 FROM outbox WHERE draft = ?1 AND state != 'sent')",
                    [d],
                )?;
            }
            append(
                c,
                now_s,
                ACTOR,
                incident.map(IncidentId),
                "notification_sent",
                serde_json::json!({
                    "outbox": id, "channel": channel, "key": key,
                    "attempts": attempts, "receipt": receipt,
                }),
            )?;
            Ok(())
        })
    }

    fn mark_failed(
        &mut self,
        id: i64,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
        now: jiff::Timestamp,
    ) -> Result<State> {
        self.write_at(now, |c, now_s| {
            let m: Option<(Option<i64>, String, String, i64)> = c
                .query_row(
                    "SELECT incident, channel, key, attempts FROM outbox WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((incident, channel, key, attempts)) = m else {
                return Err(Fail::Store(StoreError::Refused(format!(
                    "no notification {id} in the outbox"
                ))));
            };
            match retry_at {
                Some(at) => {
                    c.execute(
                        "UPDATE outbox SET state = 'pending', next_attempt_us = ?2, last_error = ?3
                         WHERE id = ?1",
                        params![id, us(at), error],
                    )?;
                    Ok(State::Pending)
                }
                None => {
                    c.execute(
                        "UPDATE outbox SET state = 'dead', last_error = ?2 WHERE id = ?1",
                        params![id, error],
                    )?;
                    append(
                        c,
                        now_s,
                        ACTOR,
                        incident.map(IncidentId),
                        "notification_dead",
                        serde_json::json!({
                            "outbox": id, "channel": channel, "key": key,
                            "attempts": attempts, "error": error,
                        }),
                    )?;
                    Ok(State::Dead)
                }
            }
        })
    }

    fn messages(&self, f: &Filter) -> Result<Vec<Message>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {COLS} FROM outbox
                 WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR incident = ?2)
                   AND (?3 IS NULL OR channel = ?3)
                 ORDER BY id"
            );
            let rows = c
                .prepare(&sql)?
                .query_map(
                    params![
                        f.state.map(State::as_str),
                        f.incident.map(|i| i.0),
                        f.channel
                    ],
                    row,
                )?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn message(&self, id: i64) -> Result<Option<Message>> {
        self.read(|c| {
            let sql = format!("SELECT {COLS} FROM outbox WHERE id = ?1");
            Ok(c.query_row(&sql, [id], row).optional()?)
        })
    }

    fn retry(&mut self, id: i64, actor: &str, now: jiff::Timestamp) -> Result<()> {
        self.write_at(now, |c, now_s| {
            let m: Option<(Option<i64>, String, String, String)> = c
                .query_row(
                    "SELECT incident, channel, key, state FROM outbox WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((incident, channel, key, state)) = m else {
                return Err(Fail::Store(StoreError::Refused(format!(
                    "no notification {id} in the outbox; `breachd notify list` shows them"
                ))));
            };
            if state == "sent" || state == "sending" {
                return Err(Fail::Store(StoreError::Refused(format!(
                    "notification {id} is {state}; only dead or pending ones are retried"
                ))));
            }
            c.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_us = ?2
                 WHERE id = ?1",
                params![id, us(now)],
            )?;
            append(
                c,
                now_s,
                actor,
                incident.map(IncidentId),
                "notification_retried",
                serde_json::json!({"outbox": id, "channel": channel, "key": key, "was": state}),
            )?;
            Ok(())
        })
    }

    fn counts(&self) -> Result<Vec<(State, u64)>> {
        self.read(|c| {
            let mut out = Vec::new();
            for s in State::ALL {
                let n: i64 = c.query_row(
                    "SELECT COUNT(*) FROM outbox WHERE state = ?1",
                    [s.as_str()],
                    |r| r.get(0),
                )?;
                out.push((s, n as u64));
            }
            Ok(out)
        })
    }
}

const DRAFT_COLS: &str = "id, incident, regime, template, recipient, status, created_at, locale,
    subject, body, generated_body, path, edited_by, edited_at, approved_by, approved_at,
    approval_reason";

fn draft_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Draft> {
    let t = |v: Option<String>| v.as_deref().map(ts);
    Ok(Draft {
        id: r.get(0)?,
        incident: IncidentId(r.get(1)?),
        regime: r.get(2)?,
        template: r.get(3)?,
        recipient: r.get(4)?,
        status: r.get(5)?,
        created_at: ts(&r.get::<_, String>(6)?),
        locale: r.get(7)?,
        subject: r.get(8)?,
        body: r.get(9)?,
        generated_body: r.get(10)?,
        path: r.get(11)?,
        edited_by: r.get(12)?,
        edited_at: t(r.get(13)?),
        approved_by: r.get(14)?,
        approved_at: t(r.get(15)?),
        approval_reason: r.get(16)?,
    })
}

fn sha(s: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::incident::audit::hex(&Sha256::digest(s.as_bytes())[..16])
}

/// A draft in the caller's transaction, or a refusal naming it.
fn load_draft(c: &Connection, id: i64) -> R<Draft> {
    let sql = format!("SELECT {DRAFT_COLS} FROM drafts WHERE id = ?1");
    c.query_row(&sql, [id], draft_row)
        .optional()?
        .ok_or_else(|| {
            Fail::Store(StoreError::Refused(format!(
                "no draft {id}; `breachd draft list` shows them"
            )))
        })
}

impl DraftStore for SqliteStore {
    fn drafts(&self, incident: Option<IncidentId>) -> Result<Vec<Draft>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {DRAFT_COLS} FROM drafts WHERE ?1 IS NULL OR incident = ?1 ORDER BY id"
            );
            let rows = c
                .prepare(&sql)?
                .query_map([incident.map(|i| i.0)], draft_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn draft(&self, id: i64) -> Result<Option<Draft>> {
        self.read(|c| {
            let sql = format!("SELECT {DRAFT_COLS} FROM drafts WHERE id = ?1");
            Ok(c.query_row(&sql, [id], draft_row).optional()?)
        })
    }

    fn unrendered_drafts(&self) -> Result<Vec<Draft>> {
        self.read(|c| {
            let sql = format!("SELECT {DRAFT_COLS} FROM drafts WHERE body IS NULL ORDER BY id");
            let rows = c
                .prepare(&sql)?
                .query_map([], draft_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn set_draft_text(
        &mut self,
        id: i64,
        locale: Locale,
        subject: &str,
        body: &str,
        path: Option<&str>,
    ) -> Result<()> {
        self.write(|c, _| {
            c.execute(
                "UPDATE drafts SET locale = ?2, subject = ?3, body = ?4, generated_body = ?4,
                    path = ?5 WHERE id = ?1 AND body IS NULL",
                params![id, locale.tag(), subject, body, path],
            )?;
            Ok(())
        })
    }

    fn edit_draft(&mut self, id: i64, body: &str, actor: &str, now: jiff::Timestamp) -> Result<()> {
        self.write_at(now, |c, now_s| {
            let d = load_draft(c, id)?;
            if d.status != "pending_approval" {
                return Err(Fail::Store(StoreError::Refused(format!(
                    "draft {id} is {}; only a draft waiting for approval is edited",
                    d.status
                ))));
            }
            let Some(old) = d.body else {
                return Err(Fail::Store(StoreError::Refused(format!(
                    "draft {id} has no text yet; the daemon (or `breachd schedule tick`) renders it"
                ))));
            };
            c.execute(
                "UPDATE drafts SET body = ?2, edited_by = ?3, edited_at = ?4 WHERE id = ?1",
                params![id, body, actor, now_s],
            )?;
            append(
                c,
                now_s,
                actor,
                Some(d.incident),
                "draft_edited",
                serde_json::json!({
                    "draft": id, "template": d.template, "recipient": d.recipient,
                    "from_sha256": sha(&old), "to_sha256": sha(body),
                }),
            )?;
            Ok(())
        })
    }

    fn approve_draft(
        &mut self,
        id: i64,
        body: &str,
        actor: &str,
        reason: &str,
        messages: &[NewMessage],
        now: jiff::Timestamp,
    ) -> Result<Vec<i64>> {
        self.write_at(now, |c, now_s| {
            let d = load_draft(c, id)?;
            if d.status != "pending_approval" {
                return Err(Fail::Store(StoreError::Refused(format!(
                    "draft {id} is already {}",
                    d.status
                ))));
            }
            if d.body.as_deref() != Some(body) {
                return Err(Fail::Store(StoreError::Refused(format!(
                    "draft {id} changed since it was read; show it again and approve what you read"
                ))));
            }
            c.execute(
                "UPDATE drafts SET status = 'approved', approved_by = ?2, approved_at = ?3,
                    approval_reason = ?4 WHERE id = ?1",
                params![id, actor, now_s, reason],
            )?;
            append(
                c,
                now_s,
                actor,
                Some(d.incident),
                "draft_approved",
                serde_json::json!({
                    "draft": id, "template": d.template, "recipient": d.recipient,
                    "reason": reason, "body_sha256": sha(body),
                    "channels": messages.iter().map(|m| m.channel.as_str()).collect::<Vec<_>>(),
                }),
            )?;
            let mut ids = Vec::new();
            for m in messages {
                if m.draft != Some(id) || m.incident != Some(d.incident) {
                    return Err(Fail::Store(StoreError::Refused(format!(
                        "a message enqueued on approving draft {id} must come from it"
                    ))));
                }
                if let Some(i) = insert(c, m, now_s, now)? {
                    ids.push(i);
                }
            }
            Ok(ids)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Locale, Notice, Notification, Templates};

    fn msg(key: &str, kind: Kind, draft: Option<i64>) -> NewMessage {
        let t = Templates::shipped().unwrap();
        NewMessage {
            incident: None,
            channel: "hook".into(),
            kind,
            notification: Notification::alert(&t, &Notice::sample(Locale::En), key).unwrap(),
            draft,
            firing: None,
        }
    }

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_key_is_enqueued_once_and_claimed_by_one_sender_until_its_lease_ends() {
        let mut s = SqliteStore::in_memory();
        let t0 = at("2026-03-02T10:00:00Z");
        let id = s.enqueue(&msg("k1", Kind::Oncall, None), t0).unwrap();
        assert!(id.is_some());
        assert_eq!(s.enqueue(&msg("k1", Kind::Oncall, None), t0).unwrap(), None);
        let lease = Duration::from_secs(60);
        let first = s.claim_due(t0, lease, 10).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].attempts, 1);
        // another sender finds nothing while the lease holds
        assert!(s
            .claim_due(at("2026-03-02T10:00:59Z"), lease, 10)
            .unwrap()
            .is_empty());
        // the first sender crashed: after the lease the row is claimed again
        let again = s.claim_due(at("2026-03-02T10:01:00Z"), lease, 10).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        s.mark_sent(again[0].id, "HTTP 200", at("2026-03-02T10:01:01Z"))
            .unwrap();
        assert!(s
            .claim_due(at("2026-03-02T11:00:00Z"), lease, 10)
            .unwrap()
            .is_empty());
        let m = s.message(again[0].id).unwrap().unwrap();
        assert_eq!(m.state, State::Sent);
        assert_eq!(m.receipt.as_deref(), Some("HTTP 200"));
    }

    #[test]
    fn a_failed_message_waits_then_dies_and_a_person_retries_it() {
        let mut s = SqliteStore::in_memory();
        let t0 = at("2026-03-02T10:00:00Z");
        s.enqueue(&msg("k2", Kind::Oncall, None), t0).unwrap();
        let lease = Duration::from_secs(60);
        let m = s.claim_due(t0, lease, 10).unwrap().remove(0);
        let later = at("2026-03-02T10:05:00Z");
        assert_eq!(
            s.mark_failed(m.id, "HTTP 500", Some(later), t0).unwrap(),
            State::Pending
        );
        assert!(s
            .claim_due(at("2026-03-02T10:04:59Z"), lease, 10)
            .unwrap()
            .is_empty());
        let m = s.claim_due(later, lease, 10).unwrap().remove(0);
        assert_eq!(
            s.mark_failed(m.id, "HTTP 500", None, later).unwrap(),
            State::Dead
        );
        assert!(s
            .claim_due(at("2026-03-03T00:00:00Z"), lease, 10)
            .unwrap()
            .is_empty());
        let dead = s
            .messages(&Filter {
                state: Some(State::Dead),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 500"));
        s.retry(m.id, "lena", later).unwrap();
        let m = s.claim_due(later, lease, 10).unwrap().remove(0);
        assert_eq!(m.attempts, 1, "a retry starts the count again");
        assert!(
            s.retry(m.id, "lena", later).is_err(),
            "a message being sent is not retried"
        );
    }

    #[test]
    fn regulator_and_subject_messages_need_an_approved_draft() {
        let mut s = SqliteStore::in_memory();
        let t0 = at("2026-03-02T10:00:00Z");
        for kind in [Kind::Regulator, Kind::Subject] {
            for draft in [None, Some(999)] {
                let e = s.enqueue(&msg("k3", kind, draft), t0).unwrap_err();
                assert!(e.to_string().contains("approve it"), "{e}");
            }
        }
        assert!(s.messages(&Filter::default()).unwrap().is_empty());
    }
}
