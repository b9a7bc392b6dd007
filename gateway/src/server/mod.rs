//! `gateway serve`: the listener, the delivery workers and the deadline
//! sweep, over one store.
//!
//! ```text
//! partner ─TLS─▶ ingress ─▶ adapter.decode ─▶ route ─▶ store.submit ─▶ 202
//! outbox worker (per target) ─▶ adapter.encode ─▶ TLS ─▶ target ─▶ store.record_delivery
//! target status ─▶ ingress ─▶ decode ─▶ store.apply_status (lifecycle) ─▶ outbox → origin
//! deadline sweep ─▶ store.mark_overdue ─▶ outbox → origin (+ escalation copy)
//! checkpoint signer ─▶ store.leaf_hashes ─▶ consistency check ─▶ sign ─▶ store.record_checkpoint
//! partner / auditor ─TLS─▶ /audit/v1/ ─▶ checkpoint, proofs, a hand-off's leaves
//! ```

mod audit;
pub mod checkpoint;
mod inbox_web;
mod ingress;
mod open311;
pub mod operator;
mod outbox;
mod pu;
mod ratelimit;
mod scrape;
mod status;

pub use ratelimit::{Counters, PartnerCounts};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use schemas::Timestamp;
use tokio::sync::watch;

use crate::config::{Config, PartnerConfig};
use crate::http::{self, Limits};
use crate::lifecycle::DeadlinePolicy;
use crate::limits::RateLimits;
use crate::route::Partners;
use crate::store::{Notify, SqliteStore, Store};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The TLS configuration could not be built.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The rate limits could not be built.
    #[error(transparent)]
    Limits(#[from] crate::limits::LimitsError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What a configuration reload or the operator changes while the gateway
/// runs (see [`operator`]); everything else in [`App::config`] is fixed
/// until a restart.
struct Live {
    /// The configuration last loaded: its limits and deadlines are in
    /// force.
    config: Arc<Config>,
    /// Emergency mode (高话务量应急) is on.
    emergency: bool,
    /// The rate limits, built from `config` in the `emergency` mode.
    limits: Arc<RateLimits>,
}

/// What every request handler and worker shares.
pub struct App {
    /// The configuration the gateway started with: listener, store, TLS,
    /// partners. A reload changes only what [`App::live_config`] gives.
    pub config: Arc<Config>,
    /// The store.
    pub store: Arc<SqliteStore>,
    /// The delivery client (the gateway's client certificate).
    pub client: http::Client,
    /// Wakes a partner's delivery worker when something was queued for it
    /// (one per configured partner; the map never changes).
    wakes: HashMap<String, Arc<tokio::sync::Notify>>,
    /// Per partner counts since start (admitted, limited, held).
    pub counters: Counters,
    /// The Prometheus counters and histograms (`GET /metrics`).
    pub metrics: crate::metrics::Metrics,
    /// How often the web inbox's token sign-in may be tried.
    sign_in_limits: inbox_web::throttle::SignInLimits,
    /// What a reload or the operator changes, replaced whole.
    live: RwLock<Live>,
    /// Serialises reloads and emergency switches (so the audit log sees
    /// them in the order they take effect).
    switching: tokio::sync::Mutex<()>,
}

impl App {
    /// Now, in Beijing time (the store keeps instants; partners see their
    /// own representation).
    pub fn now(&self) -> Timestamp {
        Utc::now().with_timezone(&adapters::time::beijing())
    }

    fn live(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_live(&self, live: Live) {
        *self
            .live
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = live;
    }

    /// The rate limits in force.
    pub fn limits(&self) -> Arc<RateLimits> {
        self.live().limits.clone()
    }

    /// Puts new rate limits in force (their limiters start whole); requests
    /// already deciding finish with the old ones.
    pub fn set_limits(&self, limits: RateLimits) {
        self.live
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .limits = Arc::new(limits);
    }

    /// The configuration whose limits and deadlines are in force: the one
    /// started with, or the last one reloaded.
    pub fn live_config(&self) -> Arc<Config> {
        self.live().config.clone()
    }

    /// Whether emergency mode is on.
    pub fn emergency(&self) -> bool {
        self.live().emergency
    }

    /// Tells `partner`'s delivery worker that messages were queued for it.
    /// A worker busy elsewhere finds the wake-up when it next waits.
    pub fn queued_for(&self, partner: &str) {
        if let Some(wake) = self.wakes.get(partner) {
            wake.notify_one();
        }
    }

    /// The wake-up of `partner`'s delivery worker.
    pub fn wake_of(&self, partner: &str) -> Option<Arc<tokio::sync::Notify>> {
        self.wakes.get(partner).cloned()
    }

    /// The deadline policy of the configuration in force (a reload
    /// changes it for hand-offs received afterwards).
    pub fn deadlines(&self) -> DeadlinePolicy {
        let config = self.live_config();
        let d = &config.deadlines;
        DeadlinePolicy {
            urgent: (d.urgent.ack, d.urgent.answer),
            normal: (d.normal.ack, d.normal.answer),
            property: (d.property.ack, d.property.answer),
        }
    }

    /// A hand-off's origin, target and state, for people to read.
    pub async fn summary(&self, id: &str) -> Option<(String, String, &'static str)> {
        let h = self.store.handoff(id).await.ok().flatten()?;
        Some((h.origin_partner, h.target_partner, h.state.as_str()))
    }

    /// A notification target, when `partner` is configured.
    pub fn notify(&self, partner: &str) -> Option<Notify> {
        self.config.partner(partner).map(|p| Notify {
            partner: p.id.clone(),
        })
    }
}

impl Partners for Config {
    fn is_connected(&self, id: &str) -> bool {
        self.partner(id).is_some()
    }

    fn enterprise_hotline(&self) -> Option<&str> {
        self.partners
            .iter()
            .find(|p| p.family == adapters::Family::EntJson)
            .map(|p| p.id.as_str())
    }
}

/// The division a partner speaks for: configured, else the hotline
/// registry's.
pub fn partner_division(config: &Config, partner: &PartnerConfig) -> Option<String> {
    partner.division.clone().or_else(|| {
        config
            .tables
            .hotlines
            .by_partner(&partner.id)
            .map(|h| h.division_code.clone())
    })
}

/// A running gateway.
pub struct Running {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The operator listener's address, when `[operator]` is configured.
    pub operator_addr: Option<SocketAddr>,
    /// The shared state.
    pub app: Arc<App>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets open requests finish, stops the workers.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the gateway: opens the store, records the configuration in the
/// audit log, binds the listener, starts the delivery workers, the deadline
/// sweep and the checkpoint signer.
pub async fn start(config: Config) -> Result<Running, ServeError> {
    let config = Arc::new(config);
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let rate_limits = RateLimits::new(&config)?;
    let store = Arc::new(SqliteStore::open(&config.store.path)?);
    let tls = if config.server.plain_http {
        None
    } else {
        Some(crate::tls::server_config(&config)?)
    };
    let client_tls = crate::tls::client_config(&config)?;
    let client = http::Client::new(
        (*client_tls).clone(),
        config.server.plain_http,
        config.delivery.request_timeout,
    );
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.server.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.server.listen,
        source,
    })?;
    let operator_listener = match &config.operator {
        Some(op) => {
            let bind = |source| ServeError::Bind {
                addr: op.listen,
                source,
            };
            let l = tokio::net::TcpListener::bind(op.listen)
                .await
                .map_err(bind)?;
            let a = l.local_addr().map_err(bind)?;
            Some((l, a))
        }
        None => None,
    };
    // The audit log records which configuration the gateway runs with,
    // once it is sure to start.
    let signing_key = config.audit.as_ref().map(|a| a.signer.name().to_owned());
    let seq = store
        .record_config(config.sha256.clone(), config.partners.len(), signing_key)
        .await?;
    tracing::info!(audit_seq = seq, config_sha256 = %config.sha256, "configuration recorded");
    let wakes = config
        .partners
        .iter()
        .map(|p| (p.id.clone(), Arc::new(tokio::sync::Notify::new())))
        .collect();
    let app = Arc::new(App {
        config: config.clone(),
        store,
        client,
        wakes,
        counters: Counters::new(config.partners.iter().map(|p| p.id.as_str())),
        metrics: crate::metrics::Metrics::new(),
        sign_in_limits: inbox_web::throttle::SignInLimits::new(),
        live: RwLock::new(Live {
            config: config.clone(),
            emergency: config.limits.emergency,
            limits: Arc::new(rate_limits),
        }),
        switching: tokio::sync::Mutex::new(()),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(outbox::run(app.clone(), shutdown_rx.clone())));
    tasks.push(tokio::spawn(sweep_deadlines(
        app.clone(),
        shutdown_rx.clone(),
    )));
    tasks.push(tokio::spawn(checkpoint::run(
        app.clone(),
        shutdown_rx.clone(),
    )));
    let limits = Limits {
        header_timeout: config.server.header_timeout,
        idle_timeout: config.server.idle_timeout,
        max_concurrent: config.server.max_concurrent_requests,
    };
    let operator_addr = operator_listener.as_ref().map(|(_, a)| *a);
    if let Some((listener, operator_addr)) = operator_listener {
        let handler_app = app.clone();
        tasks.push(tokio::spawn(http::serve(
            listener,
            None,
            limits,
            move |req, _peer| operator::handle(handler_app.clone(), req),
            shutdown_rx.clone(),
        )));
        tracing::info!(addr = %operator_addr, "operator listener (plain HTTP, loopback)");
    }
    tasks.push(tokio::spawn(operator::reload_on_sighup(
        app.clone(),
        shutdown_rx.clone(),
    )));
    let handler_app = app.clone();
    tasks.push(tokio::spawn(http::serve(
        listener,
        tls,
        limits,
        move |req, peer| ingress::handle(handler_app.clone(), req, peer),
        shutdown_rx,
    )));
    tracing::info!(%addr, "gateway listening");
    Ok(Running {
        addr,
        operator_addr,
        app,
        shutdown,
        tasks,
    })
}

/// Reports passed deadlines once a second: the hand-off is flagged, the
/// origin told, the escalation partner sent a copy.
async fn sweep_deadlines(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        let now = app.now();
        let due = match app.store.overdue_candidates(now).await {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "deadline sweep cannot read the store");
                continue;
            }
        };
        for (handoff, which) in due {
            let escalate = app
                .config
                .escalation
                .partner
                .as_deref()
                .filter(|p| *p != handoff.target_partner)
                .and_then(|p| app.notify(p));
            let notify = app.notify(&handoff.origin_partner);
            let copy_to = escalate.as_ref().map(|n| n.partner.clone());
            match app
                .store
                .mark_overdue(&handoff.id, which, now, notify, escalate)
                .await
            {
                Ok(Some(_)) => {
                    tracing::warn!(handoff_id = %handoff.id, deadline = which.as_str(), "hand-off overdue");
                    app.metrics
                        .inc(&crate::metrics::OVERDUE_REPORTED, &[which.as_str()]);
                    app.queued_for(&handoff.origin_partner);
                    if let Some(partner) = &copy_to {
                        app.queued_for(partner);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(handoff_id = %handoff.id, error = %e, "cannot flag overdue")
                }
            }
        }
    }
}
