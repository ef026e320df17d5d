use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::rest::ApiTags;
use super::readiness::{Health, ReadinessService};

/// The paths of the tRPC procedures this server serves, each once, as the route table hands
/// them to `GET /api/routes` (the REST skin does not reach into the tRPC one).
pub struct TrpcProcedures(pub Vec<String>);

pub struct SystemApi;

#[derive(ApiResponse)]
enum HealthResponse {
    /// Every check passed.
    #[oai(status = 200)]
    Healthy(Json<Health>),
    /// A check failed; `checks` says which.
    #[oai(status = 503)]
    Unhealthy(Json<Health>),
}

/// The readiness of every dependency, in the shape the app's own backend answered its probe.
#[derive(Debug, Clone, Object)]
struct GatewayProbe {
    /// Whether every check passed.
    ok: bool,
    /// This answer's HTTP status, repeated for clients that read only the body: 200 or 503.
    status: u16,
    /// Each check: `database`, `storage` (as in `/health`), `text`, `image`, `music` (the
    /// configured AI providers). A value starting with `ok` passed (`ok (offline)` for a built-in
    /// provider, `ok (openai at …)` for a remote one that answered); any other value says why
    /// the dependency is not ready.
    checks: std::collections::BTreeMap<String, String>,
    /// Present when a check failed: `not ready: ` and each failed check with its reason, e.g.
    /// `not ready: text (openai at http://…/v1: connection refused)`.
    #[oai(skip_serializing_if_is_none)]
    error: Option<String>,
    timestamp: chrono::DateTime<chrono::Utc>,
}

#[derive(ApiResponse)]
enum GatewayProbeResponse {
    /// Every dependency is ready.
    #[oai(status = 200)]
    Ready(Json<GatewayProbe>),
    /// A dependency is not ready; `error` names it and says why.
    #[oai(status = 503)]
    NotReady(Json<GatewayProbe>),
}

#[derive(Debug, Clone, Object)]
struct Index {
    name: String,
    version: String,
    description: String,
    /// Where to go next: API docs, the OpenAPI document, health, the readiness probe, metrics, tRPC.
    links: std::collections::BTreeMap<String, String>,
}

/// The tRPC procedures this server serves, as the app's diagnostic screens read them.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
struct RouteList {
    /// `ok`.
    status: String,
    message: String,
    /// Every procedure path, sorted.
    routes: Vec<String>,
    count: u32,
    /// The procedures under `r3al.`.
    r3al_routes: Vec<String>,
    r3al_count: u32,
    timestamp: chrono::DateTime<chrono::Utc>,
}

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// API index
    #[oai(path = "/", method = "get")]
    async fn index(&self) -> Json<Index> {
        let links = [
            ("docs", "/docs"),
            ("openapi", "/openapi.json"),
            ("health", "/health"),
            ("probe", "/probe/gateway"),
            ("metrics", "/metrics"),
            ("trpc", "/api/trpc"),
            ("routes", "/api/routes"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Json(Index {
            name: "optima".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: env!("CARGO_PKG_DESCRIPTION").into(),
            links,
        })
    }

    /// The tRPC procedures this server serves
    ///
    /// What the app's diagnostic screens list. Procedures forwarded to `[trpc] upstream_url` are
    /// not among them.
    #[oai(path = "/api/routes", method = "get")]
    async fn routes(&self, procedures: Data<&Arc<TrpcProcedures>>) -> Json<RouteList> {
        let routes = procedures.0.0.clone();
        let r3al_routes: Vec<String> = routes.iter().filter(|p| p.starts_with("r3al.")).cloned().collect();
        Json(RouteList {
            status: "ok".into(),
            message: "Available tRPC routes".into(),
            count: routes.len() as u32,
            r3al_count: r3al_routes.len() as u32,
            routes,
            r3al_routes,
            timestamp: chrono::Utc::now(),
        })
    }

    /// Health: the database and the blob store
    #[oai(path = "/health", method = "get")]
    async fn health(&self, readiness: Data<&Arc<ReadinessService>>) -> HealthResponse {
        let health = readiness.health().await;
        if health.is_healthy() { HealthResponse::Healthy(Json(health)) } else { HealthResponse::Unhealthy(Json(health)) }
    }

    /// Readiness of every dependency
    ///
    /// A real readiness probe, public like `/health`: the database and the blob store (the
    /// checks of `/health`), and each configured AI provider. Built-in providers are ready by
    /// construction; a remote one is asked with one cheap authenticated request (`GET /models`
    /// of an OpenAI-compatible server, `GET /status/{model}` of the Hugging Face Inference API).
    /// Every check runs at once and gives up after 5 s, so the answer comes within about 5 s; a
    /// provider's result is reused for `ai.probe_cache_secs` (10 s), so callers cannot make the
    /// server hammer its providers. Never shows a key or token.
    #[oai(path = "/probe/gateway", method = "get")]
    async fn probe_gateway(&self, readiness: Data<&Arc<ReadinessService>>) -> GatewayProbeResponse {
        let report = readiness.check().await;
        let probe = Json(GatewayProbe {
            ok: report.ok,
            status: if report.ok { 200 } else { 503 },
            checks: report.checks,
            error: report.error,
            timestamp: chrono::Utc::now(),
        });
        if report.ok { GatewayProbeResponse::Ready(probe) } else { GatewayProbeResponse::NotReady(probe) }
    }
}
