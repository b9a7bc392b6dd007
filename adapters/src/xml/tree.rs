//! The tree the adapters read: every element of a document in one vector,
//! in document order, its names, namespace, attribute values and text
//! borrowed from the decoded body wherever they appear in it unchanged (a
//! tree of owned strings cost an allocation per name, value and text).
//!
//! Namespaces are resolved here rather than by quick-xml's `NsReader`,
//! which took as long as reading the events: [`Scopes`] follows
//! `quick_xml::name::NamespaceResolver` rule for rule, with its errors.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceError, Prefix, PrefixDeclaration};

use super::{Element, predefined, syntax};
use crate::Error;
use crate::json::MAX_DEPTH;

mod scan;

/// A piece of text: a slice of the body, or a range of the document's own
/// buffer (text that was unescaped, normalised or joined).
#[derive(Clone, Copy, Debug)]
enum Str<'a> {
    Body(&'a str),
    Own(usize, usize),
}

/// No element (links between elements).
const NONE: u32 = u32::MAX;

#[derive(Debug)]
struct Elem<'a> {
    ns: Option<Str<'a>>,
    name: Str<'a>,
    /// The range of `Doc::attrs` holding this element's attributes.
    attrs: (usize, usize),
    text: Str<'a>,
    first_child: u32,
    last_child: u32,
    next_sibling: u32,
}

/// A parsed document; [`Doc::root`] is its root element.
#[derive(Debug)]
pub(crate) struct Doc<'a> {
    elems: Vec<Elem<'a>>,
    /// Attributes other than namespace declarations: (local name, value).
    attrs: Vec<(Str<'a>, Str<'a>)>,
    own: String,
}

impl<'a> Doc<'a> {
    /// An empty document sized for a ticket in `body`, so that its vectors
    /// seldom grow.
    fn sized(body: &str) -> Doc<'a> {
        Doc {
            elems: Vec::with_capacity(body.len() / 64 + 1),
            attrs: Vec::with_capacity(16),
            own: String::with_capacity(body.len() / 8 + 64),
        }
    }

    /// The root element.
    pub(crate) fn root(&self) -> Node<'_> {
        Node { doc: self, at: 0 }
    }

    fn get(&self, s: Str<'a>) -> &str {
        match s {
            Str::Body(b) => b,
            Str::Own(from, to) => self.own.get(from..to).unwrap_or_default(),
        }
    }
}

/// `part` as a slice of `body`, with `body`'s lifetime, when it lies there:
/// quick-xml hands names and values out for the event's lifetime only,
/// though they are slices of the body it reads (found again by address).
fn within<'a>(body: &'a str, part: &str) -> Option<&'a str> {
    let from = (part.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    body.get(from..from.checked_add(part.len())?)
        .filter(|s| s.as_ptr() == part.as_ptr())
}

/// `s` kept for the document: borrowed from the body if it lies there,
/// else copied into the document's buffer.
fn keep<'a>(body: &'a str, own: &mut String, s: &str) -> Str<'a> {
    match within(body, s) {
        Some(b) => Str::Body(b),
        None => {
            let from = own.len();
            own.push_str(s);
            Str::Own(from, own.len())
        }
    }
}

/// An element of a [`Doc`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node<'d> {
    doc: &'d Doc<'d>,
    at: u32,
}

impl<'d> Node<'d> {
    fn elem(self) -> &'d Elem<'d> {
        // `at` is always an index the document made.
        &self.doc.elems[self.at as usize]
    }

    /// Namespace URI, if bound.
    pub(crate) fn ns(self) -> Option<&'d str> {
        self.elem().ns.map(|s| self.doc.get(s))
    }

    /// Local name.
    pub(crate) fn name(self) -> &'d str {
        self.doc.get(self.elem().name)
    }

    /// Character data directly inside this element, concatenated.
    pub(crate) fn text(self) -> &'d str {
        self.doc.get(self.elem().text)
    }

    /// Attributes other than namespace declarations: (local name, value).
    pub(crate) fn attrs(self) -> impl ExactSizeIterator<Item = (&'d str, &'d str)> {
        let doc = self.doc;
        let (from, to) = self.elem().attrs;
        doc.attrs
            .get(from..to)
            .unwrap_or_default()
            .iter()
            .map(move |&(k, v)| (doc.get(k), doc.get(v)))
    }

    /// An attribute's value.
    pub(crate) fn attr(self, name: &str) -> Option<&'d str> {
        self.attrs().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Child elements in document order.
    pub(crate) fn children(self) -> Children<'d> {
        Children {
            doc: self.doc,
            next: self.elem().first_child,
        }
    }

    /// The first child with this local name.
    pub(crate) fn child(self, name: &str) -> Option<Node<'d>> {
        self.children().find(|c| c.name() == name)
    }

    /// The element and everything in it as an owned [`Element`].
    pub(crate) fn to_element(self) -> Element {
        Element {
            ns: self.ns().map(str::to_owned),
            name: self.name().to_owned(),
            attrs: self
                .attrs()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            children: self.children().map(Node::to_element).collect(),
            text: self.text().to_owned(),
        }
    }
}

