//! What the two XML hotline formats (tj-xml, hb-soap) share: reading a
//! parsed tree as strictly as the JSON adapters read their wire structs
//! (`deny_unknown_fields`), collecting every problem with its path in the
//! format's own names (`Citizen.Phone`, `Place.Point.lon`, `FJ.FJXX[0].DZ`),
//! and the sending hotline's division.

use std::cell::Cell;
use std::fmt::Write;

use schemas::{Caller, Category, Datum, Location, OTHER, Point, Scheme, Tables, Ticket};

use crate::common::{Check, Field, Loss, category_to_partner};
use crate::error::Error;
use crate::geo;
use crate::xml::{self, Node};

/// `{ns}name` for messages, `name` when the element has no namespace.
fn qualified(el: Node<'_>) -> String {
    match el.ns() {
        Some(ns) => format!("{{{ns}}}{}", el.name()),
        None => format!("{} (no namespace)", el.name()),
    }
}

/// Checks the root element's name and namespace.
pub(crate) fn expect_root(root: Node<'_>, name: &str, ns: &str) -> Result<(), Error> {
    if root.name() == name && root.ns() == Some(ns) {
        return Ok(());
    }
    Err(Error::invalid(
        name,
        format!(
            "the root element must be <{name}> in namespace {ns}; got {}",
            qualified(root)
        ),
    ))
}

/// Joins a parent path and a child name (`Citizen` + `Phone`).
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        return name.to_owned();
    }
    let mut out = String::with_capacity(parent.len() + 1 + name.len());
    out.push_str(parent);
    out.push('.');
    out.push_str(name);
    out
}

/// `parent.name` (just `name` without a parent), made only when an error
/// names it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Joined<'a>(pub &'a str, pub &'a str);

impl Field for Joined<'_> {
    fn name(self) -> String {
        join(self.0, self.1)
    }
}

/// Refuses attributes other than `allowed`, naming each as `path.attr`.
pub(crate) fn attrs(c: &mut Check, el: Node<'_>, path: &str, allowed: &[&str]) {
    for (k, _) in el.attrs() {
        if !allowed.contains(&k) {
            c.fail(
                join(path, k),
                format!("is not an attribute of <{}>", el.name()),
            );
        }
    }
}

/// Refuses character data in an element that holds elements.
fn no_text(c: &mut Check, el: Node<'_>, path: &str) {
    if !xml::is_blank(el.text()) {
        c.fail(
            if path.is_empty() { el.name() } else { path },
            "holds child elements only, not text",
        );
    }
}

/// What an element may hold: its child elements' names (in their order
/// when `ordered`), and which of them are not plain text leaves (elements
/// with attributes or children, checked by the caller).
pub(crate) struct Shape {
    /// Every child name, in the documented order.
    pub names: &'static [&'static str],
    /// The children that are not text-only leaves.
    pub nested: &'static [&'static str],
    /// Whether the order of `names` is enforced.
    pub ordered: bool,
}

/// The most names a shape has (hb-soap's `PushWorkOrder` has 27).
const FEW: usize = 32;

/// The children found for each name of a shape: on the stack for shapes
/// of up to [`FEW`] names (an allocation per element read cost more than
/// looking its children up), else on the heap.
struct Found<'a> {
    few: [Option<Node<'a>>; FEW],
    many: Vec<Option<Node<'a>>>,
}

impl<'a> Found<'a> {
    fn new(len: usize) -> Found<'a> {
        Found {
            few: [None; FEW],
            many: if len > FEW {
                vec![None; len]
            } else {
                Vec::new()
            },
        }
    }

    fn slots_mut(&mut self) -> &mut [Option<Node<'a>>] {
        if self.many.is_empty() {
            &mut self.few
        } else {
            &mut self.many
        }
    }

    fn get(&self, index: usize) -> Option<Node<'a>> {
        let slots: &[Option<Node<'a>>] = if self.many.is_empty() {
            &self.few
        } else {
            &self.many
        };
        slots.get(index).copied().flatten()
    }
}

