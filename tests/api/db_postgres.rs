//! The PostgreSQL foundation against a real server (tests/api/postgres.rs starts it): the
//! migrations and their advisory lock, errors as answers, outages as 503s, TLS, `optima migrate`.
//! Each test prints a SKIPPED line and passes when PostgreSQL is not installed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use optima::config::{DatabaseConfig, DatabaseTls, DatabaseUrl};
use optima::db::postgres::PgDb;
use optima::error::AppError;

use crate::helpers::optima_cli;
use crate::postgres::{PgCluster, database, migrated, shared, skipped};

/// The migrations as refinery names them, in order.
const MIGRATIONS: [&str; 9] =
    ["V1__init", "V2__tactical", "V3__media", "V4__chat_session_counts", "V5__display_names", "V6__chat_client_session_ids", "V7__quota_holds", "V8__mirror_outbox", "V9__events"];

fn dbname(config: &DatabaseConfig) -> String {
    config.url.expose().rsplit('/').next().unwrap().to_owned()
}

/// Status, code, message, details and Retry-After of what a client would get for `err`.
fn answer(err: AppError) -> (u16, &'static str, String, Option<serde_json::Value>, Option<u64>) {
    (err.status().as_u16(), err.code(), err.public_message(), err.details().cloned(), err.retry_after_secs())
}

