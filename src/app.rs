//! Builds the application: shared state, the route table, and the running server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoResponse, Route};
use tokio::task::JoinHandle;

use crate::auth::TokenService;
use crate::clock::SharedClock;
use crate::config::{Config, PaymentProviderKind};
use crate::crypto::keyring::{Keyring, SharedKeyring};
use crate::crypto::keys;
use crate::db::Database;
use crate::features::accounts::AccountsService;
use crate::features::chat::ChatService;
use crate::features::music::MusicService;
use crate::features::media::MediaService;
use crate::features::mirrors::worker::{MirrorWorker, MirrorWorkerHandle};
use crate::features::mirrors::{MirrorRenderer, MirrorSignal};
use crate::features::premium::PremiumService;
use crate::features::tactical::TacticalService;
use crate::features::writers::WritersService;
use crate::features::subscription::SubscriptionService;
use crate::features::subscription::payment::{ManualPayments, PaymentProvider, StripePayments};
use crate::features::storage::{StorageService, cdn};
use crate::features::music::api as music_api;
use crate::telemetry::metrics;
use crate::features::tactical::audit_guard;
use crate::services::Services;
use crate::features::system::api::TrpcProcedures;
use crate::blobs::signing::UrlSigner;

/// Everything the server shares, built once at start.
pub struct AppState {
    pub config: Config,
    pub database: Database,
    pub services: Arc<Services>,
    /// The outbox of mirrors (`metadata.json`) to write, and what the services poke after a
    /// change that one follows.
    mirrors: Arc<dyn crate::features::mirrors::store::MirrorOutbox>,
    mirror_signal: MirrorSignal,
    /// The live event log, and this server's follower of it.
    events: Arc<dyn crate::events::store::EventStore>,
    pub bus: Arc<crate::events::bus::EventBus>,
    pub work: Arc<crate::work_queue::WorkQueue>,
    /// What the tRPC endpoint works with.
    pub trpc: Arc<crate::trpc::Context>,
    procedures: Arc<TrpcProcedures>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] crate::db::DatabaseOpenError),
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("blob store: {0}")]
    Storage(#[from] crate::blobs::StoreError),
    #[error("cannot reset quota holds: {0}")]
    Quotas(String),
    #[error("cannot start background WAL checkpoints: {0}")]
    Checkpoints(String),
    #[error("cannot read the event log: {0}")]
    Events(String),
    #[error(transparent)]
    MasterKey(#[from] crate::crypto::keyring::KeyringError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

fn subscription_service(config: &Config, store: Arc<dyn crate::features::subscription::store::SubscriptionStore>, clock: SharedClock) -> SubscriptionService {
    let sub = &config.subscription;
    let (payments, stripe): (Arc<dyn PaymentProvider>, _) = match sub.payment_provider {
        PaymentProviderKind::Manual => (Arc::new(ManualPayments), None),
        PaymentProviderKind::Stripe => {
            let stripe = Arc::new(StripePayments::new(sub.stripe.clone()));
            (stripe.clone(), Some(stripe))
        }
    };
    // No request runs longer than the handler timeout, so a hold twice that old has no work
    // left that could commit it.
    let hold_expiry = Duration::from_secs(config.limits.handler_timeout_secs.saturating_mul(2));
    SubscriptionService::new(store, sub.tiers.clone(), payments, stripe, clock, hold_expiry)
}

pub const JWT_KEY_FILE: &str = "jwt.key";
const URL_SIGNING_KEY_FILE: &str = "url-signing.key";

/// The token service, shared by the server and `optima token`.
pub fn token_service(config: &Config) -> Result<TokenService, keys::KeyError> {
    let secret = keys::load_or_create(&config.auth.jwt_secret, &config.keys_dir(), JWT_KEY_FILE)?;
    Ok(TokenService::new(&secret, &config.auth.issuer, config.auth.token_ttl_secs))
}

/// The master keys that wrap Tactical HQ's data keys.
fn master_keys(config: &Config) -> Result<SharedKeyring, crate::crypto::keyring::KeyringError> {
    let t = &config.tactical;
    let ring = Keyring::load(&t.master_key, &t.previous_master_keys, &config.keys_dir())?;
    Ok(SharedKeyring::new(ring, t.master_key.clone(), t.previous_master_keys.clone(), config.keys_dir()))
}

impl AppState {
    /// Puts what the skins take from a request's data into `req`.
    fn put_services(&self, req: &mut poem::Request) {
        self.services.put_into(req);
        req.set_data(self.trpc.clone());
        req.set_data(self.procedures.clone());
        req.set_data(crate::rest::body::JsonLimits::of(&self.config));
    }

    pub async fn build(config: Config, public_url: String, clock: SharedClock) -> Result<Arc<Self>, StartError> {
        config.require_shared_secrets()?;
        let database = Database::open(&config.database_path(), &config.database).await?;
        let stores = crate::stores::Stores::of(&database);
        let tokens = Arc::new(token_service(&config)?);
        let blobs = crate::blobs::open(&config, config.storage.backend)?;
        blobs.ensure_buckets().await?;
        let signing_key = keys::load_or_create(&config.storage.url_signing_key, &config.keys_dir(), URL_SIGNING_KEY_FILE)?;
        let storage = Arc::new(StorageService::new(blobs, UrlSigner::new(signing_key), public_url, &config.storage));
        let passwords = crate::auth::password::Passwords::new(config.auth.password_hash_concurrency);
        let accounts = Arc::new(AccountsService::new(stores.accounts, tokens.clone(), passwords));
        let subscriptions = Arc::new(subscription_service(&config, stores.subscription, clock));
        subscriptions.quotas().clear_stale_holds().await.map_err(|e| StartError::Quotas(e.to_string()))?;
        let work = Arc::new(crate::work_queue::WorkQueue::new(config.limits.generation_workers, config.limits.generation_queue));
        let text = crate::ai::text::from_config(&config.ai, work.clone());
        // One count of open streams, whichever feature they stream.
        let streams = crate::events::streams::StreamLimits::new(config.events.max_streams_per_user, config.events.max_streams_per_ip);
        let reply_timeout = std::time::Duration::from_secs(config.limits.handler_timeout_secs);
        let chat = ChatService::new(stores.chat, subscriptions.clone(), text.clone(), config.chat.clone(), streams.clone(), reply_timeout);
        let mirror_signal = MirrorSignal::new();
        let event_signal = crate::events::EventSignal::new();
        let bus = crate::events::bus::EventBus::new(stores.events.clone(), event_signal.clone(), config.events.buffer_events)
            .await
            .map_err(|e| StartError::Events(e.to_string()))?;
        let writers = Arc::new(WritersService::new(
            stores.writers,
            storage.clone(),
            subscriptions.clone(),
            accounts.clone(),
            text.clone(),
            config.writers.clone(),
            mirror_signal.clone(),
        ));
        let tactical = Arc::new(TacticalService::new(
            stores.tactical,
            storage.clone(),
            subscriptions.clone(),
            text.clone(),
            Arc::new(master_keys(&config)?),
            config.tactical.clone(),
            event_signal,
        ));
        let decode_budget = Arc::new(crate::imaging::budget::DecodeBudget::new(
            config.media.decode_memory_mb * 1024 * 1024,
            std::time::Duration::from_secs(config.media.decode_wait_secs),
        ));
        let media = MediaService::new(stores.media, storage.clone(), subscriptions.clone(), work.clone(), decode_budget, config.media.clone());
        let images = crate::ai::image::from_config(&config.ai, media.limits());
        let premium = PremiumService::new(stores.premium, storage.clone(), subscriptions.clone(), images.clone(), work.clone());
        let composer = crate::ai::music::from_config(&config.ai);
        let music = Arc::new(MusicService::new(
            stores.music,
            storage.clone(),
            subscriptions.clone(),
            composer.clone(),
            work.clone(),
            config.music.clone(),
            mirror_signal.clone(),
            bus.clone(),
        ));
        let readiness = Arc::new(crate::features::system::readiness::ReadinessService::new(&config, database.reachable(), storage.clone(), text, images, composer));
        let limiter = Arc::new(crate::limits::Limiter::new(&config.limits, tokens.clone()));
        let live = Arc::new(crate::features::live::LiveService::new(
            bus.clone(),
            tactical.clone(),
            music.clone(),
            streams,
            &config.events,
        ));
        let services = Arc::new(Services {
            tokens,
            limiter,
            accounts,
            storage,
            subscriptions,
            chat: Arc::new(chat),
            music,
            writers,
            tactical,
            premium: Arc::new(premium),
            media: Arc::new(media),
            live,
            readiness,
        });
        let trpc = Arc::new(crate::trpc::Context {
            services: services.clone(),
            upstream: crate::trpc::Upstream::from_config(&config.trpc),
            bounds: crate::trpc::WireBounds::of(&config.limits),
        });
        let mut procedures: Vec<String> = crate::trpc::names().into_iter().map(|(path, _)| path.to_owned()).collect();
        procedures.dedup();
        let procedures = Arc::new(TrpcProcedures(procedures));
        let (mirrors, events) = (stores.mirrors, stores.events);
        Ok(Arc::new(Self { config, database, services, mirrors, mirror_signal, events, bus, work, trpc, procedures }))
    }

    /// Starts the worker that writes the mirrors the outbox holds (`metadata.json` of music and
    /// writing projects), rendered by the services that own them.
    fn start_mirror_worker(&self) -> MirrorWorkerHandle {
        let s = &self.services;
        MirrorWorker::new(
            self.mirrors.clone(),
            vec![s.music.clone() as Arc<dyn MirrorRenderer>, s.writers.clone()],
            s.storage.blobs().clone(),
            self.mirror_signal.clone(),
            self.config.storage.mirrors.clone(),
        )
        .start()
    }

    /// Starts this server's follower of the event log: woken by its own writes, on PostgreSQL
    /// by other servers' through LISTEN/NOTIFY, and by a poll.
    fn start_event_follower(&self) -> crate::events::bus::BusHandle {
        let wakeups = match &self.database {
            Database::Postgres(pg) => Some(pg.listen(crate::events::store::postgres::CHANNEL)),
            Database::Sqlite(_) => None,
        };
        self.bus.start(wakeups, Duration::from_millis(self.config.events.poll_ms))
    }
}

fn cors(origins: &[String]) -> Cors {
    let cors = Cors::new().allow_credentials(false).expose_header("x-request-id");
    if origins.iter().any(|o| o == "*") { cors } else { cors.allow_origins(origins.iter().map(String::as_str)) }
}

pub fn routes(state: Arc<AppState>) -> impl poem::Endpoint {
    let api = crate::openapi::service();
    let spec = crate::openapi::spec_json(&api);
    let allowed = Arc::new(crate::openapi::allow::AllowedMethods::from_spec(
        &serde_json::from_str(&spec).expect("the spec is JSON"),
    ));
    let docs = crate::openapi::docs_page(&api, &spec);
    let limits = &state.config.limits;
    let bounds = crate::limits::RequestBounds {
        max_body: state.config.largest_body(),
        read_timeout: Duration::from_secs(limits.read_timeout_secs),
        handler_timeout: Duration::from_secs(limits.handler_timeout_secs),
    };
    Route::new()
        .nest("/", api.around(audit_guard::guard))
        .at("/openapi.json", poem::endpoint::make_sync(move |_| {
            spec.clone().with_content_type("application/json; charset=utf-8")
        }))
        .nest("/docs", Route::new().at("/", poem::get(poem::endpoint::make_sync(move |_| poem::web::Html(docs.clone())))))
        .at("/metrics", poem::get(metrics::endpoint(state.config.server.metrics_public, state.services.tokens.clone())))
        .at("/cdn/:bucket/*path", poem::get(cdn::deliver).head(cdn::deliver).put(cdn::deliver))
        .at("/api/trpc/*path", crate::trpc::endpoint.around(audit_guard::guard))
        .at("/api/subscription/webhook/stripe", poem::post(crate::features::subscription::api::stripe_webhook))
        .at("/s/:share_id", poem::get(music_api::share_page))
        .at("/s/:share_id/audio", poem::get(music_api::share_audio))
        .around(move |ep, req| crate::openapi::allow::answer(ep, req, allowed.clone()))
        .around(move |ep, req| crate::limits::bound(ep, req, bounds))
        .around(crate::limits::enforce)
        .with(cors(&state.config.server.cors_allowed_origins))
        // Each skin takes the services it calls from the request's data: one layer puts them all
        // there (a layer per service would nest the endpoint's type past the compiler's limits).
        .around(move |ep, mut req| {
            state.put_services(&mut req);
            async move { ep.call(req).await }
        })
        .boxed()
        .around(crate::edge::observe)
}


/// A server listening on its socket. Dropping the handle does not stop it; call `shutdown`.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    backups: Option<crate::backup::schedule::Scheduler>,
    mirrors: Option<MirrorWorkerHandle>,
    events: Option<crate::events::bus::BusHandle>,
}

impl RunningServer {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (up to the configured timeout), returns.
    pub async fn shutdown(self) -> std::io::Result<()> {
        // Live streams end first (their clients reconnect elsewhere), or they would hold the
        // graceful shutdown open until its timeout.
        self.state.bus.close();
        let _ = self.shutdown.send(());
        let served = self.task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Some(backups) = self.backups {
            backups.stop().await;
        }
        // After the requests: what they changed is in the outbox; the batch in hand finishes,
        // whatever is left is written at the next start.
        if let Some(mirrors) = self.mirrors {
            mirrors.stop().await;
        }
        if let Some(events) = self.events {
            events.stop().await;
        }
        served
    }

    /// Serves until the task ends (after a shutdown signal from `stop`).
    pub async fn wait(self, stop: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        stop.await;
        self.shutdown().await
    }
}

/// This instance's turn at a sweep: one instance of a cluster sweeps at a time (each sweep is
/// also safe run twice at once, one row at a time; the turn saves the others the work).
async fn turn(state: &AppState, name: &str) -> Option<crate::db::Turn> {
    match state.database.take_turn(name).await {
        Ok(turn) => turn,
        Err(e) => {
            tracing::warn!(error = %e, sweep = name, "cannot take a turn at the sweep");
            None
        }
    }
}

/// Ends idle writing sessions once a minute, for as long as the server runs.
async fn close_idle_writing_sessions(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let Some(_turn) = turn(&state, "optima:close_idle_writing_sessions").await else { continue };
        match state.services.writers.close_idle_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "closed idle writing sessions"),
            Err(e) => tracing::warn!(error = %e, "closing idle writing sessions failed"),
        }
    }
}

