//! W3C Trace Context (`traceparent`) and the trace of a hand-off.
//!
//! One trace per hand-off, across organisations. When a ticket arrives
//! ([`begin`]), a valid `traceparent` of the partner's request becomes the
//! parent of the `ingress` span (so the partner's trace continues in the
//! gateway); an invalid one is ignored, as the recommendation says, and the
//! gateway starts a trace of its own. The `ingress` span's context (trace
//! id, span id) is the hand-off's trace context: stored with the hand-off
//! (`handoffs.trace_parent`), because the later steps run in other tasks,
//! minutes or days later, after restarts. Every `delivery` attempt and
//! every `status` received is made a child of it ([`adopt`]), and every
//! delivery sends a `traceparent` with the same trace id ([`outbound`]), so
//! the target's spans join the trace too.
//!
//! Without OpenTelemetry export (no collector configured) spans have no
//! ids; the context is then the partner's trace id or a fresh random one,
//! with a random parent id, and deliveries send that trace id with a
//! parent id derived from the message and attempt. Hand-offs stored before
//! the trace context was kept (schema version 2) use the first 16 bytes of
//! SHA-256 of the hand-off id as their trace id ([`of_handoff`]).

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use sha2::{Digest, Sha256};
use tracing_opentelemetry::OpenTelemetrySpanExt;

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

/// The trace id of a hand-off stored without a trace context: the first
/// 16 bytes of SHA-256 of its id.
pub fn trace_id(handoff_id: &str) -> String {
    hex::encode(&Sha256::digest(handoff_id.as_bytes())[..16])
}

/// A parent id derived from `parts` (never all zero).
fn derived_parent(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update(part);
    }
    let digest = h.finalize();
    let mut parent = [0u8; 8];
    parent.copy_from_slice(&digest[..8]);
    if parent == [0; 8] {
        parent[7] = 1;
    }
    hex::encode(parent)
}

/// The trace context of a hand-off that has just arrived, its `ingress`
/// span not yet entered: the partner's `inbound` context becomes the
/// span's parent; the span's own context is the hand-off's. Without
/// export, the partner's trace id or a fresh one.
pub fn begin(ingress: &tracing::Span, inbound: Option<&TraceParent>) -> TraceParent {
    if let Some(parent) = inbound {
        adopt(ingress, parent);
    }
    if let Some(own) = context_of(ingress) {
        return own;
    }
    // ULIDs: 80 random bits each, from the same source as hand-off ids.
    let fresh = ulid::Ulid::generate().to_bytes();
    let parent = ulid::Ulid::generate().to_bytes();
    TraceParent {
        trace_id: inbound.map_or_else(|| hex::encode(fresh), |t| t.trace_id.clone()),
        parent_id: hex::encode(&parent[8..]),
        flags: "01".to_owned(),
    }
}

/// Makes `span` (not yet entered) a child of `parent`, a context from
/// elsewhere: a partner's request or a stored hand-off. Without export
/// there is nothing to do.
pub fn adopt(span: &tracing::Span, parent: &TraceParent) {
    let (Ok(trace_id), Ok(span_id)) = (
        TraceId::from_hex(&parent.trace_id),
        SpanId::from_hex(&parent.parent_id),
    ) else {
        return;
    };
    // Sampled whatever the partner decided: the gateway keeps every
    // hand-off's trace.
    let remote = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}

/// The OpenTelemetry context of `span`, when spans are exported.
fn context_of(span: &tracing::Span) -> Option<TraceParent> {
    let cx = span.context();
    let own = cx.span().span_context().clone();
    own.is_valid().then(|| TraceParent {
        trace_id: hex::encode(own.trace_id().to_bytes()),
        parent_id: hex::encode(own.span_id().to_bytes()),
        flags: format!("{:02x}", own.trace_flags().to_u8()),
    })
}

/// The trace context of hand-off `handoff_id`: the stored one, or for a
/// hand-off stored without one, its id's ([`trace_id`]).
pub fn of_handoff(handoff_id: &str, stored: Option<&str>) -> TraceParent {
    stored.and_then(parse).unwrap_or_else(|| TraceParent {
        trace_id: trace_id(handoff_id),
        parent_id: derived_parent(&[handoff_id.as_bytes()]),
        flags: "01".to_owned(),
    })
}

/// The `traceparent` sent with attempt `attempt` of outbox message
/// `outbox_id` of a hand-off whose trace is `handoff`, from the attempt's
/// `delivery` span (adopted into the hand-off's trace): that span's
/// context, or without export the hand-off's trace id and a parent id
/// derived from the message and attempt.
pub fn outbound(
    delivery: &tracing::Span,
    handoff: &TraceParent,
    outbox_id: i64,
    attempt: u32,
) -> String {
    match context_of(delivery) {
        Some(own) if own.trace_id == handoff.trace_id => own.to_string(),
        _ => format!(
            "00-{}-{}-01",
            handoff.trace_id,
            derived_parent(&[
                handoff.trace_id.as_bytes(),
                &outbox_id.to_be_bytes(),
                &attempt.to_be_bytes(),
            ])
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "trace_tests.rs"]
mod tests;
