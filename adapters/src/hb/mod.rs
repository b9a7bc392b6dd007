//! hb-soap: the Hebei 12345 hotlines. SOAP 1.1, GB18030 bytes declared in
//! the XML declaration, namespace `urn:hebei12345:ws`, pinyin-initial
//! element names, `yyyyMMddHHmmss` Beijing times, BD-09 coordinates.
//!
//! The operation (`PushWorkOrder` or `PushFeedback`) is the one element in
//! `soap:Body`; `soap:Header/AuthHeader/SenderCode` names the sending
//! hotline. The operation's children must be in the operation namespace,
//! with any prefix. Every child is known and appears at most once (formats.md
//! gives no order for hb-soap, so any order is accepted; the gateway writes
//! the order of the table). Value errors are collected and named by the
//! element (`LDDH`, `SFNM`, `FJ.FJXX[0].DZ`). Bytes that are not valid
//! GB18030, or a declaration naming another encoding, are refused.
//!
//! Decisions where formats.md is silent (documented defaults):
//! - `JJCD` absent means normal; `FLDM` absent means the catalogue's
//!   `other` with no source code (written back without `FLDM`); `SFNM`
//!   absent means not anonymous.
//! - `SenderCode` of a `PushWorkOrder` is the ticket's origin division, and
//!   its origin partner is the hotline registered under exactly that code.
//!   Writing, it is the origin division, else the division of the origin
//!   partner's hotline, else [`DEFAULT_SENDER_CODE`] (an origin partner the
//!   code does not name is recorded as lost).
//! - `SenderCode` of a `PushFeedback` is kept in the status update's
//!   extensions under [`SENDER_CODE_EXTENSION`] and written back from there,
//!   else [`DEFAULT_SENDER_CODE`].
//! - `SJDZ` is required: a ticket without an address gets
//!   [`DEFAULT_ADDRESS`].
//! - `MBCS` carries a hotline target; the hub target is written as
//!   `110000`; enterprise and property targets have no place and are
//!   recorded as lost (the reason still travels in `ZYYY`).
//! - Urgency `high` is written as `JJCD` `0` and recorded as lost.
//! - The response has only FHDM, FHXX and WGBH (formats.md), so the work
//!   order receipt's audit sequence number travels in FHXX's free text:
//!   `接收成功（审计序号 N）`; a feedback receipt's FHXX is the sample's
//!   [`RECEIPT_MESSAGE`].
//! - A Fault's `detail` holds one `CWZD` per distinct failing field; the
//!   reasons follow the message in `faultstring` as `field: reason`.
//! - A status update names the hand-off by `WGBH` or `GDBH`; at least one
//!   is required (the same rule as bj-json).

mod envelope;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
mod ticket;

use schemas::{Satisfaction, Status, StatusUpdate, Tables};

use crate::common::{Check, Encoded, Loss};
use crate::error::{Error, FieldError};
use crate::xml::{self, Charset, Node};
use crate::xmlwire::{self, Children, Shape, code_of, enumerated};
use crate::{ident, time};

pub use envelope::{Operation, decode_envelope_operation};
pub use ticket::{decode_ticket, encode_ticket};

use envelope::{open_envelope, read_operation};

/// The SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The hb-soap namespace of the header and the operations.
pub const NS: &str = "urn:hebei12345:ws";
/// `SenderCode` written when the message names no sending hotline: the
/// Beijing hub, through which the gateway sends.
pub const DEFAULT_SENDER_CODE: &str = "110000";
/// The status-update extension that keeps a `PushFeedback`'s `SenderCode`.
pub const SENDER_CODE_EXTENSION: &str = "hb.sender_code";
/// `SJDZ` written when the ticket has no address (hb requires one).
pub const DEFAULT_ADDRESS: &str = "未提供";
/// `FHXX` of the gateway's successful responses.
pub const RECEIPT_MESSAGE: &str = "接收成功";

const STATES: [(&str, Status); 8] = [
    ("01", Status::Received),
    ("02", Status::Accepted),
    ("03", Status::Rejected),
    ("04", Status::InProgress),
    ("05", Status::Resolved),
    ("06", Status::Closed),
    ("07", Status::Expired),
    ("08", Status::Delivered),
];

const SATISFACTION: [(&str, Satisfaction); 3] = [
    ("1", Satisfaction::Satisfied),
    ("2", Satisfaction::BasicallySatisfied),
    ("3", Satisfaction::Unsatisfied),
];

