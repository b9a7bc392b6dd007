use std::path::Path;

use schemas::{
    Caller, Category, Channel, Location, Point, Satisfaction, Status, StatusUpdate, Tables, Target,
    Ticket, Urgency,
};

use super::*;
use crate::bj;
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

fn field_errors(e: &Error) -> Vec<(String, String)> {
    e.field_errors()
        .into_iter()
        .map(|f| (f.field, f.reason))
        .collect()
}

fn fields(e: &Error) -> Vec<String> {
    field_errors(e).into_iter().map(|(f, _)| f).collect()
}

/// The ticket sample with one text replacement.
fn ticket_with(from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(sample("ent-json/ticket.json")).unwrap();
    assert!(text.contains(from), "sample has no {from}");
    text.replacen(from, to, 1).into_bytes()
}

fn ticket() -> Ticket {
    decode_ticket(&sample("ent-json/ticket.json"), &tables()).unwrap()
}

#[test]
fn sample_ticket_decodes_to_the_canonical_fields() {
    let t = ticket();
    assert_eq!(t.origin_ticket_id, "ENT-20250320-01466");
    assert_eq!(t.handoff_id, None);
    assert_eq!(
        t.received_at,
        parse_rfc3339("2025-03-20T14:22:47+08:00").unwrap()
    );
    assert_eq!(t.received_at.offset().local_minus_utc(), 8 * 3600);
    assert_eq!(t.channel, Some(Channel::Phone));
    assert_eq!(t.urgency, Urgency::High);
    assert_eq!(t.category.code, "enterprise.permit");
    assert_eq!(t.category.label.as_deref(), Some("审批许可"));
    let src = t.category.source.as_ref().unwrap();
    assert_eq!((src.scheme.as_str(), src.code.as_str()), ("ent", "E-03"));
    assert!(!src.unmapped);
    assert_eq!(t.title, "餐饮企业食品经营许可证变更申请超期未办结");
    assert!(t.description.contains("“已受理”"));
    assert!(t.description.contains("\n诉求："));
    let e = t.enterprise.as_ref().unwrap();
    assert_eq!(e.name, "北京禾穗餐饮管理有限公司");
    assert_eq!(e.uscc.as_deref(), Some("91110108MA01RK7H3A"));
    assert_eq!(e.size.as_deref(), Some("small"));
    assert_eq!(e.industry.as_deref(), Some("餐饮业"));
    assert!(!t.caller.anonymous);
    assert_eq!(t.caller.name.as_deref(), Some("孙丽"));
    assert_eq!(t.caller.phone.as_deref(), Some("13900139000"));
    assert_eq!(
        t.caller.email.as_deref(),
        Some("sunli@hesui-catering.example")
    );
    let l = t.location.as_ref().unwrap();
    assert_eq!(l.address.as_deref(), Some("北京市海淀区学清路甲18号1层"));
    assert_eq!(l.division.as_deref(), Some("110108"));
    assert_eq!(l.point, None);
    assert_eq!(
        t.target,
        Some(Target::Hotline {
            division: HUB_DIVISION.into()
        })
    );
    assert!(t.reason.as_deref().unwrap().starts_with("涉及区级行政审批"));
    assert_eq!(t.attachments.len(), 1);
    assert_eq!(
        t.attachments[0].name.as_deref(),
        Some("变更申请受理回执.pdf")
    );
    assert_eq!(
        t.notes.as_deref(),
        Some("企业已于2月24日一次性提交全部材料，申请编号见附件受理回执。")
    );
}

#[test]
fn sample_ticket_round_trips_byte_for_byte() {
    let out = encode_ticket(&ticket(), &tables()).unwrap();
    assert!(out.loss.is_empty(), "{:?}", out.loss);
    assert_eq!(
        String::from_utf8(out.bytes).unwrap(),
        sample_exact("ent-json/ticket.json")
    );
}

#[test]
fn wrong_uscc_check_character_names_enterprise_uscc() {
    let bytes = ticket_with("91110108MA01RK7H3A", "91110108MA01RK7H3B");
    let e = decode_ticket(&bytes, &tables()).unwrap_err();
    assert_eq!(
        field_errors(&e),
        vec![(
            "enterprise.uscc".to_owned(),
            "check character is 'B', expected 'A'".to_owned()
        )]
    );
}

