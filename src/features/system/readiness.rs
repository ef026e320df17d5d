//! Readiness of every dependency, for `GET /probe/gateway`: the database and the blob store (the
//! checks of `/health`), and each configured AI provider (text, image, music).
//!
//! The probe is public, so it is bounded on both sides: every check runs at once and each gives
//! up after [`READY_TIMEOUT`], so the answer comes within that bound; and a provider is asked at
//! most once per `ai.probe_cache_secs`, one request at a time, whoever calls and however often.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use crate::ai::image::ImageProvider;
use crate::ai::music::MusicProvider;
use crate::ai::readiness::{READY_TIMEOUT, Readiness, no_answer};
use crate::ai::text::TextProvider;
use crate::config::Config;
use crate::db::Reachable;
use crate::features::storage::StorageService;

/// What `/health` answers: the server's own dependencies, the database and the blob store.
#[derive(Debug, Clone, poem_openapi::Object, serde::Serialize)]
pub struct Health {
    /// `healthy`, or `unhealthy` when a dependency check failed.
    pub status: String,
    pub message: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub version: String,
    /// Result of each dependency check (`ok` or the failure).
    pub checks: std::collections::BTreeMap<String, String>,
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        self.status == "healthy"
    }
}

/// What the probe found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every check passed.
    pub ok: bool,
    /// Each check by name (`database`, `storage`, `text`, `image`, `music`): a value starting
    /// with `ok` passed; any other value says what is wrong.
    pub checks: BTreeMap<String, String>,
    /// `not ready: <name> (<why>); …` naming each failed check, in the order above.
    pub error: Option<String>,
}

/// Secrets shorter than this are not searched for in the answer: a one- or two-letter "key"
/// would blank out ordinary words. Real keys and tokens are far longer.
const MIN_SCRUBBED_SECRET: usize = 8;

pub struct ReadinessService {
    db: Arc<dyn Reachable>,
    storage: Arc<StorageService>,
    providers: [ProviderCheck; 3],
    cache_for: Duration,
    /// The configured API key and token: never in an answer, whatever a server or library says.
    secrets: Vec<String>,
}

/// One provider's readiness check and its last result.
struct ProviderCheck {
    name: &'static str,
    check: Box<dyn Fn() -> BoxFuture<'static, Readiness> + Send + Sync>,
    /// Held while a check runs, so concurrent probes wait for that one instead of sending more.
    last: Arc<tokio::sync::Mutex<Option<(Instant, Readiness)>>>,
}

impl ProviderCheck {
    fn new(name: &'static str, check: impl Fn() -> BoxFuture<'static, Readiness> + Send + Sync + 'static) -> Self {
        Self { name, check: Box::new(check), last: Arc::default() }
    }

    /// The last result while it is younger than `cache_for`; otherwise a new one. A caller that
    /// finds a check running waits for it (at most [`READY_TIMEOUT`]) and shares its result.
    async fn readiness(&self, cache_for: Duration) -> Readiness {
        let mut last = self.last.clone().lock_owned().await;
        if let Some((at, readiness)) = last.as_ref()
            && at.elapsed() < cache_for
        {
            return readiness.clone();
        }
        let (name, check) = (self.name, (self.check)());
        // Its own task: a caller that hangs up mid-check does not cancel it, so the result is
        // still kept and the next caller does not send another request.
        let run = tokio::spawn(async move {
            let readiness = tokio::time::timeout(READY_TIMEOUT, check).await.unwrap_or_else(|_| Readiness::NotReady(no_answer(READY_TIMEOUT)));
            if let Readiness::NotReady(why) = &readiness {
                tracing::warn!(provider = name, reason = %why, "AI provider not ready");
            }
            *last = Some((Instant::now(), readiness.clone()));
            readiness
        });
        run.await.unwrap_or_else(|e| Readiness::NotReady(format!("the check failed: {e}")))
    }
}

