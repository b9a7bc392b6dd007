//! Observability as an operator and a data-protection officer see it,
//! over real mutual TLS on loopback: `/metrics` on the operator listener
//! parses as Prometheus text and its counters move as hand-offs, a target
//! that is down and a rate limit go through the gateway; every delivery
//! carries a `traceparent` whose trace id is the hand-off's; and with
//! everything logged at TRACE (spans included), neither the logs nor the
//! metrics contain the callers' names or phone numbers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use adapters::Family;
use bytes::Bytes;
use gateway::config::{Limit, Rate};
use gateway::http::Reply;
use gateway::store::OutboxState;
use gateway::wire::{self, Kind};
use schemas::Status;
use serde_json::json;
use tracing_subscriber::fmt::format::FmtSpan;

use common::{Harness, bj_receipt, json_with, sample, text};

/// A whole flow on a loaded two-core machine.
const LONG: Duration = Duration::from_secs(30);

/// Everything the test binary logs.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// The callers of the test: (name, mobile, order number).
const CALLERS: [(&str, &str, &str); 3] = [
    ("欧阳明月", "13912345678", "BJ2025031290001"),
    ("司马长风", "13687654321", "BJ2025031290002"),
    ("诸葛青云", "15011112222", "BJ2025031290003"),
];

/// Beijing's sample order (for Langfang) from another caller.
fn order(caller: (&str, &str, &str)) -> Vec<u8> {
    let (name, mobile, order_no) = caller;
    json_with(
        &sample("bj-json/order.json"),
        &[
            ("/orderNo", json!(order_no)),
            ("/urgency", json!("2")),
            ("/caller/name", json!(name)),
            ("/caller/mobile", json!(mobile)),
        ],
    )
}

/// Posts Beijing's order with a `traceparent`.
async fn submit(h: &Harness, body: Vec<u8>, traceparent: &str) -> Reply {
    let client = h.net.client("bj12345").unwrap();
    let path = wire::inbound_path(Family::BjJson, Kind::Ticket).unwrap();
    let headers = [
        ("content-type", Family::BjJson.content_type()),
        ("traceparent", traceparent),
    ];
    client
        .post(&h.url(path), &headers, Bytes::from(body))
        .await
        .unwrap()
}

/// A sample's identity: its name and its labels.
type Series = (String, BTreeMap<String, String>);

/// Parses the Prometheus text format 0.0.4 strictly enough for the test:
/// `# HELP`/`# TYPE` lines, and `name{label="value",...} value` samples
/// whose family was declared (histograms with `_bucket`, `_sum`, `_count`).
fn parse_prometheus(text: &str) -> HashMap<Series, f64> {
    fn is_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let keyword = parts.next().unwrap();
            let name = parts.next().unwrap_or_else(|| panic!("bad line {line}"));
            assert!(is_name(name), "bad metric name in {line}");
            match keyword {
                "HELP" => assert!(parts.next().is_some(), "HELP without text: {line}"),
                "TYPE" => {
                    let kind = parts.next().unwrap();
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "bad type in {line}"
                    );
                    assert!(
                        types.insert(name.to_owned(), kind.to_owned()).is_none(),
                        "TYPE twice: {line}"
                    );
                }
                _ => panic!("unknown comment {line}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                (name, parse_labels(body, line))
            }
        };
        assert!(is_name(name), "bad sample name in {line}");
        let family = types
            .get_key_value(name)
            .or_else(|| {
                ["_bucket", "_sum", "_count"].iter().find_map(|s| {
                    name.strip_suffix(s)
                        .and_then(|base| types.get_key_value(base))
                        .filter(|(_, t)| t.as_str() == "histogram")
                })
            })
            .unwrap_or_else(|| panic!("sample before its TYPE: {line}"));
        if family.1 == "histogram" && name.ends_with("_bucket") {
            assert!(labels.contains_key("le"), "bucket without le: {line}");
        }
        let key = (name.to_owned(), labels);
        assert!(samples.insert(key, value).is_none(), "sample twice: {line}");
    }
    samples
}

/// `k="v",k2="v2"` with `\\`, `\"` and `\n` escapes.
fn parse_labels(body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label value not quoted: {line}");
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c @ ('\\' | '"')) => value.push(c),
                    _ => panic!("bad escape: {line}"),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        }
        labels.insert(name, value);
        match chars.next() {
            None | Some(',') => {}
            Some(c) => panic!("unexpected {c} in labels: {line}"),
        }
    }
    labels
}

/// `GET /metrics`: the text and its samples.
async fn scrape(h: &Harness) -> (String, HashMap<Series, f64>) {
    let addr = h.net.gateway.operator_addr.expect("an operator listener");
    let (status, body) =
        tokio::task::spawn_blocking(move || gateway::cli::limits::call(addr, "GET", "/metrics"))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(status, 200, "{body}");
    let samples = parse_prometheus(&body);
    (body, samples)
}

