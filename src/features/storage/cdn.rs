//! `GET|HEAD|PUT /cdn/{bucket}/{path…}`: object delivery with Range, conditional requests
//! and safe headers for user content, streamed from the blob store; and signed uploads.

use std::ops::Bound;
use std::sync::Arc;

use futures_util::TryStreamExt;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::headers::{self, HeaderMapExt};
use poem::{Body, Request, Response, handler};

use super::service::{Access, StorageService, decode_path, parse_bucket};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::storage::signing::{SignedMethod, Signature};
use crate::storage::{BlobPath, Bucket, ObjectMeta};

/// Content types a browser may render inline from our origin; anything else (HTML, SVG,
/// scripts) is sent as an attachment.
fn renders_safely(content_type: &str) -> bool {
    (content_type.starts_with("image/") && content_type != "image/svg+xml")
        || content_type.starts_with("audio/")
        || content_type.starts_with("video/")
        || matches!(content_type, "text/plain" | "application/pdf" | "application/json")
}

struct Target {
    bucket: Bucket,
    path: BlobPath,
    access: Access,
}

fn target(req: &Request, state: &AppState, method: SignedMethod) -> AppResult<Target> {
    let bucket = parse_bucket(req.raw_path_param("bucket").unwrap_or_default())?;
    let path = decode_path(req.raw_path_param("path").unwrap_or_default())?;
    let signature = match req.uri().query() {
        Some(q) if q.contains("signature=") || q.contains("expires=") => Some(
            signature_from_query(q)
                .ok_or_else(|| AppError::bad_request("invalid_signature_params", "`expires` and `signature` must both be given; `expires` is Unix seconds"))?,
        ),
        _ => None,
    };
    let caller = bearer_caller(req, state)?;
    let access = state.storage.authorize_delivery(bucket, &path, method, signature.as_ref(), caller.as_ref())?;
    Ok(Target { bucket, path, access })
}

pub(crate) fn signature_from_query(query: &str) -> Option<Signature> {
    let mut expires = None;
    let mut signature = None;
    for (k, v) in url_pairs(query) {
        match k.as_str() {
            "expires" => expires = v.parse().ok(),
            "signature" => signature = Some(v),
            _ => {}
        }
    }
    Some(Signature { expires: expires?, signature: signature? })
}

fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned());
        Some((decode(k)?, decode(v)?))
    })
}

fn bearer_caller(req: &Request, state: &AppState) -> AppResult<Option<Caller>> {
    let Some(auth) = req.headers().typed_get::<headers::Authorization<headers::authorization::Bearer>>() else {
        return Ok(None);
    };
    state.caller_from_token(auth.token()).map(Some)
}

#[handler]
pub async fn deliver(req: &Request, body: Body) -> poem::Result<Response> {
    let state = req.data::<Arc<AppState>>().ok_or_else(|| AppError::internal("state missing"))?;
    if req.method() == Method::PUT {
        return Ok(signed_put(req, state, body).await?);
    }
    Ok(get(req, state).await?)
}

async fn signed_put(req: &Request, state: &AppState, body: Body) -> AppResult<Response> {
    let t = target(req, state, SignedMethod::Put)?;
    if let Some(len) = req.headers().typed_get::<headers::ContentLength>() {
        state.storage.check_size(len.0)?;
    }
    let reader = Box::pin(body.into_async_read());
    let stored = state.storage.store(t.bucket, &t.path, reader).await?;
    Ok(Response::builder()
        .status(StatusCode::CREATED)
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_vec(&stored).map_err(AppError::internal)?))
}

async fn get(req: &Request, state: &AppState) -> AppResult<Response> {
    let t = target(req, state, SignedMethod::Get)?;
    if let Some(location) = state.storage.redirect_url(t.bucket, &t.path).await? {
        return Ok(Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, location)
            .header(header::CACHE_CONTROL, "no-store")
            .finish());
    }
    serve(req, &state.storage, t.bucket, &t.path, t.access).await
}

