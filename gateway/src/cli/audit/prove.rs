//! `gateway audit prove`: a hand-off's events with their inclusion proofs
//! against the latest checkpoint.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

use crate::audit::merkle::{self, Hash};
use crate::store::{SqliteStore, Store};

/// What `gateway audit prove` prints.
#[derive(Serialize)]
pub(super) struct Proof {
    handoff_id: String,
    /// The latest checkpoint, or `None` when none is signed yet.
    checkpoint: Option<ProvedCheckpoint>,
    events: Vec<ProvedEvent>,
}

#[derive(Serialize)]
struct ProvedCheckpoint {
    size: u64,
    /// Base64, as in the note.
    root: String,
    /// The signed note.
    note: String,
}

#[derive(Serialize)]
struct ProvedEvent {
    seq: u64,
    /// Leaf index in the tree: `seq - 1`.
    index: u64,
    kind: String,
    /// The leaf bytes (canonical JSON, UTF-8).
    leaf: String,
    /// `SHA-256(0x00 || leaf)`, hex.
    leaf_hash: String,
    /// The audit path from the leaf to the checkpoint's root (hex, RFC
    /// 9162 order); `None` when the event is newer than the checkpoint.
    inclusion_proof: Option<Vec<String>>,
}

/// The proofs of hand-off `id`'s events against the latest checkpoint.
pub(super) async fn prove(store: &SqliteStore, id: &str) -> Result<Proof, String> {
    let events = store.events(id).await.map_err(|e| e.to_string())?;
    if events.is_empty()
        && store
            .handoff(id)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
    {
        return Err(format!("no hand-off {id}"));
    }
    let latest = store.latest_checkpoint().await.map_err(|e| e.to_string())?;
    let hashes: Vec<Hash> = match &latest {
        Some(cp) => {
            let hashes = store
                .leaf_hashes(cp.size)
                .await
                .map_err(|e| e.to_string())?;
            let root = merkle::root(&hashes);
            if u64::try_from(hashes.len()).ok() != Some(cp.size) || root != cp.root {
                return Err(format!(
                    "the store's leaf hashes do not give the root of its latest checkpoint \
                     (size {}): the store was changed; run `gateway audit verify` on an export",
                    cp.size
                ));
            }
            hashes
        }
        None => {
            eprintln!("note: no checkpoint is signed yet, so no event can be proven");
            Vec::new()
        }
    };
    let mut proved = Vec::with_capacity(events.len());
    for event in events {
        let leaf = event.leaf_bytes();
        let leaf_hash = merkle::leaf_hash(&leaf);
        if leaf_hash != event.leaf_hash {
            return Err(format!(
                "event {}: its stored leaf hash does not match its content: the store was \
                 changed; run `gateway audit verify` on an export",
                event.seq
            ));
        }
        let index = event.seq.saturating_sub(1);
        let inclusion_proof = match usize::try_from(index) {
            Ok(i) if i < hashes.len() => Some(
                merkle::inclusion_proof(&hashes, i)
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(hex::encode)
                    .collect(),
            ),
            _ => None,
        };
        proved.push(ProvedEvent {
            seq: event.seq,
            index,
            kind: event.kind.as_str().to_owned(),
            leaf_hash: hex::encode(leaf_hash),
            leaf: String::from_utf8_lossy(&leaf).into_owned(),
            inclusion_proof,
        });
    }
    Ok(Proof {
        handoff_id: id.to_owned(),
        checkpoint: latest.map(|cp| ProvedCheckpoint {
            size: cp.size,
            root: B64.encode(cp.root),
            note: cp.note,
        }),
        events: proved,
    })
}
