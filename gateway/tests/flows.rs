//! The gateway as its partners see it, over real mutual TLS on loopback,
//! with simulated partner servers speaking their own formats: the three
//! flows end to end (here), refusals (`flows/refusals.rs`: idempotency,
//! certificates, impersonation, a status step backwards) and delivery under
//! trouble (`flows/delivery.rs`: a target down for a while, overdue
//! escalation).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "flows/delivery.rs"]
mod delivery;
#[path = "flows/refusals.rs"]
mod refusals;

use adapters::Family;
use bytes::Bytes;
use gateway::wire::Kind;
use schemas::{Datum, OwnerKind, Status, Target};
use serde_json::json;

use common::{
    Harness, WAIT, assert_progression, bj_receipt, demo_file, ent_receipt, json, sample,
    statuses_of, text, wire_values,
};

/// Flow 1, one-key transfer: Beijing 12345 hands a burst water main in
/// Yanjiao to Langfang 12345 (hb-soap); Langfang works it, Beijing closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_beijing_to_langfang_end_to_end() {
    let h = Harness::start("transfer", true, |_| {}).await;
    let order = sample("bj-json/order.json");
    let original = adapters::bj::decode_ticket(&order, h.tables()).unwrap();

    let reply = h.post("bj12345", Family::BjJson, Kind::Ticket, order).await;
    let (id, audit_seq) = bj_receipt(&reply);
    assert!(audit_seq >= 1);

    // Langfang gets a PushWorkOrder in GB18030 (the simulated partner files
    // a delivery as a ticket only under SOAPAction "PushWorkOrder").
    let got = h
        .wait_tickets("hb-131000", 1, adapters::hb::decode_ticket, WAIT)
        .await;
    let (delivery, ticket) = &got[0];
    let ct = delivery.content_type.clone().unwrap_or_default();
    assert!(
        ct.starts_with("text/xml") && ct.to_ascii_uppercase().contains("GB18030"),
        "{ct}"
    );
    assert!(
        delivery
            .body
            .starts_with(b"<?xml version=\"1.0\" encoding=\"GB18030\"?>")
    );
    assert!(
        std::str::from_utf8(&delivery.body).is_err(),
        "Chinese text in GB18030 is not valid UTF-8"
    );
    let has = |needle: &[u8]| delivery.body.windows(needle.len()).any(|w| w == needle);
    assert!(has(format!("<WGBH>{id}</WGBH>").as_bytes()));
    assert!(has(b"<MBCS>131000</MBCS>"));
    assert!(has(b"<SenderCode>110000</SenderCode>"));
    assert_eq!(ticket.handoff_id.as_deref(), Some(id.as_str()), "WGBH");
    assert_eq!(
        ticket.target,
        Some(Target::Hotline {
            division: "131000".into()
        }),
        "MBCS"
    );
    assert_eq!(ticket.origin_ticket_id, "BJ2025031200457");
    assert_eq!(
        ticket.origin_division.as_deref(),
        Some("110000"),
        "SenderCode"
    );
    assert_eq!(ticket.title, original.title);
    assert_eq!(ticket.caller.phone.as_deref(), Some("13800138000"));
    let location = ticket.location.as_ref().unwrap();
    let source = location.source_point.unwrap();
    assert_eq!(source.datum, Datum::Bd09);
    let sent = original.location.as_ref().unwrap();
    let gcj = sent.source_point.unwrap();
    let expected_bd09 = adapters::geo::gcj02_to_bd09(schemas::Point {
        lon: gcj.lon,
        lat: gcj.lat,
    });
    let bd09 = schemas::Point {
        lon: source.lon,
        lat: source.lat,
    };
    assert!(
        adapters::geo::distance_m(bd09, expected_bd09) < 0.5,
        "BD-09 point {bd09:?} is not {expected_bd09:?}"
    );
    assert!(adapters::geo::distance_m(location.point.unwrap(), sent.point.unwrap()) < 0.5);

    // Every status of Langfang reaches Beijing in bj-json, naming Beijing's
    // own order number and the hand-off.
    let updates = h
        .wait_statuses("bj12345", &id, adapters::bj::decode_status, WAIT, |s| {
            s.iter().any(|u| u.status == Status::Resolved)
        })
        .await;
    assert_progression(
        &statuses_of(&updates),
        &[
            Status::Delivered,
            Status::Accepted,
            Status::InProgress,
            Status::Resolved,
        ],
    );
    let bodies: Vec<Bytes> = h
        .received("bj12345", Kind::Status)
        .await
        .into_iter()
        .map(|d| d.body)
        .collect();
    assert_progression(
        &wire_values(&bodies, "status"),
        &["DELIVERED", "ACCEPTED", "PROCESSING", "RESOLVED"].map(String::from),
    );
    for u in &updates {
        assert_eq!(u.ticket_id.as_deref(), Some("BJ2025031200457"));
        assert_eq!(u.handoff_id.as_deref(), Some(id.as_str()));
    }

    // Beijing closes; the hand-off is closed and Langfang hears of it under
    // its own ticket number.
    let record = h
        .wait_handoff(&id, "closed", WAIT, |r| r.state == Status::Closed)
        .await;
    assert_eq!(record.target_ticket_id.as_deref(), Some("SIM-hb-131000-1"));
    let back = h
        .wait_statuses("hb-131000", &id, adapters::hb::decode_status, WAIT, |s| {
            s.iter().any(|u| u.status == Status::Closed)
        })
        .await;
    assert_eq!(statuses_of(&back), [Status::Closed]);
    assert_eq!(
        back[0].ticket_id.as_deref(),
        Some("SIM-hb-131000-1"),
        "GDBH"
    );
    assert_eq!(
        back[0]
            .extensions
            .get(adapters::hb::SENDER_CODE_EXTENSION)
            .map(String::as_str),
        Some("110000"),
        "the closing hotline's SenderCode"
    );
    h.stop().await;
}

