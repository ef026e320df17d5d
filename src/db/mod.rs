//! The SQLite database: one writer connection beside a pool of readers (no SQLITE_BUSY storms
//! between writers), pragmas, migrations, and helpers that run blocking SQL off the async
//! runtime.

use std::path::Path;
use std::time::Duration;

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use crate::config::{DatabaseConfig, Synchronous};
use crate::error::{AppError, AppResult};

mod constraint;
pub mod copy;
pub mod postgres;

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

type Manager = SqliteConnectionManager;

/// Prepared statements kept per connection. A request runs a handful, but each connection
/// serves every feature in turn: room for the whole working set keeps SQL parsing off the hot
/// path.
const STATEMENT_CACHE: usize = 256;

/// `execute` and `query_row` through the connection's statement cache. rusqlite's own parse
/// and plan the SQL again on every call, which profiling showed as a tenth of a request's CPU.
/// Every repo runs its SQL through these (or `prepare_cached`).
pub trait CachedSql {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn query_row_cached<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl CachedSql for Connection {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// One page of `user_id`'s rows of `table` (only those in `status` when one is given), the most
/// recently changed first, and how many such rows there are in all. `table` and `columns` are
/// a repo's own constants, never input.
#[allow(clippy::too_many_arguments)]
pub fn owned_page<T>(
    c: &Connection,
    table: &str,
    columns: &str,
    user_id: &str,
    status: Option<&str>,
    (limit, offset): (u32, u32),
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<(Vec<T>, u64)> {
    let filter = format!("FROM {table} WHERE user_id = ?1 AND (?2 IS NULL OR status = ?2)");
    let total = c.query_row_cached(&format!("SELECT count(*) {filter}"), rusqlite::params![user_id, status], |r| r.get(0))?;
    let mut stmt = c.prepare_cached(&format!("SELECT {columns} {filter} ORDER BY updated_at DESC, project_id DESC LIMIT ?3 OFFSET ?4"))?;
    let rows = stmt.query_map(rusqlite::params![user_id, status, limit, offset], row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// What `/health` and the readiness probe ask of the database, whichever backend it is.
#[async_trait::async_trait]
pub trait Reachable: Send + Sync + 'static {
    /// A cheap round trip that reads the database itself; 503 `database_unavailable` when it
    /// cannot be reached.
    async fn ping(&self) -> AppResult<()>;
}

#[async_trait::async_trait]
impl Reachable for Db {
    async fn ping(&self) -> AppResult<()> {
        Db::ping(self).await
    }
}

#[async_trait::async_trait]
impl Reachable for postgres::PgDb {
    async fn ping(&self) -> AppResult<()> {
        postgres::PgDb::ping(self).await
    }
}

/// The database the server runs on, as `database.url` chose it: the embedded SQLite file when
/// it is empty, PostgreSQL otherwise. Only stores (and start-up) look inside.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // one per process, built once at start
pub enum Database {
    Sqlite(Db),
    Postgres(postgres::PgDb),
}

/// See [`Database::take_turn`]: the turn lasts until this is dropped.
pub struct Turn(#[allow(dead_code)] Option<postgres::PgLock>);

#[derive(Debug, thiserror::Error)]
pub enum DatabaseOpenError {
    #[error(transparent)]
    Sqlite(#[from] DbOpenError),
    #[error(transparent)]
    Postgres(#[from] postgres::PgOpenError),
}

impl Database {
    /// Opens the configured database and applies pending migrations (on PostgreSQL under the
    /// migration lock, so instances starting together apply them once). A PostgreSQL that
    /// cannot be reached stops start-up with a message naming it.
    pub async fn open(path: &Path, config: &DatabaseConfig) -> Result<Self, DatabaseOpenError> {
        if config.is_postgres() {
            let db = postgres::PgDb::connect(config).await?;
            let applied = db.migrate().await?;
            if !applied.is_empty() {
                tracing::info!(database = db.target(), migrations = ?applied, "applied PostgreSQL migrations");
            }
            return Ok(Self::Postgres(db));
        }
        let (path, config) = (path.to_path_buf(), config.clone());
        let db = tokio::task::spawn_blocking(move || Db::open(&path, &config)).await.expect("database open does not panic")?;
        Ok(Self::Sqlite(db))
    }

    /// What `/health` asks.
    pub fn reachable(&self) -> std::sync::Arc<dyn Reachable> {
        match self {
            Self::Sqlite(db) => std::sync::Arc::new(db.clone()),
            Self::Postgres(db) => std::sync::Arc::new(db.clone()),
        }
    }

    /// A turn at work that one server at a time should do (the sweeps): on PostgreSQL while the
    /// returned guard lives no other instance gets the same `name`'s turn (`None`: another has
    /// it now); the embedded file has one server, so its turn is always granted.
    pub async fn take_turn(&self, name: &str) -> AppResult<Option<Turn>> {
        match self {
            Self::Sqlite(_) => Ok(Some(Turn(None))),
            Self::Postgres(db) => Ok(db.try_lock(name).await?.map(|lock| Turn(Some(lock)))),
        }
    }

    /// The SQLite file's handle; `None` on PostgreSQL.
    pub fn sqlite(&self) -> Option<&Db> {
        match self {
            Self::Sqlite(db) => Some(db),
            Self::Postgres(_) => None,
        }
    }
}

#[derive(Clone)]
pub struct Db {
    readers: Pool<Manager>,
    writer: Pool<Manager>,
    /// Copies the write-ahead log into the database in the background (see
    /// [`Db::checkpoint_in_background`]), so the writer never stalls on a checkpoint's fsync.
    checkpointer: Pool<Manager>,
}

#[derive(Debug, thiserror::Error)]
pub enum DbOpenError {
    #[error("cannot open database {path}: {source}")]
    Open { path: String, source: r2d2::Error },
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] refinery::Error),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the database stayed locked for longer than `database.busy_timeout_ms`")]
    Busy,
    #[error("cannot create {path}: {source}")]
    Dir { path: String, source: std::io::Error },
}

fn manager(path: &Path, flags: OpenFlags, config: &DatabaseConfig) -> Manager {
    let busy = Duration::from_millis(config.busy_timeout_ms);
    let synchronous = match config.synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    SqliteConnectionManager::file(path).with_flags(flags).with_init(move |c| {
        c.busy_timeout(busy)?;
        c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        c.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = {synchronous};
             PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -8000;"
        ))
    })
}

impl Db {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path, config: &DatabaseConfig) -> Result<Self, DbOpenError> {
        migrate(path, config)?;
        let open_err = |source| DbOpenError::Open { path: path.display().to_string(), source };
        let rw = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let writer = Pool::builder()
            .max_size(1)
            .build(manager(path, rw, config))
            .map_err(open_err)?;
        let checkpointer = Pool::builder()
            .max_size(1)
            .min_idle(Some(0))
            .build(manager(path, rw, config))
            .map_err(open_err)?;
        let ro = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let readers = Pool::builder()
            .max_size(config.read_connections)
            .min_idle(Some(1))
            .build(manager(path, ro, config))
            .map_err(open_err)?;
        Ok(Self { readers, writer, checkpointer })
    }

    /// Moves WAL checkpoints off the write path for as long as the process runs: the writer
    /// stops checkpointing when a commit crosses 1,000 pages (which stalls every write behind
    /// it for the checkpoint's fsync), and a task here runs a passive checkpoint, concurrent
    /// with readers and the writer, every `every`.
    pub async fn checkpoint_in_background(&self, every: Duration) -> AppResult<()> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            checkout(&writer)?.execute_batch("PRAGMA wal_autocheckpoint = 0;").map_err(AppError::from)
        })
        .await
        .map_err(AppError::internal)??;
        let pool = self.checkpointer.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let pool = pool.clone();
                let done = tokio::task::spawn_blocking(move || {
                    checkout(&pool)?.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).map_err(AppError::from)
                })
                .await;
                match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "background WAL checkpoint failed"),
                    Err(e) => tracing::warn!(error = %e, "background WAL checkpoint task failed"),
                }
            }
        });
        Ok(())
    }

    /// Runs read-only SQL on a pooled reader, off the async runtime.
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        run_blocking(self.readers.clone(), move |c| f(c)).await
    }

    /// Runs SQL on the single writer connection inside one `BEGIN IMMEDIATE` transaction:
    /// committed when `f` succeeds, rolled back when it fails.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&rusqlite::Transaction) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = checkout(&pool)?;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(AppError::from)?;
            let value = f(&tx)?;
            tx.commit().map_err(AppError::from)?;
            Ok(value)
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Copies the write-ahead log into the database and truncates it, so overwritten rows
    /// (destroyed keys) leave no older copy in the log. Best effort: busy readers may hold it
    /// back until the next checkpoint.
    pub async fn checkpoint(&self) {
        match self.try_checkpoint().await {
            Ok(true) => {}
            Ok(false) => tracing::warn!("WAL checkpoint held back by readers; it completes at a later checkpoint"),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }

    /// [`Db::checkpoint`] that reports: `Ok(false)` when busy readers held part of the log
    /// back, an error when the checkpoint could not run.
    pub async fn try_checkpoint(&self) -> AppResult<bool> {
        let pool = self.writer.clone();
        let busy = tokio::task::spawn_blocking(move || {
            let conn = checkout(&pool)?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)).map_err(AppError::from)
        })
        .await
        .map_err(AppError::internal)??;
        Ok(busy == 0)
    }

    /// A cheap liveness probe for `/health`.
    /// Reads the schema: a read of the file itself (`SELECT 1` would touch no page of it).
    pub async fn ping(&self) -> AppResult<()> {
        self.read(|c| c.query_row_cached("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))).await
    }
}

fn checkout(pool: &Pool<Manager>) -> AppResult<PooledConnection<Manager>> {
    pool.get().map_err(|e| AppError::unavailable("database_unavailable", format!("database connection unavailable: {e}")))
}

async fn run_blocking<T, F>(pool: Pool<Manager>, f: F) -> AppResult<T>
where
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let conn = checkout(&pool)?;
        f(&conn).map_err(AppError::from)
    })
    .await
    .map_err(AppError::internal)?
}

