//! Properties over arbitrary input: A → canonical → A identity for every
//! family, coordinate chains, time conversions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use adapters::{Error, Family, geo, time};
use conformance_tests::{arbitrary, tables};
use proptest::prelude::*;
use schemas::{Datum, Point, Ticket};

const WIRE_FAMILIES: [Family; 7] = [
    Family::BjJson,
    Family::TjXml,
    Family::HbSoap,
    Family::EntJson,
    Family::PuJson,
    Family::Open311Json,
    Family::Open311Xml,
];

/// The documented refusals: ent-json needs an enterprise with a USCC,
/// pu-json a hand-off id and a registered compound.
fn may_refuse(family: Family, ticket: &Ticket, field: &str) -> bool {
    match family {
        Family::EntJson => {
            field == "enterprise" && ticket.enterprise.as_ref().is_none_or(|e| e.uscc.is_none())
        }
        Family::PuJson => {
            let location = ticket.location.as_ref();
            let compound = tables().compounds.find(
                ticket.property.as_ref().map(|p| p.community.as_str()),
                location.and_then(|l| l.address.as_deref()),
                location.and_then(|l| l.division.as_deref()),
            );
            (field == "order_id" && ticket.handoff_id.is_none())
                || (field.starts_with("property.") && compound.is_none())
        }
        _ => false,
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
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Any ticket a family can carry, once written in that family, reads
    /// back and writes again to the very same bytes, and reads back to the
    /// same canonical ticket: A → canonical → A is the identity.
    #[test]
    fn a_to_canonical_to_a_is_identity(
        ticket in arbitrary::ticket(category_codes()),
        handoff in proptest::option::of("01[0-9A-HJKMNP-TV-Z]{24}"),
    ) {
        let tables = tables();
        let mut ticket = ticket;
        ticket.handoff_id = handoff;
        for family in WIRE_FAMILIES {
            let first = match adapters::encode_ticket(family, &ticket, tables) {
                Ok(e) => e.bytes,
                // The family requires something this ticket lacks: a refusal,
                // not a loss, and only for the documented reasons.
                Err(Error::Unrepresentable { field, reason }) => {
                    prop_assert!(may_refuse(family, &ticket, &field), "{family} refused {field}: {reason}");
                    continue;
                }
                Err(e) => panic!("{family}: {e}"),
            };
            let decoded = adapters::decode_ticket(family, &first, tables)
                .unwrap_or_else(|e| panic!("{family} output does not decode: {e}\n{}", String::from_utf8_lossy(&first)));
            let second = adapters::encode_ticket(family, &decoded, tables).unwrap().bytes;
            prop_assert_eq!(&first, &second, "{} → canonical → {} changed the bytes", family, family);
            let again = adapters::decode_ticket(family, &second, tables).unwrap();
            prop_assert_eq!(decoded, again);
        }
    }

    /// The same for status updates.
    #[test]
    fn status_a_to_canonical_to_a_is_identity(status in arbitrary::status_update()) {
        let tables = tables();
        for family in WIRE_FAMILIES {
            let first = match adapters::encode_status(family, &status, tables) {
                Ok(e) => e.bytes,
                // pu-json carries only the liaison's four states, and always
                // says who acted.
                Err(Error::Unrepresentable { field, .. }) => {
                    prop_assert_eq!(family, Family::PuJson);
                    prop_assert!(field == "state" || (field == "by" && status.by.is_none()), "{}", field);
                    continue;
                }
                Err(e) => panic!("{family}: {e}"),
            };
            let decoded = adapters::decode_status(family, &first, tables)
                .unwrap_or_else(|e| panic!("{family} output does not decode: {e}\n{}", String::from_utf8_lossy(&first)));
            let second = adapters::encode_status(family, &decoded, tables).unwrap().bytes;
            prop_assert_eq!(&first, &second, "{} status changed on a round trip", family);
        }
    }

    /// Any chain of datum conversions, each written with six decimals as
    /// the formats do, returns within 0.5 m of where it started.
    #[test]
    fn coordinate_chains_stay_within_half_a_metre(
        start in arbitrary::point(),
        chain in proptest::collection::vec(prop::sample::select(vec![Datum::Wgs84, Datum::Gcj02, Datum::Bd09]), 1..12),
    ) {
        let mut wgs = start;
        for datum in chain {
            let wire = geo::from_wgs84(datum, wgs);
            let written = Point {
                lon: geo::format_coord(geo::round6(wire.lon)).parse().unwrap(),
                lat: geo::format_coord(geo::round6(wire.lat)).parse().unwrap(),
            };
            wgs = geo::to_wgs84(datum, written);
        }
        prop_assert!(geo::distance_m(start, wgs) < 0.5, "drifted {} m", geo::distance_m(start, wgs));
    }

    /// Exact conversion between offsets and Beijing local time: the same
    /// instant, whole seconds, whatever the host's time zone.
    #[test]
    fn times_convert_exactly(t in arbitrary::timestamp()) {
        let whole = t.timestamp();
        let local = time::parse_local(&time::format_local(&t)).unwrap();
        prop_assert_eq!(local.timestamp(), whole);
        prop_assert_eq!(local.offset().local_minus_utc(), 8 * 3600);
        let compact = time::parse_compact(&time::format_compact(&t)).unwrap();
        prop_assert_eq!(compact, local);
        let rfc = time::parse_rfc3339(&time::format_rfc3339(&t)).unwrap();
        prop_assert_eq!(rfc, t);
        prop_assert_eq!(rfc.offset(), t.offset());
    }
}
