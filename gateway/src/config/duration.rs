//! Humane durations in the configuration: `"500ms"`, `"10s"`, `"5m"`,
//! `"2h"`, `"3d"`, or a sum of such parts written together (`"1h30m"`).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses a humane duration: one or more `<whole number><unit>` parts with
/// units `ms`, `s`, `m`, `h` and `d`, without spaces. The total must be
/// greater than zero: every duration in the configuration is a timeout, a
/// deadline or an interval, and none of them may be zero.
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "invalid duration {text:?}: expected a whole number followed by ms, s, m, h or d \
             (e.g. \"10s\", \"5m\", \"2h\", \"1h30m\")"
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let units = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || units == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        let millis_per_unit: u64 = match &rest[digits..digits + units] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(invalid()),
        };
        let part = number
            .checked_mul(millis_per_unit)
            .map(Duration::from_millis)
            .ok_or_else(invalid)?;
        total = total.checked_add(part).ok_or_else(invalid)?;
        rest = &rest[digits + units..];
    }
    if total.is_zero() {
        return Err(format!(
            "invalid duration {text:?}: must be greater than zero"
        ));
    }
    Ok(total)
}

/// Serde `deserialize_with` for a humane duration string.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "duration_tests.rs"]
mod tests;
