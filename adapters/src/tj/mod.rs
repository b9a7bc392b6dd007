//! tj-xml: Tianjin 12345. XML 1.0, UTF-8, namespace `urn:tj12345:appeal:1`,
//! PascalCase elements, RFC 3339 times with an offset, WGS-84 coordinates.
//!
//! Input is checked like an XSD sequence would check it: the root element
//! and namespace, every child in the namespace, known, at most once and in
//! the documented order, leaves holding text only, no unknown attribute.
//! Every value error is collected and named by its element path
//! (`Citizen.Phone`, `Place.Point.lon`, `Attachments.Attachment[0].href`).
//!
//! Decisions where formats.md is silent (documented defaults):
//! - `Priority` absent means [`DEFAULT_PRIORITY`]; `Category` absent means
//!   the catalogue's `other` with no source code (and a bare `other` is
//!   written without a `Category`, so A → A stays exact); `Source` absent
//!   means no channel.
//! - `FromHotline` is the ticket's origin division, else the division of its
//!   origin partner's hotline, else [`DEFAULT_FROM_HOTLINE`]; an origin
//!   partner the written division does not name is recorded as lost.
//!   Decoding sets the origin partner only from an exact registry lookup of
//!   `FromHotline` (`Hotlines::by_division`).
//! - `ToHotline` carries a hotline target; the hub target is written as
//!   [`HUB_DIVISION`]; enterprise and property targets have no place and are
//!   recorded as lost (the reason still travels in `TransferReason`).
//! - A status update names the hand-off by `GatewayRef` or `AppealId`; at
//!   least one is required (the same rule as bj-json).
//! - The error reply lists one `<Field>` per distinct failing field; the
//!   reasons follow the message in `<Message>` as `field: reason`.

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
mod ticket;

use schemas::{Satisfaction, Status, StatusUpdate, Tables, Urgency};

use crate::common::{Check, Encoded, Loss};
use crate::error::{Error, FieldError};
use crate::time;
use crate::xml::{self, Charset, Doc, Node, Writer};
use crate::xmlwire::{self, Children, Shape, code_of, enumerated};

pub use ticket::{decode_ticket, encode_ticket};

/// The tj-xml namespace.
pub const NS: &str = "urn:tj12345:appeal:1";
/// `FromHotline` written when the ticket names neither an origin division
/// nor an origin partner with a hotline: the Beijing hub, through which the
/// gateway sends.
pub const DEFAULT_FROM_HOTLINE: &str = "110000";
/// `ToHotline` written for the hub target (the Beijing 12345 platform).
pub const HUB_DIVISION: &str = "110000";
/// `Place/Address` written when the ticket has a location without an
/// address (tj requires one in `Place`).
pub const DEFAULT_ADDRESS: &str = "未提供";
/// The urgency of an appeal without `Priority`.
pub const DEFAULT_PRIORITY: Urgency = Urgency::Normal;

const STATES: [(&str, Status); 8] = [
    ("RECEIVED", Status::Received),
    ("DELIVERED", Status::Delivered),
    ("ACCEPTED", Status::Accepted),
    ("RETURNED", Status::Rejected),
    ("HANDLING", Status::InProgress),
    ("RESOLVED", Status::Resolved),
    ("CLOSED", Status::Closed),
    ("OVERDUE", Status::Expired),
];

const SATISFACTION: [(&str, Satisfaction); 3] = [
    ("SATISFIED", Satisfaction::Satisfied),
    ("BASIC", Satisfaction::BasicallySatisfied),
    ("UNSATISFIED", Satisfaction::Unsatisfied),
];

/// `AppealStatus` children, in their order.
const APPEAL_STATUS: Shape = Shape {
    names: &[
        "GatewayRef",
        "AppealId",
        "State",
        "At",
        "By",
        "ReasonCode",
        "Comment",
        "Satisfaction",
    ],
    nested: &[],
    ordered: true,
};

/// `Ack` children: the gateway's receipt and a partner's delivery reply.
const ACK: Shape = Shape {
    names: &["GatewayRef", "AuditSeq", "AppealId"],
    nested: &[],
    ordered: false,
};

/// The root element of a document, which must be `root` in the tj
/// namespace.
fn root_named<'d>(doc: &'d Doc<'_>, root: &str) -> Result<Node<'d>, Error> {
    let el = doc.root();
    xmlwire::expect_root(el, root, NS)?;
    Ok(el)
}

