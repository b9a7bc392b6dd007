//! What the gateway refuses, and how: a repeated or changed submission,
//! wrong or missing client certificates, a spoofed hb-soap SenderCode and a
//! status step backwards. Every refusal is in the caller's own format.

use std::time::Duration;

use adapters::Family;
use bytes::Bytes;
use gateway::store::{EventKind, Outcome, Store};
use gateway::wire::Kind;
use schemas::{Status, StatusUpdate};
use serde_json::json;

use crate::common::{
    Harness, WAIT, bj_error, bj_receipt, client_with, json, json_with, post_as, sample, soap_fault,
    statuses_of, text, tj_fault,
};

/// A repeated submission answers the first receipt and creates nothing; the
/// same order number with other content is a 409 in bj-json, recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_submission_is_idempotent_and_a_changed_one_conflicts() {
    let h = Harness::start("duplicate", false, |_| {}).await;
    let order = sample("bj-json/order.json");
    let first = bj_receipt(
        &h.post("bj12345", Family::BjJson, Kind::Ticket, order.clone())
            .await,
    );
    let again = bj_receipt(
        &h.post("bj12345", Family::BjJson, Kind::Ticket, order.clone())
            .await,
    );
    assert_eq!(again, first, "the repeat answers the first receipt");
    assert_eq!(h.all_handoffs().await.len(), 1);

    let changed = json_with(
        &order,
        &[("/title", json!("迎宾北路供水管道爆裂（补充说明）"))],
    );
    let reply = h
        .post("bj12345", Family::BjJson, Kind::Ticket, changed)
        .await;
    assert_eq!(reply.status.as_u16(), 409, "{}", text(&reply));
    let (code, msg, fields) = bj_error(&reply);
    assert_eq!(code, 409);
    assert!(msg.contains(&first.0), "names the first hand-off: {msg}");
    assert_eq!(fields, ["orderNo"]);

    let handoffs = h.all_handoffs().await;
    assert_eq!(handoffs.len(), 1);
    assert_eq!(handoffs[0].id, first.0);
    let kinds: Vec<EventKind> = h
        .store()
        .events(&first.0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&EventKind::Duplicate), "{kinds:?}");
    assert!(kinds.contains(&EventKind::Conflict), "{kinds:?}");

    // Langfang gets the ticket once.
    h.wait_handoff(&first.0, "delivered", WAIT, |r| {
        r.state == Status::Delivered
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.received("hb-131000", Kind::Ticket).await.len(), 1);
    h.stop().await;
}

/// A client certificate of a rogue CA carrying a partner's name.
fn rogue_identity(
    cn: &str,
) -> (
    Vec<rustls_pki_types::CertificateDer<'static>>,
    rustls_pki_types::PrivateKeyDer<'static>,
) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "Jing-Jin-Ji 12345 development CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, cn);
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let key = rustls_pki_types::PrivatePkcs8KeyDer::from(key.serialize_der());
    (vec![cert.der().clone()], key.into())
}

