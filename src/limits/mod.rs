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
pub use class::{REST_ROUTES, RouteClass, TRPC_PREFIX, TRPC_PROCEDURES, classify, procedure_class};
pub use client_ip::{ProxyNet, client_ip};
pub use rate::{KeyKind, RateLimits, Refusal, ip_key};

use crate::app::AppState;
use crate::error::AppError;
use crate::features::system::metrics::RATE_LIMITED;

/// Who a request is charged to: the client's address, and the user of a bearer token that
/// verifies (anything else is counted by address alone).
pub struct Client {
    ip: Option<std::net::IpAddr>,
    user: Option<String>,
}

impl Client {
    pub fn of(state: &AppState, req: &Request) -> Self {
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let ip = client_ip(peer, req.headers(), &state.trusted_proxies);
        let user = req
            .headers()
            .typed_get::<Authorization<Bearer>>()
            .and_then(|auth| state.tokens.verify(auth.token()).ok())
            .map(|claims| claims.sub);
        Self { ip, user }
    }
}

/// Takes one request of `class` from the client's budgets; 429 `rate_limited` when one ran out.
/// Always passes while rate limiting is off.
pub fn charge(state: &AppState, client: &Client, class: RouteClass) -> Result<(), AppError> {
    let Some(limits) = state.rate_limits.as_ref() else { return Ok(()) };
    limits.check(class, client.ip, client.user.as_deref()).map_err(|refusal| {
        metrics::counter!(RATE_LIMITED, "class" => class.as_str(), "key" => refusal.key.as_str()).increment(1);
        too_many_requests(class, refusal)
    })
}

/// Checks a REST request against its class's budgets before anything else runs. tRPC requests
/// pass through: the tRPC endpoint charges each call of a batch as if it came alone.
pub async fn enforce<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let path = req.uri().path();
    if path == "/health" || path.starts_with(TRPC_PREFIX) {
        return Ok(next.call(req).await?.into_response());
    }
    let Some(state) = req.data::<Arc<AppState>>().cloned() else {
        return Ok(next.call(req).await?.into_response());
    };
    charge(&state, &Client::of(&state, &req), classify(req.method(), path))?;
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
