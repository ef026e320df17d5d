//! SQL of data keys: the master key the database names as current, and every wrapped data key.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::{KeyHolder, SealedKey, WrapKey, WrappedKey};
use crate::db::CachedSql;
use crate::error::AppResult;

/// The table and id column of the rows of `holder`.
fn table_of(holder: KeyHolder) -> (&'static str, &'static str) {
    match holder {
        KeyHolder::Comm => ("tactical_comms", "comm_id"),
        KeyHolder::Document => ("tactical_documents", "document_id"),
    }
}

/// Every wrapped data key.
pub(super) fn wrapped_keys(c: &Connection) -> rusqlite::Result<Vec<WrappedKey>> {
    let mut out = Vec::new();
    for holder in [KeyHolder::Comm, KeyHolder::Document] {
        let (table, id) = table_of(holder);
        let mut stmt = c.prepare_cached(&format!("SELECT {id}, wrapped_key, key_id FROM {table} WHERE wrapped_key IS NOT NULL"))?;
        let rows = stmt.query_map([], |r| Ok(WrappedKey { holder, id: r.get(0)?, key: SealedKey { wrapped: r.get(1)?, key_id: r.get(2)? } }))?;
        out.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
    }
    Ok(out)
}

pub(super) fn set_wrapped_key(c: &Connection, holder: KeyHolder, id: &str, wrapped: &[u8], key_id: &str) -> rusqlite::Result<()> {
    let (table, id_column) = table_of(holder);
    c.execute_cached(&format!("UPDATE {table} SET wrapped_key = ?2, key_id = ?3 WHERE {id_column} = ?1"), params![id, wrapped, key_id])?;
    Ok(())
}

pub(super) fn current_key_id(c: &Connection) -> rusqlite::Result<Option<String>> {
    c.query_row_cached("SELECT key_id FROM key_state WHERE name = 'master'", [], |r| r.get(0)).optional()
}

pub(super) fn set_current_key_id(c: &Connection, key_id: &str) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO key_state (name, key_id) VALUES ('master', ?1) ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id",
        [key_id],
    )?;
    Ok(())
}


/// Runs `wrap` with the master key the database names as current, and names the one it used
/// when none was named yet (see [`WrapKey`]). Run inside the writing transaction.
pub(super) fn wrap_current(c: &Connection, wrap: WrapKey) -> AppResult<SealedKey> {
    let named = current_key_id(c)?;
    let sealed = wrap(named.as_deref())?;
    if named.is_none() {
        set_current_key_id(c, &sealed.key_id)?;
    }
    Ok(sealed)
}
