//! The `application/x-www-form-urlencoded` body of `POST requests`.

use std::collections::BTreeMap;

use schemas::{
    Attachment, Caller, Datum, Location, Property, Scheme, SourcePoint, Tables, Ticket, Timestamp,
    Urgency,
};

use super::ticket::category_title;
use super::{
    EXT_ACCOUNT_ID, EXT_ADDRESS_ID, EXT_ATTRIBUTE_PREFIX, EXT_DEVICE_ID, EXT_JURISDICTION,
    MAX_DESCRIPTION, coordinates,
};
use crate::common::{Check, category_from_partner};
use crate::error::Error;
use crate::json::check_size;

/// The standard's POST fields (besides `attribute[code]`).
const FIELDS: [&str; 16] = [
    "api_key",
    "jurisdiction_id",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "description",
    "media_url",
    // Non-standard: the translate tool's time of receipt (decode_ticket).
    "requested_datetime",
];

/// The service attributes that make up the ticket's property.
pub(super) const PROPERTY_ATTRIBUTES: [&str; 4] = ["community", "building", "unit", "room"];

fn syntax_error(field: &str, detail: impl Into<String>) -> Error {
    Error::Syntax {
        syntax: "form data",
        field: field.to_owned(),
        detail: detail.into(),
    }
}

