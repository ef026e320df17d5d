//! Master key rotation: every wrapped data key is re-wrapped under the new master key in one
//! transaction, which also names the new key as current; the blobs are not touched.
//!
//! Crash-safe in every order: the new key file is written before the transaction and moved over
//! the old one after it, and the keyring knows both while both exist. A running server picks up
//! the new key the first time a row names it, and wraps new data keys under whichever key the
//! database names as current (see `sealing::wrap_current`).

use super::audit::{self, Record};
use super::repo;
use super::sealing::key_aad;
use crate::config::Config;
use crate::crypto::keyring::{self, Keyring};
use crate::db::Db;
use crate::error::AppError;

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationReport {
    pub key_id: String,
    pub previous_key_ids: Vec<String>,
    pub rewrapped: usize,
}

/// Rotates the master key of the data directory in `config`, over `db` (its database).
pub async fn rotate(db: &Db, config: &Config) -> Result<RotationReport, String> {
    let (current, previous, dir) = (&config.tactical.master_key, &config.tactical.previous_master_keys, config.keys_dir());
    let new_key = keyring::begin_rotation(current, &dir).map_err(|e| e.to_string())?;
    let ring = Keyring::load(current, previous, &dir).map_err(|e| e.to_string())?;
    let keys_dir = dir.clone();
    // Any failure rolls the whole transaction back.
    let report = db
        .write(move |tx| {
            let mut rewrapped = 0;
            let mut previous_ids = Vec::new();
            for repo::WrappedKey { table, id, wrapped, key_id } in repo::wrapped_keys(tx)? {
                if key_id == new_key.id() {
                    continue;
                }
                let old = ring.get(&key_id).ok_or_else(|| {
                    AppError::Internal(format!(
                        "{table} {id} is wrapped under master key {key_id}, which is neither configured nor in {}",
                        keys_dir.display()
                    ))
                })?;
                let aad = key_aad(table, &id);
                let dk = old.unwrap(&wrapped, &aad).map_err(|e| AppError::Internal(format!("{table} {id}: {e}")))?;
                repo::set_wrapped_key(tx, table, &id, &new_key.wrap(&dk, &aad), new_key.id())?;
                if !previous_ids.contains(&key_id) {
                    previous_ids.push(key_id);
                }
                rewrapped += 1;
            }
            repo::set_current_key_id(tx, new_key.id())?;
            let detail = format!("key={} rewrapped={rewrapped}", new_key.id());
            audit::append(tx, &Record::ok("optima-cli", "keys.rotate", "master_key").detail(detail))?;
            Ok(RotationReport { key_id: new_key.id().to_owned(), previous_key_ids: previous_ids, rewrapped })
        })
        .await
        .map_err(message_of)?;
    // The old wrapped keys leave the write-ahead log.
    db.try_checkpoint().await.map_err(message_of)?;
    keyring::complete_rotation(current, &dir).map_err(|e| e.to_string())?;
    Ok(report)
}

/// The message of a failed step, without the "internal error" prefix (this is an operator's
/// command, not an HTTP answer).
fn message_of(e: AppError) -> String {
    match e {
        AppError::Internal(message) => message,
        other => other.to_string(),
    }
}
