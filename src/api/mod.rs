//! The HTTP side of breachd: a JSON API with bearer tokens and roles, the web
//! page on-call and legal work in, and `/metrics`. Served by axum on a tokio
//! runtime in its own thread, started by the daemon when `[api]` is
//! configured.
//!
//! What it owns: authentication (tokens hashed in the config, web sessions
//! with a CSRF token each), the role each route needs, and turning requests
//! into the same store calls the CLI makes. What it must never do: decide
//! anything about an incident itself (status moves, audit entries, severity
//! are the store's and the incident stage's), or run on the daemon's hot
//! path: the daemon shares only counters ([`metrics::Metrics`]) and a reload
//! request ([`Control`]) with it.
//!
//! Roles: every role reads; `oncall` acknowledges, contains, resolves, marks
//! false positives, notes and assigns; `legal` overrides ENISA inputs (and
//! approves drafts); `admin` reloads. No token → 401; a token whose role may
//! not do it → 403 naming the role needed.

pub mod config;
mod drafts;
pub mod metrics;
mod routes;
mod session;
mod web;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::Context as _;

pub use config::{Role, Settings};
pub use metrics::Metrics;
pub use routes::{openapi_document, route_table};

use crate::incident::{Correlation, IncidentStore};
use crate::playbook::schedule::ScheduleStore;

/// How the API asks the daemon's loop to reload (the SIGHUP path).
#[derive(Debug, Clone)]
pub struct Control {
    reload: Arc<AtomicBool>,
    wake: Arc<Mutex<mpsc::Sender<()>>>,
}

impl Control {
    /// `reload` is the flag the daemon's loop checks; `wake` ends its wait.
    pub fn new(reload: Arc<AtomicBool>, wake: mpsc::Sender<()>) -> Control {
        Control {
            reload,
            wake: Arc::new(Mutex::new(wake)),
        }
    }

    /// Asks for a reload; the loop does it on its next turn.
    pub fn request_reload(&self) {
        self.reload.store(true, Ordering::SeqCst);
        if let Ok(w) = self.wake.lock() {
            let _ = w.send(());
        }
    }
}

/// What the API's handlers share.
pub(crate) struct App {
    settings: Settings,
    incidents: Mutex<Box<dyn IncidentStore>>,
    schedule: Mutex<Box<dyn ScheduleStore>>,
    policy: Correlation,
    metrics: Arc<Metrics>,
    control: Control,
    sessions: session::Sessions,
    /// Drafts and the outbox (the notify stage's stores).
    notify: Mutex<crate::store::SqliteStore>,
    /// `[notify]`: which channels serve an approved draft's recipient.
    notify_settings: crate::notify::config::Settings,
    /// `[incident] legal`: the people who may approve (empty: any legal token).
    legal: Vec<String>,
    /// The playbooks at start: which planned steps are legal deadlines.
    playbooks: Vec<crate::playbook::Playbook>,
}

/// The running API (its thread ends with the process).
#[derive(Debug)]
pub struct Api {
    /// The address it listens on (the port is known even when 0 was asked).
    pub local_addr: std::net::SocketAddr,
}

/// Binds the listener (so a taken port fails the start), opens the API's own
/// store handles, then serves on a tokio runtime in a thread named `api`.
pub fn start(
    settings: Settings,
    config: &crate::config::Config,
    metrics: Arc<Metrics>,
    control: Control,
) -> anyhow::Result<Api> {
    let store_path = &config.store_path;
    let listener = std::net::TcpListener::bind(settings.listen).with_context(|| {
        format!(
            "binding the API to {} (`[api] listen`; is another breachd running?)",
            settings.listen
        )
    })?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let tls = match &settings.tls {
        Some(t) => {
            // one process-wide crypto provider; a second install is harmless
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(t.clone())
        }
        None => None,
    };
    let app = Arc::new(App {
        sessions: session::Sessions::new(settings.session_idle_secs, tls.is_some()),
        settings,
        incidents: Mutex::new(crate::store::open(store_path)?),
        schedule: Mutex::new(crate::store::open_schedule(store_path)?),
        policy: config.correlation.clone(),
        metrics,
        control,
        notify: Mutex::new(crate::store::SqliteStore::open(store_path)?),
        notify_settings: config.notify.clone(),
        legal: config.legal.clone(),
        playbooks: config.playbooks.clone(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("api")
        .enable_all()
        .build()
        .context("starting the API's runtime")?;
    let router = routes::router(app);
    // TLS material is read here, so a bad key fails the start, not a request.
    let tls_config = match &tls {
        Some(t) => Some(
            runtime
                .block_on(axum_server::tls_rustls::RustlsConfig::from_pem_file(
                    &t.cert, &t.key,
                ))
                .with_context(|| {
                    format!(
                        "reading the API's TLS certificate {} and key {} (PEM)",
                        t.cert.display(),
                        t.key.display()
                    )
                })?,
        ),
        None => None,
    };
    std::thread::Builder::new()
        .name("api".into())
        .spawn(move || {
            let served = runtime.block_on(async move {
                let service = router.into_make_service();
                match tls_config {
                    Some(cfg) => {
                        axum_server::tls_rustls::from_tcp_rustls(listener, cfg)
                            .serve(service)
                            .await
                    }
                    None => axum_server::from_tcp(listener).serve(service).await,
                }
            });
            if let Err(e) = served {
                tracing::error!(error = %e, "the API stopped");
            }
        })?;
    tracing::info!(listen = %local_addr, tls = tls.is_some(), "API listening");
    Ok(Api { local_addr })
}
