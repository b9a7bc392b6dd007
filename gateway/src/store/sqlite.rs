//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes: one writer thread owns the only connection that writes (the
//! checkpointer's, on its own thread, only copies the WAL). Callers
//! send it commands over a channel, each with a oneshot for the reply. The
//! writer takes every command waiting (up to [`BATCH`]), runs them one
//! after the other in one transaction, commits once, and only then replies
//! to all of them (group commit). With `synchronous=FULL` the commit is on
//! disk (the WAL fsync'd) before anyone hears of it. A command that fails
//! before writing anything (an unknown hand-off, a message no longer
//! pending: the failures callers cause) gets its own error and the rest of
//! the batch commits. One that fails after writing (a broken database, a
//! bug) cannot be undone alone: the whole batch is rolled back and every
//! command in it is told nothing was applied. (Each command had its own
//! SAVEPOINT before, which copied every page it touched into the
//! savepoint's journal: ~10 % of the gateway's CPU per hand-off.)
//!
//! Reads: run on blocking threads over a small pool of read-only
//! connections; WAL lets them proceed while the writer commits. The
//! delivery workers' two reads (`due_deliveries`, `next_due`) are the
//! exception: they run on the caller's thread, the delivery runtime's
//! own. Each is an indexed read of a few rows (tens of microseconds), run
//! after nearly every landing; the trip to a blocking thread and back cost
//! more than the read (at 2,800 hand-offs/s: 12,000 context switches a
//! second on the delivery threads, against 1,700 inline, and a third of
//! the delivery CPU per hand-off).

mod audit;
mod codec;
mod deliver;
mod migrate;
mod read;
mod write;

use std::cell::Cell;
use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags};
use schemas::{StatusUpdate, Timestamp};
use tokio::sync::{mpsc, oneshot};

use self::codec::IdGen;
use self::migrate::create_schema;
use self::write::Tx;
use super::{
    DeliveryRecorded, DeliveryResult, EventRecord, HandoffFilter, HandoffRecord, HistoryRecord,
    NewHandoff, Notify, OutboxItem, RefusedSubmission, StatusOutcome, Store, StoreError, Submitted,
    Taken,
};
use crate::lifecycle::{Overdue, Side};

/// The most commands one transaction takes.
pub const BATCH: usize = 256;
/// Commands that may wait for the writer before senders wait too.
const QUEUE: usize = 4 * BATCH;
/// Idle read connections kept open.
const IDLE_READERS: usize = 4;
/// The writer's page cache, in KiB (SQLite takes a negative `cache_size`
/// as KiB).
const WRITER_CACHE_KIB: i64 = -16 * 1024;
/// WAL frames (pages, 32 MiB) after a commit that wake the checkpointer.
/// SQLite's own threshold is 1,000; under load the WAL grew by 30,000 a
/// second, and each checkpoint copied the same hot pages again: at 8,000
/// the checkpointer's share of the gateway's CPU fell from 10 % and CPU per
/// hand-off by 3-6 %.
const CHECKPOINT_FRAMES: c_int = 8000;
/// WAL frames (8 MiB) that come after the checkpointer's last copy before
/// it copies again. It used to copy after every commit past
/// [`CHECKPOINT_FRAMES`]: at 2,800 hand-offs/s, 100 checkpoints a second,
/// each with two fsyncs (the log's and the database file's).
const CHECKPOINT_CHUNK: c_int = 2000;
/// WAL frames (128 MiB) after which the writer checkpoints itself. Under
/// a steady load the checkpointer, running beside the writer, never finds
/// the log fully copied, and SQLite restarts the log only then; the
/// writer's own checkpoint, between two transactions, copies the few
/// frames left.
const WAL_CEILING_FRAMES: c_int = 4 * CHECKPOINT_FRAMES;
/// How long a connection waits for a lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

type Result<T> = std::result::Result<T, StoreError>;

/// A command waiting for the writer.
trait Command: Send {
    /// Runs the command in the batch's transaction; returns what to reply
    /// once the transaction's fate is known.
    fn run(self: Box<Self>, tx: &mut Tx<'_>) -> Box<dyn Finish>;
    /// Replies with `error` without running.
    fn fail(self: Box<Self>, error: StoreError);
}

/// A command that ran and waits for the commit.
trait Finish: Send {
    /// True when the command itself succeeded.
    fn ok(&self) -> bool;
    /// Replies: the command's result if the commit succeeded (or its own
    /// error), else the commit's error.
    fn finish(self: Box<Self>, commit: std::result::Result<(), &str>);
}

struct Op<F, T> {
    run: F,
    reply: oneshot::Sender<Result<T>>,
}

struct Done<T> {
    result: Result<T>,
    reply: oneshot::Sender<Result<T>>,
}

impl<F, T> Command for Op<F, T>
where
    F: FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, tx: &mut Tx<'_>) -> Box<dyn Finish> {
        let result = (self.run)(tx);
        Box::new(Done {
            result,
            reply: self.reply,
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        // The caller may have gone away; nothing to do then.
        let _ = self.reply.send(Err(error));
    }
}

impl<T: Send + 'static> Finish for Done<T> {
    fn ok(&self) -> bool {
        self.result.is_ok()
    }

