//! The daemon's wiring: file sources → pipeline → the next stage, woken by
//! inotify (or a poll timer), checkpointing on an interval and on shutdown.
//!
//! Order that makes a crash lose nothing: events are handed on and flushed,
//! and the alerts they raised are committed to the store (joined to their
//! incidents), *before* the checkpoint that records their lines is written —
//! in the store too. After `kill -9` a restart re-reads at most the lines
//! consumed since the last checkpoint (one `checkpoint_interval`, 1 s by
//! default); alerts those lines raise again are recognised by their keys (or
//! continue the alert left open) and join the same incident. When the store
//! cannot be written (full disk, read-only), alerts wait in memory and the
//! checkpoint does not move: nothing is checkpointed that is not persisted.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::{Config, Watch};
use crate::detect::alert::Alert;
use crate::detect::Engine;
use crate::incident::{Correlation, IncidentStore};
use crate::parse::Event;
use crate::pipeline::{EventSink, Stats};
use crate::source::checkpoint::CheckpointStore;
use crate::source::file::{idle_wait, FileSource};

/// How often the daemon logs its counters.
const STATS_EVERY: Duration = Duration::from_secs(60);

/// The `[events]` file: every normalized event as a JSON line.
struct EventsFile {
    out: BufWriter<File>,
}

impl EventsFile {
    fn open(path: &Path) -> io::Result<EventsFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)?;
        drop_partial_line(&f, path)?;
        Ok(EventsFile {
            out: BufWriter::with_capacity(256 * 1024, f),
        })
    }
}

/// A `kill -9` while a full buffer was being written leaves half a line at
/// the end; the lines it came from were not checkpointed and are read again,
/// so the half is cut off rather than joined to the next line written.
fn drop_partial_line(f: &File, path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = f.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let n = buf.len().min(end as usize);
        f.read_exact_at(&mut buf[..n], end - n as u64)?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            end = end - n as u64 + i as u64 + 1;
            break;
        }
        end -= n as u64;
    }
    if end < len {
        tracing::warn!(path = %path.display(), bytes = len - end, "cut a half-written last line (breachd was killed while writing it)");
        f.set_len(end)?;
    }
    Ok(())
}

/// What the sources feed: the optional events file, then classify and detect.
/// Alerts go to the store (opened and closed, each joined to its incident),
/// to breachd's log when they open, so on-call sees them at once, and to
/// `DATA_DIR/alerts.jsonl` (one line per alert when it closes, with its
/// incident).
struct Downstream {
    events: Option<EventsFile>,
    inventory: std::sync::Arc<crate::classify::Inventory>,
    engine: Engine,
    alerts: EventsFile,
    store: Box<dyn IncidentStore>,
    policy: Correlation,
    /// Alerts not yet committed to the store; `true` when closed.
    pending: Vec<(Alert, bool)>,
    /// When the store last refused a write (errors are logged once a minute).
    store_failing: Option<Instant>,
    /// Stopping: alerts still open are written to `alerts.jsonl` as they stand.
    stopping: bool,
    /// An incident opened since the scheduler last ticked (its page is due now).
    opened: bool,
    /// Counters shown at `/metrics`.
    metrics: Option<Arc<crate::api::Metrics>>,
}

