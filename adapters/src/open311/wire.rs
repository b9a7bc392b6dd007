//! The service-request representation on the wire, in both syntaxes: what
//! `GET requests/{id}.json|xml` returns (a one-element array, or
//! `<service_requests><request>…`), read strictly and written in the
//! samples' exact layout.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::Syntax;
use crate::error::Error;
use crate::xml::{Charset, Node, Writer};
use crate::{geo, json, xml};

/// One `request` as read. Every value is kept as the text it was sent as
/// (ids and coordinates may come as JSON numbers) so the mapping collects
/// every value error at once.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Request {
    pub service_request_id: Option<String>,
    pub status: Option<String>,
    pub status_notes: Option<String>,
    pub service_name: Option<String>,
    pub service_code: Option<String>,
    pub description: Option<String>,
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub requested_datetime: Option<String>,
    pub updated_datetime: Option<String>,
    pub expected_datetime: Option<String>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub media_url: Option<String>,
}

/// The JSON reading of one request: `deny_unknown_fields` names a stray
/// key; ids and coordinates are strings or numbers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    #[serde(default)]
    service_request_id: Option<serde_json::Value>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    status_notes: Option<String>,
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    service_code: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    agency_responsible: Option<String>,
    #[serde(default)]
    service_notice: Option<String>,
    #[serde(default)]
    requested_datetime: Option<String>,
    #[serde(default)]
    updated_datetime: Option<String>,
    #[serde(default)]
    expected_datetime: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    address_id: Option<String>,
    #[serde(default)]
    zipcode: Option<String>,
    #[serde(default)]
    lat: Option<serde_json::Value>,
    #[serde(default)]
    long: Option<serde_json::Value>,
    #[serde(default)]
    media_url: Option<String>,
}

/// A JSON string or number as text; anything else is refused.
fn scalar(field: &str, v: Option<serde_json::Value>) -> Result<Option<String>, Error> {
    match v {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(Error::invalid(
            field,
            format!("must be a string or a number; got {other}"),
        )),
    }
}

/// Drops the `[0].` index `serde_path_to_error` puts before a field, so
/// errors name the Open311 field itself.
fn strip_index(e: Error) -> Error {
    fn strip(field: String) -> String {
        let field = match field.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((_, rest)) => rest.trim_start_matches('.').to_owned(),
            None => field,
        };
        // `?` is serde_path_to_error's unknown position (e.g. at EOF).
        if field.is_empty() || field == "?" {
            "body".to_owned()
        } else {
            field
        }
    }
    match e {
        Error::Invalid(errors) => Error::Invalid(
            errors
                .into_iter()
                .map(|mut f| {
                    f.field = strip(f.field);
                    f
                })
                .collect(),
        ),
        Error::Duplicate { field } => Error::Duplicate {
            field: strip(field),
        },
        Error::Syntax {
            syntax,
            field,
            detail,
        } => Error::Syntax {
            syntax,
            field: strip(field),
            detail,
        },
        other => other,
    }
}

fn read_json(bytes: &[u8]) -> Result<Vec<Request>, Error> {
    let list: Vec<JsonRequest> = json::parse(bytes).map_err(strip_index)?;
    list.into_iter()
        .map(|j| {
            Ok(Request {
                service_request_id: scalar("service_request_id", j.service_request_id)?,
                status: j.status,
                status_notes: j.status_notes,
                service_name: j.service_name,
                service_code: j.service_code,
                description: j.description,
                agency_responsible: j.agency_responsible,
                service_notice: j.service_notice,
                requested_datetime: j.requested_datetime,
                updated_datetime: j.updated_datetime,
                expected_datetime: j.expected_datetime,
                address: j.address,
                address_id: j.address_id,
                zipcode: j.zipcode,
                lat: scalar("lat", j.lat)?,
                long: scalar("long", j.long)?,
                media_url: j.media_url,
            })
        })
        .collect()
}

