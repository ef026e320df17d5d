//! Typed configuration: built-in defaults, then `config.toml`, then `OPTIMA_…` environment
//! variables (`__` separates sections: `OPTIMA_SERVER__BIND`), then command-line flags.
//! Invalid configuration stops start-up with a message naming the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::plans::{Tier, TierPlans};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Runtime state: the database, the blob store and generated keys.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub storage: StorageConfig,
    pub subscription: SubscriptionConfig,
    pub chat: ChatConfig,
    pub music: MusicConfig,
    pub writers: WritersConfig,
    pub tactical: TacticalConfig,
    pub media: MediaConfig,
    pub ai: AiConfig,
    pub limits: LimitsConfig,
    pub backup: BackupConfig,
    pub trpc: TrpcConfig,
    pub events: EventsConfig,
}

/// Live events (`/api/events`, tRPC subscriptions): how long they are kept for clients that
/// reconnect, and how many streams a client may hold open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// A client that reconnects within this time is sent every event it missed; older events
    /// are removed, and a client whose last id is older is told it missed some.
    pub retention_secs: u64,
    /// At most this many events are kept, the newest (bounds the log under a burst).
    pub retention_max_events: u64,
    /// How often the log is read besides being woken by writes (this server's, and on
    /// PostgreSQL other servers' through LISTEN/NOTIFY).
    pub poll_ms: u64,
    /// A comment line is sent on an idle stream this often, so proxies and clients keep it.
    pub keepalive_secs: u64,
    /// A stream ends after this long (the client reconnects with its last id and misses
    /// nothing): below a platform's request limit (Cloud Run's is 60 minutes), so that the
    /// server ends it cleanly first.
    pub max_stream_secs: u64,
    /// Open streams per user; one more is refused with 429.
    pub max_streams_per_user: u32,
    /// Open streams per client IP (authenticated or not); one more is refused with 429.
    pub max_streams_per_ip: u32,
    /// How far (in events) a stream may fall behind the newest before it reads the log instead
    /// of memory; bounds the memory every stream shares.
    pub buffer_events: usize,
}

impl EventsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("`events.{key}` {why}")));
        if self.retention_secs == 0 {
            return bad("retention_secs", "must be at least 1");
        }
        if self.retention_max_events == 0 {
            return bad("retention_max_events", "must be at least 1");
        }
        if self.poll_ms == 0 {
            return bad("poll_ms", "must be at least 1");
        }
        if self.keepalive_secs == 0 {
            return bad("keepalive_secs", "must be at least 1");
        }
        if self.max_stream_secs == 0 {
            return bad("max_stream_secs", "must be at least 1");
        }
        if self.max_streams_per_user == 0 || self.max_streams_per_ip == 0 {
            return bad("max_streams_per_user", "and `events.max_streams_per_ip` must be at least 1");
        }
        if !(16..=1_000_000).contains(&self.buffer_events) {
            return bad("buffer_events", "must be 16 to 1000000");
        }
        Ok(())
    }
}

/// The tRPC endpoint: where procedures this server does not serve are forwarded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrpcConfig {
    /// Base URL of the app's own backend (`http(s)://host[:port][/prefix]`): a procedure Optima
    /// does not serve is forwarded to `<upstream_url>/api/trpc/<path>`. Empty: off, and such a
    /// procedure is NOT_FOUND.
    pub upstream_url: String,
    /// A forwarded call (connecting, sending and reading the whole answer) that takes longer
    /// gets GATEWAY_TIMEOUT.
    pub upstream_timeout_secs: u64,
    /// Largest upstream answer, in bytes; a larger one is not read further and gets BAD_GATEWAY.
    pub upstream_max_response_bytes: u64,
}

impl TrpcConfig {
    fn validate(&self, handler_timeout_secs: u64) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("`trpc.{key}` {why}")));
        if !self.upstream_url.is_empty() {
            let url = match reqwest::Url::parse(&self.upstream_url) {
                Ok(url) => url,
                Err(e) => return bad("upstream_url", format!("is not a URL ({e}): give http(s)://host[:port], or leave it empty")),
            };
            if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
                return bad("upstream_url", "must start with http:// or https:// and name a host (empty turns forwarding off)".into());
            }
            if url.query().is_some() || url.fragment().is_some() {
                return bad("upstream_url", "must not carry a query or a fragment: `/api/trpc/<path>` is appended to it".into());
            }
        }
        if self.upstream_timeout_secs == 0 {
            return bad("upstream_timeout_secs", "must be at least 1".into());
        }
        if self.upstream_timeout_secs >= handler_timeout_secs {
            return bad(
                "upstream_timeout_secs",
                format!("must be less than `limits.handler_timeout_secs` ({handler_timeout_secs}), which would cut the call off first"),
            );
        }
        if self.upstream_max_response_bytes == 0 {
            return bad("upstream_max_response_bytes", "must be at least 1".into());
        }
        Ok(())
    }
}

/// Backups the server takes by itself (`optima backup` does the same on demand).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// When, as a cron expression in UTC: `"0 3 * * *"` is 03:00 every day (a sixth, leading
    /// field counts seconds). Empty: no scheduled backups.
    pub schedule: String,
    /// Scheduled backups kept in the target; older ones the schedule wrote are deleted.
    pub keep: usize,
    /// Folder that receives one `optima-<time>` folder per backup.
    pub dir: PathBuf,
    /// Or a GCS bucket, `"bucket"` or `"bucket/prefix"`, reached with `storage.gcs`'s endpoint
    /// and credentials.
    pub gcs_bucket: String,
}

