//! The fast path of [`super::parse`]: the documents partners send (an XML
//! declaration, elements, attributes, text, the five predefined entity
//! references and character references) read straight from the decoded
//! body into the same [`Doc`], without quick-xml's events, which cost as
//! much again as the rest of decoding (each event's text is checked as
//! UTF-8 a second time, and every attribute is iterated twice).
//!
//! It decides nothing on its own. It accepts only a plain subset of XML
//! for which quick-xml's reading is unambiguous (names of ASCII letters,
//! digits, `_ . -` and one `:`; attribute values quoted right after `=`,
//! without `& < \t \n \r`; end tags naming their start tag exactly), and
//! gives up (`None`) on anything else: comments, CDATA, processing
//! instructions, DOCTYPEs, unknown entities, a BOM or text outside the
//! root, two attributes with one local name, undeclared prefixes, too deep
//! a document, and every error. The caller then reads the document again
//! with quick-xml, which gives the tree or the error it always gave.

use quick_xml::name::{PrefixDeclaration, QName};

use super::{
    Doc, Elem, MAX_ATTRIBUTES, NONE, Open, Resolved, Scopes, Str, add_text, join_text, link,
};
use crate::json::MAX_DEPTH;
use crate::swar;

/// An element being read, with its qualified name for the end tag.
struct OpenTag<'a> {
    open: Open<'a>,
    qname: &'a str,
    /// The namespace of an unprefixed name in it: its parent's, unless it
    /// declares namespaces itself (saves a search of the bindings).
    default_ns: Option<Str<'a>>,
}

/// quick-xml's white space (`is_whitespace`).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Name bytes: 2 for those that may start a name or the part after its
/// colon (ASCII letters, `_`), 1 for those that may follow (digits, `.`,
/// `-`), 0 for the rest.
static NAME: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        classes[b] = if c.is_ascii_alphabetic() || c == b'_' {
            2
        } else if c.is_ascii_digit() || c == b'.' || c == b'-' {
            1
        } else {
            0
        };
        b += 1;
    }
    classes
};

/// A name starting at `from`: where it ends, and its colon if it has
/// one. ASCII, at most one `:`, which neither starts nor ends it.
fn name(bytes: &[u8], from: usize) -> Option<(usize, Option<usize>)> {
    let class = |at: usize| bytes.get(at).map_or(0, |&b| NAME[usize::from(b)]);
    let run = |at: usize| {
        let rest = bytes.get(at..).unwrap_or_default();
        at + rest
            .iter()
            .position(|&b| NAME[usize::from(b)] == 0)
            .unwrap_or(rest.len())
    };
    if class(from) != 2 {
        return None;
    }
    let end = run(from + 1);
    if bytes.get(end) != Some(&b':') {
        return Some((end, None));
    }
    if class(end + 1) != 2 {
        return None;
    }
    Some((run(end + 2), Some(end)))
}

/// The local part of a name read by [`name`] (quick-xml's `local_name`:
/// what follows the first colon).
fn local(name: &str, from: usize, colon: Option<usize>) -> Option<&str> {
    match colon {
        Some(c) => name.get(c - from + 1..),
        None => Some(name),
    }
}

/// Skips white space from `at`, returning where it ends.
fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).copied().is_some_and(is_space) {
        at += 1;
    }
    at
}

/// The first `<`, `&` or `\r` in `bytes` (the bytes that end a run of
/// plain text): blocks without one are passed at a vector compare each,
/// the one with it searched a word at a time.
fn find_special(bytes: &[u8]) -> Option<usize> {
    const SPECIAL: [u8; 3] = [b'<', b'&', b'\r'];
    let (blocks, tail) = bytes.as_chunks::<{ swar::BLOCK }>();
    for (k, block) in blocks.iter().enumerate() {
        if swar::holds(block, SPECIAL) {
            return swar::find(block, SPECIAL).map(|j| k * swar::BLOCK + j);
        }
    }
    swar::find(tail, SPECIAL).map(|j| blocks.len() * swar::BLOCK + j)
}

/// Where a document may begin: after an XML declaration, if it starts
/// with one. A BOM left after decoding, or any other `<?`, is left to
/// quick-xml.
fn prolog(bytes: &[u8]) -> Option<usize> {
    if bytes.starts_with("\u{FEFF}".as_bytes()) {
        return None;
    }
    if !bytes.starts_with(b"<?") {
        return Some(0);
    }
    if !bytes.starts_with(b"<?xml") || !bytes.get(5).copied().is_some_and(is_space) {
        return None;
    }
    // quick-xml's `PiParser`: the first `>` right after a `?`.
    (6..bytes.len())
        .find(|&i| bytes[i] == b'>' && bytes[i - 1] == b'?')
        .map(|i| i + 1)
}

