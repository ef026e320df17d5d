//! Accounts: registration, login and the caller's own identity.

pub mod api;
pub mod model;
pub mod service;
pub mod store;

pub use service::AccountsService;
