//! One message's flight: the attempt (the message in the partner's own
//! format, over HTTPS with the gateway's certificate, the reply read), then
//! its outcome recorded, in the message's own task.

use std::sync::Arc;
use std::time::Duration;

use adapters::Family;
use bytes::Bytes;
use sha2::Digest;
use tracing::Instrument;

use super::super::{App, partner_division};
use crate::config::PartnerConfig;
use crate::store::{DeliveryResult, OutboxItem, OutboxPayload, Store};
use crate::wire::{self, Kind};

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

/// What became of one message, for the worker's bookkeeping (the outcome
/// itself is already recorded).
pub(super) enum Landing {
    /// Delivered, or dead-lettered for good (the target answered).
    Taken,
    /// A repair order left for its liaison.
    Skipped,
    /// Failed: the target's own `Retry-After`, the back-off given, and
    /// whether it was dead-lettered for failing too often.
    Failed {
        retry_after: Option<Duration>,
        delay: Duration,
        dead: bool,
    },
}

/// One message, in its own task: the attempt, then its outcome recorded
/// (so that the outcomes of messages in flight together share commits).
pub(super) async fn fly(app: Arc<App>, partner: Arc<PartnerConfig>, item: OutboxItem) -> Landing {
    let parties = &item.parties;
    // `to` is whom this message goes to: the hand-off's target for the
    // ticket, either side for a status.
    let span = tracing::info_span!(
        "delivery",
        handoff_id = %item.handoff_id,
        origin = %parties.origin_partner,
        origin_family = %parties.origin_family,
        target = %parties.target_partner,
        target_family = %parties.target_family,
        to = %partner.id,
        family = %partner.family,
        payload = item.kind().as_str(),
        attempt = item.attempts + 1,
    );
    let trace = crate::trace::of_handoff(&item.handoff_id, parties.trace_parent.as_deref());
    crate::trace::adopt(&span, &trace);
    let outcome = attempt(&app, &partner, &item, &trace)
        .instrument(span)
        .await;
    land(&app, &partner.id, &item, outcome).await
}

/// Records an attempt's outcome: delivered (and the origin told), dead, or
/// to be retried after a back-off.
async fn land(app: &App, target: &str, item: &OutboxItem, outcome: Attempt) -> Landing {
    match outcome {
        Attempt::Delivered(target_ticket_id, sent_sha256) => {
            let notify = match item.payload {
                OutboxPayload::Ticket(_) if item.parties.target_partner == target => {
                    app.notify(&item.parties.origin_partner)
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
                .observe(&crate::metrics::DELIVERY_SECONDS, &[target], took);
            let woken = notify.as_ref().map(|n| n.partner.clone());
            let result = DeliveryResult::Delivered {
                target_ticket_id,
                sent_sha256,
                at,
                by: None,
            };
            record(app, item, result, notify).await;
            if let Some(partner) = woken {
                app.queued_for(&partner);
            }
            Landing::Taken
        }
        Attempt::Waiting => Landing::Skipped,
        Attempt::Permanent(cause, error) => {
            app.metrics
                .inc(&crate::metrics::DELIVERY_FAILURES, &[target, cause]);
            tracing::error!(handoff_id = %item.handoff_id, %target, cause, error = loggable(cause, &error), "delivery refused for good: dead-lettered");
            let result = DeliveryResult::Dead {
                error,
                at: app.now(),
            };
            record(app, item, result, None).await;
            Landing::Taken
        }
        Attempt::Retry {
            cause,
            error,
            retry_after,
            sent,
        } => {
            app.metrics
                .inc(&crate::metrics::DELIVERY_FAILURES, &[target, cause]);
            let at = app.now();
            let policy = &app.config.delivery;
            let age = at
                .signed_duration_since(item.queued_at)
                .to_std()
                .unwrap_or_default();
            let delay = backoff(app, item.attempts, item.id).max(retry_after.unwrap_or_default());
            if item.attempts + 1 >= policy.max_attempts || age >= policy.max_age {
                tracing::error!(handoff_id = %item.handoff_id, %target, cause, error = loggable(cause, &error), "delivery failed too often: dead-lettered");
                record(app, item, DeliveryResult::Dead { error, at }, None).await;
                return Landing::Failed {
                    retry_after,
                    delay,
                    dead: true,
                };
            }
            tracing::warn!(handoff_id = %item.handoff_id, %target, cause, error = loggable(cause, &error), retry_in_ms = delay.as_millis() as u64, "delivery failed; will retry");
            let next_attempt_at = at + chrono::Duration::from_std(delay).unwrap_or_default();
            let result = DeliveryResult::Failed {
                error,
                next_attempt_at,
                sent_sha256: sent,
                at,
            };
            record(app, item, result, None).await;
            Landing::Failed {
                retry_after,
                delay,
                dead: false,
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

/// One delivery attempt; `trace` is the hand-off's trace context.
async fn attempt(
    app: &App,
    partner: &PartnerConfig,
    item: &OutboxItem,
    trace: &crate::trace::TraceParent,
) -> Attempt {
    let parties = &item.parties;
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
            ticket.handoff_id = Some(item.handoff_id.clone());
            ticket
                .origin_partner
                .get_or_insert_with(|| parties.origin_partner.clone());
            (
                Kind::Ticket,
                adapters::encode_ticket(family, &ticket, &app.config.tables),
            )
        }
        OutboxPayload::Status(status) => {
            let mut status = status.clone();
            status.handoff_id = Some(item.handoff_id.clone());
            let toward_origin = partner.id == parties.origin_partner;
            status.ticket_id = Some(if toward_origin {
                parties.origin_ticket_id.clone()
            } else {
                parties
                    .target_ticket_id
                    .clone()
                    .unwrap_or_else(|| parties.origin_ticket_id.clone())
            });
            if family == Family::HbSoap {
                // The SenderCode of a feedback is the hotline whose status it carries.
                let carrier = if toward_origin {
                    &parties.target_partner
                } else {
                    &parties.origin_partner
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
    let traceparent =
        crate::trace::outbound(&tracing::Span::current(), trace, item.id, item.attempts);
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
    let retry_after = retry_after(&reply.headers);
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

/// The longest a partner's `Retry-After` holds its messages back.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// A partner's `Retry-After` in seconds, at most [`MAX_RETRY_AFTER`] (a
/// partner cannot park its queue for ever, nor overflow the timer with a
/// huge number); the HTTP-date form is ignored (the back-off applies).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "flight_tests.rs"]
mod tests;
