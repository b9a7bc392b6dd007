//! The SQLite store against real files in a temporary directory, with the
//! real writer thread and a multi-thread runtime.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use adapters::Family;
use chrono::TimeDelta;
use schemas::{Status, StatusUpdate, Tables, Ticket, Timestamp, Urgency};

use super::*;

mod flows;
mod lanes;
mod wal;
use crate::lifecycle::{HandoffKind, Overdue, Refusal, Side, Verdict};
use crate::store::{
    DeliveryResult, EventKind, HandoffFilter, MessageKind, NewHandoff, Notify, OutboxPayload,
    OutboxState, Outcome, Receipt, RefusedSubmission, Store, StoreError, Submitted,
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

/// Queues `n` commands before the writer runs, so that they form one batch
/// for certain (`command(i, hand-off, its prepared ticket)` makes the
/// i-th), and runs the writer over them; returns its commits and each
/// command's result.
fn run_one_batch<F>(
    dir: &TempDir,
    n: usize,
    command: impl Fn(usize, NewHandoff, write::PreparedTicket) -> F,
) -> (u64, Vec<Result<()>>)
where
    F: FnOnce(&mut Tx<'_>) -> Result<()> + Send + 'static,
{
    // Creates the schema, then lets the file go.
    drop(SqliteStore::open(&dir.db()).unwrap());
    let conn = Connection::open(dir.db()).unwrap();
    prepare(&conn).unwrap();
    // FULL: every commit syncs the WAL before it returns.
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2);
    let (sender, receiver) = mpsc::channel::<Box<dyn Command>>(QUEUE);
    let ticket = sample_ticket();
    let mut replies = Vec::new();
    for i in 0..n {
        let (reply, answer) = oneshot::channel();
        let mut new = new_handoff(&ticket, &format!("BJ{i}"), "hb-131000");
        let prepared = write::PreparedTicket::new(&mut new).unwrap();
        let run = command(i, new, prepared);
        sender.try_send(Box::new(Op { run, reply })).ok().unwrap();
        replies.push(answer);
    }
    drop(sender);
    let commits = AtomicU64::new(0);
    writer(conn, IdGen::after(None).unwrap(), receiver, &commits);
    let results = replies
        .into_iter()
        .map(|mut answer| answer.try_recv().unwrap())
        .collect();
    (commits.load(Ordering::Relaxed), results)
}

/// Commands that fail before writing (the failures callers cause) get
/// their own errors; the rest of their batch commits once.
#[test]
fn one_batch_one_commit_and_failures_before_writing_stay_alone() {
    let dir = TempDir::new();
    let (commits, results) = run_one_batch(&dir, 10, |i, new, prepared| {
        move |tx: &mut Tx<'_>| {
            if i % 3 == 0 {
                write::apply_status(tx, "missing", update(Status::Accepted), Side::Target, None)
                    .map(|_| ())
            } else {
                write::submit(tx, new, prepared).map(|_| ())
            }
        }
    });
    assert_eq!(commits, 1);
    for (i, result) in results.iter().enumerate() {
        if i % 3 == 0 {
            assert!(matches!(result, Err(StoreError::UnknownHandoff(_))), "{i}");
        } else {
            assert!(result.is_ok(), "{i}");
        }
    }
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM handoffs"), 6);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM events"), 6);
}

