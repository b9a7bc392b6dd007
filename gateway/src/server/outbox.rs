//! Delivery: one worker per target partner pushes its queued messages, in
//! order, in the target's own format, with the gateway's client
//! certificate. Failures back off exponentially with jitter (a target's
//! `Retry-After` wins when it is longer), a run of failures opens the
//! target's circuit breaker for a cool-down, and a message that keeps
//! failing past the configured attempts or age is dead-lettered for an
//! operator (`gateway handoffs redeliver`).
//!
//! Rate limits and lanes: the store gives a target's due messages of
//! urgent hand-offs first, then the others, each lane in order (a message
//! backing off holds back its own lane only). Before each push the worker
//! takes from the target's delivery limit ([`crate::limits`]; urgent
//! hand-offs may use the reserved lane); when the limit is reached it waits
//! and looks at the outbox again, so an urgent message queued meanwhile
//! goes first. Waiting messages stay in the durable outbox, in order; none
//! is dropped. A target's own `Retry-After` (with 429, 503...) holds every
//! message to it for that long, in both lanes.
//!
//! Pull partners (property units, Open311 clients) get no pushes: their
//! status messages are marked delivered as they are queued (the inbox and
//! the Open311 GET endpoints show them), and a repair order is delivered
//! when the liaison acknowledges it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use adapters::Family;
use bytes::Bytes;
use schemas::{Timestamp, Urgency};
use sha2::Digest;
use tokio::sync::watch;
use tracing::Instrument;

use super::{App, partner_division};
use crate::config::PartnerConfig;
use crate::store::{DeliveryResult, HandoffRecord, OutboxItem, OutboxPayload, Store};
use crate::wire::{self, Kind};

