//! Tests of the parent module.

use schemas::{
    Caller, Enterprise, HistoryEntry, OwnerKind, Status, Target, Ticket, Timestamp, Urgency,
};

use super::super::testutil::{sample, tables, text};
use super::super::{Syntax, WITHHELD, decode_post, decode_ticket, encode_ticket};
use crate::error::Error;
use crate::time;

const ID: &str = "01JQ5BBRR0T3GMYXSMKM9Y9CGZ";

fn at(s: &str) -> Timestamp {
    time::parse_rfc3339(s).unwrap()
}

fn field_names(e: &Error) -> Vec<String> {
    e.field_errors().into_iter().map(|f| f.field).collect()
}

#[test]
fn request_json_decodes_to_the_sample_values() {
    let t = decode_ticket(Syntax::Json, &sample("request.json"), &tables()).unwrap();
    assert_eq!(t.handoff_id.as_deref(), Some(ID));
    assert_eq!(t.origin_ticket_id, ID);
    assert_eq!(t.category.code, "housing.repair.roof_leak");
    assert_eq!(t.category.label.as_deref(), Some("房屋漏雨"));
    assert_eq!(t.title, "房屋漏雨");
    assert_eq!(t.target_partner.as_deref(), Some("pu-central-003"));
    assert_eq!(t.received_at, at("2025-03-25T08:31:12+08:00"));
    assert_eq!(t.resolve_by, Some(at("2025-03-28T08:31:12+08:00")));
    let loc = t.location.as_ref().unwrap();
    assert_eq!(
        loc.address.as_deref(),
        Some("北京市海淀区增光路甘家口小区12号楼1单元601室")
    );
    let p = loc.point.unwrap();
    assert_eq!((p.lat, p.lon), (39.928533, 116.324218));
    assert_eq!(
        t.attachments[0].url,
        "https://img.citizen-app.example/r/2025/03/25/8f3a61c2.jpg"
    );
    assert_eq!(t.extensions["open311.status"], "open");
    assert_eq!(
        t.extensions["open311.updated_datetime"],
        "2025-03-25T10:02:47+08:00"
    );
    assert!(t.extensions["open311.status_notes"].starts_with("已送达甘家口小区"));
    assert!(t.extensions["open311.service_notice"].contains("72小时"));
    assert!(!t.extensions.contains_key("open311.address_id"));
    assert!(t.caller.is_empty());
}

#[test]
fn json_and_xml_round_trip_byte_for_byte_and_agree() {
    let tables = tables();
    for (syntax, name) in [(Syntax::Json, "request.json"), (Syntax::Xml, "request.xml")] {
        let t = decode_ticket(syntax, &sample(name), &tables).unwrap();
        let out = encode_ticket(syntax, &t, &tables).unwrap();
        assert_eq!(text(&out.bytes), text(&sample(name)), "{name}");
        assert!(out.loss.is_empty(), "{name}: {:?}", out.loss);
    }
    let from_json = decode_ticket(Syntax::Json, &sample("request.json"), &tables).unwrap();
    let from_xml = decode_ticket(Syntax::Xml, &sample("request.xml"), &tables).unwrap();
    assert_eq!(from_json, from_xml);
    let xml = encode_ticket(Syntax::Xml, &from_json, &tables).unwrap();
    assert_eq!(text(&xml.bytes), text(&sample("request.xml")));
}

/// The sample story: the POST, as the gateway stores and routes it,
/// is what `GET requests/{id}` shows, with no personal data.
fn routed_post() -> Ticket {
    let tables = tables();
    let received = at("2025-03-25T08:31:12+08:00");
    let mut t = decode_post(&sample("post-request.txt"), received, &tables).unwrap();
    t.origin_ticket_id = ID.into();
    t.handoff_id = Some(ID.into());
    t.origin_partner = Some("open311-citizen-app".into());
    t.target = Some(Target::Property);
    t.target_partner = Some("pu-central-003".into());
    let p = t.property.as_mut().unwrap();
    p.owner_kind = Some(OwnerKind::Central);
    p.unit_id = Some("pu-central-003".into());
    t.ack_by = Some(at("2025-03-25T12:31:12+08:00"));
    t.resolve_by = Some(at("2025-03-28T08:31:12+08:00"));
    t.history = vec![
        HistoryEntry {
            state: Status::Received,
            at: received,
            by: None,
            comment: None,
        },
        HistoryEntry {
            state: Status::Accepted,
            at: at("2025-03-25T10:02:47+08:00"),
            by: Some("某部机关服务局 联络员".into()),
            comment: Some("已送达甘家口小区产权单位并签收，联络员计划3月26日上午上门查看。".into()),
        },
    ];
    t.extensions.insert(
        "open311.service_notice".into(),
        "央产、军产小区房屋维修由产权单位负责，一般在72小时内答复。".into(),
    );
    t
}

