//! open311: Open311 GeoReport v2, JSON and XML (chosen by the URL suffix).
//! UTF-8, RFC 3339 times with an offset, WGS-84 coordinates, `service_code`
//! = `open311_code` of `categories.csv`. JSON containers are arrays.
//!
//! Messages:
//! - the `application/x-www-form-urlencoded` body of `POST requests`
//!   ([`decode_post`], or [`decode_ticket`] with the translate-tool
//!   convention below);
//! - the service-request representation, what `GET requests/{id}.json|xml`
//!   returns: a one-element JSON array or `<service_requests><request>…`
//!   ([`decode_ticket`], [`encode_ticket`]; lists: [`encode_requests`]);
//! - a status update: a one-element representation holding only
//!   `service_request_id`, `status`, `status_notes` and `updated_datetime`
//!   ([`decode_status`], [`encode_status`]);
//! - the reply to `POST requests` ([`encode_receipt`],
//!   [`decode_delivery_reply`]), the error list ([`encode_error`]) and the
//!   service list and definitions ([`encode_services`],
//!   [`encode_service_definition`]).
//!
//! Decisions where the standard and the spec are silent:
//! - POST → ticket: `api_key` is a credential and is dropped (the gateway
//!   checks it before decoding); `jurisdiction_id`, `address_id`,
//!   `device_id`, `account_id` and attributes other than the property ones
//!   are kept as extensions ([`EXT_JURISDICTION`], ...,
//!   `open311.attribute.<code>`). `attribute[community|building|unit|room]`
//!   is the ticket's property. `last_name` is the family name, `first_name`
//!   the given name, and the full name is family + given name without a
//!   space (Chinese order). Open311 has no title: the title is the
//!   category's label (`service_name`). The body carries no time of
//!   receipt: [`decode_post`] takes it from the caller; [`decode_ticket`]
//!   accepts a form only with the non-standard field `requested_datetime`
//!   (the translate tool's convention) and otherwise names that field.
//!   There is no client ticket id either: `origin_ticket_id` is left empty
//!   and the gateway sets it to the hand-off id it assigns (the
//!   `service_request_id` it answers with). No channel is invented; the
//!   urgency is normal. An empty form value counts as absent (HTML forms
//!   send unfilled fields); a location is required (lat and long, or
//!   address_string, or address_id), as the standard says.
//! - Representation → ticket: `service_request_id` is the hand-off id and
//!   also the origin ticket id (an Open311 requester knows its request by
//!   no other id); `status`, `status_notes`, `updated_datetime`,
//!   `service_notice`, `address_id` and `zipcode` are kept as extensions so
//!   A → A is exact; `agency_responsible` is the target partner,
//!   `expected_datetime` the answer deadline (`resolve_by`), `media_url` the
//!   one attachment.
//! - Ticket → representation: the representation is public (GeoReport v2
//!   `GET requests` needs no key), so it never holds personal data: the
//!   caller's name, phone and e-mail and the `device_id` / `account_id`
//!   extensions are listed in the loss report with the value
//!   [`WITHHELD`] and written nowhere. Other fields without a place are
//!   appended to `description` after a blank line, one `label(field): value`
//!   line each, except for tickets that came from Open311 (category source
//!   scheme `open311`): their requester sees the description as sent, and
//!   what the gateway added (routing, deadlines, the POST's attributes) is
//!   in the loss report only. `service_request_id` is the hand-off id, null
//!   before one is assigned (a translation outside a hand-off; the Open311
//!   schema wants a string there, so only such output fails it). `status`,
//!   `status_notes` and `updated_datetime` come from the extensions, else
//!   from the last history entry, else `status` is [`DEFAULT_STATUS`] and
//!   the others null; `service_notice`, `address_id` and `zipcode` from the extensions,
//!   else null. A description that would pass 4000 characters is refused.
//! - Status: `open` for received, delivered, accepted and in_progress;
//!   `closed` for resolved, closed, rejected and expired (formats.md).
//!   `status_notes` starts with the precise canonical state in brackets,
//!   `[in_progress] comment`, so nothing is lost; reading a status without
//!   the prefix gives in_progress for `open` and closed for `closed`.
//!   `by` may name a person and is reported only (withheld); the reason
//!   code, satisfaction, a ticket id other than the hand-off id and
//!   extensions are appended to `status_notes` as lines.
//! - Errors: the standard list, one `{code, description}` per field error
//!   with the field first (`service_code: …`); with no field errors, one
//!   error holding the message. `code` repeats the HTTP status.
//! - Receipt: the standard POST reply `[{service_request_id, service_notice,
//!   account_id}]`; `service_notice` carries the audit sequence number as
//!   `已受理，审计序号 <n>` ([`RECEIPT_NOTICE`]); `account_id` is null.

