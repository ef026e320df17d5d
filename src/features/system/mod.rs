//! Service-level routes: the API index, health, the readiness probe, and Prometheus metrics.

pub mod api;
pub mod metrics;
pub mod readiness;