#[test]
fn the_routed_post_is_shown_as_the_sample_without_personal_data() {
    let tables = tables();
    let t = routed_post();
    for (syntax, name) in [(Syntax::Json, "request.json"), (Syntax::Xml, "request.xml")] {
        let out = encode_ticket(syntax, &t, &tables).unwrap();
        let body = text(&out.bytes);
        assert_eq!(body, text(&sample(name)), "{name}");
        for personal in ["王", "秀兰", "18800188000"] {
            assert!(!body.contains(personal), "{personal} in {name}");
        }
        let lost: Vec<(&str, &str)> = out.loss.iter().map(|f| (f.field, f.value)).collect();
        for expected in [
            ("caller.name", WITHHELD),
            ("caller.family_name", WITHHELD),
            ("caller.given_name", WITHHELD),
            ("caller.phone", WITHHELD),
            ("property.community", "甘家口小区"),
            ("property.room", "601"),
            ("property.unit_id", "pu-central-003"),
            ("target", "property"),
            ("origin_partner", "open311-citizen-app"),
            ("ack_by", "2025-03-25T12:31:12+08:00"),
            ("extensions.open311.jurisdiction_id", "jjj12345.example"),
        ] {
            assert!(lost.contains(&expected), "{expected:?} not in {lost:?}");
        }
        assert!(lost.iter().any(|(f, _)| *f == "history[1]"));
    }
}

#[test]
fn a_foreign_ticket_appends_its_lost_fields_and_withholds_personal_data() {
    let tables = tables();
    let mut t = decode_ticket(Syntax::Json, &sample("request.json"), &tables).unwrap();
    t.category = crate::common::category_from_partner(
        &tables,
        schemas::Scheme::Bj,
        "0504",
        Some("墙体开裂脱落"),
    );
    t.title = "楼道墙皮脱落".into();
    t.urgency = Urgency::High;
    t.channel = Some(schemas::Channel::Phone);
    t.origin_ticket_id = "BJ2025032500017".into();
    t.caller = Caller {
        name: Some("张伟".into()),
        phone: Some("13900139000".into()),
        email: Some("zw@example.cn".into()),
        ..Caller::default()
    };
    t.enterprise = Some(Enterprise {
        name: "某物业公司".into(),
        ..Enterprise::default()
    });
    t.extensions
        .insert("open311.device_id".into(), "dev-42".into());
    let out = encode_ticket(Syntax::Json, &t, &tables).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.bytes).unwrap();
    let r = &v[0];
    assert_eq!(r["service_code"], "WALL");
    assert_eq!(r["service_name"], "墙体开裂脱落");
    let description = r["description"].as_str().unwrap();
    let (original, lines) = description.split_once("\n\n").unwrap();
    assert_eq!(original, t.description);
    for line in [
        "标题(title): 楼道墙皮脱落",
        "原工单号(origin_ticket_id): BJ2025032500017",
        "受理渠道(channel): phone",
        "紧急程度(urgency): high",
        "企业名称(enterprise.name): 某物业公司",
    ] {
        assert!(lines.lines().any(|l| l == line), "{line} not in {lines}");
    }
    let body = text(&out.bytes);
    for personal in ["张伟", "13900139000", "zw@example.cn", "dev-42"] {
        assert!(!body.contains(personal), "{personal} written");
    }
    let withheld: Vec<&str> = out
        .loss
        .iter()
        .filter(|f| f.value == WITHHELD)
        .map(|f| f.field)
        .collect();
    assert_eq!(
        withheld,
        [
            "extensions.open311.device_id",
            "caller.name",
            "caller.phone",
            "caller.email"
        ]
    );
}

#[test]
fn a_ticket_without_hand_off_or_status_gets_the_documented_defaults() {
    let tables = tables();
    let mut t = decode_ticket(Syntax::Json, &sample("request.json"), &tables).unwrap();
    t.handoff_id = None;
    t.origin_ticket_id.clear();
    t.extensions.clear();
    t.location = None;
    let out = encode_ticket(Syntax::Json, &t, &tables).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.bytes).unwrap();
    let r = &v[0];
    assert_eq!(r["service_request_id"], serde_json::Value::Null);
    assert_eq!(r["status"], "open");
    for null in [
        "status_notes",
        "updated_datetime",
        "service_notice",
        "lat",
        "long",
        "address",
    ] {
        assert_eq!(r[null], serde_json::Value::Null, "{null}");
    }
    let back = decode_ticket(Syntax::Json, &out.bytes, &tables).unwrap();
    assert_eq!(back.handoff_id, None);
    assert_eq!(back.description, t.description);
}

