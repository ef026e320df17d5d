//! The middleware around the Tactical HQ routes that chains what the service did not: every
//! refused request of an authenticated caller (see `audit`).

use std::cell::RefCell;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, PathPattern, Request, Response};

use super::TacticalService;
use super::audit::{CURRENT, Record, RequestAudit, error_code, is_tactical, outcome_of, route_target};
use crate::auth::TokenService;
use crate::error::AppError;
use crate::telemetry::metrics::TACTICAL_ANONYMOUS_REFUSED;

/// Middleware: records every refused tactical request of an authenticated caller that the
/// service did not record itself. Refusals of callers without a valid token are counted in
/// `/metrics` and logged, not chained: anyone can send them, and the chain is never pruned.
pub async fn guard<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    if !is_tactical(req.uri().path()) {
        return ep.call(req).await.map(IntoResponse::into_response);
    }
    let tactical = req.data::<Arc<TacticalService>>().cloned();
    let tokens = req.data::<Arc<TokenService>>().cloned();
    let actor = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|t| tokens.as_ref().and_then(|tokens| tokens.caller(t.trim()).ok()))
        .map(|c| c.user_id);
    let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
    let (result, audit) = CURRENT
        .scope(RefCell::new(RequestAudit::default()), async move {
            let result = ep.call(req).await.map(IntoResponse::into_response);
            (result, CURRENT.with(|c| c.take()))
        })
        .await;
    let refused = |status: StatusCode| status.is_client_error() || status.is_server_error();
    let Some(actor) = actor else {
        let status = match &result {
            Ok(resp) => resp.status(),
            Err(e) => e.status(),
        };
        if refused(status) {
            metrics::counter!(TACTICAL_ANONYMOUS_REFUSED, "status" => status.as_u16().to_string()).increment(1);
            tracing::info!(status = status.as_u16(), "tactical request without a valid token refused");
        }
        return result;
    };
    let (status, code, pattern, result) = match result {
        Ok(mut resp) if refused(resp.status()) => {
            let body = resp.take_body().into_bytes().await.unwrap_or_default();
            let code = error_code(&body);
            resp.set_body(body);
            (resp.status(), code, resp.data::<PathPattern>().cloned(), Ok(resp))
        }
        Ok(resp) => (resp.status(), None, None, Ok(resp)),
        Err(e) => (e.status(), e.downcast_ref::<AppError>().map(|a| a.code().to_owned()), e.data::<PathPattern>().cloned(), Err(e)),
    };
    if audit.recorded || !refused(status) {
        return result;
    }
    let record = Record {
        actor,
        action: audit.action.unwrap_or("request"),
        target: Some(audit.target.unwrap_or_else(|| route_target(&method, &path, pattern.as_ref().map(|p| &*p.0)))),
        outcome: outcome_of(status),
        detail: Some(format!("{} {}", status.as_u16(), code.unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned()))),
    };
    if let Some(tactical) = tactical
        && let Err(e) = tactical.record(record).await
    {
        tracing::error!(error = %e, "could not audit a refused tactical request");
    }
    result
}
