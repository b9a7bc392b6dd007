//! Strict JSON reading shared by the JSON formats.
//!
//! Wire structs derive `Deserialize` with `deny_unknown_fields`; serde's
//! derived code refuses a key that appears twice in an object, and
//! `serde_path_to_error` gives the path of whatever failed.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// Largest body any format accepts.
pub const MAX_BODY: usize = 1 << 20;
/// Deepest nesting any format accepts.
pub const MAX_DEPTH: usize = 32;

/// Refuses bodies over [`MAX_BODY`].
pub fn check_size(bytes: &[u8]) -> Result<(), Error> {
    if bytes.len() > MAX_BODY {
        return Err(Error::TooLarge {
            size: bytes.len(),
            limit: MAX_BODY,
        });
    }
    Ok(())
}

/// Refuses JSON nested deeper than [`MAX_DEPTH`], before serde recurses.
fn check_depth(bytes: &[u8]) -> Result<(), Error> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Error::TooDeep { limit: MAX_DEPTH });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses a JSON body into a wire struct.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    check_size(bytes)?;
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Error::Encoding {
            encoding: "UTF-8",
            offset: e.valid_up_to(),
        });
    }
    check_depth(bytes)?;
    // The common case, valid input, goes without path tracking; only a
    // refusal is parsed again to name the field at fault.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            "body".to_owned()
        } else {
            path
        };
        let inner = e.into_inner();
        let detail = inner.to_string();
        if let Some(name) = detail
            .strip_prefix("duplicate field `")
            .and_then(|r| r.split('`').next())
        {
            let field = if field == "body" {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            };
            return Error::Duplicate { field };
        }
        if inner.is_data() {
            Error::invalid(field, detail)
        } else {
            Error::Syntax {
                syntax: "JSON",
                field,
                detail,
            }
        }
    })?;
    de.end().map_err(|e| Error::Syntax {
        syntax: "JSON",
        field: "body".into(),
        detail: e.to_string(),
    })?;
    Ok(value)
}

/// Writes a wire struct as pretty JSON (the samples' layout).
pub fn write<T: Serialize>(value: &T) -> Vec<u8> {
    // ok: serialising plain structs of strings and numbers cannot fail;
    // non-finite floats are written as null by serde_json.
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        a: Option<String>,
        inner: Option<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        b: Option<u32>,
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let e = parse::<Outer>(br#"{"a":"x","a":"y"}"#).unwrap_err();
        assert_eq!(e, Error::Duplicate { field: "a".into() });
        let e = parse::<Outer>(br#"{"inner":{"b":1,"b":2}}"#).unwrap_err();
        assert_eq!(
            e,
            Error::Duplicate {
                field: "inner.b".into()
            }
        );
    }

    #[test]
    fn depth_size_and_encoding_are_bounded() {
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(
            parse::<Outer>(deep.as_bytes()).unwrap_err(),
            Error::TooDeep { limit: MAX_DEPTH }
        );
        let big = vec![b' '; MAX_BODY + 1];
        assert!(matches!(parse::<Outer>(&big), Err(Error::TooLarge { .. })));
        assert!(matches!(
            parse::<Outer>(b"{\"a\":\"\xff\"}"),
            Err(Error::Encoding { offset: 6, .. })
        ));
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = parse::<Outer>(br#"{"inner":{"b":"x"}}"#).unwrap_err();
        let fe = e.field_errors();
        assert_eq!(fe[0].field, "inner.b");
        let e = parse::<Outer>(br#"{"c":1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `c`"), "{e}");
    }
}