/// SQLite's errors as answers: a violated constraint names its field (see `constraint`), a busy
/// database is a 503 to retry, anything else is internal.
impl From<rusqlite::Error> for AppError {
    fn from(err: rusqlite::Error) -> Self {
        match &err {
            rusqlite::Error::SqliteFailure(e, msg)
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                constraint::violation(e.extended_code, msg.as_deref())
            }
            rusqlite::Error::SqliteFailure(e, _)
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                AppError::unavailable("database_busy", "database is busy, retry")
            }
            _ => AppError::internal(err),
        }
    }
}

/// Applies pending migrations to the database at `path` (created if missing) and names them.
pub fn migrate(path: &Path, config: &DatabaseConfig) -> Result<Vec<String>, DbOpenError> {
    if let Some(dir) = path.parent() {
        crate::private_fs::create_dir_all(dir)
            .map_err(|source| DbOpenError::Dir { path: dir.display().to_string(), source })?;
    }
    // SQLite would create the file 0644 (less the umask); its -wal and -shm files copy the
    // database file's mode, so making this one private makes all three private.
    crate::private_fs::ensure_private_file(path)
        .map_err(|source| DbOpenError::Dir { path: path.display().to_string(), source })?;
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_millis(config.busy_timeout_ms))?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")?;
    let report = embedded::migrations::runner().run(&mut conn)?;
    Ok(report.applied_migrations().iter().map(|m| m.to_string()).collect())
}

