use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

use super::plan::{AiWritingLevel, Tier, Window};

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct QuotaInfo {
    /// `null`: unlimited. 0: not included.
    #[oai(nullable)]
    pub limit: Option<u64>,
    pub window: Window,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct TierLimits {
    pub ai_chat: QuotaInfo,
    pub image_generation: QuotaInfo,
    pub music_generation: QuotaInfo,
    pub ai_writing: QuotaInfo,
    /// Music projects owned and not archived; `null`: unlimited.
    #[oai(nullable)]
    pub music_projects: Option<u64>,
    /// Writing projects owned and not archived; `null`: unlimited.
    #[oai(nullable)]
    pub writing_projects: Option<u64>,
    pub ai_writing_level: AiWritingLevel,
    pub writers_guild: bool,
    pub unrestricted_content: bool,
    pub priority_processing: bool,
    pub tactical: bool,
}

/// What a tier gives, in the facts the app's screens show (`unlimitedChat`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanFacts {
    pub tier: Tier,
    /// No chat quota.
    pub unlimited_chat: bool,
    /// No image generation quota.
    pub unlimited_images: bool,
    pub unrestricted_content: bool,
    /// AI writing assistance is included.
    pub ai_writing: bool,
    pub ai_writing_level: AiWritingLevel,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct Prices {
    pub monthly: f64,
    pub yearly: f64,
    pub currency: String,
}

/// A metered feature in its current calendar window.
#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct Usage {
    pub feature: String,
    pub window: Window,
    pub used: u64,
    /// `null`: unlimited.
    #[oai(nullable)]
    pub limit: Option<u64>,
    /// `null`: unlimited.
    #[oai(nullable)]
    pub remaining: Option<u64>,
    pub reset_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct UsageByFeature {
    pub ai_chat: Usage,
    pub image_generation: Usage,
    pub music_generation: Usage,
    pub ai_writing: Usage,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct TierInfo {
    pub user_id: String,
    pub tier: Tier,
    pub display_name: String,
    pub description: String,
    /// `active`, or `pending` while a payment awaits confirmation.
    pub status: String,
    /// The tier a payment awaiting confirmation will activate.
    #[oai(nullable)]
    pub pending_tier: Option<Tier>,
    #[oai(nullable)]
    pub subscription_id: Option<String>,
    #[oai(nullable)]
    pub billing_period: Option<String>,
    #[oai(nullable)]
    pub payment_provider: Option<String>,
    /// The payment provider's id of the subscription's last payment.
    #[oai(nullable)]
    pub external_subscription_id: Option<String>,
    #[oai(nullable)]
    pub current_period_start: Option<String>,
    #[oai(nullable)]
    pub current_period_end: Option<String>,
    #[oai(nullable)]
    pub upgraded_at: Option<String>,
    pub prices: Prices,
    pub limits: TierLimits,
    pub usage: UsageByFeature,
    /// The soonest reset of a limited quota (`null` when nothing is limited).
    #[oai(nullable)]
    pub reset_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct CheckAccessRequest {
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    /// ai_chat (or chat), image_generation, music_generation, ai_writing, writers_guild,
    /// unrestricted_content, priority_processing, tactical.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub feature: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct AccessCheck {
    pub user_id: String,
    pub feature: String,
    pub has_access: bool,
    pub reason: String,
    /// True when a higher tier would give access.
    pub upgrade_required: bool,
    #[oai(nullable)]
    pub upgrade_to: Option<Tier>,
    /// Metered features: what is left in the window (`null`: unlimited).
    #[oai(nullable)]
    pub usage_remaining: Option<u64>,
    #[oai(nullable)]
    pub used: Option<u64>,
    #[oai(nullable)]
    pub limit: Option<u64>,
    #[oai(nullable)]
    pub reset_at: Option<DateTime<Utc>>,
    pub tier: Tier,
    pub tier_name: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct TrackUsageRequest {
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    /// A metered feature: ai_chat (or chat), image_generation, music_generation, ai_writing.
    #[oai(validator(min_length = 1, max_length = 64))]
    #[serde(alias = "featureType")]
    pub feature: String,
    /// 1 to 1000; default 1.
    #[oai(default = "one", validator(minimum(value = "1"), maximum(value = "1000")))]
    #[serde(default = "one", alias = "count")]
    pub amount: u64,
}

fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct TrackUsageResult {
    pub user_id: String,
    pub feature: String,
    /// Use in the current window after this charge.
    pub new_usage: u64,
    /// True when nothing is left in the window.
    pub limit_reached: bool,
    #[oai(nullable)]
    pub limit: Option<u64>,
    #[oai(nullable)]
    pub remaining: Option<u64>,
    pub reset_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum BillingPeriod {
    Monthly,
    Yearly,
}

impl BillingPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingPeriod::Monthly => "monthly",
            BillingPeriod::Yearly => "yearly",
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct UpgradeRequest {
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    /// free, premium, unlimited (the app's `tactical` means unlimited).
    #[oai(validator(min_length = 1, max_length = 32))]
    #[serde(alias = "targetTier")]
    pub new_tier: String,
    /// With Stripe: a PaymentMethod id (`pm_…`) to charge.
    #[oai(validator(max_length = 255))]
    #[oai(nullable)]
    pub payment_method: Option<String>,
    /// Default monthly.
    #[oai(nullable)]
    pub billing_period: Option<BillingPeriod>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct Receipt {
    pub receipt_id: String,
    pub provider: String,
    pub tier: Tier,
    #[oai(nullable)]
    pub billing_period: Option<String>,
    pub amount: f64,
    pub currency: String,
    /// `recorded` (applied now) or `pending` (awaiting the payment's confirmation).
    pub status: String,
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct UpgradeResult {
    pub success: bool,
    pub user_id: String,
    /// The tier in effect after this call.
    pub tier: Tier,
    pub previous_tier: Tier,
    pub requested_tier: Tier,
    /// `active`: applied; `pending`: applied when the payment is confirmed.
    pub status: String,
    #[oai(nullable)]
    pub subscription_id: Option<String>,
    #[oai(nullable)]
    pub external_subscription_id: Option<String>,
    pub receipt: Receipt,
    pub message: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct UsedOf {
    pub used: u64,
    /// `null`: unlimited.
    #[oai(nullable)]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct AiWritingUsage {
    /// AI writing requests in the current window.
    pub sessions_used: u64,
    /// Words sent for AI writing assistance in the current window.
    pub words_processed: u64,
    #[oai(nullable)]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct FeatureFlags {
    pub unrestricted_content: bool,
    pub writers_guild_access: bool,
    pub priority_support: bool,
    pub tactical_access: bool,
}

/// The app's `getUsageSummary` shape.
#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct UsageSummary {
    pub user_id: String,
    pub tier: Tier,
    pub images_generated: u64,
    pub music_generated: u64,
    pub ai_chat_messages: u64,
    /// The billing period, or the calendar month for users without one.
    pub current_period: Period,
    pub chat: UsedOf,
    pub image_generation: UsedOf,
    pub music_generation: UsedOf,
    pub ai_writing: AiWritingUsage,
    pub features: FeatureFlags,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct WebhookAck {
    pub received: bool,
    /// The event was seen before and changed nothing this time.
    pub duplicate: bool,
    /// What the event did, e.g. `activated premium for u1`.
    pub effect: String,
}
