//! PostgreSQL (`[database] url`): one pool of connections shared by the requests of this
//! instance, the migrations of `migrations/postgres/` applied once however many instances start
//! together, and the driver's errors as answers (`error`).
//!
//! Stores run their SQL on [`PgDb::client`]; every connection has `database.statement_timeout_ms`
//! set for its whole session, so no statement holds a connection (and its locks) for longer.

mod error;
pub mod values;
mod tls;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::{Host, SslMode};

pub use error::{BUSY_RETRY_SECS, UNAVAILABLE_RETRY_SECS, missing_reference};

use crate::config::{ConfigError, DatabaseConfig, DatabaseTls};
use crate::error::AppResult;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// The session-level advisory lock that migrations run under (`"optima"` in ASCII, then 1):
/// instances that start together wait on it, and the first applies what is pending.
pub const MIGRATION_LOCK: i64 = 0x6f70_7469_6d61_0001;

/// The PostgreSQL database: a pool of connections, and what opening one takes.
#[derive(Clone)]
pub struct PgDb {
    pool: Pool,
    /// For connections of their own, outside the pool (migrations hold one for their lock).
    config: tokio_postgres::Config,
    tls: tls::Connector,
    /// Where the database is, for messages: hosts, ports and database name, no credentials.
    target: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PgOpenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("PostgreSQL TLS: {0}")]
    Tls(String),
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("cannot apply PostgreSQL migrations to {target}: {reason}")]
    Migrate { target: String, reason: String },
}

