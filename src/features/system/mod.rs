//! Service-level routes: the API index, health, and the readiness probe.

pub mod api;
pub mod readiness;
