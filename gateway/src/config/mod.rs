//! The gateway's configuration: one TOML file, parsed once into typed,
//! validated values. Nothing else in the gateway reads configuration files:
//! certificates, keys and the data tables are read here, at load, so that a
//! broken file is refused at start-up (and by `gateway check-config`) with an
//! error naming the key, never discovered later.
//!
//! Relative paths in the file are relative to the file's own directory.
//! Durations are humane strings: `"500ms"`, `"10s"`, `"5m"`, `"2h"`, `"3d"`,
//! `"1h30m"`; none may be zero. `certs-example/demo.toml` is a complete,
//! commented example. The keys:
//!
//! ```toml
//! [server]                      # the partner-facing HTTPS server
//! listen = "0.0.0.0:8443"       # socket address (required)
//! cert = "gateway-server.pem"   # server certificate chain, PEM (required)
//! key = "gateway-server.key"    # its private key, PEM (required)
//! client_ca = "ca.pem"          # CA bundle that signs partner client certificates (required)
//! plain_http = false            # serve plain HTTP: development only, logged loudly
//! max_body_bytes = 1048576      # largest request body accepted
//! header_timeout = "10s"        # time allowed to send the request head
//! idle_timeout = "60s"          # idle keep-alive connections are closed after this
//! max_concurrent_requests = 1024
//!
//! [client]                      # the gateway as a client, delivering to partners
//! cert = "gateway-client.pem"   # its client certificate chain (required)
//! key = "gateway-client.key"    # its private key (required)
//! ca = "ca.pem"                 # roots that sign the partners' servers (required)
//!
//! [store]
//! path = "gateway.db"           # the SQLite file (required; its directory must exist)
//!
//! [data]
//! dir = "../schemas/data"       # categories.csv, hotlines.csv, compounds.csv (required)
//!
//! [deadlines]                   # each table optional; both keys required when present
//! urgent = { ack = "30m", answer = "2h" }
//! normal = { ack = "2h", answer = "24h" }
//! property = { ack = "4h", answer = "72h" }
//!
//! [delivery]                    # every key optional
//! max_attempts = 12             # dead-letter after this many failed attempts
//! max_age = "24h"               # ... or when the first attempt is older than this
//! initial_backoff = "1s"        # first retry delay (doubled each time, with jitter)
//! max_backoff = "5m"            # retry delay ceiling
//! breaker_failures = 5          # consecutive failures that open a target's breaker
//! breaker_cooldown = "30s"      # how long an open breaker waits before a probe
//! request_timeout = "10s"       # one delivery request, connect to last byte
//! in_flight = 16                # messages in flight to one partner at once (1-256)
//!
//! [escalation]
//! partner = "bj12345"           # optional: gets a copy of overdue hand-offs
//!
//! [open311]                     # the Open311 GeoReport v2 endpoints; every key optional
//! jurisdiction_id = "jjj12345.example"  # the jurisdiction served; requests naming another get 404
//!
//! [audit]                       # optional: without it, no checkpoint is signed
//! origin = "jjj12345.example/gateway-audit"  # the log's name, first line of every checkpoint
//! signing_key = "audit-signing.key"          # file with the note signing key PRIVATE+KEY+name+hash+key (required)
//! verifier_keys = ["old-audit.vkey"]         # files with old keys' verifiers name+hash+key, kept after a rotation
//! checkpoint_interval = "10s"   # how often a checkpoint is signed when the log has grown
//! [limits]                      # rate limits; every key optional (no key: no limit)
//! rate = "20/s"                 # default ingress rate of partners that set none
//! burst = 20                    # ... and its burst (default: the rate's count)
//! deliver_rate = "60/min"       # default delivery rate to push partners that set none
//! deliver_burst = 1             # ... and its burst (default 1)
//! urgent_share = 0.2            # share of every rate reserved for urgent tickets (default 0.2)
//! emergency = false             # 高话务量应急: every limit times emergency_factor (default false)
//! emergency_factor = 3.0        # how much emergency mode raises every count and burst (default 3.0)
//! [operator]                    # optional: the operator listener (absent: none)
//! listen = "127.0.0.1:9444"     # loopback only, plain HTTP: /admin/limits, /admin/emergency, /admin/reload
//! [telemetry]                   # optional; every key optional (see `telemetry.rs`)
//! log_format = "text"           # "text" or "json" lines on standard error
//! otlp_endpoint = "http://127.0.0.1:4317"  # export spans over OTLP/gRPC (absent: no export)
//! service_name = "jjj12345-gateway"        # service.name of the exported spans
//! export_timeout = "5s"         # one export, and the flush at shutdown, at most
//!
//! [[partners]]                  # one table per partner
//! id = "bj12345"                # partner id: letters, digits, '-', '_', '.'
//! family = "bj-json"            # wire format family (not "canonical")
//! endpoint = "https://bj.example:8443"  # push families only: base URL for deliveries
//! identity = "bj12345"          # certificate subject CN of the partner (default: id)
//! api_key = "..."               # open311 families only (required there)
//! division = "110000"           # optional 6-digit administrative division code
//! rate = "10/s"                 # optional: what it may submit (else limits.rate)
//! burst = 10                    # optional: ... at once (default: the rate's count)
//! deliver_rate = "6/min"        # push families only: what it is sent (else limits.deliver_rate)
//! deliver_burst = 1             # optional: ... at once (default 1)
//! ```
//!
//! Rates are strings `"<count>/<window>"`: a whole count per `s`, `min`,
//! `h`, `d` or per a humane duration of whole seconds (`"30/10s"`); see
//! [`Rate`]. A rate with burst `b` lets through at most `count + b − 1`
//! messages in any window (GCRA), so a burst of 1 means never more than the
//! count in any window: that is why deliveries default to 1, while
//! submissions default to the count (a hotline may send its whole quota at
//! once). `urgent_share` (0 ≤ share < 1) of every count and burst, rounded
//! up, is a separate lane reserved for urgent tickets ([`Limit::lanes`]): an
//! urgent ticket takes from it first, then from the normal lane; anything
//! else only from the normal lane, so a flood of normal tickets never uses
//! the urgent lane, and both lanes together never exceed the rate. What is
//! limited: tickets, status updates and acknowledgements a partner submits
//! (reads are not); messages the gateway pushes to a partner.

