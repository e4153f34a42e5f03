//! The durable store: one SQLite file (WAL, durable commits) behind the
//! stages' storage traits ([`crate::incident::IncidentStore`] and
//! [`crate::playbook::schedule::ScheduleStore`]).
//!
//! Every trait call is one `BEGIN IMMEDIATE` transaction, so a call either
//! happened with its audit entry or not at all, and the daemon and the CLI can
//! write the same file at once (a writer waits for the other's transaction,
//! up to `BUSY_WAIT`). Schema migrations run on open, in order, each in its own
//! transaction; a file from a newer breachd is refused, not touched.

mod incidents;
mod outbox;
mod schedule;
mod subjects;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::incident::{IncidentStore, StoreError};
use crate::playbook::schedule::ScheduleStore;

/// How long a writer waits for another process's transaction.
const BUSY_WAIT: Duration = Duration::from_secs(10);

/// The schema, one migration per version (`PRAGMA user_version`).
const MIGRATIONS: &[&str] = &[
    // 1: incidents, their alerts and entities, notes, the audit trail.
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    start_us INTEGER NOT NULL, start_off INTEGER NOT NULL,
    end_us INTEGER NOT NULL, end_off INTEGER NOT NULL,
    detected_us INTEGER NOT NULL, detected_off INTEGER NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    aware_at TEXT, aware_by TEXT, aware_reason TEXT,
    categories TEXT NOT NULL,
    subjects INTEGER NOT NULL,
    subjects_basis TEXT NOT NULL,
    subjects_upper INTEGER NOT NULL DEFAULT 0,
    subjects_confidence TEXT NOT NULL DEFAULT '',
    jurisdictions TEXT NOT NULL,
    alerts INTEGER NOT NULL,
    assignee TEXT,
    merged_into INTEGER REFERENCES incidents(id),
    enisa TEXT NOT NULL DEFAULT '{}',
    pinned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incidents_status ON incidents(status, end_us);
CREATE TABLE incident_entities (
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    PRIMARY KEY (type, value, incident)
) WITHOUT ROWID;
CREATE INDEX incident_entities_incident ON incident_entities(incident);
CREATE TABLE alerts (
    key TEXT PRIMARY KEY,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    detector TEXT NOT NULL,
    entity TEXT NOT NULL,
    open INTEGER NOT NULL,
    start_us INTEGER NOT NULL, start_off INTEGER NOT NULL,
    end_us INTEGER NOT NULL, end_off INTEGER NOT NULL,
    detected_us INTEGER NOT NULL, detected_off INTEGER NOT NULL,
    severity TEXT NOT NULL,
    sev_rank INTEGER NOT NULL,
    subjects INTEGER NOT NULL,
    categories TEXT NOT NULL,
    events INTEGER NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX alerts_incident ON alerts(incident);
CREATE INDEX alerts_continuing ON alerts(detector, entity, open);
CREATE INDEX alerts_lines ON alerts(start_us, end_us);
CREATE INDEX alerts_fired ON alerts(detected_us);
CREATE TABLE alert_aliases (alias TEXT PRIMARY KEY, key TEXT NOT NULL REFERENCES alerts(key));
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    at TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    incident INTEGER,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_incident ON audit(incident);
CREATE TABLE checkpoints (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"#,
    // 2: scheduler: playbook versions, per-incident plans pinned to a
    // version, planned steps, firings (the outbox), and what firings record
    // (drafts, deadlines, tasks); a person's determination (the SEC clock).
    r#"
CREATE TABLE playbook_versions (
    version TEXT PRIMARY KEY,
    regime TEXT NOT NULL,
    file TEXT NOT NULL,
    source TEXT NOT NULL,
    first_seen TEXT NOT NULL
);
CREATE TABLE plans (
    incident INTEGER NOT NULL REFERENCES incidents(id),
    regime TEXT NOT NULL,
    version TEXT NOT NULL REFERENCES playbook_versions(version),
    planned_at TEXT NOT NULL,
    planned_by TEXT NOT NULL,
    facts TEXT NOT NULL,
    PRIMARY KEY (incident, regime)
);
CREATE TABLE schedule_steps (
    id INTEGER PRIMARY KEY,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    regime TEXT NOT NULL,
    step TEXT NOT NULL,
    recurring INTEGER NOT NULL,
    state TEXT NOT NULL,
    due_at TEXT,
    due_us INTEGER,
    fired INTEGER NOT NULL DEFAULT 0,
    last_fired_at TEXT,
    note TEXT,
    UNIQUE (incident, regime, step)
);
CREATE INDEX schedule_steps_live ON schedule_steps(state, due_us);
CREATE TABLE firings (
    id INTEGER PRIMARY KEY,
    step_row INTEGER NOT NULL REFERENCES schedule_steps(id),
    incident INTEGER NOT NULL REFERENCES incidents(id),
    regime TEXT NOT NULL,
    step TEXT NOT NULL,
    version TEXT NOT NULL,
    effect TEXT NOT NULL,
    basis TEXT,
    due_at TEXT NOT NULL,
    due_us INTEGER NOT NULL,
    fired_at TEXT NOT NULL,
    late_secs INTEGER NOT NULL,
    delivery TEXT NOT NULL,
    UNIQUE (step_row, due_us)
);
CREATE INDEX firings_incident ON firings(incident);
CREATE INDEX firings_delivery ON firings(delivery);
CREATE TABLE drafts (
    id INTEGER PRIMARY KEY,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    regime TEXT NOT NULL,
    template TEXT NOT NULL,
    recipient TEXT NOT NULL,
    firing INTEGER NOT NULL UNIQUE REFERENCES firings(id),
    status TEXT NOT NULL DEFAULT 'pending_approval',
    created_at TEXT NOT NULL
);
CREATE TABLE deadlines (
    incident INTEGER NOT NULL REFERENCES incidents(id),
    regime TEXT NOT NULL,
    recipient TEXT NOT NULL,
    due_at TEXT NOT NULL,
    basis TEXT,
    firing INTEGER NOT NULL REFERENCES firings(id),
    PRIMARY KEY (incident, regime, recipient)
);
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    regime TEXT NOT NULL,
    title TEXT NOT NULL,
    basis TEXT,
    firing INTEGER NOT NULL UNIQUE REFERENCES firings(id),
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL
);
CREATE TABLE determinations (
    incident INTEGER PRIMARY KEY REFERENCES incidents(id),
    determined_at TEXT,
    material INTEGER NOT NULL,
    by TEXT NOT NULL,
    reason TEXT NOT NULL
);
"#,
    // 3: the notification outbox (one row per message, claimed with a
    // lease), and drafts that carry their text, edits and approval.
    r#"
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    incident INTEGER REFERENCES incidents(id),
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    notification TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_us INTEGER NOT NULL,
    last_error TEXT,
    receipt TEXT,
    draft INTEGER REFERENCES drafts(id),
    firing INTEGER REFERENCES firings(id),
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_us);
CREATE INDEX outbox_incident ON outbox(incident);
CREATE INDEX outbox_draft ON outbox(draft);
ALTER TABLE drafts ADD COLUMN locale TEXT;
ALTER TABLE drafts ADD COLUMN subject TEXT;
ALTER TABLE drafts ADD COLUMN body TEXT;
ALTER TABLE drafts ADD COLUMN generated_body TEXT;
ALTER TABLE drafts ADD COLUMN path TEXT;
ALTER TABLE drafts ADD COLUMN edited_by TEXT;
ALTER TABLE drafts ADD COLUMN edited_at TEXT;
ALTER TABLE drafts ADD COLUMN approved_by TEXT;
ALTER TABLE drafts ADD COLUMN approved_at TEXT;
ALTER TABLE drafts ADD COLUMN approval_reason TEXT;
"#,
    // 4: per-subject notice campaigns: the draft they send, and each
    // affected subject's state (waiting, queued in the outbox, unknown to
    // the directory).
    r#"
CREATE TABLE subject_campaigns (
    draft INTEGER PRIMARY KEY REFERENCES drafts(id),
    incident INTEGER NOT NULL REFERENCES incidents(id),
    channel TEXT NOT NULL,
    texts TEXT NOT NULL,
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL
);
CREATE TABLE campaign_subjects (
    draft INTEGER NOT NULL REFERENCES subject_campaigns(draft),
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (draft, subject)
) WITHOUT ROWID;
"#,
    // 5: the data subjects' ids an incident's alerts exposed (the alert that
    // first named each, so a split can take its ids along), and whether the
    // list is incomplete (a cap bit, or ids read before an alert were no
    // longer remembered).
    r#"
CREATE TABLE incident_subjects (
    incident INTEGER NOT NULL REFERENCES incidents(id),
    subject TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    alert TEXT NOT NULL,
    PRIMARY KEY (incident, subject)
) WITHOUT ROWID;
ALTER TABLE incidents ADD COLUMN subject_ids_incomplete INTEGER NOT NULL DEFAULT 0;
"#,
];

