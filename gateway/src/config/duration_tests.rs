//! Tests of the parent module.

use super::*;

#[test]
fn reads_every_unit_and_sums() {
    assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
    assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
    assert_eq!(parse("2h").unwrap(), Duration::from_secs(7_200));
    assert_eq!(parse("3d").unwrap(), Duration::from_secs(259_200));
    assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5_400));
    assert_eq!(parse("1m1s1ms").unwrap(), Duration::from_millis(61_001));
}

#[test]
fn refuses_zero_missing_units_and_junk() {
    for bad in [
        "",
        "0s",
        "0h0m",
        "10",
        "s",
        "10 s",
        " 10s",
        "10S",
        "1.5h",
        "-1s",
        "10sec",
        "1w",
        "h1",
        "99999999999999999999s",
    ] {
        let err = parse(bad).unwrap_err();
        assert!(err.contains("invalid duration"), "{bad}: {err}");
    }
    assert!(parse("0s").unwrap_err().contains("greater than zero"));
}

#[test]
fn refuses_overflow() {
    assert!(parse(&format!("{}d", u64::MAX / 1000)).is_err());
}
