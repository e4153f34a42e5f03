//! The SQLite side of [`IncidentStore`]: correlation queries, aggregates, the
//! audit chain and checkpoints, each call one `BEGIN IMMEDIATE` transaction.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{classify, SqliteStore};
use crate::classify::{Categories, Category};
use crate::detect::alert::{Alert, Severity};
use crate::incident::audit::{self, Entry};
use crate::incident::severity::Overrides;
use crate::incident::{
    alert_key, by_jurisdiction, entity_type_name, AlertRecord, Aware, AwarePolicy, Change,
    Correlation, ExposedSubject, Incident, IncidentDetail, IncidentId, IncidentStore, ListFilter,
    Note, Recorded, Status, StoreError,
};
use crate::parse::EventTime;
use crate::source::checkpoint::Checkpoint;

/// Runs one statement through the connection's statement cache: recording
/// an alert runs the same statements each time, and preparing them anew
/// cost more than running them.
fn exec<P: rusqlite::Params>(c: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

/// An error inside a transaction: SQLite's (classified at the boundary) or a
/// refusal that already says what to do.
pub(super) enum Fail {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Fail {
        Fail::Sql(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        Fail::Store(e)
    }
}

pub(super) type R<T> = Result<T, Fail>;

/// How many entities `get` lists before counting the rest.
const ENTITIES_SHOWN: i64 = 50;

impl SqliteStore {
    /// Runs `f` in one immediate (write) transaction: all of it commits, or
    /// none; its audit entries are dated by the store's clock.
    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&Connection, &str) -> R<T>,
    ) -> Result<T, StoreError> {
        let now = (self.clock)();
        self.write_at(now, f)
    }

    /// [`SqliteStore::write`] with audit entries dated `now` (the scheduler
    /// passes its own clock).
    pub(super) fn write_at<T>(
        &mut self,
        now: jiff::Timestamp,
        f: impl FnOnce(&Connection, &str) -> R<T>,
    ) -> Result<T, StoreError> {
        let now = now.to_string();
        let path = self.path.clone();
        let out = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let v = f(&tx, &now)?;
            tx.commit()?;
            Ok(v)
        })();
        out.map_err(|e: Fail| match e {
            Fail::Sql(e) => classify(&path, e),
            Fail::Store(e) => e,
        })
    }

    /// Runs a read.
    pub(super) fn read<T>(&self, f: impl FnOnce(&Connection) -> R<T>) -> Result<T, StoreError> {
        f(&self.conn).map_err(|e| match e {
            Fail::Sql(e) => classify(&self.path, e),
            Fail::Store(e) => e,
        })
    }
}

#[cfg(test)]
impl SqliteStore {
    /// Recomputes every incident's aggregates from its alerts (tests compare
    /// this with what the incremental path left).
    pub(super) fn refresh_all(&mut self, p: &Correlation) {
        self.write(|c, now| {
            let ids: Vec<i64> = c
                .prepare("SELECT id FROM incidents")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for id in ids {
                refresh(c, now, IncidentId(id), p)?;
            }
            Ok(())
        })
        .unwrap();
    }
}

pub(super) fn head(c: &Connection) -> rusqlite::Result<(i64, String)> {
    let get = |k: &str| -> rusqlite::Result<Option<String>> {
        c.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .optional()
    };
    let count = get("audit_count")?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let last = get("audit_head")?.unwrap_or_else(|| audit::GENESIS.to_string());
    Ok((count, last))
}

/// Appends one audit entry and moves the head, in the caller's transaction.
pub(super) fn append(
    c: &Connection,
    now: &str,
    actor: &str,
    incident: Option<IncidentId>,
    action: &str,
    detail: serde_json::Value,
) -> R<()> {
    let (count, prev) = head(c)?;
    let seq = count + 1;
    let detail = detail.to_string();
    let hash = audit::hash(seq, now, actor, incident, action, &detail, &prev);
    exec(
        c,
        "INSERT INTO audit (seq, at, actor, incident, action, detail, prev, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            seq,
            now,
            actor,
            incident.map(|i| i.0),
            action,
            detail,
            prev,
            hash
        ],
    )?;
    for (k, v) in [("audit_count", seq.to_string()), ("audit_head", hash)] {
        exec(
            c,
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![k, v],
        )?;
    }
    Ok(())
}

fn entity_key(a: &Alert) -> String {
    a.entities
        .first()
        .map(|e| format!("{}={}", entity_type_name(e.kind), e.value))
        .unwrap_or_default()
}

fn categories_to_text(c: Categories) -> String {
    c.names().join(",")
}

fn categories_from_text(s: &str) -> Categories {
    s.split(',').filter_map(Category::from_name).collect()
}

fn severity_from_text(s: &str) -> Severity {
    match s {
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "critical" => Severity::Critical,
        _ => Severity::High,
    }
}

fn time(us: i64, off: i64) -> EventTime {
    EventTime {
        unix_micros: us,
        offset_secs: off as i32,
    }
}