/// Only a partner certificate of the configured CA is let in, and only to
/// its own family's endpoints; refusals are in the family's error format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_client_certificates_are_refused() {
    let h = Harness::start("certs", false, |_| {}).await;
    let order = sample("bj-json/order.json");

    // Another CA's certificate, even with bj12345's name: the handshake
    // fails (even for the open health check), or at least the push is 403.
    let rogue = client_with(Some(rogue_identity("bj12345")));
    let health = rogue
        .send("GET", &h.url("/healthz"), &[], Bytes::new())
        .await;
    assert!(health.is_err(), "handshake accepted a rogue CA: {health:?}");
    match post_as(&rogue, &h, Family::BjJson, Kind::Ticket, order.clone()).await {
        Err(_) => {}
        Ok(reply) => {
            assert_eq!(reply.status.as_u16(), 403, "{}", text(&reply));
            bj_error(&reply);
        }
    }

    // No certificate: the connection works (health is open), pushes do not.
    let anonymous = client_with(None);
    let health = anonymous
        .send("GET", &h.url("/healthz"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(health.status.as_u16(), 200);
    let reply = post_as(&anonymous, &h, Family::BjJson, Kind::Ticket, order.clone())
        .await
        .unwrap();
    assert_eq!(reply.status.as_u16(), 403);
    let (code, _, _) = bj_error(&reply);
    assert_eq!(code, 403);
    let reply = post_as(
        &anonymous,
        &h,
        Family::HbSoap,
        Kind::Ticket,
        sample("hb-soap/push-work-order.xml"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status.as_u16(), 403);
    let (faultcode, _, _) = soap_fault(&reply);
    assert_eq!(faultcode, "soap:Client");
    let inbox = anonymous
        .send("GET", &h.url("/pu/v1/orders"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(inbox.status.as_u16(), 403);
    assert_eq!(json(&inbox.body)["status"], 403);

    // A valid partner certificate on another family's endpoint.
    let reply = h
        .post(
            "bj12345",
            Family::TjXml,
            Kind::Ticket,
            sample("tj-xml/appeal.xml"),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 403, "{}", text(&reply));
    let (code, message, _) = tj_fault(&reply);
    assert_eq!(code, "403");
    assert!(message.contains("bj12345"), "{message}");
    let reply = h
        .post("hb-131000", Family::BjJson, Kind::Ticket, order.clone())
        .await;
    assert_eq!(reply.status.as_u16(), 403, "{}", text(&reply));
    bj_error(&reply);
    // A hotline is not a property unit.
    let inbox = h
        .net
        .client("bj12345")
        .unwrap()
        .send("GET", &h.url("/pu/v1/orders"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(inbox.status.as_u16(), 403);

    assert!(h.all_handoffs().await.is_empty(), "nothing was stored");
    h.stop().await;
}

/// Langfang's certificate cannot speak for Shijiazhuang: a PushWorkOrder
/// whose SenderCode is 130100 is an impersonation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_sender_code_is_refused() {
    let h = Harness::start("spoof", false, |_| {}).await;
    let spoofed = sample("hb-soap/push-work-order.xml");
    assert!(
        spoofed
            .windows(31)
            .any(|w| w == b"<SenderCode>130100</SenderCode>")
    );
    let reply = h
        .post("hb-131000", Family::HbSoap, Kind::Ticket, spoofed.clone())
        .await;
    assert_eq!(reply.status.as_u16(), 403, "{}", text(&reply));
    let (faultcode, faultstring, fields) = soap_fault(&reply);
    assert_eq!(faultcode, "soap:Client");
    assert_eq!(fields, ["SenderCode"]);
    assert!(faultstring.contains("130100"), "{faultstring}");
    assert!(h.all_handoffs().await.is_empty(), "nothing was stored");

    // The same order under Langfang's own code is taken.
    let mut honest = Vec::new();
    let at = spoofed
        .windows(31)
        .position(|w| w == b"<SenderCode>130100</SenderCode>")
        .unwrap();
    honest.extend_from_slice(&spoofed[..at]);
    honest.extend_from_slice(b"<SenderCode>131000</SenderCode>");
    honest.extend_from_slice(&spoofed[at + 31..]);
    let reply = h
        .post("hb-131000", Family::HbSoap, Kind::Ticket, honest)
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", text(&reply));
    let handoffs = h.all_handoffs().await;
    assert_eq!(handoffs.len(), 1);
    assert_eq!(handoffs[0].origin_partner, "hb-131000");
    assert_eq!(handoffs[0].target_partner, "bj12345");
    h.stop().await;
}

/// Langfang's status as a PushFeedback under its own SenderCode.
fn feedback(h: &Harness, id: &str, own: &str, status: Status) -> Vec<u8> {
    let update = StatusUpdate {
        handoff_id: Some(id.to_owned()),
        ticket_id: Some(own.to_owned()),
        status,
        at: chrono::Utc::now().with_timezone(&adapters::time::beijing()),
        by: Some("廊坊12345 三河市分中心".into()),
        reason_code: None,
        comment: Some("已处置".into()),
        satisfaction: None,
        extensions: [(
            adapters::hb::SENDER_CODE_EXTENSION.to_owned(),
            "131000".to_owned(),
        )]
        .into(),
    };
    adapters::hb::encode_status(&update, h.tables())
        .unwrap()
        .bytes
}

/// A target that reports ACCEPTED after RESOLVED is refused with a 409 in
/// its own format; the refusal is recorded and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_step_backwards_is_refused_and_recorded() {
    let h = Harness::start("backwards", false, |_| {}).await;
    let (id, _) = bj_receipt(
        &h.post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            sample("bj-json/order.json"),
        )
        .await,
    );
    let record = h
        .wait_handoff(&id, "delivered", WAIT, |r| r.state == Status::Delivered)
        .await;
    let own = record.target_ticket_id.unwrap();

    let reply = h
        .post(
            "hb-131000",
            Family::HbSoap,
            Kind::Status,
            feedback(&h, &id, &own, Status::Resolved),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", text(&reply));
    assert_eq!(h.handoff(&id).await.state, Status::Resolved);

    let reply = h
        .post(
            "hb-131000",
            Family::HbSoap,
            Kind::Status,
            feedback(&h, &id, &own, Status::Accepted),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 409, "{}", text(&reply));
    let (faultcode, faultstring, fields) = soap_fault(&reply);
    assert_eq!(faultcode, "soap:Client");
    assert_eq!(fields, ["ZT"]);
    assert!(faultstring.contains("resolved"), "{faultstring}");

    assert_eq!(h.handoff(&id).await.state, Status::Resolved, "unchanged");
    let history = h.store().history(&id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.status, Status::Accepted);
    assert_eq!(last.outcome, Outcome::Refused);
    assert!(last.refusal.is_some());

    // Beijing heard of the resolution, never of the step back.
    h.wait_statuses("bj12345", &id, adapters::bj::decode_status, WAIT, |s| {
        s.iter().any(|u| u.status == Status::Resolved)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let updates = h
        .statuses("bj12345", &id, adapters::bj::decode_status)
        .await;
    assert_eq!(statuses_of(&updates), [Status::Delivered, Status::Resolved]);
    h.stop().await;
}
