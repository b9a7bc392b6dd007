//! Tests of the parent module.

use schemas::{Satisfaction, Status, StatusUpdate};

use super::super::testutil::{sample, tables, text};
use super::super::{Syntax, WITHHELD, decode_status, encode_status};
use crate::error::Error;
use crate::time;

fn update(status: Status, comment: Option<&str>) -> StatusUpdate {
    StatusUpdate {
        handoff_id: Some("01JQ5BBRR0T3GMYXSMKM9Y9CGZ".into()),
        ticket_id: None,
        status,
        at: time::parse_rfc3339("2025-03-26T11:40:05+08:00").unwrap(),
        by: None,
        reason_code: None,
        comment: comment.map(str::to_owned),
        satisfaction: None,
        extensions: Default::default(),
    }
}

#[test]
fn every_status_survives_a_round_trip_in_both_syntaxes() {
    let tables = tables();
    for syntax in [Syntax::Json, Syntax::Xml] {
        for status in Status::ALL {
            for comment in [None, Some("屋面防水已修补，\r\n雨后复查无渗漏。")] {
                let s = update(status, comment);
                let out = encode_status(syntax, &s, &tables).unwrap();
                assert!(out.loss.is_empty());
                assert_eq!(decode_status(syntax, &out.bytes, &tables).unwrap(), s);
            }
        }
    }
}

#[test]
fn the_layout_is_a_partial_representation_with_the_state_in_brackets() {
    let s = update(Status::Resolved, Some("已修补。"));
    let json = encode_status(Syntax::Json, &s, &tables()).unwrap();
    assert_eq!(
        text(&json.bytes),
        r#"[
  {
    "service_request_id": "01JQ5BBRR0T3GMYXSMKM9Y9CGZ",
    "status": "closed",
    "status_notes": "[resolved] 已修补。",
    "updated_datetime": "2025-03-26T11:40:05+08:00"
  }
]
"#
    );
    let xml = encode_status(Syntax::Xml, &update(Status::Accepted, None), &tables()).unwrap();
    assert_eq!(
        text(&xml.bytes),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<service_requests>
  <request>
    <service_request_id>01JQ5BBRR0T3GMYXSMKM9Y9CGZ</service_request_id>
    <status>open</status>
    <status_notes>[accepted]</status_notes>
    <updated_datetime>2025-03-26T11:40:05+08:00</updated_datetime>
  </request>
</service_requests>
"
    );
}

#[test]
fn a_status_without_the_prefix_reads_open_as_in_progress() {
    let tables = tables();
    let s = decode_status(Syntax::Json, &sample("request.json"), &tables).unwrap();
    assert_eq!(s.status, Status::InProgress);
    assert_eq!(s.handoff_id.as_deref(), Some("01JQ5BBRR0T3GMYXSMKM9Y9CGZ"));
    assert!(s.comment.unwrap().starts_with("已送达甘家口小区"));
    assert_eq!(
        s.at,
        time::parse_rfc3339("2025-03-25T10:02:47+08:00").unwrap()
    );
    let closed = r#"[{"service_request_id": "7", "status": "closed",
            "status_notes": "[x] 已办结", "updated_datetime": "2025-03-26T12:00:00+08:00"}]"#;
    let s = decode_status(Syntax::Json, closed.as_bytes(), &tables).unwrap();
    assert_eq!(
        (s.status, s.comment.as_deref()),
        (Status::Closed, Some("[x] 已办结"))
    );
}

#[test]
fn lost_fields_are_appended_and_the_operator_withheld() {
    let mut s = update(Status::Closed, Some("回访完毕"));
    s.by = Some("王秀兰".into());
    s.ticket_id = Some("BJ2025032500017".into());
    s.satisfaction = Some(Satisfaction::BasicallySatisfied);
    let out = encode_status(Syntax::Json, &s, &tables()).unwrap();
    let body = text(&out.bytes);
    assert!(!body.contains("王秀兰"));
    assert!(body.contains(
            r#""[closed] 回访完毕\n工单号(ticket_id): BJ2025032500017\n满意度(satisfaction): basically_satisfied""#
        ), "{body}");
    let last = out.loss.iter().next_back().unwrap();
    assert_eq!((last.field, last.value), ("by", WITHHELD));
}

#[test]
fn invalid_statuses_are_refused_by_field() {
    let tables = tables();
    let body = r#"[{"status": "done", "updated_datetime": "2025-03-26"}]"#;
    let e = decode_status(Syntax::Json, body.as_bytes(), &tables).unwrap_err();
    let fields: Vec<_> = e.field_errors().into_iter().map(|f| f.field).collect();
    assert_eq!(fields, ["service_request_id", "status", "updated_datetime"]);
    let body = r#"[{"service_request_id": "7", "status": "open",
            "status_notes": "[resolved] 已修", "updated_datetime": "2025-03-26T12:00:00+08:00"}]"#;
    let e = decode_status(Syntax::Json, body.as_bytes(), &tables).unwrap_err();
    assert_eq!(e.field_errors()[0].field, "status_notes");
    assert!(
        e.to_string().contains("[resolved] contradicts status open"),
        "{e}"
    );
    let mut s = update(Status::Accepted, None);
    s.handoff_id = None;
    assert!(matches!(
        encode_status(Syntax::Json, &s, &tables),
        Err(Error::Unrepresentable { field, .. }) if field == "service_request_id"
    ));
}
