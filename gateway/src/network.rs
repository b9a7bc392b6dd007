//! A whole interchange on loopback: the gateway and a simulated partner for
//! every push partner of a configuration, each with its own certificate
//! from a development certificate directory. `gateway demo` runs the three
//! flows on it; the integration tests build on it too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use adapters::Family;
use bytes::Bytes;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use schemas::{Status, Tables};
use tokio::sync::{broadcast, watch};

use crate::config::Config;
use crate::http::{self, Client};
use crate::server::{self, Running, partner_division};
use crate::simulate::{SimEvent, SimPartner};
use crate::store::Store;

/// Why the network could not be started or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// A certificate or key file is missing or malformed.
    #[error("{path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A TLS configuration could not be built.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The gateway did not start.
    #[error(transparent)]
    Serve(#[from] server::ServeError),
    /// A partner's endpoint is not an https://host:port URL.
    #[error("partner {0}: endpoint must be https://127.0.0.1:PORT for a simulated partner")]
    Endpoint(String),
}

/// The gateway and its simulated partners.
pub struct Network {
    /// The running gateway.
    pub gateway: Running,
    /// The simulated push partners, by id.
    pub partners: HashMap<String, Arc<SimPartner>>,
    /// Everything the simulated partners see and do.
    pub events: broadcast::Sender<SimEvent>,
    /// `https://127.0.0.1:PORT` of the gateway.
    pub gateway_url: String,
    certs: PathBuf,
    tables: Arc<Tables>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetworkError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| NetworkError::Certificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, NetworkError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| NetworkError::Certificate {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// A client presenting `partners/<id>.pem` (or the file pair given) and
/// trusting `ca.pem` of `certs`.
pub fn partner_client(certs: &Path, id: &str, timeout: Duration) -> Result<Client, NetworkError> {
    let dir = certs.join("partners");
    let chain = read_certs(&dir.join(format!("{id}.pem")))?;
    let key = read_key(&dir.join(format!("{id}.key")))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in read_certs(&certs.join("ca.pem"))? {
        roots.add(ca)?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    tls.alpn_protocols = crate::tls::ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Client::new(tls, false, timeout))
}

fn partner_server_tls(certs: &Path, id: &str) -> Result<Arc<rustls::ServerConfig>, NetworkError> {
    let dir = certs.join("partners");
    let chain = read_certs(&dir.join(format!("{id}-server.pem")))?;
    let key = read_key(&dir.join(format!("{id}-server.key")))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    tls.alpn_protocols = crate::tls::ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(tls))
}

impl Network {
    /// Starts a simulated partner for every push partner of `config`, then
    /// the gateway. With `ephemeral`, every listener takes a free port and
    /// the configuration's endpoints and listen address are rewritten to
    /// match (tests); otherwise the configured ports are used (the demo).
    /// With `auto_work`, targets work what they receive and origins close
    /// what is resolved.
    pub async fn start(
        mut config: Config,
        certs: &Path,
        ephemeral: bool,
        auto_work: bool,
    ) -> Result<Network, NetworkError> {
        let tables = Arc::new(config.tables.clone());
        let (events, _) = broadcast::channel(4096);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let listeners = bind_partners(&mut config, ephemeral).await?;
        if ephemeral {
            config.server.listen = ([127, 0, 0, 1], 0).into();
            if let Some(op) = &mut config.operator {
                op.listen.set_port(0);
            }
        }
        let sims = SimSetup::of(&config, certs, auto_work, &events, &tables);
        let gateway = server::start(config).await?;
        let gateway_url = format!("https://127.0.0.1:{}", gateway.addr.port());
        let (partners, tasks) = sims.spawn(listeners, &gateway_url, &shutdown_rx)?;
        Ok(Network {
            gateway,
            partners,
            events,
            gateway_url,
            certs: certs.to_owned(),
            tables,
            shutdown,
            tasks,
        })
    }

    /// A client holding partner `id`'s certificate.
    pub fn client(&self, id: &str) -> Result<Client, NetworkError> {
        partner_client(&self.certs, id, Duration::from_secs(10))
    }

