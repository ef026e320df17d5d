//! What the tRPC skin calls: the same services REST calls, and the bounds of its own wire.
//! The route table puts one of these in every request's data.

use std::sync::Arc;

use super::Upstream;
use crate::auth::TokenService;
use crate::config::LimitsConfig;
use crate::features::accounts::AccountsService;
use crate::features::chat::ChatService;
use crate::features::music::MusicService;
use crate::features::premium::PremiumService;
use crate::features::storage::StorageService;
use crate::features::subscription::SubscriptionService;
use crate::features::system::readiness::ReadinessService;
use crate::features::tactical::TacticalService;
use crate::features::writers::WritersService;
use crate::limits::Limiter;

pub struct Services {
    pub tokens: Arc<TokenService>,
    pub limiter: Arc<Limiter>,
    pub accounts: Arc<AccountsService>,
    pub storage: Arc<StorageService>,
    pub subscriptions: Arc<SubscriptionService>,
    pub chat: Arc<ChatService>,
    pub music: Arc<MusicService>,
    pub writers: Arc<WritersService>,
    pub tactical: Arc<TacticalService>,
    pub premium: Arc<PremiumService>,
    pub readiness: Arc<ReadinessService>,
    /// Where calls this server does not serve go; `None` when `trpc.upstream_url` is empty.
    pub trpc_upstream: Option<Upstream>,
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
