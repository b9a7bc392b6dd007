//! Tests of the parent module.

use std::time::Duration;

use super::*;

#[test]
fn ids_increase_within_a_millisecond_and_when_the_clock_steps_back() {
    let mut ids = IdGen::after(None).unwrap();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let a = ids.next(t);
    let b = ids.next(t);
    let c = ids.next(t - Duration::from_secs(60));
    assert!(a < b && b < c);
    assert_eq!(a.timestamp_ms(), c.timestamp_ms());
    // Seeded from the store: the next id sorts after the stored one.
    let mut ids = IdGen::after(Some(&c.to_string())).unwrap();
    assert!(ids.next(t - Duration::from_secs(3600)) > c);
    assert!(matches!(
        IdGen::after(Some("not a ulid")),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn times_round_trip_to_the_millisecond_in_beijing_time() {
    let t = Timestamp::parse_from_rfc3339("2026-05-01T01:02:03.456789Z").unwrap();
    let back = time(ms(&t)).unwrap();
    assert_eq!(back.to_rfc3339(), "2026-05-01T09:02:03.456+08:00");
    assert!(matches!(time(i64::MAX), Err(StoreError::Corrupt(_))));
}