/// The children of a [`Node`].
#[derive(Clone, Debug)]
pub(crate) struct Children<'d> {
    doc: &'d Doc<'d>,
    next: u32,
}

impl<'d> Iterator for Children<'d> {
    type Item = Node<'d>;

    fn next(&mut self) -> Option<Node<'d>> {
        let at = self.next;
        let elem = self.doc.elems.get(at as usize)?;
        self.next = elem.next_sibling;
        Some(Node { doc: self.doc, at })
    }
}

const XML_URI: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_URI: &str = "http://www.w3.org/2000/xmlns/";
/// quick-xml's `DEFAULT_MAX_NAMESPACE_BINDINGS`.
const MAX_BINDINGS: usize = 128;
/// The most attributes one element may have (namespace declarations
/// included). Partners' elements have a handful; without a limit, a 1 MiB
/// tag of 100,000 attributes kept a core busy for seconds (every
/// attribute is compared with the ones before it, here and in quick-xml).
pub(super) const MAX_ATTRIBUTES: usize = 128;
/// The bindings of `xml` and `xmlns`, always in scope.
const BUILTIN: usize = 2;

struct Binding<'a> {
    /// Empty for the default namespace.
    prefix: Str<'a>,
    /// Empty when the binding undoes an outer one.
    uri: Str<'a>,
    level: u16,
}

enum Resolved<'a> {
    Bound(Str<'a>),
    Unbound,
    Unknown(String),
}

/// The namespace bindings in scope, as `quick_xml::name::NamespaceResolver`
/// keeps them (with `NsReader`'s deferred leaving of a scope).
struct Scopes<'a> {
    bindings: Vec<Binding<'a>>,
    level: u16,
    pending_pop: bool,
}

impl<'a> Scopes<'a> {
    fn new() -> Scopes<'a> {
        let builtin = |prefix, uri| Binding {
            prefix: Str::Body(prefix),
            uri: Str::Body(uri),
            level: 0,
        };
        Scopes {
            bindings: vec![builtin("xml", XML_URI), builtin("xmlns", XMLNS_URI)],
            level: 0,
            pending_pop: false,
        }
    }

    /// Leaves the scope of the element that just ended, if one did.
    fn pop_pending(&mut self) {
        if self.pending_pop {
            self.pending_pop = false;
            self.level = self.level.saturating_sub(1);
            while self.bindings.last().is_some_and(|b| b.level > self.level) {
                self.bindings.pop();
            }
        }
    }

    /// Enters the scope of an element, before its declarations are added.
    fn enter(&mut self) -> Result<(), NamespaceError> {
        self.level = self
            .level
            .checked_add(1)
            .ok_or(NamespaceError::TooDeeplyNested(usize::from(u16::MAX)))?;
        Ok(())
    }

    /// Enters the scope of `start`, with its namespace declarations.
    fn push(
        &mut self,
        start: &BytesStart<'_>,
        body: &'a str,
        own: &mut String,
    ) -> Result<(), NamespaceError> {
        self.enter()?;
        if !has_attributes(start) {
            return Ok(());
        }
        for attr in start.attributes().with_checks(false) {
            let Ok(attr) = attr else {
                break;
            };
            if let Some(prefix) = attr.key.as_namespace_binding() {
                self.add(prefix, &attr.value, body, own)?;
            }
        }
        Ok(())
    }

    fn add(
        &mut self,
        prefix: PrefixDeclaration<'_>,
        uri: &str,
        body: &'a str,
        own: &mut String,
    ) -> Result<(), NamespaceError> {
        let prefix = match prefix {
            PrefixDeclaration::Default => "",
            PrefixDeclaration::Named("xml") if uri == XML_URI => return Ok(()),
            PrefixDeclaration::Named("xml") => {
                return Err(NamespaceError::InvalidXmlPrefixBind(uri.to_owned()));
            }
            PrefixDeclaration::Named("xmlns") => {
                return Err(NamespaceError::InvalidXmlnsPrefixBind(uri.to_owned()));
            }
            PrefixDeclaration::Named(p) if uri == XML_URI => {
                return Err(NamespaceError::InvalidPrefixForXml(p.to_owned()));
            }
            PrefixDeclaration::Named(p) if uri == XMLNS_URI => {
                return Err(NamespaceError::InvalidPrefixForXmlns(p.to_owned()));
            }
            PrefixDeclaration::Named(p) => p,
        };
        if self.bindings.len().saturating_sub(BUILTIN) >= MAX_BINDINGS {
            return Err(NamespaceError::TooManyBindings(MAX_BINDINGS));
        }
        self.bindings.push(Binding {
            prefix: keep(body, own, prefix),
            uri: keep(body, own, uri),
            level: self.level,
        });
        Ok(())
    }

    /// The namespace of an element name with this prefix.
    fn resolve(&self, prefix: Option<Prefix<'_>>, doc: &Doc<'a>) -> Resolved<'a> {
        let found = |prefix: &str| {
            self.bindings
                .iter()
                .rev()
                .find(|b| doc.get(b.prefix) == prefix)
        };
        match prefix {
            None => match found("") {
                Some(b) if !doc.get(b.uri).is_empty() => Resolved::Bound(b.uri),
                _ => Resolved::Unbound,
            },
            Some(p) => match found(p.as_ref()).filter(|_| !p.as_ref().is_empty()) {
                Some(b) if !doc.get(b.uri).is_empty() => Resolved::Bound(b.uri),
                _ => Resolved::Unknown(p.as_ref().to_owned()),
            },
        }
    }
}

