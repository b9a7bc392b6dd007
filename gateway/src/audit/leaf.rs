//! The bytes of an audit leaf: one event, as canonical JSON (object keys
//! sorted by their UTF-8 bytes, no insignificant whitespace, integers as
//! integers, strings escaped as JSON requires). Anyone can rebuild them from
//! an export and hash them with `merkle::leaf_hash`.

use std::io::Write as _;

use serde_json::Value;

/// The leaf bytes of an event.
pub fn leaf_bytes(
    seq: u64,
    kind: &str,
    at_unix_ms: i64,
    handoff_id: Option<&str>,
    detail: &Value,
) -> Vec<u8> {
    let mut canonical_detail = Vec::with_capacity(256);
    canonical(detail, &mut canonical_detail);
    assemble(seq, kind, at_unix_ms, handoff_id, &canonical_detail)
}

/// The leaf bytes of an event whose detail is already canonical JSON (the
/// store writes the same bytes as the event's `detail_json`, so it
/// serialises the detail once).
pub fn assemble(
    seq: u64,
    kind: &str,
    at_unix_ms: i64,
    handoff_id: Option<&str>,
    canonical_detail: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical_detail.len() + 128);
    // The event's keys, in byte order. Writing into a Vec cannot fail.
    let _ = write!(out, "{{\"at\":{at_unix_ms},\"detail\":");
    out.extend_from_slice(canonical_detail);
    out.extend_from_slice(b",\"handoff_id\":");
    match handoff_id {
        Some(id) => write_string(id, &mut out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"kind\":");
    write_string(kind, &mut out);
    let _ = write!(out, ",\"seq\":{seq}}}");
    out
}

/// Writes `value` as canonical JSON.
pub fn canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                if let Some(v) = map.get(*key) {
                    canonical(v, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        // Writing into a Vec cannot fail.
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// A JSON string, escaped as serde_json escapes it.
fn write_string(s: &str, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_and_nothing_is_spaced() {
        let detail = serde_json::json!({"z": 1, "a": {"y": "é\n", "b": [true, null]}});
        let bytes = leaf_bytes(7, "received", 1_741_736_538_000, Some("01JP"), &detail);
        assert_eq!(
            String::from_utf8(bytes).ok(),
            Some(r#"{"at":1741736538000,"detail":{"a":{"b":[true,null],"y":"é\n"},"z":1},"handoff_id":"01JP","kind":"received","seq":7}"#.to_owned())
        );
    }
}
