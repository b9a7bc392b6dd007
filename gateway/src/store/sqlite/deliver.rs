//! The delivery side's write commands: delivery outcomes, redelivery of
//! dead messages and overdue reports.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use schemas::{Status, StatusUpdate, Timestamp};
use serde_json::json;

use super::codec::{self, ms};
use super::write::{Head, Queued, Tx};
use crate::lifecycle::{self, Overdue, Side, Verdict};
use crate::store::{
    DeliveryRecorded, DeliveryResult, EventKind, MessageKind, Notify, StatusOutcome, StoreError,
};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn record_delivery(
    tx: &mut Tx<'_>,
    outbox_id: i64,
    result: DeliveryResult,
    notify: Option<Notify>,
) -> Result<DeliveryRecorded> {
    let row: Option<(String, String, String, String, i64)> = tx
        .conn
        .prepare_cached(
            "SELECT handoff_id, target_partner, kind, state, attempts FROM outbox WHERE id = ?1",
        )?
        .query_row([outbox_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let (handoff_id, partner, kind, state, attempts) =
        row.ok_or(StoreError::UnknownOutbox(outbox_id))?;
    if state != "pending" {
        return Err(StoreError::NotPending {
            id: outbox_id,
            state,
        });
    }
    let attempt = attempts.saturating_add(1);
    match result {
        DeliveryResult::Delivered {
            target_ticket_id,
            sent_sha256,
            at,
            by,
        } => {
            tx.conn
                .prepare_cached(
                    "UPDATE outbox SET state = 'delivered', delivered_at = ?2, last_error = NULL \
                     WHERE id = ?1",
                )?
                .execute(params![outbox_id, ms(&at)])?;
            // The ticket reached the hand-off's own target (not an
            // escalation copy): that is the acknowledgement. (A status
            // message's delivery changes nothing of its hand-off.)
            let head = if kind == MessageKind::Ticket.as_str() {
                Some(tx.head(&handoff_id)?)
            } else {
                None
            };
            let reached = head.filter(|head| partner == head.target_partner);
            let delivered_applies = reached.as_ref().is_some_and(|head| {
                lifecycle::check(head.state, Status::Delivered, Side::Gateway) == Verdict::Apply
            });
            // With DELIVERED applied, the state's update writes their id too.
            if reached.is_some()
                && !delivered_applies
                && let Some(their_id) = &target_ticket_id
            {
                tx.conn
                    .prepare_cached(
                        "UPDATE handoffs SET target_ticket_id = ?2, updated_at = ?3 WHERE id = ?1",
                    )?
                    .execute(params![handoff_id, their_id, ms(&tx.now)])?;
            }
            let audit_seq = tx.event(
                Some(&handoff_id),
                EventKind::Delivered,
                json!({
                    "outbox_id": outbox_id,
                    "kind": kind,
                    "target_partner": partner,
                    "attempt": attempt,
                    "target_ticket_id": target_ticket_id,
                    "sent_sha256": sent_sha256,
                    "at": at.to_rfc3339(),
                }),
            )?;
            let mut status = None;
            if let Some(head) = reached.filter(|_| delivered_applies) {
                let head = Head {
                    target_ticket_id: target_ticket_id.or(head.target_ticket_id.clone()),
                    ..head
                };
                let update = StatusUpdate {
                    handoff_id: Some(handoff_id.clone()),
                    ticket_id: None,
                    status: Status::Delivered,
                    at,
                    by,
                    reason_code: None,
                    comment: None,
                    satisfaction: None,
                    extensions: BTreeMap::new(),
                };
                status = Some(tx.status_step(&head, update, Side::Gateway, notify.as_ref())?);
            }
            Ok(DeliveryRecorded { audit_seq, status })
        }
        DeliveryResult::Failed {
            error,
            next_attempt_at,
            sent_sha256,
            at,
        } => {
            tx.conn
                .prepare_cached(
                    "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 \
                     WHERE id = ?1",
                )?
                .execute(params![outbox_id, attempt, ms(&next_attempt_at), error])?;
            let audit_seq = tx.event(
                Some(&handoff_id),
                EventKind::DeliveryAttempt,
                json!({
                    "outbox_id": outbox_id,
                    "target_partner": partner,
                    "attempt": attempt,
                    "sent_sha256": sent_sha256,
                    "at": at.to_rfc3339(),
                    "next_attempt_at": next_attempt_at.to_rfc3339(),
                }),
            )?;
            Ok(DeliveryRecorded {
                audit_seq,
                status: None,
            })
        }
        DeliveryResult::Dead { error, at } => {
            tx.conn
                .prepare_cached(
                    "UPDATE outbox SET state = 'dead', attempts = ?2, last_error = ?3 WHERE id = ?1",
                )?
                .execute(params![outbox_id, attempt, error])?;
            let audit_seq = tx.event(
                Some(&handoff_id),
                EventKind::DeadLettered,
                json!({
                    "outbox_id": outbox_id,
                    "target_partner": partner,
                    "attempts": attempt,
                    "at": at.to_rfc3339(),
                }),
            )?;
            Ok(DeliveryRecorded {
                audit_seq,
                status: None,
            })
        }
    }
}

pub(super) fn redeliver(tx: &mut Tx<'_>, handoff_id: &str, now: Timestamp) -> Result<usize> {
    tx.head(handoff_id)?;
    let ids: Vec<i64> = tx
        .conn
        .prepare_cached(
            "SELECT id FROM outbox WHERE handoff_id = ?1 AND state = 'dead' ORDER BY id",
        )?
        .query_map([handoff_id], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(0);
    }
    tx.conn
        .prepare_cached(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2, \
             queued_at = ?3, last_error = NULL WHERE handoff_id = ?1 AND state = 'dead'",
        )?
        .execute(params![handoff_id, ms(&now), ms(&tx.now)])?;
    tx.event(
        Some(handoff_id),
        EventKind::Redelivered,
        json!({ "outbox_ids": ids }),
    )?;
    Ok(ids.len())
}

pub(super) fn mark_overdue(
    tx: &mut Tx<'_>,
    handoff_id: &str,
    which: Overdue,
    now: Timestamp,
    notify: Option<Notify>,
    escalate: Option<Notify>,
) -> Result<Option<StatusOutcome>> {
    let head = tx.head(handoff_id)?;
    let (flagged, deadline, column, what) = match which {
        Overdue::Ack => (head.ack_overdue, head.ack_by, "ack_overdue", "acknowledge"),
        Overdue::Answer => (
            head.answer_overdue,
            head.resolve_by,
            "answer_overdue",
            "answer",
        ),
    };
    if flagged
        || ms(&now) <= deadline
        || lifecycle::deadline_met(which, head.state)
        || lifecycle::is_terminal(head.state)
    {
        return Ok(None);
    }
    tx.conn.execute(
        &format!("UPDATE handoffs SET {column} = 1, updated_at = ?2 WHERE id = ?1"),
        params![handoff_id, ms(&tx.now)],
    )?;
    let deadline = codec::time(deadline)?;
    let notice = StatusUpdate {
        handoff_id: Some(handoff_id.to_owned()),
        ticket_id: None,
        status: Status::Expired,
        at: now,
        by: None,
        reason_code: None,
        comment: Some(format!(
            "deadline to {what} passed: {}",
            deadline.to_rfc3339()
        )),
        satisfaction: None,
        extensions: BTreeMap::new(),
    };
    let outcome = tx.status_step(&head, notice, Side::Gateway, notify.as_ref())?;
    tx.event(
        Some(handoff_id),
        EventKind::Overdue,
        json!({
            "deadline": which.as_str(),
            "due": deadline.to_rfc3339(),
            "state": head.state.as_str(),
            "notice_seq": outcome.audit_seq,
        }),
    )?;
    if let Some(to) = escalate {
        let outbox_id = tx.enqueue(handoff_id, &to.partner, Queued::Ticket, &now)?;
        tx.event(
            Some(handoff_id),
            EventKind::Escalated,
            json!({
                "deadline": which.as_str(),
                "partner": to.partner,
                "outbox_id": outbox_id,
            }),
        )?;
    }
    Ok(Some(outcome))
}