/// The child elements of one element, checked against its [`Shape`]: each
/// in `ns`, known, at most once, in order when the shape says so, and the
/// leaves holding text only.
pub(crate) struct Children<'a> {
    path: &'a str,
    names: &'static [&'static str],
    /// The child named `names[i]`, if present.
    found: Found<'a>,
    /// Where the next lookup looks first: fields are mostly read in the
    /// order of the shape.
    next: Cell<usize>,
}

impl<'a> Children<'a> {
    /// Reads `el`'s children. `path` is `el`'s own path (empty for the
    /// message element, whose children are named without a prefix).
    pub(crate) fn read(
        c: &mut Check,
        el: Node<'a>,
        path: &'a str,
        ns: &str,
        shape: &Shape,
    ) -> Children<'a> {
        let names = shape.names;
        no_text(c, el, path);
        let mut found = Found::new(names.len());
        let mut last: Option<usize> = None;
        // The children's namespace is one slice of the body: once it has
        // compared equal to `ns`, the same slice is known by its address.
        let mut same_ns: Option<&str> = None;
        for child in el.children() {
            // The child's path, made only for an error message.
            let at = || join(path, child.name());
            let in_ns = match child.ns() {
                Some(cns) if same_ns.is_some_and(|s| std::ptr::eq(s, cns)) => true,
                Some(cns) if cns == ns => {
                    same_ns = Some(cns);
                    true
                }
                _ => false,
            };
            if !in_ns {
                c.fail(
                    at(),
                    format!(
                        "must be in namespace {ns}; got {}",
                        child.ns().unwrap_or("no namespace")
                    ),
                );
                continue;
            }
            // Children mostly come in order: the next name is tried first
            // (the names of a shape are distinct).
            let next = last.map_or(0, |p| p + 1);
            let index = match names.get(next) {
                Some(n) if *n == child.name() => Some(next),
                _ => names.iter().position(|n| *n == child.name()),
            };
            let Some(index) = index else {
                c.fail(at(), format!("is not an element of <{}>", el.name()));
                continue;
            };
            let Some(slot @ None) = found.slots_mut().get_mut(index) else {
                c.fail(at(), "appears more than once");
                continue;
            };
            if shape.ordered
                && let Some(prev) = last.filter(|&p| p > index)
            {
                c.fail(
                    at(),
                    format!(
                        "is out of order: <{}> comes before <{}> (the order is {})",
                        child.name(),
                        names[prev],
                        names.join(", ")
                    ),
                );
            }
            // A leaf with neither children nor attributes passes `leaf`.
            let plain = child.children().next().is_none() && child.attrs().len() == 0;
            if !plain && !shape.nested.contains(&child.name()) {
                leaf(c, child, &at(), &[]);
            }
            last = Some(last.map_or(index, |p| p.max(index)));
            *slot = Some(child);
        }
        Children {
            path,
            names,
            found,
            next: Cell::new(0),
        }
    }

    /// The path of a child (`Citizen.Phone`), made when an error names it.
    pub(crate) fn path(&self, name: &'a str) -> Joined<'a> {
        Joined(self.path, name)
    }

    /// The child element, if present.
    pub(crate) fn el(&self, name: &str) -> Option<Node<'a>> {
        let guess = self.next.get();
        let index = match self.names.get(guess) {
            Some(n) if *n == name => guess,
            _ => self.names.iter().position(|n| *n == name)?,
        };
        self.next.set(index + 1);
        self.found.get(index)
    }

    /// The text of a leaf child, if present.
    pub(crate) fn text(&self, name: &str) -> Option<&'a str> {
        self.el(name).map(Node::text)
    }

    /// The text of a leaf child, owned.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.text(name).map(str::to_owned)
    }
}

