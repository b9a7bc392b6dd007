//! bj-json status updates, error replies, receipts and partners' replies.

use schemas::{Satisfaction, Status, StatusUpdate, Tables};
use serde::{Deserialize, Serialize};

use crate::common::{Check, Encoded, Loss};
use crate::error::{Error, FieldError};
use crate::{json, time};

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OrderStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    satisfaction: Option<String>,
}

const STATUSES: [(&str, Status); 8] = [
    ("RECEIVED", Status::Received),
    ("DELIVERED", Status::Delivered),
    ("ACCEPTED", Status::Accepted),
    ("REJECTED", Status::Rejected),
    ("PROCESSING", Status::InProgress),
    ("RESOLVED", Status::Resolved),
    ("CLOSED", Status::Closed),
    ("OVERDUE", Status::Expired),
];

const SATISFACTION: [(&str, Satisfaction); 3] = [
    ("1", Satisfaction::Satisfied),
    ("2", Satisfaction::BasicallySatisfied),
    ("3", Satisfaction::Unsatisfied),
];

/// Decodes and validates an `OrderStatus`.
pub fn decode_status(bytes: &[u8], _tables: &Tables) -> Result<StatusUpdate, Error> {
    let s: OrderStatus = json::parse(bytes)?;
    let mut c = Check::new();
    c.opt_text("gatewayRef", s.gateway_ref.as_deref(), 64);
    let ticket_id = s
        .order_no
        .as_deref()
        .map(|_| c.id("orderNo", s.order_no.as_deref(), 32));
    let status = c.required("status", s.status.as_deref()).and_then(|v| {
        let found = STATUSES.iter().find(|(k, _)| *k == v).map(|(_, s)| *s);
        if found.is_none() {
            c.fail(
                "status",
                format!("must be one of RECEIVED DELIVERED ACCEPTED REJECTED PROCESSING RESOLVED CLOSED OVERDUE; got \"{v}\""),
            );
        }
        found
    });
    let at = c
        .required("time", s.time.as_deref())
        .and_then(|t| c.take("time", time::parse_local(t)));
    c.opt_text("operator", s.operator.as_deref(), 100);
    c.opt_text("reasonCode", s.reason_code.as_deref(), 32);
    c.opt_text("note", s.note.as_deref(), 2000);
    let satisfaction = s.satisfaction.as_deref().and_then(|v| {
        let found = SATISFACTION.iter().find(|(k, _)| *k == v).map(|(_, s)| *s);
        if found.is_none() {
            c.fail(
                "satisfaction",
                format!("must be \"1\", \"2\" or \"3\"; got \"{v}\""),
            );
        }
        found
    });
    if s.gateway_ref.is_none() && s.order_no.is_none() {
        c.fail(
            "gatewayRef",
            "gatewayRef or orderNo is required to name the hand-off",
        );
    }
    c.finish()?;
    let (Some(status), Some(at)) = (status, at) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(StatusUpdate {
        handoff_id: s.gateway_ref,
        ticket_id,
        status,
        at,
        by: s.operator,
        reason_code: s.reason_code,
        comment: s.note,
        satisfaction,
        extensions: Default::default(),
    })
}

/// Encodes a status update as an `OrderStatus`.
pub fn encode_status(s: &StatusUpdate, _tables: &Tables) -> Result<Encoded, Error> {
    let mut loss = Loss::new();
    for (k, v) in &s.extensions {
        loss.lose_extension(k, v);
    }
    let status = STATUSES
        .iter()
        .find(|(_, v)| *v == s.status)
        .map(|(k, _)| (*k).to_owned());
    let out = OrderStatus {
        gateway_ref: s.handoff_id.clone(),
        order_no: s.ticket_id.clone(),
        status,
        time: Some(time::format_local(&s.at)),
        operator: s.by.clone(),
        reason_code: s.reason_code.clone(),
        note: loss.notes(s.comment.as_deref()),
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

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u16,
    msg: &'a str,
    errors: Vec<FieldErrorBody<'a>>,
}

#[derive(Serialize)]
struct FieldErrorBody<'a> {
    field: &'a str,
    reason: &'a str,
}

/// The error reply: `{"code": <HTTP status>, "msg", "errors": [{field, reason}]}`.
pub fn encode_error(status: u16, message: &str, errors: &[FieldError]) -> Vec<u8> {
    json::write(&ErrorBody {
        code: status,
        msg: message,
        errors: errors
            .iter()
            .map(|e| FieldErrorBody {
                field: &e.field,
                reason: &e.reason,
            })
            .collect(),
    })
}

/// The 202 reply to a submission, in the sample's key order.
pub fn encode_receipt(handoff_id: &str, audit_seq: u64) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        gateway_ref: &'a str,
        audit_seq: u64,
    }
    #[derive(Serialize)]
    struct Reply<'a> {
        code: u8,
        msg: &'a str,
        data: Data<'a>,
    }
    json::write(&Reply {
        code: 0,
        msg: "accepted",
        data: Data {
            gateway_ref: handoff_id,
            audit_seq,
        },
    })
}

/// The partner's reply to a delivery: its own ticket id, when it gives one.
pub fn decode_delivery_reply(bytes: &[u8]) -> Result<Option<String>, Error> {
    #[derive(Deserialize)]
    struct Reply {
        code: Option<i64>,
        data: Option<ReplyData>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ReplyData {
        order_no: Option<String>,
    }
    let r: Reply = json::parse(bytes)?;
    if let Some(code) = r.code.filter(|c| *c != 0) {
        return Err(Error::invalid(
            "code",
            format!("the partner answered code {code}"),
        ));
    }
    Ok(r.data.and_then(|d| d.order_no))
}