impl Downstream {
    /// Commits pending alerts to the store, then writes the closed ones to
    /// `alerts.jsonl` with their incidents. On a store error the alerts stay
    /// pending and `false` is returned: the caller must not checkpoint.
    fn commit_alerts(&mut self) -> io::Result<bool> {
        self.announce();
        if self.pending.is_empty() {
            return Ok(true);
        }
        match self.store.record_batch(&self.pending, &self.policy) {
            Ok(recorded) => {
                if self.store_failing.take().is_some() {
                    tracing::info!(store = %self.store.location(), "the store accepts writes again");
                }
                for ((mut a, closed), r) in
                    std::mem::take(&mut self.pending).into_iter().zip(recorded)
                {
                    let id = r.incident.to_string();
                    if r.opened {
                        self.opened = true;
                        tracing::warn!(incident_id = %id, detector = %a.detector, "incident opened");
                    } else if r.new_alert {
                        tracing::info!(incident_id = %id, detector = %a.detector, "alert joined an incident");
                    }
                    if closed || self.stopping {
                        a.incident = Some(id);
                        serde_json::to_writer(&mut self.alerts.out, &a)?;
                        self.alerts.out.write_all(b"\n")?;
                    }
                }
                self.alerts.out.flush()?;
                Ok(true)
            }
            Err(e) => {
                let quiet = self
                    .store_failing
                    .is_some_and(|t| t.elapsed() < STATS_EVERY);
                if !quiet {
                    tracing::error!(
                        error = %e,
                        pending_alerts = self.pending.len(),
                        "cannot commit alerts to the store; they are kept in memory and the log checkpoints wait"
                    );
                    self.store_failing = Some(Instant::now());
                }
                Ok(false)
            }
        }
    }

    /// Logs alerts that opened since the last call and queues them for the store.
    fn announce(&mut self) {
        for a in self.engine.take_opened() {
            let entities: Vec<&str> = a
                .entities
                .iter()
                .take(5)
                .map(|e| e.value.as_str())
                .collect();
            tracing::warn!(
                detector = %a.detector,
                severity = a.severity.as_str(),
                entities = ?entities,
                detected_at = %a.detected_at,
                subjects = a.subjects,
                "alert"
            );
            if let Some(m) = &self.metrics {
                m.alert_opened(a.severity);
            }
            self.pending.push((a, false));
        }
    }
}

impl EventSink for Downstream {
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        if let Some(f) = &mut self.events {
            serde_json::to_writer(&mut f.out, ev)?;
            f.out.write_all(b"\n")?;
        }
        let class = self.inventory.classify(ev);
        self.engine.observe(ev, &class);
        if self.engine.has_closed() {
            // opened first: an alert that opens and closes at once keeps its order
            self.announce();
            let closed = self.engine.take_closed();
            self.pending.extend(closed.into_iter().map(|a| (a, true)));
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(f) = &mut self.events {
            f.out.flush()?;
            f.out.get_ref().sync_data()?;
        }
        // alerts.jsonl is a readable copy; the store is the durable record
        // of alerts, so the checkpoint waits for no fsync of it.
        self.alerts.out.flush()?;
        Ok(())
    }
}

