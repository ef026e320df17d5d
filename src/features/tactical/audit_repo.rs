//! SQL of the audit log (`audit_log`): the newest link of the chain, appending an entry, walking
//! the chain in order, and filtered pages. The hashing and the checks live in `audit`; these
//! run on the connection or transaction the caller holds (an append inside the writing
//! transaction, so no two appends read the same predecessor).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::model::{AuditEntry, AuditFilter};
use crate::db::CachedSql;

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

/// The `seq` and `entry_hash` of the newest entry; `None` for an empty log.
pub fn newest_link(c: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    c.query_row_cached("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
}

pub fn insert(c: &Connection, e: &AuditEntry) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO audit_log (seq, actor_id, action, target, outcome, detail, prev_hash, entry_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![e.seq, e.actor_id, e.action, e.target, e.outcome, e.detail, e.prev_hash, e.entry_hash, e.created_at],
    )?;
    Ok(())
}

/// Calls `visit` with every entry, oldest first, one row at a time (the chain is never pruned,
/// so it is not loaded whole).
pub fn each_in_order(c: &Connection, mut visit: impl FnMut(AuditEntry)) -> rusqlite::Result<()> {
    let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        visit(entry_of(row)?);
    }
    Ok(())
}

/// Entries matching `f`, newest first, and how many match.
pub fn entries(c: &Connection, f: &AuditFilter) -> rusqlite::Result<(Vec<AuditEntry>, u64)> {
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
