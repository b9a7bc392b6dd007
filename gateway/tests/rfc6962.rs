//! The RFC 6962 known-answer vectors (transparency-dev's reference test
//! data, copied under tests/vectors/rfc6962): tree hashes, inclusion and
//! consistency proofs, valid and invalid.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use gateway::audit::merkle::{self, Hash};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/rfc6962")
}

fn cases(kind: &str) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut stack = vec![dir().join(kind)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                out.push((path, v));
            }
        }
    }
    assert!(out.len() > 20, "too few {kind} vectors");
    out
}

/// A base64 value that must be a 32-byte hash (a verifier refuses anything
/// else, as the reference verifier does for inclusion proofs).
fn hash(v: &Value) -> Option<Hash> {
    Hash::try_from(B64.decode(v.as_str()?).ok()?.as_slice()).ok()
}

/// A root of a consistency check: values that are not 32 bytes (the
/// vectors' "don't care" roots, only ever compared for equality) become the
/// SHA-256 of their bytes, so equal values stay equal and no proof reaches
/// them.
fn root_value(v: &Value) -> Option<Hash> {
    use sha2::Digest;
    let bytes = B64.decode(v.as_str()?).ok()?;
    Some(Hash::try_from(bytes.as_slice()).unwrap_or_else(|_| sha2::Sha256::digest(&bytes).into()))
}

fn hashes(v: &Value) -> Option<Vec<Hash>> {
    v.as_array()
        .map(|a| a.iter().map(hash).collect::<Option<Vec<_>>>())
        .unwrap_or(Some(Vec::new()))
}

fn leaves() -> Vec<Hash> {
    let tree: Value =
        serde_json::from_slice(&std::fs::read(dir().join("tree.json")).unwrap()).unwrap();
    tree["leaf_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| merkle::leaf_hash(&hex::decode(l.as_str().unwrap()).unwrap()))
        .collect()
}

#[test]
fn tree_roots() {
    let tree: Value =
        serde_json::from_slice(&std::fs::read(dir().join("tree.json")).unwrap()).unwrap();
    let leaves = leaves();
    for (n, want) in tree["roots"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            hex::encode(merkle::root(&leaves[..n])),
            want.as_str().unwrap(),
            "root of {n}"
        );
    }
}

#[test]
fn inclusion_vectors() {
    let leaves = leaves();
    for (path, v) in cases("inclusion") {
        let want_err = v["wantErr"].as_bool().unwrap();
        let (index, size) = (
            v["leafIdx"].as_u64().unwrap(),
            v["treeSize"].as_u64().unwrap(),
        );
        let result = match (hash(&v["leafHash"]), hash(&v["root"]), hashes(&v["proof"])) {
            (Some(leaf), Some(root), Some(proof)) => {
                merkle::verify_inclusion(index, size, &leaf, &proof, &root)
            }
            _ => Err(merkle::ProofError::Mismatch),
        };
        assert_eq!(result.is_err(), want_err, "{}: {result:?}", path.display());
        if !want_err && size <= leaves.len() as u64 {
            let ours = merkle::inclusion_proof(&leaves[..size as usize], index as usize).unwrap();
            assert_eq!(
                Some(ours),
                hashes(&v["proof"]),
                "{}: generated proof",
                path.display()
            );
        }
    }
}

#[test]
fn consistency_vectors() {
    let leaves = leaves();
    for (path, v) in cases("consistency") {
        let want_err = v["wantErr"].as_bool().unwrap();
        let (size1, size2) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
        let result = match (
            root_value(&v["root1"]),
            root_value(&v["root2"]),
            hashes(&v["proof"]),
        ) {
            (Some(r1), Some(r2), Some(proof)) => {
                merkle::verify_consistency(size1, size2, &r1, &r2, &proof)
            }
            _ => Err(merkle::ProofError::Mismatch),
        };
        assert_eq!(result.is_err(), want_err, "{}: {result:?}", path.display());
        if !want_err && size2 <= leaves.len() as u64 {
            let ours =
                merkle::consistency_proof(&leaves[..size2 as usize], size1 as usize).unwrap();
            assert_eq!(
                Some(ours),
                hashes(&v["proof"]),
                "{}: generated proof",
                path.display()
            );
        }
    }
}

#[test]
fn generated_proofs_verify_for_every_size_and_index() {
    let leaves: Vec<Hash> = (0u32..70)
        .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
        .collect();
    for n in 1..=leaves.len() {
        let root = merkle::root(&leaves[..n]);
        for i in 0..n {
            let proof = merkle::inclusion_proof(&leaves[..n], i).unwrap();
            merkle::verify_inclusion(i as u64, n as u64, &leaves[i], &proof, &root).unwrap();
            assert!(
                merkle::verify_inclusion(
                    i as u64,
                    n as u64,
                    &leaves[(i + 1) % n.max(2) % n],
                    &proof,
                    &root
                )
                .is_err()
                    || n == 1
            );
        }
        for m in 1..=n {
            let proof = merkle::consistency_proof(&leaves[..n], m).unwrap();
            merkle::verify_consistency(
                m as u64,
                n as u64,
                &merkle::root(&leaves[..m]),
                &root,
                &proof,
            )
            .unwrap();
        }
    }
}
