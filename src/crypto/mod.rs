//! Key material: secrets from configuration or generated key files.

pub mod keys;