const FEEDBACK: Shape = Shape {
    names: &["WGBH", "GDBH", "ZT", "CLSJ", "CLR", "THYY", "CLYJ", "MYD"],
    nested: &[],
    ordered: false,
};

const RESPONSE: Shape = Shape {
    names: &["FHDM", "FHXX", "WGBH", "GDBH"],
    nested: &[],
    ordered: false,
};

/// Decodes and validates a `PushFeedback`. Its `SenderCode` is kept in
/// `extensions["hb.sender_code"]`.
pub fn decode_status(bytes: &[u8], _tables: &Tables) -> Result<StatusUpdate, Error> {
    let text = xml::decode_body(bytes, Charset::Gb18030)?;
    let doc = xml::parse_doc(&text)?;
    let mut c = Check::new();
    let (_, op, sender) = read_operation(&mut c, doc.root(), Some(Operation::PushFeedback))?;
    let f = Children::read(&mut c, op, "", NS, &FEEDBACK);
    let handoff_id = f.string("WGBH");
    c.opt_text("WGBH", handoff_id.as_deref(), 64);
    let gdbh = f.text("GDBH");
    let ticket_id = gdbh.map(|_| c.id("GDBH", gdbh, 32));
    let status = c
        .required("ZT", f.text("ZT"))
        .and_then(|v| enumerated(&mut c, "ZT", Some(v), &STATES));
    let at = c
        .required("CLSJ", f.text("CLSJ"))
        .and_then(|v| c.take("CLSJ", time::parse_compact(v)));
    let by = f.string("CLR");
    c.opt_text("CLR", by.as_deref(), 100);
    let reason_code = f.string("THYY");
    c.opt_text("THYY", reason_code.as_deref(), 32);
    let comment = f.string("CLYJ");
    c.opt_text("CLYJ", comment.as_deref(), 2000);
    let satisfaction = enumerated(&mut c, "MYD", f.text("MYD"), &SATISFACTION);
    if handoff_id.is_none() && gdbh.is_none() {
        c.fail("WGBH", "WGBH or GDBH is required to name the hand-off");
    }
    c.finish()?;
    let (Some(status), Some(at), Some(sender)) = (status, at, sender) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(StatusUpdate {
        handoff_id,
        ticket_id,
        status,
        at,
        by,
        reason_code,
        comment,
        satisfaction,
        extensions: [(SENDER_CODE_EXTENSION.to_owned(), sender.to_owned())].into(),
    })
}

/// Encodes a status update as a `PushFeedback`. `SenderCode` comes from
/// `extensions["hb.sender_code"]` (default [`DEFAULT_SENDER_CODE`]); other
/// extensions have no place and go into `CLYJ`.
pub fn encode_status(s: &StatusUpdate, _tables: &Tables) -> Result<Encoded, Error> {
    let mut loss = Loss::new();
    let mut sender = DEFAULT_SENDER_CODE;
    for (k, v) in &s.extensions {
        if k == SENDER_CODE_EXTENSION {
            sender = v;
        } else {
            loss.lose_extension(k, v);
        }
    }
    ident::check_division(sender).map_err(|reason| Error::Unrepresentable {
        field: "SenderCode".into(),
        reason: format!("extension {SENDER_CODE_EXTENSION} '{sender}' {reason}"),
    })?;
    let mut w = open_envelope(Some(sender));
    w.open("PushFeedback", &[("xmlns", NS)]);
    w.opt("WGBH", s.handoff_id.as_deref());
    w.opt("GDBH", s.ticket_id.as_deref());
    w.text("ZT", &[], code_of(&STATES, s.status));
    w.text("CLSJ", &[], &time::format_compact(&s.at));
    w.opt("CLR", s.by.as_deref());
    w.opt("THYY", s.reason_code.as_deref());
    w.opt("CLYJ", loss.notes(s.comment.as_deref()).as_deref());
    w.opt("MYD", s.satisfaction.map(|v| code_of(&SATISFACTION, v)));
    Ok(Encoded {
        bytes: w.finish_bytes(Charset::Gb18030),
        loss: loss.into_report(),
    })
}

