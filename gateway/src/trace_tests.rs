//! Tests of the parent module.

use super::*;

#[test]
fn the_recommendations_example_parses_and_round_trips() {
    let v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let tp = parse(v).unwrap();
    assert_eq!(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(tp.parent_id, "00f067aa0ba902b7");
    assert_eq!(tp.to_string(), v);
}

#[test]
fn invalid_values_are_ignored() {
    for bad in [
        "",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "张三-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        assert_eq!(parse(bad), None, "{bad}");
    }
    // A later version may carry more fields.
    assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx").is_some());
}

#[test]
fn every_delivery_of_a_handoff_shares_its_trace_id() {
    let id = "01JNQ3ZV6R8W4T9X2B5C7D1E0F";
    let a = parse(&for_delivery(id, 1, 0)).unwrap();
    let b = parse(&for_delivery(id, 7, 3)).unwrap();
    assert_eq!(a.trace_id, b.trace_id);
    assert_eq!(a.trace_id, trace_id(id));
    assert_ne!(a.parent_id, b.parent_id);
    assert_eq!(a.flags, "01");
    assert_ne!(trace_id("another"), a.trace_id);
}
