//! Service-level routes: the API index, health, and Prometheus metrics.

pub mod api;
pub mod metrics;
