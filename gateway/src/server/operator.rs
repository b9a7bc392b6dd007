//! Configuration reload and emergency mode (高话务量应急), and the operator
//! listener that shows the limits and switches them.
//!
//! A reload (SIGHUP on unix, `POST /admin/reload`) reads the same file
//! again with [`config::load`]. An invalid file changes nothing: the error,
//! naming the key, is logged and returned. A valid one is recorded in the
//! audit log (`config_loaded`, and `emergency_mode` with `by: "reload"`
//! when it switches the mode), then put in force whole: the partners' rate
//! limits, `limits.emergency` (the file's value wins at every reload), and
//! the deadlines of hand-offs received afterwards. Everything else — the
//! listeners, the store, TLS certificates and keys, the audit key, the
//! partner list and endpoints, delivery retries and the escalation
//! partner — takes a restart; a reload that changes such keys says which.
//! Partners the running gateway does not know are ignored until a restart;
//! partners missing from the new file keep their limits.
//!
//! The operator listener (`[operator] listen`, loopback only, plain HTTP,
//! no authentication) serves:
//!
//! - `GET /admin/limits`: emergency mode, and per partner the limits in
//!   force, the submissions admitted and limited and the messages sent and
//!   held by its delivery limit since start, the messages queued for it
//!   and the oldest one's age. Numbers only, no personal data.
//! - `POST /admin/emergency?on=true|false`: switches emergency mode
//!   (audited `emergency_mode` with `by: "operator"`).
//! - `POST /admin/reload`: a reload, as SIGHUP.
//! - `GET /metrics`: Prometheus metrics in the text format 0.0.4
//!   ([`crate::metrics`], [`super::scrape`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{App, Live};
use crate::config::{self, Config, Limit};
use crate::http::{Body, respond};
use crate::limits::{Lane, LimitsError, RateLimits};
use crate::store::{Store, StoreError};

/// Why a reload or an emergency switch changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwitchError {
    /// The file is invalid (the error names the key).
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Its limits cannot be built.
    #[error(transparent)]
    Limits(#[from] LimitsError),
    /// The audit log could not record it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file could not be read off the runtime.
    #[error("cannot load the configuration: {0}")]
    Task(String),
}

/// A reload that took effect.
#[derive(Clone, Debug)]
pub struct Reloaded {
    /// The file's hash.
    pub sha256: String,
    /// The `config_loaded` event's sequence number.
    pub audit_seq: u64,
    /// Emergency mode after the reload.
    pub emergency: bool,
    /// Keys that changed but take a restart.
    pub needs_restart: Vec<String>,
}

/// Reloads the configuration file (see the module documentation); `Err`
/// leaves everything as it was.
pub async fn reload(app: &App) -> Result<Reloaded, SwitchError> {
    let _switching = app.switching.lock().await;
    let path = app.config.file.clone();
    let loaded = tokio::task::spawn_blocking(move || config::load(&path))
        .await
        .map_err(|e| SwitchError::Task(e.to_string()))?;
    let new = match loaded {
        Ok(new) => new,
        Err(e) => {
            tracing::error!(key = e.key().unwrap_or(""), error = %e, "configuration reload refused: the running configuration stays");
            return Err(e.into());
        }
    };
    let needs_restart = restart_keys(&app.config, &new);
    let effective = effective(&app.config, new);
    let emergency = effective.limits.emergency;
    let limits = RateLimits::for_mode(&effective, emergency)
        .inspect_err(|e| tracing::error!(error = %e, "configuration reload refused"))?;
    let signing_key = app
        .config
        .audit
        .as_ref()
        .map(|a| a.signer.name().to_owned());
    let audit_seq = app
        .store
        .record_config(
            effective.sha256.clone(),
            effective.partners.len(),
            signing_key,
        )
        .await?;
    if emergency != app.emergency() {
        app.store
            .record_emergency(emergency, effective.limits.emergency_factor, "reload")
            .await?;
    }
    for key in &needs_restart {
        tracing::warn!(key = %key, "configuration reload: this change takes a restart");
    }
    let sha256 = effective.sha256.clone();
    app.set_live(Live {
        config: Arc::new(effective),
        emergency,
        limits: Arc::new(limits),
    });
    tracing::info!(audit_seq, config_sha256 = %sha256, emergency, "configuration reloaded");
    Ok(Reloaded {
        sha256,
        audit_seq,
        emergency,
        needs_restart,
    })
}

/// The new file as the running gateway applies it: the running partner
/// list, each with the new file's limits when it is there.
fn effective(running: &Config, mut new: Config) -> Config {
    let partners = running
        .partners
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if let Some(n) = new.partner(&p.id) {
                p.ingress_limit = n.ingress_limit;
                p.delivery_limit = n.delivery_limit;
            }
            p
        })
        .collect();
    new.partners = partners;
    new
}

/// Keys of `new` that differ from `running` but take a restart (those that
/// can be compared cheaply; certificates and keys always take one).
fn restart_keys(running: &Config, new: &Config) -> Vec<String> {
    let mut keys = Vec::new();
    let mut differs = |key: &str, changed: bool| {
        if changed {
            keys.push(key.to_owned());
        }
    };
    differs("server.listen", running.server.listen != new.server.listen);
    differs(
        "server.plain_http",
        running.server.plain_http != new.server.plain_http,
    );
    differs("store.path", running.store.path != new.store.path);
    differs("operator.listen", running.operator != new.operator);
    differs("delivery", running.delivery != new.delivery);
    differs("escalation", running.escalation != new.escalation);
    differs("telemetry", running.telemetry != new.telemetry);
    for p in &new.partners {
        match running.partner(&p.id) {
            None => keys.push(format!("partners[{}] (added)", p.id)),
            Some(r) if r.family != p.family || r.endpoint != p.endpoint => {
                keys.push(format!("partners[{}].endpoint/family", p.id));
            }
            Some(_) => {}
        }
    }
    for p in &running.partners {
        if new.partner(&p.id).is_none() {
            keys.push(format!("partners[{}] (removed)", p.id));
        }
    }
    keys
}

