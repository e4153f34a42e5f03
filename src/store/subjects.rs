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
        texts: serde_json::Value,
        actor: &str,
        now: jiff::Timestamp,
    ) -> Result<(Campaign, u64)> {
        self.write_at(now, |c, now_s| {
            let created = c.execute(
                "INSERT OR IGNORE INTO subject_campaigns (draft, incident, channel, texts, started_at, started_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![draft.id, draft.incident.0, channel, texts.to_string(), now_s, actor],
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
                        "texts": texts,
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
        "SELECT draft, incident, channel, started_at, started_by, texts FROM subject_campaigns WHERE draft = ?1",
        [draft],
        |r| {
            let texts: String = r.get(5)?;
            Ok(Campaign {
                draft: r.get(0)?,
                incident: IncidentId(r.get(1)?),
                channel: r.get(2)?,
                started_at: ts(&r.get::<_, String>(3)?),
                started_by: r.get(4)?,
                texts: serde_json::from_str(&texts).unwrap_or_default(),
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::draft::DraftStore;
    use crate::notify::outbox::{Kind, OutboxStore, State};
    use crate::notify::{Notice, Notification, Templates};

    fn t(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    /// A store with draft 1 of incident 1, approved or not (rows written
    /// directly: the campaign's own calls are what is tested here).
    fn store(approved: bool) -> SqliteStore {
        let s = SqliteStore::in_memory();
        s.conn.execute_batch("PRAGMA foreign_keys = OFF;").unwrap();
        s.conn
            .execute(
                "INSERT INTO drafts (id, incident, regime, template, recipient, firing, status,
                    created_at, locale, subject, body, approved_by)
                 VALUES (1, 1, 'GDPR', 'gdpr_data_subjects', 'data_subjects', 1, ?1,
                    '2026-03-02T10:00:00Z', 'en', 'Notice', 'text', ?2)",
                params![
                    if approved {
                        "approved"
                    } else {
                        "pending_approval"
                    },
                    approved.then_some("lena")
                ],
            )
            .unwrap();
        s
    }

    fn message(subject: &str) -> (String, NewMessage) {
        let t = Templates::shipped().unwrap();
        let mut n = Notification::notice(
            &t,
            "gdpr_data_subjects",
            &Notice::sample(crate::notify::Locale::En),
            &crate::notify::subjects::key(1, subject),
        )
        .unwrap();
        n.to = vec![format!("{subject}@example.org")];
        (
            subject.to_string(),
            NewMessage {
                incident: Some(IncidentId(1)),
                channel: "mail".into(),
                kind: Kind::Subject,
                notification: n,
                draft: Some(1),
                firing: None,
            },
        )
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_subject_is_enqueued_once_and_rows_fall_due_at_the_rate() {
        let mut s = store(true);
        let now = t("2026-03-02T10:00:00Z");
        let draft = s.draft(1).unwrap().unwrap();
        let (_, added) = s
            .start_campaign(
                &draft,
                "mail",
                &ids(&["a", "b", "c", "x"]),
                serde_json::json!({"en": 1}),
                "lena",
                now,
            )
            .unwrap();
        assert_eq!(added, 4);
        let (_, again) = s
            .start_campaign(
                &draft,
                "mail",
                &ids(&["a", "d"]),
                serde_json::json!({"en": 1}),
                "lena",
                now,
            )
            .unwrap();
        assert_eq!(again, 1, "a later list adds only new ids");
        assert_eq!(
            s.unqueued(1, None, 10).unwrap(),
            ids(&["a", "b", "c", "d", "x"])
        );
        assert_eq!(s.unqueued(1, Some("c"), 1).unwrap(), ids(&["d"]));

        let batch = vec![message("a"), message("b"), message("c"), message("d")];
        assert_eq!(s.enqueue_batch(1, &batch, &ids(&["x"]), now).unwrap(), 4);
        assert_eq!(
            s.enqueue_batch(1, &batch, &[], now).unwrap(),
            0,
            "the same keys again: no second row"
        );
        assert_eq!(
            s.unqueued(1, None, 10).unwrap(),
            ids(&["x"]),
            "unknown ids are looked up again"
        );

        s.pace(1, now, Duration::from_millis(100)).unwrap();
        let claimed = s
            .claim_campaign(
                1,
                now + jiff::SignedDuration::from_millis(150),
                Duration::from_secs(9),
                16,
            )
            .unwrap();
        let keys: Vec<&str> = claimed.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(
            keys,
            ["draft:1:subject:a", "draft:1:subject:b"],
            "due 0 ms and 100 ms"
        );
        s.mark_sent(claimed[0].id, "250", now).unwrap();

        let p = s.progress(1).unwrap();
        assert_eq!(
            (p.total, p.waiting, p.unknown, p.pending, p.sending, p.sent, p.dead),
            (5, 0, 1, 2, 1, 1, 0)
        );
        assert_eq!(p.unknown_ids, ids(&["x"]));
        assert_eq!(
            p.next_due,
            Some(t("2026-03-02T10:00:00.2Z")),
            "c is due next"
        );

        // a crashed sender's claim is taken again only once its lease ran out
        let later = now + jiff::SignedDuration::from_secs(5);
        let keys = |v: Vec<Message>| v.into_iter().map(|m| m.key).collect::<Vec<_>>();
        assert_eq!(
            keys(
                s.claim_campaign(1, later, Duration::from_secs(9), 16)
                    .unwrap()
            ),
            ["draft:1:subject:c", "draft:1:subject:d"]
        );
        let after_lease = now + jiff::SignedDuration::from_secs(10);
        let retaken = s
            .claim_campaign(1, after_lease, Duration::from_secs(9), 16)
            .unwrap();
        assert_eq!(keys(retaken.clone()), ["draft:1:subject:b"]);
        assert_eq!(retaken[0].attempts, 2);
        assert_eq!(retaken[0].state, State::Sending);
    }

    #[test]
    fn nothing_is_enqueued_or_claimed_without_an_approval() {
        let mut s = store(false);
        let now = t("2026-03-02T10:00:00Z");
        let err = s.enqueue_batch(1, &[message("a")], &[], now).unwrap_err();
        assert!(err.to_string().contains("approve"), "{err}");
        assert!(s
            .claim_campaign(1, now, Duration::from_secs(9), 16)
            .unwrap()
            .is_empty());
    }
}