impl BackupConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("`backup.{key}` {why}")));
        if self.keep == 0 {
            return bad("keep", "must be at least 1".into());
        }
        if !self.gcs_bucket.is_empty() {
            let buckets = [("media".to_owned(), self.gcs_bucket.clone())].into();
            if let Err(why) = crate::blobs::gcs::locations::GcsLocations::resolve("", &buckets) {
                return bad("gcs_bucket", format!("is not a usable bucket: {why}"));
            }
        }
        if self.schedule.is_empty() {
            return Ok(());
        }
        if let Err(why) = crate::backup::cron::parse(&self.schedule) {
            return bad("schedule", format!("is not a cron expression: {why}"));
        }
        match (self.dir.as_os_str().is_empty(), self.gcs_bucket.is_empty()) {
            (true, true) => bad("dir", "or `backup.gcs_bucket` is required when `backup.schedule` is set".into()),
            (false, false) => bad("dir", "and `backup.gcs_bucket` are both set: choose one target".into()),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    /// Base URL used in links this server hands out; empty means `http://<bound address>`.
    pub public_url: String,
    /// Origins allowed by CORS; `["*"]` allows any.
    pub cors_allowed_origins: Vec<String>,
    pub shutdown_timeout_secs: u64,
    /// Whether `/metrics` answers anyone; false requires an admin or service bearer token.
    pub metrics_public: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `optima=debug,poem=info`.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The database: the embedded SQLite file (the default), or PostgreSQL when `url` is set. The
/// SQLite settings (`file` … `synchronous`) are ignored with PostgreSQL, and the PostgreSQL ones
/// (`pool_size` … `ca_file`) with SQLite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty: the embedded SQLite file below. `postgres://user:password@host[:port]/dbname` (or
    /// `postgresql://`): PostgreSQL 14 or newer, shared by every instance. A Unix socket folder
    /// goes in `host`: `postgres://user@/dbname?host=/cloudsql/project:region:instance`. It
    /// holds the password: prefer `OPTIMA_DATABASE__URL` over writing it in a file; it is never
    /// printed.
    pub url: DatabaseUrl,
    /// File name inside `data_dir` (or an absolute path).
    pub file: PathBuf,
    pub read_connections: u32,
    pub busy_timeout_ms: u64,
    pub synchronous: Synchronous,
    /// PostgreSQL: connections this instance keeps open at most. Mind the server's
    /// `max_connections` across all instances.
    pub pool_size: u32,
    /// PostgreSQL: a statement running longer is cancelled (503 `database_busy`); 0 = no limit.
    pub statement_timeout_ms: u64,
    /// PostgreSQL: how long opening a connection, or waiting for a free one in the pool, may take
    /// before the request gets 503 `database_unavailable`.
    pub connect_timeout_secs: u64,
    /// PostgreSQL over TCP: `disable` (plain), `require` (encrypted, the server's certificate not
    /// checked) or `verify_full` (encrypted, the certificate checked against `ca_file` or the
    /// system's roots, and the host name against it). A Unix socket is never encrypted.
    pub tls: DatabaseTls,
    /// PEM file of the certificate authorities for `tls = "verify_full"` (Cloud SQL: the
    /// instance's server CA); empty = the system's roots.
    pub ca_file: String,
}

/// A PostgreSQL URL. It carries the password, so `Debug` shows only whether one is set, and
/// no error message quotes it.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// Empty: the embedded SQLite database.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// The URL itself, for the driver only: never log or show it.
    pub fn expose(&self) -> &str {
        self.0.trim()
    }

    /// The URL parsed by the driver; the error names the setting and never quotes the URL.
    pub fn parse(&self) -> Result<tokio_postgres::Config, ConfigError> {
        let bad = |why: String| Err(ConfigError(format!("`database.url` {why}")));
        let url = self.expose();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return bad("must start with postgres:// or postgresql:// (or be empty for the embedded SQLite database)".into());
        }
        let parsed: tokio_postgres::Config = match url.parse() {
            Ok(parsed) => parsed,
            // The driver's parse errors name the option (`invalid value for option `port``),
            // never its value; scrubbed all the same, should that ever change.
            Err(e) => return bad(format!("is not a valid PostgreSQL URL: {}", self.scrub(&e.to_string()))),
        };
        if parsed.get_hosts().is_empty() {
            return bad("names no host (postgres://user:password@host:5432/dbname)".into());
        }
        if url.split_once('?').is_some_and(|(_, query)| query.split('&').any(|kv| kv.starts_with("sslmode="))) {
            return bad("sets sslmode: use `database.tls` (disable, require or verify_full) instead".into());
        }
        Ok(parsed)
    }

    /// `text` with the URL's password (as written, and percent-decoded) masked.
    pub fn scrub(&self, text: &str) -> String {
        let url = self.expose();
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
        let password = authority.rsplit_once('@').and_then(|(userinfo, _)| userinfo.split_once(':')).map(|(_, p)| p);
        let mut out = text.to_owned();
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy().into_owned();
            for secret in [password.to_owned(), decoded] {
                out = out.replace(&secret, "***");
            }
        }
        out
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_empty() { "\"\"" } else { "\"<postgres url, redacted>\"" })
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseTls {
    Disable,
    Require,
    VerifyFull,
}

