//! Blob storage: the `BlobStore` trait, bucket names, safe object paths, the local
//! filesystem store and signed delivery URLs.

pub mod bucket;
pub mod gcs;
mod local;
pub mod path;
pub mod signing;
pub mod transfer;

use std::collections::BTreeMap;
use std::ops::Range;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::io::AsyncRead;

pub use bucket::Bucket;
pub use gcs::{GcsLocations, GcsStore};
pub use local::LocalStore;
pub use path::BlobPath;

use crate::error::AppError;

/// What a store knows about an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub path: String,
    pub size: u64,
    /// A strong validator, already quoted for the `ETag` header.
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub content_type: String,
    /// SHA-256 (hex) when the backend keeps it (GCS objects this server wrote); `None` means
    /// it must be computed from the bytes.
    pub sha256: Option<String>,
}

/// A URL the client uses against the backend itself, with the headers it must send.
#[derive(Debug, Clone)]
pub struct DirectUrl {
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;
pub type ByteReader = Pin<Box<dyn AsyncRead + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object not found")]
    NotFound,
    #[error("object larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("an object path runs through an existing object")]
    PathConflict,
    #[error("reading the request body failed: {0}")]
    BodyRead(std::io::Error),
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The backend could not be reached (refused, reset, timed out) after the retries.
    #[error("the object store is unreachable: {0}")]
    Unavailable(String),
    /// The backend answered with an error or something unusable.
    #[error("the object store failed: {0}")]
    Backend(String),
    #[error("{0}")]
    Unsupported(String),
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => AppError::not_found("object not found"),
            StoreError::TooLarge { limit } => AppError::PayloadTooLarge {
                message: format!("object is larger than the upload limit of {limit} bytes"),
            },
            StoreError::PathConflict => AppError::Conflict {
                code: "path_conflict",
                message: "the path runs through an existing object (a file where a folder is needed, or the reverse)".into(),
            },
            StoreError::BodyRead(e) => AppError::bad_request("body_read_failed", format!("reading the upload failed: {e}")),
            StoreError::Io(e) => AppError::internal(format!("storage: {e}")),
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "object store unreachable");
                AppError::Unavailable {
                    code: "storage_unavailable",
                    message: "the object store cannot be reached right now; try again shortly".into(),
                    retry_after_secs: Some(5),
                }
            }
            StoreError::Backend(cause) => {
                tracing::warn!(%cause, "object store error");
                AppError::BadGateway { code: "storage_failed", message: "the object store answered with an error".into() }
            }
            StoreError::Unsupported(message) => AppError::Unavailable { code: "storage_unconfigured", message, retry_after_secs: None },
        }
    }
}

/// How far a write must have gone when `put` returns. Both are atomic for readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On stable storage: the bytes exist nowhere else (uploads, generated media, manuscripts).
    Synced,
    /// Visible at once, flushed to disk by the OS: a copy of database rows (a project's
    /// `metadata.json`), rewritten from them by the mirror worker shortly after every change
    /// (`features::mirrors`). Under `synchronous = "normal"` the
    /// rows themselves reach the disk at the next checkpoint, so waiting for the copy would buy
    /// nothing; with `"full"` the local store syncs these too.
    Mirror,
}

/// One backend of the five logical buckets. Writes are atomic: a reader sees the old object,
/// the new one, or none, never a half-written one.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync {
    /// Creates whatever the backend needs for the buckets to exist.
    async fn ensure_buckets(&self) -> Result<(), StoreError>;

    /// Whether every bucket can be reached now (for health checks); changes nothing.
    async fn check(&self) -> Result<(), StoreError>;

    /// Stores everything `body` yields, refusing (and keeping nothing) past `max_bytes`.
    async fn put(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        body: ByteReader,
        max_bytes: u64,
        durability: Durability,
    ) -> Result<ObjectMeta, StoreError>;

    async fn head(&self, bucket: Bucket, path: &BlobPath) -> Result<ObjectMeta, StoreError>;

    /// The object's bytes, or those of `range` (already checked against the size).
    async fn get(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        range: Option<Range<u64>>,
    ) -> Result<(ObjectMeta, ByteStream), StoreError>;

    /// The bytes of the version `meta` (from `head`) describes, or of `range` of it: what was
    /// announced in headers is what is sent. A backend that cannot pin a version reads the
    /// current object; one that can answers `NotFound` once that version is replaced.
    async fn get_version(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        _meta: &ObjectMeta,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        Ok(self.get(bucket, path, range).await?.1)
    }

    /// Deletes the object; false when there was none.
    async fn delete(&self, bucket: Bucket, path: &BlobPath) -> Result<bool, StoreError>;

    /// Deletes the object after overwriting its bytes where the backend can (in place on a
    /// local disk); false when there was none.
    async fn shred(&self, bucket: Bucket, path: &BlobPath) -> Result<bool, StoreError>;

    /// Objects whose path starts with `prefix`, in path order.
    async fn list(&self, bucket: Bucket, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;

    /// A signed URL that lets a client `method` the object directly at the backend for
    /// `expires_in` (an upload limited to `max_bytes`), or `None` when the backend has no such
    /// URLs and this server's own `/cdn` URLs are the way in.
    async fn direct_url(
        &self,
        _bucket: Bucket,
        _path: &BlobPath,
        _method: signing::SignedMethod,
        _expires_in: Duration,
        _max_bytes: u64,
    ) -> Result<Option<DirectUrl>, StoreError> {
        Ok(None)
    }
}