/// The children of a list element, each a flat record of text fields;
/// unknown, nested and repeated fields are refused by name.
pub(super) fn xml_records<'a>(
    root: Node<'a>,
    list: &str,
    item: &str,
) -> Result<Vec<Node<'a>>, Error> {
    if root.name() != list {
        return Err(Error::invalid(
            list,
            format!("the root element is <{}>; expected <{list}>", root.name()),
        ));
    }
    if !xml::is_blank(root.text()) {
        return Err(Error::invalid(list, "must hold elements only, not text"));
    }
    root.children()
        .map(|c| {
            if c.name() == item {
                Ok(c)
            } else {
                Err(Error::invalid(
                    c.name(),
                    format!("is not allowed in <{list}>; only <{item}> is"),
                ))
            }
        })
        .collect()
}

fn read_xml(bytes: &[u8]) -> Result<Vec<Request>, Error> {
    let text = xml::decode_body(bytes, Charset::Utf8)?;
    let doc = xml::parse_doc(&text)?;
    let mut out = Vec::new();
    for el in xml_records(doc.root(), "service_requests", "request")? {
        let mut r = Request::default();
        for f in el.children() {
            if f.children().next().is_some() {
                return Err(Error::invalid(f.name(), "must hold text only"));
            }
            let slot = match f.name() {
                "service_request_id" => &mut r.service_request_id,
                "status" => &mut r.status,
                "status_notes" => &mut r.status_notes,
                "service_name" => &mut r.service_name,
                "service_code" => &mut r.service_code,
                "description" => &mut r.description,
                "agency_responsible" => &mut r.agency_responsible,
                "service_notice" => &mut r.service_notice,
                "requested_datetime" => &mut r.requested_datetime,
                "updated_datetime" => &mut r.updated_datetime,
                "expected_datetime" => &mut r.expected_datetime,
                "address" => &mut r.address,
                "address_id" => &mut r.address_id,
                "zipcode" => &mut r.zipcode,
                "lat" => &mut r.lat,
                "long" => &mut r.long,
                "media_url" => &mut r.media_url,
                other => {
                    return Err(Error::invalid(
                        other,
                        "is not a field of a GeoReport v2 service request",
                    ));
                }
            };
            if el.children().filter(|c| c.name() == f.name()).count() > 1 {
                return Err(Error::Duplicate {
                    field: f.name().to_owned(),
                });
            }
            // An empty element is XML's null (the samples write null so).
            *slot = Some(f.text()).filter(|t| !t.is_empty()).map(str::to_owned);
        }
        out.push(r);
    }
    Ok(out)
}

/// Reads a list of service requests.
pub(super) fn read_requests(syntax: Syntax, bytes: &[u8]) -> Result<Vec<Request>, Error> {
    match syntax {
        Syntax::Json => read_json(bytes),
        Syntax::Xml => read_xml(bytes),
    }
}

/// Reads the one service request of a `GET requests/{id}` body.
pub(super) fn read_one(syntax: Syntax, bytes: &[u8]) -> Result<Request, Error> {
    let mut list = read_requests(syntax, bytes)?;
    match (list.pop(), list.is_empty()) {
        (Some(r), true) => Ok(r),
        (found, _) => Err(Error::invalid(
            "service_requests",
            format!(
                "must hold exactly one service request; got {}",
                list.len() + usize::from(found.is_some())
            ),
        )),
    }
}

/// One full service request as written: every field, null when empty,
/// in the order of the standard and the samples. Borrows what the ticket
/// holds as it is written (most of the fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct OutRequest<'a> {
    pub service_request_id: Option<&'a str>,
    pub status: &'a str,
    pub status_notes: Option<&'a str>,
    pub service_name: Option<String>,
    pub service_code: String,
    pub description: String,
    pub agency_responsible: Option<&'a str>,
    pub service_notice: Option<&'a str>,
    pub requested_datetime: String,
    pub updated_datetime: Option<Cow<'a, str>>,
    pub expected_datetime: Option<String>,
    pub address: Option<&'a str>,
    pub address_id: Option<&'a str>,
    pub zipcode: Option<&'a str>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub media_url: Option<&'a str>,
}