#[test]
fn converted_points_are_rounded_and_long_descriptions_refused() {
    let tables = tables();
    let mut t = decode_ticket(Syntax::Xml, &sample("request.xml"), &tables).unwrap();
    let loc = t.location.as_mut().unwrap();
    loc.source_point = None;
    loc.point = Some(schemas::Point {
        lon: 116.324218049,
        lat: 39.92853349,
    });
    let out = encode_ticket(Syntax::Xml, &t, &tables).unwrap();
    assert!(text(&out.bytes).contains("<lat>39.928533</lat>\n    <long>116.324218</long>"));
    t.description = "漏".repeat(4001);
    let e = encode_ticket(Syntax::Json, &t, &tables).unwrap_err();
    assert_eq!(field_names(&e), ["description"]);
}

#[test]
fn ids_and_coordinates_may_be_numbers_or_strings() {
    let body = r#"[{"service_request_id": 293944, "status": "closed",
            "service_code": "NOISE", "description": "夜间施工",
            "requested_datetime": "2025-03-20T23:10:00Z",
            "lat": "39.9", "long": 116.4}]"#;
    let t = decode_ticket(Syntax::Json, body.as_bytes(), &tables()).unwrap();
    assert_eq!(t.handoff_id.as_deref(), Some("293944"));
    assert_eq!(t.category.code, "environment.noise");
    assert_eq!(t.title, "噪声扰民");
    let p = t.location.unwrap().point.unwrap();
    assert_eq!((p.lat, p.lon), (39.9, 116.4));
}

#[test]
fn invalid_representations_name_every_bad_field() {
    let tables = tables();
    let body = r#"[{"service_request_id": "a b", "status": "pending",
            "description": "x", "requested_datetime": "2025-03-20 23:10:00",
            "expected_datetime": "tomorrow", "lat": 39.9,
            "media_url": "ftp://x"}]"#;
    let e = decode_ticket(Syntax::Json, body.as_bytes(), &tables).unwrap_err();
    assert_eq!(
        field_names(&e),
        [
            "service_request_id",
            "status",
            "service_code",
            "requested_datetime",
            "expected_datetime",
            "long",
            "media_url"
        ]
    );
    let dup = r#"[{"status": "open", "status": "closed"}]"#;
    assert_eq!(
        decode_ticket(Syntax::Json, dup.as_bytes(), &tables).unwrap_err(),
        Error::Duplicate {
            field: "status".into()
        }
    );
    let unknown = r#"[{"status": "open", "priority": "1"}]"#;
    let e = decode_ticket(Syntax::Json, unknown.as_bytes(), &tables).unwrap_err();
    assert!(e.to_string().contains("priority"), "{e}");
    let two = format!("[{0},{0}]", r#"{"status": "open"}"#);
    let e = decode_ticket(Syntax::Json, two.as_bytes(), &tables).unwrap_err();
    assert_eq!(field_names(&e), ["service_requests"]);
    let xml = "<service_requests><request><status>open</status><status>closed</status>\
                   </request></service_requests>";
    assert_eq!(
        decode_ticket(Syntax::Xml, xml.as_bytes(), &tables).unwrap_err(),
        Error::Duplicate {
            field: "status".into()
        }
    );
    let xml = "<service_requests><request><priority>1</priority></request></service_requests>";
    let e = decode_ticket(Syntax::Xml, xml.as_bytes(), &tables).unwrap_err();
    assert_eq!(field_names(&e), ["priority"]);
    let hostile = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"y\">]>\
                       <service_requests/>";
    assert!(matches!(
        decode_ticket(Syntax::Xml, hostile.as_bytes(), &tables),
        Err(Error::Forbidden { .. })
    ));
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&sample("request.xml"));
    assert!(decode_ticket(Syntax::Xml, &bom, &tables).is_ok());
    let xml = "<errors><error><code>404</code></error></errors>";
    let e = decode_ticket(Syntax::Xml, xml.as_bytes(), &tables).unwrap_err();
    assert_eq!(field_names(&e), ["service_requests"]);
}