#[test]
fn created_at_without_offset_is_refused() {
    let bytes = ticket_with("2025-03-20T14:22:47+08:00", "2025-03-20T14:22:47");
    let e = decode_ticket(&bytes, &tables()).unwrap_err();
    let errs = field_errors(&e);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, "created_at");
    assert!(errs[0].1.contains("no time-zone offset"), "{}", errs[0].1);
}

#[test]
fn every_bad_field_is_listed_at_once() {
    let text = String::from_utf8(sample("ent-json/ticket.json"))
        .unwrap()
        .replace("91110108MA01RK7H3A", "91110108MA01RK7H37")
        .replace("2025-03-20T14:22:47+08:00", "2025-03-20 14:22:47")
        .replace("\"high\"", "\"critical\"")
        .replace("\"phone\",", "\"fax\",")
        .replace("13900139000", "1390013900")
        .replace("sunli@hesui-catering.example", "sunli at hesui")
        .replace("\"110108\"", "\"11010\"")
        .replace("\"to\": \"12345\"", "\"to\": \"beijing\"")
        .replace(
            "ce15e985351cf1bda31d5efe47af3ac271783340c50dc190b9e0af9a82d42730",
            "ce15e985",
        );
    let e = decode_ticket(text.as_bytes(), &tables()).unwrap_err();
    assert_eq!(
        fields(&e),
        [
            "created_at",
            "channel",
            "priority",
            "enterprise.uscc",
            "contact.phone",
            "contact.email",
            "address.division",
            "route.to",
            "attachments[0].sha256",
        ]
    );
    let errs = field_errors(&e);
    assert!(errs[3].1.contains("expected 'A'"), "{}", errs[3].1);
    assert!(errs[7].1.contains("\"12345\""), "{}", errs[7].1);
}

#[test]
fn structural_problems_are_named() {
    let t = tables();
    let missing = ticket_with("\"summary\"", "\"summary_x\"");
    let e = decode_ticket(&missing, &t).unwrap_err();
    assert_eq!(fields(&e), ["summary_x"]);
    assert!(e.to_string().contains("unknown field"), "{e}");

    let no_enterprise = br#"{"ticket_id":"E-1","created_at":"2025-03-20T14:22:47+08:00",
        "summary":"s","detail":"d"}"#;
    let e = decode_ticket(no_enterprise, &t).unwrap_err();
    assert_eq!(fields(&e), ["enterprise"]);

    let blank = br#"{"ticket_id":"E 1","created_at":"2025-03-20T14:22:47+08:00",
        "summary":" ","enterprise":{"name":"x"}}"#;
    let e = decode_ticket(blank, &t).unwrap_err();
    assert_eq!(
        fields(&e),
        ["ticket_id", "summary", "detail", "enterprise.uscc"]
    );

    let dup = br#"{"ticket_id":"E-1","ticket_id":"E-2"}"#;
    assert_eq!(
        decode_ticket(dup, &t).unwrap_err(),
        Error::Duplicate {
            field: "ticket_id".into()
        }
    );
    let typed = ticket_with("\"priority\": \"high\"", "\"priority\": 2");
    assert_eq!(
        fields(&decode_ticket(&typed, &t).unwrap_err()),
        ["priority"]
    );
}

#[test]
fn optional_priority_and_topic_take_the_documented_defaults() {
    let bytes = br#"{"ticket_id":"E-1","created_at":"2025-03-20T06:22:47Z",
        "summary":"s","detail":"d","enterprise":{"name":"x","uscc":"91110108MA01RK7H3A"}}"#;
    let t = decode_ticket(bytes, &tables()).unwrap();
    assert_eq!(t.urgency, DEFAULT_URGENCY);
    assert_eq!(t.category.code, "other");
    assert_eq!(t.category.source, None);
    assert_eq!(t.channel, None);
    assert_eq!(t.received_at.offset().local_minus_utc(), 0);
    let out = String::from_utf8(encode_ticket(&t, &tables()).unwrap().bytes).unwrap();
    assert!(out.contains("\"code\": \"E-99\""), "{out}");
    assert!(out.contains("\"priority\": \"normal\""), "{out}");
    assert!(!out.contains("channel"), "{out}");
}

