//! The audit log's side of the store: leaf hashes in sequence, events for
//! export, signed checkpoints, and the configuration event.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::codec::{self, EVENT_COLUMNS, ms};
use super::write::Tx;
use crate::audit::merkle::Hash;
use crate::store::{CheckpointRecord, EventKind, EventRecord, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// The number of events (the tree size).
pub(super) fn size(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
    codec::seq(n)
}

/// The leaf hashes of events 1..=`upto`, in sequence.
pub(super) fn leaf_hashes(conn: &Connection, upto: u64) -> Result<Vec<Hash>> {
    let upto = i64::try_from(upto).unwrap_or(i64::MAX);
    let mut stmt =
        conn.prepare_cached("SELECT leaf_hash FROM events WHERE seq <= ?1 ORDER BY seq")?;
    let rows = stmt.query_map([upto], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|r| codec::hash(r?)).collect()
}

/// Events with `from <= seq`, in sequence, at most `limit`.
pub(super) fn entries(conn: &Connection, from: u64, limit: usize) -> Result<Vec<EventRecord>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq >= ?1 ORDER BY seq LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let from = i64::try_from(from).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![from, limit], |r| Ok(codec::event(r)))?;
    rows.map(|r| r?).collect()
}

fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Vec<u8>, String, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn checkpoint(row: (i64, Vec<u8>, String, String, i64)) -> Result<CheckpointRecord> {
    let (size, root, note, key_name, created_at) = row;
    Ok(CheckpointRecord {
        size: codec::seq(size)?,
        root: codec::hash(root)?,
        note,
        key_name,
        created_at: codec::time(created_at)?,
    })
}

/// Every checkpoint, oldest first.
pub(super) fn checkpoints(conn: &Connection) -> Result<Vec<CheckpointRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT size, root, note, key_name, created_at FROM checkpoints ORDER BY size",
    )?;
    let rows = stmt.query_map([], checkpoint_row)?;
    rows.map(|r| checkpoint(r?)).collect()
}

/// The newest checkpoint.
pub(super) fn latest_checkpoint(conn: &Connection) -> Result<Option<CheckpointRecord>> {
    conn.prepare_cached(
        "SELECT size, root, note, key_name, created_at FROM checkpoints ORDER BY size DESC LIMIT 1",
    )?
    .query_row([], checkpoint_row)
    .optional()?
    .map(checkpoint)
    .transpose()
}

/// Stores a signed checkpoint; refuses one that does not grow the tree.
pub(super) fn record_checkpoint(
    tx: &mut Tx<'_>,
    size: u64,
    root: Hash,
    note: String,
    key_name: String,
) -> Result<()> {
    let latest: i64 =
        tx.conn
            .query_row("SELECT COALESCE(MAX(size), 0) FROM checkpoints", [], |r| {
                r.get(0)
            })?;
    let size = i64::try_from(size).map_err(|_| StoreError::Corrupt("tree size".into()))?;
    if size <= latest {
        return Err(StoreError::Corrupt(format!(
            "a checkpoint of size {size} after one of size {latest}"
        )));
    }
    tx.conn
        .prepare_cached("INSERT INTO checkpoints (size, root, note, key_name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![size, root.to_vec(), note, key_name, ms(&tx.now)])?;
    Ok(())
}

/// Records that the gateway started with a configuration.
pub(super) fn record_config(
    tx: &mut Tx<'_>,
    sha256: String,
    partners: usize,
    signing_key: Option<String>,
) -> Result<u64> {
    tx.event(
        None,
        EventKind::ConfigLoaded,
        json!({"config_sha256": sha256, "partners": partners, "signing_key": signing_key}),
    )
}

/// Records a switch of emergency mode: `on`, `factor`, `by` (`reload` or
/// `operator`).
pub(super) fn record_emergency(tx: &mut Tx<'_>, on: bool, factor: f64, by: String) -> Result<u64> {
    tx.event(
        None,
        EventKind::EmergencyMode,
        json!({"on": on, "factor": factor, "by": by}),
    )
}