/// Releases quota holds left by a server that stopped mid-work, once they are old enough that
/// no running work can commit them.
async fn release_stale_quota_holds(state: Arc<AppState>) {
    let quotas = state.services.subscriptions.quotas();
    let mut tick = tokio::time::interval((quotas.hold_expiry() / 4).clamp(Duration::from_secs(1), Duration::from_secs(60)));
    loop {
        tick.tick().await;
        let Some(_turn) = turn(&state, "optima:release_stale_quota_holds").await else { continue };
        match quotas.release_stale_holds().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(holds = n, "released stale quota holds (left by a server that stopped mid-work)"),
            Err(e) => tracing::warn!(error = %e, "releasing stale quota holds failed"),
        }
    }
}

/// Removes live events older than `[events]` keeps, and beyond its count, every 10 s (more
/// often with a retention under 100 s), so that a burst past the count is soon trimmed.
async fn prune_events(state: Arc<AppState>) {
    let config = &state.config.events;
    let keep_for = Duration::from_secs(config.retention_secs);
    let mut tick = tokio::time::interval((keep_for / 10).clamp(Duration::from_secs(1), Duration::from_secs(10)));
    loop {
        tick.tick().await;
        let Some(_turn) = turn(&state, "optima:prune_events").await else { continue };
        match state.events.prune(keep_for, config.retention_max_events).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "removed old live events"),
            Err(e) => tracing::warn!(error = %e, "removing old live events failed"),
        }
    }
}

