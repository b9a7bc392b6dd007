//! The schema and its migrations: a new file gets the current schema, an
//! older one is brought up to it in one transaction when it is opened.

use rusqlite::{Connection, OptionalExtension};

use super::Result;
use crate::store::StoreError;

/// The schema, applied to a new file.
pub(super) const SCHEMA: &str = include_str!("schema.sql");
/// The schema version this gateway writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 6;
/// From schema version 5: checks and index conditions written with `IN`
/// (a temporary table built on every insert and update) are written with
/// `OR`; a property unit's orders are indexed by id, so that a status no
/// longer moves them; a hand-off's history is one b-tree keyed by
/// (hand-off, position) instead of a table and its key's index. SQLite
/// cannot change a check in place: the four tables are copied (their
/// rowids, sequence numbers and autoincrement counters kept) while
/// foreign keys are off, and checked afterwards.
const MIGRATE_5_6: &str = "
CREATE TABLE handoffs_v6 (
    id               TEXT PRIMARY KEY,
    origin_partner   TEXT NOT NULL,
    origin_ticket_id TEXT NOT NULL,
    origin_family    TEXT NOT NULL,
    target_partner   TEXT NOT NULL,
    target_family    TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind = 'transfer' OR kind = 'enterprise' OR kind = 'property'),
    urgency          TEXT NOT NULL CHECK (urgency = 'urgent' OR urgency = 'high' OR urgency = 'normal'),
    state            TEXT NOT NULL CHECK (state = 'received' OR state = 'delivered'
                         OR state = 'accepted' OR state = 'in_progress' OR state = 'resolved'
                         OR state = 'closed' OR state = 'rejected'),
    ack_overdue      INTEGER NOT NULL DEFAULT 0 CHECK (ack_overdue IN (0, 1)),
    answer_overdue   INTEGER NOT NULL DEFAULT 0 CHECK (answer_overdue IN (0, 1)),
    content_sha256   TEXT NOT NULL,
    raw_sha256       TEXT NOT NULL,
    target_ticket_id TEXT,
    ack_by           INTEGER NOT NULL,
    resolve_by       INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    trace_parent     TEXT,
    UNIQUE (origin_partner, origin_ticket_id)
) STRICT;
INSERT INTO handoffs_v6 (rowid, id, origin_partner, origin_ticket_id, origin_family,
        target_partner, target_family, kind, urgency, state, ack_overdue, answer_overdue,
        content_sha256, raw_sha256, target_ticket_id, ack_by, resolve_by, created_at,
        updated_at, trace_parent)
    SELECT rowid, id, origin_partner, origin_ticket_id, origin_family,
        target_partner, target_family, kind, urgency, state, ack_overdue, answer_overdue,
        content_sha256, raw_sha256, target_ticket_id, ack_by, resolve_by, created_at,
        updated_at, trace_parent
    FROM handoffs ORDER BY rowid;
CREATE TABLE status_history_v6 (
    handoff_id   TEXT NOT NULL REFERENCES handoffs (id),
    seq          INTEGER NOT NULL,
    status       TEXT NOT NULL,
    at           INTEGER NOT NULL,
    side         TEXT NOT NULL CHECK (side = 'origin' OR side = 'target' OR side = 'gateway'),
    by_text      TEXT,
    reason_code  TEXT,
    comment      TEXT,
    satisfaction TEXT,
    outcome      TEXT NOT NULL CHECK (outcome = 'applied' OR outcome = 'repeat'
                     OR outcome = 'notice' OR outcome = 'refused'),
    refusal      TEXT,
    recorded_at  INTEGER NOT NULL,
    PRIMARY KEY (handoff_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO status_history_v6 (handoff_id, seq, status, at, side, by_text,
        reason_code, comment, satisfaction, outcome, refusal, recorded_at)
    SELECT handoff_id, seq, status, at, side, by_text,
        reason_code, comment, satisfaction, outcome, refusal, recorded_at
    FROM status_history ORDER BY handoff_id, seq;
CREATE TABLE outbox_v6 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    handoff_id      TEXT NOT NULL REFERENCES handoffs (id),
    target_partner  TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('ticket', 'status')),
    payload_json    TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state = 'pending' OR state = 'delivered' OR state = 'dead'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    queued_at       INTEGER NOT NULL,
    delivered_at    INTEGER,
    urgent          INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1))
) STRICT;
INSERT INTO outbox_v6 (id, handoff_id, target_partner, kind, payload_json, state, attempts,
        next_attempt_at, last_error, created_at, queued_at, delivered_at, urgent)
    SELECT id, handoff_id, target_partner, kind, payload_json, state, attempts,
        next_attempt_at, last_error, created_at, queued_at, delivered_at, urgent
    FROM outbox ORDER BY id;
