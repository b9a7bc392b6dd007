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
fn without_export_every_delivery_of_a_handoff_shares_its_trace_id() {
    let none = tracing::Span::none();
    let inbound = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
    let handoff = begin(&none, Some(&inbound));
    assert_eq!(handoff.trace_id, inbound.trace_id);
    assert_ne!(handoff.parent_id, inbound.parent_id);
    let a = parse(&outbound(&none, &handoff, 1, 0)).unwrap();
    let b = parse(&outbound(&none, &handoff, 7, 3)).unwrap();
    assert_eq!(a.trace_id, inbound.trace_id);
    assert_eq!(b.trace_id, inbound.trace_id);
    assert_ne!(a.parent_id, b.parent_id);
    assert_eq!(a.flags, "01");
    // Without a partner's context, a fresh trace each time.
    let own = begin(&none, None);
    assert!(parse(&own.to_string()).is_some());
    assert_ne!(own.trace_id, begin(&none, None).trace_id);
}

#[test]
fn a_handoff_stored_without_a_trace_context_uses_its_ids() {
    let id = "01JNQ3ZV6R8W4T9X2B5C7D1E0F";
    let old = of_handoff(id, None);
    assert_eq!(old.trace_id, trace_id(id));
    assert_ne!(trace_id("another"), old.trace_id);
    let stored = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert_eq!(of_handoff(id, Some(stored)).to_string(), stored);
}
