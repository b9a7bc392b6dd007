//! ent-json: the Beijing enterprise service hotline. JSON, UTF-8,
//! snake_case, RFC 3339 times with an offset, no coordinates.
//!
//! Decisions where formats.md is silent (each also named at its constant or
//! function):
//! - `priority` and `topic` are not marked required: an absent `priority`
//!   reads as [`DEFAULT_URGENCY`], an absent `topic` as the catalogue's
//!   `other` with no source code. `channel` is optional both ways.
//! - Lengths: `ticket_id` and `gateway_ref` ≤ 64, `summary` ≤ 200, `detail`
//!   ≤ 8000, `notes` ≤ 8000 (room for the lines of lost fields), names ≤ 50,
//!   e-mail ≤ 254, `enterprise.name` ≤ 200.
//! - `address` is written when the ticket has an address or a division; a
//!   division without address text gets [`DEFAULT_ADDRESS`]. Coordinates,
//!   which ent lacks, become the lost field `location.point` (WGS-84).
//! - The ticket's origin partner, target partner, property, call reference,
//!   deadlines, history and extensions have no ent field: they are lost
//!   fields, written into `notes` after the ticket's own notes.
//! - ent has no anonymous flag: an anonymous caller is written without
//!   `contact`, and only the flag itself (`caller.anonymous: true`, nothing
//!   personal) goes to the loss report and `notes`.
//! - `route.to` is `"12345"` ([`HUB`]) for the Beijing platform, else a
//!   division code; a transfer to [`HUB_DIVISION`] is written as `"12345"`.
//! - Status updates need both `gateway_ref` and `ticket_id` (the table marks
//!   neither optional); encoding one without either is refused.
//! - Errors are RFC 9457 problem details with a `tag:` type URI per HTTP
//!   status ([`problem_type`]).

mod ticket;

pub use ticket::{
    DEFAULT_ADDRESS, DEFAULT_URGENCY, HUB, HUB_DIVISION, decode_ticket, encode_ticket,
};
pub(crate) use ticket::{lose_name_parts, lose_point};

use schemas::{Satisfaction, Status, StatusUpdate, Tables};
use serde::{Deserialize, Serialize};

use crate::common::{Check, Encoded, Loss};
use crate::error::{Error, FieldError};
use crate::{json, time};

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EntStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_id: Option<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    satisfaction: Option<String>,
}

const STATES: [(&str, Status); 8] = [
    ("received", Status::Received),
    ("delivered", Status::Delivered),
    ("accepted", Status::Accepted),
    ("returned", Status::Rejected),
    ("in_progress", Status::InProgress),
    ("resolved", Status::Resolved),
    ("closed", Status::Closed),
    ("overdue", Status::Expired),
];

const SATISFACTION: [(&str, Satisfaction); 3] = [
    ("satisfied", Satisfaction::Satisfied),
    ("basically_satisfied", Satisfaction::BasicallySatisfied),
    ("unsatisfied", Satisfaction::Unsatisfied),
];

/// Decodes and validates a status update
/// `{gateway_ref, ticket_id, state, at, by?, reason_code?, comment?, satisfaction?}`.
pub fn decode_status(bytes: &[u8], _tables: &Tables) -> Result<StatusUpdate, Error> {
    let s: EntStatus = json::parse(bytes)?;
    let mut c = Check::new();
    if let Some(r) = c.required("gateway_ref", s.gateway_ref.as_deref()) {
        c.text("gateway_ref", r, 64);
    }
    let ticket_id = c.id("ticket_id", s.ticket_id.as_deref(), 64);
    let status = c.required("state", s.state.as_deref()).and_then(|v| {
        let found = STATES.iter().find(|(k, _)| *k == v).map(|(_, s)| *s);
        if found.is_none() {
            c.fail(
                "state",
                format!("must be one of received delivered accepted returned in_progress resolved closed overdue; got \"{v}\""),
            );
        }
        found
    });
    let at = c.rfc3339("at", s.at.as_deref());
    c.opt_text("by", s.by.as_deref(), 100);
    c.opt_text("reason_code", s.reason_code.as_deref(), 32);
    c.opt_text("comment", s.comment.as_deref(), 4000);
    let satisfaction = s.satisfaction.as_deref().and_then(|v| {
        let found = SATISFACTION.iter().find(|(k, _)| *k == v).map(|(_, s)| *s);
        if found.is_none() {
            c.fail(
                "satisfaction",
                format!("must be satisfied, basically_satisfied or unsatisfied; got \"{v}\""),
            );
        }
        found
    });
    c.finish()?;
    let (Some(status), Some(at)) = (status, at) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(StatusUpdate {
        handoff_id: s.gateway_ref,
        ticket_id: Some(ticket_id),
        status,
        at,
        by: s.by,
        reason_code: s.reason_code,
        comment: s.comment,
        satisfaction,
        extensions: Default::default(),
    })
}

