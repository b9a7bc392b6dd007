//! Limits operated while the gateway runs, over real sockets: a reload of
//! the configuration file changes a partner's rate without a restart (an
//! invalid file changes nothing), emergency mode raises every limit, and
//! the operator listener shows the counts and the queue depths. Every
//! switch is in the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use adapters::Family;
use gateway::config::{self, Limit, Rate};
use gateway::http::Reply;
use gateway::wire::Kind;
use serde_json::{Value, json};

use common::{Harness, Poll, WAIT, bj_receipt, certs_dir, json_with, sample, text};

/// The example configuration with absolute paths, the store at `store`,
/// `[limits]` with no urgent lane and Beijing's `rate` written as
/// `bj_rate` (TOML, so it may be invalid) with burst `bj_burst`.
pub fn config_text(store: &Path, bj_rate: &str, bj_burst: u32) -> String {
    let certs = certs_dir();
    let mut text = std::fs::read_to_string(certs.join("demo.toml")).unwrap();
    for name in [
        "gateway-server.pem",
        "gateway-server.key",
        "gateway-client.pem",
        "gateway-client.key",
        "ca.pem",
        "audit-signing.key",
    ] {
        text = text.replace(
            &format!("\"{name}\""),
            &format!("\"{}\"", certs.join(name).display()),
        );
    }
    text = text.replace(
        "\"../schemas/data\"",
        &format!("\"{}\"", certs.join("../schemas/data").display()),
    );
    text = text.replace(
        "path = \"demo.db\"",
        &format!("path = \"{}\"", store.display()),
    );
    text = text.replace("urgent_share = 0.2", "urgent_share = 0.0");
    assert!(text.contains("rate = \"20/s\""));
    text.replace(
        "rate = \"20/s\"",
        &format!("rate = {bj_rate}\nburst = {bj_burst}"),
    )
}

/// Starts the interchange from a configuration file of its own (returned)
/// with Beijing's rate `bj_rate`, `bj_burst` at once.
async fn start_from_file(name: &str, bj_rate: &str, bj_burst: u32) -> (Harness, PathBuf) {
    let mut file = PathBuf::new();
    let h = Harness::start(name, false, |c| {
        file = c.store.path.with_file_name("gateway.toml");
        std::fs::write(&file, config_text(&c.store.path, bj_rate, bj_burst)).unwrap();
        *c = config::load(&file).unwrap();
    })
    .await;
    (h, file)
}

fn operator(h: &Harness) -> SocketAddr {
    h.net.gateway.operator_addr.expect("an operator listener")
}

/// A request to the operator listener: status and JSON body.
async fn admin(h: &Harness, method: &'static str, path: &'static str) -> (u16, Value) {
    let addr = operator(h);
    let (status, body) =
        tokio::task::spawn_blocking(move || gateway::cli::limits::call(addr, method, path))
            .await
            .unwrap()
            .unwrap();
    (status, serde_json::from_str(&body).unwrap())
}

/// Partner `id`'s entry of `GET /admin/limits`.
fn partner_status<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap()
}

/// Beijing's sample order under another order number, normal urgency.
fn order(order_no: &str) -> Vec<u8> {
    json_with(
        &sample("bj-json/order.json"),
        &[("/orderNo", json!(order_no)), ("/urgency", json!("2"))],
    )
}

async fn submit(h: &Harness, order_no: &str) -> Reply {
    h.post("bj12345", Family::BjJson, Kind::Ticket, order(order_no))
        .await
}

