//! Signed delivery URLs of the local store: an HMAC-SHA256 over method, bucket, path and
//! expiry, checked in constant time. A URL works without a token until it expires and fails
//! after, or when any part of it is altered.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{BlobPath, Bucket};
use crate::error::{AppError, AppResult};

/// The longest lifetime a signed URL may be given: 7 days.
pub const MAX_EXPIRES_IN_SECS: u64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Enum)]
pub enum SignedMethod {
    /// Download (also allows `HEAD`).
    #[default]
    #[serde(rename = "GET")]
    #[oai(rename = "GET")]
    Get,
    /// Upload with `PUT /cdn/{bucket}/{path}`.
    #[serde(rename = "PUT")]
    #[oai(rename = "PUT")]
    Put,
}

impl SignedMethod {
    fn as_str(self) -> &'static str {
        match self {
            SignedMethod::Get => "GET",
            SignedMethod::Put => "PUT",
        }
    }
}

/// The query parameters a signed URL carries.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Signature {
    pub expires: i64,
    pub signature: String,
}

pub struct UrlSigner {
    key: Vec<u8>,
}

impl UrlSigner {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(&self, method: SignedMethod, bucket: Bucket, path: &BlobPath, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any size");
        mac.update(format!("{}\n{}\n{}\n{}", method.as_str(), bucket.name(), path.as_str(), expires).as_bytes());
        mac
    }

    /// The query string (`expires=…&signature=…`) that authorises `method` until `expires`
    /// (Unix seconds).
    pub fn query(&self, method: SignedMethod, bucket: Bucket, path: &BlobPath, expires: i64) -> String {
        let sig = URL_SAFE_NO_PAD.encode(self.mac(method, bucket, path, expires).finalize().into_bytes());
        format!("expires={expires}&signature={sig}")
    }

    pub fn verify(
        &self,
        method: SignedMethod,
        bucket: Bucket,
        path: &BlobPath,
        sig: &Signature,
        now: i64,
    ) -> AppResult<()> {
        let invalid = || Err(AppError::forbidden_code("invalid_signature", "the URL signature is not valid for this object and method"));
        let Ok(given) = URL_SAFE_NO_PAD.decode(&sig.signature) else { return invalid() };
        if self.mac(method, bucket, path, sig.expires).verify_slice(&given).is_err() {
            return invalid();
        }
        if now >= sig.expires {
            return Err(AppError::forbidden_code("signature_expired", "the signed URL has expired"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Signature {
        let mut expires = 0;
        let mut signature = String::new();
        for kv in q.split('&') {
            let (k, v) = kv.split_once('=').unwrap();
            match k {
                "expires" => expires = v.parse().unwrap(),
                _ => signature = v.to_owned(),
            }
        }
        Signature { expires, signature }
    }

    #[test]
    fn valid_expired_and_tampered() {
        let signer = UrlSigner::new(b"k".repeat(32));
        let path = BlobPath::parse("users/u/a.png").unwrap();
        let sig = parse(&signer.query(SignedMethod::Get, Bucket::Media, &path, 1_000));
        assert!(signer.verify(SignedMethod::Get, Bucket::Media, &path, &sig, 999).is_ok());
        let expired = signer.verify(SignedMethod::Get, Bucket::Media, &path, &sig, 1_000).unwrap_err();
        assert_eq!(expired.code(), "signature_expired");
        let other_path = BlobPath::parse("users/u/b.png").unwrap();
        for (method, bucket, path, s) in [
            (SignedMethod::Put, Bucket::Media, &path, sig.clone()),
            (SignedMethod::Get, Bucket::Images, &path, sig.clone()),
            (SignedMethod::Get, Bucket::Media, &other_path, sig.clone()),
            (SignedMethod::Get, Bucket::Media, &path, Signature { expires: 2_000, ..sig.clone() }),
            (SignedMethod::Get, Bucket::Media, &path, Signature { signature: "AAAA".into(), ..sig.clone() }),
            (SignedMethod::Get, Bucket::Media, &path, Signature { signature: "!!".into(), ..sig.clone() }),
        ] {
            assert_eq!(signer.verify(method, bucket, path, &s, 0).unwrap_err().code(), "invalid_signature");
        }
    }
}
