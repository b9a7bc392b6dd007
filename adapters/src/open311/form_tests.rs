//! Tests of the parent module.

use schemas::{Datum, Timestamp};

use super::super::testutil::{sample, tables};
use super::super::{Syntax, decode_ticket};
use super::decode_post;
use crate::error::Error;
use crate::time;

fn received() -> Timestamp {
    time::parse_rfc3339("2025-03-25T08:31:12+08:00").unwrap()
}

/// A valid body with `extra` appended.
fn body(extra: &str) -> Vec<u8> {
    let mut b =
        "service_code=ROOF-LEAK&lat=39.928533&long=116.324218&description=%E6%BC%8F%E9%9B%A8"
            .to_owned();
    if !extra.is_empty() {
        b.push('&');
        b.push_str(extra);
    }
    b.into_bytes()
}

fn post_error(body: &[u8]) -> Error {
    decode_post(body, received(), &tables()).unwrap_err()
}

fn fields(e: &Error) -> Vec<String> {
    e.field_errors().into_iter().map(|f| f.field).collect()
}

#[test]
fn the_sample_post_decodes_to_its_fields() {
    let t = decode_post(&sample("post-request.txt"), received(), &tables()).unwrap();
    assert_eq!(t.received_at, received());
    assert_eq!(t.category.code, "housing.repair.roof_leak");
    let src = t.category.source.as_ref().unwrap();
    assert_eq!(
        (src.scheme.as_str(), src.code.as_str(), src.unmapped),
        ("open311", "ROOF-LEAK", false)
    );
    assert_eq!(t.title, "房屋漏雨");
    assert!(t.description.starts_with("顶层住户。3月23日至24日雨夹雪后"));
    assert!(t.description.ends_with("请产权单位上楼顶查看并修补防水。"));
    let loc = t.location.as_ref().unwrap();
    assert_eq!(
        loc.address.as_deref(),
        Some("北京市海淀区增光路甘家口小区12号楼1单元601室")
    );
    let p = loc.point.unwrap();
    assert_eq!((p.lat, p.lon), (39.928533, 116.324218));
    assert_eq!(loc.source_point.unwrap().datum, Datum::Wgs84);
    assert_eq!(t.caller.family_name.as_deref(), Some("王"));
    assert_eq!(t.caller.given_name.as_deref(), Some("秀兰"));
    assert_eq!(t.caller.name.as_deref(), Some("王秀兰"));
    assert_eq!(t.caller.phone.as_deref(), Some("18800188000"));
    assert!(!t.caller.anonymous);
    assert_eq!(t.attachments.len(), 1);
    assert_eq!(
        t.attachments[0].url,
        "https://img.citizen-app.example/r/2025/03/25/8f3a61c2.jpg"
    );
    let prop = t.property.as_ref().unwrap();
    assert_eq!(prop.community, "甘家口小区");
    assert_eq!(prop.building.as_deref(), Some("12号楼"));
    assert_eq!(prop.unit.as_deref(), Some("1单元"));
    assert_eq!(prop.room.as_deref(), Some("601"));
    assert_eq!(t.extensions.len(), 1);
    assert_eq!(t.extensions["open311.jurisdiction_id"], "jjj12345.example");
    assert_eq!(t.urgency, schemas::Urgency::Normal);
    assert_eq!((t.channel, t.handoff_id.as_deref()), (None, None));
    assert_eq!(t.origin_ticket_id, "");
    let canonical = serde_json::to_string(&t).unwrap();
    assert!(!canonical.contains("demo-7f3a9c2e1b8d4f06"), "api_key kept");
}

#[test]
fn decode_ticket_takes_a_form_only_with_requested_datetime() {
    let tables = tables();
    let plain = sample("post-request.txt");
    for syntax in [Syntax::Json, Syntax::Xml] {
        let e = decode_ticket(syntax, &plain, &tables).unwrap_err();
        assert_eq!(fields(&e), ["requested_datetime"]);
    }
    let mut with_time = plain.clone();
    with_time.extend_from_slice(b"&requested_datetime=2025-03-25T08%3A31%3A12%2B08%3A00\n");
    let t = decode_ticket(Syntax::Json, &with_time, &tables).unwrap();
    assert_eq!(t, decode_post(&plain, received(), &tables).unwrap());
    // A POST must not set its own time of receipt.
    assert_eq!(fields(&post_error(&with_time)), ["requested_datetime"]);
}

