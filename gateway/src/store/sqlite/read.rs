//! The read queries. Each runs on a read-only connection as one
//! statement, so it sees one committed snapshot.

use std::sync::LazyLock;

use rusqlite::{Connection, Params, Row, params};
use schemas::{Timestamp, Urgency};

use super::codec::{self, EVENT_COLUMNS, HANDOFF_COLUMNS, HISTORY_COLUMNS, OUTBOX_COLUMNS, ms};
use crate::lifecycle::{self, Overdue};
use crate::store::{
    EventRecord, HandoffFilter, HandoffRecord, HistoryRecord, OutboxItem, StoreError, Taken,
};

type Result<T> = std::result::Result<T, StoreError>;

/// The number of rows a list returns when the caller gives no limit.
const DEFAULT_LIMIT: usize = 100;
/// The most rows any list returns.
const MAX_LIMIT: usize = 10_000;

/// Runs `sql` and converts every row with `convert`.
fn all<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    convert: fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(convert(row)?);
    }
    Ok(out)
}

fn limit(n: usize) -> i64 {
    let n = if n == 0 {
        DEFAULT_LIMIT
    } else {
        n.min(MAX_LIMIT)
    };
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn handoff(conn: &Connection, id: &str) -> Result<Option<HandoffRecord>> {
    let sql = format!("SELECT {HANDOFF_COLUMNS} FROM handoffs h WHERE h.id = ?1");
    Ok(all(conn, &sql, [id], codec::handoff)?.into_iter().next())
}

pub(super) fn history(conn: &Connection, id: &str) -> Result<Vec<HistoryRecord>> {
    let sql =
        format!("SELECT {HISTORY_COLUMNS} FROM status_history WHERE handoff_id = ?1 ORDER BY seq");
    all(conn, &sql, [id], codec::history)
}

pub(super) fn events(conn: &Connection, id: &str) -> Result<Vec<EventRecord>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE handoff_id = ?1 ORDER BY seq");
    all(conn, &sql, [id], codec::event)
}

pub(super) fn outbox(conn: &Connection, id: &str) -> Result<Vec<OutboxItem>> {
    let sql = format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox o JOIN handoffs h ON h.id = o.handoff_id \
         WHERE o.handoff_id = ?1 ORDER BY o.id"
    );
    all(conn, &sql, [id], codec::outbox)
}

pub(super) fn list_handoffs(
    conn: &Connection,
    filter: &HandoffFilter,
) -> Result<Vec<HandoffRecord>> {
    let sql = format!(
        "SELECT {HANDOFF_COLUMNS} FROM handoffs h \
         WHERE (?1 IS NULL OR h.state = ?1) AND (?2 IS NULL OR h.target_partner = ?2) \
         AND (?3 IS NULL OR h.origin_partner = ?3) ORDER BY h.id DESC LIMIT ?4"
    );
    all(
        conn,
        &sql,
        params![
            filter.state.map(|s| s.as_str()),
            filter.target,
            filter.origin,
            limit(filter.limit)
        ],
        codec::handoff,
    )
}

/// The filter of a target's pending messages in lane `{lane}` (1 for
/// urgent hand-offs, 0 for the others) after outbox id `{after}` (index
/// `outbox_pending`).
const LANE: &str = "FROM outbox o JOIN handoffs h ON h.id = o.handoff_id \
     WHERE o.target_partner = ?1 AND o.state = 'pending' AND o.urgent = {lane} \
     AND o.id > {after} ORDER BY o.id";

/// One statement (one snapshot) over both lanes: `select` of the first
/// `limit` rows of the urgent lane after id `urgent_after`, then of the
/// other lane after `normal_after`.
pub(super) fn lanes_sql(
    select: &str,
    limit: &str,
    urgent_after: &str,
    normal_after: &str,
) -> String {
    let lane = |op: &str, after: &str| {
        format!(
            "SELECT * FROM (SELECT {select} {} LIMIT {limit})",
            LANE.replace("{lane}", op).replace("{after}", after)
        )
    };
    format!(
        "{} UNION ALL {}",
        lane("1", urgent_after),
        lane("0", normal_after)
    )
}

pub(super) fn due_deliveries(
    conn: &Connection,
    target_partner: &str,
    now: &Timestamp,
    max: usize,
    taken: &Taken,
) -> Result<Vec<OutboxItem>> {
    if max == 0 {
        return Ok(Vec::new());
    }
    // Built once: the workers read after nearly every landing.
    static SQL: LazyLock<String> = LazyLock::new(|| lanes_sql(OUTBOX_COLUMNS, "?2", "?3", "?4"));
    let now = ms(now);
    let mut stmt = conn.prepare_cached(&SQL)?;
    let mut rows = stmt.query(params![
        target_partner,
        limit(max),
        taken.after.urgent,
        taken.after.normal
    ])?;
    let in_flight = &taken.in_flight;
    // Urgent hand-offs' messages first, then the others; strict order in
    // each lane: a lane stops at its first message still backing off,
    // which holds back no message of the other lane. Only the messages
    // returned are parsed (a ticket's JSON is most of the read): not those
    // in flight, which were due and so stop no lane, nor those backing off.
    let (mut urgent, mut normal) = (Vec::new(), Vec::new());
    let (mut urgent_stop, mut normal_stop) = (i64::MAX, i64::MAX);
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        if in_flight.contains(&id) {
            continue;
        }
        let is_urgent = codec::urgency(&row.get::<_, String>(3)?)? == Urgency::Urgent;
        let (lane, stop) = if is_urgent {
            (&mut urgent, &mut urgent_stop)
        } else {
            (&mut normal, &mut normal_stop)
        };
        if row.get::<_, i64>(8)? > now {
            *stop = (*stop).min(id);
        } else if id < *stop {
            lane.push(codec::outbox(row)?);
        }
    }
    let due = |mut lane: Vec<OutboxItem>, stop: i64| {
        lane.retain(|item| item.id < stop);
        lane.sort_by_key(|item| item.id);
        lane
    };
    let mut items = due(urgent, urgent_stop);
    items.extend(due(normal, normal_stop));
    items.truncate(max);
    Ok(items)
}

