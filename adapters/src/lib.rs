//! The format adapters: pure translators between the partners' wire formats
//! and the canonical ticket (see `schemas`).
//!
//! Every family has `decode_*` (bytes → canonical, with validation) and
//! `encode_*` (canonical → bytes, with a [`LossReport`]), its error reply and
//! its receipt. Adapters do no I/O, read no clock and keep no state: the
//! tables, the hand-off id and any time they need are passed in.
#![forbid(unsafe_code)]

pub mod bj;
mod canonical;
mod common;
pub mod ent;
mod error;
pub mod geo;
pub mod hb;
pub mod ident;
pub mod json;
pub mod open311;
pub mod pu;
mod swar;
pub mod time;
pub mod tj;
pub mod xml;
mod xmlwire;

use std::fmt;
use std::str::FromStr;

pub use common::{Encoded, LossReport, LostField};
pub use error::{Error, FieldError};
use schemas::{StatusUpdate, Tables, Ticket};

/// A wire format family. Exhaustive on purpose: code that dispatches on the
/// family must say what it does with a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Beijing 12345: JSON, camelCase, local time, GCJ-02.
    BjJson,
    /// Tianjin 12345: XML, RFC 3339, WGS-84.
    TjXml,
    /// The Hebei hotlines: SOAP 1.1, GB18030, local time, BD-09.
    HbSoap,
    /// The enterprise service hotline: JSON, snake_case, RFC 3339.
    EntJson,
    /// Property units' repair orders: JSON, RFC 3339.
    PuJson,
    /// Open311 GeoReport v2, JSON representation.
    Open311Json,
    /// Open311 GeoReport v2, XML representation.
    Open311Xml,
    /// The gateway's canonical model as JSON.
    Canonical,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 8] = [
        Family::BjJson,
        Family::TjXml,
        Family::HbSoap,
        Family::EntJson,
        Family::PuJson,
        Family::Open311Json,
        Family::Open311Xml,
        Family::Canonical,
    ];

    /// The name used on the command line and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::BjJson => "bj-json",
            Family::TjXml => "tj-xml",
            Family::HbSoap => "hb-soap",
            Family::EntJson => "ent-json",
            Family::PuJson => "pu-json",
            Family::Open311Json => "open311-json",
            Family::Open311Xml => "open311-xml",
            Family::Canonical => "canonical",
        }
    }

    /// The Content-Type of this family's messages.
    pub fn content_type(self) -> &'static str {
        match self {
            Family::BjJson
            | Family::EntJson
            | Family::PuJson
            | Family::Open311Json
            | Family::Canonical => "application/json",
            Family::TjXml | Family::Open311Xml => "application/xml",
            Family::HbSoap => "text/xml; charset=GB18030",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = String;

    fn from_str(s: &str) -> Result<Family, String> {
        Family::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Family::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown format family '{s}'; one of {}", names.join(", "))
            })
    }
}

/// Decodes a ticket in `family`, validating it.
pub fn decode_ticket(family: Family, bytes: &[u8], tables: &Tables) -> Result<Ticket, Error> {
    match family {
        Family::BjJson => bj::decode_ticket(bytes, tables),
        Family::TjXml => tj::decode_ticket(bytes, tables),
        Family::HbSoap => hb::decode_ticket(bytes, tables),
        Family::EntJson => ent::decode_ticket(bytes, tables),
        Family::PuJson => pu::decode_ticket(bytes, tables),
        Family::Open311Json => open311::decode_ticket(open311::Syntax::Json, bytes, tables),
        Family::Open311Xml => open311::decode_ticket(open311::Syntax::Xml, bytes, tables),
        Family::Canonical => canonical::decode_ticket(bytes),
    }
}

/// Encodes a ticket in `family`.
pub fn encode_ticket(family: Family, ticket: &Ticket, tables: &Tables) -> Result<Encoded, Error> {
    match family {
        Family::BjJson => bj::encode_ticket(ticket, tables),
        Family::TjXml => tj::encode_ticket(ticket, tables),
        Family::HbSoap => hb::encode_ticket(ticket, tables),
        Family::EntJson => ent::encode_ticket(ticket, tables),
        Family::PuJson => pu::encode_ticket(ticket, tables),
        Family::Open311Json => open311::encode_ticket(open311::Syntax::Json, ticket, tables),
        Family::Open311Xml => open311::encode_ticket(open311::Syntax::Xml, ticket, tables),
        Family::Canonical => Ok(canonical::encode(ticket)),
    }
}

