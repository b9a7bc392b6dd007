use std::path::Path;

use schemas::{
    Channel, Datum, Satisfaction, Status, StatusUpdate, Tables, Target, Ticket, Urgency,
};

use super::*;

fn tables() -> Tables {
    Tables::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/data")).unwrap()
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../conformance-tests/samples/tj-xml")
            .join(name),
    )
    .unwrap()
}

fn appeal() -> Ticket {
    decode_ticket(&sample("appeal.xml"), &tables()).unwrap()
}

/// The fields of an `Invalid` error.
fn fields(e: Error) -> Vec<String> {
    match e {
        Error::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn bad_appeal(from: &str, to: &str) -> Vec<String> {
    let text = String::from_utf8(sample("appeal.xml")).unwrap();
    assert!(text.contains(from), "{from}");
    fields(decode_ticket(text.replace(from, to).as_bytes(), &tables()).unwrap_err())
}

#[test]
fn the_sample_appeal_decodes_field_by_field() {
    let t = appeal();
    assert_eq!(t.origin_ticket_id, "TJ20250314000872");
    assert_eq!(t.origin_division.as_deref(), Some("120000"));
    assert_eq!(t.origin_partner.as_deref(), Some("tj12345"));
    assert_eq!(t.handoff_id, None);
    assert_eq!(
        t.target,
        Some(Target::Hotline {
            division: "110105".into()
        })
    );
    assert_eq!(
        time::format_rfc3339(&t.received_at),
        "2025-03-14T10:05:33+08:00"
    );
    assert_eq!(t.channel, Some(Channel::Phone));
    assert_eq!(t.urgency, Urgency::Normal);
    assert_eq!(t.category.code, "consumer.prepaid_refund");
    assert_eq!(t.category.label.as_deref(), Some("预付式消费退费"));
    let src = t.category.source.as_ref().unwrap();
    assert_eq!((src.scheme.as_str(), src.code.as_str()), ("tj", "TJ-13-01"));
    assert!(t.title.starts_with("北京朝阳区望京一健身房闭店"));
    assert!(t.description.contains("无法到现场处理。\n诉求："));
    assert!(!t.caller.anonymous);
    assert_eq!(t.caller.name.as_deref(), Some("赵雪梅"));
    assert_eq!(t.caller.phone.as_deref(), Some("15900159000"));
    let l = t.location.as_ref().unwrap();
    assert_eq!(l.division.as_deref(), Some("110105"));
    let p = l.point.unwrap();
    assert_eq!((p.lon, p.lat), (116.474412, 39.995271));
    assert_eq!(l.source_point.unwrap().datum, Datum::Wgs84);
    let e = t.enterprise.as_ref().unwrap();
    assert_eq!(e.name, "北京骁岳健身服务有限公司");
    assert_eq!(e.uscc.as_deref(), Some("91110105MA01N3UQ53"));
    assert_eq!(t.attachments.len(), 1);
    assert_eq!(t.attachments[0].name.as_deref(), Some("付款记录截图.png"));
    assert!(t.attachments[0].url.ends_with("/TJ20250314000872/1.png"));
    assert_eq!(t.call_ref.as_deref(), Some("TJ-20250314-095812-0388"));
    assert!(t.reason.as_deref().unwrap().starts_with("被诉商家"));
    assert_eq!(
        t.notes.as_deref(),
        Some("来电人已保存付款记录、会员合同照片，可配合提供。")
    );
}

#[test]
fn the_sample_appeal_re_encodes_byte_for_byte() {
    let t = appeal();
    let out = encode_ticket(&t, &tables()).unwrap();
    assert!(out.loss.is_empty(), "{:?}", out.loss);
    assert_eq!(
        String::from_utf8(out.bytes.clone()).unwrap(),
        String::from_utf8(sample("appeal.xml")).unwrap()
    );
    assert_eq!(decode_ticket(&out.bytes, &tables()).unwrap(), t);
}

#[test]
fn status_receipt_and_fault_samples_are_reproduced_exactly() {
    let tables = tables();
    let s = decode_status(&sample("status.xml"), &tables).unwrap();
    assert_eq!(s.handoff_id.as_deref(), Some("01JP96CMXGJA0YHMEPZWDGFBMS"));
    assert_eq!(s.ticket_id.as_deref(), Some("TJ20250314000872"));
    assert_eq!(s.status, Status::Closed);
    assert_eq!(s.by.as_deref(), Some("天津12345 回访员 王静"));
    assert_eq!(s.satisfaction, Some(Satisfaction::BasicallySatisfied));
    let out = encode_status(&s, &tables).unwrap();
    assert_eq!(out.bytes, sample("status.xml"));
    assert_eq!(decode_status(&out.bytes, &tables).unwrap(), s);

    assert_eq!(
        encode_receipt("01JP96CMXGJA0YHMEPZWDGFBMS", 1852316),
        sample("ack.xml")
    );
    let message = "ToHotline 140100（山西省太原市）不对应京津冀任何12345热线，无法转办";
    let errors = [FieldError::new("ToHotline", "不对应京津冀任何12345热线")];
    assert_eq!(encode_error(400, message, &errors), sample("fault.xml"));
}

#[test]
fn a_fault_lists_every_field_and_reason() {
    let errors = [
        FieldError::new("Citizen.Phone", "must be an 11-digit mobile number"),
        FieldError::new("State", "must be one of RECEIVED …"),
        FieldError::new("Citizen.Phone", "second problem"),
    ];
    let body = encode_error(400, "invalid AppealStatus", &errors);
    let root = xml::read(&body, Charset::Utf8).unwrap();
    assert_eq!(root.ns.as_deref(), Some(NS));
    let fields: Vec<&str> = root
        .children
        .iter()
        .filter(|c| c.name == "Field")
        .map(|c| c.text.as_str())
        .collect();
    assert_eq!(fields, ["Citizen.Phone", "State"]);
    let message = &root.child("Message").unwrap().text;
    assert!(message.starts_with("invalid AppealStatus; Citizen.Phone: must be"));
    assert!(message.ends_with("Citizen.Phone: second problem"));
    assert_eq!(root.child("Code").unwrap().text, "400");
}

#[test]
fn every_status_round_trips() {
    let tables = tables();
    for status in Status::ALL {
        let s = StatusUpdate {
            handoff_id: Some("01JP96CMXGJA0YHMEPZWDGFBMS".into()),
            ticket_id: None,
            status,
            at: time::parse_rfc3339("2025-03-15T07:12:40.5Z").unwrap(),
            by: None,
            reason_code: Some("R01".into()),
            comment: Some("line 1\r\nline 2".into()),
            satisfaction: Some(Satisfaction::Unsatisfied),
            extensions: Default::default(),
        };
        let out = encode_status(&s, &tables).unwrap();
        assert!(
            String::from_utf8(out.bytes.clone())
                .unwrap()
                .contains("&#13;")
        );
        assert_eq!(decode_status(&out.bytes, &tables).unwrap(), s);
    }
}

#[test]
fn invalid_values_are_all_named_by_their_element_path() {
    assert_eq!(bad_appeal("15900159000", "159001590"), ["Citizen.Phone"]);
    assert_eq!(
        bad_appeal("anonymous=\"false\"", "anonymous=\"true\""),
        ["Citizen.anonymous"]
    );
    assert_eq!(
        bad_appeal("anonymous=\"false\"", "anonymous=\"yes\""),
        ["Citizen.anonymous"]
    );
    assert_eq!(
        bad_appeal("lon=\"116.474412\"", "lon=\"east\""),
        ["Place.Point.lon"]
    );
    assert_eq!(
        bad_appeal("lat=\"39.995271\"", "lat=\"99.5\""),
        ["Place.Point.lat"]
    );
    assert_eq!(bad_appeal(" lat=\"39.995271\"", ""), ["Place.Point.lat"]);
    assert_eq!(
        bad_appeal("<Priority>NORMAL</Priority>", "<Priority>LOW</Priority>"),
        ["Priority"]
    );
    assert_eq!(
        bad_appeal("91110105MA01N3UQ53", "91110105MA01N3UQ54"),
        ["Enterprise.CreditCode"]
    );
    assert_eq!(
        bad_appeal("+08:00</ReceivedAt>", "</ReceivedAt>"),
        ["ReceivedAt"]
    );
    assert_eq!(
        bad_appeal(" href=\"https://", " href=\"ftp://"),
        ["Attachments.Attachment[0].href"]
    );
    // Every problem of a message at once.
    let text = String::from_utf8(sample("appeal.xml")).unwrap();
    let text = text.replace("15900159000", "12").replace(
        "<FromHotline>120000</FromHotline>",
        "<FromHotline>12</FromHotline>",
    );
    let fields = fields(decode_ticket(text.as_bytes(), &tables()).unwrap_err());
    assert_eq!(fields, ["FromHotline", "Citizen.Phone"]);
}

#[test]
fn the_schema_is_enforced_element_by_element() {
    // A required element missing.
    assert_eq!(
        bad_appeal("<AppealId>TJ20250314000872</AppealId>", ""),
        ["AppealId"]
    );
    let missing_address = bad_appeal(
        "<Address>北京市朝阳区望京街道阜通东大街甲17号2层</Address>",
        "",
    );
    assert_eq!(missing_address, ["Place.Address"]);
    // Out of order, unknown, repeated, in another namespace.
    assert_eq!(
        bad_appeal(
            "<Source>PHONE</Source>\n  <Priority>NORMAL</Priority>",
            "<Priority>NORMAL</Priority>\n  <Source>PHONE</Source>"
        ),
        ["Source"]
    );
    assert_eq!(
        bad_appeal("<CallRef>", "<Mood>calm</Mood><CallRef>"),
        ["Mood"]
    );
    assert_eq!(bad_appeal("<Notes>", "<Notes>x</Notes><Notes>"), ["Notes"]);
    assert_eq!(
        bad_appeal("<Phone>", "<Phone xmlns=\"urn:other\">"),
        ["Citizen.Phone"]
    );
    assert_eq!(
        bad_appeal("<Name>赵雪梅</Name>", "<Name><B>赵雪梅</B></Name>"),
        ["Citizen.Name"]
    );
    assert_eq!(
        bad_appeal("<Citizen ", "<Citizen vip=\"1\" "),
        ["Citizen.vip"]
    );
}

#[test]
fn the_wrong_root_namespace_or_encoding_is_refused() {
    let t = tables();
    let text = String::from_utf8(sample("appeal.xml")).unwrap();
    let wrong_ns = text.replace("urn:tj12345:appeal:1", "urn:tj12345:appeal:2");
    let e = decode_ticket(wrong_ns.as_bytes(), &t).unwrap_err();
    assert_eq!(fields(e.clone()), ["Appeal"]);
    assert!(
        e.to_string().contains("{urn:tj12345:appeal:2}Appeal"),
        "{e}"
    );
    let e = decode_ticket(&sample("status.xml"), &t).unwrap_err();
    assert_eq!(fields(e), ["Appeal"]);
    let e = decode_status(&sample("appeal.xml"), &t).unwrap_err();
    assert_eq!(fields(e), ["AppealStatus"]);
    let doctype = text.replace(
        "<Appeal ",
        "<!DOCTYPE Appeal [<!ENTITY x \"y\">]>\n<Appeal ",
    );
    assert!(matches!(
        decode_ticket(doctype.as_bytes(), &t),
        Err(Error::Forbidden { .. })
    ));
    let gb = text.replace("UTF-8", "GB18030");
    assert!(matches!(
        decode_ticket(gb.as_bytes(), &t),
        Err(Error::WrongEncoding { .. })
    ));
    let status = String::from_utf8(sample("status.xml")).unwrap();
    let unknown_state = status.replace("<State>CLOSED</State>", "<State>DONE</State>");
    assert_eq!(
        fields(decode_status(unknown_state.as_bytes(), &t).unwrap_err()),
        ["State"]
    );
    let no_state = status.replace("<State>CLOSED</State>", "");
    assert_eq!(
        fields(decode_status(no_state.as_bytes(), &t).unwrap_err()),
        ["State"]
    );
}

#[test]
fn absent_optional_elements_decode_to_documented_defaults_and_back() {
    let t = tables();
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Appeal xmlns="urn:tj12345:appeal:1">
  <AppealId>TJ1</AppealId>
  <FromHotline>120000</FromHotline>
  <ReceivedAt>2025-03-14T02:05:33Z</ReceivedAt>
  <Subject>s</Subject>
  <Description>a&#13;
b</Description>
  <Citizen anonymous="true"/>
</Appeal>
"#;
    let ticket = decode_ticket(body.as_bytes(), &t).unwrap();
    assert_eq!(ticket.urgency, DEFAULT_PRIORITY);
    assert_eq!(ticket.category.code, "other");
    assert_eq!(ticket.category.source, None);
    assert_eq!(ticket.description, "a\r\nb");
    assert!(ticket.caller.anonymous);
    let out = encode_ticket(&ticket, &t).unwrap();
    let text = String::from_utf8(out.bytes.clone()).unwrap();
    assert!(!text.contains("<Category"), "{text}");
    assert!(text.contains("<Priority>NORMAL</Priority>"));
    assert!(text.contains("<Citizen anonymous=\"true\"/>"));
    assert!(text.contains("<ReceivedAt>2025-03-14T02:05:33+00:00</ReceivedAt>"));
    assert_eq!(decode_ticket(&out.bytes, &t).unwrap(), ticket);
}

#[test]
fn the_sending_hotline_and_the_target_follow_the_documented_rules() {
    let t = tables();
    let mut ticket = appeal();
    // From the origin partner's hotline when no division is known.
    ticket.origin_division = None;
    ticket.origin_partner = Some("hb-130682".into());
    let out = encode_ticket(&ticket, &t).unwrap();
    let back = decode_ticket(&out.bytes, &t).unwrap();
    assert_eq!(back.origin_division.as_deref(), Some("130682"));
    assert_eq!(back.origin_partner.as_deref(), Some("hb-130682"));
    assert!(out.loss.is_empty());
    // A partner with no hotline: the hub's division, the partner in Notes.
    ticket.origin_partner = Some("bj-enterprise".into());
    ticket.target = Some(Target::Enterprise);
    ticket.urgency = Urgency::High;
    let out = encode_ticket(&ticket, &t).unwrap();
    let lost: Vec<&str> = out.loss.iter().map(|l| l.field).collect();
    assert_eq!(lost, ["origin_partner", "target"]);
    let back = decode_ticket(&out.bytes, &t).unwrap();
    assert_eq!(back.origin_division.as_deref(), Some(DEFAULT_FROM_HOTLINE));
    assert_eq!(back.origin_partner.as_deref(), Some("bj12345"));
    assert_eq!(back.target, None);
    assert_eq!(back.urgency, Urgency::High);
    let notes = back.notes.unwrap();
    assert!(
        notes.contains("来源方(origin_partner): bj-enterprise"),
        "{notes}"
    );
    assert!(notes.contains("转办目标(target): enterprise"), "{notes}");
}

#[test]
fn delivery_replies_give_the_partners_id_or_its_fault() {
    assert_eq!(
        decode_delivery_reply(&encode_delivery_reply("TJ20250320000001")).unwrap(),
        Some("TJ20250320000001".into())
    );
    assert_eq!(decode_delivery_reply(&sample("ack.xml")).unwrap(), None);
    let e = decode_delivery_reply(&sample("fault.xml")).unwrap_err();
    assert_eq!(fields(e), ["ToHotline"]);
}
