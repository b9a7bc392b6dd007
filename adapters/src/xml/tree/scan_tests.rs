//! The fast path against quick-xml's events: on every document it accepts
//! it must build the very tree the events build, and it must accept the
//! samples (or it would be no faster).

use super::super::parse_events;
use super::*;

fn sample(path: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance-tests/samples/");
    let bytes = std::fs::read(format!("{dir}{path}")).unwrap();
    let text = crate::xml::decode_body(
        &bytes,
        if path.starts_with("hb-soap") {
            crate::xml::Charset::Gb18030
        } else {
            crate::xml::Charset::Utf8
        },
    )
    .unwrap();
    text.into_owned()
}

/// Checks one document: what the fast path accepts, the events read to
/// the same tree.
fn agrees(body: &str) -> bool {
    let Some(fast) = parse(body) else {
        return false;
    };
    let slow = parse_events(body);
    let slow = slow.unwrap_or_else(|e| panic!("fast path accepted {body:?}; events: {e}"));
    assert_eq!(
        fast.root().to_element(),
        slow.root().to_element(),
        "{body:?}"
    );
    true
}

const SAMPLES: [&str; 11] = [
    "hb-soap/fault.xml",
    "hb-soap/push-feedback.xml",
    "hb-soap/push-work-order.xml",
    "hb-soap/response.xml",
    "open311/error.xml",
    "open311/request.xml",
    "tj-xml/ack.xml",
    "tj-xml/appeal.xml",
    "tj-xml/fault.xml",
    "tj-xml/status.xml",
    "open311/request.xml",
];

#[test]
fn the_samples_take_the_fast_path_to_the_same_tree() {
    for path in SAMPLES {
        assert!(agrees(&sample(path)), "{path} left the fast path");
    }
}

#[test]
fn references_line_ends_and_namespaces_read_as_the_events_read_them() {
    for body in [
        "<a>x&amp;y&lt;&gt;&quot;&apos;&#13;&#x1F600;&#0013;z</a>",
        "<a>l1\r\nl2\rl3\n\r</a>",
        "<?xml version=\"1.0\"?>\r\n<p:a xmlns:p=\"urn:p\" xmlns=\"urn:d\"><b q:c='1' d=\"x>y\"/><p:e/>\n</p:a>\n",
        "<a xmlns=\"urn:a\"><b xmlns=\"\"><c/></b><d/></a>",
        "<a ><b\n/><c x=\"1\"\ty='2' /></a >",
    ] {
        assert!(agrees(body), "{body:?} left the fast path");
    }
}

#[test]
fn anything_unusual_is_left_to_the_events() {
    for body in [
        "\u{FEFF}<a/>",
        "<a><!-- c --></a>",
        "<a><![CDATA[x]]></a>",
        "<?pi x?><a/>",
        "<a>&foo;</a>",
        "<a>&#0;</a>",
        "<a>&#xD800;</a>",
        "<a b=\"&amp;\"/>",
        "<a b=\"1\" b=\"2\"/>",
        "<a xmlns:b=\"urn:b\" b=\"2\"/>",
        "<q:a/>",
        "<a b = \"1\"/>",
        "<a b=\"1\"c=\"2\"/>",
        "<a></b>",
        "<a/><b/>",
        "<a/>x",
        "<a>",
        "",
        "<é/>",
        "<a:b:c/>",
    ] {
        assert!(parse(body).is_none(), "{body:?} took the fast path");
    }
}

/// A small generator of XML-like text (xorshift, deterministic).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn element(rng: &mut Rng, out: &mut String, depth: usize) {
    const NAMES: [&str; 8] = ["a", "p:a", "q:b", "xml:c", "B-1.x", "_", "xmlns:d", "p:b"];
    const ATTRS: [&str; 14] = [
        " xmlns=\"urn:d\"",
        " xmlns=\"\"",
        " xmlns:p=\"urn:p\"",
        " xmlns:p=\"\"",
        " xmlns:q='urn:q'",
        " xmlns:xml=\"http://www.w3.org/XML/1998/namespace\"",
        " xmlns:r=\"http://www.w3.org/2000/xmlns/\"",
        " a=\"1\"",
        " p:a=\"2\"",
        " b='x\"y'",
        " c=\"a>b\"",
        " d=\"\"",
        "\n e=\"中\"",
        " a=\"dup\"",
    ];
    const TEXTS: [&str; 12] = [
        "t",
        " ",
        "\n  ",
        "a&amp;b",
        "&#13;",
        "\r\n",
        "x\ry",
        "&lt;&gt;",
        "中文",
        "&#x20000;",
        "&#65;&#x41;",
        "&apos;&quot;",
    ];
    let name = NAMES[rng.below(NAMES.len())];
    out.push('<');
    out.push_str(name);
    for _ in 0..rng.below(3) {
        out.push_str(ATTRS[rng.below(ATTRS.len())]);
    }
    if rng.below(3) == 0 {
        out.push(' ');
    }
    if depth > 3 || rng.below(4) == 0 {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for _ in 0..rng.below(4) {
        if rng.below(2) == 0 {
            out.push_str(TEXTS[rng.below(TEXTS.len())]);
        } else {
            element(rng, out, depth + 1);
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push_str(["", " ", "\n"][rng.below(3)]);
    out.push('>');
}

#[test]
fn generated_and_mutated_documents_read_as_the_events_read_them() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut fast = 0;
    for _ in 0..20_000 {
        let mut body = String::new();
        if rng.below(3) == 0 {
            body.push_str("<?xml version=\"1.0\"?>\n");
        }
        element(&mut rng, &mut body, 0);
        fast += usize::from(agrees(&body));
    }
    assert!(
        fast > 5_000,
        "only {fast} generated documents took the fast path"
    );
    let samples: Vec<String> = SAMPLES.iter().map(|p| sample(p)).collect();
    for _ in 0..20_000 {
        let mut body = samples[rng.below(samples.len())].clone().into_bytes();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(body.len() + 1);
            match rng.below(4) {
                0 if at < body.len() => {
                    body.remove(at);
                }
                1 if at < body.len() => {
                    body[at] = b"<>/&;=\"' \r\nax:#"[rng.below(15)];
                }
                _ => {
                    let bit =
                        ["<", "</", ">", "&", "&amp;", ":", "=\"", "\"", " x=\"1\""][rng.below(9)];
                    body.splice(at..at, bit.bytes());
                }
            }
        }
        if let Ok(body) = String::from_utf8(body) {
            agrees(&body);
        }
    }
}
