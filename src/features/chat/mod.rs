//! AI chat: sessions of messages answered by the configured text provider, charged to the
//! `ai_chat` quota only when a reply succeeds.

pub mod api;
pub mod model;
mod repo;
pub mod service;

pub use service::ChatService;
