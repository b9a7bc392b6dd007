//! `kill -9` of the real gateway binary under load, then a restart: every
//! ticket that got a 202 receipt reaches its target.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gateway::network::{SimPartners, partner_client};
use gateway::simulate::SimEvent;
use gateway::wire::Kind;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The demo configuration with absolute paths, the given gateway port and
/// store, and the simulated partners' endpoints, without its partners'
/// rate limits.
fn write_config(dir: &Path, port: u16, endpoints: &[(String, String)]) -> PathBuf {
    let certs = repo().join("certs-example");
    let mut text =
        gateway::network::demo_config_text(&certs, &certs, &dir.join("crash.db")).unwrap();
    text = text.replace("127.0.0.1:8443", &format!("127.0.0.1:{port}"));
    for (configured, actual) in endpoints {
        text = text.replace(configured, actual);
    }
    // A load test of durability, not of the partners' rate limits.
    text = text
        .lines()
        .filter(|l| !l.starts_with("rate = ") && !l.starts_with("deliver_rate = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let file = dir.join("gateway.toml");
    std::fs::write(&file, text).unwrap();
    file
}

fn spawn_gateway(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

async fn wait_healthy(client: &gateway::http::Client, url: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(r) = client
            .send("GET", &format!("{url}/healthz"), &[], Bytes::new())
            .await
            && r.status.is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway did not come up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_receipted_ticket_is_delivered_after_kill_9_and_restart() {
    let dir = std::env::temp_dir().join(format!("gateway-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let certs = repo().join("certs-example");
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");

    // The partners: real HTTPS servers speaking their formats.
    let mut config = gateway::config::load(&certs.join("demo.toml")).unwrap();
    let configured: Vec<(String, Option<String>)> = config
        .partners
        .iter()
        .map(|p| (p.id.clone(), p.endpoint.clone()))
        .collect();
    let sims = SimPartners::start(&mut config, &certs, &url, false)
        .await
        .unwrap();
    let endpoints: Vec<(String, String)> = configured
        .into_iter()
        .filter_map(|(id, before)| Some((before?, config.partner(&id)?.endpoint.clone()?)))
        .collect();
    let file = write_config(&dir, port, &endpoints);

    // Langfang records the hand-off id of every ticket it receives.
    let delivered = Arc::new(Mutex::new(HashSet::new()));
    let mut events = sims.events.subscribe();
    let seen = delivered.clone();
    let recorder = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let SimEvent::Received {
                partner,
                kind: Kind::Ticket,
                handoff_id: Some(id),
                ..
            } = event
                && partner == "hb-131000"
            {
                seen.lock().unwrap().insert(id);
            }
        }
    });

    let mut child = spawn_gateway(&file);
    let beijing = partner_client(&certs, "bj12345", Duration::from_secs(5)).unwrap();
    wait_healthy(&beijing, &url).await;

    // Load: concurrent submitters, each with its own ticket ids.
    let sample =
        std::fs::read_to_string(repo().join("conformance-tests/samples/bj-json/order.json"))
            .unwrap();
    let receipts = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut submitters = Vec::new();
    for worker in 0..8 {
        let client = beijing.clone();
        let receipts = receipts.clone();
        let sample = sample.clone();
        let url = url.clone();
        submitters.push(tokio::spawn(async move {
            for n in 0.. {
                let body = sample.replace("BJ2025031200457", &format!("BJCRASH{worker:02}{n:05}"));
                let headers = [("content-type", "application/json")];
                match client
                    .post(&format!("{url}/bj/v1/orders"), &headers, Bytes::from(body))
                    .await
                {
                    Ok(r) if r.status == 202 => {
                        let receipt: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                        let id = receipt["data"]["gatewayRef"].as_str().unwrap().to_owned();
                        receipts.lock().unwrap().push(id);
                    }
                    Ok(r) => panic!(
                        "unexpected reply {}: {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    ),
                    // The gateway was killed: stop submitting.
                    Err(_) => return,
                }
            }
        }));
    }
    let started = Instant::now();
    while receipts.lock().unwrap().len() < 300 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    child.wait().unwrap();
    for s in submitters {
        s.await.unwrap();
    }
    let receipted: Vec<String> = receipts.lock().unwrap().clone();
    assert!(
        receipted.len() >= 100,
        "too little load before the kill: {}",
        receipted.len()
    );

    // Restart on the same store: everything receipted must arrive.
    let mut child = spawn_gateway(&file);
    wait_healthy(&beijing, &url).await;
    let started = Instant::now();
    let missing = loop {
        let got = delivered.lock().unwrap().clone();
        let missing: Vec<&String> = receipted.iter().filter(|id| !got.contains(*id)).collect();
        if missing.is_empty() || started.elapsed() > Duration::from_secs(60) {
            break missing.len();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    recorder.abort();
    sims.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{} tickets receipted before the kill; all delivered after the restart",
        receipted.len()
    );
    assert_eq!(
        missing,
        0,
        "{missing} of {} receipted tickets never reached the target",
        receipted.len()
    );
}
