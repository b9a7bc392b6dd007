//! From the file as written to a validated [`Config`]: reads the files it
//! names and makes the cross-checks serde cannot.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use adapters::Family;
use schemas::Tables;
use serde::{Deserialize, Deserializer};

use super::{
    ClientConfig, Config, DataConfig, Deadlines, DeliveryConfig, EscalationConfig, Limit,
    LimitsConfig, Open311Config, OperatorConfig, PartnerConfig, Rate, ServerConfig, StoreConfig,
    defaults, duration, pem,
};

/// The file as written, before files are read and cross-checks made.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Document {
    server: RawServer,
    client: RawClient,
    store: StoreConfig,
    data: DataConfig,
    #[serde(default)]
    deadlines: Deadlines,
    #[serde(default)]
    delivery: DeliveryConfig,
    #[serde(default)]
    escalation: EscalationConfig,
    #[serde(default)]
    open311: Open311Config,
    audit: Option<super::audit::RawAudit>,
    #[serde(default)]
    limits: LimitsConfig,
    operator: Option<OperatorConfig>,
    telemetry: Option<super::telemetry::RawTelemetry>,
    #[serde(default)]
    partners: Vec<RawPartner>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: SocketAddr,
    cert: PathBuf,
    key: PathBuf,
    client_ca: PathBuf,
    #[serde(default)]
    plain_http: bool,
    #[serde(default = "defaults::max_body_bytes")]
    max_body_bytes: usize,
    #[serde(
        default = "defaults::header_timeout",
        deserialize_with = "duration::deserialize"
    )]
    header_timeout: Duration,
    #[serde(
        default = "defaults::idle_timeout",
        deserialize_with = "duration::deserialize"
    )]
    idle_timeout: Duration,
    #[serde(default = "defaults::max_concurrent_requests")]
    max_concurrent_requests: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartner {
    id: String,
    #[serde(deserialize_with = "partner_family")]
    family: Family,
    endpoint: Option<String>,
    identity: Option<String>,
    api_key: Option<String>,
    division: Option<String>,
    rate: Option<Rate>,
    burst: Option<u32>,
    deliver_rate: Option<Rate>,
    deliver_burst: Option<u32>,
    #[serde(default)]
    liaison_tokens: Vec<super::liaison::LiaisonToken>,
}

fn partner_family<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Family, D::Error> {
    let name = String::deserialize(deserializer)?;
    match name.parse::<Family>().map_err(serde::de::Error::custom)? {
        Family::Canonical => Err(serde::de::Error::custom(
            "\"canonical\" is the gateway's own model, not a partner's format",
        )),
        family => Ok(family),
    }
}

/// A validation failure: the key and what is wrong with it.
pub(super) type Problem = (String, String);

fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    (key.into(), message.into())
}

