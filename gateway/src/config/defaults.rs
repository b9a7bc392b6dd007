//! The documented defaults of the optional keys.

use std::time::Duration;

use super::Deadline;

const MINUTE: u64 = 60;
const HOUR: u64 = 3_600;

pub fn urgent() -> Deadline {
    Deadline {
        ack: Duration::from_secs(30 * MINUTE),
        answer: Duration::from_secs(2 * HOUR),
    }
}
pub fn normal() -> Deadline {
    Deadline {
        ack: Duration::from_secs(2 * HOUR),
        answer: Duration::from_secs(24 * HOUR),
    }
}
pub fn property() -> Deadline {
    Deadline {
        ack: Duration::from_secs(4 * HOUR),
        answer: Duration::from_secs(72 * HOUR),
    }
}
pub fn max_body_bytes() -> usize {
    1 << 20
}
pub fn header_timeout() -> Duration {
    Duration::from_secs(10)
}
pub fn idle_timeout() -> Duration {
    Duration::from_secs(60)
}
pub fn max_concurrent_requests() -> usize {
    1024
}
pub fn max_attempts() -> u32 {
    12
}
pub fn max_age() -> Duration {
    Duration::from_secs(24 * HOUR)
}
pub fn initial_backoff() -> Duration {
    Duration::from_secs(1)
}
pub fn max_backoff() -> Duration {
    Duration::from_secs(5 * MINUTE)
}
pub fn breaker_failures() -> u32 {
    5
}
pub fn breaker_cooldown() -> Duration {
    Duration::from_secs(30)
}
pub fn request_timeout() -> Duration {
    Duration::from_secs(10)
}
pub fn in_flight() -> usize {
    16
}
pub fn audit_origin() -> String {
    crate::audit::DEFAULT_ORIGIN.to_owned()
}
pub fn checkpoint_interval() -> Duration {
    Duration::from_secs(10)
}

pub fn urgent_share() -> f64 {
    0.2
}
pub fn emergency_factor() -> f64 {
    3.0
}
