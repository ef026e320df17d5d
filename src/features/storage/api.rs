use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, OpenApi};

use super::model::{DeleteRequest, Deleted, SignedUrl, SignedUrlRequest, StoredObject};
use crate::rest::{ApiTags, JsonBody};
use crate::features::storage::StorageService;
use crate::auth::BearerAuth;
use crate::error::AppResult;

pub struct StorageApi;

#[derive(Debug, Multipart)]
#[oai(deny_unknown_fields)]
struct UploadForm {
    /// The file's bytes.
    file: Upload,
    /// Bucket alias (`music`, `writing`, `images`, `tactical`, `media`) or full name.
    bucket: String,
    /// Object path inside the bucket, e.g. `users/{userId}/uploads/cover.jpg`.
    path: String,
}

#[derive(ApiResponse)]
enum Uploaded {
    /// Stored; an existing object at the same path is replaced.
    #[oai(status = 201)]
    Created(Json<StoredObject>),
}

#[OpenApi(prefix_path = "/api/storage", tag = "ApiTags::Storage")]
impl StorageApi {
    /// Upload an object
    ///
    /// Users write under `users/{theirId}/` of the `music`, `writing`, `images` and `media`
    /// buckets, except the folders the server generates there (403 `generated_path`); admin
    /// and service tokens write anywhere. The size limit is
    /// `storage.max_upload_bytes` (413 past it). Download it with `GET /cdn/{bucket}/{path}`.
    #[oai(path = "/upload", method = "post")]
    async fn upload(&self, storage: Data<&Arc<StorageService>>, auth: BearerAuth, form: UploadForm) -> AppResult<Uploaded> {
        let storage = &storage;
        let (bucket, path) = storage.check_upload(&auth.0, &form.bucket, &form.path, form.file.size() as u64)?;
        let stored = storage.store(bucket, &path, Box::pin(form.file.into_async_read())).await?;
        Ok(Uploaded::Created(Json(stored)))
    }

    /// Delete an object by the URL this server returned for it
    #[oai(path = "/delete", method = "delete")]
    async fn delete(&self, storage: Data<&Arc<StorageService>>, auth: BearerAuth, body: JsonBody<DeleteRequest>) -> AppResult<Json<Deleted>> {
        Ok(Json(storage.delete(&auth.0, &body.0.url).await?))
    }

    /// Create a signed URL
    ///
    /// A `GET` URL downloads and a `PUT` URL uploads (the raw bytes as body) without a bearer
    /// token until `expiresAt`. Altering any part of the URL invalidates it. With the local
    /// store these are this server's `/cdn/{bucket}/{path}` URLs; with `storage.backend = "gcs"`
    /// they are GCS V4 signed URLs used straight against the bucket, and a `PUT` must send the
    /// `headers` given (its `Content-Type`, and the size range GCS enforces).
    #[oai(path = "/signed-url", method = "post")]
    async fn signed_url(&self, storage: Data<&Arc<StorageService>>, auth: BearerAuth, body: JsonBody<SignedUrlRequest>) -> AppResult<Json<SignedUrl>> {
        let r = body.0;
        Ok(Json(storage.signed_url(&auth.0, &r.bucket, &r.path, r.method, r.expires_in).await?))
    }
}
