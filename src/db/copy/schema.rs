//! What is copied, read from the two databases' catalogs: the target's tables in foreign-key
//! order with each column's type, the identity columns whose sequences must move past the copied
//! numbers, and the checks that both sides are the same schema (same migrations applied, same
//! tables, same columns).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use deadpool_postgres::Transaction;

use super::error::CopyError;
use super::convert::Kind;

/// refinery's own table: each side keeps its own history, never copied.
const HISTORY: &str = "refinery_schema_history";

/// A table that triggers on other tables keep: not copied, since copying those tables fills it.
#[derive(Debug)]
pub struct Derived {
    pub table: &'static str,
    /// The rows that must agree with SQLite's, as `(text, bigint)`, the same SQL on both sides;
    /// `None`: the copy fills it with more than SQLite held, on purpose (below).
    pub rows: Option<&'static str>,
}

pub const DERIVED: [Derived; 2] = [
    // V4. SQLite keeps a user's count at 0 once their sessions are deleted; a copy counts only
    // the sessions there are, so rows at 0 are not compared.
    Derived { table: "chat_session_counts", rows: Some("SELECT user_id, sessions FROM chat_session_counts WHERE sessions > 0") },
    // V8. Copying a project schedules its `metadata.json` mirror, so every copied project's
    // mirror is written once the new server runs: a superset of whatever SQLite had pending.
    Derived { table: "mirror_outbox", rows: None },
];

/// The live event log (V9): not copied. Clients hold its ids (the last one they saw) and resume
/// from them, so they must keep their meaning: the copy removes the events its own triggers
/// made, and moves the log's horizon and id sequence to the SQLite server's newest id. A client
/// that resumes with an older id is then told it missed events (reload), and one with the
/// newest misses nothing.
pub const EVENT_LOG: [&str; 2] = ["events", "event_horizon"];

/// Whether `table` is kept by triggers (see [`DERIVED`]).
pub fn derived(table: &str) -> Option<&'static Derived> {
    DERIVED.iter().find(|d| d.table == table)
}

/// A table of the target, and how each of its columns is filled.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

#[derive(Debug)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

/// `name` quoted as an SQL identifier (both databases read double quotes the same way).
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Table {
    /// The column list, quoted, in the target's order.
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|c| quoted(&c.name)).collect::<Vec<_>>().join(", ")
    }
}

fn target_error(what: &str, e: tokio_postgres::Error) -> CopyError {
    CopyError::Target(format!("{what}: {e}"))
}

fn source_error(what: &str, e: rusqlite::Error) -> CopyError {
    CopyError::Source(format!("{what}: {e}"))
}

/// The target's tables (but refinery's) in an order where every table comes after those its
/// foreign keys reference, each with its columns' kinds. A column of a type [`Kind`] does not
/// map stops here, before anything is written.
pub async fn target_tables(tx: &Transaction<'_>) -> Result<Vec<Table>, CopyError> {
    let rows = tx
        .query(
            "SELECT c.table_name::text, c.column_name::text, c.udt_name::text
             FROM information_schema.columns c
             JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> $1
             ORDER BY c.table_name, c.ordinal_position",
            &[&HISTORY],
        )
        .await
        .map_err(|e| target_error("reading the columns of the target's tables", e))?;
    let mut tables: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    let mut unmapped = Vec::new();
    for row in &rows {
        let (table, column, udt): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        match Kind::of(&udt) {
            Some(kind) => tables.entry(table).or_default().push(Column { name: column, kind }),
            None => unmapped.push(format!("{table}.{column} ({udt})")),
        }
    }
    if !unmapped.is_empty() {
        return Err(CopyError::Schema(format!(
            "no conversion from SQLite for the PostgreSQL type of {}: add one to src/db/copy/convert.rs",
            unmapped.join(", ")
        )));
    }
    let references = tx
        .query(
            "SELECT child.relname::text, parent.relname::text
             FROM pg_constraint c
             JOIN pg_class child ON child.oid = c.conrelid
             JOIN pg_class parent ON parent.oid = c.confrelid
             JOIN pg_namespace n ON n.oid = child.relnamespace
             WHERE c.contype = 'f' AND n.nspname = current_schema()",
            &[],
        )
        .await
        .map_err(|e| target_error("reading the target's foreign keys", e))?;
    let references: Vec<(String, String)> = references.iter().map(|r| (r.get(0), r.get(1))).collect();
    let order = foreign_key_order(tables.keys().cloned().collect(), &references)?;
    Ok(order
        .into_iter()
        .map(|name| {
            let columns = tables.remove(&name).unwrap_or_default();
            Table { name, columns }
        })
        .collect())
}