#[test]
fn a_ticket_without_enterprise_or_uscc_cannot_be_written() {
    let t = tables();
    let bj_ticket = bj::decode_ticket(&sample("bj-json/order.json"), &t).unwrap();
    assert!(bj_ticket.enterprise.is_none());
    let e = encode_ticket(&bj_ticket, &t).unwrap_err();
    assert!(matches!(&e, Error::Unrepresentable { field, .. } if field == "enterprise"));

    let mut no_uscc = ticket();
    if let Some(e) = no_uscc.enterprise.as_mut() {
        e.uscc = None;
    }
    let e = encode_ticket(&no_uscc, &t).unwrap_err();
    assert!(
        matches!(&e, Error::Unrepresentable { field, reason } if field == "enterprise" && reason.contains("uscc")),
        "{e:?}"
    );
}

#[test]
fn an_anonymous_caller_is_written_without_contact_and_nothing_personal() {
    let mut t = ticket();
    t.caller = Caller {
        anonymous: true,
        ..Caller::default()
    };
    let out = encode_ticket(&t, &tables()).unwrap();
    let text = String::from_utf8(out.bytes).unwrap();
    assert!(!text.contains("\"contact\""), "{text}");
    assert!(text.contains("匿名来电(caller.anonymous): true"), "{text}");
    assert_eq!(out.loss.len(), 1);
    assert_eq!(out.loss.iter().next().unwrap().field, "caller.anonymous");
    let back = decode_ticket(text.as_bytes(), &tables()).unwrap();
    assert!(back.caller.is_empty());
}

#[test]
fn routes_map_to_targets_both_ways() {
    let t = tables();
    let to = |target: Option<Target>| {
        let mut tk = ticket();
        tk.target = target;
        let out = encode_ticket(&tk, &t).unwrap();
        (String::from_utf8(out.bytes).unwrap(), out.loss)
    };
    let (hub, _) = to(Some(Target::Hotline {
        division: HUB_DIVISION.into(),
    }));
    assert!(hub.contains("\"to\": \"12345\""), "{hub}");
    let (tj, loss) = to(Some(Target::Hotline {
        division: "120000".into(),
    }));
    assert!(tj.contains("\"to\": \"120000\""), "{tj}");
    assert!(loss.is_empty());
    let back = decode_ticket(tj.as_bytes(), &t).unwrap();
    assert_eq!(
        back.target,
        Some(Target::Hotline {
            division: "120000".into()
        })
    );
    let (prop, loss) = to(Some(Target::Property));
    assert!(!prop.contains("\"route\""), "{prop}");
    let lost: Vec<_> = loss.iter().map(|l| l.field).collect();
    assert_eq!(lost, ["target", "reason"]);
    assert!(prop.contains("转办目标(target): property"), "{prop}");
}

#[test]
fn fields_ent_cannot_carry_go_to_notes() {
    let t = tables();
    let mut tk = ticket();
    tk.origin_partner = Some("bj12345".into());
    tk.call_ref = Some("CALL-1".into());
    tk.location = Some(Location {
        address: Some("北京市海淀区学清路甲18号1层".into()),
        division: Some("110108".into()),
        point: Some(Point {
            lon: 116.474412,
            lat: 39.995271,
        }),
        source_point: None,
    });
    tk.category = Category {
        code: "housing.repair.wall".into(),
        label: None,
        source: None,
    };
    let out = encode_ticket(&tk, &t).unwrap();
    let text = String::from_utf8(out.bytes).unwrap();
    let lost: Vec<_> = out.loss.iter().map(|l| l.field).collect();
    assert_eq!(
        lost,
        ["origin_partner", "category", "location.point", "call_ref"]
    );
    assert!(text.contains("\"code\": \"E-99\""), "{text}");
    assert!(
        text.contains("坐标(location.point): WGS-84 经度116.474412 纬度39.995271"),
        "{text}"
    );
    let back = decode_ticket(text.as_bytes(), &t).unwrap();
    let notes = back.notes.unwrap();
    assert!(notes.starts_with("企业已于2月24日"), "{notes}");
    assert!(notes.contains("\n通话编号(call_ref): CALL-1"), "{notes}");
}

