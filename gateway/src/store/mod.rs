//! The durable store: the only writer of durable state.
//!
//! [`Store`] is the interface the server, the delivery workers, the
//! overdue sweep, the inbox and the CLI use; [`SqliteStore`] is the
//! embedded implementation (SQLite in WAL mode, one writer thread that
//! group-commits). A server database can implement the same trait later.
//!
//! What is kept:
//! - `handoffs`: one row per hand-off, with the whole canonical ticket
//!   (the only place personal data is stored);
//! - `status_history`: every status update received for a hand-off, with
//!   the verdict (applied, repeat, notice or refused);
//! - `outbox`: the messages to deliver, per target strictly in id order;
//! - `events`: the audit trail. Its sequence number is the `audit_seq` a
//!   receipt carries. Event details hold metadata and hashes, never a name,
//!   phone number or free text from a partner.
//!
//! Times: deadlines and delivery times are the caller's (`now`, `at`
//! parameters); the time a row was recorded (`created_at`, `updated_at`,
//! `recorded_at`, event times) and the hand-off id are taken from the
//! writer's clock when it runs the command, so ids are time-ordered in
//! commit order. Stored as Unix milliseconds; read back in UTC+08:00.

mod records;
mod sqlite;

use std::future::Future;

use adapters::Family;
use schemas::{Status, StatusUpdate, Ticket, Timestamp, Urgency};

pub use crate::lifecycle::{HandoffKind, Overdue, Side, Verdict};
pub use records::{
    CheckpointRecord, EventKind, EventRecord, HandoffRecord, HistoryRecord, LaneStarts,
    MessageKind, OutboxItem, OutboxPayload, OutboxState, Outcome, Parties, Taken,
};
pub use sqlite::SqliteStore;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened, configured or migrated.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The database file.
        path: std::path::PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The database was written by a newer version of the gateway.
    #[error("the store's schema version {found} is newer than this gateway's ({supported})")]
    SchemaVersion {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The version this gateway writes.
        supported: i64,
    },
    /// SQLite refused a statement.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The transaction holding this command could not be committed, so
    /// nothing of it was applied.
    #[error("commit failed, nothing was applied: {0}")]
    Commit(String),
    /// No hand-off has this id.
    #[error("no hand-off with id {0}")]
    UnknownHandoff(String),
    /// No outbox row has this id.
    #[error("no outbox message with id {0}")]
    UnknownOutbox(i64),
    /// The outbox row was already delivered or dead-lettered.
    #[error("outbox message {id} is {state}, not pending")]
    NotPending {
        /// The outbox id.
        id: i64,
        /// Its state (`delivered` or `dead`).
        state: String,
    },
    /// A stored value cannot be read back (a damaged or foreign database).
    #[error("stored value cannot be read: {0}")]
    Corrupt(String),
    /// A canonical message could not be written or read as JSON.
    #[error("canonical JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The writer thread has stopped; the store is unusable.
    #[error("the store's writer has stopped")]
    Closed,
    /// A read was started outside a Tokio runtime.
    #[error("the store must be used inside a Tokio runtime")]
    NoRuntime,
    /// The writer thread could not be started.
    #[error("cannot start the store's writer thread: {0}")]
    Spawn(std::io::Error),
    /// A read task failed (panicked or was cancelled).
    #[error("read task failed: {0}")]
    Task(String),
}

