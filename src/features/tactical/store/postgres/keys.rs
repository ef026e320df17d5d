//! SQL of data keys on PostgreSQL: the master key the database names as current, and every
//! wrapped data key. The locks here come first in every transaction that takes them (see the
//! module above).

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::super::{KeyHolder, SealedKey, WrapKey, WrappedKey};
use super::{KEY_STATE_LOCK, row_id};
use crate::error::AppResult;

/// The table and id column of the rows of `holder`.
fn table_of(holder: KeyHolder) -> (&'static str, &'static str) {
    match holder {
        KeyHolder::Comm => ("tactical_comms", "comm_id"),
        KeyHolder::Document => ("tactical_documents", "document_id"),
    }
}

async fn advisory_lock(c: &impl GenericClient) -> AppResult<()> {
    let stmt = c.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").await?;
    c.execute(&stmt, &[&KEY_STATE_LOCK]).await?;
    Ok(())
}

async fn named(c: &impl GenericClient, lock: &str) -> AppResult<Option<String>> {
    let stmt = c.prepare_cached(&format!("SELECT key_id FROM key_state WHERE name = 'master' {lock}")).await?;
    Ok(c.query_opt(&stmt, &[]).await?.map(|r| r.try_get(0)).transpose()?)
}

/// The master key the database names as current, held as current until the transaction ends:
/// the name's row is locked `FOR SHARE` (a rotation's update of it waits for the commit); while
/// none is named, the advisory lock a rotation also takes is held instead, so that naming the
/// first key and a rotation take turns. Call it before the transaction locks any other row.
pub(super) async fn lock_current(c: &impl GenericClient) -> AppResult<Option<String>> {
    if let Some(key) = named(c, "FOR SHARE").await? {
        return Ok(Some(key));
    }
    advisory_lock(c).await?;
    named(c, "FOR SHARE").await
}

/// Runs `wrap` with the master key `named` names (from [`lock_current`]), and names the one it
/// used when none was named yet (see [`WrapKey`]); `named` follows.
pub(super) async fn wrap_with(c: &impl GenericClient, named: &mut Option<String>, wrap: WrapKey) -> AppResult<SealedKey> {
    let sealed = wrap(named.as_deref())?;
    if named.is_none() {
        set_current_key_id(c, &sealed.key_id).await?;
        *named = Some(sealed.key_id.clone());
    }
    Ok(sealed)
}

/// A rotation's first step: the advisory lock, then the name's row `FOR UPDATE` (waiting for
/// every write that read it to commit).
pub(super) async fn lock_for_rotation(c: &impl GenericClient) -> AppResult<()> {
    advisory_lock(c).await?;
    named(c, "FOR UPDATE").await?;
    Ok(())
}

/// Every wrapped data key, each row locked until the transaction ends (a secure deletion of one
/// waits, and one deleted before finds its key gone), comms then documents, each by id.
pub(super) async fn wrapped_keys_for_update(c: &impl GenericClient) -> AppResult<Vec<WrappedKey>> {
    let mut out = Vec::new();
    for holder in [KeyHolder::Comm, KeyHolder::Document] {
        let (table, id) = table_of(holder);
        let stmt = c.prepare_cached(&format!("SELECT {id}, wrapped_key, key_id FROM {table} WHERE wrapped_key IS NOT NULL ORDER BY {id} FOR UPDATE")).await?;
        for r in c.query(&stmt, &[]).await? {
            out.push(WrappedKey { holder, id: r.try_get::<_, Uuid>(0)?.to_string(), key: SealedKey { wrapped: r.try_get(1)?, key_id: r.try_get(2)? } });
        }
    }
    Ok(out)
}

pub(super) async fn set_wrapped_key(c: &impl GenericClient, holder: KeyHolder, id: &str, wrapped: &[u8], key_id: &str) -> AppResult<()> {
    let Some(id) = row_id(id) else { return Ok(()) };
    let (table, id_column) = table_of(holder);
    let stmt = c.prepare_cached(&format!("UPDATE {table} SET wrapped_key = $2, key_id = $3 WHERE {id_column} = $1")).await?;
    c.execute(&stmt, &[&id, &wrapped, &key_id]).await?;
    Ok(())
}

pub(super) async fn set_current_key_id(c: &impl GenericClient, key_id: &str) -> AppResult<()> {
    let stmt = c
        .prepare_cached("INSERT INTO key_state (name, key_id) VALUES ('master', $1) ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id")
        .await?;
    c.execute(&stmt, &[&key_id]).await?;
    Ok(())
}
