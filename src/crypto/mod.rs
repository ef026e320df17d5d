//! Key material: secrets from configuration or generated key files, master keys and their
//! rotation, and envelope encryption.

pub mod envelope;
pub mod keyring;
pub mod keys;

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `data` in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}
