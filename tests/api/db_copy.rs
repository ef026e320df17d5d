//! `optima db copy --to postgres://…` with the real binary: a server on SQLite filled over HTTP
//! across the features, stopped, copied into a fresh PostgreSQL database; then the counts, a few
//! values of each type and the audit chain checked there (and continued by the PostgreSQL
//! Tactical store), and a second copy into the same (now not empty) database refused without a
//! change. Also: a value that cannot be converted leaves the target as it was, and a missing
//! source, a bad URL or an unreachable target fail clearly. The tests needing PostgreSQL print
//! a SKIPPED line and pass when it is not installed.

use std::collections::BTreeMap;
use std::path::Path;

use optima::auth::Role;
use optima::features::tactical::audit::Record;
use optima::features::tactical::store::TacticalStore;
use optima::features::tactical::store::postgres::PgTacticalStore;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{TestApp, created, expect, optima_cli, set_tier, user_on};
use crate::postgres::database;

/// The test cluster speaks no TLS; everything else is the configuration's default.
const ENV: [(&str, &str); 1] = [("OPTIMA_DATABASE__TLS", "disable")];

/// Tables of the SQLite file and their row counts (refinery's history aside).
fn sqlite_counts(db: &Path) -> BTreeMap<String, i64> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'refinery_schema_history'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables.into_iter().map(|t| (t.clone(), c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0)).unwrap())).collect()
}

async fn pg_counts(pg: &tokio_postgres::Client, tables: impl Iterator<Item = &String>) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for t in tables {
        out.insert(t.clone(), pg.query_one(&format!("SELECT count(*) FROM {t}"), &[]).await.unwrap().get(0));
    }
    out
}

