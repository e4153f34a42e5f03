//! Delivery: from the playbook's fired steps to the outbox, and from the
//! outbox to the channels.
//!
//! - [`OutboxDispatch`] is the scheduler's [`Dispatch`]: a fired `notify` or
//!   `escalate` step becomes one on-call alert per channel serving the
//!   step's role (`[notify.routes]`), rendered from the incident's facts
//!   and enqueued under a key made of incident, step, firing and channel —
//!   so a re-dispatch after a crash enqueues nothing new.
//! - [`Notifier::pass`] renders new drafts, follows incident status on
//!   PagerDuty (acknowledge, resolve: same `dedup_key`), and delivers due
//!   outbox rows through [`Courier`].
//! - [`spawn`] runs passes on a thread of its own with its own store
//!   handles, woken by the dispatcher, so a slow or unreachable channel
//!   never stalls the daemon's reading of logs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use jiff::Timestamp;

use super::config::{ChannelSpec, KindSpec, Settings};
use super::draft::DraftStore;
use super::outbox::{Filter, Kind, NewMessage, OutboxStore, State};
use super::{Channel, Notice, Notification, SendError, Templates};
use crate::incident::{IncidentId, IncidentStore, StoreError};
use crate::playbook::schedule::{Dispatch, Effect, Fired};

/// The outbox and drafts on one store handle.
pub trait NotifyStore: OutboxStore + DraftStore {}
impl<T: OutboxStore + DraftStore> NotifyStore for T {}

/// The channel used when `[notify]` configures none: files in
/// `DATA_DIR/notifications` (the embedded default's "file channel").
pub const FALLBACK_CHANNEL: &str = "file";

/// How often the delivery thread looks at the outbox when nobody wakes it
/// (retries falling due, messages enqueued by another process).
const IDLE_PASS: Duration = Duration::from_millis(250);

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub retrying: usize,
    pub dead: usize,
    pub drafts: usize,
}

/// Opened channels and the retry policy.
pub struct Courier {
    settings: Settings,
    fallback: ChannelSpec,
    open: HashMap<String, Channel>,
}

impl Courier {
    pub fn new(settings: Settings, data_dir: &Path) -> Courier {
        Courier {
            fallback: ChannelSpec {
                name: FALLBACK_CHANNEL.into(),
                kind: KindSpec::File {
                    dir: data_dir.join("notifications"),
                },
                timeout: Duration::from_secs(10),
            },
            settings,
            open: HashMap::new(),
        }
    }

    fn spec(&self, name: &str) -> Option<&ChannelSpec> {
        self.settings.channel(name).or_else(|| {
            (self.settings.channels.is_empty() && name == FALLBACK_CHANNEL)
                .then_some(&self.fallback)
        })
    }

    /// How long a claim holds: longer than any channel's timeout, so a
    /// send in progress is not claimed again by another process.
    fn lease(&self) -> Duration {
        let longest = self
            .settings
            .channels
            .iter()
            .map(|c| c.timeout)
            .max()
            .unwrap_or(Duration::from_secs(10));
        longest * 2 + Duration::from_secs(30)
    }

    /// Sends every message due at `now`, each once: claim, send, record.
    pub fn deliver_due(
        &mut self,
        store: &mut dyn OutboxStore,
        now: Timestamp,
    ) -> Result<Delivered, StoreError> {
        let mut done = Delivered::default();
        let lease = self.lease();
        loop {
            let batch = store.claim_due(now, lease, 16)?;
            if batch.is_empty() {
                return Ok(done);
            }
            for m in batch {
                let sent = match self.channel(&m.channel) {
                    Ok(ch) => ch.send(&m.notification),
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(r) => {
                        store.mark_sent(m.id, &r.detail, now)?;
                        done.sent += 1;
                    }
                    Err(e) => {
                        let retry_at = if e.is_transient() {
                            self.settings.backoff.next(m.attempts, now)
                        } else {
                            None
                        };
                        match store.mark_failed(m.id, &e.to_string(), retry_at, now)? {
                            State::Dead => {
                                done.dead += 1;
                                tracing::error!(outbox = m.id, channel = %m.channel, key = %m.key, attempts = m.attempts, error = %e, "notification dead: `breachd notify list --state dead` shows it, `breachd notify retry ID` sends it again");
                            }
                            _ => done.retrying += 1,
                        }
                    }
                }
            }
        }
    }

    fn channel(&mut self, name: &str) -> Result<&Channel, SendError> {
        if !self.open.contains_key(name) {
            let spec = self.spec(name).ok_or_else(|| SendError::Permanent {
                channel: name.to_string(),
                reason: "no such [[notify.channel]] in the config".into(),
            })?;
            let ch = Channel::open(spec)?;
            self.open.insert(name.to_string(), ch);
        }
        Ok(&self.open[name])
    }
}

