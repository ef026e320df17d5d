//! `GET|HEAD|PUT /cdn/{bucket}/{path…}`: object delivery with Range, conditional requests
//! and safe headers for user content, streamed from the blob store; and signed uploads.

use std::sync::Arc;

use futures_util::TryStreamExt;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::headers::{self, Header, HeaderMapExt};
use poem::web::Data;
use poem::{Body, Request, Response, handler};

use super::service::{Access, StorageService, parse_bucket};
use crate::auth::{Caller, TokenService};
use crate::error::{AppError, AppResult};
use crate::blobs::signing::{SignedMethod, Signature};
use crate::blobs::{BlobPath, Bucket, ObjectMeta};

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

fn target(req: &Request, storage: &StorageService, tokens: &TokenService, method: SignedMethod) -> AppResult<Target> {
    let bucket = parse_bucket(req.raw_path_param("bucket").unwrap_or_default())?;
    // poem's router has already percent-decoded the parameter; decoding it again would let
    // `%2562ob` name `bob`. A `%` left over is refused by `BlobPath::parse`.
    let path = match req.raw_path_param("path") {
        Some(path) => BlobPath::parse(path)?,
        // poem drops a parameter that is not UTF-8 once decoded.
        None => return Err(AppError::bad_request("invalid_path", "invalid object path: it is empty or not UTF-8 once decoded")),
    };
    let signature = match req.uri().query() {
        Some(q) if q.contains("signature=") || q.contains("expires=") => Some(
            signature_from_query(q)
                .ok_or_else(|| AppError::bad_request("invalid_signature_params", "`expires` and `signature` must both be given; `expires` is Unix seconds"))?,
        ),
        _ => None,
    };
    let caller = bearer_caller(req, tokens)?;
    let access = storage.authorize_delivery(bucket, &path, method, signature.as_ref(), caller.as_ref())?;
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

fn bearer_caller(req: &Request, tokens: &TokenService) -> AppResult<Option<Caller>> {
    let Some(auth) = req.headers().typed_get::<headers::Authorization<headers::authorization::Bearer>>() else {
        return Ok(None);
    };
    tokens.caller(auth.token()).map(Some)
}

#[handler]
pub async fn deliver(req: &Request, storage: Data<&Arc<StorageService>>, tokens: Data<&Arc<TokenService>>, body: Body) -> poem::Result<Response> {
    if req.method() == Method::PUT {
        return Ok(signed_put(req, &storage, &tokens, body).await?);
    }
    Ok(get(req, &storage, &tokens).await?)
}

async fn signed_put(req: &Request, storage: &Arc<StorageService>, tokens: &TokenService, body: Body) -> AppResult<Response> {
    let t = target(req, storage, tokens, SignedMethod::Put)?;
    if let Some(len) = req.headers().typed_get::<headers::ContentLength>() {
        storage.check_size(len.0)?;
    }
    let reader = Box::pin(body.into_async_read());
    let stored = storage.store(t.bucket, &t.path, reader).await?;
    Ok(Response::builder()
        .status(StatusCode::CREATED)
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_vec(&stored).map_err(AppError::internal)?))
}

async fn get(req: &Request, storage: &Arc<StorageService>, tokens: &TokenService) -> AppResult<Response> {
    let t = target(req, storage, tokens, SignedMethod::Get)?;
    if let Some(location) = storage.redirect_url(t.bucket, &t.path).await? {
        return Ok(Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, location)
            .header(header::CACHE_CONTROL, "no-store")
            .finish());
    }
    serve(req, storage, t.bucket, &t.path, t.access).await
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
        // A date later than our clock is invalid and the header is ignored (RFC 9110 §13.1.3):
        // otherwise a client clock running ahead would pin a stale copy with 304s.
        None => headers_in
            .typed_get::<headers::IfModifiedSince>()
            .filter(|ims| *ims <= headers::IfModifiedSince::from(std::time::SystemTime::now()))
            .is_some_and(|ims| !ims.is_modified(meta.last_modified.into())),
    };
    if not_modified {
        let mut resp = Response::builder().status(StatusCode::NOT_MODIFIED).finish();
        common_headers(&mut resp, &meta, access, storage);
        return Ok(resp);
    }

    let asked = match headers_in.get(header::RANGE) {
        Some(range) if if_range_holds(headers_in.get(header::IF_RANGE), &meta) => byte_range(range.as_bytes(), meta.size),
        _ => RangeAsked::Whole,
    };
    let (status, range) = match asked {
        RangeAsked::Whole => (StatusCode::OK, None),
        RangeAsked::Part(r) => (StatusCode::PARTIAL_CONTENT, Some(r)),
        RangeAsked::Unsatisfiable => return Err(AppError::RangeNotSatisfiable { size: meta.size }),
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

/// Whether an `If-Range` lets the `Range` apply (RFC 9110 §13.1.5): no `If-Range`, the
/// object's ETag by strong comparison, or exactly its `Last-Modified`. Anything else, a weak
/// tag or a value that is neither tag nor date included, is no match: the whole object is
/// sent, so a client never stitches parts of two versions together.
fn if_range_holds(if_range: Option<&HeaderValue>, meta: &ObjectMeta) -> bool {
    let Some(validator) = if_range else { return true };
    if validator.as_bytes().starts_with(b"\"") {
        // A strong tag matches strongly exactly when it is the same quoted bytes.
        return !meta.etag.starts_with("W/") && validator.as_bytes() == meta.etag.as_bytes();
    }
    let current = headers::LastModified::from(std::time::SystemTime::from(meta.last_modified));
    headers::LastModified::decode(&mut std::iter::once(validator)).is_ok_and(|date| date == current)
}

/// What a `Range` header asks of an object of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeAsked {
    /// Send the whole object with 200.
    Whole,
    /// Send these bytes with 206.
    Part(std::ops::Range<u64>),
    /// Answer 416.
    Unsatisfiable,
}