/// Watches for queued messages and keeps one worker per target with
/// pending messages.
pub async fn run(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut wake = app.wake.subscribe();
    let mut workers: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        match app.store.targets_with_pending().await {
            Ok(targets) => {
                for target in targets {
                    let running = workers.get(&target).is_some_and(|h| !h.is_finished());
                    if !running {
                        let task =
                            tokio::spawn(worker(app.clone(), target.clone(), shutdown.clone()));
                        workers.insert(target, task);
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "delivery supervisor cannot read the store"),
        }
        tokio::select! {
            _ = wake.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.changed() => break,
        }
    }
    for (_, task) in workers {
        let _ = task.await;
    }
}

/// What one attempt came to.
enum Attempt {
    /// Taken: the target's own ticket id, the hash of the bytes sent.
    Delivered(Option<String>, Option<String>),
    Retry {
        cause: &'static str,
        error: String,
        retry_after: Option<Duration>,
        sent: Option<String>,
    },
    /// Refused for good: the cause (a metric label) and the error.
    Permanent(&'static str, String),
    /// A pull partner's repair order, waiting for the liaison's ack.
    Waiting,
}

struct Breaker {
    failures: u32,
}

async fn worker(app: Arc<App>, target: String, mut shutdown: watch::Receiver<bool>) {
    let Some(partner) = app.config.partner(&target).cloned() else {
        tracing::error!(%target, "messages are queued for a partner that is not configured");
        return;
    };
    let mut wake = app.wake.subscribe();
    let mut breaker = Breaker { failures: 0 };
    // Set by the target's own Retry-After: nothing is sent to it before.
    let mut hold: Option<tokio::time::Instant> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Some(until) = hold.take() {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if !left.is_zero() && sleep_or_stop(left, &mut shutdown, None).await {
                return;
            }
        }
        let now = app.now();
        let items = match app.store.due_deliveries(&target, now, 32).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(%target, error = %e, "cannot read the outbox");
                Vec::new()
            }
        };
        let mut idle = items.is_empty();
        for item in items {
            let urgent = item.urgency == Urgency::Urgent;
            let decision = app.limits().delivery(&target, urgent);
            app.counters
                .delivery(&target, decision.as_ref().is_none_or(|d| d.is_admitted()));
            if let Some(decision) = decision
                && !decision.is_admitted()
            {
                tracing::debug!(%target, urgent, wait_ms = decision.wait.as_millis() as u64, "delivery rate reached: waiting");
                if wait_for_rate(decision.wait, &mut shutdown, &mut wake).await {
                    return;
                }
                // Look again: an urgent message may have come meanwhile.
                break;
            }
            let handoff = match app.store.handoff(&item.handoff_id).await {
                Ok(Some(h)) => h,
                _ => {
                    record(
                        &app,
                        &item,
                        DeliveryResult::Dead {
                            error: "hand-off not found".into(),
                            at: app.now(),
                        },
                        None,
                    )
                    .await;
                    continue;
                }
            };
            // `to` is whom this message goes to: the hand-off's target for
            // the ticket, either side for a status.
            let span = tracing::info_span!(
                "delivery",
                handoff_id = %item.handoff_id,
                origin = %handoff.origin_partner,
                origin_family = %handoff.origin_family,
                target = %handoff.target_partner,
                target_family = %handoff.target_family,
                to = %target,
                family = %partner.family,
                payload = item.kind().as_str(),
                attempt = item.attempts + 1,
            );
            crate::trace::adopt(
                &span,
                &crate::trace::of_handoff(&handoff.id, handoff.trace_parent.as_deref()),
            );
            match attempt(&app, &partner, &item, &handoff)
                .instrument(span)
                .await
            {
                Attempt::Delivered(target_ticket_id, sent_sha256) => {
                    breaker.failures = 0;
                    let notify = match item.payload {
                        OutboxPayload::Ticket(_) if handoff.target_partner == target => {
                            app.notify(&handoff.origin_partner)
                        }
                        _ => None,
                    };
                    let at = app.now();
                    tracing::info!(handoff_id = %item.handoff_id, %target, "delivered");
                    let took = at
                        .signed_duration_since(item.queued_at)
                        .to_std()
                        .unwrap_or_default();
                    app.metrics
                        .observe(&crate::metrics::DELIVERY_SECONDS, &[&target], took);
                    record(
                        &app,
                        &item,
                        DeliveryResult::Delivered {
                            target_ticket_id,
                            sent_sha256,
                            at,
                        },
                        notify,
                    )
                    .await;
                    app.queued();
                }
                Attempt::Waiting => {
                    idle = true;
                    break;
                }
                Attempt::Permanent(cause, error) => {
                    app.metrics
                        .inc(&crate::metrics::DELIVERY_FAILURES, &[&target, cause]);
                    tracing::error!(handoff_id = %item.handoff_id, %target, cause, error = loggable(cause, &error), "delivery refused for good: dead-lettered");
                    record(
                        &app,
                        &item,
                        DeliveryResult::Dead {
                            error,
                            at: app.now(),
                        },
                        None,
                    )
                    .await;
                }
                Attempt::Retry {
                    cause,
                    error,
                    retry_after,
                    sent,
                } => {
                    app.metrics
                        .inc(&crate::metrics::DELIVERY_FAILURES, &[&target, cause]);
                    breaker.failures += 1;
                    let at = app.now();
                    let policy = &app.config.delivery;
                    let age = at
                        .signed_duration_since(item.queued_at)
                        .to_std()
                        .unwrap_or_default();
                    if item.attempts + 1 >= policy.max_attempts || age >= policy.max_age {
                        tracing::error!(handoff_id = %item.handoff_id, %target, cause, error = loggable(cause, &error), "delivery failed too often: dead-lettered");
                        record(&app, &item, DeliveryResult::Dead { error, at }, None).await;
                        continue;
                    }
                    if let Some(wait) = retry_after {
                        hold = Some(tokio::time::Instant::now() + wait);
                    }
                    let delay =
                        backoff(&app, item.attempts, item.id).max(retry_after.unwrap_or_default());
                    tracing::warn!(handoff_id = %item.handoff_id, %target, cause, error = loggable(cause, &error), retry_in_ms = delay.as_millis() as u64, "delivery failed; will retry");
                    let next_attempt_at =
                        at + chrono::Duration::from_std(delay).unwrap_or_default();
                    record(
                        &app,
                        &item,
                        DeliveryResult::Failed {
                            error,
                            next_attempt_at,
                            sent_sha256: sent,
                            at,
                        },
                        None,
                    )
                    .await;
                    if breaker.failures >= policy.breaker_failures {
                        tracing::warn!(%target, "circuit breaker open");
                        breaker.failures = policy.breaker_failures.saturating_sub(1);
                        sleep_or_stop(policy.breaker_cooldown.max(delay), &mut shutdown, None)
                            .await;
                    }
                    // Later messages wait behind this one: order is kept.
                    break;
                }
            }
        }
        if idle {
            let next = app.store.next_due(&target).await.ok().flatten();
            let wait = match next {
                None => return,
                Some(at) => {
                    until(&app, at).clamp(Duration::from_millis(20), Duration::from_secs(1))
                }
            };
            if sleep_or_stop(wait, &mut shutdown, Some(&mut wake)).await {
                return;
            }
        }
    }
}

