use std::path::Path;

use schemas::{
    Caller, OwnerKind, Property, Satisfaction, Status, StatusUpdate, Tables, Target, Ticket,
    Urgency,
};

use super::*;
use crate::ent;
use crate::time::parse_rfc3339;

fn tables() -> Tables {
    Tables::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/data")).unwrap()
}

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance-tests/samples")
        .join(name);
    std::fs::read(path).unwrap()
}

/// The sample as `json::write` writes it: no trailing newline.
fn sample_exact(name: &str) -> String {
    String::from_utf8(sample(name))
        .unwrap()
        .trim_end()
        .to_owned()
}

fn fields(e: &Error) -> Vec<String> {
    e.field_errors().into_iter().map(|f| f.field).collect()
}

fn order_with(replacements: &[(&str, &str)]) -> Vec<u8> {
    let mut text = String::from_utf8(sample("pu-json/repair-order.json")).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "sample has no {from}");
        text = text.replacen(from, to, 1);
    }
    text.into_bytes()
}

fn order() -> Ticket {
    decode_ticket(&sample("pu-json/repair-order.json"), &tables()).unwrap()
}

fn encode_text(t: &Ticket) -> (String, Vec<String>) {
    let out = encode_ticket(t, &tables()).unwrap();
    let lost = out.loss.iter().map(|l| l.field.to_owned()).collect();
    (String::from_utf8(out.bytes).unwrap(), lost)
}

#[test]
fn sample_order_decodes_to_the_canonical_fields() {
    let t = order();
    assert_eq!(t.handoff_id.as_deref(), Some("01JPV3027WHH39P94PSK9QDQNS"));
    assert_eq!(t.origin_partner.as_deref(), Some("bj12345"));
    assert_eq!(t.origin_ticket_id, "BJ2025032100318");
    assert_eq!(
        t.received_at,
        parse_rfc3339("2025-03-21T08:52:36+08:00").unwrap()
    );
    assert_eq!(
        t.ack_by,
        Some(parse_rfc3339("2025-03-21T12:52:36+08:00").unwrap())
    );
    assert_eq!(
        t.resolve_by,
        Some(parse_rfc3339("2025-03-24T08:52:36+08:00").unwrap())
    );
    assert_eq!(t.urgency, Urgency::Normal);
    let p = t.property.as_ref().unwrap();
    assert_eq!(p.owner_kind, Some(OwnerKind::Military));
    assert_eq!(p.unit_id.as_deref(), Some("pu-military-001"));
    assert_eq!(p.community, "万寿路甲15号院");
    assert_eq!(
        (p.building.as_deref(), p.unit.as_deref(), p.room.as_deref()),
        (Some("7号楼"), Some("3单元"), Some("602"))
    );
    let l = t.location.as_ref().unwrap();
    assert_eq!(
        l.address.as_deref(),
        Some("北京市海淀区万寿路甲15号院7号楼3单元602室")
    );
    assert_eq!(l.division.as_deref(), Some("110108"));
    assert_eq!(t.category.code, "housing.repair.wall");
    assert_eq!(t.category.label.as_deref(), Some("墙体开裂脱落"));
    let src = t.category.source.as_ref().unwrap();
    assert_eq!(src.scheme, "catalogue");
    assert!(!src.unmapped);
    assert_eq!(t.title, "墙体开裂脱落");
    assert!(
        t.description
            .ends_with("请产权单位派人查看墙体安全并维修。")
    );
    assert_eq!(t.attachments.len(), 1);
    assert_eq!(t.attachments[0].name, None);
    assert_eq!(t.caller.name.as_deref(), Some("马卫东"));
    assert_eq!(t.caller.phone.as_deref(), Some("13500135000"));
    assert_eq!(t.history.len(), 1);
    assert_eq!(t.history[0].state, Status::Received);
    assert_eq!(t.history[0].by.as_deref(), Some("gateway"));
    assert_eq!(t.target, None);
    assert_eq!(t.notes, None);
}

#[test]
fn sample_order_round_trips_byte_for_byte() {
    let (text, lost) = encode_text(&order());
    assert!(lost.is_empty(), "{lost:?}");
    assert_eq!(text, sample_exact("pu-json/repair-order.json"));
}

