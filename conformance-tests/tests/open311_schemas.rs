//! The open311 adapter's JSON output validates against the Open311
//! project's own JSON Schemas (`schemas/formats/open311/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use adapters::open311::{self, Syntax};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tables() -> schemas::Tables {
    schemas::Tables::load(&root().join("schemas/data")).unwrap()
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(root().join("conformance-tests/samples/open311").join(name)).unwrap()
}

/// Checks every element of a JSON array against one schema file.
fn assert_items_valid(schema_file: &str, body: &[u8]) {
    let path = root().join("schemas/formats/open311").join(schema_file);
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let list: Value = serde_json::from_slice(body).unwrap();
    let items = list.as_array().expect("JSON containers are arrays");
    assert!(!items.is_empty());
    for item in items {
        let errors: Vec<String> = validator.iter_errors(item).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{schema_file}: {errors:?}\n{item:#}");
    }
}

#[test]
fn the_validator_is_live() {
    let path = root().join("schemas/formats/open311/request.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let v = jsonschema::options().build(&schema).unwrap();
    let bad = serde_json::json!({"service_request_id": null, "status": "pending"});
    assert!(v.iter_errors(&bad).count() >= 3);
}

#[test]
fn service_requests_validate() {
    let tables = tables();
    assert_items_valid("request.json", &sample("request.json"));
    let t = open311::decode_ticket(Syntax::Xml, &sample("request.xml"), &tables).unwrap();
    let out = open311::encode_ticket(Syntax::Json, &t, &tables).unwrap();
    assert_items_valid("request.json", &out.bytes);

    // A ticket from another format: converted point, lost fields appended,
    // no extensions, category mapped to an ancestor.
    let mut foreign = t.clone();
    foreign.category = schemas::Category {
        code: "housing.repair.roof_leak".into(),
        label: None,
        source: None,
    };
    foreign.title = "顶层漏雨".into();
    foreign.extensions.clear();
    foreign.urgency = schemas::Urgency::Urgent;
    let loc = foreign.location.as_mut().unwrap();
    loc.source_point = Some(schemas::SourcePoint {
        datum: schemas::Datum::Gcj02,
        lon: 116.330457,
        lat: 39.929869,
    });
    loc.point = Some(adapters::geo::to_wgs84(
        schemas::Datum::Gcj02,
        schemas::Point {
            lon: 116.330457,
            lat: 39.929869,
        },
    ));
    let out = open311::encode_requests(Syntax::Json, &[t, foreign], &tables).unwrap();
    assert!(!out.loss.is_empty());
    assert_items_valid("request.json", &out.bytes);
}

#[test]
fn the_post_reply_is_a_request_response() {
    let body = open311::encode_receipt(Syntax::Json, "01JQ5BBRR0T3GMYXSMKM9Y9CGZ", 7);
    let list: Value = serde_json::from_slice(&body).unwrap();
    let reply = &list[0];
    assert_eq!(reply["service_request_id"], "01JQ5BBRR0T3GMYXSMKM9Y9CGZ");
    assert!(reply["service_notice"].is_string());
}

#[test]
fn services_and_definitions_validate() {
    let tables = tables();
    assert_items_valid("service.json", &sample("services.json"));
    assert_items_valid(
        "service.json",
        &open311::encode_services(Syntax::Json, &tables),
    );
    for code in ["ROOF-LEAK", "NOISE"] {
        let def = open311::encode_service_definition(Syntax::Json, code, &tables).unwrap();
        let wrapped = format!("[{}]", String::from_utf8(def).unwrap());
        assert_items_valid("service-definition.json", wrapped.as_bytes());
    }
}