impl ReadinessService {
    pub fn new(
        config: &Config,
        db: Arc<dyn Reachable>,
        storage: Arc<StorageService>,
        text: Arc<dyn TextProvider>,
        image: Arc<dyn ImageProvider>,
        music: Arc<dyn MusicProvider>,
    ) -> Self {
        let providers = [
            ProviderCheck::new("text", move || {
                let text = text.clone();
                Box::pin(async move { text.ready().await })
            }),
            ProviderCheck::new("image", move || {
                let image = image.clone();
                Box::pin(async move { image.ready().await })
            }),
            ProviderCheck::new("music", move || {
                let music = music.clone();
                Box::pin(async move { music.ready().await })
            }),
        ];
        let secrets = [&config.ai.openai.api_key, &config.ai.huggingface.token]
            .into_iter()
            .filter(|s| s.len() >= MIN_SCRUBBED_SECRET)
            .cloned()
            .collect();
        Self { db, storage, providers, cache_for: Duration::from_secs(config.ai.probe_cache_secs), secrets }
    }

    /// The server's own dependencies, for `/health`: the database (a read of its schema) and
    /// the blob store (every bucket answers).
    pub async fn health(&self) -> Health {
        let (db, blobs) = tokio::join!(self.db.ping(), self.storage.blobs().check());
        let healthy = db.is_ok() && blobs.is_ok();
        let mut checks = BTreeMap::new();
        checks.insert("database".to_owned(), db.map(|()| "ok".to_owned()).unwrap_or_else(|e| e.to_string()));
        checks.insert("storage".to_owned(), blobs.map(|()| "ok".to_owned()).unwrap_or_else(|e| e.to_string()));
        Health {
            status: if healthy { "healthy" } else { "unhealthy" }.to_owned(),
            message: if healthy { "Optima is running" } else { "a dependency check failed" }.to_owned(),
            timestamp: chrono::Utc::now(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            checks,
        }
    }

    /// Runs every check at once; answers within [`READY_TIMEOUT`] (plus scheduling).
    pub async fn check(&self) -> Report {
        let db = bounded(async { self.db.ping().await.map_err(|e| e.to_string()) });
        let storage = bounded(async { self.storage.blobs().check().await.map_err(|e| e.to_string()) });
        let providers = futures_util::future::join_all(self.providers.iter().map(|p| p.readiness(self.cache_for)));
        let (db, storage, providers) = tokio::join!(db, storage, providers);
        let names = ["database", "storage"].into_iter().chain(self.providers.iter().map(|p| p.name));
        let mut checks = BTreeMap::new();
        let mut failed = Vec::new();
        for (name, readiness) in names.zip([db, storage].into_iter().chain(providers)) {
            let shown = match readiness {
                Readiness::Ready(how) if how.is_empty() => "ok".to_owned(),
                Readiness::Ready(how) => format!("ok ({})", scrub(how, &self.secrets)),
                Readiness::NotReady(why) => {
                    let why = scrub(why, &self.secrets);
                    failed.push(format!("{name} ({why})"));
                    why
                }
            };
            checks.insert(name.to_owned(), shown);
        }
        let error = (!failed.is_empty()).then(|| format!("not ready: {}", failed.join("; ")));
        Report { ok: failed.is_empty(), checks, error }
    }
}

/// `text` with every one of `secrets` in it replaced by `***`.
fn scrub(mut text: String, secrets: &[String]) -> String {
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "***");
        }
    }
    text
}

/// A check of `/health` (the database, the blob store) bounded by [`READY_TIMEOUT`]. Not cached,
/// as in `/health`: a read of the database's schema and a look at each bucket cost the
/// providers nothing.
async fn bounded(check: impl Future<Output = Result<(), String>>) -> Readiness {
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(())) => Readiness::Ready(String::new()),
        Ok(Err(why)) => Readiness::NotReady(why),
        Err(_) => Readiness::NotReady(no_answer(READY_TIMEOUT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_wherever_they_appear() {
        let secrets = vec!["sk-0123456789".to_owned()];
        assert_eq!(scrub("openai at http://h/sk-0123456789/v1: HTTP 500".into(), &secrets), "openai at http://h/***/v1: HTTP 500");
        assert_eq!(scrub("nothing secret".into(), &secrets), "nothing secret");
    }
}
