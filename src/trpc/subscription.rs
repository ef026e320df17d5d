//! `r3al.subscription.*` and `r3al.premium.getUsageSummary` in the app's shapes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::procedures::{input, signed_in, success};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::features::subscription::model::{BillingPeriod, TrackUsageRequest, UpgradeRequest};
use crate::features::subscription::plan::{AiWritingLevel, Tier};

/// The app's name for a tier: it calls `unlimited` `tactical`.
fn app_tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Unlimited => "tactical",
        other => other.as_str(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserInput {
    user_id: String,
}

pub async fn get_user_tier(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: UserInput = input(raw)?;
    let info = state.subscriptions.tier_info(&caller, &i.user_id).await?;
    let l = &info.limits;
    success(json!({
        "data": {
            "userId": info.user_id,
            "tier": {
                "tierId": info.tier.as_str(),
                "tierName": app_tier_name(info.tier),
                "displayName": info.display_name,
                "description": info.description,
                "priceMonthly": info.prices.monthly,
                "priceYearly": info.prices.yearly,
                "chatLimit": l.ai_chat.limit,
                "imageGenerationLimit": l.image_generation.limit,
                "aiWritingAccess": l.ai_writing_level != AiWritingLevel::None,
                "unrestrictedContent": l.unrestricted_content,
                "writersGuildAccess": l.writers_guild,
                "tacticalFeatures": l.tactical,
                "prioritySupport": l.priority_processing,
            },
            "subscription": {
                "subscriptionId": info.subscription_id,
                "status": info.status,
                "billingPeriod": info.billing_period,
                "currentPeriodStart": info.current_period_start,
                "currentPeriodEnd": info.current_period_end,
                "chatUsageThisPeriod": info.usage.ai_chat.used,
                "imageGenerationUsageThisPeriod": info.usage.image_generation.used,
            }
        }
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FeatureInput {
    user_id: String,
    feature: String,
}

pub async fn check_feature_access(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: FeatureInput = input(raw)?;
    let check = state.subscriptions.check_access(&caller, &i.user_id, &i.feature).await?;
    success(json!({
        "hasAccess": check.has_access,
        "usageRemaining": check.usage_remaining,
        "resetDate": check.reset_at,
        "tierName": app_tier_name(check.tier),
        "reason": check.reason,
        "upgradeRequired": check.upgrade_required,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TrackInput {
    user_id: String,
    feature_type: String,
    #[serde(default = "one")]
    count: u64,
}

fn one() -> u64 {
    1
}

pub async fn track_usage(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: TrackInput = input(raw)?;
    let r = state
        .subscriptions
        .track_usage(&caller, TrackUsageRequest { user_id: i.user_id, feature: i.feature_type, amount: i.count })
        .await?;
    success(json!({
        "message": format!("recorded {} {}", i.count, r.feature),
        "newUsage": r.new_usage,
        "limitReached": r.limit_reached,
        "remaining": r.remaining,
        "resetAt": r.reset_at,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpgradeInput {
    user_id: String,
    target_tier: String,
    billing_period: Option<BillingPeriod>,
    payment_method: Option<String>,
}

pub async fn upgrade_tier(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: UpgradeInput = input(raw)?;
    let r = state
        .subscriptions
        .upgrade(
            &caller,
            UpgradeRequest { user_id: i.user_id, new_tier: i.target_tier, payment_method: i.payment_method, billing_period: i.billing_period },
        )
        .await?;
    success(json!({
        "message": r.message,
        "subscriptionId": r.subscription_id,
        "externalSubscriptionId": r.external_subscription_id,
        "tier": app_tier_name(r.tier),
        "status": r.status,
        "receipt": r.receipt,
    }))
}

pub async fn usage_summary(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: UserInput = input(raw)?;
    let s = state.subscriptions.usage_summary(&caller, &i.user_id).await?;
    success(json!({
        "usage": {
            "userId": s.user_id,
            "currentPeriod": s.current_period,
            "chat": s.chat,
            "imageGeneration": s.image_generation,
            "musicGeneration": s.music_generation,
            "aiWriting": s.ai_writing,
            "tier": app_tier_name(s.tier),
            "features": s.features,
        }
    }))
}
