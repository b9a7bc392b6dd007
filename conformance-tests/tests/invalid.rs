//! Invalid inputs, one defect at a time, each refused with an error that
//! names the right field in the format's own terms; hostile inputs refused
//! before any work is done.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use adapters::{Error, Family};
use conformance_tests::{samples_dir, tables};

/// Reads a sample as text (hb-soap samples are GB18030 on disk).
fn sample_text(family: Family, file: &str) -> String {
    let bytes = std::fs::read(samples_dir().join(file)).unwrap();
    if family == Family::HbSoap {
        encoding_rs::GB18030.decode(&bytes).0.into_owned()
    } else {
        String::from_utf8(bytes).unwrap()
    }
}

fn to_wire(family: Family, text: &str) -> Vec<u8> {
    if family == Family::HbSoap {
        encoding_rs::GB18030.encode(text).0.into_owned()
    } else {
        text.as_bytes().to_vec()
    }
}

#[derive(Clone, Copy)]
enum Msg {
    Ticket,
    Status,
}

/// (family, message, sample, text to replace, replacement, field the error must name)
const CASES: &[(Family, Msg, &str, &str, &str, &str)] = &[
    // bj-json
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order.json",
        "\"13800138000\"",
        "\"2380013800\"",
        "caller.mobile",
    ),
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order.json",
        "\"urgency\": \"1\"",
        "\"urgency\": \"3\"",
        "urgency",
    ),
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order.json",
        "\"2025-03-12 07:42:18\"",
        "\"2025-03-12T07:42:18\"",
        "acceptTime",
    ),
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order.json",
        "\"anonymous\": false",
        "\"anonymous\": true",
        "caller.anonymous",
    ),
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order.json",
        "\"toCity\": \"131000\"",
        "\"toCity\": \"1310\"",
        "transfer.toCity",
    ),
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order.json",
        "\"channel\": \"phone\"",
        "\"channel\": \"fax\"",
        "channel",
    ),
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order.json",
        "\"orderNo\": \"BJ2025031200457\"",
        "\"orderNo\": \"BJ 2025/457\"",
        "orderNo",
    ),
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order.json",
        "\"lat\": 39.958314",
        "\"lat\": 139.958314",
        "location",
    ),
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order.json",
        "\"callId\"",
        "\"callID\"",
        "callID",
    ),
    (
        Family::BjJson,
        Msg::Ticket,
        "bj-json/order-delivered.json",
        "91110105MA01N3UQ53",
        "91110105MA01N3UQ5X",
        "enterprise.uscc",
    ),
    (
        Family::BjJson,
        Msg::Status,
        "bj-json/status.json",
        "\"RESOLVED\"",
        "\"DONE\"",
        "status",
    ),
    // tj-xml
    (
        Family::TjXml,
        Msg::Ticket,
        "tj-xml/appeal.xml",
        "<Phone>15900159000</Phone>",
        "<Phone>159-00159000</Phone>",
        "Citizen.Phone",
    ),
    (
        Family::TjXml,
        Msg::Ticket,
        "tj-xml/appeal.xml",
        "2025-03-14T10:05:33+08:00",
        "2025-03-14T10:05:33",
        "ReceivedAt",
    ),
    (
        Family::TjXml,
        Msg::Ticket,
        "tj-xml/appeal.xml",
        "<Priority>NORMAL</Priority>",
        "<Priority>LOW</Priority>",
        "Priority",
    ),
    (
        Family::TjXml,
        Msg::Ticket,
        "tj-xml/appeal.xml",
        "<Citizen anonymous=\"false\">",
        "<Citizen anonymous=\"true\">",
        "Citizen.anonymous",
    ),
    (
        Family::TjXml,
        Msg::Ticket,
        "tj-xml/appeal.xml",
        "91110105MA01N3UQ53",
        "91110105MA01N3UQ5X",
        "Enterprise.CreditCode",
    ),
    (
        Family::TjXml,
        Msg::Ticket,
        "tj-xml/appeal.xml",
        "<CallRef>TJ-20250314-095812-0388</CallRef>",
        "<CallReference>x</CallReference>",
        "CallReference",
    ),
    (
        Family::TjXml,
        Msg::Ticket,
        "tj-xml/appeal.xml",
        "lat=\"39.995271\"",
        "lat=\"north\"",
        "Place.Point.lat",
    ),
    (
        Family::TjXml,
        Msg::Status,
        "tj-xml/status.xml",
        "<State>CLOSED</State>",
        "<State>DONE</State>",
        "State",
    ),
    // hb-soap
    (
        Family::HbSoap,
        Msg::Ticket,
        "hb-soap/push-work-order.xml",
        "<LDDH>18600186000</LDDH>",
        "<LDDH>1860018600</LDDH>",
        "LDDH",
    ),
    (
        Family::HbSoap,
        Msg::Ticket,
        "hb-soap/push-work-order.xml",
        "<JJCD>0</JJCD>",
        "<JJCD>9</JJCD>",
        "JJCD",
    ),
    (
        Family::HbSoap,
        Msg::Ticket,
        "hb-soap/push-work-order.xml",
        "<SLSJ>20250317091522</SLSJ>",
        "<SLSJ>2025-03-17</SLSJ>",
        "SLSJ",
    ),
    (
        Family::HbSoap,
        Msg::Ticket,
        "hb-soap/push-work-order.xml",
        "<SFNM>0</SFNM>",
        "<SFNM>1</SFNM>",
        "SFNM",
    ),
    (
        Family::HbSoap,
        Msg::Ticket,
        "hb-soap/push-work-order.xml",
        "<MBCS>110102</MBCS>",
        "<MBCS>11010</MBCS>",
        "MBCS",
    ),
    (
        Family::HbSoap,
        Msg::Status,
        "hb-soap/push-feedback.xml",
        "<ZT>04</ZT>",
        "<ZT>99</ZT>",
        "ZT",
    ),
    // ent-json
    (
        Family::EntJson,
        Msg::Ticket,
        "ent-json/ticket.json",
        "91110108MA01RK7H3A",
        "91110108MA01RK7H3X",
        "enterprise.uscc",
    ),
    (
        Family::EntJson,
        Msg::Ticket,
        "ent-json/ticket.json",
        "2025-03-20T14:22:47+08:00",
        "2025-03-20T14:22:47",
        "created_at",
    ),
    (
        Family::EntJson,
        Msg::Ticket,
        "ent-json/ticket.json",
        "\"priority\": \"high\"",
        "\"priority\": \"asap\"",
        "priority",
    ),
    (
        Family::EntJson,
        Msg::Ticket,
        "ent-json/ticket.json",
        "\"13900139000\"",
        "\"139001390\"",
        "contact.phone",
    ),
    (
        Family::EntJson,
        Msg::Ticket,
        "ent-json/ticket.json",
        "\"to\": \"12345\"",
        "\"to\": \"beijing\"",
        "route.to",
    ),
    (
        Family::EntJson,
        Msg::Status,
        "ent-json/status.json",
        "\"in_progress\"",
        "\"processing\"",
        "state",
    ),
    // pu-json
    (
        Family::PuJson,
        Msg::Ticket,
        "pu-json/repair-order.json",
        "\"military\"",
        "\"navy\"",
        "property.owner_kind",
    ),
    (
        Family::PuJson,
        Msg::Ticket,
        "pu-json/repair-order.json",
        "\"13500135000\"",
        "\"phone\"",
        "resident.phone",
    ),
    (
        Family::PuJson,
        Msg::Status,
        "pu-json/status.json",
        "\"resolved\"",
        "\"closed\"",
        "state",
    ),
    (
        Family::PuJson,
        Msg::Status,
        "pu-json/status.json",
        "\"2025-03-23T17:10:00+08:00\"",
        "\"yesterday\"",
        "at",
    ),
    // open311
    (
        Family::Open311Json,
        Msg::Ticket,
        "open311/request.json",
        "\"lat\": 39.928533",
        "\"lat\": 93.928533",
        "lat",
    ),
    (
        Family::Open311Json,
        Msg::Ticket,
        "open311/request.json",
        "\"status\": \"open\"",
        "\"status\": \"pending\"",
        "status",
    ),
    (
        Family::Open311Xml,
        Msg::Ticket,
        "open311/request.xml",
        "<requested_datetime>2025-03-25T08:31:12+08:00",
        "<requested_datetime>2025-03-25",
        "requested_datetime",
    ),
];