impl DatabaseConfig {
    /// PostgreSQL is configured.
    pub fn is_postgres(&self) -> bool {
        !self.url.is_empty()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("`database.{key}` {why}")));
        if self.read_connections == 0 {
            return bad("read_connections", "must be at least 1");
        }
        if !self.is_postgres() {
            return Ok(());
        }
        self.url.parse()?;
        if self.pool_size == 0 {
            return bad("pool_size", "must be at least 1");
        }
        if self.connect_timeout_secs == 0 {
            return bad("connect_timeout_secs", "must be at least 1");
        }
        if self.statement_timeout_ms > i32::MAX as u64 {
            return bad("statement_timeout_ms", "must be at most 2147483647 (0 = no limit)");
        }
        if !self.ca_file.is_empty() && self.tls != DatabaseTls::VerifyFull {
            return bad("ca_file", "is only used with tls = \"verify_full\"");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 secret for bearer tokens; empty means `data_dir/keys/jwt.key`, generated on first use.
    pub jwt_secret: String,
    pub token_ttl_secs: u64,
    pub issuer: String,
    /// Password hashes (Argon2id, 19 MiB each) computed at once; 0 = one per CPU core, at most 4.
    pub password_hash_concurrency: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Largest object accepted by uploads, in bytes.
    pub max_upload_bytes: u64,
    /// HMAC key for signed URLs; empty means `data_dir/keys/url-signing.key`, generated on first use.
    pub url_signing_key: String,
    /// Buckets whose objects anyone may read without a signature.
    pub public_buckets: Vec<String>,
    /// Lifetime of the signed `cdnUrl` handed out for objects of private buckets.
    pub delivery_url_ttl_secs: u64,
    /// `Cache-Control: max-age` for delivered objects.
    pub cache_max_age_secs: u64,
    pub gcs: GcsConfig,
    pub mirrors: MirrorsConfig,
}

/// How mirrors of rows in the blob store (a project's `metadata.json`) are written: by a
/// background worker, shortly after the change, never inside the request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorsConfig {
    /// How often the worker looks for due mirrors besides being woken by this server's own
    /// changes: changes other servers on the same database made, and retries that came due.
    pub poll_ms: u64,
    /// The delay before the first retry of a failed write; doubled after each further failure.
    pub retry_first_ms: u64,
    /// The longest delay between retries.
    pub retry_max_secs: u64,
}

/// Abuse limits: request rates per client, read timeouts, body and JSON bounds, and the queue
/// that generation work waits in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Rate limiting on or off (the timeouts, bounds and queue always apply).
    pub rate_limiting: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed: IP addresses or CIDR ranges. Empty:
    /// the connecting socket is the client, whatever the header says.
    pub trusted_proxies: Vec<String>,
    /// Login and registration, per client IP (password guessing).
    pub login: RateBudget,
    /// Generation and AI routes (costly work), per user and per IP.
    pub generation: RateBudget,
    /// Every other route, per user (with a token) and per IP.
    pub general: RateBudget,
    /// A request body that sends nothing for this long is abandoned (408).
    pub read_timeout_secs: u64,
    /// The whole of a request's headers must arrive within this time, counted from when the
    /// connection is ready for them (so it also closes idle keep-alive connections).
    pub header_timeout_secs: u64,
    /// A request that has not been answered after this long gets 503.
    pub handler_timeout_secs: u64,
    /// A client that reads nothing of what the server has to send it (a live stream it stopped
    /// reading, or a client that vanished) for this long is disconnected by the kernel
    /// (TCP_USER_TIMEOUT, which also bounds a zero receive window).
    pub stalled_client_secs: u64,
    /// Largest JSON body (REST and tRPC), in bytes.
    pub max_json_bytes: u64,
    /// Deepest nesting of arrays and objects in a JSON body.
    pub max_json_depth: usize,
    /// Generation jobs (music, images, remote AI calls) running at once; 0 = one per CPU core.
    pub generation_workers: usize,
    /// Generation jobs that may wait for a worker; past it, 503 with Retry-After.
    pub generation_queue: usize,
    /// Most procedure calls in one tRPC batch; past it, one 400 for the whole request.
    pub max_trpc_batch: usize,
    /// Open connections in total; past it a new connection is answered 503 and closed.
    pub max_connections: usize,
    /// Open connections from one client address (trusted proxies are exempt); past it a new
    /// connection is answered 503 and closed.
    pub max_connections_per_ip: usize,
}

/// Requests a minute per key, with bursts up to `burst`. 0 turns that key's limit off.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateBudget {
    pub per_ip_per_minute: u32,
    pub per_user_per_minute: u32,
    pub burst: u32,
}

