//! JSON schemas: adapter output validates; hand-made invalid messages are
//! rejected, each for the reason the test names.

use std::path::Path;

use adapters::{Family, FieldError};
use conformance_tests::{Kind, validate, validate_json};
use schemas::Tables;
use serde_json::{Value, json};

use crate::sample;

fn sample_json(path: &str) -> Value {
    serde_json::from_slice(&sample(path)).unwrap()
}

/// `value` with the member at JSON pointer `at` set to `new` (added when
/// absent; the parent must exist).
pub fn with(mut value: Value, at: &str, new: Value) -> Value {
    let (parent, key) = at.rsplit_once('/').unwrap();
    match value.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.insert(key.to_owned(), new);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = new,
        other => panic!("{parent} is {other}"),
    }
    value
}

/// `value` without the member at JSON pointer `at` (which must exist).
pub fn without(mut value: Value, at: &str) -> Value {
    let (parent, key) = at.rsplit_once('/').unwrap();
    let map = value.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    assert!(map.remove(key).is_some(), "{at} is not in the message");
    value
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

pub fn accepted(schema: &str, value: &Value) {
    if let Err(e) = validate_json(schema, &bytes(value)) {
        panic!("{schema} refused {value}:\n{}", e.join("\n"));
    }
}

/// The schema refuses `value` with an error whose text contains `expect`
/// (an instance path or a member name).
pub fn rejected(schema: &str, value: &Value, expect: &str) {
    match validate_json(schema, &bytes(value)) {
        Ok(()) => panic!("{schema} accepted {value}"),
        Err(errors) => assert!(
            errors.iter().any(|e| e.contains(expect)),
            "{schema}: no error mentions '{expect}': {errors:?}"
        ),
    }
}

pub fn tables() -> Tables {
    Tables::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/data")).unwrap()
}

const BJ_ORDER: &str = "bj-json/order.schema.json";

#[test]
fn bj_order_rejects_bad_values() {
    let o = sample_json("bj-json/order.json");
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/urgency", json!("3")),
        "/urgency",
    );
    rejected(BJ_ORDER, &with(o.clone(), "/urgency", json!(1)), "/urgency");
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/channel", json!("fax")),
        "/channel",
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/orderNo", json!("BJ_2025")),
        "/orderNo",
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/orderNo", json!("B".repeat(33))),
        "/orderNo",
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/acceptTime", json!("2025-03-12T07:42:18+08:00")),
        "/acceptTime",
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/caller/mobile", json!("1380013800")),
        "/caller/mobile",
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/location/areaCode", json!("13108")),
        "/location/areaCode",
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/attachments/0/sha256", json!("15d0cfdb")),
        "/attachments/0/sha256",
    );
    rejected(
        BJ_ORDER,
        &with(
            o.clone(),
            "/enterprise",
            json!({"name": "某公司", "uscc": "91110105MA01N3UQ5I"}),
        ),
        "/enterprise/uscc",
    );
    rejected(BJ_ORDER, &with(o.clone(), "/title", json!("  ")), "/title");
}

#[test]
fn bj_order_counts_lengths_in_code_points() {
    let o = sample_json("bj-json/order.json");
    // 200 four-byte characters are 200 code points: within the limit.
    accepted(
        BJ_ORDER,
        &with(o.clone(), "/title", json!("𠀀".repeat(200))),
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/title", json!("𠀀".repeat(201))),
        "/title",
    );
    accepted(
        BJ_ORDER,
        &with(o.clone(), "/content", json!("水".repeat(8000))),
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/content", json!("水".repeat(8001))),
        "/content",
    );
    accepted(
        BJ_ORDER,
        &with(o.clone(), "/remark", json!("注".repeat(2000))),
    );
    rejected(
        BJ_ORDER,
        &with(o, "/remark", json!("注".repeat(2001))),
        "/remark",
    );
}

#[test]
fn bj_order_rejects_bad_structure() {
    let o = sample_json("bj-json/order.json");
    rejected(BJ_ORDER, &without(o.clone(), "/orderNo"), "orderNo");
    rejected(
        BJ_ORDER,
        &without(o.clone(), "/location/address"),
        "address",
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/priority", json!("1")),
        "priority",
    );
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/caller/email", json!("a@b.example")),
        "email",
    );
    // Anonymous callers carry no name and no mobile.
    rejected(
        BJ_ORDER,
        &with(o.clone(), "/caller/anonymous", json!(true)),
        "/caller",
    );
    accepted(
        BJ_ORDER,
        &with(o.clone(), "/caller", json!({"anonymous": true})),
    );
    // A transfer or a hand-off, not both.
    rejected(
        BJ_ORDER,
        &with(
            o.clone(),
            "/handoff",
            json!({"to": "property", "reason": "央产房"}),
        ),
        r#"{"required":["transfer","handoff"]}"#,
    );
    rejected(
        BJ_ORDER,
        &with(
            without(o.clone(), "/transfer"),
            "/handoff",
            json!({"to": "hub"}),
        ),
        "/handoff/to",
    );
    // Coordinates come in pairs.
    rejected(
        BJ_ORDER,
        &without(o, "/location/lat"),
        "\"lat\" is a required",
    );
}

