//! The services the skins call, built once at start and shared by REST and tRPC alike.

use std::sync::Arc;

use crate::auth::TokenService;
use crate::features::accounts::AccountsService;
use crate::features::chat::ChatService;
use crate::features::live::LiveService;
use crate::features::media::MediaService;
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
    pub media: Arc<MediaService>,
    /// Live streams of events (`/api/events`, tRPC subscriptions).
    pub live: Arc<LiveService>,
    /// `GET /probe/gateway`: the database, the blob store and each AI provider.
    pub readiness: Arc<ReadinessService>,
}

impl Services {
    /// Puts each service into `req`'s data, where a REST operation takes the one it calls.
    pub fn put_into(&self, req: &mut poem::Request) {
        req.set_data(self.tokens.clone());
        req.set_data(self.limiter.clone());
        req.set_data(self.accounts.clone());
        req.set_data(self.storage.clone());
        req.set_data(self.subscriptions.clone());
        req.set_data(self.chat.clone());
        req.set_data(self.music.clone());
        req.set_data(self.writers.clone());
        req.set_data(self.tactical.clone());
        req.set_data(self.premium.clone());
        req.set_data(self.media.clone());
        req.set_data(self.live.clone());
        req.set_data(self.readiness.clone());
    }
}
