//! pu-json: repair orders in a property unit's inbox (central-government and
//! military compounds). JSON, UTF-8, RFC 3339 times. The unit pulls: the
//! gateway writes orders, the liaison posts acks and status updates.
//!
//! Decisions where formats.md is silent (each also named at its function):
//! - pu has no notes field. Fields with no place in an order go to the
//!   loss report and are appended to `problem.description` after one blank
//!   line, one `label(field): value` line each (the ticket's own notes are
//!   the line `备注(notes): …`), so the liaison reads them under the
//!   description. Decoding keeps the description exactly as written.
//! - pu has no title: decoding sets the title to `problem.label`; encoding
//!   writes no title when it equals the label written, else it is a lost
//!   field (`标题(title): …`).
//! - `problem.category` is a catalogue code. A code the catalogue lacks is
//!   not an error: it decodes as `other` with the code kept as
//!   `SourceCode{scheme: "catalogue", unmapped: true}` and goes back as sent.
//! - `property.owner_kind`, `unit_id` and `community` are required; when the
//!   ticket has not been routed yet, encoding takes them from the compound
//!   registry (`compounds.csv`); if no compound matches, the order is
//!   refused naming the field.
//! - The ack body may be empty (no `unit_ref`); the status body's `by` is
//!   required. Status bodies carry no hand-off reference (it is in the URL):
//!   decoding leaves `handoff_id` and `ticket_id` unset and encoding does not
//!   count them as lost.
//! - Errors use the same RFC 9457 problem details as ent-json (served as
//!   `application/problem+json`): a liaison's script reads `status`,
//!   `detail` and `errors[].field` the same way on both JSON APIs.

mod order;

pub use order::{decode_ticket, encode_ticket};

use schemas::{Status, StatusUpdate, Tables};
use serde::{Deserialize, Serialize};

use crate::common::{Check, Encoded, Loss};
use crate::error::{Error, FieldError};
use crate::{json, time};

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PuStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

/// The states a liaison reports.
const STATES: [(&str, Status); 4] = [
    ("accepted", Status::Accepted),
    ("returned", Status::Rejected),
    ("in_progress", Status::InProgress),
    ("resolved", Status::Resolved),
];

/// Decodes and validates a liaison's status body `{state, at, by,
/// reason_code?, comment?}` (`POST /pu/v1/orders/{order_id}/status`). The
/// hand-off is named by the URL, so `handoff_id` stays unset.
pub fn decode_status(bytes: &[u8], _tables: &Tables) -> Result<StatusUpdate, Error> {
    let s: PuStatus = json::parse(bytes)?;
    let mut c = Check::new();
    let status = c.required("state", s.state.as_deref()).and_then(|v| {
        let found = STATES.iter().find(|(k, _)| *k == v).map(|(_, s)| *s);
        if found.is_none() {
            let hint = match v {
                "rejected" => " (a return is \"returned\")",
                "received" | "delivered" => " (receipt is reported by POST .../ack)",
                "closed" | "expired" | "overdue" => " (only the origin or the gateway sets it)",
                _ => "",
            };
            c.fail(
                "state",
                format!(
                    "must be one of accepted, returned, in_progress, resolved; got \"{v}\"{hint}"
                ),
            );
        }
        found
    });
    let at = c.rfc3339("at", s.at.as_deref());
    if let Some(by) = c.required("by", s.by.as_deref()) {
        c.text("by", by, 100);
    }
    c.opt_text("reason_code", s.reason_code.as_deref(), 32);
    c.opt_text("comment", s.comment.as_deref(), 4000);
    c.finish()?;
    let (Some(status), Some(at)) = (status, at) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(StatusUpdate {
        handoff_id: None,
        ticket_id: None,
        status,
        at,
        by: s.by,
        reason_code: s.reason_code,
        comment: s.comment,
        satisfaction: None,
        extensions: Default::default(),
    })
}

/// Encodes a status body. Only the liaison's states exist (`accepted`,
/// `returned` for rejected, `in_progress`, `resolved`); any other status, or
/// one without `by`, is refused naming the field. A satisfaction and any
/// extensions go into `comment` as `label(field): value` lines.
pub fn encode_status(s: &StatusUpdate, _tables: &Tables) -> Result<Encoded, Error> {
    let Some(state) = STATES.iter().find(|(_, v)| *v == s.status).map(|(k, _)| *k) else {
        return Err(Error::Unrepresentable {
            field: "state".into(),
            reason: format!(
                "a pu-json status is accepted, returned, in_progress or resolved; '{}' has no pu state",
                s.status.as_str()
            ),
        });
    };
    let Some(by) = s.by.clone() else {
        return Err(Error::Unrepresentable {
            field: "by".into(),
            reason: "a pu-json status names who reports it; the update has no 'by'".into(),
        });
    };
    let mut loss = Loss::new();
    if let Some(sat) = s.satisfaction {
        let value = match sat {
            schemas::Satisfaction::Satisfied => "satisfied",
            schemas::Satisfaction::BasicallySatisfied => "basically_satisfied",
            schemas::Satisfaction::Unsatisfied => "unsatisfied",
        };
        loss.lose("satisfaction", "满意度", value);
    }
    for (k, v) in &s.extensions {
        loss.lose_extension(k, v);
    }
    let out = PuStatus {
        state: Some(state.to_owned()),
        at: Some(time::format_rfc3339(&s.at)),
        by: Some(by),
        reason_code: s.reason_code.clone(),
        comment: loss.notes(s.comment.as_deref()),
    };
    Ok(Encoded {
        bytes: json::write(&out),
        loss: loss.into_report(),
    })
}

/// Decodes the body of `POST /pu/v1/orders/{order_id}/ack`,
/// `{"unit_ref": "its own id"?}`: the unit's own id, when it gives one. An
/// empty body is an ack without `unit_ref`.
pub fn decode_ack(bytes: &[u8]) -> Result<Option<String>, Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ack {
        unit_ref: Option<String>,
    }
    json::check_size(bytes)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let a: Ack = json::parse(bytes)?;
    let mut c = Check::new();
    if a.unit_ref.is_some() {
        c.id("unit_ref", a.unit_ref.as_deref(), 64);
    }
    c.finish()?;
    Ok(a.unit_ref)
}

/// The unit's reply to a delivery is its ack: see [`decode_ack`].
pub fn decode_delivery_reply(bytes: &[u8]) -> Result<Option<String>, Error> {
    decode_ack(bytes)
}

/// The error reply: RFC 9457 problem details like ent-json's
/// (`{type, title, status, detail, errors: [{field, reason}]}`).
pub fn encode_error(status: u16, message: &str, errors: &[FieldError]) -> Vec<u8> {
    crate::ent::problem_details(status, message, errors)
}

#[derive(Serialize)]
struct Receipt<'a> {
    order_id: &'a str,
    audit_seq: u64,
}

/// The 2xx reply to a liaison's ack or status post: `{"order_id",
/// "audit_seq"}` (property units never submit tickets).
pub fn encode_receipt(handoff_id: &str, audit_seq: u64) -> Vec<u8> {
    json::write(&Receipt {
        order_id: handoff_id,
        audit_seq,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
