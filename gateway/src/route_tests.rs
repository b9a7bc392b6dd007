//! Tests of the parent module.

use super::*;
use std::path::Path;

struct All;
impl Partners for All {
    fn is_connected(&self, _: &str) -> bool {
        true
    }
    fn enterprise_hotline(&self) -> Option<&str> {
        Some("bj-enterprise")
    }
}

fn tables() -> Tables {
    Tables::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/data")).unwrap()
}

fn sample(family: Family, file: &str) -> Ticket {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../conformance-tests/samples")
            .join(file),
    )
    .unwrap();
    adapters::decode_ticket(family, &bytes, &tables()).unwrap()
}

#[test]
fn transfers_resolve_by_division_and_never_to_the_sender() {
    let t = tables();
    let mut ticket = sample(Family::BjJson, "bj-json/order.json");
    let r = route(&ticket, "bj12345", Family::BjJson, &t, &All).unwrap();
    assert_eq!(
        (r.partner.as_str(), r.kind),
        ("hb-131000", HandoffKind::Transfer)
    );
    ticket.target = Some(Target::Hotline {
        division: "140100".into(),
    });
    assert_eq!(
        route(&ticket, "bj12345", Family::BjJson, &t, &All),
        Err(RouteError::UnknownDivision {
            division: "140100".into()
        })
    );
    ticket.target = Some(Target::Hotline {
        division: "130102".into(),
    });
    let err = route(&ticket, "hb-130100", Family::HbSoap, &t, &All).unwrap_err();
    assert!(matches!(err, RouteError::SelfTransfer { .. }));
    assert_eq!(err.wire_field(Family::HbSoap), "MBCS");
    ticket.target = Some(Target::Hotline {
        division: "130682".into(),
    });
    assert_eq!(
        route(&ticket, "bj12345", Family::BjJson, &t, &All)
            .unwrap()
            .partner,
        "hb-130682"
    );
}

#[test]
fn enterprise_and_property_hand_offs() {
    let t = tables();
    let ent = sample(Family::EntJson, "ent-json/ticket.json");
    let r = route(&ent, "bj-enterprise", Family::EntJson, &t, &All).unwrap();
    assert_eq!(
        (r.partner.as_str(), r.kind),
        ("bj12345", HandoffKind::Enterprise)
    );
    let mut repair = sample(Family::PuJson, "pu-json/repair-order.json");
    repair.target = Some(Target::Property);
    let r = route(&repair, "bj12345", Family::BjJson, &t, &All).unwrap();
    assert_eq!(
        (r.partner.as_str(), r.owner_kind),
        ("pu-military-001", Some(OwnerKind::Military))
    );
    repair.property = None;
    repair.location = None;
    assert_eq!(
        route(&repair, "bj12345", Family::BjJson, &t, &All),
        Err(RouteError::UnknownCompound)
    );
}
