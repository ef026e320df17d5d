//! Black-box tests over HTTP against the real server (real SQLite file, real blob store).

mod helpers;

mod auth;
mod chat;
mod media;
mod music;
mod premium;
mod storage;
mod subscription;
mod system;
mod tactical;
mod writers;
