//! Premium image generation's REST skin.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::model::*;
use crate::rest::{ApiTags, JsonBody};
use crate::features::premium::PremiumService;
use crate::auth::BearerAuth;
use crate::error::AppResult;

pub struct PremiumApi;

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Created(Json<Generated>),
}

fn per_page() -> u32 {
    PER_PAGE
}

#[OpenApi(prefix_path = "/api/premium/image", tag = "ApiTags::Premium")]
impl PremiumApi {
    /// Generate an image
    ///
    /// Gated and charged by the subscription (free: 1 a week; premium: 20 a month; unlimited:
    /// no limit): 403 `upgrade_required` or 429 `quota_exceeded`, and a failed generation
    /// charges nothing. The configured provider draws it (`ai.image_provider`: `local`
    /// procedural artwork offline, or `openai`); a prompt the provider refuses is 422
    /// `content_policy`. Stores `original.png`, `thumbnail.png` and `.webp` (256 px on the long
    /// side) and `metadata.json` under `users/{userId}/generations/{generationId}/`.
    #[oai(path = "/generate", method = "post")]
    async fn generate(&self, premium: Data<&Arc<PremiumService>>, auth: BearerAuth, body: JsonBody<GenerateImage>) -> AppResult<Created> {
        Ok(Created::Created(Json(premium.generate(&auth.0, body.0).await?)))
    }

    /// A user's generated images, newest first
    #[oai(path = "/history/:user_id", method = "get")]
    async fn history(
        &self,
        premium: Data<&Arc<PremiumService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        /// 1 to 200 (`Page::MAX_LIMIT`, which the service checks)
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<ImageHistory>> {
        Ok(Json(premium.history(&auth.0, &user_id, limit.0, offset.0).await?))
    }

    /// A generated image
    #[oai(path = "/:generation_id", method = "get")]
    async fn get(&self, premium: Data<&Arc<PremiumService>>, auth: BearerAuth, generation_id: Path<String>) -> AppResult<Json<ImageGeneration>> {
        Ok(Json(premium.get(&auth.0, &generation_id).await?))
    }

    /// Delete a generated image (its files and its row; the quota stays used)
    #[oai(path = "/:generation_id", method = "delete")]
    async fn delete(&self, premium: Data<&Arc<PremiumService>>, auth: BearerAuth, generation_id: Path<String>) -> AppResult<Json<Deleted>> {
        Ok(Json(premium.delete(&auth.0, &generation_id).await?))
    }
}
