//! XML schemas (xmllint): hand-made invalid messages are rejected, each for
//! the reason the test names; hb-soap messages are GB18030 bytes.

use adapters::Family;
use conformance_tests::{Kind, validate, validate_xml};

use crate::sample;

fn text(path: &str) -> String {
    String::from_utf8(sample(path)).unwrap()
}

/// An hb-soap sample decoded from GB18030.
fn hb_text(path: &str) -> String {
    let bytes = sample(path);
    let (text, _, bad) = encoding_rs::GB18030.decode(&bytes);
    assert!(!bad, "{path} is not GB18030");
    text.into_owned()
}

fn gb18030(s: &str) -> Vec<u8> {
    let (bytes, _, bad) = encoding_rs::GB18030.encode(s);
    assert!(!bad);
    bytes.into_owned()
}

/// `s` with the text of the first element `name` replaced by `text`.
fn with_text(s: &str, name: &str, text: &str) -> String {
    let open = format!("<{name}>");
    let start = s.find(&open).unwrap() + open.len();
    let end = start + s[start..].find(&format!("</{name}>")).unwrap();
    format!("{}{text}{}", &s[..start], &s[end..])
}

/// `s` with `from` (which must occur) replaced by `to`.
fn edit(s: &str, from: &str, to: &str) -> String {
    assert!(s.contains(from), "'{from}' is not in the message");
    s.replacen(from, to, 1)
}

fn rejected(family: Family, kind: Kind, bytes: &[u8], expect: &str) {
    match validate(family, kind, bytes) {
        Ok(()) => panic!(
            "{family} {kind:?} accepted:\n{}",
            String::from_utf8_lossy(bytes)
        ),
        Err(e) => assert!(e.contains(expect), "no error mentions '{expect}':\n{e}"),
    }
}

fn accepted(family: Family, kind: Kind, bytes: &[u8]) {
    if let Err(e) = validate(family, kind, bytes) {
        panic!("{family} {kind:?} refused: {e}");
    }
}

#[test]
fn tj_appeal_rejects_bad_values_and_order() {
    let a = text("tj-xml/appeal.xml");
    let t = |s: String, expect: &str| rejected(Family::TjXml, Kind::Ticket, s.as_bytes(), expect);
    t(edit(&a, "<Priority>NORMAL", "<Priority>MEDIUM"), "Priority");
    t(edit(&a, "<Source>PHONE", "<Source>phone"), "Source");
    t(
        edit(&a, "<FromHotline>120000", "<FromHotline>12000"),
        "FromHotline",
    );
    t(
        edit(&a, "2025-03-14T10:05:33+08:00", "2025-03-14T10:05:33"),
        "ReceivedAt",
    );
    t(
        edit(&a, "2025-03-14T10:05:33+08:00", "2025-03-14 10:05:33+08:00"),
        "ReceivedAt",
    );
    t(
        edit(&a, "anonymous=\"false\"", "anonymous=\"no\""),
        "anonymous",
    );
    t(edit(&a, "15900159000", "159-0015-9000"), "Phone");
    t(
        edit(&a, "91110105MA01N3UQ53", "91110105MA01N3UQ5I"),
        "CreditCode",
    );
    t(edit(&a, "lon=\"116.474412\"", "lon=\"east\""), "lon");
    t(edit(&a, "sha256=\"9de9f7d2", "sha256=\"zz"), "sha256");
    t(with_text(&a, "Subject", "  "), "Subject");
}

