//! Delivery under trouble: a target that is down for a while, and a
//! hand-off nobody acknowledges in time.

use std::time::Duration;

use adapters::Family;
use bytes::Bytes;
use gateway::store::{EventKind, MessageKind, OutboxState, Outcome, Store};
use gateway::wire::Kind;
use schemas::Status;
use serde_json::json;

use crate::common::{Harness, WAIT, bj_receipt, json_with, sample, statuses_of, wire_values};

/// A target that answers 503 for three seconds gets every ticket once it is
/// back: all of them, once each, in the order they were submitted (with
/// `in_flight = 1`, the strict order an operator can ask for; with more in
/// flight, tickets of different hand-offs may overtake each other).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_down_for_a_while_gets_everything_in_order() {
    let h = Harness::start("down", false, |c| {
        c.delivery.in_flight = 1;
        c.delivery.initial_backoff = Duration::from_millis(50);
        c.delivery.max_backoff = Duration::from_millis(200);
        c.delivery.breaker_cooldown = Duration::from_millis(500);
    })
    .await;
    let langfang = h.partner("hb-131000").clone();
    langfang.set_down(true);
    let order = sample("bj-json/order.json");
    let mut submitted = Vec::new();
    for i in 0..5 {
        let order_no = format!("BJ20250312009{i:02}");
        let body = json_with(&order, &[("/orderNo", json!(order_no))]);
        let (id, _) = bj_receipt(&h.post("bj12345", Family::BjJson, Kind::Ticket, body).await);
        submitted.push((id, order_no));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(h.received("hb-131000", Kind::Ticket).await.is_empty());
    let first = h.store().outbox(&submitted[0].0).await.unwrap();
    assert!(
        first[0].attempts >= 2 && first[0].state == OutboxState::Pending,
        "retried while down: {first:?}"
    );
    for (id, _) in &submitted {
        assert_eq!(h.handoff(id).await.state, Status::Received);
    }

    langfang.set_down(false);
    let got = h
        .wait_tickets("hb-131000", 5, adapters::hb::decode_ticket, WAIT)
        .await;
    let order_of: Vec<(String, String)> = got
        .iter()
        .map(|(_, t)| {
            (
                t.handoff_id.clone().unwrap_or_default(),
                t.origin_ticket_id.clone(),
            )
        })
        .collect();
    assert_eq!(order_of, submitted);
    for (id, _) in &submitted {
        h.wait_handoff(id, "delivered", WAIT, |r| r.state == Status::Delivered)
            .await;
        let outbox = h.store().outbox(id).await.unwrap();
        let tickets: Vec<_> = outbox
            .iter()
            .filter(|o| o.kind() == MessageKind::Ticket)
            .collect();
        assert_eq!(tickets.len(), 1);
        assert_eq!(tickets[0].state, OutboxState::Delivered);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.received("hb-131000", Kind::Ticket).await.len(),
        5,
        "each ticket exactly once"
    );
    h.stop().await;
}

/// A hand-off nobody acknowledges within the deadline: the origin is told
/// in its format, the hand-off is flagged, the escalation partner gets a
/// copy of the ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_handoff_is_escalated() {
    let h = Harness::start("overdue", false, |c| {
        c.deadlines.urgent.ack = Duration::from_secs(1);
        c.deadlines.normal.ack = Duration::from_secs(1);
        // Neither the origin (bj12345) nor the target (hb-131000).
        c.escalation.partner = Some("tj12345".into());
    })
    .await;
    h.partner("hb-131000").set_down(true);
    let (id, _) = bj_receipt(
        &h.post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            sample("bj-json/order.json"),
        )
        .await,
    );

    let updates = h
        .wait_statuses("bj12345", &id, adapters::bj::decode_status, WAIT, |s| {
            s.iter().any(|u| u.status == Status::Expired)
        })
        .await;
    assert_eq!(statuses_of(&updates), [Status::Expired]);
    assert_eq!(updates[0].ticket_id.as_deref(), Some("BJ2025031200457"));
    let bodies: Vec<Bytes> = h
        .received("bj12345", Kind::Status)
        .await
        .into_iter()
        .map(|d| d.body)
        .collect();
    assert_eq!(wire_values(&bodies, "status"), ["OVERDUE"]);

    let record = h.handoff(&id).await;
    assert!(record.ack_overdue);
    assert!(!record.answer_overdue);
    assert_eq!(
        record.state,
        Status::Received,
        "expired is a notice, not a state"
    );
    let history = h.store().history(&id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.status == Status::Expired && e.outcome == Outcome::Notice),
        "{history:?}"
    );

    let copies = h
        .wait_tickets("tj12345", 1, adapters::tj::decode_ticket, WAIT)
        .await;
    let (_, copy) = &copies[0];
    assert_eq!(copy.handoff_id.as_deref(), Some(id.as_str()));
    assert_eq!(copy.origin_ticket_id, "BJ2025031200457");
    let kinds: Vec<EventKind> = h
        .store()
        .events(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&EventKind::Overdue), "{kinds:?}");
    assert!(kinds.contains(&EventKind::Escalated), "{kinds:?}");
    assert!(h.received("hb-131000", Kind::Ticket).await.is_empty());
    h.stop().await;
}

