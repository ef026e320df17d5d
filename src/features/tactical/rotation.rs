//! Master key rotation: every wrapped data key is re-wrapped under the new master key in one
//! store operation, which also names the new key as current; the blobs are not touched.
//!
//! Crash-safe in every order: the new key file is written before the transaction and moved over
//! the old one after it, and the keyring knows both while both exist. A running server picks up
//! the new key the first time a row names it, and wraps new data keys under whichever key the
//! database names as current (see `sealing::wrap_current`).

use super::audit::Record;
use super::sealing::key_aad;
use super::store::{PlanRotation, Rewrapped, TacticalStore, WrappedKey};
use crate::config::Config;
use crate::crypto::keyring::{self, Keyring};
use crate::error::AppError;

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationReport {
    pub key_id: String,
    pub previous_key_ids: Vec<String>,
    pub rewrapped: usize,
}

/// Rotates the master key of the data directory in `config`, over `store` (its database).
pub async fn rotate(store: &dyn TacticalStore, config: &Config) -> Result<RotationReport, String> {
    let (current, previous, dir) = (&config.tactical.master_key, &config.tactical.previous_master_keys, config.keys_dir());
    let new_key = keyring::begin_rotation(current, &dir).map_err(|e| e.to_string())?;
    let ring = Keyring::load(current, previous, &dir).map_err(|e| e.to_string())?;
    let (keys_dir, new_key_id) = (dir.clone(), new_key.id().to_owned());
    let plan: PlanRotation = Box::new(move |wrapped_keys: Vec<WrappedKey>| {
        let mut rewrapped = Vec::new();
        for WrappedKey { holder, id, key } in wrapped_keys {
            if key.key_id == new_key.id() {
                continue;
            }
            let table = holder.aad_name();
            let old = ring.get(&key.key_id).ok_or_else(|| {
                AppError::Internal(format!(
                    "{table} {id} is wrapped under master key {}, which is neither configured nor in {}",
                    key.key_id,
                    keys_dir.display()
                ))
            })?;
            let aad = key_aad(table, &id);
            let dk = old.unwrap(&key.wrapped, &aad).map_err(|e| AppError::Internal(format!("{table} {id}: {e}")))?;
            rewrapped.push(Rewrapped { holder, wrapped: new_key.wrap(&dk, &aad), id, previous_key_id: key.key_id });
        }
        let detail = format!("key={} rewrapped={}", new_key.id(), rewrapped.len());
        Ok((rewrapped, Record::ok("optima-cli", "keys.rotate", "master_key").detail(detail)))
    });
    // Any failure rolls the whole rotation back; the old wrapped keys leave the database's logs.
    let rewrapped = store.rotate_master_key(&new_key_id, plan).await.map_err(message_of)?;
    let mut previous_key_ids: Vec<String> = Vec::new();
    for r in &rewrapped {
        if !previous_key_ids.contains(&r.previous_key_id) {
            previous_key_ids.push(r.previous_key_id.clone());
        }
    }
    keyring::complete_rotation(current, &dir).map_err(|e| e.to_string())?;
    Ok(RotationReport { key_id: new_key_id, previous_key_ids, rewrapped: rewrapped.len() })
}

/// The message of a failed step, without the "internal error" prefix (this is an operator's
/// command, not an HTTP answer).
fn message_of(e: AppError) -> String {
    match e {
        AppError::Internal(message) => message,
        other => other.to_string(),
    }
}
