//! Writers Guild: members and their tiers, writing projects with full manuscript revision
//! history, notes, exports, writing sessions, and AI assistance.

pub mod analysis;
pub mod api;
pub mod diff;
pub mod export;
pub mod model;
pub mod service;
pub mod store;

pub use service::WritersService;
