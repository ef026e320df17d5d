use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use crate::blobs::signing::SignedMethod;

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct StoredObject {
    /// The object's canonical address on this server (`/cdn/{bucket}/{path}`); give it to
    /// `DELETE /api/storage/delete`. Readable with a bearer token of its owner, or by anyone
    /// when the bucket is public.
    pub url: String,
    /// A URL that works without a token: the canonical one for public buckets, a signed one
    /// (valid for `storage.delivery_url_ttl_secs`) for private buckets.
    pub cdn_url: String,
    pub bucket: String,
    pub path: String,
    pub size: u64,
    pub content_type: String,
    pub etag: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
pub struct DeleteRequest {
    /// A `/cdn/…` URL this server returned (absolute or just the path; a query is ignored).
    #[oai(validator(min_length = 1, max_length = 4096))]
    pub url: String,
}

#[derive(Debug, Clone, Object, Serialize)]
pub struct Deleted {
    pub deleted: bool,
    pub bucket: String,
    pub path: String,
}

/// A signed URL's lifetime when the request names none, in seconds.
pub const DEFAULT_EXPIRES_IN_SECS: u64 = 3600;

fn default_expires_in() -> u64 {
    DEFAULT_EXPIRES_IN_SECS
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct SignedUrlRequest {
    /// Bucket alias (`music`, `writing`, `images`, `tactical`, `media`) or full name.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub bucket: String,
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub path: String,
    /// Default GET.
    #[oai(default)]
    #[serde(default)]
    pub method: SignedMethod,
    /// Lifetime in seconds: 1 second to 7 days (`MAX_EXPIRES_IN_SECS`, checked by the
    /// service); default an hour (`DEFAULT_EXPIRES_IN_SECS`).
    #[oai(default = "default_expires_in", validator(minimum(value = "1"), maximum(value = "604800")))]
    #[serde(default = "default_expires_in")]
    pub expires_in: u64,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct SignedUrl {
    pub url: String,
    pub method: SignedMethod,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Headers the client must send with the request, exactly as given (none for this
    /// server's own URLs).
    pub headers: std::collections::BTreeMap<String, String>,
}
