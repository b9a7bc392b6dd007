//! W3C Trace Context (`traceparent`) for hand-offs.
//!
//! Inbound: a partner's `traceparent` is validated ([`parse`]); a valid one
//! is kept as a field of the request's `ingress` span (so the partner's
//! trace id sits next to the hand-off id in the logs), an invalid one is
//! ignored, as the recommendation says.
//!
//! Outbound: every delivery attempt sends a `traceparent` made from the
//! hand-off id ([`for_delivery`]): the trace id is the first 16 bytes of
//! SHA-256 of the hand-off id, so every hop of one hand-off — the ticket to
//! the target, each status back to the origin, each retry — shares one trace
//! id that anyone holding the hand-off id can compute; the parent id
//! differs per message and attempt. The inbound trace id is not carried
//! over to deliveries: that would need a column in the store (a later
//! change, together with OTLP export).

use sha2::{Digest, Sha256};

/// The header name.
pub const HEADER: &str = "traceparent";

/// A valid `traceparent`'s parts (lowercase hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 hex digits, not all zero.
    pub trace_id: String,
    /// 16 hex digits, not all zero.
    pub parent_id: String,
    /// 2 hex digits.
    pub flags: String,
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "00-{}-{}-{}", self.trace_id, self.parent_id, self.flags)
    }
}

fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses a `traceparent` header value; `None` when it is not valid
/// (wrong lengths, upper-case or non-hex digits, version `ff`, an all-zero
/// trace or parent id, or extra fields on version `00`).
pub fn parse(value: &str) -> Option<TraceParent> {
    let value = value.trim();
    let mut parts = value.split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;
    let rest = parts.next();
    if !lower_hex(version, 2) || version == "ff" {
        return None;
    }
    // Version 00 has exactly four fields; later versions may add more.
    if version == "00" && rest.is_some() {
        return None;
    }
    if !lower_hex(trace_id, 32) || trace_id.bytes().all(|b| b == b'0') {
        return None;
    }
    if !lower_hex(parent_id, 16) || parent_id.bytes().all(|b| b == b'0') {
        return None;
    }
    if !lower_hex(flags, 2) {
        return None;
    }
    Some(TraceParent {
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
        flags: flags.to_owned(),
    })
}

/// The trace id of a hand-off: the first 16 bytes of SHA-256 of its id.
pub fn trace_id(handoff_id: &str) -> String {
    hex::encode(&Sha256::digest(handoff_id.as_bytes())[..16])
}

/// The `traceparent` sent with attempt `attempt` of outbox message
/// `outbox_id` of hand-off `handoff_id` (sampled).
pub fn for_delivery(handoff_id: &str, outbox_id: i64, attempt: u32) -> String {
    let mut h = Sha256::new();
    h.update(handoff_id.as_bytes());
    h.update(outbox_id.to_be_bytes());
    h.update(attempt.to_be_bytes());
    let digest = h.finalize();
    let mut parent = [0u8; 8];
    parent.copy_from_slice(&digest[..8]);
    if parent == [0; 8] {
        parent[7] = 1;
    }
    format!("00-{}-{}-01", trace_id(handoff_id), hex::encode(parent))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "trace_tests.rs"]
mod tests;
