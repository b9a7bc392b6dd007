//! Tests of the parent module.

use super::*;
use crate::json::MAX_DEPTH;

#[test]
fn billion_laughs_is_refused_without_expansion() {
    let body = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"#;
    assert!(matches!(
        read(body, Charset::Utf8),
        Err(Error::Forbidden { .. })
    ));
    let undeclared = br#"<a>&lol;</a>"#;
    assert!(matches!(
        read(undeclared, Charset::Utf8),
        Err(Error::Forbidden { .. })
    ));
    let in_attr = br#"<a b="&lol;"/>"#;
    assert!(
        matches!(read(in_attr, Charset::Utf8), Err(Error::Forbidden { .. })),
        "{:?}",
        read(in_attr, Charset::Utf8)
    );
}

#[test]
fn depth_is_bounded() {
    let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
    assert_eq!(
        read(deep.as_bytes(), Charset::Utf8),
        Err(Error::TooDeep { limit: MAX_DEPTH })
    );
}

/// An element with more attributes than the limit is refused, read by the
/// fast path or by quick-xml (a comment sends it there), and at once: a
/// 1 MiB tag of 80,000 attributes took seconds before the limit.
#[test]
fn attributes_per_element_are_bounded() {
    let tag = |n: usize, extra: &str| {
        let attrs: String = (0..n).map(|i| format!(" a{i}=\"v\"")).collect();
        format!("<?xml version=\"1.0\"?>{extra}<r xmlns=\"urn:x\"{attrs}><c/></r>")
    };
    for extra in ["", "<!-- through quick-xml -->"] {
        let at_limit = read(
            tag(tree::MAX_ATTRIBUTES - 1, extra).as_bytes(),
            Charset::Utf8,
        );
        assert!(at_limit.is_ok(), "{at_limit:?}");
        let over = read(tag(tree::MAX_ATTRIBUTES, extra).as_bytes(), Charset::Utf8);
        assert_eq!(
            over,
            Err(Error::TooManyAttributes {
                element: "r".into(),
                limit: tree::MAX_ATTRIBUTES
            })
        );
        let huge = read(tag(80_000, extra).as_bytes(), Charset::Utf8);
        assert!(
            matches!(huge, Err(Error::TooManyAttributes { .. })),
            "{huge:?}"
        );
    }
    let field = Error::TooManyAttributes {
        element: "r".into(),
        limit: 128,
    }
    .field_errors();
    assert_eq!(field[0].field, "r");
}

#[test]
fn text_survives_a_write_and_read_exactly() {
    let text = "a\r\nb\rc\n\t𠀀㛃 & <x> \"q\" 😀";
    let mut w = Writer::new(Charset::Gb18030);
    w.open("r", &[("xmlns", "urn:x")]);
    w.text("t", &[("v", text)], text);
    let bytes = w.finish_bytes(Charset::Gb18030);
    let root = read(&bytes, Charset::Gb18030).unwrap();
    assert_eq!(root.ns.as_deref(), Some("urn:x"));
    let t = root.child("t").unwrap();
    assert_eq!(t.text, text);
    assert_eq!(t.attr("v"), Some(text));
}

#[test]
fn bytes_must_match_the_declared_encoding() {
    let utf8_declared_gb = "<?xml version=\"1.0\" encoding=\"GB18030\"?><a>刘</a>".as_bytes();
    assert!(matches!(
        read(utf8_declared_gb, Charset::Gb18030),
        Err(Error::Encoding {
            encoding: "GB18030",
            ..
        })
    ));
    let gb_declared_utf8 = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\xc1\xf5</a>";
    assert!(matches!(
        read(gb_declared_utf8, Charset::Gb18030),
        Err(Error::WrongEncoding { .. })
    ));
    assert!(matches!(
        read(gb_declared_utf8, Charset::Utf8),
        Err(Error::Encoding {
            encoding: "UTF-8",
            offset: 41
        })
    ));
}

#[test]
fn a_bad_utf8_body_is_refused_at_the_offset_std_gives() {
    // Chinese text (the validator's slow case in std) with one byte
    // corrupted at each position in turn, XML and JSON alike.
    let text = "来电人反映：供水管道爆裂，水从地面往外冒，已漫到机动车道。".repeat(4);
    let xml = format!("<a>{text}</a>");
    let json = format!("{{\"a\":\"{text}\"}}");
    for body in [xml.as_bytes(), json.as_bytes()] {
        for at in 0..body.len() {
            for bad in [0xff, 0x80, 0xc0] {
                let mut corrupt = body.to_vec();
                corrupt[at] = bad;
                let want = std::str::from_utf8(&corrupt).map_err(|e| e.valid_up_to());
                let Err(want) = want else { continue };
                let got = if body[0] == b'<' {
                    read(&corrupt, Charset::Utf8).map(drop)
                } else {
                    crate::json::parse::<serde_json::Value>(&corrupt).map(drop)
                };
                match got {
                    Err(Error::Encoding {
                        encoding: "UTF-8",
                        offset,
                    }) => assert_eq!(offset, want, "byte {at} set to {bad:#x}"),
                    other => panic!("byte {at} set to {bad:#x}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn escaping_finds_every_special_byte_wherever_it_falls() {
    let naive = |s: &str, attr: bool| {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '\r' => out.push_str("&#13;"),
                '"' if attr => out.push_str("&quot;"),
                '\t' if attr => out.push_str("&#9;"),
                '\n' if attr => out.push_str("&#10;"),
                c => out.push(c),
            }
        }
        out
    };
    for special in ['&', '<', '>', '\r', '"', '\t', '\n'] {
        for len in 0..70usize {
            for at in [0, len / 3, len / 2, len.saturating_sub(1), len] {
                let mut s: String = "中a，".chars().cycle().take(len).collect();
                let at = s.char_indices().nth(at).map_or(s.len(), |(i, _)| i);
                s.insert(at, special);
                let (mut text, mut attr) = (String::new(), String::new());
                escape_text(&mut text, &s);
                escape_attr(&mut attr, &s);
                assert_eq!(text, naive(&s, false), "{s:?}");
                assert_eq!(attr, naive(&s, true), "{s:?}");
            }
        }
    }
}