/// Runs until SIGTERM or SIGINT; flushes and checkpoints before returning.
pub fn run(config: &Config) -> anyhow::Result<()> {
    // Signals first: a stop asked while the store opens is honoured cleanly.
    let (wake_tx, wake_rx) = mpsc::channel::<()>();
    let stop = Arc::new(AtomicBool::new(false));
    // SIGHUP (and the API's reload) set this; the loop reloads on its next turn.
    let reload = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let reload = reload.clone();
        let tx = wake_tx.clone();
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGHUP,
        ])
        .context("installing signal handlers")?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if sig == signal_hook::consts::SIGHUP {
                        tracing::info!(signal = sig, "reload asked");
                        reload.store(true, Ordering::SeqCst);
                        let _ = tx.send(());
                        continue;
                    }
                    tracing::info!(signal = sig, "stopping");
                    stop.store(true, Ordering::SeqCst);
                    let _ = tx.send(());
                    break;
                }
            })?;
    }
    let incidents = crate::store::open(&config.store_path)?;
    let (entries, head) = incidents.audit_head()?;
    tracing::info!(store = %config.store_path.display(), audit_entries = entries, audit_head = %head, "store open");
    let verdict = incidents.verify_audit()?;
    if !verdict.ok {
        // Keep running: detection must go on; the trail's damage is reported.
        tracing::error!(
            problems = ?verdict.problems,
            "the audit trail does not verify: entries were edited, removed or reordered outside breachd (`breachd audit verify` lists them)"
        );
    }
    // The scheduler: a second handle on the same store file.
    let mut schedule_store = crate::store::open_schedule(&config.store_path)?;
    let mut scheduler = crate::playbook::schedule::Scheduler::new(config.playbooks.clone())
        .with_sectors(config.sectors.clone())
        // fired notify/escalate steps go to the outbox; a thread delivers them
        .with_dispatch(crate::notify::courier::start(config, crate::cli::now)?);
    let mut saved = match incidents.load_checkpoints()? {
        Some(c) => c,
        None => {
            // First start with the store: take over the JSON checkpoints of
            // an older breachd, if any.
            let legacy = CheckpointStore::open(&config.data_dir)?.load()?;
            if !legacy.is_empty() {
                tracing::info!(
                    files = legacy.len(),
                    "checkpoints moved from checkpoints.json into the store"
                );
            }
            legacy
        }
    };
    let mut sources: Vec<FileSource> = config
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mine = extract(&mut saved, |c| c.source == s.name);
            FileSource::new(s.clone(), i as u32, config.max_line_bytes, mine)
        })
        .collect();
    let alerts_path = config.data_dir.join("alerts.jsonl");
    let mut downstream = Downstream {
        events: match &config.events_path {
            Some(p) => Some(
                EventsFile::open(p)
                    .with_context(|| format!("opening the events file {}", p.display()))?,
            ),
            None => None,
        },
        inventory: config.inventory.clone(),
        engine: Engine::new(config.rules.clone(), config.max_keys)
            .with_sigma(config.sigma.clone())
            .with_subjects_total(config.inventory.subjects_total)
            .with_opened_queue(),
        alerts: EventsFile::open(&alerts_path)
            .with_context(|| format!("opening the alerts file {}", alerts_path.display()))?,
        store: incidents,
        policy: config.correlation.clone(),
        pending: Vec::new(),
        store_failing: None,
        stopping: false,
        opened: false,
        metrics: None,
    };

    // ---- operations: counters for /metrics, the API, systemd readiness ----
    let names: Vec<&str> = sources.iter().map(FileSource::name).collect();
    let metrics = Arc::new(crate::api::Metrics::new(&names));
    downstream.metrics = Some(metrics.clone());
    if let Some(api) = &config.api {
        let control = crate::api::Control::new(reload.clone(), wake_tx.clone());
        crate::api::start(api.clone(), config, metrics.clone(), control)?;
    }
    let mut reloaded: Option<Config> = None;
    let mut last_publish = Instant::now()
        .checked_sub(Duration::from_secs(60))
        .unwrap_or_else(Instant::now);
    let mut watchdog = Watchdog::from_env();
    // ---- end operations ----

    let mut watching = watch(&sources, config, wake_tx)?;

    tracing::info!(sources = sources.len(), data_dir = %config.data_dir.display(), "breachd running");
    // The store is open and the checkpoints are loaded: systemd may start
    // what depends on breachd.
    sd_notify("READY=1\nSTATUS=tailing");
    let wait = idle_wait(&sources);
    // The first lines read are checkpointed at once: until a file's identity
    // is recorded, a rotation during a crash would hide it from the restart.
    let mut last_checkpoint = Instant::now()
        .checked_sub(config.checkpoint_interval)
        .unwrap_or_else(Instant::now);
    let mut last_stats = Instant::now();
    let mut dirty = false;
    let mut last_line = (Instant::now(), i64::MIN);
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping && reload.swap(false, Ordering::SeqCst) {
            let base = reloaded.as_ref().unwrap_or(config);
            if let Some(new) = apply_reload(base, &mut downstream, &mut scheduler, &metrics) {
                reloaded = Some(new);
            }
        }
        if !watching.pending.is_empty() {
            watching.retry();
        }
        let mut read = 0;
        for s in &mut sources {
            match s.poll(&mut downstream) {
                Ok(n) => {
                    read += n;
                    dirty |= n > 0;
                }
                Err(e) => {
                    tracing::error!(source = s.name(), error = %e, "reading a source failed; retrying next cycle")
                }
            }
        }
        // Quiet logs must still close alerts: once caught up (nothing read
        // this cycle), event time advances with the clock.
        // Event time moves on by the wall time elapsed since the last line,
        // so a skewed clock or a misread zone does not expire live state.
        if read > 0 {
            last_line = (Instant::now(), downstream.engine.now());
        } else if last_line.1 != i64::MIN {
            let idle = last_line.0.elapsed().as_micros().min(i64::MAX as u128) as i64;
            downstream
                .engine
                .advance_to(last_line.1.saturating_add(idle));
        }
        if downstream.engine.has_closed() {
            downstream.announce();
            let closed = downstream.engine.take_closed();
            downstream
                .pending
                .extend(closed.into_iter().map(|a| (a, true)));
            dirty = true;
        }
        if stopping {
            // Alerts still open stay open in the store; after a restart the
            // detector's next firing on the same key continues them.
            downstream.announce();
            downstream.stopping = true;
            let open = downstream.engine.finish();
            downstream
                .pending
                .extend(open.into_iter().map(|a| (a, false)));
        }
        // On-call sees new incidents within a cycle, not a checkpoint interval.
        let mut committed = downstream.commit_alerts().context("writing alerts")?;
        // Playbook steps: new incidents are planned in the turn they open.
        let report = if std::mem::take(&mut downstream.opened) {
            scheduler.tick_now(&*downstream.store, &mut *schedule_store, crate::cli::now())
        } else {
            scheduler.tick_due(&*downstream.store, &mut *schedule_store, crate::cli::now())
        };
        if let Some(report) = report {
            record_tick(&metrics, &report);
        }
        if stopping || (dirty && last_checkpoint.elapsed() >= config.checkpoint_interval) {
            downstream.flush().context("flushing events")?;
            committed &= downstream.commit_alerts().context("writing alerts")?;
            if committed {
                let mut all: Vec<_> = sources.iter().flat_map(FileSource::checkpoints).collect();
                all.extend(saved.iter().cloned()); // sources no longer configured keep their records
                match downstream.store.save_checkpoints(&all) {
                    Ok(()) => {
                        last_checkpoint = Instant::now();
                        dirty = false;
                        metrics
                            .last_checkpoint
                            .store(jiff::Timestamp::now().as_second(), Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot save checkpoints to the store; retrying")
                    }
                }
            }
        }
        if stopping || last_stats.elapsed() >= STATS_EVERY {
            for s in &sources {
                log_stats(s.name(), &s.stats());
            }
            last_stats = Instant::now();
        }
        if stopping {
            sd_notify("STOPPING=1");
            if !downstream.pending.is_empty() {
                anyhow::bail!(
                    "stopped with {} alert(s) the store would not take ({}); their lines were not checkpointed and are read again on the next start",
                    downstream.pending.len(),
                    downstream.store.location()
                );
            }
            return Ok(());
        }
        if last_publish.elapsed() >= Duration::from_secs(1) {
            publish(&metrics, &sources, &downstream.engine);
            last_publish = Instant::now();
        }
        watchdog.pet();
        // Wait for a change (or the poll interval), then drain extra wakes.
        let timeout = if dirty {
            wait.min(config.checkpoint_interval)
        } else {
            wait
        };
        let timeout = timeout.min(watchdog.every.unwrap_or(timeout));
        let _ = wake_rx.recv_timeout(timeout);
        while wake_rx.try_recv().is_ok() {}
    }
}

