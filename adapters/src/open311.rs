//! open311 adapter (being built).

use schemas::{StatusUpdate, Tables, Ticket};

use crate::common::Encoded;
use crate::error::{Error, FieldError};

/// JSON or XML representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `.json`
    Json,
    /// `.xml`
    Xml,
}

fn todo() -> Error {
    Error::Unrepresentable {
        field: "body".into(),
        reason: "open311 is not built yet".into(),
    }
}

/// Decodes a ticket.
pub fn decode_ticket(_syntax: Syntax, _bytes: &[u8], _tables: &Tables) -> Result<Ticket, Error> {
    Err(todo())
}
/// Encodes a ticket.
pub fn encode_ticket(_syntax: Syntax, _t: &Ticket, _tables: &Tables) -> Result<Encoded, Error> {
    Err(todo())
}
/// Decodes a status update.
pub fn decode_status(
    _syntax: Syntax,
    _bytes: &[u8],
    _tables: &Tables,
) -> Result<StatusUpdate, Error> {
    Err(todo())
}
/// Encodes a status update.
pub fn encode_status(
    _syntax: Syntax,
    _s: &StatusUpdate,
    _tables: &Tables,
) -> Result<Encoded, Error> {
    Err(todo())
}
/// The error reply.
pub fn encode_error(
    _syntax: Syntax,
    _status: u16,
    _message: &str,
    _errors: &[FieldError],
) -> Vec<u8> {
    Vec::new()
}
