//! Optima: the self-hostable cloud backend of the R3AL app, as one executable.

pub mod ai;
pub mod allocator;
pub mod app;
pub mod audio;
pub mod auth;
pub mod backup;
pub mod blobs;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod edge;
pub mod error;
pub mod events;
pub mod features;
#[doc(hidden)]
pub mod fuzzing;
pub mod imaging;
pub mod limits;
pub mod openapi;
pub mod plans;
pub mod private_fs;
pub mod rest;
pub mod server;
pub mod services;
pub mod stores;
pub mod splitmix;
pub mod telemetry;
pub mod trpc;
pub mod work_queue;
