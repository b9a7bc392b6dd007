//! Strict JSON reading shared by the JSON formats.
//!
//! Wire structs derive `Deserialize` with `deny_unknown_fields`; serde's
//! derived code refuses a key that appears twice in an object, and
//! `serde_path_to_error` gives the path of whatever failed.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, swar};

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
    // Nesting is never deeper than the number of brackets that open it, and
    // a ticket has a handful: counting them (a vector loop) spares most
    // bodies the walk that steps over strings.
    // `[` is `{` without the 0x20 bit, and no other byte becomes `{` with it.
    let openers: usize = bytes
        .chunks(255)
        .map(|chunk| {
            let n = chunk
                .iter()
                .fold(0u8, |n, &b| n + u8::from(b | 0x20 == b'{'));
            usize::from(n)
        })
        .sum();
    if openers <= MAX_DEPTH {
        return Ok(());
    }
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            b'"' => i = string_end(bytes, i),
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

/// Where the string whose contents start at `from` ends (just past its
/// closing quote, or the end of the input); an escape skips the next byte.
fn string_end(bytes: &[u8], mut from: usize) -> usize {
    loop {
        let rest = bytes.get(from..).unwrap_or_default();
        let Some(at) = find_quote_or_backslash(rest) else {
            return bytes.len();
        };
        from += at + 1;
        if rest[at] == b'"' {
            return from;
        }
        from += 1;
    }
}

/// The index of the first quote or backslash.
fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    swar::find(bytes, [b'"', b'\\'])
}

/// Parses a JSON body into a wire struct.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    check_size(bytes)?;
    let text = check_utf8(bytes)?;
    check_depth(bytes)?;
    // The common case, valid input, goes without path tracking; only a
    // refusal is parsed again to name the field at fault. From the text
    // already validated, so that serde_json does not validate it again.
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    parse_tracking_path(bytes)
}

/// The body as text, or where it stops being UTF-8.
pub(crate) fn check_utf8(bytes: &[u8]) -> Result<&str, Error> {
    match simdutf8::compat::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => Err(Error::Encoding {
            encoding: "UTF-8",
            offset: e.valid_up_to(),
        }),
    }
}

/// Parses `bytes` (well-formed UTF-8, not too deep) again, tracking the
/// path, so that a refusal names the field at fault.
#[cold]
fn parse_tracking_path<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
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
    // A ticket is a few KB: start there rather than grow from 128 bytes.
    let mut out = Vec::with_capacity(4096);
    // ok: serialising plain structs of strings and numbers cannot fail;
    // non-finite floats are written as null by serde_json.
    match serde_json::to_writer_pretty(&mut out, value) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
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
    fn many_shallow_brackets_are_not_depth() {
        let siblings = format!("[{}[]]", "[],".repeat(600));
        assert!(check_depth(siblings.as_bytes()).is_ok());
        let deep = format!("{}{}{}", " ".repeat(300), "[".repeat(33), "]".repeat(33));
        assert!(check_depth(deep.as_bytes()).is_err());
    }

    #[test]
    fn brackets_in_strings_do_not_count() {
        let inner = r#"\"[[[[{{{{\\"#.repeat(10);
        let body = format!(r#"{{"a":"{inner}","inner":{{"b":1}}}}"#);
        assert!(parse::<Outer>(body.as_bytes()).is_ok());
        for n in [31, 32, 33] {
            let deep = format!(
                r#"["\"{}\\",{}{}]"#,
                "]".repeat(40),
                "[".repeat(n - 1),
                "]".repeat(n - 1)
            );
            let e = parse::<Outer>(deep.as_bytes()).unwrap_err();
            assert_eq!(
                e == Error::TooDeep { limit: MAX_DEPTH },
                n > MAX_DEPTH,
                "{n}"
            );
        }
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
