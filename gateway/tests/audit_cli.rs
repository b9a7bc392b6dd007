//! `gateway audit export|verify|prove` as an auditor runs them: the real
//! binary on a real store. The store comes from a real transfer (Beijing →
//! Langfang, worked and closed) with two checkpoints signed by two keys (a
//! rotation) and one event after them. Each tampering test changes a copy
//! of that store behind the gateway's back with SQLite, exports it with
//! the binary, and checks that `audit verify` names the first bad entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

#[path = "audit_cli/fixture.rs"]
mod fixture;
#[path = "audit_cli/tamper.rs"]
mod tamper;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use gateway::audit::merkle::{self, Hash};
use gateway::audit::note::{self, Signer, Verifier};
use serde_json::Value;

use fixture::{Case, fixture, gateway, stderr, stdout, verify};

#[test]
fn an_untouched_log_exports_and_verifies() {
    let f = fixture();
    let case = Case::new("ok");
    let file = case.export();
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, f.total + 2);
    for (i, leaf) in lines[..f.total as usize].iter().enumerate() {
        assert_eq!(leaf["type"], "leaf");
        assert_eq!(leaf["seq"], i as u64 + 1);
        assert!(leaf["at"].as_i64().unwrap() > 1_700_000_000_000, "Unix ms");
        assert_eq!(leaf["leaf_hash"].as_str().unwrap().len(), 64);
    }
    let received = lines
        .iter()
        .find(|l| l["kind"] == "received")
        .expect("a received event");
    assert_eq!(received["handoff_id"], f.handoff.as_str());
    assert_eq!(lines[f.total as usize]["type"], "checkpoint");
    assert_eq!(lines[f.total as usize]["size"], f.first);
    assert_eq!(lines[f.total as usize + 1]["size"], f.second);
    // The log holds hashes and metadata, never the caller's phone number.
    assert!(!text.contains("13800138000"));

    let out = verify(&file, &[&f.old_key, &f.new_key]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let note = lines[f.total as usize + 1]["note"].as_str().unwrap();
    let root = note.lines().nth(2).unwrap();
    assert_eq!(
        stdout(&out).trim(),
        format!("ok: {} entries, 2 checkpoints, latest root {root}", f.total)
    );
    assert!(
        stderr(&out).contains(&format!(
            "entries {}..={} are not covered by a checkpoint yet",
            f.total, f.total
        )),
        "{}",
        stderr(&out)
    );
    // Standard output gives the same export.
    let to_stdout = gateway(&["audit", "export", "--config", case.config.to_str().unwrap()]);
    assert!(to_stdout.status.success());
    assert_eq!(stdout(&to_stdout), text);
}

#[test]
fn a_checkpoint_by_an_unknown_key_fails() {
    let case = Case::new("unknown-key");
    let file = case.export();
    let (_, stranger) = Signer::generate("audit-2024").unwrap();
    let out = verify(&file, &[&stranger]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "checkpoint 1 (size {}): no valid signature by the given keys (signed by: audit-2024)",
            fixture().first
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn after_a_key_rotation_both_keys_are_needed_and_suffice() {
    let f = fixture();
    let case = Case::new("rotation");
    let file = case.export();
    let only_old = verify(&file, &[&f.old_key]);
    assert_eq!(only_old.status.code(), Some(1));
    assert!(
        stderr(&only_old).contains(&format!(
            "checkpoint 2 (size {}): no valid signature by the given keys (signed by: audit-2025)",
            f.second
        )),
        "{}",
        stderr(&only_old)
    );
    let only_new = verify(&file, &[&f.new_key]);
    assert_eq!(only_new.status.code(), Some(1));
    assert!(stderr(&only_new).contains("checkpoint 1 (size"));
    // The new key from a file, the old one inline.
    let key_file = case.dir.join("audit-2025.vkey");
    std::fs::write(&key_file, format!("# the 2025 key\n{}\n", f.new_key)).unwrap();
    let both = verify(&file, &[&f.old_key, key_file.to_str().unwrap()]);
    assert_eq!(both.status.code(), Some(0), "{}", stderr(&both));
    assert!(stdout(&both).starts_with(&format!("ok: {} entries, 2 checkpoints", f.total)));
}

#[test]
fn progress_goes_to_standard_error_only_when_asked_on_a_pipe() {
    let f = fixture();
    let case = Case::new("progress");
    let file = case.export();
    let quiet = verify(&file, &[&f.old_key, &f.new_key]);
    assert!(!stderr(&quiet).contains("verifying"), "{}", stderr(&quiet));
    let mut args = vec!["audit", "verify", file.to_str().unwrap(), "--progress"];
    args.extend(["--key", &f.old_key, "--key", &f.new_key]);
    let shown = gateway(&args);
    assert_eq!(shown.status.code(), Some(0));
    let err = stderr(&shown);
    let steps: Vec<&str> = err.lines().filter(|l| l.starts_with("verifying")).collect();
    assert_eq!(steps.last(), Some(&"verifying 100%"), "{err}");
    assert!(steps.len() <= 101, "{err}");
}

#[test]
fn prove_gives_inclusion_proofs_that_verify_against_the_signed_checkpoint() {
    let f = fixture();
    let case = Case::new("prove");
    let out = gateway(&[
        "audit",
        "prove",
        &f.handoff,
        "--config",
        case.config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let proof: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(proof["handoff_id"], f.handoff.as_str());
    let keys = [
        Verifier::parse(&f.old_key).unwrap(),
        Verifier::parse(&f.new_key).unwrap(),
    ];
    let (cp, signer) = note::verify(proof["checkpoint"]["note"].as_str().unwrap(), &keys).unwrap();
    assert_eq!((cp.size, signer.as_str()), (f.second, "audit-2025"));
    assert_eq!(proof["checkpoint"]["root"], B64.encode(cp.root));

    let events = proof["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"received"), "{kinds:?}");
    assert!(kinds.contains(&"delivered"), "{kinds:?}");
    for event in events {
        let seq = event["seq"].as_u64().unwrap();
        let leaf = event["leaf"].as_str().unwrap();
        let leaf_json: Value = serde_json::from_str(leaf).unwrap();
        assert_eq!(leaf_json["seq"], seq);
        assert_eq!(leaf_json["handoff_id"], f.handoff.as_str());
        let hash = merkle::leaf_hash(leaf.as_bytes());
        assert_eq!(event["leaf_hash"], hex::encode(hash));
        if seq > cp.size {
            assert!(event["inclusion_proof"].is_null(), "{event}");
            continue;
        }
        let path: Vec<Hash> = event["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                hex::decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        merkle::verify_inclusion(seq - 1, cp.size, &hash, &path, &cp.root)
            .unwrap_or_else(|e| panic!("event {seq}: {e}"));
    }
    // The last event of the hand-off came after the checkpoint.
    assert_eq!(events.last().unwrap()["seq"], f.total);

    let unknown = gateway(&[
        "audit",
        "prove",
        "01JNOSUCHHANDOFF0000000000",
        "--config",
        case.config.to_str().unwrap(),
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no hand-off 01JNOSUCHHANDOFF0000000000"));
}