fn log_stats(source: &str, s: &Stats) {
    tracing::info!(
        source,
        lines = s.lines,
        events = s.events,
        ignored = s.ignored_total(),
        malformed = s.malformed_total(),
        out_of_order = s.out_of_order,
        "source stats"
    );
}

fn extract<T>(v: &mut Vec<T>, pred: impl Fn(&T) -> bool) -> Vec<T> {
    let (yes, no): (Vec<T>, Vec<T>) = std::mem::take(v).into_iter().partition(|x| pred(x));
    *v = no;
    yes
}

/// Watches the sources' directories with inotify; `None` means polling only.
/// The inotify watcher, and the directories it could not watch yet (they
/// do not exist yet): polled, and retried every cycle.
struct Watching {
    watcher: Option<notify::RecommendedWatcher>,
    pending: Vec<PathBuf>,
}

impl Watching {
    /// Starts watching directories that have appeared since.
    fn retry(&mut self) {
        use notify::Watcher;
        let Some(w) = &mut self.watcher else {
            return;
        };
        self.pending.retain(|dir| {
            let ok = dir.is_dir() && w.watch(dir, notify::RecursiveMode::NonRecursive).is_ok();
            if ok {
                tracing::info!(dir = %dir.display(), "watching a directory that appeared");
            }
            !ok
        });
    }
}

