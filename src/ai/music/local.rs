//! The offline provider: the algorithmic composer writes MIDI, the synthesizer renders each
//! part to a WAV stem, and the parts are mixed to MP3.

use super::composer::{Composition, MusicParams, Part, compose};
use super::render::mix_and_encode;
use super::{GeneratedMusic, GeneratedStem, MusicProvider, MusicStep, Steps, midi, synth};
use crate::audio::{AudioFormat, MixTrack, SAMPLE_RATE, encode_wav_mono16};
use crate::ai::readiness::Readiness;
use crate::error::{AppError, AppResult};

pub struct LocalMusic;

pub const MODEL: &str = "optima-composer";

/// Level and stereo position of each part in the mix.
fn placement(part: Part) -> (f32, f32) {
    match part {
        Part::Drums => (0.9, 0.0),
        Part::Bass => (0.8, 0.0),
        Part::Chords => (0.55, -0.3),
        Part::Lead => (0.65, 0.25),
    }
}

/// Composes and renders synchronously (CPU work: call it off the async runtime).
pub fn generate_blocking(params: &MusicParams, steps: &Steps) -> AppResult<GeneratedMusic> {
    steps.send(MusicStep::Composing);
    let composition: Composition = compose(params).map_err(|e| AppError::bad_request("invalid_music_params", e))?;
    let playing: Vec<Part> = Part::ALL.into_iter().filter(|part| composition.notes.iter().any(|n| n.part == *part)).collect();
    let parts: Vec<(Part, Vec<f32>)> = playing
        .iter()
        .enumerate()
        .map(|(i, &part)| {
            let samples = synth::render_part(&composition, part, SAMPLE_RATE);
            steps.send(MusicStep::Rendered { part: part.as_str().to_owned(), done: i + 1, total: playing.len() });
            (part, samples)
        })
        .collect();
    steps.send(MusicStep::Encoding);
    let tracks: Vec<MixTrack> = parts
        .iter()
        .map(|(part, samples)| {
            let (gain, pan) = placement(*part);
            MixTrack { samples, gain, pan }
        })
        .collect();
    let mixed = mix_and_encode(&tracks).map_err(|e| AppError::internal(format!("encoding the mix: {e}")))?;
    let stems = parts
        .iter()
        .map(|(part, samples)| GeneratedStem {
            instrument: part.as_str().to_owned(),
            bytes: encode_wav_mono16(samples, SAMPLE_RATE),
            format: AudioFormat::Wav,
            duration_secs: samples.len() as f64 / f64::from(SAMPLE_RATE),
        })
        .collect();
    Ok(GeneratedMusic {
        stems,
        midi: Some(midi::to_midi(&composition)),
        mix_mp3: mixed.mix_mp3,
        preview_mp3: mixed.preview_mp3,
        duration_secs: mixed.duration_secs,
        model: MODEL.to_owned(),
        bpm: Some(composition.bpm),
        key: Some(composition.key_name.clone()),
    })
}

#[async_trait::async_trait]
impl MusicProvider for LocalMusic {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn generate(&self, params: MusicParams, steps: Steps) -> AppResult<GeneratedMusic> {
        tokio::task::spawn_blocking(move || generate_blocking(&params, &steps)).await.map_err(AppError::internal)?
    }

    async fn ready(&self) -> Readiness {
        Readiness::Ready("offline".into())
    }
}
