//! The HTTP suite of `tests/api` again, every test of it, with each server on PostgreSQL: a
//! fresh database on the throwaway cluster `tests/api/postgres.rs` starts (Debian's
//! `postgresql` package). Without PostgreSQL installed the run prints one loud SKIPPED line and
//! stops (`.ci/run` installs it, so CI always runs both backends).
//!
//! The modules are the same files as `tests/api`'s; only [`BACKEND`] differs. The tests of the
//! PostgreSQL stores themselves (`store_*_postgres`, `db_postgres`) run once, in `tests/api`.

/// The database each test server runs on.
pub const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "../api/blobs.rs"]
mod blobs;
#[path = "../api/fake_gcs.rs"]
mod fake_gcs;
#[path = "../api/fake_hf.rs"]
mod fake_hf;
#[path = "../api/fake_openai.rs"]
mod fake_openai;
#[path = "../api/fake_stripe.rs"]
mod fake_stripe;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/postgres.rs"]
#[allow(dead_code)] // the store tests that use the rest run in tests/api
mod postgres;
#[path = "../api/storage_copy.rs"]
mod storage_copy;

#[path = "../api/auth.rs"]
mod auth;
#[path = "../api/authz_matrix.rs"]
mod authz_matrix;
#[path = "../api/authz_trpc.rs"]
mod authz_trpc;
#[path = "../api/backup.rs"]
mod backup;
#[path = "../api/chat.rs"]
mod chat;
#[path = "../api/chat_stream.rs"]
mod chat_stream;
#[path = "../api/gcs_http.rs"]
mod gcs_http;
#[path = "../api/gcs_signing.rs"]
mod gcs_signing;
#[path = "../api/limits.rs"]
mod limits;
#[path = "../api/live.rs"]
mod live;
#[path = "../api/sse.rs"]
mod sse;
#[path = "../api/media.rs"]
mod media;
#[path = "../api/mirrors.rs"]
mod mirrors;
#[path = "../api/music.rs"]
mod music;
#[path = "../api/premium.rs"]
mod premium;
#[path = "../api/probe.rs"]
mod probe;
#[path = "../api/skins_agree.rs"]
mod skins_agree;
#[path = "../api/storage.rs"]
mod storage;
#[path = "../api/subscription.rs"]
mod subscription;
#[path = "../api/system.rs"]
mod system;
#[path = "../api/tactical.rs"]
mod tactical;
#[path = "../api/writers.rs"]
mod writers;
