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

/// A step of a generation as the provider takes it, for whoever watches the generation.
#[derive(Debug, Clone, PartialEq)]
pub enum MusicStep {
    /// Writing the score.
    Composing,
    /// One part rendered to audio: `done` of `total`.
    Rendered { part: String, done: usize, total: usize },
    /// Waiting for a remote model's audio.
    Generating,
    /// Mixing and encoding the playable files.
    Encoding,
}

impl MusicStep {
    /// As a generation event carries it (`status` and the step's own fields).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            MusicStep::Composing => serde_json::json!({ "status": "composing" }),
            MusicStep::Rendered { part, done, total } => serde_json::json!({ "status": "rendered", "part": part, "partsDone": done, "partsTotal": total }),
            MusicStep::Generating => serde_json::json!({ "status": "generating" }),
            MusicStep::Encoding => serde_json::json!({ "status": "encoding" }),
        }
    }
}

/// Where a provider reports its steps; a handful per generation, sent from blocking code too.
#[derive(Clone)]
pub struct Steps(Option<tokio::sync::mpsc::UnboundedSender<MusicStep>>);

impl Steps {
    /// Steps sent to the returned receiver.
    pub fn channel() -> (Self, tokio::sync::mpsc::UnboundedReceiver<MusicStep>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self(Some(tx)), rx)
    }

    /// Steps nobody watches (benchmarks, tools).
    pub fn unwatched() -> Self {
        Self(None)
    }

    pub fn send(&self, step: MusicStep) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(step);
        }
    }
}

#[async_trait::async_trait]
pub trait MusicProvider: Send + Sync {
    fn name(&self) -> &'static str;

    /// Failures are clear errors: `provider_busy` (503), `provider_failed` (502),
    /// `provider_unconfigured` (503), or a 400 for parameters the provider cannot use.
    /// Reports its steps to `steps` as it takes them.
    async fn generate(&self, params: MusicParams, steps: Steps) -> AppResult<GeneratedMusic>;

    /// Whether it can generate now (see [`crate::ai::readiness`]); sends at most one cheap request.
    async fn ready(&self) -> Readiness;
}


