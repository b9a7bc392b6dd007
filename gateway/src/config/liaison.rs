//! `liaison_tokens` of a property unit (`[[partners]]` of family pu-json):
//! the people who may sign in to the web inbox at `/pu/login` without the
//! unit's client certificate. Only the SHA-256 of each token is kept in
//! the configuration; make one with
//!
//! ```sh
//! token=$(openssl rand -base64 24)        # give this to the liaison
//! printf '%s' "$token" | sha256sum        # put this in token_sha256
//! ```

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// One liaison who may sign in with a token.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LiaisonToken {
    /// `name`: the liaison's name, shown in the inbox and recorded as who
    /// acted (`by`) in the status loop.
    pub name: String,
    /// `token_sha256`: lower-case hex SHA-256 of the token's UTF-8 bytes.
    pub token_sha256: String,
}

impl std::fmt::Debug for LiaisonToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiaisonToken")
            .field("name", &self.name)
            .field("token_sha256", &"[elided]")
            .finish()
    }
}

impl LiaisonToken {
    /// Whether `token` is this liaison's, compared in constant time.
    pub fn matches(&self, token: &str) -> bool {
        let digest = hex::encode(Sha256::digest(token.as_bytes()));
        digest.len() == self.token_sha256.len()
            && digest
                .bytes()
                .zip(self.token_sha256.bytes())
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0
    }
}

/// Checks a partner's liaison tokens: only property units have them, every
/// name is non-empty and every hash is 64 lower-case hex digits, distinct.
pub(super) fn check(
    tokens: &[LiaisonToken],
    is_unit: bool,
    key: impl Fn(&str) -> String,
) -> Result<(), (String, String)> {
    if !tokens.is_empty() && !is_unit {
        return Err((
            key("liaison_tokens"),
            "only property units (pu-json) have liaisons who sign in to the web inbox".into(),
        ));
    }
    for (j, t) in tokens.iter().enumerate() {
        let name = t.name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err((
                key(&format!("liaison_tokens[{j}].name")),
                "must be 1 to 64 characters without control characters".into(),
            ));
        }
        let h = &t.token_sha256;
        if h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err((
                key(&format!("liaison_tokens[{j}].token_sha256")),
                "must be the 64 lower-case hex digits of the token's SHA-256".into(),
            ));
        }
        if tokens[..j].iter().any(|o| o.token_sha256 == *h) {
            return Err((
                key(&format!("liaison_tokens[{j}].token_sha256")),
                "duplicate: two liaisons share a token".into(),
            ));
        }
    }
    Ok(())
}