/// The error text of a failed delivery as the logs show it: the
/// transport's and HTTP's own errors; for `refused` and `unrepresentable`,
/// whose text may quote the message or the partner's reply, only a pointer
/// to the store (`gateway handoffs show` prints it as the last error).
fn loggable<'a>(cause: &str, error: &'a str) -> &'a str {
    match cause {
        "transport" | "timeout" | "http_5xx" | "http_429" => error,
        _ => "see `gateway handoffs show`",
    }
}

/// Sleeps `wait`, or until woken; true when the gateway is stopping.
async fn sleep_or_stop(
    wait: Duration,
    shutdown: &mut watch::Receiver<bool>,
    wake: Option<&mut watch::Receiver<u64>>,
) -> bool {
    match wake {
        Some(wake) => tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = wake.changed() => false,
            _ = shutdown.changed() => true,
        },
        None => tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = shutdown.changed() => true,
        },
    }
}

/// Waits `wait` for the delivery limit. New messages cut the wait short
/// (an urgent one may go through the reserved lane at once), but not
/// before a short pause, so a flood of arrivals does not spin the worker.
/// True when the gateway is stopping.
async fn wait_for_rate(
    wait: Duration,
    shutdown: &mut watch::Receiver<bool>,
    wake: &mut watch::Receiver<u64>,
) -> bool {
    wake.borrow_and_update();
    let pause = wait.min(Duration::from_millis(50));
    if sleep_or_stop(pause, shutdown, None).await {
        return true;
    }
    sleep_or_stop(wait - pause, shutdown, Some(wake)).await
}

fn until(app: &App, at: Timestamp) -> Duration {
    at.signed_duration_since(app.now())
        .to_std()
        .unwrap_or_default()
}

/// `initial × 2^attempts`, capped, with up to 50 % jitter taken from the
/// message id and the clock (spreads retries of many messages apart).
fn backoff(app: &App, attempts: u32, id: i64) -> Duration {
    let policy = &app.config.delivery;
    let base = policy
        .initial_backoff
        .saturating_mul(1u32 << attempts.min(20))
        .min(policy.max_backoff);
    let nanos = u64::from(app.now().timestamp_subsec_nanos());
    let mix = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos;
    let jitter = (mix % 1000) as f64 / 2000.0;
    base.mul_f64(1.0 - jitter)
}

async fn record(
    app: &App,
    item: &OutboxItem,
    result: DeliveryResult,
    notify: Option<crate::store::Notify>,
) {
    if let Err(e) = app.store.record_delivery(item.id, result, notify).await {
        tracing::error!(outbox_id = item.id, error = %e, "cannot record a delivery outcome");
    }
}

