//! OTLP export as an operator sees it in a collector: a real OTLP/gRPC
//! receiver (`rotel-agent` from PyPI's `rotel`, printing what it gets),
//! the gateway exporting to it, and one transfer from Beijing to Langfang
//! that goes all the way (delivered, worked, statuses back, closed). The
//! hand-off's whole story is one trace: the trace id of Beijing's own
//! `traceparent`, sent on to Langfang, with spans for every step, each
//! carrying the hand-off id, the partners and the format families. Then
//! the collector goes away: the next transfer goes through as fast, and
//! the shutdown's flush gives up after the export timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use adapters::Family;
use gateway::config::OtlpConfig;
use gateway::wire::{self, Kind};
use schemas::Status;
use serde_json::json;

use common::{Harness, bj_receipt, json_with, sample};

/// A whole flow on a loaded two-core machine.
const LONG: Duration = Duration::from_secs(60);
/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// The receiver binary: `$ROTEL_AGENT`, else `rotel-agent` on the PATH,
/// else the one inside python3's `rotel` package.
fn rotel_agent() -> PathBuf {
    if let Some(path) = std::env::var_os("ROTEL_AGENT") {
        return PathBuf::from(path);
    }
    if Command::new("rotel-agent")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return PathBuf::from("rotel-agent");
    }
    let found = Command::new("python3")
        .args([
            "-c",
            "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "rotel-agent (the OTLP receiver this test needs) is missing: \
             install it with `pip install --pre rotel` (./test.sh does), \
             or point ROTEL_AGENT at the binary"
        )
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The receiver, printing the spans it receives to a file.
struct Receiver {
    child: Child,
    output: PathBuf,
    grpc: u16,
}

impl Receiver {
    fn start(dir: &std::path::Path) -> Receiver {
        let (grpc, http) = (free_port(), free_port());
        let output = dir.join("rotel.out");
        let file = std::fs::File::create(&output).unwrap();
        let child = Command::new(rotel_agent())
            .args(["start", "--exporter", "blackhole"])
            .args(["--debug-log", "traces", "--debug-log-verbosity", "detailed"])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
            .arg("--pid-file")
            .arg(dir.join("rotel.pid"))
            .arg("--log-file")
            .arg(dir.join("rotel.log"))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start rotel-agent: {e}"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", grpc)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "rotel-agent does not listen on {grpc}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Receiver {
            child,
            output,
            grpc,
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.output).unwrap()).into_owned()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_covers_every_step_of_a_handoff_across_partners() {
    let dir = std::env::temp_dir().join(format!("gateway-otlp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let receiver = Receiver::start(&dir);
    let telemetry = gateway::telemetry::init(
        "warn",
        false,
        Some(&OtlpConfig {
            endpoint: format!("http://127.0.0.1:{}", receiver.grpc),
            service_name: "otlp-test-gateway".into(),
            export_timeout: EXPORT_TIMEOUT,
        }),
    )
    .unwrap();
    assert!(telemetry.exporting());

    let h = Harness::start("otlp", true, |_| {}).await;
    let inbound_trace = "0af7651916cd43dd8448eb211c80319c";
    let body = json_with(
        &sample("bj-json/order.json"),
        &[("/orderNo", json!("BJ2025031299001"))],
    );
    let path = wire::inbound_path(Family::BjJson, Kind::Ticket).unwrap();
    let reply = h
        .net
        .client("bj12345")
        .unwrap()
        .post(
            &h.url(path),
            &[
                ("content-type", Family::BjJson.content_type()),
                (
                    "traceparent",
                    &format!("00-{inbound_trace}-b7ad6b7169203331-01"),
                ),
            ],
            body.into(),
        )
        .await
        .unwrap();
    let (id, _) = bj_receipt(&reply);
    h.wait_handoff(&id, "closed by Beijing", LONG, |r| {
        r.state == Status::Closed
    })
    .await;
    h.wait_outbox(&id, LONG, |items| {
        items.iter().all(|i| i.delivered_at.is_some())
    })
    .await;

    // Langfang got the ticket with Beijing's trace id.
    let sent = h.received("hb-131000", Kind::Ticket).await;
    let sent_trace = sent
        .iter()
        .filter_map(|d| d.traceparent.as_deref().and_then(gateway::trace::parse))
        .map(|t| t.trace_id)
        .collect::<Vec<_>>();
    assert_eq!(sent_trace, [inbound_trace], "traceparent sent to Langfang");

    let telemetry = std::sync::Arc::new(telemetry);
    let flushing = telemetry.clone();
    tokio::task::spawn_blocking(move || flushing.flush())
        .await
        .unwrap();
    let out = wait_for_output(&receiver, &id);
    let spans = parse_spans(&out);
    let trace: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == inbound_trace)
        .collect();
    let names: BTreeSet<&str> = trace.iter().map(|s| s.name.as_str()).collect();
    for step in ["ingress", "decode", "route", "commit", "delivery", "status"] {
        assert!(
            names.contains(step),
            "no {step} span in trace {inbound_trace} (it has {names:?}); received:\n{out}"
        );
    }
    // Every span of the trace is about this hand-off, its partners and
    // their formats.
    for span in &trace {
        let attr = |key: &str| span.attributes.get(key).map(String::as_str);
        assert_eq!(attr("handoff_id"), Some(id.as_str()), "{span:?}");
        assert_eq!(attr("target"), Some("hb-131000"), "{span:?}");
        assert_eq!(attr("target_family"), Some("hb-soap"), "{span:?}");
        let origin = attr("origin").or(attr("partner"));
        let origin_family = attr("origin_family").or(attr("family"));
        assert_eq!(origin, Some("bj12345"), "{span:?}");
        assert_eq!(origin_family, Some("bj-json"), "{span:?}");
    }
    // The ticket to Langfang and the statuses back to Beijing are each a
    // delivery span; every status Langfang and Beijing sent is a status span.
    let deliveries = |payload: &str, to: &str| {
        trace
            .iter()
            .filter(|s| s.name == "delivery")
            .filter(|s| s.attributes.get("payload").map(String::as_str) == Some(payload))
            .filter(|s| s.attributes.get("to").map(String::as_str) == Some(to))
            .count()
    };
    assert!(deliveries("ticket", "hb-131000") >= 1, "{trace:#?}");
    assert!(deliveries("status", "bj12345") >= 1, "{trace:#?}");
    let statuses: BTreeSet<(&str, &str)> = trace
        .iter()
        .filter(|s| s.name == "status")
        .map(|s| {
            (
                s.attributes["side"].as_str(),
                s.attributes["status"].as_str(),
            )
        })
        .collect();
    assert!(statuses.contains(&("target", "resolved")), "{statuses:?}");
    assert!(statuses.contains(&("origin", "closed")), "{statuses:?}");
    // The trace goes on from Beijing's own span: it crosses organisations.
    let ingress = trace.iter().find(|s| s.name == "ingress").unwrap();
    assert_eq!(ingress.parent_id, "b7ad6b7169203331");
    // The ticket's traceparent to Langfang names the delivery span.
    let sent_parent = sent[0]
        .traceparent
        .as_deref()
        .and_then(gateway::trace::parse)
        .unwrap()
        .parent_id;
    assert!(
        trace
            .iter()
            .any(|s| s.name == "delivery" && s.span_id == sent_parent),
        "the traceparent sent names no delivery span: {sent_parent}"
    );
    // Nothing personal left the gateway.
    let order = common::json(&sample("bj-json/order.json"));
    for secret in [&order["caller"]["name"], &order["caller"]["mobile"]] {
        let secret = secret.as_str().unwrap();
        assert!(!out.contains(secret), "{secret} was exported");
    }

    // The collector goes away: hand-offs do not notice.
    drop(receiver);
    let started = Instant::now();
    let body = json_with(
        &sample("bj-json/order.json"),
        &[("/orderNo", json!("BJ2025031299002"))],
    );
    let (second, _) = bj_receipt(&h.post("bj12345", Family::BjJson, Kind::Ticket, body).await);
    h.wait_handoff(&second, "closed by Beijing", LONG, |r| {
        r.state == Status::Closed
    })
    .await;
    let took = started.elapsed();
    h.stop().await;
    // Shutdown flushes what is queued, and gives up on a collector that
    // is gone after the export timeout (plus the exporter's own retries'
    // share of it).
    let started = Instant::now();
    let telemetry = std::sync::Arc::into_inner(telemetry).unwrap();
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    let flush = started.elapsed();
    assert!(
        flush < EXPORT_TIMEOUT * 3,
        "the flush at shutdown took {flush:?} with the collector gone"
    );
    eprintln!("with the collector gone: a transfer closed in {took:?}, shutdown in {flush:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One span as the receiver printed it.
#[derive(Debug, Default)]
struct Span {
    trace_id: String,
    parent_id: String,
    span_id: String,
    name: String,
    attributes: BTreeMap<String, String>,
}

/// The spans in rotel-agent's `--debug-log traces --debug-log-verbosity
/// detailed` output: per span, `    Trace ID       : …`, `    Parent ID
/// : …`, `    ID : …`, `    Name : …`, then `Attributes:` and one
/// `     -> key: Str(value)` line each, then `Events:`, `Links:`.
fn parse_spans(out: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut in_attributes = false;
    for line in out.lines() {
        if line.starts_with("Span #") {
            spans.push(Span::default());
            in_attributes = false;
            continue;
        }
        let Some(span) = spans.last_mut() else {
            continue;
        };
        if !line.starts_with(' ') {
            in_attributes = line == "Attributes:";
            continue;
        }
        let header = |name: &str| {
            line.strip_prefix("    ")
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.trim_start().strip_prefix(':'))
                .map(|v| v.trim().to_owned())
        };
        if let Some(v) = header("Trace ID") {
            span.trace_id = v;
        } else if let Some(v) = header("Parent ID") {
            span.parent_id = v;
        } else if let Some(v) = header("ID") {
            span.span_id = v;
        } else if let Some(v) = header("Name") {
            span.name = v;
        } else if in_attributes
            && let Some((key, value)) = line
                .trim()
                .strip_prefix("-> ")
                .and_then(|l| l.split_once(": "))
        {
            let value = value
                .strip_prefix("Str(")
                .and_then(|v| v.strip_suffix(')'))
                .unwrap_or(value);
            span.attributes.insert(key.to_owned(), value.to_owned());
        }
    }
    spans
}

/// The receiver's output once it shows the hand-off's closing status.
fn wait_for_output(receiver: &Receiver, id: &str) -> String {
    let started = Instant::now();
    loop {
        let out = receiver.output();
        let closed = parse_spans(&out).iter().any(|s| {
            s.name == "status"
                && s.attributes.get("handoff_id").map(String::as_str) == Some(id)
                && s.attributes.get("status").map(String::as_str) == Some("closed")
        });
        if closed || started.elapsed() > Duration::from_secs(20) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
