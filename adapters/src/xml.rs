//! Safe XML reading and exact XML writing, shared by tj-xml, hb-soap and
//! open311-xml.
//!
//! Reading decodes the whole body strictly in its declared encoding first
//! (quick-xml's own decoding stumbles on non-ASCII bytes near the start),
//! refuses DOCTYPEs, entity references other than the five predefined ones,
//! and processing instructions, bounds the depth, and builds a small tree
//! with namespaces resolved. Writing escapes `\r` as `&#13;` (and `\t`, `\n`
//! inside attributes) so text survives a parser character for character.

use std::borrow::Cow;

use crate::json::{check_size, check_utf8};
use crate::{Error, swar};

mod tree;

pub(crate) use tree::{Doc, Node};

/// A body's character encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8 (tj-xml, open311-xml).
    Utf8,
    /// GB18030 (hb-soap).
    Gb18030,
}

impl Charset {
    /// The name written in the XML declaration.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Gb18030 => "GB18030",
        }
    }

    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Charset::Utf8 => encoding_rs::UTF_8,
            Charset::Gb18030 => encoding_rs::GB18030,
        }
    }
}

/// An element with its namespace resolved, its attributes, its child
/// elements and its text (text directly inside it, concatenated).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI, if bound.
    pub ns: Option<String>,
    /// Local name.
    pub name: String,
    /// Attributes other than namespace declarations: (local name, value).
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Character data directly inside this element.
    pub text: String,
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// An attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the encoding named in the XML declaration, if there is one.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_owned())
}

/// Decodes a body that must be in `charset`; the declaration, if it names an
/// encoding, must name the same one (UTF-8 documents may omit it).
pub fn decode_body(bytes: &[u8], charset: Charset) -> Result<Cow<'_, str>, Error> {
    check_size(bytes)?;
    match declared_encoding(bytes) {
        Some(declared) => {
            // The plain name first: it is what partners write, and cheaper
            // than the WHATWG label lookup.
            let same = declared.eq_ignore_ascii_case(charset.name())
                || encoding_rs::Encoding::for_label(declared.as_bytes())
                    .is_some_and(|e| e == charset.encoding());
            if !same {
                return Err(Error::WrongEncoding {
                    declared,
                    expected: charset.name(),
                });
            }
        }
        None if charset == Charset::Gb18030 => {
            return Err(Error::WrongEncoding {
                declared: "none (UTF-8 by default)".into(),
                expected: charset.name(),
            });
        }
        None => {}
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match charset {
        Charset::Utf8 => check_utf8(body).map(Cow::Borrowed),
        Charset::Gb18030 => {
            match charset
                .encoding()
                .decode_without_bom_handling_and_without_replacement(body)
            {
                Some(text) => Ok(text),
                None => Err(Error::Encoding {
                    encoding: "GB18030",
                    offset: first_bad_gb18030_byte(body),
                }),
            }
        }
    }
}

fn first_bad_gb18030_byte(body: &[u8]) -> usize {
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut out = vec![0u16; body.len() + 4];
    let (result, read, _) = decoder.decode_to_utf16_without_replacement(body, &mut out, true);
    match result {
        encoding_rs::DecoderResult::Malformed(bad, _) => read.saturating_sub(bad as usize),
        _ => read,
    }
}

fn syntax(detail: impl ToString) -> Error {
    Error::Syntax {
        syntax: "XML",
        field: "body".into(),
        detail: detail.to_string(),
    }
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Parses decoded XML text into its root element.
pub fn parse(text: &str) -> Result<Element, Error> {
    tree::parse(text).map(|doc| doc.root().to_element())
}

/// Parses decoded XML text into a tree that borrows it.
pub(crate) fn parse_doc(text: &str) -> Result<Doc<'_>, Error> {
    tree::parse(text)
}

/// Decodes and parses a body in one step.
pub fn read(bytes: &[u8], charset: Charset) -> Result<Element, Error> {
    let text = decode_body(bytes, charset)?;
    parse(&text)
}

/// Escapes text content: `& < >`, and `\r` as `&#13;`.
pub fn escape_text(out: &mut String, s: &str) {
    escape(out, s, [b'&', b'<', b'>', b'\r'], |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#13;"),
        _ => None,
    });
}