/// Streams an object the request may read, honouring `Range` and conditional headers.
pub async fn serve(req: &Request, storage: &StorageService, bucket: Bucket, path: &BlobPath, access: Access) -> AppResult<Response> {
    let meta = storage.blobs().head(bucket, path).await?;
    let headers_in = req.headers();

    let not_modified = match headers_in.typed_get::<headers::IfNoneMatch>() {
        Some(inm) => {
            let etag: headers::ETag = meta.etag.parse().map_err(|_| AppError::internal("unparsable etag"))?;
            !inm.precondition_passes(&etag)
        }
        None => headers_in
            .typed_get::<headers::IfModifiedSince>()
            .is_some_and(|ims| !ims.is_modified(meta.last_modified.into())),
    };
    if not_modified {
        let mut resp = Response::builder().status(StatusCode::NOT_MODIFIED).finish();
        common_headers(&mut resp, &meta, access, storage);
        return Ok(resp);
    }

    let range = match headers_in.typed_get::<headers::Range>() {
        Some(range) => Some(single_range(&range, meta.size).ok_or(AppError::RangeNotSatisfiable { size: meta.size })?),
        None => None,
    };
    let (status, range) = match range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, Some(r)),
        None => (StatusCode::OK, None),
    };
    let stream = storage.blobs().get_version(bucket, path, &meta, range.clone()).await?;
    let length = range.as_ref().map_or(meta.size, |r| r.end - r.start);
    let mut resp = Response::builder()
        .status(status)
        .body(Body::from_bytes_stream(stream.map_err(std::io::Error::other)));
    common_headers(&mut resp, &meta, access, storage);
    let h = resp.headers_mut();
    h.typed_insert(headers::ContentLength(length));
    if let Some(r) = range {
        h.insert(header::CONTENT_RANGE, value(&format!("bytes {}-{}/{}", r.start, r.end - 1, meta.size)));
    }
    Ok(resp)
}

/// The one byte range asked for, clamped to the object; `None` when it cannot be satisfied.
/// Several ranges are answered with the first satisfiable one's bounds merged: clients that
/// ask for more than one range accept a single covering part.
pub(crate) fn single_range(range: &headers::Range, size: u64) -> Option<std::ops::Range<u64>> {
    if size > 0 && suffix_longer_than(range, size) {
        return Some(0..size);
    }
    let mut start_min = u64::MAX;
    let mut end_max = 0u64;
    for (start, end) in range.satisfiable_ranges(size) {
        let start = match start {
            Bound::Included(s) => s,
            Bound::Excluded(s) => s + 1,
            Bound::Unbounded => 0,
        };
        let end = match end {
            Bound::Included(e) => e.saturating_add(1).min(size),
            Bound::Excluded(e) => e.min(size),
            Bound::Unbounded => size,
        };
        if start < end {
            start_min = start_min.min(start);
            end_max = end_max.max(end);
        }
    }
    (start_min < end_max).then_some(start_min..end_max)
}

/// Whether the header asks for the last N bytes with N larger than the object: that is the
/// whole object (RFC 9110 §14.1.2), but the headers crate drops such a range as unsatisfiable.
fn suffix_longer_than(range: &headers::Range, size: u64) -> bool {
    let mut encoded = Vec::new();
    headers::Header::encode(range, &mut encoded);
    let specs = encoded.first().and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("bytes="));
    specs.is_some_and(|specs| {
        specs.split(',').any(|spec| spec.trim().strip_prefix('-').and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n > size))
    })
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn common_headers(resp: &mut Response, meta: &ObjectMeta, access: Access, storage: &StorageService) {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, value(&meta.content_type));
    h.insert(header::ETAG, value(&meta.etag));
    h.typed_insert(headers::LastModified::from(std::time::SystemTime::from(meta.last_modified)));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let scope = match access {
        Access::Public => "public",
        Access::Private => "private",
    };
    h.insert(header::CACHE_CONTROL, value(&format!("{scope}, max-age={}", storage.cache_max_age_secs)));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    if !renders_safely(&meta.content_type) {
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    }
}