#[test]
fn an_unrouted_ticket_is_placed_by_the_compound_registry() {
    let mut t = order();
    if let Some(p) = t.property.as_mut() {
        p.owner_kind = None;
        p.unit_id = None;
    }
    let (text, _) = encode_text(&t);
    assert_eq!(text, sample_exact("pu-json/repair-order.json"));

    t.property = None;
    let (text, _) = encode_text(&t);
    assert!(text.contains("\"community\": \"万寿路甲15号院\""), "{text}");
    assert!(text.contains("\"unit_id\": \"pu-military-001\""), "{text}");

    t.location = None;
    let e = encode_ticket(&t, &tables()).unwrap_err();
    assert!(
        matches!(&e, Error::Unrepresentable { field, .. } if field == "property.owner_kind"),
        "{e:?}"
    );
}

#[test]
fn an_order_needs_its_hand_off_id() {
    let mut t = order();
    t.handoff_id = None;
    let e = encode_ticket(&t, &tables()).unwrap_err();
    assert!(matches!(e, Error::Unrepresentable { field, .. } if field == "order_id"));
}

#[test]
fn an_uncatalogued_category_travels_as_other_with_its_code() {
    let bytes = order_with(&[("\"housing.repair.wall\"", "\"housing.repair.window\"")]);
    let t = decode_ticket(&bytes, &tables()).unwrap();
    assert_eq!(t.category.code, "other");
    let src = t.category.source.as_ref().unwrap();
    assert_eq!(
        (src.scheme.as_str(), src.code.as_str(), src.unmapped),
        ("catalogue", "housing.repair.window", true)
    );
    let (text, lost) = encode_text(&t);
    assert!(lost.is_empty(), "{lost:?}");
    assert_eq!(
        text.as_bytes(),
        String::from_utf8(bytes).unwrap().trim_end().as_bytes()
    );
}

#[test]
fn a_source_code_without_mapping_shows_its_own_label() {
    let mut t = order();
    t.category = schemas::Category {
        code: "other".into(),
        label: Some("违建拆除".into()),
        source: Some(schemas::SourceCode {
            scheme: "bj".into(),
            code: "0999".into(),
            unmapped: true,
        }),
    };
    t.title = "违建拆除".into();
    let (text, lost) = encode_text(&t);
    assert_eq!(lost, ["category.source"]);
    assert!(text.contains("\"category\": \"other\""), "{text}");
    assert!(text.contains("\"label\": \"违建拆除\""), "{text}");
    assert!(
        text.contains("原分类代码(category.source): bj 0999 违建拆除"),
        "{text}"
    );
}