/// A submission to record as a new hand-off.
#[derive(Clone, Debug)]
pub struct NewHandoff {
    /// Who sent it (from the client certificate or API key).
    pub origin_partner: String,
    /// The origin's format family.
    pub origin_family: Family,
    /// The origin's own ticket id (with `origin_partner`, the idempotency key).
    pub origin_ticket_id: String,
    /// Where it goes, after routing.
    pub target_partner: String,
    /// The target's format family.
    pub target_family: Family,
    /// Which deadline row applies.
    pub kind: HandoffKind,
    /// How urgent (copied from the ticket by the caller).
    pub urgency: Urgency,
    /// The canonical ticket as decoded. Its JSON form is hashed for
    /// idempotency, so pass it before setting any gateway field; the store
    /// sets `handoff_id` (and `ack_by`/`resolve_by` when absent).
    pub ticket: Ticket,
    /// Hex SHA-256 of the inbound bytes.
    pub raw_sha256: String,
    /// Deadline to acknowledge.
    pub ack_by: Timestamp,
    /// Deadline to answer.
    pub resolve_by: Timestamp,
    /// When the gateway received it: the `received` history entry's time
    /// and the first delivery attempt's.
    pub now: Timestamp,
    /// The hand-off's trace context as a W3C `traceparent`
    /// ([`crate::trace`]), kept for the spans and `traceparent` headers of
    /// every later step.
    pub trace_parent: Option<String>,
}

/// What a receipt (HTTP 202) carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The hand-off id (a ULID).
    pub handoff_id: String,
    /// The audit sequence number of the `received` event.
    pub audit_seq: u64,
}

/// The result of [`Store::submit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// A new hand-off: receipt, history, audit event and outbox row are
    /// durable.
    Created(Receipt),
    /// The same (origin, origin ticket id) with the same content: nothing
    /// new was created; `first` is the first receipt, `audit_seq` the
    /// `duplicate` event recorded now.
    Duplicate {
        /// The receipt of the first submission.
        first: Receipt,
        /// The `duplicate` event.
        audit_seq: u64,
    },
    /// The same (origin, origin ticket id) with different content: nothing
    /// applied, a `conflict` event recorded.
    Conflict {
        /// The receipt of the first submission.
        first: Receipt,
        /// The `conflict` event.
        audit_seq: u64,
    },
}

impl Submitted {
    /// The receipt to answer with: the new one, or the first one.
    pub fn receipt(&self) -> &Receipt {
        match self {
            Submitted::Created(r)
            | Submitted::Duplicate { first: r, .. }
            | Submitted::Conflict { first: r, .. } => r,
        }
    }
}

/// A partner to send a status message to when a status is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    /// The partner id. The message names the hand-off by the ticket id
    /// that partner knows: the origin's id toward the origin, the target's
    /// id toward the target, the origin's id toward anyone else.
    pub partner: String,
}

/// The result of [`Store::apply_status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusOutcome {
    /// What the lifecycle decided.
    pub verdict: Verdict,
    /// The `status_applied` or `status_refused` event.
    pub audit_seq: u64,
    /// The hand-off's state afterwards.
    pub state: Status,
}

/// The outcome of one delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryResult {
    /// The target took it; for a ticket, with the target's own ticket id.
    Delivered {
        /// The target's ticket id from its reply, when it gave one.
        target_ticket_id: Option<String>,
        /// Hex SHA-256 of the bytes sent (what the gateway translated the
        /// message into); `None` for a pull partner's fetch.
        sent_sha256: Option<String>,
        /// When the reply arrived.
        at: Timestamp,
        /// Who took it, when a person did (a liaison acknowledging a repair
        /// order); the DELIVERED status names them.
        by: Option<String>,
    },
    /// It failed; try again at `next_attempt_at`.
    Failed {
        /// Hex SHA-256 of the bytes sent, when any were.
        sent_sha256: Option<String>,
        /// What went wrong (kept on the outbox row only).
        error: String,
        /// When to try again.
        next_attempt_at: Timestamp,
        /// When the attempt ended.
        at: Timestamp,
    },
    /// Give up (attempts or age exhausted, or a permanent refusal).
    Dead {
        /// What went wrong (kept on the outbox row only).
        error: String,
        /// When the attempt ended.
        at: Timestamp,
    },
}

/// The result of [`Store::record_delivery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecorded {
    /// The `delivered`, `delivery_attempt` or `dead_lettered` event.
    pub audit_seq: u64,
    /// The `delivered` status applied to the hand-off, when this was the
    /// ticket's delivery to its target and the hand-off was still
    /// `received`.
    pub status: Option<StatusOutcome>,
}

