//! Stores written by older versions of the schema are migrated when
//! opened, keeping what they hold.

use chrono::TimeDelta;
use schemas::Urgency;

use super::super::migrate::SCHEMA_VERSION;
use super::*;

/// The schema of version 4, as it was created.
const SCHEMA_V4: &str = include_str!("schema_v4.sql");
/// The schema of version 5, as it was created (checks written with IN).
const SCHEMA_V5: &str = include_str!("schema_v5.sql");

/// The tables of version 5 and 6 (the same columns), parents first.
const TABLES: [&str; 6] = [
    "handoffs",
    "tickets",
    "status_history",
    "outbox",
    "events",
    "checkpoints",
];

/// Rewrites the store at `dir` (closed) into a version 5 file holding the
/// same rows, as a version 5 gateway would have left it.
fn rewrite_as_version_5(dir: &TempDir) {
    let old = dir.0.join("v5.db");
    let conn = Connection::open(&old).unwrap();
    conn.execute_batch(SCHEMA_V5).unwrap();
    conn.execute("ATTACH ?1 AS current", [dir.db().to_str().unwrap()])
        .unwrap();
    for table in TABLES {
        conn.execute_batch(&format!(
            "INSERT INTO main.{table} SELECT * FROM current.{table}"
        ))
        .unwrap();
    }
    conn.execute_batch("DETACH current; PRAGMA user_version = 5;")
        .unwrap();
    drop(conn);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", dir.db().display()));
    }
    std::fs::rename(old, dir.db()).unwrap();
}

/// Turns a store of version 5 back into version 4 (its tickets back in
/// their hand-offs' rows, its version 4 indexes).
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

/// Turns the store at `dir` back into version 4, then runs `further`
/// (older versions' own undoing), behind the store's back.
fn downgrade(dir: &TempDir, further: &str) {
    rewrite_as_version_5(dir);
    let conn = Connection::open(dir.db()).unwrap();
    conn.execute_batch(DOWNGRADE_5_4).unwrap();
    conn.execute_batch(further).unwrap();
}

/// The file at `dir` is of the version this gateway writes.
fn assert_current_version(dir: &TempDir) {
    let conn = Connection::open(dir.db()).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

/// The messages due to hb-131000 a second from now.
async fn due_to_hb(store: &SqliteStore) -> Vec<OutboxItem> {
    store
        .due_deliveries(
            "hb-131000",
            now() + TimeDelta::seconds(1),
            10,
            Default::default(),
        )
        .await
        .unwrap()
}

/// `handoff`'s ticket is the only message due to hb-131000, and its
/// acknowledgement the only deadline passed.
async fn assert_alone_due_and_late(store: &SqliteStore, handoff: &str) {
    let due = due_to_hb(store).await;
    assert_eq!(
        due.iter()
            .map(|o| o.handoff_id.as_str())
            .collect::<Vec<_>>(),
        [handoff]
    );
    let overdue = store.overdue_candidates(now()).await.unwrap();
    assert_eq!(
        overdue
            .iter()
            .map(|(h, o)| (h.id.as_str(), *o))
            .collect::<Vec<_>>(),
        [(handoff, Overdue::Ack)]
    );
}

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
    downgrade(&dir, "");
    assert_eq!(
        count(
            &dir.db(),
            "SELECT COUNT(*) FROM handoffs WHERE ticket_json LIKE '%陈志强%'"
        ),
        1
    );
    let store = SqliteStore::open(&dir.db()).unwrap();
    let h = store.handoff(&old).await.unwrap().unwrap();
    assert_eq!(h.ticket.caller.name.as_deref(), Some(CALLER_NAME));
    assert_eq!(h.ticket.handoff_id.as_deref(), Some(old.as_str()));
    assert_alone_due_and_late(&store, &old).await;
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
    assert_current_version(&dir);
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
    assert_current_version(&dir);
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
    downgrade(
        &dir,
        "DROP INDEX outbox_lanes; ALTER TABLE outbox DROP COLUMN urgent; \
         ALTER TABLE handoffs DROP COLUMN trace_parent; PRAGMA user_version = 2;",
    );
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
    assert_current_version(&dir);
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
    downgrade(
        &dir,
        "DROP INDEX outbox_lanes; ALTER TABLE outbox DROP COLUMN urgent; \
         PRAGMA user_version = 3;",
    );
    let store = SqliteStore::open(&dir.db()).unwrap();
    let due = due_to_hb(&store).await;
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].handoff_id, urgent_id);
    assert_eq!(due[0].urgency, Urgency::Urgent);
}