/// Google Cloud Storage, used when `storage.backend = "gcs"` and by `optima storage copy`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcsConfig {
    /// Base URL of the storage API; empty is Google's. Set it to use an emulator.
    pub endpoint: String,
    /// Service-account JSON key; empty means the usual search: `GOOGLE_APPLICATION_CREDENTIALS`,
    /// gcloud's application default credentials, then the VM's metadata server.
    pub credentials_file: String,
    /// Real bucket name = prefix + the seed's bucket name, unless `buckets` names it.
    pub bucket_prefix: String,
    /// Seed bucket name (or alias) → real bucket, optionally with an object prefix:
    /// `"my-bucket"` or `"my-bucket/some/prefix"`.
    pub buckets: BTreeMap<String, String>,
    /// How `/cdn` delivers: stream through this server, or redirect to a signed GCS URL.
    pub delivery: GcsDelivery,
    /// Lifetime of the signed URL a redirect points at.
    pub redirect_ttl_secs: u64,
    /// Limit for one request to GCS, including its body.
    pub timeout_secs: u64,
    /// Retries of a failed request (connection errors, 5xx, 429), with backoff.
    pub max_retries: usize,
}

impl Config {
    /// The largest request body any route accepts, plus room for multipart framing: every body,
    /// chunked or not, is cut off past it (routes then apply their own, smaller limits).
    pub fn largest_body(&self) -> u64 {
        let documents = self.tactical.max_document_bytes * self.tactical.max_documents as u64;
        let json = self.limits.max_json_bytes + self.writers.max_manuscript_bytes;
        let uploads = [self.storage.max_upload_bytes, self.music.max_stem_bytes, self.tactical.max_attachment_bytes, self.media.max_image_bytes];
        uploads.into_iter().chain([documents, json]).max().unwrap_or(json) + 1024 * 1024
    }
}