pub(super) fn build(
    doc: Document,
    file: &Path,
    sha256: String,
    base: &Path,
) -> Result<Config, Problem> {
    let certs = |key: &str, path: &Path| pem::read_certs(base, path).map_err(|m| problem(key, m));
    let private = |key: &str, path: &Path| pem::read_key(base, path).map_err(|m| problem(key, m));
    let s = doc.server;
    if s.max_body_bytes == 0 {
        return Err(problem(
            "server.max_body_bytes",
            "must be greater than zero",
        ));
    }
    if s.max_concurrent_requests == 0 {
        return Err(problem(
            "server.max_concurrent_requests",
            "must be greater than zero",
        ));
    }
    let server = ServerConfig {
        listen: s.listen,
        cert: certs("server.cert", &s.cert)?,
        key: private("server.key", &s.key)?,
        client_ca: certs("server.client_ca", &s.client_ca)?,
        plain_http: s.plain_http,
        max_body_bytes: s.max_body_bytes,
        header_timeout: s.header_timeout,
        idle_timeout: s.idle_timeout,
        max_concurrent_requests: s.max_concurrent_requests,
    };
    let client = ClientConfig {
        cert: certs("client.cert", &doc.client.cert)?,
        key: private("client.key", &doc.client.key)?,
        ca: certs("client.ca", &doc.client.ca)?,
    };
    let store = StoreConfig {
        path: base.join(&doc.store.path),
    };
    match store.path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            return Err(problem(
                "store.path",
                format!("directory {} does not exist", dir.display()),
            ));
        }
        _ => {}
    }
    let data = DataConfig {
        dir: base.join(&doc.data.dir),
    };
    let tables = Tables::load(&data.dir).map_err(|e| problem("data.dir", e.to_string()))?;
    check_deadlines(&doc.deadlines)?;
    check_delivery(&doc.delivery)?;
    check_limits(&doc.limits)?;
    let partners = doc
        .partners
        .into_iter()
        .enumerate()
        .map(|(i, raw)| build_partner(i, raw, server.plain_http, &doc.limits))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&partners)?;
    if let Some(id) = &doc.escalation.partner
        && !partners.iter().any(|p| &p.id == id)
    {
        return Err(problem(
            "escalation.partner",
            format!("no partner has id {id:?}"),
        ));
    }
    check_open311(&doc.open311)?;
    if let Some(op) = &doc.operator
        && !op.listen.ip().is_loopback()
    {
        return Err(problem(
            "operator.listen",
            format!(
                "{} is not a loopback address: the operator listener has no authentication, \
                 so it listens on 127.0.0.1 or [::1] only",
                op.listen
            ),
        ));
    }
    let audit = doc
        .audit
        .map(|raw| super::audit::build(raw, base))
        .transpose()?;
    let telemetry = doc
        .telemetry
        .map(super::telemetry::build)
        .transpose()?
        .unwrap_or_default();
    Ok(Config {
        file: file.to_owned(),
        sha256,
        server,
        client,
        store,
        data,
        tables,
        deadlines: doc.deadlines,
        delivery: doc.delivery,
        escalation: doc.escalation,
        open311: doc.open311,
        audit,
        limits: doc.limits,
        operator: doc.operator,
        telemetry,
        partners,
    })
}

/// The longest `open311.jurisdiction_id` (what the Open311 adapter accepts
/// in a POST).
const MAX_JURISDICTION_ID: usize = 64;

fn check_open311(o: &Open311Config) -> Result<(), Problem> {
    if let Some(j) = &o.jurisdiction_id
        && (j.is_empty()
            || j.len() > MAX_JURISDICTION_ID
            || !j.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(problem(
            "open311.jurisdiction_id",
            format!(
                "{j:?} is not a jurisdiction id: 1 to {MAX_JURISDICTION_ID} printable ASCII characters without spaces"
            ),
        ));
    }
    Ok(())
}

fn check_deadlines(d: &Deadlines) -> Result<(), Problem> {
    for (kind, deadline) in [
        ("urgent", d.urgent),
        ("normal", d.normal),
        ("property", d.property),
    ] {
        if deadline.ack > deadline.answer {
            return Err(problem(
                format!("deadlines.{kind}.ack"),
                "must not be later than the answer deadline",
            ));
        }
    }
    Ok(())
}

fn check_delivery(d: &DeliveryConfig) -> Result<(), Problem> {
    if d.max_attempts == 0 {
        return Err(problem(
            "delivery.max_attempts",
            "must be greater than zero",
        ));
    }
    if d.breaker_failures == 0 {
        return Err(problem(
            "delivery.breaker_failures",
            "must be greater than zero",
        ));
    }
    if !(1..=256).contains(&d.in_flight) {
        return Err(problem("delivery.in_flight", "must be from 1 to 256"));
    }
    if d.initial_backoff > d.max_backoff {
        return Err(problem(
            "delivery.initial_backoff",
            "must not be longer than delivery.max_backoff",
        ));
    }
    Ok(())
}

