//! Reading and writing column values: times, enum names, whole rows.

use std::time::SystemTime;

use chrono::{DateTime, FixedOffset, Offset, Utc};
use rusqlite::Row;
use schemas::{Satisfaction, Status, StatusUpdate, Ticket, Timestamp, Urgency};
use ulid::Ulid;

use crate::lifecycle::{HandoffKind, Side};
use crate::store::{
    EventKind, EventRecord, HandoffRecord, HistoryRecord, OutboxItem, OutboxPayload, OutboxState,
    Outcome, Parties, StoreError,
};

/// The offset times are read back in: Beijing, UTC+08:00, no daylight
/// saving (the whole region's civil time).
pub(super) fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// A time as stored: Unix milliseconds.
pub(super) fn ms(t: &Timestamp) -> i64 {
    t.timestamp_millis()
}

/// A stored time, in UTC+08:00.
pub(super) fn time(ms: i64) -> Result<Timestamp, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&beijing()))
        .ok_or_else(|| StoreError::Corrupt(format!("time {ms} ms out of range")))
}

/// The writer's clock.
pub(super) fn clock() -> (SystemTime, Timestamp) {
    let now = SystemTime::now();
    (now, DateTime::<Utc>::from(now).with_timezone(&beijing()))
}

/// Hands out hand-off ids: ULIDs of the writer's clock, strictly
/// increasing even when the clock steps back or many fall in one
/// millisecond (seeded with the largest id already stored).
pub(super) struct IdGen {
    last: Ulid,
}

impl IdGen {
    /// Continues after `last` (the largest id stored, if any).
    pub(super) fn after(last: Option<&str>) -> Result<IdGen, StoreError> {
        let last = match last {
            Some(s) => s
                .parse::<Ulid>()
                .map_err(|e| StoreError::Corrupt(format!("hand-off id {s:?}: {e}")))?,
            None => Ulid::nil(),
        };
        Ok(IdGen { last })
    }

    /// The next id.
    pub(super) fn next(&mut self, now: SystemTime) -> Ulid {
        let fresh = Ulid::from_datetime(now);
        let id = if fresh > self.last {
            fresh
        } else {
            match self.last.increment() {
                Ok(next) | Err(next) => next,
            }
        };
        self.last = id;
        id
    }
}

pub(super) fn status(s: &str) -> Result<Status, StoreError> {
    Status::parse(s).ok_or_else(|| StoreError::Corrupt(format!("status {s:?}")))
}

pub(super) fn urgency(s: &str) -> Result<Urgency, StoreError> {
    [Urgency::Urgent, Urgency::High, Urgency::Normal]
        .into_iter()
        .find(|u| u.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("urgency {s:?}")))
}

fn kind(s: &str) -> Result<HandoffKind, StoreError> {
    HandoffKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("hand-off kind {s:?}")))
}

fn side(s: &str) -> Result<Side, StoreError> {
    Side::parse(s).ok_or_else(|| StoreError::Corrupt(format!("side {s:?}")))
}

fn family(s: &str) -> Result<adapters::Family, StoreError> {
    s.parse()
        .map_err(|e: String| StoreError::Corrupt(format!("format family {s:?}: {e}")))
}

pub(super) fn satisfaction_str(s: Satisfaction) -> &'static str {
    match s {
        Satisfaction::Satisfied => "satisfied",
        Satisfaction::BasicallySatisfied => "basically_satisfied",
        Satisfaction::Unsatisfied => "unsatisfied",
    }
}

fn satisfaction(s: &str) -> Result<Satisfaction, StoreError> {
    [
        Satisfaction::Satisfied,
        Satisfaction::BasicallySatisfied,
        Satisfaction::Unsatisfied,
    ]
    .into_iter()
    .find(|v| satisfaction_str(*v) == s)
    .ok_or_else(|| StoreError::Corrupt(format!("satisfaction {s:?}")))
}

