//! Starts the real server on 127.0.0.1:0 with a fresh data directory, and small helpers for
//! the steps tests repeat (requests, tiers, reads of the database) and for checking answers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use optima::clock::{Clock, SharedClock};

use optima::app::RunningServer;
use optima::auth::Role;
use optima::config::Config;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub struct TestApp {
    pub server: Option<RunningServer>,
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    clock: SharedClock,
}

/// A clock the test sets: the server reads it for quota windows and subscription periods.
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    /// Stopped at `rfc3339`.
    pub fn at(rfc3339: &str) -> Arc<Self> {
        Arc::new(Self(Mutex::new(DateTime::parse_from_rfc3339(rfc3339).expect("an RFC 3339 time").with_timezone(&Utc))))
    }

    pub fn set(&self, rfc3339: &str) {
        *self.0.lock().unwrap() = DateTime::parse_from_rfc3339(rfc3339).expect("an RFC 3339 time").with_timezone(&Utc);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config { data_dir: data_dir.to_path_buf(), ..Config::default() };
    config.server.bind = "127.0.0.1:0".into();
    config.storage.max_upload_bytes = 4 * 1024 * 1024;
    // Tests share one address and run many requests; the rate-limit tests turn limits back on.
    config.limits.rate_limiting = false;
    config
}

/// Which database a test binary's servers run on: `tests/api` on SQLite, `tests/api_postgres`
/// (the same test files) on PostgreSQL.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Secrets a server on PostgreSQL must be given (a cluster shares them); any fixed values do.
pub const CLUSTER_SECRETS: [&str; 3] = [
    "dGVzdC1qd3Qtc2VjcmV0LW9mLWF0LWxlYXN0LTMyLWJ5dGVzIQ==",
    "dGVzdC11cmwtc2lnbmluZy1rZXktb2YtMzItYnl0ZXMhIQ==",
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
];