/// How a family's partner exchanges tickets with the gateway.
#[derive(PartialEq)]
enum Transport {
    /// Both ways over HTTPS with mutual TLS: the gateway pushes to `endpoint`.
    Push,
    /// Pulls from the inbox (property units): no endpoint.
    Pull,
    /// Calls the Open311 API with an API key: no endpoint.
    ApiKey,
}

fn transport(family: Family) -> Transport {
    match family {
        Family::PuJson => Transport::Pull,
        Family::Open311Json | Family::Open311Xml => Transport::ApiKey,
        _ => Transport::Push,
    }
}

fn build_partner(
    i: usize,
    raw: RawPartner,
    plain_http: bool,
    limits: &LimitsConfig,
) -> Result<PartnerConfig, Problem> {
    let key = |field: &str| format!("partners[{i}].{field}");
    if !is_partner_id(&raw.id) {
        return Err(problem(
            key("id"),
            format!(
                "{:?} is not a partner id: 1 to 64 ASCII letters, digits, '-', '_' or '.'",
                raw.id
            ),
        ));
    }
    let transport = transport(raw.family);
    let endpoint = match (raw.endpoint, transport == Transport::Push) {
        (Some(url), true) => {
            Some(endpoint(&url, plain_http).map_err(|m| problem(key("endpoint"), m))?)
        }
        (None, true) => {
            return Err(problem(
                key("endpoint"),
                format!("required for family {}: deliveries are pushed", raw.family),
            ));
        }
        (Some(_), false) => {
            return Err(problem(
                key("endpoint"),
                format!(
                    "not allowed for family {}: the partner calls the gateway",
                    raw.family
                ),
            ));
        }
        (None, false) => None,
    };
    let identity = raw.identity.unwrap_or_else(|| raw.id.clone());
    if identity.trim().is_empty() {
        return Err(problem(key("identity"), "must not be empty"));
    }
    match (&raw.api_key, transport == Transport::ApiKey) {
        (Some(k), true) if k.len() < 16 || !k.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(problem(
                key("api_key"),
                "must be at least 16 printable ASCII characters without spaces",
            ));
        }
        (None, true) => {
            return Err(problem(
                key("api_key"),
                format!(
                    "required for family {}: Open311 clients authenticate with it",
                    raw.family
                ),
            ));
        }
        (Some(_), false) => {
            return Err(problem(
                key("api_key"),
                format!(
                    "only Open311 clients use an API key; {} partners use client certificates",
                    raw.family
                ),
            ));
        }
        _ => {}
    }
    if let Some(d) = &raw.division
        && !(d.len() == 6 && d.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(problem(
            key("division"),
            format!("{d:?} is not a 6-digit division code"),
        ));
    }
    super::liaison::check(&raw.liaison_tokens, raw.family == Family::PuJson, key)?;
    let share = limits.urgent_share;
    let ingress_limit = limit(
        (raw.rate, raw.burst, &key("rate"), &key("burst")),
        (limits.rate, limits.burst, "limits.rate"),
        |rate| rate.quota,
        share,
    )?;
    let delivery_limit = match (
        transport == Transport::Push,
        raw.deliver_rate,
        raw.deliver_burst,
    ) {
        (true, _, _) => limit(
            (
                raw.deliver_rate,
                raw.deliver_burst,
                &key("deliver_rate"),
                &key("deliver_burst"),
            ),
            (
                limits.deliver_rate,
                limits.deliver_burst,
                "limits.deliver_rate",
            ),
            |_| 1,
            share,
        )?,
        (false, None, None) => None,
        (false, Some(_), _) => {
            return Err(problem(
                key("deliver_rate"),
                format!(
                    "not allowed for family {}: nothing is pushed to it",
                    raw.family
                ),
            ));
        }
        (false, None, Some(_)) => {
            return Err(problem(
                key("deliver_burst"),
                format!(
                    "not allowed for family {}: nothing is pushed to it",
                    raw.family
                ),
            ));
        }
    };
    Ok(PartnerConfig {
        id: raw.id,
        family: raw.family,
        endpoint,
        identity,
        api_key: raw.api_key,
        division: raw.division,
        ingress_limit,
        delivery_limit,
        liaison_tokens: raw.liaison_tokens,
    })
}

