//! What the flow tests share: a whole interchange on loopback (the gateway
//! with the example configuration and certificates, a simulated partner
//! server per push partner, a fresh store per test), the samples, and
//! readers for the partners' receipts, errors and deliveries.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use adapters::{Error, Family};
use bytes::Bytes;
use gateway::config::{self, Config};
use gateway::http::{Client, Reply};
use gateway::network::Network;
use gateway::simulate::{Delivery, SimPartner};
use gateway::store::{HandoffFilter, HandoffRecord, SqliteStore, Store};
use gateway::wire::{self, Kind};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use schemas::{Status, StatusUpdate, Tables, Ticket};

/// Long enough for any step of a flow on a busy two-core machine.
pub const WAIT: Duration = Duration::from_secs(10);

/// The statuses of updates, in order.
pub fn statuses_of(updates: &[StatusUpdate]) -> Vec<Status> {
    updates.iter().map(|u| u.status).collect()
}

/// Asserts that `actual` is `expected`, or `expected` without its first
/// step (`delivered`): the spec lets steps be skipped, and the target's own
/// `accepted` may overtake the gateway's recording of the delivery reply
/// on a loaded machine.
pub fn assert_progression<T: PartialEq + std::fmt::Debug>(actual: &[T], expected: &[T]) {
    assert!(
        actual == expected || actual == &expected[1..],
        "expected {expected:?} (the first step may be skipped), got {actual:?}"
    );
}

