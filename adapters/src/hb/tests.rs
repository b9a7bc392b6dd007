use std::path::Path;

use schemas::{Channel, Datum, Point, Satisfaction, Status, Tables, Target, Ticket, Urgency};

use super::*;
use crate::geo;

fn tables() -> Tables {
    Tables::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/data")).unwrap()
}

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../conformance-tests/samples")
            .join(path),
    )
    .unwrap()
}

/// A GB18030 sample as text, to edit it for a test.
fn text(name: &str) -> String {
    let bytes = sample(&format!("hb-soap/{name}"));
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(&bytes)
        .unwrap()
        .into_owned()
}

fn gb(text: &str) -> Vec<u8> {
    encoding_rs::GB18030.encode(text).0.into_owned()
}

fn work_order() -> Ticket {
    decode_ticket(&sample("hb-soap/push-work-order.xml"), &tables()).unwrap()
}

fn fields(e: Error) -> Vec<String> {
    match e {
        Error::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn bad_order(from: &str, to: &str) -> Vec<String> {
    let body = text("push-work-order.xml");
    assert!(body.contains(from), "{from}");
    fields(decode_ticket(&gb(&body.replacen(from, to, 1)), &tables()).unwrap_err())
}

#[test]
fn the_sample_work_order_decodes_field_by_field() {
    let t = work_order();
    assert_eq!(t.origin_ticket_id, "SJZ2025031700315");
    assert_eq!(t.origin_division.as_deref(), Some("130100"));
    assert_eq!(t.origin_partner.as_deref(), Some("hb-130100"));
    assert_eq!(
        time::format_rfc3339(&t.received_at),
        "2025-03-17T09:15:22+08:00"
    );
    assert_eq!(t.channel, Some(Channel::Phone));
    assert_eq!(t.urgency, Urgency::Normal);
    assert_eq!(t.category.code, "housing.repair");
    assert_eq!(t.category.label.as_deref(), Some("房屋维修"));
    assert_eq!(t.category.source.as_ref().unwrap().code, "030100");
    // Rare characters (4 bytes in GB18030) and the line break survive.
    assert!(t.description.contains("来电人刘㛃（“㛃”为生僻字"));
    assert!(t.description.contains("母亲王𠀀（“𠀀”"));
    assert!(
        t.description
            .contains("需由产权单位维修。\n诉求：请北京方面")
    );
    assert_eq!(t.caller.name.as_deref(), Some("刘㛃"));
    assert_eq!(t.caller.phone.as_deref(), Some("18600186000"));
    assert!(!t.caller.anonymous);
    let l = t.location.as_ref().unwrap();
    assert_eq!(l.division.as_deref(), Some("110102"));
    let sp = l.source_point.unwrap();
    assert_eq!(
        (sp.datum, sp.lon, sp.lat),
        (Datum::Bd09, 116.350903, 39.934349)
    );
    assert_eq!(
        t.target,
        Some(Target::Hotline {
            division: "110102".into()
        })
    );
    let p = t.property.as_ref().unwrap();
    assert_eq!(p.community, "百万庄小区");
    assert_eq!(
        (p.building.as_deref(), p.unit.as_deref(), p.room.as_deref()),
        (Some("5号楼"), Some("2单元"), Some("301"))
    );
    assert_eq!(t.attachments.len(), 1);
    assert_eq!(t.attachments[0].name.as_deref(), Some("厨房顶棚渗水.jpg"));
    assert_eq!(t.call_ref.as_deref(), Some("20250317090411-0017"));
    assert!(t.notes.as_deref().unwrap().starts_with("来电人请维修人员"));
    assert_eq!(t.enterprise, None);
}

#[test]
fn the_sample_point_converts_between_bd09_and_wgs84() {
    let t = work_order();
    let wgs = t.location.unwrap().point.unwrap();
    // The place's WGS-84 point; its BD-09 image is the sample's, digit for digit.
    let place = Point {
        lon: 116.338146,
        lat: 39.927364,
    };
    assert!(geo::distance_m(wgs, place) < 0.1, "{wgs:?}");
    let bd = geo::from_wgs84(Datum::Bd09, place);
    assert_eq!(
        (
            geo::format_coord(geo::round6(bd.lon)),
            geo::format_coord(geo::round6(bd.lat))
        ),
        ("116.350903".to_owned(), "39.934349".to_owned())
    );
}

#[test]
fn every_sample_is_reproduced_byte_for_byte() {
    let tables = tables();
    let t = work_order();
    let out = encode_ticket(&t, &tables).unwrap();
    assert!(out.loss.is_empty(), "{:?}", out.loss);
    assert_eq!(out.bytes, sample("hb-soap/push-work-order.xml"));
    assert_eq!(decode_ticket(&out.bytes, &tables).unwrap(), t);

    let s = decode_status(&sample("hb-soap/push-feedback.xml"), &tables).unwrap();
    assert_eq!(s.status, Status::InProgress);
    assert_eq!(s.handoff_id.as_deref(), Some("01JPGTPXTZ5G2WWHK59BVNCV2Z"));
    assert_eq!(s.ticket_id.as_deref(), Some("SJZ2025031700315"));
    assert_eq!(s.by.as_deref(), Some("北京12345 西城区 张伟"));
    assert!(
        s.comment
            .as_deref()
            .unwrap()
            .ends_with("已告知来电人刘㛃。")
    );
    assert_eq!(s.extensions[SENDER_CODE_EXTENSION], "110000");
    let out = encode_status(&s, &tables).unwrap();
    assert!(out.loss.is_empty());
    assert_eq!(out.bytes, sample("hb-soap/push-feedback.xml"));

    // The sample's response with the audit sequence number in FHXX.
    let expected = String::from_utf8(decode_gb(&sample("hb-soap/response.xml")))
        .unwrap()
        .replace(
            "<FHXX>接收成功</FHXX>",
            "<FHXX>接收成功（审计序号 1852317）</FHXX>",
        );
    assert_eq!(
        encode_receipt("01JPGTPXTZ5G2WWHK59BVNCV2Z", 1852317),
        encoding_rs::GB18030.encode(&expected).0.into_owned()
    );
    let message = "目标城市MBCS“130102”解析为石家庄12345（130100），即发送方本身，不能转办给自己";
    let errors = [FieldError::new("MBCS", "即发送方本身")];
    assert_eq!(
        encode_error(400, message, &errors),
        sample("hb-soap/fault.xml")
    );
}

#[test]
fn the_envelope_names_the_operation_and_the_sender() {
    assert_eq!(
        decode_envelope_operation(&sample("hb-soap/push-work-order.xml")).unwrap(),
        (Operation::PushWorkOrder, "130100".to_owned())
    );
    assert_eq!(
        decode_envelope_operation(&sample("hb-soap/push-feedback.xml")).unwrap(),
        (Operation::PushFeedback, "110000".to_owned())
    );
    assert_eq!(
        Operation::from_soap_action("\"PushFeedback\""),
        Some(Operation::PushFeedback)
    );
    assert_eq!(Operation::PushWorkOrder.soap_action(), "\"PushWorkOrder\"");
    // The wrong operation for the endpoint's decoder.
    let e = decode_ticket(&sample("hb-soap/push-feedback.xml"), &tables()).unwrap_err();
    assert_eq!(fields(e), ["soap:Body"]);
    // No sender.
    let body = text("push-work-order.xml").replace("<SenderCode>130100</SenderCode>", "");
    let e = decode_envelope_operation(&gb(&body)).unwrap_err();
    assert_eq!(fields(e), ["SenderCode"]);
    // An operation in another namespace.
    let body = text("push-work-order.xml").replace(
        "<PushWorkOrder xmlns=\"urn:hebei12345:ws\">",
        "<PushWorkOrder xmlns=\"urn:hebei12345:ws2\">",
    );
    let e = decode_ticket(&gb(&body), &tables()).unwrap_err();
    assert_eq!(fields(e), ["soap:Body"]);
    // Not a SOAP envelope.
    let body = text("push-work-order.xml").replace("soap/envelope/", "soap/envelop/");
    let e = decode_ticket(&gb(&body), &tables()).unwrap_err();
    assert_eq!(fields(e), ["soap:Envelope"]);
}

#[test]
fn any_prefix_is_accepted_for_the_operation_namespace() {
    let mut prefixed = text("push-work-order.xml").replace(
        "<PushWorkOrder xmlns=\"urn:hebei12345:ws\">",
        "<w:PushWorkOrder xmlns:w=\"urn:hebei12345:ws\">",
    );
    prefixed = prefixed.replace("</PushWorkOrder>", "</w:PushWorkOrder>");
    for name in ticket::WORK_ORDER
        .names
        .iter()
        .chain(["FJXX", "MC", "DZ", "SHA256"].iter())
    {
        prefixed = prefixed
            .replace(&format!("<{name}>"), &format!("<w:{name}>"))
            .replace(&format!("</{name}>"), &format!("</w:{name}>"));
    }
    assert!(
        prefixed.contains("<w:GDBH>SJZ2025031700315</w:GDBH>"),
        "{prefixed}"
    );
    assert_eq!(
        decode_ticket(&gb(&prefixed), &tables()).unwrap(),
        work_order()
    );
    // Children without the namespace are refused.
    let unqualified = prefixed
        .replace("<w:BT>", "<BT xmlns=\"\">")
        .replace("</w:BT>", "</BT>");
    assert_eq!(
        fields(decode_ticket(&gb(&unqualified), &tables()).unwrap_err()),
        ["BT", "BT"]
    );
}

#[test]
fn invalid_values_are_named_by_their_element() {
    assert_eq!(bad_order("18600186000", "1860018600"), ["LDDH"]);
    assert_eq!(bad_order("<SFNM>0</SFNM>", "<SFNM>1</SFNM>"), ["SFNM"]);
    assert_eq!(bad_order("<LYQD>01</LYQD>", "<LYQD>09</LYQD>"), ["LYQD"]);
    assert_eq!(bad_order("<JJCD>0</JJCD>", "<JJCD>2</JJCD>"), ["JJCD"]);
    assert_eq!(
        bad_order("<SLSJ>20250317091522", "<SLSJ>20250317"),
        ["SLSJ"]
    );
    assert_eq!(bad_order("<JD>116.350903</JD>", ""), ["JD"]);
    assert_eq!(bad_order("116.350903", "东经116"), ["JD"]);
    assert_eq!(bad_order("<MBCS>110102", "<MBCS>11010"), ["MBCS"]);
    assert_eq!(bad_order("<BT>", "<X>y</X><BT>"), ["X"]);
    assert_eq!(bad_order("<THBH>", "<BZ>x</BZ><THBH>"), ["BZ"]);
    assert_eq!(bad_order("<DZ>https://", "<DZ>file://"), ["FJ.FJXX[0].DZ"]);
    assert_eq!(
        bad_order("<SHA256>8990c63f", "<SHA256>zz90c63f"),
        ["FJ.FJXX[0].SHA256"]
    );
    let missing = bad_order(
        "<BT>北京西城区百万庄小区独居老人住房厨房顶棚漏水，需产权单位维修</BT>",
        "",
    );
    assert_eq!(missing, ["BT"]);
    // Every problem at once.
    let body = text("push-work-order.xml")
        .replace("18600186000", "1")
        .replace("<SFNM>0</SFNM>", "<SFNM>1</SFNM>")
        .replace("<XZQH>110102</XZQH>", "<XZQH>北京</XZQH>");
    let e = decode_ticket(&gb(&body), &tables()).unwrap_err();
    assert_eq!(fields(e), ["LDDH", "SFNM", "XZQH"]);
    let status = text("push-feedback.xml").replace("<ZT>04</ZT>", "<ZT>09</ZT>");
    assert_eq!(
        fields(decode_status(&gb(&status), &tables()).unwrap_err()),
        ["ZT"]
    );
}

#[test]
fn bytes_that_are_not_gb18030_and_hostile_xml_are_refused() {
    // The sample as UTF-8 bytes, still declaring GB18030.
    let utf8 = text("push-work-order.xml").into_bytes();
    assert!(matches!(
        decode_ticket(&utf8, &tables()),
        Err(Error::Encoding {
            encoding: "GB18030",
            ..
        })
    ));
    let declared_utf8 = text("push-work-order.xml").replace("GB18030", "UTF-8");
    assert!(matches!(
        decode_ticket(&gb(&declared_utf8), &tables()),
        Err(Error::WrongEncoding { .. })
    ));
    let doctype = text("push-work-order.xml").replace(
        "<soap:Envelope",
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n<soap:Envelope",
    );
    assert!(matches!(
        decode_ticket(&gb(&doctype), &tables()),
        Err(Error::Forbidden { .. })
    ));
}

#[test]
fn every_status_round_trips_and_the_sender_code_defaults_to_the_hub() {
    let tables = tables();
    let base = decode_status(&sample("hb-soap/push-feedback.xml"), &tables).unwrap();
    for status in Status::ALL {
        let mut s = base.clone();
        s.status = status;
        s.satisfaction = Some(Satisfaction::Satisfied);
        s.reason_code = Some("R1".into());
        s.extensions
            .insert(SENDER_CODE_EXTENSION.into(), "131000".into());
        let out = encode_status(&s, &tables).unwrap();
        assert_eq!(decode_status(&out.bytes, &tables).unwrap(), s);
    }
    let mut s = base.clone();
    s.extensions.clear();
    s.extensions.insert("ent.x".into(), "y".into());
    let out = encode_status(&s, &tables).unwrap();
    let back = decode_status(&out.bytes, &tables).unwrap();
    assert_eq!(back.extensions[SENDER_CODE_EXTENSION], DEFAULT_SENDER_CODE);
    assert!(
        back.comment
            .unwrap()
            .ends_with("扩展字段(extensions.ent.x): y")
    );
}

#[test]
fn tj_to_hb_and_back_keeps_every_field_hb_carries() {
    let tables = tables();
    let appeal = sample("tj-xml/appeal.xml");
    let original = crate::tj::decode_ticket(&appeal, &tables).unwrap();
    let hb = encode_ticket(&original, &tables).unwrap();
    assert!(hb.loss.is_empty(), "{:?}", hb.loss);
    let via_hb = decode_ticket(&hb.bytes, &tables).unwrap();
    assert_eq!(via_hb.origin_division.as_deref(), Some("120000"));
    assert_eq!(via_hb.origin_partner.as_deref(), Some("tj12345"));
    assert_eq!(via_hb.enterprise, original.enterprise);
    let back = crate::tj::encode_ticket(&via_hb, &tables).unwrap();
    let mut back = crate::tj::decode_ticket(&back.bytes, &tables).unwrap();
    let (a, b) = (
        original.location.as_ref().unwrap().point.unwrap(),
        back.location.as_ref().unwrap().point.unwrap(),
    );
    assert!(geo::distance_m(a, b) < 0.5, "{a:?} {b:?}");
    back.location = original.location.clone();
    assert_eq!(back, original);
}

#[test]
fn hb_to_tj_and_back_keeps_every_field_and_high_urgency_is_noted() {
    let tables = tables();
    let original = work_order();
    let tj = crate::tj::encode_ticket(&original, &tables).unwrap();
    assert!(tj.loss.is_empty(), "{:?}", tj.loss);
    let via_tj = crate::tj::decode_ticket(&tj.bytes, &tables).unwrap();
    let mut back = decode_ticket(&encode_ticket(&via_tj, &tables).unwrap().bytes, &tables).unwrap();
    let (a, b) = (
        original.location.as_ref().unwrap().point.unwrap(),
        back.location.as_ref().unwrap().point.unwrap(),
    );
    assert!(geo::distance_m(a, b) < 0.5, "{a:?} {b:?}");
    back.location = original.location.clone();
    assert_eq!(back, original);

    let mut high = via_tj;
    high.urgency = Urgency::High;
    high.caller.email = Some("liu@example.cn".into());
    let out = encode_ticket(&high, &tables).unwrap();
    let lost: Vec<&str> = out.loss.iter().map(|l| l.field).collect();
    assert_eq!(lost, ["urgency", "caller.email"]);
    let back = decode_ticket(&out.bytes, &tables).unwrap();
    assert_eq!(back.urgency, Urgency::Normal);
    let notes = back.notes.unwrap();
    assert!(notes.contains("原紧急程度(urgency): high"), "{notes}");
    assert!(
        notes.contains("来电人邮箱(caller.email): liu@example.cn"),
        "{notes}"
    );
}

#[test]
fn faults_and_replies() {
    let errors = [
        FieldError::new("LDDH", "must be an 11-digit mobile number"),
        FieldError::new("SFNM", "an anonymous caller must not carry a name"),
    ];
    let body = encode_error(503, "服务暂不可用", &errors);
    let root = xml::read(&body, Charset::Gb18030).unwrap();
    let fault = &root.child("Body").unwrap().children[0];
    assert_eq!(fault.child("faultcode").unwrap().text, "soap:Server");
    let detail = fault.child("detail").unwrap();
    let cwzd: Vec<&str> = detail.children.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(cwzd, ["LDDH", "SFNM"]);
    assert!(detail.children.iter().all(|c| c.ns.as_deref() == Some(NS)));
    let faultstring = &fault.child("faultstring").unwrap().text;
    assert!(
        faultstring.starts_with("服务暂不可用; LDDH: must be"),
        "{faultstring}"
    );

    assert_eq!(
        decode_delivery_reply(&encode_delivery_reply("BJ2025031700001")).unwrap(),
        Some("BJ2025031700001".into())
    );
    assert_eq!(
        decode_delivery_reply(&sample("hb-soap/response.xml")).unwrap(),
        None
    );
    assert_eq!(
        decode_delivery_reply(&encode_feedback_receipt("01JPGTPXTZ5G2WWHK59BVNCV2Z")).unwrap(),
        None
    );
    let refused = text("response.xml").replace("<FHDM>0</FHDM>", "<FHDM>9</FHDM>");
    let e = decode_delivery_reply(&gb(&refused)).unwrap_err();
    assert_eq!(fields(e.clone()), ["FHDM"]);
    assert!(e.to_string().contains("接收成功"));
    let e = decode_delivery_reply(&sample("hb-soap/fault.xml")).unwrap_err();
    assert_eq!(fields(e), ["MBCS"]);
}

fn decode_gb(bytes: &[u8]) -> Vec<u8> {
    encoding_rs::GB18030
        .decode(bytes)
        .0
        .into_owned()
        .into_bytes()
}
