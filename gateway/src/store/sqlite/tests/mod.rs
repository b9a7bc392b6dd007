//! The SQLite store against real files in a temporary directory, with the
//! real writer thread and a multi-thread runtime.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use adapters::Family;
use chrono::TimeDelta;
use schemas::{Status, StatusUpdate, Tables, Ticket, Timestamp};

use super::*;

mod flows;
mod lanes;
mod migrate;
mod plans;
mod wal;
mod writer;
use crate::lifecycle::{HandoffKind, Overdue, Refusal, Side, Verdict};
use crate::store::{
    DeliveryResult, EventKind, HandoffFilter, LaneStarts, MessageKind, NewHandoff, Notify,
    OutboxPayload, OutboxState, Outcome, Receipt, RefusedSubmission, Store, StoreError, Submitted,
    Taken,
};

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "gateway-store-{}-{}",
            std::process::id(),
            ulid::Ulid::generate()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("gateway.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CALLER_NAME: &str = "陈志强";
const CALLER_PHONE: &str = "13800138000";

/// The Beijing sample order, decoded: its caller is 陈志强, 13800138000.
fn sample_ticket() -> Ticket {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tables = Tables::load(&root.join("../schemas/data")).unwrap();
    let bytes =
        std::fs::read(root.join("../conformance-tests/samples/bj-json/order.json")).unwrap();
    let ticket = adapters::decode_ticket(Family::BjJson, &bytes, &tables).unwrap();
    assert_eq!(ticket.caller.name.as_deref(), Some(CALLER_NAME));
    assert_eq!(ticket.caller.phone.as_deref(), Some(CALLER_PHONE));
    ticket
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse_from_rfc3339(s).unwrap()
}

fn now() -> Timestamp {
    codec::clock().1
}

fn new_handoff(ticket: &Ticket, origin_ticket_id: &str, target: &str) -> NewHandoff {
    let mut ticket = ticket.clone();
    ticket.origin_ticket_id = origin_ticket_id.into();
    let received = now();
    NewHandoff {
        origin_partner: "bj12345".into(),
        origin_family: Family::BjJson,
        origin_ticket_id: origin_ticket_id.into(),
        target_partner: target.into(),
        target_family: Family::HbSoap,
        kind: HandoffKind::Transfer,
        urgency: ticket.urgency,
        ticket,
        raw_sha256: "ab".repeat(32),
        ack_by: received + TimeDelta::hours(2),
        resolve_by: received + TimeDelta::hours(24),
        now: received,
        trace_parent: None,
    }
}

fn created(s: Submitted) -> Receipt {
    match s {
        Submitted::Created(r) => r,
        other => panic!("expected a new hand-off, got {other:?}"),
    }
}

fn update(status: Status) -> StatusUpdate {
    StatusUpdate {
        handoff_id: None,
        ticket_id: Some("LF-1".into()),
        status,
        at: now(),
        by: Some("李工".into()),
        reason_code: None,
        comment: Some(format!("{} 备注", status.as_str())),
        satisfaction: None,
        extensions: Default::default(),
    }
}

fn origin() -> Option<Notify> {
    Some(Notify {
        partner: "bj12345".into(),
    })
}

/// Counts rows with a separate connection, as an operator would.
fn count(db: &Path, sql: &str) -> i64 {
    let conn = Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_returns_the_first_receipt_and_different_content_is_a_conflict() {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let ticket = sample_ticket();
    let first = created(
        store
            .submit(new_handoff(&ticket, "BJ1", "hb-131000"))
            .await
            .unwrap(),
    );

    // The same pair and content, even with new deadlines and raw bytes.
    let mut again = new_handoff(&ticket, "BJ1", "hb-131000");
    again.raw_sha256 = "cd".repeat(32);
    match store.submit(again).await.unwrap() {
        Submitted::Duplicate {
            first: receipt,
            audit_seq,
        } => {
            assert_eq!(receipt, first);
            assert!(audit_seq > first.audit_seq);
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }

    let mut changed = new_handoff(&ticket, "BJ1", "hb-131000");
    changed.ticket.description.push_str("（补充）");
    let conflict = store.submit(changed).await.unwrap();
    assert!(matches!(&conflict, Submitted::Conflict { first: r, .. } if *r == first));
    assert_eq!(conflict.receipt(), &first);

    // One hand-off, its ticket unchanged, one outbox row; both repeats
    // recorded as events.
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM handoffs"), 1);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM outbox"), 1);
    let record = store.handoff(&first.handoff_id).await.unwrap().unwrap();
    assert_eq!(record.ticket.description, ticket.description);
    assert_eq!(
        record.ticket.handoff_id.as_deref(),
        Some(first.handoff_id.as_str())
    );
    assert_eq!(record.state, Status::Received);
    let kinds: Vec<_> = store
        .events(&first.handoff_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::Received,
            EventKind::Duplicate,
            EventKind::Conflict
        ]
    );
    let history = store.history(&first.handoff_id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].status, history[0].side, history[0].outcome),
        (Status::Received, Side::Gateway, Outcome::Applied)
    );

    // Another origin may use the same ticket id.
    let mut other = new_handoff(&ticket, "BJ1", "hb-131000");
    other.origin_partner = "tj12345".into();
    let second = created(store.submit(other).await.unwrap());
    assert!(second.handoff_id > first.handoff_id);
}

