//! Changes behind the gateway's back, in the store (with SQLite, on a copy)
//! and in the export file: `audit verify` names the first bad entry.

use gateway::audit::merkle::{self, Hash};
use gateway::audit::note::{Checkpoint, Signer};
use rusqlite::{Connection, params};

use crate::fixture::{
    Case, ORIGIN, assert_fails, fixture, gateway, leaf_hash_of, row, stderr, verify,
};

#[test]
fn a_changed_row_is_named() {
    let case = Case::new("changed");
    case.sql(r#"UPDATE events SET detail_json = '{"forged":true}' WHERE seq = 3"#);
    assert_fails(
        &case.export(),
        "entry 3: changed: the leaf hash recomputed from its content is",
    );
}

#[test]
fn a_deleted_row_is_named() {
    let case = Case::new("deleted");
    case.sql("DELETE FROM events WHERE seq = 4");
    assert_fails(
        &case.export(),
        "entry 4: sequence 5 follows 3: entry 4 is missing",
    );
}

#[test]
fn a_deleted_row_with_the_rest_renumbered_is_named() {
    let case = Case::new("deleted-renumbered");
    case.sql(
        "DELETE FROM events WHERE seq = 4;
         UPDATE events SET seq = -seq WHERE seq > 4;
         UPDATE events SET seq = -seq - 1 WHERE seq < 0;",
    );
    assert_fails(
        &case.export(),
        "entry 4: moved: its recorded leaf hash is that of the same content as entry 5",
    );
}

#[test]
fn deleted_rows_at_the_end_are_named() {
    let f = fixture();
    let case = Case::new("truncated");
    case.sql(&format!("DELETE FROM events WHERE seq > {}", f.second - 2));
    assert_fails(
        &case.export(),
        &format!(
            "entry {}: missing: checkpoint 2 covers {} entries, the export holds only {}",
            f.second - 1,
            f.second,
            f.second - 2
        ),
    );
}

#[test]
fn reordered_rows_are_named() {
    let case = Case::new("reordered");
    case.sql(
        "UPDATE events SET seq = -5 WHERE seq = 5;
         UPDATE events SET seq = 5 WHERE seq = 6;
         UPDATE events SET seq = 6 WHERE seq = -5;",
    );
    assert_fails(
        &case.export(),
        "entry 5: moved: its recorded leaf hash is that of the same content as entry 6",
    );
}

#[test]
fn an_inserted_row_is_named_even_with_a_correct_leaf_hash() {
    let case = Case::new("inserted");
    let conn = Connection::open(&case.db).unwrap();
    // Make room at 6 and forge an event there, hashed as the gateway would.
    conn.execute_batch(
        "UPDATE events SET seq = -seq WHERE seq >= 6;
         UPDATE events SET seq = -seq + 1 WHERE seq < 0;",
    )
    .unwrap();
    let forged = (
        "redelivered".to_owned(),
        row(&conn, 5).1 + 1,
        Some(fixture().handoff.clone()),
        r#"{"outbox_ids":[1]}"#.to_owned(),
    );
    conn.execute(
        "INSERT INTO events (seq, kind, at, handoff_id, detail_json, leaf_hash) \
         VALUES (6, ?1, ?2, ?3, ?4, ?5)",
        params![
            forged.0,
            forged.1,
            forged.2,
            forged.3,
            leaf_hash_of(6, &forged).to_vec()
        ],
    )
    .unwrap();
    drop(conn);
    assert_fails(
        &case.export(),
        "entry 6: inserted: entry 7 carries the leaf hash of its content as entry 6",
    );
}

#[test]
fn a_row_rewritten_with_its_leaf_hash_is_placed_between_two_checkpoints() {
    let f = fixture();
    let case = Case::new("rewritten");
    let target = f.first + 2;
    let conn = Connection::open(&case.db).unwrap();
    let mut rewritten = row(&conn, target);
    rewritten.3 = r#"{"forged":true}"#.to_owned();
    conn.execute(
        "UPDATE events SET detail_json = ?2, leaf_hash = ?3 WHERE seq = ?1",
        params![
            target as i64,
            rewritten.3,
            leaf_hash_of(target, &rewritten).to_vec()
        ],
    )
    .unwrap();
    drop(conn);
    assert_fails(
        &case.export(),
        &format!("checkpoint 2 (size {}): its signed root is", f.second),
    );
    assert_fails(
        &case.export(),
        &format!(
            "an entry in {}..={} was rewritten together with its leaf hash; entries 1..={} \
             match the checkpoint before it",
            f.first + 1,
            f.second,
            f.first
        ),
    );
}

#[test]
fn a_row_rewritten_before_the_first_checkpoint_fails_the_first_checkpoint() {
    let f = fixture();
    let case = Case::new("rewritten-early");
    let conn = Connection::open(&case.db).unwrap();
    let mut rewritten = row(&conn, 2);
    rewritten.3 = r#"{"forged":true}"#.to_owned();
    conn.execute(
        "UPDATE events SET detail_json = ?1, leaf_hash = ?2 WHERE seq = 2",
        params![rewritten.3, leaf_hash_of(2, &rewritten).to_vec()],
    )
    .unwrap();
    drop(conn);
    assert_fails(
        &case.export(),
        &format!("checkpoint 1 (size {}): its signed root is", f.first),
    );
    assert_fails(
        &case.export(),
        &format!("an entry in 1..={} was rewritten", f.first),
    );
}

#[test]
fn the_first_bad_entry_wins_over_a_later_one() {
    let f = fixture();
    let case = Case::new("two-changes");
    let conn = Connection::open(&case.db).unwrap();
    // Entry 2 rewritten with its leaf hash (only a checkpoint shows it),
    // entry `second` changed without (its leaf hash shows it).
    let mut rewritten = row(&conn, 2);
    rewritten.3 = r#"{"forged":true}"#.to_owned();
    conn.execute(
        "UPDATE events SET detail_json = ?1, leaf_hash = ?2 WHERE seq = 2",
        params![rewritten.3, leaf_hash_of(2, &rewritten).to_vec()],
    )
    .unwrap();
    conn.execute(
        r#"UPDATE events SET detail_json = '{"forged":true}' WHERE seq = ?1"#,
        [f.second as i64],
    )
    .unwrap();
    drop(conn);
    assert_fails(
        &case.export(),
        &format!("checkpoint 1 (size {}): its signed root is", f.first),
    );
}

#[test]
fn lines_reordered_or_repeated_in_the_export_file_are_named() {
    let case = Case::new("file");
    let file = case.export();
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let write = |name: &str, lines: &[&str]| {
        let path = case.dir.join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    };
    let mut swapped = lines.clone();
    swapped.swap(6, 7);
    assert_fails(
        &write("swapped.jsonl", &swapped),
        "entry 7: out of order: line 7 holds sequence 8, then line 8 sequence 7",
    );
    let mut repeated = lines.clone();
    repeated.insert(5, lines[4]);
    assert_fails(
        &write("repeated.jsonl", &repeated),
        "entry 5: appears twice (lines 5 and 6): an entry was inserted",
    );
    let f = fixture();
    assert_fails(
        &write("unsigned.jsonl", &lines[..f.total as usize]),
        "the export holds no checkpoint, so nothing in it is signed",
    );
}

#[test]
fn a_log_rewritten_and_signed_anew_fails_against_a_checkpoint_saved_before() {
    let f = fixture();
    let case = Case::new("resigned");
    let conn = Connection::open(&case.db).unwrap();
    let saved = case.dir.join("saved.note");
    let note: String = conn
        .query_row(
            "SELECT note FROM checkpoints WHERE size = ?1",
            [f.second as i64],
            |r| r.get(0),
        )
        .unwrap();
    std::fs::write(&saved, note).unwrap();
    let saved = saved.to_str().unwrap();
    let before = case.export();
    let out = gateway(&[
        "audit",
        "verify",
        before.to_str().unwrap(),
        "--key",
        &f.old_key,
        "--key",
        &f.new_key,
        "--checkpoint",
        saved,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The operator rewrites entry 3 with its leaf hash and signs every
    // checkpoint again with the current key.
    let mut rewritten = row(&conn, 3);
    rewritten.3 = r#"{"forged":true}"#.to_owned();
    conn.execute(
        "UPDATE events SET detail_json = ?1, leaf_hash = ?2 WHERE seq = 3",
        params![rewritten.3, leaf_hash_of(3, &rewritten).to_vec()],
    )
    .unwrap();
    let hashes: Vec<Hash> = conn
        .prepare("SELECT leaf_hash FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|h| h.unwrap().try_into().unwrap())
        .collect();
    conn.execute("DELETE FROM checkpoints", []).unwrap();
    let signer = Signer::parse(&f.new_private).unwrap();
    for size in [f.first, f.second] {
        let root = merkle::root(&hashes[..size as usize]);
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size,
            root,
        };
        conn.execute(
            "INSERT INTO checkpoints (size, root, note, key_name, created_at) \
             VALUES (?1, ?2, ?3, ?4, 0)",
            params![size as i64, root.to_vec(), signer.sign(&cp), signer.name()],
        )
        .unwrap();
    }
    drop(conn);
    let after = case.export();
    // Self-consistent and signed by the operator's key...
    let out = verify(&after, &[&f.old_key, &f.new_key]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // ...but not the log the saved checkpoint commits to.
    let out = gateway(&[
        "audit",
        "verify",
        after.to_str().unwrap(),
        "--key",
        &f.old_key,
        "--key",
        &f.new_key,
        "--checkpoint",
        saved,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "saved checkpoint {saved} (size {}): its signed root is",
            f.second
        )),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("the log was changed after this checkpoint was signed"));
}