/// Forgets the rate-limit state of quiet clients once a minute, so memory follows active ones.
async fn forget_idle_clients(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        state.services.limiter.forget_idle();
    }
}

/// Binds `config.server.bind` (port 0 picks a free port), builds the state and starts serving.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    start_with_clock(config, crate::clock::system()).await
}

/// [`start`], with the clock that quota windows and subscription periods read.
pub async fn start_with_clock(config: Config, clock: SharedClock) -> Result<RunningServer, StartError> {
    let bind = config.server.bind.clone();
    let listener = tokio::net::TcpListener::bind(bind.as_str())
        .await
        .map_err(|source| StartError::Bind { addr: bind.clone(), source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: bind, source })?;
    let public_url = match config.server.public_url.trim_end_matches('/') {
        "" => format!("http://{addr}"),
        url => url.to_owned(),
    };
    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let header_timeout = Duration::from_secs(config.limits.header_timeout_secs);
    let state = AppState::build(config, public_url, clock).await?;
    // PostgreSQL checkpoints by itself; the SQLite file's are moved off the write path.
    if let Some(db) = state.database.sqlite() {
        db.checkpoint_in_background(Duration::from_secs(1)).await.map_err(|e| StartError::Checkpoints(e.to_string()))?;
    }
    metrics::handle();
    tokio::spawn(close_idle_writing_sessions(state.clone()));
    tokio::spawn(release_stale_quota_holds(state.clone()));
    let mirrors = Some(state.start_mirror_worker());
    let events = Some(state.start_event_follower());
    tokio::spawn(prune_events(state.clone()));
    if state.services.limiter.is_on() {
        tokio::spawn(forget_idle_clients(state.clone()));
    }
    let backups = crate::backup::schedule::Scheduler::start(&state.config);
    let app = routes(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async {
        let _ = rx.await;
    };
    let connection_limits = crate::server::ConnectionLimits {
        total: state.config.limits.max_connections,
        per_ip: state.config.limits.max_connections_per_ip,
        stalled_client: Duration::from_secs(state.config.limits.stalled_client_secs),
        exempt: state.services.limiter.trusted_proxies().to_vec(),
    };
    let task = tokio::spawn(crate::server::serve(listener, app, header_timeout, connection_limits, stop, grace));
    tracing::info!(%addr, "server ready");
    Ok(RunningServer { addr, state, shutdown: tx, task, backups, mirrors, events })
}

#[cfg(test)]
mod tests {
    /// The rate classes name routes and procedures the server has: checked here, where both
    /// skins and the limits meet.
    #[test]
    fn every_listed_route_and_procedure_exists() {
        let spec: serde_json::Value = serde_json::from_str(&crate::openapi::spec_json(&crate::openapi::service())).unwrap();
        for (pattern, _) in crate::limits::REST_ROUTES {
            let documented = spec["paths"].as_object().unwrap().iter().any(|(path, ops)| {
                let as_pattern: Vec<&str> =
                    path.split('/').map(|seg| if seg.starts_with('{') { "*" } else { seg }).collect();
                as_pattern.join("/") == pattern && ops.get("post").is_some()
            });
            assert!(documented, "{pattern} is not a documented POST route");
        }
        for (name, _) in crate::limits::TRPC_PROCEDURES {
            assert!(crate::trpc::has_procedure(name), "{name} is not a tRPC procedure");
        }
    }
}
