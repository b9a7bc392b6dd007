//! What the store gives back: hand-offs, their history, audit events and
//! outbox messages.

use std::collections::HashSet;

use adapters::Family;
use schemas::{Satisfaction, Status, StatusUpdate, Ticket, Timestamp, Urgency};

use crate::lifecycle::{HandoffKind, Side};

/// What an outbox message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A ticket to deliver (or an escalation copy).
    Ticket,
    /// A status update.
    Status,
}

impl MessageKind {
    /// `ticket` or `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Ticket => "ticket",
            MessageKind::Status => "status",
        }
    }
}

/// The canonical message of an outbox row.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboxPayload {
    /// A ticket, with `handoff_id` set.
    Ticket(Box<Ticket>),
    /// A status update, with `handoff_id` and the recipient's `ticket_id`.
    Status(StatusUpdate),
}

/// Where an outbox message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting to be delivered.
    Pending,
    /// Delivered.
    Delivered,
    /// Given up on; [`Store::redeliver`](super::Store::redeliver) puts it back.
    Dead,
}

impl OutboxState {
    /// `pending`, `delivered` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Dead => "dead",
        }
    }
}

/// What a delivery worker already holds of its target's outbox, left
/// out of its next read of the due messages (see
/// [`Store::due_deliveries`](super::Store::due_deliveries)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Taken {
    /// Messages being sent: still pending in the store, but not due again.
    pub in_flight: HashSet<i64>,
    /// Where the read of each lane starts.
    pub after: LaneStarts,
}

/// The outbox id after which each lane is read (0: from its start). A
/// worker moves a lane's to the last message of it it has taken since its
/// last read from the start, so that a read gives only what is new
/// instead of walking again every message in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaneStarts {
    /// The urgent hand-offs' lane.
    pub urgent: i64,
    /// The other hand-offs' lane.
    pub normal: i64,
}

impl LaneStarts {
    /// Moves the starting point of message `id`'s lane past it.
    pub fn take(&mut self, id: i64, urgent: bool) {
        let after = if urgent {
            &mut self.urgent
        } else {
            &mut self.normal
        };
        *after = (*after).max(id);
    }
}

/// One outbox message.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxItem {
    /// The delivery order (per target, lower first).
    pub id: i64,
    /// The hand-off it belongs to.
    pub handoff_id: String,
    /// The partner to deliver to.
    pub target_partner: String,
    /// The hand-off's urgency (for the urgent lane).
    pub urgency: Urgency,
    /// The message.
    pub payload: OutboxPayload,
    /// Where it is.
    pub state: OutboxState,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not to be tried before.
    pub next_attempt_at: Timestamp,
    /// The last failure, for operators (never copied into the audit events).
    pub last_error: Option<String>,
    /// When it was first queued.
    pub created_at: Timestamp,
    /// When it entered the queue last: `created_at`, or the time of the
    /// last [`Store::redeliver`](super::Store::redeliver). Measure a dead-letter age from here.
    pub queued_at: Timestamp,
    /// When the target took it.
    pub delivered_at: Option<Timestamp>,
    /// Who the hand-off is between, read with the message so that a
    /// delivery needs no second read of the hand-off.
    pub parties: Parties,
}

/// The partners of a hand-off and the ticket ids each knows it by.
#[derive(Clone, Debug, PartialEq)]
pub struct Parties {
    /// The partner that submitted it.
    pub origin_partner: String,
    /// Its ticket id at the origin.
    pub origin_ticket_id: String,
    /// The partner it was routed to (an escalation copy goes elsewhere).
    pub target_partner: String,
    /// The target's own ticket id, once its reply gave one.
    pub target_ticket_id: Option<String>,
    /// The origin's format family.
    pub origin_family: adapters::Family,
    /// The target's format family.
    pub target_family: adapters::Family,
    /// The hand-off's trace context (`traceparent` form), when stored.
    pub trace_parent: Option<String>,
}

impl OutboxItem {
    /// Ticket or status.
    pub fn kind(&self) -> MessageKind {
        match self.payload {
            OutboxPayload::Ticket(_) => MessageKind::Ticket,
            OutboxPayload::Status(_) => MessageKind::Status,
        }
    }
}

/// A stored hand-off.
#[derive(Clone, Debug, PartialEq)]
pub struct HandoffRecord {
    /// The hand-off id (ULID).
    pub id: String,
    /// Who submitted it.
    pub origin_partner: String,
    /// The origin's own ticket id.
    pub origin_ticket_id: String,
    /// The origin's format family.
    pub origin_family: Family,
    /// Where it goes.
    pub target_partner: String,
    /// The target's format family.
    pub target_family: Family,
    /// The deadline row.
    pub kind: HandoffKind,
    /// How urgent.
    pub urgency: Urgency,
    /// The current state (never `expired`).
    pub state: Status,
    /// The acknowledgement deadline passed and was reported.
    pub ack_overdue: bool,
    /// The answer deadline passed and was reported.
    pub answer_overdue: bool,
    /// Hex SHA-256 of the canonical ticket JSON as submitted.
    pub content_sha256: String,
    /// Hex SHA-256 of the inbound bytes.
    pub raw_sha256: String,
    /// The canonical ticket, with `handoff_id` set.
    pub ticket: Ticket,
    /// The target's own ticket id, once it replied with one.
    pub target_ticket_id: Option<String>,
    /// Deadline to acknowledge.
    pub ack_by: Timestamp,
    /// Deadline to answer.
    pub resolve_by: Timestamp,
    /// When it was recorded.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The hand-off's trace context (a W3C `traceparent`: its trace id
    /// and the span every later step hangs under); `None` for hand-offs
    /// stored before schema version 3 ([`crate::trace::of_handoff`]).
    pub trace_parent: Option<String>,
}

