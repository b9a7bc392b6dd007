//! Tests of the parent module.

use super::*;

#[test]
fn the_frontier_gives_the_rfc6962_root_of_every_prefix() {
    let leaves: Vec<Hash> = (0..70u32)
        .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
        .collect();
    let mut frontier = Frontier::default();
    assert_eq!(frontier.root(), merkle::empty_root());
    for (i, leaf) in leaves.iter().enumerate() {
        frontier.push(*leaf);
        assert_eq!(
            frontier.root(),
            merkle::root(&leaves[..=i]),
            "size {}",
            i + 1
        );
    }
}

#[test]
fn a_detail_with_a_key_twice_is_refused() {
    let line = br#"{"type":"leaf","seq":1,"kind":"received","at":1,"handoff_id":null,"detail":{"a":{"b":1,"b":2}},"leaf_hash":"00"}"#;
    let err = serde_json::from_slice::<super::super::Line>(line)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("key \"b\" appears twice"), "{err}");
    let line = br#"{"type":"checkpoint","size":1,"note":"x","extra":1}"#;
    assert!(serde_json::from_slice::<super::super::Line>(line).is_err());
}
