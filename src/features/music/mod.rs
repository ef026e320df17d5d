//! Music Studio: projects, generated and uploaded stems, mix versions, sharing with a public
//! page, over the configured `MusicProvider`.

pub mod api;
pub mod model;
mod repo;
pub mod service;
pub mod share;

pub use service::MusicService;