impl LimitsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("`limits.{key}` {why}")));
        for (key, value) in [
            ("read_timeout_secs", self.read_timeout_secs),
            ("header_timeout_secs", self.header_timeout_secs),
            ("handler_timeout_secs", self.handler_timeout_secs),
            ("stalled_client_secs", self.stalled_client_secs),
            ("max_json_bytes", self.max_json_bytes),
            ("max_json_depth", self.max_json_depth as u64),
            ("generation_queue", self.generation_queue as u64),
            ("max_trpc_batch", self.max_trpc_batch as u64),
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1");
            }
        }
        for (class, budget) in [("login", self.login), ("generation", self.generation), ("general", self.general)] {
            if budget.burst == 0 && (budget.per_ip_per_minute > 0 || budget.per_user_per_minute > 0) {
                return bad(&format!("{class}.burst"), "must be at least 1 while a limit is set");
            }
        }
        for proxy in &self.trusted_proxies {
            if crate::limits::client_ip::ProxyNet::parse(proxy).is_none() {
                return bad("trusted_proxies", &format!("has `{proxy}`, which is neither an IP address nor a CIDR range"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GcsDelivery {
    Stream,
    Redirect,
}

impl GcsConfig {
    fn validate(&self, url_ok: impl Fn(&str) -> bool) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("`storage.gcs.{key}` {why}")));
        if !self.endpoint.is_empty() && !url_ok(&self.endpoint) {
            return bad("endpoint", "must be empty (Google's) or start with http:// or https://");
        }
        if self.timeout_secs == 0 {
            return bad("timeout_secs", "must be at least 1");
        }
        if !(1..=crate::blobs::signing::MAX_EXPIRES_IN_SECS).contains(&self.redirect_ttl_secs) {
            return bad("redirect_ttl_secs", "must be 1 to 604800 seconds");
        }
        crate::blobs::gcs::locations::GcsLocations::resolve(&self.bucket_prefix, &self.buckets).map(drop).map_err(ConfigError)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Local,
    Gcs,
}

impl StorageBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageBackend::Local => "local",
            StorageBackend::Gcs => "gcs",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// How tier changes are paid: `manual` (only admins and services change tiers) or `stripe`.
    pub payment_provider: PaymentProviderKind,
    pub stripe: StripeConfig,
    pub tiers: TierPlans,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PaymentProviderKind {
    Manual,
    Stripe,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeConfig {
    pub api_base: String,
    pub secret_key: String,
    /// Signing secret of the webhook endpoint (`whsec_…`).
    pub webhook_secret: String,
    pub currency: String,
    /// How old a webhook's signed timestamp may be.
    pub webhook_tolerance_secs: u64,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// Longest message a user may send, in characters.
    pub max_message_chars: usize,
    /// Budget of earlier turns sent to the model as context, in characters.
    pub context_chars: usize,
    /// At most this many earlier messages go to the model.
    pub max_history_messages: usize,
    /// Streamed replies one user may have being written at once.
    pub max_replies_per_user: usize,
    /// How long the server that wrote a streamed reply keeps it after it ended, and how long a
    /// resume elsewhere waits for it to be stored.
    pub reply_linger_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MusicConfig {
    /// Largest stem a user may upload, in bytes.
    pub max_stem_bytes: u64,
    /// Longest stem a user may upload, in seconds.
    pub max_stem_secs: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritersConfig {
    /// Largest manuscript, in bytes of UTF-8 text.
    pub max_manuscript_bytes: u64,
    /// Largest notes document, in bytes of JSON.
    pub max_notes_bytes: u64,
    /// Words written that make a member eligible for wordsmith (a premium subscription does too).
    pub wordsmith_words: u64,
    /// Words written that make a member eligible for master (an unlimited subscription does too).
    pub master_words: u64,
    /// A writing session with no save for this long is closed.
    pub session_idle_minutes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TacticalConfig {
    /// Master key wrapping the data keys of encrypted comms and documents: base64 of 32 bytes.
    /// Empty means `data_dir/keys/master.key`, generated on first use.
    pub master_key: String,
    /// Earlier configured master keys still wrapping some data keys (until `optima keys rotate`).
    pub previous_master_keys: Vec<String>,
    /// Longest comm content, in characters.
    pub max_content_chars: usize,
    /// Largest comm attachment, in bytes.
    pub max_attachment_bytes: u64,
    /// Largest verification document, in bytes.
    pub max_document_bytes: u64,
    /// Most verification documents one request may carry.
    pub max_documents: usize,
    /// Support lines offered with every stress-resilience check-in: name = phone.
    pub support_resources: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Largest uploaded image, in bytes.
    pub max_image_bytes: u64,
    /// Most pixels (width × height) an uploaded image may declare.
    pub max_image_pixels: u64,
    /// Memory, in MiB, that image decodes in progress may hold together (each reserves its peak,
    /// read from the header, before it starts).
    pub decode_memory_mb: u64,
    /// How long a decode waits for its share of `decode_memory_mb` before the upload is
    /// refused with 503 and Retry-After.
    pub decode_wait_secs: u64,
    /// Longest side an uploaded image may declare.
    pub max_image_side: u32,
    /// JPEG quality of stored avatars and photos, 1 to 100.
    pub jpeg_quality: u8,
    /// Photos are scaled to fit this long side.
    pub photo_long_side: u32,
    pub max_photos_per_user: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiConfig {
    /// `local` (offline, built in) or `openai` (any OpenAI-compatible server).
    pub text_provider: TextProviderKind,
    /// `local` (the built-in composer and synthesizer) or `huggingface` (MusicGen).
    pub music_provider: MusicProviderKind,
    /// `local` (procedural artwork, offline) or `openai` (the OpenAI Images API).
    pub image_provider: ImageProviderKind,
    pub openai: OpenAiConfig,
    pub huggingface: HuggingFaceConfig,
    /// `GET /probe/gateway` is public: each remote provider is asked whether it is ready at
    /// most once per this many seconds, however often anyone calls it.
    pub probe_cache_secs: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImageProviderKind {
    Local,
    Openai,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MusicProviderKind {
    Local,
    Huggingface,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuggingFaceConfig {
    pub base_url: String,
    pub token: String,
    pub music_model: String,
    /// One request never takes longer than this.
    pub timeout_secs: u64,
    /// How long to keep retrying while the model loads.
    pub max_wait_secs: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TextProviderKind {
    Local,
    Openai,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiConfig {
    pub base_url: String,
    pub api_key: String,
    pub chat_model: String,
    pub image_model: String,
    pub timeout_secs: u64,
    /// Most tokens a reply may have.
    pub max_tokens: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            server: ServerConfig {
                bind: "127.0.0.1:8080".into(),
                public_url: String::new(),
                cors_allowed_origins: vec!["*".into()],
                shutdown_timeout_secs: 30,
                metrics_public: true,
            },
            log: LogConfig { level: "info".into(), format: LogFormat::Text },
            database: DatabaseConfig {
                url: DatabaseUrl::default(),
                file: PathBuf::from("optima.db"),
                read_connections: 8,
                busy_timeout_ms: 10_000,
                synchronous: Synchronous::Normal,
                pool_size: 16,
                statement_timeout_ms: 30_000,
                connect_timeout_secs: 5,
                tls: DatabaseTls::VerifyFull,
                ca_file: String::new(),
            },
            auth: AuthConfig {
                jwt_secret: String::new(),
                token_ttl_secs: 86_400,
                issuer: "optima".into(),
                password_hash_concurrency: 0,
            },
            storage: StorageConfig {
                backend: StorageBackend::Local,
                max_upload_bytes: 100 * 1024 * 1024,
                url_signing_key: String::new(),
                public_buckets: Vec::new(),
                delivery_url_ttl_secs: 3_600,
                cache_max_age_secs: 3_600,
                gcs: GcsConfig {
                    endpoint: String::new(),
                    credentials_file: String::new(),
                    bucket_prefix: String::new(),
                    buckets: BTreeMap::new(),
                    delivery: GcsDelivery::Stream,
                    redirect_ttl_secs: 300,
                    timeout_secs: 60,
                    max_retries: 3,
                },
                mirrors: MirrorsConfig { poll_ms: 1_000, retry_first_ms: 1_000, retry_max_secs: 300 },
            },
            subscription: SubscriptionConfig {
                payment_provider: PaymentProviderKind::Manual,
                stripe: StripeConfig {
                    api_base: "https://api.stripe.com".into(),
                    secret_key: String::new(),
                    webhook_secret: String::new(),
                    currency: "usd".into(),
                    webhook_tolerance_secs: 300,
                    timeout_secs: 20,
                },
                tiers: TierPlans::default(),
            },
            chat: ChatConfig { max_message_chars: 4_000, context_chars: 12_000, max_history_messages: 20, max_replies_per_user: 4, reply_linger_secs: 300 },
            music: MusicConfig { max_stem_bytes: 50 * 1024 * 1024, max_stem_secs: 600.0 },
            writers: WritersConfig {
                max_manuscript_bytes: 10 * 1024 * 1024,
                max_notes_bytes: 256 * 1024,
                wordsmith_words: 10_000,
                master_words: 100_000,
                session_idle_minutes: 30,
            },
            tactical: TacticalConfig {
                master_key: String::new(),
                previous_master_keys: Vec::new(),
                max_content_chars: 5_000,
                max_attachment_bytes: 25 * 1024 * 1024,
                max_document_bytes: 10 * 1024 * 1024,
                max_documents: 10,
                support_resources: [
                    ("988 Suicide & Crisis Lifeline", "988"),
                    ("Safe Call Now (first responders)", "1-206-459-3020"),
                    ("COPLINE (law enforcement)", "1-800-267-5463"),
                ]
                .into_iter()
                .map(|(name, phone)| (name.to_owned(), phone.to_owned()))
                .collect(),
            },
            media: MediaConfig {
                max_image_bytes: 20 * 1024 * 1024,
                // 8192 × 6144: the full output of the 48–50 MP phone sensors.
                max_image_pixels: 50_331_648,
                decode_memory_mb: 384,
                decode_wait_secs: 10,
                max_image_side: 12_000,
                jpeg_quality: 85,
                photo_long_side: 2_048,
                max_photos_per_user: 200,
            },
            ai: AiConfig {
                text_provider: TextProviderKind::Local,
                music_provider: MusicProviderKind::Local,
                image_provider: ImageProviderKind::Local,
                openai: OpenAiConfig {
                    base_url: "https://api.openai.com/v1".into(),
                    api_key: String::new(),
                    chat_model: "gpt-4o-mini".into(),
                    image_model: "dall-e-3".into(),
                    timeout_secs: 60,
                    max_tokens: 1_024,
                },
                huggingface: HuggingFaceConfig {
                    base_url: "https://api-inference.huggingface.co".into(),
                    token: String::new(),
                    music_model: "facebook/musicgen-small".into(),
                    timeout_secs: 120,
                    max_wait_secs: 180,
                },
                probe_cache_secs: 10,
            },
            limits: LimitsConfig {
                rate_limiting: true,
                trusted_proxies: Vec::new(),
                login: RateBudget { per_ip_per_minute: 20, per_user_per_minute: 0, burst: 10 },
                generation: RateBudget { per_ip_per_minute: 120, per_user_per_minute: 30, burst: 10 },
                general: RateBudget { per_ip_per_minute: 6_000, per_user_per_minute: 1_200, burst: 300 },
                read_timeout_secs: 30,
                header_timeout_secs: 10,
                stalled_client_secs: 60,
                handler_timeout_secs: 300,
                max_json_bytes: 1024 * 1024,
                max_json_depth: 32,
                generation_workers: 0,
                generation_queue: 64,
                max_trpc_batch: 16,
                max_connections: 512,
                max_connections_per_ip: 64,
            },
            backup: BackupConfig { schedule: String::new(), keep: 7, dir: PathBuf::new(), gcs_bucket: String::new() },
            trpc: TrpcConfig { upstream_url: String::new(), upstream_timeout_secs: 15, upstream_max_response_bytes: 8 * 1024 * 1024 },
            events: EventsConfig {
                retention_secs: 86_400,
                retention_max_events: 100_000,
                poll_ms: 1_000,
                keepalive_secs: 15,
                max_stream_secs: 3_300,
                max_streams_per_user: 8,
                max_streams_per_ip: 32,
                buffer_events: 1_024,
            },
        }
    }
}

/// Values given on the command line; they override everything else.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerOverrides>,
}

#[derive(Debug, Default, Serialize)]
pub struct ServerOverrides {
    pub bind: String,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// The top-level keys of [`Config`]: what an `OPTIMA_…` variable may set.
const SECTIONS: [&str; 17] = [
    "data_dir", "server", "log", "database", "auth", "storage", "subscription", "chat", "music", "writers", "tactical", "media",
    "ai", "limits", "backup", "trpc", "events",
];

/// Where the configuration file is looked for when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// Below this a decode budget holds little more than the decoder's own working memory.
const MIN_DECODE_MEMORY_MB: u64 = 32;
const MAX_DECODE_MEMORY_MB: u64 = 1024 * 1024;

impl Config {
    /// Loads the layered configuration. An explicitly named file must exist; the default
    /// `config.toml` is optional.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.is_file() => {
                return Err(ConfigError(format!("config file {} does not exist", path.display())));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        let config: Config = figment
            .merge(Env::prefixed("OPTIMA_").split("__").filter(|key| {
                // Only variables aimed at a setting: `OPTIMA_VENV` and the like belong to others,
                // while a typo inside a section (`OPTIMA_SERVER__BIMD`) is still refused.
                let top = key.as_str().split('.').next().unwrap_or_default();
                SECTIONS.iter().any(|s| top.eq_ignore_ascii_case(s))
            }))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// With PostgreSQL, several servers share one database: each must sign tokens and URLs and
    /// unwrap Tactical keys with the same secrets, so none may be generated into this server's
    /// own data folder. Refuses naming every secret not set.
    pub fn require_shared_secrets(&self) -> Result<(), ConfigError> {
        if !self.database.is_postgres() {
            return Ok(());
        }
        let missing: Vec<&str> = [
            ("auth.jwt_secret (OPTIMA_AUTH__JWT_SECRET)", &self.auth.jwt_secret),
            ("storage.url_signing_key (OPTIMA_STORAGE__URL_SIGNING_KEY)", &self.storage.url_signing_key),
            ("tactical.master_key (OPTIMA_TACTICAL__MASTER_KEY)", &self.tactical.master_key),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_empty())
        .map(|(name, _)| name)
        .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(ConfigError(format!(
            "`database.url` names PostgreSQL, whose servers must all use the same secrets, so none is generated into this \
             server's data folder: set {}",
            missing.join(", ")
        )))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("`{key}` {why}")));
        if self.server.bind.parse::<SocketAddr>().is_err() {
            return bad("server.bind", "must be an IP address and port such as 127.0.0.1:8080");
        }
        let url = &self.server.public_url;
        if !url.is_empty() && !url.starts_with("http://") && !url.starts_with("https://") {
            return bad("server.public_url", "must start with http:// or https://");
        }
        self.database.validate()?;
        if self.auth.token_ttl_secs == 0 {
            return bad("auth.token_ttl_secs", "must be at least 1");
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.len() < 32 {
            return bad("auth.jwt_secret", "must be at least 32 characters");
        }
        if !self.storage.url_signing_key.is_empty() && self.storage.url_signing_key.len() < 32 {
            return bad("storage.url_signing_key", "must be at least 32 characters");
        }
        if self.storage.max_upload_bytes == 0 {
            return bad("storage.max_upload_bytes", "must be at least 1");
        }
        let mirrors = &self.storage.mirrors;
        if mirrors.poll_ms == 0 {
            return bad("storage.mirrors.poll_ms", "must be at least 1");
        }
        if mirrors.retry_first_ms == 0 {
            return bad("storage.mirrors.retry_first_ms", "must be at least 1");
        }
        if mirrors.retry_max_secs.saturating_mul(1000) < mirrors.retry_first_ms {
            return bad("storage.mirrors.retry_max_secs", "must be at least `storage.mirrors.retry_first_ms`");
        }
        for name in &self.storage.public_buckets {
            if crate::blobs::bucket::Bucket::parse(name).is_none() {
                return bad("storage.public_buckets", &format!("names an unknown bucket `{name}`"));
            }
        }
        let url_ok = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        self.storage.gcs.validate(url_ok)?;
        if !url_ok(&self.ai.openai.base_url) {
            return bad("ai.openai.base_url", "must start with http:// or https://");
        }
        if !url_ok(&self.ai.huggingface.base_url) {
            return bad("ai.huggingface.base_url", "must start with http:// or https://");
        }
        if self.ai.huggingface.timeout_secs == 0 {
            return bad("ai.huggingface.timeout_secs", "must be at least 1");
        }
        if self.ai.openai.timeout_secs == 0 {
            return bad("ai.openai.timeout_secs", "must be at least 1");
        }
        if self.ai.probe_cache_secs == 0 {
            return bad("ai.probe_cache_secs", "must be at least 1");
        }
        if !url_ok(&self.subscription.stripe.api_base) {
            return bad("subscription.stripe.api_base", "must start with http:// or https://");
        }
        if self.subscription.payment_provider == PaymentProviderKind::Stripe {
            if self.subscription.stripe.secret_key.is_empty() {
                return bad("subscription.stripe.secret_key", "is required when payment_provider = \"stripe\"");
            }
            if self.subscription.stripe.webhook_secret.is_empty() {
                return bad("subscription.stripe.webhook_secret", "is required when payment_provider = \"stripe\"");
            }
        }
        if self.writers.session_idle_minutes == 0 {
            return bad("writers.session_idle_minutes", "must be at least 1");
        }
        if self.tactical.max_content_chars == 0 {
            return bad("tactical.max_content_chars", "must be at least 1");
        }
        if !(1..=100).contains(&self.tactical.max_documents) {
            return bad("tactical.max_documents", "must be 1 to 100");
        }
        if !(1..=100).contains(&self.media.jpeg_quality) {
            return bad("media.jpeg_quality", "must be 1 to 100");
        }
        if self.media.photo_long_side < 64 {
            return bad("media.photo_long_side", "must be at least 64");
        }
        if !(MIN_DECODE_MEMORY_MB..=MAX_DECODE_MEMORY_MB).contains(&self.media.decode_memory_mb) {
            return bad("media.decode_memory_mb", "must be 32 to 1048576 (1 TiB)");
        }
        if self.chat.max_replies_per_user == 0 {
            return bad("chat.max_replies_per_user", "must be at least 1");
        }
        if self.chat.max_message_chars == 0 {
            return bad("chat.max_message_chars", "must be at least 1");
        }
        self.limits.validate()?;
        self.backup.validate()?;
        if self.database.is_postgres() && !self.backup.schedule.is_empty() {
            return bad(
                "backup.schedule",
                "copies the embedded SQLite database, and `database.url` names PostgreSQL: back it up with its own \
                 tools (pg_dump, Cloud SQL's automated backups) and the blobs with `optima storage copy`",
            );
        }
        self.trpc.validate(self.limits.handler_timeout_secs)?;
        self.events.validate()?;
        for tier in Tier::ALL {
            let plan = self.subscription.tiers.get(tier);
            if !(plan.price_monthly >= 0.0 && plan.price_yearly >= 0.0) {
                return bad(&format!("subscription.tiers.{}.price_monthly", tier.as_str()), "prices must be zero or more");
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad("log.level", "is not a valid filter (try `info` or `optima=debug`)");
        }
        Ok(())
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(&self.database.file)
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
}

fn describe_figment_error(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e.metadata.as_ref().map(|m| m.name.to_string()).unwrap_or_default();
            let mut kind = e.kind.to_string();
            // serde reports an unknown field by its own name only: add the section it was found in.
            if let figment::error::Kind::UnknownField(field, _) = &e.kind {
                let full = if key.is_empty() { field.clone() } else { format!("{key}.{field}") };
                kind = format!("unknown key `{full}`");
                return format!("{kind} (from {source})");
            }
            if key.is_empty() {
                kind
            } else {
                kind = format!("`{key}`: {kind}");
                if source.is_empty() { kind } else { format!("{kind} (from {source})") }
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every section of the configuration can be set from the environment (`OPTIMA_<SECTION>__…`).
    #[test]
    fn every_section_is_reachable_from_the_environment() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let mut sections: Vec<&str> = defaults.as_object().unwrap().keys().map(String::as_str).collect();
        let mut known = SECTIONS.to_vec();
        sections.sort();
        known.sort();
        assert_eq!(sections, known);
    }

    const PASSWORD: &str = "hunter2secret";

    fn with_database(adjust: impl FnOnce(&mut DatabaseConfig)) -> Result<(), ConfigError> {
        let mut config = Config::default();
        adjust(&mut config.database);
        config.validate()
    }

    fn postgres(url: &str) -> impl FnOnce(&mut DatabaseConfig) + '_ {
        move |d| d.url = DatabaseUrl::new(url)
    }

    /// The error, which names `key` and never the password.
    fn refused(result: Result<(), ConfigError>, key: &str) -> String {
        let message = result.expect_err(key).to_string();
        assert!(message.contains(&format!("`{key}`")), "{message}");
        assert!(!message.contains(PASSWORD), "the password is echoed: {message}");
        message
    }

    #[test]
    fn an_empty_url_is_the_embedded_sqlite_database() {
        assert!(!Config::default().database.is_postgres());
        with_database(postgres("  ")).unwrap();
        // PostgreSQL's settings are not checked for SQLite.
        with_database(|d| d.pool_size = 0).unwrap();
    }

    #[test]
    fn postgres_urls_in_both_spellings_and_with_a_socket_are_accepted() {
        for url in [
            "postgres://optima:hunter2secret@db.internal:5432/optima",
            "postgresql://optima@10.0.0.3/optima?application_name=api",
            "postgres://optima@/optima?host=/cloudsql/project:region:instance",
            "postgres://optima:hunter2secret@a:5432,b:5433/optima",
        ] {
            with_database(postgres(url)).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }

    #[test]
    fn a_url_that_is_not_postgres_is_refused_without_echoing_it() {
        for url in [
            "mysql://root:hunter2secret@localhost/optima",
            "optima.db",
            "postgres:/optima:hunter2secret@host/db",
            "host=localhost password=hunter2secret",
        ] {
            let message = refused(with_database(postgres(url)), "database.url");
            assert!(message.contains("postgres://"), "{message}");
        }
        refused(with_database(postgres("postgres://optima:hunter2secret@host:notaport/db")), "database.url");
        refused(with_database(postgres("postgres://optima:hunter2secret@host/db?nosuchoption=1")), "database.url");
        let message = refused(with_database(postgres("postgres://optima:hunter2secret@/db")), "database.url");
        assert!(message.contains("no host"), "{message}");
    }

    #[test]
    fn tls_is_set_by_its_own_setting_not_the_url() {
        let message = refused(with_database(postgres("postgres://u:hunter2secret@h/db?sslmode=require")), "database.url");
        assert!(message.contains("database.tls"), "{message}");
        let url = "postgres://u:hunter2secret@h/db";
        refused(with_database(|d| {
            d.url = DatabaseUrl::new(url);
            d.tls = DatabaseTls::Require;
            d.ca_file = "/etc/ssl/server-ca.pem".into();
        }), "database.ca_file");
        with_database(|d| {
            d.url = DatabaseUrl::new(url);
            d.ca_file = "/etc/ssl/server-ca.pem".into();
        })
        .unwrap();
    }

    #[test]
    fn pool_and_timeouts_are_checked_with_postgres() {
        let url = "postgres://u:hunter2secret@h/db";
        refused(with_database(|d| { d.url = DatabaseUrl::new(url); d.pool_size = 0; }), "database.pool_size");
        refused(with_database(|d| { d.url = DatabaseUrl::new(url); d.connect_timeout_secs = 0; }), "database.connect_timeout_secs");
        refused(with_database(|d| { d.url = DatabaseUrl::new(url); d.statement_timeout_ms = 1 << 40; }), "database.statement_timeout_ms");
        with_database(|d| { d.url = DatabaseUrl::new(url); d.statement_timeout_ms = 0; }).unwrap();
    }

    #[test]
    fn the_url_is_never_printed() {
        let mut config = Config::default();
        config.database.url = DatabaseUrl::new("postgres://optima:hunter2secret@db/optima");
        let debug = format!("{config:?}");
        assert!(!debug.contains(PASSWORD) && debug.contains("redacted"), "{debug}");
        let scrubbed = config.database.url.scrub("password hunter2secret, twice: hunter2secret");
        assert!(!scrubbed.contains(PASSWORD), "{scrubbed}");
        let encoded = DatabaseUrl::new("postgres://optima:p%40ss%2Fword@db/optima");
        assert_eq!(encoded.scrub("auth failed for p@ss/word (p%40ss%2Fword)"), "auth failed for *** (***)");
    }
}