    fn finish(self: Box<Self>, commit: std::result::Result<(), &str>) {
        let out = match (self.result, commit) {
            (Err(own), _) => Err(own),
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(why)) => Err(StoreError::Commit(why.to_owned())),
        };
        let _ = self.reply.send(out);
    }
}

/// The read-only connections.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn with<T>(&self, query: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                stable_plans(&conn)?;
                conn
            }
        };
        let result = query(&conn);
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// The SQLite store. Cheap to share behind an `Arc`; dropping it lets the
/// writer finish every queued command, then waits for it.
pub struct SqliteStore {
    path: PathBuf,
    sender: Option<mpsc::Sender<Box<dyn Command>>>,
    writer: Option<JoinHandle<()>>,
    checkpointer: Option<JoinHandle<()>>,
    readers: Arc<Readers>,
    commits: Arc<AtomicU64>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`, and starts its
    /// writer thread.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let opened = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(opened)?;
        prepare(&conn).map_err(|e| match e {
            StoreError::Sqlite(source) => opened(source),
            other => other,
        })?;
        let last_id: Option<String> = conn
            .query_row("SELECT MAX(id) FROM handoffs", [], |r| r.get(0))
            .map_err(opened)?;
        let ids = IdGen::after(last_id.as_deref())?;
        let checkpointer = spawn_checkpointer(path, &mut conn)?;
        let (sender, receiver) = mpsc::channel(QUEUE);
        let commits = Arc::new(AtomicU64::new(0));
        let writer = {
            let commits = Arc::clone(&commits);
            std::thread::Builder::new()
                .name("store-writer".into())
                .spawn(move || writer(conn, ids, receiver, &commits))
                .map_err(StoreError::Spawn)?
        };
        Ok(SqliteStore {
            path: path.to_owned(),
            sender: Some(sender),
            writer: Some(writer),
            checkpointer: Some(checkpointer),
            readers: Arc::new(Readers {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
            commits,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many transactions the writer has committed since opening (each
    /// holds one or more commands).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `run` on the writer and waits for the commit.
    async fn write<T: Send + 'static>(
        &self,
        run: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let sender = self.sender.as_ref().ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Box::new(Op { run, reply }))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `query` on a read connection on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
        let readers = Arc::clone(&self.readers);
        runtime
            .spawn_blocking(move || readers.with(query))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel ends the writer once it has run every
        // queued command.
        self.sender = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        // The writer's connection, gone with its thread, held the only
        // wake-up sender: the checkpointer has stopped or is stopping.
        if let Some(checkpointer) = self.checkpointer.take() {
            let _ = checkpointer.join();
        }
    }
}

/// Starts the checkpointer: a thread with its own connection that copies
/// the WAL into the database file once a commit leaves more than
/// [`CHECKPOINT_FRAMES`] in the log, and from then on whenever another
/// [`CHECKPOINT_CHUNK`] frames have come since its last copy. SQLite would
/// otherwise checkpoint on the committing connection, the writer, which
/// every submission waits for (7 % of the writer thread under load, and
/// the longest commits). The checkpoint is PASSIVE: it never waits for or
/// blocks the writer.
fn spawn_checkpointer(path: &Path, writer: &mut Connection) -> Result<JoinHandle<()>> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A connection learns that the file is in WAL mode on its first read;
    // until then a checkpoint does nothing.
    let _: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    // The frames of the log the last checkpoint had copied.
    let copied = Arc::new(AtomicI32::new(0));
    let mut log_frames: c_int = 0;
    // Replaces SQLite's autocheckpoint (itself a WAL hook). The hook runs
    // after the commit is on disk, and an error it returns would be
    // reported as the COMMIT's although the transaction stays committed:
    // like SQLite's own hook, it never fails (a checkpoint that finds the
    // checkpointer busy, SQLITE_BUSY, is simply tried again next time).
    writer.wal_hook(Some({
        let copied = Arc::clone(&copied);
        move |wal: &mut rusqlite::hooks::Wal, frames: c_int| {
            if frames < log_frames {
                // The log started again from its first frame.
                copied.store(0, Ordering::Relaxed);
            }
            log_frames = frames;
            if frames >= WAL_CEILING_FRAMES {
                match wal.checkpoint() {
                    Ok(()) => copied.store(frames, Ordering::Relaxed),
                    Err(e) => {
                        tracing::debug!(error = %e, frames, "the writer's WAL checkpoint was put off");
                    }
                }
                return Ok(());
            }
            let behind = frames - copied.load(Ordering::Relaxed).min(frames);
            if frames >= CHECKPOINT_FRAMES && behind >= CHECKPOINT_CHUNK {
                // Full: a wake-up is already pending.
                let _ = wake.try_send(());
            }
            Ok(())
        }
    }))?;
    std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            while woken.recv().is_ok() {
                match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
                    Ok((_, done)) => copied.store(done, Ordering::Relaxed),
                    // The next wake-up tries again; the WAL only grows.
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                }
            }
        })
        .map_err(StoreError::Spawn)
}

/// Keeps each cached statement's query plan whatever its parameters.
/// The bundled SQLite is built with STAT4, which otherwise prepares a
/// statement again whenever a parameter compared with an index column
/// changes (every history and outbox statement, on every call: 10 % of
/// the gateway's CPU while delivering), for statistics this store never
/// gathers (no ANALYZE).
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Configures the write connection and creates or checks the schema.
fn prepare(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    stable_plans(conn)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "the database refused WAL mode (journal_mode is {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    // The writer is the only connection whose page cache survives between
    // its transactions (a reader's is dropped whenever the file changed):
    // 16 MiB keeps the indexes every submission walks in memory.
    conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
    // A statement that may fail half-way (foreign keys) keeps the original
    // of each page it changes in a statement journal; in a temporary file
    // once past 64 KiB (with a savepoint per command, as before, ~30 disk
    // writes per command: seen with strace).
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    create_schema(conn, version)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// The writer thread: batches, one commit, then the replies.
fn writer(
    conn: Connection,
    mut ids: IdGen,
    mut receiver: mpsc::Receiver<Box<dyn Command>>,
    commits: &AtomicU64,
) {
    let mut batch: Vec<Box<dyn Command>> = Vec::with_capacity(BATCH);
    while receiver.blocking_recv_many(&mut batch, BATCH) > 0 {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let why = e.to_string();
            for command in batch.drain(..) {
                command.fail(StoreError::Commit(why.clone()));
            }
            continue;
        }
        let mut done: Vec<Box<dyn Finish>> = Vec::with_capacity(batch.len());
        let mut broken: Option<String> = None;
        // Read again in every transaction: another process may have
        // appended events since the last one.
        let next_event = Cell::new(None);
        for command in batch.drain(..) {
            if let Some(why) = &broken {
                command.fail(StoreError::Commit(why.clone()));
                continue;
            }
            let changes_before = conn.total_changes();
            let (system_now, now) = codec::clock();
            let mut tx = Tx {
                conn: &conn,
                ids: &mut ids,
                system_now,
                now,
                next_event: &next_event,
            };
            let finished = command.run(&mut tx);
            // Counted when each statement completes; a statement that
            // fails leaves nothing of its own (SQLite undoes it).
            if !finished.ok() && conn.total_changes() != changes_before {
                broken = Some("a command of the batch failed after writing".into());
            }
            done.push(finished);
            // SQLite rolls the whole transaction back on some errors (disk
            // full, I/O): then nothing of the batch can be committed.
            if conn.is_autocommit() {
                broken = Some("the transaction was rolled back by the database".into());
            }
        }
        let outcome = match broken {
            Some(why) => Err(why),
            None => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
        };
        match &outcome {
            Ok(()) => {
                commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
            }
        }
        for finished in done {
            finished.finish(outcome.as_ref().map(|_| ()).map_err(String::as_str));
        }
    }
}

impl Store for SqliteStore {
    async fn submit(&self, mut new: NewHandoff) -> Result<Submitted> {
        let prepared = write::PreparedTicket::new(&mut new)?;
        self.write(move |tx| write::submit(tx, new, prepared)).await
    }

    async fn apply_status(
        &self,
        handoff_id: &str,
        update: StatusUpdate,
        side: Side,
        notify: Option<Notify>,
    ) -> Result<StatusOutcome> {
        let id = handoff_id.to_owned();
        self.write(move |tx| write::apply_status(tx, &id, update, side, notify))
            .await
    }

    async fn record_refused(&self, refused: RefusedSubmission) -> Result<u64> {
        self.write(move |tx| write::record_refused(tx, refused))
            .await
    }

    async fn due_deliveries(
        &self,
        target_partner: &str,
        now: Timestamp,
        limit: usize,
        taken: Taken,
    ) -> Result<Vec<OutboxItem>> {
        // On the caller's thread: see the module's documentation.
        self.readers
            .with(|c| read::due_deliveries(c, target_partner, &now, limit, &taken))
    }

    async fn next_due(&self, target_partner: &str) -> Result<Option<Timestamp>> {
        // On the caller's thread, like `due_deliveries`.
        self.readers.with(|c| read::next_due(c, target_partner))
    }

    async fn record_delivery(
        &self,
        outbox_id: i64,
        result: DeliveryResult,
        notify: Option<Notify>,
    ) -> Result<DeliveryRecorded> {
        self.write(move |tx| deliver::record_delivery(tx, outbox_id, result, notify))
            .await
    }

    async fn redeliver(&self, handoff_id: &str, now: Timestamp) -> Result<usize> {
        let id = handoff_id.to_owned();
        self.write(move |tx| deliver::redeliver(tx, &id, now)).await
    }

    async fn targets_with_pending(&self) -> Result<Vec<String>> {
        self.read(read::targets_with_pending).await
    }

    async fn handoff(&self, id: &str) -> Result<Option<HandoffRecord>> {
        let id = id.to_owned();
        self.read(move |c| read::handoff(c, &id)).await
    }

    async fn history(&self, id: &str) -> Result<Vec<HistoryRecord>> {
        let id = id.to_owned();
        self.read(move |c| read::history(c, &id)).await
    }

    async fn events(&self, id: &str) -> Result<Vec<EventRecord>> {
        let id = id.to_owned();
        self.read(move |c| read::events(c, &id)).await
    }

    async fn outbox(&self, id: &str) -> Result<Vec<OutboxItem>> {
        let id = id.to_owned();
        self.read(move |c| read::outbox(c, &id)).await
    }

    async fn list_handoffs(&self, filter: HandoffFilter) -> Result<Vec<HandoffRecord>> {
        self.read(move |c| read::list_handoffs(c, &filter)).await
    }

    async fn overdue_candidates(&self, now: Timestamp) -> Result<Vec<(HandoffRecord, Overdue)>> {
        self.read(move |c| read::overdue_candidates(c, &now)).await
    }

    async fn mark_overdue(
        &self,
        handoff_id: &str,
        which: Overdue,
        now: Timestamp,
        notify: Option<Notify>,
        escalate: Option<Notify>,
    ) -> Result<Option<StatusOutcome>> {
        let id = handoff_id.to_owned();
        self.write(move |tx| deliver::mark_overdue(tx, &id, which, now, notify, escalate))
            .await
    }

    async fn audit_size(&self) -> Result<u64> {
        self.read(audit::size).await
    }

    async fn leaf_hashes(&self, upto: u64) -> Result<Vec<crate::audit::merkle::Hash>> {
        self.read(move |c| audit::leaf_hashes(c, upto)).await
    }

    async fn audit_entries(&self, from: u64, limit: usize) -> Result<Vec<EventRecord>> {
        self.read(move |c| audit::entries(c, from, limit)).await
    }

    async fn checkpoints(&self) -> Result<Vec<super::CheckpointRecord>> {
        self.read(audit::checkpoints).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<super::CheckpointRecord>> {
        self.read(audit::latest_checkpoint).await
    }

    async fn record_checkpoint(
        &self,
        size: u64,
        root: crate::audit::merkle::Hash,
        note: String,
        key_name: String,
    ) -> Result<()> {
        self.write(move |tx| audit::record_checkpoint(tx, size, root, note, key_name))
            .await
    }

    async fn record_config(
        &self,
        sha256: String,
        partners: usize,
        signing_key: Option<String>,
    ) -> Result<u64> {
        self.write(move |tx| audit::record_config(tx, sha256, partners, signing_key))
            .await
    }

    async fn record_emergency(&self, on: bool, factor: f64, by: &str) -> Result<u64> {
        let by = by.to_owned();
        self.write(move |tx| audit::record_emergency(tx, on, factor, by))
            .await
    }

    async fn queue_depths(&self) -> Result<Vec<(String, u64, Timestamp)>> {
        self.read(read::queue_depths).await
    }

    async fn state_counts(&self) -> Result<Vec<super::StateCount>> {
        self.read(read::state_counts).await
    }

    async fn unit_orders(&self, unit_id: &str, open_only: bool) -> Result<Vec<HandoffRecord>> {
        let unit = unit_id.to_owned();
        self.read(move |c| read::unit_orders(c, &unit, open_only))
            .await
    }

    async fn unit_order(&self, unit_id: &str, handoff_id: &str) -> Result<Option<HandoffRecord>> {
        let unit = unit_id.to_owned();
        let id = handoff_id.to_owned();
        self.read(move |c| read::unit_order(c, &unit, &id)).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
