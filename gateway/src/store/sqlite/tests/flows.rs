//! The hand-off flows through the store: status steps, delivery order and
//! back-off, overdue reports, the property units' view, and what the audit
//! events may hold.

use chrono::TimeDelta;
use schemas::{Satisfaction, Status, Urgency};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_backwards_is_recorded_and_never_applied() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let id = created(
        store
            .submit(new_handoff(&sample_ticket(), "BJ1", "hb-131000"))
            .await
            .unwrap(),
    )
    .handoff_id;
    for status in [Status::Accepted, Status::Resolved] {
        let out = store
            .apply_status(&id, update(status), Side::Target, origin())
            .await
            .unwrap();
        assert_eq!((out.verdict, out.state), (Verdict::Apply, status));
    }
    let repeat = store
        .apply_status(&id, update(Status::Resolved), Side::Target, origin())
        .await
        .unwrap();
    assert_eq!(repeat.verdict, Verdict::Repeat);

    let back = store
        .apply_status(&id, update(Status::InProgress), Side::Target, origin())
        .await
        .unwrap();
    let why = Refusal::Backwards {
        from: Status::Resolved,
        to: Status::InProgress,
    };
    assert_eq!(back.verdict, Verdict::Refuse(why));
    assert_eq!(back.state, Status::Resolved);
    let wrong_side = store
        .apply_status(&id, update(Status::Closed), Side::Target, origin())
        .await
        .unwrap();
    assert!(matches!(
        wrong_side.verdict,
        Verdict::Refuse(Refusal::NotAllowedFor { .. })
    ));

    let record = store.handoff(&id).await.unwrap().unwrap();
    assert_eq!(record.state, Status::Resolved);
    let history = store.history(&id).await.unwrap();
    let outcomes: Vec<_> = history.iter().map(|h| (h.status, h.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (Status::Received, Outcome::Applied),
            (Status::Accepted, Outcome::Applied),
            (Status::Resolved, Outcome::Applied),
            (Status::Resolved, Outcome::Repeat),
            (Status::InProgress, Outcome::Refused),
            (Status::Closed, Outcome::Refused),
        ]
    );
    assert_eq!(
        history[4].refusal.as_deref(),
        Some(why.to_string().as_str())
    );
    assert_eq!(history[4].by.as_deref(), Some("李工"));
    let events = store.events(&id).await.unwrap();
    assert_eq!(events.last().unwrap().kind, EventKind::StatusRefused);
    assert_eq!(events.last().unwrap().seq, wrong_side.audit_seq);
    assert_eq!(events[events.len() - 2].seq, back.audit_seq);

    // Only the two applied steps went toward the origin, named by its id.
    let outbox = store.outbox(&id).await.unwrap();
    let statuses: Vec<_> = outbox
        .iter()
        .filter_map(|o| match &o.payload {
            OutboxPayload::Status(s) => {
                Some((o.target_partner.as_str(), s.status, s.ticket_id.clone()))
            }
            OutboxPayload::Ticket(_) => None,
        })
        .collect();
    let bj1 = Some("BJ1".to_string());
    assert_eq!(
        statuses,
        [
            ("bj12345", Status::Accepted, bj1.clone()),
            ("bj12345", Status::Resolved, bj1),
        ]
    );

    // The origin closes, with satisfaction; then nothing more moves it.
    let mut close = update(Status::Closed);
    close.satisfaction = Some(Satisfaction::BasicallySatisfied);
    let closed = store
        .apply_status(
            &id,
            close,
            Side::Origin,
            Some(Notify {
                partner: "hb-131000".into(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(closed.state, Status::Closed);
    let history = store.history(&id).await.unwrap();
    assert_eq!(
        history.last().unwrap().satisfaction,
        Some(Satisfaction::BasicallySatisfied)
    );
    let late = store
        .apply_status(&id, update(Status::Resolved), Side::Target, origin())
        .await
        .unwrap();
    assert_eq!(
        late.verdict,
        Verdict::Refuse(Refusal::AfterTerminal {
            state: Status::Closed
        })
    );
    assert!(matches!(
        store
            .apply_status("01NOSUCH", update(Status::Accepted), Side::Target, None)
            .await,
        Err(StoreError::UnknownHandoff(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_backing_off_holds_back_only_its_own_target() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let ticket = sample_ticket();
    let h1 = created(
        store
            .submit(new_handoff(&ticket, "A1", "hb-a"))
            .await
            .unwrap(),
    )
    .handoff_id;
    let h2 = created(
        store
            .submit(new_handoff(&ticket, "A2", "hb-a"))
            .await
            .unwrap(),
    )
    .handoff_id;
    let h3 = created(
        store
            .submit(new_handoff(&ticket, "B1", "hb-b"))
            .await
            .unwrap(),
    )
    .handoff_id;
    let t = now();
    assert_eq!(
        store.targets_with_pending().await.unwrap(),
        ["hb-a", "hb-b"]
    );

    let due = store
        .due_deliveries("hb-a", t, 10, Default::default())
        .await
        .unwrap();
    let order: Vec<_> = due.iter().map(|o| o.handoff_id.as_str()).collect();
    assert_eq!(order, [h1.as_str(), h2.as_str()]);
    assert!(
        matches!(&due[0].payload, OutboxPayload::Ticket(tk) if tk.handoff_id.as_deref() == Some(h1.as_str()))
    );
    assert_eq!(due[0].kind(), MessageKind::Ticket);
    assert_eq!(
        store
            .due_deliveries("hb-a", t, 1, Default::default())
            .await
            .unwrap()
            .len(),
        1
    );

    // The first fails and backs off for an hour: the second waits for it,
    // the other target does not.
    let retry = t + TimeDelta::hours(1);
    let failed = store
        .record_delivery(
            due[0].id,
            DeliveryResult::Failed {
                sent_sha256: None,
                error: "connection refused".into(),
                next_attempt_at: retry,
                at: t,
            },
            origin(),
        )
        .await
        .unwrap();
    assert_eq!(failed.status, None);
    assert!(
        store
            .due_deliveries("hb-a", t, 10, Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    let next = store.next_due("hb-a").await.unwrap().unwrap();
    assert_eq!(next.timestamp_millis(), retry.timestamp_millis());
    let other: Vec<_> = store
        .due_deliveries("hb-b", t, 10, Default::default())
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].handoff_id, h3);

    // An hour later both are due, in order; the first carries its attempt.
    let later = store
        .due_deliveries("hb-a", retry, 10, Default::default())
        .await
        .unwrap();
    assert_eq!(later.len(), 2);
    assert_eq!((later[0].id, later[0].attempts), (due[0].id, 1));
    assert_eq!(later[0].last_error.as_deref(), Some("connection refused"));

    // Delivered with the target's id: the hand-off is delivered and the
    // origin is told.
    let done = store
        .record_delivery(
            later[0].id,
            DeliveryResult::Delivered {
                sent_sha256: None,
                target_ticket_id: Some("LF-778".into()),
                at: retry,
                by: None,
            },
            origin(),
        )
        .await
        .unwrap();
    let status = done.status.unwrap();
    assert_eq!(
        (status.verdict, status.state),
        (Verdict::Apply, Status::Delivered)
    );
    let record = store.handoff(&h1).await.unwrap().unwrap();
    assert_eq!(record.target_ticket_id.as_deref(), Some("LF-778"));
    assert_eq!(record.state, Status::Delivered);
    assert!(matches!(
        store
            .record_delivery(
                later[0].id,
                DeliveryResult::Dead {
                    error: "x".into(),
                    at: retry
                },
                None
            )
            .await,
        Err(StoreError::NotPending { .. })
    ));
    assert!(matches!(
        store
            .record_delivery(
                999_999,
                DeliveryResult::Dead {
                    error: "x".into(),
                    at: retry
                },
                None
            )
            .await,
        Err(StoreError::UnknownOutbox(999_999))
    ));
    let to_origin = store
        .due_deliveries("bj12345", retry, 10, Default::default())
        .await
        .unwrap();
    assert_eq!(to_origin.len(), 1);
    match &to_origin[0].payload {
        OutboxPayload::Status(s) => {
            assert_eq!(s.status, Status::Delivered);
            assert_eq!(s.ticket_id.as_deref(), Some("A1"));
            assert_eq!(s.handoff_id.as_deref(), Some(h1.as_str()));
        }
        other => panic!("expected a status, got {other:?}"),
    }
    // A status toward the target names the target's own id.
    store
        .apply_status(
            &h1,
            update(Status::Closed),
            Side::Origin,
            Some(Notify {
                partner: "hb-a".into(),
            }),
        )
        .await
        .unwrap();
    let to_target = store.outbox(&h1).await.unwrap();
    match &to_target.last().unwrap().payload {
        OutboxPayload::Status(s) => assert_eq!(s.ticket_id.as_deref(), Some("LF-778")),
        other => panic!("expected a status, got {other:?}"),
    }

    // The second is given up on, then put back.
    let head = store
        .due_deliveries("hb-a", retry, 10, Default::default())
        .await
        .unwrap();
    assert_eq!(head[0].handoff_id, h2);
    store
        .record_delivery(
            head[0].id,
            DeliveryResult::Dead {
                error: "HTTP 400".into(),
                at: retry,
            },
            None,
        )
        .await
        .unwrap();
    let after = store
        .due_deliveries("hb-a", retry, 10, Default::default())
        .await
        .unwrap();
    assert!(after.iter().all(|o| o.handoff_id != h2));
    assert_eq!(store.outbox(&h2).await.unwrap()[0].state, OutboxState::Dead);
    assert_eq!(store.redeliver(&h2, retry).await.unwrap(), 1);
    assert_eq!(store.redeliver(&h2, retry).await.unwrap(), 0);
    let back = store
        .due_deliveries("hb-a", retry, 10, Default::default())
        .await
        .unwrap();
    assert_eq!(back[0].handoff_id, h2);
    assert_eq!((back[0].attempts, back[0].state), (0, OutboxState::Pending));
    assert!(matches!(
        store.redeliver("01NOSUCH", retry).await,
        Err(StoreError::UnknownHandoff(_))
    ));
    let kinds: Vec<_> = store
        .events(&h2)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::Received,
            EventKind::DeadLettered,
            EventKind::Redelivered
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_never_hold_personal_data() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let ticket = sample_ticket();
    let receipt = created(
        store
            .submit(new_handoff(&ticket, "BJ1", "hb-131000"))
            .await
            .unwrap(),
    );
    store
        .submit(new_handoff(&ticket, "BJ1", "hb-131000"))
        .await
        .unwrap();
    let mut changed = new_handoff(&ticket, "BJ1", "hb-131000");
    changed.ticket.caller.phone = Some("13900139000".into());
    store.submit(changed).await.unwrap();
    let mut by_name = update(Status::Accepted);
    by_name.by = Some(CALLER_NAME.into());
    by_name.comment = Some(format!("已联系 {CALLER_PHONE}"));
    store
        .apply_status(&receipt.handoff_id, by_name, Side::Target, origin())
        .await
        .unwrap();
    let id = store.outbox(&receipt.handoff_id).await.unwrap()[0].id;
    store
        .record_delivery(
            id,
            DeliveryResult::Failed {
                sent_sha256: None,
                error: format!("partner said: bad phone {CALLER_PHONE}"),
                next_attempt_at: now(),
                at: now(),
            },
            None,
        )
        .await
        .unwrap();
    store
        .record_refused(RefusedSubmission {
            partner: Some("bj12345".into()),
            origin_ticket_id: Some("BJ2".into()),
            raw_sha256: "ef".repeat(32),
            http_status: 400,
            reason: "invalid: caller.mobile".into(),
        })
        .await
        .unwrap();
    let conn = Connection::open(dir.db()).unwrap();
    let mut stmt = conn
        .prepare("SELECT kind, detail_json FROM events")
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<std::result::Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 6);
    for (kind, detail) in &rows {
        for secret in [CALLER_NAME, CALLER_PHONE, "13900139000", "燕郊"] {
            assert!(
                !detail.contains(secret),
                "{kind} event holds {secret}: {detail}"
            );
        }
    }
    // The data is where it belongs.
    let ticket_json: String = conn
        .query_row("SELECT ticket_json FROM tickets", [], |r| r.get(0))
        .unwrap();
    assert!(ticket_json.contains(CALLER_NAME) && ticket_json.contains(CALLER_PHONE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_deadline_is_reported_once_and_escalated() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let mut new = new_handoff(&sample_ticket(), "BJ1", "hb-131000");
    new.ack_by = at("2026-05-01T10:00:00+08:00");
    new.resolve_by = at("2026-05-02T10:00:00+08:00");
    let id = created(store.submit(new).await.unwrap()).handoff_id;

    assert!(
        store
            .overdue_candidates(at("2026-05-01T10:00:00+08:00"))
            .await
            .unwrap()
            .is_empty()
    );
    let t = at("2026-05-01T10:00:01+08:00");
    let candidates = store.overdue_candidates(t).await.unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(
        (candidates[0].0.id.as_str(), candidates[0].1),
        (id.as_str(), Overdue::Ack)
    );
    // Not yet passed: nothing recorded.
    assert_eq!(
        store
            .mark_overdue(&id, Overdue::Answer, t, origin(), None)
            .await
            .unwrap(),
        None
    );

    let escalate = Some(Notify {
        partner: "hb-130000".into(),
    });
    let out = store
        .mark_overdue(&id, Overdue::Ack, t, origin(), escalate.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (out.verdict, out.state),
        (Verdict::Notice, Status::Received)
    );
    assert_eq!(
        store
            .mark_overdue(&id, Overdue::Ack, t, origin(), escalate)
            .await
            .unwrap(),
        None
    );
    assert!(store.overdue_candidates(t).await.unwrap().is_empty());
    let record = store.handoff(&id).await.unwrap().unwrap();
    assert!(record.ack_overdue && !record.answer_overdue);

    let outbox = store.outbox(&id).await.unwrap();
    assert_eq!(outbox.len(), 3);
    match &outbox[1].payload {
        OutboxPayload::Status(s) => {
            assert_eq!(outbox[1].target_partner, "bj12345");
            assert_eq!(s.status, Status::Expired);
            assert_eq!(s.ticket_id.as_deref(), Some("BJ1"));
            assert_eq!(
                s.comment.as_deref(),
                Some("deadline to acknowledge passed: 2026-05-01T10:00:00+08:00")
            );
        }
        other => panic!("expected the notice, got {other:?}"),
    }
    assert_eq!(outbox[2].target_partner, "hb-130000");
    assert!(
        matches!(&outbox[2].payload, OutboxPayload::Ticket(tk) if tk.handoff_id.as_deref() == Some(id.as_str()))
    );
    let kinds: Vec<_> = store
        .events(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::Received,
            EventKind::StatusApplied,
            EventKind::Overdue,
            EventKind::Escalated
        ]
    );

    // Later steps still count; the answer deadline then passes.
    let accepted = store
        .apply_status(&id, update(Status::Accepted), Side::Target, origin())
        .await
        .unwrap();
    assert_eq!(accepted.verdict, Verdict::Apply);
    let late = at("2026-05-02T10:00:01+08:00");
    let candidates = store.overdue_candidates(late).await.unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(candidates[0].1, Overdue::Answer);
    // Escalation copies do not count as the target's acknowledgement.
    let copy = outbox[2].id;
    let recorded = store
        .record_delivery(
            copy,
            DeliveryResult::Delivered {
                sent_sha256: None,
                target_ticket_id: Some("HB-9".into()),
                at: late,
                by: None,
            },
            origin(),
        )
        .await
        .unwrap();
    assert_eq!(recorded.status, None);
    assert_eq!(
        store.handoff(&id).await.unwrap().unwrap().target_ticket_id,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_sees_only_its_own_orders() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let ticket = sample_ticket();
    let mut mine = new_handoff(&ticket, "P1", "pu-military-001");
    mine.kind = HandoffKind::Property;
    mine.urgency = Urgency::Urgent;
    let mine = created(store.submit(mine).await.unwrap()).handoff_id;
    let done = created(
        store
            .submit(new_handoff(&ticket, "P2", "pu-military-001"))
            .await
            .unwrap(),
    )
    .handoff_id;
    let theirs = created(
        store
            .submit(new_handoff(&ticket, "P3", "pu-central-002"))
            .await
            .unwrap(),
    )
    .handoff_id;
    store
        .apply_status(&done, update(Status::Rejected), Side::Target, origin())
        .await
        .unwrap();

    let all: Vec<_> = store
        .unit_orders("pu-military-001", false)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(all, [done.clone(), mine.clone()]);
    let open: Vec<_> = store
        .unit_orders("pu-military-001", true)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open, std::slice::from_ref(&mine));
    let record = store
        .unit_order("pu-military-001", &mine)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.kind, record.urgency),
        (HandoffKind::Property, Urgency::Urgent)
    );
    assert_eq!(
        store.unit_order("pu-military-001", &theirs).await.unwrap(),
        None
    );
    assert_eq!(
        store.unit_order("pu-central-002", &mine).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .unit_order("pu-military-001", "nonsense")
            .await
            .unwrap(),
        None
    );
}