/// The audit events of `kind`, their details in sequence.
fn events(h: &Harness, kind: &str) -> Vec<Value> {
    let conn = rusqlite::Connection::open(&h.net.gateway.app.config.store.path).unwrap();
    let mut stmt = conn
        .prepare("SELECT detail_json FROM events WHERE kind = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([kind], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

fn ingress_limit(status: &Value, id: &str) -> Value {
    partner_status(status, id)["ingress"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_lowers_a_rate_without_restart_and_an_invalid_one_changes_nothing() {
    let (h, file) = start_from_file("ops-reload", "\"60/min\"", 10).await;
    for i in 0..3 {
        let reply = submit(&h, &format!("BJ202503121000{i}")).await;
        bj_receipt(&reply);
    }
    assert_eq!(events(&h, "config_loaded").len(), 1);

    // Two a minute, two at once: in force at once, without a restart.
    let store = h.net.gateway.app.config.store.path.clone();
    std::fs::write(&file, config_text(&store, "\"2/min\"", 2)).unwrap();
    let (code, reloaded) = admin(&h, "POST", "/admin/reload").await;
    assert_eq!(code, 200, "{reloaded}");
    assert_eq!(reloaded["emergency"], false);
    for i in 0..2 {
        let reply = submit(&h, &format!("BJ202503121001{i}")).await;
        bj_receipt(&reply);
    }
    let refused = submit(&h, "BJ2025031210099").await;
    assert_eq!(refused.status.as_u16(), 429, "{}", text(&refused));
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(
        refused.headers["ratelimit-policy"].to_str().unwrap(),
        "\"default\";q=2;w=60"
    );
    // Audited: the second configuration, with the file's hash.
    let loaded = events(&h, "config_loaded");
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[1]["config_sha256"], reloaded["config_sha256"]);
    assert_ne!(loaded[0]["config_sha256"], loaded[1]["config_sha256"]);
    let (_, status) = admin(&h, "GET", "/admin/limits").await;
    assert_eq!(
        ingress_limit(&status, "bj12345"),
        json!([{"lane": "default", "rate": "2/min", "burst": 2}])
    );

    // An invalid file: refused naming the key, nothing changes, nothing
    // is recorded.
    std::fs::write(&file, config_text(&store, "\"fast\"", 50)).unwrap();
    let (code, error) = admin(&h, "POST", "/admin/reload").await;
    assert_eq!(code, 422, "{error}");
    assert!(error["key"].as_str().unwrap().ends_with("rate"), "{error}");
    assert!(error["error"].as_str().unwrap().contains("fast"), "{error}");
    assert_eq!(events(&h, "config_loaded").len(), 2);
    let (_, status) = admin(&h, "GET", "/admin/limits").await;
    assert_eq!(
        ingress_limit(&status, "bj12345"),
        json!([{"lane": "default", "rate": "2/min", "burst": 2}])
    );
    let still = submit(&h, "BJ2025031210098").await;
    assert_eq!(still.status.as_u16(), 429, "{}", text(&still));
    let bj = partner_status(&status, "bj12345");
    assert_eq!(bj["admitted"], 5);
    assert_eq!(bj["limited"], 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_mode_admits_what_was_refused_and_is_audited() {
    let (h, _file) = start_from_file("ops-emergency", "\"2/min\"", 2).await;
    for i in 0..2 {
        bj_receipt(&submit(&h, &format!("BJ202503121000{i}")).await);
    }
    let refused = submit(&h, "BJ2025031210002").await;
    assert_eq!(refused.status.as_u16(), 429, "{}", text(&refused));

    let (code, switched) = admin(&h, "POST", "/admin/emergency?on=true").await;
    assert_eq!(code, 200, "{switched}");
    assert_eq!(switched["changed"], true);
    // Three times the limit (6 a minute, 6 at once): what was refused is
    // taken now, with five more, and the seventh waits again.
    bj_receipt(&submit(&h, "BJ2025031210002").await);
    for i in 3..8 {
        bj_receipt(&submit(&h, &format!("BJ202503121000{i}")).await);
    }
    let over = submit(&h, "BJ2025031210009").await;
    assert_eq!(over.status.as_u16(), 429, "{}", text(&over));
    assert_eq!(
        over.headers["ratelimit-policy"].to_str().unwrap(),
        "\"default\";q=6;w=60"
    );
    let (_, status) = admin(&h, "GET", "/admin/limits").await;
    assert_eq!(status["emergency"], true);
    assert_eq!(status["emergency_factor"], 3.0);
    assert_eq!(
        ingress_limit(&status, "bj12345"),
        json!([{"lane": "default", "rate": "6/min", "burst": 6}])
    );
    assert_eq!(
        events(&h, "emergency_mode"),
        [json!({"on": true, "factor": 3.0, "by": "operator"})]
    );

    // Switching it on again changes nothing and records nothing.
    let (code, again) = admin(&h, "POST", "/admin/emergency?on=true").await;
    assert_eq!((code, &again["changed"]), (200, &json!(false)));
    let (code, bad) = admin(&h, "POST", "/admin/emergency?on=yes").await;
    assert_eq!(code, 400, "{bad}");

    // Off with the command line: back to the configured limits, audited.
    let addr = operator(&h).to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["limits", "--operator", &addr, "emergency", "off"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        events(&h, "emergency_mode"),
        [
            json!({"on": true, "factor": 3.0, "by": "operator"}),
            json!({"on": false, "factor": 3.0, "by": "operator"})
        ]
    );
    let (_, status) = admin(&h, "GET", "/admin/limits").await;
    assert_eq!(status["emergency"], false);
    assert_eq!(
        ingress_limit(&status, "bj12345"),
        json!([{"lane": "default", "rate": "2/min", "burst": 2}])
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_sees_counts_and_what_waits_for_a_target_that_is_down() {
    let h = Harness::start("ops-status", false, |c| {
        c.limits.urgent_share = 0.0;
        let bj = c.partners.iter_mut().find(|p| p.id == "bj12345").unwrap();
        bj.ingress_limit = Some(Limit {
            rate: Rate::parse("1/min").unwrap(),
            burst: 1,
        });
    })
    .await;
    h.partner("hb-131000").set_down(true);
    // Beijing's order goes to Langfang, which is down: it waits.
    let (id, _) = bj_receipt(&submit(&h, "BJ2025031210000").await);
    let refused = submit(&h, "BJ2025031210001").await;
    assert_eq!(refused.status.as_u16(), 429, "{}", text(&refused));
    h.wait_outbox(&id, WAIT, |items| items.iter().any(|i| i.attempts > 0))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let (code, status) = admin(&h, "GET", "/admin/limits").await;
    assert_eq!(code, 200, "{status}");
    let bj = partner_status(&status, "bj12345");
    assert_eq!(bj["admitted"], 1, "{status}");
    assert_eq!(bj["limited"], 1, "{status}");
    assert_eq!(bj["queued"], 0);
    assert_eq!(bj["oldest_queued_secs"], Value::Null);
    let hb = partner_status(&status, "hb-131000");
    assert_eq!(hb["queued"], 1, "{status}");
    assert!(hb["oldest_queued_secs"].as_i64().unwrap() >= 1, "{status}");
    assert!(hb["delivery_admitted"].as_u64().unwrap() >= 1, "{status}");
    assert_eq!(
        hb["delivery"],
        json!([{"lane": "default", "rate": "120/min", "burst": 1}])
    );
    assert_eq!(hb["ingress"], Value::Null);
    // Nothing personal: numbers, ids and limits only.
    assert!(!status.to_string().contains("燕郊"));

    // Once Langfang is back, the queue drains.
    h.partner("hb-131000").set_down(false);
    let poll = Poll::new(Duration::from_secs(30));
    loop {
        let (_, status) = admin(&h, "GET", "/admin/limits").await;
        if partner_status(&status, "hb-131000")["queued"] == 0 {
            break;
        }
        assert!(poll.again().await, "the queue never drained: {status}");
    }
    let (code, _) = admin(&h, "GET", "/admin/nothing").await;
    assert_eq!(code, 404);
    let (code, _) = admin(&h, "POST", "/admin/limits").await;
    assert_eq!(code, 405);
    h.stop().await;
}