/// Submits through the trait only, from a spawned task: the trait's
/// futures are `Send` for any implementation.
fn spawn_submit<S: Store>(
    store: Arc<S>,
    new: NewHandoff,
) -> tokio::task::JoinHandle<std::result::Result<Submitted, StoreError>> {
    tokio::spawn(async move { store.submit(new).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_share_commits() {
    let dir = TempDir::new();
    let store = Arc::new(SqliteStore::open(&dir.db()).unwrap());
    let ticket = Arc::new(sample_ticket());
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let store = Arc::clone(&store);
            let ticket = Arc::clone(&ticket);
            spawn_submit(
                store,
                new_handoff(&ticket, &format!("BJ{i:04}"), "hb-131000"),
            )
        })
        .collect();
    let mut receipts = Vec::new();
    for task in tasks {
        receipts.push(created(task.await.unwrap().unwrap()));
    }
    let seqs: BTreeSet<u64> = receipts.iter().map(|r| r.audit_seq).collect();
    let ids: BTreeSet<&str> = receipts.iter().map(|r| r.handoff_id.as_str()).collect();
    assert_eq!(seqs.len(), 500);
    assert_eq!(ids.len(), 500);
    // Ids are time-ordered in commit order: sorting by id sorts by seq.
    receipts.sort_by(|a, b| a.handoff_id.cmp(&b.handoff_id));
    assert!(receipts.windows(2).all(|w| w[0].audit_seq < w[1].audit_seq));
    let commits = store.commits();
    println!("500 submissions in {commits} commits");
    assert!(
        (2..100).contains(&commits),
        "500 submissions took {commits} commits"
    );
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM handoffs"), 500);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM outbox"), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_does_not_undo_its_batch() {
    let dir = TempDir::new();
    let store = Arc::new(SqliteStore::open(&dir.db()).unwrap());
    let ticket = Arc::new(sample_ticket());
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = Arc::clone(&store);
        let ticket = Arc::clone(&ticket);
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                store
                    .apply_status(
                        "01NOSUCHHANDOFF0000000000",
                        update(Status::Accepted),
                        Side::Target,
                        None,
                    )
                    .await
                    .map(|_| ())
            } else {
                let new = new_handoff(&ticket, &format!("BJ{i}"), "hb-131000");
                store.submit(new).await.map(|_| ())
            }
        }));
    }
    let mut unknown = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => {}
            Err(StoreError::UnknownHandoff(id)) => {
                assert_eq!(id, "01NOSUCHHANDOFF0000000000");
                unknown += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(unknown, 25);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM handoffs"), 25);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM status_history"), 25);
    assert!(store.commits() < 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_acknowledged_survives_a_restart() {
    let dir = TempDir::new();
    let ticket = sample_ticket();
    let mut receipts = Vec::new();
    {
        let store = SqliteStore::open(&dir.db()).unwrap();
        for i in 0..20 {
            let new = new_handoff(&ticket, &format!("BJ{i}"), "hb-131000");
            receipts.push(created(store.submit(new).await.unwrap()));
        }
        store
            .apply_status(
                &receipts[0].handoff_id,
                update(Status::Accepted),
                Side::Target,
                origin(),
            )
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&dir.db()).unwrap();
    for (i, receipt) in receipts.iter().enumerate() {
        let record = store.handoff(&receipt.handoff_id).await.unwrap().unwrap();
        assert_eq!(record.origin_ticket_id, format!("BJ{i}"));
        assert_eq!(record.ticket.caller.name.as_deref(), Some(CALLER_NAME));
        let outbox = store.outbox(&receipt.handoff_id).await.unwrap();
        assert_eq!(outbox[0].kind(), MessageKind::Ticket);
        assert_eq!(outbox[0].state, OutboxState::Pending);
    }
    let first = store
        .handoff(&receipts[0].handoff_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.state, Status::Accepted);
    assert_eq!(
        store
            .due_deliveries("hb-131000", now(), 100, Default::default())
            .await
            .unwrap()
            .len(),
        20
    );
    // A repeat after the restart still gets the first receipt.
    match store
        .submit(new_handoff(&ticket, "BJ3", "hb-131000"))
        .await
        .unwrap()
    {
        Submitted::Duplicate { first, .. } => assert_eq!(first, receipts[3]),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // New ids still sort after the old ones.
    let newer = created(
        store
            .submit(new_handoff(&ticket, "BJ99", "hb-131000"))
            .await
            .unwrap(),
    );
    assert!(receipts.iter().all(|r| r.handoff_id < newer.handoff_id));
    let listed = store
        .list_handoffs(HandoffFilter {
            state: Some(Status::Received),
            ..HandoffFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 20);
    assert_eq!(listed[0].id, newer.handoff_id);
}

/// Set in the child process of the crash test: the database to use.
const CRASH_DB: &str = "GATEWAY_STORE_CRASH_TEST_DB";

/// The child of [`every_receipt_survives_a_crash`]: submits concurrently,
/// prints each receipt once it is returned, and aborts (no destructor, no
/// orderly shutdown) while submissions are still in flight.
#[test]
fn crash_child() {
    let Some(db) = std::env::var_os(CRASH_DB) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = Arc::new(SqliteStore::open(Path::new(&db)).unwrap());
        let ticket = Arc::new(sample_ticket());
        let (done, mut receipts) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..400 {
            let store = Arc::clone(&store);
            let ticket = Arc::clone(&ticket);
            let done = done.clone();
            tokio::spawn(async move {
                let new = new_handoff(&ticket, &format!("BJ{i:04}"), "hb-131000");
                if let Ok(Submitted::Created(r)) = store.submit(new).await {
                    let _ = done.send(r);
                }
            });
        }
        let mut out = std::io::stdout().lock();
        // The harness has written "test crash_child ... " without a newline.
        writeln!(out).unwrap();
        for _ in 0..150 {
            let r = receipts.recv().await.unwrap();
            writeln!(out, "RECEIPT {} {}", r.handoff_id, r.audit_seq).unwrap();
        }
        out.flush().unwrap();
        std::process::abort();
    });
}

/// A process killed mid-load loses nothing it acknowledged.
#[test]
fn every_receipt_survives_a_crash() {
    let dir = TempDir::new();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::sqlite::tests::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DB, dir.db())
        .output()
        .unwrap();
    assert!(!output.status.success(), "the child should have aborted");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let acked: Vec<(String, u64)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RECEIPT "))
        .map(|l| {
            let (id, seq) = l.split_once(' ').unwrap();
            (id.to_owned(), seq.parse().unwrap())
        })
        .collect();
    assert_eq!(acked.len(), 150, "child output: {stdout}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&dir.db()).unwrap();
        for (id, seq) in &acked {
            let record = store.handoff(id).await.unwrap().unwrap();
            assert_eq!(record.state, Status::Received);
            let events = store.events(id).await.unwrap();
            assert_eq!(events[0].seq, *seq);
            let outbox = store.outbox(id).await.unwrap();
            assert_eq!(outbox.len(), 1);
            assert_eq!(outbox[0].state, OutboxState::Pending);
        }
    });
}

