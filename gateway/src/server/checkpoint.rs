//! The checkpoint signer: every `[audit] checkpoint_interval`, when the log
//! has grown, it signs a checkpoint (C2SP tlog-checkpoint) of the whole
//! log, but only after checking that the log still extends the latest
//! signed checkpoint. A log that does not (an event up to the old size was
//! changed, removed or reordered behind the gateway's back) is never
//! signed: the signer logs the tampering and stops for good, so the last
//! good checkpoint stays the latest one served.
//!
//! Checked before each signature:
//! - the log has not shrunk below the latest checkpoint's size;
//! - the latest checkpoint's note verifies with the configured keys and
//!   names the size and root stored beside it;
//! - every event added since then hashes to the leaf hash stored with it,
//!   and the sequence numbers have no gap;
//! - the root of the first `old size` leaves is the old root, and the
//!   RFC 9162 consistency proof from the old tree to the new one verifies.
//!
//! Events already signed are covered through their leaf hashes (the root
//! check); a change to an old event's content that leaves its stored hash
//! alone is found by `gateway audit verify` and by anyone who rehashes the
//! leaf served by `/audit/v1/handoffs/{id}`.
//!
//! Cost: every checkpoint reads all leaf hashes (32 bytes per event) and
//! rehashes the tree, O(n) per interval; fine for millions of events,
//! to be made incremental (stored subtree roots) if the log grows larger.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::App;
use crate::audit::merkle::{self, Hash};
use crate::audit::note::{self, Checkpoint};
use crate::config::AuditConfig;
use crate::store::{Store, StoreError};

/// Events read at a time when checking new leaves.
const PAGE: usize = 1000;

/// Why no checkpoint was signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The store could not be read or written; the next round retries.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log is not consistent with what was signed before: tampering.
    /// Nothing is signed any more.
    #[error("the audit log is not consistent with its latest signed checkpoint: {0}")]
    Inconsistent(String),
    /// A hashing task failed.
    #[error("checkpoint task failed: {0}")]
    Task(String),
}

/// Signs a checkpoint of the whole log when it has grown since the latest
/// one; returns its size, or `None` when there was nothing new.
pub async fn checkpoint_once(
    store: &impl Store,
    audit: &AuditConfig,
) -> Result<Option<u64>, CheckpointError> {
    let size = store.audit_size().await?;
    let previous = store.latest_checkpoint().await?;
    let (old_size, old_root) = match &previous {
        Some(p) => (p.size, Some(p.root)),
        None => (0, None),
    };
    if size < old_size {
        return Err(CheckpointError::Inconsistent(format!(
            "the log has {size} events, fewer than the {old_size} of the latest checkpoint"
        )));
    }
    if size == old_size {
        return Ok(None);
    }
    if let Some(p) = &previous {
        let (signed, _) = note::verify(&p.note, &audit.verifiers).map_err(|e| {
            CheckpointError::Inconsistent(format!(
                "the checkpoint of size {} does not verify ({e}): it was altered, or the key \
                 that signed it is missing from audit.verifier_keys",
                p.size
            ))
        })?;
        if signed.size != p.size || signed.root != p.root {
            return Err(CheckpointError::Inconsistent(format!(
                "the stored size or root of the checkpoint of size {} is not the signed one",
                p.size
            )));
        }
    }
    check_new_leaves(store, old_size, size).await?;
    let hashes = store.leaf_hashes(size).await?;
    let root =
        tokio::task::spawn_blocking(move || consistent_root(&hashes, size, old_size, old_root))
            .await
            .map_err(|e| CheckpointError::Task(e.to_string()))??;
    let checkpoint = Checkpoint {
        origin: audit.origin.clone(),
        size,
        root,
    };
    let note = audit.signer.sign(&checkpoint);
    store
        .record_checkpoint(size, root, note, audit.signer.name().to_owned())
        .await?;
    Ok(Some(size))
}

/// Checks that events `from + 1 ..= to` follow each other and hash to
/// their stored leaf hashes.
async fn check_new_leaves(store: &impl Store, from: u64, to: u64) -> Result<(), CheckpointError> {
    let mut next = from + 1;
    while next <= to {
        let want = usize::try_from(to - next + 1).unwrap_or(PAGE).min(PAGE);
        let page = store.audit_entries(next, want).await?;
        if page.is_empty() {
            return Err(CheckpointError::Inconsistent(format!(
                "event {next} is missing"
            )));
        }
        for event in page {
            if event.seq != next {
                return Err(CheckpointError::Inconsistent(format!(
                    "event {next} is missing (the next one is {})",
                    event.seq
                )));
            }
            if merkle::leaf_hash(&event.leaf_bytes()) != event.leaf_hash {
                return Err(CheckpointError::Inconsistent(format!(
                    "event {next} does not hash to the leaf hash recorded with it"
                )));
            }
            next += 1;
            if next > to {
                break;
            }
        }
    }
    Ok(())
}

/// The root of `hashes` (`size` of them), after checking that its first
/// `old_size` leaves still have `old_root` and that the consistency proof
/// between the two trees verifies.
fn consistent_root(
    hashes: &[Hash],
    size: u64,
    old_size: u64,
    old_root: Option<Hash>,
) -> Result<Hash, CheckpointError> {
    if u64::try_from(hashes.len()).ok() != Some(size) {
        return Err(CheckpointError::Inconsistent(format!(
            "{} leaf hashes for a log of {size} events",
            hashes.len()
        )));
    }
    let root = merkle::root(hashes);
    if let Some(old_root) = old_root {
        let old = usize::try_from(old_size).unwrap_or(usize::MAX);
        let prefix = hashes.get(..old).ok_or_else(|| {
            CheckpointError::Inconsistent(format!("the log is shorter than {old_size}"))
        })?;
        if merkle::root(prefix) != old_root {
            return Err(CheckpointError::Inconsistent(format!(
                "the first {old_size} leaves no longer have the signed root: an event up to \
                 {old_size} was changed, removed, reordered or inserted"
            )));
        }
        let proof = merkle::consistency_proof(hashes, old)
            .map_err(|e| CheckpointError::Inconsistent(e.to_string()))?;
        merkle::verify_consistency(old_size, size, &old_root, &root, &proof).map_err(|e| {
            CheckpointError::Inconsistent(format!(
                "the consistency proof from {old_size} to {size} fails: {e}"
            ))
        })?;
    }
    Ok(root)
}

/// Signs checkpoints every `checkpoint_interval` until shutdown (and once
/// more then, so the last events are covered). Without `[audit]` it does
/// nothing. Stops for good when tampering is detected.
pub async fn run(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let Some(audit) = app.config.audit.clone() else {
        tracing::warn!("no [audit] signing key configured: audit checkpoints are not signed");
        return;
    };
    let mut tick = tokio::time::interval(audit.checkpoint_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.changed() => true,
        };
        match checkpoint_once(app.store.as_ref(), &audit).await {
            Ok(Some(size)) => tracing::debug!(size, "audit checkpoint signed"),
            Ok(None) => {}
            Err(e @ CheckpointError::Inconsistent(_)) => {
                tracing::error!(
                    error = %e,
                    "AUDIT LOG TAMPERING DETECTED: checkpoint signing stopped; \
                     run `gateway audit verify` to find the first bad entry"
                );
                return;
            }
            Err(e) => tracing::error!(error = %e, "cannot sign an audit checkpoint"),
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "checkpoint_tests.rs"]
mod tests;