/// Copies the live database to `out` with SQLite's online backup API: a consistent snapshot
/// even while the server writes. The copy is written beside `out` and renamed into place.
pub fn backup(db_path: &Path, out: &Path, config: &DatabaseConfig) -> Result<u64, DbOpenError> {
    let src = Connection::open_with_flags(
        db_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_millis(config.busy_timeout_ms))?;
    let tmp = out.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The copy holds every secret the rows do: private from its first byte.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|source| DbOpenError::Dir { path: tmp.display().to_string(), source })?;
        let mut dst = Connection::open(&tmp)?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // One step copies every page inside one read transaction: a snapshot as of its start.
        // Steps of a few pages would start over whenever the server commits in between, and
        // under steady writes might never finish. In WAL mode the read blocks no writer.
        let give_up = std::time::Instant::now() + Duration::from_millis(config.busy_timeout_ms);
        loop {
            match backup.step(-1)? {
                rusqlite::backup::StepResult::Done => break,
                _ if std::time::Instant::now() < give_up => std::thread::sleep(Duration::from_millis(5)),
                _ => return Err(DbOpenError::Busy),
            }
        }
    }
    std::fs::rename(&tmp, out)
        .map_err(|source| DbOpenError::Dir { path: out.display().to_string(), source })?;
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(size)
}

pub use crate::clock::now_text;

#[cfg(test)]
mod tests {
    use super::*;

    /// A database checkpointing every `every`, after a commit of ~12 MB (3,000 pages, well past
    /// the 1,000 at which a writer would checkpoint by itself); returns it and its file's path.
    async fn after_a_big_commit(dir: &Path, every: Duration) -> (Db, std::path::PathBuf) {
        let path = dir.join("t.db");
        let db = Db::open(&path, &crate::config::Config::default().database).unwrap();
        db.checkpoint_in_background(every).await.unwrap();
        db.write(|tx| {
            tx.execute_batch("CREATE TABLE big (b BLOB)")?;
            for _ in 0..3000 {
                tx.execute("INSERT INTO big VALUES (zeroblob(4000))", [])?;
            }
            Ok(())
        })
        .await
        .unwrap();
        (db, path)
    }

    fn db_file_size(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[tokio::test]
    async fn the_writer_leaves_checkpoints_to_the_background_task() {
        let dir = tempfile::tempdir().unwrap();
        // The task's first checkpoint runs at once, the next in an hour.
        // A checkpoint by the writer would have run inside the commit itself.
        let (_db, path) = after_a_big_commit(dir.path(), Duration::from_secs(3600)).await;
        assert!(db_file_size(&path) < 1_000_000, "the commit is still only in the log: {} bytes", db_file_size(&path));

        let dir = tempfile::tempdir().unwrap();
        let (_db, path) = after_a_big_commit(dir.path(), Duration::from_millis(50)).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while db_file_size(&path) < 12_000_000 {
            assert!(std::time::Instant::now() < deadline, "no background checkpoint: {} bytes", db_file_size(&path));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
