//! The bytes of an audit leaf: one event, as canonical JSON (object keys
//! sorted by their UTF-8 bytes, no insignificant whitespace, integers as
//! integers, strings escaped as JSON requires). Anyone can rebuild them from
//! an export and hash them with `merkle::leaf_hash`.

use serde_json::Value;

/// The leaf bytes of an event.
pub fn leaf_bytes(
    seq: u64,
    kind: &str,
    at_unix_ms: i64,
    handoff_id: Option<&str>,
    detail: &Value,
) -> Vec<u8> {
    let mut event = serde_json::Map::new();
    event.insert("at".into(), Value::from(at_unix_ms));
    event.insert("detail".into(), detail.clone());
    event.insert(
        "handoff_id".into(),
        handoff_id.map_or(Value::Null, Value::from),
    );
    event.insert("kind".into(), Value::from(kind));
    event.insert("seq".into(), Value::from(seq));
    let mut out = Vec::with_capacity(256);
    canonical(&Value::Object(event), &mut out);
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
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(Value::from(s).to_string().as_bytes());
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
