//! Rate limits and priority lanes: decides whether a partner's request may
//! be taken now (ingress) and whether a message may be pushed to a target
//! now (delivery), and what to tell the partner about it. It only decides:
//! no I/O, and time comes from the governor clock it is given.
//!
//! Every partner's limit ([`Limit`], from the configuration) is split into
//! two lanes ([`Limit::lanes`]): the urgent lane, `urgent_share` of it,
//! reserved for urgent tickets, and the normal lane. An urgent ticket takes
//! from the urgent lane first, then from the normal lane; a normal ticket,
//! a status update or an acknowledgement only from the normal lane, so a
//! flood of them never spends what urgent tickets need. At delivery the
//! lane is the hand-off's urgency (the outbox sends urgent hand-offs' messages first).
//! Each lane is a GCRA limiter of `governor`, keyed by direction, lane and
//! partner; partners whose lanes have the same limit share one keyed
//! limiter.
//!
//! [`RateLimits`] is built whole from the configuration and replaced whole
//! (configuration reload, emergency mode): it holds no other state than
//! the limiters'.
//!
//! # Header fields
//!
//! A decision gives the fields of the IETF httpapi draft "RateLimit header
//! fields for HTTP" (draft-ietf-httpapi-ratelimit-headers-11): Structured
//! Field Lists of Items whose value is the policy name, a String:
//!
//! ```text
//! RateLimit-Policy: "default";q=8;w=60, "urgent";q=2;w=60
//! RateLimit: "default";r=3;t=38
//! Retry-After: 8                       (refusals only)
//! ```
//!
//! - `RateLimit-Policy` lists the partner's lanes: `"default"` is the
//!   normal lane, `"urgent"` the reserved lane (absent without one); `q` is
//!   the lane's count per window, `w` the window in seconds. The policy is
//!   the configured rate, so it stays the same from response to response.
//! - `RateLimit` gives the lane that took the request: `r` the requests it
//!   could still take at once, `t` the seconds until it is whole again
//!   (rounded up: a client that sends no more than `r` within `t` seconds
//!   is never refused for it). When an urgent ticket found the urgent lane
//!   spent and was taken by the normal lane, both are listed, the urgent
//!   one with `r=0` and `t` its wait.
//! - A refusal (HTTP 429) gives `Retry-After` in whole seconds, rounded up,
//!   at least 1: the time until the first lane the request may use takes
//!   one again; `RateLimit` names that lane with `r=0` and `t` equal to
//!   `Retry-After` (the draft asks that `Retry-After` not end before the
//!   effective window).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::config::{Config, Limit};

/// The `RateLimit` header field.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// The `RateLimit-Policy` header field.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Why limits could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// A partner's limit cannot be split into lanes with the urgent share
    /// (the configuration check refuses such files; a configuration
    /// changed in code can still have one).
    #[error("partner {partner}: {message}")]
    Lanes {
        /// The partner.
        partner: String,
        /// What is wrong.
        message: String,
    },
}

/// A lane of a partner's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lane {
    /// What every message may use.
    Normal,
    /// Reserved for urgent tickets.
    Urgent,
}

impl Lane {
    /// The policy name in the header fields: `default` or `urgent`.
    pub fn policy_name(self) -> &'static str {
        match self {
            Lane::Normal => "default",
            Lane::Urgent => "urgent",
        }
    }
}

/// One lane's state after a decision: an item of the `RateLimit` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneState {
    /// The lane.
    pub lane: Lane,
    /// Requests it could still take at once (`r`).
    pub remaining: u32,
    /// Seconds until it is whole again, rounded up; for a spent lane, until
    /// it takes one again (`t`).
    pub reset_secs: u64,
}

/// What a limit decided about one request or message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The lane that took it; `None`: refused, for [`wait`](Self::wait).
    pub admitted: Option<Lane>,
    /// For a refusal, the time until a lane it may use takes one again;
    /// zero when admitted.
    pub wait: Duration,
    /// The lanes looked at, for the `RateLimit` field.
    pub states: Vec<LaneState>,
    /// The partner's lanes and their limits, for `RateLimit-Policy`.
    pub policies: Vec<(Lane, Limit)>,
}

impl Decision {
    /// Whether the request may go on.
    pub fn is_admitted(&self) -> bool {
        self.admitted.is_some()
    }

