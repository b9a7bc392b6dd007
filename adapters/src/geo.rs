//! Coordinate transforms between WGS-84, GCJ-02 and BD-09.
//!
//! The forward transforms are the standard published ones; the inverses are
//! computed by fixed-point iteration until the forward image of the estimate
//! is within 1e-10 degrees of the input, so any chain of conversions returns
//! to its start far within 0.5 m.

use std::f64::consts::PI;
use std::fmt::Write;

use schemas::{Datum, Point};

const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;
const X_PI: f64 = PI * 3000.0 / 180.0;
const TOLERANCE: f64 = 1e-10;
const MAX_ITERATIONS: usize = 30;

/// GCJ-02 is only defined inside mainland China; outside it is WGS-84.
fn outside_china(p: Point) -> bool {
    !(72.004..=137.8347).contains(&p.lon) || !(0.8293..=55.8271).contains(&p.lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// WGS-84 → GCJ-02.
pub fn wgs84_to_gcj02(p: Point) -> Point {
    if outside_china(p) {
        return p;
    }
    let dlat = transform_lat(p.lon - 105.0, p.lat - 35.0);
    let dlon = transform_lon(p.lon - 105.0, p.lat - 35.0);
    let rad_lat = p.lat / 180.0 * PI;
    let magic = 1.0 - EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (A / sqrt_magic * rad_lat.cos() * PI);
    Point {
        lon: p.lon + dlon,
        lat: p.lat + dlat,
    }
}

/// GCJ-02 → BD-09.
pub fn gcj02_to_bd09(p: Point) -> Point {
    let (x, y) = (p.lon, p.lat);
    let z = (x * x + y * y).sqrt() + 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) + 0.000003 * (x * X_PI).cos();
    Point {
        lon: z * theta.cos() + 0.0065,
        lat: z * theta.sin() + 0.006,
    }
}

/// Inverts `forward` at `target` by fixed-point iteration.
fn invert(target: Point, forward: impl Fn(Point) -> Point) -> Point {
    let mut guess = target;
    for _ in 0..MAX_ITERATIONS {
        let image = forward(guess);
        let (dlon, dlat) = (image.lon - target.lon, image.lat - target.lat);
        if dlon.abs() < TOLERANCE && dlat.abs() < TOLERANCE {
            break;
        }
        guess = Point {
            lon: guess.lon - dlon,
            lat: guess.lat - dlat,
        };
    }
    guess
}

/// GCJ-02 → WGS-84 (iterative inverse).
pub fn gcj02_to_wgs84(p: Point) -> Point {
    invert(p, wgs84_to_gcj02)
}

/// BD-09 → GCJ-02 (iterative inverse).
pub fn bd09_to_gcj02(p: Point) -> Point {
    invert(p, gcj02_to_bd09)
}

/// Converts a point from `datum` to WGS-84.
pub fn to_wgs84(datum: Datum, p: Point) -> Point {
    match datum {
        Datum::Wgs84 => p,
        Datum::Gcj02 => gcj02_to_wgs84(p),
        Datum::Bd09 => gcj02_to_wgs84(bd09_to_gcj02(p)),
    }
}

/// Converts a WGS-84 point to `datum`.
pub fn from_wgs84(datum: Datum, p: Point) -> Point {
    match datum {
        Datum::Wgs84 => p,
        Datum::Gcj02 => wgs84_to_gcj02(p),
        Datum::Bd09 => gcj02_to_bd09(wgs84_to_gcj02(p)),
    }
}

/// Great-circle distance in metres (haversine), for checking round trips.
pub fn distance_m(a: Point, b: Point) -> f64 {
    const R: f64 = 6_371_008.8;
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().asin()
}

/// Checks a longitude/latitude pair for range.
pub fn check_range(p: Point) -> Result<(), String> {
    if !p.lon.is_finite() || !(-180.0..=180.0).contains(&p.lon) {
        return Err(format!("longitude {} is not within -180..180", p.lon));
    }
    if !p.lat.is_finite() || !(-90.0..=90.0).contains(&p.lat) {
        return Err(format!("latitude {} is not within -90..90", p.lat));
    }
    Ok(())
}

/// Formats a coordinate with at least 6 decimal places, exactly when the
/// value has more.
pub fn format_coord(v: f64) -> String {
    // Room for a coordinate with its padding, so that it is written once.
    let mut shortest = String::with_capacity(24);
    // zmij (already serde_json's) gives the shortest digits as Display does
    // at a fraction of the cost, but in exponent form below 1e-5; the
    // digits and the decimal point are all that is read from it.
    let mut digits = zmij::Buffer::new();
    match v.is_finite().then(|| digits.format_finite(v)) {
        Some(d) if !d.contains('e') => shortest.push_str(d),
        // ok: writing to a String cannot fail.
        _ => drop(write!(shortest, "{v}")),
    }
    let decimals = shortest.split_once('.').map_or(0, |(_, d)| d.len());
    if decimals >= 6 {
        return shortest;
    }
    // Below 1e9 a unit in the last place is under 1.2e-7, so `v` lies
    // within 6e-8 of its shortest form: rounded to six places it is that
    // form, padded with zeros (which saves formatting it again).
    if v.is_finite() && v.abs() < 1e9 {
        if decimals == 0 {
            shortest.push('.');
        }
        shortest.extend(std::iter::repeat_n('0', 6 - decimals));
        return shortest;
    }
    format!("{v:.6}")
}

/// Rounds to 6 decimal places, for JSON formats that write numbers.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn p(lon: f64, lat: f64) -> Point {
        Point { lon, lat }
    }

    #[test]
    fn sample_points_match_the_spec_examples() {
        // tj-xml/appeal.xml (WGS-84) and bj-json/order-delivered.json (GCJ-02).
        let gcj = wgs84_to_gcj02(p(116.474412, 39.995271));
        assert_eq!(
            (format_coord(round6(gcj.lon)), format_coord(round6(gcj.lat))),
            ("116.480525".into(), "39.996570".into())
        );
        let back = gcj02_to_wgs84(p(116.480525, 39.99657));
        assert!(distance_m(back, p(116.474412, 39.995271)) < 0.2);
    }

    #[test]
    fn chains_return_within_half_a_metre() {
        let start = p(116.350903, 39.934349);
        let mut q = start;
        for _ in 0..20 {
            q = to_wgs84(Datum::Bd09, from_wgs84(Datum::Bd09, q));
            q = to_wgs84(Datum::Gcj02, from_wgs84(Datum::Gcj02, q));
        }
        assert!(distance_m(q, start) < 0.01, "{}", distance_m(q, start));
    }

    #[test]
    fn padding_the_shortest_form_is_rounding_to_six_places_and_longer_forms_are_displays() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.5,
            116.35,
            39.9,
            1e-7,
            5e-7,
            999_999_999.5,
            1e9,
            1e21,
            1.234_567_890_123e-6,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
        ];
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let unit = (seed >> 11) as f64 / (1u64 << 53) as f64;
            values.push((unit - 0.5) * 400.0);
            values.push(geo_round(unit * 180.0, seed % 7));
        }
        for v in values {
            let s = format_coord(v);
            let shortest = v.to_string();
            if shortest.split_once('.').map_or(0, |(_, d)| d.len()) < 6 {
                assert_eq!(s, format!("{v:.6}"), "{v:e}");
            } else {
                assert_eq!(s, shortest, "{v:e}");
            }
        }
    }

    /// `v` rounded to `places` decimals, as a coordinate often is.
    fn geo_round(v: f64, places: u64) -> f64 {
        let f = 10f64.powi(places as i32);
        (v * f).round() / f
    }

    #[test]
    fn coordinates_are_written_with_six_decimals_at_least() {
        assert_eq!(format_coord(116.35), "116.350000");
        assert_eq!(format_coord(116.1234567), "116.1234567");
        assert_eq!(format_coord(-0.5), "-0.500000");
    }
}