/// A store of schema version 5 (checks written with IN) is migrated: its
/// hand-offs, histories, messages and audit log read back as before, the
/// audit sequence and the message ids go on where they stopped, and the
/// checks still refuse what they refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_5_store_keeps_its_handoffs_messages_and_audit_log() {
    let dir = TempDir::new();
    let (delivered, waiting, audit_before, last_message) = {
        let store = SqliteStore::open(&dir.db()).unwrap();
        let delivered = created(
            store
                .submit(new_handoff(&sample_ticket(), "BJ-1", "hb-131000"))
                .await
                .unwrap(),
        )
        .handoff_id;
        let mut late = new_handoff(&sample_ticket(), "BJ-2", "hb-131000");
        late.ack_by = late.now - TimeDelta::minutes(1);
        let waiting = created(store.submit(late).await.unwrap()).handoff_id;
        let message = store.outbox(&delivered).await.unwrap()[0].id;
        let at = now();
        store
            .record_delivery(
                message,
                DeliveryResult::Delivered {
                    sent_sha256: None,
                    target_ticket_id: Some("HB-9".into()),
                    at,
                    by: None,
                },
                origin(),
            )
            .await
            .unwrap();
        store
            .apply_status(&delivered, update(Status::Accepted), Side::Target, origin())
            .await
            .unwrap();
        let size = store.audit_size().await.unwrap();
        let audit = store.audit_entries(1, size as usize).await.unwrap();
        let last_message = store.outbox(&delivered).await.unwrap().last().unwrap().id;
        (delivered, waiting, audit, last_message)
    };
    rewrite_as_version_5(&dir);
    assert_eq!(
        count(
            &dir.db(),
            "SELECT COUNT(*) FROM sqlite_schema WHERE sql LIKE '%kind IN (''received''%'"
        ),
        1,
        "the fixture is version 5's schema"
    );
    assert!(
        !super::plans::writes_building_temporary_tables(&Connection::open(dir.db()).unwrap())
            .is_empty()
    );

    let store = SqliteStore::open(&dir.db()).unwrap();
    let h = store.handoff(&delivered).await.unwrap().unwrap();
    assert_eq!(h.state, Status::Accepted);
    assert_eq!(h.target_ticket_id.as_deref(), Some("HB-9"));
    assert_eq!(h.ticket.caller.name.as_deref(), Some(CALLER_NAME));
    let history = store.history(&delivered).await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.status).collect::<Vec<_>>(),
        [Status::Received, Status::Delivered, Status::Accepted]
    );
    let audit_size = audit_before.len() as u64;
    assert_eq!(
        store.audit_entries(1, audit_before.len()).await.unwrap(),
        audit_before
    );
    assert_eq!(
        store.record_emergency(true, 2.0, "operator").await.unwrap(),
        audit_size + 1
    );
    assert_alone_due_and_late(&store, &waiting).await;
    let newer = created(
        store
            .submit(new_handoff(&sample_ticket(), "BJ-3", "hb-131000"))
            .await
            .unwrap(),
    )
    .handoff_id;
    assert!(store.outbox(&newer).await.unwrap()[0].id > last_message);
    drop(store);

    assert_current_version(&dir);
    let conn = Connection::open(dir.db()).unwrap();
    assert_eq!(
        super::plans::writes_building_temporary_tables(&conn),
        Vec::<String>::new()
    );
    let refused = conn.execute(
        "UPDATE handoffs SET state = 'lost' WHERE id = ?1",
        [delivered.as_str()],
    );
    assert!(refused.is_err(), "the state check still holds");
    let refused = conn.execute(
        "INSERT INTO events (handoff_id, kind, at, detail_json, leaf_hash) \
         VALUES (NULL, 'forged', 0, '{}', zeroblob(32))",
        [],
    );
    assert!(refused.is_err(), "the event kind check still holds");
}
