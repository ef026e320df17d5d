//! The outermost middleware: a request id on every response and log line, our JSON error
//! body for every failure (including those raised before a handler runs), request metrics by
//! route pattern, and one access-log line per request.

use std::time::Instant;

use poem::http::{HeaderValue, Method};
use poem::PathPattern;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use crate::error::AppError;
use crate::telemetry::metrics::{DURATION, REQUESTS};

const REQUEST_ID: &str = "x-request-id";

/// Keeps a caller's request id when it is short and printable; otherwise makes one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

fn error_response(err: poem::Error) -> Response {
    let pattern = err.data::<PathPattern>().cloned();
    let mut resp = if err.is::<AppError>() {
        err.into_response()
    } else {
        poem::Error::from(AppError::from_poem(&err)).into_response()
    };
    if let Some(p) = pattern {
        resp.set_data(p);
    }
    resp
}

/// The method as a metrics label: one of the methods HTTP defines, or `other`, so that a client
/// inventing methods cannot create new series.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN.iter().find(|m| *m == method).map_or("other", Method::as_str)
}

/// At most this much of a request's path goes into its log line.
const LOGGED_PATH_CHARS: usize = 512;

pub async fn observe<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let full_path = req.uri().path();
    let path = match full_path.char_indices().nth(LOGGED_PATH_CHARS) {
        Some((cut, _)) => format!("{}…", &full_path[..cut]),
        None => full_path.to_owned(),
    };
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let result = next.call(req).instrument(span.clone()).await;
    let mut resp = match result {
        Ok(r) => r.into_response(),
        Err(e) => error_response(e),
    };
    let route = resp.data::<PathPattern>().map(|p| p.0.to_string()).unwrap_or_else(|| "unmatched".into());
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    metrics::counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    span.in_scope(|| tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request finished"));
    Ok(resp)
}
