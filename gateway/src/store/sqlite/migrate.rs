//! The schema and its migrations: a new file gets the current schema, an
//! older one is brought up to it in one transaction when it is opened.

use rusqlite::Connection;

use super::Result;
use crate::store::StoreError;

/// The schema, applied to a new file.
pub(super) const SCHEMA: &str = include_str!("schema.sql");
/// The schema version this gateway writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 5;
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

/// Runs `sql` and sets the current version, all or nothing.
fn to_current(conn: &Connection, sql: &str) -> Result<()> {
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))
    .inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })?;
    Ok(())
}