fn watch(
    sources: &[FileSource],
    config: &Config,
    wake: mpsc::Sender<()>,
) -> anyhow::Result<Watching> {
    use notify::Watcher;
    let wanted: Vec<_> = config.sources.iter().map(|s| s.watch).collect();
    let mut pending = Vec::new();
    if wanted.iter().all(|w| *w == Watch::Poll) {
        return Ok(Watching {
            watcher: None,
            pending,
        });
    }
    let strict = wanted.contains(&Watch::Inotify);
    let made = notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
        let _ = wake.send(());
    });
    let mut watcher = match made {
        Ok(w) => w,
        Err(e) if !strict => {
            tracing::warn!(error = %e, "file events unavailable; polling instead");
            return Ok(Watching {
                watcher: None,
                pending,
            });
        }
        Err(e) => {
            return Err(e)
                .context("starting inotify (set watch = \"poll\" on filesystems without it)")
        }
    };
    for (s, cfg) in sources.iter().zip(&config.sources) {
        if cfg.watch == Watch::Poll {
            continue;
        }
        for dir in s.watch_dirs() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".").to_path_buf()
            } else {
                dir
            };
            if !dir.is_dir() {
                // not there yet: polled until it appears, then watched
                tracing::info!(dir = %dir.display(), "directory does not exist yet; polling until it does");
                pending.push(dir);
                continue;
            }
            if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
                if cfg.watch == Watch::Inotify {
                    return Err(e).with_context(|| format!("watching {}", dir.display()));
                }
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch a directory; polling it");
            }
        }
    }
    Ok(Watching {
        watcher: Some(watcher),
        pending,
    })
}

// ---- operations: reload, metrics, systemd (sd_notify and the watchdog) ----

/// Reloads the config file the daemon started with: inventory, rules,
/// playbooks and templates. Detector state stays when the rules are
/// unchanged; changed rules start a new engine (the old one's open alerts
/// stay open in the store and continue, as after a restart). Sources, the
/// store and `[api]` are not reloaded (a restart applies them). A config
/// with problems changes nothing. Returns the config now in force.
fn apply_reload(
    current: &Config,
    downstream: &mut Downstream,
    scheduler: &mut crate::playbook::schedule::Scheduler,
    metrics: &crate::api::Metrics,
) -> Option<Config> {
    sd_notify("RELOADING=1");
    let loaded = if current.origin.is_file() {
        Config::load(&current.origin)
    } else {
        Config::embedded_default()
    };
    let new = loaded.and_then(|c| match c.check_templates() {
        problems if problems.is_empty() => Ok(c),
        problems => Err(crate::config::ConfigErrors(problems)),
    });
    let new = match new {
        Ok(c) => c,
        Err(e) => {
            metrics.reloads_failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(config = %current.origin.display(), problems = %e, "reload refused: the config has problems; still running on the previous one");
            sd_notify("READY=1");
            return None;
        }
    };
    downstream.inventory = new.inventory.clone();
    let rules_changed = format!("{:?}", new.rules) != format!("{:?}", current.rules);
    if rules_changed {
        // Each rule keeps what it learned unless its state changed meaning
        // (detect::reload); alerts of restarted or removed rules close.
        let carried = downstream.engine.reload(
            Engine::new(new.rules.clone(), new.max_keys)
                .with_sigma(new.sigma.clone())
                .with_subjects_total(new.inventory.subjects_total)
                .with_opened_queue(),
        );
        tracing::info!(
            kept = carried.kept.len(),
            retuned = ?carried.retuned,
            restarted = ?carried.restarted,
            added = ?carried.added,
            removed = ?carried.removed,
            closed_alerts = carried.closed_alerts,
            "rules reloaded: detector state carried over"
        );
    }
    scheduler.reload(new.playbooks.clone());
    // Templates and channels live in the delivery thread: start a new one on
    // the new config; the old one ends after its current pass when its
    // dispatch is dropped (the outbox's leases keep the two from sending
    // one message twice).
    match crate::notify::courier::start(&new, crate::cli::now) {
        Ok(dispatch) => {
            let old = std::mem::replace(
                scheduler,
                crate::playbook::schedule::Scheduler::new(Vec::new()),
            );
            *scheduler = old.with_dispatch(dispatch);
        }
        Err(e) => {
            tracing::error!(error = %e, "reload: the notification delivery could not restart on the new config; it keeps the previous templates and channels")
        }
    }
    metrics.reloads_ok.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        config = %new.origin.display(),
        rules = new.rules.len(),
        rules_changed,
        playbooks = new.playbooks.len(),
        "reloaded inventory, rules, playbooks and templates"
    );
    sd_notify("READY=1");
    Some(new)
}