/// The file name of the store inside the data directory.
pub const FILE_NAME: &str = "breachd.db";

/// The SQLite backend.
pub struct SqliteStore {
    conn: Connection,
    path: String,
    clock: fn() -> jiff::Timestamp,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Unwritable {
                path: shown.clone(),
                detail: format!("creating {}: {e}", dir.display()),
            })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(&shown, e))?;
        SqliteStore::setup(conn, shown)
    }

    /// A store that lives in memory only (replay without `--store`).
    pub fn in_memory() -> SqliteStore {
        let conn = Connection::open_in_memory().expect("SQLite in memory");
        SqliteStore::setup(conn, ":memory:".into()).expect("migrating an in-memory store")
    }

    /// The store in a data directory.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    fn setup(conn: Connection, path: String) -> Result<SqliteStore, StoreError> {
        let err = |e| classify(&path, e);
        conn.busy_timeout(BUSY_WAIT).map_err(err)?;
        // WAL lets the CLI read while the daemon writes; FULL makes a commit
        // durable once it returns.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        // recording an alert runs a few dozen distinct statements, each
        // prepared once (`incidents::exec`)
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = SqliteStore {
            conn,
            path,
            clock: jiff::Timestamp::now,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Replaces the wall clock (tests move time instead of sleeping).
    pub fn with_clock(mut self, clock: fn() -> jiff::Timestamp) -> SqliteStore {
        self.clock = clock;
        self
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
                .map_err(err)?;
            // Another process may have migrated while this one waited.
            let now: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(err)?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(err)?;
            tx.commit().map_err(err)?;
            tracing::info!(store = %self.path, version = i + 1, "store schema migrated");
        }
        Ok(())
    }
}

