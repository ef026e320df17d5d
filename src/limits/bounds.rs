//! Bounds on a request once its headers are in: its body may carry at most `max_body` bytes
//! (chunked bodies included, which a `Content-Length` check alone cannot see) and may pause at
//! most `read_timeout` between two chunks; the handler must answer within `handler_timeout`.
//! A stalled body gets 408, an oversized one 413, a handler that runs out of time 503, and the
//! handler's own answer to the broken body is replaced by that verdict.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use poem::http::{HeaderValue, header};
use poem::web::headers::{ContentLength, HeaderMapExt};
use poem::{Body, Endpoint, IntoResponse, Request, Response};

use crate::error::AppError;

#[derive(Debug, Clone, Copy)]
pub struct RequestBounds {
    pub max_body: u64,
    pub read_timeout: Duration,
    pub handler_timeout: Duration,
}

// What the guarded body saw; 0 (the default) is an intact body.
const STALLED: u8 = 1;
const TOO_LARGE: u8 = 2;

/// Read after the handler is done with the body.
#[derive(Default)]
struct Verdict(AtomicU8);

impl Verdict {
    fn set(&self, v: u8) {
        self.0.store(v, Ordering::Relaxed);
    }

    fn error(&self, bounds: &RequestBounds) -> Option<AppError> {
        match self.0.load(Ordering::Relaxed) {
            STALLED => Some(AppError::RequestTimeout {
                message: format!("the request body stalled for more than {} s", bounds.read_timeout.as_secs()),
            }),
            TOO_LARGE => Some(too_large(None, bounds.max_body)),
            _ => None,
        }
    }
}

fn too_large(declared: Option<u64>, max: u64) -> AppError {
    let message = match declared {
        Some(len) => format!("the body is {len} bytes; the limit is {max} bytes"),
        None => format!("the body is larger than the limit of {max} bytes"),
    };
    AppError::PayloadTooLarge { message }
}

/// Whether the request can carry a body at all: GETs without one skip the guard.
fn has_body(req: &Request) -> bool {
    req.headers().contains_key(header::TRANSFER_ENCODING)
        || req.headers().typed_get::<ContentLength>().is_some_and(|ContentLength(len)| len > 0)
}

/// The body's chunks, cut off with an error at the first stall or at the byte past `max_body`.
fn guarded(
    inner: impl Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    bounds: RequestBounds,
    verdict: Arc<Verdict>,
) -> impl Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::unfold(Some((Box::pin(inner), 0u64)), move |state| {
        let verdict = verdict.clone();
        async move {
            let (mut inner, seen) = state?;
            let (v, kind, what) = match tokio::time::timeout(bounds.read_timeout, inner.next()).await {
                Err(_) => (STALLED, std::io::ErrorKind::TimedOut, "the request body stalled"),
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(e), None)),
                Ok(Some(Ok(chunk))) => {
                    let seen = seen + chunk.len() as u64;
                    if seen <= bounds.max_body {
                        return Some((Ok(chunk), Some((inner, seen))));
                    }
                    (TOO_LARGE, std::io::ErrorKind::InvalidData, "the request body is too large")
                }
            };
            verdict.set(v);
            Some((Err(std::io::Error::new(kind, what)), None))
        }
    })
}

/// The middleware: refuses a declared oversized body before reading a byte of it, guards the
/// rest, and bounds the handler's time.
pub async fn bound<E: Endpoint>(next: E, mut req: Request, bounds: RequestBounds) -> poem::Result<Response> {
    if let Some(ContentLength(len)) = req.headers().typed_get::<ContentLength>()
        && len > bounds.max_body
    {
        return Err(too_large(Some(len), bounds.max_body).into());
    }
    let verdict = Arc::new(Verdict::default());
    if has_body(&req) {
        let body = req.take_body().into_bytes_stream();
        req.set_body(Body::from_bytes_stream(guarded(body, bounds, verdict.clone())));
    }
    let answered = tokio::time::timeout(bounds.handler_timeout, next.call(req)).await;
    if let Some(err) = verdict.error(&bounds) {
        // The rest of a broken body is not worth reading: end the connection after this answer.
        let mut resp = poem::Error::from(err).into_response();
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(resp);
    }
    match answered {
        Ok(result) => Ok(result?.into_response()),
        Err(_) => Err(AppError::Unavailable {
            code: "handler_timeout",
            message: format!("the request was not answered within {} s", bounds.handler_timeout.as_secs()),
            retry_after_secs: None,
        }
        .into()),
    }
}