/// `tables` ordered so that each comes after every table it references (`(child, parent)`
/// pairs; a table referencing itself is filled by one statement, whose checks run at its end).
/// Ties go alphabetically, so the order is the same on every run.
fn foreign_key_order(tables: BTreeSet<String>, references: &[(String, String)]) -> Result<Vec<String>, CopyError> {
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = tables.iter().map(|t| (t.as_str(), BTreeSet::new())).collect();
    for (child, parent) in references {
        if child != parent
            && tables.contains(parent)
            && let Some(p) = parents.get_mut(child.as_str())
        {
            p.insert(parent.as_str());
        }
    }
    let mut order: Vec<String> = Vec::with_capacity(tables.len());
    while !parents.is_empty() {
        let ready: Vec<&str> = parents.iter().filter(|(_, p)| p.is_empty()).map(|(t, _)| *t).collect();
        if ready.is_empty() {
            let cycle: Vec<&str> = parents.keys().copied().collect();
            return Err(CopyError::Schema(format!("the foreign keys of {} form a cycle: no order copies them", cycle.join(", "))));
        }
        for table in ready {
            parents.remove(table);
            for p in parents.values_mut() {
                p.remove(table);
            }
            order.push(table.to_owned());
        }
    }
    Ok(order)
}

/// `(table, column)` of every identity or serial column of the target.
pub async fn numbered_columns(tx: &Transaction<'_>) -> Result<Vec<(String, String)>, CopyError> {
    let rows = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name <> $1
               AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')
             ORDER BY table_name, column_name",
            &[&HISTORY],
        )
        .await
        .map_err(|e| target_error("reading the target's identity columns", e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The migration versions applied to the SQLite database.
fn source_versions(source: &Connection) -> Result<Vec<i64>, CopyError> {
    let mut stmt = source
        .prepare(&format!("SELECT version FROM {HISTORY} ORDER BY version"))
        .map_err(|e| source_error("reading its migration history (is it an optima database?)", e))?;
    let versions = stmt.query_map([], |r| r.get(0)).and_then(|rows| rows.collect::<rusqlite::Result<Vec<i64>>>());
    versions.map_err(|e| source_error("reading its migration history", e))
}

/// Refuses unless the SQLite database has exactly the migrations the target has now (this
/// optima's): its tables and columns are then the ones the target's mirror.
pub async fn same_migrations(source: &Connection, tx: &Transaction<'_>) -> Result<(), CopyError> {
    let mine = source_versions(source)?;
    let rows = tx
        .query(&format!("SELECT version::bigint FROM {HISTORY} ORDER BY version"), &[])
        .await
        .map_err(|e| target_error("reading the target's migration history", e))?;
    let theirs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let newest = |v: &[i64]| v.last().map_or_else(|| "none".to_owned(), |n| format!("V{n}"));
    if mine.iter().any(|v| !theirs.contains(v)) {
        return Err(CopyError::Schema(format!(
            "the SQLite database has migrations this optima does not know (SQLite at {}, PostgreSQL at {}): copy it with the optima that wrote it",
            newest(&mine),
            newest(&theirs)
        )));
    }
    if mine != theirs {
        return Err(CopyError::Schema(format!(
            "the SQLite database is at migration {} and PostgreSQL at {}: run `optima migrate` on the SQLite database (without `database.url`) first",
            newest(&mine),
            newest(&theirs)
        )));
    }
    Ok(())
}

/// Refuses unless the SQLite database has exactly the target's tables, each with the same
/// columns: a column or table on one side only would be lost or left empty.
pub fn same_tables(source: &Connection, tables: &[Table]) -> Result<(), CopyError> {
    let names = |sql: &str, arg: &str| -> Result<BTreeSet<String>, CopyError> {
        let mut stmt = source.prepare(sql).map_err(|e| source_error("reading its schema", e))?;
        let rows = stmt.query_map([arg], |r| r.get(0)).and_then(|rows| rows.collect::<rusqlite::Result<BTreeSet<String>>>());
        rows.map_err(|e| source_error("reading its schema", e))
    };
    let source_tables = names("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> ?1", HISTORY)?;
    let target_tables: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect::<Vec<_>>().join(", ");
    if source_tables != target_tables {
        return Err(CopyError::Schema(format!(
            "the databases' tables differ: only in SQLite [{}], only in PostgreSQL [{}]",
            only(&source_tables, &target_tables),
            only(&target_tables, &source_tables)
        )));
    }
    for table in tables {
        let source_columns = names("SELECT name FROM pragma_table_info(?1)", &table.name)?;
        let target_columns: BTreeSet<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        if source_columns != target_columns {
            return Err(CopyError::Schema(format!(
                "the columns of {} differ: only in SQLite [{}], only in PostgreSQL [{}]",
                table.name,
                only(&source_columns, &target_columns),
                only(&target_columns, &source_columns)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn refs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(c, p)| (c.to_string(), p.to_string())).collect()
    }

    #[test]
    fn tables_come_after_those_they_reference() {
        let order = foreign_key_order(
            set(&["comms", "receipts", "teams", "users", "audit"]),
            &refs(&[("receipts", "comms"), ("comms", "users"), ("users", "teams"), ("users", "users")]),
        )
        .unwrap();
        assert_eq!(order, ["audit", "teams", "users", "comms", "receipts"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let err = foreign_key_order(set(&["a", "b", "c"]), &refs(&[("a", "b"), ("b", "a")])).unwrap_err();
        assert!(err.to_string().contains("a, b form a cycle"), "{err}");
    }
}