pub(super) fn next_due(conn: &Connection, target_partner: &str) -> Result<Option<Timestamp>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT MIN(t) FROM ({})",
            lanes_sql("o.next_attempt_at AS t", "1", "0", "0")
        )
    });
    let mut stmt = conn.prepare_cached(&SQL)?;
    let at: Option<i64> = stmt.query_row([target_partner], |row| row.get(0))?;
    at.map(codec::time).transpose()
}

pub(super) fn targets_with_pending(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT target_partner FROM outbox WHERE state = 'pending' ORDER BY target_partner",
    )?;
    let targets = stmt
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<Vec<String>, _>>()?;
    Ok(targets)
}

/// The hand-offs that may have missed a deadline by `?1`; each half is
/// read from its partial index (`handoffs_ack_due`, `handoffs_answer_due`):
/// its terms are the index's own.
pub(super) fn overdue_sql() -> String {
    format!(
        "SELECT {HANDOFF_COLUMNS} FROM handoffs h \
         WHERE h.ack_overdue = 0 AND h.state = 'received' AND h.ack_by < ?1 \
         UNION ALL \
         SELECT {HANDOFF_COLUMNS} FROM handoffs h \
         WHERE h.answer_overdue = 0 \
         AND (h.state = 'received' OR h.state = 'delivered' OR h.state = 'accepted' \
         OR h.state = 'in_progress') \
         AND h.resolve_by < ?1"
    )
}

pub(super) fn overdue_candidates(
    conn: &Connection,
    now: &Timestamp,
) -> Result<Vec<(HandoffRecord, Overdue)>> {
    let now_ms = ms(now);
    let mut records = all(conn, &overdue_sql(), [now_ms], codec::handoff)?;
    // Sorted here, not by SQL: an ORDER BY made the planner walk every
    // hand-off in id order instead of reading the two indexes.
    records.sort_by(|a, b| a.id.cmp(&b.id));
    records.dedup_by(|a, b| a.id == b.id);
    let mut out = Vec::new();
    for record in records {
        for (which, flagged, deadline) in [
            (Overdue::Ack, record.ack_overdue, ms(&record.ack_by)),
            (
                Overdue::Answer,
                record.answer_overdue,
                ms(&record.resolve_by),
            ),
        ] {
            if !flagged && deadline < now_ms && !lifecycle::deadline_met(which, record.state) {
                out.push((record.clone(), which));
            }
        }
    }
    Ok(out)
}

pub(super) fn unit_orders(
    conn: &Connection,
    unit_id: &str,
    open_only: bool,
) -> Result<Vec<HandoffRecord>> {
    let sql = format!(
        "SELECT {HANDOFF_COLUMNS} FROM handoffs h WHERE h.target_partner = ?1 \
         AND (?2 = 0 OR h.state NOT IN ('closed', 'rejected')) ORDER BY h.id DESC"
    );
    all(conn, &sql, params![unit_id, open_only], codec::handoff)
}

pub(super) fn unit_order(
    conn: &Connection,
    unit_id: &str,
    handoff_id: &str,
) -> Result<Option<HandoffRecord>> {
    let sql = format!(
        "SELECT {HANDOFF_COLUMNS} FROM handoffs h WHERE h.id = ?1 AND h.target_partner = ?2"
    );
    Ok(all(conn, &sql, [handoff_id, unit_id], codec::handoff)?
        .into_iter()
        .next())
}

/// Per target with pending messages: how many, and the oldest one's
/// creation time; by target.
pub(super) fn state_counts(conn: &Connection) -> Result<Vec<crate::store::StateCount>> {
    all(
        conn,
        "SELECT state, COUNT(*), SUM(ack_overdue), SUM(answer_overdue) FROM handoffs \
         GROUP BY state ORDER BY state",
        [],
        |r| {
            Ok(crate::store::StateCount {
                state: r.get(0)?,
                count: codec::seq(r.get(1)?)?,
                ack_overdue: codec::seq(r.get::<_, Option<i64>>(2)?.unwrap_or(0))?,
                answer_overdue: codec::seq(r.get::<_, Option<i64>>(3)?.unwrap_or(0))?,
            })
        },
    )
}

pub(super) fn queue_depths(conn: &Connection) -> Result<Vec<(String, u64, Timestamp)>> {
    all(
        conn,
        "SELECT target_partner, COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending' \
         GROUP BY target_partner ORDER BY target_partner",
        [],
        |r| {
            let n: i64 = r.get(1)?;
            Ok((r.get(0)?, codec::seq(n)?, codec::time(r.get(2)?)?))
        },
    )
}
