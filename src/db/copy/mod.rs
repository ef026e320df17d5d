//! `optima db copy`: a stopped server's SQLite database into an empty PostgreSQL database, in
//! one transaction that commits only once the copy verifies.
//!
//! The steps: open the SQLite file read-only (one snapshot for every read); connect to the
//! target and apply its migrations; in one transaction, refuse a target where any table holds
//! rows, copy every table in foreign-key order (binary COPY, each value converted to its column's
//! type: `convert`), move identity sequences past the copied numbers, then check row counts, the
//! tables triggers keep, and the audit chain (`verify`). Any failure rolls everything back.
//! `schema` reads what to copy from the catalogs, so a new migration's table needs no change here.

mod convert;
mod error;
mod schema;
mod verify;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use deadpool_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

pub use self::error::CopyError;
use self::schema::{Table, quoted};
use crate::config::DatabaseConfig;
use crate::db::postgres::PgDb;
use crate::features::tactical::model::AuditVerification;

/// The transaction-level advisory lock a copy holds (`"optima"` in ASCII, then 2): two copies
/// into one database run one after the other, and the second finds the target not empty.
const COPY_LOCK: i64 = 0x6f70_7469_6d61_0002;

/// How long the SQLite file may stay locked by another process before the copy gives up.
const SOURCE_BUSY: Duration = Duration::from_secs(5);

/// What a copy did: rows per table, in the order copied.
#[derive(Debug)]
pub struct CopyReport {
    /// Where the target is (no credentials).
    pub target: String,
    pub tables: Vec<TableReport>,
    pub audit: AuditVerification,
    /// `(table.column, last number)` of each identity sequence moved past the copied rows.
    pub sequences: Vec<(String, i64)>,
}

#[derive(Debug)]
pub struct TableReport {
    pub table: String,
    /// Rows in both databases.
    pub rows: i64,
    /// Filled by triggers rather than copied (and compared with SQLite's).
    pub kept_by_triggers: bool,
}

impl std::fmt::Display for CopyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self.tables.iter().map(|t| t.table.len()).max().unwrap_or(0);
        writeln!(f, "copied into {}, every count verified:", self.target)?;
        for t in &self.tables {
            let note = match schema::derived(&t.table).map(|d| d.rows.is_some()) {
                Some(true) => " (kept by triggers; the same as SQLite's)",
                Some(false) => " (filled by triggers: each copied project's mirror is due)",
                None => "",
            };
            writeln!(f, "  {:<width$}  {:>9} rows{note}", t.table, t.rows)?;
        }
        let total: i64 = self.tables.iter().filter(|t| !t.kept_by_triggers).map(|t| t.rows).sum();
        writeln!(f, "{total} rows in {} tables", self.tables.iter().filter(|t| !t.kept_by_triggers).count())?;
        write!(f, "audit chain: {} entries, intact", self.audit.entries)?;
        for (column, last) in &self.sequences {
            write!(f, "\n{column} continues after {last}")?;
        }
        Ok(())
    }
}

/// Copies the SQLite database at `source` into the PostgreSQL database `target` names (its
/// url and TLS settings) and verifies the copy before committing it.
pub async fn copy(source: &Path, target: &DatabaseConfig) -> Result<CopyReport, CopyError> {
    let source = open_source(source)?;
    let db = PgDb::connect(target).await?;
    db.migrate().await?;
    let mut client = db.client().await.map_err(|e| CopyError::Target(e.to_string()))?;
    let tx = client.transaction().await.map_err(|e| target_error("starting a transaction", e))?;
    // The copy may rightly take longer than any request's statement.
    tx.batch_execute("SET LOCAL statement_timeout = 0").await.map_err(|e| target_error("lifting the statement timeout", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&COPY_LOCK]).await.map_err(|e| target_error("taking the copy lock", e))?;

    let tables = schema::target_tables(&tx).await?;
    schema::same_migrations(&source, &tx).await?;
    schema::same_tables(&source, &tables)?;
    refuse_rows(&tx, &tables).await?;
    let source_chain = verify::source_chain(&source)?;

    let mut report = Vec::with_capacity(tables.len());
    for table in &tables {
        if schema::EVENT_LOG.contains(&table.name.as_str()) {
            continue;
        }
        if let Some(derived) = schema::derived(&table.name) {
            // Filled while its source table is copied (foreign keys do not order it): compared
            // once everything is in.
            report.push(TableReport { table: derived.table.to_owned(), rows: 0, kept_by_triggers: true });
            continue;
        }
        copy_table(&source, &tx, table).await?;
        let rows = verify::same_rows(&source, &tx, &table.name).await?;
        report.push(TableReport { table: table.name.clone(), rows, kept_by_triggers: false });
    }
    for t in report.iter_mut().filter(|t| t.kept_by_triggers) {
        if let Some(derived) = schema::derived(&t.table) {
            t.rows = verify::same_derived(&source, &tx, derived).await?;
        }
    }
    carry_event_ids(&source, &tx).await?;
    let sequences = continue_sequences(&tx).await?;
    let audit = verify::target_chain(&tx, &source_chain).await?;
    tx.commit().await.map_err(|e| target_error("committing the copy", e))?;
    Ok(CopyReport { target: db.target().to_owned(), tables: report, audit, sequences })
}

