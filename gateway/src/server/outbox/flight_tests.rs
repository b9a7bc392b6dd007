//! A partner's `Retry-After`.

use std::time::Duration;

use super::{MAX_RETRY_AFTER, retry_after};

fn headers(value: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(http::header::RETRY_AFTER, value.parse().unwrap());
    h
}

#[test]
fn seconds_are_taken_up_to_an_hour() {
    assert_eq!(retry_after(&headers("120")), Some(Duration::from_secs(120)));
    assert_eq!(retry_after(&headers(" 5 ")), Some(Duration::from_secs(5)));
    // A huge number would overflow the worker's timer: capped.
    assert_eq!(
        retry_after(&headers("18446744073709551615")),
        Some(MAX_RETRY_AFTER)
    );
    assert_eq!(retry_after(&headers("86400")), Some(MAX_RETRY_AFTER));
}

#[test]
fn anything_else_is_ignored() {
    assert_eq!(retry_after(&http::HeaderMap::new()), None);
    assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    assert_eq!(retry_after(&headers("-1")), None);
}
