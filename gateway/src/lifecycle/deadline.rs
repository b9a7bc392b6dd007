//! Deadlines: when a hand-off must be acknowledged and answered, and
//! whether one of them has passed.

use std::time::Duration;

use chrono::TimeDelta;
use schemas::{Status, Timestamp, Urgency};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandoffKind {
    /// One-key transfer between city hotlines (一键互转).
    Transfer,
    /// A hand-off to or from the enterprise service hotline.
    Enterprise,
    /// A housing repair for a central or military property unit.
    Property,
}

impl HandoffKind {
    /// Every kind.
    pub const ALL: [HandoffKind; 3] = [
        HandoffKind::Transfer,
        HandoffKind::Enterprise,
        HandoffKind::Property,
    ];

    /// `transfer`, `enterprise` or `property`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffKind::Transfer => "transfer",
            HandoffKind::Enterprise => "enterprise",
            HandoffKind::Property => "property",
        }
    }

    /// Parses the name written by [`HandoffKind::as_str`].
    pub fn parse(s: &str) -> Option<HandoffKind> {
        HandoffKind::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Deadlines per row, each `(acknowledge within, answer within)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadlinePolicy {
    /// Urgent tickets (default 30 minutes, 2 hours).
    pub urgent: (Duration, Duration),
    /// Normal and high tickets (default 2 hours, 24 hours).
    pub normal: (Duration, Duration),
    /// Property repairs (default 4 hours, 72 hours).
    pub property: (Duration, Duration),
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

impl Default for DeadlinePolicy {
    /// The spec's defaults.
    fn default() -> DeadlinePolicy {
        DeadlinePolicy {
            urgent: (
                Duration::from_secs(30 * MINUTE),
                Duration::from_secs(2 * HOUR),
            ),
            normal: (
                Duration::from_secs(2 * HOUR),
                Duration::from_secs(24 * HOUR),
            ),
            property: (
                Duration::from_secs(4 * HOUR),
                Duration::from_secs(72 * HOUR),
            ),
        }
    }
}

/// The longest deadline applied: a configured duration beyond it is cut
/// to it (configuration validation should refuse such values first).
pub const MAX_DEADLINE: Duration = Duration::from_secs(366 * 24 * HOUR);

/// The `(acknowledge by, answer by)` deadlines of a hand-off received by
/// the gateway at `received_at`.
///
/// Rows: transfers and enterprise hand-offs use `urgent` when urgent and
/// `normal` otherwise (`high` counts as normal: the spec sets deadlines for
/// urgent and normal only). Property repairs use `property`, except urgent
/// ones, which get the shorter of `urgent` and `property` for each of the
/// two deadlines (an urgent leak must not wait four hours for an
/// acknowledgement because it is a property repair).
pub fn deadlines(
    kind: HandoffKind,
    urgency: Urgency,
    received_at: Timestamp,
    policy: &DeadlinePolicy,
) -> (Timestamp, Timestamp) {
    let (ack, answer) = match (kind, urgency) {
        (HandoffKind::Property, Urgency::Urgent) => (
            policy.urgent.0.min(policy.property.0),
            policy.urgent.1.min(policy.property.1),
        ),
        (HandoffKind::Property, Urgency::High | Urgency::Normal) => policy.property,
        (HandoffKind::Transfer | HandoffKind::Enterprise, Urgency::Urgent) => policy.urgent,
        (HandoffKind::Transfer | HandoffKind::Enterprise, Urgency::High | Urgency::Normal) => {
            policy.normal
        }
    };
    (after(received_at, ack), after(received_at, answer))
}

/// `at + within`, with `within` cut to [`MAX_DEADLINE`]. A sum beyond the
/// calendar's range (a date hundreds of millennia ahead) gives `at`
/// itself: the deadline is treated as already due rather than never.
fn after(at: Timestamp, within: Duration) -> Timestamp {
    let within = within.min(MAX_DEADLINE);
    TimeDelta::from_std(within)
        .ok()
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(at)
}

/// A deadline that passed without the step it asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Overdue {
    /// Not acknowledged (delivered) in time.
    Ack,
    /// Not answered (resolved) in time.
    Answer,
}

impl Overdue {
    /// `ack` or `answer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Overdue::Ack => "ack",
            Overdue::Answer => "answer",
        }
    }
}

/// True once `state` satisfies the deadline `which`: the acknowledgement
/// deadline is met by `delivered` or any later state (and by `rejected`),
/// the answer deadline by `resolved`, `closed` or `rejected`.
pub fn deadline_met(which: Overdue, state: Status) -> bool {
    match which {
        Overdue::Ack => !matches!(state, Status::Received | Status::Expired),
        Overdue::Answer => matches!(state, Status::Resolved | Status::Closed | Status::Rejected),
    }
}

/// The first deadline that has passed (`now` strictly after it) and is
/// not met in `state`: the acknowledgement deadline before the answer
/// deadline. `None` when neither is overdue.
pub fn overdue(
    state: Status,
    ack_by: Timestamp,
    resolve_by: Timestamp,
    now: Timestamp,
) -> Option<Overdue> {
    [(Overdue::Ack, ack_by), (Overdue::Answer, resolve_by)]
        .into_iter()
        .find(|&(which, deadline)| now > deadline && !deadline_met(which, state))
        .map(|(which, _)| which)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "deadline_tests.rs"]
mod tests;
