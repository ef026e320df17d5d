//! Black-box tests over HTTP against the real server (real SQLite file, real blob store), and
//! the PostgreSQL foundation against a real PostgreSQL server (`postgres`, `db_postgres`).

/// The database each test server runs on (`tests/api_postgres` runs these files on PostgreSQL).
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod blobs;
mod fake_gcs;
mod fake_hf;
mod fake_openai;
mod fake_stripe;
mod helpers;
mod postgres;
mod sse;
#[path = "../support/server_process.rs"]
#[allow(dead_code)] // shared with tests/cli.rs and tests/crash.rs
mod server_process;

mod auth;
mod authz_matrix;
mod authz_trpc;
mod backup;
mod blob_conformance;
mod chat;
mod chat_stream;
mod cluster;
mod db_copy;
mod db_postgres;
mod gcs_http;
mod gcs_signing;
mod limits;
mod live;
mod media;
mod mirrors;
mod music;
mod premium;
mod probe;
mod skins_agree;
mod storage;
mod storage_copy;
mod store_accounts_postgres;
mod store_chat_postgres;
mod store_media_postgres;
mod store_mirrors_postgres;
mod store_music_postgres;
mod store_premium_postgres;
mod store_subscription_postgres;
mod store_tactical_postgres;
mod store_writers_postgres;
mod subscription;
mod system;
mod tactical;
mod writers;
