//! Rates in the configuration: `"10/s"`, `"6/min"`, `"100/h"`, `"30/10s"`;
//! and how a limit is split into the normal lane and the urgent lane.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The largest quota a rate may give per window.
const MAX_QUOTA: u32 = 1_000_000;
/// The longest window a rate may have: one day.
const MAX_WINDOW_SECS: u32 = 86_400;

/// A rate: `quota` messages per `window_secs` seconds. Written
/// `"<quota>/<window>"`, the window being `s`, `min`, `h` or `d` (one
/// second, minute, hour, day) or a humane duration of whole seconds
/// (`"30/10s"`, `"100/5m"`). Whole numbers only, so that a rate is exactly
/// the quota (`q`) and window (`w`) the `RateLimit-Policy` header shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Messages per window (1 to 1 000 000).
    pub quota: u32,
    /// The window, in whole seconds (1 to 86 400).
    pub window_secs: u32,
}

impl Rate {
    /// Parses `"<quota>/<window>"`.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let invalid = || {
            format!(
                "invalid rate {text:?}: expected \"<count>/<window>\" with a whole count of 1 to \
                 {MAX_QUOTA} and a window of s, min, h, d or whole seconds up to a day \
                 (e.g. \"10/s\", \"6/min\", \"100/h\", \"30/10s\")"
            )
        };
        let (count, window) = text.split_once('/').ok_or_else(invalid)?;
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let quota: u32 = count.parse().map_err(|_| invalid())?;
        let window_secs: u64 = match window {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3_600,
            "d" | "day" => 86_400,
            other => {
                let d = super::duration::parse(other).map_err(|_| invalid())?;
                if d.subsec_nanos() != 0 {
                    return Err(format!(
                        "invalid rate {text:?}: the window must be whole seconds"
                    ));
                }
                d.as_secs()
            }
        };
        if !(1..=MAX_QUOTA).contains(&quota) {
            return Err(invalid());
        }
        let window_secs = u32::try_from(window_secs)
            .ok()
            .filter(|w| (1..=MAX_WINDOW_SECS).contains(w))
            .ok_or_else(invalid)?;
        Ok(Rate { quota, window_secs })
    }

    /// The time one message takes from the quota: the window over the
    /// quota, rounded up to the nanosecond (so `quota` of them never take
    /// less than the window).
    pub fn interval(&self) -> Duration {
        let window = u128::from(self.window_secs) * 1_000_000_000;
        let quota = u128::from(self.quota.max(1));
        let nanos = window.div_ceil(quota);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.window_secs {
            1 => write!(f, "{}/s", self.quota),
            60 => write!(f, "{}/min", self.quota),
            3_600 => write!(f, "{}/h", self.quota),
            w => write!(f, "{}/{w}s", self.quota),
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rate, D::Error> {
        let text = String::deserialize(deserializer)?;
        Rate::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A rate limit: a [`Rate`] and a burst, the number of messages that may
/// come at once after a quiet spell. A limit lets through at most
/// `quota + burst − 1` messages in any window of `window_secs` seconds
/// (GCRA: one message per [`Rate::interval`], `burst` ahead at most), so a
/// burst of 1 means never more than the quota in any window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limit {
    /// The sustained rate.
    pub rate: Rate,
    /// Messages that may come at once (at least 1).
    pub burst: u32,
}

/// A limit split into lanes: the normal lane, which every message may use,
/// and the urgent lane reserved for urgent tickets (none when
/// `urgent_share` is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lanes {
    /// What normal tickets and status updates may use (urgent ones too,
    /// once the urgent lane is spent).
    pub normal: Limit,
    /// Reserved for urgent tickets.
    pub urgent: Option<Limit>,
}

impl Limit {
    /// The limit with its count and burst multiplied by `factor` (emergency
    /// mode), rounded up and at most the largest count a rate may have;
    /// the window stays. A factor of 1 or less (or not a number) leaves
    /// the limit as it is.
    pub fn scaled(self, factor: f64) -> Limit {
        if factor.is_nan() || factor <= 1.0 {
            return self;
        }
        let scale = |n: u32| {
            let x = (f64::from(n) * factor).ceil();
            if x >= f64::from(MAX_QUOTA) {
                MAX_QUOTA
            } else {
                (x as u32).max(n)
            }
        };
        Limit {
            rate: Rate {
                quota: scale(self.rate.quota),
                window_secs: self.rate.window_secs,
            },
            burst: scale(self.burst),
        }
    }

    /// Splits the limit: the urgent lane gets `urgent_share` of the quota
    /// and of the burst, rounded up (at least 1 each), over the same
    /// window; the normal lane the rest of the quota and of the burst (at
    /// least 1 of the burst). The two lanes together never let through
    /// more than the limit does (`quota + burst − 1` in any window).
    /// Refused when the normal lane would get no quota at all.
    pub fn lanes(self, urgent_share: f64) -> Result<Lanes, String> {
        if urgent_share <= 0.0 {
            return Ok(Lanes {
                normal: self,
                urgent: None,
            });
        }
        // Rounded up, less a hair so that 10 × 0.9 is 9 however the
        // product rounds.
        let share = |n: u32| (((f64::from(n) * urgent_share) - 1e-9).ceil() as u32).clamp(1, n);
        let urgent_quota = share(self.rate.quota);
        let normal_quota = self.rate.quota - urgent_quota;
        if normal_quota == 0 {
            return Err(format!(
                "{} is too small to reserve limits.urgent_share = {urgent_share} for urgent \
                 tickets and leave any for the rest: give at least {} per window, or set \
                 limits.urgent_share = 0",
                self.rate,
                (2..=MAX_QUOTA).find(|&q| share(q) < q).unwrap_or(MAX_QUOTA),
            ));
        }
        let urgent_burst = share(self.burst);
        let normal_burst = self.burst.saturating_sub(urgent_burst).max(1);
        let lane = |quota, burst| Limit {
            rate: Rate {
                quota,
                window_secs: self.rate.window_secs,
            },
            burst,
        };
        Ok(Lanes {
            normal: lane(normal_quota, normal_burst),
            urgent: Some(lane(urgent_quota, urgent_burst)),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "rate_tests.rs"]
mod tests;
