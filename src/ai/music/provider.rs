//! The `MusicProvider` trait and what a generation produces.

use super::composer::MusicParams;
use crate::ai::readiness::Readiness;
use crate::audio::AudioFormat;
use crate::error::AppResult;

pub struct GeneratedStem {
    pub instrument: String,
    pub bytes: Vec<u8>,
    pub format: AudioFormat,
    pub duration_secs: f64,
}

pub struct GeneratedMusic {
    pub stems: Vec<GeneratedStem>,
    /// The score, when the provider writes one.
    pub midi: Option<Vec<u8>>,
    pub mix_mp3: Vec<u8>,
    pub preview_mp3: Vec<u8>,
    pub duration_secs: f64,
    pub model: String,
    pub bpm: Option<u32>,
    pub key: Option<String>,
}

#[async_trait::async_trait]
pub trait MusicProvider: Send + Sync {
    fn name(&self) -> &'static str;

    /// Failures are clear errors: `provider_busy` (503), `provider_failed` (502),
    /// `provider_unconfigured` (503), or a 400 for parameters the provider cannot use.
    async fn generate(&self, params: MusicParams) -> AppResult<GeneratedMusic>;

    /// Whether it can generate now (see [`crate::ai::readiness`]); sends at most one cheap request.
    async fn ready(&self) -> Readiness;
}