/// Checks that `el` holds text only and no attribute but `allowed`.
pub(crate) fn leaf(c: &mut Check, el: Node<'_>, path: &str, allowed: &[&str]) {
    if let Some(child) = el.children().next() {
        c.fail(
            path,
            format!("holds text only; found the element <{}>", child.name()),
        );
    }
    attrs(c, el, path, allowed);
}

/// Checks that `el` is empty (attributes only, no `allowed` but these).
pub(crate) fn empty(c: &mut Check, el: Node<'_>, path: &str, allowed: &[&str]) {
    leaf(c, el, path, allowed);
    if !xml::is_blank(el.text()) {
        c.fail(path, "must be empty: its values are attributes");
    }
}

/// A coordinate: a finite decimal number within `range` degrees.
fn coordinate(c: &mut Check, field: &str, v: &str, range: f64) -> Option<f64> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && !v.contains(['e', 'E', 'n', 'N', 'i', 'I']) => {
            if x.abs() > range {
                c.fail(field, format!("{v} is not within -{range}..{range}"));
                None
            } else {
                Some(x)
            }
        }
        _ => {
            c.fail(field, format!("'{v}' is not a decimal number"));
            None
        }
    }
}

/// A point given as two values that come together (`lon`/`lat`
/// attributes, `JD`/`WD` elements): both or neither, each a decimal number
/// in range, each error named by its own field.
pub(crate) fn point(
    c: &mut Check,
    (lon_field, lon): (&str, Option<&str>),
    (lat_field, lat): (&str, Option<&str>),
) -> Option<Point> {
    match (lon, lat) {
        (None, None) => None,
        (Some(_), None) => {
            c.fail(lat_field, format!("is required with {lon_field}"));
            None
        }
        (None, Some(_)) => {
            c.fail(lon_field, format!("is required with {lat_field}"));
            None
        }
        (Some(lon), Some(lat)) => {
            let lon = coordinate(c, lon_field, lon, 180.0);
            let lat = coordinate(c, lat_field, lat, 90.0);
            Some(Point {
                lon: lon?,
                lat: lat?,
            })
        }
    }
}

/// Records the caller fields the hotline formats have no place for: the
/// e-mail, and the split name parts when there is no full name.
pub(crate) fn lose_caller_extras(k: &Caller, loss: &mut Loss) {
    loss.lose_opt("caller.email", "来电人邮箱", k.email.as_deref());
    if k.name.is_none() {
        loss.lose_opt("caller.family_name", "来电人姓", k.family_name.as_deref());
        loss.lose_opt("caller.given_name", "来电人名", k.given_name.as_deref());
    }
}

/// The point to write in `datum`: the source's own when it used `datum`
/// (exact A → A), else the canonical WGS-84 point converted and rounded to
/// 6 decimal places (about 0.1 m).
pub(crate) fn point_in(datum: Datum, l: &Location) -> Option<Point> {
    match (l.source_point, l.point) {
        (Some(sp), _) if sp.datum == datum => Some(Point {
            lon: sp.lon,
            lat: sp.lat,
        }),
        (_, Some(p)) => {
            let q = geo::from_wgs84(datum, p);
            Some(Point {
                lon: geo::round6(q.lon),
                lat: geo::round6(q.lat),
            })
        }
        _ => None,
    }
}

/// The category to write, as (code, label): `None` for a bare `other`
/// (what decoding a message without a category gives, so A → A is exact);
/// the label is `None` when the category came from this scheme without one.
pub(crate) fn category_out(
    tables: &Tables,
    scheme: Scheme,
    cat: &Category,
    loss: &mut Loss,
) -> Option<(String, Option<String>)> {
    if cat.code == OTHER && cat.label.is_none() && cat.source.is_none() {
        return None;
    }
    let (code, label) = category_to_partner(tables, scheme, cat, loss);
    let same = cat
        .source
        .as_ref()
        .is_some_and(|s| s.scheme == scheme.as_str());
    Some((code, (!same || cat.label.is_some()).then_some(label)))
}

