//! How often the inbox's token sign-in may be tried: per client address
//! and for everyone together, GCRA limiters of `governor`.
//!
//! Liaison tokens are long random strings, so guessing one is hopeless
//! anyway; the limits keep a guesser (or a misbehaving script) from
//! hammering the sign-in with hashing work and keep any weak token an
//! operator might configure out of reach. Every attempt counts, successful
//! or not: deciding before the token is looked at keeps the refusal cheap
//! and says nothing about the token. The overall limit is what bounds many
//! addresses together; its price is that such a flood also holds back
//! honest token sign-ins for a while (certificate sign-in, which does not
//! use this form, is never limited here).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Attempts one address may make at once, and how fast they come back.
pub const PER_ADDRESS_BURST: u32 = 10;
/// One more attempt per address every this long (10 a minute).
pub const PER_ADDRESS_EVERY: Duration = Duration::from_secs(6);
/// Attempts everyone together may make at once.
pub const OVERALL_BURST: u32 = 60;
/// One more attempt for everyone every this long (60 a minute).
pub const OVERALL_EVERY: Duration = Duration::from_secs(1);

/// Above this many tracked addresses, the ones whose limiter is whole
/// again are forgotten (so memory stays bounded).
const MAX_TRACKED: usize = 10_000;

/// Which limit refused an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The client's address (an IPv6 client's /64) tried too often.
    Address,
    /// Everyone together tried too often.
    Overall,
}

/// A refused attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Which limit.
    pub scope: Scope,
    /// Whole seconds until an attempt would be taken again, at least 1.
    pub retry_after_secs: u64,
}

/// The sign-in limiters of one running gateway.
pub struct SignInLimits<C: Clock = MonotonicClock> {
    per_address: RateLimiter<IpAddr, HashMapStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    overall: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    clock: C,
}

fn quota(every: Duration, burst: u32) -> Quota {
    // The constants are non-zero; the fallbacks only satisfy the types.
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl SignInLimits<MonotonicClock> {
    /// The limits of the constants above, on the monotonic clock.
    pub fn new() -> SignInLimits<MonotonicClock> {
        SignInLimits::with_clock(MonotonicClock)
    }
}

impl Default for SignInLimits<MonotonicClock> {
    fn default() -> Self {
        SignInLimits::new()
    }
}

impl<C: Clock + Clone> SignInLimits<C> {
    /// The limits of the constants above, on `clock`.
    pub fn with_clock(clock: C) -> SignInLimits<C> {
        SignInLimits {
            per_address: RateLimiter::hashmap_with_clock(
                quota(PER_ADDRESS_EVERY, PER_ADDRESS_BURST),
                clock.clone(),
            ),
            overall: RateLimiter::direct_with_clock(
                quota(OVERALL_EVERY, OVERALL_BURST),
                clock.clone(),
            ),
            clock,
        }
    }

    /// May `addr` try a token now? The address is checked first, so an
    /// address over its own limit spends nothing of everyone's.
    pub fn attempt(&self, addr: IpAddr) -> Result<(), Refusal> {
        if self.per_address.len() >= MAX_TRACKED {
            self.per_address.retain_recent();
        }
        let refusal = |scope, wait: Duration| Refusal {
            scope,
            retry_after_secs: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
        };
        self.per_address
            .check_key(&address_key(addr))
            .map_err(|n| refusal(Scope::Address, n.wait_time_from(self.clock.now())))?;
        self.overall
            .check()
            .map_err(|n| refusal(Scope::Overall, n.wait_time_from(self.clock.now())))
    }
}

/// The key of a client address: IPv4 (also when mapped into IPv6) as is,
/// IPv6 by its /64, which is what one subscriber usually holds.
fn address_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "throttle_tests.rs"]
mod tests;
