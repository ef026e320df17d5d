//! `r3al.subscription.*` and `r3al.premium.getUsageSummary` in the app's shapes.

use serde_json::{Value, json};

use super::shape::{UserInput, WithMessage, input, object, rename, signed_in, success, success_in};
use crate::services::Services;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::features::subscription::model::{CheckAccessRequest, TrackUsageRequest, UpgradeRequest};
use crate::features::subscription::plan::Tier;

/// The app's name for a tier: it calls `unlimited` `tactical`.
fn app_tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Unlimited => "tactical",
        other => other.as_str(),
    }
}

pub async fn get_user_tier(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let UserInput { user_id } = input(raw)?;
    let info = state.subscriptions.tier_info(&caller, &user_id).await?;
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
                "aiWritingAccess": state.subscriptions.facts(info.tier).ai_writing,
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

pub async fn check_feature_access(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let r: CheckAccessRequest = input(raw)?;
    let check = state.subscriptions.check_access(&caller, &r.user_id, &r.feature).await?;
    let mut output = object(&check)?;
    rename(&mut output, &[("resetAt", "resetDate")]);
    output.insert("tierName".into(), app_tier_name(check.tier).into());
    success(output)
}

pub async fn track_usage(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let request: TrackUsageRequest = input(raw)?;
    let amount = request.amount;
    let output = state.subscriptions.track_usage(&caller, request).await?;
    let message = format!("recorded {amount} {}", output.feature);
    success(WithMessage { output, message })
}

pub async fn upgrade_tier(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let r = state.subscriptions.upgrade(&caller, input::<UpgradeRequest>(raw)?).await?;
    let mut output = object(&r)?;
    output.insert("tier".into(), app_tier_name(r.tier).into());
    success(output)
}

pub async fn usage_summary(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let UserInput { user_id } = input(raw)?;
    let summary = state.subscriptions.usage_summary(&caller, &user_id).await?;
    let mut usage = object(&summary)?;
    usage.insert("tier".into(), app_tier_name(summary.tier).into());
    success_in("usage", usage)
}
