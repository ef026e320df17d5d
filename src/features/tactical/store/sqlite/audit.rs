//! SQL of the audit log (`audit_log`): appending to the chain, walking it in order, and filtered
//! pages. The hashing and the checks are `tactical::audit`'s.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::{CachedSql, now_text};
use crate::features::tactical::audit::{ChainCheck, Record, next_entry};
use crate::features::tactical::model::{AuditEntry, AuditFilter, AuditVerification};

const COLUMNS: &str = "seq, actor_id, action, target, outcome, detail, prev_hash, entry_hash, created_at";

fn entry_of(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.get(0)?,
        actor_id: row.get(1)?,
        action: row.get(2)?,
        target: row.get(3)?,
        outcome: row.get(4)?,
        detail: row.get(5)?,
        prev_hash: row.get(6)?,
        entry_hash: row.get(7)?,
        created_at: row.get(8)?,
    })
}

/// Appends `r` after the newest entry. Run it inside the writing transaction (`BEGIN
/// IMMEDIATE` on the one writer connection), so no two appends read the same predecessor.
pub(super) fn append(c: &Connection, r: &Record) -> rusqlite::Result<()> {
    let newest = c
        .query_row_cached("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let e = next_entry(newest, r, now_text());
    c.execute_cached(
        "INSERT INTO audit_log (seq, actor_id, action, target, outcome, detail, prev_hash, entry_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![e.seq, e.actor_id, e.action, e.target, e.outcome, e.detail, e.prev_hash, e.entry_hash, e.created_at],
    )?;
    Ok(())
}

/// Walks the whole chain in order, one row at a time (the chain is never pruned, so it is not
/// loaded whole).
pub(crate) fn verify(c: &Connection) -> rusqlite::Result<AuditVerification> {
    let mut check = ChainCheck::default();
    let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        check.push(entry_of(row)?);
    }
    Ok(check.finish())
}

/// Entries matching `f`, newest first, and how many match.
pub(super) fn entries(c: &Connection, f: &AuditFilter) -> rusqlite::Result<(Vec<AuditEntry>, u64)> {
    let filter = "(?1 IS NULL OR actor_id = ?1) AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR outcome = ?3)
                  AND (?4 IS NULL OR created_at >= ?4)";
    let args = params![f.actor, f.action, f.outcome, f.since];
    let total = c.query_row_cached(&format!("SELECT COUNT(*) FROM audit_log WHERE {filter}"), args, |r| r.get(0))?;
    let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log WHERE {filter} ORDER BY seq DESC LIMIT ?5 OFFSET ?6"))?;
    let entries = stmt
        .query_map(params![f.actor, f.action, f.outcome, f.since, f.limit, f.offset], entry_of)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((entries, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::tactical::audit::GENESIS;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, actor_id TEXT, action TEXT, target TEXT, outcome TEXT,
             detail TEXT, prev_hash TEXT, entry_hash TEXT, created_at TEXT);",
        )
        .unwrap();
        c
    }

    #[test]
    fn chain_verifies_and_detects_an_edit_and_a_removal() {
        let c = db();
        for i in 0..5 {
            append(&c, &Record::ok("u1", "comm.send", format!("c{i}")).detail("x")).unwrap();
        }
        assert_eq!(verify(&c).unwrap().first_broken_at, None);
        assert_eq!(verify(&c).unwrap().entries, 5);
        c.execute_cached("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3", []).unwrap();
        let report = verify(&c).unwrap();
        assert!(!report.intact);
        assert_eq!(report.first_broken_at, Some(3));

        let c = db();
        for i in 0..4 {
            append(&c, &Record::ok("u1", "comm.read", format!("c{i}"))).unwrap();
        }
        c.execute_cached("DELETE FROM audit_log WHERE seq = 2", []).unwrap();
        assert_eq!(verify(&c).unwrap().first_broken_at, Some(3));
    }

    #[test]
    fn entries_link_to_their_predecessor() {
        let c = db();
        append(&c, &Record::ok("a", "x", "t")).unwrap();
        append(&c, &Record::ok("b", "y", "t")).unwrap();
        let (entries, total) = entries(&c, &AuditFilter { actor: None, action: None, outcome: None, since: None, limit: 10, offset: 0 }).unwrap();
        assert_eq!(total, 2);
        assert_eq!(entries[1].prev_hash, GENESIS);
        assert_eq!(entries[0].prev_hash, entries[1].entry_hash);
    }
}