fn value(samples: &HashMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .get(&(name.to_owned(), labels))
        .copied()
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_traces_cross_partners_and_nothing_personal_is_logged() {
    tracing_subscriber::fmt()
        .with_writer(|| Capture)
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .init();
    let h = Harness::start("observability", true, |c| {
        c.limits.urgent_share = 0.0;
        let bj = c.partners.iter_mut().find(|p| p.id == "bj12345").unwrap();
        bj.ingress_limit = Some(Limit {
            rate: Rate::parse("1/min").unwrap(),
            burst: 3,
        });
    })
    .await;
    let received = (
        "gateway_handoffs_received_total",
        [
            ("origin", "bj12345"),
            ("target", "hb-131000"),
            ("kind", "transfer"),
        ],
    );
    let (_, before) = scrape(&h).await;
    assert_eq!(value(&before, received.0, &received.1), 0.0);
    assert_eq!(
        value(
            &before,
            "gateway_rate_limited_total",
            &[("partner", "bj12345")]
        ),
        0.0
    );

    // A transfer that goes all the way, with the partner's trace context.
    let inbound_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let (first, _) = bj_receipt(
        &submit(
            &h,
            order(CALLERS[0]),
            &format!("00-{inbound_trace}-00f067aa0ba902b7-01"),
        )
        .await,
    );
    h.wait_handoff(&first, "closed", LONG, |r| r.state == Status::Closed)
        .await;
    // Beijing's closing status has reached Langfang too (had it still been
    // on its way, it would fail first and hold back the next ticket behind
    // it, in order, for as long as Langfang is down).
    h.wait_outbox(&first, LONG, |items| {
        items.iter().all(|i| i.state == OutboxState::Delivered)
    })
    .await;

    // Langfang goes down: the next transfer waits and fails meanwhile.
    h.partner("hb-131000").set_down(true);
    let (second, _) = bj_receipt(
        &submit(
            &h,
            order(CALLERS[1]),
            "00-ZZZ-not-a-valid-traceparent-at-all-00",
        )
        .await,
    );
    h.wait_outbox(&second, LONG, |items| items.iter().any(|i| i.attempts > 0))
        .await;

    // Beijing is over its rate (a burst of 3: two tickets and the first
    // one's closing status): the third ticket is refused.
    let limited = submit(
        &h,
        order(CALLERS[2]),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    .await;
    assert_eq!(limited.status.as_u16(), 429, "{}", text(&limited));

    // Langfang is back: the second one arrives.
    h.partner("hb-131000").set_down(false);
    h.wait_handoff(&second, "delivered", LONG, |r| r.target_ticket_id.is_some())
        .await;

    let (body, after) = scrape(&h).await;
    assert_eq!(value(&after, received.0, &received.1), 2.0, "{body}");
    // (Beijing's closing of the second may have been limited too.)
    assert!(
        value(
            &after,
            "gateway_rate_limited_total",
            &[("partner", "bj12345")]
        ) >= 1.0,
        "{body}"
    );
    // (At least: on a very slow run, the limit may have refilled.)
    assert!(
        value(
            &after,
            "gateway_ingress_admitted_total",
            &[("partner", "bj12345")]
        ) >= 3.0,
        "{body}"
    );
    assert!(
        value(
            &after,
            "gateway_delivery_failures_total",
            &[("target", "hb-131000"), ("cause", "http_5xx")]
        ) >= 1.0,
        "{body}"
    );
    assert_eq!(
        value(
            &after,
            "gateway_receipt_seconds_count",
            &[("family", "bj-json")]
        ),
        2.0,
        "{body}"
    );
    assert_eq!(
        value(
            &after,
            "gateway_receipt_seconds_bucket",
            &[("family", "bj-json"), ("le", "+Inf")]
        ),
        2.0,
        "{body}"
    );
    assert!(
        value(
            &after,
            "gateway_delivery_seconds_count",
            &[("target", "hb-131000")]
        ) >= 2.0,
        "{body}"
    );
    assert!(
        value(
            &after,
            "gateway_status_updates_applied_total",
            &[("state", "closed")]
        ) >= 1.0,
        "{body}"
    );
    assert!(
        value(&after, "gateway_handoffs", &[("state", "closed")]) >= 1.0,
        "{body}"
    );
    assert!(
        value(&after, "gateway_audit_tree_size", &[]) >= 4.0,
        "{body}"
    );
    for family in [
        "gateway_outbox_depth",
        "gateway_outbox_oldest_age_seconds",
        "gateway_handoffs_overdue",
        "gateway_unmapped_categories_total",
        "gateway_audit_checkpoint_age_seconds",
    ] {
        assert!(
            body.contains(&format!("# TYPE {family} ")),
            "{family} missing: {body}"
        );
    }

    // Every delivery to Langfang carries the hand-off's trace id: the
    // partner's own for the first (its traceparent was valid), a new one
    // for the second (its traceparent was not).
    let deliveries = h.partner("hb-131000").received().await;
    assert!(deliveries.len() >= 2);
    for id in [&first, &second] {
        let stored = h.handoff(id).await.trace_parent.unwrap();
        let trace = gateway::trace::parse(&stored).unwrap().trace_id;
        assert_eq!(trace == inbound_trace, id == &first, "{id}: trace {trace}");
        assert!(
            deliveries.iter().any(|d| d
                .traceparent
                .as_deref()
                .and_then(gateway::trace::parse)
                .is_some_and(|t| t.trace_id == trace)),
            "no delivery of {id} carries trace id {trace}"
        );
    }

    h.stop().await;
    let logs = logs();
    // The steps are spans carrying the hand-off id; the partner's own
    // trace id sits next to it.
    for span in ["ingress", "decode", "route", "commit", "delivery", "status"] {
        assert!(
            logs.contains(&format!("{span}{{")),
            "no {span} span in the logs"
        );
    }
    assert!(logs.contains(&format!("handoff_id={first}")));
    assert!(logs.contains(inbound_trace));
    assert!(!logs.contains("ZZZ-not-a-valid"));
    // Nothing personal, in the logs or the metrics.
    for (name, mobile, _) in CALLERS {
        let surname: String = name.chars().take(2).collect();
        for secret in [name, mobile, &surname, &mobile[3..]] {
            assert!(!logs.contains(secret), "{secret} is in the logs");
            assert!(!body.contains(secret), "{secret} is in the metrics");
        }
    }
}
