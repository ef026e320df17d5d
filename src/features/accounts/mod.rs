//! Accounts: registration, login and the caller's own identity.

pub mod api;
pub mod model;
mod repo;
pub mod service;

pub use service::AccountsService;