/// Decodes a status update in `family`, validating it.
pub fn decode_status(family: Family, bytes: &[u8], tables: &Tables) -> Result<StatusUpdate, Error> {
    match family {
        Family::BjJson => bj::decode_status(bytes, tables),
        Family::TjXml => tj::decode_status(bytes, tables),
        Family::HbSoap => hb::decode_status(bytes, tables),
        Family::EntJson => ent::decode_status(bytes, tables),
        Family::PuJson => pu::decode_status(bytes, tables),
        Family::Open311Json => open311::decode_status(open311::Syntax::Json, bytes, tables),
        Family::Open311Xml => open311::decode_status(open311::Syntax::Xml, bytes, tables),
        Family::Canonical => canonical::decode_status(bytes),
    }
}

/// Encodes a status update in `family`.
pub fn encode_status(
    family: Family,
    status: &StatusUpdate,
    tables: &Tables,
) -> Result<Encoded, Error> {
    match family {
        Family::BjJson => bj::encode_status(status, tables),
        Family::TjXml => tj::encode_status(status, tables),
        Family::HbSoap => hb::encode_status(status, tables),
        Family::EntJson => ent::encode_status(status, tables),
        Family::PuJson => pu::encode_status(status, tables),
        Family::Open311Json => open311::encode_status(open311::Syntax::Json, status, tables),
        Family::Open311Xml => open311::encode_status(open311::Syntax::Xml, status, tables),
        Family::Canonical => Ok(canonical::encode(status)),
    }
}

/// The body of an error reply in `family`'s own error format. `status` is
/// the HTTP status the reply goes with; `message` a one-line summary.
pub fn encode_error(family: Family, status: u16, message: &str, errors: &[FieldError]) -> Vec<u8> {
    match family {
        Family::BjJson => bj::encode_error(status, message, errors),
        Family::TjXml => tj::encode_error(status, message, errors),
        Family::HbSoap => hb::encode_error(status, message, errors),
        Family::EntJson => ent::encode_error(status, message, errors),
        Family::PuJson => pu::encode_error(status, message, errors),
        Family::Open311Json => {
            open311::encode_error(open311::Syntax::Json, status, message, errors)
        }
        Family::Open311Xml => open311::encode_error(open311::Syntax::Xml, status, message, errors),
        Family::Canonical => canonical::encode_error(status, message, errors),
    }
}

/// The Content-Type of an error reply in `family`.
pub fn error_content_type(family: Family) -> &'static str {
    match family {
        Family::EntJson | Family::PuJson => "application/problem+json",
        other => other.content_type(),
    }
}

/// The body of the reply to an accepted submission (HTTP 202; hb-soap's
/// SOAP response), naming the hand-off and its audit sequence number.
pub fn encode_receipt(family: Family, handoff_id: &str, audit_seq: u64) -> Vec<u8> {
    match family {
        Family::BjJson => bj::encode_receipt(handoff_id, audit_seq),
        Family::TjXml => tj::encode_receipt(handoff_id, audit_seq),
        Family::HbSoap => hb::encode_receipt(handoff_id, audit_seq),
        Family::EntJson => ent::encode_receipt(handoff_id, audit_seq),
        Family::PuJson => pu::encode_receipt(handoff_id, audit_seq),
        Family::Open311Json => {
            open311::encode_receipt(open311::Syntax::Json, handoff_id, audit_seq)
        }
        Family::Open311Xml => open311::encode_receipt(open311::Syntax::Xml, handoff_id, audit_seq),
        Family::Canonical => canonical::encode_receipt(handoff_id, audit_seq),
    }
}

/// The target's own ticket id from its reply to a delivery, when it gives
/// one; an error when the reply says the delivery failed.
pub fn decode_delivery_reply(family: Family, bytes: &[u8]) -> Result<Option<String>, Error> {
    match family {
        Family::BjJson => bj::decode_delivery_reply(bytes),
        Family::TjXml => tj::decode_delivery_reply(bytes),
        Family::HbSoap => hb::decode_delivery_reply(bytes),
        Family::EntJson => ent::decode_delivery_reply(bytes),
        Family::PuJson => pu::decode_delivery_reply(bytes),
        Family::Open311Json => open311::decode_delivery_reply(open311::Syntax::Json, bytes),
        Family::Open311Xml => open311::decode_delivery_reply(open311::Syntax::Xml, bytes),
        Family::Canonical => Ok(None),
    }
}
