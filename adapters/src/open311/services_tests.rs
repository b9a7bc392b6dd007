//! Tests of the parent module.

use super::super::testutil::{sample, tables, text};
use super::super::{Syntax, encode_service_definition, encode_services};
use crate::xml::{self, Charset};

#[test]
fn services_json_is_the_sample_byte_for_byte() {
    let out = encode_services(Syntax::Json, &tables());
    assert_eq!(text(&out), text(&sample("services.json")));
}

#[test]
fn services_xml_holds_the_same_services() {
    let tables = tables();
    let json: serde_json::Value = serde_json::from_slice(&sample("services.json")).unwrap();
    let root = xml::read(&encode_services(Syntax::Xml, &tables), Charset::Utf8).unwrap();
    assert_eq!(root.name, "services");
    let list = json.as_array().unwrap();
    assert_eq!(root.children.len(), list.len());
    for (el, js) in root.children.iter().zip(list) {
        assert_eq!(el.name, "service");
        for f in [
            "service_code",
            "service_name",
            "description",
            "type",
            "keywords",
            "group",
        ] {
            assert_eq!(el.child(f).unwrap().text, js[f].as_str().unwrap(), "{f}");
        }
        let metadata = el.child("metadata").unwrap().text.as_str();
        assert_eq!(metadata, js["metadata"].to_string());
    }
}

#[test]
fn housing_services_define_the_property_attributes() {
    let tables = tables();
    let def = encode_service_definition(Syntax::Json, "ROOF-LEAK", &tables).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&def).unwrap();
    assert_eq!(v["service_code"], "ROOF-LEAK");
    let codes: Vec<_> = v["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["community", "building", "unit", "room"]);
    let xml_def = encode_service_definition(Syntax::Xml, "ROOF-LEAK", &tables).unwrap();
    let root = xml::read(&xml_def, Charset::Utf8).unwrap();
    assert_eq!(root.child("attributes").unwrap().children.len(), 4);
    let noise = encode_service_definition(Syntax::Json, "NOISE", &tables).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&noise).unwrap();
    assert_eq!(v["attributes"].as_array().unwrap().len(), 0);
    let e = encode_service_definition(Syntax::Json, "POTHOLE", &tables).unwrap_err();
    assert_eq!(e.field_errors()[0].field, "service_code");
}
