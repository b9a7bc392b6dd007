//! The canonical schemas describe the serde JSON of `schemas::Ticket` and
//! `schemas::StatusUpdate` exactly, and reject bad values.

use std::collections::BTreeMap;

use adapters::Family;
use conformance_tests::{Kind, validate};
use schemas::{
    Attachment, Caller, Category, Channel, Datum, Enterprise, HistoryEntry, Location, OwnerKind,
    Point, Property, Satisfaction, SourceCode, SourcePoint, Status, StatusUpdate, Target, Ticket,
    Urgency,
};
use serde_json::json;

use crate::json::{accepted, rejected, tables, with, without};
use crate::sample;

/// A canonical ticket with every field set.
fn full_ticket() -> Ticket {
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    Ticket {
        origin_ticket_id: "BJ2025031200457".into(),
        origin_partner: Some("bj12345".into()),
        origin_division: Some("110000".into()),
        handoff_id: Some("01JP3SCX6J122GPMWEZCDRM48R".into()),
        target_partner: Some("hb-131000".into()),
        received_at: at("2025-03-12T07:42:18.250+08:00"),
        channel: Some(Channel::Wechat),
        urgency: Urgency::High,
        category: Category {
            code: "other".into(),
            label: Some("未知分类".into()),
            source: Some(SourceCode {
                scheme: "bj".into(),
                code: "7777".into(),
                unmapped: true,
            }),
        },
        title: "标题".into(),
        description: "内容\r\n第二行".into(),
        caller: Caller {
            anonymous: false,
            name: Some("王秀兰".into()),
            family_name: Some("王".into()),
            given_name: Some("秀兰".into()),
            phone: Some("010-65123456".into()),
            email: Some("wang@citizen.example".into()),
        },
        location: Some(Location {
            address: Some("地址".into()),
            division: Some("131082".into()),
            point: Some(Point {
                lon: 116.819_6,
                lat: 39.957_1,
            }),
            source_point: Some(SourcePoint {
                datum: Datum::Bd09,
                lon: 116.83,
                lat: 39.96,
            }),
        }),
        target: Some(Target::Hotline {
            division: "131000".into(),
        }),
        reason: Some("转办".into()),
        enterprise: Some(Enterprise {
            name: "北京禾穗餐饮管理有限公司".into(),
            uscc: Some("91110108MA01RK7H3A".into()),
            size: Some("small".into()),
            industry: Some("餐饮业".into()),
        }),
        property: Some(Property {
            community: "百万庄小区".into(),
            building: Some("5号楼".into()),
            unit: Some("2单元".into()),
            room: Some("301".into()),
            owner_kind: Some(OwnerKind::Central),
            unit_id: Some("pu-central-001".into()),
        }),
        attachments: vec![Attachment {
            name: None,
            url: "https://img.citizen-app.example/r/1.jpg".into(),
            sha256: None,
        }],
        call_ref: Some("C1".into()),
        notes: Some("备注".into()),
        ack_by: Some(at("2025-03-12T08:12:18+08:00")),
        resolve_by: Some(at("2025-03-12T01:42:18Z")),
        history: vec![HistoryEntry {
            state: Status::InProgress,
            at: at("2025-03-12T07:50:00+08:00"),
            by: Some("gateway".into()),
            comment: None,
        }],
        extensions: BTreeMap::from([("ent.size".to_owned(), "small".to_owned())]),
    }
}

const CANONICAL: &str = "canonical/ticket.schema.json";

#[test]
fn canonical_schemas_describe_the_serde_json_of_the_model() {
    let mut t = full_ticket();
    let v = serde_json::to_value(&t).unwrap();
    accepted(CANONICAL, &v);
    for target in [Target::Enterprise, Target::Property] {
        t.target = Some(target);
        accepted(CANONICAL, &serde_json::to_value(&t).unwrap());
    }
    for datum in [Datum::Wgs84, Datum::Gcj02] {
        let mut t = full_ticket();
        if let Some(l) = t.location.as_mut() {
            l.source_point = l.source_point.map(|p| SourcePoint { datum, ..p });
        }
        accepted(CANONICAL, &serde_json::to_value(&t).unwrap());
    }
    // What the canonical family writes, from a real decode.
    let tables = tables();
    let order =
        adapters::decode_ticket(Family::BjJson, &sample("bj-json/order.json"), &tables).unwrap();
    let out = adapters::encode_ticket(Family::Canonical, &order, &tables).unwrap();
    validate(Family::Canonical, Kind::Ticket, &out.bytes).unwrap();

    let status = StatusUpdate {
        handoff_id: Some("01JP3SCX6J122GPMWEZCDRM48R".into()),
        ticket_id: None,
        status: Status::Closed,
        at: chrono::DateTime::parse_from_rfc3339("2025-03-15T15:12:40+08:00").unwrap(),
        by: None,
        reason_code: Some("R01".into()),
        comment: Some("ok".into()),
        satisfaction: Some(Satisfaction::BasicallySatisfied),
        extensions: BTreeMap::new(),
    };
    let out = adapters::encode_status(Family::Canonical, &status, &tables).unwrap();
    validate(Family::Canonical, Kind::Status, &out.bytes).unwrap();
    let s = serde_json::to_value(&status).unwrap();
    let schema = "canonical/status.schema.json";
    rejected(
        schema,
        &with(s.clone(), "/status", json!("processing")),
        "/status",
    );
    rejected(
        schema,
        &with(s.clone(), "/satisfaction", json!("basic")),
        "/satisfaction",
    );
    rejected(schema, &with(s, "/state", json!("closed")), "state");

    let err = adapters::encode_error(Family::Canonical, 404, "未找到", &[]);
    validate(Family::Canonical, Kind::Error, &err).unwrap();
    rejected(
        "canonical/error.schema.json",
        &json!({"status": 404, "errors": []}),
        "message",
    );
}

#[test]
fn canonical_ticket_schema_rejects_bad_values() {
    let v = serde_json::to_value(full_ticket()).unwrap();
    rejected(
        CANONICAL,
        &with(v.clone(), "/urgency", json!("URGENT")),
        "/urgency",
    );
    rejected(
        CANONICAL,
        &with(v.clone(), "/channel", json!("fax")),
        "/channel",
    );
    rejected(
        CANONICAL,
        &with(v.clone(), "/target", json!({"kind": "hotline"})),
        "/target",
    );
    rejected(
        CANONICAL,
        &with(v.clone(), "/target", json!({"kind": "city"})),
        "/target",
    );
    rejected(
        CANONICAL,
        &with(v.clone(), "/location/source_point/datum", json!("WGS84")),
        "/location/source_point/datum",
    );
    rejected(
        CANONICAL,
        &with(v.clone(), "/caller/anonymous", json!(true)),
        "/caller",
    );
    rejected(
        CANONICAL,
        &with(v.clone(), "/extensions/ent.size", json!(1)),
        "/extensions",
    );
    rejected(
        CANONICAL,
        &with(v.clone(), "/category/code", json!("0602")),
        "/category/code",
    );
    rejected(
        CANONICAL,
        &with(v.clone(), "/received_at", json!("2025-03-12T07:42:18")),
        "/received_at",
    );
    rejected(CANONICAL, &without(v.clone(), "/title"), "title");
    rejected(CANONICAL, &with(v, "/priority", json!("high")), "priority");
}
