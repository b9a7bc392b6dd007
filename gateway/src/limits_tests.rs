use std::time::Duration;

use governor::clock::FakeRelativeClock;

use super::*;
use crate::config::Rate;

fn limit(text: &str, burst: u32) -> Limit {
    Limit {
        rate: Rate::parse(text).unwrap(),
        burst,
    }
}

fn one(
    share: f64,
    ingress: Option<Limit>,
    delivery: Option<Limit>,
) -> (RateLimits<FakeRelativeClock>, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    let limits = RateLimits::build(share, [("p", ingress, delivery)], clock.clone()).unwrap();
    (limits, clock)
}

fn headers(d: &Decision) -> Vec<(String, String)> {
    let mut map = HeaderMap::new();
    d.apply(&mut map);
    let mut out: Vec<(String, String)> = map
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

#[test]
fn above_the_rate_a_request_is_refused_with_the_wait_rounded_up() {
    let (limits, clock) = one(0.0, Some(limit("2/s", 2)), None);
    let first = limits.ingress("p", false).unwrap();
    assert_eq!(first.admitted, Some(Lane::Normal));
    assert_eq!(
        headers(&first),
        [
            ("ratelimit".into(), "\"default\";r=1;t=1".into()),
            ("ratelimit-policy".into(), "\"default\";q=2;w=1".into()),
        ]
    );
    assert!(limits.ingress("p", false).unwrap().is_admitted());
    let refused = limits.ingress("p", false).unwrap();
    assert_eq!(refused.admitted, None);
    assert_eq!(refused.wait, Duration::from_millis(500));
    assert_eq!(refused.retry_after_secs(), 1);
    assert_eq!(
        headers(&refused),
        [
            ("ratelimit".into(), "\"default\";r=0;t=1".into()),
            ("ratelimit-policy".into(), "\"default\";q=2;w=1".into()),
            ("retry-after".into(), "1".into()),
        ]
    );
    clock.advance(Duration::from_millis(500));
    assert!(limits.ingress("p", false).unwrap().is_admitted());
    assert!(!limits.ingress("p", false).unwrap().is_admitted());
}

#[test]
fn retry_after_counts_whole_seconds_up_and_is_at_least_one() {
    let (limits, clock) = one(0.0, Some(limit("1/min", 1)), None);
    let first = limits.ingress("p", false).unwrap();
    assert_eq!(first.ratelimit_field(), "\"default\";r=0;t=60");
    let refused = limits.ingress("p", false).unwrap();
    assert_eq!(refused.wait, Duration::from_secs(60));
    assert_eq!(refused.retry_after_secs(), 60);
    clock.advance(Duration::from_millis(59_001));
    let refused = limits.ingress("p", false).unwrap();
    assert_eq!(refused.retry_after_secs(), 1);
    assert_eq!(refused.ratelimit_field(), "\"default\";r=0;t=1");
    clock.advance(Duration::from_millis(998));
    let refused = limits.ingress("p", false).unwrap();
    assert_eq!(refused.wait, Duration::from_millis(1));
    assert_eq!(refused.retry_after_secs(), 1);
    clock.advance(Duration::from_millis(1));
    assert!(limits.ingress("p", false).unwrap().is_admitted());
}

#[test]
fn remaining_and_reset_follow_the_lane() {
    let (limits, clock) = one(0.0, Some(limit("10/s", 10)), None);
    let d = limits.ingress("p", false).unwrap();
    assert_eq!(d.ratelimit_field(), "\"default\";r=9;t=1");
    for _ in 0..8 {
        limits.ingress("p", false).unwrap();
    }
    let d = limits.ingress("p", false).unwrap();
    assert_eq!(d.states[0].remaining, 0);
    assert_eq!(d.states[0].reset_secs, 1);
    clock.advance(Duration::from_millis(300));
    let d = limits.ingress("p", false).unwrap();
    assert_eq!(d.states[0].remaining, 2, "three came back, one taken");
}

#[test]
fn a_flood_of_normal_requests_never_spends_the_urgent_lane() {
    // 10/s, burst 10, 20 % reserved: urgent 2/s (burst 2), normal 8/s (burst 8).
    let (limits, clock) = one(0.2, Some(limit("10/s", 10)), None);
    let policy = "\"default\";q=8;w=1, \"urgent\";q=2;w=1";
    let mut admitted = 0;
    for _ in 0..40 {
        let d = limits.ingress("p", false).unwrap();
        assert_eq!(d.policy_field(), policy);
        if d.is_admitted() {
            assert_eq!(d.admitted, Some(Lane::Normal));
            admitted += 1;
        }
    }
    assert_eq!(admitted, 8);
    let refused = limits.ingress("p", false).unwrap();
    assert_eq!(refused.wait, Duration::from_millis(125));
    assert_eq!(refused.ratelimit_field(), "\"default\";r=0;t=1");

    // The urgent lane is whole: two urgent tickets go through it.
    for remaining in [1, 0] {
        let d = limits.ingress("p", true).unwrap();
        assert_eq!(d.admitted, Some(Lane::Urgent));
        assert_eq!(d.states.len(), 1);
        assert_eq!(d.states[0].remaining, remaining);
    }
    // Both lanes spent: refused until the first of them takes one again
    // (the normal lane, in 125 ms; the urgent lane needs 500 ms).
    let refused = limits.ingress("p", true).unwrap();
    assert_eq!(refused.admitted, None);
    assert_eq!(refused.wait, Duration::from_millis(125));
    assert_eq!(refused.ratelimit_field(), "\"default\";r=0;t=1");
    assert_eq!(refused.retry_after_secs(), 1);

    // An urgent ticket that finds the urgent lane spent takes from the
    // normal lane, and says the urgent lane is empty.
    clock.advance(Duration::from_millis(125));
    let d = limits.ingress("p", true).unwrap();
    assert_eq!(d.admitted, Some(Lane::Normal));
    assert_eq!(
        d.ratelimit_field(),
        "\"urgent\";r=0;t=1, \"default\";r=0;t=1"
    );
    // A status update (not urgent) does not touch the urgent lane either.
    clock.advance(Duration::from_millis(500));
    assert_eq!(
        limits.ingress("p", false).unwrap().admitted,
        Some(Lane::Normal)
    );
    assert_eq!(
        limits.ingress("p", true).unwrap().admitted,
        Some(Lane::Urgent)
    );
}

/// The most any window of `window` holds of `times` (sorted).
fn busiest(times: &[Duration], window: Duration) -> usize {
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t < times[i] + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn a_target_never_gets_more_than_its_rate_in_any_window() {
    for (burst, most) in [(1, 6), (3, 8)] {
        let (limits, clock) = one(0.2, None, Some(limit("6/min", burst)));
        let mut sent = Vec::new();
        let mut now = Duration::ZERO;
        let step = Duration::from_millis(100);
        // Ten minutes of a worker that always has something to send,
        // every third message urgent.
        for i in 0..6_000u32 {
            if limits.delivery("p", i % 3 == 0).unwrap().is_admitted() {
                sent.push(now);
            }
            clock.advance(step);
            now += step;
        }
        let busiest = busiest(&sent, Duration::from_secs(60));
        assert!(busiest <= most, "burst {burst}: {busiest} in a minute");
        if burst == 1 {
            assert_eq!(busiest, 6, "the whole rate is used");
        }
        // And the rate is used: about 6 a minute over ten minutes.
        assert!(
            (59..=62 + burst as usize).contains(&sent.len()),
            "{}",
            sent.len()
        );
    }
}

#[test]
fn partners_are_limited_apart_and_unlimited_ones_are_not_limited() {
    let clock = FakeRelativeClock::default();
    let same = Some(limit("1/min", 1));
    let limits = RateLimits::build(
        0.0,
        [("a", same, same), ("b", same, None), ("c", None, None)],
        clock,
    )
    .unwrap();
    assert!(limits.ingress("a", false).unwrap().is_admitted());
    assert!(!limits.ingress("a", false).unwrap().is_admitted());
    assert!(limits.ingress("b", false).unwrap().is_admitted());
    // The same limit in the other direction is another state.
    assert!(limits.delivery("a", false).unwrap().is_admitted());
    assert!(limits.ingress("c", true).is_none());
    assert!(limits.delivery("b", false).is_none());
    assert!(limits.ingress("unknown", false).is_none());
}

#[test]
fn lanes_with_the_same_limit_keep_their_own_state() {
    // 2/min with half reserved: both lanes are 1/min, burst 1.
    let (limits, _clock) = one(0.5, Some(limit("2/min", 1)), None);
    assert_eq!(
        limits.ingress("p", false).unwrap().admitted,
        Some(Lane::Normal)
    );
    assert_eq!(
        limits.ingress("p", true).unwrap().admitted,
        Some(Lane::Urgent)
    );
    assert!(!limits.ingress("p", true).unwrap().is_admitted());
}

#[test]
fn a_limit_too_small_for_the_urgent_share_is_refused() {
    let e = RateLimits::build(
        0.2,
        [("hb-131000", None, Some(limit("1/h", 1)))],
        FakeRelativeClock::default(),
    )
    .err()
    .unwrap();
    let text = e.to_string();
    assert!(
        text.starts_with("partner hb-131000: 1/h is too small"),
        "{text}"
    );
}