    /// `Retry-After` of a refusal: [`wait`](Self::wait) in whole seconds,
    /// rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.wait).max(1)
    }

    /// The `RateLimit-Policy` field value.
    pub fn policy_field(&self) -> String {
        self.policies
            .iter()
            .map(|(lane, limit)| {
                format!(
                    "\"{}\";q={};w={}",
                    lane.policy_name(),
                    limit.rate.quota,
                    limit.rate.window_secs
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The `RateLimit` field value.
    pub fn ratelimit_field(&self) -> String {
        self.states
            .iter()
            .map(|s| {
                format!(
                    "\"{}\";r={};t={}",
                    s.lane.policy_name(),
                    s.remaining,
                    s.reset_secs
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Sets `RateLimit-Policy`, `RateLimit` and, for a refusal,
    /// `Retry-After` on a response's headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let mut fields = vec![
            (RATELIMIT_POLICY, self.policy_field()),
            (RATELIMIT, self.ratelimit_field()),
        ];
        if !self.is_admitted() {
            fields.push((RETRY_AFTER, self.retry_after_secs().to_string()));
        }
        for (name, value) in fields {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
}

/// Seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Direction {
    Ingress,
    Delivery,
}

/// Whose state a keyed limiter holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    direction: Direction,
    lane: Lane,
    partner: String,
}

type Limiter<C> = RateLimiter<Key, HashMapStateStore<Key>, C, StateInformationMiddleware>;

/// One lane of one partner in one direction.
struct LaneLimiter<C: Clock> {
    lane: Lane,
    limit: Limit,
    limiter: Arc<Limiter<C>>,
    key: Key,
}

impl<C: Clock> LaneLimiter<C> {
    /// Takes one from the lane: its state after, or the wait.
    fn take(&self) -> Result<LaneState, Duration> {
        match self.limiter.check_key(&self.key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let spent = self.limit.burst.saturating_sub(remaining);
                Ok(LaneState {
                    lane: self.lane,
                    remaining,
                    reset_secs: ceil_secs(self.limit.rate.interval().saturating_mul(spent)),
                })
            }
            Err(not_until) => Err(not_until.wait_time_from(self.limiter.clock().now())),
        }
    }
}

/// A partner's lanes in one direction.
struct Lanes<C: Clock> {
    normal: LaneLimiter<C>,
    urgent: Option<LaneLimiter<C>>,
}

impl<C: Clock> Lanes<C> {
    fn policies(&self) -> Vec<(Lane, Limit)> {
        std::iter::once(&self.normal)
            .chain(self.urgent.as_ref())
            .map(|l| (l.lane, l.limit))
            .collect()
    }

    fn decide(&self, urgent: bool) -> Decision {
        let policies = self.policies();
        let mut spent = Vec::new();
        if urgent && let Some(lane) = &self.urgent {
            match lane.take() {
                Ok(state) => {
                    return Decision {
                        admitted: Some(Lane::Urgent),
                        wait: Duration::ZERO,
                        states: vec![state],
                        policies,
                    };
                }
                Err(wait) => spent.push((Lane::Urgent, wait)),
            }
        }
        match self.normal.take() {
            Ok(state) => {
                let mut states: Vec<LaneState> = spent
                    .into_iter()
                    .map(|(lane, wait)| LaneState {
                        lane,
                        remaining: 0,
                        reset_secs: ceil_secs(wait),
                    })
                    .collect();
                states.push(state);
                Decision {
                    admitted: Some(Lane::Normal),
                    wait: Duration::ZERO,
                    states,
                    policies,
                }
            }
            Err(wait) => {
                spent.push((Lane::Normal, wait));
                let (lane, wait) = spent
                    .into_iter()
                    .min_by_key(|(_, wait)| *wait)
                    .unwrap_or((Lane::Normal, wait));
                let decision = Decision {
                    admitted: None,
                    wait,
                    states: Vec::new(),
                    policies,
                };
                let reset_secs = decision.retry_after_secs();
                Decision {
                    states: vec![LaneState {
                        lane,
                        remaining: 0,
                        reset_secs,
                    }],
                    ..decision
                }
            }
        }
    }
}

/// Every partner's limits, in both directions.
pub struct RateLimits<C: Clock = MonotonicClock> {
    ingress: HashMap<String, Lanes<C>>,
    delivery: HashMap<String, Lanes<C>>,
}

impl RateLimits<MonotonicClock> {
    /// The limits of a configuration, on the monotonic clock, in the
    /// emergency mode it sets (`limits.emergency`).
    pub fn new(config: &Config) -> Result<RateLimits, LimitsError> {
        RateLimits::for_mode(config, config.limits.emergency)
    }

    /// The limits of a configuration, on the monotonic clock; in emergency
    /// mode (高话务量应急) every limit's count and burst multiplied by
    /// `limits.emergency_factor` ([`Limit::scaled`]).
    pub fn for_mode(config: &Config, emergency: bool) -> Result<RateLimits, LimitsError> {
        let factor = if emergency {
            config.limits.emergency_factor
        } else {
            1.0
        };
        let scale = |l: Option<Limit>| l.map(|l| l.scaled(factor));
        RateLimits::build(
            config.limits.urgent_share,
            config.partners.iter().map(|p| {
                (
                    p.id.as_str(),
                    scale(p.ingress_limit),
                    scale(p.delivery_limit),
                )
            }),
            MonotonicClock,
        )
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    /// The limits of `partners` (id, ingress limit, delivery limit; `None`:
    /// unlimited), each split with `urgent_share`, on `clock`.
    pub fn build<'a>(
        urgent_share: f64,
        partners: impl IntoIterator<Item = (&'a str, Option<Limit>, Option<Limit>)>,
        clock: C,
    ) -> Result<RateLimits<C>, LimitsError> {
        let mut builder = Builder {
            urgent_share,
            clock,
            limiters: HashMap::new(),
        };
        let mut ingress = HashMap::new();
        let mut delivery = HashMap::new();
        for (partner, ingress_limit, delivery_limit) in partners {
            if let Some(limit) = ingress_limit {
                let lanes = builder.lanes(Direction::Ingress, partner, limit)?;
                ingress.insert(partner.to_owned(), lanes);
            }
            if let Some(limit) = delivery_limit {
                let lanes = builder.lanes(Direction::Delivery, partner, limit)?;
                delivery.insert(partner.to_owned(), lanes);
            }
        }
        Ok(RateLimits { ingress, delivery })
    }
}

/// Makes the lanes, one keyed limiter per distinct limit.
struct Builder<C: Clock> {
    urgent_share: f64,
    clock: C,
    limiters: HashMap<Limit, Arc<Limiter<C>>>,
}

impl<C: Clock + Clone> Builder<C> {
    fn lanes(
        &mut self,
        direction: Direction,
        partner: &str,
        limit: Limit,
    ) -> Result<Lanes<C>, LimitsError> {
        let split = limit
            .lanes(self.urgent_share)
            .map_err(|message| LimitsError::Lanes {
                partner: partner.to_owned(),
                message,
            })?;
        let normal = self.lane(direction, Lane::Normal, partner, split.normal)?;
        let urgent = match split.urgent {
            Some(limit) => Some(self.lane(direction, Lane::Urgent, partner, limit)?),
            None => None,
        };
        Ok(Lanes { normal, urgent })
    }

    fn lane(
        &mut self,
        direction: Direction,
        lane: Lane,
        partner: &str,
        limit: Limit,
    ) -> Result<LaneLimiter<C>, LimitsError> {
        let limiter = match self.limiters.get(&limit) {
            Some(limiter) => limiter.clone(),
            None => {
                let quota = quota(limit).ok_or_else(|| LimitsError::Lanes {
                    partner: partner.to_owned(),
                    message: format!("{} with burst {} is not a limit", limit.rate, limit.burst),
                })?;
                let limiter = Arc::new(
                    RateLimiter::hashmap_with_clock(quota, self.clock.clone())
                        .with_middleware::<StateInformationMiddleware>(),
                );
                self.limiters.insert(limit, limiter.clone());
                limiter
            }
        };
        Ok(LaneLimiter {
            lane,
            limit,
            limiter,
            key: Key {
                direction,
                lane,
                partner: partner.to_owned(),
            },
        })
    }
}

impl<C: Clock> RateLimits<C> {
    /// May `partner` submit a request now? Urgent tickets may use the
    /// urgent lane. `None`: the partner has no limit.
    pub fn ingress(&self, partner: &str, urgent: bool) -> Option<Decision> {
        self.ingress.get(partner).map(|l| l.decide(urgent))
    }

    /// `partner`'s ingress lanes and their limits in force; `None`: no
    /// limit.
    pub fn ingress_policy(&self, partner: &str) -> Option<Vec<(Lane, Limit)>> {
        self.ingress.get(partner).map(Lanes::policies)
    }

    /// `target`'s delivery lanes and their limits in force; `None`: no
    /// limit.
    pub fn delivery_policy(&self, target: &str) -> Option<Vec<(Lane, Limit)>> {
        self.delivery.get(target).map(Lanes::policies)
    }

    /// May a message be pushed to `target` now? Messages of urgent
    /// hand-offs may use the urgent lane. `None`: the target has no limit.
    pub fn delivery(&self, target: &str, urgent: bool) -> Option<Decision> {
        self.delivery.get(target).map(|l| l.decide(urgent))
    }
}

/// The governor quota of a limit: one per [`Rate::interval`](crate::config::Rate::interval),
/// `burst` at once.
fn quota(limit: Limit) -> Option<Quota> {
    Some(Quota::with_period(limit.rate.interval())?.allow_burst(NonZeroU32::new(limit.burst)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "limits_tests.rs"]
mod tests;