/// The category a message without one travels under: `other`, with no
/// source code and no label.
pub(crate) fn no_category() -> Category {
    Category {
        code: OTHER.to_owned(),
        label: None,
        source: None,
    }
}

/// The items of a list element (`Attachments`, `FJ`): every child must be
/// `item` in `ns`. Items are named `path.item[i]`.
pub(crate) fn items<'a>(
    c: &mut Check,
    el: Node<'a>,
    path: &str,
    ns: &str,
    item: &str,
) -> Vec<(String, Node<'a>)> {
    no_text(c, el, path);
    attrs(c, el, path, &[]);
    let mut out = Vec::new();
    for child in el.children() {
        let at = item_path(path, item, out.len());
        if child.ns() != Some(ns) || child.name() != item {
            c.fail(
                join(path, child.name()),
                format!(
                    "<{}> holds only <{item}> elements in namespace {ns}",
                    el.name()
                ),
            );
            continue;
        }
        out.push((at, child));
    }
    out
}

/// `path.item[index]` (one is made for every item read).
fn item_path(path: &str, item: &str, index: usize) -> String {
    let mut out = String::with_capacity(path.len() + item.len() + 8);
    if !path.is_empty() {
        out.push_str(path);
        out.push('.');
    }
    out.push_str(item);
    // ok: writing to a String cannot fail.
    let _ = write!(out, "[{index}]");
    out
}

/// A code of an enumeration: `Some` when `value` is one of `table`'s keys,
/// otherwise an error listing them.
pub(crate) fn enumerated<T: Copy>(
    c: &mut Check,
    field: &str,
    value: Option<&str>,
    table: &[(&str, T)],
) -> Option<T> {
    let v = value?;
    let found = table.iter().find(|(k, _)| *k == v).map(|(_, t)| *t);
    if found.is_none() {
        let keys: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
        c.fail(
            field,
            format!("must be one of {}; got \"{v}\"", keys.join(" ")),
        );
    }
    found
}

/// The wire code of an enumeration value.
pub(crate) fn code_of<T: Copy + PartialEq>(table: &[(&'static str, T)], value: T) -> &'static str {
    table
        .iter()
        .find(|(_, t)| *t == value)
        .map_or("", |(k, _)| k)
}

/// The origin partner a sending hotline's division names: an exact lookup
/// in the hotline registry, nothing else.
pub(crate) fn partner_of(tables: &Tables, division: &str) -> Option<String> {
    tables
        .hotlines
        .by_division(division)
        .map(|h| h.partner_id.clone())
}

/// The division written as the sending hotline (tj `FromHotline`, hb
/// `SenderCode`): the ticket's origin division, else the division of its
/// origin partner's hotline, else `default`. An origin partner the written
/// division does not name exactly is recorded as lost.
pub(crate) fn sending_division(
    t: &Ticket,
    tables: &Tables,
    default: &str,
    loss: &mut Loss,
) -> String {
    let division = t
        .origin_division
        .clone()
        .or_else(|| {
            t.origin_partner
                .as_deref()
                .and_then(|p| tables.hotlines.by_partner(p))
                .map(|h| h.division_code.clone())
        })
        .unwrap_or_else(|| default.to_owned());
    if let Some(p) = &t.origin_partner
        && partner_of(tables, &division).as_deref() != Some(p.as_str())
    {
        loss.lose("origin_partner", "来源方", p);
    }
    division
}

/// The text of an error reply: the message, then each field error whose
/// reason the message does not already say, as `field: reason`.
pub(crate) fn error_text(message: &str, errors: &[crate::FieldError]) -> String {
    let mut out = message.to_owned();
    for e in errors {
        if e.reason.is_empty() || message.contains(&e.reason) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(&e.field);
        out.push_str(": ");
        out.push_str(&e.reason);
    }
    out
}

/// The distinct field names of a list of field errors, in order.
pub(crate) fn error_fields(errors: &[crate::FieldError]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for e in errors {
        if !out.contains(&e.field.as_str()) {
            out.push(&e.field);
        }
    }
    out
}
