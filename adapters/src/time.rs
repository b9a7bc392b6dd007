//! Times on the wire: Beijing local time without an offset (bj-json,
//! hb-soap) and RFC 3339 with an offset (the others).
//!
//! Beijing is UTC+8 with no daylight saving; the host's time zone is never
//! consulted. Fractions of a second are truncated where the target writes
//! whole seconds.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, SecondsFormat, Timelike};
use schemas::Timestamp;

/// UTC+8, checked at compile time.
const BEIJING: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// UTC+8.
pub fn beijing() -> FixedOffset {
    BEIJING
}

const LOCAL: &str = "%Y-%m-%d %H:%M:%S";
const COMPACT: &str = "%Y%m%d%H%M%S";

fn parse_local_with(s: &str, format: &str, shape: &str) -> Result<Timestamp, String> {
    if s.len() != shape.len() {
        return Err(format!(
            "'{s}' is not a Beijing local time of the form {shape}"
        ));
    }
    NaiveDateTime::parse_from_str(s, format)
        .ok()
        .and_then(|n| n.and_local_timezone(beijing()).single())
        .ok_or_else(|| format!("'{s}' is not a Beijing local time of the form {shape}"))
}

/// Parses `YYYY-MM-DD HH:MM:SS`, Beijing time.
pub fn parse_local(s: &str) -> Result<Timestamp, String> {
    parse_local_with(s, LOCAL, "YYYY-MM-DD HH:MM:SS")
}

/// Parses `yyyyMMddHHmmss`, Beijing time.
pub fn parse_compact(s: &str) -> Result<Timestamp, String> {
    parse_local_with(s, COMPACT, "yyyyMMddHHmmss")
}

/// Writes `YYYY-MM-DD HH:MM:SS` in Beijing time, truncating fractions.
pub fn format_local(t: &Timestamp) -> String {
    format_beijing(t, LOCAL, ["-", "-", " ", ":", ":"])
}

/// Writes `yyyyMMddHHmmss` in Beijing time, truncating fractions.
pub fn format_compact(t: &Timestamp) -> String {
    format_beijing(t, COMPACT, [""; 5])
}

/// Writes the Beijing time's fields with the separators between them, as
/// `format` does; digits are written directly (chrono interprets the
/// format string on every call), except for years without exactly four
/// digits, which `format` writes with a sign.
fn format_beijing(t: &Timestamp, format: &str, separators: [&str; 5]) -> String {
    let local = whole_seconds(t).with_timezone(&beijing());
    let Ok(year) = u32::try_from(local.year()) else {
        return local.format(format).to_string();
    };
    if year > 9999 {
        return local.format(format).to_string();
    }
    let fields = [
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
    ];
    let mut out = String::with_capacity(19);
    for d in [year / 1000, year / 100 % 10, year / 10 % 10, year % 10] {
        out.push(char::from(b'0' + d as u8));
    }
    for (value, separator) in fields.into_iter().zip(separators) {
        out.push_str(separator);
        out.push(char::from(b'0' + (value / 10) as u8));
        out.push(char::from(b'0' + (value % 10) as u8));
    }
    out
}

fn whole_seconds(t: &Timestamp) -> Timestamp {
    t.with_nanosecond(0).unwrap_or(*t)
}

/// Parses RFC 3339; the offset is required (`Z` or `±HH:MM`).
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
    DateTime::parse_from_rfc3339(s).map_err(|_| {
        if NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
            || NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").is_ok()
        {
            format!(
                "'{s}' has no time-zone offset; write RFC 3339 such as 2025-03-20T14:22:47+08:00"
            )
        } else {
            format!("'{s}' is not an RFC 3339 time such as 2025-03-20T14:22:47+08:00")
        }
    })
}

/// Writes RFC 3339 in the time's own offset, keeping any fraction.
pub fn format_rfc3339(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// The same instant in Beijing time, whole seconds: what a round trip
/// through a local-time format gives back.
pub fn as_beijing_seconds(t: &Timestamp) -> Timestamp {
    whole_seconds(t).with_timezone(&beijing())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "time_tests.rs"]
mod tests;
