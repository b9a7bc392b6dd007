//! Rate limits and priority lanes as the partners see them, over real
//! mutual TLS on loopback: a partner above its rate is refused with 429 in
//! its own format and loses nothing it sent before; a target is never sent
//! more than its rate while everything still arrives; a flood of normal
//! tickets neither keeps urgent ones out nor delays their delivery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use adapters::Family;
use gateway::config::{Config, Limit, PartnerConfig, Rate};
use gateway::http::Reply;
use gateway::wire::Kind;
use serde_json::json;

use common::{
    Harness, WAIT, bj_error, bj_receipt, json, json_with, post_as, sample, soap_fault, text,
};

fn limit(text: &str, burst: u32) -> Option<Limit> {
    Some(Limit {
        rate: Rate::parse(text).unwrap(),
        burst,
    })
}

fn partner<'a>(c: &'a mut Config, id: &str) -> &'a mut PartnerConfig {
    c.partners.iter_mut().find(|p| p.id == id).unwrap()
}

/// A header of a reply, as text ("" when absent).
fn header(reply: &Reply, name: &str) -> String {
    reply
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Beijing's sample order (a burst water main in Yanjiao, for Langfang)
/// under another order number, urgent ("1") or normal ("2").
fn order(order_no: &str, urgent: bool) -> Vec<u8> {
    json_with(
        &sample("bj-json/order.json"),
        &[
            ("/orderNo", json!(order_no)),
            ("/urgency", json!(if urgent { "1" } else { "2" })),
        ],
    )
}

/// Langfang's sample work order under its own SenderCode (the sample's
/// is Shijiazhuang's), bytes kept exact.
fn langfang_order() -> Vec<u8> {
    let raw = sample("hb-soap/push-work-order.xml");
    let at = raw
        .windows(31)
        .position(|w| w == b"<SenderCode>130100</SenderCode>")
        .unwrap();
    let mut bytes = raw[..at].to_vec();
    bytes.extend_from_slice(b"<SenderCode>131000</SenderCode>");
    bytes.extend_from_slice(&raw[at + 31..]);
    bytes
}

/// The `refused` audit events: `(partner, http_status, reason)`.
fn refused_events(h: &Harness) -> Vec<(String, u64, String)> {
    let path = &h.net.gateway.app.config.store.path;
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT detail_json FROM events WHERE kind = 'refused' ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| {
            let v = json(d.unwrap().as_bytes());
            (
                v["partner"].as_str().unwrap_or_default().to_owned(),
                v["http_status"].as_u64().unwrap_or_default(),
                v["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Beijing may submit 10 a minute, 5 at once, 20 % reserved for urgent
/// tickets: the normal lane takes 8 a minute (one per 7.5 s), 4 at once;
/// the urgent lane 2 a minute, 1 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_above_its_rate_gets_429_and_loses_nothing_it_sent_before() {
    let h = Harness::start("limit-ingress", false, |c| {
        c.limits.urgent_share = 0.2;
        partner(c, "bj12345").ingress_limit = limit("10/min", 5);
    })
    .await;
    let policy = "\"default\";q=8;w=60, \"urgent\";q=2;w=60";
    let mut taken = Vec::new();
    // Each takes one from the normal lane: r counts down, t is the time
    // the lane needs to be whole again (7.5 s a request, rounded up).
    for (i, (r, t)) in [(3, 8), (2, 15), (1, 23), (0, 30)].into_iter().enumerate() {
        let order_no = format!("BJ20250312100{i:02}");
        let reply = h
            .post(
                "bj12345",
                Family::BjJson,
                Kind::Ticket,
                order(&order_no, false),
            )
            .await;
        let (id, _) = bj_receipt(&reply);
        assert_eq!(header(&reply, "ratelimit-policy"), policy);
        assert_eq!(
            header(&reply, "ratelimit"),
            format!("\"default\";r={r};t={t}")
        );
        assert_eq!(header(&reply, "retry-after"), "");
        taken.push((id, order_no));
    }

    // The fifth normal ticket is over the rate: 429 in bj-json's own error
    // format, with the wait until the normal lane takes one again.
    let reply = h
        .post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            order("BJ2025031210099", false),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 429, "{}", text(&reply));
    let (code, msg, fields) = bj_error(&reply);
    assert_eq!(code, 429);
    assert!(msg.contains("rate limited"), "{msg}");
    assert_eq!(fields, ["body"]);
    let retry_after: u64 = header(&reply, "retry-after").parse().unwrap();
    assert!((1..=8).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        header(&reply, "ratelimit"),
        format!("\"default\";r=0;t={retry_after}")
    );
    assert_eq!(header(&reply, "ratelimit-policy"), policy);

    // An urgent ticket still goes through its reserved lane.
    let reply = h
        .post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            order("BJ2025031210005", true),
        )
        .await;
    let (id, _) = bj_receipt(&reply);
    assert_eq!(header(&reply, "ratelimit"), "\"urgent\";r=0;t=30");
    taken.push((id, "BJ2025031210005".to_owned()));

    // Everything taken reaches Langfang; the refused ticket was never
    // stored, and its refusal is in the audit trail.
    let got = h
        .wait_tickets("hb-131000", taken.len(), adapters::hb::decode_ticket, WAIT)
        .await;
    let mut delivered: Vec<(String, String)> = got
        .iter()
        .map(|(_, t)| (t.handoff_id.clone().unwrap(), t.origin_ticket_id.clone()))
        .collect();
    delivered.sort();
    taken.sort();
    assert_eq!(delivered, taken);
    assert_eq!(h.all_handoffs().await.len(), taken.len());
    assert_eq!(
        refused_events(&h),
        [("bj12345".to_owned(), 429, "rate limited".to_owned())]
    );
    h.stop().await;
}

/// Langfang (hb-soap) and the enterprise hotline (ent-json), one
/// submission a minute each: the second is refused in their own formats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_in_each_partners_own_format() {
    let h = Harness::start("limit-formats", false, |c| {
        c.limits.urgent_share = 0.0;
        partner(c, "hb-131000").ingress_limit = limit("1/min", 1);
        partner(c, "bj-enterprise").ingress_limit = limit("1/min", 1);
    })
    .await;
    let policy = "\"default\";q=1;w=60";

    let first = h
        .post("hb-131000", Family::HbSoap, Kind::Ticket, langfang_order())
        .await;
    assert_eq!(first.status.as_u16(), 200, "{}", text(&first));
    assert_eq!(header(&first, "ratelimit"), "\"default\";r=0;t=60");
    let second = h
        .post("hb-131000", Family::HbSoap, Kind::Ticket, langfang_order())
        .await;
    assert_eq!(second.status.as_u16(), 429, "{}", text(&second));
    let (faultcode, faultstring, _) = soap_fault(&second);
    assert_eq!(faultcode, "soap:Client");
    assert!(faultstring.contains("rate limited"), "{faultstring}");
    let retry_after: u64 = header(&second, "retry-after").parse().unwrap();
    assert!((55..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        header(&second, "ratelimit"),
        format!("\"default\";r=0;t={retry_after}")
    );
    assert_eq!(header(&second, "ratelimit-policy"), policy);

    let ticket = sample("ent-json/ticket.json");
    let first = h
        .post(
            "bj-enterprise",
            Family::EntJson,
            Kind::Ticket,
            ticket.clone(),
        )
        .await;
    assert_eq!(first.status.as_u16(), 202, "{}", text(&first));
    let second = h
        .post("bj-enterprise", Family::EntJson, Kind::Ticket, ticket)
        .await;
    assert_eq!(second.status.as_u16(), 429, "{}", text(&second));
    assert_eq!(header(&second, "content-type"), "application/problem+json");
    let problem = json(&second.body);
    assert_eq!(problem["status"], 429);
    assert_eq!(
        problem["type"],
        format!("{}rate-limited", adapters::ent::PROBLEM_TYPE_PREFIX)
    );
    assert!(problem["detail"].as_str().unwrap().contains("rate limited"));
    assert!(!header(&second, "retry-after").is_empty());
    assert_eq!(header(&second, "ratelimit-policy"), policy);

    assert_eq!(h.all_handoffs().await.len(), 2);
    let partners: Vec<String> = refused_events(&h).into_iter().map(|r| r.0).collect();
    assert_eq!(partners, ["hb-131000", "bj-enterprise"]);
    h.stop().await;
}

/// The most arrivals any window of `window` holds (`times` sorted).
fn busiest(times: &[Instant], window: Duration) -> usize {
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t < times[i] + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Langfang takes 5 a second, one at a time (urgent lane 1 a second,
/// normal lane 4). Beijing hands it 12 normal and 3 urgent tickets at
/// once: they arrive spread out, never more than 5 in a second, all of
/// them, each lane in order, the urgent ones first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_never_gets_more_than_its_rate_and_gets_everything() {
    let h = Harness::start("limit-egress", false, |c| {
        c.limits.urgent_share = 0.2;
        partner(c, "hb-131000").delivery_limit = limit("5/s", 1);
    })
    .await;
    let mut normal = Vec::new();
    let mut urgent = Vec::new();
    for i in 0..15 {
        let is_urgent = i % 5 == 4;
        let order_no = format!("BJ20250312200{i:02}");
        let reply = h
            .post(
                "bj12345",
                Family::BjJson,
                Kind::Ticket,
                order(&order_no, is_urgent),
            )
            .await;
        let (id, _) = bj_receipt(&reply);
        if is_urgent {
            urgent.push(id);
        } else {
            normal.push(id);
        }
    }
    let got = h
        .wait_tickets("hb-131000", 15, adapters::hb::decode_ticket, WAIT)
        .await;
    let arrivals: Vec<Instant> = got.iter().map(|(d, _)| d.at).collect();
    let order: Vec<String> = got
        .iter()
        .map(|(_, t)| t.handoff_id.clone().unwrap())
        .collect();

    // Arrival times carry the network's jitter: a window of 850 ms holds
    // only what the gateway sent within one second (the jitter on loopback
    // is far below 150 ms).
    let most = busiest(&arrivals, Duration::from_millis(850));
    assert!(most <= 5, "{most} deliveries within 850 ms");
    // The limit binds: 12 normal tickets at 4 a second take 2.75 s at least.
    let span = *arrivals.last().unwrap() - arrivals[0];
    assert!(span >= Duration::from_millis(2_500), "all within {span:?}");

    // Every ticket once; each lane in submission order; the urgent tickets
    // (submitted 5th, 10th, 15th) are not behind the normal backlog.
    let mut sorted = order.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 15);
    let lane = |ids: &[String]| -> Vec<String> {
        order
            .iter()
            .filter(|id| ids.contains(id))
            .cloned()
            .collect()
    };
    assert_eq!(lane(&normal), normal);
    assert_eq!(lane(&urgent), urgent);
    let position: HashMap<&String, usize> =
        order.iter().enumerate().map(|(i, id)| (id, i)).collect();
    assert!(
        position[&urgent[2]] < position[&normal[11]],
        "the last urgent ticket overtook the normal backlog: {order:?}"
    );
    h.stop().await;
}

/// Normal tickets from Beijing for two seconds, every 20 ms: the taken
/// ones (when, hand-off) and how many were limited.
async fn flood(
    h: &Harness,
    client: &gateway::http::Client,
    started: Instant,
    tag: u32,
) -> (Vec<(Instant, String)>, usize) {
    let mut taken = Vec::new();
    let mut limited = 0;
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(2) {
        let body = order(&format!("BJ202503125{tag}{i:04}"), false);
        let reply = post_as(client, h, Family::BjJson, Kind::Ticket, body)
            .await
            .unwrap();
        match reply.status.as_u16() {
            202 => taken.push((Instant::now(), bj_receipt(&reply).0)),
            429 => limited += 1,
            other => panic!("HTTP {other}: {}", text(&reply)),
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (taken, limited)
}

/// Beijing may submit 10 a second (8 normal, 2 urgent); Langfang takes 4 a
/// second (3 normal, 1 urgent). Beijing floods normal tickets from three
/// clients at once for two seconds while sending an urgent ticket every
/// half second: every urgent ticket is taken and reaches Langfang within a
/// second or two, ahead of the normal tickets queued before it; every
/// normal ticket that was taken arrives too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_normal_tickets_does_not_delay_urgent_ones() {
    let h = Harness::start("limit-flood", false, |c| {
        c.limits.urgent_share = 0.2;
        partner(c, "bj12345").ingress_limit = limit("10/s", 10);
        partner(c, "hb-131000").delivery_limit = limit("4/s", 1);
    })
    .await;
    let client = h.net.client("bj12345").unwrap();
    let started = Instant::now();
    let urgent = async {
        let mut taken = Vec::new();
        for i in 0..4 {
            let due = started + Duration::from_millis(250 + 500 * i);
            tokio::time::sleep(due.saturating_duration_since(Instant::now())).await;
            let body = order(&format!("BJ2025031240{i:03}"), true);
            let reply = post_as(&client, &h, Family::BjJson, Kind::Ticket, body)
                .await
                .unwrap();
            assert_eq!(reply.status.as_u16(), 202, "urgent: {}", text(&reply));
            taken.push((Instant::now(), bj_receipt(&reply).0));
        }
        taken
    };
    let (a, b, c, urgent) = tokio::join!(
        flood(&h, &client, started, 1),
        flood(&h, &client, started, 2),
        flood(&h, &client, started, 3),
        urgent
    );
    let limited = a.1 + b.1 + c.1;
    let mut normal = [a.0, b.0, c.0].concat();
    normal.sort();
    assert!(
        limited >= normal.len(),
        "a flood at several times the rate: {limited} limited, {} taken",
        normal.len()
    );
    assert!(normal.len() >= 16, "{} normal tickets taken", normal.len());

    let total = normal.len() + urgent.len();
    let got = h
        .wait_tickets(
            "hb-131000",
            total,
            adapters::hb::decode_ticket,
            Duration::from_secs(20),
        )
        .await;
    let arrived: HashMap<String, (usize, Instant)> = got
        .iter()
        .enumerate()
        .map(|(i, (d, t))| (t.handoff_id.clone().unwrap(), (i, d.at)))
        .collect();
    assert_eq!(arrived.len(), total, "every ticket taken arrives, once");
    for (submitted, id) in &urgent {
        let (position, at) = arrived[id];
        let latency = at - *submitted;
        assert!(
            latency < Duration::from_secs(2),
            "urgent {id} took {latency:?}"
        );
        // Normal tickets taken before it and still queued come after it.
        let overtaken = normal
            .iter()
            .filter(|(t, n)| t < submitted && arrived[n].0 > position)
            .count();
        assert!(overtaken > 0, "urgent {id} overtook no normal ticket");
    }
    h.stop().await;
}
