//! Black-box tests over HTTP against the real server (real SQLite file, real blob store).

mod fake_gcs;
mod helpers;

mod auth;
mod blob_conformance;
mod chat;
mod media;
mod music;
mod premium;
mod storage;
mod subscription;
mod system;
mod tactical;
mod writers;
