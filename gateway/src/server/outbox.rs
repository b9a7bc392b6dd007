//! Delivery: one worker per partner pushes the messages queued for it, in
//! the partner's own format, with the gateway's client certificate.
//! Failures back off exponentially with jitter (a target's `Retry-After`
//! wins when it is longer), a run of failures opens the target's circuit
//! breaker for a cool-down, and a message that keeps failing past the
//! configured attempts or age is dead-lettered for an operator
//! (`gateway handoffs redeliver`).
//!
//! Throughput: a worker keeps up to `delivery.in_flight` messages in
//! flight to its target (each on its own pooled connection), and the
//! store commits their outcomes together (group commit), so one slow round
//! trip or fsync does not hold back the messages behind it. Order: the
//! messages of one hand-off go one at a time, in order (a status never
//! overtakes the ticket or an earlier status); messages of different
//! hand-offs may overlap. A message that fails stops the worker taking new
//! ones until the others in flight have finished, and the store then holds
//! back its lane behind it.
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
//! Wake-ups: whoever queues a message wakes only its partner's worker
//! ([`App::queued_for`]); an idle worker otherwise sleeps until its next
//! retry is due, or for a second (messages a `gateway handoffs redeliver`
//! in another process queued again).
//!
//! Pull partners (property units, Open311 clients) get no pushes: their
//! status messages are marked delivered as they are queued (the inbox and
//! the Open311 GET endpoints show them), and a repair order is delivered
//! when the liaison acknowledges it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use adapters::Family;
use bytes::Bytes;
use schemas::{Timestamp, Urgency};
use sha2::Digest;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{App, partner_division};
use crate::config::PartnerConfig;
use crate::store::{DeliveryResult, OutboxItem, OutboxPayload, Store};
use crate::wire::{self, Kind};

/// The longest an idle worker sleeps before looking at its outbox again.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Runs one delivery worker per configured partner until shutdown.
pub async fn run(app: Arc<App>, shutdown: watch::Receiver<bool>) {
    let mut workers = JoinSet::new();
    for partner in &app.config.partners {
        let Some(wake) = app.wake_of(&partner.id) else {
            continue;
        };
        let worker = Worker {
            app: app.clone(),
            partner: Arc::new(partner.clone()),
            wake,
            shutdown: shutdown.clone(),
            failures: 0,
            hold: None,
        };
        workers.spawn(worker.run());
    }
    while let Some(done) = workers.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "a delivery worker stopped");
        }
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

/// What the worker does after an attempt's outcome is recorded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Go on with the next message.
    Go,
    /// Take no new message this round: one failed and its lane waits.
    Stop,
}

/// One partner's delivery worker.
struct Worker {
    app: Arc<App>,
    partner: Arc<PartnerConfig>,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    /// Consecutive failures (the circuit breaker opens at the configured count).
    failures: u32,
    /// Set by the target's own Retry-After: nothing is sent to it before.
    hold: Option<tokio::time::Instant>,
}