/// Points `config` at a fresh database of the test backend, with the secrets that backend
/// requires. On SQLite it stays as it is (the file in the data folder).
pub async fn on_backend(config: &mut Config) {
    if crate::BACKEND == Backend::Sqlite {
        return;
    }
    let Some(cluster) = crate::postgres::shared() else {
        crate::postgres::skipped("the PostgreSQL run of tests/api (every test of this binary)");
        // Nothing else of this binary can run either: stop here rather than fail each test.
        std::process::exit(0);
    };
    config.database = cluster.create_database().await;
    let [jwt, signing, master] = CLUSTER_SECRETS;
    config.auth.jwt_secret = jwt.into();
    config.storage.url_signing_key = signing.into();
    config.tactical.master_key = master.into();
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_at(optima::clock::system(), adjust).await
    }

    /// A server whose rules read `clock`.
    pub async fn spawn_at(clock: SharedClock, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&dir.path().join("data"));
        on_backend(&mut config).await;
        adjust(&mut config);
        let server = optima::app::start_with_clock(config, clock.clone()).await.expect("server starts");
        let base = server.base_url();
        Self { server: Some(server), base, client: reqwest::Client::new(), dir, clock }
    }

    /// Stops the server (letting in-flight requests finish) and starts a new one on the same
    /// data folder and configuration, as an operator's restart does. The address changes.
    pub async fn restart(&mut self) {
        let server = self.server.take().expect("running");
        let config = server.state.config.clone();
        server.shutdown().await.expect("clean shutdown");
        let server = optima::app::start_with_clock(config, self.clock.clone()).await.expect("server restarts");
        self.base = server.base_url();
        self.server = Some(server);
    }

    /// [`restart`](Self::restart) with settings changed first (as an operator edits them).
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut Config)) {
        let server = self.server.take().expect("running");
        let mut config = server.state.config.clone();
        server.shutdown().await.expect("clean shutdown");
        adjust(&mut config);
        let server = optima::app::start_with_clock(config, self.clock.clone()).await.expect("server restarts");
        self.base = server.base_url();
        self.server = Some(server);
    }

    /// The environment an `optima` command needs beside `--data-dir` to work on this server's
    /// data: on PostgreSQL the database and the secrets a cluster configures.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        let config = &self.server.as_ref().expect("running").state.config;
        if !config.database.is_postgres() {
            return Vec::new();
        }
        let previous: Vec<String> = config.tactical.previous_master_keys.iter().map(|k| format!("\"{k}\"")).collect();
        [
            ("OPTIMA_DATABASE__URL", config.database.url.expose().to_owned()),
            ("OPTIMA_DATABASE__TLS", "disable".to_owned()),
            ("OPTIMA_AUTH__JWT_SECRET", config.auth.jwt_secret.clone()),
            ("OPTIMA_STORAGE__URL_SIGNING_KEY", config.storage.url_signing_key.clone()),
            ("OPTIMA_TACTICAL__MASTER_KEY", config.tactical.master_key.clone()),
            ("OPTIMA_TACTICAL__PREVIOUS_MASTER_KEYS", format!("[{}]", previous.join(","))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The running server's configuration.
    pub fn config(&self) -> &Config {
        &self.server.as_ref().expect("running").state.config
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The rows `sql` selects from the server's database, with `params` bound to `?1`, `?2`, …
    /// Each value comes back as text, the one form both backends give: integers in decimal,
    /// blobs as PostgreSQL prints bytea (`\x` and hex), NULL as `None`.
    pub fn rows(&self, sql: &str, params: &[&dyn ToString]) -> Vec<Row> {
        let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        match self.backend_url() {
            None => {
                let c = self.sqlite();
                let mut stmt = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                let columns = stmt.column_count();
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(&params), |r| {
                        (0..columns).map(|i| Ok(sqlite_text(r.get_ref(i)?))).collect::<rusqlite::Result<Vec<_>>>().map(Row)
                    })
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                rows.collect::<rusqlite::Result<Vec<_>>>().unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Some(url) => {
                let messages = postgres_simple_query(url, with_literals(sql, &params)).unwrap_or_else(|e| panic!("{sql}: {e}"));
                messages
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => {
                            Some(Row((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect()))
                        }
                        _ => None,
                    })
                    .collect()
            }
        }
    }

    /// The one row `sql` selects.
    pub fn row(&self, sql: &str, params: &[&dyn ToString]) -> Row {
        let mut rows = self.rows(sql, params);
        assert_eq!(rows.len(), 1, "{sql} selects one row");
        rows.remove(0)
    }

    /// The one value `sql` selects (a count, a sum), with `params` bound.
    pub fn count(&self, sql: &str, params: &[&dyn ToString]) -> i64 {
        self.row(sql, params).int(0)
    }

    /// Runs a statement that changes the database behind the server's back (what a fault or a
    /// tamperer would do): the rows it changed, or the database's refusal.
    pub fn execute(&self, sql: &str, params: &[&dyn ToString]) -> Result<u64, String> {
        let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        match self.backend_url() {
            None => self.sqlite().execute(sql, rusqlite::params_from_iter(&params)).map(|n| n as u64).map_err(|e| e.to_string()),
            Some(url) => postgres_simple_query(url, with_literals(sql, &params)).map(|messages| {
                messages
                    .iter()
                    .map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::CommandComplete(n) => *n,
                        _ => 0,
                    })
                    .sum()
            }),
        }
    }

    /// `(used, reserved)` of `feature` for `user` in `usage_counters`, summed over windows.
    pub fn usage(&self, user: &str, feature: &str) -> (i64, i64) {
        let row = self.row(
            "SELECT CAST(coalesce(sum(used), 0) AS BIGINT), CAST(coalesce(sum(reserved), 0) AS BIGINT) FROM usage_counters \
             WHERE user_id = ?1 AND feature = ?2",
            &[&user, &feature],
        );
        (row.int(0), row.int(1))
    }

    pub fn is_postgres(&self) -> bool {
        self.backend_url().is_some()
    }

    /// `bytes` as an SQL literal of this backend.
    pub fn blob(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        if self.is_postgres() { format!("'\\x{hex}'::bytea") } else { format!("X'{hex}'") }
    }

    /// The PostgreSQL database's URL when the server runs on one; `None` on SQLite.
    fn backend_url(&self) -> Option<&str> {
        let config = &self.server.as_ref().expect("running").state.config;
        config.database.is_postgres().then(|| config.database.url.expose())
    }

    /// The server's SQLite file, opened beside it (WAL lets both read and write).
    fn sqlite(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.data_dir().join("optima.db")).expect("open the database");
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c
    }

    /// Where the local store keeps `bucket` (its full name, e.g. `r3al-user-media`).
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.data_dir().join("blobs").join(bucket)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A token minted the way `optima token` mints it.
    pub fn token(&self, user: &str, role: Role) -> String {
        let state = &self.server.as_ref().expect("running").state;
        state.services.tokens.mint(user, role, 3600).expect("mint").0
    }

    /// Any claims, signed with this server's own key: for tokens `optima token` would never
    /// mint (expired, from the future, …).
    pub fn signed_token(&self, claims: &Value) -> String {
        let config = &self.server.as_ref().expect("running").state.config;
        let secret = optima::crypto::keys::load_or_create(&config.auth.jwt_secret, &config.keys_dir(), optima::app::JWT_KEY_FILE)
            .expect("the server's key");
        let key = jsonwebtoken::EncodingKey::from_secret(&secret);
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), claims, &key).expect("signed")
    }

    pub async fn upload(&self, token: &str, bucket: &str, path: &str, bytes: Vec<u8>) -> reqwest::Response {
        let form = Form::new()
            .part("file", Part::bytes(bytes).file_name("upload.bin"))
            .text("bucket", bucket.to_owned())
            .text("path", path.to_owned());
        self.client.post(self.url("/api/storage/upload")).bearer_auth(token).multipart(form).send().await.expect("request")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn put_json(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut req = self.client.put(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// GETs a URL the server handed out (absolute, or a path on this server), without a token.
    pub async fn fetch(&self, url: &str) -> reqwest::Response {
        let url = if url.starts_with("http") { url.to_owned() } else { self.url(url) };
        self.client.get(url).send().await.expect("request")
    }

    /// [`fetch`](Self::fetch)es `url`, asserts 200 and returns the bytes.
    pub async fn fetch_bytes(&self, url: &str) -> Vec<u8> {
        let resp = self.fetch(url).await;
        let status = resp.status();
        let bytes = resp.bytes().await.expect("a body").to_vec();
        assert_eq!(status, 200, "GET {url} without a token: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)]));
        bytes
    }

    /// A tRPC mutation as `@trpc/client` with superjson sends it (`{"json": input}`): the
    /// status and the envelope.
    pub async fn trpc_mutation(&self, procedure: &str, token: Option<&str>, input: &Value) -> (u16, Value) {
        status_and_json(self.post_json(&format!("/api/trpc/{procedure}"), token, &serde_json::json!({ "json": input })).await).await
    }

    /// A tRPC query as `@trpc/client` with superjson sends it: `GET …?input=` with
    /// `{"json": input}` encoded as `encodeURIComponent` does (`null` goes as superjson's
    /// `undefined`, i.e. no input): the status and the envelope.
    pub async fn trpc_query(&self, procedure: &str, token: Option<&str>, input: &Value) -> (u16, Value) {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        // What `encodeURIComponent` leaves alone.
        const COMPONENT: &AsciiSet =
            &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'!').remove(b'~').remove(b'*').remove(b'\'').remove(b'(').remove(b')');
        let wrapped = if input.is_null() {
            serde_json::json!({ "json": null, "meta": { "values": ["undefined"], "v": 1 } })
        } else {
            serde_json::json!({ "json": input })
        };
        let input = utf8_percent_encode(&wrapped.to_string(), COMPONENT).to_string();
        status_and_json(self.get(&format!("/api/trpc/{procedure}?input={input}"), token).await).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }
}

/// The `optima` executable, as operators run it.
pub const BIN: &str = env!("CARGO_BIN_EXE_optima");

/// One row of [`TestApp::rows`]: its values as text.
#[derive(Debug)]
pub struct Row(Vec<Option<String>>);

impl Row {
    pub fn text(&self, column: usize) -> Option<String> {
        self.0[column].clone()
    }

    pub fn int(&self, column: usize) -> i64 {
        let text = self.0[column].as_deref().unwrap_or_else(|| panic!("column {column} is NULL"));
        text.parse().unwrap_or_else(|_| panic!("column {column} is not an integer: {text}"))
    }

    /// A time column: RFC 3339 text on SQLite, `timestamptz` on PostgreSQL.
    pub fn time(&self, column: usize) -> Option<DateTime<Utc>> {
        self.0[column].as_deref().map(|text| {
            DateTime::parse_from_rfc3339(text)
                .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z"))
                .unwrap_or_else(|e| panic!("column {column} is not a time ({e}): {text}"))
                .with_timezone(&Utc)
        })
    }

    /// A blob (bytea) column's bytes.
    pub fn bytes(&self, column: usize) -> Option<Vec<u8>> {
        self.0[column].as_deref().map(|text| {
            let hex = text.strip_prefix("\\x").unwrap_or_else(|| panic!("column {column} is not a blob: {text}"));
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
        })
    }
}

/// A SQLite value in the text form PostgreSQL's simple protocol gives.
fn sqlite_text(value: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(format!("\\x{}", b.iter().map(|byte| format!("{byte:02x}")).collect::<String>())),
    }
}

/// `sql` with each `?N` replaced by its parameter as a quoted literal (tests' own values only).
fn with_literals(sql: &str, params: &[String]) -> String {
    let mut sql = sql.to_owned();
    for (i, param) in params.iter().enumerate().rev() {
        sql = sql.replace(&format!("?{}", i + 1), &format!("'{}'", param.replace('\'', "''")));
    }
    sql
}

/// Runs `sql` on its own connection, on a thread of its own: the helpers above are called from
/// inside the tests' runtime, which cannot block on a future itself.
fn postgres_simple_query(url: &str, sql: String) -> Result<Vec<tokio_postgres::SimpleQueryMessage>, String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
            let driver = tokio::spawn(connection);
            // Times print as `2026-12-02 12:00:00+00`, whatever the cluster's zone.
            let answer = client.simple_query(&format!("SET TimeZone TO 'UTC'; {sql}")).await.map_err(|e| match e.as_db_error() {
                Some(db) => db.message().to_owned(),
                None => e.to_string(),
            });
            drop(client);
            let _ = driver.await;
            answer
        })
    })
    .join()
    .expect("the query thread")
}