CREATE TABLE events_v6 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    handoff_id  TEXT REFERENCES handoffs (id),
    kind        TEXT NOT NULL CHECK (kind = 'received' OR kind = 'duplicate' OR kind = 'conflict'
                    OR kind = 'refused' OR kind = 'delivery_attempt' OR kind = 'delivered'
                    OR kind = 'dead_lettered' OR kind = 'status_applied' OR kind = 'status_refused'
                    OR kind = 'overdue' OR kind = 'escalated' OR kind = 'redelivered'
                    OR kind = 'config_loaded' OR kind = 'emergency_mode'),
    at          INTEGER NOT NULL,
    detail_json TEXT NOT NULL,
    leaf_hash   BLOB NOT NULL CHECK (length(leaf_hash) = 32)
) STRICT;
INSERT INTO events_v6 (seq, handoff_id, kind, at, detail_json, leaf_hash)
    SELECT seq, handoff_id, kind, at, detail_json, leaf_hash FROM events ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name IN ('outbox_v6', 'events_v6');
INSERT INTO sqlite_sequence (name, seq)
    SELECT name || '_v6', seq FROM sqlite_sequence WHERE name IN ('outbox', 'events');
DROP TABLE status_history;
DROP TABLE outbox;
DROP TABLE events;
DROP TABLE handoffs;
ALTER TABLE handoffs_v6 RENAME TO handoffs;
ALTER TABLE status_history_v6 RENAME TO status_history;
ALTER TABLE outbox_v6 RENAME TO outbox;
ALTER TABLE events_v6 RENAME TO events;
CREATE INDEX handoffs_by_target ON handoffs (target_partner, id);
CREATE INDEX handoffs_ack_due ON handoffs (ack_by)
    WHERE ack_overdue = 0 AND state = 'received';
CREATE INDEX handoffs_answer_due ON handoffs (resolve_by)
    WHERE answer_overdue = 0
        AND (state = 'received' OR state = 'delivered' OR state = 'accepted' OR state = 'in_progress');
CREATE INDEX outbox_pending ON outbox (target_partner, urgent, id) WHERE state = 'pending';
CREATE INDEX outbox_by_handoff ON outbox (handoff_id, id);
CREATE INDEX events_by_handoff ON events (handoff_id, seq);
";
/// From schema version 4: the ticket leaves its hand-off's row (every
/// status rewrote it); the deadline sweep reads partial indexes instead of
/// scanning every hand-off; a target's lanes index only pending messages
/// (two index entries per message instead of six), which also answers
/// which targets have any.
const MIGRATE_4_5: &str = "
CREATE TABLE tickets (
    handoff_id  TEXT PRIMARY KEY REFERENCES handoffs (id),
    ticket_json TEXT NOT NULL
) STRICT;
INSERT INTO tickets (handoff_id, ticket_json) SELECT id, ticket_json FROM handoffs ORDER BY id;
ALTER TABLE handoffs DROP COLUMN ticket_json;
DROP INDEX handoffs_by_state;
CREATE INDEX handoffs_ack_due ON handoffs (ack_by)
    WHERE ack_overdue = 0 AND state = 'received';