/// Whether a tag has anything after its name but white space (quick-xml's
/// attribute iterator then yields nothing).
fn has_attributes(start: &BytesStart<'_>) -> bool {
    !start
        .attributes_raw()
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// An element being read: its index and where its text went so far.
struct Open<'a> {
    at: u32,
    first_text: Option<Str<'a>>,
    /// Where its further text pieces start in the pieces of open elements.
    more_text: usize,
}

/// Parses decoded XML text (see [`super::parse`] for what is refused):
/// the plain documents partners send by [`scan`], anything else (and
/// every error) by quick-xml's events.
pub(crate) fn parse(body: &str) -> Result<Doc<'_>, Error> {
    match scan::parse(body) {
        Some(doc) => Ok(doc),
        None => parse_events(body),
    }
}

/// Parses decoded XML text from quick-xml's events.
fn parse_events(body: &str) -> Result<Doc<'_>, Error> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(false);
    let mut doc = Doc::sized(body);
    let mut scopes = Scopes::new();
    let mut open: Vec<Open<'_>> = Vec::with_capacity(8);
    let mut pieces: Vec<Str<'_>> = Vec::with_capacity(32);
    let mut closed = false;
    loop {
        let event = reader.read_event().map_err(syntax)?;
        scopes.pop_pending();
        let resolved = match &event {
            Event::Start(start) | Event::Empty(start) => {
                if has_attributes(start)
                    && start.attributes().with_checks(false).count() > MAX_ATTRIBUTES
                {
                    return Err(Error::TooManyAttributes {
                        element: start.local_name().as_ref().to_owned(),
                        limit: MAX_ATTRIBUTES,
                    });
                }
                scopes.push(start, body, &mut doc.own).map_err(syntax)?;
                scopes.pending_pop = matches!(event, Event::Empty(_));
                scopes.resolve(start.name().prefix(), &doc)
            }
            // An end tag names its start tag (quick-xml checks), which
            // was resolved in the same scope: it resolves the same.
            Event::End(_) => {
                scopes.pending_pop = true;
                Resolved::Unbound
            }
            _ => Resolved::Unbound,
        };
        let ns = match resolved {
            Resolved::Bound(uri) => Some(uri),
            Resolved::Unbound => None,
            Resolved::Unknown(p) => {
                return Err(syntax(format!("namespace prefix '{p}' is not declared")));
            }
        };
        match event {
            Event::Start(_) | Event::Empty(_) if closed => {
                return Err(syntax("content after the root element"));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                if open.len() >= MAX_DEPTH {
                    return Err(Error::TooDeep { limit: MAX_DEPTH });
                }
                let at = add_element(&mut doc, body, start, ns, open.last().map(|o| o.at))?;
                if matches!(event, Event::Empty(_)) {
                    closed = open.is_empty();
                } else {
                    open.push(Open {
                        at,
                        first_text: None,
                        more_text: pieces.len(),
                    });
                }
            }
            Event::End(_) => {
                let o = open.pop().ok_or_else(|| syntax("unexpected end tag"))?;
                let text = join_text(&mut doc.own, o.first_text, &pieces[o.more_text..]);
                pieces.truncate(o.more_text);
                if let Some(el) = doc.elems.get_mut(o.at as usize) {
                    el.text = text;
                }
                closed = open.is_empty();
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match open.last_mut() {
                    Some(o) => {
                        let piece = keep(body, &mut doc.own, &content);
                        add_text(o, &mut pieces, piece);
                    }
                    None if content.trim().is_empty() => {}
                    None => return Err(syntax("text outside the root element")),
                }
            }
            Event::CData(t) => match open.last_mut() {
                Some(o) => {
                    let piece = keep(body, &mut doc.own, &t.xml10_content());
                    add_text(o, &mut pieces, piece);
                }
                None => return Err(syntax("CDATA outside the root element")),
            },
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().map_err(syntax)?
                } else {
                    let name = r.xml10_content();
                    match predefined(&name) {
                        Some(c) => Some(c),
                        None => {
                            return Err(Error::Forbidden {
                                construct: "an entity reference",
                            });
                        }
                    }
                };
                if let (Some(c), Some(o)) = (c, open.last_mut()) {
                    let from = doc.own.len();
                    doc.own.push(c);
                    add_text(o, &mut pieces, Str::Own(from, doc.own.len()));
                }
            }
            Event::DocType(_) => {
                return Err(Error::Forbidden {
                    construct: "a DOCTYPE (with its entity declarations)",
                });
            }
            Event::PI(_) => {
                return Err(Error::Forbidden {
                    construct: "a processing instruction",
                });
            }
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !open.is_empty() {
        return Err(syntax("the document ends inside an element"));
    }
    if doc.elems.is_empty() {
        return Err(syntax("no root element"));
    }
    Ok(doc)
}

