//! Sign-in sessions of the web inbox and their CSRF tokens.
//!
//! A session cookie holds `unit id`, liaison name and expiry, signed with
//! HMAC-SHA-256 under a key drawn at random when the process starts (a
//! restart signs everyone out). The CSRF token of a session is the HMAC of
//! the session's value under the same key, so it needs no server state.
//!
//! The sign-in form, used before there is a session, is protected by a
//! signed double submit: showing the form sets the `pu_login` cookie to a
//! fresh nonce (its expiry and 16 random bytes) and puts the HMAC of the
//! nonce in a hidden field; a sign-in is taken only when the field is the
//! HMAC of the cookie's nonce and the nonce has not expired. Another site
//! can neither read the field nor set the cookie (`Secure`,
//! `SameSite=Strict`), so it cannot sign a liaison's browser in to an
//! account of its choosing (login CSRF).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The session cookie's name.
pub const COOKIE: &str = "pu_session";

/// How long a sign-in lasts, in seconds (a working day and then some).
pub const LIFETIME_SECS: i64 = 12 * 3600;

/// The pre-sign-in cookie's name.
pub const LOGIN_COOKIE: &str = "pu_login";

/// How long a shown sign-in form can be submitted, in seconds.
pub const LOGIN_LIFETIME_SECS: i64 = 3600;

/// The process's signing key; `None` when the system could not supply
/// randomness (then nobody can sign in with a token).
fn key() -> Option<&'static hmac::Key> {
    static KEY: OnceLock<Option<hmac::Key>> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).ok()?;
        Some(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
    })
    .as_ref()
}

/// A signed-in liaison, as the cookie says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The property unit's partner id.
    pub unit: String,
    /// The liaison's configured name.
    pub name: String,
    /// Unix seconds after which the session is no longer valid.
    pub expires: i64,
}

/// The cookie value for `claims`: `payload.tag`, both base64url.
pub fn issue(claims: &Claims) -> Option<String> {
    let payload = format!(
        "v1\n{}\n{}\n{}",
        claims.unit,
        claims.expires,
        B64.encode(claims.name.as_bytes())
    );
    let tag = hmac::sign(key()?, payload.as_bytes());
    Some(format!(
        "{}.{}",
        B64.encode(payload.as_bytes()),
        B64.encode(tag.as_ref())
    ))
}

/// The claims of a cookie value whose signature holds and which has not
/// expired at `now` (unix seconds).
pub fn verify(value: &str, now: i64) -> Option<Claims> {
    let (payload, tag) = value.split_once('.')?;
    let payload = B64.decode(payload).ok()?;
    let tag = B64.decode(tag).ok()?;
    hmac::verify(key()?, &payload, &tag).ok()?;
    let text = String::from_utf8(payload).ok()?;
    let mut parts = text.split('\n');
    if parts.next()? != "v1" {
        return None;
    }
    let unit = parts.next()?.to_owned();
    let expires: i64 = parts.next()?.parse().ok()?;
    let name = String::from_utf8(B64.decode(parts.next()?).ok()?).ok()?;
    if parts.next().is_some() || expires <= now {
        return None;
    }
    Some(Claims {
        unit,
        name,
        expires,
    })
}

/// The CSRF token bound to a session: for a cookie session its value, for
/// a certificate the unit (`cert:` + id).
pub fn csrf_token(session: &str) -> String {
    match key() {
        Some(key) => {
            let tag = hmac::sign(key, format!("csrf\n{session}").as_bytes());
            B64.encode(tag.as_ref())
        }
        // Without a key nothing verifies, so no form is accepted.
        None => String::new(),
    }
}

/// Whether `token` is the CSRF token of `session` (constant time).
pub fn csrf_ok(session: &str, token: &str) -> bool {
    let (Some(key), Ok(tag)) = (key(), B64.decode(token)) else {
        return false;
    };
    hmac::verify(key, format!("csrf\n{session}").as_bytes(), &tag).is_ok()
}

/// A fresh sign-in nonce valid until `now` + [`LOGIN_LIFETIME_SECS`]:
/// `expires.random`; `None` without randomness (nobody can sign in then).
pub fn login_nonce(now: i64) -> Option<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(format!(
        "{}.{}",
        now + LOGIN_LIFETIME_SECS,
        B64.encode(bytes)
    ))
}

/// The hidden field of the sign-in form shown with `nonce`.
pub fn login_token(nonce: &str) -> String {
    match key() {
        Some(key) => B64.encode(hmac::sign(key, format!("login\n{nonce}").as_bytes()).as_ref()),
        None => String::new(),
    }
}

/// Whether `token` is the field of `nonce` and the nonce is still valid at
/// `now` (constant time).
pub fn login_ok(nonce: &str, token: &str, now: i64) -> bool {
    let fresh = nonce
        .split_once('.')
        .and_then(|(expires, _)| expires.parse::<i64>().ok())
        .is_some_and(|expires| expires > now);
    let (Some(key), Ok(tag)) = (key(), B64.decode(token)) else {
        return false;
    };
    fresh && hmac::verify(key, format!("login\n{nonce}").as_bytes(), &tag).is_ok()
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "session_tests.rs"]
mod tests;