#[test]
fn bj_status_reply_and_error_reject_bad_messages() {
    let s = sample_json("bj-json/status.json");
    let schema = "bj-json/status.schema.json";
    rejected(
        schema,
        &with(s.clone(), "/status", json!("PROCESSED")),
        "/status",
    );
    rejected(
        schema,
        &with(s.clone(), "/satisfaction", json!("4")),
        "/satisfaction",
    );
    rejected(
        schema,
        &with(s.clone(), "/time", json!("2025-03-12 9:27:45")),
        "/time",
    );
    rejected(schema, &with(s.clone(), "/comment", json!("x")), "comment");
    rejected(schema, &without(s.clone(), "/status"), "status");
    accepted(schema, &without(s.clone(), "/gatewayRef"));
    accepted(schema, &without(s.clone(), "/orderNo"));
    rejected(
        schema,
        &without(without(s, "/orderNo"), "/gatewayRef"),
        "anyOf",
    );

    let r = sample_json("bj-json/reply.json");
    let schema = "bj-json/reply.schema.json";
    rejected(schema, &with(r.clone(), "/code", json!(1)), "oneOf");
    rejected(schema, &without(r.clone(), "/data/auditSeq"), "oneOf");
    rejected(
        schema,
        &with(r.clone(), "/data/auditSeq", json!(-1)),
        "oneOf",
    );
    rejected(schema, &with(r, "/extra", json!(1)), "oneOf");
    accepted(
        schema,
        &json!({"code": 0, "data": {"orderNo": "LF2025031200077"}}),
    );
    rejected(
        schema,
        &json!({"code": 0, "data": {"orderNo": "LF 77"}}),
        "oneOf",
    );

    let e = sample_json("bj-json/error.json");
    let schema = "bj-json/error.schema.json";
    rejected(schema, &with(e.clone(), "/code", json!(0)), "/code");
    rejected(schema, &without(e.clone(), "/errors"), "errors");
    rejected(schema, &with(e, "/errors/0/hint", json!("x")), "hint");
}

#[test]
fn ent_messages_reject_bad_values() {
    let t = sample_json("ent-json/ticket.json");
    let schema = "ent-json/ticket.schema.json";
    rejected(
        schema,
        &with(t.clone(), "/priority", json!("low")),
        "/priority",
    );
    rejected(
        schema,
        &with(t.clone(), "/created_at", json!("2025-03-20T14:22:47")),
        "/created_at",
    );
    rejected(
        schema,
        &with(t.clone(), "/enterprise/uscc", json!("9111010SMA01RK7H3A")),
        "/enterprise/uscc",
    );
    rejected(
        schema,
        &with(t.clone(), "/contact/email", json!("sunli")),
        "/contact/email",
    );
    rejected(
        schema,
        &with(t.clone(), "/route/to", json!("1234")),
        "/route/to",
    );
    accepted(schema, &with(t.clone(), "/route/to", json!("110105")));
    rejected(schema, &without(t.clone(), "/enterprise"), "enterprise");
    rejected(schema, &with(t, "/caller", json!({})), "caller");

    let s = sample_json("ent-json/status.json");
    let schema = "ent-json/status.schema.json";
    rejected(
        schema,
        &with(s.clone(), "/state", json!("rejected")),
        "/state",
    );
    rejected(
        schema,
        &with(s.clone(), "/satisfaction", json!("basic")),
        "/satisfaction",
    );
    rejected(
        schema,
        &with(s.clone(), "/at", json!("2025-03-20 16:05:10")),
        "/at",
    );
    rejected(schema, &without(s, "/at"), "at");

    let schema = "ent-json/reply.schema.json";
    accepted(schema, &json!({"ticket_id": "ENT-20250320-01466"}));
    rejected(
        schema,
        &json!({"gateway_ref": "01J", "audit_seq": "7"}),
        "oneOf",
    );
    rejected(schema, &json!({"gateway_ref": "01J"}), "oneOf");

    let e = sample_json("ent-json/error.json");
    let schema = "ent-json/error.schema.json";
    rejected(schema, &with(e.clone(), "/status", json!(200)), "/status");
    rejected(schema, &without(e.clone(), "/detail"), "detail");
    rejected(schema, &with(e, "/instance", json!("/x")), "instance");
}