/// A reference's replacement (`content` is what lies between `&` and `;`):
/// a predefined entity, or a character reference quick-xml resolves.
fn reference<'a>(content: &str, own: &mut String) -> Option<Str<'a>> {
    let fixed = match content {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => {
            let num = content.strip_prefix('#')?;
            let (digits, radix, most) = match num.strip_prefix('x') {
                Some(hex) => (hex, 16, 6),
                None => (num, 10, 7),
            };
            // Digits only and few enough that no overflow is possible:
            // quick-xml's `from_str_radix` then gives this same number.
            if digits.is_empty()
                || digits.len() > most
                || !digits.bytes().all(|b| char::from(b).is_digit(radix))
            {
                return None;
            }
            let code = u32::from_str_radix(digits, radix).ok()?;
            let c = char::from_u32(code).filter(|_| code != 0)?;
            let from = own.len();
            own.push(c);
            return Some(Str::Own(from, own.len()));
        }
    };
    Some(Str::Body(fixed))
}

/// `run` with its line ends normalised as quick-xml's `xml10_content` does
/// (`\r\n` and `\r` to `\n`), kept in the document's buffer.
fn normalized<'a>(run: &str, own: &mut String) -> Str<'a> {
    let from = own.len();
    let mut chars = run.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            own.push('\n');
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
        } else {
            own.push(c);
        }
    }
    Str::Own(from, own.len())
}

/// Reads an element's text from `at` up to the next markup, adding its
/// pieces to `o`; returns where the `<` is.
fn text<'a>(
    body: &'a str,
    mut at: usize,
    own: &mut String,
    o: &mut Open<'a>,
    pieces: &mut Vec<Str<'a>>,
) -> Option<usize> {
    let bytes = body.as_bytes();
    loop {
        // Indentation between tags, the most common text, is passed
        // without a search.
        let indent = at
            + bytes
                .get(at..)?
                .iter()
                .position(|&b| !matches!(b, b' ' | b'\t' | b'\n'))?;
        // One quick-xml text event: up to `<` or `&`.
        let mut end = match bytes.get(indent) {
            Some(b'<') => indent,
            _ => indent + find_special(bytes.get(indent..)?)?,
        };
        let mut has_cr = false;
        while bytes.get(end) == Some(&b'\r') {
            has_cr = true;
            end += 1 + find_special(bytes.get(end + 1..)?)?;
        }
        if end > at {
            let run = body.get(at..end)?;
            let piece = if has_cr {
                normalized(run, own)
            } else {
                Str::Body(run)
            };
            add_text(o, pieces, piece);
        }
        if bytes.get(end) == Some(&b'<') {
            return Some(end);
        }
        // A reference: quick-xml's `read_ref` ends it at the first `;`,
        // and fails at a `&` or `<` before one.
        let semi = (end + 1..bytes.len()).find(|&i| matches!(bytes[i], b';' | b'&' | b'<'))?;
        if bytes[semi] != b';' {
            return None;
        }
        let piece = reference(body.get(end + 1..semi)?, own)?;
        add_text(o, pieces, piece);
        at = semi + 1;
    }
}

