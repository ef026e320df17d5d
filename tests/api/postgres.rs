//! A throwaway PostgreSQL server for tests: Debian's binaries (`postgresql` package), one
//! cluster per test process, one fresh database per test.
//!
//! The newest `/usr/lib/postgresql/<version>/bin` (or `PG_BIN_DIR`) is used. PostgreSQL refuses
//! to run as root, so under root (CI) the cluster runs as the `postgres` OS user the package
//! creates; otherwise as the current user. `initdb` writes into a fresh folder under /tmp owned
//! by that user; the server listens on a free 127.0.0.1 port (trust authentication, user
//! `postgres`) with its socket in that folder, and with durability off (tests need none of it).
//!
//! Stopping: a cluster is a child process of the test process, and a watchdog started beside
//! it (in its own process group, so Ctrl-C does not take it first) polls `/proc/<test pid>`,
//! which works across users; when the test process is gone, however it ended, the watchdog
//! shuts the server down (SIGQUIT, then SIGKILL) and removes the folder. That covers both
//! `cargo test` (one process per test binary, the shared cluster lives in a static and is never
//! dropped) and nextest (one process per test). A cluster a test starts for itself is also
//! stopped by `Drop`.
//!
//! When PostgreSQL is not installed, [`database`] and [`PgCluster::start`] give `None` and the
//! test prints a loud SKIPPED line and passes: `.ci/run` installs PostgreSQL, so CI runs them.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use optima::config::{Config, DatabaseConfig, DatabaseTls, DatabaseUrl};

/// A PostgreSQL server this test process started.
pub struct PgCluster {
    bin: PathBuf,
    /// Owned by the server's user: `data/`, the socket, `postgres.log`.
    root: PathBuf,
    pub port: u16,
    /// `(uid, gid)` of `postgres` when the tests run as root.
    run_as: Option<(u32, u32)>,
    postmaster: Mutex<Option<Child>>,
    /// Extra `-c name=value` settings, kept for restarts.
    settings: Vec<String>,
}

/// This process's shared cluster, started on first use; `None` when PostgreSQL is not installed.
pub fn shared() -> Option<&'static PgCluster> {
    static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();
    SHARED.get_or_init(|| PgCluster::start(&[])).as_ref()
}

/// A fresh, empty database on the shared cluster, as `[database]` settings for it; `None`
/// (after a SKIPPED line naming `test`) when PostgreSQL is not installed.
pub async fn database(test: &str) -> Option<DatabaseConfig> {
    match shared() {
        Some(cluster) => Some(cluster.create_database().await),
        None => {
            skipped(test);
            None
        }
    }
}

/// The loud line a test prints when it cannot run for want of PostgreSQL.
pub fn skipped(test: &str) {
    let line = format!(
        "SKIPPED {test}: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, no PG_BIN_DIR); \
         `apt-get install postgresql` runs it"
    );
    eprintln!("\n{}\n{line}\n{}\n", "!".repeat(line.len().min(120)), "!".repeat(line.len().min(120)));
}