fn target_error(what: &str, e: tokio_postgres::Error) -> CopyError {
    CopyError::Target(format!("{what}: {e}"))
}

/// The SQLite file, read-only, inside one read transaction: every read sees the same snapshot.
fn open_source(path: &Path) -> Result<Connection, CopyError> {
    if !path.is_file() {
        return Err(CopyError::NoSource(path.display().to_string()));
    }
    let failed = |e: rusqlite::Error| CopyError::Source(format!("cannot open {}: {e}", path.display()));
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(failed)?;
    conn.busy_timeout(SOURCE_BUSY).map_err(failed)?;
    conn.execute_batch("BEGIN").map_err(failed)?;
    Ok(conn)
}

/// Refuses a target where any table holds rows, naming each with its count.
async fn refuse_rows(tx: &Transaction<'_>, tables: &[Table]) -> Result<(), CopyError> {
    let mut holding = Vec::new();
    for table in tables {
        // Its one row (the horizon, 0) is made by the migration.
        if table.name == "event_horizon" {
            continue;
        }
        let rows = verify::target_rows(tx, &table.name).await?;
        if rows > 0 {
            holding.push(format!("{} holds {rows} rows", table.name));
        }
    }
    if holding.is_empty() { Ok(()) } else { Err(CopyError::NotEmpty(holding.join(", "))) }
}

/// Carries the event log's ids over (see [`schema::EVENT_LOG`]): the events the copy's triggers
/// made go, and the horizon and the id sequence move to SQLite's newest id.
async fn carry_event_ids(source: &Connection, tx: &Transaction<'_>) -> Result<(), CopyError> {
    let head: i64 = source
        .query_row("SELECT max(coalesce((SELECT max(seq) FROM events), 0), (SELECT seq FROM event_horizon WHERE id = 1))", [], |r| r.get(0))
        .map_err(|e| CopyError::Source(format!("reading the event log's newest id: {e}")))?;
    let failed = |e| target_error("carrying the event log's ids over", e);
    tx.execute("DELETE FROM events", &[]).await.map_err(failed)?;
    tx.execute("UPDATE event_horizon SET seq = $1 WHERE id = 1", &[&head]).await.map_err(failed)?;
    if head > 0 {
        tx.execute("SELECT setval(pg_get_serial_sequence('events', 'seq'), $1)", &[&head]).await.map_err(failed)?;
    }
    Ok(())
}

/// Streams every row of `table` from SQLite into the target with one binary COPY.
async fn copy_table(source: &Connection, tx: &Transaction<'_>, table: &Table) -> Result<(), CopyError> {
    let name = quoted(&table.name);
    let columns = table.column_list();
    let failed = |e: tokio_postgres::Error| target_error(&format!("copying {}", table.name), e);
    // The types as the wire knows them (an extension's, such as citext, has an OID of its own).
    let types: Vec<Type> = tx
        .prepare(&format!("SELECT {columns} FROM {name}"))
        .await
        .map_err(failed)?
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let sink = tx.copy_in(&format!("COPY {name} ({columns}) FROM STDIN (FORMAT binary)")).await.map_err(failed)?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));

    let read_failed = |e: rusqlite::Error| CopyError::Source(format!("reading {}: {e}", table.name));
    let mut stmt = source.prepare(&format!("SELECT {columns} FROM {name}")).map_err(read_failed)?;
    let mut rows = stmt.query([]).map_err(read_failed)?;
    let mut row_number = 0u64;
    let mut values = Vec::with_capacity(table.columns.len());
    while let Some(row) = rows.next().map_err(read_failed)? {
        row_number += 1;
        values.clear();
        for (i, column) in table.columns.iter().enumerate() {
            let value = row.get_ref(i).map_err(read_failed)?;
            values.push(column.kind.convert(value).map_err(|reason| CopyError::Value {
                table: table.name.clone(),
                column: column.name.clone(),
                row: row_number,
                reason,
            })?);
        }
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        writer.as_mut().write(&params).await.map_err(failed)?;
    }
    writer.finish().await.map_err(failed)?;
    Ok(())
}

/// Moves each identity (or serial) column's sequence past the largest copied number, so that
/// new rows (the audit log's next entry) continue after them.
async fn continue_sequences(tx: &Transaction<'_>) -> Result<Vec<(String, i64)>, CopyError> {
    let mut moved = Vec::new();
    for (table, column) in schema::numbered_columns(tx).await? {
        let what = format!("{table}.{column}");
        let failed = |e| target_error(&format!("moving the sequence of {what}"), e);
        let largest: Option<i64> =
            tx.query_one(&format!("SELECT max({})::bigint FROM {}", quoted(&column), quoted(&table)), &[]).await.map_err(failed)?.get(0);
        let Some(largest) = largest else { continue };
        tx.execute("SELECT setval(pg_get_serial_sequence($1, $2), $3)", &[&quoted(&table), &column, &largest]).await.map_err(failed)?;
        moved.push((what, largest));
    }
    Ok(moved)
}