impl PgDb {
    /// Builds the pool for `config.url` and opens its first connection, so that a database that
    /// cannot be reached (or refuses the credentials) stops start-up with a message naming it.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, PgOpenError> {
        let mut pg = config.url.parse()?;
        let target = describe(&pg);
        pg.connect_timeout(Duration::from_secs(config.connect_timeout_secs));
        // A server that vanished without closing the socket is noticed within a minute or so
        // rather than the system's two hours.
        pg.keepalives_idle(Duration::from_secs(30));
        if pg.get_application_name().is_none() {
            pg.application_name("optima");
        }
        if config.statement_timeout_ms > 0 {
            let options = pg.get_options().map(|o| format!("{o} ")).unwrap_or_default();
            pg.options(format!("{options}-c statement_timeout={}", config.statement_timeout_ms));
        }
        // libpq's rule: a Unix socket is local and never encrypted, whatever the mode.
        let only_sockets = pg.get_hosts().iter().all(|h| matches!(h, Host::Unix(_)));
        pg.ssl_mode(if config.tls == DatabaseTls::Disable || only_sockets { SslMode::Disable } else { SslMode::Require });
        let tls = tls::connector(config).map_err(PgOpenError::Tls)?;
        let manager = Manager::from_config(pg.clone(), tls.clone(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let wait = Some(Duration::from_secs(config.connect_timeout_secs));
        let pool = Pool::builder(manager)
            .max_size(config.pool_size as usize)
            .runtime(Runtime::Tokio1)
            .wait_timeout(wait)
            .create_timeout(wait)
            .recycle_timeout(wait)
            .build()
            .map_err(|e| PgOpenError::Connect { target: target.clone(), reason: e.to_string() })?;
        let db = Self { pool, config: pg, tls, target };
        drop(db.pool.get().await.map_err(|e| db.connect_error(&e))?);
        Ok(db)
    }

    fn connect_error(&self, e: &dyn std::fmt::Display) -> PgOpenError {
        PgOpenError::Connect { target: self.target.clone(), reason: e.to_string() }
    }

    /// Hosts, ports and database name: what messages say the database is.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A pooled connection; 503 `database_unavailable` when none frees up or opens within
    /// `database.connect_timeout_secs`.
    pub async fn client(&self) -> AppResult<Object> {
        Ok(self.pool.get().await?)
    }

    /// One page of `user_id`'s rows of `table` (only those in `status` when one is given), the
    /// most recently changed first, and how many such rows there are in all, both read in one
    /// snapshot as SQLite's read transaction gives them (`crate::db::owned_page` there). `table`
    /// and `columns` are a store's own constants, never input.
    pub async fn owned_page<T>(
        &self,
        table: &str,
        columns: &str,
        user_id: &str,
        status: Option<&str>,
        (limit, offset): (u32, u32),
        row_of: impl Fn(&tokio_postgres::Row) -> AppResult<T>,
    ) -> AppResult<(Vec<T>, u64)> {
        let mut client = self.client().await?;
        let tx = client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let filter = format!("FROM {table} WHERE user_id = $1 AND ($2::text IS NULL OR status = $2)");
        let total = tx.prepare_cached(&format!("SELECT count(*) {filter}")).await?;
        let total = values::unsigned(tx.query_one(&total, &[&user_id, &status]).await?.get(0))?;
        let rows = tx
            .prepare_cached(&format!("SELECT {columns} {filter} ORDER BY updated_at DESC, project_id DESC LIMIT $3 OFFSET $4"))
            .await?;
        let rows = tx.query(&rows, &[&user_id, &status, &i64::from(limit), &i64::from(offset)]).await?;
        tx.commit().await?;
        Ok((rows.iter().map(row_of).collect::<AppResult<Vec<_>>>()?, total))
    }

    /// A cheap liveness probe for `/health`: one round trip on a pooled connection.
    pub async fn ping(&self) -> AppResult<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// `name`'s session-level advisory lock, if no other session holds it: work one instance
    /// at a time should do runs while the returned guard lives. The lock goes with the
    /// connection, so an instance that dies mid-work leaves it free.
    pub async fn try_lock(&self, name: &str) -> AppResult<Option<PgLock>> {
        let client = self.client().await?;
        let key: i64 = client.query_one("SELECT hashtextextended($1, 0)", &[&name]).await?.get(0);
        let held: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]).await?.get(0);
        Ok(held.then_some(PgLock { client: Some(client), key }))
    }

    /// Follows `channel`'s notifications (LISTEN) on a connection of its own, outside the pool,
    /// reconnecting after a failure. Each notification sends `()` on the returned channel, and
    /// so does each (re)connection, since notifications sent while it was down are lost: the
    /// receiver should then read what it may have missed. Ends when the receiver is dropped.
    pub fn listen(&self, channel: &'static str) -> tokio::sync::mpsc::Receiver<()> {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let (config, tls, target) = (self.config.clone(), self.tls.clone(), self.target.clone());
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(250);
            while !tx.is_closed() {
                match config.connect(tls.clone()).await {
                    Ok((client, mut connection)) => {
                        let forward = tx.clone();
                        let driver = tokio::spawn(async move {
                            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                            while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
                                match message {
                                    Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                                        // A wake-up pending already covers this one too.
                                        let _ = forward.try_send(());
                                    }
                                    Ok(_) => {}
                                    Err(e) => return tracing::warn!(error = %e, "the LISTEN connection to PostgreSQL failed"),
                                }
                            }
                        });
                        match client.batch_execute(&format!("LISTEN {channel}")).await {
                            Ok(()) => {
                                backoff = Duration::from_millis(250);
                                let _ = tx.try_send(());
                                tokio::select! {
                                    _ = driver => {}
                                    _ = tx.closed() => return,
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, %target, "cannot LISTEN on PostgreSQL"),
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, %target, "cannot open the LISTEN connection to PostgreSQL"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        });
        rx
    }

    /// Applies pending migrations and names them. Runs on a connection of its own holding the
    /// session-level advisory lock [`MIGRATION_LOCK`] throughout: instances starting together
    /// queue on it, the first applies what is pending, the others find nothing left. A process
    /// that dies half-way loses its session, so the lock goes with it and its migration's
    /// transaction rolls back.
    pub async fn migrate(&self) -> Result<Vec<String>, PgOpenError> {
        let failed = |e: &dyn std::fmt::Display| PgOpenError::Migrate { target: self.target.clone(), reason: e.to_string() };
        let (mut client, connection) = self.config.connect(self.tls.clone()).await.map_err(|e| self.connect_error(&e))?;
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the migration connection to PostgreSQL failed");
            }
        });
        // A migration (or the wait for another instance's) may rightly take longer than any
        // request's statement.
        client.batch_execute("SET statement_timeout = 0").await.map_err(|e| failed(&e))?;
        client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await.map_err(|e| failed(&e))?;
        let report = embedded::migrations::runner().run_async(&mut client).await;
        // Ending the session would release it too; unlocking first keeps that explicit.
        let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
        drop(client);
        let _ = driver.await;
        let report = report.map_err(|e| failed(&e))?;
        Ok(report.applied_migrations().iter().map(|m| m.to_string()).collect())
    }
}

/// `host:port[,host:port…]/dbname`, from the parsed URL: no user, no password.
fn describe(pg: &tokio_postgres::Config) -> String {
    let ports = pg.get_ports();
    let hosts: Vec<String> = pg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{}/.s.PGSQL.{port}", dir.display()),
            }
        })
        .collect();
    format!("{}/{}", hosts.join(","), pg.get_dbname().unwrap_or("(the user's database)"))
}

/// A held advisory lock (see [`PgDb::try_lock`]); dropping it unlocks.
pub struct PgLock {
    client: Option<Object>,
    key: i64,
}

impl Drop for PgLock {
    fn drop(&mut self) {
        let (Some(client), key) = (self.client.take(), self.key) else { return };
        // Unlock before the connection goes back to the pool, so the next user of it does not
        // inherit the lock.
        tokio::spawn(async move {
            if client.execute("SELECT pg_advisory_unlock($1)", &[&key]).await.is_err() {
                // The session is broken, and its locks went with it; never reuse it.
                let _ = Object::take(client);
            }
        });
    }
}