mod form;
mod loss;
mod services;
mod status;
mod ticket;
mod wire;

use schemas::{Point, Status, Tables, Ticket};

pub use self::form::decode_post;
pub use self::services::{PROPERTY_ROOT, SERVICE_TYPE, encode_service_definition, encode_services};
pub use self::status::{decode_status, encode_status};
use self::wire::{OutReceipt, write_json, write_list};
use crate::common::{Check, Encoded, LossReport};
use crate::error::{Error, FieldError};
use crate::xml::{self, Charset, Writer};

/// JSON or XML representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `.json`
    Json,
    /// `.xml`
    Xml,
}

/// Extension holding the representation's `status` (`open`/`closed`).
pub const EXT_STATUS: &str = "open311.status";
/// Extension holding the representation's `status_notes`.
pub const EXT_STATUS_NOTES: &str = "open311.status_notes";
/// Extension holding the representation's `updated_datetime`, as sent.
pub const EXT_UPDATED: &str = "open311.updated_datetime";
/// Extension holding the representation's `service_notice`.
pub const EXT_SERVICE_NOTICE: &str = "open311.service_notice";
/// Extension holding `address_id` (POST and representation).
pub const EXT_ADDRESS_ID: &str = "open311.address_id";
/// Extension holding the representation's `zipcode`.
pub const EXT_ZIPCODE: &str = "open311.zipcode";
/// Extension holding the POST's `jurisdiction_id`.
pub const EXT_JURISDICTION: &str = "open311.jurisdiction_id";
/// Extension holding the POST's `device_id` (personal: never written out).
pub const EXT_DEVICE_ID: &str = "open311.device_id";
/// Extension holding the POST's `account_id` (personal: never written out).
pub const EXT_ACCOUNT_ID: &str = "open311.account_id";
/// Prefix of the extensions holding service attributes other than the
/// property ones: `open311.attribute.<code>`.
pub const EXT_ATTRIBUTE_PREFIX: &str = "open311.attribute.";

/// `status` written when the ticket has neither an `open311.status`
/// extension nor a history.
pub const DEFAULT_STATUS: &str = "open";
/// The loss-report value of personal data the public representation
/// leaves out.
pub const WITHHELD: &str = "(personal data withheld)";
/// Longest description (the Open311 schema's `maxLength`), in code points.
pub const MAX_DESCRIPTION: usize = 4000;
/// Start of the receipt's `service_notice`, followed by a space and the
/// audit sequence number.
pub const RECEIPT_NOTICE: &str = "已受理，审计序号";

/// `open` or `closed` for a canonical status (formats.md: closed =
/// resolved, closed, rejected or expired).
pub fn open_or_closed(status: Status) -> &'static str {
    match status {
        Status::Received | Status::Delivered | Status::Accepted | Status::InProgress => "open",
        Status::Resolved | Status::Closed | Status::Rejected | Status::Expired => "closed",
    }
}

fn parse_coord(c: &mut Check, field: &str, v: &str, limit: f64) -> Option<f64> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && (-limit..=limit).contains(&x) => Some(x),
        Ok(_) => {
            c.fail(field, format!("{v} is not within -{limit}..{limit}"));
            None
        }
        Err(_) => {
            c.fail(field, format!("'{v}' is not a number"));
            None
        }
    }
}

/// `lat`/`long` (WGS-84): both or neither.
fn coordinates(c: &mut Check, lat: Option<&str>, long: Option<&str>) -> Option<Point> {
    match (lat, long) {
        (Some(lat), Some(lon)) => {
            let lat = parse_coord(c, "lat", lat, 90.0);
            let lon = parse_coord(c, "long", lon, 180.0);
            Some(Point {
                lon: lon?,
                lat: lat?,
            })
        }
        (Some(_), None) => {
            c.fail("long", "is required with lat");
            None
        }
        (None, Some(_)) => {
            c.fail("lat", "is required with long");
            None
        }
        (None, None) => None,
    }
}

/// True when the body is a form rather than a representation.
fn is_form(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    !matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'[' | b'{' | b'<')
    )
}

/// Decodes and validates a service-request representation
/// (`GET requests/{id}`, one request), or a POST form body that carries the
/// non-standard `requested_datetime` (see the module documentation).
pub fn decode_ticket(syntax: Syntax, bytes: &[u8], tables: &Tables) -> Result<Ticket, Error> {
    if is_form(bytes) {
        return form::decode_form(bytes, None, tables);
    }
    let request = wire::read_one(syntax, bytes)?;
    ticket::decode_request(request, tables)
}

