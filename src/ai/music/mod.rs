//! Music generation: the `MusicProvider` trait; the offline provider (an algorithmic composer,
//! a MIDI writer and a synthesizer); MusicGen through Hugging Face; the shared mix step.

pub mod composer;
pub mod huggingface;
pub mod local;
pub mod midi;
pub mod provider;
pub mod render;
pub mod synth;

pub use provider::{GeneratedMusic, GeneratedStem, MusicProvider, MusicStep, Steps};

use std::sync::Arc;

use crate::config::{AiConfig, MusicProviderKind};

/// The music provider `ai.music_provider` names.
pub fn from_config(config: &AiConfig) -> Arc<dyn MusicProvider> {
    match config.music_provider {
        MusicProviderKind::Local => Arc::new(local::LocalMusic),
        MusicProviderKind::Huggingface => Arc::new(huggingface::HuggingFaceMusic::new(config.huggingface.clone())),
    }
}