/// Records one alert: an update of a known one, or a new one joined to the
/// incident it belongs to (or a new incident). An alert that links several
/// incidents (a campaign alert naming addresses that each had their own)
/// merges them into the oldest, unless a person split one of them.
fn record(c: &Connection, now: &str, a: &Alert, closed: bool, p: &Correlation) -> R<Recorded> {
    let key = alert_key(a);
    let ent = entity_key(a);
    // The same alert seen before: under its own key, under an alias, or as
    // the continuation of an alert still open when breachd stopped (the
    // detector lost it and fired again on the re-read lines).
    let mut known: Option<(String, i64)> = c
        .query_row(
            "SELECT a.key, a.incident FROM alerts a
             WHERE a.key = ?1 OR a.key = (SELECT key FROM alert_aliases WHERE alias = ?1)",
            [&key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if known.is_none() && !ent.is_empty() {
        known = c
            .query_row(
                "SELECT key, incident FROM alerts
                 WHERE detector = ?1 AND entity = ?2 AND open = 1 AND end_us >= ?3
                 ORDER BY end_us DESC LIMIT 1",
                params![a.detector, ent, a.start.unix_micros - p.window_us],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((k, _)) = &known {
            exec(
                c,
                "INSERT OR IGNORE INTO alert_aliases (alias, key) VALUES (?1, ?2)",
                params![key, k],
            )?;
        }
    }
    let line = serde_json::to_string(a).unwrap_or_default();
    let mut old_subjects = 0u64;
    // The alert no longer names an entity it named (a surge that took out
    // the guessers of one account): the incident's links are rebuilt.
    let mut unnamed = false;
    if let Some((k, inc)) = &known {
        let (subjects, old_line): (i64, String) = c.query_row(
            "SELECT subjects, line FROM alerts WHERE key = ?1",
            [k],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        old_subjects = subjects.max(0) as u64;
        let changed = exec(
            c,
            "UPDATE alerts SET
                open = CASE WHEN ?2 THEN 0 ELSE open END,
                start_us = min(start_us, ?3),
                end_us = max(end_us, ?4), end_off = CASE WHEN ?4 > end_us THEN ?5 ELSE end_off END,
                severity = CASE WHEN ?6 > sev_rank THEN ?7 ELSE severity END,
                sev_rank = max(sev_rank, ?6),
                subjects = max(subjects, ?8),
                categories = ?9,
                events = max(events, ?10),
                line = CASE WHEN ?4 >= end_us THEN ?11 ELSE line END
             WHERE key = ?1 AND (open != CASE WHEN ?2 THEN 0 ELSE open END
                OR start_us > ?3 OR end_us < ?4 OR sev_rank < ?6 OR subjects < ?8
                OR categories != ?9 OR events < ?10)",
            params![
                k,
                closed,
                a.start.unix_micros,
                a.end.unix_micros,
                a.end.offset_secs,
                a.severity as i64,
                a.severity.as_str(),
                a.subjects as i64,
                categories_to_text(merged_categories(c, k, a.categories)?),
                a.events as i64,
                line
            ],
        )?;
        if changed == 0 {
            // Nothing grew: a re-read or a replay of the same lines.
            return Ok(Recorded {
                incident: IncidentId(*inc),
                opened: false,
                new_alert: false,
            });
        }
        unnamed = lost_links(&old_line, a, p);
        append(
            c,
            now,
            "breachd",
            Some(IncidentId(*inc)),
            "alert_updated",
            serde_json::json!({"alert": k, "end": a.end.to_string(), "subjects": a.subjects, "closed": closed}),
        )?;
    }
    // Which incidents does the alert belong to?
    let mut linked = linked_incidents(
        c,
        a,
        p,
        known.as_ref().map(|(k, _)| k.as_str()).unwrap_or(&key),
    )?;
    if let Some((_, inc)) = &known {
        linked.push(*inc);
    }
    linked.sort_unstable();
    linked.dedup();
    let opened = linked.is_empty();
    let target = match linked.first() {
        Some(id) => IncidentId(*id),
        None => {
            exec(
                c,
                "INSERT INTO incidents (status, severity, title, start_us, start_off, end_us, end_off,
                    detected_us, detected_off, opened_at, updated_at, categories, subjects,
                    subjects_basis, jurisdictions, alerts)
                 VALUES ('open', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, '', 0, '', '[]', 0)",
                params![
                    a.severity.as_str(),
                    title(a),
                    a.start.unix_micros,
                    a.start.offset_secs,
                    a.end.unix_micros,
                    a.end.offset_secs,
                    a.detected_at.unix_micros,
                    a.detected_at.offset_secs,
                    now
                ],
            )?;
            let id = IncidentId(c.last_insert_rowid());
            append(
                c,
                now,
                "breachd",
                Some(id),
                "opened",
                serde_json::json!({"alert": key, "detector": a.detector, "entity": ent}),
            )?;
            if p.aware == AwarePolicy::Detection {
                set_aware(
                    c,
                    now,
                    id,
                    "breachd",
                    "aware_at policy: detection (the incident was opened)",
                )?;
            }
            id
        }
    };
    if known.is_none() {
        exec(
                c,
            "INSERT INTO alerts (key, incident, detector, entity, open, start_us, start_off, end_us, end_off,
                detected_us, detected_off, severity, sev_rank, subjects, categories, events, line)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                key,
                target.0,
                a.detector,
                ent,
                !closed,
                a.start.unix_micros,
                a.start.offset_secs,
                a.end.unix_micros,
                a.end.offset_secs,
                a.detected_at.unix_micros,
                a.detected_at.offset_secs,
                a.severity.as_str(),
                a.severity as i64,
                a.subjects as i64,
                categories_to_text(a.categories),
                a.events as i64,
                line
            ],
        )?;
        if !opened {
            append(
                c,
                now,
                "breachd",
                Some(target),
                "alert_joined",
                serde_json::json!({"alert": key, "detector": a.detector, "entity": ent}),
            )?;
        }
    }
    let own = known.as_ref().map_or(key.as_str(), |(k, _)| k.as_str());
    let mut full = opened;
    for other in linked.iter().skip(1).map(|i| IncidentId(*i)) {
        if pinned(c, other)? {
            // A person split it off: the alert's own incident keeps it.
            continue;
        }
        merge_rows(
            c,
            now,
            target,
            other,
            "breachd",
            &format!("alert {own} links them"),
            p,
        )?;
        full = true;
    }
    // The incident the alert lives in: the target, unless a person pinned
    // it elsewhere.
    let mut home = target;
    if let Some((k, inc)) = &known {
        let inc = IncidentId(*inc);
        let merged_away: Option<i64> = c.query_row(
            "SELECT merged_into FROM incidents WHERE id = ?1",
            [inc.0],
            |r| r.get(0),
        )?;
        if inc != target && merged_away.is_none() {
            if pinned(c, inc)? {
                home = inc;
            } else {
                exec(
                    c,
                    "UPDATE alerts SET incident = ?2 WHERE key = ?1",
                    params![k, target.0],
                )?;
                move_subject_ids(c, Some(k), inc, target)?;
                full = true;
            }
        }
    }
    keep_subject_ids(c, home, own, a, p)?;
    if unnamed {
        rebuild_entities(c, home, p)?;
    } else {
        link_entities(c, home, a, p)?;
    }
    if full || home != target {
        refresh(c, now, home, p)?;
    } else {
        // One alert added or grown: fold it into the incident's aggregates
        // instead of reading every alert again (a campaign has thousands).
        let mut agg = Agg::of_incident(c, home)?;
        let subjects = a.subjects.max(old_subjects);
        if known.is_some() {
            agg.sum_subj = agg.sum_subj.saturating_sub(old_subjects);
            agg.n = agg.n.saturating_sub(1);
        }
        agg.add(
            a.start,
            a.end,
            a.detected_at,
            a.severity as i64,
            a.severity.as_str(),
            subjects,
            a.categories,
        );
        agg.write(c, now, home, p)?;
    }
    Ok(Recorded {
        incident: home,
        opened,
        new_alert: known.is_none(),
    })
}

/// Stores the subject ids `a` exposed under its incident, up to the cap;
/// marks the incident's list incomplete when the cap bites or the alert's
/// own list is incomplete.
fn keep_subject_ids(
    c: &Connection,
    id: IncidentId,
    alert: &str,
    a: &Alert,
    p: &Correlation,
) -> R<()> {
    if a.exposed.ids.is_empty() && !a.exposed.incomplete {
        return Ok(());
    }
    let mut have: u64 = c.query_row(
        "SELECT COUNT(*) FROM incident_subjects WHERE incident = ?1",
        [id.0],
        |r| r.get::<_, i64>(0),
    )? as u64;
    let mut incomplete = a.exposed.incomplete;
    let seen = a.end.to_string();
    let mut ins = c.prepare_cached(
        "INSERT OR IGNORE INTO incident_subjects (incident, subject, first_seen, alert)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut has =
        c.prepare_cached("SELECT 1 FROM incident_subjects WHERE incident = ?1 AND subject = ?2")?;
    for s in &a.exposed.ids {
        if have >= p.max_subject_ids {
            // only a new id is lost to the cap
            if !has.exists(params![id.0, &**s])? {
                incomplete = true;
                break;
            }
            continue;
        }
        have += ins.execute(params![id.0, &**s, seen, alert])? as u64;
    }
    if incomplete {
        exec(
            c,
            "UPDATE incidents SET subject_ids_incomplete = 1 WHERE id = ?1",
            [id.0],
        )?;
    }
    Ok(())
}

/// Moves the subject ids of one alert (or all of them) from one incident to
/// another (a merge, a split, an alert that joined another incident).
fn move_subject_ids(
    c: &Connection,
    alert: Option<&str>,
    from: IncidentId,
    to: IncidentId,
) -> R<()> {
    exec(
        c,
        "INSERT OR IGNORE INTO incident_subjects (incident, subject, first_seen, alert)
         SELECT ?2, subject, first_seen, alert FROM incident_subjects
         WHERE incident = ?1 AND (?3 IS NULL OR alert = ?3)",
        params![from.0, to.0, alert],
    )?;
    exec(
        c,
        "DELETE FROM incident_subjects WHERE incident = ?1 AND (?2 IS NULL OR alert = ?2)",
        params![from.0, alert],
    )?;
    if alert.is_none() {
        exec(
            c,
            "UPDATE incidents SET subject_ids_incomplete = 1 WHERE id = ?2
               AND (SELECT subject_ids_incomplete FROM incidents WHERE id = ?1) = 1",
            params![from.0, to.0],
        )?;
    }
    Ok(())
}

/// Active incidents an alert is linked to: by a shared entity of a linking
/// type within the window, or by sharing lines with another alert: the same
/// first and last event time, or the same firing event and first time (two
/// detectors reading one attack, e.g. the address's failures and the
/// account's), or one alert's first line is the line that made the other
/// fire (the takeover chain that starts at the login a sequence fired on).
fn linked_incidents(c: &Connection, a: &Alert, p: &Correlation, own: &str) -> R<Vec<i64>> {
    let mut out = Vec::new();
    let mut q = c.prepare_cached(
        "SELECT i.id FROM incident_entities e JOIN incidents i ON i.id = e.incident
         WHERE e.type = ?1 AND e.value = ?2 AND i.merged_into IS NULL
           AND i.status IN ('open', 'acknowledged', 'contained')
           AND i.start_us <= ?4 AND i.end_us >= ?3",
    )?;
    for (t, v) in p.links(a) {
        let rows = q.query_map(
            params![
                entity_type_name(t),
                v,
                a.start.unix_micros - p.window_us,
                a.end.unix_micros + p.window_us
            ],
            |r| r.get::<_, i64>(0),
        )?;
        for r in rows {
            out.push(r?);
        }
    }
    let mut q = c.prepare_cached(
        "SELECT DISTINCT al.incident FROM alerts al JOIN incidents i ON i.id = al.incident
         WHERE al.key != ?4
           AND ((al.start_us = ?1 AND (al.end_us = ?2 OR al.detected_us = ?3))
                OR al.detected_us = ?1 OR al.start_us = ?3)
           AND i.merged_into IS NULL AND i.status IN ('open', 'acknowledged', 'contained')",
    )?;
    let rows = q.query_map(
        params![
            a.start.unix_micros,
            a.end.unix_micros,
            a.detected_at.unix_micros,
            own
        ],
        |r| r.get::<_, i64>(0),
    )?;
    for r in rows {
        out.push(r?);
    }
    Ok(out)
}

fn pinned(c: &Connection, id: IncidentId) -> R<bool> {
    Ok(
        c.query_row("SELECT pinned FROM incidents WHERE id = ?1", [id.0], |r| {
            r.get(0)
        })?,
    )
}

/// Moves `from`'s alerts and entities into `into` and marks `from` merged.
fn merge_rows(
    c: &Connection,
    now: &str,
    into: IncidentId,
    from: IncidentId,
    actor: &str,
    reason: &str,
    p: &Correlation,
) -> R<()> {
    exec(
        c,
        "UPDATE alerts SET incident = ?1 WHERE incident = ?2",
        params![into.0, from.0],
    )?;
    exec(
        c,
        "INSERT OR IGNORE INTO incident_entities (type, value, incident)
         SELECT type, value, ?1 FROM incident_entities WHERE incident = ?2",
        params![into.0, from.0],
    )?;
    exec(
        c,
        "DELETE FROM incident_entities WHERE incident = ?1",
        [from.0],
    )?;
    move_subject_ids(c, None, from, into)?;
    exec(
        c,
        "UPDATE incidents SET merged_into = ?2, updated_at = ?3 WHERE id = ?1",
        params![from.0, into.0, now],
    )?;
    refresh(c, now, into, p)?;
    refresh(c, now, from, p)?;
    append(
        c,
        now,
        actor,
        Some(into),
        "merge",
        serde_json::json!({"from": from.to_string(), "reason": reason}),
    )?;
    append(
        c,
        now,
        actor,
        Some(from),
        "merged_into",
        serde_json::json!({"into": into.to_string(), "reason": reason}),
    )?;
    Ok(())
}

fn merged_categories(c: &Connection, key: &str, add: Categories) -> R<Categories> {
    let have: String = c.query_row("SELECT categories FROM alerts WHERE key = ?1", [key], |r| {
        r.get(0)
    })?;
    Ok(categories_from_text(&have).union(add))
}

fn link_entities(c: &Connection, id: IncidentId, a: &Alert, p: &Correlation) -> R<()> {
    let mut ins = c.prepare_cached(
        "INSERT OR IGNORE INTO incident_entities (type, value, incident) VALUES (?1, ?2, ?3)",
    )?;
    for (t, v) in p.links(a) {
        ins.execute(params![entity_type_name(t), v, id.0])?;
    }
    Ok(())
}

/// Whether an alert's earlier line named a linking entity its new one does
/// not.
fn lost_links(old_line: &str, a: &Alert, p: &Correlation) -> bool {
    let old: serde_json::Value = serde_json::from_str(old_line).unwrap_or_default();
    let now: std::collections::HashSet<(&str, &str)> =
        p.links(a).map(|(t, v)| (entity_type_name(t), v)).collect();
    old["entities"].as_array().into_iter().flatten().any(|e| {
        let (Some(t), Some(v)) = (e["type"].as_str(), e["value"].as_str()) else {
            return false;
        };
        let linking =
            crate::incident::entity_type_from_name(t).is_some_and(|k| p.link_types.contains(&k));
        linking && !now.contains(&(t, v))
    })
}

fn title(a: &Alert) -> String {
    if a.summary.is_empty() {
        let ents: Vec<&str> = a
            .entities
            .iter()
            .take(3)
            .map(|e| e.value.as_str())
            .collect();
        format!("{} ({})", a.detector, ents.join(", "))
    } else {
        a.summary.clone()
    }
}

/// An incident's aggregates over its alerts.
struct Agg {
    n: u64,
    start: Option<EventTime>,
    end: Option<EventTime>,
    detected: Option<EventTime>,
    rank: i64,
    sev: String,
    max_subj: u64,
    sum_subj: u64,
    cats: Categories,
}

impl Agg {
    fn empty() -> Agg {
        Agg {
            n: 0,
            start: None,
            end: None,
            detected: None,
            rank: -1,
            sev: "low".into(),
            max_subj: 0,
            sum_subj: 0,
            cats: Categories::default(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        s: EventTime,
        e: EventTime,
        d: EventTime,
        rank: i64,
        sev: &str,
        subjects: u64,
        cats: Categories,
    ) {
        self.n += 1;
        self.start = Some(self.start.map_or(s, |x| x.min(s)));
        self.end = Some(self.end.map_or(e, |x| x.max(e)));
        self.detected = Some(self.detected.map_or(d, |x| x.min(d)));
        if rank > self.rank {
            self.rank = rank;
            self.sev = sev.to_string();
        }
        self.max_subj = self.max_subj.max(subjects);
        self.sum_subj = self.sum_subj.saturating_add(subjects);
        self.cats = self.cats.union(cats);
    }

    /// Read from every alert of the incident.
    fn of_alerts(c: &Connection, id: IncidentId) -> R<Agg> {
        let mut q = c.prepare_cached(
            "SELECT start_us, start_off, end_us, end_off, detected_us, detected_off, sev_rank,
                    severity, subjects, categories
             FROM alerts WHERE incident = ?1",
        )?;
        let rows = q.query_map([id.0], |r| {
            Ok((
                time(r.get(0)?, r.get(1)?),
                time(r.get(2)?, r.get(3)?),
                time(r.get(4)?, r.get(5)?),
                r.get::<_, i64>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, String>(9)?,
            ))
        })?;
        let mut agg = Agg::empty();
        for row in rows {
            let (s, e, d, rk, sv, subj, ct) = row?;
            agg.add(
                s,
                e,
                d,
                rk,
                &sv,
                subj.max(0) as u64,
                categories_from_text(&ct),
            );
        }
        Ok(agg)
    }

    /// Read from the incident's stored aggregates.
    fn of_incident(c: &Connection, id: IncidentId) -> R<Agg> {
        Ok(c.query_row(
            "SELECT start_us, start_off, end_us, end_off, detected_us, detected_off, severity,
                    subjects, subjects_upper, categories, alerts
             FROM incidents WHERE id = ?1",
            [id.0],
            |r| {
                let sev: String = r.get(6)?;
                Ok(Agg {
                    n: r.get::<_, i64>(10)?.max(0) as u64,
                    start: Some(time(r.get(0)?, r.get(1)?)),
                    end: Some(time(r.get(2)?, r.get(3)?)),
                    detected: Some(time(r.get(4)?, r.get(5)?)),
                    rank: severity_from_text(&sev) as i64,
                    sev,
                    max_subj: r.get::<_, i64>(7)?.max(0) as u64,
                    sum_subj: r.get::<_, i64>(8)?.max(0) as u64,
                    cats: categories_from_text(&r.get::<_, String>(9)?),
                })
            },
        )?)
    }

    /// Stores the aggregates, the subjects estimate's basis and confidence,
    /// and the jurisdictions. `None` when the incident has no alerts left.
    fn write(&self, c: &Connection, now: &str, id: IncidentId, p: &Correlation) -> R<Option<()>> {
        let (Some(start), Some(end), Some(detected)) = (self.start, self.end, self.detected) else {
            exec(
                c,
                "UPDATE incidents SET alerts = 0, updated_at = ?2 WHERE id = ?1",
                params![id.0, now],
            )?;
            return Ok(None);
        };
        let (n, max_subj, sum_subj) = (self.n, self.max_subj, self.sum_subj);
        // Alerts of one attack mostly expose the same people (the stuffing
        // campaign and the takeover it led to read the same account), so the
        // largest alert's distinct subjects is the estimate and the sum bounds it.
        let (basis, confidence) = if n == 1 {
            ("distinct subjects the alert's reads exposed (from the logs' subject ids where they carry them, else records and the inventory)".to_string(), "high")
        } else if sum_subj == max_subj {
            (
                format!(
                    "distinct subjects of the largest of {n} alerts; the others exposed none beyond it"
                ),
                "high",
            )
        } else {
            (format!(
                "distinct subjects of the largest of {n} alerts; at most {sum_subj} if the alerts exposed different people"
            ), "medium")
        };
        // Where the logs named the subjects, the ids stored are the count.
        let (ids, incomplete): (i64, bool) = c.query_row(
            "SELECT (SELECT COUNT(*) FROM incident_subjects WHERE incident = ?1),
                    subject_ids_incomplete FROM incidents WHERE id = ?1",
            [id.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (ids, mut max_subj, mut sum_subj) = (ids as u64, max_subj, sum_subj);
        let (basis, confidence) = if ids > 0 && !incomplete && ids >= max_subj {
            (max_subj, sum_subj) = (ids, ids);
            (
                format!(
                    "counted: {ids} distinct subject ids the logs named, stored with the incident"
                ),
                "high",
            )
        } else {
            (basis, confidence)
        };
        let juris = serde_json::to_string(&by_jurisdiction(max_subj, &p.jurisdictions))
            .unwrap_or_else(|_| "[]".into());
        exec(
            c,
            "UPDATE incidents SET start_us = ?2, start_off = ?3, end_us = ?4, end_off = ?5,
                detected_us = ?6, detected_off = ?7, severity = ?8, categories = ?9, subjects = ?10,
                subjects_basis = ?11, jurisdictions = ?12, alerts = ?13, updated_at = ?14,
                subjects_upper = ?15, subjects_confidence = ?16
             WHERE id = ?1",
            params![
                id.0,
                start.unix_micros,
                start.offset_secs,
                end.unix_micros,
                end.offset_secs,
                detected.unix_micros,
                detected.offset_secs,
                self.sev,
                categories_to_text(self.cats),
                max_subj as i64,
                basis,
                juris,
                n as i64,
                now,
                sum_subj as i64,
                confidence
            ],
        )?;
        Ok(Some(()))
    }
}

/// Recomputes an incident's aggregates from all its alerts (after a merge,
/// a split, or an alert moved). `None` when it has no alerts left.
fn refresh(c: &Connection, now: &str, id: IncidentId, p: &Correlation) -> R<Option<()>> {
    Agg::of_alerts(c, id)?.write(c, now, id, p)
}

fn set_aware(c: &Connection, now: &str, id: IncidentId, by: &str, reason: &str) -> R<()> {
    let n = exec(
        c,
        "UPDATE incidents SET aware_at = ?2, aware_by = ?3, aware_reason = ?4
         WHERE id = ?1 AND aware_at IS NULL",
        params![id.0, now, by, reason],
    )?;
    if n > 0 {
        append(
            c,
            now,
            by,
            Some(id),
            "aware",
            serde_json::json!({"aware_at": now, "reason": reason}),
        )?;
    }
    Ok(())
}

const INCIDENT_COLUMNS: &str = "id, status, severity, title, start_us, start_off, end_us, end_off,
    detected_us, detected_off, opened_at, updated_at, aware_at, aware_by, aware_reason,
    categories, subjects, subjects_basis, jurisdictions, alerts, assignee, merged_into, enisa,
    subjects_upper, subjects_confidence";

/// A wall-clock time the store wrote (RFC 3339) in column `idx` of `table`'s
/// row `row`. Text that is no time is an error naming where it is, never a
/// silent 1970.
pub(super) fn ts_at(
    r: &rusqlite::Row<'_>,
    idx: usize,
    table: &str,
    row: i64,
) -> rusqlite::Result<jiff::Timestamp> {
    let text: String = r.get(idx)?;
    parse_ts(&text, r, idx, table, row)
}

/// The schedule's lenient reading (its tables are the scheduler's to make
/// strict): text that is no time reads as 1970.
pub(super) fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn parse_ts(
    text: &str,
    r: &rusqlite::Row<'_>,
    idx: usize,
    table: &str,
    row: i64,
) -> rusqlite::Result<jiff::Timestamp> {
    text.parse().map_err(|e: jiff::Error| {
        let column = r.as_ref().column_name(idx).unwrap_or("?").to_string();
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!(
                "table {table}, row {row}, column {column}: `{text}` is not an RFC 3339 time ({e})"
            )
            .into(),
        )
    })
}

fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Incident> {
    let id: i64 = r.get(0)?;
    let status: String = r.get(1)?;
    let aware_at: Option<String> = r.get(12)?;
    let juris: String = r.get(18)?;
    let enisa: String = r.get(22)?;
    Ok(Incident {
        id: IncidentId(id),
        status: Status::from_name(&status).unwrap_or(Status::Open),
        severity: severity_from_text(&r.get::<_, String>(2)?),
        title: r.get(3)?,
        start: time(r.get(4)?, r.get(5)?),
        end: time(r.get(6)?, r.get(7)?),
        detected_at: time(r.get(8)?, r.get(9)?),
        opened_at: ts_at(r, 10, "incidents", id)?,
        updated_at: ts_at(r, 11, "incidents", id)?,
        aware: match aware_at {
            Some(at) => Some(Aware {
                at: parse_ts(&at, r, 12, "incidents", id)?,
                by: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                reason: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
            }),
            None => None,
        },
        categories: categories_from_text(&r.get::<_, String>(15)?),
        subjects: r.get::<_, i64>(16)?.max(0) as u64,
        subjects_basis: r.get(17)?,
        jurisdictions: serde_json::from_str(&juris).unwrap_or_default(),
        alerts: r.get::<_, i64>(19)?.max(0) as u64,
        assignee: r.get(20)?,
        merged_into: r.get::<_, Option<i64>>(21)?.map(IncidentId),
        enisa_overrides: serde_json::from_str(&enisa).unwrap_or_default(),
        subjects_upper: r.get::<_, i64>(23)?.max(0) as u64,
        subjects_confidence: r.get(24)?,
    })
}

fn load(c: &Connection, id: IncidentId) -> R<Incident> {
    c.query_row(
        &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"),
        [id.0],
        incident_row,
    )
    .optional()?
    .ok_or(Fail::Store(StoreError::NotFound(id)))
}

impl IncidentStore for SqliteStore {
    fn location(&self) -> &str {
        &self.path
    }

    fn record_batch(
        &mut self,
        alerts: &[(Alert, bool)],
        policy: &Correlation,
    ) -> Result<Vec<Recorded>, StoreError> {
        self.write(|c, now| {
            let mut out = Vec::with_capacity(alerts.len());
            for (a, closed) in alerts {
                out.push(record(c, now, a, *closed, policy)?);
            }
            Ok(out)
        })
    }

    fn load_checkpoints(&self) -> Result<Option<Vec<Checkpoint>>, StoreError> {
        let path = self.path.clone();
        let text: Option<String> = self.read(|c| {
            Ok(
                c.query_row("SELECT json FROM checkpoints WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })?;
        match text {
            None => Ok(None),
            Some(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    path,
                    detail: format!("checkpoints: {e}"),
                }),
        }
    }

    fn save_checkpoints(&mut self, all: &[Checkpoint]) -> Result<(), StoreError> {
        let json = serde_json::to_string(all).map_err(|e| StoreError::Other {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        self.write(|c, _| {
            exec(
                c,
                "INSERT INTO checkpoints (id, json) VALUES (1, ?1)
                 ON CONFLICT(id) DO UPDATE SET json = excluded.json",
                [json],
            )?;
            Ok(())
        })
    }

    fn audit_head(&self) -> Result<(i64, String), StoreError> {
        self.read(|c| Ok(head(c)?))
    }

    fn record_alert(
        &mut self,
        alert: &Alert,
        closed: bool,
        policy: &Correlation,
    ) -> Result<Recorded, StoreError> {
        self.write(|c, now| record(c, now, alert, closed, policy))
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<Incident>, StoreError> {
        self.read(|c| {
            let mut q = c.prepare(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY id"
            ))?;
            let rows = q.query_map([], incident_row)?;
            let mut out = Vec::new();
            for r in rows {
                let i = r?;
                if filter.keeps(&i) {
                    out.push(i);
                }
            }
            Ok(out)
        })
    }

    fn get(&self, id: IncidentId) -> Result<IncidentDetail, StoreError> {
        self.read(|c| {
            let incident = load(c, id)?;
            let mut q = c.prepare(
                "SELECT type, value FROM incident_entities WHERE incident = ?1
                 ORDER BY type, value LIMIT ?2",
            )?;
            let entities = q
                .query_map(params![id.0, ENTITIES_SHOWN], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
            let total: i64 = c.query_row(
                "SELECT count(*) FROM incident_entities WHERE incident = ?1",
                [id.0],
                |r| r.get(0),
            )?;
            let mut q = c.prepare(
                "SELECT key, open, line FROM alerts WHERE incident = ?1 ORDER BY detected_us, key",
            )?;
            let evidence = q
                .query_map([id.0], |r| {
                    let line: String = r.get(2)?;
                    Ok(AlertRecord {
                        key: r.get(0)?,
                        incident: id,
                        open: r.get(1)?,
                        alert: serde_json::from_str(&line).unwrap_or(serde_json::Value::Null),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut q = c.prepare(
                "SELECT at, author, text, id FROM notes WHERE incident = ?1 ORDER BY id",
            )?;
            let notes = q
                .query_map([id.0], |r| {
                    Ok(Note {
                        at: ts_at(r, 0, "notes", r.get(3)?)?,
                        author: r.get(1)?,
                        text: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let (subject_ids, subject_ids_incomplete): (i64, bool) = c.query_row(
                "SELECT (SELECT COUNT(*) FROM incident_subjects WHERE incident = ?1),
                        subject_ids_incomplete FROM incidents WHERE id = ?1",
                [id.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(IncidentDetail {
                subject_ids: subject_ids.max(0) as u64,
                subject_ids_incomplete,
                incident,
                entities_more: (total - entities.len() as i64).max(0) as u64,
                entities,
                evidence,
                notes,
            })
        })
    }

    fn change(
        &mut self,
        id: IncidentId,
        change: &Change,
        actor: &str,
        policy: &Correlation,
    ) -> Result<bool, StoreError> {
        self.write(|c, now| {
            let i = load(c, id)?;
            if let Some(into) = i.merged_into {
                return Err(StoreError::Refused(format!(
                    "{id} was merged into {into}; change {into} instead"
                ))
                .into());
            }
            match change {
                Change::Status { to, reason } => {
                    i.status.check(*to).map_err(StoreError::Refused)?;
                    exec(
                c,
                        "UPDATE incidents SET status = ?2, updated_at = ?3 WHERE id = ?1",
                        params![id.0, to.as_str(), now],
                    )?;
                    append(
                        c,
                        now,
                        actor,
                        Some(id),
                        "status",
                        serde_json::json!({"from": i.status.as_str(), "to": to.as_str(), "reason": reason}),
                    )?;
                    // A person who contains or resolves an incident without
                    // acknowledging it first is aware of it all the same.
                    let triaged = matches!(
                        to,
                        Status::Acknowledged | Status::Contained | Status::Resolved
                    );
                    if triaged && policy.aware == AwarePolicy::Acknowledgement {
                        set_aware(
                            c,
                            now,
                            id,
                            actor,
                            &format!(
                                "aware_at policy: acknowledgement ({actor} moved the incident to {})",
                                to.as_str()
                            ),
                        )?;
                    }
                    Ok(true)
                }
                Change::Note(text) => {
                    exec(
                c,
                        "INSERT INTO notes (incident, at, author, text) VALUES (?1, ?2, ?3, ?4)",
                        params![id.0, now, actor, text],
                    )?;
                    exec(
                c,
                        "UPDATE incidents SET updated_at = ?2 WHERE id = ?1",
                        params![id.0, now],
                    )?;
                    append(c, now, actor, Some(id), "note", serde_json::json!({"text": text}))?;
                    Ok(true)
                }
                Change::Assign(who) => {
                    if i.assignee.as_deref() == Some(who.as_str()) {
                        return Ok(false);
                    }
                    exec(
                c,
                        "UPDATE incidents SET assignee = ?2, updated_at = ?3 WHERE id = ?1",
                        params![id.0, who, now],
                    )?;
                    append(
                        c,
                        now,
                        actor,
                        Some(id),
                        "assign",
                        serde_json::json!({"from": i.assignee, "to": who}),
                    )?;
                    Ok(true)
                }
                Change::Enisa { overrides, reason } => {
                    let mut merged: Overrides = i.enisa_overrides.clone();
                    merged.apply(overrides);
                    if merged == i.enisa_overrides {
                        return Ok(false);
                    }
                    let text = serde_json::to_string(&merged).unwrap_or_else(|_| "{}".into());
                    exec(
                c,
                        "UPDATE incidents SET enisa = ?2, updated_at = ?3 WHERE id = ?1",
                        params![id.0, text, now],
                    )?;
                    append(
                        c,
                        now,
                        actor,
                        Some(id),
                        "severity_override",
                        serde_json::json!({"set": overrides, "now": merged, "reason": reason}),
                    )?;
                    Ok(true)
                }
            }
        })
    }

    fn merge(
        &mut self,
        into: IncidentId,
        from: IncidentId,
        actor: &str,
        reason: &str,
        policy: &Correlation,
    ) -> Result<(), StoreError> {
        if into == from {
            return Err(StoreError::Refused(format!(
                "cannot merge {into} into itself"
            )));
        }
        self.write(|c, now| {
            let a = load(c, into)?;
            let b = load(c, from)?;
            for i in [&a, &b] {
                if let Some(m) = i.merged_into {
                    return Err(StoreError::Refused(format!(
                        "{} was already merged into {m}",
                        i.id
                    ))
                    .into());
                }
            }
            merge_rows(c, now, into, from, actor, reason, policy)
        })
    }

    fn split(
        &mut self,
        id: IncidentId,
        alert_keys: &[String],
        actor: &str,
        reason: &str,
        policy: &Correlation,
    ) -> Result<IncidentId, StoreError> {
        self.write(|c, now| {
            let i = load(c, id)?;
            if let Some(m) = i.merged_into {
                return Err(StoreError::Refused(format!("{id} was merged into {m}; split {m}")).into());
            }
            if alert_keys.is_empty() {
                return Err(StoreError::Refused("name at least one alert to split off (`breachd incident show` lists their keys)".into()).into());
            }
            for k in alert_keys {
                let owner: Option<i64> = c
                    .query_row("SELECT incident FROM alerts WHERE key = ?1", [k], |r| r.get(0))
                    .optional()?;
                if owner != Some(id.0) {
                    return Err(StoreError::Refused(format!(
                        "alert `{k}` is not part of {id} (`breachd incident show {id}` lists its alerts)"
                    ))
                    .into());
                }
            }
            if alert_keys.len() as u64 >= i.alerts {
                return Err(StoreError::Refused(format!(
                    "splitting off every alert of {id} would leave it empty; split off fewer"
                ))
                .into());
            }
            exec(
                c,
                "INSERT INTO incidents (status, severity, title, start_us, start_off, end_us, end_off,
                    detected_us, detected_off, opened_at, updated_at, aware_at, aware_by, aware_reason,
                    categories, subjects, subjects_basis, jurisdictions, alerts, assignee,
                    subjects_upper, subjects_confidence)
                 SELECT status, severity, title, start_us, start_off, end_us, end_off,
                    detected_us, detected_off, ?2, ?2, aware_at, aware_by, aware_reason,
                    categories, subjects, subjects_basis, jurisdictions, alerts, assignee,
                    subjects_upper, subjects_confidence
                 FROM incidents WHERE id = ?1",
                params![id.0, now],
            )?;
            let new = IncidentId(c.last_insert_rowid());
            exec(
                c,
                "UPDATE incidents SET pinned = 1 WHERE id IN (?1, ?2)",
                params![id.0, new.0],
            )?;
            for k in alert_keys {
                exec(
                c,
                    "UPDATE alerts SET incident = ?2 WHERE key = ?1",
                    params![k, new.0],
                )?;
                move_subject_ids(c, Some(k), id, new)?;
            }
            for inc in [id, new] {
                rebuild_entities(c, inc, policy)?;
                refresh(c, now, inc, policy)?;
            }
            append(
                c,
                now,
                actor,
                Some(id),
                "split",
                serde_json::json!({"alerts": alert_keys, "into": new.to_string(), "reason": reason}),
            )?;
            append(
                c,
                now,
                actor,
                Some(new),
                "split_from",
                serde_json::json!({"from": id.to_string(), "alerts": alert_keys, "reason": reason}),
            )?;
            Ok(new)
        })
    }

    fn subject_ids(&self, id: IncidentId) -> Result<Vec<ExposedSubject>, StoreError> {
        self.read(|c| {
            load(c, id)?;
            let mut q = c.prepare(
                "SELECT subject, first_seen, alert FROM incident_subjects
                 WHERE incident = ?1 ORDER BY subject",
            )?;
            let rows = q
                .query_map([id.0], |r| {
                    Ok(ExposedSubject {
                        subject: r.get(0)?,
                        first_seen: r.get(1)?,
                        alert: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn incident_of(&self, alert_key: &str) -> Result<Option<IncidentId>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT incident FROM alerts WHERE key = ?1
                 OR key = (SELECT key FROM alert_aliases WHERE alias = ?1)",
                [alert_key],
                |r| r.get(0).map(IncidentId),
            )
            .optional()?)
        })
    }

    fn audit(&self, incident: Option<IncidentId>) -> Result<Vec<Entry>, StoreError> {
        self.read(|c| Ok(entries(c, incident)?))
    }

    fn verify_audit(&self) -> Result<audit::Verdict, StoreError> {
        self.read(|c| {
            // One snapshot for both reads (WAL gives each autocommit statement
            // its own): a daemon appending in between is not a cut tail.
            let tx = c.unchecked_transaction()?;
            let all = entries(&tx, None)?;
            let (count, last) = head(&tx)?;
            tx.finish()?;
            let head = (count > 0).then_some((count, last));
            Ok(audit::verify(&all, head))
        })
    }
}

/// An incident's entities from its alerts' lines (after a split).
fn rebuild_entities(c: &Connection, id: IncidentId, p: &Correlation) -> R<()> {
    exec(
        c,
        "DELETE FROM incident_entities WHERE incident = ?1",
        [id.0],
    )?;
    let lines: Vec<String> = c
        .prepare("SELECT line FROM alerts WHERE incident = ?1")?
        .query_map([id.0], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut ins = c.prepare_cached(
        "INSERT OR IGNORE INTO incident_entities (type, value, incident) VALUES (?1, ?2, ?3)",
    )?;
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        for e in v["entities"].as_array().into_iter().flatten() {
            let (Some(t), Some(val)) = (e["type"].as_str(), e["value"].as_str()) else {
                continue;
            };
            let linked = crate::incident::entity_type_from_name(t)
                .is_some_and(|k| p.link_types.contains(&k));
            if linked {
                ins.execute(params![t, val, id.0])?;
            }
        }
    }
    Ok(())
}

fn entries(c: &Connection, incident: Option<IncidentId>) -> rusqlite::Result<Vec<Entry>> {
    let mut q = c.prepare(
        "SELECT seq, at, actor, incident, action, detail, prev, hash FROM audit
         WHERE ?1 IS NULL OR incident = ?1 ORDER BY rowid",
    )?;
    let rows = q.query_map([incident.map(|i| i.0)], |r| {
        Ok(Entry {
            seq: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            incident: r.get::<_, Option<i64>>(3)?.map(IncidentId),
            action: r.get(4)?,
            detail: r.get(5)?,
            prev: r.get(6)?,
            hash: r.get(7)?,
        })
    })?;
    rows.collect()
}