impl Worker {
    async fn run(mut self) {
        let target = self.partner.id.clone();
        let fetch = self.app.config.delivery.in_flight.saturating_mul(4).max(32);
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            if let Some(until) = self.hold.take() {
                let left = until.saturating_duration_since(tokio::time::Instant::now());
                if !left.is_zero() && self.sleep(left, false).await {
                    return;
                }
            }
            let now = self.app.now();
            let items = match self.app.store.due_deliveries(&target, now, fetch).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(%target, error = %e, "cannot read the outbox");
                    Vec::new()
                }
            };
            let round = self.round(items).await;
            if *self.shutdown.borrow() {
                return;
            }
            let wait = match round {
                Round::Again => continue,
                Round::RateLimited(wait) => {
                    if self.wait_for_rate(wait).await {
                        return;
                    }
                    continue;
                }
                Round::Idle => self.idle_wait().await,
            };
            if self.sleep(wait, true).await {
                return;
            }
        }
    }

    /// Sends `items` (due, in the store's order) with up to `in_flight` at
    /// once, and records each outcome as it comes.
    async fn round(&mut self, items: Vec<OutboxItem>) -> Round {
        let window = self.app.config.delivery.in_flight.max(1);
        let target = self.partner.id.clone();
        let mut flights: JoinSet<Landing> = JoinSet::new();
        let mut busy: HashSet<String> = HashSet::new();
        let mut next = Next::Go;
        let mut sent = 0usize;
        let mut rate_wait = None;
        for item in items {
            while flights.len() >= window && next == Next::Go {
                if let Some(flight) = flights.join_next().await {
                    next = self.settle(flight);
                }
            }
            if next == Next::Stop {
                break;
            }
            if self.partner.endpoint.is_none() && matches!(item.payload, OutboxPayload::Ticket(_)) {
                // A repair order waits for its liaison; it holds back nothing.
                continue;
            }
            if busy.contains(&item.handoff_id) {
                // The hand-off's earlier message is in flight: this one
                // goes after it, in the next round.
                break;
            }
            let urgent = item.urgency == Urgency::Urgent;
            let decision = self.app.limits().delivery(&target, urgent);
            self.app
                .counters
                .delivery(&target, decision.as_ref().is_none_or(|d| d.is_admitted()));
            if let Some(decision) = decision
                && !decision.is_admitted()
            {
                tracing::debug!(%target, urgent, wait_ms = decision.wait.as_millis() as u64, "delivery rate reached: waiting");
                rate_wait = Some(decision.wait);
                break;
            }
            busy.insert(item.handoff_id.clone());
            sent += 1;
            flights.spawn(fly(self.app.clone(), self.partner.clone(), item));
        }
        while let Some(flight) = flights.join_next().await {
            if self.settle(flight) == Next::Stop {
                next = Next::Stop;
            }
        }
        match (rate_wait, next) {
            (_, Next::Stop) => Round::Again,
            (Some(wait), Next::Go) => Round::RateLimited(wait),
            (None, Next::Go) if sent > 0 => Round::Again,
            (None, Next::Go) => Round::Idle,
        }
    }

    /// Takes a finished flight into the worker's state: the circuit
    /// breaker's count and the target's hold.
    fn settle(&mut self, flight: Result<Landing, tokio::task::JoinError>) -> Next {
        let landing = match flight {
            Ok(landing) => landing,
            Err(e) => {
                // The message stays pending and is tried again.
                tracing::error!(target = %self.partner.id, error = %e, "a delivery attempt stopped");
                return Next::Stop;
            }
        };
        match landing {
            Landing::Taken => {
                self.failures = 0;
                Next::Go
            }
            Landing::Skipped => Next::Go,
            Landing::Failed {
                retry_after,
                delay,
                dead,
            } => {
                let policy = self.app.config.delivery;
                self.failures += 1;
                if let Some(wait) = retry_after {
                    self.hold_for(wait);
                }
                if self.failures >= policy.breaker_failures {
                    tracing::warn!(target = %self.partner.id, "circuit breaker open");
                    self.failures = policy.breaker_failures.saturating_sub(1);
                    self.hold_for(policy.breaker_cooldown.max(delay));
                }
                if dead {
                    Next::Go
                } else {
                    // Later messages of its lane wait behind this one.
                    Next::Stop
                }
            }
        }
    }

    /// Sends nothing to the target for `wait` from now (or longer, if a
    /// hold already runs).
    fn hold_for(&mut self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        self.hold = Some(self.hold.map_or(until, |h| h.max(until)));
    }

    /// How long an idle worker sleeps: until its next retry is due, at
    /// most [`IDLE_POLL`] (a wake-up cuts it short).
    async fn idle_wait(&self) -> Duration {
        let target = &self.partner.id;
        match self.app.store.next_due(target).await.ok().flatten() {
            Some(at) if self.partner.endpoint.is_some() => {
                until(&self.app, at).clamp(Duration::from_millis(20), IDLE_POLL)
            }
            // A pull partner's pending messages are orders waiting for
            // their liaison: only a wake-up brings it work.
            _ => IDLE_POLL,
        }
    }

    /// Sleeps `wait` (cut short by a wake-up when `wakeable`); true when
    /// the gateway is stopping.
    async fn sleep(&mut self, wait: Duration, wakeable: bool) -> bool {
        let wake = self.wake.clone();
        tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = wake.notified(), if wakeable => false,
            _ = self.shutdown.changed() => true,
        }
    }

    /// Waits `wait` for the delivery limit. New messages cut the wait
    /// short (an urgent one may go through the reserved lane at once), but
    /// not before a short pause, so a flood of arrivals does not spin the
    /// worker. True when the gateway is stopping.
    async fn wait_for_rate(&mut self, wait: Duration) -> bool {
        let pause = wait.min(Duration::from_millis(50));
        if self.sleep(pause, false).await {
            return true;
        }
        self.sleep(wait - pause, true).await
    }
}

/// What a round of sending came to.
enum Round {
    /// Look at the outbox again now.
    Again,
    /// The delivery limit was reached: wait this long first.
    RateLimited(Duration),
    /// Nothing was due.
    Idle,
}

/// What became of one message, for the worker's bookkeeping (the outcome
/// itself is already recorded).
enum Landing {
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
async fn fly(app: Arc<App>, partner: Arc<PartnerConfig>, item: OutboxItem) -> Landing {
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
    crate::trace::adopt(
        &span,
        &crate::trace::of_handoff(&item.handoff_id, parties.trace_parent.as_deref()),
    );
    let outcome = attempt(&app, &partner, &item).instrument(span).await;
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
async fn attempt(app: &App, partner: &PartnerConfig, item: &OutboxItem) -> Attempt {
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
    let traceparent = crate::trace::outbound(
        &tracing::Span::current(),
        &crate::trace::of_handoff(&item.handoff_id, parties.trace_parent.as_deref()),
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
