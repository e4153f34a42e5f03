//! The SQLite side of [`CampaignStore`]: `subject_campaigns` and
//! `campaign_subjects` (migration 4), and the campaign's rows of the outbox
//! (`draft` = the campaign's draft, `kind` = `subject`).

use std::time::Duration;

use rusqlite::{params, OptionalExtension};

use super::incidents::{append, ts, Fail};
use super::SqliteStore;
use crate::incident::{IncidentId, StoreError};
use crate::notify::draft::Draft;
use crate::notify::outbox::{Message, NewMessage};
use crate::notify::subjects::{Campaign, CampaignStore, Progress};

type Result<T> = std::result::Result<T, StoreError>;

fn us(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

impl CampaignStore for SqliteStore {
    fn start_campaign(
        &mut self,
        draft: &Draft,
        channel: &str,
        ids: &[String],
        actor: &str,
        now: jiff::Timestamp,
    ) -> Result<(Campaign, u64)> {
        self.write_at(now, |c, now_s| {
            let created = c.execute(
                "INSERT OR IGNORE INTO subject_campaigns (draft, incident, channel, started_at, started_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![draft.id, draft.incident.0, channel, now_s, actor],
            )? > 0;
            let mut added = 0u64;
            {
                let mut ins = c.prepare(
                    "INSERT OR IGNORE INTO campaign_subjects (draft, subject, state) VALUES (?1, ?2, 'waiting')",
                )?;
                for id in ids {
                    added += ins.execute(params![draft.id, id])? as u64;
                }
            }
            if created || added > 0 {
                append(
                    c,
                    now_s,
                    actor,
                    Some(draft.incident),
                    if created {
                        "subject_notices_started"
                    } else {
                        "subject_notices_extended"
                    },
                    serde_json::json!({
                        "draft": draft.id, "channel": channel,
                        "subjects_added": added, "approved_by": draft.approved_by,
                    }),
                )?;
            }
            let campaign = load(c, draft.id)?.ok_or_else(|| {
                Fail::Store(StoreError::Refused(format!("no campaign for draft {}", draft.id)))
            })?;
            Ok((campaign, added))
        })
    }

    fn campaign(&self, draft: i64) -> Result<Option<Campaign>> {
        self.read(|c| Ok(load(c, draft)?))
    }

    fn unqueued(&self, draft: i64, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        self.read(|c| {
            let rows = c
                .prepare(
                    "SELECT subject FROM campaign_subjects
                     WHERE draft = ?1 AND state != 'queued' AND (?2 IS NULL OR subject > ?2)
                     ORDER BY subject LIMIT ?3",
                )?
                .query_map(params![draft, after, limit as i64], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn enqueue_batch(
        &mut self,
        draft: i64,
        messages: &[(String, NewMessage)],
        unknown: &[String],
        now: jiff::Timestamp,
    ) -> Result<u64> {
        self.write_at(now, |c, now_s| {
            let mut new = 0u64;
            for (subject, m) in messages {
                new += super::outbox::insert(c, m, now_s, now)?.is_some() as u64;
                c.execute(
                    "UPDATE campaign_subjects SET state = 'queued' WHERE draft = ?1 AND subject = ?2",
                    params![draft, subject],
                )?;
            }
            for subject in unknown {
                c.execute(
                    "UPDATE campaign_subjects SET state = 'unknown' WHERE draft = ?1 AND subject = ?2",
                    params![draft, subject],
                )?;
            }
            Ok(new)
        })
    }

    fn pace(&mut self, draft: i64, from: jiff::Timestamp, interval: Duration) -> Result<()> {
        let step = interval.as_micros().clamp(1, i64::MAX as u128) as i64;
        self.write_at(from, |c, _| {
            let ids: Vec<i64> = c
                .prepare(
                    "SELECT id FROM outbox WHERE draft = ?1 AND kind = 'subject'
                       AND state = 'pending' AND attempts = 0 ORDER BY id",
                )?
                .query_map([draft], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut upd = c.prepare("UPDATE outbox SET next_attempt_us = ?2 WHERE id = ?1")?;
            for (k, id) in ids.iter().enumerate() {
                upd.execute(params![
                    id,
                    us(from).saturating_add(step.saturating_mul(k as i64))
                ])?;
            }
            Ok(())
        })
    }

    fn claim_campaign(
        &mut self,
        draft: i64,
        now: jiff::Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let lease_us = lease.as_micros().min(i64::MAX as u128) as i64;
        let claimed = self.write_at(now, |c, _| {
            let ids: Vec<i64> = c
                .prepare(
                    "SELECT o.id FROM outbox o
                     WHERE o.draft = ?1 AND o.kind = 'subject'
                       AND o.state IN ('pending', 'sending') AND o.next_attempt_us <= ?2
                       AND EXISTS (SELECT 1 FROM drafts d WHERE d.id = o.draft
                           AND d.approved_by IS NOT NULL AND d.status IN ('approved', 'sent'))
                     ORDER BY o.next_attempt_us, o.id LIMIT ?3",
                )?
                .query_map(params![draft, us(now), limit as i64], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut upd = c.prepare(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, next_attempt_us = ?2
                 WHERE id = ?1",
            )?;
            for id in &ids {
                upd.execute(params![id, us(now).saturating_add(lease_us)])?;
            }
            Ok(ids)
        })?;
        let mut out = Vec::with_capacity(claimed.len());
        for id in claimed {
            if let Some(m) = crate::notify::outbox::OutboxStore::message(self, id)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    fn progress(&self, draft: i64) -> Result<Progress> {
        self.read(|c| {
            let mut p = Progress::default();
            let mut st = c.prepare(
                "SELECT state, COUNT(*) FROM campaign_subjects WHERE draft = ?1 GROUP BY state",
            )?;
            for row in st.query_map([draft], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (state, n) = row?;
                p.total += n as u64;
                match state.as_str() {
                    "waiting" => p.waiting = n as u64,
                    "unknown" => p.unknown = n as u64,
                    _ => {}
                }
            }
            let mut st = c.prepare(
                "SELECT state, COUNT(*) FROM outbox WHERE draft = ?1 AND kind = 'subject' GROUP BY state",
            )?;
            for row in st.query_map([draft], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (state, n) = row?;
                let n = n as u64;
                match state.as_str() {
                    "pending" => p.pending = n,
                    "sending" => p.sending = n,
                    "sent" => p.sent = n,
                    _ => p.dead += n,
                }
            }
            p.unknown_ids = c
                .prepare(
                    "SELECT subject FROM campaign_subjects WHERE draft = ?1 AND state = 'unknown'
                     ORDER BY subject",
                )?
                .query_map([draft], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let next: Option<i64> = c.query_row(
                "SELECT MIN(next_attempt_us) FROM outbox
                 WHERE draft = ?1 AND kind = 'subject' AND state IN ('pending', 'sending')",
                [draft],
                |r| r.get(0),
            )?;
            p.next_due = next.and_then(|v| jiff::Timestamp::from_microsecond(v).ok());
            Ok(p)
        })
    }
}

fn load(c: &rusqlite::Connection, draft: i64) -> rusqlite::Result<Option<Campaign>> {
    c.query_row(
        "SELECT draft, incident, channel, started_at, started_by FROM subject_campaigns WHERE draft = ?1",
        [draft],
        |r| {
            Ok(Campaign {
                draft: r.get(0)?,
                incident: IncidentId(r.get(1)?),
                channel: r.get(2)?,
                started_at: ts(&r.get::<_, String>(3)?),
                started_by: r.get(4)?,
            })
        },
    )
    .optional()
}