/// An emergency switch that took effect.
#[derive(Clone, Copy, Debug)]
pub struct Switched {
    /// Whether the mode changed (no event when it was already so).
    pub changed: bool,
    /// The `emergency_mode` event's sequence number, when it changed.
    pub audit_seq: Option<u64>,
}

/// Switches emergency mode on or off, `by` `operator` (or `reload`); the
/// limits are rebuilt (their limiters start whole) and the switch audited
/// before it takes effect.
pub async fn set_emergency(app: &App, on: bool, by: &str) -> Result<Switched, SwitchError> {
    let _switching = app.switching.lock().await;
    if app.emergency() == on {
        return Ok(Switched {
            changed: false,
            audit_seq: None,
        });
    }
    let config = app.live_config();
    let limits = RateLimits::for_mode(&config, on)?;
    let seq = app
        .store
        .record_emergency(on, config.limits.emergency_factor, by)
        .await?;
    app.set_live(Live {
        config: config.clone(),
        emergency: on,
        limits: Arc::new(limits),
    });
    tracing::warn!(
        on,
        factor = config.limits.emergency_factor,
        by,
        audit_seq = seq,
        "emergency mode switched"
    );
    Ok(Switched {
        changed: true,
        audit_seq: Some(seq),
    })
}

/// Reloads on every SIGHUP until shutdown (unix; elsewhere it only waits).
pub async fn reload_on_sighup(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP: reload with the operator command");
                let _ = shutdown.changed().await;
                return;
            }
        };
        loop {
            tokio::select! {
                got = hangup.recv() => {
                    if got.is_none() {
                        return;
                    }
                    tracing::info!("SIGHUP: reloading the configuration");
                    // Errors are logged by reload.
                    let _ = reload(&app).await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = app;
        let _ = shutdown.changed().await;
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Body> {
    respond(status, "application/json", body.to_string())
}

fn failure(e: &SwitchError) -> Response<Body> {
    let (status, key) = match e {
        SwitchError::Config(c) => (StatusCode::UNPROCESSABLE_ENTITY, c.key()),
        SwitchError::Limits(_) => (StatusCode::UNPROCESSABLE_ENTITY, None),
        SwitchError::Store(_) | SwitchError::Task(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
    };
    reply(status, json!({"error": e.to_string(), "key": key}))
}

/// The operator listener's requests.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    match (req.method(), path) {
        (&Method::GET, "/admin/limits") => status(&app).await,
        (&Method::GET, "/metrics") => super::scrape::metrics(&app).await,
        (&Method::POST, "/admin/reload") => match reload(&app).await {
            Ok(r) => reply(
                StatusCode::OK,
                json!({
                    "config_sha256": r.sha256,
                    "audit_seq": r.audit_seq,
                    "emergency": r.emergency,
                    "needs_restart": r.needs_restart,
                }),
            ),
            Err(e) => failure(&e),
        },
        (&Method::POST, "/admin/emergency") => {
            let on = match query {
                "on=true" => true,
                "on=false" => false,
                _ => {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        json!({"error": "expected ?on=true or ?on=false"}),
                    );
                }
            };
            match set_emergency(&app, on, "operator").await {
                Ok(s) => reply(
                    StatusCode::OK,
                    json!({"emergency": on, "changed": s.changed, "audit_seq": s.audit_seq}),
                ),
                Err(e) => failure(&e),
            }
        }
        (_, "/admin/limits" | "/admin/reload" | "/admin/emergency" | "/metrics") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "method not allowed"}),
        ),
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not found"})),
    }
}

fn policy(lanes: Option<Vec<(Lane, Limit)>>) -> Value {
    match lanes {
        None => Value::Null,
        Some(lanes) => lanes
            .into_iter()
            .map(|(lane, l)| {
                json!({
                    "lane": lane.policy_name(),
                    "rate": l.rate.to_string(),
                    "burst": l.burst,
                })
            })
            .collect(),
    }
}

/// `GET /admin/limits`.
async fn status(app: &App) -> Response<Body> {
    let depths = match app.store.queue_depths().await {
        Ok(d) => d,
        Err(e) => {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": e.to_string()}),
            );
        }
    };
    let now = app.now();
    let config = app.live_config();
    let limits = app.limits();
    let partners: Vec<Value> = config
        .partners
        .iter()
        .map(|p| {
            let count = |f: fn(&super::PartnerCounts) -> &std::sync::atomic::AtomicU64| {
                app.counters
                    .get(&p.id)
                    .map_or(0, |c| f(c).load(Ordering::Relaxed))
            };
            let (queued, oldest) = depths
                .iter()
                .find(|(t, _, _)| *t == p.id)
                .map_or((0, None), |(_, n, oldest)| {
                    (*n, Some((now - *oldest).num_seconds().max(0)))
                });
            json!({
                "id": p.id,
                "ingress": policy(limits.ingress_policy(&p.id)),
                "delivery": policy(limits.delivery_policy(&p.id)),
                "admitted": count(|c| &c.admitted),
                "limited": count(|c| &c.limited),
                "delivery_admitted": count(|c| &c.delivery_admitted),
                "delivery_held": count(|c| &c.delivery_held),
                "queued": queued,
                "oldest_queued_secs": oldest,
            })
        })
        .collect();
    reply(
        StatusCode::OK,
        json!({
            "emergency": app.emergency(),
            "emergency_factor": config.limits.emergency_factor,
            "config_sha256": config.sha256,
            "partners": partners,
        }),
    )
}
