//! The canonical model as JSON: what `gateway translate --to canonical`
//! prints, and what the store keeps.

use schemas::{StatusUpdate, Ticket};
use serde::Serialize;

use crate::common::{Encoded, LossReport};
use crate::error::{Error, FieldError};
use crate::json;

/// Parses a canonical ticket.
pub fn decode_ticket(bytes: &[u8]) -> Result<Ticket, Error> {
    json::parse(bytes)
}

/// Parses a canonical status update.
pub fn decode_status(bytes: &[u8]) -> Result<StatusUpdate, Error> {
    json::parse(bytes)
}

/// Writes a canonical value; nothing is ever lost.
pub fn encode<T: Serialize>(value: &T) -> Encoded {
    Encoded {
        bytes: json::write(value),
        loss: LossReport::default(),
    }
}

/// Errors in the canonical family: `{"status", "message", "errors"}`.
pub fn encode_error(status: u16, message: &str, errors: &[FieldError]) -> Vec<u8> {
    json::write(&serde_json::json!({
        "status": status,
        "message": message,
        "errors": errors.iter().map(|e| serde_json::json!({"field": e.field, "reason": e.reason})).collect::<Vec<_>>(),
    }))
}

/// The canonical receipt: `{"handoff_id", "audit_seq"}`.
pub fn encode_receipt(handoff_id: &str, audit_seq: u64) -> Vec<u8> {
    json::write(&serde_json::json!({"handoff_id": handoff_id, "audit_seq": audit_seq}))
}