#[test]
fn invalid_orders_name_every_bad_field() {
    let bytes = order_with(&[
        ("\"01JPV3027WHH39P94PSK9QDQNS\"", "\"01JPV3027 WHH\""),
        ("2025-03-21T08:52:36+08:00", "2025-03-21T08:52:36"),
        ("\"normal\"", "\"high\""),
        ("\"military\"", "\"army\""),
        ("\"pu-military-001\"", "\"military-001\""),
        ("\"110108\"", "\"1101\""),
        ("\"墙体开裂脱落\"", "\"\""),
        ("6c4c10bd", "zz"),
        ("13500135000", "135001350"),
        ("\"received\"", "\"filed\""),
    ]);
    let e = decode_ticket(&bytes, &tables()).unwrap_err();
    assert_eq!(
        fields(&e),
        [
            "order_id",
            "issued_at",
            "urgency",
            "property.owner_kind",
            "property.unit_id",
            "property.division",
            "problem.label",
            "problem.photos[0].sha256",
            "resident.phone",
            "history[0].state",
        ]
    );
    let e = decode_ticket(br#"{"order_id":"x"}"#, &tables()).unwrap_err();
    assert_eq!(
        fields(&e),
        ["origin", "issued_at", "urgency", "property", "problem"]
    );
    let e = decode_ticket(&order_with(&[("\"resident\"", "\"citizen\"")]), &tables()).unwrap_err();
    assert!(e.to_string().contains("unknown field `citizen`"), "{e}");
}

#[test]
fn lost_fields_are_appended_to_the_description_after_a_blank_line() {
    let mut t = order();
    t.title = "7号楼外墙裂缝".into();
    t.urgency = Urgency::High;
    t.notes = Some("居民白天在家".into());
    t.caller = Caller {
        anonymous: true,
        ..Caller::default()
    };
    t.target = Some(Target::Property);
    t.reason = Some("产权单位负责维修".into());
    let (text, lost) = encode_text(&t);
    assert_eq!(
        lost,
        ["notes", "urgency", "title", "caller.anonymous", "reason"]
    );
    assert!(!text.contains("resident"), "{text}");
    let back = decode_ticket(text.as_bytes(), &tables()).unwrap();
    let (desc, block) = back.description.split_once("\n\n").unwrap();
    assert!(order().description.starts_with(desc));
    assert_eq!(
        block,
        "备注(notes): 居民白天在家\n原紧急程度(urgency): high\n标题(title): 7号楼外墙裂缝\n匿名来电(caller.anonymous): true\n转办原因(reason): 产权单位负责维修"
    );
    assert_eq!(
        back.description,
        format!("{}\n\n{block}", order().description)
    );
}

#[test]
fn ent_to_pu_to_canonical_keeps_what_pu_carries() {
    let t = tables();
    let mut tk = ent::decode_ticket(&sample("ent-json/ticket.json"), &t).unwrap();
    tk.handoff_id = Some("01JPS3FYRTAKBWX3ZMGNF56K1T".into());
    tk.origin_partner = Some("bj-enterprise".into());
    tk.property = Some(Property {
        community: "万寿路甲15号院".into(),
        building: Some("7号楼".into()),
        owner_kind: Some(OwnerKind::Military),
        unit_id: Some("pu-military-001".into()),
        ..Property::default()
    });
    let out = encode_ticket(&tk, &t).unwrap();
    let lost: Vec<_> = out.loss.iter().map(|l| l.field).collect();
    assert_eq!(
        lost,
        [
            "notes",
            "channel",
            "urgency",
            "title",
            "caller.email",
            "target",
            "reason",
            "enterprise.name",
            "enterprise.uscc",
            "enterprise.size",
            "enterprise.industry",
            "attachments[0].name",
        ]
    );
    let back = decode_ticket(&out.bytes, &t).unwrap();
    assert_eq!(back.origin_ticket_id, tk.origin_ticket_id);
    assert_eq!(back.origin_partner, tk.origin_partner);
    assert_eq!(back.handoff_id, tk.handoff_id);
    assert_eq!(back.received_at, tk.received_at);
    assert_eq!(back.urgency, Urgency::Normal);
    assert_eq!(back.category.code, "enterprise.permit");
    assert_eq!(back.category.label.as_deref(), Some("审批许可"));
    assert_eq!(back.caller.name, tk.caller.name);
    assert_eq!(back.caller.phone, tk.caller.phone);
    assert_eq!(back.location, tk.location);
    assert_eq!(back.property, tk.property);
    assert_eq!(back.attachments[0].url, tk.attachments[0].url);
    assert_eq!(back.attachments[0].sha256, tk.attachments[0].sha256);
    assert!(
        back.description
            .starts_with(&format!("{}\n\n备注(notes): ", tk.description))
    );
    for line in [
        "标题(title): 餐饮企业食品经营许可证变更申请超期未办结",
        "统一社会信用代码(enterprise.uscc): 91110108MA01RK7H3A",
        "转办目标(target): 110000",
        "附件名称(attachments[0].name): 变更申请受理回执.pdf",
    ] {
        assert!(back.description.contains(line), "{line}");
    }
}

#[test]
fn sample_status_round_trips_and_states_map() {
    let t = tables();
    let s = decode_status(&sample("pu-json/status.json"), &t).unwrap();
    assert_eq!(s.status, Status::Resolved);
    assert_eq!(s.handoff_id, None);
    assert_eq!(s.by.as_deref(), Some("营房管理处联络员 赵永刚"));
    assert_eq!(s.at, parse_rfc3339("2025-03-23T17:10:00+08:00").unwrap());
    let out = encode_status(&s, &t).unwrap();
    assert_eq!(
        String::from_utf8(out.bytes).unwrap(),
        sample_exact("pu-json/status.json")
    );
    let returned = decode_status(
        br#"{"state":"returned","at":"2025-03-21T10:00:00+08:00","by":"liaison","reason_code":"R02","comment":"not ours"}"#,
        &t,
    )
    .unwrap();
    assert_eq!(returned.status, Status::Rejected);
    assert_eq!(returned.reason_code.as_deref(), Some("R02"));
    for status in Status::ALL {
        let u = StatusUpdate {
            status,
            ..s.clone()
        };
        match encode_status(&u, &t) {
            Ok(out) => assert_eq!(decode_status(&out.bytes, &t).unwrap(), u),
            Err(Error::Unrepresentable { field, .. }) => {
                assert_eq!(field, "state");
                assert!(!matches!(
                    status,
                    Status::Accepted | Status::Rejected | Status::InProgress | Status::Resolved
                ));
            }
            Err(e) => panic!("{e}"),
        }
    }
    let closed = StatusUpdate {
        satisfaction: Some(Satisfaction::Satisfied),
        ..s.clone()
    };
    let out = encode_status(&closed, &t).unwrap();
    assert!(
        String::from_utf8(out.bytes)
            .unwrap()
            .contains("满意度(satisfaction): satisfied")
    );
    let e = encode_status(&StatusUpdate { by: None, ..s }, &t).unwrap_err();
    assert!(matches!(e, Error::Unrepresentable { field, .. } if field == "by"));
}

#[test]
fn bad_status_bodies_are_named() {
    let t = tables();
    let e = decode_status(br#"{"state":"closed","at":"2025-03-23 17:10:00"}"#, &t).unwrap_err();
    assert_eq!(fields(&e), ["state", "at", "by"]);
    let reason = &e.field_errors()[0].reason;
    assert!(
        reason.contains("accepted, returned, in_progress, resolved"),
        "{reason}"
    );
    let e = decode_status(
        br#"{"state":"rejected","at":"2025-03-23T17:10:00Z","by":"x"}"#,
        &t,
    )
    .unwrap_err();
    assert!(e.to_string().contains("\"returned\""), "{e}");
    let e = decode_status(
        br#"{"gateway_ref":"x","state":"resolved","at":"2025-03-23T17:10:00Z","by":"x"}"#,
        &t,
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `gateway_ref`"), "{e}");
}

#[test]
fn ack_body_carries_the_units_own_id() {
    assert_eq!(
        decode_ack(&sample("pu-json/ack.json")).unwrap(),
        Some("YFC-2025-0387".to_owned())
    );
    assert_eq!(decode_ack(b"").unwrap(), None);
    assert_eq!(decode_ack(b"{}").unwrap(), None);
    assert_eq!(
        decode_delivery_reply(&sample("pu-json/ack.json")).unwrap(),
        Some("YFC-2025-0387".to_owned())
    );
    let e = decode_ack(br#"{"unit_ref":"YFC 0387"}"#).unwrap_err();
    assert_eq!(fields(&e), ["unit_ref"]);
    let e = decode_ack(br#"{"ref":"YFC-0387"}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `ref`"), "{e}");
}

#[test]
fn error_reply_is_problem_details() {
    let body = encode_error(
        404,
        "no such order",
        &[FieldError::new("order_id", "not found")],
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["type"], "tag:jjj12345.example,2025:problems/not-found");
    assert_eq!(v["status"], 404);
    assert_eq!(v["detail"], "no such order");
    assert_eq!(v["errors"][0]["field"], "order_id");
    let r: serde_json::Value =
        serde_json::from_slice(&encode_receipt("01JPV3027WHH39P94PSK9QDQNS", 7)).unwrap();
    assert_eq!(
        r,
        serde_json::json!({"order_id": "01JPV3027WHH39P94PSK9QDQNS", "audit_seq": 7})
    );
}