#[test]
fn a_newer_schema_is_refused_and_outside_a_runtime_reads_fail_cleanly() {
    let dir = TempDir::new();
    {
        let conn = Connection::open(dir.db()).unwrap();
        conn.pragma_update(None, "user_version", 9).unwrap();
    }
    assert!(matches!(
        SqliteStore::open(&dir.db()),
        Err(StoreError::SchemaVersion {
            found: 9,
            supported: 6
        })
    ));
    let fresh = TempDir::new();
    let store = SqliteStore::open(&fresh.db()).unwrap();
    let read = poll_once(store.handoff("x"));
    assert!(matches!(
        read,
        std::task::Poll::Ready(Err(StoreError::NoRuntime))
    ));
    // The file is in WAL mode with full sync.
    let conn = Connection::open(fresh.db()).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// Polls a future once on this thread, outside any runtime.
fn poll_once<F: std::future::Future>(future: F) -> std::task::Poll<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    future.as_mut().poll(&mut context)
}

/// Two stores on one file (the gateway and a `gateway handoffs redeliver`
/// in another process) append audit events in turn, one failing command
/// in between: the sequence has no gap and no repeat, and every event's
/// stored leaf hash is its own leaf's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_sequence_stays_whole_with_two_writers_and_a_failed_command() {
    let dir = TempDir::new();
    let gateway = SqliteStore::open(&dir.db()).unwrap();
    let other = SqliteStore::open(&dir.db()).unwrap();
    let mut seqs = Vec::new();
    for i in 0..3 {
        let new = new_handoff(&sample_ticket(), &format!("BJ-A{i}"), "hb-131000");
        seqs.push(created(gateway.submit(new).await.unwrap()).audit_seq);
        let new = new_handoff(&sample_ticket(), &format!("BJ-B{i}"), "hb-131000");
        seqs.push(created(other.submit(new).await.unwrap()).audit_seq);
        // A command that fails after nothing was appended, then one that
        // appends: the failure frees no number it did not take.
        assert!(
            gateway
                .apply_status("missing", update(Status::Accepted), Side::Target, None)
                .await
                .is_err()
        );
        seqs.push(
            gateway
                .record_emergency(i % 2 == 0, 2.0, "test")
                .await
                .unwrap(),
        );
    }
    let events = gateway.audit_entries(1, 100).await.unwrap();
    let numbers: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(numbers, (1..=events.len() as u64).collect::<Vec<_>>());
    for e in &events {
        assert_eq!(
            e.leaf_hash,
            crate::audit::merkle::leaf_hash(&e.leaf_bytes()),
            "event {}",
            e.seq
        );
    }
    for s in seqs {
        assert!(numbers.contains(&s));
    }
}