/// Flow 2: the enterprise service hotline hands a licensing complaint to
/// Beijing 12345 (bj-json); Beijing's statuses come back in ent-json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprise_hotline_to_beijing_end_to_end() {
    let h = Harness::start("enterprise", true, |_| {}).await;
    let reply = h
        .post(
            "bj-enterprise",
            Family::EntJson,
            Kind::Ticket,
            sample("ent-json/ticket.json"),
        )
        .await;
    let (id, _) = ent_receipt(&reply);

    let got = h
        .wait_tickets("bj12345", 1, adapters::bj::decode_ticket, WAIT)
        .await;
    let (delivery, order) = &got[0];
    assert_eq!(json(&delivery.body)["gatewayRef"], id.as_str());
    assert_eq!(order.origin_ticket_id, "ENT-20250320-01466");
    let enterprise = order.enterprise.as_ref().unwrap();
    assert_eq!(enterprise.uscc.as_deref(), Some("91110108MA01RK7H3A"));

    let updates = h
        .wait_statuses(
            "bj-enterprise",
            &id,
            adapters::ent::decode_status,
            WAIT,
            |s| s.iter().any(|u| u.status == Status::Resolved),
        )
        .await;
    assert_progression(
        &statuses_of(&updates),
        &[
            Status::Delivered,
            Status::Accepted,
            Status::InProgress,
            Status::Resolved,
        ],
    );
    let bodies: Vec<Bytes> = h
        .received("bj-enterprise", Kind::Status)
        .await
        .into_iter()
        .map(|d| d.body)
        .collect();
    assert_progression(
        &wire_values(&bodies, "state"),
        &["delivered", "accepted", "in_progress", "resolved"].map(String::from),
    );
    for u in &updates {
        assert_eq!(u.ticket_id.as_deref(), Some("ENT-20250320-01466"));
    }

    h.wait_handoff(&id, "closed", WAIT, |r| r.state == Status::Closed)
        .await;
    let back = h
        .wait_statuses("bj12345", &id, adapters::bj::decode_status, WAIT, |s| {
            s.iter().any(|u| u.status == Status::Closed)
        })
        .await;
    assert_eq!(statuses_of(&back), [Status::Closed]);
    assert_eq!(back[0].ticket_id.as_deref(), Some("SIM-bj12345-1"));
    h.stop().await;
}

/// Flow 3: a housing repair in a military compound goes to that compound's
/// property unit, whose liaison works it through the inbox; no other unit
/// can see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housing_repair_to_property_unit_end_to_end() {
    let h = Harness::start("repair", true, |_| {}).await;
    let reply = h
        .post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            demo_file("bj-repair-order.json"),
        )
        .await;
    let (id, _) = bj_receipt(&reply);

    let unit = h.net.client("pu-military-001").unwrap();
    let list = unit
        .send("GET", &h.url("/pu/v1/orders"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(list.status.as_u16(), 200, "{}", text(&list));
    let items = json(&list.body);
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["order_id"], id.as_str());
    let order =
        adapters::pu::decode_ticket(&serde_json::to_vec(&items[0]).unwrap(), h.tables()).unwrap();
    let property = order.property.as_ref().unwrap();
    assert_eq!(property.owner_kind, Some(OwnerKind::Military));
    assert_eq!(property.unit_id.as_deref(), Some("pu-military-001"));
    assert_eq!(property.community, "万寿路甲15号院");
    assert_eq!(order.origin_ticket_id, "BJ2025032100318");

    // Another unit sees nothing of it.
    let other = h.net.client("pu-central-001").unwrap();
    let list = other
        .send("GET", &h.url("/pu/v1/orders"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(list.status.as_u16(), 200);
    assert_eq!(json(&list.body), json!([]));
    let one = other
        .send(
            "GET",
            &h.url(&format!("/pu/v1/orders/{id}")),
            &[],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(one.status.as_u16(), 404);
    let problem = json(&one.body);
    assert_eq!(problem["status"], 404, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "order_id", "{problem}");

    // The liaison acknowledges with the unit's reference, then resolves.
    let headers = [("content-type", "application/json")];
    let ack = unit
        .post(
            &h.url(&format!("/pu/v1/orders/{id}/ack")),
            &headers,
            Bytes::from(sample("pu-json/ack.json")),
        )
        .await
        .unwrap();
    assert_eq!(ack.status.as_u16(), 200, "{}", text(&ack));
    assert_eq!(json(&ack.body)["order_id"], id.as_str());
    let resolved = unit
        .post(
            &h.url(&format!("/pu/v1/orders/{id}/status")),
            &headers,
            Bytes::from(sample("pu-json/status.json")),
        )
        .await
        .unwrap();
    assert_eq!(resolved.status.as_u16(), 200, "{}", text(&resolved));

    let updates = h
        .wait_statuses("bj12345", &id, adapters::bj::decode_status, WAIT, |s| {
            s.iter().any(|u| u.status == Status::Resolved)
        })
        .await;
    assert_eq!(statuses_of(&updates), [Status::Delivered, Status::Resolved]);
    assert!(
        updates
            .iter()
            .all(|u| u.ticket_id.as_deref() == Some("BJ2025032100318"))
    );
    let record = h
        .wait_handoff(&id, "closed", WAIT, |r| r.state == Status::Closed)
        .await;
    assert_eq!(record.target_ticket_id.as_deref(), Some("YFC-2025-0387"));
    let open = unit
        .send("GET", &h.url("/pu/v1/orders?state=open"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(json(&open.body), json!([]));
    h.stop().await;
}