/// How a status update was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The state moved.
    Applied,
    /// Already in that state.
    Repeat,
    /// An `expired` notice.
    Notice,
    /// Refused, not applied.
    Refused,
}

impl Outcome {
    /// `applied`, `repeat`, `notice` or `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Repeat => "repeat",
            Outcome::Notice => "notice",
            Outcome::Refused => "refused",
        }
    }
}

/// One status update received for a hand-off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRecord {
    /// 1, 2, ... per hand-off.
    pub seq: u64,
    /// The status sent.
    pub status: Status,
    /// When the sender says it happened.
    pub at: Timestamp,
    /// Who sent it.
    pub side: Side,
    /// The update's `by`.
    pub by: Option<String>,
    /// The update's return reason code.
    pub reason_code: Option<String>,
    /// The update's comment or result.
    pub comment: Option<String>,
    /// The caller's satisfaction, with `closed`.
    pub satisfaction: Option<Satisfaction>,
    /// How it was handled.
    pub outcome: Outcome,
    /// Why it was refused (the text sent to the partner).
    pub refusal: Option<String>,
    /// When the gateway recorded it.
    pub recorded_at: Timestamp,
}

/// The kinds of audit event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A new hand-off.
    Received,
    /// A repeated submission (same content).
    Duplicate,
    /// A repeated submission with different content (409).
    Conflict,
    /// A submission refused before it became a hand-off.
    Refused,
    /// A delivery attempt failed.
    DeliveryAttempt,
    /// A message was delivered.
    Delivered,
    /// A message was given up on.
    DeadLettered,
    /// A status update was applied, repeated or passed on as a notice.
    StatusApplied,
    /// A status update was refused.
    StatusRefused,
    /// A deadline passed.
    Overdue,
    /// The escalation partner was sent a copy.
    Escalated,
    /// Dead messages were put back in the queue.
    Redelivered,
    /// The gateway started with a configuration, or reloaded one (its
    /// file's hash).
    ConfigLoaded,
    /// Emergency mode (高话务量应急) was switched on or off: `on`,
    /// `factor`, `by` (`reload` or `operator`).
    EmergencyMode,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 14] = [
        EventKind::Received,
        EventKind::Duplicate,
        EventKind::Conflict,
        EventKind::Refused,
        EventKind::DeliveryAttempt,
        EventKind::Delivered,
        EventKind::DeadLettered,
        EventKind::StatusApplied,
        EventKind::StatusRefused,
        EventKind::Overdue,
        EventKind::Escalated,
        EventKind::Redelivered,
        EventKind::ConfigLoaded,
        EventKind::EmergencyMode,
    ];

    /// The snake_case name stored in the `events` table.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Received => "received",
            EventKind::Duplicate => "duplicate",
            EventKind::Conflict => "conflict",
            EventKind::Refused => "refused",
            EventKind::DeliveryAttempt => "delivery_attempt",
            EventKind::Delivered => "delivered",
            EventKind::DeadLettered => "dead_lettered",
            EventKind::StatusApplied => "status_applied",
            EventKind::StatusRefused => "status_refused",
            EventKind::Overdue => "overdue",
            EventKind::Escalated => "escalated",
            EventKind::Redelivered => "redelivered",
            EventKind::ConfigLoaded => "config_loaded",
            EventKind::EmergencyMode => "emergency_mode",
        }
    }

    /// Parses the name written by [`EventKind::as_str`].
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One audit event.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    /// The audit sequence number.
    pub seq: u64,
    /// The hand-off, when there is one.
    pub handoff_id: Option<String>,
    /// What happened.
    pub kind: EventKind,
    /// When it was recorded.
    pub at: Timestamp,
    /// Metadata and hashes (never personal data).
    pub detail: serde_json::Value,
    /// The RFC 6962 leaf hash recorded with the event.
    pub leaf_hash: crate::audit::merkle::Hash,
}

impl EventRecord {
    /// The event's audit leaf: canonical JSON of seq, kind, time (Unix
    /// milliseconds), hand-off and detail.
    pub fn leaf_bytes(&self) -> Vec<u8> {
        crate::audit::leaf::leaf_bytes(
            self.seq,
            self.kind.as_str(),
            self.at.timestamp_millis(),
            self.handoff_id.as_deref(),
            &self.detail,
        )
    }
}

/// A signed checkpoint of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: crate::audit::merkle::Hash,
    /// The signed note.
    pub note: String,
    /// The name of the key that signed it.
    pub key_name: String,
    /// When it was signed.
    pub created_at: Timestamp,
}