fn sqlite_value<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> T {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connects");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Fills the server through HTTP: accounts, tiers, a chat (and a deleted one), a music project,
/// a guild member with a manuscript and a session, Tactical members with secure and plain comms,
/// a team and an incident (so the audit chain has entries, refusals among them), and a photo.
async fn fill(app: &TestApp) {
    crate::helpers::register(app, "Alice").await;
    crate::helpers::register(app, "bob").await;

    let chat = app.token("c1", Role::User);
    let reply = expect(app.post_json("/api/ai/chat/send", Some(&chat), &json!({"userId": "c1", "message": "Hello there"})).await, 200).await;
    let session = reply["sessionId"].as_str().unwrap().to_owned();
    expect(app.post_json("/api/ai/chat/send", Some(&chat), &json!({"userId": "c1", "message": "And again", "sessionId": session})).await, 200)
        .await;
    // A session made and deleted: SQLite keeps c2's count at 0, which the copy does not carry.
    let gone = app.token("c2", Role::User);
    let reply = expect(app.post_json("/api/ai/chat/send", Some(&gone), &json!({"userId": "c2", "message": "Short-lived"})).await, 200).await;
    let gone_session = reply["sessionId"].as_str().unwrap().to_owned();
    assert!(app.delete(&format!("/api/ai/chat/session/{gone_session}"), Some(&gone)).await.status().is_success());

    let music = user_on(app, "m1", "premium").await;
    let body = json!({"userId": "m1", "title": "Copied song", "genre": "pop", "bpm": 100, "mood": "happy", "key": "Am"});
    created(app.post_json("/api/music/project/create", Some(&music), &body).await).await;

    let writer = user_on(app, "w1", "premium").await;
    let member = json!({"userId": "w1", "penName": "Quill", "specialties": ["fantasy", "poetry"]});
    created(app.post_json("/api/writers/member/register", Some(&writer), &member).await).await;
    let project = json!({"userId": "w1", "title": "A novel", "contentType": "novel"});
    let p = created(app.post_json("/api/writers/project/create", Some(&writer), &project).await).await;
    let pid = p["projectId"].as_str().unwrap().to_owned();
    expect(app.put_json(&format!("/api/writers/project/{pid}"), Some(&writer), &json!({"content": "It was a dark night."})).await, 200).await;
    expect(app.post_json("/api/writers/session/start", Some(&writer), &json!({"userId": "w1", "projectId": pid})).await, 200).await;

    let hq = app.token("hq-admin", Role::Admin);
    for user in ["s1", "r1"] {
        set_tier(app, user, "unlimited").await;
        let token = app.token(user, Role::User);
        let registration = json!({"userId": user, "serviceBranch": "police", "department": "Metro PD", "rank": "Officer"});
        created(app.post_json("/api/tactical/register", Some(&token), &registration).await).await;
        let verdict = json!({"status": "verified", "clearanceLevel": "secret"});
        expect(app.put_json(&format!("/api/tactical/verify/{user}"), Some(&hq), &verdict).await, 200).await;
    }
    let s1 = app.token("s1", Role::User);
    let secure = json!({"fromUserId": "s1", "toUserId": "r1", "content": "sealed words", "classification": "confidential"});
    created(app.post_json("/api/tactical/comm/secure", Some(&s1), &secure).await).await;
    created(app.post_json("/api/tactical/comm/send", Some(&s1), &json!({"fromUserId": "s1", "toUserId": "r1", "content": "plain words"})).await).await;
    created(app.post_json("/api/tactical/teams", Some(&s1), &json!({"teamName": "Alpha", "teamType": "patrol"})).await).await;
    let incident = json!({"title": "Alarm", "description": "Alarm: details", "severity": "high", "location": "5th & Main"});
    created(app.post_json("/api/tactical/incident/report", Some(&s1), &incident).await).await;
    // A refusal: recorded in the chain too.
    assert_eq!(app.get("/api/tactical/audit", Some(&s1)).await.status(), 403);

    let photographer = app.token("p1", Role::User);
    let form = Form::new().part("file", Part::bytes(crate::blobs::png(64, 48)).file_name("small.png")).text("caption", "A small view");
    let resp = app.client.post(app.url("/api/media/photos")).bearer_auth(&photographer).multipart(form).send().await.unwrap();
    expect(resp, 201).await;
}

/// Stops the server: what `optima db copy` expects of the database it copies.
async fn stopped(mut app: TestApp) -> TestApp {
    app.server.take().expect("running").shutdown().await.expect("clean shutdown");
    app
}

fn copy(app: &TestApp, to: &str) -> (bool, String, String) {
    let data = app.data_dir();
    optima_cli(app.dir.path(), &["db", "copy", "--data-dir", data.to_str().unwrap(), "--to", to], &ENV)
}

#[tokio::test]
async fn db_copy_moves_a_stopped_servers_database_into_postgres_and_verifies_it() {
    let Some(config) = database("db_copy_moves_a_stopped_servers_database_into_postgres_and_verifies_it").await else { return };
    let app = TestApp::spawn().await;
    fill(&app).await;
    let app = stopped(app).await;
    let db = app.data_dir().join("optima.db");
    let before = sqlite_counts(&db);
    for table in ["users", "chat_messages", "music_projects", "guild_members", "writing_versions", "tactical_comms", "audit_log", "media_photos"] {
        assert!(before[table] > 0, "the fill reached {table}: {before:?}");
    }
    assert_eq!(sqlite_value::<i64>(&db, "SELECT sessions FROM chat_session_counts WHERE user_id = 'c2'"), 0);

    let url = config.url.expose();
    let (ok, stdout, stderr) = copy(&app, url);
    assert!(ok, "db copy failed:\n{stdout}\n{stderr}");
    eprintln!("{stdout}");
    let audit_entries = before["audit_log"];
    assert!(stdout.contains(&format!("audit chain: {audit_entries} entries, intact")), "{stdout}");
    assert!(stdout.contains(&format!("audit_log.seq continues after {audit_entries}")), "{stdout}");
    assert!(stdout.contains("chat_session_counts") && stdout.contains("kept by triggers"), "{stdout}");
    for (table, rows) in &before {
        if ["events", "event_horizon"].contains(&table.as_str()) {
            continue;
        }
        let line = stdout.lines().find(|l| l.split_whitespace().next() == Some(table)).unwrap_or_else(|| panic!("{table} in the summary: {stdout}"));
        if !["chat_session_counts", "mirror_outbox"].contains(&table.as_str()) {
            assert!(line.contains(&format!(" {rows} rows")), "{table} has {rows} rows: {line}");
        }
    }
    assert!(!stdout.contains("password"), "{stdout}");

    // Every table's count, and the trigger-kept counts as SQLite's (its zero row aside).
    let pg = admin(url).await;
    let mut expected = before.clone();
    expected.insert("chat_session_counts".into(), sqlite_value(&db, "SELECT count(*) FROM chat_session_counts WHERE sessions > 0"));
    // Every copied project's mirror is due on the new database, once.
    expected.insert("mirror_outbox".into(), before["music_projects"] + before["writing_projects"]);
    // The live event log is not copied; its ids carry over (below).
    expected.insert("events".into(), 0);
    assert_eq!(pg_counts(&pg, before.keys()).await, expected);
    let newest_event: i64 = sqlite_value(&db, "SELECT max(seq) FROM events");
    assert!(newest_event > 0, "the fill's comms made events");
    let horizon: i64 = pg.query_one("SELECT seq FROM event_horizon", &[]).await.unwrap().get(0);
    assert_eq!(horizon, newest_event, "a client resuming with an older id is told it missed events");
    let next_event: i64 = pg.query_one("SELECT nextval(pg_get_serial_sequence('events', 'seq'))", &[]).await.unwrap().get(0);
    assert_eq!(next_event, newest_event + 1, "new events continue after the SQLite server's");
    let c1: i64 = pg.query_one("SELECT sessions FROM chat_session_counts WHERE user_id = 'c1'", &[]).await.unwrap().get(0);
    assert_eq!(c1, 1);

    // Values of each type, as SQLite held them.
    let row = pg.query_one("SELECT username::text, password_hash, created_at FROM users WHERE username = 'alice'", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "Alice", "citext: found without case, kept as written");
    assert_eq!(row.get::<_, String>(1), sqlite_value::<String>(&db, "SELECT password_hash FROM users WHERE username = 'Alice'"));
    let created_at: chrono::DateTime<chrono::Utc> = row.get(2);
    assert_eq!(optima::clock::stored_text(created_at), sqlite_value::<String>(&db, "SELECT created_at FROM users WHERE username = 'Alice'"));
    let specialties: Vec<String> = pg.query_one("SELECT specialties FROM guild_members", &[]).await.unwrap().get(0);
    assert_eq!(json!(specialties), serde_json::from_str::<Value>(&sqlite_value::<String>(&db, "SELECT specialties FROM guild_members")).unwrap());
    let row = pg.query_one("SELECT comm_id, wrapped_key, is_encrypted FROM tactical_comms WHERE is_encrypted", &[]).await.unwrap();
    let comm_id: uuid::Uuid = row.get(0);
    let sqlite_key: Vec<u8> = sqlite_value(&db, &format!("SELECT wrapped_key FROM tactical_comms WHERE comm_id = '{comm_id}'"));
    assert_eq!(row.get::<_, Vec<u8>>(1), sqlite_key, "bytea as the blob");
    let mature: bool = pg.query_one("SELECT mature_content FROM writing_projects", &[]).await.unwrap().get(0);
    assert!(!mature);
    let bpm: i64 = pg.query_one("SELECT bpm FROM music_projects", &[]).await.unwrap().get(0);
    assert_eq!(bpm, 100);

    // The chain as the PostgreSQL Tactical store walks it: intact, every entry there; the
    // identity sequence is past it, and the store's next append continues the chain.
    let store = PgTacticalStore::new(crate::postgres::migrated(&config).await);
    let verification = store.verify_audit().await.unwrap();
    assert!(verification.intact, "{verification:?}");
    assert_eq!(verification.entries as i64, audit_entries);
    let next: i64 = pg.query_one("SELECT nextval(pg_get_serial_sequence('audit_log', 'seq'))", &[]).await.unwrap().get(0);
    assert_eq!(next, audit_entries + 1);
    store.append_audit(Record::ok("hq-admin", "audit.read", "audit_log")).await.unwrap();
    let verification = store.verify_audit().await.unwrap();
    assert!(verification.intact && verification.entries as i64 == audit_entries + 1, "{verification:?}");

    // A server on the copied database, over the same data folder (blobs) with the master key
    // it generated now set in configuration (a cluster's servers share it): Alice signs in with
    // her copied password hash, and the secure comm opens with its copied wrapped key.
    let mut moved = crate::helpers::test_config(&app.data_dir());
    moved.database = config.clone();
    moved.auth.jwt_secret = "a-jwt-secret-for-the-moved-server-of-40-bytes".into();
    moved.storage.url_signing_key = "a-url-signing-key-for-the-moved-server-40b".into();
    moved.tactical.master_key = std::fs::read_to_string(app.data_dir().join("keys").join("master.key")).unwrap().trim().to_owned();
    let server = optima::app::start_with_clock(moved, optima::clock::system()).await.expect("a server starts on the copied database");
    let base = server.base_url();
    let http = reqwest::Client::new();
    let login = http.post(format!("{base}/api/auth/login")).json(&json!({"username": "Alice", "password": "password-123"})).send().await.unwrap();
    assert_eq!(login.status(), 200, "Alice signs in on PostgreSQL");
    let r1 = server.state.services.tokens.mint("r1", Role::User, 600).unwrap().0;
    let page: Value = http.get(format!("{base}/api/tactical/comm/r1?limit=100")).bearer_auth(&r1).send().await.unwrap().json().await.unwrap();
    assert!(page["comms"].as_array().is_some_and(|comms| comms.iter().any(|c| c["content"] == "sealed words")), "{page}");
    server.shutdown().await.unwrap();

    // A second copy into the same database: refused, naming the tables, and nothing changes.
    let after = pg_counts(&pg, before.keys()).await;
    let (ok, stdout, stderr) = copy(&app, url);
    assert!(!ok, "a second copy must be refused: {stdout}");
    assert!(stderr.contains("not empty") && stderr.contains(&format!("users holds {} rows", before["users"])) && stderr.contains("audit_log holds"), "{stderr}");
    assert_eq!(pg_counts(&pg, before.keys()).await, after);
}

#[tokio::test]
async fn db_copy_of_a_value_it_cannot_convert_names_it_and_leaves_the_target_empty() {
    let Some(config) = database("db_copy_of_a_value_it_cannot_convert_names_it_and_leaves_the_target_empty").await else { return };
    let app = TestApp::spawn().await;
    let chat = app.token("c1", Role::User);
    expect(app.post_json("/api/ai/chat/send", Some(&chat), &json!({"userId": "c1", "message": "Hello"})).await, 200).await;
    crate::helpers::register(&app, "carol").await;
    let app = stopped(app).await;
    // chat_sessions and chat_messages are copied before users: they are rolled back with it.
    let db = app.data_dir().join("optima.db");
    rusqlite::Connection::open(&db).unwrap().execute("UPDATE users SET created_at = 'last tuesday'", []).unwrap();

    let url = config.url.expose();
    let (ok, stdout, stderr) = copy(&app, url);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("users.created_at (row 1 of users)") && stderr.contains("`last tuesday` is not an RFC 3339 time"), "{stderr}");
    assert!(stderr.contains("nothing was copied"), "{stderr}");
    let pg = admin(url).await;
    let mut counts = pg_counts(&pg, sqlite_counts(&db).keys()).await;
    assert_eq!(counts.remove("event_horizon"), Some(1), "the migration's own row");
    assert!(counts.values().all(|n| *n == 0), "nothing half-written: {counts:?}");
}

#[tokio::test]
async fn db_copy_refuses_a_missing_source_a_bad_url_and_an_unreachable_target() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |to: &str| optima_cli(dir.path(), &["db", "copy", "--data-dir", data.to_str().unwrap(), "--to", to], &ENV);

    let (ok, _, stderr) = run("postgres://postgres@127.0.0.1:1/optima");
    assert!(!ok && stderr.contains("there is no SQLite database at") && stderr.contains("optima.db"), "{stderr}");
    assert!(!data.join("optima.db").exists(), "the source is never created");

    optima::db::migrate(&data.join("optima.db"), &optima::config::Config::default().database).unwrap();
    let (ok, _, stderr) = run("mysql://root@127.0.0.1/optima");
    assert!(!ok && stderr.contains("--to must start with postgres://"), "{stderr}");

    let port = crate::helpers::closed_port().port();
    let (ok, _, stderr) = run(&format!("postgres://postgres:hunter2@127.0.0.1:{port}/optima"));
    assert!(!ok && stderr.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{port}/optima")), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password is never printed: {stderr}");
}