CREATE INDEX handoffs_answer_due ON handoffs (resolve_by)
    WHERE answer_overdue = 0 AND state IN ('received', 'delivered', 'accepted', 'in_progress');
DROP INDEX outbox_lanes;
DROP INDEX IF EXISTS outbox_pending_targets;
DROP INDEX IF EXISTS outbox_queue;
CREATE INDEX outbox_pending ON outbox (target_partner, urgent, id) WHERE state = 'pending';
";
/// From schema version 3: an outbox message carries its hand-off's lane,
/// so a target's urgent lane is read from an index instead of by joining
/// every pending message with its hand-off.
const MIGRATE_3_4: &str = "
ALTER TABLE outbox ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1));
UPDATE outbox SET urgent = 1
    WHERE handoff_id IN (SELECT id FROM handoffs WHERE urgency = 'urgent');
CREATE INDEX outbox_lanes ON outbox (target_partner, state, urgent, id);
";
/// From schema version 2: hand-offs gain their trace context (older rows
/// keep NULL: their trace id is derived from the hand-off id).
const MIGRATE_2_3: &str = "ALTER TABLE handoffs ADD COLUMN trace_parent TEXT;";
/// From schema version 1: the events table gains the `emergency_mode`
/// kind (SQLite cannot change a CHECK in place, so the table is copied).
const MIGRATE_1_2: &str = "
CREATE TABLE events_v2 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    handoff_id  TEXT REFERENCES handoffs (id),
    kind        TEXT NOT NULL CHECK (kind IN ('received', 'duplicate', 'conflict', 'refused',
                    'delivery_attempt', 'delivered', 'dead_lettered', 'status_applied',
                    'status_refused', 'overdue', 'escalated', 'redelivered', 'config_loaded',
                    'emergency_mode')),
    at          INTEGER NOT NULL,
    detail_json TEXT NOT NULL,
    leaf_hash   BLOB NOT NULL CHECK (length(leaf_hash) = 32)
) STRICT;
INSERT INTO events_v2 (seq, handoff_id, kind, at, detail_json, leaf_hash)
    SELECT seq, handoff_id, kind, at, detail_json, leaf_hash FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE INDEX events_by_handoff ON events (handoff_id, seq);
";

/// Creates the schema in a new file (`version` 0), or migrates an older
/// one, in one transaction.
pub(super) fn create_schema(conn: &Connection, version: i64) -> Result<()> {
    match version {
        0 => to_current(conn, SCHEMA),
        SCHEMA_VERSION => Ok(()),
        1..SCHEMA_VERSION => {
            let steps: Vec<&str> = [
                (1, MIGRATE_1_2),
                (2, MIGRATE_2_3),
                (3, MIGRATE_3_4),
                (4, MIGRATE_4_5),
                (5, MIGRATE_5_6),
            ]
            .into_iter()
            .filter(|(from, _)| *from >= version)
            .map(|(_, step)| step)
            .collect();
            to_current(conn, &steps.join(";"))
        }
        found => Err(StoreError::SchemaVersion {
            found,
            supported: SCHEMA_VERSION,
        }),
    }
}

/// Runs `sql` and sets the current version, all or nothing. Foreign keys
/// are off meanwhile (a table that others refer to may be copied, and
/// dropping the original would otherwise fail; the caller turns them on
/// afterwards), and every reference is checked before the commit.
fn to_current(conn: &Connection, sql: &str) -> Result<()> {
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    in_one_transaction(conn, sql).inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })
}

fn in_one_transaction(conn: &Connection, sql: &str) -> Result<()> {
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {sql};"))?;
    let dangling: Option<String> = conn
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()?;
    if let Some(table) = dangling {
        return Err(StoreError::Corrupt(format!(
            "a row of {table} refers to a missing row: the schema was not migrated"
        )));
    }
    conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))?;
    Ok(())
}
