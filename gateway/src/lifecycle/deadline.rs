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
mod tests {
    use super::*;

    use Status::*;

    const STATES: [Status; 7] = [
        Received, Delivered, Accepted, InProgress, Resolved, Closed, Rejected,
    ];

    #[test]
    fn kind_names_round_trip() {
        for kind in HandoffKind::ALL {
            assert_eq!(HandoffKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(HandoffKind::parse(""), None);
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn default_deadlines_per_kind_and_urgency() {
        let p = DeadlinePolicy::default();
        let t = at("2026-05-01T09:00:00+08:00");
        let cases = [
            (
                HandoffKind::Transfer,
                Urgency::Urgent,
                "09:30",
                "11:00",
                "01",
            ),
            (HandoffKind::Transfer, Urgency::High, "11:00", "09:00", "02"),
            (
                HandoffKind::Transfer,
                Urgency::Normal,
                "11:00",
                "09:00",
                "02",
            ),
            (
                HandoffKind::Enterprise,
                Urgency::Urgent,
                "09:30",
                "11:00",
                "01",
            ),
            (
                HandoffKind::Enterprise,
                Urgency::Normal,
                "11:00",
                "09:00",
                "02",
            ),
            (
                HandoffKind::Property,
                Urgency::Normal,
                "13:00",
                "09:00",
                "04",
            ),
            (HandoffKind::Property, Urgency::High, "13:00", "09:00", "04"),
            (
                HandoffKind::Property,
                Urgency::Urgent,
                "09:30",
                "11:00",
                "01",
            ),
        ];
        for (kind, urgency, ack, answer, answer_day) in cases {
            let (a, r) = deadlines(kind, urgency, t, &p);
            assert_eq!(
                a,
                at(&format!("2026-05-01T{ack}:00+08:00")),
                "{kind:?} {urgency:?}"
            );
            assert_eq!(
                r,
                at(&format!("2026-05-{answer_day}T{answer}:00+08:00")),
                "{kind:?} {urgency:?}"
            );
            // The offset of the received time is kept.
            assert_eq!(a.offset(), t.offset());
        }
    }

    #[test]
    fn urgent_property_takes_the_shorter_of_each() {
        let p = DeadlinePolicy {
            urgent: (Duration::from_secs(600), Duration::from_secs(100 * HOUR)),
            normal: (Duration::from_secs(HOUR), Duration::from_secs(HOUR)),
            property: (Duration::from_secs(HOUR), Duration::from_secs(50 * HOUR)),
        };
        let t = at("2026-05-01T00:00:00Z");
        let (a, r) = deadlines(HandoffKind::Property, Urgency::Urgent, t, &p);
        assert_eq!(a, at("2026-05-01T00:10:00Z"));
        assert_eq!(r, at("2026-05-03T02:00:00Z"));
    }

    #[test]
    fn absurd_durations_do_not_panic() {
        let p = DeadlinePolicy {
            urgent: (Duration::MAX, Duration::MAX),
            normal: (Duration::MAX, Duration::ZERO),
            property: (Duration::MAX, Duration::MAX),
        };
        let t = at("2026-05-01T00:00:00Z");
        let (a, r) = deadlines(HandoffKind::Transfer, Urgency::Normal, t, &p);
        assert_eq!(a, at("2027-05-02T00:00:00Z"));
        assert_eq!(r, t);
        let far = chrono::DateTime::<chrono::Utc>::MAX_UTC.fixed_offset() - TimeDelta::hours(1);
        let (a, _) = deadlines(HandoffKind::Transfer, Urgency::Normal, far, &p);
        assert_eq!(a, far);
    }

    #[test]
    fn overdue_for_every_state() {
        let ack_by = at("2026-05-01T10:00:00+08:00");
        let resolve_by = at("2026-05-02T10:00:00+08:00");
        let before = at("2026-05-01T09:59:59+08:00");
        let on_ack = ack_by;
        let between = at("2026-05-01T10:00:01+08:00");
        let after_both = at("2026-05-02T10:00:01+08:00");
        for state in STATES {
            let acked = !matches!(state, Received);
            let answered = matches!(state, Resolved | Closed | Rejected);
            assert_eq!(overdue(state, ack_by, resolve_by, before), None);
            assert_eq!(
                overdue(state, ack_by, resolve_by, on_ack),
                None,
                "{state:?}"
            );
            let want = (!acked).then_some(Overdue::Ack);
            assert_eq!(
                overdue(state, ack_by, resolve_by, between),
                want,
                "{state:?}"
            );
            let want = if !acked {
                Some(Overdue::Ack)
            } else if !answered {
                Some(Overdue::Answer)
            } else {
                None
            };
            assert_eq!(
                overdue(state, ack_by, resolve_by, after_both),
                want,
                "{state:?}"
            );
            assert_eq!(deadline_met(Overdue::Ack, state), acked);
            assert_eq!(deadline_met(Overdue::Answer, state), answered);
        }
        // Times compare as instants, whatever their offsets.
        let utc_between = at("2026-05-01T02:00:01Z");
        assert_eq!(
            overdue(Received, ack_by, resolve_by, utc_between),
            Some(Overdue::Ack)
        );
    }
}