/// A submission refused before it became a hand-off, for the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedSubmission {
    /// The sender, when identified.
    pub partner: Option<String>,
    /// The origin ticket id, when it could be read.
    pub origin_ticket_id: Option<String>,
    /// Hex SHA-256 of the inbound bytes.
    pub raw_sha256: String,
    /// The HTTP status answered.
    pub http_status: u16,
    /// Why: an error kind and field paths, never field values (they may
    /// be personal data).
    pub reason: String,
}

/// Which hand-offs [`Store::list_handoffs`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandoffFilter {
    /// Only in this state.
    pub state: Option<Status>,
    /// Only toward this partner.
    pub target: Option<String>,
    /// Only from this partner.
    pub origin: Option<String>,
    /// At most this many (newest first); 0 means 100.
    pub limit: usize,
}

/// How many hand-offs are in one state (see [`Store::state_counts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateCount {
    /// The state (`received`, `delivered`, ...).
    pub state: String,
    /// Hand-offs in it.
    pub count: u64,
    /// Of those, with the acknowledgement deadline reported passed.
    pub ack_overdue: u64,
    /// Of those, with the answer deadline reported passed.
    pub answer_overdue: u64,
}

/// The store. Every method is atomic; a write returns only once its
/// commit is durable (fsync'd). Must be used inside a Tokio runtime.
pub trait Store: Send + Sync + 'static {
    /// Records a submission: a new hand-off (state `received`, its history
    /// entry, its `received` event, its outbox row toward the target), or
    /// a duplicate / conflict of an earlier one (only an event).
    fn submit(&self, new: NewHandoff)
    -> impl Future<Output = Result<Submitted, StoreError>> + Send;

    /// Records a status update from `side` and, per the lifecycle, applies
    /// it. On `Apply` and `Notice`, queues it toward `notify`.
    fn apply_status(
        &self,
        handoff_id: &str,
        update: StatusUpdate,
        side: Side,
        notify: Option<Notify>,
    ) -> impl Future<Output = Result<StatusOutcome, StoreError>> + Send;

    /// Records a refused submission (a `refused` event without a hand-off).
    fn record_refused(
        &self,
        refused: RefusedSubmission,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The pending messages for `target_partner` that may be sent at
    /// `now`, at most `limit`, in two lanes: the messages of urgent
    /// hand-offs first, then the others. In each lane, in order, the
    /// longest run from its oldest pending message whose retry time has
    /// come: a message backing off holds back every later message of its
    /// lane and target (and of no other lane or target). The messages
    /// `taken` holds in flight (being sent, so due) are left out and not
    /// even parsed, and each lane is read after the id `taken` gives it.
    fn due_deliveries(
        &self,
        target_partner: &str,
        now: Timestamp,
        limit: usize,
        taken: Taken,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;

    /// The earlier retry time of the oldest pending message of each lane
    /// for `target_partner` (when the worker should look again), or `None`
    /// when none is pending.
    fn next_due(
        &self,
        target_partner: &str,
    ) -> impl Future<Output = Result<Option<Timestamp>, StoreError>> + Send;

    /// Records the outcome of delivering outbox message `outbox_id`. When
    /// a ticket reached its hand-off's target: records the target's ticket
    /// id and applies `delivered` (from the gateway) if the hand-off is
    /// still `received`, queueing that status toward `notify`.
    fn record_delivery(
        &self,
        outbox_id: i64,
        result: DeliveryResult,
        notify: Option<Notify>,
    ) -> impl Future<Output = Result<DeliveryRecorded, StoreError>> + Send;

    /// Puts the hand-off's dead messages back in the queue, due at `now`;
    /// returns how many.
    fn redeliver(
        &self,
        handoff_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// The partners with pending messages.
    fn targets_with_pending(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// One hand-off.
    fn handoff(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<HandoffRecord>, StoreError>> + Send;

    /// A hand-off's status history, oldest first.
    fn history(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Vec<HistoryRecord>, StoreError>> + Send;

    /// A hand-off's audit events, in sequence.
    fn events(&self, id: &str)
    -> impl Future<Output = Result<Vec<EventRecord>, StoreError>> + Send;

    /// A hand-off's outbox messages, in order (any state).
    fn outbox(&self, id: &str) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;

    /// Hand-offs matching `filter`, newest first.
    fn list_handoffs(
        &self,
        filter: HandoffFilter,
    ) -> impl Future<Output = Result<Vec<HandoffRecord>, StoreError>> + Send;

    /// Each (hand-off, deadline) that has passed at `now`, is not met by
    /// the state and has not been reported yet, oldest hand-off first.
    fn overdue_candidates(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<(HandoffRecord, Overdue)>, StoreError>> + Send;

    /// Reports a passed deadline: flags the hand-off, records an `expired`
    /// notice (history and `overdue` event), queues the notice toward
    /// `notify` (the origin) and a copy of the ticket toward `escalate`
    /// (with an `escalated` event). `None` when the deadline was already
    /// reported or is met by now (nothing recorded).
    fn mark_overdue(
        &self,
        handoff_id: &str,
        which: Overdue,
        now: Timestamp,
        notify: Option<Notify>,
        escalate: Option<Notify>,
    ) -> impl Future<Output = Result<Option<StatusOutcome>, StoreError>> + Send;

    /// The number of audit events: the size of the audit tree.
    fn audit_size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The leaf hashes of events 1..=`upto`, in sequence.
    fn leaf_hashes(
        &self,
        upto: u64,
    ) -> impl Future<Output = Result<Vec<crate::audit::merkle::Hash>, StoreError>> + Send;

    /// Audit events from sequence number `from` on, at most `limit`.
    fn audit_entries(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<EventRecord>, StoreError>> + Send;

    /// Every signed checkpoint, oldest first.
    fn checkpoints(&self)
    -> impl Future<Output = Result<Vec<CheckpointRecord>, StoreError>> + Send;

    /// The newest signed checkpoint.
    fn latest_checkpoint(
        &self,
    ) -> impl Future<Output = Result<Option<CheckpointRecord>, StoreError>> + Send;

    /// Stores a signed checkpoint of the first `size` events; refused when
    /// it does not grow the tree.
    fn record_checkpoint(
        &self,
        size: u64,
        root: crate::audit::merkle::Hash,
        note: String,
        key_name: String,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records that the gateway started with a configuration (the hash of
    /// its file, the number of partners, the audit key's name).
    fn record_config(
        &self,
        sha256: String,
        partners: usize,
        signing_key: Option<String>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Records a switch of emergency mode (高话务量应急): on or off, the
    /// factor, `by` whom (`reload` or `operator`).
    fn record_emergency(
        &self,
        on: bool,
        factor: f64,
        by: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Per target with pending (queued) messages: how many, and when the
    /// oldest was created; by target.
    fn queue_depths(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, u64, Timestamp)>, StoreError>> + Send;

    /// Per state, how many hand-offs are in it and how many of those had
    /// their acknowledgement / answer deadline reported passed; by state.
    fn state_counts(&self) -> impl Future<Output = Result<Vec<StateCount>, StoreError>> + Send;

    /// The orders of property unit `unit_id` (hand-offs targeting it),
    /// newest first; with `open_only`, those not closed or rejected.
    fn unit_orders(
        &self,
        unit_id: &str,
        open_only: bool,
    ) -> impl Future<Output = Result<Vec<HandoffRecord>, StoreError>> + Send;

    /// One order of `unit_id`; `None` when it does not exist or belongs to
    /// another unit (the two are indistinguishable on purpose).
    fn unit_order(
        &self,
        unit_id: &str,
        handoff_id: &str,
    ) -> impl Future<Output = Result<Option<HandoffRecord>, StoreError>> + Send;
}
