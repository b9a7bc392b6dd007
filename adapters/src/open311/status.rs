//! Status updates: a one-element service-request representation holding
//! `service_request_id`, `status`, `status_notes` and `updated_datetime`.

use schemas::{Satisfaction, Status, StatusUpdate, Tables};

use super::wire::{OutStatus, read_one, write_list};
use super::{MAX_DESCRIPTION, Syntax, WITHHELD, open_or_closed};
use crate::common::{Check, Encoded, Loss};
use crate::error::Error;
use crate::time;

fn satisfaction_text(s: Satisfaction) -> &'static str {
    match s {
        Satisfaction::Satisfied => "satisfied",
        Satisfaction::BasicallySatisfied => "basically_satisfied",
        Satisfaction::Unsatisfied => "unsatisfied",
    }
}

/// Splits `[state] comment` into the precise state and the comment; notes
/// without a state prefix are all comment.
fn split_prefix(notes: &str) -> (Option<Status>, Option<&str>) {
    let prefixed = notes
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(state, rest)| Status::parse(state).map(|s| (s, rest)));
    match prefixed {
        Some((state, rest)) => {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            (Some(state), Some(rest).filter(|r| !r.is_empty()))
        }
        None => (None, Some(notes).filter(|n| !n.is_empty())),
    }
}

/// Decodes and validates a status update. A full representation is read
/// too; only its status fields count.
pub fn decode_status(
    syntax: Syntax,
    bytes: &[u8],
    _tables: &Tables,
) -> Result<StatusUpdate, Error> {
    let r = read_one(syntax, bytes)?;
    let mut c = Check::new();
    let id = c.id("service_request_id", r.service_request_id.as_deref(), 64);
    let open = match c.required("status", r.status.as_deref()) {
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(other) => {
            c.fail(
                "status",
                format!("must be \"open\" or \"closed\"; got \"{other}\""),
            );
            None
        }
        None => None,
    };
    c.opt_text("status_notes", r.status_notes.as_deref(), MAX_DESCRIPTION);
    let (precise, comment) = r.status_notes.as_deref().map_or((None, None), split_prefix);
    let status = match (precise, open) {
        (Some(s), Some(open)) if (open_or_closed(s) == "open") != open => {
            c.fail(
                "status_notes",
                format!(
                    "[{}] contradicts status {}",
                    s.as_str(),
                    if open { "open" } else { "closed" }
                ),
            );
            None
        }
        (Some(s), _) => Some(s),
        (None, Some(true)) => Some(Status::InProgress),
        (None, Some(false)) => Some(Status::Closed),
        (None, None) => None,
    };
    let at = c.rfc3339("updated_datetime", r.updated_datetime.as_deref());
    c.finish()?;
    let (Some(status), Some(at)) = (status, at) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(StatusUpdate {
        handoff_id: Some(id),
        ticket_id: None,
        status,
        at,
        by: None,
        reason_code: None,
        comment: comment.map(str::to_owned),
        satisfaction: None,
        extensions: Default::default(),
    })
}

/// Encodes a status update. The hand-off id names the request; without one
/// the update cannot be written.
pub fn encode_status(syntax: Syntax, s: &StatusUpdate, _tables: &Tables) -> Result<Encoded, Error> {
    let Some(id) = s.handoff_id.clone() else {
        return Err(Error::Unrepresentable {
            field: "service_request_id".into(),
            reason: "the status update names no hand-off; Open311 names a request only by its \
                     service_request_id (the hand-off id)"
                .into(),
        });
    };
    let mut loss = Loss::new();
    if let Some(t) = s.ticket_id.as_deref().filter(|t| *t != id) {
        loss.lose("ticket_id", "工单号", t);
    }
    loss.lose_opt("reason_code", "退单原因代码", s.reason_code.as_deref());
    loss.lose_opt(
        "satisfaction",
        "满意度",
        s.satisfaction.map(satisfaction_text),
    );
    for (k, v) in &s.extensions {
        loss.lose_extension(k, v);
    }
    let mut notes = format!("[{}]", s.status.as_str());
    if let Some(text) = loss.notes(s.comment.as_deref()) {
        notes.push(' ');
        notes.push_str(&text);
    }
    let mut report = loss.into_report();
    if s.by.is_some() {
        report.push(&["by"], WITHHELD);
    }
    let out = OutStatus {
        service_request_id: id,
        status: open_or_closed(s.status),
        status_notes: notes,
        updated_datetime: time::format_rfc3339(&s.at),
    };
    Ok(Encoded {
        bytes: write_list(syntax, "service_requests", "request", &[out]),
        loss: report,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "status_tests.rs"]
mod tests;
