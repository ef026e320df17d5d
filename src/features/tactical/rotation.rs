//! Master key rotation: every wrapped data key is re-wrapped under the new master key in one
//! transaction, which also names the new key as current; the blobs are not touched.
//!
//! Crash-safe in every order: the new key file is written before the transaction and moved over
//! the old one after it, and the keyring knows both while both exist. A running server picks up
//! the new key the first time a row names it, and wraps new data keys under whichever key the
//! database names as current (see `sealing::wrap_current`).

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::audit::{self, Record};
use super::repo;
use super::sealing::key_aad;
use crate::config::Config;
use crate::crypto::keyring::{self, Keyring};
use crate::db::CachedSql;

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationReport {
    pub key_id: String,
    pub previous_key_ids: Vec<String>,
    pub rewrapped: usize,
}

/// Rotates the master key of the data directory in `config` (the database is migrated first).
pub fn rotate(config: &Config) -> Result<RotationReport, String> {
    let (current, previous, dir) = (&config.tactical.master_key, &config.tactical.previous_master_keys, config.keys_dir());
    crate::db::migrate(&config.database_path(), &config.database).map_err(|e| e.to_string())?;
    let new_key = keyring::begin_rotation(current, &dir).map_err(|e| e.to_string())?;
    let ring = Keyring::load(current, previous, &dir).map_err(|e| e.to_string())?;
    let mut conn = Connection::open(config.database_path()).map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_millis(config.database.busy_timeout_ms)).map_err(|e| e.to_string())?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;").map_err(|e| e.to_string())?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| e.to_string())?;
    let mut rewrapped = 0;
    let mut previous_ids = Vec::new();
    for repo::WrappedKey { table, id, wrapped, key_id } in repo::wrapped_keys(&tx).map_err(|e| e.to_string())? {
        if key_id == new_key.id() {
            continue;
        }
        let old = ring.get(&key_id).ok_or_else(|| {
            format!("{table} {id} is wrapped under master key {key_id}, which is neither configured nor in {}", dir.display())
        })?;
        let aad = key_aad(table, &id);
        let dk = old.unwrap(&wrapped, &aad).map_err(|e| format!("{table} {id}: {e}"))?;
        repo::set_wrapped_key(&tx, table, &id, &new_key.wrap(&dk, &aad), new_key.id()).map_err(|e| e.to_string())?;
        if !previous_ids.contains(&key_id) {
            previous_ids.push(key_id);
        }
        rewrapped += 1;
    }
    repo::set_current_key_id(&tx, new_key.id()).map_err(|e| e.to_string())?;
    let detail = format!("key={} rewrapped={rewrapped}", new_key.id());
    audit::append(&tx, &Record::ok("optima-cli", "keys.rotate", "master_key").detail(detail)).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    conn.query_row_cached("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(|e| e.to_string())?;
    keyring::complete_rotation(current, &dir).map_err(|e| e.to_string())?;
    Ok(RotationReport { key_id: new_key.id().to_owned(), previous_key_ids: previous_ids, rewrapped })
}
