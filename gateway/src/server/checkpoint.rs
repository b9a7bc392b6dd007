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
//! Cost: the signer keeps the tree it signed last as a compact range (one
//! hash per set bit of its size) and extends it with the new leaves, so a
//! round reads and hashes only the events added since: O(new events). The
//! leaf hashes of signed events are read again and the old root recomputed
//! (O(n)) when the signer starts, when the latest checkpoint is not the one
//! it signed (another process signed), and every [`FULL_CHECK_EVERY`]: a
//! signed leaf hash changed behind the gateway's back is found within that
//! time (before, every round read all of them: at 300,000 events a day,
//! 100 MB a second at the demo's interval within a year). The consistency
//! of a new tree with the old one holds by construction: the new root is
//! computed from the old tree's own subtrees.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::App;
use crate::audit::merkle;
use crate::audit::note::{self, Checkpoint};
use crate::config::AuditConfig;
use crate::store::{Store, StoreError};

/// Events read at a time when checking new leaves.
const PAGE: usize = 1000;
/// How often the signer reads every signed leaf hash again and checks the
/// latest checkpoint's root over them.
pub const FULL_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The tree of the latest checkpoint, as the signer signed or checked it.
#[derive(Clone, Debug, Default)]
pub struct SignedTree(merkle::CompactRange);

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
/// one; returns its size, or `None` when there was nothing new. `signed` is
/// the tree of the latest checkpoint as this signer last left it: when it
/// matches the stored checkpoint only the new events are read, otherwise
/// (`None`, or another size or root) every signed leaf hash is read and
/// checked first. It is updated to the new checkpoint's tree.
pub async fn checkpoint_once(
    store: &impl Store,
    audit: &AuditConfig,
    signed: &mut Option<SignedTree>,
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
    let new_leaves = check_new_leaves(store, old_size, size).await?;
    let mut tree = match signed.take() {
        Some(SignedTree(range))
            if range.size() == old_size && old_root.is_none_or(|r| r == range.root()) =>
        {
            range
        }
        _ => signed_tree(store, old_size, old_root).await?,
    };
    new_leaves.into_iter().for_each(|leaf| tree.push(leaf));
    let root = tree.root();
    let checkpoint = Checkpoint {
        origin: audit.origin.clone(),
        size,
        root,
    };
    let note = audit.signer.sign(&checkpoint);
    store
        .record_checkpoint(size, root, note, audit.signer.name().to_owned())
        .await?;
    *signed = Some(SignedTree(tree));
    Ok(Some(size))
}

/// The tree of the first `old_size` events from their stored leaf hashes,
/// after checking that its root is the signed `old_root`.
async fn signed_tree(
    store: &impl Store,
    old_size: u64,
    old_root: Option<merkle::Hash>,
) -> Result<merkle::CompactRange, CheckpointError> {
    let hashes = store.leaf_hashes(old_size).await?;
    tokio::task::spawn_blocking(move || {
        if u64::try_from(hashes.len()).ok() != Some(old_size) {
            return Err(CheckpointError::Inconsistent(format!(
                "{} leaf hashes for the {old_size} events of the latest checkpoint",
                hashes.len()
            )));
        }
        let tree = merkle::CompactRange::of(&hashes);
        if let Some(old_root) = old_root
            && tree.root() != old_root
        {
            return Err(CheckpointError::Inconsistent(format!(
                "the first {old_size} leaves no longer have the signed root: an event up to \
                 {old_size} was changed, removed, reordered or inserted"
            )));
        }
        Ok(tree)
    })
    .await
    .map_err(|e| CheckpointError::Task(e.to_string()))?
}

/// Checks that events `from + 1 ..= to` follow each other and hash to
/// their stored leaf hashes; returns those hashes.
async fn check_new_leaves(
    store: &impl Store,
    from: u64,
    to: u64,
) -> Result<Vec<merkle::Hash>, CheckpointError> {
    let mut hashes = Vec::with_capacity(usize::try_from(to - from).unwrap_or(0));
    let mut next = from + 1;
    while next <= to {
        let want = usize::try_from(to - next + 1).unwrap_or(PAGE).min(PAGE);
        let page = store.audit_entries(next, want).await?;
        // Rehashing a page takes milliseconds: off the runtime's workers,
        // where it held back the receipts queued behind it.
        let (checked, after) = tokio::task::spawn_blocking(move || check_page(page, next, to))
            .await
            .map_err(|e| CheckpointError::Task(e.to_string()))??;
        hashes.extend(checked);
        next = after;
    }
    Ok(hashes)
}

/// Checks one page of events starting at `next` (up to `to`); returns their
/// leaf hashes and the next sequence number.
fn check_page(
    page: Vec<crate::store::EventRecord>,
    mut next: u64,
    to: u64,
) -> Result<(Vec<merkle::Hash>, u64), CheckpointError> {
    if page.is_empty() {
        return Err(CheckpointError::Inconsistent(format!(
            "event {next} is missing"
        )));
    }
    let mut hashes = Vec::with_capacity(page.len());
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
        hashes.push(event.leaf_hash);
        next += 1;
        if next > to {
            break;
        }
    }
    Ok((hashes, next))
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
    let mut signed = None;
    let mut last_full_check: Option<tokio::time::Instant> = None;
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.changed() => true,
        };
        // Forgetting the tree makes the next signing read every signed
        // leaf hash again: on the first round, then every FULL_CHECK_EVERY.
        if last_full_check.is_none_or(|at| at.elapsed() >= FULL_CHECK_EVERY) {
            signed = None;
            last_full_check = Some(tokio::time::Instant::now());
        }
        match checkpoint_once(app.store.as_ref(), &audit, &mut signed).await {
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
