//! The last step every provider shares: mix parts to stereo with headroom and a limiter, then
//! encode the full mix and a 30-second preview as MP3.

use crate::audio::{AudioError, MixTrack, SAMPLE_RATE, encode_mp3_stereo, mix_stereo};

/// Length of the preview clip.
pub const PREVIEW_SECS: f64 = 30.0;
const FADE_SECS: f64 = 1.5;
const MIX_KBPS: u32 = 192;
const PREVIEW_KBPS: u32 = 128;

pub struct MixedAudio {
    pub mix_mp3: Vec<u8>,
    pub preview_mp3: Vec<u8>,
    pub duration_secs: f64,
}

pub fn mix_and_encode(tracks: &[MixTrack]) -> Result<MixedAudio, AudioError> {
    let (left, right) = mix_stereo(tracks);
    let duration_secs = left.len() as f64 / f64::from(SAMPLE_RATE);
    let mix_mp3 = encode_mp3_stereo(&left, &right, SAMPLE_RATE, MIX_KBPS)?;
    let preview_len = left.len().min((PREVIEW_SECS * f64::from(SAMPLE_RATE)) as usize);
    let (mut pl, mut pr) = (left[..preview_len].to_vec(), right[..preview_len].to_vec());
    if preview_len < left.len() {
        fade_out(&mut pl);
        fade_out(&mut pr);
    }
    let preview_mp3 = encode_mp3_stereo(&pl, &pr, SAMPLE_RATE, PREVIEW_KBPS)?;
    Ok(MixedAudio { mix_mp3, preview_mp3, duration_secs })
}

/// A linear fade over the last seconds, so a cut preview does not end in a click.
fn fade_out(samples: &mut [f32]) {
    let n = ((FADE_SECS * f64::from(SAMPLE_RATE)) as usize).min(samples.len());
    let start = samples.len() - n;
    for (i, s) in samples[start..].iter_mut().enumerate() {
        *s *= 1.0 - i as f32 / n as f32;
    }
}