/// `[limits]` on its own: the share is a fraction below 1, bursts are not
/// zero, and the default rates can be split into lanes.
fn check_limits(l: &LimitsConfig) -> Result<(), Problem> {
    if !(0.0..1.0).contains(&l.urgent_share) {
        return Err(problem(
            "limits.urgent_share",
            format!(
                "{} is not a share: give a number from 0 (no reserved lane) up to, not \
                 including, 1",
                l.urgent_share
            ),
        ));
    }
    if !(1.0..=100.0).contains(&l.emergency_factor) {
        return Err(problem(
            "limits.emergency_factor",
            format!(
                "{} is not a factor: give a number from 1 to 100",
                l.emergency_factor
            ),
        ));
    }
    for (key, burst) in [("burst", l.burst), ("deliver_burst", l.deliver_burst)] {
        if burst == Some(0) {
            return Err(problem(
                format!("limits.{key}"),
                "must be greater than zero",
            ));
        }
    }
    Ok(())
}

/// A partner's effective limit: its own rate (with its own burst, else
/// `default_burst` of the rate), else the `[limits]` default rate (with
/// the partner's burst, else the default's, else `default_burst`). Checked
/// to split into lanes with `share`.
fn limit(
    own: (Option<Rate>, Option<u32>, &str, &str),
    default: (Option<Rate>, Option<u32>, &str),
    default_burst: fn(Rate) -> u32,
    share: f64,
) -> Result<Option<Limit>, Problem> {
    let (own_rate, own_burst, rate_key, burst_key) = own;
    let (default_rate, default_rate_burst, default_key) = default;
    if own_burst == Some(0) {
        return Err(problem(burst_key, "must be greater than zero"));
    }
    let (rate, burst, key) = match (own_rate, default_rate) {
        (Some(rate), _) => (rate, own_burst, rate_key),
        (None, Some(rate)) => (rate, own_burst.or(default_rate_burst), default_key),
        (None, None) if own_burst.is_some() => {
            return Err(problem(
                burst_key,
                format!("a burst needs a rate: set {rate_key} or {default_key}"),
            ));
        }
        (None, None) => return Ok(None),
    };
    let limit = Limit {
        rate,
        burst: burst.unwrap_or_else(|| default_burst(rate)),
    };
    limit.lanes(share).map_err(|m| problem(key, m))?;
    Ok(Some(limit))
}

/// Whether `id` can be a partner id: 1 to 64 ASCII letters, digits, `-`,
/// `_` or `.` (ids appear in URLs, file names and certificate names).
pub fn is_partner_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Checks a delivery base URL and returns it without a trailing `/`.
fn endpoint(url: &str, plain_http: bool) -> Result<String, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if plain_http => {}
        Some("http") => {
            return Err(format!(
                "{url:?} must use https (http is allowed only with server.plain_http)"
            ));
        }
        _ => return Err(format!("{url:?} must be an https URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("{url:?} must not have a query"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Reads one field of a partner, for the uniqueness checks.
type Getter = for<'a> fn(&'a PartnerConfig) -> Option<&'a str>;

fn check_unique(partners: &[PartnerConfig]) -> Result<(), Problem> {
    let fields: [(&str, Getter); 3] = [
        ("id", |p| Some(&p.id)),
        ("identity", |p| Some(&p.identity)),
        ("api_key", |p| p.api_key.as_deref()),
    ];
    for (field, get) in fields {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, p) in partners.iter().enumerate() {
            let Some(value) = get(p) else { continue };
            if let Some(first) = seen.insert(value, i) {
                let shown = if field == "api_key" {
                    String::from("the same key")
                } else {
                    format!("{value:?}")
                };
                return Err(problem(
                    format!("partners[{i}].{field}"),
                    format!("duplicate: partners[{first}] already has {shown}"),
                ));
            }
        }
    }
    Ok(())
}