#[test]
fn invalid_posts_name_each_field() {
    let e = post_error(b"service_code=ROOF-LEAK&lat=39.9&long=116.3");
    assert_eq!(e.field_errors()[0].field, "description");
    assert_eq!(e.field_errors()[0].reason, "is required");
    let e = post_error(b"service_code=ROOF-LEAK&address_id=7&description=");
    assert_eq!(e.field_errors()[0].reason, "must not be empty");
    let e = post_error(b"service_code=ROOF-LEAK&lat=north&long=116.3&description=x");
    assert_eq!(fields(&e), ["lat"]);
    assert!(e.to_string().contains("'north' is not a number"), "{e}");
    let e = post_error(b"service_code=ROOF-LEAK&lat=91&long=116.3&description=x");
    assert_eq!(fields(&e), ["lat"]);
    let e = post_error(b"service_code=ROOF-LEAK&lat=39.9&description=x");
    assert_eq!(fields(&e), ["long"]);
    let e = post_error(b"service_code=ROOF-LEAK&description=x");
    assert_eq!(fields(&e), ["address_string"]);
    let e = post_error(&body("phone=12345&email=nobody&media_url=img.jpg"));
    assert_eq!(fields(&e), ["email", "phone", "media_url"]);
    let e = post_error(&body("attribute%5Bbuilding%5D=12%E5%8F%B7%E6%A5%BC"));
    assert_eq!(fields(&e), ["attribute[community]"]);
    let long = format!(
        "service_code=ROOF-LEAK&address_id=7&description={}",
        "%E6%BC%8F".repeat(4001)
    );
    let e = post_error(long.as_bytes());
    assert_eq!(fields(&e), ["description"]);
    assert!(e.to_string().contains("4001 characters"), "{e}");
}

#[test]
fn unknown_service_codes_travel_as_other_and_are_flagged() {
    let t = decode_post(
        &b"service_code=POTHOLE&address_string=x&description=y"[..],
        received(),
        &tables(),
    )
    .unwrap();
    assert_eq!(t.category.code, "other");
    let src = t.category.source.unwrap();
    assert_eq!((src.code.as_str(), src.unmapped), ("POTHOLE", true));
    assert_eq!(t.title, "其他");
}

#[test]
fn keys_are_unique_known_and_strictly_encoded() {
    assert_eq!(
        post_error(&body("phone=18800188000&phone=13900139000")),
        Error::Duplicate {
            field: "phone".into()
        }
    );
    assert_eq!(
        post_error(&body("attribute%5Broom%5D=1&attribute[room]=2")),
        Error::Duplicate {
            field: "attribute[room]".into()
        }
    );
    let e = post_error(&body(
        "priority=1&attribute%5Bx%5D%5B%5D=1&attribute%5B%5D=2",
    ));
    assert_eq!(fields(&e), ["priority", "attribute[x][]", "attribute[]"]);
    let e = post_error(&body("address_string=%E5%8C"));
    assert!(
        matches!(&e, Error::Syntax { field, .. } if field == "address_string"),
        "{e:?}"
    );
    let big = body(&format!(
        "address_string={}",
        "a".repeat(crate::json::MAX_BODY)
    ));
    assert!(matches!(post_error(&big), Error::TooLarge { .. }));
    let e = post_error(&body("address_string=%G1"));
    assert!(
        matches!(&e, Error::Syntax { field, .. } if field == "address_string"),
        "{e:?}"
    );
}

#[test]
fn other_attributes_and_ids_become_extensions() {
    let t = decode_post(
            &body("attribute%5Bfloor%5D=6&device_id=d-1&account_id=a-2&address_id=A9&email=w%40x.cn&first_name=&api_key=k"),
            received(),
            &tables(),
        )
        .unwrap();
    assert_eq!(t.extensions["open311.attribute.floor"], "6");
    assert_eq!(t.extensions["open311.device_id"], "d-1");
    assert_eq!(t.extensions["open311.account_id"], "a-2");
    assert_eq!(t.extensions["open311.address_id"], "A9");
    assert_eq!(t.caller.email.as_deref(), Some("w@x.cn"));
    assert_eq!(t.caller.given_name, None);
    assert_eq!(t.property, None);
    assert_eq!(t.extensions.len(), 4);
}
