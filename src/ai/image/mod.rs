//! Image generation behind the `ImageProvider` trait: offline procedural artwork by default,
//! the OpenAI Images API when configured.

mod local;
mod openai;
pub mod procedural;
use std::sync::Arc;

pub use local::LocalImages;
pub use openai::OpenAiImages;
pub use procedural::ImageStyle;

use crate::ai::readiness::Readiness;
use crate::config::{AiConfig, ImageProviderKind};
use crate::error::AppResult;
use crate::imaging::images::ImageLimits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageQuality {
    Standard,
    Hd,
}

#[derive(Debug, Clone)]
pub struct ImageRequest {
    pub prompt: String,
    pub width: u32,
    pub height: u32,
    pub style: ImageStyle,
    pub quality: ImageQuality,
}

pub struct GeneratedImage {
    pub image: image::DynamicImage,
    pub model: String,
    /// The prompt as the provider rewrote it (OpenAI's DALL·E 3 does).
    pub revised_prompt: Option<String>,
    /// What reproduces the image, when the provider has one.
    pub seed: Option<u64>,
}

#[async_trait::async_trait]
pub trait ImageProvider: Send + Sync {
    fn model(&self) -> &str;

    /// Failures are clear errors: `content_policy` (422, the provider refused the prompt),
    /// `provider_busy` (503 with Retry-After), `provider_failed` (502), `provider_unconfigured` (503).
    async fn generate(&self, request: ImageRequest) -> AppResult<GeneratedImage>;

    /// Whether it can generate now (see [`crate::ai::readiness`]); sends at most one cheap request.
    async fn ready(&self) -> Readiness;
}

/// The configured provider. `limits` bound what a remote provider's answer may decode to.
pub fn from_config(config: &AiConfig, limits: ImageLimits) -> Arc<dyn ImageProvider> {
    match config.image_provider {
        ImageProviderKind::Local => Arc::new(LocalImages),
        ImageProviderKind::Openai => Arc::new(OpenAiImages::new(config.openai.clone(), limits)),
    }
}