#[test]
fn tj_appeal_rejects_bad_structure() {
    let a = text("tj-xml/appeal.xml");
    let t = |s: String, expect: &str| rejected(Family::TjXml, Kind::Ticket, s.as_bytes(), expect);
    // Wrong order: Priority before Source.
    t(
        edit(
            &a,
            "<Source>PHONE</Source>\n  <Priority>NORMAL</Priority>",
            "<Priority>NORMAL</Priority>\n  <Source>PHONE</Source>",
        ),
        "Source",
    );
    // Missing required AppealId.
    t(
        edit(&a, "<AppealId>TJ20250314000872</AppealId>", ""),
        "AppealId",
    );
    // An element the format does not have.
    t(edit(&a, "<Notes>", "<Remark>x</Remark><Notes>"), "Remark");
    // Not in the tj namespace.
    t(
        edit(
            &a,
            "xmlns=\"urn:tj12345:appeal:1\"",
            "xmlns=\"urn:tj12345:appeal:2\"",
        ),
        "Appeal",
    );
    // An Appeal is not a status update.
    rejected(Family::TjXml, Kind::Status, a.as_bytes(), "AppealStatus");
}

#[test]
fn tj_status_ack_and_fault_reject_bad_messages() {
    let s = text("tj-xml/status.xml");
    let st = |x: String, expect: &str| rejected(Family::TjXml, Kind::Status, x.as_bytes(), expect);
    st(edit(&s, "<State>CLOSED", "<State>REJECTED"), "State");
    st(
        edit(&s, "<Satisfaction>BASIC", "<Satisfaction>OK"),
        "Satisfaction",
    );
    st(
        edit(&s, "<At>2025-03-15T15:12:40+08:00", "<At>20250315151240"),
        "At",
    );
    let neither = edit(
        &edit(
            &s,
            "<GatewayRef>01JP96CMXGJA0YHMEPZWDGFBMS</GatewayRef>",
            "",
        ),
        "<AppealId>TJ20250314000872</AppealId>",
        "",
    );
    st(neither, "GatewayRef");
    accepted(
        Family::TjXml,
        Kind::Status,
        edit(
            &s,
            "<GatewayRef>01JP96CMXGJA0YHMEPZWDGFBMS</GatewayRef>",
            "",
        )
        .as_bytes(),
    );

    let k = text("tj-xml/ack.xml");
    let ack =
        |x: String, expect: &str| rejected(Family::TjXml, Kind::Receipt, x.as_bytes(), expect);
    ack(edit(&k, "<AuditSeq>1852316</AuditSeq>", ""), "AuditSeq");
    ack(edit(&k, "<AuditSeq>1852316", "<AuditSeq>-1"), "AuditSeq");
    ack(
        edit(&k, "</Ack>", "<AppealId>BJ1</AppealId></Ack>"),
        "AppealId",
    );
    accepted(
        Family::TjXml,
        Kind::Receipt,
        br#"<Ack xmlns="urn:tj12345:appeal:1"><AppealId>BJ2025031400101</AppealId></Ack>"#,
    );

    let f = text("tj-xml/fault.xml");
    let fault =
        |x: String, expect: &str| rejected(Family::TjXml, Kind::Error, x.as_bytes(), expect);
    fault(edit(&f, "<Code>400", "<Code>200"), "Code");
    fault(edit(&f, "<Code>400</Code>", ""), "Code");
    accepted(
        Family::TjXml,
        Kind::Error,
        edit(&f, "</Field>", "</Field><Field>Priority</Field>").as_bytes(),
    );
}

