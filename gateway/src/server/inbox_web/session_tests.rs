//! Tests of the parent module.

use super::*;

#[test]
fn a_session_round_trips_and_expires() {
    let claims = Claims {
        unit: "pu-military-001".into(),
        name: "赵永刚".into(),
        expires: 2000,
    };
    let value = issue(&claims).unwrap();
    assert_eq!(verify(&value, 1999), Some(claims));
    assert_eq!(verify(&value, 2000), None);
}

#[test]
fn a_changed_session_does_not_verify() {
    let value = issue(&Claims {
        unit: "pu-central-001".into(),
        name: "李".into(),
        expires: 2000,
    })
    .unwrap();
    let (payload, tag) = value.split_once('.').unwrap();
    let forged = B64.encode(
        String::from_utf8(B64.decode(payload).unwrap())
            .unwrap()
            .replace("pu-central-001", "pu-military-001"),
    );
    assert_eq!(verify(&format!("{forged}.{tag}"), 0), None);
    assert_eq!(verify("garbage", 0), None);
}

#[test]
fn csrf_tokens_are_bound_to_the_session() {
    let t = csrf_token("a");
    assert!(csrf_ok("a", &t));
    assert!(!csrf_ok("b", &t));
    assert!(!csrf_ok("a", ""));
}

#[test]
fn cookies_are_found_by_name() {
    assert_eq!(cookie("x=1; pu_session=abc.def", COOKIE), Some("abc.def"));
    assert_eq!(cookie("x=1", COOKIE), None);
}

#[test]
fn a_login_nonce_needs_its_own_field_and_expires() {
    let nonce = login_nonce(1000).unwrap();
    let field = login_token(&nonce);
    assert!(login_ok(&nonce, &field, 1000));
    assert!(!login_ok(&nonce, &field, 1000 + LOGIN_LIFETIME_SECS));
    let other = login_nonce(1000).unwrap();
    assert_ne!(nonce, other);
    assert!(!login_ok(&other, &field, 1000));
    assert!(!login_ok(&nonce, "", 1000));
    // A session's CSRF token is not a sign-in field, and the expiry is
    // covered by the signature.
    assert!(!login_ok(&nonce, &csrf_token(&nonce), 1000));
    let (_, random) = nonce.split_once('.').unwrap();
    assert!(!login_ok(&format!("99999999.{random}"), &field, 1000));
}
