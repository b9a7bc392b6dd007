//! The write-ahead log is copied into the database file by the
//! checkpointer, beside the writer, while the store keeps running.

use super::*;

/// Pages of the database file itself (the WAL's pages not counted).
fn db_pages(db: &Path) -> u64 {
    std::fs::metadata(db).unwrap().len() / 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpointer_copies_the_log_while_the_store_runs() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let ticket = sample_ticket();
    let before = db_pages(&dir.db());
    // One commit per submission, each a dozen pages or more: well past
    // the checkpointer's 8,000 frames.
    for i in 0..1000 {
        created(
            store
                .submit(new_handoff(&ticket, &format!("BJ{i:04}"), "hb-131000"))
                .await
                .unwrap(),
        );
    }
    let wal = dir.0.join("gateway.db-wal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db_pages(&dir.db()) <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was checkpointed: the database file still has {before} pages, the WAL {} bytes",
            std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(store);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM handoffs"), 1000);
}

/// Under commits that never pause, the log still starts again from its
/// first frame instead of growing without end: the writer copies what
/// the checkpointer has left once the log reaches its ceiling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_starts_again_under_commits_that_never_pause() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let ticket = sample_ticket();
    let wal = dir.0.join("gateway.db-wal");
    let frame = 4096 + 24;
    let ceiling = u64::try_from(crate::store::sqlite::WAL_CEILING_FRAMES).unwrap() * frame;
    // Past the ceiling's worth of frames (each submission writes a dozen
    // pages or more): without the writer's copy, 256 MB.
    for i in 0..4000 {
        created(
            store
                .submit(new_handoff(&ticket, &format!("BJ{i:05}"), "hb-131000"))
                .await
                .unwrap(),
        );
    }
    // A commit's frames at most beyond the ceiling: the file is reused
    // from its start, never cut.
    let size = std::fs::metadata(&wal).unwrap().len();
    assert!(
        size <= ceiling + 64 * frame,
        "the WAL grew to {size} bytes (ceiling {ceiling})"
    );
    drop(store);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM handoffs"), 4000);
}