#[test]
fn hb_work_order_rejects_bad_values_and_order() {
    let w = hb_text("hb-soap/push-work-order.xml");
    let t = |s: String, expect: &str| rejected(Family::HbSoap, Kind::Ticket, &gb18030(&s), expect);
    t(edit(&w, "<LYQD>01", "<LYQD>09"), "LYQD");
    t(edit(&w, "<JJCD>0", "<JJCD>2"), "JJCD");
    t(
        edit(&w, "<SLSJ>20250317091522", "<SLSJ>2025-03-17 09:15:22"),
        "SLSJ",
    );
    t(edit(&w, "<LDDH>18600186000", "<LDDH>1860018600"), "LDDH");
    t(edit(&w, "<MBCS>110102", "<MBCS>1101"), "MBCS");
    t(
        edit(&w, "<SenderCode>130100", "<SenderCode>hb-130100"),
        "SenderCode",
    );
    t(edit(&w, "<SHA256>8990c63f", "<SHA256>8990"), "SHA256");
    // JD without WD.
    t(edit(&w, "<WD>39.934349</WD>", ""), "WD");
    // Wrong order: BZ before THBH.
    t(
        edit(
            &edit(&w, "<THBH>20250317090411-0017</THBH>", ""),
            "</BZ>",
            "</BZ>\n      <THBH>20250317090411-0017</THBH>",
        ),
        "THBH",
    );
    // Missing required GDBH and SJDZ.
    t(edit(&w, "<GDBH>SJZ2025031700315</GDBH>", ""), "GDBH");
    t(
        edit(
            &w,
            "<SJDZ>北京市西城区百万庄大街百万庄北里5号楼2单元301室</SJDZ>",
            "",
        ),
        "SJDZ",
    );
    // An element the format does not have, and an unknown operation.
    t(edit(&w, "<BZ>", "<YXJ>1</YXJ><BZ>"), "YXJ");
    t(
        edit(
            &edit(&w, "<PushWorkOrder xmlns", "<PushOrder xmlns"),
            "</PushWorkOrder>",
            "</PushOrder>",
        ),
        "PushOrder",
    );
    // The operation outside the hb namespace.
    t(
        edit(
            &w,
            "<PushWorkOrder xmlns=\"urn:hebei12345:ws\"",
            "<PushWorkOrder xmlns=\"urn:hebei12345:wsx\"",
        ),
        "PushWorkOrder",
    );
    // A work order is not a feedback.
    rejected(Family::HbSoap, Kind::Status, &gb18030(&w), "PushFeedback");
}

#[test]
fn hb_feedback_response_and_fault_reject_bad_messages() {
    let f = hb_text("hb-soap/push-feedback.xml");
    let st = |s: String, expect: &str| rejected(Family::HbSoap, Kind::Status, &gb18030(&s), expect);
    st(edit(&f, "<ZT>04", "<ZT>4"), "ZT");
    st(edit(&f, "<CLR>", "<MYD>4</MYD><CLR>"), "MYD");
    st(edit(&f, "<CLSJ>20250317103012</CLSJ>", ""), "CLSJ");
    // No Body at all.
    st(
        edit(
            &edit(&f, "<soap:Body>", "<soap:Bodie>"),
            "</soap:Body>",
            "</soap:Bodie>",
        ),
        "Bodie",
    );

    let r = hb_text("hb-soap/response.xml");
    let rc =
        |s: String, expect: &str| rejected(Family::HbSoap, Kind::Receipt, &gb18030(&s), expect);
    rc(edit(&r, "<FHDM>0</FHDM>", ""), "FHDM");
    rc(edit(&r, "<FHDM>0", "<FHDM>OK"), "FHDM");
    accepted(
        Family::HbSoap,
        Kind::Receipt,
        &gb18030(&edit(
            &edit(
                &r,
                "PushWorkOrderResponse xmlns",
                "PushFeedbackResponse xmlns",
            ),
            "</PushWorkOrderResponse>",
            "</PushFeedbackResponse>",
        )),
    );

    let e = hb_text("hb-soap/fault.xml");
    let er = |s: String, expect: &str| rejected(Family::HbSoap, Kind::Error, &gb18030(&s), expect);
    er(
        edit(&e, "<faultcode>soap:Client</faultcode>", ""),
        "faultcode",
    );
    er(edit(&e, ">MBCS</CWZD>", "> </CWZD>"), "CWZD");
    er(
        edit(
            &e,
            "<faultstring>",
            "<faultactor>x</faultactor><faultstring>",
        ),
        "faultactor",
    );
}

#[test]
fn hb_samples_are_gb18030_with_four_byte_characters() {
    let bytes = sample("hb-soap/push-work-order.xml");
    // 𠀀 (U+20000) is 0x95 0x32 0x82 0x36 in GB18030.
    assert!(bytes.windows(4).any(|w| w == [0x95, 0x32, 0x82, 0x36]));
    assert!(std::str::from_utf8(&bytes).is_err());
    accepted(Family::HbSoap, Kind::Ticket, &bytes);
}