/// Copies the sources' and the detector's counters for `/metrics`.
fn publish(metrics: &crate::api::Metrics, sources: &[FileSource], engine: &Engine) {
    for (s, m) in sources.iter().zip(&metrics.sources) {
        let st = s.stats();
        m.lines.store(st.lines, Ordering::Relaxed);
        m.events.store(st.events, Ordering::Relaxed);
        m.ignored.store(st.ignored_total(), Ordering::Relaxed);
        m.malformed.store(st.malformed_total(), Ordering::Relaxed);
        let lag: u64 = s
            .checkpoints()
            .iter()
            .filter(|c| c.closed_at.is_none())
            .filter_map(|c| {
                let len = std::fs::metadata(&c.path).ok()?.len();
                Some(len.saturating_sub(c.offset))
            })
            .sum();
        m.lag_bytes.store(lag, Ordering::Relaxed);
    }
    metrics
        .detector_cap_hits
        .store(engine.stats.cap_hits, Ordering::Relaxed);
    if let Ok(mut keys) = metrics.detector_keys.lock() {
        *keys = engine
            .keys_by_rule()
            .into_iter()
            .map(|(r, n)| (r.to_string(), n as u64))
            .collect();
    }
}

fn record_tick(metrics: &crate::api::Metrics, report: &crate::playbook::schedule::TickReport) {
    for f in &report.fired {
        metrics.scheduler_firings.fetch_add(1, Ordering::Relaxed);
        metrics
            .scheduler_late_secs
            .store(f.firing.late_secs, Ordering::Relaxed);
    }
}

/// Sends a state line to systemd (`Type=notify`): a datagram to
/// `$NOTIFY_SOCKET`, when it is set. Failures are logged, never fatal.
fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sock = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell systemd our state");
            return;
        }
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        // an abstract socket: its name begins with a NUL byte
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, socket = ?path, "cannot tell systemd our state");
    }
}

/// `WATCHDOG=1` at half the interval systemd asks for (`WATCHDOG_USEC`),
/// from the loop itself, so a stuck loop is restarted.
struct Watchdog {
    every: Option<Duration>,
    last: Instant,
}

impl Watchdog {
    fn from_env() -> Watchdog {
        let usec = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|_| {
                // the watchdog is for this process only
                std::env::var("WATCHDOG_PID")
                    .ok()
                    .and_then(|p| p.parse::<u32>().ok())
                    .is_none_or(|p| p == std::process::id())
            });
        Watchdog {
            every: usec.map(|u| Duration::from_micros(u / 2)),
            last: Instant::now(),
        }
    }

    fn pet(&mut self) {
        if let Some(every) = self.every {
            if self.last.elapsed() >= every {
                sd_notify("WATCHDOG=1");
                self.last = Instant::now();
            }
        }
    }
}
