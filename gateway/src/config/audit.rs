//! `[audit]`: the audit log's identity and its checkpoint signing key.
//! Optional: without it the gateway still records every event with its
//! leaf hash, but signs no checkpoints (and `/audit/v1/checkpoint` answers
//! 503).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::build::Problem;
use super::{defaults, duration};
use crate::audit::note::{Signer, Verifier};

/// `[audit]`, validated, with its key files read.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// `origin`: the log's name, the first line of every checkpoint
    /// (default `jjj12345.example/gateway-audit`).
    pub origin: String,
    /// `signing_key`: the file the key was read from.
    pub signing_key_path: PathBuf,
    /// The checkpoint signing key (its `Debug` shows only its name).
    pub signer: Arc<Signer>,
    /// The keys a checkpoint of this log may be signed by: the signing
    /// key's own verifier first, then `verifier_keys` (old keys, after a
    /// rotation), in file order.
    pub verifiers: Vec<Verifier>,
    /// `checkpoint_interval`: how often a checkpoint is signed when the
    /// log has grown (default 10s).
    pub checkpoint_interval: Duration,
}

/// `[audit]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    #[serde(default = "defaults::audit_origin")]
    origin: String,
    signing_key: PathBuf,
    #[serde(default)]
    verifier_keys: Vec<PathBuf>,
    #[serde(
        default = "defaults::checkpoint_interval",
        deserialize_with = "duration::deserialize"
    )]
    checkpoint_interval: Duration,
}

/// The longest origin line accepted.
const MAX_ORIGIN: usize = 256;

fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    (key.into(), message.into())
}

/// Reads a key file named by `key` (relative to `base`).
fn read_key_file(base: &Path, path: &Path, key: &str) -> Result<(PathBuf, String), Problem> {
    let full = base.join(path);
    let text = std::fs::read_to_string(&full)
        .map_err(|e| problem(key, format!("cannot read {}: {e}", full.display())))?;
    Ok((full, text))
}

/// Checks `[audit]` and reads its keys.
pub(super) fn build(raw: RawAudit, base: &Path) -> Result<AuditConfig, Problem> {
    if raw.origin.is_empty()
        || raw.origin.len() > MAX_ORIGIN
        || raw.origin.trim() != raw.origin
        || raw.origin.chars().any(char::is_control)
    {
        return Err(problem(
            "audit.origin",
            format!(
                "{:?} is not a log origin: 1 to {MAX_ORIGIN} bytes on one line, without \
                 leading or trailing spaces (e.g. \"jjj12345.example/gateway-audit\")",
                raw.origin
            ),
        ));
    }
    let (signing_key_path, text) = read_key_file(base, &raw.signing_key, "audit.signing_key")?;
    let signer = Signer::parse(&text).map_err(|e| {
        problem(
            "audit.signing_key",
            format!(
                "{}: {e} (expected one note signing key, PRIVATE+KEY+name+hash+key)",
                signing_key_path.display()
            ),
        )
    })?;
    let own = Verifier::parse(&signer.verifier())
        .map_err(|e| problem("audit.signing_key", e.to_string()))?;
    let mut verifiers = vec![own];
    for (i, path) in raw.verifier_keys.iter().enumerate() {
        let key = format!("audit.verifier_keys[{i}]");
        let (full, text) = read_key_file(base, path, &key)?;
        let verifier = Verifier::parse(&text).map_err(|e| {
            problem(
                key.as_str(),
                format!(
                    "{}: {e} (expected one note verifier key, name+hash+key)",
                    full.display()
                ),
            )
        })?;
        if !verifiers.contains(&verifier) {
            verifiers.push(verifier);
        }
    }
    Ok(AuditConfig {
        origin: raw.origin,
        signing_key_path,
        signer: Arc::new(signer),
        verifiers,
        checkpoint_interval: raw.checkpoint_interval,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "audit_tests.rs"]
mod tests;
