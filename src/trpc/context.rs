//! What the tRPC endpoint works with: the services REST calls too, and its own wire's settings.
//! The route table puts one of these in every request's data.

use std::sync::Arc;

use super::Upstream;
use crate::config::LimitsConfig;
use crate::services::Services;

pub struct Context {
    pub services: Arc<Services>,
    /// Where calls this server does not serve go; `None` when `trpc.upstream_url` is empty.
    pub upstream: Option<Upstream>,
    pub bounds: WireBounds,
}

/// What one request may carry.
#[derive(Debug, Clone, Copy)]
pub struct WireBounds {
    pub max_batch: usize,
    pub max_json_bytes: u64,
    pub max_json_depth: usize,
}

impl WireBounds {
    pub fn of(limits: &LimitsConfig) -> Self {
        Self { max_batch: limits.max_trpc_batch, max_json_bytes: limits.max_json_bytes, max_json_depth: limits.max_json_depth }
    }
}
