//! The writer's batches: one transaction, one commit; a command failing
//! before it writes stays alone, one failing after rolls the batch back.

use super::*;

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
