//! The write commands. Each runs on the writer thread in the batch's
//! transaction; one that fails must fail before its first write, or the
//! whole batch is rolled back (see `sqlite.rs`): check, then write.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::SystemTime;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use schemas::{Status, StatusUpdate, Timestamp};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::codec::{self, IdGen, ms, seq};
use crate::lifecycle::{self, Side, Verdict};
use crate::store::{
    EventKind, MessageKind, NewHandoff, Notify, Outcome, Receipt, RefusedSubmission, StatusOutcome,
    StoreError, Submitted,
};

/// A message to queue: the hand-off's own ticket, or a status update
/// (canonical JSON).
pub(super) enum Queued<'a> {
    Ticket,
    Status(&'a str),
}

/// What a command works with: the batch's connection (inside the
/// transaction), the id generator and the writer's clock.
pub(super) struct Tx<'a> {
    pub(super) conn: &'a Connection,
    pub(super) ids: &'a mut IdGen,
    pub(super) system_now: SystemTime,
    pub(super) now: Timestamp,
    /// The next audit sequence number, once an event of this transaction
    /// has read it; set only once its event is written, and forgotten at
    /// every new transaction (another
    /// process, `gateway handoffs redeliver`, may have appended since).
    pub(super) next_event: &'a Cell<Option<u64>>,
}

type Result<T> = std::result::Result<T, StoreError>;