/// Percent-decodes one key or value (`+` is a space) and requires UTF-8.
/// Done here rather than with `form_urlencoded::parse`, which replaces
/// invalid UTF-8 with U+FFFD: a body is refused, never mangled.
fn decode_component(raw: &[u8], field: &str) -> Result<String, Error> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
                match (hex(raw.get(i + 1)), hex(raw.get(i + 2))) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => {
                        return Err(syntax_error(
                            field,
                            format!("'%' at byte {i} is not followed by two hex digits"),
                        ));
                    }
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|e| {
        syntax_error(
            field,
            format!(
                "the decoded bytes are not valid UTF-8 at byte {}",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// The body's key/value pairs in order; a repeated key is refused.
fn pairs(bytes: &[u8]) -> Result<Vec<(String, String)>, Error> {
    check_size(bytes)?;
    let mut out: Vec<(String, String)> = Vec::new();
    // Whitespace outside the encoding (a trailing newline) is never data.
    for part in bytes.trim_ascii().split(|&b| b == b'&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        let key = decode_component(k, "body")?;
        let value = decode_component(v, &key)?;
        if out.iter().any(|(seen, _)| *seen == key) {
            return Err(Error::Duplicate { field: key });
        }
        out.push((key, value));
    }
    Ok(out)
}

/// The code of an `attribute[code]` key.
fn attribute_code(key: &str) -> Result<&str, String> {
    let Some(inner) = key.strip_prefix("attribute[") else {
        return Err("is not a field of a GeoReport v2 POST requests body".into());
    };
    if inner.ends_with("][]") {
        return Err("multi-value attributes are not defined for any service".into());
    }
    match inner.strip_suffix(']') {
        Some(code) if !code.is_empty() && !code.contains(['[', ']']) => Ok(code),
        _ => Err("is not an attribute[code] key".into()),
    }
}

/// A plausible e-mail address: one `@`, a dotted domain, no spaces.
fn check_email(c: &mut Check, field: &str, v: &str) {
    let ok = v.chars().count() <= 254
        && !v.chars().any(|ch| ch.is_whitespace() || ch.is_control())
        && matches!(v.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|p| !p.is_empty()));
    if !ok {
        c.fail(field, format!("'{v}' is not an e-mail address"));
    }
}

/// Decodes and validates `POST requests`. The body carries no time of
/// receipt: the gateway passes the time it received the request.
pub fn decode_post(bytes: &[u8], received_at: Timestamp, tables: &Tables) -> Result<Ticket, Error> {
    decode_form(bytes, Some(received_at), tables)
}

/// The form decoder: with `received_at` for a POST, without it for the
/// translate tool, whose form must carry `requested_datetime`.
pub(super) fn decode_form(
    bytes: &[u8],
    received_at: Option<Timestamp>,
    tables: &Tables,
) -> Result<Ticket, Error> {
    let pairs = pairs(bytes)?;
    let mut c = Check::new();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let opt = |name: &str| get(name).filter(|v| !v.is_empty());
    let mut attributes: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in &pairs {
        if FIELDS.contains(&k.as_str()) {
            continue;
        }
        match attribute_code(k) {
            Ok(code) => {
                attributes.insert(code, v.as_str());
            }
            Err(reason) => c.fail(k, reason),
        }
    }
    let received_at = match (received_at, get("requested_datetime")) {
        (Some(_), Some(_)) => {
            c.fail(
                "requested_datetime",
                "is set by the gateway on receipt; a POST must not carry it",
            );
            None
        }
        (Some(t), None) => Some(t),
        (None, Some(v)) => c.rfc3339("requested_datetime", Some(v)),
        (None, None) => {
            c.fail(
                "requested_datetime",
                "is required: a POST body carries no time of receipt (the gateway supplies it; \
                 a translation must give it as the non-standard requested_datetime field)",
            );
            None
        }
    };
    c.opt_text("jurisdiction_id", opt("jurisdiction_id"), 64);
    let category = c.required("service_code", get("service_code")).map(|code| {
        c.text("service_code", code, 64);
        category_from_partner(tables, Scheme::Open311, code, None)
    });
    let point = coordinates(&mut c, opt("lat"), opt("long"));
    c.opt_text("address_string", opt("address_string"), 500);
    c.opt_text("address_id", opt("address_id"), 64);
    let located = ["lat", "long", "address_string", "address_id"]
        .iter()
        .any(|f| opt(f).is_some());
    if !located {
        c.fail(
            "address_string",
            "a location is required: lat and long, address_string or address_id",
        );
    }
    if let Some(email) = opt("email") {
        check_email(&mut c, "email", email);
    }
    c.opt_text("device_id", opt("device_id"), 64);
    c.opt_text("account_id", opt("account_id"), 64);
    c.opt_text("first_name", opt("first_name"), 50);
    c.opt_text("last_name", opt("last_name"), 50);
    c.phone("phone", opt("phone"));
    let description = c.required_text("description", get("description"), MAX_DESCRIPTION);
    if let Some(url) = opt("media_url") {
        c.url("media_url", url);
    }
    let attr = |code: &str| attributes.get(code).copied().filter(|v| !v.is_empty());
    for code in PROPERTY_ATTRIBUTES {
        let max = if code == "community" { 100 } else { 50 };
        c.opt_text(&format!("attribute[{code}]"), attr(code), max);
    }
    if attr("community").is_none()
        && let Some(other) = PROPERTY_ATTRIBUTES[1..].iter().find(|a| attr(a).is_some())
    {
        c.fail(
            "attribute[community]",
            format!("is required with attribute[{other}]"),
        );
    }
    for (code, value) in &attributes {
        if !PROPERTY_ATTRIBUTES.contains(code) {
            c.text(&format!("attribute[{code}]"), value, 500);
        }
    }
    c.finish()?;
    let (Some(received_at), Some(category)) = (received_at, category) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };

    let (family, given) = (opt("last_name"), opt("first_name"));
    let name = match (family, given) {
        (Some(f), Some(g)) => Some(format!("{f}{g}")),
        (f, g) => f.or(g).map(str::to_owned),
    };
    let owned = |v: Option<&str>| v.map(str::to_owned);
    let mut extensions: BTreeMap<String, String> = [
        (EXT_JURISDICTION, opt("jurisdiction_id")),
        (EXT_ADDRESS_ID, opt("address_id")),
        (EXT_DEVICE_ID, opt("device_id")),
        (EXT_ACCOUNT_ID, opt("account_id")),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))
    .collect();
    for (code, value) in &attributes {
        if !PROPERTY_ATTRIBUTES.contains(code) && !value.is_empty() {
            extensions.insert(format!("{EXT_ATTRIBUTE_PREFIX}{code}"), (*value).to_owned());
        }
    }
    let location = (point.is_some() || opt("address_string").is_some()).then(|| Location {
        address: owned(opt("address_string")),
        division: None,
        point,
        source_point: point.map(|p| SourcePoint {
            datum: Datum::Wgs84,
            lon: p.lon,
            lat: p.lat,
        }),
    });
    let property = attr("community").map(|community| Property {
        community: community.to_owned(),
        building: owned(attr("building")),
        unit: owned(attr("unit")),
        room: owned(attr("room")),
        ..Property::default()
    });
    Ok(Ticket {
        // No client ticket id exists: the gateway sets the hand-off id.
        origin_ticket_id: String::new(),
        origin_partner: None,
        origin_division: None,
        handoff_id: None,
        target_partner: None,
        received_at,
        channel: None,
        urgency: Urgency::Normal,
        title: category_title(tables, &category),
        category,
        description,
        caller: Caller {
            anonymous: false,
            name,
            family_name: owned(family),
            given_name: owned(given),
            phone: owned(opt("phone")),
            email: owned(opt("email")),
        },
        location,
        target: None,
        reason: None,
        enterprise: None,
        property,
        attachments: opt("media_url")
            .map(|url| Attachment {
                name: None,
                url: url.to_owned(),
                sha256: None,
            })
            .into_iter()
            .collect(),
        call_ref: None,
        notes: None,
        ack_by: None,
        resolve_by: None,
        history: Vec::new(),
        extensions,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "form_tests.rs"]
mod tests;