/// A command that fails after it has written cannot be undone alone (no
/// savepoints): the whole batch is rolled back, each of its commands hears
/// that nothing was applied, and the store goes on.
#[test]
fn a_command_failing_after_writing_rolls_back_its_batch() {
    let dir = TempDir::new();
    let (commits, results) = run_one_batch(&dir, 3, |i, new, prepared| {
        move |tx: &mut Tx<'_>| {
            write::submit(tx, new, prepared)?;
            if i == 1 {
                return Err(StoreError::Corrupt("found wrong after writing".into()));
            }
            Ok(())
        }
    });
    assert_eq!(commits, 0);
    assert!(
        matches!(&results[0], Err(StoreError::Commit(_))),
        "{:?}",
        results[0]
    );
    assert!(
        matches!(&results[1], Err(StoreError::Corrupt(_))),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(&results[2], Err(StoreError::Commit(_))),
        "{:?}",
        results[2]
    );
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM handoffs"), 0);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM events"), 0);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = SqliteStore::open(&dir.db()).unwrap();
    let receipt = created(
        runtime
            .block_on(store.submit(new_handoff(&sample_ticket(), "BJ0", "hb-131000")))
            .unwrap(),
    );
    assert_eq!(receipt.audit_seq, 1);
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
            .due_deliveries("hb-131000", now(), 100)
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
        conn.pragma_update(None, "user_version", 7).unwrap();
    }
    assert!(matches!(
        SqliteStore::open(&dir.db()),
        Err(StoreError::SchemaVersion {
            found: 7,
            supported: 5
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

/// The schema of version 4, as it was created.
const SCHEMA_V4: &str = include_str!("schema_v4.sql");

/// Turns a store of the current version back into version 4 (its
/// tickets back in their hand-offs' rows, its version 4 indexes).
const DOWNGRADE_5_4: &str = "
ALTER TABLE handoffs ADD COLUMN ticket_json TEXT NOT NULL DEFAULT '';
UPDATE handoffs SET ticket_json = (SELECT ticket_json FROM tickets WHERE handoff_id = handoffs.id);
DROP TABLE tickets;
DROP INDEX handoffs_ack_due;
DROP INDEX handoffs_answer_due;
CREATE INDEX handoffs_by_state ON handoffs (state);
DROP INDEX outbox_pending;
CREATE INDEX outbox_lanes ON outbox (target_partner, state, urgent, id);
CREATE INDEX outbox_pending_targets ON outbox (state, target_partner);
PRAGMA user_version = 4;
";

/// A store of schema version 4 (tickets in their hand-offs' rows) is
/// migrated: a hand-off reads back with its ticket, its message is still
/// due, its passed deadline is still found, and new hand-offs work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_4_store_keeps_its_tickets_and_deadlines() {
    let dir = TempDir::new();
    let old = {
        let store = SqliteStore::open(&dir.db()).unwrap();
        let mut new = new_handoff(&sample_ticket(), "BJ-OLD", "hb-131000");
        new.ack_by = new.now - TimeDelta::minutes(1);
        created(store.submit(new).await.unwrap()).handoff_id
    };
    {
        let conn = Connection::open(dir.db()).unwrap();
        conn.execute_batch(DOWNGRADE_5_4).unwrap();
        assert_eq!(
            count(
                &dir.db(),
                "SELECT COUNT(*) FROM handoffs WHERE ticket_json LIKE '%陈志强%'"
            ),
            1
        );
    }
    let store = SqliteStore::open(&dir.db()).unwrap();
    let h = store.handoff(&old).await.unwrap().unwrap();
    assert_eq!(h.ticket.caller.name.as_deref(), Some(CALLER_NAME));
    assert_eq!(h.ticket.handoff_id.as_deref(), Some(old.as_str()));
    let due = store
        .due_deliveries("hb-131000", now() + TimeDelta::seconds(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].handoff_id, old);
    let overdue = store.overdue_candidates(now()).await.unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(
        (overdue[0].0.id.as_str(), overdue[0].1),
        (old.as_str(), Overdue::Ack)
    );
    created(
        store
            .submit(new_handoff(&sample_ticket(), "BJ-NEW", "hb-131000"))
            .await
            .unwrap(),
    );
    assert_eq!(
        store.targets_with_pending().await.unwrap(),
        vec!["hb-131000".to_owned()]
    );
    drop(store);
    assert_eq!(count(&dir.db(), "SELECT COUNT(*) FROM tickets"), 2);
    let conn = Connection::open(dir.db()).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, super::SCHEMA_VERSION);
}

/// A store of schema version 1 (events without `emergency_mode`) is
/// migrated when opened: its events stay, in sequence, and the new kind is
/// accepted after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_store_is_migrated_keeping_its_events() {
    let dir = TempDir::new();
    {
        let v1 = SCHEMA_V4.replace(",\n                    'emergency_mode'", "");
        let v1 = v1
            .replace("delivered_at    INTEGER,\n", "delivered_at    INTEGER\n")
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                !l.starts_with("trace_parent")
                    && !l.starts_with("urgent ")
                    && !l.starts_with("CREATE INDEX outbox_lanes")
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_ne!(v1, SCHEMA_V4);
        let conn = Connection::open(dir.db()).unwrap();
        conn.execute_batch(&v1).unwrap();
        conn.execute_batch(
            "INSERT INTO events (handoff_id, kind, at, detail_json, leaf_hash) \
             VALUES (NULL, 'config_loaded', 0, '{}', zeroblob(32)); PRAGMA user_version = 1;",
        )
        .unwrap();
        let refused = conn.execute(
            "INSERT INTO events (handoff_id, kind, at, detail_json, leaf_hash) \
             VALUES (NULL, 'emergency_mode', 0, '{}', zeroblob(32))",
            [],
        );
        assert!(refused.is_err(), "version 1 refuses the new kind");
    }
    let store = SqliteStore::open(&dir.db()).unwrap();
    assert_eq!(
        store.record_emergency(true, 3.0, "operator").await.unwrap(),
        2
    );
    let events = store.audit_entries(1, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, EventKind::ConfigLoaded);
    assert_eq!(events[1].kind, EventKind::EmergencyMode);
    assert_eq!(
        events[1].detail,
        serde_json::json!({"on": true, "factor": 3.0, "by": "operator"})
    );
    drop(store);
    let conn = Connection::open(dir.db()).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, super::SCHEMA_VERSION);
}