/// The parts of a hand-off the status commands need.
pub(super) struct Head {
    pub(super) id: String,
    pub(super) state: Status,
    pub(super) origin_partner: String,
    pub(super) origin_ticket_id: String,
    pub(super) target_partner: String,
    pub(super) target_ticket_id: Option<String>,
    pub(super) ack_by: i64,
    pub(super) resolve_by: i64,
    pub(super) ack_overdue: bool,
    pub(super) answer_overdue: bool,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Tx<'_> {
    pub(super) fn head(&self, handoff_id: &str) -> Result<Head> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT state, origin_partner, origin_ticket_id, target_partner, \
                 target_ticket_id, ack_by, resolve_by, ack_overdue, answer_overdue \
                 FROM handoffs WHERE id = ?1",
            )?
            .query_row([handoff_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Head {
                        id: handoff_id.to_owned(),
                        state: Status::Received,
                        origin_partner: r.get(1)?,
                        origin_ticket_id: r.get(2)?,
                        target_partner: r.get(3)?,
                        target_ticket_id: r.get(4)?,
                        ack_by: r.get(5)?,
                        resolve_by: r.get(6)?,
                        ack_overdue: r.get(7)?,
                        answer_overdue: r.get(8)?,
                    },
                ))
            })
            .optional()?;
        let (state, mut head) = row.ok_or_else(|| StoreError::UnknownHandoff(handoff_id.into()))?;
        head.state = codec::status(&state)?;
        Ok(head)
    }

    /// Appends an audit event; returns its sequence number.
    pub(super) fn event(
        &self,
        handoff_id: Option<&str>,
        kind: EventKind,
        detail: serde_json::Value,
    ) -> Result<u64> {
        let at = ms(&self.now);
        let seq = match self.next_event.get() {
            Some(next) => next,
            None => {
                // AUTOINCREMENT's high-water mark: a number is never used
                // twice, even after the last event was deleted.
                let last: i64 = self
                    .conn
                    .prepare_cached(
                        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
                    )?
                    .query_row([], |r| r.get(0))?;
                seq(last)? + 1
            }
        };
        // The leaf is appended in the same statement as its event (a wrong
        // number would collide with the primary key, never skip one).
        let mut detail_json = Vec::with_capacity(256);
        crate::audit::leaf::canonical(&detail, &mut detail_json);
        let leaf = crate::audit::leaf::assemble(seq, kind.as_str(), at, handoff_id, &detail_json);
        self.conn
            .prepare_cached(
                "INSERT INTO events (seq, handoff_id, kind, at, detail_json, leaf_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                i64::try_from(seq)
                    .map_err(|_| StoreError::Corrupt(format!("audit sequence {seq}")))?,
                handoff_id,
                kind.as_str(),
                at,
                // Canonical JSON is UTF-8 (serde_json writes it): bound
                // as text without checking it again.
                ToSqlOutput::Borrowed(ValueRef::Text(&detail_json)),
                crate::audit::merkle::leaf_hash(&leaf).to_vec()
            ])?;
        self.next_event.set(Some(seq + 1));
        Ok(seq)
    }

    /// Queues a message; returns its outbox id. A ticket message is the
    /// hand-off's own ticket: its payload is not stored twice (an empty
    /// `payload_json` reads as the hand-off's `ticket_json`).
    pub(super) fn enqueue(
        &self,
        handoff_id: &str,
        partner: &str,
        message: Queued<'_>,
        due: &Timestamp,
    ) -> Result<i64> {
        let (kind, payload_json) = match message {
            Queued::Ticket => (MessageKind::Ticket, ""),
            Queued::Status(json) => (MessageKind::Status, json),
        };
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (handoff_id, target_partner, kind, payload_json, state, \
                 attempts, next_attempt_at, created_at, queued_at, urgent) \
                 VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?6, ?6, \
                 (SELECT urgency = 'urgent' FROM handoffs WHERE id = ?1))",
            )?
            .execute(params![
                handoff_id,
                partner,
                kind.as_str(),
                payload_json,
                ms(due),
                ms(&self.now)
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Appends a status history entry; returns its position.
    fn history(
        &self,
        handoff_id: &str,
        update: &StatusUpdate,
        side: Side,
        outcome: Outcome,
        refusal: Option<&str>,
    ) -> Result<u64> {
        // The entry's number is the hand-off's next, found by the insert.
        let next: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO status_history (handoff_id, seq, status, at, side, by_text, \
                 reason_code, comment, satisfaction, outcome, refusal, recorded_at) \
                 SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 \
                 FROM status_history WHERE handoff_id = ?1 RETURNING seq",
            )?
            .query_row(
                params![
                    handoff_id,
                    update.status.as_str(),
                    ms(&update.at),
                    side.as_str(),
                    update.by,
                    update.reason_code,
                    update.comment,
                    update.satisfaction.map(codec::satisfaction_str),
                    outcome.as_str(),
                    refusal,
                    ms(&self.now)
                ],
                |r| r.get(0),
            )?;
        seq(next)
    }

    /// Runs the lifecycle on `update` and records the result: history
    /// entry, state change on `Apply`, a status message toward `notify` on
    /// `Apply` and `Notice`, and the audit event.
    pub(super) fn status_step(
        &self,
        head: &Head,
        update: StatusUpdate,
        side: Side,
        notify: Option<&Notify>,
    ) -> Result<StatusOutcome> {
        let verdict = lifecycle::check(head.state, update.status, side);
        let (outcome, refusal) = match verdict {
            Verdict::Apply => (Outcome::Applied, None),
            Verdict::Repeat => (Outcome::Repeat, None),
            Verdict::Notice => (Outcome::Notice, None),
            Verdict::Refuse(why) => (Outcome::Refused, Some(why.to_string())),
        };
        let history_seq = self.history(&head.id, &update, side, outcome, refusal.as_deref())?;
        let state = if verdict == Verdict::Apply {
            // The head's target ticket id is the row's, or the one just
            // learnt from the target's reply to the delivery.
            self.conn
                .prepare_cached(
                    "UPDATE handoffs SET state = ?2, updated_at = ?3, target_ticket_id = ?4 \
                     WHERE id = ?1",
                )?
                .execute(params![
                    head.id,
                    update.status.as_str(),
                    ms(&self.now),
                    head.target_ticket_id
                ])?;
            update.status
        } else {
            head.state
        };
        let mut outbox_id = None;
        if let (Verdict::Apply | Verdict::Notice, Some(to)) = (verdict, notify) {
            // Name the hand-off by the ticket id the recipient knows.
            let ticket_id =
                if to.partner == head.target_partner && to.partner != head.origin_partner {
                    head.target_ticket_id.clone()
                } else {
                    Some(head.origin_ticket_id.clone())
                };
            let message = StatusUpdate {
                handoff_id: Some(head.id.clone()),
                ticket_id,
                ..update.clone()
            };
            let json = serde_json::to_string(&message)?;
            outbox_id =
                Some(self.enqueue(&head.id, &to.partner, Queued::Status(&json), &self.now)?);
        }
        let kind = match verdict {
            Verdict::Refuse(_) => EventKind::StatusRefused,
            Verdict::Apply | Verdict::Repeat | Verdict::Notice => EventKind::StatusApplied,
        };
        let audit_seq = self.event(
            Some(&head.id),
            kind,
            json!({
                "status": update.status.as_str(),
                "side": side.as_str(),
                "outcome": outcome.as_str(),
                "from": head.state.as_str(),
                "to": state.as_str(),
                "history_seq": history_seq,
                "refusal": refusal,
                "notify": notify.map(|n| n.partner.as_str()),
                "outbox_id": outbox_id,
            }),
        )?;
        Ok(StatusOutcome {
            verdict,
            audit_seq,
            state,
        })
    }

    /// The sequence number of a hand-off's `received` event.
    fn received_seq(&self, handoff_id: &str) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT seq FROM events WHERE handoff_id = ?1 AND kind = 'received' \
                 ORDER BY seq LIMIT 1",
            )?
            .query_row([handoff_id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("hand-off {handoff_id} has no receipt")))?;
        seq(n)
    }
}

/// What [`submit`] stores of a new hand-off's ticket, worked out before it
/// reaches the writer thread (the one thread every write waits for).
pub(super) struct PreparedTicket {
    /// SHA-256 of the canonical ticket as submitted: the idempotency check.
    content_sha256: String,
    /// The ticket with its deadlines, as stored (without the hand-off id,
    /// which the writer assigns and the readers put back).
    ticket_json: String,
}

