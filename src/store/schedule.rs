//! The SQLite side of [`ScheduleStore`]: playbook versions, plans, steps,
//! firings (the outbox) and what they record. Each call is one
//! `BEGIN IMMEDIATE` transaction; audit entries carry the scheduler's `now`.

use rusqlite::{params, Connection, OptionalExtension};

use super::incidents::{append, ts, Fail};
use super::{classify, SqliteStore};
use crate::incident::{IncidentId, StoreError};
use crate::playbook::schedule::{
    DeadlineRow, Determination, Effect, Fired, Firing, NewStep, Plan, ScheduleStore, StepRow,
    StepState,
};
use crate::playbook::{Playbook, Recipient};

type Result<T> = std::result::Result<T, StoreError>;

impl SqliteStore {
    fn query<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        f(&self.conn).map_err(|e| classify(&self.path, e))
    }
}

fn us(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

fn step_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StepRow> {
    let due: Option<String> = r.get(6)?;
    let last: Option<String> = r.get(8)?;
    let state: String = r.get(5)?;
    Ok(StepRow {
        id: r.get(0)?,
        incident: IncidentId(r.get(1)?),
        regime: r.get(2)?,
        step: r.get(3)?,
        recurring: r.get(4)?,
        state: StepState::from_name(&state).unwrap_or(StepState::Cancelled),
        due_at: due.as_deref().map(ts),
        fired: r.get(7)?,
        last_fired_at: last.as_deref().map(ts),
        note: r.get(9)?,
    })
}

const STEP_COLS: &str =
    "id, incident, regime, step, recurring, state, due_at, fired, last_fired_at, note";

const FIRING_COLS: &str = "id, step_row, incident, regime, step, version, effect, basis, due_at, fired_at, late_secs, delivery";

fn fired_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Fired> {
    let effect: String = r.get(6)?;
    let effect = effect_from_json(&effect);
    let late_secs: i64 = r.get(10)?;
    Ok(Fired {
        id: r.get(0)?,
        firing: Firing {
            step_row: r.get(1)?,
            incident: IncidentId(r.get(2)?),
            regime: r.get(3)?,
            step: r.get(4)?,
            version: r.get(5)?,
            effect,
            basis: r.get(7)?,
            due_at: ts(&r.get::<_, String>(8)?),
            fired_at: ts(&r.get::<_, String>(9)?),
            late_secs,
            late: late_secs > crate::playbook::schedule::LATE_AFTER_SECS,
            next_due: None,
        },
        delivery: r.get(11)?,
    })
}

/// Effects are stored as JSON (`{"action":"draft","template":..}`); read
/// back by hand because `Recipient` is written, never read, by serde.
fn effect_from_json(s: &str) -> Effect {
    let v: serde_json::Value = serde_json::from_str(s).unwrap_or_default();
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let recipient = Recipient::from_name(v["recipient"].as_str().unwrap_or_default())
        .unwrap_or(Recipient::InternalRecord);
    match v["action"].as_str().unwrap_or_default() {
        "notify" => Effect::Notify {
            channel: text("channel"),
        },
        "escalate" => Effect::Escalate {
            channel: text("channel"),
        },
        "draft" => Effect::Draft {
            template: text("template"),
            recipient,
        },
        "deadline" => Effect::Deadline { recipient },
        _ => Effect::Task {
            title: text("title"),
        },
    }
}

fn state_for(due: Option<jiff::Timestamp>) -> &'static str {
    match due {
        Some(_) => StepState::Pending.as_str(),
        None => StepState::Waiting.as_str(),
    }
}

impl ScheduleStore for SqliteStore {
    fn location(&self) -> &str {
        &self.path
    }

