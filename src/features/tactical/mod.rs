//! Tactical HQ: verified members with clearances, teams, clearance-gated comms sealed at rest
//! with per-message AES-256-GCM keys, incidents, the dashboard and analyses, and a hash-chained
//! audit log of every action.

pub mod api;
pub mod audit;
pub mod audit_guard;
mod comms;
mod live;
pub mod model;
mod operations;
pub mod rotation;
mod sealing;
pub mod service;
pub mod situation;
pub mod store;
pub mod stress;

pub use service::{NewFile, TacticalService};
