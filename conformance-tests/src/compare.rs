//! Field-by-field comparison of a ticket before and after a trip through
//! another family: every canonical field either arrives with the same
//! meaning, or is listed in the loss report and written into the target's
//! notes. Nothing is dropped silently.

use std::collections::BTreeMap;

use adapters::LossReport;
use schemas::Ticket;
use serde_json::Value;

/// One field that did not survive and was not reported lost.
#[derive(Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Canonical path.
    pub path: String,
    /// Before.
    pub before: String,
    /// After the trip.
    pub after: String,
}

/// Flattens a JSON value into `path → leaf`.
pub fn flatten(value: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), v, out);
                }
            }
            Value::Null => {}
            leaf => {
                out.insert(prefix.to_owned(), leaf.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

fn covered(path: &str, loss: &LossReport) -> bool {
    loss.iter().any(|l| {
        path == l.field
            || path.starts_with(&format!("{}.", l.field))
            || path.starts_with(&format!("{}[", l.field))
    })
}

fn same_instant(a: &Value, b: Option<&Value>) -> bool {
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| adapters::time::parse_rfc3339(s).ok())
            .map(|t| t.timestamp())
    };
    b.is_some_and(|b| parse(a).is_some() && parse(a) == parse(b))
}

/// Compares `before` (decoded from the source) with `after` (the target's
/// output decoded again), given the loss report of the encoding. The
/// target's free text (`notes`, and `description` for families without a
/// notes field) must hold the source's text and one line per lost field.
pub fn carried(before: &Ticket, after: &Ticket, loss: &LossReport) -> Vec<Mismatch> {
    let b = flatten(&serde_json::to_value(before).unwrap_or_default());
    let a = flatten(&serde_json::to_value(after).unwrap_or_default());
    let mut out = Vec::new();
    let mut miss = |path: &str, before: &Value, after: Option<&Value>| {
        out.push(Mismatch {
            path: path.to_owned(),
            before: before.to_string(),
            after: after.map_or_else(|| "(absent)".to_owned(), Value::to_string),
        });
    };
    let free_text = format!(
        "{}\n{}",
        after.notes.as_deref().unwrap_or_default(),
        after.description
    );
    for lost in loss.iter() {
        // Personal data a public format must not show is reported, not written.
        if lost.value == adapters::open311::WITHHELD {
            continue;
        }
        let marker = format!("({}): ", lost.field);
        if !free_text.contains(&marker) {
            miss(
                &format!("notes line for {}", lost.field),
                &Value::String(lost.value.to_owned()),
                None,
            );
        }
    }
    for (path, value) in &b {
        let other = a.get(path);
        if other == Some(value) || covered(path, loss) {
            continue;
        }
        let p = path.as_str();
        let ok = match p {
            "received_at" | "ack_by" | "resolve_by" => same_instant(value, other),
            _ if p.starts_with("history[") && p.ends_with(".at") => same_instant(value, other),
            "location.point.lon" | "location.point.lat" => {
                match (&before.location, &after.location) {
                    (Some(x), Some(y)) => match (x.point, y.point) {
                        (Some(p0), Some(p1)) => adapters::geo::distance_m(p0, p1) < 0.5,
                        _ => false,
                    },
                    _ => false,
                }
            }
            // How the source wrote a value is representation, not meaning:
            // the point's datum, the category's scheme, code and label. The
            // meaning (the WGS-84 point, the catalogue code) is checked.
            _ if p.starts_with("location.source_point.") => true,
            "category.label" | "category.source.scheme" | "category.source.code" => true,
            "category.code" => covered("category", loss),
            "caller.anonymous" => value == &Value::Bool(false),
            // A repair order's unit is its target partner.
            "target_partner" => after
                .property
                .as_ref()
                .and_then(|p| p.unit_id.as_deref())
                .is_some_and(|u| value.as_str() == Some(u)),
            // Derived from each other through the hotline registry.
            "origin_division" | "origin_partner" => true,
            "notes" => after
                .notes
                .as_deref()
                .or(Some(after.description.as_str()))
                .is_some_and(|n| value.as_str().is_some_and(|v| n.contains(v))),
            "description" => value
                .as_str()
                .is_some_and(|v| after.description.starts_with(v)),
            _ => false,
        };
        if !ok {
            miss(path, value, other);
        }
    }
    out
}
