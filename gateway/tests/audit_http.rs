//! The audit log verified from the outside: a transfer runs end to end over
//! real mutual TLS on loopback, then a partner checks, with HTTP requests
//! only and the published verifier key, that every event of its hand-off
//! is a leaf of a signed checkpoint, and that the log only grew.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The flow tests use the rest of the shared helpers.
#[allow(dead_code)]
mod common;

use adapters::Family;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use gateway::audit::merkle::{self, Hash};
use gateway::audit::note::{self, Checkpoint, Verifier};
use gateway::http::{Client, Reply};
use gateway::store::Store;
use gateway::wire::Kind;
use schemas::Status;
use serde_json::Value;

use common::{Harness, Poll, WAIT, bj_receipt, certs_dir, client_with, json, sample, text};

/// The sample's caller: neither may appear in a leaf.
const CALLER_NAME: &str = "陈志强";
const CALLER_PHONE: &str = "13800138000";

/// The published verifier key of the example log.
fn verifier() -> Verifier {
    let text = std::fs::read_to_string(certs_dir().join("audit-signing.vkey")).unwrap();
    Verifier::parse(&text).unwrap()
}

async fn get(client: &Client, h: &Harness, path: &str) -> Reply {
    client
        .send("GET", &h.url(path), &[], Bytes::new())
        .await
        .unwrap()
}

fn hash(v: &Value) -> Hash {
    let bytes = B64.decode(v.as_str().unwrap()).unwrap();
    <Hash>::try_from(bytes.as_slice()).unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hash).collect()
}

/// The latest checkpoint, fetched and verified with the published key.
async fn checkpoint(client: &Client, h: &Harness) -> (Checkpoint, String) {
    verified(&get(client, h, "/audit/v1/checkpoint").await)
}

/// A checkpoint reply, checked and verified with the published key.
fn verified(reply: &Reply) -> (Checkpoint, String) {
    assert_eq!(reply.status.as_u16(), 200, "{}", text(reply));
    let ct = reply.headers.get("content-type").unwrap().to_str().unwrap();
    assert_eq!(ct, "text/plain; charset=utf-8");
    let note = text(reply);
    let (cp, key) = note::verify(&note, &[verifier()]).unwrap();
    assert_eq!(key, "jjj12345.example/gateway-audit");
    assert_eq!(cp.origin, "jjj12345.example/gateway-audit");
    (cp, note)
}

