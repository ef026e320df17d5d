//! Premium image generation: requests and answers.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use crate::features::subscription::model::Usage;

/// Images in a page of a user's history when the request names no `limit` (at most
/// `Page::MAX_LIMIT`).
pub const PER_PAGE: u32 = 20;

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "PremiumGenerateImage", rename_all = "camelCase")]
pub struct GenerateImage {
    #[oai(validator(max_length = 255))]
    pub user_id: String,
    /// What to draw, 1 to 4000 characters once trimmed (400 `invalid_field` beyond); the
    /// schema's 4096 leaves room for surrounding whitespace.
    #[oai(validator(max_length = 4096))]
    pub prompt: String,
    /// 1024x1024 (default), 1024x1792 or 1792x1024.
    #[oai(validator(max_length = 32))]
    pub size: Option<String>,
    /// vivid (default) or natural.
    #[oai(validator(max_length = 32))]
    pub style: Option<String>,
    /// standard (default) or hd.
    #[oai(validator(max_length = 32))]
    pub quality: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "PremiumImage", rename_all = "camelCase")]
pub struct ImageGeneration {
    pub generation_id: String,
    pub user_id: String,
    pub prompt: String,
    /// The prompt as the provider rewrote it.
    #[oai(nullable)]
    pub revised_prompt: Option<String>,
    pub size: String,
    pub style: String,
    pub quality: String,
    pub model: String,
    /// The PNG, playable without a token (signed unless the bucket is public).
    pub image_url: String,
    /// A PNG that fits in 256 px on its long side.
    pub thumbnail_url: String,
    /// The same thumbnail as (lossless) WebP.
    pub thumbnail_webp_url: String,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of the original PNG.
    pub sha256: String,
    /// What reproduces the image with the same provider (the offline one has one).
    #[oai(nullable)]
    pub seed: Option<String>,
    pub status: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "PremiumGenerated", rename_all = "camelCase")]
pub struct Generated {
    #[oai(flatten)]
    #[serde(flatten)]
    pub generation: ImageGeneration,
    /// The user's image generation quota after this one.
    pub usage: Usage,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "PremiumImageHistory", rename_all = "camelCase")]
pub struct ImageHistory {
    pub images: Vec<ImageGeneration>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "PremiumImageDeleted", rename_all = "camelCase")]
pub struct Deleted {
    pub generation_id: String,
    pub deleted: bool,
}
