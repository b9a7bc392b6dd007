//! Tests of the parent module.

use super::*;

#[test]
fn local_and_rfc3339_convert_exactly() {
    let t = parse_local("2025-03-12 07:42:18").unwrap();
    assert_eq!(format_rfc3339(&t), "2025-03-12T07:42:18+08:00");
    let u = parse_rfc3339("2025-03-11T23:42:18.987Z").unwrap();
    assert_eq!(format_local(&u), "2025-03-12 07:42:18");
    assert_eq!(format_compact(&u), "20250312074218");
    assert_eq!(format_rfc3339(&u), "2025-03-11T23:42:18.987+00:00");
    assert_eq!(
        parse_compact("20250317091522").unwrap(),
        parse_rfc3339("2025-03-17T09:15:22+08:00").unwrap()
    );
}

#[test]
fn malformed_times_are_refused_with_the_expected_shape() {
    assert!(
        parse_rfc3339("2025-03-20T14:22:47")
            .unwrap_err()
            .contains("no time-zone offset")
    );
    assert!(parse_local("2025-03-12T07:42:18").is_err());
    assert!(parse_local("2025-02-30 07:42:18").is_err());
    assert!(parse_compact("2025031709152").is_err());
}

#[test]
fn direct_formatting_agrees_with_chrono() {
    let seconds = [
        -62_167_219_200 - 86_400, // 0000-01-01 minus a day: year -1
        -62_167_219_200,
        -2_208_988_800,
        0,
        1_741_736_538,
        253_402_271_999,
        253_402_300_799, // 9999-12-31T23:59:59Z: 10000 in Beijing
        253_402_300_800,
    ];
    for secs in seconds {
        for offset in [-12 * 3600, 0, 8 * 3600, 14 * 3600 - 900] {
            let utc = DateTime::from_timestamp(secs, 999_999_999).unwrap();
            let t = utc.with_timezone(&FixedOffset::east_opt(offset).unwrap());
            let local = whole_seconds(&t).with_timezone(&beijing());
            assert_eq!(format_local(&t), local.format(LOCAL).to_string(), "{t}");
            assert_eq!(format_compact(&t), local.format(COMPACT).to_string(), "{t}");
        }
    }
}
