//! Tests of `[audit]`, with the demo configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::audit::note::{Checkpoint, Signer, verify};
use crate::config::{Config, ConfigError, parse};

fn certs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-example")
}

fn demo_text() -> String {
    std::fs::read_to_string(certs().join("demo.toml")).unwrap()
}

/// The demo configuration with `from` replaced by `to` (which must occur).
fn demo_with(from: &str, to: &str) -> Result<Config, ConfigError> {
    let text = demo_text();
    assert!(text.contains(from), "demo.toml has no {from:?}");
    parse(&text.replacen(from, to, 1), &certs().join("demo.toml"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gateway-audit-cfg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_demo_signs_with_the_committed_key_every_second() {
    let cfg = demo_with("", "").unwrap();
    let audit = cfg.audit.unwrap();
    assert_eq!(audit.origin, "jjj12345.example/gateway-audit");
    assert_eq!(audit.checkpoint_interval, Duration::from_secs(1));
    assert_eq!(audit.signing_key_path, certs().join("audit-signing.key"));
    assert_eq!(audit.signer.name(), crate::certs::AUDIT_KEY_NAME);
    let vkey = std::fs::read_to_string(certs().join("audit-signing.vkey")).unwrap();
    assert_eq!(audit.verifiers.len(), 1);
    let cp = Checkpoint {
        origin: audit.origin.clone(),
        size: 1,
        root: [1; 32],
    };
    let note = audit.signer.sign(&cp);
    assert!(verify(&note, &audit.verifiers).is_ok());
    assert!(
        verify(
            &note,
            &[crate::audit::note::Verifier::parse(&vkey).unwrap()]
        )
        .is_ok()
    );
    // The key never shows in the configuration's Debug output.
    let shown = format!("{:?}", audit);
    let private = std::fs::read_to_string(certs().join("audit-signing.key")).unwrap();
    let secret = private.trim().splitn(5, '+').nth(4).unwrap();
    assert!(!shown.contains(secret), "{shown}");
}

#[test]
fn the_table_is_optional_and_its_keys_have_defaults() {
    let text = demo_text();
    let start = text.find("[audit]").unwrap();
    let end = text.find("# One table per partner.").unwrap();
    let without = format!("{}{}", &text[..start], &text[end..]);
    let cfg = parse(&without, &certs().join("demo.toml")).unwrap();
    assert!(cfg.audit.is_none());

    let minimal = format!(
        "{}[audit]\nsigning_key = \"audit-signing.key\"\n\n{}",
        &text[..start],
        &text[end..]
    );
    let audit = parse(&minimal, &certs().join("demo.toml"))
        .unwrap()
        .audit
        .unwrap();
    assert_eq!(audit.origin, crate::audit::DEFAULT_ORIGIN);
    assert_eq!(audit.checkpoint_interval, Duration::from_secs(10));
    assert_eq!(audit.verifiers.len(), 1);
}

#[test]
fn the_signing_key_is_required_in_the_table() {
    let err = demo_with("signing_key = \"audit-signing.key\"\n", "").unwrap_err();
    assert_eq!(err.key(), Some("audit"), "{err}");
    assert!(err.to_string().contains("signing_key"), "{err}");
}

#[test]
fn errors_name_the_key() {
    let dir = temp_dir("errors");
    let (private, verifier) = Signer::generate("old-key").unwrap();
    std::fs::write(dir.join("old.vkey"), &verifier).unwrap();
    std::fs::write(dir.join("private-as-verifier"), &private).unwrap();
    let old = dir.join("old.vkey").display().to_string();
    let wrong = dir.join("private-as-verifier").display().to_string();
    let cases = [
        (
            "signing_key = \"audit-signing.key\"",
            "signing_key = \"no-such.key\"".to_owned(),
            "audit.signing_key",
            "no-such.key",
        ),
        (
            "signing_key = \"audit-signing.key\"",
            "signing_key = \"audit-signing.vkey\"".to_owned(),
            "audit.signing_key",
            "PRIVATE+KEY+",
        ),
        (
            "verifier_keys = []",
            format!("verifier_keys = [{old:?}, {wrong:?}]"),
            "audit.verifier_keys[1]",
            "private-as-verifier",
        ),
        (
            "verifier_keys = []",
            "verifier_keys = [\"missing.vkey\"]".to_owned(),
            "audit.verifier_keys[0]",
            "missing.vkey",
        ),
        (
            "checkpoint_interval = \"1s\"",
            "checkpoint_interval = \"0s\"".to_owned(),
            "audit.checkpoint_interval",
            "greater than zero",
        ),
        (
            "origin = \"jjj12345.example/gateway-audit\"",
            "origin = \"two\\nlines\"".to_owned(),
            "audit.origin",
            "one line",
        ),
        (
            "origin = \"jjj12345.example/gateway-audit\"",
            "origin = \"\"".to_owned(),
            "audit.origin",
            "not a log origin",
        ),
        (
            "checkpoint_interval = \"1s\"",
            "checkpoint_every = \"1s\"".to_owned(),
            "audit.checkpoint_every",
            "unknown field",
        ),
    ];
    for (from, to, key, said) in cases {
        let err = demo_with(from, &to).unwrap_err();
        assert_eq!(err.key(), Some(key), "{to}: {err}");
        assert!(err.to_string().contains(said), "{to}: {err}");
        // A key never leaks into an error. (Its key material is everything
        // after `PRIVATE+KEY+name+hash+`: base64 may hold '+' itself, so a
        // split at the last '+' could leave a fragment of two letters that
        // any message may contain.)
        let material = private.trim().splitn(5, '+').nth(4).unwrap();
        assert!(material.len() > 20, "{private}");
        assert!(!err.to_string().contains(material), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn old_verifier_keys_are_kept_after_a_rotation() {
    let dir = temp_dir("rotation");
    let (old_private, old_verifier) = Signer::generate(crate::certs::AUDIT_KEY_NAME).unwrap();
    std::fs::write(dir.join("old.vkey"), format!("{old_verifier}\n")).unwrap();
    let old = dir.join("old.vkey").display().to_string();
    let audit = demo_with("verifier_keys = []", &format!("verifier_keys = [{old:?}]"))
        .unwrap()
        .audit
        .unwrap();
    assert_eq!(audit.verifiers.len(), 2);
    let cp = Checkpoint {
        origin: audit.origin.clone(),
        size: 9,
        root: [9; 32],
    };
    let old_note = Signer::parse(&old_private).unwrap().sign(&cp);
    let (got, _) = verify(&old_note, &audit.verifiers).unwrap();
    assert_eq!(got, cp);
    assert!(verify(&audit.signer.sign(&cp), &audit.verifiers).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
