//! How Tactical HQ seals its secrets: what each ciphertext is bound to (associated data), and
//! which master key wraps a new data key.
//!
//! Associated data ties a ciphertext to its record: a message blob opens only as the message of
//! its own comm at its own classification, a wrapped key only for its own row. A swapped blob,
//! a copied row or an edited classification fails the integrity check instead of decrypting.

use std::sync::Arc;

use super::store::{SealedKey, WrapKey};
use crate::crypto::envelope::{CryptoError, DataKey};
use crate::crypto::keyring::SharedKeyring;
use crate::error::{AppError, AppResult};

pub fn message_aad(comm_id: &str, classification: &str) -> Vec<u8> {
    format!("optima/tactical/v1/comm/{comm_id}/{classification}/message").into_bytes()
}

pub fn attachment_aad(comm_id: &str, classification: &str, file_id: &str) -> Vec<u8> {
    format!("optima/tactical/v1/comm/{comm_id}/{classification}/attachment/{file_id}").into_bytes()
}

pub fn attachment_name_aad(comm_id: &str, file_id: &str) -> Vec<u8> {
    format!("optima/tactical/v1/comm/{comm_id}/attachment-name/{file_id}").into_bytes()
}

pub fn document_aad(user_id: &str, document_id: &str) -> Vec<u8> {
    format!("optima/tactical/v1/document/{user_id}/{document_id}").into_bytes()
}

pub fn document_name_aad(user_id: &str, document_id: &str) -> Vec<u8> {
    format!("optima/tactical/v1/document/{user_id}/{document_id}/name").into_bytes()
}

/// Binds a wrapped data key to the row (`table`, `id`) that holds it.
pub fn key_aad(table: &str, id: &str) -> Vec<u8> {
    format!("optima/tactical/v1/key/{table}/{id}").into_bytes()
}

/// What a failed open means to a caller: the stored data is not what was sealed (logged when
/// the error is rendered).
pub fn integrity_error(what: &str, err: CryptoError) -> AppError {
    AppError::Integrity { message: format!("{what}: {err}") }
}

/// Wraps `dk` under the master key the database names as current, or the keyring's current key
/// when it names none yet (the store then names that one). The store runs it inside the writing
/// transaction: a concurrent `optima keys rotate` changes the name in its own transaction, so a
/// key wrapped here is either re-wrapped by it or already wrapped under the new key.
pub fn wrap_current(keys: Arc<SharedKeyring>, dk: DataKey, aad: Vec<u8>) -> WrapKey {
    Box::new(move |named: Option<&str>| {
        let id = named.map_or_else(|| keys.current_id(), str::to_owned);
        let master = keys.key(&id).map_err(AppError::internal)?;
        Ok(SealedKey { wrapped: master.wrap(&dk, &aad), key_id: id })
    })
}

/// The data key wrapped in a row.
pub fn unwrap(keys: &SharedKeyring, wrapped: &[u8], key_id: &str, aad: &[u8], what: &str) -> AppResult<DataKey> {
    let master = keys.key(key_id).map_err(AppError::internal)?;
    master.unwrap(wrapped, aad).map_err(|e| integrity_error(what, e))
}
