//! Every message the adapters write, checked by real validators against the
//! schema documents in `schemas/formats/` (the `jsonschema` crate for JSON,
//! libxml2's `xmllint --schema` for XML): tickets and status updates made
//! from every sample and from arbitrary tickets, error replies and receipts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use adapters::{Error, Family, FieldError};
use conformance_tests::{Kind, arbitrary, samples_dir, schema_for, tables, validate};
use proptest::prelude::*;

const WIRE: [Family; 7] = [
    Family::BjJson,
    Family::TjXml,
    Family::HbSoap,
    Family::EntJson,
    Family::PuJson,
    Family::Open311Json,
    Family::Open311Xml,
];

const TICKETS: [(Family, &str); 8] = [
    (Family::BjJson, "bj-json/order.json"),
    (Family::BjJson, "bj-json/order-delivered.json"),
    (Family::TjXml, "tj-xml/appeal.xml"),
    (Family::HbSoap, "hb-soap/push-work-order.xml"),
    (Family::EntJson, "ent-json/ticket.json"),
    (Family::PuJson, "pu-json/repair-order.json"),
    (Family::Open311Json, "open311/request.json"),
    (Family::Open311Xml, "open311/request.xml"),
];

const STATUSES: [(Family, &str); 5] = [
    (Family::BjJson, "bj-json/status.json"),
    (Family::TjXml, "tj-xml/status.xml"),
    (Family::HbSoap, "hb-soap/push-feedback.xml"),
    (Family::EntJson, "ent-json/status.json"),
    (Family::PuJson, "pu-json/status.json"),
];

fn read(file: &str) -> Vec<u8> {
    std::fs::read(samples_dir().join(file)).unwrap()
}

fn check(family: Family, kind: Kind, bytes: &[u8], what: &str) {
    if let Err(e) = validate(family, kind, bytes) {
        panic!(
            "{what}: {family} {kind:?} output fails its schema:\n{e}\n---\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn tickets_from_every_sample_validate_in_every_family() {
    for (from, file) in TICKETS {
        let mut ticket = adapters::decode_ticket(from, &read(file), tables()).unwrap();
        ticket
            .handoff_id
            .get_or_insert_with(|| "01JQ5BBRR0T3GMYXSMKM9Y9CGZ".into());
        for to in WIRE {
            match adapters::encode_ticket(to, &ticket, tables()) {
                Ok(encoded) => check(to, Kind::Ticket, &encoded.bytes, &format!("{file} → {to}")),
                Err(Error::Unrepresentable { .. }) => {}
                Err(e) => panic!("{file} → {to}: {e}"),
            }
        }
    }
}

#[test]
fn status_updates_from_every_sample_validate_in_every_family() {
    for (from, file) in STATUSES {
        let mut status = adapters::decode_status(from, &read(file), tables()).unwrap();
        // pu-json status bodies name their hand-off in the URL.
        status
            .handoff_id
            .get_or_insert_with(|| "01JPV3027WHH39P94PSK9QDQNS".into());
        status
            .ticket_id
            .get_or_insert_with(|| "BJ2025032100318".into());
        for to in WIRE {
            match adapters::encode_status(to, &status, tables()) {
                Ok(encoded) => check(to, Kind::Status, &encoded.bytes, &format!("{file} → {to}")),
                Err(Error::Unrepresentable { .. }) => {
                    assert_eq!(to, Family::PuJson, "{file} → {to}")
                }
                Err(e) => panic!("{file} → {to}: {e}"),
            }
        }
    }
}

#[test]
fn error_replies_and_receipts_validate() {
    let errors = [
        FieldError::new("caller.mobile", "须为1开头的11位手机号"),
        FieldError::new("urgency", "取值须为\"1\"或\"2\"，收到\"3\""),
    ];
    for family in WIRE {
        for status in [400u16, 403, 404, 409, 413, 429, 503] {
            let body = adapters::encode_error(family, status, "请求数据校验失败", &errors);
            if schema_for(family, Kind::Error).is_some() {
                check(family, Kind::Error, &body, &format!("error {status}"));
            }
        }
        let receipt = adapters::encode_receipt(family, "01JP3SCX6J122GPMWEZCDRM48R", 1_835_207);
        if schema_for(family, Kind::Receipt).is_some() {
            check(family, Kind::Receipt, &receipt, "receipt");
        }
    }
}

fn category_codes() -> Vec<String> {
    tables()
        .categories
        .entries()
        .iter()
        .map(|e| e.code.clone())
        .collect()
}

proptest! {
    // Each case runs xmllint several times: few cases, wide inputs.
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_tickets_validate_in_every_family(ticket in arbitrary::ticket(category_codes())) {
        let mut ticket = ticket;
        ticket.handoff_id = Some("01JQ5BBRR0T3GMYXSMKM9Y9CGZ".into());
        for to in WIRE {
            match adapters::encode_ticket(to, &ticket, tables()) {
                Ok(encoded) => check(to, Kind::Ticket, &encoded.bytes, "arbitrary ticket"),
                Err(Error::Unrepresentable { .. }) => {}
                Err(e) => panic!("{to}: {e}"),
            }
        }
    }

    #[test]
    fn arbitrary_status_updates_validate_in_every_family(status in arbitrary::status_update()) {
        for to in WIRE {
            match adapters::encode_status(to, &status, tables()) {
                Ok(encoded) => check(to, Kind::Status, &encoded.bytes, "arbitrary status"),
                Err(Error::Unrepresentable { .. }) => prop_assert_eq!(to, Family::PuJson),
                Err(e) => panic!("{to}: {e}"),
            }
        }
    }
}
