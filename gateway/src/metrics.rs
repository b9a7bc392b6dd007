//! Prometheus metrics, written in the text exposition format 0.0.4 by
//! [`Metrics::render`] (served at `GET /metrics` on the operator listener).
//!
//! Counters and histograms that the request handlers and workers move live
//! here; values the store or other counters already hold (hand-offs by
//! state, outbox depths, rate-limit counts, audit tree size) are read at
//! scrape time and passed in as [`Sample`]s. Label values are partner ids,
//! format families, states, kinds and causes — never personal data.
//!
//! A small implementation of our own rather than the `metrics` crates: it
//! needs no new dependency (the exporter pulls `metrics-util` and friends)
//! and the whole format is a few lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram bucket upper bounds, in seconds (a receipt takes
/// milliseconds, and its target is 5 ms at the 99th percentile: the
/// buckets below it show where a receipt's time lies; a delivery to a
/// target that was down may take an hour).
pub const BUCKETS: [f64; 18] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 1800.0, 3600.0,
];

/// The kind of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in [`BUCKETS`].
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A metric family: its name, help text, kind and label names.
#[derive(Debug)]
pub struct Def {
    /// The metric name.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The label names, in order.
    pub labels: &'static [&'static str],
}

/// Hand-offs created, by origin, target and kind.
pub const RECEIVED: Def = Def {
    name: "gateway_handoffs_received_total",
    help: "Hand-offs created, by origin partner, target partner and kind.",
    kind: Kind::Counter,
    labels: &["origin", "target", "kind"],
};
/// Status updates from partners that moved a hand-off, by new state.
pub const STATUS_APPLIED: Def = Def {
    name: "gateway_status_updates_applied_total",
    help: "Status updates from partners applied to a hand-off, by the state they set.",
    kind: Kind::Counter,
    labels: &["state"],
};
/// Failed delivery attempts, by target and cause.
pub const DELIVERY_FAILURES: Def = Def {
    name: "gateway_delivery_failures_total",
    help: "Failed delivery attempts, by target partner and cause (transport, timeout, http_5xx, http_429, refused, unrepresentable).",
    kind: Kind::Counter,
    labels: &["target", "cause"],
};
/// Deadlines reported passed, by deadline.
pub const OVERDUE_REPORTED: Def = Def {
    name: "gateway_overdue_reported_total",
    help: "Deadlines reported passed by the deadline sweep, by deadline (ack, answer).",
    kind: Kind::Counter,
    labels: &["deadline"],
};
/// Tickets received whose category code the tables do not map.
pub const UNMAPPED: Def = Def {
    name: "gateway_unmapped_categories_total",
    help: "Hand-offs whose source category code has no mapping, by code scheme.",
    kind: Kind::Counter,
    labels: &["scheme"],
};
/// Request in to receipt out, for new tickets.
pub const RECEIPT_SECONDS: Def = Def {
    name: "gateway_receipt_seconds",
    help: "Time from a ticket request's arrival to its receipt, by the origin's format family.",
    kind: Kind::Histogram,
    labels: &["family"],
};
/// Queued to delivered.
pub const DELIVERY_SECONDS: Def = Def {
    name: "gateway_delivery_seconds",
    help: "Time from a message entering the outbox to its delivery, by target partner.",
    kind: Kind::Histogram,
    labels: &["target"],
};
/// Hand-offs by current state (read from the store at scrape time).
pub const HANDOFFS: Def = Def {
    name: "gateway_handoffs",
    help: "Hand-offs in the store, by current state.",
    kind: Kind::Gauge,
    labels: &["state"],
};
/// Open hand-offs with a passed deadline.
pub const OVERDUE: Def = Def {
    name: "gateway_handoffs_overdue",
    help: "Hand-offs not closed or rejected whose deadline was reported passed, by deadline.",
    kind: Kind::Gauge,
    labels: &["deadline"],
};
/// Pending outbox messages per target.
pub const OUTBOX_DEPTH: Def = Def {
    name: "gateway_outbox_depth",
    help: "Messages waiting in the outbox, by target partner.",
    kind: Kind::Gauge,
    labels: &["target"],
};
/// Age of the oldest pending message per target.
pub const OUTBOX_OLDEST: Def = Def {
    name: "gateway_outbox_oldest_age_seconds",
    help: "Age of the oldest message waiting in the outbox, by target partner (0 when none).",
    kind: Kind::Gauge,
    labels: &["target"],
};
/// Submissions admitted by the ingress limit.
pub const ADMITTED: Def = Def {
    name: "gateway_ingress_admitted_total",
    help: "Submissions admitted by the partner's ingress rate limit since start, by partner.",
    kind: Kind::Counter,
    labels: &["partner"],
};
/// Submissions refused by the ingress limit.
pub const RATE_LIMITED: Def = Def {
    name: "gateway_rate_limited_total",
    help: "Submissions refused with 429 by the partner's ingress rate limit since start, by partner.",
    kind: Kind::Counter,
    labels: &["partner"],
};
/// Deliveries held back by a target's delivery limit.
pub const DELIVERY_HELD: Def = Def {
    name: "gateway_delivery_held_total",
    help: "Delivery attempts held back by the target's delivery rate limit since start, by target partner.",
    kind: Kind::Counter,
    labels: &["target"],
};
/// Audit events.
pub const AUDIT_SIZE: Def = Def {
    name: "gateway_audit_tree_size",
    help: "Events in the audit log (the size of its Merkle tree).",
    kind: Kind::Gauge,
    labels: &[],
};
/// Seconds since the last signed checkpoint.
pub const CHECKPOINT_AGE: Def = Def {
    name: "gateway_audit_checkpoint_age_seconds",
    help: "Seconds since the newest signed checkpoint (absent before the first).",
    kind: Kind::Gauge,
    labels: &[],
};
/// Size of the last signed checkpoint.
pub const CHECKPOINT_SIZE: Def = Def {
    name: "gateway_audit_checkpoint_size",
    help: "Tree size of the newest signed checkpoint.",
    kind: Kind::Gauge,
    labels: &[],
};