/// Adds an element with its attributes as the last child of `parent`.
fn add_element<'a>(
    doc: &mut Doc<'a>,
    body: &'a str,
    start: &BytesStart<'_>,
    ns: Option<Str<'a>>,
    parent: Option<u32>,
) -> Result<u32, Error> {
    let at = u32::try_from(doc.elems.len())
        .ok()
        .filter(|&at| at != NONE)
        .ok_or_else(|| syntax("too many elements"))?;
    let local = start.local_name();
    let name = local.as_ref();
    let first_attr = doc.attrs.len();
    let attributes = has_attributes(start).then(|| start.attributes());
    for attr in attributes.into_iter().flatten() {
        let attr = attr.map_err(syntax)?;
        let key = attr.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attr
            .normalized_value_with(
                quick_xml::XmlVersion::Implicit1_0,
                1,
                resolve_predefined_entity,
            )
            .map_err(|e| {
                if e.to_string().contains("entity") {
                    Error::Forbidden {
                        construct: "an entity reference",
                    }
                } else {
                    syntax(e)
                }
            })?;
        let key_local = key.local_name();
        let local = key_local.as_ref();
        let attrs = doc.attrs.get(first_attr..).unwrap_or_default();
        if attrs.iter().any(|&(k, _)| doc.get(k) == local) {
            return Err(Error::Duplicate {
                field: format!("{name}@{local}"),
            });
        }
        let k = keep(body, &mut doc.own, local);
        let v = keep(body, &mut doc.own, &value);
        doc.attrs.push((k, v));
    }
    let name = keep(body, &mut doc.own, name);
    doc.elems.push(Elem {
        ns,
        name,
        attrs: (first_attr, doc.attrs.len()),
        text: Str::Body(""),
        first_child: NONE,
        last_child: NONE,
        next_sibling: NONE,
    });
    link(doc, at, parent);
    Ok(at)
}

/// Links the element `at` as the last child of `parent`.
fn link(doc: &mut Doc<'_>, at: u32, parent: Option<u32>) {
    if let Some(p) = parent {
        let last = doc.elems.get(p as usize).map(|el| el.last_child);
        match last {
            Some(NONE) => {
                if let Some(el) = doc.elems.get_mut(p as usize) {
                    el.first_child = at;
                }
            }
            Some(last) => {
                if let Some(el) = doc.elems.get_mut(last as usize) {
                    el.next_sibling = at;
                }
            }
            None => {}
        }
        if let Some(el) = doc.elems.get_mut(p as usize) {
            el.last_child = at;
        }
    }
}

fn add_text<'a>(o: &mut Open<'a>, pieces: &mut Vec<Str<'a>>, piece: Str<'a>) {
    if o.first_text.is_none() {
        o.first_text = Some(piece);
    } else {
        pieces.push(piece);
    }
}

/// An element's text: its one piece as it is, or its pieces joined in the
/// document's buffer.
fn join_text<'a>(own: &mut String, first: Option<Str<'a>>, more: &[Str<'a>]) -> Str<'a> {
    let Some(first) = first else {
        return Str::Body("");
    };
    if more.is_empty() {
        return first;
    }
    let from = own.len();
    for piece in std::iter::once(&first).chain(more) {
        match *piece {
            Str::Body(b) => own.push_str(b),
            Str::Own(a, b) => own.extend_from_within(a..b),
        }
    }
    Str::Own(from, own.len())
}