/// Reads a `Range` header value (RFC 9110 §14.1.2, §14.2). A unit other than `bytes` is
/// ignored, as §14.2 requires. A `bytes` range set that is invalid (`bytes=-`, `bytes=5-3`,
/// anything but `first-last`, `first-` and `-suffix`) is rejected with 416 rather than
/// ignored: §14.2 allows either, and a 416 tells the client its request is wrong instead of
/// sending it a whole object it did not ask for. A last position at or past the end, however
/// large (past `u64` too), means "to the end"; so does a suffix longer than the object.
/// Several ranges are answered with one part covering the satisfiable ones: clients that ask
/// for more than one range accept a single covering part.
pub(crate) fn byte_range(value: &[u8], size: u64) -> RangeAsked {
    let Some(eq) = value.iter().position(|&b| b == b'=') else { return RangeAsked::Whole };
    if !value[..eq].eq_ignore_ascii_case(b"bytes") {
        return RangeAsked::Whole;
    }
    let Ok(set) = std::str::from_utf8(&value[eq + 1..]) else { return RangeAsked::Unsatisfiable };
    let mut covering: Option<std::ops::Range<u64>> = None;
    let mut specs = 0;
    for spec in set.split(',').map(|s| s.trim_matches([' ', '\t'])).filter(|s| !s.is_empty()) {
        specs += 1;
        let Some(part) = byte_range_spec(spec, size) else { return RangeAsked::Unsatisfiable };
        if let Some(part) = part {
            covering = Some(match covering {
                Some(c) => c.start.min(part.start)..c.end.max(part.end),
                None => part,
            });
        }
    }
    match covering {
        _ if specs == 0 => RangeAsked::Unsatisfiable,
        Some(r) if r.is_empty() => RangeAsked::Whole, // a suffix of an empty object: all of it
        Some(r) => RangeAsked::Part(r),
        None => RangeAsked::Unsatisfiable,
    }
}

/// One `first-last`, `first-` or `-suffix`: `None` when invalid, `Some(None)` when valid but
/// not satisfiable for `size`, else the bytes (empty only for a suffix of an empty object).
fn byte_range_spec(spec: &str, size: u64) -> Option<Option<std::ops::Range<u64>>> {
    // Digits only; a number past u64 saturates, which is still past any object's end.
    let position = |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().unwrap_or(u64::MAX));
    let (first, last) = spec.split_once('-')?;
    if first.is_empty() {
        let suffix = position(last)?;
        return Some((suffix > 0).then(|| size.saturating_sub(suffix)..size));
    }
    let first = position(first)?;
    let end = match last {
        "" => size,
        last => {
            let last = position(last)?;
            if last < first {
                return None;
            }
            last.saturating_add(1).min(size)
        }
    };
    Some((first < size).then_some(first..end))
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

#[cfg(test)]
mod tests {
    use super::{RangeAsked, byte_range};

    #[test]
    fn byte_ranges_per_rfc_9110() {
        let part = |r: std::ops::Range<u64>| RangeAsked::Part(r);
        for (value, size, expected) in [
            ("bytes=0-99", 1000, part(0..100)),
            ("bytes=990-", 1000, part(990..1000)),
            ("bytes=-10", 1000, part(990..1000)),
            ("bytes=-5000", 1000, part(0..1000)),
            ("bytes=0-99999999999999999999", 1000, part(0..1000)),
            ("bytes=-99999999999999999999", 1000, part(0..1000)),
            ("bytes=0-18446744073709551615", u64::MAX, part(0..u64::MAX)),
            ("bytes=0-0, 10-19,,", 1000, part(0..20)),
            ("Bytes=1-1", 1000, part(1..2)),
            ("bytes=-1", 0, RangeAsked::Whole),
            ("pages=1-2", 1000, RangeAsked::Whole),
            ("bytes", 1000, RangeAsked::Whole),
            ("bytes =0-1", 1000, RangeAsked::Whole),
            ("bytes=1000-", 1000, RangeAsked::Unsatisfiable),
            ("bytes=0-0", 0, RangeAsked::Unsatisfiable),
            ("bytes=-0", 1000, RangeAsked::Unsatisfiable),
            ("bytes=-", 1000, RangeAsked::Unsatisfiable),
            ("bytes=", 1000, RangeAsked::Unsatisfiable),
            ("bytes=5-3", 1000, RangeAsked::Unsatisfiable),
            ("bytes=+1-2", 1000, RangeAsked::Unsatisfiable),
            ("bytes=0-1,x", 1000, RangeAsked::Unsatisfiable),
            ("bytes=1-2-3", 1000, RangeAsked::Unsatisfiable),
        ] {
            assert_eq!(byte_range(value.as_bytes(), size), expected, "{value} of {size}");
        }
    }
}