/// A store of schema version 2 (hand-offs without their trace context)
/// opens: its hand-offs read back without one, new ones keep theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_store_is_migrated_keeping_its_handoffs() {
    let dir = TempDir::new();
    let old = {
        let store = SqliteStore::open(&dir.db()).unwrap();
        created(
            store
                .submit(new_handoff(&sample_ticket(), "BJ-OLD", "hb-131000"))
                .await
                .unwrap(),
        )
    };
    {
        let conn = Connection::open(dir.db()).unwrap();
        conn.execute_batch(DOWNGRADE_5_4).unwrap();
        conn.execute_batch(
            "DROP INDEX outbox_lanes; ALTER TABLE outbox DROP COLUMN urgent; \
             ALTER TABLE handoffs DROP COLUMN trace_parent; PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&dir.db()).unwrap();
    let h = store.handoff(&old.handoff_id).await.unwrap().unwrap();
    assert_eq!(h.trace_parent, None);
    let mut new = new_handoff(&sample_ticket(), "BJ-NEW", "hb-131000");
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    new.trace_parent = Some(traceparent.into());
    let id = created(store.submit(new).await.unwrap()).handoff_id;
    assert!(id > old.handoff_id);
    let h = store.handoff(&id).await.unwrap().unwrap();
    assert_eq!(h.trace_parent.as_deref(), Some(traceparent));
    drop(store);
    let conn = Connection::open(dir.db()).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, super::SCHEMA_VERSION);
}

/// A store of schema version 3 (outbox messages without their lane) is
/// migrated: a pending message of an urgent hand-off, queued after a
/// normal one, is still the first due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_3_store_keeps_its_urgent_lane() {
    let dir = TempDir::new();
    let urgent_id = {
        let store = SqliteStore::open(&dir.db()).unwrap();
        let mut normal = new_handoff(&sample_ticket(), "BJ-NORMAL", "hb-131000");
        normal.urgency = Urgency::Normal;
        normal.ticket.urgency = Urgency::Normal;
        store.submit(normal).await.unwrap();
        let mut urgent = new_handoff(&sample_ticket(), "BJ-URGENT", "hb-131000");
        urgent.urgency = Urgency::Urgent;
        urgent.ticket.urgency = Urgency::Urgent;
        created(store.submit(urgent).await.unwrap()).handoff_id
    };
    {
        let conn = Connection::open(dir.db()).unwrap();
        conn.execute_batch(DOWNGRADE_5_4).unwrap();
        conn.execute_batch(
            "DROP INDEX outbox_lanes; ALTER TABLE outbox DROP COLUMN urgent; \
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&dir.db()).unwrap();
    let due = store
        .due_deliveries("hb-131000", now() + TimeDelta::seconds(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].handoff_id, urgent_id);
    assert_eq!(due[0].urgency, Urgency::Urgent);
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

/// With `stable_plans`, a cached statement that compares a parameter with
/// an index column runs again without being prepared again (the bundled
/// SQLite's STAT4 would otherwise re-prepare it on every new value).
#[test]
fn cached_statements_are_not_prepared_again() {
    let dir = TempDir::new();
    drop(SqliteStore::open(&dir.db()).unwrap());
    let conn = Connection::open(dir.db()).unwrap();
    super::stable_plans(&conn).unwrap();
    let sql = "SELECT COALESCE(MAX(seq), 0) + 1 FROM status_history WHERE handoff_id = ?1";
    for i in 0..20 {
        let _: i64 = conn
            .prepare_cached(sql)
            .unwrap()
            .query_row([format!("H{i}")], |r| r.get(0))
            .unwrap();
    }
    let stmt = conn.prepare_cached(sql).unwrap();
    assert_eq!(stmt.get_status(rusqlite::StatementStatus::Run), 20);
    assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
}

/// The deadline sweep (every second) and a target's lanes (every
/// delivery round) read their partial indexes: their cost follows what is
/// due, not how many hand-offs and messages the store has ever held.
#[test]
fn the_sweep_and_the_lanes_read_indexes_not_tables() {
    let dir = TempDir::new();
    drop(SqliteStore::open(&dir.db()).unwrap());
    let conn = Connection::open(dir.db()).unwrap();
    super::stable_plans(&conn).unwrap();
    let plan = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let sweep = plan(&super::read::overdue_sql().replace("?1", "0"));
    assert!(
        sweep.iter().any(|l| l.contains("handoffs_ack_due")),
        "{sweep:?}"
    );
    assert!(
        sweep.iter().any(|l| l.contains("handoffs_answer_due")),
        "{sweep:?}"
    );
    let lanes = plan(&super::read::lanes_sql("o.id", "10").replace("?1", "'hb'"));
    let table_scan = |l: &String| l.starts_with("SCAN o") || l.starts_with("SCAN h");
    assert!(!sweep.iter().any(table_scan), "{sweep:?}");
    assert!(!lanes.iter().any(table_scan), "{lanes:?}");
    assert!(
        lanes.iter().any(|l| l.contains("outbox_pending")),
        "{lanes:?}"
    );
}