/// One delivery attempt.
async fn attempt(
    app: &App,
    partner: &PartnerConfig,
    item: &OutboxItem,
    handoff: &HandoffRecord,
) -> Attempt {
    let Some(endpoint) = partner.endpoint.as_deref() else {
        return match item.payload {
            OutboxPayload::Status(_) => Attempt::Delivered(None, None),
            OutboxPayload::Ticket(_) => Attempt::Waiting,
        };
    };
    let family = partner.family;
    let (kind, encoded) = match &item.payload {
        OutboxPayload::Ticket(ticket) => {
            let mut ticket = (**ticket).clone();
            ticket.handoff_id = Some(handoff.id.clone());
            ticket
                .origin_partner
                .get_or_insert_with(|| handoff.origin_partner.clone());
            (
                Kind::Ticket,
                adapters::encode_ticket(family, &ticket, &app.config.tables),
            )
        }
        OutboxPayload::Status(status) => {
            let mut status = status.clone();
            status.handoff_id = Some(handoff.id.clone());
            let toward_origin = partner.id == handoff.origin_partner;
            status.ticket_id = Some(if toward_origin {
                handoff.origin_ticket_id.clone()
            } else {
                handoff
                    .target_ticket_id
                    .clone()
                    .unwrap_or_else(|| handoff.origin_ticket_id.clone())
            });
            if family == Family::HbSoap {
                // The SenderCode of a feedback is the hotline whose status it carries.
                let carrier = if toward_origin {
                    &handoff.target_partner
                } else {
                    &handoff.origin_partner
                };
                let division = app
                    .config
                    .partner(carrier)
                    .and_then(|p| partner_division(&app.config, p))
                    .unwrap_or_else(|| adapters::hb::DEFAULT_SENDER_CODE.to_owned());
                status
                    .extensions
                    .insert(adapters::hb::SENDER_CODE_EXTENSION.to_owned(), division);
            }
            (
                Kind::Status,
                adapters::encode_status(family, &status, &app.config.tables),
            )
        }
    };
    let bytes = match encoded {
        Ok(e) => e.bytes,
        Err(e) => {
            return Attempt::Permanent(
                "unrepresentable",
                format!("cannot be written in {family}: {e}"),
            );
        }
    };
    let sent = Some(hex::encode(sha2::Sha256::digest(&bytes)));
    let Some(suffix) = wire::outbound_suffix(family, kind) else {
        return Attempt::Permanent(
            "refused",
            format!("{family} partners do not receive pushes"),
        );
    };
    let url = format!("{endpoint}{suffix}");
    let mut headers = vec![("content-type", family.content_type())];
    if family == Family::HbSoap {
        headers.push(("soapaction", wire::soap_action(kind)));
    }
    // The attempt's own span (a child of the hand-off's trace) is the
    // parent of whatever the partner does with the message.
    let traceparent = crate::trace::outbound(
        &tracing::Span::current(),
        &crate::trace::of_handoff(&handoff.id, handoff.trace_parent.as_deref()),
        item.id,
        item.attempts,
    );
    headers.push((crate::trace::HEADER, traceparent.as_str()));
    let reply = match app.client.post(&url, &headers, Bytes::from(bytes)).await {
        Ok(r) => r,
        Err(e) => {
            let cause = match e {
                crate::http::ClientError::Timeout(_) => "timeout",
                _ => "transport",
            };
            return Attempt::Retry {
                cause,
                error: e.to_string(),
                retry_after: None,
                sent: sent.clone(),
            };
        }
    };
    let status = reply.status;
    if status.is_success() {
        return match adapters::decode_delivery_reply(family, &reply.body) {
            Ok(id) => Attempt::Delivered(id.filter(|_| kind == Kind::Ticket), sent),
            Err(e) => Attempt::Retry {
                cause: "refused",
                error: format!("the partner's reply says it failed: {e}"),
                retry_after: None,
                sent: sent.clone(),
            },
        };
    }
    let retry_after = reply
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let cause = if status == http::StatusCode::TOO_MANY_REQUESTS {
        "http_429"
    } else if status.is_server_error() {
        "http_5xx"
    } else if status == http::StatusCode::REQUEST_TIMEOUT {
        "timeout"
    } else {
        return Attempt::Permanent(
            "refused",
            format!("HTTP {status}: the partner refused the message"),
        );
    };
    Attempt::Retry {
        cause,
        error: format!("HTTP {status}"),
        retry_after,
        sent,
    }
}