impl dyn BlobStore + '_ {
    pub async fn put_bytes(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        bytes: Vec<u8>,
    ) -> Result<ObjectMeta, StoreError> {
        let len = bytes.len() as u64;
        self.put(bucket, path, Box::pin(std::io::Cursor::new(bytes)), len, Durability::Synced).await
    }

    /// Writes a copy of database rows (see [`Durability::Mirror`]).
    pub async fn put_mirror(&self, bucket: Bucket, path: &BlobPath, bytes: Vec<u8>) -> Result<ObjectMeta, StoreError> {
        let len = bytes.len() as u64;
        self.put(bucket, path, Box::pin(std::io::Cursor::new(bytes)), len, Durability::Mirror).await
    }

    /// Writes every object or none: when one fails, those already written are deleted.
    pub async fn put_all(&self, bucket: Bucket, files: Vec<(BlobPath, Vec<u8>)>) -> Result<Vec<BlobPath>, StoreError> {
        let mut written = Vec::with_capacity(files.len());
        for (path, bytes) in files {
            if let Err(e) = self.put_bytes(bucket, &path, bytes).await {
                self.delete_all(bucket, &written).await;
                return Err(e);
            }
            written.push(path);
        }
        Ok(written)
    }

    /// Deletes each object; one that cannot be deleted is logged, not fatal (nothing reaches it).
    pub async fn delete_all(&self, bucket: Bucket, paths: &[BlobPath]) {
        for path in paths {
            if let Err(e) = self.delete(bucket, path).await {
                tracing::warn!(bucket = bucket.name(), path = path.as_str(), error = %e, "could not delete an object");
            }
        }
    }

    /// The whole object in memory: for small objects only.
    pub async fn get_bytes(&self, bucket: Bucket, path: &BlobPath) -> Result<Vec<u8>, StoreError> {
        use futures_util::TryStreamExt;
        let (_, stream) = self.get(bucket, path, None).await?;
        Ok(stream.map_ok(|b| b.to_vec()).try_concat().await?)
    }
}

/// Copies `body` into `out`, showing each piece to `inspect`; refuses past `max_bytes` (the
/// caller discards what was written). Returns the number of bytes copied.
async fn copy_limited(
    body: &mut ByteReader,
    out: &mut (impl tokio::io::AsyncWrite + Unpin),
    max_bytes: u64,
    mut inspect: impl FnMut(&[u8]),
) -> Result<u64, StoreError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = body.read(&mut buf).await.map_err(StoreError::BodyRead)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        if total > max_bytes {
            return Err(StoreError::TooLarge { limit: max_bytes });
        }
        inspect(&buf[..n]);
        out.write_all(&buf[..n]).await?;
    }
}

/// Opens the blob store `backend` as configured (the server uses `storage.backend`; the copy
/// command opens both).
pub fn open(config: &crate::config::Config, backend: crate::config::StorageBackend) -> Result<std::sync::Arc<dyn BlobStore>, StoreError> {
    use crate::config::StorageBackend;
    Ok(match backend {
        StorageBackend::Local => std::sync::Arc::new(
            LocalStore::new(config.blobs_dir()).sync_mirrors(config.database.synchronous == crate::config::Synchronous::Full),
        ),
        StorageBackend::Gcs => std::sync::Arc::new(
            GcsStore::new(&config.storage, config.data_dir.join("tmp")).map_err(StoreError::Unsupported)?,
        ),
    })
}

/// The content type delivered for an object, from its name.
pub fn content_type_for(path: &str) -> String {
    mime_guess::from_path(path).first_or_octet_stream().essence_str().to_owned()
}