/// Opens (creating if needed) the store at `path`, behind the trait every
/// caller uses.
pub fn open(path: &Path) -> Result<Box<dyn IncidentStore>, StoreError> {
    Ok(Box::new(SqliteStore::open(path)?))
}

/// Opens the store at `path` for the scheduler (a second handle on the same
/// file beside the [`IncidentStore`] one).
pub fn open_schedule(path: &Path) -> Result<Box<dyn ScheduleStore>, StoreError> {
    Ok(Box::new(SqliteStore::open(path)?))
}

/// Opens the store at `path` for the notification outbox and drafts (the
/// delivery thread's own handle).
pub fn open_outbox(path: &Path) -> Result<Box<dyn crate::notify::outbox::OutboxStore>, StoreError> {
    Ok(Box::new(SqliteStore::open(path)?))
}

/// Opens the store at `path` for the outbox and drafts together.
pub fn open_notify(
    path: &Path,
) -> Result<Box<dyn crate::notify::courier::NotifyStore>, StoreError> {
    Ok(Box::new(SqliteStore::open(path)?))
}

/// Opens the store at `path` for per-subject notice campaigns (with the
/// outbox and drafts they use).
pub fn open_campaign(
    path: &Path,
) -> Result<Box<dyn crate::notify::subjects::CampaignStore>, StoreError> {
    Ok(Box::new(SqliteStore::open(path)?))
}

/// A store in memory only (replay without `--store`).
pub fn in_memory() -> Box<dyn IncidentStore> {
    Box::new(SqliteStore::in_memory())
}

/// Maps SQLite's errors to ones that say what to do.
fn classify(path: &str, e: rusqlite::Error) -> StoreError {
    let path = path.to_string();
    if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &e {
        // a value breachd wrote that no longer reads (an edited row)
        return StoreError::Corrupt {
            path,
            detail: inner.to_string(),
        };
    }
    let detail = e.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
            path,
            waited_ms: BUSY_WAIT.as_millis() as u64,
        },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt { path, detail }
        }
        Some(
            ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::SystemIoFailure
            | ErrorCode::TooBig,
        ) => StoreError::Unwritable { path, detail },
        _ => StoreError::Other { path, detail },
    }
}

#[cfg(test)]
mod tests;
