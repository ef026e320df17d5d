//! Writers Guild: members and their tiers, writing projects with full manuscript revision
//! history, notes, exports, writing sessions, and AI assistance.

pub mod analysis;
pub mod api;
pub mod diff;
pub mod export;
pub mod model;
mod repo;
pub mod service;

pub use service::WritersService;
