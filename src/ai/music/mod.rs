//! Music generation: the `MusicProvider` trait; the offline provider (an algorithmic composer,
//! a MIDI writer and a synthesizer); MusicGen through Hugging Face; the shared mix step.

pub mod composer;
pub mod huggingface;
pub mod local;
pub mod midi;
pub mod provider;
pub mod render;
pub mod synth;

pub use provider::{GeneratedMusic, GeneratedStem, MusicProvider, from_config};