#[test]
fn pu_messages_reject_bad_values() {
    let o = sample_json("pu-json/repair-order.json");
    let schema = "pu-json/repair-order.schema.json";
    rejected(
        schema,
        &with(o.clone(), "/urgency", json!("high")),
        "/urgency",
    );
    rejected(
        schema,
        &with(o.clone(), "/property/owner_kind", json!("private")),
        "/property/owner_kind",
    );
    rejected(
        schema,
        &with(o.clone(), "/property/unit_id", json!("military-001")),
        "/property/unit_id",
    );
    rejected(
        schema,
        &with(o.clone(), "/history/0/state", json!("rejected")),
        "/history/0/state",
    );
    rejected(
        schema,
        &with(o.clone(), "/problem/category", json!("0501")),
        "/problem/category",
    );
    rejected(
        schema,
        &with(o.clone(), "/resident/phone", json!("135-0013-5000")),
        "/resident/phone",
    );
    rejected(schema, &without(o.clone(), "/issued_at"), "issued_at");
    rejected(schema, &with(o, "/priority", json!("normal")), "priority");

    let s = sample_json("pu-json/status.json");
    let schema = "pu-json/status.schema.json";
    rejected(
        schema,
        &with(s.clone(), "/state", json!("closed")),
        "/state",
    );
    rejected(schema, &without(s.clone(), "/by"), "by");
    rejected(schema, &with(s, "/order_id", json!("01J")), "order_id");

    let schema = "pu-json/ack.schema.json";
    accepted(schema, &json!({}));
    rejected(schema, &json!({"unit_ref": " "}), "/unit_ref");
    rejected(schema, &json!({"unit_id": "pu-military-001"}), "unit_id");
}

#[test]
fn open311_json_messages_reject_bad_values() {
    let r = sample_json("open311/request.json");
    let (family, kind) = (Family::Open311Json, Kind::Ticket);
    for (bad, what) in [
        (with(r.clone(), "/0/status", json!("pending")), "status"),
        (without(r.clone(), "/0/service_code"), "service_code"),
        (
            with(r.clone(), "/0/requested_datetime", json!("yesterday")),
            "date-time",
        ),
        (with(r.clone(), "/0/lat", json!("39.9")), "lat"),
        (json!(r[0].clone()), "array"),
    ] {
        let err = validate(family, kind, &bytes(&bad)).unwrap_err();
        assert!(err.contains(what), "{what}: {err}");
    }
    // The official requests.json accepts an empty list (its minItems sits
    // inside `items`); `validate` insists on at least one request.
    assert!(validate_json("open311/requests.json", b"[]").is_ok());
    assert!(validate(family, kind, b"[]").is_err());

    let services = sample_json("open311/services.json");
    rejected(
        "open311/services.json",
        &with(services.clone(), "/0/type", json!("instant")),
        "/0/type",
    );
    rejected(
        "open311/services.json",
        &with(services, "/1/metadata", json!("yes")),
        "/1/metadata",
    );

    let schema = "open311-json/errors.schema.json";
    accepted(
        schema,
        &json!([{"code": 403, "description": "api_key缺失或无效"}]),
    );
    rejected(schema, &json!([]), "less than 1 item");
    rejected(
        schema,
        &json!([{"code": "403", "description": "x"}]),
        "/0/code",
    );
    rejected(
        schema,
        &json!([{"code": 403, "description": "x", "field": "api_key"}]),
        "field",
    );

    let schema = "open311-json/post-response.schema.json";
    accepted(
        schema,
        &json!([{"service_request_id": "01JQ5BBRR0T3GMYXSMKM9Y9CGZ", "service_notice": "已受理", "account_id": null}]),
    );
    accepted(schema, &json!([{"token": "T-1"}]));
    rejected(schema, &json!([{"service_notice": "已受理"}]), "anyOf");
    rejected(
        schema,
        &json!([{"token": "a"}, {"token": "b"}]),
        "more than 1 item",
    );
}

#[test]
fn bj_adapter_output_satisfies_the_bj_schemas() {
    let tables = tables();
    for path in ["bj-json/order.json", "bj-json/order-delivered.json"] {
        let t = adapters::decode_ticket(Family::BjJson, &sample(path), &tables).unwrap();
        let out = adapters::encode_ticket(Family::BjJson, &t, &tables).unwrap();
        validate(Family::BjJson, Kind::Ticket, &out.bytes)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let s =
        adapters::decode_status(Family::BjJson, &sample("bj-json/status.json"), &tables).unwrap();
    let out = adapters::encode_status(Family::BjJson, &s, &tables).unwrap();
    validate(Family::BjJson, Kind::Status, &out.bytes).unwrap();
    let err = adapters::encode_error(
        Family::BjJson,
        400,
        "请求数据校验失败",
        &[FieldError::new("caller.mobile", "须为1开头的11位手机号")],
    );
    validate(Family::BjJson, Kind::Error, &err).unwrap();
    let receipt = adapters::bj::encode_receipt("01JP3SCX6J122GPMWEZCDRM48R", 1_835_207);
    validate(Family::BjJson, Kind::Receipt, &receipt).unwrap();
    // A bj receipt is not a bj ticket.
    assert!(validate(Family::BjJson, Kind::Ticket, &receipt).is_err());
}