#[test]
fn each_defect_is_refused_naming_its_field() {
    let mut wrong = Vec::new();
    for &(family, msg, file, from, to, field) in CASES {
        let text = sample_text(family, file);
        assert!(text.contains(from), "{file} has no {from}");
        let bytes = to_wire(family, &text.replacen(from, to, 1));
        let result = match msg {
            Msg::Ticket => adapters::decode_ticket(family, &bytes, tables()).map(drop),
            Msg::Status => adapters::decode_status(family, &bytes, tables()).map(drop),
        };
        match result {
            Ok(()) => wrong.push(format!("{file} with {to} was accepted")),
            Err(err) => {
                if !err.field_errors().iter().any(|e| e.field == field) {
                    wrong.push(format!(
                        "{file} with {to}: expected an error on {field}, got {err}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_duplicate_json_key_is_refused_in_every_json_family() {
    for (family, file, key) in [
        (Family::BjJson, "bj-json/order.json", "\"title\""),
        (Family::EntJson, "ent-json/ticket.json", "\"summary\""),
        (Family::PuJson, "pu-json/repair-order.json", "\"urgency\""),
        (
            Family::Open311Json,
            "open311/request.json",
            "\"description\"",
        ),
    ] {
        let text = sample_text(family, file);
        let at = text.find(key).unwrap();
        let line_end = at + text[at..].find('\n').unwrap();
        let line = &text[at..line_end];
        let line = if line.ends_with(',') {
            line.to_owned()
        } else {
            format!("{line},")
        };
        let doubled = format!("{}{}\n  {}", &text[..at], line, &text[at..]);
        let err = adapters::decode_ticket(family, doubled.as_bytes(), tables()).unwrap_err();
        assert!(matches!(err, Error::Duplicate { .. }), "{family}: {err}");
    }
}

#[test]
fn hostile_xml_is_refused_in_every_xml_family() {
    let laughs = r#"<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>"#;
    for (family, decl) in [
        (Family::TjXml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        (
            Family::HbSoap,
            "<?xml version=\"1.0\" encoding=\"GB18030\"?>",
        ),
        (
            Family::Open311Xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        ),
    ] {
        let body = format!("{decl}\n{laughs}\n<r>&c;</r>");
        let started = std::time::Instant::now();
        let err = adapters::decode_ticket(family, &to_wire(family, &body), tables()).unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{family}: {err}");
        assert!(started.elapsed().as_secs() < 1, "refused, but not quickly");
        let deep = format!("{decl}\n{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
        let err = adapters::decode_ticket(family, &to_wire(family, &deep), tables()).unwrap_err();
        assert!(matches!(err, Error::TooDeep { .. }), "{family}: {err}");
        let big = format!("{decl}\n<a>{}</a>", "x".repeat(1 << 20));
        let err = adapters::decode_ticket(family, &to_wire(family, &big), tables()).unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{family}: {err}");
    }
}

#[test]
fn bytes_that_do_not_match_the_declared_encoding_are_refused() {
    // UTF-8 bytes in a body that declares GB18030.
    let text = sample_text(Family::HbSoap, "hb-soap/push-work-order.xml");
    let err = adapters::decode_ticket(Family::HbSoap, text.as_bytes(), tables()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Encoding {
                encoding: "GB18030",
                ..
            }
        ),
        "{err}"
    );
    // GB18030 bytes in a tj-xml body (UTF-8).
    let text = sample_text(Family::TjXml, "tj-xml/appeal.xml");
    let gb = encoding_rs::GB18030.encode(&text).0.into_owned();
    let err = adapters::decode_ticket(Family::TjXml, &gb, tables()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Encoding {
                encoding: "UTF-8",
                ..
            }
        ),
        "{err}"
    );
    // A JSON body that is not UTF-8.
    let err = adapters::decode_ticket(Family::BjJson, b"{\"orderNo\": \"\xc1\xf5\"}", tables())
        .unwrap_err();
    assert!(matches!(err, Error::Encoding { .. }), "{err}");
}
