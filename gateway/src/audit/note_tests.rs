//! Tests of the parent module.

use super::*;

#[test]
fn a_signed_checkpoint_verifies_with_its_key_and_only_with_it() {
    let (private, verifier) = Signer::generate("jjj12345.example/gateway").unwrap();
    let signer = Signer::parse(&private).unwrap();
    assert_eq!(signer.verifier(), verifier);
    let cp = Checkpoint {
        origin: "jjj12345.example/gateway".into(),
        size: 42,
        root: crate::audit::merkle::leaf_hash(b"x"),
    };
    let note = signer.sign(&cp);
    assert!(note.starts_with("jjj12345.example/gateway\n42\n"));
    assert!(note.contains("\n\n\u{2014} jjj12345.example/gateway "));
    let key = Verifier::parse(&verifier).unwrap();
    assert_eq!(
        verify(&note, std::slice::from_ref(&key)).unwrap(),
        (cp.clone(), "jjj12345.example/gateway".to_owned())
    );

    // Another key, a changed body, a changed signature: refused.
    let (_, other) = Signer::generate("jjj12345.example/gateway").unwrap();
    assert_eq!(
        verify(&note, &[Verifier::parse(&other).unwrap()]),
        Err(NoteError::Unverified)
    );
    let forged = note.replacen("\n42\n", "\n43\n", 1);
    assert_eq!(
        verify(&forged, std::slice::from_ref(&key)),
        Err(NoteError::Unverified)
    );
    let sig_at = note.rfind(' ').unwrap() + 1;
    let mut bad = note.clone().into_bytes();
    bad[sig_at + 10] = if bad[sig_at + 10] == b'A' { b'B' } else { b'A' };
    assert!(verify(&String::from_utf8(bad).unwrap(), &[key]).is_err());
}

#[test]
fn keys_with_a_wrong_hash_or_algorithm_are_refused() {
    let (private, verifier) = Signer::generate("log").unwrap();
    let broken = verifier.replacen("+", "+0", 1);
    assert!(Verifier::parse(&broken).is_err());
    assert!(Signer::parse(&private.replace("PRIVATE+KEY+log", "PRIVATE+KEY+other")).is_err());
    assert!(Signer::generate("bad name").is_err());
}

#[test]
fn go_note_keys_are_read() {
    // A verifier key in the format golang.org/x/mod/sumdb/note prints:
    // name+hash+base64(0x01 || 32-byte public key).
    let (_, verifier) = Signer::generate("sum.golang.org").unwrap();
    let parts: Vec<&str> = verifier.splitn(3, '+').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[1].len(), 8);
    assert!(Verifier::parse(&verifier).is_ok());
}
