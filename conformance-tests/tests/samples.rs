//! Every sample of the spec, and the project's own vectors, through every
//! family: A → A gives the sample back byte for byte, and A → B → canonical
//! keeps every field B can carry while B's loss report and notes account for
//! the rest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use adapters::{Error, Family};
use conformance_tests::compare::carried;
use conformance_tests::tables;

/// Ticket samples: (family, file under samples/, byte-identical on A → A).
const TICKETS: [(Family, &str, bool); 8] = [
    (Family::BjJson, "bj-json/order.json", true),
    (Family::BjJson, "bj-json/order-delivered.json", true),
    (Family::TjXml, "tj-xml/appeal.xml", true),
    (Family::HbSoap, "hb-soap/push-work-order.xml", true),
    (Family::EntJson, "ent-json/ticket.json", true),
    (Family::PuJson, "pu-json/repair-order.json", true),
    (Family::Open311Json, "open311/request.json", true),
    (Family::Open311Xml, "open311/request.xml", true),
];

const STATUSES: [(Family, &str); 4] = [
    (Family::BjJson, "bj-json/status.json"),
    (Family::TjXml, "tj-xml/status.xml"),
    (Family::HbSoap, "hb-soap/push-feedback.xml"),
    (Family::EntJson, "ent-json/status.json"),
];

const WIRE: [Family; 7] = [
    Family::BjJson,
    Family::TjXml,
    Family::HbSoap,
    Family::EntJson,
    Family::PuJson,
    Family::Open311Json,
    Family::Open311Xml,
];

fn sample(file: &str) -> Vec<u8> {
    std::fs::read(format!("{}/samples/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..end]
}

#[test]
fn every_sample_ticket_comes_back_from_its_own_family_unchanged() {
    for (family, file, bytes_identical) in TICKETS {
        let original = sample(file);
        let ticket = adapters::decode_ticket(family, &original, tables())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let encoded = adapters::encode_ticket(family, &ticket, tables()).unwrap();
        assert!(
            encoded.loss.is_empty(),
            "{file}: A → A lost {:?}",
            encoded.loss
        );
        if bytes_identical {
            assert_eq!(
                String::from_utf8_lossy(trim_end(&encoded.bytes)),
                String::from_utf8_lossy(trim_end(&original)),
                "{file}"
            );
        }
        let again = adapters::decode_ticket(family, &encoded.bytes, tables()).unwrap();
        assert_eq!(again, ticket, "{file}");
    }
}

#[test]
fn every_sample_ticket_goes_to_every_family_field_by_field() {
    for (from, file, _) in TICKETS {
        let mut ticket = adapters::decode_ticket(from, &sample(file), tables()).unwrap();
        // A delivery: the gateway has assigned the hand-off id.
        ticket
            .handoff_id
            .get_or_insert_with(|| "01JQ5BBRR0T3GMYXSMKM9Y9CGZ".into());
        for to in WIRE {
            let encoded = match adapters::encode_ticket(to, &ticket, tables()) {
                Ok(e) => e,
                Err(Error::Unrepresentable { field, .. }) => {
                    // ent-json refuses a ticket without an enterprise, pu-json
                    // one about no registered compound; nothing else refuses.
                    match to {
                        Family::EntJson => {
                            assert_eq!(field, "enterprise", "{file} → {to}");
                            assert!(ticket.enterprise.as_ref().is_none_or(|e| e.uscc.is_none()));
                        }
                        Family::PuJson => {
                            assert!(field.starts_with("property."), "{file} → {to}: {field}");
                            let location = ticket.location.as_ref();
                            let compound = tables().compounds.find(
                                ticket.property.as_ref().map(|p| p.community.as_str()),
                                location.and_then(|l| l.address.as_deref()),
                                location.and_then(|l| l.division.as_deref()),
                            );
                            assert!(compound.is_none(), "{file} → {to}: {field}");
                        }
                        _ => panic!("{file} → {to} refused: {field}"),
                    }
                    continue;
                }
                Err(e) => panic!("{file} → {to}: {e}"),
            };
            let back = adapters::decode_ticket(to, &encoded.bytes, tables()).unwrap_or_else(|e| {
                panic!(
                    "{file} → {to} does not decode: {e}\n{}",
                    String::from_utf8_lossy(&encoded.bytes)
                )
            });
            let mismatches = carried(&ticket, &back, &encoded.loss);
            assert!(
                mismatches.is_empty(),
                "{file} → {to}: {mismatches:#?}\nloss: {:#?}",
                encoded.loss
            );
        }
    }
}

#[test]
fn every_sample_status_goes_to_every_family() {
    for (from, file) in STATUSES {
        let original = sample(file);
        let status = adapters::decode_status(from, &original, tables())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let own = adapters::encode_status(from, &status, tables()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(trim_end(&own.bytes)),
            String::from_utf8_lossy(trim_end(&original)),
            "{file}"
        );
        for to in WIRE {
            let encoded = match adapters::encode_status(to, &status, tables()) {
                Ok(e) => e,
                Err(Error::Unrepresentable { .. }) if to == Family::PuJson => continue,
                Err(e) => panic!("{file} → {to}: {e}"),
            };
            let back = adapters::decode_status(to, &encoded.bytes, tables()).unwrap_or_else(|e| {
                panic!(
                    "{file} → {to} does not decode: {e}\n{}",
                    String::from_utf8_lossy(&encoded.bytes)
                )
            });
            assert_eq!(back.status, status.status, "{file} → {to}");
            assert_eq!(back.at.timestamp(), status.at.timestamp(), "{file} → {to}");
            let lost = |field: &str| encoded.loss.iter().any(|l| l.field == field);
            assert!(
                back.satisfaction == status.satisfaction || lost("satisfaction"),
                "{file} → {to}: satisfaction dropped silently"
            );
            if to != Family::PuJson {
                assert_eq!(back.handoff_id, status.handoff_id, "{file} → {to}");
            }
            for (field, value) in [
                ("by", &status.by),
                ("comment", &status.comment),
                ("reason_code", &status.reason_code),
            ] {
                let after = match field {
                    "by" => &back.by,
                    "comment" => &back.comment,
                    _ => &back.reason_code,
                };
                if let Some(v) = value {
                    let kept = after.as_deref().is_some_and(|a| a.contains(v.as_str()));
                    let lost = encoded.loss.iter().any(|l| l.field == field);
                    assert!(kept || lost, "{file} → {to}: {field} dropped silently");
                }
            }
        }
    }
}
