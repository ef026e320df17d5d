use std::sync::Arc;

use poem::web::Data;
use poem::{Request, handler};
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;

use super::model::*;
use crate::rest::{ApiTags, JsonBody};
use crate::features::subscription::SubscriptionService;
use crate::auth::BearerAuth;
use crate::error::{AppError, AppResult};

pub struct SubscriptionApi;

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Subscription")]
impl SubscriptionApi {
    /// A user's tier, limits, usage and prices
    ///
    /// Every limited quota says `used`, `limit` (`null` = unlimited), `remaining` and
    /// `resetAt` (calendar windows in UTC).
    #[oai(path = "/subscription/tier/:user_id", method = "get")]
    async fn tier(&self, subscriptions: Data<&Arc<SubscriptionService>>, auth: BearerAuth, user_id: Path<String>) -> AppResult<Json<TierInfo>> {
        Ok(Json(subscriptions.tier_info(&auth.0, &user_id).await?))
    }

    /// Whether a user may use a feature now
    #[oai(path = "/subscription/check-access/:user_id/:feature", method = "get")]
    async fn check_access(
        &self,
        subscriptions: Data<&Arc<SubscriptionService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        feature: Path<String>,
    ) -> AppResult<Json<AccessCheck>> {
        Ok(Json(subscriptions.check_access(&auth.0, &user_id, &feature).await?))
    }

    /// Whether a user may use a feature now (the app's spelling)
    #[oai(path = "/subscription/check-access", method = "post", deprecated)]
    async fn check_access_post(&self, subscriptions: Data<&Arc<SubscriptionService>>, auth: BearerAuth, body: JsonBody<CheckAccessRequest>) -> AppResult<Json<AccessCheck>> {
        Ok(Json(subscriptions.check_access(&auth.0, &body.0.user_id, &body.0.feature).await?))
    }

    /// Record use of a metered feature
    ///
    /// Refused with 429 `quota_exceeded` (and `Retry-After` until the reset) when it would pass
    /// the limit, or 403 `upgrade_required` when the tier does not include the feature.
    #[oai(path = "/subscription/track-usage", method = "post")]
    async fn track_usage(&self, subscriptions: Data<&Arc<SubscriptionService>>, auth: BearerAuth, body: JsonBody<TrackUsageRequest>) -> AppResult<Json<TrackUsageResult>> {
        Ok(Json(subscriptions.track_usage(&auth.0, body.0).await?))
    }

    /// Change a user's tier
    ///
    /// Admin and service tokens change any tier at once. Users: with the `manual` payment
    /// provider, 403 (an operator changes tiers); with `stripe`, an upgrade charges the given
    /// `paymentMethod` and is activated by Stripe's webhook (`status: pending` until then), and
    /// a downgrade to free applies at once. Downgrades keep data; limits apply to new actions.
    #[oai(path = "/subscription/upgrade", method = "post")]
    async fn upgrade(&self, subscriptions: Data<&Arc<SubscriptionService>>, auth: BearerAuth, body: JsonBody<UpgradeRequest>) -> AppResult<Json<UpgradeResult>> {
        Ok(Json(subscriptions.upgrade(&auth.0, body.0).await?))
    }

    /// A user's usage summary (the app's getUsageSummary)
    #[oai(path = "/premium/usage/:user_id", method = "get")]
    async fn usage(&self, subscriptions: Data<&Arc<SubscriptionService>>, auth: BearerAuth, user_id: Path<String>) -> AppResult<Json<UsageSummary>> {
        Ok(Json(subscriptions.usage_summary(&auth.0, &user_id).await?))
    }
}

/// `POST /api/subscription/webhook/stripe`: Stripe's events, authenticated by their
/// `Stripe-Signature` over the raw body (so it is not a JSON-parsing operation).
#[handler]
pub async fn stripe_webhook(
    req: &Request,
    subscriptions: Data<&Arc<SubscriptionService>>,
    body: poem::Body,
) -> poem::Result<poem::web::Json<WebhookAck>> {
    let bytes = body
        .into_bytes_limit(1024 * 1024)
        .await
        .map_err(|e| AppError::bad_request("invalid_body", format!("cannot read the event: {e}")))?;
    let signature = req.headers().get("stripe-signature").and_then(|v| v.to_str().ok());
    Ok(poem::web::Json(subscriptions.stripe_webhook(signature, &bytes).await?))
}