/// Runs `optima args…` in `cwd` with extra environment; returns success, stdout and stderr.
pub fn optima_cli(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = std::process::Command::new(BIN)
        .current_dir(cwd)
        .args(args)
        .env("OPTIMA_LOG__LEVEL", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("optima runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Registers `username` and returns its session token.
pub async fn register(app: &TestApp, username: &str) -> String {
    let resp = app.post_json("/api/auth/register", None, &serde_json::json!({"username": username, "password": "password-123"})).await;
    assert_eq!(resp.status(), 201, "register {username}");
    resp.json::<Value>().await.expect("session")["token"].as_str().expect("token").to_owned()
}

/// An admin moves `user` to `tier`; asserts the answer says so.
pub async fn set_tier(app: &TestApp, user: &str, tier: &str) {
    let admin = app.token("ops", Role::Admin);
    let body = ok(app.post_json("/api/subscription/upgrade", Some(&admin), &serde_json::json!({"userId": user, "newTier": tier})).await).await;
    assert_eq!(body["tier"], tier, "upgrade {user} to {tier}: {body}");
}

/// A user's token, after an admin moved the user to `tier` (unless it is `free`).
pub async fn user_on(app: &TestApp, user: &str, tier: &str) -> String {
    if tier != "free" {
        set_tier(app, user, tier).await;
    }
    app.token(user, Role::User)
}

/// Uploads `bytes` to `path` in the `media` bucket; asserts 201 and returns the answer.
pub async fn uploaded(app: &TestApp, token: &str, path: &str, bytes: Vec<u8>) -> Value {
    expect(app.upload(token, "media", path, bytes).await, 201).await
}

/// The value of the first `/metrics` line of `name` carrying every one of `labels`.
pub async fn metric(app: &TestApp, name: &str, labels: &[&str]) -> Option<f64> {
    let text = app.get("/metrics", None).await.text().await.expect("the metrics");
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|label| l.contains(label)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Polls `check` every 50 ms until it returns something, for at most `secs` seconds.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(secs: u64, what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "not within {secs} s: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until the mirror worker has written every pending mirror (a project's `metadata.json`
/// is written shortly after the change, not inside the request): `mirror_outbox` is empty.
pub async fn mirrors_written(app: &TestApp) {
    eventually(10, "every pending mirror written (mirror_outbox empty)", || async {
        (app.count("SELECT count(*) FROM mirror_outbox", &[]) == 0).then_some(())
    })
    .await
}

/// An address on 127.0.0.1 where nothing listens: a port that was just bound and released.
pub fn closed_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("its address")
}

/// Asserts `status` and returns the JSON body (printing it when the status is wrong).
pub async fn expect(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("a body");
    assert_eq!(got, status, "expected {status}, got {got}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body: {text}"))
}

pub async fn ok(resp: reqwest::Response) -> Value {
    expect(resp, 200).await
}

pub async fn created(resp: reqwest::Response) -> Value {
    expect(resp, 201).await
}

/// The status and the JSON body of an answer, whatever the status.
pub async fn status_and_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"));
    (status, body)
}

/// An error answer with `status` in our shape (a code and a message), and with `code` when one
/// is given; `what` names the request in a failure. Returns the body.
async fn error_answer(resp: reqwest::Response, status: u16, code: Option<&str>, what: &str) -> Value {
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("a body");
    let wanted = code.map_or(status.to_string(), |code| format!("{status} {code}"));
    assert_eq!(got, status, "{what}: expected {wanted}, got {got}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: an error body in JSON: {text}"));
    assert!(body["error"]["code"].as_str().is_some_and(|c| !c.is_empty()), "{what}: error has a code: {text}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: error has a message: {text}");
    if let Some(code) = code {
        assert_eq!(body["error"]["code"], code, "{what}: {text}");
    }
    body
}

/// An error answer with `status` and `code` in our error shape; returns the body.
pub async fn refused(resp: reqwest::Response, status: u16, code: &str) -> Value {
    error_answer(resp, status, Some(code), "refused").await
}

/// An error in our shape with `status`, whatever its code; returns the body.
pub async fn client_error(resp: reqwest::Response, status: u16) -> Value {
    error_answer(resp, status, None, "client error").await
}

/// A 400 that names `field` (in `details.field`, or in the message for validator errors).
pub async fn names_field(resp: reqwest::Response, field: &str) -> Value {
    let body = error_answer(resp, 400, None, &format!("naming `{field}`")).await;
    let named = body["error"]["details"]["field"] == field || body["error"]["message"].as_str().is_some_and(|m| m.contains(field));
    assert!(named, "the error names `{field}`: {body}");
    body
}

/// Reads an error body and checks it has our shape; returns its `code`.
pub async fn error_code(resp: reqwest::Response) -> String {
    let body: Value = resp.json().await.expect("error body is JSON");
    let err = &body["error"];
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "error has a message: {body}");
    err["code"].as_str().expect("error has a code").to_owned()
}

/// Asserts an error answer's status and `code`; `what` names the request in a failure.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str, what: &str) {
    error_answer(resp, status, Some(code), what).await;
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The `input` of a tRPC GET with every byte but letters and digits percent-encoded (for raw
/// requests in tests/trpc_client.rs and tests/trpc_upstream.rs).
#[allow(dead_code)]
pub fn trpc_input(input: &Value) -> String {
    percent_encoding::utf8_percent_encode(&input.to_string(), percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A raw socket to the server, for what a well-behaved client cannot show.
pub async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.expect("connects")
}

/// Everything the server sends until it closes the connection; panics if it is still open
/// after `limit`.
pub async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!("the connection is still open after {limit:?}; got {:?}", String::from_utf8_lossy(&got)),
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}