/// A status update as written: the request id and the status fields only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct OutStatus {
    pub service_request_id: String,
    pub status: &'static str,
    pub status_notes: String,
    pub updated_datetime: String,
}

/// The reply to `POST requests`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct OutReceipt {
    pub service_request_id: String,
    pub service_notice: String,
    pub account_id: Option<String>,
}

/// A record written as XML: its fields in order, `None` for null.
pub(super) trait XmlRecord {
    /// Writes the fields in order, null as an empty element.
    fn write_xml(&self, w: &mut Writer);
}

/// Writes a record's fields, `None` as an empty element.
pub(super) fn write_fields(w: &mut Writer, fields: &[(&str, Option<Cow<'_, str>>)]) {
    for (name, value) in fields {
        w.text(name, &[], value.as_deref().unwrap_or(""));
    }
}

/// A text field, borrowed.
fn text(v: &Option<String>) -> Option<Cow<'_, str>> {
    v.as_deref().map(Cow::Borrowed)
}

impl XmlRecord for OutRequest<'_> {
    /// Written straight from the request, without a list of its fields:
    /// it is the record every ticket sent to Open311 writes.
    fn write_xml(&self, w: &mut Writer) {
        let text = |w: &mut Writer, name: &str, v: Option<&str>| {
            w.text(name, &[], v.unwrap_or(""));
        };
        let coord = |w: &mut Writer, name: &str, v: Option<f64>| match v {
            Some(v) => w.text(name, &[], &geo::format_coord(v)),
            None => w.text(name, &[], ""),
        };
        text(w, "service_request_id", self.service_request_id);
        w.text("status", &[], self.status);
        text(w, "status_notes", self.status_notes);
        text(w, "service_name", self.service_name.as_deref());
        w.text("service_code", &[], &self.service_code);
        w.text("description", &[], &self.description);
        text(w, "agency_responsible", self.agency_responsible);
        text(w, "service_notice", self.service_notice);
        w.text("requested_datetime", &[], &self.requested_datetime);
        text(w, "updated_datetime", self.updated_datetime.as_deref());
        text(w, "expected_datetime", self.expected_datetime.as_deref());
        text(w, "address", self.address);
        text(w, "address_id", self.address_id);
        text(w, "zipcode", self.zipcode);
        coord(w, "lat", self.lat);
        coord(w, "long", self.long);
        text(w, "media_url", self.media_url);
    }
}

impl XmlRecord for OutStatus {
    fn write_xml(&self, w: &mut Writer) {
        write_fields(
            w,
            &[
                (
                    "service_request_id",
                    Some(self.service_request_id.as_str().into()),
                ),
                ("status", Some(self.status.into())),
                ("status_notes", Some(self.status_notes.as_str().into())),
                (
                    "updated_datetime",
                    Some(self.updated_datetime.as_str().into()),
                ),
            ],
        );
    }
}

impl XmlRecord for OutReceipt {
    fn write_xml(&self, w: &mut Writer) {
        write_fields(
            w,
            &[
                (
                    "service_request_id",
                    Some(self.service_request_id.as_str().into()),
                ),
                ("service_notice", Some(self.service_notice.as_str().into())),
                ("account_id", text(&self.account_id)),
            ],
        );
    }
}

/// Pretty JSON with the samples' trailing newline.
pub(super) fn write_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = json::write(value);
    out.push(b'\n');
    out
}

/// A list of records: a JSON array, or `<list><item>…</item></list>` with
/// null written as an empty element (as the samples do).
pub(super) fn write_list<T: Serialize + XmlRecord>(
    syntax: Syntax,
    list: &'static str,
    item: &'static str,
    records: &[T],
) -> Vec<u8> {
    match syntax {
        Syntax::Json => write_json(&records),
        Syntax::Xml => {
            let mut w = Writer::new(Charset::Utf8);
            w.open(list, &[]);
            for r in records {
                w.open(item, &[]);
                r.write_xml(&mut w);
                w.close();
            }
            w.finish_bytes(Charset::Utf8)
        }
    }
}