fn outcome(s: &str) -> Result<Outcome, StoreError> {
    [
        Outcome::Applied,
        Outcome::Repeat,
        Outcome::Notice,
        Outcome::Refused,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
    .ok_or_else(|| StoreError::Corrupt(format!("outcome {s:?}")))
}

fn outbox_state(s: &str) -> Result<OutboxState, StoreError> {
    [
        OutboxState::Pending,
        OutboxState::Delivered,
        OutboxState::Dead,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
    .ok_or_else(|| StoreError::Corrupt(format!("outbox state {s:?}")))
}

fn count(n: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n}")))
}

/// An audit sequence number or history position as the API gives it.
pub(super) fn seq(n: i64) -> Result<u64, StoreError> {
    count(n, "sequence number")
}

/// The columns [`handoff`] reads, in order (prefix `h.`).
pub(super) const HANDOFF_COLUMNS: &str = "h.id, h.origin_partner, h.origin_ticket_id, \
    h.origin_family, h.target_partner, h.target_family, h.kind, h.urgency, h.state, \
    h.ack_overdue, h.answer_overdue, h.content_sha256, h.raw_sha256, \
    (SELECT t.ticket_json FROM tickets t WHERE t.handoff_id = h.id), \
    h.target_ticket_id, h.ack_by, h.resolve_by, h.created_at, h.updated_at, h.trace_parent";

/// A `handoffs` row selected with [`HANDOFF_COLUMNS`].
pub(super) fn handoff(row: &Row<'_>) -> Result<HandoffRecord, StoreError> {
    let id: String = row.get(0)?;
    let ticket_json: String = row.get(13)?;
    let mut ticket: Ticket = serde_json::from_str(&ticket_json)?;
    // Stored without its id (the row's key), which the writer assigns.
    ticket.handoff_id = Some(id.clone());
    Ok(HandoffRecord {
        id,
        origin_partner: row.get(1)?,
        origin_ticket_id: row.get(2)?,
        origin_family: family(&row.get::<_, String>(3)?)?,
        target_partner: row.get(4)?,
        target_family: family(&row.get::<_, String>(5)?)?,
        kind: kind(&row.get::<_, String>(6)?)?,
        urgency: urgency(&row.get::<_, String>(7)?)?,
        state: status(&row.get::<_, String>(8)?)?,
        ack_overdue: row.get(9)?,
        answer_overdue: row.get(10)?,
        content_sha256: row.get(11)?,
        raw_sha256: row.get(12)?,
        ticket,
        target_ticket_id: row.get(14)?,
        ack_by: time(row.get(15)?)?,
        resolve_by: time(row.get(16)?)?,
        created_at: time(row.get(17)?)?,
        updated_at: time(row.get(18)?)?,
        trace_parent: row.get(19)?,
    })
}

/// The columns [`history`] reads, in order.
pub(super) const HISTORY_COLUMNS: &str = "seq, status, at, side, by_text, reason_code, \
    comment, satisfaction, outcome, refusal, recorded_at";

/// A `status_history` row selected with [`HISTORY_COLUMNS`].
pub(super) fn history(row: &Row<'_>) -> Result<HistoryRecord, StoreError> {
    Ok(HistoryRecord {
        seq: seq(row.get(0)?)?,
        status: status(&row.get::<_, String>(1)?)?,
        at: time(row.get(2)?)?,
        side: side(&row.get::<_, String>(3)?)?,
        by: row.get(4)?,
        reason_code: row.get(5)?,
        comment: row.get(6)?,
        satisfaction: row
            .get::<_, Option<String>>(7)?
            .map(|s| satisfaction(&s))
            .transpose()?,
        outcome: outcome(&row.get::<_, String>(8)?)?,
        refusal: row.get(9)?,
        recorded_at: time(row.get(10)?)?,
    })
}

/// The columns [`event`] reads, in order.
pub(super) const EVENT_COLUMNS: &str = "seq, handoff_id, kind, at, detail_json, leaf_hash";

/// An `events` row selected with [`EVENT_COLUMNS`].
pub(super) fn event(row: &Row<'_>) -> Result<EventRecord, StoreError> {
    let kind: String = row.get(2)?;
    let detail: String = row.get(4)?;
    Ok(EventRecord {
        seq: seq(row.get(0)?)?,
        handoff_id: row.get(1)?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("event kind {kind:?}")))?,
        at: time(row.get(3)?)?,
        detail: serde_json::from_str(&detail)?,
        leaf_hash: hash(row.get(5)?)?,
    })
}

/// A stored 32-byte hash.
pub(super) fn hash(bytes: Vec<u8>) -> Result<crate::audit::merkle::Hash, StoreError> {
    crate::audit::merkle::Hash::try_from(bytes.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("a hash of {} bytes", bytes.len())))
}

/// The columns [`outbox`] reads, in order (prefix `o.`, joined with the
/// hand-off as `h`).
pub(super) const OUTBOX_COLUMNS: &str = "o.id, o.handoff_id, o.target_partner, h.urgency, \
    o.kind, COALESCE(NULLIF(o.payload_json, ''), \
    (SELECT t.ticket_json FROM tickets t WHERE t.handoff_id = o.handoff_id)), o.state, o.attempts, o.next_attempt_at, o.last_error, \
    o.created_at, o.queued_at, o.delivered_at, \
    h.origin_partner, h.origin_ticket_id, h.target_partner, h.target_ticket_id, \
    h.origin_family, h.target_family, h.trace_parent";

/// An `outbox` row selected with [`OUTBOX_COLUMNS`].
pub(super) fn outbox(row: &Row<'_>) -> Result<OutboxItem, StoreError> {
    let kind: String = row.get(4)?;
    let payload: String = row.get(5)?;
    let payload = match kind.as_str() {
        "ticket" => {
            let mut ticket = serde_json::from_str::<Ticket>(&payload)?;
            ticket.handoff_id = Some(row.get(1)?);
            OutboxPayload::Ticket(Box::new(ticket))
        }
        "status" => OutboxPayload::Status(serde_json::from_str::<StatusUpdate>(&payload)?),
        other => return Err(StoreError::Corrupt(format!("outbox kind {other:?}"))),
    };
    let attempts = count(row.get(7)?, "attempts")?;
    Ok(OutboxItem {
        id: row.get(0)?,
        handoff_id: row.get(1)?,
        target_partner: row.get(2)?,
        urgency: urgency(&row.get::<_, String>(3)?)?,
        payload,
        state: outbox_state(&row.get::<_, String>(6)?)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: time(row.get(8)?)?,
        last_error: row.get(9)?,
        created_at: time(row.get(10)?)?,
        queued_at: time(row.get(11)?)?,
        delivered_at: row.get::<_, Option<i64>>(12)?.map(time).transpose()?,
        parties: Parties {
            origin_partner: row.get(13)?,
            origin_ticket_id: row.get(14)?,
            target_partner: row.get(15)?,
            target_ticket_id: row.get(16)?,
            origin_family: family(&row.get::<_, String>(17)?)?,
            target_family: family(&row.get::<_, String>(18)?)?,
            trace_parent: row.get(19)?,
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "codec_tests.rs"]
mod tests;
