//! Abuse limits at the edge: per-client rate budgets (this module's middleware) and per-request
//! bounds on body size, body stalls and handler time (`bounds`).

mod bounds;
mod class;
pub mod client_ip;
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

use crate::auth::TokenService;
use crate::error::AppError;
use crate::telemetry::metrics::RATE_LIMITED;

/// The rate budgets with what they need to tell clients apart: the trusted proxies (whose
/// `X-Forwarded-For` names the client) and the token service (a valid token is charged to its
/// user). The route table puts it in every request's data.
pub struct Limiter {
    /// `None` when `limits.rate_limiting` is off.
    rates: Option<RateLimits>,
    trusted_proxies: Vec<ProxyNet>,
    tokens: Arc<TokenService>,
}

/// Who a request is charged to: the client's address, and the user of a bearer token that
/// verifies (anything else is counted by address alone).
pub struct Client {
    ip: Option<std::net::IpAddr>,
    user: Option<String>,
}

impl Limiter {
    pub fn new(config: &crate::config::LimitsConfig, tokens: Arc<TokenService>) -> Self {
        Self {
            rates: config.rate_limiting.then(|| RateLimits::new(config)),
            trusted_proxies: config.trusted_proxies.iter().filter_map(|p| ProxyNet::parse(p)).collect(),
            tokens,
        }
    }

    pub fn trusted_proxies(&self) -> &[ProxyNet] {
        &self.trusted_proxies
    }

    pub fn is_on(&self) -> bool {
        self.rates.is_some()
    }

    /// Forgets the state of quiet clients, so memory follows the active ones.
    pub fn forget_idle(&self) {
        if let Some(rates) = &self.rates {
            rates.forget_idle();
        }
    }

    /// The client's address as this server believes it (`trusted_proxies`' `X-Forwarded-For`,
    /// else the socket's peer); `None` when the connection has no IP peer.
    pub fn client_ip(&self, req: &Request) -> Option<std::net::IpAddr> {
        client_ip(req.remote_addr().as_socket_addr().map(|a| a.ip()), req.headers(), &self.trusted_proxies)
    }

    pub fn client(&self, req: &Request) -> Client {
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let ip = client_ip(peer, req.headers(), &self.trusted_proxies);
        let user = req
            .headers()
            .typed_get::<Authorization<Bearer>>()
            .and_then(|auth| self.tokens.verify(auth.token()).ok())
            .map(|claims| claims.sub);
        Client { ip, user }
    }

    /// Takes one request of `class` from the client's budgets; 429 `rate_limited` when one ran
    /// out. Always passes while rate limiting is off.
    pub fn charge(&self, client: &Client, class: RouteClass) -> Result<(), AppError> {
        let Some(rates) = self.rates.as_ref() else { return Ok(()) };
        rates.check(class, client.ip, client.user.as_deref()).map_err(|refusal| {
            metrics::counter!(RATE_LIMITED, "class" => class.as_str(), "key" => refusal.key.as_str()).increment(1);
            too_many_requests(class, refusal)
        })
    }
}

/// Checks a REST request against its class's budgets before anything else runs. tRPC requests
/// pass through: the tRPC endpoint charges each call of a batch as if it came alone.
pub async fn enforce<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let path = req.uri().path();
    if path == "/health" || path.starts_with(TRPC_PREFIX) {
        return Ok(next.call(req).await?.into_response());
    }
    let Some(limiter) = req.data::<Arc<Limiter>>().cloned() else {
        return Ok(next.call(req).await?.into_response());
    };
    limiter.charge(&limiter.client(&req), classify(req.method(), path))?;
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
