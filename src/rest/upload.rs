//! Reading a multipart file into memory, refused before a byte is read when it is too large.

use poem_openapi::types::multipart::Upload;

use crate::error::{AppError, AppResult};

/// The upload's bytes; 413 naming `what` when it is larger than `limit`.
pub async fn read_upload(upload: Upload, limit: u64, what: &str) -> AppResult<Vec<u8>> {
    let size = upload.size() as u64;
    if size > limit {
        return Err(AppError::PayloadTooLarge { message: format!("{what} is {size} bytes; the limit is {limit} bytes") });
    }
    upload.into_vec().await.map_err(|e| AppError::bad_request("body_read_failed", e.to_string()))
}
