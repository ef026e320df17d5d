//! AI chat: sessions of messages answered by the configured text provider, charged to the
//! `ai_chat` quota only when a reply succeeds.

pub mod api;
pub mod completion;
pub mod model;
pub mod replies;
pub mod service;
pub mod store;

pub use service::ChatService;
