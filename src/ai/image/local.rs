//! The offline image provider: procedural artwork painted from the prompt's words.

use super::procedural;
use super::{GeneratedImage, ImageProvider, ImageRequest};
use crate::ai::readiness::Readiness;
use crate::error::{AppError, AppResult};

pub const LOCAL_IMAGE_MODEL: &str = "optima-procedural-v1";

pub struct LocalImages;

#[async_trait::async_trait]
impl ImageProvider for LocalImages {
    fn model(&self) -> &str {
        LOCAL_IMAGE_MODEL
    }

    async fn generate(&self, request: ImageRequest) -> AppResult<GeneratedImage> {
        let art = tokio::task::spawn_blocking(move || procedural::paint(&request.prompt, request.style, request.width, request.height))
            .await
            .map_err(AppError::internal)?;
        Ok(GeneratedImage { image: image::DynamicImage::ImageRgb8(art.image), model: LOCAL_IMAGE_MODEL.into(), revised_prompt: None, seed: Some(art.seed) })
    }

    async fn ready(&self) -> Readiness {
        Readiness::Ready("offline".into())
    }
}
