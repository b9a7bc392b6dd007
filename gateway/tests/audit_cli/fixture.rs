//! The store every test starts from, each test's copy of it, and running
//! the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use adapters::Family;
use gateway::audit::merkle::{self, Hash};
use gateway::audit::note::{Checkpoint, Signer};
use gateway::store::{Side, SqliteStore, Store};
use gateway::wire::Kind;
use rusqlite::Connection;
use schemas::{Status, StatusUpdate};
use serde_json::Value;

use crate::common::{Harness, bj_receipt, sample};

pub const ORIGIN: &str = "jjj12345.example/gateway";

/// The store every test starts from.
pub struct Fixture {
    pub dir: PathBuf,
    /// A store with no open connection (copied per test).
    pub base: PathBuf,
    /// The configuration text; its store path is `STORE_PATH`.
    pub config: String,
    /// Verifier keys: before and after the rotation.
    pub old_key: String,
    pub new_key: String,
    /// The signing key after the rotation (for an operator re-signing).
    pub new_private: String,
    /// The transfer's hand-off.
    pub handoff: String,
    /// Checkpoint sizes: `first` signed with the old key, `second` (all
    /// events of the flow) with the new one.
    pub first: u64,
    pub second: u64,
    /// Events in the store (one more than `second`).
    pub total: u64,
}

const STORE_PATH: &str = "@STORE@";

static FIXTURE: OnceLock<Fixture> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("audit-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let flow = dir.join("flow.db");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (handoff, config) = rt.block_on(async {
        let h = Harness::start("audit-cli", true, |_| {}).await;
        let reply = h
            .post(
                "bj12345",
                Family::BjJson,
                Kind::Ticket,
                sample("bj-json/order.json"),
            )
            .await;
        let (id, _) = bj_receipt(&reply);
        h.wait_handoff(&id, "closed", Duration::from_secs(30), |r| {
            r.state == Status::Closed
        })
        .await;
        let config = std::fs::read_to_string(h.config_file())
            .unwrap()
            .replace(&h.store().path().display().to_string(), STORE_PATH);
        assert!(config.contains(STORE_PATH), "{config}");
        // A consistent copy of the live store.
        Connection::open(h.store().path())
            .unwrap()
            .execute("VACUUM INTO ?1", [flow.to_str().unwrap()])
            .unwrap();
        h.stop().await;
        (id, config)
    });
    // Only the checkpoints signed here (whatever the server signed goes).
    Connection::open(&flow)
        .unwrap()
        .execute("DELETE FROM checkpoints", [])
        .unwrap();
    let (old_private, old_key) = Signer::generate("audit-2024").unwrap();
    let (new_private, new_key) = Signer::generate("audit-2025").unwrap();
    let (first, second, total) = rt.block_on(async {
        let store = SqliteStore::open(&flow).unwrap();
        let second = store.audit_size().await.unwrap();
        assert!(second >= 8, "the flow left only {second} events");
        let first = second / 2;
        for (size, private) in [(first, &old_private), (second, &new_private)] {
            let signer = Signer::parse(private).unwrap();
            let root = merkle::root(&store.leaf_hashes(size).await.unwrap());
            let cp = Checkpoint {
                origin: ORIGIN.into(),
                size,
                root,
            };
            store
                .record_checkpoint(size, root, signer.sign(&cp), signer.name().into())
                .await
                .unwrap();
        }
        // One event of the hand-off after the last checkpoint.
        let again = StatusUpdate {
            handoff_id: Some(handoff.clone()),
            ticket_id: None,
            status: Status::Closed,
            at: chrono::Utc::now().with_timezone(&adapters::time::beijing()),
            by: None,
            reason_code: None,
            comment: None,
            satisfaction: None,
            extensions: Default::default(),
        };
        store
            .apply_status(&handoff, again, Side::Origin, None)
            .await
            .unwrap();
        let total = store.audit_size().await.unwrap();
        assert_eq!(total, second + 1);
        (first, second, total)
    });
    let base = dir.join("base.db");
    Connection::open(&flow)
        .unwrap()
        .execute("VACUUM INTO ?1", [base.to_str().unwrap()])
        .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", flow.display()));
    }
    Fixture {
        dir,
        base,
        config,
        old_key,
        new_key,
        new_private,
        handoff,
        first,
        second,
        total,
    }
}

/// One test's copy of the fixture store, with its configuration file
/// (removed afterwards unless the test failed).
pub struct Case {
    pub db: PathBuf,
    pub config: PathBuf,
    pub dir: PathBuf,
}

impl Drop for Case {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Case {
    pub fn new(name: &str) -> Case {
        let f = fixture();
        let dir = f
            .dir
            .join(format!("{name}-{}", NEXT.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("gateway.db");
        std::fs::copy(&f.base, &db).unwrap();
        let config = dir.join("gateway.toml");
        std::fs::write(
            &config,
            f.config.replace(STORE_PATH, &db.display().to_string()),
        )
        .unwrap();
        Case { db, config, dir }
    }

    /// Changes the store behind the gateway's back.
    pub fn sql(&self, statements: &str) {
        Connection::open(&self.db)
            .unwrap()
            .execute_batch(statements)
            .unwrap();
    }

    /// `gateway audit export --config ... --out FILE`; returns FILE.
    pub fn export(&self) -> PathBuf {
        let out = self.dir.join("audit.jsonl");
        let config = self.config.to_str().unwrap();
        let run = gateway(&[
            "audit",
            "export",
            "--config",
            config,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(run.status.success(), "export failed: {}", stderr(&run));
        out
    }
}

pub fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(args)
        .output()
        .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `gateway audit verify FILE --key K...`.
pub fn verify(file: &Path, keys: &[&str]) -> Output {
    let mut args = vec!["audit", "verify", file.to_str().unwrap()];
    for key in keys {
        args.extend(["--key", key]);
    }
    gateway(&args)
}

/// Verifies with both keys and expects exit 1 and `message` in the error.
pub fn assert_fails(file: &Path, message: &str) {
    let f = fixture();
    let out = verify(file, &[&f.old_key, &f.new_key]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains(message), "expected '{message}' in: {err}");
}

/// The leaf hash the gateway would record for entry `seq` of `row`
/// (kind, at, handoff_id, detail_json).
pub fn leaf_hash_of(seq: u64, row: &(String, i64, Option<String>, String)) -> Hash {
    let detail: Value = serde_json::from_str(&row.3).unwrap();
    merkle::leaf_hash(&gateway::audit::leaf::leaf_bytes(
        seq,
        &row.0,
        row.1,
        row.2.as_deref(),
        &detail,
    ))
}

pub fn row(conn: &Connection, seq: u64) -> (String, i64, Option<String>, String) {
    conn.query_row(
        "SELECT kind, at, handoff_id, detail_json FROM events WHERE seq = ?1",
        [seq as i64],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}