/// The families written, in order.
const ALL: [&Def; 17] = [
    &RECEIVED,
    &STATUS_APPLIED,
    &DELIVERY_FAILURES,
    &OVERDUE_REPORTED,
    &UNMAPPED,
    &RECEIPT_SECONDS,
    &DELIVERY_SECONDS,
    &HANDOFFS,
    &OVERDUE,
    &OUTBOX_DEPTH,
    &OUTBOX_OLDEST,
    &ADMITTED,
    &RATE_LIMITED,
    &DELIVERY_HELD,
    &AUDIT_SIZE,
    &CHECKPOINT_SIZE,
    &CHECKPOINT_AGE,
];

/// A value read at scrape time.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Its family.
    pub def: &'static Def,
    /// Its label values, in the order of [`Def::labels`].
    pub labels: Vec<String>,
    /// The value.
    pub value: f64,
}

#[derive(Clone, Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

type Key = (&'static str, Vec<String>);

/// The counters and histograms moved while the gateway runs.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<Key, u64>>,
    histograms: Mutex<BTreeMap<Key, Histogram>>,
}

fn key(def: &Def, labels: &[&str]) -> Key {
    (def.name, labels.iter().map(|l| (*l).to_owned()).collect())
}

impl Metrics {
    /// No metrics yet.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Adds one to counter `def` with `labels` (in the order of
    /// [`Def::labels`]).
    pub fn inc(&self, def: &'static Def, labels: &[&str]) {
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counters.entry(key(def, labels)).or_insert(0) += 1;
    }

