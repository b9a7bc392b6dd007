//! `gateway demo`: the gateway on loopback with the example configuration
//! and certificates, simulated partners speaking their real formats over
//! mutual TLS, and the three flows run end to end:
//!
//! 1. one-key transfers: Beijing → Langfang (hb-soap) and Tianjin → Beijing;
//! 2. an enterprise-hotline hand-off to Beijing 12345;
//! 3. a housing repair from Beijing to a military property unit, worked by
//!    its liaison through the inbox API.
//!
//! Each hand-off, its receipts and its status changes are printed as they
//! happen. The demo exits 0 once every hand-off is closed, non-zero naming
//! the stuck one after a minute.

use std::path::{Path, PathBuf};
use std::time::Duration;

use adapters::Family;
use bytes::Bytes;

use crate::config;
use crate::network::{Network, body_text, find_in_checkout};
use crate::simulate::SimEvent;
use crate::wire::{self, Kind};

/// The demo's submissions: (origin partner, its family, the message).
const SUBMISSIONS: [(&str, Family, &[u8]); 4] = [
    (
        "bj12345",
        Family::BjJson,
        include_bytes!("../../conformance-tests/samples/bj-json/order.json"),
    ),
    (
        "tj12345",
        Family::TjXml,
        include_bytes!("../../conformance-tests/samples/tj-xml/appeal.xml"),
    ),
    (
        "bj-enterprise",
        Family::EntJson,
        include_bytes!("../../conformance-tests/samples/ent-json/ticket.json"),
    ),
    (
        "bj12345",
        Family::BjJson,
        include_bytes!("../demo/bj-repair-order.json"),
    ),
];

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The example configuration or certificates are missing.
    #[error("{0}")]
    Setup(String),
    /// The network did not start.
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    /// A submission was not accepted.
    #[error("{partner}'s submission was refused: HTTP {status}: {body}")]
    Refused {
        /// The origin.
        partner: String,
        /// HTTP status.
        status: u16,
        /// The reply.
        body: String,
    },
    /// A hand-off did not finish in time.
    #[error("{0}")]
    Stuck(String),
}

/// Runs the demo with `certs-example/demo.toml` of the checkout.
pub async fn run(keep_running: bool) -> Result<(), DemoError> {
    let config_path = find_in_checkout("certs-example/demo.toml").ok_or_else(|| {
        DemoError::Setup("cannot find certs-example/demo.toml; run from the checkout".into())
    })?;
    let mut config = config::load(&config_path).map_err(|e| DemoError::Setup(e.to_string()))?;
    let store = std::env::temp_dir().join(format!("gateway-demo-{}.db", std::process::id()));
    config.store.path = store.clone();
    let certs: PathBuf = config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut network = Network::start(config, &certs, false, true).await?;
    network.start_liaison("pu-military-001")?;
    println!(
        "gateway listening on {} (store {})",
        network.gateway_url,
        store.display()
    );
    let mut events = network.events.subscribe();
    let printer = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            print_event(&event);
        }
    });
    let mut ids = Vec::new();
    for (partner, family, body) in SUBMISSIONS {
        let client = network.client(partner)?;
        let path = wire::inbound_path(family, Kind::Ticket).unwrap_or("/");
        let mut headers = vec![("content-type", family.content_type())];
        if family == Family::HbSoap {
            headers.push(("soapaction", wire::soap_action(Kind::Ticket)));
        }
        let reply = client
            .post(
                &format!("{}{path}", network.gateway_url),
                &headers,
                Bytes::from_static(body),
            )
            .await
            .map_err(|e| DemoError::Setup(format!("{partner} cannot reach the gateway: {e}")))?;
        if !reply.status.is_success() {
            return Err(DemoError::Refused {
                partner: partner.to_owned(),
                status: reply.status.as_u16(),
                body: body_text(&reply),
            });
        }
        let receipt = body_text(&reply);
        let handoff = receipt_handoff_id(&receipt).unwrap_or_default();
        let record = network.gateway.app.summary(&handoff).await;
        println!(
            "{partner:>15} submitted {family}: HTTP {} receipt {} {}",
            reply.status.as_u16(),
            receipt.split_whitespace().collect::<Vec<_>>().join(" "),
            record
                .map(|(o, t, _)| format!("[{o} → {t}]"))
                .unwrap_or_default()
        );
        ids.push(handoff);
    }
    let outcome = network.wait_terminal(&ids, Duration::from_secs(60)).await;
    for id in &ids {
        if let Some((origin, target, state)) = network.gateway.app.summary(id).await {
            println!("hand-off {id}: {origin} → {target}: {state}");
        }
    }
    if keep_running && outcome.is_ok() {
        println!("\nall hand-offs closed; the gateway and partners keep running (Ctrl-C to stop).");
        println!(
            "try:  curl --cacert {0}/ca.pem --cert {0}/partners/bj12345.pem --key {0}/partners/bj12345.key {1}/healthz",
            certs.display(),
            network.gateway_url
        );
        let _ = tokio::signal::ctrl_c().await;
    }
    printer.abort();
    network.stop().await;
    let _ = std::fs::remove_file(&store);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
    }
    outcome.map_err(DemoError::Stuck)?;
    println!("all {} hand-offs reached their terminal state", ids.len());
    Ok(())
}

/// The hand-off id in any family's receipt (JSON `gatewayRef`/`gateway_ref`,
/// XML `GatewayRef`/`WGBH`).
pub fn receipt_handoff_id(receipt: &str) -> Option<String> {
    for key in ["\"gatewayRef\":", "\"gateway_ref\":"] {
        if let Some(at) = receipt.find(key) {
            let rest = &receipt[at + key.len()..];
            let start = rest.find('"')? + 1;
            let len = rest[start..].find('"')?;
            return Some(rest[start..start + len].to_owned());
        }
    }
    for tag in ["GatewayRef", "WGBH"] {
        let open = format!("<{tag}>");
        if let Some(at) = receipt.find(&open) {
            let rest = &receipt[at + open.len()..];
            return Some(rest[..rest.find('<')?].to_owned());
        }
    }
    None
}

fn print_event(event: &SimEvent) {
    match event {
        SimEvent::Received {
            partner,
            kind: Kind::Ticket,
            handoff_id,
            own_id,
            ..
        } => println!(
            "{partner:>15} received hand-off {} in its own format, its ticket id {}",
            handoff_id.as_deref().unwrap_or("?"),
            own_id.as_deref().unwrap_or("-")
        ),
        SimEvent::Received {
            partner,
            handoff_id,
            status,
            ..
        } => println!(
            "{partner:>15} received status {} for {}",
            status.map(|s| s.as_str()).unwrap_or("?"),
            handoff_id.as_deref().unwrap_or("?")
        ),
        SimEvent::Sent {
            partner,
            handoff_id,
            status,
            http_status,
        } => {
            println!(
                "{partner:>15} sent status {} for {handoff_id}: HTTP {http_status}",
                status.as_str()
            )
        }
        SimEvent::Rejected { partner, error } => {
            println!("{partner:>15} REJECTED a delivery: {error}")
        }
    }
}