/// The channels serving `role`, falling back to the built-in file channel
/// when `[notify]` configures no channel at all.
pub fn route(settings: &Settings, role: &str) -> Vec<String> {
    if settings.channels.is_empty() {
        return vec![FALLBACK_CHANNEL.to_string()];
    }
    settings
        .route(role)
        .into_iter()
        .map(|c| c.name.clone())
        .collect()
}

/// Renders the on-call alert for an incident's fired step.
fn alert_for(
    templates: &Templates,
    settings: &Settings,
    incident: &crate::incident::Incident,
    escalation: Option<&Fired>,
    key: &str,
    now: Timestamp,
) -> Result<Notification, String> {
    let mut notice = Notice::of_incident(
        incident,
        &settings.organisation,
        &settings.dpo,
        settings.locale,
        now,
    );
    if let Some(f) = escalation {
        notice.title = format!(
            "escalation ({} {}): {}",
            f.firing.regime, f.firing.step, notice.title
        );
    }
    Notification::alert(templates, &notice, key).map_err(|e| e.to_string())
}

/// The scheduler's hand-off: fired `notify`/`escalate` steps become on-call
/// alerts in the outbox (no approval: they are for people inside).
pub struct OutboxDispatch {
    incidents: Box<dyn IncidentStore>,
    outbox: Box<dyn OutboxStore>,
    templates: Templates,
    settings: Settings,
    wake: Option<Sender<()>>,
}

impl OutboxDispatch {
    pub fn new(
        incidents: Box<dyn IncidentStore>,
        outbox: Box<dyn OutboxStore>,
        templates: Templates,
        settings: Settings,
        wake: Option<Sender<()>>,
    ) -> OutboxDispatch {
        OutboxDispatch {
            incidents,
            outbox,
            templates,
            settings,
            wake,
        }
    }
}

impl Dispatch for OutboxDispatch {
    fn dispatch(&mut self, f: &Fired) -> Result<(), String> {
        let (role, escalation) = match &f.firing.effect {
            Effect::Notify { channel } => (channel, None),
            Effect::Escalate { channel } => (channel, Some(f)),
            _ => return Ok(()),
        };
        let channels = route(&self.settings, role);
        if channels.is_empty() {
            tracing::error!(incident_id = %f.firing.incident, step = %f.firing.step, role = %role, "no channel serves this role; add [notify.routes] {role} = [\"CHANNEL\"]");
            return Ok(());
        }
        let incident = self
            .incidents
            .get(f.firing.incident)
            .map_err(|e| e.to_string())?
            .incident;
        let now = f.firing.fired_at;
        for ch in channels {
            let key = format!(
                "{}/{}/{}/{}/{}",
                f.firing.incident, f.firing.regime, f.firing.step, f.id, ch
            );
            let n = alert_for(
                &self.templates,
                &self.settings,
                &incident,
                escalation,
                &key,
                now,
            )?;
            self.outbox
                .enqueue(
                    &NewMessage {
                        incident: Some(f.firing.incident),
                        channel: ch,
                        kind: Kind::Oncall,
                        notification: n,
                        draft: None,
                        firing: Some(f.id),
                    },
                    now,
                )
                .map_err(|e| e.to_string())?;
        }
        if let Some(w) = &self.wake {
            let _ = w.send(());
        }
        Ok(())
    }
}

/// Everything after the outbox: drafts, PagerDuty status, delivery.
pub struct Notifier {
    courier: Courier,
    templates: Templates,
    settings: Settings,
    drafts_dir: PathBuf,
}

impl Notifier {
    pub fn new(settings: Settings, templates: Templates, data_dir: &Path) -> Notifier {
        Notifier {
            courier: Courier::new(settings.clone(), data_dir),
            drafts_dir: super::draft::drafts_dir(&settings, data_dir),
            templates,
            settings,
        }
    }

    /// One pass: render new drafts, enqueue PagerDuty status changes, send
    /// what is due.
    pub fn pass(
        &mut self,
        incidents: &dyn IncidentStore,
        store: &mut dyn NotifyStore,
        now: Timestamp,
    ) -> Result<Delivered, StoreError> {
        let drafts = super::draft::render_pending(
            store,
            incidents,
            &self.templates,
            &self.settings,
            &self.drafts_dir,
            now,
        )?;
        self.follow_pagerduty(incidents, store, now)?;
        let mut d = self.courier.deliver_due(store, now)?;
        d.drafts = drafts;
        Ok(d)
    }