mod audit;
mod build;
mod defaults;
mod duration;
mod liaison;
mod pem;
mod rate;
mod telemetry;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use adapters::Family;
use schemas::Tables;
use serde::Deserialize;
use sha2::Digest;

use build::Document;

pub use audit::AuditConfig;
pub use build::is_partner_id;
pub use liaison::LiaisonToken;
pub use pem::{Certs, Key};
pub use rate::{Lanes, Limit, Rate};
pub use telemetry::{LogFormat, OtlpConfig, TelemetryConfig};

/// Why a configuration was refused. Every variant names the file; parse and
/// validation errors also name the key (`partners[2].endpoint`,
/// `deadlines.urgent.ack`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file itself cannot be read.
    #[error("cannot read {}: {source}", file.display())]
    Read {
        /// The configuration file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML, or a key or value does not fit: an unknown or
    /// missing key, a wrong type, a bad duration or family name.
    #[error("{}:{line}:{column}: {}{message}", file.display(), key_prefix(key))]
    Parse {
        /// The configuration file.
        file: PathBuf,
        /// Dotted path of the offending key; empty for TOML syntax errors.
        key: String,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column (in characters) of the offending text.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A well-formed value that is not acceptable: a duplicate partner id, a
    /// missing or unreadable certificate, an endpoint that is not https...
    #[error("{}: {key}: {message}", file.display())]
    Invalid {
        /// The configuration file.
        file: PathBuf,
        /// Dotted path of the offending key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The dotted path of the offending key, when the error has one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Parse { key, .. } if key.is_empty() => None,
            ConfigError::Parse { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
        }
    }
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// The whole configuration, validated, with its files read.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was loaded from.
    pub file: PathBuf,
    /// Hex SHA-256 of the file's bytes as parsed (recorded in the audit
    /// log's `config_loaded` event at start-up).
    pub sha256: String,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[client]`.
    pub client: ClientConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[data]`.
    pub data: DataConfig,
    /// The tables read from `data.dir`.
    pub tables: Tables,
    /// `[deadlines]`.
    pub deadlines: Deadlines,
    /// `[delivery]`.
    pub delivery: DeliveryConfig,
    /// `[escalation]`.
    pub escalation: EscalationConfig,
    /// `[open311]`.
    pub open311: Open311Config,
    /// `[audit]`, when present: checkpoints are signed only with it.
    pub audit: Option<AuditConfig>,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[operator]`: the operator listener, if any.
    pub operator: Option<OperatorConfig>,
    /// `[telemetry]`: log format and span export (takes a restart).
    pub telemetry: TelemetryConfig,
    /// `[[partners]]`, in file order.
    pub partners: Vec<PartnerConfig>,
}

/// `[server]`: the partner-facing HTTPS server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `listen`: the socket address to serve on.
    pub listen: SocketAddr,
    /// `cert`: the server's certificate chain.
    pub cert: Certs,
    /// `key`: the server certificate's private key.
    pub key: Key,
    /// `client_ca`: the CA bundle that signs partners' client certificates.
    pub client_ca: Certs,
    /// `plain_http`: serve plain HTTP instead of TLS (development only; the
    /// certificate keys stay required so switching back needs no edit).
    pub plain_http: bool,
    /// `max_body_bytes`: the largest request body accepted (default 1 MiB).
    pub max_body_bytes: usize,
    /// `header_timeout`: time allowed to send the request head (default 10s).
    pub header_timeout: Duration,
    /// `idle_timeout`: an idle connection is closed after this (default 60s).
    pub idle_timeout: Duration,
    /// `max_concurrent_requests`: requests served at once (default 1024).
    pub max_concurrent_requests: usize,
}

/// `[client]`: the gateway's identity and trust when it delivers to partners.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `cert`: the gateway's client certificate chain.
    pub cert: Certs,
    /// `key`: its private key.
    pub key: Key,
    /// `ca`: the roots that sign partners' server certificates.
    pub ca: Certs,
}

/// `[store]`: the durable store.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `path`: the SQLite database file (created when missing; its directory
    /// must exist).
    pub path: PathBuf,
}

/// `[data]`: the data tables.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `dir`: the directory holding categories.csv, hotlines.csv and
    /// compounds.csv.
    pub dir: PathBuf,
}

/// One pair of deadlines, counted from the hand-off's receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    /// `ack`: the target must acknowledge (accept) within this.
    #[serde(deserialize_with = "duration::deserialize")]
    pub ack: Duration,
    /// `answer`: the target must resolve within this.
    #[serde(deserialize_with = "duration::deserialize")]
    pub answer: Duration,
}

/// `[deadlines]`: deadlines per kind of hand-off (spec defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// `urgent`: urgent tickets (default 30m / 2h).
    #[serde(default = "defaults::urgent")]
    pub urgent: Deadline,
    /// `normal`: other tickets (default 2h / 24h).
    #[serde(default = "defaults::normal")]
    pub normal: Deadline,
    /// `property`: housing repairs for property units (default 4h / 72h).
    #[serde(default = "defaults::property")]
    pub property: Deadline,
}

impl Default for Deadlines {
    fn default() -> Deadlines {
        Deadlines {
            urgent: defaults::urgent(),
            normal: defaults::normal(),
            property: defaults::property(),
        }
    }
}

/// `[delivery]`: how the outbox pushes to partners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// `max_attempts`: dead-letter after this many failed attempts (default 12).
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// `max_age`: dead-letter once the first attempt is this old (default 24h).
    #[serde(
        default = "defaults::max_age",
        deserialize_with = "duration::deserialize"
    )]
    pub max_age: Duration,
    /// `initial_backoff`: first retry delay (default 1s).
    #[serde(
        default = "defaults::initial_backoff",
        deserialize_with = "duration::deserialize"
    )]
    pub initial_backoff: Duration,
    /// `max_backoff`: retry delay ceiling (default 5m).
    #[serde(
        default = "defaults::max_backoff",
        deserialize_with = "duration::deserialize"
    )]
    pub max_backoff: Duration,
    /// `breaker_failures`: consecutive failures that open a target's circuit
    /// breaker (default 5).
    #[serde(default = "defaults::breaker_failures")]
    pub breaker_failures: u32,
    /// `breaker_cooldown`: an open breaker lets a probe through after this
    /// (default 30s).
    #[serde(
        default = "defaults::breaker_cooldown",
        deserialize_with = "duration::deserialize"
    )]
    pub breaker_cooldown: Duration,
    /// `request_timeout`: one delivery request, connect to last byte
    /// (default 10s).
    #[serde(
        default = "defaults::request_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub request_timeout: Duration,
    /// `in_flight`: messages a worker keeps in flight to one partner at
    /// once, 1 to 256 (default 16); one hand-off's messages still go one at
    /// a time, in order.
    #[serde(default = "defaults::in_flight")]
    pub in_flight: usize,
}

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            max_attempts: defaults::max_attempts(),
            max_age: defaults::max_age(),
            initial_backoff: defaults::initial_backoff(),
            max_backoff: defaults::max_backoff(),
            breaker_failures: defaults::breaker_failures(),
            breaker_cooldown: defaults::breaker_cooldown(),
            request_timeout: defaults::request_timeout(),
            in_flight: defaults::in_flight(),
        }
    }
}

/// `[escalation]`: who hears about overdue hand-offs besides the origin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// `partner`: the id of the partner that gets a copy of every overdue
    /// hand-off (提级办理); none when absent.
    pub partner: Option<String>,
}

/// `[open311]`: the Open311 GeoReport v2 endpoints (`/open311/v2/`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open311Config {
    /// `jurisdiction_id`: the jurisdiction this endpoint serves (GeoReport
    /// v2 `jurisdiction_id`, e.g. `jjj12345.example`). When set, a request
    /// naming another jurisdiction is answered 404; a request naming none
    /// is served. When absent, any value is accepted.
    pub jurisdiction_id: Option<String>,
}

/// `[limits]`: rate limits at ingress and delivery. The partners' own
/// keys win over these defaults.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// `rate`: what a partner without its own `rate` may submit; no limit
    /// when absent.
    pub rate: Option<Rate>,
    /// `burst`: the burst of `rate` (default: its count).
    pub burst: Option<u32>,
    /// `deliver_rate`: what a push partner without its own `deliver_rate`
    /// is sent; no limit when absent.
    pub deliver_rate: Option<Rate>,
    /// `deliver_burst`: the burst of `deliver_rate` (default 1).
    pub deliver_burst: Option<u32>,
    /// `urgent_share`: the share of every rate and burst reserved for
    /// urgent tickets, 0 ≤ share < 1 (default 0.2; 0: no reserved lane).
    #[serde(default = "defaults::urgent_share")]
    pub urgent_share: f64,
    /// `emergency`: emergency mode (高话务量应急) at start-up and after a
    /// reload: every ingress and delivery limit's count and burst is
    /// multiplied by `emergency_factor` (default false).
    #[serde(default)]
    pub emergency: bool,
    /// `emergency_factor`: how much emergency mode raises the limits,
    /// 1 ≤ factor ≤ 100 (default 3.0).
    #[serde(default = "defaults::emergency_factor")]
    pub emergency_factor: f64,
}

/// `[operator]`: the operator listener, plain HTTP on a loopback address
/// only (it has no authentication: whoever can reach it is the operator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// `listen`: a loopback socket address (`127.0.0.1:9444`, `[::1]:9444`).
    pub listen: SocketAddr,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            rate: None,
            burst: None,
            deliver_rate: None,
            deliver_burst: None,
            urgent_share: defaults::urgent_share(),
            emergency: false,
            emergency_factor: defaults::emergency_factor(),
        }
    }
}

/// One `[[partners]]` table. `Debug` does not show the API key.
#[derive(Clone)]
pub struct PartnerConfig {
    /// `id`: the partner id (`bj12345`, `hb-131000`, `pu-military-001`...).
    pub id: String,
    /// `family`: the partner's wire format family.
    pub family: Family,
    /// `endpoint`: the https base URL deliveries are pushed to, without a
    /// trailing `/`; present exactly for push families (bj-json, tj-xml,
    /// hb-soap, ent-json).
    pub endpoint: Option<String>,
    /// `identity`: the subject CN of the partner's client certificate
    /// (default: the id).
    pub identity: String,
    /// `api_key`: the key an Open311 client sends; present exactly for the
    /// open311 families.
    pub api_key: Option<String>,
    /// `division`: the partner's 6-digit administrative division code.
    pub division: Option<String>,
    /// `rate` and `burst` (else `[limits]`): what the partner may submit;
    /// `None`: no limit.
    pub ingress_limit: Option<Limit>,
    /// `deliver_rate` and `deliver_burst` (else `[limits]`, push families
    /// only): what the gateway sends it; `None`: no limit.
    pub delivery_limit: Option<Limit>,
    /// `liaison_tokens` (property units only): the liaisons who may sign
    /// in to the web inbox with a token, `[{ name, token_sha256 }]`.
    pub liaison_tokens: Vec<LiaisonToken>,
}

impl std::fmt::Debug for PartnerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerConfig")
            .field("id", &self.id)
            .field("family", &self.family)
            .field("endpoint", &self.endpoint)
            .field("identity", &self.identity)
            .field("api_key", &self.api_key.as_ref().map(|_| "[elided]"))
            .field("division", &self.division)
            .field("ingress_limit", &self.ingress_limit)
            .field("delivery_limit", &self.delivery_limit)
            .field("liaison_tokens", &self.liaison_tokens)
            .finish()
    }
}

impl Config {
    /// The partner with this id.
    pub fn partner(&self, id: &str) -> Option<&PartnerConfig> {
        self.partners.iter().find(|p| p.id == id)
    }

    /// The partner whose client certificate carries this subject CN.
    pub fn partner_by_identity(&self, cn: &str) -> Option<&PartnerConfig> {
        self.partners.iter().find(|p| p.identity == cn)
    }

    /// The Open311 client with this API key. Every key is compared in
    /// constant time, so the time taken does not tell how close a guess was.
    pub fn partner_by_api_key(&self, key: &str) -> Option<&PartnerConfig> {
        self.partners
            .iter()
            .fold(None, |found, p| match p.api_key.as_deref() {
                Some(k) if same_secret(k, key) => Some(p),
                _ => found,
            })
    }

    /// Things that are allowed but deserve a loud warning at start-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.server.plain_http {
            warnings.push(
                "server.plain_http = true: the server speaks PLAIN HTTP, without TLS or client \
                 certificates; for development only, never in production"
                    .to_owned(),
            );
        }
        warnings
    }
}

fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Reads and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Validates configuration `text` as if read from `file` (relative paths are
/// resolved against its directory; errors name it).
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let document = deserialize(text).map_err(|(key, span, message)| {
        let (line, column) = position(text, span);
        ConfigError::Parse {
            file: file.to_owned(),
            key,
            line,
            column,
            message,
        }
    })?;
    let base = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let sha256 = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    build::build(document, file, sha256, base).map_err(|(key, message)| ConfigError::Invalid {
        file: file.to_owned(),
        key,
        message,
    })
}

/// Runs serde over the TOML, keeping the key path of any error (with
/// `serde_path_to_error`, which knows array indices) and its span.
fn deserialize(text: &str) -> Result<Document, (String, usize, String)> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        let span = e.span().map_or(0, |s| s.start);
        (String::new(), span, e.message().to_owned())
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        let inner = e.into_inner();
        let span = inner.span().map_or(0, |s| s.start);
        (key, span, inner.message().to_owned())
    })
}

/// 1-based line and character column of byte offset `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
