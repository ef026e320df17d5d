//! Abuse limits at the edge: per-client rate budgets (this module's middleware) and per-request
//! bounds on body size, body stalls and handler time (`bounds`).

mod bounds;
mod class;
mod client_ip;
mod rate;

use std::sync::Arc;
use std::time::Duration;

use poem::web::headers::authorization::Bearer;
use poem::web::headers::{Authorization, HeaderMapExt};
use poem::{Endpoint, IntoResponse, Request, Response};

pub use bounds::{RequestBounds, bound};
pub use class::{REST_ROUTES, RouteClass, TRPC_PROCEDURES, classify};
pub use client_ip::{ProxyNet, client_ip};
pub use rate::{KeyKind, RateLimits, Refusal};

use crate::app::AppState;
use crate::error::AppError;
use crate::features::system::metrics::RATE_LIMITED;

/// Checks the request against its class's budgets before anything else runs. Only a token that
/// verifies names a user; anything else is counted by IP alone.
pub async fn enforce<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<Arc<AppState>>().cloned() else {
        return Ok(next.call(req).await?.into_response());
    };
    let Some(limits) = state.rate_limits.as_ref() else {
        return Ok(next.call(req).await?.into_response());
    };
    if req.uri().path() == "/health" {
        return Ok(next.call(req).await?.into_response());
    }
    let class = classify(req.method(), req.uri().path());
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let ip = client_ip(peer, req.headers(), &state.trusted_proxies);
    let user = req
        .headers()
        .typed_get::<Authorization<Bearer>>()
        .and_then(|auth| state.tokens.verify(auth.token()).ok())
        .map(|claims| claims.sub);
    if let Err(refusal) = limits.check(class, ip, user.as_deref()) {
        metrics::counter!(RATE_LIMITED, "class" => class.as_str(), "key" => refusal.key.as_str()).increment(1);
        let error = too_many_requests(class, refusal);
        if let Some(paths) = req.uri().path().strip_prefix("/api/trpc/") {
            return Ok(crate::trpc::app_error_response(&error, paths));
        }
        return Err(error.into());
    }
    Ok(next.call(req).await?.into_response())
}

fn too_many_requests(class: RouteClass, refusal: Refusal) -> AppError {
    let secs = refusal.retry_after.max(Duration::from_secs(1)).as_secs_f64().ceil() as u64;
    let who = match refusal.key {
        KeyKind::Ip => "this address",
        KeyKind::User => "this user",
    };
    AppError::TooManyRequests {
        code: "rate_limited",
        message: format!("too many {} requests from {who}; retry in {secs} s", class.as_str()),
        retry_after_secs: secs,
        details: Some(serde_json::json!({ "limit": class.as_str(), "key": refusal.key.as_str() })),
    }
}
