//! The `optima` executable as scripts use it: config errors, migrate, token, backup, serve.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/server_process.rs"]
mod server_process;

use server_process::{BIN, serve};

fn optima(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(BIN).args(args).current_dir(cwd).env_remove("RUST_LOG").output().expect("optima runs")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}


#[test]
fn config_errors_name_the_key_and_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 8] = [
        ("[server]\nbind = \"not an address\"\n", "server.bind"),
        ("[server]\nbindd = \"127.0.0.1:1\"\n", "server.bindd"),
        ("[database]\nread_connections = \"many\"\n", "database.read_connections"),
        ("[log]\nformat = \"xml\"\n", "log.format"),
        ("[storage]\npublic_buckets = [\"r3al-nope\"]\n", "storage.public_buckets"),
        ("[backup]\nschedule = \"every day\"\ndir = \"b\"\n", "backup.schedule"),
        ("[backup]\nschedule = \"0 3 * * *\"\n", "backup.dir"),
        ("[backup]\nkeep = 0\n", "backup.keep"),
    ];
    for (toml, key) in cases {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, toml).unwrap();
        let out = optima(&["serve", "--config", file.to_str().unwrap(), "--data-dir", "d"], dir.path());
        assert!(!out.status.success(), "{toml}");
        assert!(stderr(&out).contains(key), "{toml}: {}", stderr(&out));
    }
    let env = Command::new(BIN)
        .args(["migrate", "--data-dir", "d"])
        .env("OPTIMA_DATABASE__SYNCHRONOUS", "sometimes")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!env.status.success());
    assert!(stderr(&env).contains("database.synchronous"), "{}", stderr(&env));

    let typo = Command::new(BIN)
        .args(["migrate", "--data-dir", "d"])
        .env("OPTIMA_SERVER__BIMD", "127.0.0.1:1")
        .env("OPTIMA_VENV", "/somewhere/else")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!typo.status.success());
    assert!(stderr(&typo).contains("server.bimd"), "{}", stderr(&typo));
    assert!(!stderr(&typo).contains("venv"), "variables that name no section are not ours: {}", stderr(&typo));

    let missing = optima(&["serve", "--config", "nope.toml"], dir.path());
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("nope.toml"));
}

#[test]
fn a_postgres_url_is_never_echoed_its_shared_secrets_are_required_and_an_unreachable_one_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], url: &str| {
        let out = Command::new(BIN)
            .args(args)
            .env("OPTIMA_DATABASE__URL", url)
            .env("OPTIMA_DATABASE__TLS", "disable")
            .env("OPTIMA_DATABASE__CONNECT_TIMEOUT_SECS", "2")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(!stderr.contains("hunter2secret"), "the password is echoed: {stderr}");
        stderr
    };
    let stderr = run(&["migrate", "--data-dir", "d"], "mysql://root:hunter2secret@localhost/optima");
    assert!(stderr.contains("database.url") && stderr.contains("postgres://"), "{stderr}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nobody_there = format!("postgres://optima:hunter2secret@127.0.0.1:{port}/optima");
    let stderr = run(&["migrate", "--data-dir", "d"], &nobody_there);
    assert!(stderr.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{port}/optima")), "{stderr}");
    // Secrets a cluster shares are never generated into one server's folder: each missing one is named.
    let stderr = run(&["serve", "--data-dir", "d", "--bind", "127.0.0.1:0"], &nobody_there);
    for setting in ["auth.jwt_secret", "storage.url_signing_key", "tactical.master_key"] {
        assert!(stderr.contains(setting), "{setting} is not named: {stderr}");
    }
    let stderr = run(&["token", "--user", "u1", "--data-dir", "d"], &nobody_there);
    assert!(stderr.contains("auth.jwt_secret"), "{stderr}");
    assert!(!dir.path().join("d/keys").exists(), "no secret was generated: {stderr}");
    let with_secrets = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("OPTIMA_DATABASE__URL", &nobody_there)
            .env("OPTIMA_DATABASE__TLS", "disable")
            .env("OPTIMA_AUTH__JWT_SECRET", "j".repeat(32))
            .env("OPTIMA_STORAGE__URL_SIGNING_KEY", "s".repeat(32))
            .env("OPTIMA_TACTICAL__MASTER_KEY", "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
            .current_dir(dir.path())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (served, stderr) = with_secrets(&["serve", "--data-dir", "d", "--bind", "127.0.0.1:0"]);
    assert!(!served && stderr.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{port}/optima")), "{stderr}");
    assert!(!stderr.contains("hunter2secret"), "the password is echoed: {stderr}");
    assert!(!dir.path().join("d/optima.db").exists(), "no SQLite database in its place");
    let stderr = run(&["backup", "--data-dir", "d", "--out", "b"], &nobody_there);
    assert!(stderr.contains("works on the embedded SQLite database") && stderr.contains("pg_dump"), "{stderr}");
}

#[test]
fn the_shipped_config_file_is_valid_and_matches_the_defaults() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = optima::config::Config::load(Some(&repo.join("config.toml")), Default::default()).unwrap();
    let defaults = optima::config::Config::default();
    assert_eq!(serde_json::to_value(&file).unwrap(), serde_json::to_value(&defaults).unwrap());
}

#[test]
fn the_production_example_config_is_valid() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = optima::config::Config::load(Some(&repo.join("deploy/config.production.toml")), Default::default()).unwrap();
    assert_eq!(config.server.bind, "127.0.0.1:8080");
    assert_eq!(config.database.synchronous, optima::config::Synchronous::Full);
    assert_eq!(config.data_dir, Path::new("/var/lib/optima"));
}

#[test]
fn migrate_creates_the_schema_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = optima(&["migrate", "--data-dir", "fresh"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("V1__init"));
    let conn = rusqlite::Connection::open(dir.path().join("fresh/optima.db")).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in [
        "users", "music_projects", "music_stems", "music_shares", "music_mix_versions", "guild_members",
        "writing_projects", "writing_sessions", "writing_versions", "tactical_users", "tactical_comms",
        "tactical_incidents", "tactical_teams", "audit_log", "premium_image_generations", "subscription_tiers",
        "usage_counters", "subscription_changes", "chat_sessions", "chat_messages",
    ] {
        assert!(tables.iter().any(|x| x == t), "table {t}");
    }
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let again = optima(&["migrate", "--data-dir", "fresh"], dir.path());
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));
}