#[test]
fn open311_xml_rejects_bad_messages() {
    let r = text("open311/request.xml");
    let t =
        |s: String, expect: &str| rejected(Family::Open311Xml, Kind::Ticket, s.as_bytes(), expect);
    t(edit(&r, "<status>open", "<status>pending"), "status");
    t(
        edit(&r, "<service_code>ROOF-LEAK</service_code>", ""),
        "service_code",
    );
    t(edit(&r, "<lat>39.928533", "<lat>239.928533"), "lat");
    t(
        edit(
            &r,
            "<requested_datetime>2025-03-25T08:31:12+08:00",
            "<requested_datetime>2025-03-25",
        ),
        "requested_datetime",
    );
    t(
        edit(
            &edit(&r, "<status>open</status>\n", ""),
            "<service_request_id>",
            "<status>open</status><service_request_id>",
        ),
        "status",
    );
    t(
        edit(&r, "<media_url>", "<token>x</token><media_url>"),
        "token",
    );
    // Null values are empty elements.
    accepted(
        Family::Open311Xml,
        Kind::Ticket,
        edit(&r, "<lat>39.928533</lat>", "<lat></lat>").as_bytes(),
    );

    let e = text("open311/error.xml");
    let er =
        |s: String, expect: &str| rejected(Family::Open311Xml, Kind::Error, s.as_bytes(), expect);
    er(edit(&e, "<code>403", "<code>forbidden"), "code");
    er(edit(&e, "<code>403</code>", ""), "code");
    // An error list is not a request list.
    rejected(
        Family::Open311Xml,
        Kind::Ticket,
        e.as_bytes(),
        "service_requests",
    );

    let receipt = "<service_requests><request><service_request_id>01JQ5BBRR0T3GMYXSMKM9Y9CGZ</service_request_id><service_notice>已受理</service_notice><account_id/></request></service_requests>";
    accepted(Family::Open311Xml, Kind::Receipt, receipt.as_bytes());
    rejected(
        Family::Open311Xml,
        Kind::Receipt,
        edit(
            receipt,
            "<service_request_id>01JQ5BBRR0T3GMYXSMKM9Y9CGZ</service_request_id>",
            "",
        )
        .as_bytes(),
        "service_request_id",
    );
}

#[test]
fn open311_services_xml() {
    let xsd = "open311/open311.xsd";
    let ok = "<services><service><service_code>ROOF-LEAK</service_code><service_name>房屋漏雨</service_name><description/><metadata>true</metadata><type>realtime</type><keywords>Roof leak</keywords><group>住房</group></service></services>";
    validate_xml(xsd, ok.as_bytes()).unwrap();
    for (bad, expect) in [
        (edit(ok, "<type>realtime", "<type>instant"), "type"),
        (edit(ok, "<metadata>true", "<metadata>1"), "metadata"),
        (
            edit(ok, "<service_name>房屋漏雨</service_name>", ""),
            "service_name",
        ),
    ] {
        let err = validate_xml(xsd, bad.as_bytes()).unwrap_err();
        assert!(err.contains(expect), "{expect}: {err}");
    }
    let def = "<service_definition><service_code>ROOF-LEAK</service_code><attributes><attribute><variable>true</variable><code>community</code><datatype>string</datatype><required>false</required><datatype_description/><order>1</order><description>小区名称</description></attribute></attributes></service_definition>";
    validate_xml(xsd, def.as_bytes()).unwrap();
    let err = validate_xml(
        xsd,
        edit(def, "<datatype>string", "<datatype>str").as_bytes(),
    )
    .unwrap_err();
    assert!(err.contains("datatype"), "{err}");
}

#[test]
fn xml_that_is_not_well_formed_is_reported() {
    let err = validate_xml(
        "tj-xml/tj-xml.xsd",
        b"<Appeal xmlns=\"urn:tj12345:appeal:1\">",
    )
    .unwrap_err();
    assert!(err.contains("xmllint"), "{err}");
}
