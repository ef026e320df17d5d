//! The OpenAI Images API (`images/generations`), or any server that speaks it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;

use super::{GeneratedImage, ImageProvider, ImageQuality, ImageRequest, ImageStyle};
use crate::ai::openai_http::OpenAiHttp;
use crate::ai::readiness::Readiness;
use crate::config::OpenAiConfig;
use crate::error::{AppError, AppResult};
use crate::imaging::images::{self, ImageLimits};

pub struct OpenAiImages {
    http: OpenAiHttp,
    /// What the provider's answer may be: it is decoded like any untrusted image.
    limits: ImageLimits,
}

#[derive(Deserialize)]
struct Generation {
    data: Vec<Datum>,
}

#[derive(Deserialize)]
struct Datum {
    b64_json: Option<String>,
    revised_prompt: Option<String>,
}

impl OpenAiImages {
    pub fn new(config: OpenAiConfig, limits: ImageLimits) -> Self {
        Self { http: OpenAiHttp::new(config, "image provider"), limits }
    }
}

#[async_trait::async_trait]
impl ImageProvider for OpenAiImages {
    fn model(&self) -> &str {
        &self.http.config.image_model
    }

    async fn generate(&self, request: ImageRequest) -> AppResult<GeneratedImage> {
        if self.http.config.image_model.is_empty() {
            return Err(AppError::unavailable("provider_unconfigured", "the image provider has no model: set ai.openai.image_model"));
        }
        let body = json!({
            "model": self.http.config.image_model,
            "prompt": request.prompt,
            "n": 1,
            "size": format!("{}x{}", request.width, request.height),
            "style": match request.style { ImageStyle::Vivid => "vivid", ImageStyle::Natural => "natural" },
            "quality": match request.quality { ImageQuality::Standard => "standard", ImageQuality::Hd => "hd" },
            "response_format": "b64_json",
        });
        let text = match self.http.post("images/generations", &body).await? {
            Ok(text) => text,
            // A refusal of the prompt is the caller's to fix, not an outage.
            Err(f) if f.status == 400 && f.code.as_deref() == Some("content_policy_violation") => {
                return Err(AppError::Unprocessable {
                    code: "content_policy",
                    message: format!("the image provider refused the prompt: {}", f.message),
                    details: Some(json!({ "field": "prompt" })),
                });
            }
            Err(f) => return Err(self.http.error(f)),
        };
        let generation: Generation =
            serde_json::from_str(&text).map_err(|e| self.http.failed(format_args!("answered with an unreadable generation: {e}")))?;
        let datum = generation.data.into_iter().next().ok_or_else(|| self.http.failed("answered with no image"))?;
        let encoded = datum.b64_json.ok_or_else(|| self.http.failed("answered without b64_json"))?;
        let bytes = STANDARD.decode(encoded.trim()).map_err(|_| self.http.failed("answered with an image that is not base64"))?;
        let limits = self.limits;
        let decoded = tokio::task::spawn_blocking(move || images::decode_untrusted(&bytes, limits))
            .await
            .map_err(AppError::internal)?
            .map_err(|e| self.http.failed(format_args!("answered with an unusable image: {e}")))?;
        Ok(GeneratedImage {
            image: decoded.image,
            model: self.http.config.image_model.clone(),
            revised_prompt: datum.revised_prompt,
            seed: None,
        })
    }

    async fn ready(&self) -> Readiness {
        self.http.ready(&self.http.config.image_model, "image_model").await
    }
}