/// The operator's tools on a dead-lettered hand-off, through the real
/// binary: `handoffs list` and `show` tell its story, `redeliver` queues it
/// again and the running gateway delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_shown_and_redelivered_by_the_operator() {
    let h = Harness::start("redeliver", false, |c| c.delivery.max_attempts = 1).await;
    let langfang = h.partner("hb-131000").clone();
    langfang.set_down(true);
    let (id, _) = bj_receipt(
        &h.post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            sample("bj-json/order.json"),
        )
        .await,
    );
    let dead = h
        .wait_outbox(&id, WAIT, |o| {
            o.iter().any(|m| m.state == OutboxState::Dead)
        })
        .await;
    assert_eq!(dead[0].kind(), MessageKind::Ticket);
    langfang.set_down(false);

    let config = h.config_file();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .arg("handoffs")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let list = cli(&["list", "--state", "received"]);
    assert!(list.contains(&id) && list.contains("hb-131000"), "{list}");
    let show = cli(&["show", &id]);
    assert!(show.contains("dead") && show.contains("HTTP 503"), "{show}");
    assert!(
        show.contains("dead_lettered") && show.contains("received"),
        "{show}"
    );
    assert!(
        !show.contains("13800138000") && !show.contains("陈志强"),
        "no personal data: {show}"
    );
    let redeliver = cli(&["redeliver", &id]);
    assert!(redeliver.starts_with("1 message(s)"), "{redeliver}");

    let got = h
        .wait_tickets("hb-131000", 1, adapters::hb::decode_ticket, WAIT)
        .await;
    assert_eq!(got[0].1.handoff_id.as_deref(), Some(id.as_str()));
    // Its story now says when it was delivered, and its trace id.
    h.wait_outbox(&id, WAIT, |items| {
        items.iter().any(|i| i.delivered_at.is_some())
    })
    .await;
    let show = cli(&["show", &id]);
    assert!(
        show.contains("after queued") && show.contains("after received"),
        "{show}"
    );
    // The trace id the hand-off was given at its arrival, as every
    // delivery sent it.
    let stored = h.handoff(&id).await.trace_parent.unwrap();
    let trace = gateway::trace::parse(&stored).unwrap().trace_id;
    let sent = h.received("hb-131000", Kind::Ticket).await;
    assert!(
        sent.iter().any(|d| d
            .traceparent
            .as_deref()
            .and_then(gateway::trace::parse)
            .is_some_and(|t| t.trace_id == trace)),
        "no delivery carries trace id {trace}"
    );
    assert!(show.contains(&format!("trace id   {trace}")), "{show}");
    h.stop().await;
}

/// A slow target (300 ms to accept each message) gets several hand-offs at
/// once — never more than `in_flight` — while each hand-off's own messages
/// still arrive one after the other: its ticket before the origin's
/// closing status, though both are queued together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_target_gets_several_at_once_each_handoff_in_order() {
    let h = Harness::start("in-flight", false, |c| {
        c.delivery.in_flight = 4;
        // No delivery rate limit: only the window bounds what is in flight.
        for p in &mut c.partners {
            p.delivery_limit = None;
        }
    })
    .await;
    let langfang = h.partner("hb-131000").clone();
    langfang.set_latency(Duration::from_millis(300));
    let order = sample("bj-json/order.json");
    let status = sample("bj-json/status.json");
    let mut ids = Vec::new();
    for i in 0..8 {
        let order_no = format!("BJ20250312010{i:02}");
        let body = json_with(&order, &[("/orderNo", json!(order_no))]);
        let (id, _) = bj_receipt(&h.post("bj12345", Family::BjJson, Kind::Ticket, body).await);
        let close = json_with(
            &status,
            &[
                ("/gatewayRef", json!(id)),
                ("/orderNo", json!(order_no)),
                ("/status", json!("CLOSED")),
            ],
        );
        let reply = h.post("bj12345", Family::BjJson, Kind::Status, close).await;
        assert_eq!(
            reply.status.as_u16(),
            200,
            "{}",
            crate::common::text(&reply)
        );
        ids.push(id);
    }
    h.wait_tickets("hb-131000", 8, adapters::hb::decode_ticket, WAIT)
        .await;
    for id in &ids {
        h.wait_statuses("hb-131000", id, adapters::hb::decode_status, WAIT, |s| {
            s.iter().any(|u| u.status == Status::Closed)
        })
        .await;
    }
    let seen = langfang.max_in_flight();
    assert!(
        (2..=4).contains(&seen),
        "{seen} messages at once (in_flight = 4)"
    );
    // Per hand-off: the ticket arrived before its closing status.
    let received = langfang.received().await;
    let tables = h.tables();
    let handoff_of = |d: &gateway::simulate::Delivery| match d.kind {
        Kind::Ticket => {
            adapters::hb::decode_ticket(&d.body, tables)
                .unwrap()
                .handoff_id
        }
        Kind::Status => {
            adapters::hb::decode_status(&d.body, tables)
                .unwrap()
                .handoff_id
        }
    };
    for id in &ids {
        let kinds: Vec<Kind> = received
            .iter()
            .filter(|d| handoff_of(d).as_deref() == Some(id.as_str()))
            .map(|d| d.kind)
            .collect();
        assert_eq!(kinds, [Kind::Ticket, Kind::Status], "hand-off {id}");
    }
    h.stop().await;
}
