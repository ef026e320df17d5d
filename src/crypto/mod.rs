//! Key material: secrets from configuration or generated key files, master keys and their
//! rotation, and envelope encryption.

pub mod envelope;
pub mod keyring;
pub mod keys;