/// Encodes a ticket as its service-request representation (a one-element
/// list).
pub fn encode_ticket(syntax: Syntax, t: &Ticket, tables: &Tables) -> Result<Encoded, Error> {
    let (request, loss) = ticket::encode_request(t, tables)?;
    Ok(Encoded {
        bytes: write_list(syntax, "service_requests", "request", &[request]),
        loss,
    })
}

/// Encodes the reply to `GET requests`: every ticket's representation.
/// Loss-report fields are prefixed with the request's index (`[1].title`).
pub fn encode_requests(
    syntax: Syntax,
    tickets: &[Ticket],
    tables: &Tables,
) -> Result<Encoded, Error> {
    let mut requests = Vec::with_capacity(tickets.len());
    let mut loss = LossReport::default();
    for (i, t) in tickets.iter().enumerate() {
        let (request, lost) = ticket::encode_request(t, tables)?;
        requests.push(request);
        let prefix = format!("[{i}].");
        for f in lost.iter() {
            loss.push(&[&prefix, f.field], f.value);
        }
    }
    Ok(Encoded {
        bytes: write_list(syntax, "service_requests", "request", &requests),
        loss,
    })
}

#[derive(serde::Serialize)]
struct ErrorBody {
    code: u16,
    description: String,
}

/// The error reply: the standard list of `{code, description}` (XML
/// `<errors><error>…`), one per field error (`field: reason`), or one with
/// `message` when there are none.
pub fn encode_error(syntax: Syntax, status: u16, message: &str, errors: &[FieldError]) -> Vec<u8> {
    let list: Vec<ErrorBody> = if errors.is_empty() {
        vec![ErrorBody {
            code: status,
            description: message.to_owned(),
        }]
    } else {
        errors
            .iter()
            .map(|e| ErrorBody {
                code: status,
                description: e.to_string(),
            })
            .collect()
    };
    match syntax {
        Syntax::Json => write_json(&list),
        Syntax::Xml => {
            let mut w = Writer::new(Charset::Utf8);
            w.open("errors", &[]);
            for e in &list {
                w.open("error", &[]);
                w.text("code", &[], &e.code.to_string());
                w.text("description", &[], &e.description);
                w.close();
            }
            w.finish_bytes(Charset::Utf8)
        }
    }
}

/// The reply to `POST requests`: the standard
/// `[{service_request_id, service_notice, account_id}]`, with the audit
/// sequence number in `service_notice` ([`RECEIPT_NOTICE`]).
pub fn encode_receipt(syntax: Syntax, handoff_id: &str, audit_seq: u64) -> Vec<u8> {
    let receipt = OutReceipt {
        service_request_id: handoff_id.to_owned(),
        service_notice: format!("{RECEIPT_NOTICE} {audit_seq}"),
        account_id: None,
    };
    write_list(syntax, "service_requests", "request", &[receipt])
}

/// The partner's reply to `POST requests`: its `service_request_id` (string
/// or number), or `None` when it answers with a token only. An error list
/// is refused with the partner's errors.
pub fn decode_delivery_reply(syntax: Syntax, bytes: &[u8]) -> Result<Option<String>, Error> {
    let refused = |errors: Vec<String>| {
        Error::invalid(
            "errors",
            format!("the partner answered with errors: {}", errors.join("; ")),
        )
    };
    match syntax {
        Syntax::Json => {
            let v: serde_json::Value = crate::json::parse(bytes)?;
            let first = v.as_array().and_then(|a| a.first());
            let Some(first) = first.and_then(|f| f.as_object()) else {
                return Err(Error::invalid(
                    "body",
                    "expected a non-empty array of service requests",
                ));
            };
            if first.contains_key("code") && first.contains_key("description") {
                let list = v.as_array().into_iter().flatten();
                return Err(refused(
                    list.map(|e| format!("{} {}", e["code"], e["description"]))
                        .collect(),
                ));
            }
            match first.get("service_request_id") {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
                Some(other) => Err(Error::invalid(
                    "service_request_id",
                    format!("must be a string or a number; got {other}"),
                )),
            }
        }
        Syntax::Xml => {
            let text = xml::decode_body(bytes, Charset::Utf8)?;
            let doc = xml::parse_doc(&text)?;
            let root = doc.root();
            if root.name() == "errors" {
                return Err(refused(
                    root.children()
                        .map(|e| {
                            let text = |n| e.child(n).map_or("", |c| c.text());
                            format!("{} {}", text("code"), text("description"))
                        })
                        .collect(),
                ));
            }
            let first = wire::xml_records(root, "service_requests", "request")?
                .into_iter()
                .next()
                .ok_or_else(|| Error::invalid("service_requests", "holds no request"))?;
            Ok(first
                .child("service_request_id")
                .map(|e| e.text().trim().to_owned())
                .filter(|id| !id.is_empty()))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "testutil_tests.rs"]
pub(crate) mod testutil;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "tests.rs"]
mod tests;
