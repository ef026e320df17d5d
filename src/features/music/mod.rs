//! Music Studio: projects, generated and uploaded stems, mix versions, sharing with a public
//! page, over the configured `MusicProvider`.

pub mod api;
pub mod model;
pub mod service;
pub mod share;
pub mod store;

pub use service::MusicService;
