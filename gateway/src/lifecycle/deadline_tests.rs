//! Tests of the parent module.

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