    /// Records one observation of histogram `def`.
    pub fn observe(&self, def: &'static Def, labels: &[&str], took: Duration) {
        let secs = took.as_secs_f64();
        let mut histograms = self
            .histograms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let h = histograms.entry(key(def, labels)).or_default();
        for (bound, n) in BUCKETS.iter().zip(h.buckets.iter_mut()) {
            if secs <= *bound {
                *n += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The current value of counter `def` with `labels` (0 when never
    /// moved).
    pub fn counter(&self, def: &'static Def, labels: &[&str]) -> u64 {
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counters.get(&key(def, labels)).copied().unwrap_or(0)
    }

    /// The whole exposition: every family with its `# HELP` and `# TYPE`,
    /// the counters and histograms held here and the `scraped` samples.
    pub fn render(&self, scraped: &[Sample]) -> String {
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let histograms = self
            .histograms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut out = String::new();
        for def in ALL {
            let _ = writeln!(out, "# HELP {} {}", def.name, escape_help(def.help));
            let _ = writeln!(out, "# TYPE {} {}", def.name, def.kind.as_str());
            for ((name, labels), value) in &counters {
                if *name == def.name {
                    line(&mut out, def.name, def.labels, labels, None, *value as f64);
                }
            }
            for ((name, labels), h) in &histograms {
                if *name != def.name {
                    continue;
                }
                let bucket = format!("{}_bucket", def.name);
                for (bound, n) in BUCKETS.iter().zip(h.buckets.iter()) {
                    let le = bound.to_string();
                    line(&mut out, &bucket, def.labels, labels, Some(&le), *n as f64);
                }
                line(
                    &mut out,
                    &bucket,
                    def.labels,
                    labels,
                    Some("+Inf"),
                    h.count as f64,
                );
                let sum = format!("{}_sum", def.name);
                line(&mut out, &sum, def.labels, labels, None, h.sum);
                let count = format!("{}_count", def.name);
                line(&mut out, &count, def.labels, labels, None, h.count as f64);
            }
            for s in scraped.iter().filter(|s| s.def.name == def.name) {
                line(&mut out, def.name, def.labels, &s.labels, None, s.value);
            }
        }
        out
    }
}

/// One sample line: `name{label="value",...} value`.
fn line(
    out: &mut String,
    name: &str,
    names: &[&str],
    values: &[String],
    le: Option<&str>,
    value: f64,
) {
    let mut labels: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape_label(v)))
        .collect();
    if let Some(le) = le {
        labels.push(format!("le=\"{le}\""));
    }
    let value = if value.is_finite() {
        value.to_string()
    } else if value.is_nan() {
        "NaN".to_owned()
    } else if value > 0.0 {
        "+Inf".to_owned()
    } else {
        "-Inf".to_owned()
    };
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
    }
}

/// A label value: backslash, double quote and line feed escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A help text: backslash and line feed escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn counters_histograms_and_samples_are_written_in_the_text_format() {
        let m = Metrics::new();
        m.inc(&RECEIVED, &["bj12345", "hb-131000", "transfer"]);
        m.inc(&RECEIVED, &["bj12345", "hb-131000", "transfer"]);
        m.observe(&RECEIPT_SECONDS, &["bj-json"], Duration::from_millis(30));
        m.observe(&RECEIPT_SECONDS, &["tj-xml"], Duration::from_millis(2));
        let text = m.render(&[Sample {
            def: &OUTBOX_DEPTH,
            labels: vec!["a\"b".into()],
            value: 3.0,
        }]);
        assert!(text.contains("# TYPE gateway_handoffs_received_total counter\n"));
        assert!(text.contains(
            "gateway_handoffs_received_total{origin=\"bj12345\",target=\"hb-131000\",kind=\"transfer\"} 2\n"
        ));
        assert!(
            text.contains("gateway_receipt_seconds_bucket{family=\"bj-json\",le=\"0.025\"} 0\n")
        );
        assert!(
            text.contains("gateway_receipt_seconds_bucket{family=\"bj-json\",le=\"0.05\"} 1\n")
        );
        assert!(
            text.contains("gateway_receipt_seconds_bucket{family=\"bj-json\",le=\"+Inf\"} 1\n")
        );
        assert!(text.contains("gateway_receipt_seconds_count{family=\"bj-json\"} 1\n"));
        // A receipt of 2 ms falls in the 2.5 ms bucket, not the 1 ms one.
        assert!(
            text.contains("gateway_receipt_seconds_bucket{family=\"tj-xml\",le=\"0.001\"} 0\n")
        );
        assert!(
            text.contains("gateway_receipt_seconds_bucket{family=\"tj-xml\",le=\"0.0025\"} 1\n")
        );
        assert!(text.contains("gateway_outbox_depth{target=\"a\\\"b\"} 3\n"));
        assert_eq!(
            m.counter(&RECEIVED, &["bj12345", "hb-131000", "transfer"]),
            2
        );
        assert_eq!(m.counter(&UNMAPPED, &["x"]), 0);
    }
}
