//! Schema validation: every sample satisfies its format's schema, the bj-json
//! and canonical adapter output does too, and every schema rejects
//! hand-made invalid messages (so none of them accepts everything).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "schemas/canonical.rs"]
mod canonical;
#[path = "schemas/json.rs"]
mod json;
#[path = "schemas/xml.rs"]
mod xml;

use std::path::Path;

use adapters::Family;
use conformance_tests::{Kind, SchemaRef, formats_dir, samples_dir, schema_for, validate};

/// A sample's bytes.
pub fn sample(path: &str) -> Vec<u8> {
    std::fs::read(samples_dir().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Which schema each sample satisfies: a family and message kind, or a
/// schema file for messages no [`Kind`] names.
enum Expect {
    Message(Family, Kind),
    JsonFile(&'static str),
}

const SAMPLES: &[(&str, Expect)] = &[
    (
        "bj-json/order.json",
        Expect::Message(Family::BjJson, Kind::Ticket),
    ),
    (
        "bj-json/order-delivered.json",
        Expect::Message(Family::BjJson, Kind::Ticket),
    ),
    (
        "bj-json/status.json",
        Expect::Message(Family::BjJson, Kind::Status),
    ),
    (
        "bj-json/reply.json",
        Expect::Message(Family::BjJson, Kind::Receipt),
    ),
    (
        "bj-json/error.json",
        Expect::Message(Family::BjJson, Kind::Error),
    ),
    (
        "tj-xml/appeal.xml",
        Expect::Message(Family::TjXml, Kind::Ticket),
    ),
    (
        "tj-xml/status.xml",
        Expect::Message(Family::TjXml, Kind::Status),
    ),
    (
        "tj-xml/ack.xml",
        Expect::Message(Family::TjXml, Kind::Receipt),
    ),
    (
        "tj-xml/fault.xml",
        Expect::Message(Family::TjXml, Kind::Error),
    ),
    (
        "hb-soap/push-work-order.xml",
        Expect::Message(Family::HbSoap, Kind::Ticket),
    ),
    (
        "hb-soap/push-feedback.xml",
        Expect::Message(Family::HbSoap, Kind::Status),
    ),
    (
        "hb-soap/response.xml",
        Expect::Message(Family::HbSoap, Kind::Receipt),
    ),
    (
        "hb-soap/fault.xml",
        Expect::Message(Family::HbSoap, Kind::Error),
    ),
    (
        "ent-json/ticket.json",
        Expect::Message(Family::EntJson, Kind::Ticket),
    ),
    (
        "ent-json/status.json",
        Expect::Message(Family::EntJson, Kind::Status),
    ),
    (
        "ent-json/reply.json",
        Expect::Message(Family::EntJson, Kind::Receipt),
    ),
    (
        "ent-json/error.json",
        Expect::Message(Family::EntJson, Kind::Error),
    ),
    (
        "pu-json/repair-order.json",
        Expect::Message(Family::PuJson, Kind::Ticket),
    ),
    (
        "pu-json/status.json",
        Expect::Message(Family::PuJson, Kind::Status),
    ),
    (
        "pu-json/ack.json",
        Expect::JsonFile("pu-json/ack.schema.json"),
    ),
    (
        "open311/request.json",
        Expect::Message(Family::Open311Json, Kind::Ticket),
    ),
    (
        "open311/request.xml",
        Expect::Message(Family::Open311Xml, Kind::Ticket),
    ),
    (
        "open311/error.xml",
        Expect::Message(Family::Open311Xml, Kind::Error),
    ),
    (
        "open311/services.json",
        Expect::JsonFile("open311/services.json"),
    ),
];

/// Samples no schema describes: the urlencoded POST body is a form, not a
/// document (the Open311 adapter checks it field by field).
const NOT_DOCUMENTS: &[&str] = &["README.md", "open311/post-request.txt"];

#[test]
fn every_sample_satisfies_its_schema() {
    let mut failures = Vec::new();
    for (path, expect) in SAMPLES {
        let bytes = sample(path);
        let result = match expect {
            Expect::Message(family, kind) => validate(*family, *kind, &bytes),
            Expect::JsonFile(file) => {
                conformance_tests::validate_json(file, &bytes).map_err(|e| e.join("\n"))
            }
        };
        if let Err(e) = result {
            failures.push(format!("{path}:\n{e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_sample_list_covers_every_sample_file() {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(samples_dir()).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                let rel = f.strip_prefix(samples_dir()).unwrap();
                files.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.sort();
    let known: Vec<&str> = SAMPLES
        .iter()
        .map(|(p, _)| *p)
        .chain(NOT_DOCUMENTS.iter().copied())
        .collect();
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !known.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "samples without a schema check: {missing:?}"
    );
    assert_eq!(files.len(), known.len() - 1, "README.md is not in a folder");
}

#[test]
fn every_schema_file_named_by_schema_for_exists() {
    for family in Family::ALL {
        for kind in Kind::ALL {
            let file = match schema_for(family, kind) {
                Some(SchemaRef::Json(f)) => f,
                Some(SchemaRef::Xml { xsd, .. }) => xsd,
                None => continue,
            };
            assert!(
                Path::new(&formats_dir()).join(file).is_file(),
                "{family} {kind:?}: {file} is missing"
            );
        }
    }
}

#[test]
fn messages_the_contract_does_not_define_have_no_schema() {
    assert_eq!(schema_for(Family::PuJson, Kind::Error), None);
    assert_eq!(schema_for(Family::PuJson, Kind::Receipt), None);
    assert_eq!(schema_for(Family::Canonical, Kind::Receipt), None);
    let err = validate(Family::PuJson, Kind::Error, b"{}").unwrap_err();
    assert!(err.contains("no Error message for pu-json"), "{err}");
}