#[test]
fn token_prints_only_a_jwt_and_generates_a_private_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = optima(&["token", "--user", "test_user", "--role", "service", "--ttl", "60", "--data-dir", "d"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.trim_end_matches('\n');
    assert_eq!(token.lines().count(), 1);
    assert_eq!(token.split('.').count(), 3, "{token}");
    let config = optima::config::Config { data_dir: dir.path().join("d"), ..Default::default() };
    let claims = optima::app::token_service(&config).unwrap().verify(token).unwrap();
    assert_eq!(claims.sub, "test_user");
    assert_eq!(claims.role, optima::auth::Role::Service);
    assert!(claims.exp - claims.iat == 60);
    let key = dir.path().join("d/keys/jwt.key");
    assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600);

    let bad_role = optima(&["token", "--user", "u", "--role", "root"], dir.path());
    assert!(!bad_role.status.success());
}

#[test]
fn token_refuses_an_expired_lifetime_and_ids_that_are_not_user_ids() {
    let dir = tempfile::tempdir().unwrap();
    let zero = optima(&["token", "--user", "u1", "--ttl", "0", "--data-dir", "d"], dir.path());
    assert!(!zero.status.success(), "a token expired when issued is refused");
    assert!(zero.stdout.is_empty());
    assert!(stderr(&zero).contains("ttl"), "{}", stderr(&zero));
    for user in ["../x", "alice/projects", "", ".hidden"] {
        let out = optima(&["token", "--user", user, "--data-dir", "d"], dir.path());
        assert!(!out.status.success(), "{user:?} was accepted");
        assert!(out.stdout.is_empty());
        assert!(stderr(&out).contains("user"), "{user:?}: {}", stderr(&out));
    }
}

#[test]
fn serve_reports_its_port_and_backup_copies_a_live_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, base) = serve(&data, dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let client = reqwest::Client::new();
            for i in 0..5 {
                let resp = client
                    .post(format!("{base}/api/auth/register"))
                    .json(&serde_json::json!({"username": format!("user{i}"), "password": "password-123"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
            }
        });
        let out_dir = dir.path().join("backup");
        let out = optima(&["backup", "--out", out_dir.to_str().unwrap(), "--data-dir", data.to_str().unwrap()], dir.path());
        assert!(out.status.success(), "{}", stderr(&out));
        let copy = rusqlite::Connection::open(out_dir.join("optima.db")).unwrap();
        let users: i64 = copy.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap();
        assert_eq!(users, 5);
        let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        let again = optima(&["backup", "--out", out_dir.to_str().unwrap(), "--data-dir", data.to_str().unwrap()], dir.path());
        assert!(!again.status.success(), "an existing folder is never written into");
    }));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (child, _) = serve(&dir.path().join("data"), dir.path());
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut child = child;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
