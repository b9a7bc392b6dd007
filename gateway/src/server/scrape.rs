//! `GET /metrics` on the operator listener: the counters and histograms
//! of [`crate::metrics::Metrics`] plus what is read at scrape time — the
//! hand-offs by state and overdue, the outbox per target, the rate-limit
//! counts ([`super::Counters`]) and the audit log's size and checkpoint
//! age. Numbers under partner ids, states and deadlines only.

use std::sync::atomic::Ordering;

use http::{Response, StatusCode};

use super::App;
use crate::http::{Body, respond};
use crate::metrics::{self, Sample};
use crate::store::Store;

/// Every state a hand-off can be in (the gauge shows 0 for empty ones).
const STATES: [&str; 7] = [
    "received",
    "delivered",
    "accepted",
    "in_progress",
    "resolved",
    "closed",
    "rejected",
];

fn sample(def: &'static metrics::Def, labels: &[&str], value: f64) -> Sample {
    Sample {
        def,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        value,
    }
}

/// The exposition, or 500 when the store cannot be read.
pub async fn metrics(app: &App) -> Response<Body> {
    match samples(app).await {
        Ok(scraped) => respond(
            StatusCode::OK,
            metrics::CONTENT_TYPE,
            app.metrics.render(&scraped),
        ),
        Err(e) => {
            tracing::error!(error = %e, "metrics: cannot read the store");
            respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("store: {e}\n"),
            )
        }
    }
}

async fn samples(app: &App) -> Result<Vec<Sample>, crate::store::StoreError> {
    let mut out = Vec::new();
    let counts = app.store.state_counts().await?;
    for state in STATES {
        let n = counts
            .iter()
            .find(|c| c.state == state)
            .map_or(0, |c| c.count);
        out.push(sample(&metrics::HANDOFFS, &[state], n as f64));
    }
    let open = counts
        .iter()
        .filter(|c| c.state != "closed" && c.state != "rejected");
    let (ack, answer) = open.fold((0, 0), |(a, b), c| {
        (a + c.ack_overdue, b + c.answer_overdue)
    });
    out.push(sample(&metrics::OVERDUE, &["ack"], ack as f64));
    out.push(sample(&metrics::OVERDUE, &["answer"], answer as f64));

    let depths = app.store.queue_depths().await?;
    let now = app.now();
    for p in &app.config.partners {
        let (n, age) =
            depths
                .iter()
                .find(|(t, _, _)| *t == p.id)
                .map_or((0, 0.0), |(_, n, oldest)| {
                    let ms = (now - *oldest).num_milliseconds().max(0);
                    (*n, ms as f64 / 1000.0)
                });
        out.push(sample(&metrics::OUTBOX_DEPTH, &[&p.id], n as f64));
        out.push(sample(&metrics::OUTBOX_OLDEST, &[&p.id], age));
        if let Some(c) = app.counters.get(&p.id) {
            let admitted = c.admitted.load(Ordering::Relaxed);
            let limited = c.limited.load(Ordering::Relaxed);
            let held = c.delivery_held.load(Ordering::Relaxed);
            out.push(sample(&metrics::ADMITTED, &[&p.id], admitted as f64));
            out.push(sample(&metrics::RATE_LIMITED, &[&p.id], limited as f64));
            out.push(sample(&metrics::DELIVERY_HELD, &[&p.id], held as f64));
        }
    }

    let size = app.store.audit_size().await?;
    out.push(sample(&metrics::AUDIT_SIZE, &[], size as f64));
    if let Some(cp) = app.store.latest_checkpoint().await? {
        let ms = (now - cp.created_at).num_milliseconds().max(0);
        out.push(sample(&metrics::CHECKPOINT_SIZE, &[], cp.size as f64));
        out.push(sample(&metrics::CHECKPOINT_AGE, &[], ms as f64 / 1000.0));
    }
    Ok(out)
}
