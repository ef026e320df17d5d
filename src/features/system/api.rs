use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::app::AppState;

pub struct SystemApi;

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct Health {
    /// `healthy`, or `unhealthy` when a dependency check failed.
    pub status: String,
    pub message: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub version: String,
    /// Result of each dependency check (`ok` or the failure).
    pub checks: std::collections::BTreeMap<String, String>,
}

#[derive(ApiResponse)]
enum HealthResponse {
    /// Every check passed.
    #[oai(status = 200)]
    Healthy(Json<Health>),
    /// A check failed; `checks` says which.
    #[oai(status = 503)]
    Unhealthy(Json<Health>),
}

#[derive(Debug, Clone, Object)]
struct Index {
    name: String,
    version: String,
    description: String,
    /// Where to go next: API docs, the OpenAPI document, health, metrics, tRPC.
    links: std::collections::BTreeMap<String, String>,
}

impl AppState {
    pub async fn health(&self) -> (bool, Health) {
        let (db, blobs) = tokio::join!(self.db.ping(), self.storage.blobs().check());
        let healthy = db.is_ok() && blobs.is_ok();
        let mut checks = std::collections::BTreeMap::new();
        checks.insert("database".to_owned(), db.map(|()| "ok".to_owned()).unwrap_or_else(|e| e.to_string()));
        checks.insert("storage".to_owned(), blobs.map(|()| "ok".to_owned()).unwrap_or_else(|e| e.to_string()));
        let health = Health {
            status: if healthy { "healthy" } else { "unhealthy" }.to_owned(),
            message: if healthy { "Optima is running" } else { "a dependency check failed" }.to_owned(),
            timestamp: chrono::Utc::now(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            checks,
        };
        (healthy, health)
    }
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
            ("metrics", "/metrics"),
            ("trpc", "/api/trpc"),
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

    /// Health, with a database check
    #[oai(path = "/health", method = "get")]
    async fn health(&self, state: Data<&Arc<AppState>>) -> HealthResponse {
        match state.health().await {
            (true, h) => HealthResponse::Healthy(Json(h)),
            (false, h) => HealthResponse::Unhealthy(Json(h)),
        }
    }
}
