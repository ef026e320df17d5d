//! Envelope encryption for Tactical HQ: each record is sealed with its own random data key
//! (AES-256-GCM), and the data key is stored wrapped (sealed) under a master key. Rotating a
//! master key then means re-wrapping small data keys, never re-encrypting the records.
//!
//! Sealed format: version byte `0x01` || 12-byte random nonce || ciphertext || 16-byte tag.
//! The associated data (`aad`) is not stored; it binds a ciphertext to its record (say the
//! record's id), so a ciphertext moved to another record fails to open.

use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, AeadInOut, Generate, KeyInit, Nonce, Payload};
use sha2::{Digest, Sha256};
use zeroize::{ZeroizeOnDrop, Zeroizing};

/// Length of data and master keys.
pub const KEY_LEN: usize = 32;
const VERSION: u8 = 0x01;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;
const ID_DOMAIN: &[u8] = b"optima-master-key-id:";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed data is too short to hold a version byte, nonce and tag")]
    Truncated,
    #[error("sealed data has unknown format version {0}")]
    UnknownVersion(u8),
    #[error("ciphertext failed its integrity check (tampered, truncated, or sealed for another record or key)")]
    Integrity,
    #[error("a key must be {KEY_LEN} bytes, got {0}")]
    BadKeyLength(usize),
}

/// A 32-byte AES-256-GCM key, wiped from memory when dropped.
#[derive(Clone, ZeroizeOnDrop)]
pub struct DataKey {
    bytes: [u8; KEY_LEN],
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// A fresh key from the OS random number generator.
    ///
    /// # Panics
    /// If the OS random number generator fails, which modern systems do not.
    #[must_use]
    pub fn generate() -> DataKey {
        let mut key = DataKey { bytes: [0; KEY_LEN] };
        if let Err(e) = getrandom::fill(&mut key.bytes) {
            panic!("the OS random number generator failed: {e}");
        }
        key
    }

    fn from_bytes(bytes: &[u8]) -> Result<DataKey, CryptoError> {
        let bytes = bytes.try_into().map_err(|_| CryptoError::BadKeyLength(bytes.len()))?;
        Ok(DataKey { bytes })
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.bytes).into())
    }

    /// Encrypts `plaintext` bound to `aad` under a fresh random nonce.
    ///
    /// # Panics
    /// If the OS random number generator fails, or if `plaintext` exceeds AES-GCM's limit of
    /// 64 GiB per message.
    #[must_use]
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = Nonce::<Aes256Gcm>::generate();
        let mut sealed = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = match self.cipher().encrypt_inout_detached(&nonce, aad, (&mut sealed[HEADER_LEN..]).into()) {
            Ok(tag) => tag,
            Err(_) => panic!("plaintext of {} bytes exceeds the AES-GCM message limit", plaintext.len()),
        };
        sealed.extend_from_slice(&tag);
        sealed
    }

    /// Decrypts what [`DataKey::seal`] produced with this key and the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Truncated)?;
        if version != VERSION {
            return Err(CryptoError::UnknownVersion(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Truncated);
        }
        let (nonce, msg) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| CryptoError::Truncated)?;
        self.cipher().decrypt(&nonce, Payload { msg, aad }).map_err(|_| CryptoError::Integrity)
    }
}