/// The `field` of every received JSON body.
pub fn wire_values(bodies: &[Bytes], field: &str) -> Vec<String> {
    bodies
        .iter()
        .map(|b| json(b)[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The repository's `certs-example/` (development CA and certificates).
pub fn certs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-example")
}

/// A conformance sample, e.g. `bj-json/order.json`.
pub fn sample(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance-tests/samples")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file of `gateway/demo/`.
pub fn demo_file(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON body, parsed.
pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// A JSON sample with fields replaced (`pointer` → value), written back.
pub fn json_with(bytes: &[u8], changes: &[(&str, serde_json::Value)]) -> Vec<u8> {
    let mut v = json(bytes);
    for (pointer, value) in changes {
        *v.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("no {pointer} in the sample")) = value.clone();
    }
    serde_json::to_vec(&v).unwrap()
}

/// `(gatewayRef, auditSeq)` of a bj-json receipt, checking its shape.
pub fn bj_receipt(reply: &Reply) -> (String, u64) {
    assert_eq!(reply.status.as_u16(), 202, "receipt: {}", text(reply));
    let v = json(&reply.body);
    assert_eq!(v["code"], 0, "receipt: {v}");
    let id = v["data"]["gatewayRef"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let seq = v["data"]["auditSeq"].as_u64().unwrap_or(0);
    assert!(
        !id.is_empty() && seq > 0,
        "receipt without gatewayRef/auditSeq: {v}"
    );
    (id, seq)
}

/// `(gateway_ref, audit_seq)` of an ent-json receipt.
pub fn ent_receipt(reply: &Reply) -> (String, u64) {
    assert_eq!(reply.status.as_u16(), 202, "receipt: {}", text(reply));
    let v = json(&reply.body);
    let id = v["gateway_ref"].as_str().unwrap_or_default().to_owned();
    let seq = v["audit_seq"].as_u64().unwrap_or(0);
    assert!(
        !id.is_empty() && seq > 0,
        "receipt without gateway_ref/audit_seq: {v}"
    );
    (id, seq)
}

/// A bj-json error reply: `(code, msg, fields named in errors[])`, checking
/// the shape of formats.md (`{code, msg, errors: [{field, reason}]}`).
pub fn bj_error(reply: &Reply) -> (u64, String, Vec<String>) {
    assert_content_type(reply, "application/json");
    let v = json(&reply.body);
    let code = v["code"].as_u64().unwrap_or_else(|| panic!("no code: {v}"));
    assert_eq!(
        code,
        u64::from(reply.status.as_u16()),
        "code ≠ HTTP status: {v}"
    );
    let msg = v["msg"].as_str().unwrap_or_else(|| panic!("no msg: {v}"));
    let errors = v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors[]: {v}"));
    let fields = errors
        .iter()
        .map(|e| {
            assert!(e["reason"].is_string(), "error without a reason: {e}");
            e["field"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    (code, msg.to_owned(), fields)
}

/// An hb-soap SOAP 1.1 Fault (GB18030): `(faultcode, faultstring, CWZD
/// fields)`.
pub fn soap_fault(reply: &Reply) -> (String, String, Vec<String>) {
    assert_content_type(reply, "text/xml");
    let ct = content_type(reply).to_ascii_uppercase();
    assert!(ct.contains("GB18030"), "fault is not GB18030: {ct}");
    let root = adapters::xml::read(&reply.body, adapters::xml::Charset::Gb18030)
        .unwrap_or_else(|e| panic!("fault does not parse: {e}"));
    assert_eq!(root.name, "Envelope");
    let fault = root
        .child("Body")
        .and_then(|b| b.child("Fault"))
        .unwrap_or_else(|| panic!("no soap:Body/soap:Fault: {root:?}"));
    let text = |name: &str| {
        fault
            .child(name)
            .map(|e| e.text.clone())
            .unwrap_or_default()
    };
    let fields = fault
        .child("detail")
        .map(|d| d.children.iter().map(|c| c.text.clone()).collect())
        .unwrap_or_default();
    (text("faultcode"), text("faultstring"), fields)
}

/// A tj-xml `<Fault>`: `(Code, Message, Field...)`.
pub fn tj_fault(reply: &Reply) -> (String, String, Vec<String>) {
    assert_content_type(reply, "application/xml");
    let root = adapters::xml::read(&reply.body, adapters::xml::Charset::Utf8)
        .unwrap_or_else(|e| panic!("fault does not parse: {e}"));
    assert_eq!(root.name, "Fault");
    assert_eq!(root.ns.as_deref(), Some("urn:tj12345:appeal:1"));
    let text = |name: &str| root.child(name).map(|e| e.text.clone()).unwrap_or_default();
    let fields = root
        .children
        .iter()
        .filter(|c| c.name == "Field")
        .map(|c| c.text.clone())
        .collect();
    (text("Code"), text("Message"), fields)
}

fn content_type(reply: &Reply) -> String {
    reply
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn assert_content_type(reply: &Reply, media: &str) {
    let ct = content_type(reply);
    assert!(
        ct.starts_with(media),
        "Content-Type {ct:?} is not {media}: {}",
        text(reply)
    );
}

/// A reply's body, for messages.
pub fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// A client trusting the development CA that presents `identity` (a
/// certificate chain and key), or no certificate at all.
pub fn client_with(
    identity: Option<(
        Vec<CertificateDer<'static>>,
        rustls_pki_types::PrivateKeyDer<'static>,
    )>,
) -> Client {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(certs_dir().join("ca.pem")).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(gateway::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let tls = match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    Client::new(tls, false, Duration::from_secs(10))
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The gateway and its simulated partners for one test, on free ports,
/// with a store of its own.
pub struct Harness {
    /// The interchange.
    pub net: Network,
    dir: PathBuf,
}

impl Harness {
    /// Starts the example configuration changed by `tweak`. With
    /// `auto_work`, targets work what they receive and origins close what
    /// is resolved; without it the test plays the partners.
    pub async fn start(name: &str, auto_work: bool, tweak: impl FnOnce(&mut Config)) -> Harness {
        let dir = std::env::temp_dir().join(format!(
            "gateway-flows-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = config::load(&certs_dir().join("demo.toml")).unwrap();
        config.store.path = dir.join("gateway.db");
        tweak(&mut config);
        let net = Network::start(config, &certs_dir(), true, auto_work)
            .await
            .unwrap();
        Harness { net, dir }
    }

    /// A configuration file naming this harness's store (the example
    /// configuration with absolute paths), for the `gateway` binary.
    pub fn config_file(&self) -> PathBuf {
        let certs = certs_dir();
        let text = gateway::network::demo_config_text(&certs, &certs, &self.dir.join("gateway.db"))
            .unwrap();
        let file = self.dir.join("gateway.toml");
        std::fs::write(&file, text).unwrap();
        file
    }

    /// Waits until the hand-off's outbox satisfies `done`.
    pub async fn wait_outbox(
        &self,
        id: &str,
        timeout: Duration,
        done: impl Fn(&[gateway::store::OutboxItem]) -> bool,
    ) -> Vec<gateway::store::OutboxItem> {
        let started = std::time::Instant::now();
        loop {
            let outbox = self.store().outbox(id).await.unwrap();
            if done(&outbox) {
                return outbox;
            }
            assert!(
                started.elapsed() < timeout,
                "outbox of {id} never got there: {outbox:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops everything and removes the store.
    pub async fn stop(self) {
        self.net.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// The data tables.
    pub fn tables(&self) -> &Tables {
        self.net.tables()
    }

    /// The gateway's store.
    pub fn store(&self) -> &SqliteStore {
        self.net.gateway.app.store.as_ref()
    }

    /// A simulated push partner.
    pub fn partner(&self, id: &str) -> &Arc<SimPartner> {
        self.net
            .partners
            .get(id)
            .unwrap_or_else(|| panic!("no simulated partner {id}"))
    }

    /// `https://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.net.gateway_url)
    }

    /// Posts `body` as partner `id` (its certificate) to the gateway's
    /// inbound endpoint of `family` for `kind`, with that family's headers.
    pub async fn post(&self, id: &str, family: Family, kind: Kind, body: Vec<u8>) -> Reply {
        post_as(&self.net.client(id).unwrap(), self, family, kind, body)
            .await
            .unwrap()
    }

    /// One hand-off, which must exist.
    pub async fn handoff(&self, id: &str) -> HandoffRecord {
        self.store()
            .handoff(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no hand-off {id}"))
    }

    /// Every hand-off in the store.
    pub async fn all_handoffs(&self) -> Vec<HandoffRecord> {
        self.store()
            .list_handoffs(HandoffFilter::default())
            .await
            .unwrap()
    }

    /// Waits until hand-off `id` satisfies `done`.
    pub async fn wait_handoff(
        &self,
        id: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&HandoffRecord) -> bool,
    ) -> HandoffRecord {
        let poll = Poll::new(timeout);
        loop {
            let h = self.handoff(id).await;
            if done(&h) {
                return h;
            }
            if !poll.again().await {
                panic!(
                    "{what}: hand-off {id} is {} (ack overdue: {})",
                    h.state.as_str(),
                    h.ack_overdue
                );
            }
        }
    }

    /// What partner `id` has received of `kind`, in order.
    pub async fn received(&self, id: &str, kind: Kind) -> Vec<Delivery> {
        let all = self.partner(id).received().await;
        all.into_iter().filter(|d| d.kind == kind).collect()
    }

    /// The status updates partner `id` received for hand-off `handoff`,
    /// each decoded with `decode` (the partner's own decoder).
    pub async fn statuses(
        &self,
        id: &str,
        handoff: &str,
        decode: fn(&[u8], &Tables) -> Result<StatusUpdate, Error>,
    ) -> Vec<StatusUpdate> {
        self.received(id, Kind::Status)
            .await
            .iter()
            .map(|d| {
                decode(&d.body, self.tables())
                    .unwrap_or_else(|e| panic!("{id} received a status it cannot decode: {e}"))
            })
            .filter(|s| s.handoff_id.as_deref() == Some(handoff))
            .collect()
    }

    /// Waits until partner `id` has received status updates for `handoff`
    /// that satisfy `done`; returns them all.
    pub async fn wait_statuses(
        &self,
        id: &str,
        handoff: &str,
        decode: fn(&[u8], &Tables) -> Result<StatusUpdate, Error>,
        timeout: Duration,
        done: impl Fn(&[StatusUpdate]) -> bool,
    ) -> Vec<StatusUpdate> {
        let poll = Poll::new(timeout);
        loop {
            let got = self.statuses(id, handoff, decode).await;
            if done(&got) {
                return got;
            }
            if !poll.again().await {
                let names: Vec<&str> = got.iter().map(|s| s.status.as_str()).collect();
                panic!("{id} got only {names:?} for {handoff}");
            }
        }
    }

    /// Waits until partner `id` has received `n` tickets; returns them,
    /// decoded with `decode`, with their raw deliveries.
    pub async fn wait_tickets(
        &self,
        id: &str,
        n: usize,
        decode: fn(&[u8], &Tables) -> Result<Ticket, Error>,
        timeout: Duration,
    ) -> Vec<(Delivery, Ticket)> {
        let poll = Poll::new(timeout);
        let got = loop {
            let got = self.received(id, Kind::Ticket).await;
            if got.len() >= n {
                break got;
            }
            if !poll.again().await {
                panic!("{id} received {} tickets, expected {n}", got.len());
            }
        };
        got.into_iter()
            .map(|d| {
                let t = decode(&d.body, self.tables())
                    .unwrap_or_else(|e| panic!("{id} received a ticket it cannot decode: {e}"));
                (d, t)
            })
            .collect()
    }
}

/// Posts a family's message with `client` (whatever certificate it holds).
pub async fn post_as(
    client: &Client,
    h: &Harness,
    family: Family,
    kind: Kind,
    body: Vec<u8>,
) -> Result<Reply, gateway::http::ClientError> {
    let path = wire::inbound_path(family, kind).unwrap();
    let mut headers = vec![("content-type", family.content_type())];
    if family == Family::HbSoap {
        headers.push(("soapaction", wire::soap_action(kind)));
    }
    client.post(&h.url(path), &headers, Bytes::from(body)).await
}

/// A polling deadline.
pub struct Poll(tokio::time::Instant);

impl Poll {
    /// Polling for at most `timeout`.
    pub fn new(timeout: Duration) -> Poll {
        Poll(tokio::time::Instant::now() + timeout)
    }

    /// Sleeps 50 ms and says true, or says false once the time is up.
    pub async fn again(&self) -> bool {
        if tokio::time::Instant::now() >= self.0 {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        true
    }
}