/// Polls the checkpoint until it covers `size` events.
async fn checkpoint_covering(client: &Client, h: &Harness, size: u64) -> Checkpoint {
    let poll = Poll::new(WAIT);
    loop {
        let reply = get(client, h, "/audit/v1/checkpoint").await;
        if reply.status.as_u16() == 200 {
            let (cp, _) = verified(&reply);
            if cp.size >= size {
                return cp;
            }
        } else {
            assert_eq!(reply.status.as_u16(), 503, "{}", text(&reply));
        }
        assert!(poll.again().await, "no checkpoint of {size} events signed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_verifies_its_transfer_in_the_signed_log_over_http() {
    let h = Harness::start("audit-http", true, |_| {}).await;
    let bj = h.net.client("bj12345").unwrap();
    // An early checkpoint, before the transfer: the gateway's start (the
    // configuration event) is signed at once.
    let early = checkpoint_covering(&bj, &h, 1).await;

    let reply = h
        .post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            sample("bj-json/order.json"),
        )
        .await;
    let (id, audit_seq) = bj_receipt(&reply);
    assert!(early.size < audit_seq);

    // The transfer runs to its end: closed, and Langfang told of it.
    h.wait_handoff(&id, "closed", WAIT, |r| r.state == Status::Closed)
        .await;
    h.wait_outbox(&id, WAIT, |o| {
        !o.is_empty()
            && o.iter()
                .all(|m| m.state == gateway::store::OutboxState::Delivered)
    })
    .await;
    let recorded = h.store().events(&id).await.unwrap().len();

    // From here on, HTTP only: the hand-off's events, once a checkpoint
    // covers all of them.
    let poll = Poll::new(WAIT);
    let (body, events) = loop {
        let reply = get(&bj, &h, &format!("/audit/v1/handoffs/{id}")).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", text(&reply));
        let body = json(&reply.body);
        let events = body["events"].as_array().unwrap().clone();
        if events.len() == recorded && events.iter().all(|e| !e["proof"].is_null()) {
            break (body, events);
        }
        assert!(poll.again().await, "never all included: {body}");
    };
    assert_eq!(body["handoff_id"], id.as_str());
    let (cp, _) = note::verify(body["checkpoint"].as_str().unwrap(), &[verifier()]).unwrap();
    assert_eq!(body["tree_size"].as_u64(), Some(cp.size));
    assert!(cp.size > early.size, "the log grew during the transfer");

    let mut kinds = Vec::new();
    let mut received_seq = None;
    for e in &events {
        let leaf = e["leaf"].as_str().unwrap();
        assert!(
            !leaf.contains(CALLER_NAME) && !leaf.contains(CALLER_PHONE),
            "personal data in a leaf: {leaf}"
        );
        let leaf_hash = merkle::leaf_hash(leaf.as_bytes());
        assert_eq!(leaf_hash, hash(&e["leaf_hash"]), "leaf {leaf}");
        let seq = e["seq"].as_u64().unwrap();
        assert_eq!(e["leaf_index"].as_u64(), Some(seq - 1));
        // The leaf says what it is: its own seq, kind and hand-off.
        let parsed = json(leaf.as_bytes());
        assert_eq!(parsed["seq"].as_u64(), Some(seq));
        assert_eq!(parsed["kind"], e["kind"]);
        assert_eq!(parsed["handoff_id"], id.as_str());
        merkle::verify_inclusion(seq - 1, cp.size, &leaf_hash, &hashes(&e["proof"]), &cp.root)
            .unwrap_or_else(|err| panic!("event {seq} not in the checkpoint: {err}"));
        let kind = e["kind"].as_str().unwrap().to_owned();
        if kind == "received" {
            received_seq = Some(seq);
            let detail = &parsed["detail"];
            assert_eq!(
                detail["raw_sha256"].as_str().map(str::len),
                Some(64),
                "{detail}"
            );
        }
        kinds.push(kind);
    }
    assert_eq!(received_seq, Some(audit_seq), "the receipt's auditSeq");
    assert_eq!(kinds.first().map(String::as_str), Some("received"));
    for kind in ["delivered", "status_applied"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} event: {kinds:?}"
        );
    }
    let whole = body.to_string();
    assert!(!whole.contains(CALLER_NAME) && !whole.contains(CALLER_PHONE));

    // The proof endpoints agree, against the latest checkpoint.
    let (latest, _) = checkpoint(&bj, &h).await;
    assert!(latest.size >= cp.size);
    let reply = get(
        &bj,
        &h,
        &format!(
            "/audit/v1/proof/inclusion?seq={audit_seq}&size={}",
            latest.size
        ),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", text(&reply));
    let proof = json(&reply.body);
    assert_eq!(proof["seq"].as_u64(), Some(audit_seq));
    assert_eq!(proof["leaf_index"].as_u64(), Some(audit_seq - 1));
    assert_eq!(proof["tree_size"].as_u64(), Some(latest.size));
    let received = &events[0];
    assert_eq!(proof["leaf_hash"], received["leaf_hash"]);
    merkle::verify_inclusion(
        audit_seq - 1,
        latest.size,
        &hash(&proof["leaf_hash"]),
        &hashes(&proof["proof"]),
        &latest.root,
    )
    .unwrap();

    // The log only grew: the early checkpoint is a prefix of the latest.
    let reply = get(
        &bj,
        &h,
        &format!(
            "/audit/v1/proof/consistency?first={}&second={}",
            early.size, latest.size
        ),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", text(&reply));
    let consistency = json(&reply.body);
    assert_eq!(consistency["first"].as_u64(), Some(early.size));
    assert_eq!(consistency["second"].as_u64(), Some(latest.size));
    merkle::verify_consistency(
        early.size,
        latest.size,
        &early.root,
        &latest.root,
        &hashes(&consistency["proof"]),
    )
    .unwrap();
    // A tampered root is refused by the same check.
    let mut forged = early.root;
    forged[0] ^= 1;
    assert!(
        merkle::verify_consistency(
            early.size,
            latest.size,
            &forged,
            &latest.root,
            &hashes(&consistency["proof"]),
        )
        .is_err()
    );

    // Langfang, the target, sees the hand-off too; Tianjin does not, just
    // as for an id that does not exist; without a certificate, nothing.
    let hb = h.net.client("hb-131000").unwrap();
    let reply = get(&hb, &h, &format!("/audit/v1/handoffs/{id}")).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", text(&reply));
    let tj = h.net.client("tj12345").unwrap();
    let hidden = get(&tj, &h, &format!("/audit/v1/handoffs/{id}")).await;
    assert_eq!(hidden.status.as_u16(), 404, "{}", text(&hidden));
    let unknown = get(&tj, &h, "/audit/v1/handoffs/01JNOSUCHHANDOFF00000000000").await;
    assert_eq!(unknown.status.as_u16(), 404);
    assert_eq!(json(&hidden.body), json(&unknown.body));
    assert!(json(&hidden.body)["error"].is_string());
    let anonymous = client_with(None);
    let reply = get(&anonymous, &h, "/audit/v1/checkpoint").await;
    assert_eq!(reply.status.as_u16(), 403, "{}", text(&reply));

    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_json_errors() {
    let h = Harness::start("audit-http-errors", false, |_| {}).await;
    let bj = h.net.client("bj12345").unwrap();
    // The gateway's start is the first event; wait for it to be signed.
    let cp = checkpoint_covering(&bj, &h, 1).await;
    let cases = [
        ("/audit/v1/proof/inclusion", 400, "seq is required"),
        ("/audit/v1/proof/inclusion?seq=0", 400, "positive integer"),
        ("/audit/v1/proof/inclusion?seq=x", 400, "positive integer"),
        ("/audit/v1/proof/inclusion?seq=1&seq=1", 400, "twice"),
        (
            "/audit/v1/proof/inclusion?seq=1&tree=1",
            400,
            "unknown parameter",
        ),
        (
            "/audit/v1/proof/inclusion?seq=1&size=999999",
            400,
            "larger than the log",
        ),
        (
            "/audit/v1/proof/inclusion?seq=999999",
            400,
            "not in the tree",
        ),
        (
            "/audit/v1/proof/consistency?second=1",
            400,
            "first is required",
        ),
        (
            "/audit/v1/proof/consistency?first=2&second=1",
            400,
            "must not be larger",
        ),
        ("/audit/v1/nothing", 404, "no such endpoint"),
    ];
    for (path, status, said) in cases {
        let reply = get(&bj, &h, path).await;
        assert_eq!(reply.status.as_u16(), status, "{path}: {}", text(&reply));
        let ct = reply.headers.get("content-type").unwrap().to_str().unwrap();
        assert_eq!(ct, "application/json", "{path}");
        let error = json(&reply.body)["error"].as_str().unwrap().to_owned();
        assert!(error.contains(said), "{path}: {error}");
    }
    let reply = bj
        .send("POST", &h.url("/audit/v1/checkpoint"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(reply.status.as_u16(), 405);

    // Sizes default to the latest checkpoint's.
    let reply = get(&bj, &h, "/audit/v1/proof/inclusion?seq=1").await;
    assert_eq!(reply.status.as_u16(), 200, "{}", text(&reply));
    let tree_size = json(&reply.body)["tree_size"].as_u64().unwrap();
    assert!(tree_size >= cp.size);
    let reply = get(&bj, &h, "/audit/v1/proof/consistency?first=1").await;
    assert_eq!(reply.status.as_u16(), 200, "{}", text(&reply));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_audit_key_nothing_is_signed() {
    let h = Harness::start("audit-http-unsigned", false, |c| c.audit = None).await;
    let bj = h.net.client("bj12345").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for path in ["/audit/v1/checkpoint", "/audit/v1/proof/inclusion?seq=1"] {
        let reply = get(&bj, &h, path).await;
        assert_eq!(reply.status.as_u16(), 503, "{path}: {}", text(&reply));
        let error = json(&reply.body)["error"].as_str().unwrap().to_owned();
        assert!(error.contains("[audit]"), "{error}");
    }
    assert!(h.store().latest_checkpoint().await.unwrap().is_none());
    // The start is recorded all the same, naming no key.
    let first = h.store().audit_entries(1, 1).await.unwrap();
    assert_eq!(first[0].kind.as_str(), "config_loaded");
    assert_eq!(first[0].detail["signing_key"], Value::Null);
    h.stop().await;
}