/// Escapes an attribute value: also `"`, and `\t \n \r` as character
/// references so attribute normalisation keeps them.
pub fn escape_attr(out: &mut String, s: &str) {
    escape(
        out,
        s,
        [b'&', b'<', b'>', b'"', b'\t', b'\n', b'\r'],
        |b| match b {
            b'&' => Some("&amp;"),
            b'<' => Some("&lt;"),
            b'>' => Some("&gt;"),
            b'"' => Some("&quot;"),
            b'\t' => Some("&#9;"),
            b'\n' => Some("&#10;"),
            b'\r' => Some("&#13;"),
            _ => None,
        },
    );
}

/// Copies `s` to `out` with the bytes `entity` names (`special`, all
/// ASCII) replaced.
/// Every replaced byte is ASCII, so the runs between them are whole
/// characters and are copied at once; blocks without one are skipped.
fn escape<const N: usize>(
    out: &mut String,
    s: &str,
    special: [u8; N],
    entity: impl Fn(u8) -> Option<&'static str>,
) {
    out.reserve(s.len());
    let mut start = 0;
    let mut replace = |out: &mut String, i: usize, b: u8| {
        if let Some(replacement) = entity(b) {
            out.push_str(s.get(start..i).unwrap_or_default());
            out.push_str(replacement);
            start = i + 1;
        }
    };
    let bytes = s.as_bytes();
    swar::any_block(bytes, |from, block| {
        if swar::holds(block, special) {
            let to = bytes.len().min(from + swar::BLOCK);
            for (i, &b) in bytes.iter().enumerate().take(to).skip(from) {
                replace(out, i, b);
            }
        }
        false
    });
    out.push_str(s.get(start..).unwrap_or_default());
}

/// Whether `s` is white space only, as `str::trim` sees it: ASCII white
/// space (what lies between the elements of a message) is told at once.
pub(crate) fn is_blank(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) || s.trim().is_empty()
}

/// True for characters XML 1.0 can carry.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// A small indenting XML writer producing the samples' layout.
pub struct Writer {
    out: String,
    open: Vec<&'static str>,
}

impl Writer {
    /// Starts a document with its declaration.
    pub fn new(charset: Charset) -> Writer {
        let mut out = String::with_capacity(4096);
        out.push_str("<?xml version=\"1.0\" encoding=\"");
        out.push_str(charset.name());
        out.push_str("\"?>\n");
        Writer {
            out,
            open: Vec::new(),
        }
    }

    fn indent(&mut self) {
        // Two spaces a level, written at once.
        const SPACES: &str = "                                ";
        let mut width = 2 * self.open.len();
        while width > 0 {
            let part = SPACES.get(..width.min(SPACES.len())).unwrap_or(SPACES);
            self.out.push_str(part);
            width = width.saturating_sub(part.len());
        }
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_attr(&mut self.out, v);
            self.out.push('"');
        }
    }

    /// Opens an element that will hold child elements.
    pub fn open(&mut self, name: &'static str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs);
        self.out.push_str(">\n");
        self.open.push(name);
    }

    /// Closes the innermost open element.
    pub fn close(&mut self) {
        if let Some(name) = self.open.pop() {
            self.indent();
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push_str(">\n");
        }
    }

    /// Writes `<name attrs>text</name>`.
    pub fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start_tag(name, attrs);
        self.out.push('>');
        escape_text(&mut self.out, text);
        self.out.push_str("</");
        // The name alone, without attributes written inline after it.
        let bare = name.as_bytes().iter().position(|&b| b == b' ');
        self.out
            .push_str(bare.and_then(|at| name.get(..at)).unwrap_or(name));
        self.out.push_str(">\n");
    }

    /// Writes the element when the value is present.
    pub fn opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.text(name, &[], t);
        }
    }

    /// Writes `<name attrs/>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs);
        self.out.push_str("/>\n");
    }

    /// The document so far (every element closed), as text.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }

    /// Closes every element and encodes the document in `charset`.
    pub fn finish_bytes(self, charset: Charset) -> Vec<u8> {
        let text = self.finish();
        match charset {
            Charset::Utf8 => text.into_bytes(),
            Charset::Gb18030 => {
                // GB18030 encodes every Unicode scalar value, so no
                // replacement can happen.
                let (bytes, _, _) = encoding_rs::GB18030.encode(&text);
                bytes.into_owned()
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "xml_tests.rs"]
mod tests;