    /// PagerDuty alerts follow their incident: when an incident paged on a
    /// PagerDuty channel is acknowledged (or contained) an `acknowledge`
    /// event is enqueued, when it is resolved (or a false positive) a
    /// `resolve`, both with `dedup_key` = the incident.
    fn follow_pagerduty(
        &mut self,
        incidents: &dyn IncidentStore,
        store: &mut dyn NotifyStore,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let pd: Vec<String> = self
            .settings
            .channels
            .iter()
            .filter(|c| matches!(c.kind, KindSpec::PagerDuty { .. }))
            .map(|c| c.name.clone())
            .collect();
        for ch in pd {
            let rows = store.messages(&Filter {
                channel: Some(ch.clone()),
                ..Filter::default()
            })?;
            let mut last: HashMap<IncidentId, &'static str> = HashMap::new();
            for m in &rows {
                if let Some(i) = m.incident {
                    last.insert(i, super::http::event_action(m.notification.status));
                }
            }
            for (id, action) in last {
                if action == "resolve" {
                    continue;
                }
                let incident = match incidents.get(id) {
                    Ok(d) => d.incident,
                    Err(StoreError::NotFound(_)) => continue,
                    Err(e) => return Err(e),
                };
                let notice = Notice::of_incident(
                    &incident,
                    &self.settings.organisation,
                    &self.settings.dpo,
                    self.settings.locale,
                    now,
                );
                let now_action = super::http::event_action(notice.status);
                if now_action == action {
                    continue;
                }
                let key = format!("{id}/pagerduty/{ch}/{now_action}");
                let n = Notification::alert(&self.templates, &notice, &key)
                    .map_err(|e| StoreError::Refused(e.to_string()))?;
                store.enqueue(
                    &NewMessage {
                        incident: Some(id),
                        channel: ch.clone(),
                        kind: Kind::Oncall,
                        notification: n,
                        draft: None,
                        firing: None,
                    },
                    now,
                )?;
                tracing::info!(incident_id = %id, channel = %ch, action = now_action, "PagerDuty follows the incident's status");
            }
        }
        Ok(())
    }
}

/// Runs [`Notifier::pass`] on a thread of its own, with its own store
/// handles on `store_path`, whenever `wake` fires (and every
/// [`IDLE_PASS`]). `now` is the clock (the CLI's, which tests move).
pub fn spawn(
    mut notifier: Notifier,
    store_path: &Path,
    wake: Receiver<()>,
    now: fn() -> Timestamp,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let incidents = crate::store::open(store_path)?;
    let mut store = crate::store::open_notify(store_path)?;
    let handle = std::thread::Builder::new()
        .name("notify".into())
        .spawn(move || {
            let mut failing = false;
            loop {
                match notifier.pass(&*incidents, &mut *store, now()) {
                    Ok(d) => {
                        failing = false;
                        if d != Delivered::default() {
                            tracing::debug!(sent = d.sent, retrying = d.retrying, dead = d.dead, drafts = d.drafts, "notify pass");
                        }
                    }
                    Err(e) => {
                        if !failing {
                            tracing::error!(error = %e, "the notification pass failed; messages stay in the outbox and it retries");
                        }
                        failing = true;
                    }
                }
                match wake.recv_timeout(IDLE_PASS) {
                    Ok(()) => while wake.try_recv().is_ok() {},
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })
        .map_err(|e| StoreError::Other {
            path: store_path.display().to_string(),
            detail: format!("starting the notify thread: {e}"),
        })?;
    Ok(handle)
}

/// The scheduler's dispatch and a [`Notifier`] for `config`, each on its own
/// store handles: what the daemon and `breachd schedule tick` plug in.
pub fn open(
    config: &crate::config::Config,
    wake: Option<Sender<()>>,
) -> anyhow::Result<(OutboxDispatch, Notifier)> {
    let templates = || {
        config
            .templates()
            .map_err(|e| anyhow::anyhow!("the templates have problems:\n{e}"))
    };
    let dispatch = OutboxDispatch::new(
        crate::store::open(&config.store_path)?,
        crate::store::open_outbox(&config.store_path)?,
        templates()?,
        config.notify.clone(),
        wake,
    );
    let notifier = Notifier::new(config.notify.clone(), templates()?, &config.data_dir);
    Ok((dispatch, notifier))
}

/// For the daemon: the dispatch to plug into the scheduler, with the
/// delivery thread already running behind it.
pub fn start(
    config: &crate::config::Config,
    now: fn() -> Timestamp,
) -> anyhow::Result<Box<dyn Dispatch>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (dispatch, notifier) = open(config, Some(tx))?;
    spawn(notifier, &config.store_path, rx, now)?;
    tracing::info!(
        channels = config.notify.channels.len(),
        "notifications: outbox delivery running"
    );
    Ok(Box::new(dispatch))
}
