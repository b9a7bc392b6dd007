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

mod flight;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use schemas::{Timestamp, Urgency};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use self::flight::{Landing, fly};
use super::App;
use crate::config::PartnerConfig;
use crate::store::{LaneStarts, OutboxItem, OutboxPayload, Store, Taken};

/// The longest an idle worker sleeps before looking at its outbox again.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often a busy worker reads its whole outbox again, not only what
/// was queued since its last read (see [`Worker::round`]).
const FULL_READ: Duration = IDLE_POLL;

/// Runs one delivery worker per configured partner until shutdown, on a
/// runtime of their own (see [`delivery_runtime`]).
pub async fn run(app: Arc<App>, shutdown: watch::Receiver<bool>) {
    let runtime = delivery_runtime();
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
        match &runtime {
            Some(rt) => workers.spawn_on(worker.run(), rt.handle()),
            None => workers.spawn(worker.run()),
        };
    }
    while let Some(done) = workers.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "a delivery worker stopped");
        }
    }
    // Every worker has ended; the runtime holds no work of ours.
    if let Some(rt) = runtime {
        rt.shutdown_background();
    }
}

/// The deliveries' own runtime, one thread per core, so that a receipt's
/// task never queues behind delivery work (encoding, TLS, the partners'
/// replies, the workers' reads of their outbox) on the receiving threads.
/// On 2 cores it took receipt p50 at 2,450/s from 3.6-4.4 to 2.9-3.5 ms
/// and p99 from 10.9-14.2 to 9.7-10.9 ms (BENCHMARKS.md). It had half the
/// cores until the workers read their outbox on it instead of on blocking
/// threads (see `store::sqlite`): with one thread the deliveries then fell
/// behind in a closed loop (delivery p50 0.3-0.4 s), with two they keep
/// up (12 ms). Without it (the runtime cannot be built), deliveries share
/// the caller's runtime as before.
fn delivery_runtime() -> Option<tokio::runtime::Runtime> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("delivery")
        .enable_all()
        .build()
        .inspect_err(|e| {
            tracing::error!(error = %e, "no runtime of their own for deliveries: they share the receiving threads");
        })
        .ok()
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
            let round = self.round().await;
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

    /// The due messages (in the store's order), without those in flight,
    /// each lane read after the id `after` gives it.
    async fn due(
        &self,
        in_flight: &HashMap<i64, String>,
        after: LaneStarts,
    ) -> VecDeque<OutboxItem> {
        let target = &self.partner.id;
        let fetch = self.app.config.delivery.in_flight.saturating_mul(4).max(32);
        let taken = Taken {
            in_flight: in_flight.keys().copied().collect(),
            after,
        };
        match self
            .app
            .store
            .due_deliveries(target, self.app.now(), fetch, taken)
            .await
        {
            Ok(items) => items.into(),
            Err(e) => {
                tracing::error!(%target, error = %e, "cannot read the outbox");
                VecDeque::new()
            }
        }
    }

    /// Sends the due messages with up to `in_flight` at once, taking the
    /// next one as soon as a slot is free (and reading the outbox again
    /// when those read are all sent), and records each outcome as it comes.
    /// Ends when nothing more is due, the delivery limit is reached, or a
    /// message failed (then once the others in flight have landed).
    ///
    /// The reads during a round start after the last message taken in
    /// each lane (every earlier one is in flight or has landed), so each
    /// gives only what was queued since; one in [`FULL_READ`] starts from
    /// the beginning again, to see a message made pending again under an
    /// older id (`gateway handoffs redeliver`, which the round would
    /// otherwise see only once it ends).
    async fn round(&mut self) -> Round {
        let window = self.app.config.delivery.in_flight.max(1);
        let target = self.partner.id.clone();
        let mut flights: JoinSet<(i64, Landing)> = JoinSet::new();
        // Outbox id → hand-off of each message in flight.
        let mut in_flight: HashMap<i64, String> = HashMap::new();
        // Where each lane's next read starts.
        let mut after = LaneStarts::default();
        let mut full_read = tokio::time::Instant::now();
        let mut queue = self.due(&in_flight, after).await;
        let mut sent = 0usize;
        let mut stop = false;
        let mut rate_wait = None;
        loop {
            while !stop && rate_wait.is_none() && flights.len() < window {
                let Some(item) = queue.front() else {
                    break;
                };
                if self.partner.endpoint.is_none()
                    && matches!(item.payload, OutboxPayload::Ticket(_))
                {
                    // A repair order waits for its liaison; it holds back nothing.
                    after.take(item.id, item.urgency == Urgency::Urgent);
                    queue.pop_front();
                    continue;
                }
                if in_flight.values().any(|h| *h == item.handoff_id) {
                    // The hand-off's earlier message is in flight: this
                    // one (and those behind it) wait for it to land.
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
                let Some(item) = queue.pop_front() else {
                    break;
                };
                after.take(item.id, urgent);
                in_flight.insert(item.id, item.handoff_id.clone());
                sent += 1;
                let (app, partner) = (self.app.clone(), self.partner.clone());
                flights.spawn(async move { (item.id, fly(app, partner, item).await) });
            }
            let Some(flight) = flights.join_next().await else {
                break;
            };
            let landed = match flight {
                Ok((id, landing)) => {
                    in_flight.remove(&id);
                    self.settle(landing)
                }
                Err(e) => {
                    // The message stays pending and is tried again.
                    tracing::error!(%target, error = %e, "a delivery attempt stopped");
                    Next::Stop
                }
            };
            if landed == Next::Stop {
                stop = true;
            }
            // Read the outbox again once half the window is free (not on
            // every landing under a full window: each read is a fresh
            // snapshot, its changed pages read again).
            if queue.is_empty() && !stop && rate_wait.is_none() && flights.len() <= window / 2 {
                if full_read.elapsed() >= FULL_READ {
                    after = LaneStarts::default();
                    full_read = tokio::time::Instant::now();
                }
                queue = self.due(&in_flight, after).await;
            }
        }
        match (rate_wait, stop) {
            (_, true) => Round::Again,
            (Some(wait), false) => Round::RateLimited(wait),
            (None, false) if sent > 0 => Round::Again,
            (None, false) => Round::Idle,
        }
    }

    /// Takes a finished flight into the worker's state: the circuit
    /// breaker's count and the target's hold.
    fn settle(&mut self, landing: Landing) -> Next {
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
        let now = tokio::time::Instant::now();
        // A day at most: no configured or announced wait overflows the timer.
        let until = now + wait.min(Duration::from_secs(24 * 60 * 60));
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

fn until(app: &App, at: Timestamp) -> Duration {
    at.signed_duration_since(app.now())
        .to_std()
        .unwrap_or_default()
}
