//! Metrics: their names, the process-wide Prometheus recorder, and `GET /metrics`.

use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::web::headers::authorization::Bearer;
use poem::web::headers::{Authorization, HeaderMapExt};
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::auth::{Caller, TokenService};
use crate::error::AppError;

pub const REQUESTS: &str = "http_requests_total";
pub const DURATION: &str = "http_request_duration_seconds";
pub const RATE_LIMITED: &str = "optima_rate_limited_total";
pub const TACTICAL_ANONYMOUS_REFUSED: &str = "optima_tactical_unauthenticated_refused_total";
pub const CONNECTIONS_OPEN: &str = "optima_connections_open";
pub const CONNECTIONS_REFUSED: &str = "optima_connections_refused_total";
/// Scheduled backups taken, by `outcome` (`ok` or `failed`).
pub const BACKUPS: &str = "optima_backups_total";
/// When the last scheduled backup that succeeded took its database snapshot (Unix seconds).
pub const LAST_BACKUP: &str = "optima_backup_last_success_timestamp_seconds";
/// tRPC calls forwarded to `trpc.upstream_url`, by `outcome`: `ok`, `error` (the upstream's own
/// tRPC error, relayed), `timeout`, `unreachable` or `invalid` (not a tRPC answer, too large).
pub const TRPC_FORWARDED: &str = "optima_trpc_forwarded_total";

/// The process-wide recorder; installed once, shared by every server in the process.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(DURATION.to_owned()),
                &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
            )
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours simply records nothing.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// `GET /metrics`: open to anyone when `public`, else only to admin and service tokens.
pub fn endpoint(public: bool, tokens: Arc<TokenService>) -> impl Endpoint<Output = Response> {
    poem::endpoint::make_sync(move |req: Request| -> poem::Result<Response> {
        if !public {
            let token = req
                .headers()
                .typed_get::<Authorization<Bearer>>()
                .ok_or_else(|| AppError::unauthorized("unauthorized", "/metrics needs an admin or service bearer token"))?;
            let claims = tokens.verify(token.token())?;
            if !(Caller { user_id: claims.sub, role: claims.role }).is_privileged() {
                return Err(AppError::forbidden("/metrics is open to admin and service tokens only").into());
            }
        }
        Ok(handle().render().with_content_type("text/plain; version=0.0.4; charset=utf-8").into_response())
    })
}