/// The error reply: a SOAP 1.1 Fault. `faultcode` is `soap:Client` for a
/// 4xx status and `soap:Server` otherwise; `faultstring` is the message,
/// then every reason it does not already say, as `field: reason`;
/// `detail` holds one `CWZD` per distinct failing field.
pub fn encode_error(status: u16, message: &str, errors: &[FieldError]) -> Vec<u8> {
    let mut w = open_envelope(None);
    w.open("soap:Fault", &[]);
    let code = if (400..500).contains(&status) {
        "soap:Client"
    } else {
        "soap:Server"
    };
    w.text("faultcode", &[], code);
    w.text("faultstring", &[], &xmlwire::error_text(message, errors));
    let fields = xmlwire::error_fields(errors);
    if !fields.is_empty() {
        w.open("detail", &[]);
        for field in fields {
            w.text("CWZD", &[("xmlns", NS)], field);
        }
        w.close();
    }
    w.finish_bytes(Charset::Gb18030)
}

fn response(operation: &'static str, id_name: &str, id: &str, message: &str) -> Vec<u8> {
    let mut w = open_envelope(None);
    w.open(operation, &[("xmlns", NS)]);
    w.text("FHDM", &[], "0");
    w.text("FHXX", &[], message);
    w.text(id_name, &[], id);
    w.finish_bytes(Charset::Gb18030)
}

/// The reply to an accepted `PushWorkOrder`: `PushWorkOrderResponse` with
/// FHDM `0`, FHXX `接收成功（审计序号 N）` (the audit sequence number of the
/// hand-off's `received` leaf) and WGBH.
pub fn encode_receipt(handoff_id: &str, audit_seq: u64) -> Vec<u8> {
    let message = format!("{RECEIPT_MESSAGE}（审计序号 {audit_seq}）");
    response("PushWorkOrderResponse", "WGBH", handoff_id, &message)
}

/// The reply to an accepted `PushFeedback`: `PushFeedbackResponse` with
/// FHDM `0`, FHXX [`RECEIPT_MESSAGE`] and WGBH.
pub fn encode_feedback_receipt(handoff_id: &str) -> Vec<u8> {
    response("PushFeedbackResponse", "WGBH", handoff_id, RECEIPT_MESSAGE)
}

/// A partner's reply to a delivered `PushWorkOrder`, with its own ticket id
/// in GDBH (for test partners and simulators).
pub fn encode_delivery_reply(gdbh: &str) -> Vec<u8> {
    response("PushWorkOrderResponse", "GDBH", gdbh, RECEIPT_MESSAGE)
}

/// The partner's reply to a delivery (`PushWorkOrderResponse` or
/// `PushFeedbackResponse`): its own ticket id in GDBH, when it gives one.
/// FHDM other than `0`, or a SOAP Fault, is an error.
pub fn decode_delivery_reply(bytes: &[u8]) -> Result<Option<String>, Error> {
    let text = xml::decode_body(bytes, Charset::Gb18030)?;
    let doc = xml::parse_doc(&text)?;
    let body = envelope::body_element(doc.root())?;
    if body.name() == "Fault" && body.ns() == Some(SOAP_NS) {
        let text = |name: &str| body.child(name).map_or("", Node::text);
        let field = body
            .child("detail")
            .and_then(|d| d.child("CWZD"))
            .map(Node::text)
            .filter(|f| !f.is_empty());
        return Err(Error::invalid(
            field.unwrap_or("soap:Fault"),
            format!(
                "the partner answered a Fault {}: {}",
                text("faultcode"),
                text("faultstring")
            ),
        ));
    }
    let known = ["PushWorkOrderResponse", "PushFeedbackResponse"];
    if body.ns() != Some(NS) || !known.contains(&body.name()) {
        return Err(Error::invalid(
            "soap:Body",
            format!(
                "expected PushWorkOrderResponse or PushFeedbackResponse in namespace {NS}; got <{}>",
                body.name()
            ),
        ));
    }
    let mut c = Check::new();
    let f = Children::read(&mut c, body, "", NS, &RESPONSE);
    let code = c.required("FHDM", f.text("FHDM"));
    let gdbh = f.text("GDBH");
    let id = gdbh.map(|_| c.id("GDBH", gdbh, 32));
    c.finish()?;
    if let Some(code) = code.filter(|c| *c != "0") {
        return Err(Error::invalid(
            "FHDM",
            format!(
                "the partner answered FHDM {code}: {}",
                f.text("FHXX").unwrap_or("")
            ),
        ));
    }
    Ok(id)
}
