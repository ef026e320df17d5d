//! The checks a copy passes before it commits: every table holds as many rows in PostgreSQL as
//! in SQLite, the tables triggers keep agree with SQLite's, and the audit log is still one
//! intact hash chain of the same length (walked by each backend's store, checked by
//! `tactical::audit`).

use deadpool_postgres::Transaction;
use rusqlite::Connection;

use super::error::CopyError;
use super::schema::{Derived, quoted};
use crate::features::tactical::model::AuditVerification;

fn source_error(what: &str, e: rusqlite::Error) -> CopyError {
    CopyError::Source(format!("{what}: {e}"))
}

fn target_error(what: &str, e: tokio_postgres::Error) -> CopyError {
    CopyError::Target(format!("{what}: {e}"))
}

/// Rows of `table` in the SQLite database.
pub fn source_rows(source: &Connection, table: &str) -> Result<i64, CopyError> {
    source
        .query_row(&format!("SELECT count(*) FROM {}", quoted(table)), [], |r| r.get(0))
        .map_err(|e| source_error(&format!("counting the rows of {table}"), e))
}

/// Rows of `table` in the target, as the copying transaction sees it.
pub async fn target_rows(tx: &Transaction<'_>, table: &str) -> Result<i64, CopyError> {
    let row = tx
        .query_one(&format!("SELECT count(*) FROM {}", quoted(table)), &[])
        .await
        .map_err(|e| target_error(&format!("counting the rows of {table}"), e))?;
    Ok(row.get(0))
}

/// The same number of rows on both sides; the number.
pub async fn same_rows(source: &Connection, tx: &Transaction<'_>, table: &str) -> Result<i64, CopyError> {
    let (mine, theirs) = (source_rows(source, table)?, target_rows(tx, table).await?);
    if mine != theirs {
        return Err(CopyError::Verify(format!("{table} has {mine} rows in SQLite and {theirs} in PostgreSQL")));
    }
    Ok(theirs)
}

/// The rows of a table kept by triggers agree on both sides; how many there are.
pub async fn same_derived(source: &Connection, tx: &Transaction<'_>, derived: &Derived) -> Result<i64, CopyError> {
    let table = derived.table;
    let Some(rows) = derived.rows else {
        let count = tx.query_one(&format!("SELECT count(*) FROM {}", quoted(table)), &[]).await;
        return Ok(count.map_err(|e| target_error(&format!("counting {table}"), e))?.get(0));
    };
    let mut mine = {
        let mut stmt = source.prepare(rows).map_err(|e| source_error(&format!("reading {table}"), e))?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)));
        rows.and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>()).map_err(|e| source_error(&format!("reading {table}"), e))?
    };
    let mut theirs: Vec<(String, i64)> = tx
        .query(rows, &[])
        .await
        .map_err(|e| target_error(&format!("reading {table}"), e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // Sorted here: the two databases' collations may order text differently.
    mine.sort();
    theirs.sort();
    if mine != theirs {
        let differ = mine.iter().filter(|r| !theirs.contains(r)).chain(theirs.iter().filter(|r| !mine.contains(r))).count();
        return Err(CopyError::Verify(format!(
            "{table} (kept by triggers) disagrees with SQLite's in {differ} rows: {} rows in SQLite, {} in PostgreSQL",
            mine.len(),
            theirs.len()
        )));
    }
    Ok(theirs.len() as i64)
}

/// The SQLite database's own audit chain: a copy of a broken chain would carry the break over.
pub fn source_chain(source: &Connection) -> Result<AuditVerification, CopyError> {
    let report = crate::features::tactical::store::sqlite::audit::verify(source).map_err(|e| source_error("walking its audit chain", e))?;
    if let Some(seq) = report.first_broken_at {
        return Err(CopyError::Verify(format!(
            "the SQLite database's audit chain is already broken at seq {seq} (of {} entries): nothing was copied",
            report.entries
        )));
    }
    Ok(report)
}

/// The copied chain, walked in seq order by the PostgreSQL store's own walk (the rows as
/// PostgreSQL gives them back): intact, and as long as SQLite's.
pub async fn target_chain(tx: &Transaction<'_>, source: &AuditVerification) -> Result<AuditVerification, CopyError> {
    let report = crate::features::tactical::store::postgres::audit::verify(tx)
        .await
        .map_err(|e| CopyError::Target(format!("walking the copied audit chain: {e}")))?;
    if let Some(seq) = report.first_broken_at {
        return Err(CopyError::Verify(format!("the copied audit chain does not verify: broken at seq {seq}")));
    }
    if report.entries != source.entries {
        return Err(CopyError::Verify(format!(
            "the copied audit chain has {} entries and SQLite's {}",
            report.entries, source.entries
        )));
    }
    Ok(report)
}
