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
