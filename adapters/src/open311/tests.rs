//! Tests of the parent module.

use super::testutil::{sample, text};
use super::*;

#[test]
fn error_xml_is_the_sample_byte_for_byte() {
    let out = encode_error(Syntax::Xml, 403, "api_key缺失或无效，未创建服务请求", &[]);
    assert_eq!(text(&out), text(&sample("error.xml")));
}

#[test]
fn each_field_error_is_one_standard_error_naming_its_field() {
    let errors = [
        FieldError::new("service_code", "is required"),
        FieldError::new("lat", "'north' is not a number"),
    ];
    let out = encode_error(Syntax::Json, 400, "invalid request", &errors);
    assert_eq!(
        text(&out),
        r#"[
  {
    "code": 400,
    "description": "service_code: is required"
  },
  {
    "code": 400,
    "description": "lat: 'north' is not a number"
  }
]
"#
    );
    let xml = encode_error(Syntax::Xml, 400, "invalid request", &errors);
    let root = crate::xml::read(&xml, Charset::Utf8).unwrap();
    assert_eq!(root.children.len(), 2);
    assert_eq!(
        root.children[1].child("description").unwrap().text,
        "lat: 'north' is not a number"
    );
}

#[test]
fn the_receipt_is_the_standard_post_reply() {
    let id = "01JQ5BBRR0T3GMYXSMKM9Y9CGZ";
    let json = encode_receipt(Syntax::Json, id, 4711);
    assert_eq!(
        text(&json),
        r#"[
  {
    "service_request_id": "01JQ5BBRR0T3GMYXSMKM9Y9CGZ",
    "service_notice": "已受理，审计序号 4711",
    "account_id": null
  }
]
"#
    );
    assert_eq!(
        decode_delivery_reply(Syntax::Json, &json),
        Ok(Some(id.into()))
    );
    let xml = encode_receipt(Syntax::Xml, id, 4711);
    assert!(text(&xml).contains("<account_id></account_id>"));
    assert_eq!(
        decode_delivery_reply(Syntax::Xml, &xml),
        Ok(Some(id.into()))
    );
}

#[test]
fn delivery_replies_give_the_partners_id() {
    let reply = |s: &str| decode_delivery_reply(Syntax::Json, s.as_bytes());
    assert_eq!(
        reply(r#"[{"service_request_id": 293944, "service_notice": "x"}]"#),
        Ok(Some("293944".into()))
    );
    assert_eq!(reply(r#"[{"token": "12345"}]"#), Ok(None));
    let e = reply(r#"[{"code": 403, "description": "api_key invalid"}]"#).unwrap_err();
    assert!(e.to_string().contains("403 \"api_key invalid\""), "{e}");
    let e = decode_delivery_reply(Syntax::Xml, &sample("error.xml")).unwrap_err();
    assert!(e.to_string().contains("403 api_key缺失或无效"), "{e}");
    assert!(reply("{}").is_err());
}

#[test]
fn requests_lists_index_their_losses() {
    let tables = super::testutil::tables();
    let t = decode_ticket(Syntax::Json, &sample("request.json"), &tables).unwrap();
    let mut u = t.clone();
    u.title = "屋顶漏水".into();
    let out = encode_requests(Syntax::Json, &[t, u], &tables).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.bytes).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(out.loss.len(), 1);
    assert_eq!(out.loss.iter().next().unwrap().field, "[1].title");
    let empty = encode_requests(Syntax::Xml, &[], &tables).unwrap();
    assert_eq!(
        text(&empty.bytes),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<service_requests>\n</service_requests>\n"
    );
}

#[test]
fn family_dispatch_reaches_this_module() {
    let tables = super::testutil::tables();
    let t =
        crate::decode_ticket(crate::Family::Open311Xml, &sample("request.xml"), &tables).unwrap();
    let out = crate::encode_ticket(crate::Family::Open311Json, &t, &tables).unwrap();
    assert_eq!(text(&out.bytes), text(&sample("request.json")));
}