#[test]
fn sample_status_round_trips_and_every_state_maps() {
    let t = tables();
    let s = decode_status(&sample("ent-json/status.json"), &t).unwrap();
    assert_eq!(s.handoff_id.as_deref(), Some("01JPS3FYRTAKBWX3ZMGNF56K1T"));
    assert_eq!(s.ticket_id.as_deref(), Some("ENT-20250320-01466"));
    assert_eq!(s.status, Status::InProgress);
    assert_eq!(s.by.as_deref(), Some("北京12345 海淀区分中心"));
    let out = encode_status(&s, &t).unwrap();
    assert_eq!(
        String::from_utf8(out.bytes).unwrap(),
        sample_exact("ent-json/status.json")
    );
    for status in Status::ALL {
        let u = StatusUpdate {
            status,
            satisfaction: (status == Status::Closed).then_some(Satisfaction::BasicallySatisfied),
            ..s.clone()
        };
        let back = decode_status(&encode_status(&u, &t).unwrap().bytes, &t).unwrap();
        assert_eq!(back, u);
    }
    let returned = String::from_utf8(
        encode_status(
            &StatusUpdate {
                status: Status::Rejected,
                ..s.clone()
            },
            &t,
        )
        .unwrap()
        .bytes,
    )
    .unwrap();
    assert!(returned.contains("\"state\": \"returned\""));
}

#[test]
fn bad_status_fields_are_named() {
    let t = tables();
    let e = decode_status(
        br#"{"ticket_id":"ENT-1","state":"rejected","at":"2025-03-20T16:05:10","satisfaction":"ok"}"#,
        &t,
    )
    .unwrap_err();
    assert_eq!(fields(&e), ["gateway_ref", "state", "at", "satisfaction"]);
    let s = decode_status(&sample("ent-json/status.json"), &t).unwrap();
    let e = encode_status(
        &StatusUpdate {
            handoff_id: None,
            ..s.clone()
        },
        &t,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Unrepresentable { field, .. } if field == "gateway_ref"));
    let e = encode_status(
        &StatusUpdate {
            ticket_id: None,
            ..s
        },
        &t,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Unrepresentable { field, .. } if field == "ticket_id"));
}

#[test]
fn error_reply_is_the_sample_problem_details() {
    let errors = [
        FieldError::new(
            "enterprise.uscc",
            "统一社会信用代码第18位校验码与按 GB 32100-2015 计算的结果不符",
        ),
        FieldError::new(
            "created_at",
            "缺少时区偏移，须为 RFC 3339 时间，如 2025-03-20T14:22:47+08:00",
        ),
    ];
    let body = encode_error(400, "2个字段未通过校验，工单未受理", &errors);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        sample_exact("ent-json/error.json")
    );
    let conflict: serde_json::Value =
        serde_json::from_slice(&encode_error(409, "conflict", &[])).unwrap();
    assert_eq!(
        conflict["type"],
        "tag:jjj12345.example,2025:problems/conflict"
    );
    assert_eq!(conflict["status"], 409);
    assert_eq!(conflict["errors"], serde_json::json!([]));
}

#[test]
fn receipt_and_delivery_reply() {
    assert_eq!(
        String::from_utf8(encode_receipt("01JPS3FYRTAKBWX3ZMGNF56K1T", 1906633)).unwrap(),
        sample_exact("ent-json/reply.json")
    );
    assert_eq!(
        decode_delivery_reply(br#"{"ticket_id":"ENT-20250321-00007"}"#).unwrap(),
        Some("ENT-20250321-00007".to_owned())
    );
    assert_eq!(decode_delivery_reply(b"{}").unwrap(), None);
    assert!(decode_delivery_reply(b"not json").is_err());
}