/// Decodes and validates an `<AppealStatus>`.
pub fn decode_status(bytes: &[u8], _tables: &Tables) -> Result<StatusUpdate, Error> {
    let text = xml::decode_body(bytes, Charset::Utf8)?;
    let doc = xml::parse_doc(&text)?;
    let root = root_named(&doc, "AppealStatus")?;
    let mut c = Check::new();
    xmlwire::attrs(&mut c, root, "AppealStatus", &[]);
    let f = Children::read(&mut c, root, "", NS, &APPEAL_STATUS);
    let gateway_ref = f.string("GatewayRef");
    c.opt_text("GatewayRef", gateway_ref.as_deref(), 64);
    let appeal_id = f.text("AppealId");
    let ticket_id = appeal_id.map(|_| c.id("AppealId", appeal_id, 32));
    let state = f.text("State");
    let status = c
        .required("State", state)
        .and_then(|v| enumerated(&mut c, "State", Some(v), &STATES));
    let at = c.rfc3339("At", f.text("At"));
    let by = f.string("By");
    c.opt_text("By", by.as_deref(), 100);
    let reason_code = f.string("ReasonCode");
    c.opt_text("ReasonCode", reason_code.as_deref(), 32);
    let comment = f.string("Comment");
    c.opt_text("Comment", comment.as_deref(), 2000);
    let satisfaction = f.text("Satisfaction");
    let satisfaction = enumerated(&mut c, "Satisfaction", satisfaction, &SATISFACTION);
    if gateway_ref.is_none() && appeal_id.is_none() {
        c.fail(
            "GatewayRef",
            "GatewayRef or AppealId is required to name the hand-off",
        );
    }
    c.finish()?;
    let (Some(status), Some(at)) = (status, at) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(StatusUpdate {
        handoff_id: gateway_ref,
        ticket_id,
        status,
        at,
        by,
        reason_code,
        comment,
        satisfaction,
        extensions: Default::default(),
    })
}

/// Encodes a status update as an `<AppealStatus>`. Extensions have no
/// place and go into `Comment`.
pub fn encode_status(s: &StatusUpdate, _tables: &Tables) -> Result<Encoded, Error> {
    let mut loss = Loss::new();
    for (k, v) in &s.extensions {
        loss.lose_extension(k, v);
    }
    let mut w = Writer::new(Charset::Utf8);
    w.open("AppealStatus", &[("xmlns", NS)]);
    w.opt("GatewayRef", s.handoff_id.as_deref());
    w.opt("AppealId", s.ticket_id.as_deref());
    w.text("State", &[], code_of(&STATES, s.status));
    w.text("At", &[], &time::format_rfc3339(&s.at));
    w.opt("By", s.by.as_deref());
    w.opt("ReasonCode", s.reason_code.as_deref());
    w.opt("Comment", loss.notes(s.comment.as_deref()).as_deref());
    w.opt(
        "Satisfaction",
        s.satisfaction.map(|v| code_of(&SATISFACTION, v)),
    );
    Ok(Encoded {
        bytes: w.finish_bytes(Charset::Utf8),
        loss: loss.into_report(),
    })
}

/// The error reply: `<Fault>` with `Code` (the HTTP status), `Message` (the
/// message, then every reason it does not already say, as `field: reason`)
/// and one `Field` per distinct failing field.
pub fn encode_error(status: u16, message: &str, errors: &[FieldError]) -> Vec<u8> {
    let mut w = Writer::new(Charset::Utf8);
    w.open("Fault", &[("xmlns", NS)]);
    w.text("Code", &[], &status.to_string());
    w.text("Message", &[], &xmlwire::error_text(message, errors));
    for field in xmlwire::error_fields(errors) {
        w.text("Field", &[], field);
    }
    w.finish_bytes(Charset::Utf8)
}

/// The 202 reply to a submission: `<Ack>` with `GatewayRef` and `AuditSeq`.
pub fn encode_receipt(handoff_id: &str, audit_seq: u64) -> Vec<u8> {
    let mut w = Writer::new(Charset::Utf8);
    w.open("Ack", &[("xmlns", NS)]);
    w.text("GatewayRef", &[], handoff_id);
    w.text("AuditSeq", &[], &audit_seq.to_string());
    w.finish_bytes(Charset::Utf8)
}

/// A partner's reply to a delivery, `<Ack><AppealId>…</AppealId></Ack>`
/// (for test partners and simulators).
pub fn encode_delivery_reply(appeal_id: &str) -> Vec<u8> {
    let mut w = Writer::new(Charset::Utf8);
    w.open("Ack", &[("xmlns", NS)]);
    w.text("AppealId", &[], appeal_id);
    w.finish_bytes(Charset::Utf8)
}

/// The partner's reply to a delivery: its own ticket id (`AppealId`), when
/// it gives one. A `<Fault>` reply is an error naming its `Field`.
pub fn decode_delivery_reply(bytes: &[u8]) -> Result<Option<String>, Error> {
    let text = xml::decode_body(bytes, Charset::Utf8)?;
    let doc = xml::parse_doc(&text)?;
    let root = doc.root();
    if root.name() == "Fault" && root.ns() == Some(NS) {
        let text = |name: &str| root.child(name).map_or("", Node::text);
        let field = Some(text("Field")).filter(|f| !f.is_empty());
        return Err(Error::invalid(
            field.unwrap_or("Fault"),
            format!(
                "the partner answered Fault {}: {}",
                text("Code"),
                text("Message")
            ),
        ));
    }
    xmlwire::expect_root(root, "Ack", NS)?;
    let mut c = Check::new();
    xmlwire::attrs(&mut c, root, "Ack", &[]);
    let f = Children::read(&mut c, root, "", NS, &ACK);
    let id = f.text("AppealId");
    let id = id.map(|_| c.id("AppealId", id, 32));
    c.finish()?;
    Ok(id)
}