/// A key that wraps data keys, named by an id derived from it.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: DataKey,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A master key from exactly 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, CryptoError> {
        let key = DataKey::from_bytes(bytes)?;
        let digest = Sha256::new().chain_update(ID_DOMAIN).chain_update(key.bytes).finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(MasterKey { id, key })
    }

    /// 16 hex characters from a domain-separated SHA-256 of the key: stable, and reveals
    /// nothing about the key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals the data key under this master key, bound to `aad`.
    #[must_use]
    pub fn wrap(&self, dk: &DataKey, aad: &[u8]) -> Vec<u8> {
        self.key.seal(aad, &dk.bytes)
    }

    /// Recovers a data key sealed by [`MasterKey::wrap`] with this key and the same `aad`.
    pub fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<DataKey, CryptoError> {
        let bytes = Zeroizing::new(self.key.open(aad, wrapped)?);
        DataKey::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: &[u8] = b"record-42";

    fn sealed() -> (DataKey, Vec<u8>) {
        let dk = DataKey::generate();
        let sealed = dk.seal(AAD, b"the plan for Tuesday");
        (dk, sealed)
    }

    #[test]
    fn roundtrip() {
        let (dk, sealed) = sealed();
        assert_eq!(sealed.len(), HEADER_LEN + 20 + TAG_LEN);
        assert_eq!(sealed[0], VERSION);
        assert_eq!(dk.open(AAD, &sealed).unwrap(), b"the plan for Tuesday");
        assert_eq!(dk.open(b"", &dk.seal(b"", b"")).unwrap(), b"");
    }

    #[test]
    fn wrong_aad_fails_integrity() {
        let (dk, sealed) = sealed();
        assert!(matches!(dk.open(b"record-43", &sealed), Err(CryptoError::Integrity)));
    }

    #[test]
    fn wrong_key_fails_integrity() {
        let (_, sealed) = sealed();
        assert!(matches!(DataKey::generate().open(AAD, &sealed), Err(CryptoError::Integrity)));
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let (dk, sealed) = sealed();
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                let err = dk.open(AAD, &bad).unwrap_err();
                if i == 0 {
                    assert!(matches!(err, CryptoError::UnknownVersion(v) if v == VERSION ^ (1 << bit)));
                } else {
                    assert!(matches!(err, CryptoError::Integrity), "byte {i} bit {bit}: {err}");
                }
            }
        }
    }

    #[test]
    fn truncation_is_detected() {
        let (dk, sealed) = sealed();
        for len in 0..HEADER_LEN + TAG_LEN {
            assert!(matches!(dk.open(AAD, &sealed[..len]), Err(CryptoError::Truncated)), "length {len}");
        }
        for len in HEADER_LEN + TAG_LEN..sealed.len() {
            assert!(matches!(dk.open(AAD, &sealed[..len]), Err(CryptoError::Integrity)), "length {len}");
        }
    }

    #[test]
    fn seals_of_the_same_plaintext_differ() {
        let dk = DataKey::generate();
        let (a, b) = (dk.seal(AAD, b"same"), dk.seal(AAD, b"same"));
        assert_ne!(a, b);
        assert_ne!(a[1..HEADER_LEN], b[1..HEADER_LEN]);
    }

    #[test]
    fn wrap_unwrap_roundtrip() {
        let master = MasterKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let (dk, sealed) = sealed();
        let wrapped = master.wrap(&dk, AAD);
        let unwrapped = master.unwrap(&wrapped, AAD).unwrap();
        assert_eq!(unwrapped.open(AAD, &sealed).unwrap(), b"the plan for Tuesday");
        assert!(matches!(master.unwrap(&wrapped, b"other"), Err(CryptoError::Integrity)));
    }

    #[test]
    fn unwrap_with_another_master_key_fails() {
        let master = MasterKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let other = MasterKey::from_bytes(&[8; KEY_LEN]).unwrap();
        let wrapped = master.wrap(&DataKey::generate(), AAD);
        assert!(matches!(other.unwrap(&wrapped, AAD), Err(CryptoError::Integrity)));
    }

    #[test]
    fn master_key_needs_32_bytes() {
        assert!(matches!(MasterKey::from_bytes(&[1; 31]), Err(CryptoError::BadKeyLength(31))));
        assert!(matches!(MasterKey::from_bytes(&[1; 33]), Err(CryptoError::BadKeyLength(33))));
    }

    #[test]
    fn id_is_stable_and_distinct() {
        let a = MasterKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let again = MasterKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let b = MasterKey::from_bytes(&[8; KEY_LEN]).unwrap();
        assert_eq!(a.id(), again.id());
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().len(), 16);
        assert!(a.id().bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(!format!("{a:?}").contains("7, 7"));
    }
}
