//! The checkpoint signer over a real store, with rows changed behind the
//! gateway's back through a second SQLite connection.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::audit::note::{Signer, Verifier};
use crate::store::SqliteStore;

struct Fixture {
    dir: PathBuf,
    store: SqliteStore,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = std::env::temp_dir().join(format!(
            "gateway-checkpoint-{}-{}",
            std::process::id(),
            ulid::Ulid::generate()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("gateway.db")).unwrap();
        Fixture { dir, store }
    }

    /// Appends `n` events.
    async fn grow(&self, n: usize) {
        for i in 0..n {
            self.store
                .record_config(format!("{i:064x}"), i, None)
                .await
                .unwrap();
        }
    }

    /// Runs SQL on the database behind the store's back.
    fn tamper(&self, sql: &str) {
        let conn = rusqlite::Connection::open(self.dir.join("gateway.db")).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        let changed = conn.execute(sql, []).unwrap();
        assert!(changed > 0, "{sql} changed nothing");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn audit_with(signer: Signer, old: &[Verifier]) -> AuditConfig {
    let mut verifiers = vec![Verifier::parse(&signer.verifier()).unwrap()];
    verifiers.extend_from_slice(old);
    AuditConfig {
        origin: "example.org/test-log".into(),
        signing_key_path: PathBuf::from("test.key"),
        signer: Arc::new(signer),
        verifiers,
        checkpoint_interval: Duration::from_secs(1),
    }
}

fn audit() -> AuditConfig {
    let (private, _) = Signer::generate("test-key").unwrap();
    audit_with(Signer::parse(&private).unwrap(), &[])
}

fn inconsistent(result: Result<Option<u64>, CheckpointError>) -> String {
    match result {
        Err(CheckpointError::Inconsistent(why)) => why,
        other => panic!("expected tampering to be detected, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_a_consistent_checkpoint_only_when_the_log_grew() {
    let f = Fixture::new();
    let audit = audit();
    assert_eq!(
        checkpoint_once(&f.store, &audit, &mut None).await.unwrap(),
        None
    );
    f.grow(3).await;
    assert_eq!(
        checkpoint_once(&f.store, &audit, &mut None).await.unwrap(),
        Some(3)
    );
    assert_eq!(
        checkpoint_once(&f.store, &audit, &mut None).await.unwrap(),
        None
    );

    let first = f.store.latest_checkpoint().await.unwrap().unwrap();
    let (cp, key) = note::verify(&first.note, &audit.verifiers).unwrap();
    assert_eq!(key, "test-key");
    assert_eq!(first.key_name, "test-key");
    assert_eq!(cp.origin, "example.org/test-log");
    assert_eq!(cp.size, 3);
    let hashes = f.store.leaf_hashes(3).await.unwrap();
    assert_eq!(cp.root, merkle::root(&hashes));
    assert_eq!(first.root, cp.root);

    f.grow(2).await;
    assert_eq!(
        checkpoint_once(&f.store, &audit, &mut None).await.unwrap(),
        Some(5)
    );
    let all = f.store.checkpoints().await.unwrap();
    assert_eq!(all.iter().map(|c| c.size).collect::<Vec<_>>(), [3, 5]);
    let hashes = f.store.leaf_hashes(5).await.unwrap();
    let proof = merkle::consistency_proof(&hashes, 3).unwrap();
    merkle::verify_consistency(3, 5, &all[0].root, &all[1].root, &proof).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_signed_leaf_stops_the_signing() {
    let f = Fixture::new();
    let audit = audit();
    f.grow(3).await;
    checkpoint_once(&f.store, &audit, &mut None).await.unwrap();
    f.tamper("UPDATE events SET leaf_hash = zeroblob(32) WHERE seq = 2");
    f.grow(1).await;
    let why = inconsistent(checkpoint_once(&f.store, &audit, &mut None).await);
    assert!(why.contains("first 3 leaves"), "{why}");
    assert_eq!(f.store.latest_checkpoint().await.unwrap().unwrap().size, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_new_event_is_never_signed() {
    let f = Fixture::new();
    let audit = audit();
    f.grow(2).await;
    checkpoint_once(&f.store, &audit, &mut None).await.unwrap();
    f.grow(2).await;
    f.tamper("UPDATE events SET detail_json = '{\"partners\":99}' WHERE seq = 4");
    let why = inconsistent(checkpoint_once(&f.store, &audit, &mut None).await);
    assert!(why.contains("event 4"), "{why}");
    assert_eq!(f.store.latest_checkpoint().await.unwrap().unwrap().size, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_events_are_found() {
    let f = Fixture::new();
    let audit = audit();
    f.grow(3).await;
    checkpoint_once(&f.store, &audit, &mut None).await.unwrap();
    f.grow(2).await;
    f.tamper("DELETE FROM events WHERE seq = 2");
    let why = inconsistent(checkpoint_once(&f.store, &audit, &mut None).await);
    assert!(why.contains("2 leaf hashes for the 3 events"), "{why}");

    // The newest signed event removed: the log shrinks below the checkpoint.
    let f = Fixture::new();
    f.grow(3).await;
    checkpoint_once(&f.store, &audit, &mut None).await.unwrap();
    f.tamper("DELETE FROM events WHERE seq = 3");
    let why = inconsistent(checkpoint_once(&f.store, &audit, &mut None).await);
    assert!(why.contains("fewer than the 3"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_checkpoint_row_is_found() {
    let f = Fixture::new();
    let audit = audit();
    f.grow(2).await;
    checkpoint_once(&f.store, &audit, &mut None).await.unwrap();
    f.tamper("UPDATE checkpoints SET root = zeroblob(32)");
    f.grow(1).await;
    let why = inconsistent(checkpoint_once(&f.store, &audit, &mut None).await);
    assert!(why.contains("not the signed one"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_needs_the_old_verifier() {
    let f = Fixture::new();
    let (old_private, old_verifier) = Signer::generate("key-2024").unwrap();
    let old = audit_with(Signer::parse(&old_private).unwrap(), &[]);
    f.grow(2).await;
    checkpoint_once(&f.store, &old, &mut None).await.unwrap();
    f.grow(1).await;

    let (new_private, _) = Signer::generate("key-2025").unwrap();
    let forgetful = audit_with(Signer::parse(&new_private).unwrap(), &[]);
    let why = inconsistent(checkpoint_once(&f.store, &forgetful, &mut None).await);
    assert!(why.contains("audit.verifier_keys"), "{why}");

    let rotated = audit_with(
        Signer::parse(&new_private).unwrap(),
        &[Verifier::parse(&old_verifier).unwrap()],
    );
    assert_eq!(
        checkpoint_once(&f.store, &rotated, &mut None)
            .await
            .unwrap(),
        Some(3)
    );
    let all = f.store.checkpoints().await.unwrap();
    let names: Vec<&str> = all.iter().map(|c| c.key_name.as_str()).collect();
    assert_eq!(names, ["key-2024", "key-2025"]);
    for c in &all {
        assert!(note::verify(&c.note, &rotated.verifiers).is_ok());
    }
}

/// The signer that keeps its tree reads only the new events, and its
/// roots are those of the whole log, round after round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kept_tree_grows_to_the_roots_of_the_whole_log() {
    let f = Fixture::new();
    let audit = audit();
    let mut signed = None;
    for (grow, size) in [(1, 1), (2, 3), (5, 8), (1, 9), (7, 16), (3, 19)] {
        f.grow(grow).await;
        assert_eq!(
            checkpoint_once(&f.store, &audit, &mut signed)
                .await
                .unwrap(),
            Some(size)
        );
        let latest = f.store.latest_checkpoint().await.unwrap().unwrap();
        let hashes = f.store.leaf_hashes(size).await.unwrap();
        assert_eq!(latest.root, merkle::root(&hashes), "size {size}");
    }
    let all = f.store.checkpoints().await.unwrap();
    let hashes = f.store.leaf_hashes(19).await.unwrap();
    for pair in all.windows(2) {
        let m = usize::try_from(pair[0].size).unwrap();
        let proof = merkle::consistency_proof(&hashes[..usize::try_from(pair[1].size).unwrap()], m)
            .unwrap();
        merkle::verify_consistency(
            pair[0].size,
            pair[1].size,
            &pair[0].root,
            &pair[1].root,
            &proof,
        )
        .unwrap();
    }
}

/// A checkpoint signed by someone else (another process on the store)
/// does not match the kept tree: the signer checks every leaf again. A
/// signed leaf hash changed behind its back is found by that full check;
/// the rounds in between never sign it (they extend the tree they hold).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_checkpoint_or_the_hourly_check_reads_every_leaf() {
    let f = Fixture::new();
    let audit = audit();
    let mut signed = None;
    f.grow(3).await;
    checkpoint_once(&f.store, &audit, &mut signed)
        .await
        .unwrap();
    f.grow(2).await;
    checkpoint_once(&f.store, &audit, &mut None).await.unwrap();
    f.grow(1).await;
    assert_eq!(
        checkpoint_once(&f.store, &audit, &mut signed)
            .await
            .unwrap(),
        Some(6)
    );
    let hashes = f.store.leaf_hashes(6).await.unwrap();
    let latest = f.store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.root, merkle::root(&hashes));

    f.tamper("UPDATE events SET leaf_hash = zeroblob(32) WHERE seq = 2");
    f.grow(1).await;
    assert_eq!(
        checkpoint_once(&f.store, &audit, &mut signed)
            .await
            .unwrap(),
        Some(7)
    );
    let latest = f.store.latest_checkpoint().await.unwrap().unwrap();
    let mut honest = hashes.clone();
    honest.push(f.store.leaf_hashes(7).await.unwrap()[6]);
    assert_eq!(
        latest.root,
        merkle::root(&honest),
        "the signed tree is the untampered one"
    );
    f.grow(1).await;
    let why = inconsistent(checkpoint_once(&f.store, &audit, &mut None).await);
    assert!(why.contains("first 7 leaves"), "{why}");
}