/// Encodes a status update. Extensions go into `comment` as `label: value`
/// lines; a status without its hand-off reference or ticket id is refused
/// (`gateway_ref`, `ticket_id`: the format requires both).
pub fn encode_status(s: &StatusUpdate, _tables: &Tables) -> Result<Encoded, Error> {
    let Some(gateway_ref) = s.handoff_id.clone() else {
        return Err(Error::Unrepresentable {
            field: "gateway_ref".into(),
            reason: "an ent-json status names its hand-off; the update has no hand-off id".into(),
        });
    };
    let Some(ticket_id) = s.ticket_id.clone() else {
        return Err(Error::Unrepresentable {
            field: "ticket_id".into(),
            reason: "an ent-json status names the ticket; the update has no ticket id".into(),
        });
    };
    let mut loss = Loss::new();
    for (k, v) in &s.extensions {
        loss.lose_extension(k, v);
    }
    let out = EntStatus {
        gateway_ref: Some(gateway_ref),
        ticket_id: Some(ticket_id),
        state: STATES
            .iter()
            .find(|(_, v)| *v == s.status)
            .map(|(k, _)| (*k).to_owned()),
        at: Some(time::format_rfc3339(&s.at)),
        by: s.by.clone(),
        reason_code: s.reason_code.clone(),
        comment: loss.notes(s.comment.as_deref()),
        satisfaction: s.satisfaction.and_then(|v| {
            SATISFACTION
                .iter()
                .find(|(_, x)| *x == v)
                .map(|(k, _)| (*k).to_owned())
        }),
    };
    Ok(Encoded {
        bytes: json::write(&out),
        loss: loss.into_report(),
    })
}

/// The tag URI authority every problem type of the gateway uses.
pub const PROBLEM_TYPE_PREFIX: &str = "tag:jjj12345.example,2025:problems/";

/// The RFC 9457 `type` and `title` for an HTTP status: `validation` for
/// 400, as the sample shows, and a name of the same form for the others.
pub fn problem_type(status: u16) -> (String, &'static str) {
    let (name, title) = match status {
        400 => ("validation", "请求数据校验失败"),
        401 => ("unauthenticated", "未通过身份认证"),
        403 => ("forbidden", "无权执行此操作"),
        404 => ("not-found", "工单或交接不存在"),
        405 => ("method-not-allowed", "不支持的请求方法"),
        406 => ("not-acceptable", "无法提供所要求的格式"),
        409 => ("conflict", "重复提交的内容与首次提交不一致"),
        413 => ("too-large", "请求体超过大小限制"),
        415 => ("unsupported-media-type", "不支持的内容类型"),
        429 => ("rate-limited", "请求过于频繁，请稍后重试"),
        503 => ("unavailable", "服务暂不可用，请稍后重试"),
        _ if (400..500).contains(&status) => ("bad-request", "请求无法处理"),
        _ => ("server-error", "网关内部错误"),
    };
    (format!("{PROBLEM_TYPE_PREFIX}{name}"), title)
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    errors: Vec<FieldErrorBody<'a>>,
}

#[derive(Serialize)]
struct FieldErrorBody<'a> {
    field: &'a str,
    reason: &'a str,
}

/// RFC 9457 problem details `{type, title, status, detail, errors:
/// [{field, reason}]}` (also used by pu-json). `errors` is always present,
/// empty when no field is to blame.
pub(crate) fn problem_details(status: u16, message: &str, errors: &[FieldError]) -> Vec<u8> {
    let (kind, title) = problem_type(status);
    json::write(&Problem {
        kind,
        title,
        status,
        detail: message,
        errors: errors
            .iter()
            .map(|e| FieldErrorBody {
                field: &e.field,
                reason: &e.reason,
            })
            .collect(),
    })
}

/// The error reply: RFC 9457 problem details, served as
/// `application/problem+json`; `message` becomes `detail`.
pub fn encode_error(status: u16, message: &str, errors: &[FieldError]) -> Vec<u8> {
    problem_details(status, message, errors)
}

#[derive(Serialize)]
struct Receipt<'a> {
    gateway_ref: &'a str,
    audit_seq: u64,
}

/// The 202 reply to a submission: `{"gateway_ref", "audit_seq"}`.
pub fn encode_receipt(handoff_id: &str, audit_seq: u64) -> Vec<u8> {
    json::write(&Receipt {
        gateway_ref: handoff_id,
        audit_seq,
    })
}

/// The partner's reply to a delivery, `{"ticket_id": "<its own id>"}`: its
/// own ticket id, when it gives one (other keys are ignored).
pub fn decode_delivery_reply(bytes: &[u8]) -> Result<Option<String>, Error> {
    #[derive(Deserialize)]
    struct Reply {
        ticket_id: Option<String>,
    }
    let r: Reply = json::parse(bytes)?;
    Ok(r.ticket_id.filter(|id| !id.trim().is_empty()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
