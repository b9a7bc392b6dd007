-- The gateway's embedded store, schema version 6 (version 1 lacked the
-- 'emergency_mode' event kind, version 2 handoffs.trace_parent, version 3
-- outbox.urgent, version 4 kept the ticket in its hand-off's row, version 5
-- wrote its checks with IN; see the MIGRATE_* steps in migrate.rs).
-- Times are Unix milliseconds (UTC). Personal data lives only in
-- tickets.ticket_json (and in what partners write in status comments).
--
-- A check or index condition of the form `x IN (a, b, c)` (more than two
-- constants) makes SQLite build a temporary table of the list each time a
-- statement evaluates it, that is on every insert and update: ~3 us each,
-- about 13 % of a hand-off's CPU in version 5. The same conditions are
-- written as `x = a OR x = b ...`, which is evaluated in place. A test
-- (`no_write_builds_a_temporary_table`) keeps it so.

CREATE TABLE handoffs (
    id               TEXT PRIMARY KEY,          -- ULID, time-ordered
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
    content_sha256   TEXT NOT NULL,             -- of the canonical ticket JSON as submitted
    raw_sha256       TEXT NOT NULL,             -- of the inbound bytes
    target_ticket_id TEXT,
    ack_by           INTEGER NOT NULL,
    resolve_by       INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    trace_parent     TEXT,                      -- W3C traceparent of the hand-off's trace (NULL before version 3)
    UNIQUE (origin_partner, origin_ticket_id)
) STRICT;

-- A property unit's orders, newest first; a status does not move them.
CREATE INDEX handoffs_by_target ON handoffs (target_partner, id);
-- The deadline sweep's two questions, each answered from the hand-offs
-- still able to miss that deadline (the sweep runs every second).
CREATE INDEX handoffs_ack_due ON handoffs (ack_by)
    WHERE ack_overdue = 0 AND state = 'received';
CREATE INDEX handoffs_answer_due ON handoffs (resolve_by)
    WHERE answer_overdue = 0
        AND (state = 'received' OR state = 'delivered' OR state = 'accepted' OR state = 'in_progress');

-- The ticket apart from its hand-off's row: written once, while the row
-- changes with every status (an update rewrites the whole row, and a
-- 2-3 KB ticket made that several overflow pages each time).
CREATE TABLE tickets (
    handoff_id  TEXT PRIMARY KEY REFERENCES handoffs (id),
    ticket_json TEXT NOT NULL                   -- canonical ticket as submitted, deadlines set, without its handoff_id
) STRICT;

CREATE TABLE status_history (
    handoff_id   TEXT NOT NULL REFERENCES handoffs (id),
    seq          INTEGER NOT NULL,              -- 1, 2, ... per hand-off
    status       TEXT NOT NULL,
    at           INTEGER NOT NULL,              -- as the sender gave it
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
) STRICT, WITHOUT ROWID;                        -- small rows, always read by their key: one b-tree, not two

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- the delivery order
    handoff_id      TEXT NOT NULL REFERENCES handoffs (id),
    target_partner  TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('ticket', 'status')),
    payload_json    TEXT NOT NULL,              -- canonical StatusUpdate; '' for a ticket: the hand-off's tickets.ticket_json
    state           TEXT NOT NULL CHECK (state = 'pending' OR state = 'delivered' OR state = 'dead'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    queued_at       INTEGER NOT NULL,           -- created_at, or the last redelivery
    delivered_at    INTEGER,
    urgent          INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1))  -- the hand-off's lane
) STRICT;

-- A target's two lanes of pending messages; a delivered message leaves it.
CREATE INDEX outbox_pending ON outbox (target_partner, urgent, id) WHERE state = 'pending';
CREATE INDEX outbox_by_handoff ON outbox (handoff_id, id);

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- the audit sequence number
    handoff_id  TEXT REFERENCES handoffs (id),
    kind        TEXT NOT NULL CHECK (kind = 'received' OR kind = 'duplicate' OR kind = 'conflict'
                    OR kind = 'refused' OR kind = 'delivery_attempt' OR kind = 'delivered'
                    OR kind = 'dead_lettered' OR kind = 'status_applied' OR kind = 'status_refused'
                    OR kind = 'overdue' OR kind = 'escalated' OR kind = 'redelivered'
                    OR kind = 'config_loaded' OR kind = 'emergency_mode'),
    at          INTEGER NOT NULL,
    detail_json TEXT NOT NULL,                  -- metadata and hashes, never personal data
    leaf_hash   BLOB NOT NULL CHECK (length(leaf_hash) = 32)  -- RFC 6962 leaf hash of the event
) STRICT;

CREATE INDEX events_by_handoff ON events (handoff_id, seq);

-- Signed checkpoints of the audit log (C2SP tlog-checkpoint signed notes).
CREATE TABLE checkpoints (
    size       INTEGER PRIMARY KEY,             -- tree size: events 1..=size
    root       BLOB NOT NULL CHECK (length(root) = 32),
    note       TEXT NOT NULL,                   -- the signed note, as served
    key_name   TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