    /// The data tables.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Works property unit `unit_id`'s inbox like its liaison: acknowledges
    /// each new order with the unit's own reference, then reports it in
    /// progress and resolved. Runs until the network stops.
    pub fn start_liaison(&mut self, unit_id: &str) -> Result<(), NetworkError> {
        let client = self.client(unit_id)?;
        let url = self.gateway_url.clone();
        let unit = unit_id.to_owned();
        let mut shutdown = self.shutdown.subscribe();
        let events = self.events.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut done = std::collections::HashSet::new();
            let mut counter = 0u32;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = shutdown.changed() => return,
                }
                let Ok(reply) = client.send("GET", &format!("{url}/pu/v1/orders?state=open"), &[], Bytes::new()).await else {
                    continue;
                };
                let Ok(orders) = serde_json::from_slice::<Vec<serde_json::Value>>(&reply.body) else {
                    continue;
                };
                for order in orders {
                    let Some(id) = order["order_id"].as_str().map(str::to_owned) else { continue };
                    if !done.insert(id.clone()) {
                        continue;
                    }
                    counter += 1;
                    let _ = events.send(SimEvent::Received {
                        partner: unit.clone(),
                        kind: crate::wire::Kind::Ticket,
                        handoff_id: Some(id.clone()),
                        status: None,
                        own_id: Some(format!("YFC-2025-{counter:04}")),
                    });
                    let json = [("content-type", "application/json")];
                    let ack = serde_json::json!({"unit_ref": format!("YFC-2025-{counter:04}")}).to_string();
                    let _ = client.post(&format!("{url}/pu/v1/orders/{id}/ack"), &json, Bytes::from(ack)).await;
                    for (state, comment) in [("in_progress", "维修班组已入户查看"), ("resolved", "已完成维修，住户现场确认")] {
                        tokio::time::sleep(Duration::from_millis(150)).await;
                        let at = adapters::time::format_rfc3339(&chrono::Utc::now().with_timezone(&adapters::time::beijing()));
                        let body = serde_json::json!({"state": state, "at": at, "by": format!("{unit} 联络员"), "comment": comment}).to_string();
                        let reply = client.post(&format!("{url}/pu/v1/orders/{id}/status"), &json, Bytes::from(body)).await;
                        let _ = events.send(SimEvent::Sent {
                            partner: unit.clone(),
                            handoff_id: id.clone(),
                            status: if state == "resolved" { Status::Resolved } else { Status::InProgress },
                            http_status: reply.map(|r| r.status.as_u16()).unwrap_or(0),
                        });
                    }
                }
            }
        }));
        Ok(())
    }

    /// Waits until every hand-off in `ids` is closed or rejected; the error
    /// names the first that is not, with its state, after `timeout`.
    pub async fn wait_terminal(&self, ids: &[String], timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut stuck = None;
            for id in ids {
                match self.gateway.app.store.handoff(id).await {
                    Ok(Some(h)) if crate::lifecycle::is_terminal(h.state) => {}
                    Ok(Some(h)) => {
                        stuck = Some(format!(
                            "hand-off {id} ({} → {}) is still {}",
                            h.origin_partner,
                            h.target_partner,
                            h.state.as_str()
                        ));
                        break;
                    }
                    Ok(None) => {
                        stuck = Some(format!("hand-off {id} does not exist"));
                        break;
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            match stuck {
                None => return Ok(()),
                Some(s) if tokio::time::Instant::now() >= deadline => return Err(s),
                Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Stops the partners and the gateway.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.gateway.stop().await;
    }
}

/// Binds a listener for every push partner of `config`: on a free port
/// (rewriting the endpoint) when `ephemeral`, else on the configured one.
async fn bind_partners(
    config: &mut Config,
    ephemeral: bool,
) -> Result<Vec<(String, tokio::net::TcpListener)>, NetworkError> {
    let mut listeners = Vec::new();
    for partner in config.partners.iter_mut().filter(|p| p.endpoint.is_some()) {
        let configured = partner.endpoint.clone().unwrap_or_default();
        let addr = if ephemeral {
            "127.0.0.1:0".to_owned()
        } else {
            configured
                .strip_prefix("https://")
                .map(str::to_owned)
                .ok_or_else(|| NetworkError::Endpoint(partner.id.clone()))?
        };
        let bind_error = |source| NetworkError::Bind {
            addr: addr.clone(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        if ephemeral {
            partner.endpoint = Some(format!("https://127.0.0.1:{port}"));
        }
        listeners.push((partner.id.clone(), listener));
    }
    Ok(listeners)
}

/// What the simulated partners need from the configuration.
struct SimSetup {
    certs: PathBuf,
    auto_work: bool,
    events: broadcast::Sender<SimEvent>,
    tables: Arc<Tables>,
    partners: HashMap<String, (Family, Option<String>)>,
}

impl SimSetup {
    fn of(
        config: &Config,
        certs: &Path,
        auto_work: bool,
        events: &broadcast::Sender<SimEvent>,
        tables: &Arc<Tables>,
    ) -> SimSetup {
        SimSetup {
            certs: certs.to_owned(),
            auto_work,
            events: events.clone(),
            tables: tables.clone(),
            partners: config
                .partners
                .iter()
                .map(|p| (p.id.clone(), (p.family, partner_division(config, p))))
                .collect(),
        }
    }

    /// Starts a simulated partner on each listener.
    #[allow(clippy::type_complexity)]
    fn spawn(
        self,
        listeners: Vec<(String, tokio::net::TcpListener)>,
        gateway_url: &str,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<
        (
            HashMap<String, Arc<SimPartner>>,
            Vec<tokio::task::JoinHandle<()>>,
        ),
        NetworkError,
    > {
        let mut partners = HashMap::new();
        let mut tasks = Vec::new();
        for (id, listener) in listeners {
            let client = partner_client(&self.certs, &id, Duration::from_secs(10))?;
            let (family, division) = self
                .partners
                .get(&id)
                .cloned()
                .unwrap_or((Family::BjJson, None));
            let sim = SimPartner::new(
                &id,
                family,
                division,
                self.tables.clone(),
                client,
                gateway_url,
                self.auto_work,
                self.events.clone(),
            );
            let tls = partner_server_tls(&self.certs, &id)?;
            tasks.push(tokio::spawn(sim.clone().serve(
                listener,
                tls,
                shutdown.clone(),
            )));
            partners.insert(id, sim);
        }
        Ok((partners, tasks))
    }
}

/// Simulated partners talking to a gateway that runs elsewhere (another
/// process: the crash test runs the real binary).
pub struct SimPartners {
    /// The simulated push partners, by id.
    pub partners: HashMap<String, Arc<SimPartner>>,
    /// Everything they see and do.
    pub events: broadcast::Sender<SimEvent>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SimPartners {
    /// Starts a simulated partner for every push partner of `config` on a
    /// free port, rewriting `config`'s endpoints to match; they post to
    /// `gateway_url`.
    pub async fn start(
        config: &mut Config,
        certs: &Path,
        gateway_url: &str,
        auto_work: bool,
    ) -> Result<SimPartners, NetworkError> {
        let tables = Arc::new(config.tables.clone());
        let (events, _) = broadcast::channel(4096);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let listeners = bind_partners(config, true).await?;
        let setup = SimSetup::of(config, certs, auto_work, &events, &tables);
        let (partners, tasks) = setup.spawn(listeners, gateway_url, &shutdown_rx)?;
        Ok(SimPartners {
            partners,
            events,
            shutdown,
            tasks,
        })
    }

    /// Stops them.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The files `certs-example/demo.toml` names, relative to its directory.
const DEMO_FILES: [&str; 6] = [
    "gateway-server.pem",
    "gateway-server.key",
    "gateway-client.pem",
    "gateway-client.key",
    "ca.pem",
    "audit-signing.key",
];

/// The example configuration (`demo.toml` in `certs_example`) made usable
/// from any directory, for the tests and the load generator that run the
/// real binary: its certificate and key paths absolute (taken from `files`,
/// usually `certs_example` itself), the data tables absolute, the store at
/// `store`, and the operator listener on a free port.
pub fn demo_config_text(
    certs_example: &Path,
    files: &Path,
    store: &Path,
) -> std::io::Result<String> {
    let quoted = |path: &Path| format!("{:?}", path.display().to_string());
    let mut text = std::fs::read_to_string(certs_example.join("demo.toml"))?;
    for name in DEMO_FILES {
        text = text.replace(&format!("\"{name}\""), &quoted(&files.join(name)));
    }
    text = text.replace(
        "\"../schemas/data\"",
        &quoted(&certs_example.join("../schemas/data")),
    );
    text = text.replace("\"demo.db\"", &quoted(store));
    Ok(text.replace("127.0.0.1:9444", "127.0.0.1:0"))
}

/// Finds a file of the checkout (`certs-example/demo.toml`...): under the
/// working directory or above the executable.
pub fn find_in_checkout(relative: &str) -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from(relative)];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(|a| a.join(relative)));
    }
    candidates.into_iter().find(|c| c.exists())
}

/// Replies of the gateway are read by the demo and the tests with this.
pub fn body_text(reply: &http::Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}