    fn plans(&self, incident: Option<IncidentId>) -> Result<Vec<Plan>> {
        self.query(|c| {
            let mut st = c.prepare(
                "SELECT incident, regime, version, planned_at, planned_by, facts FROM plans
                 WHERE ?1 IS NULL OR incident = ?1 ORDER BY incident, regime",
            )?;
            let rows = st.query_map([incident.map(|i| i.0)], |r| {
                Ok(Plan {
                    incident: IncidentId(r.get(0)?),
                    regime: r.get(1)?,
                    version: r.get(2)?,
                    planned_at: ts(&r.get::<_, String>(3)?),
                    planned_by: r.get(4)?,
                    facts: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    fn save_plan(
        &mut self,
        plan: &Plan,
        playbook: &Playbook,
        replace_unfired: bool,
        add: &[NewStep],
        audit: Option<(&str, serde_json::Value)>,
        now: jiff::Timestamp,
    ) -> Result<()> {
        self.write_at(now, |c, now_s| {
            // another process may have planned it since the caller looked
            let existed = c
                .query_row(
                    "SELECT 1 FROM plans WHERE incident = ?1 AND regime = ?2",
                    params![plan.incident.0, plan.regime],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            c.execute(
                "INSERT OR IGNORE INTO playbook_versions (version, regime, file, source, first_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    playbook.version,
                    playbook.regime,
                    playbook.file,
                    &*playbook.source,
                    now_s
                ],
            )?;
            c.execute(
                "INSERT INTO plans (incident, regime, version, planned_at, planned_by, facts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(incident, regime) DO UPDATE SET
                    version = excluded.version, planned_by = excluded.planned_by,
                    facts = excluded.facts",
                params![
                    plan.incident.0,
                    plan.regime,
                    plan.version,
                    plan.planned_at.to_string(),
                    plan.planned_by,
                    plan.facts
                ],
            )?;
            if replace_unfired {
                c.execute(
                    // only steps still to come: a step that ended (done,
                    // cancelled) stays ended under the new version
                    "DELETE FROM schedule_steps WHERE incident = ?1 AND regime = ?2 AND fired = 0
                        AND state IN ('waiting', 'pending')",
                    params![plan.incident.0, plan.regime],
                )?;
            }
            for s in add {
                c.execute(
                    "INSERT OR IGNORE INTO schedule_steps
                        (incident, regime, step, recurring, state, due_at, due_us)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        plan.incident.0,
                        plan.regime,
                        s.step,
                        s.recurring,
                        state_for(s.due_at),
                        s.due_at.map(|t| t.to_string()),
                        s.due_at.map(us)
                    ],
                )?;
            }
            let audit = audit.filter(|(action, _)| !(existed && *action == "planned"));
            if let Some((action, detail)) = audit {
                let actor = plan.planned_by.clone();
                append(c, now_s, &actor, Some(plan.incident), action, detail)?;
            }
            Ok(())
        })
    }

    fn playbook_source(&self, version: &str) -> Result<Option<(String, String)>> {
        self.query(|c| {
            c.query_row(
                "SELECT file, source FROM playbook_versions WHERE version = ?1",
                [version],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    fn steps(&self, incident: Option<IncidentId>, live_only: bool) -> Result<Vec<StepRow>> {
        self.query(|c| {
            let sql = format!(
                "SELECT {STEP_COLS} FROM schedule_steps
                 WHERE (?1 IS NULL OR incident = ?1)
                   AND (?2 = 0 OR state IN ('waiting', 'pending'))
                 ORDER BY incident, id"
            );
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(params![incident.map(|i| i.0), live_only], step_row)?;
            rows.collect()
        })
    }

    fn set_due(&mut self, updates: &[(i64, Option<jiff::Timestamp>)]) -> Result<()> {
        self.write_at(jiff::Timestamp::UNIX_EPOCH, |c, _| {
            for (id, due) in updates {
                c.execute(
                    "UPDATE schedule_steps SET due_at = ?2, due_us = ?3, state = ?4
                     WHERE id = ?1 AND state IN ('waiting', 'pending')",
                    params![id, due.map(|t| t.to_string()), due.map(us), state_for(*due)],
                )?;
            }
            Ok(())
        })
    }

    fn fire(&mut self, f: &Firing) -> Result<Option<i64>> {
        self.write_at(f.fired_at, |c, now_s| {
            // compare-and-set: still pending at the due time this tick read
            let next_state = if f.next_due.is_some() {
                StepState::Pending
            } else {
                StepState::Done
            };
            let changed = c.execute(
                "UPDATE schedule_steps SET fired = fired + 1, last_fired_at = ?3,
                    state = ?4, due_at = ?5, due_us = ?6
                 WHERE id = ?1 AND state = 'pending' AND due_us = ?2",
                params![
                    f.step_row,
                    us(f.due_at),
                    now_s,
                    next_state.as_str(),
                    f.next_due.map(|t| t.to_string()),
                    f.next_due.map(us)
                ],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            let effect = serde_json::to_string(&f.effect).unwrap_or_default();
            let delivery = if f.effect.is_sent() {
                "pending"
            } else {
                "recorded"
            };
            c.execute(
                "INSERT INTO firings (step_row, incident, regime, step, version, effect, basis,
                    due_at, due_us, fired_at, late_secs, delivery)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    f.step_row,
                    f.incident.0,
                    f.regime,
                    f.step,
                    f.version,
                    effect,
                    f.basis,
                    f.due_at.to_string(),
                    us(f.due_at),
                    now_s,
                    f.late_secs,
                    delivery
                ],
            )?;
            let id = c.last_insert_rowid();
            match &f.effect {
                Effect::Draft {
                    template,
                    recipient,
                } => {
                    c.execute(
                        "INSERT INTO drafts (incident, regime, template, recipient, firing, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![f.incident.0, f.regime, template, recipient.as_str(), id, now_s],
                    )?;
                }
                Effect::Deadline { recipient } => {
                    c.execute(
                        "INSERT OR REPLACE INTO deadlines (incident, regime, recipient, due_at, basis, firing)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            f.incident.0,
                            f.regime,
                            recipient.as_str(),
                            f.due_at.to_string(),
                            f.basis,
                            id
                        ],
                    )?;
                }
                Effect::Task { title } => {
                    c.execute(
                        "INSERT INTO tasks (incident, regime, title, basis, firing, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![f.incident.0, f.regime, title, f.basis, id, now_s],
                    )?;
                }
                Effect::Notify { .. } | Effect::Escalate { .. } => {}
            }
            append(
                c,
                now_s,
                crate::playbook::schedule::ACTOR,
                Some(f.incident),
                "step_fired",
                serde_json::json!({
                    "regime": f.regime, "step": f.step, "version": f.version,
                    "effect": f.effect, "due_at": f.due_at.to_string(),
                    "late": f.late, "late_secs": f.late_secs, "firing": id,
                }),
            )?;
            Ok(Some(id))
        })
    }

    fn end_steps(
        &mut self,
        incident: IncidentId,
        rows: &[i64],
        state: StepState,
        reason: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        self.write_at(now, |c, now_s| {
            let mut ended = Vec::new();
            for id in rows {
                let step: Option<(String, String)> = c
                    .query_row(
                        "SELECT regime, step FROM schedule_steps
                         WHERE id = ?1 AND state IN ('waiting', 'pending')",
                        [id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some((regime, step)) = step {
                    c.execute(
                        "UPDATE schedule_steps SET state = ?2, note = ?3 WHERE id = ?1",
                        params![id, state.as_str(), reason],
                    )?;
                    ended.push(format!("{regime}/{step}"));
                }
            }
            if !ended.is_empty() {
                let action = match state {
                    StepState::Done => "steps_done",
                    _ => "steps_cancelled",
                };
                append(
                    c,
                    now_s,
                    crate::playbook::schedule::ACTOR,
                    Some(incident),
                    action,
                    serde_json::json!({"steps": ended, "reason": reason}),
                )?;
            }
            Ok(())
        })
    }

    fn firings(&self, incident: Option<IncidentId>) -> Result<Vec<Fired>> {
        self.query(|c| {
            let sql = format!(
                "SELECT {FIRING_COLS} FROM firings WHERE ?1 IS NULL OR incident = ?1 ORDER BY id"
            );
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([incident.map(|i| i.0)], fired_row)?;
            rows.collect()
        })
    }

    fn undelivered(&self) -> Result<Vec<Fired>> {
        self.query(|c| {
            let sql =
                format!("SELECT {FIRING_COLS} FROM firings WHERE delivery = 'pending' ORDER BY id");
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([], fired_row)?;
            rows.collect()
        })
    }

    fn mark_dispatched(&mut self, firing: i64) -> Result<()> {
        self.write_at(jiff::Timestamp::UNIX_EPOCH, |c, _| {
            c.execute(
                "UPDATE firings SET delivery = 'dispatched' WHERE id = ?1 AND delivery = 'pending'",
                [firing],
            )?;
            Ok(())
        })
    }

    fn deadlines(&self, incident: IncidentId) -> Result<Vec<DeadlineRow>> {
        self.query(|c| {
            let mut st = c.prepare(
                "SELECT regime, recipient, due_at, basis FROM deadlines WHERE incident = ?1
                 ORDER BY due_at",
            )?;
            let rows = st.query_map([incident.0], |r| {
                Ok(DeadlineRow {
                    regime: r.get(0)?,
                    recipient: Recipient::from_name(&r.get::<_, String>(1)?)
                        .unwrap_or(Recipient::InternalRecord),
                    due_at: ts(&r.get::<_, String>(2)?),
                    basis: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    fn draft_statuses(&self, incident: IncidentId, regime: &str) -> Result<Vec<String>> {
        self.query(|c| {
            let mut st =
                c.prepare("SELECT status FROM drafts WHERE incident = ?1 AND regime = ?2")?;
            let rows = st.query_map(params![incident.0, regime], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn determination(&self, incident: IncidentId) -> Result<Determination> {
        self.query(|c| {
            let d = c
                .query_row(
                    "SELECT determined_at, material FROM determinations WHERE incident = ?1",
                    [incident.0],
                    |r| {
                        let at: Option<String> = r.get(0)?;
                        Ok(Determination {
                            determined_at: at.as_deref().map(ts),
                            material: r.get(1)?,
                        })
                    },
                )
                .optional()?;
            Ok(d.unwrap_or_default())
        })
    }

    fn determine(
        &mut self,
        incident: IncidentId,
        d: &Determination,
        actor: &str,
        reason: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        self.write_at(now, |c, now_s| {
            let exists: bool = c
                .query_row(
                    "SELECT 1 FROM incidents WHERE id = ?1",
                    [incident.0],
                    |_| Ok(true),
                )
                .optional()?
                .unwrap_or(false);
            if !exists {
                return Err(Fail::Store(StoreError::NotFound(incident)));
            }
            c.execute(
                "INSERT INTO determinations (incident, determined_at, material, by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(incident) DO UPDATE SET determined_at = excluded.determined_at,
                    material = excluded.material, by = excluded.by, reason = excluded.reason",
                params![
                    incident.0,
                    d.determined_at.map(|t| t.to_string()),
                    d.material,
                    actor,
                    reason
                ],
            )?;
            append(
                c,
                now_s,
                actor,
                Some(incident),
                "determined",
                serde_json::json!({
                    "determined_at": d.determined_at.map(|t| t.to_string()),
                    "material": d.material, "reason": reason,
                }),
            )?;
            Ok(())
        })
    }
}
