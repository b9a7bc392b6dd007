//! What the store's statements cost: their plans, their preparation, and
//! what the schema makes every write do.

use super::*;

/// With `stable_plans`, a cached statement that compares a parameter with
/// an index column runs again without being prepared again (the bundled
/// SQLite's STAT4 would otherwise re-prepare it on every new value).
#[test]
fn cached_statements_are_not_prepared_again() {
    let dir = TempDir::new();
    drop(SqliteStore::open(&dir.db()).unwrap());
    let conn = Connection::open(dir.db()).unwrap();
    super::super::stable_plans(&conn).unwrap();
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
    super::super::stable_plans(&conn).unwrap();
    let plan = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let sweep = plan(&super::super::read::overdue_sql().replace("?1", "0"));
    assert!(
        sweep.iter().any(|l| l.contains("handoffs_ack_due")),
        "{sweep:?}"
    );
    assert!(
        sweep.iter().any(|l| l.contains("handoffs_answer_due")),
        "{sweep:?}"
    );
    let lanes = plan(&super::super::read::lanes_sql("o.id", "10", "5", "7").replace("?1", "'hb'"));
    let table_scan = |l: &String| l.starts_with("SCAN o") || l.starts_with("SCAN h");
    assert!(!sweep.iter().any(table_scan), "{sweep:?}");
    assert!(!lanes.iter().any(table_scan), "{lanes:?}");
    // Each lane starts at its starting point in the index, not at the
    // lane's first pending message.
    assert_eq!(
        lanes
            .iter()
            .filter(|l| l.contains("outbox_pending") && l.contains("id>?"))
            .count(),
        2,
        "{lanes:?}"
    );
}

/// The writes of every table that build a temporary table when run: an
/// insert of every column, and an update of each column (a check or
/// index condition written `x IN (a, b, c)` does, each time).
pub(super) fn writes_building_temporary_tables(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut writes = Vec::new();
    for table in tables {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT name, pk FROM pragma_table_info('{table}')"
            ))
            .unwrap();
        let columns: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        let marks = vec!["?"; names.len()].join(", ");
        writes.push(format!(
            "INSERT INTO {table} ({}) VALUES ({marks})",
            names.join(", ")
        ));
        // The store never rewrites a primary key.
        let key = names[0];
        for (column, _) in columns.iter().filter(|(_, pk)| *pk == 0) {
            writes.push(format!("UPDATE {table} SET {column} = ? WHERE {key} = ?"));
        }
    }
    writes
        .into_iter()
        .filter(|sql| {
            let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
            let mut rows = stmt.raw_query();
            let mut ephemeral = false;
            while let Some(row) = rows.next().unwrap() {
                ephemeral |= row.get::<_, String>(1).unwrap() == "OpenEphemeral";
            }
            ephemeral
        })
        .collect()
}

/// No insert or update builds a temporary table (~3 µs each, on every
/// write): checks and partial index conditions are written with OR.
#[test]
fn no_write_builds_a_temporary_table() {
    let dir = TempDir::new();
    drop(SqliteStore::open(&dir.db()).unwrap());
    let conn = Connection::open(dir.db()).unwrap();
    assert_eq!(
        writes_building_temporary_tables(&conn),
        Vec::<String>::new()
    );
}