impl PreparedTicket {
    /// Hashes `new`'s ticket, then gives it its deadlines and serialises it.
    pub(super) fn new(new: &mut NewHandoff) -> Result<PreparedTicket> {
        let content_sha256 = sha256_hex(&serde_json::to_vec(&new.ticket)?);
        let ticket = &mut new.ticket;
        ticket.handoff_id = None;
        ticket.ack_by.get_or_insert(new.ack_by);
        ticket.resolve_by.get_or_insert(new.resolve_by);
        Ok(PreparedTicket {
            content_sha256,
            ticket_json: serde_json::to_string(ticket)?,
        })
    }
}

pub(super) fn submit(
    tx: &mut Tx<'_>,
    new: NewHandoff,
    prepared: PreparedTicket,
) -> Result<Submitted> {
    let PreparedTicket {
        content_sha256,
        ticket_json,
    } = prepared;
    let existing: Option<(String, String)> = tx
        .conn
        .prepare_cached(
            "SELECT id, content_sha256 FROM handoffs \
             WHERE origin_partner = ?1 AND origin_ticket_id = ?2",
        )?
        .query_row(params![new.origin_partner, new.origin_ticket_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((id, first_sha256)) = existing {
        let first = Receipt {
            audit_seq: tx.received_seq(&id)?,
            handoff_id: id,
        };
        let same = first_sha256 == content_sha256;
        let kind = if same {
            EventKind::Duplicate
        } else {
            EventKind::Conflict
        };
        let audit_seq = tx.event(
            Some(&first.handoff_id),
            kind,
            json!({
                "origin_partner": new.origin_partner,
                "origin_ticket_id": new.origin_ticket_id,
                "content_sha256": content_sha256,
                "first_content_sha256": first_sha256,
                "raw_sha256": new.raw_sha256,
                "first_audit_seq": first.audit_seq,
            }),
        )?;
        return Ok(if same {
            Submitted::Duplicate { first, audit_seq }
        } else {
            Submitted::Conflict { first, audit_seq }
        });
    }

    let id = tx.ids.next(tx.system_now).to_string();
    tx.conn
        .prepare_cached(
            "INSERT INTO handoffs (id, origin_partner, origin_ticket_id, origin_family, \
             target_partner, target_family, kind, urgency, state, content_sha256, raw_sha256, \
             ack_by, resolve_by, created_at, updated_at, trace_parent) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'received', ?9, ?10, ?11, ?12, ?13, ?13, ?14)",
        )?
        .execute(params![
            id,
            new.origin_partner,
            new.origin_ticket_id,
            new.origin_family.as_str(),
            new.target_partner,
            new.target_family.as_str(),
            new.kind.as_str(),
            new.urgency.as_str(),
            content_sha256,
            new.raw_sha256,
            ms(&new.ack_by),
            ms(&new.resolve_by),
            ms(&tx.now),
            new.trace_parent
        ])?;
    tx.conn
        .prepare_cached("INSERT INTO tickets (handoff_id, ticket_json) VALUES (?1, ?2)")?
        .execute(params![id, ticket_json])?;
    let received = StatusUpdate {
        handoff_id: Some(id.clone()),
        ticket_id: Some(new.origin_ticket_id.clone()),
        status: Status::Received,
        at: new.now,
        by: None,
        reason_code: None,
        comment: None,
        satisfaction: None,
        extensions: BTreeMap::new(),
    };
    tx.history(&id, &received, Side::Gateway, Outcome::Applied, None)?;
    let outbox_id = tx.enqueue(&id, &new.target_partner, Queued::Ticket, &new.now)?;
    let audit_seq = tx.event(
        Some(&id),
        EventKind::Received,
        json!({
            "origin_partner": new.origin_partner,
            "origin_family": new.origin_family.as_str(),
            "origin_ticket_id": new.origin_ticket_id,
            "target_partner": new.target_partner,
            "target_family": new.target_family.as_str(),
            "kind": new.kind.as_str(),
            "urgency": new.urgency.as_str(),
            "content_sha256": content_sha256,
            "raw_sha256": new.raw_sha256,
            "ack_by": new.ack_by.to_rfc3339(),
            "resolve_by": new.resolve_by.to_rfc3339(),
            "outbox_id": outbox_id,
        }),
    )?;
    Ok(Submitted::Created(Receipt {
        handoff_id: id,
        audit_seq,
    }))
}

pub(super) fn apply_status(
    tx: &mut Tx<'_>,
    handoff_id: &str,
    update: StatusUpdate,
    side: Side,
    notify: Option<Notify>,
) -> Result<StatusOutcome> {
    let head = tx.head(handoff_id)?;
    tx.status_step(&head, update, side, notify.as_ref())
}

pub(super) fn record_refused(tx: &mut Tx<'_>, refused: RefusedSubmission) -> Result<u64> {
    tx.event(
        None,
        EventKind::Refused,
        json!({
            "partner": refused.partner,
            "origin_ticket_id": refused.origin_ticket_id,
            "raw_sha256": refused.raw_sha256,
            "http_status": refused.http_status,
            "reason": refused.reason,
        }),
    )
}