/// The newest installed PostgreSQL's `bin` folder.
fn bin_dir() -> Option<PathBuf> {
    let usable = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file() && dir.join("pg_isready").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN_DIR").map(PathBuf::from) {
        return usable(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            usable(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// `(uid, gid)` of the `postgres` user when this process runs as root (PostgreSQL refuses
/// root), `None` when it does not.
fn server_user() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self").expect("/proc is mounted").uid();
    if me != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd is readable");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .expect("running as root, and there is no `postgres` user to run PostgreSQL as (the postgresql package creates it)");
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields[2].parse().expect("uid"), fields[3].parse().expect("gid")))
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

impl PgCluster {
    /// Starts a cluster of its own with extra `-c name=value` `settings`; `None` when
    /// PostgreSQL is not installed. Panics (with the server's log) when it is and fails.
    pub fn start(settings: &[&str]) -> Option<Self> {
        Self::start_with(settings, None)
    }

    /// [`PgCluster::start`] with TLS on, serving the PEM `certificate` and its `key`.
    pub fn start_with_tls(certificate: &Path, key: &Path) -> Option<Self> {
        Self::start_with(&["ssl=on"], Some((certificate, key)))
    }

    fn start_with(settings: &[&str], tls: Option<(&Path, &Path)>) -> Option<Self> {
        let bin = bin_dir()?;
        let run_as = server_user();
        // Under root, somewhere the postgres user can reach whatever TMPDIR says.
        let parent = if run_as.is_some() { PathBuf::from("/tmp") } else { std::env::temp_dir() };
        let root = tempfile::Builder::new().prefix("optima-pg-").tempdir_in(parent).expect("temp dir").keep();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).expect("chown the cluster folder");
        }
        let cluster = Self {
            bin,
            port: crate::helpers::closed_port().port(),
            root,
            run_as,
            postmaster: Mutex::new(None),
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        cluster.watch();
        let initdb = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.root.join("data"))
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "-N"])
            .output()
            .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb failed:\n{}\n{}",
            String::from_utf8_lossy(&initdb.stdout),
            String::from_utf8_lossy(&initdb.stderr)
        );
        if let Some((certificate, key)) = tls {
            // Where `ssl_cert_file` and `ssl_key_file` look by default, owned by the server's
            // user with the mode PostgreSQL insists on for a key.
            use std::os::unix::fs::PermissionsExt;
            for (from, name) in [(certificate, "server.crt"), (key, "server.key")] {
                let to = cluster.root.join("data").join(name);
                std::fs::copy(from, &to).expect("copy the certificate");
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
                if let Some((uid, gid)) = run_as {
                    std::os::unix::fs::chown(&to, Some(uid), Some(gid)).unwrap();
                }
            }
        }
        cluster.resume();
        Some(cluster)
    }

    /// A command of PostgreSQL's, run as the server's user.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd.env_remove("PGDATA").env_remove("PGPORT").env_remove("PGHOST");
        cmd
    }

    /// The watchdog: once this test process is gone, stops the server (whichever postmaster
    /// the pid file names then, so restarts are covered) and removes the folder.
    #[allow(clippy::zombie_processes)] // it outlives this process on purpose; init reaps it
    fn watch(&self) {
        let script = r#"
            while [ -d "/proc/$0" ]; do sleep 0.2; done
            pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
            if [ -n "$pid" ]; then
              kill -QUIT "$pid" 2>/dev/null
              i=0
              # Gone, or a zombie its new parent has yet to reap.
              while kill -0 "$pid" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$pid/status" && [ $i -lt 100 ]; do
                sleep 0.1; i=$((i+1))
              done
              kill -KILL "$pid" 2>/dev/null
            fi
            rm -rf "$1"
        "#;
        Command::new("sh")
            .args(["-c", script])
            .arg(std::process::id().to_string())
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("the watchdog starts");
    }

    /// Starts the server (again) on the same port and data, and waits until it accepts
    /// connections.
    pub fn resume(&self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.root.join("postgres.log")).expect("log file");
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(self.root.join("postgres.log"), Some(uid), Some(gid)).expect("chown the log");
        }
        let mut cmd = self.command("postgres");
        cmd.arg("-D").arg(self.root.join("data")).args(["-p", &self.port.to_string()]).arg("-k").arg(&self.root);
        for setting in [
            "listen_addresses=127.0.0.1",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "max_connections=200",
            "shared_buffers=16MB",
            "max_locks_per_transaction=128",
        ]
        .into_iter()
        .chain(self.settings.iter().map(String::as_str))
        {
            cmd.args(["-c", setting]);
        }
        let child = cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect("postgres starts");
        *self.postmaster.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = self
                .command("pg_isready")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-t", "1", "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            if let Some(status) = self.postmaster.lock().unwrap().as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("postgres exited ({status}) at start:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "postgres did not become ready:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once (SIGQUIT: PostgreSQL's immediate shutdown, as a crash would
    /// leave it): connections break and new ones are refused until [`PgCluster::resume`].
    pub fn stop(&self) {
        let Some(mut child) = self.postmaster.lock().unwrap().take() else { return };
        let _ = Command::new("kill").args(["-QUIT", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
        // Children of an immediate shutdown go with the postmaster; the pid file stays behind
        // and is taken over by the next start.
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default()
    }

    /// `postgres://postgres@127.0.0.1:<port>/<dbname>`: trust authentication, no password.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    /// The same database through the server's Unix socket.
    pub fn socket_url(&self, dbname: &str) -> String {
        format!("postgres://postgres@/{dbname}?host={}&port={}", self.root.display(), self.port)
    }

    /// `[database]` settings for `dbname` on this cluster: no TLS, a small pool.
    pub fn settings_for(&self, dbname: &str) -> DatabaseConfig {
        DatabaseConfig {
            url: DatabaseUrl::new(self.url(dbname)),
            tls: DatabaseTls::Disable,
            pool_size: 8,
            connect_timeout_secs: 3,
            ..Config::default().database
        }
    }

    /// A connection of the cluster's superuser to `dbname`, for set-up and inspection.
    pub async fn admin(&self, dbname: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(dbname), tokio_postgres::NoTls).await.expect("admin connection");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Creates an empty database with a name unique in this process and returns its settings.
    pub async fn create_database(&self) -> DatabaseConfig {
        let name = format!("optima_{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::SeqCst));
        self.admin("postgres").await.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("CREATE DATABASE");
        self.settings_for(&name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A connection pool on `config`'s database, migrated.
pub async fn migrated(config: &DatabaseConfig) -> optima::db::postgres::PgDb {
    let db = optima::db::postgres::PgDb::connect(config).await.expect("connects");
    db.migrate().await.expect("migrates");
    db
}

/// A fresh embedded SQLite database in `dir`, migrated: what a PostgreSQL store's answers are
/// compared with.
pub fn sqlite_db(dir: &tempfile::TempDir) -> optima::db::Db {
    optima::db::Db::open(&dir.path().join("optima.db"), &Config::default().database).expect("SQLite opens")
}

/// Asserts that a PostgreSQL store gave, call for call, the answers its SQLite store gave,
/// naming the first call where they part.
pub fn assert_same_answers(on_pg: &[String], on_lite: &[String]) {
    for (i, (p, l)) in on_pg.iter().zip(on_lite).enumerate() {
        assert_eq!(p, l, "answer {i}");
    }
    assert_eq!(on_pg.len(), on_lite.len(), "as many answers on both");
}
