use std::time::Duration;

use super::*;

fn rate(quota: u32, window_secs: u32) -> Rate {
    Rate { quota, window_secs }
}

#[test]
fn rates_are_a_whole_count_per_window() {
    assert_eq!(Rate::parse("10/s").unwrap(), rate(10, 1));
    assert_eq!(Rate::parse("6/min").unwrap(), rate(6, 60));
    assert_eq!(Rate::parse("6/m").unwrap(), rate(6, 60));
    assert_eq!(Rate::parse("100/h").unwrap(), rate(100, 3_600));
    assert_eq!(Rate::parse("2000/d").unwrap(), rate(2000, 86_400));
    assert_eq!(Rate::parse("30/10s").unwrap(), rate(30, 10));
    assert_eq!(Rate::parse("100/5m").unwrap(), rate(100, 300));
    assert_eq!(Rate::parse("1/1h30m").unwrap(), rate(1, 5_400));
}

#[test]
fn bad_rates_are_refused_with_an_example() {
    for bad in [
        "",
        "10",
        "/s",
        "0/s",
        "-1/s",
        "1.5/s",
        "10/",
        "10/w",
        "10/ s",
        "10/500ms",
        "10/2d",
        "1000001/s",
        "10/s/s",
    ] {
        let e = Rate::parse(bad).unwrap_err();
        assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
    }
    assert!(
        Rate::parse("1/1500ms")
            .unwrap_err()
            .contains("whole seconds")
    );
    assert!(Rate::parse("10").unwrap_err().contains("\"6/min\""));
}

#[test]
fn display_writes_what_parse_reads() {
    for text in ["10/s", "6/min", "100/h", "30/10s", "5/86400s"] {
        assert_eq!(Rate::parse(text).unwrap().to_string(), text);
    }
}

#[test]
fn the_interval_is_rounded_up_so_a_quota_never_takes_less_than_its_window() {
    assert_eq!(rate(6, 60).interval(), Duration::from_secs(10));
    assert_eq!(rate(4, 1).interval(), Duration::from_millis(250));
    let seventh = rate(7, 60).interval();
    assert!(seventh * 7 >= Duration::from_secs(60));
    assert!(seventh * 7 - Duration::from_secs(60) < Duration::from_nanos(7));
}

#[test]
fn lanes_reserve_the_urgent_share_rounded_up() {
    let limit = Limit {
        rate: rate(10, 60),
        burst: 5,
    };
    let lanes = limit.lanes(0.2).unwrap();
    assert_eq!(
        lanes.urgent,
        Some(Limit {
            rate: rate(2, 60),
            burst: 1
        })
    );
    assert_eq!(
        lanes.normal,
        Limit {
            rate: rate(8, 60),
            burst: 4
        }
    );
    // 6/min with a burst of 1: 2 urgent + 4 normal per minute, one at a
    // time each: never more than 6 in any minute (quota + 1 + 1 − 2).
    let lanes = Limit {
        rate: rate(6, 60),
        burst: 1,
    }
    .lanes(0.2)
    .unwrap();
    assert_eq!(lanes.urgent.unwrap().rate, rate(2, 60));
    assert_eq!(lanes.normal.rate, rate(4, 60));
    assert_eq!((lanes.urgent.unwrap().burst, lanes.normal.burst), (1, 1));
}

#[test]
fn no_share_means_one_lane_and_a_quota_too_small_to_split_is_refused() {
    let limit = Limit {
        rate: rate(1, 60),
        burst: 1,
    };
    assert_eq!(
        limit.lanes(0.0).unwrap(),
        Lanes {
            normal: limit,
            urgent: None
        }
    );
    let e = limit.lanes(0.2).unwrap_err();
    assert!(e.contains("1/min") && e.contains("at least 2"), "{e}");
    let e = Limit {
        rate: rate(5, 1),
        burst: 1,
    }
    .lanes(0.9)
    .unwrap_err();
    assert!(e.contains("at least 10"), "{e}");
    assert!(
        Limit {
            rate: rate(10, 1),
            burst: 1
        }
        .lanes(0.9)
        .is_ok()
    );
}

#[test]
fn emergency_scales_count_and_burst_and_keeps_the_window() {
    let limit = Limit {
        rate: rate(2, 60),
        burst: 1,
    };
    assert_eq!(
        limit.scaled(3.0),
        Limit {
            rate: rate(6, 60),
            burst: 3
        }
    );
    assert_eq!(
        limit.scaled(1.5),
        Limit {
            rate: rate(3, 60),
            burst: 2
        }
    );
    assert_eq!(limit.scaled(1.0), limit);
    assert_eq!(limit.scaled(f64::NAN), limit);
    let big = Limit {
        rate: rate(900_000, 1),
        burst: 900_000,
    };
    assert_eq!(big.scaled(3.0).rate.quota, 1_000_000);
}