/// The SQLite schema the same migrations give: table → columns in order, index and trigger
/// names.
fn sqlite_schema() -> (BTreeMap<String, Vec<String>>, BTreeSet<String>, BTreeSet<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.db");
    optima::db::migrate(&path, &optima::config::Config::default().database).unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    let names = |sql: &str| -> Vec<String> { c.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect() };
    let mut tables = BTreeMap::new();
    for table in names("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'refinery_schema_history'") {
        tables.insert(table.clone(), names(&format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")));
    }
    let indexes = names("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").into_iter().collect();
    let triggers = names("SELECT name FROM sqlite_master WHERE type = 'trigger'").into_iter().collect();
    (tables, indexes, triggers)
}

#[tokio::test]
async fn migrations_apply_on_a_fresh_database_and_mirror_sqlites_schema() {
    let Some(config) = database("migrations_apply_on_a_fresh_database_and_mirror_sqlites_schema").await else { return };
    let db = PgDb::connect(&config).await.unwrap();
    assert_eq!(db.migrate().await.unwrap(), MIGRATIONS);
    assert!(db.migrate().await.unwrap().is_empty(), "a second run finds nothing to apply");

    let admin = shared().unwrap().admin(&dbname(&config)).await;
    let rows = admin
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, udt_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> 'refinery_schema_history' ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .unwrap();
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut types = BTreeMap::new();
    for r in &rows {
        let (table, column, data_type, udt): (String, String, String, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
        tables.entry(table.clone()).or_default().push(column.clone());
        types.insert(format!("{table}.{column}"), if data_type == "USER-DEFINED" || data_type == "ARRAY" { udt } else { data_type });
    }
    let (sqlite_tables, sqlite_indexes, sqlite_triggers) = sqlite_schema();
    assert_eq!(tables, sqlite_tables, "the same tables with the same columns in the same order");

    let indexes: BTreeSet<String> = admin
        .query("SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND indexname !~ '_(pkey|key)$'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(indexes, sqlite_indexes, "the same indexes");
    let triggers: BTreeSet<String> =
        admin.query("SELECT tgname::text FROM pg_trigger WHERE NOT tgisinternal", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert!(triggers.is_superset(&sqlite_triggers), "every SQLite trigger: {triggers:?}");

    // PostgreSQL's own types where they fit.
    for (column, expected) in [
        ("users.username", "citext"),
        ("users.user_id", "text"),
        ("chat_sessions.session_id", "uuid"),
        ("chat_sessions.client_id", "text"),
        ("music_projects.project_id", "uuid"),
        ("music_projects.duration_seconds", "double precision"),
        ("guild_members.specialties", "_text"),
        ("media_nfts.attributes", "jsonb"),
        ("tactical_sr_checkins.indicators", "jsonb"),
        ("writing_projects.mature_content", "boolean"),
        ("tactical_comms.wrapped_key", "bytea"),
        ("tactical_documents.name_sealed", "bytea"),
        ("audit_log.seq", "bigint"),
        ("audit_log.detail", "text"),
        ("usage_counters.used", "bigint"),
        ("usage_counters.window_start", "timestamp with time zone"),
    ] {
        assert_eq!(types[column], expected, "{column}");
    }
    for (column, ty) in &types {
        let time = column.ends_with("_at") || column.ends_with("_start") || column.ends_with("_end");
        assert!(!time || ty == "timestamp with time zone", "{column} is a time: {ty}");
    }
}

#[tokio::test]
async fn three_instances_migrating_at_once_apply_each_migration_once() {
    let Some(config) = database("three_instances_migrating_at_once_apply_each_migration_once").await else { return };
    let (a, b, c) = tokio::join!(PgDb::connect(&config), PgDb::connect(&config), PgDb::connect(&config));
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let (ra, rb, rc) = tokio::join!(a.migrate(), b.migrate(), c.migrate());
    let mut applied: Vec<String> = [ra, rb, rc].into_iter().flat_map(|r| r.expect("every instance succeeds")).collect();
    applied.sort();
    assert_eq!(applied, MIGRATIONS, "each migration applied by exactly one instance");

    let admin = shared().unwrap().admin(&dbname(&config)).await;
    let history: i64 = admin.query_one("SELECT count(*) FROM refinery_schema_history", &[]).await.unwrap().get(0);
    assert_eq!(history, MIGRATIONS.len() as i64);
    let held: i64 = admin.query_one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", &[]).await.unwrap().get(0);
    assert_eq!(held, 0, "the migration lock is released");
}

#[tokio::test]
async fn constraint_violations_get_the_answers_sqlite_gives() {
    let Some(config) = database("constraint_violations_get_the_answers_sqlite_gives").await else { return };
    let db = migrated(&config).await;
    let client = db.client().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO users (user_id, username, password_hash) VALUES ('u1', 'Ann', 'h');
             INSERT INTO chat_sessions (session_id, user_id, client_id) VALUES (gen_random_uuid(), 'u1', 'session_1');
             INSERT INTO tactical_users (user_id) VALUES ('u1');
             INSERT INTO audit_log (actor_id, action, outcome, prev_hash, entry_hash) VALUES ('u1', 'a', 'ok', '0', '1');",
        )
        .await
        .unwrap();
    let refused = |sql: &'static str| {
        let client = &client;
        async move { answer(AppError::from(client.batch_execute(sql).await.expect_err(sql))) }
    };
    let field = |name: &str| Some(serde_json::json!({ "field": name }));

    let cases = [
        ("INSERT INTO users (user_id, username, password_hash) VALUES ('u2', 'ann', 'h')", (409, "conflict", "username is already in use".to_owned(), None)),
        ("INSERT INTO users (user_id, username, password_hash) VALUES ('u1', 'Bob', 'h')", (409, "conflict", "user id is already in use".to_owned(), None)),
        (
            "INSERT INTO chat_sessions (session_id, user_id, client_id) VALUES (gen_random_uuid(), 'u1', 'session_1')",
            (409, "conflict", "this combination of user id and client id is already in use".to_owned(), None),
        ),
        (
            "INSERT INTO music_projects (project_id, user_id, storage_path) VALUES (gen_random_uuid(), 'u1', 'p')",
            (422, "missing_field", "title is required".to_owned(), field("title")),
        ),
        (
            "INSERT INTO music_projects (project_id, user_id, title, storage_path, bpm) VALUES (gen_random_uuid(), 'u1', 't', 'p', 300)",
            (422, "invalid_field", "bpm has a value that is not allowed".to_owned(), field("bpm")),
        ),
        (
            "UPDATE tactical_users SET requested_clearance = 'cosmic'",
            (422, "invalid_field", "requested clearance has a value that is not allowed".to_owned(), field("requestedClearance")),
        ),
        (
            "INSERT INTO chat_messages (message_id, session_id, role, content) VALUES (gen_random_uuid(), gen_random_uuid(), 'user', 'hi')",
            (409, "conflict", "a record this refers to does not exist, or another record still refers to this one".to_owned(), None),
        ),
        ("DELETE FROM audit_log", (409, "conflict", "the change conflicts with the stored data".to_owned(), None)),
        ("UPDATE audit_log SET outcome = 'denied'", (409, "conflict", "the change conflicts with the stored data".to_owned(), None)),
        ("TRUNCATE audit_log", (409, "conflict", "the change conflicts with the stored data".to_owned(), None)),
    ];
    for (sql, (status, code, message, details)) in cases {
        let got = refused(sql).await;
        assert_eq!((got.0, got.1, got.2.as_str(), got.3.clone()), (status, code, message.as_str(), details), "{sql}");
        assert_eq!(got.4, None, "{sql}: nothing to retry");
        for postgres_word in ["constraint", "violates", "duplicate", "Key (", "ann", "append-only", "users", "cosmic"] {
            assert!(!got.2.contains(postgres_word), "{sql}: {}", got.2);
        }
    }
    // A store's SQL that is wrong is a bug: internal, its text not shown.
    let (status, code, message, _, _) = refused("SELEC 1").await;
    assert_eq!((status, code, message.as_str()), (500, "internal_error", "internal server error"));
}

#[tokio::test]
async fn serialization_failures_and_statement_timeouts_are_a_busy_503_to_retry() {
    let Some(mut config) = database("serialization_failures_and_statement_timeouts_are_a_busy_503_to_retry").await else { return };
    config.statement_timeout_ms = 300;
    let db = migrated(&config).await;

    let err = db.client().await.unwrap().simple_query("SELECT pg_sleep(5)").await.expect_err("cancelled by statement_timeout");
    assert_eq!(answer(err.into()), (503, "database_busy", "database is busy, retry".into(), None, Some(1)));

    // Write skew under SERIALIZABLE: each reads what the other writes; the second to commit loses.
    let (one, two) = (db.client().await.unwrap(), db.client().await.unwrap());
    let read = "SELECT count(*) FROM usage_counters WHERE user_id = 'u'";
    for c in [&one, &two] {
        c.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE").await.unwrap();
        c.simple_query(read).await.unwrap();
    }
    one.batch_execute("INSERT INTO usage_counters (user_id, feature, window_start) VALUES ('u', 'a', now())").await.unwrap();
    two.batch_execute("INSERT INTO usage_counters (user_id, feature, window_start) VALUES ('u', 'b', now())").await.unwrap();
    one.batch_execute("COMMIT").await.unwrap();
    let err = two.batch_execute("COMMIT").await.expect_err("a serialization failure");
    assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE));
    assert_eq!(answer(err.into()), (503, "database_busy", "database is busy, retry".into(), None, Some(1)));
}

#[tokio::test]
async fn a_database_that_goes_away_is_a_503_and_comes_back_by_itself() {
    let test = "a_database_that_goes_away_is_a_503_and_comes_back_by_itself";
    // A cluster of its own: this one is stopped.
    let Some(cluster) = PgCluster::start(&[]) else { return skipped(test) };
    let config = cluster.create_database().await;
    let db = migrated(&config).await;
    db.ping().await.expect("ping");
    let held = db.client().await.unwrap();

    cluster.stop();
    let unavailable = (503, "database_unavailable", "the database is unavailable, retry shortly".to_owned(), None, Some(5));
    assert_eq!(answer(db.ping().await.expect_err("ping while stopped")), unavailable);
    assert_eq!(answer(held.simple_query("SELECT 1").await.expect_err("query on a broken connection").into()), unavailable);
    drop(held);
    assert_eq!(answer(db.client().await.map(drop).expect_err("no new connection")), unavailable);
    let at_start = PgDb::connect(&config).await.err().expect("start-up refused").to_string();
    let target = format!("127.0.0.1:{}/{}", cluster.port, dbname(&config));
    assert!(at_start.contains("cannot connect to PostgreSQL at") && at_start.contains(&target), "{at_start}");

    cluster.resume();
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = db.ping().await {
        assert!(Instant::now() < deadline, "no recovery: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.client().await.unwrap().simple_query("SELECT count(*) FROM users").await.expect("queries work again");
}

#[tokio::test]
async fn a_unix_socket_is_used_without_tls() {
    let Some(config) = database("a_unix_socket_is_used_without_tls").await else { return };
    let cluster = shared().unwrap();
    // verify_full (the default) would need a certificate over TCP; a socket is local.
    let socket = DatabaseConfig { url: DatabaseUrl::new(cluster.socket_url(&dbname(&config))), tls: DatabaseTls::VerifyFull, ..config };
    let db = migrated(&socket).await;
    db.ping().await.unwrap();
    assert!(db.target().contains(".s.PGSQL."), "{}", db.target());
}

/// `openssl` (the command) makes a CA and a certificate for 127.0.0.1 signed by it, in `dir`.
fn certificates(dir: &Path) -> bool {
    let run = |args: &[&str]| {
        std::process::Command::new("openssl").current_dir(dir).args(args).output().is_ok_and(|o| o.status.success())
    };
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(&[&["req", "-x509"][..], &ec[..], &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=optima test CA"]].concat())
        && run(&[&["req"][..], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat())
        && run(&[
            "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2",
            "-extfile", "ext.cnf",
        ])
}

#[tokio::test]
async fn tls_require_encrypts_and_verify_full_checks_the_certificate() {
    let test = "tls_require_encrypts_and_verify_full_checks_the_certificate";
    let dir = tempfile::tempdir().unwrap();
    if !certificates(dir.path()) {
        return eprintln!("SKIPPED {test}: no `openssl` command to make the test certificates with");
    }
    let Some(cluster) = PgCluster::start_with_tls(&dir.path().join("server.crt"), &dir.path().join("server.key")) else {
        return skipped(test);
    };
    let plain = cluster.create_database().await;
    let with = |tls: DatabaseTls, ca_file: &str| DatabaseConfig { tls, ca_file: ca_file.to_owned(), ..plain.clone() };
    let encrypted = |db: PgDb| async move {
        let row = db.client().await.unwrap().query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap();
        row.get::<_, bool>(0)
    };

    let ca = dir.path().join("ca.crt").display().to_string();
    assert!(encrypted(PgDb::connect(&with(DatabaseTls::VerifyFull, &ca)).await.expect("verify_full with the CA")).await);
    assert!(encrypted(PgDb::connect(&with(DatabaseTls::Require, "")).await.expect("require")).await);
    assert!(!encrypted(PgDb::connect(&with(DatabaseTls::Disable, "")).await.expect("disable")).await);

    // The system's roots do not know the test CA; a CA that did not sign it is no better.
    let refused = PgDb::connect(&with(DatabaseTls::VerifyFull, "")).await.err().expect("unknown issuer").to_string();
    assert!(refused.contains("TLS"), "{refused}");
    let other = dir.path().join("other-ca.crt");
    std::fs::copy(dir.path().join("server.crt"), &other).unwrap();
    let refused = PgDb::connect(&with(DatabaseTls::VerifyFull, &other.display().to_string())).await.err().expect("wrong CA").to_string();
    assert!(refused.contains("TLS"), "{refused}");
    let missing = PgDb::connect(&with(DatabaseTls::VerifyFull, "/nonexistent/ca.pem")).await.err().expect("no CA file").to_string();
    assert!(missing.contains("database.ca_file"), "{missing}");
}

#[tokio::test]
async fn optima_migrate_applies_the_postgres_migrations_and_serve_needs_the_cluster_secrets() {
    let Some(config) = database("optima_migrate_applies_the_postgres_migrations_and_serve_needs_the_cluster_secrets").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let env = [("OPTIMA_DATABASE__URL", config.url.expose()), ("OPTIMA_DATABASE__TLS", "disable")];
    let (ok, stdout, stderr) = optima_cli(dir.path(), &["migrate", "--data-dir", "d"], &env);
    assert!(ok, "{stderr}");
    let target = format!("127.0.0.1:{}/{}", shared().unwrap().port, dbname(&config));
    assert!(stdout.contains(&target) && stdout.contains("applied V1__init") && stdout.contains("V7__quota_holds"), "{stdout}");
    let (ok, stdout, _) = optima_cli(dir.path(), &["migrate", "--data-dir", "d"], &env);
    assert!(ok && stdout.contains("up to date"), "{stdout}");
    assert!(!dir.path().join("d/optima.db").exists(), "no SQLite file is made");

    // Without the secrets a cluster shares, neither serving nor rotating starts.
    for verb in [&["serve", "--data-dir", "d", "--bind", "127.0.0.1:0"][..], &["keys", "rotate", "--data-dir", "d"]] {
        let (ok, _, stderr) = optima_cli(dir.path(), verb, &env);
        assert!(!ok && stderr.contains("tactical.master_key (OPTIMA_TACTICAL__MASTER_KEY)"), "{verb:?}: {stderr}");
    }
    assert!(!dir.path().join("d/keys").exists(), "no key is generated");
}

#[tokio::test]
async fn serve_stops_at_start_naming_a_database_it_cannot_reach() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::closed_port().port();
    let url = format!("postgres://optima:secret-password@127.0.0.1:{port}/optima");
    let [jwt, signing, master] = crate::helpers::CLUSTER_SECRETS;
    let env = [
        ("OPTIMA_DATABASE__URL", url.as_str()),
        ("OPTIMA_DATABASE__TLS", "disable"),
        ("OPTIMA_DATABASE__CONNECT_TIMEOUT_SECS", "2"),
        ("OPTIMA_AUTH__JWT_SECRET", jwt),
        ("OPTIMA_STORAGE__URL_SIGNING_KEY", signing),
        ("OPTIMA_TACTICAL__MASTER_KEY", master),
    ];
    let (ok, _, stderr) = optima_cli(dir.path(), &["serve", "--data-dir", "d", "--bind", "127.0.0.1:0"], &env);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{port}/optima")), "{stderr}");
    assert!(!stderr.contains("secret-password"), "the password is never printed: {stderr}");
    assert!(!dir.path().join("d/optima.db").exists(), "never SQLite in its place");
}

/// The database stopped and started under load, through the HTTP surface: while it is away
/// every request that needs it is 503 `database_unavailable` with `Retry-After`, `/health` is
/// 503, nothing is a 500, and the server serves again by itself once it is back.
#[tokio::test]
async fn a_server_under_load_answers_503_while_its_database_is_away_and_recovers_by_itself() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::helpers::{CLUSTER_SECRETS, TestApp};

    let test = "a_server_under_load_answers_503_while_its_database_is_away_and_recovers_by_itself";
    let Some(cluster) = PgCluster::start(&[]) else { return skipped(test) };
    let database = cluster.create_database().await;
    let app = Arc::new(
        TestApp::spawn_with(|c| {
            c.database = DatabaseConfig { connect_timeout_secs: 1, ..database };
            let [jwt, signing, master] = CLUSTER_SECRETS;
            (c.auth.jwt_secret, c.storage.url_signing_key, c.tactical.master_key) = (jwt.into(), signing.into(), master.into());
        })
        .await,
    );
    let token = app.token("loaded", optima::auth::Role::User);
    let status_of = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get("retry-after").is_some();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        (status, body["error"]["code"].as_str().unwrap_or_default().to_owned(), retry_after)
    };
    // Four clients reading their usage and tracking some, without pause.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (app, token, stop) = (app.clone(), token.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let resp = app.get("/api/subscription/tier/loaded", Some(&token)).await;
                    seen.push(status_of(resp).await);
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    cluster.stop();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let health = app.get("/health", None).await;
        if health.status() == 503 {
            break;
        }
        assert!(Instant::now() < deadline, "/health never noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, code, retry_after) = status_of(app.get("/api/subscription/tier/loaded", Some(&token)).await).await;
    assert_eq!((status, code.as_str(), retry_after), (503, "database_unavailable", true));

    cluster.resume();
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/health", None).await.status() != 200 {
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut seen = Vec::new();
    for client in clients {
        seen.extend(client.await.unwrap());
    }
    assert!(seen.iter().all(|(status, code, retry_after)| *status == 200 || (*status == 503 && code == "database_unavailable" && *retry_after)), "{seen:?}");
    assert!(seen.iter().any(|(status, ..)| *status == 503), "the load saw the outage");
    assert_eq!(seen.last().map(|s| s.0), Some(200), "the load is served again");
    let (status, ..) = status_of(app.get("/api/subscription/tier/loaded", Some(&token)).await).await;
    assert_eq!(status, 200);
}