/// Reads a document of the plain subset (see the module documentation),
/// or `None` for quick-xml to read it.
pub(super) fn parse(body: &str) -> Option<Doc<'_>> {
    let bytes = body.as_bytes();
    let mut at = prolog(bytes)?;
    let mut doc = Doc::sized(body);
    let mut scopes = Scopes::new();
    let mut open: Vec<OpenTag<'_>> = Vec::with_capacity(8);
    let mut pieces: Vec<Str<'_>> = Vec::with_capacity(32);
    // A tag's namespace declarations and local names (for duplicates).
    let mut bindings: Vec<(PrefixDeclaration<'_>, &str)> = Vec::with_capacity(4);
    let mut locals: Vec<&str> = Vec::with_capacity(4);
    let mut closed = false;
    loop {
        let lt = match open.last_mut() {
            Some(o) => text(body, at, &mut doc.own, &mut o.open, &mut pieces)?,
            None => {
                let next = skip_space(bytes, at);
                match bytes.get(next) {
                    None => break,
                    Some(b'<') => next,
                    Some(_) => return None,
                }
            }
        };
        at = lt + 1;
        if bytes.get(at) == Some(&b'/') {
            // An end tag: `</name>`, white space allowed before `>`.
            let o = open.pop()?;
            let name_at = at + 1;
            let after = name_at + o.qname.len();
            if bytes.get(name_at..after) != Some(o.qname.as_bytes()) {
                return None;
            }
            at = skip_space(bytes, after);
            if bytes.get(at) != Some(&b'>') {
                return None;
            }
            at += 1;
            scopes.pop_pending();
            let o = o.open;
            let text = join_text(&mut doc.own, o.first_text, pieces.get(o.more_text..)?);
            pieces.truncate(o.more_text);
            if let Some(el) = doc.elems.get_mut(o.at as usize) {
                el.text = text;
            }
            closed = open.is_empty();
            scopes.pending_pop = true;
            continue;
        }
        // A start tag (`<!` and `<?` fail the name).
        if closed || open.len() >= MAX_DEPTH {
            return None;
        }
        let (end, colon) = name(bytes, at)?;
        let qname = body.get(at..end)?;
        let local_name = local(qname, at, colon)?;
        at = end;
        let first_attr = doc.attrs.len();
        bindings.clear();
        locals.clear();
        let empty = loop {
            let next = skip_space(bytes, at);
            let spaced = next > at;
            at = next;
            match bytes.get(at) {
                Some(b'>') => {
                    at += 1;
                    break false;
                }
                Some(b'/') if bytes.get(at + 1) == Some(&b'>') => {
                    at += 2;
                    break true;
                }
                Some(_) if spaced => {}
                _ => return None,
            }
            // An attribute: `name="value"` or `name='value'`.
            let (key_end, colon) = name(bytes, at)?;
            let key = body.get(at..key_end)?;
            let key_local = local(key, at, colon)?;
            let quote = *bytes
                .get(key_end + 1)
                .filter(|&&q| q == b'"' || q == b'\'')?;
            if bytes.get(key_end) != Some(&b'=') {
                return None;
            }
            let value_at = key_end + 2;
            let value_end = value_at
                + bytes.get(value_at..)?.iter().position(|&b| {
                    b == quote || matches!(b, b'&' | b'<' | b'\t' | b'\n' | b'\r')
                })?;
            if bytes.get(value_end) != Some(&quote) {
                return None;
            }
            let value = body.get(value_at..value_end)?;
            at = value_end + 1;
            match QName(key).as_namespace_binding() {
                Some(prefix) => bindings.push((prefix, value)),
                None => doc.attrs.push((Str::Body(key_local), Str::Body(value))),
            }
            // Stricter than quick-xml (one qualified name twice) and the
            // tree (one local name twice outside declarations) together.
            if locals.len() >= MAX_ATTRIBUTES || locals.contains(&key_local) {
                return None;
            }
            locals.push(key_local);
        };
        scopes.pop_pending();
        scopes.enter().ok()?;
        for &(prefix, uri) in &bindings {
            scopes.add(prefix, uri, body, &mut doc.own).ok()?;
        }
        let default_ns = match open.last() {
            Some(parent) if bindings.is_empty() => parent.default_ns,
            _ => match scopes.resolve(None, &doc) {
                Resolved::Bound(uri) => Some(uri),
                _ => None,
            },
        };
        let ns = match colon {
            None => default_ns,
            Some(_) => match scopes.resolve(QName(qname).prefix(), &doc) {
                Resolved::Bound(uri) => Some(uri),
                Resolved::Unbound => None,
                Resolved::Unknown(_) => return None,
            },
        };
        let index = u32::try_from(doc.elems.len()).ok().filter(|&i| i != NONE)?;
        doc.elems.push(Elem {
            ns,
            name: Str::Body(local_name),
            attrs: (first_attr, doc.attrs.len()),
            text: Str::Body(""),
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
        });
        link(&mut doc, index, open.last().map(|o| o.open.at));
        if empty {
            closed = open.is_empty();
            scopes.pending_pop = true;
        } else {
            open.push(OpenTag {
                open: Open {
                    at: index,
                    first_text: None,
                    more_text: pieces.len(),
                },
                qname,
                default_ns,
            });
        }
    }
    if !open.is_empty() || doc.elems.is_empty() {
        return None;
    }
    Some(doc)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "scan_tests.rs"]
mod tests;
