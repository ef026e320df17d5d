//! The audio toolkit of the Music Studio: recognise and measure uploaded audio, decode it to
//! samples, mix parts to stereo and encode WAV stems and MP3 mixes.
//!
//! Samples are `f32` in `-1.0..=1.0`; the studio works at [`SAMPLE_RATE`]. Everything here is
//! synchronous CPU work: call it off the async runtime (`spawn_blocking`).
//!
//! - [`wav`]: 16-bit PCM WAV writing (hound);
//! - [`mp3`]: MP3 encoding (LAME, through `mp3lame-encoder`; LAME is LGPL);
//! - [`probe`]: format detection by content, duration measurement and decoding (symphonia);
//! - [`mix`]: the stereo mixer with its limiter, and level meters.

pub mod mix;
pub mod mp3;
pub mod probe;
pub mod wav;

pub use mix::{MixTrack, mix_stereo, peak, rms};
pub use mp3::encode_mp3_stereo;
pub use probe::{AudioFormat, AudioInfo, decode_mono, probe};
pub use wav::encode_wav_mono16;

/// The sample rate the studio renders, mixes and decodes to.
pub const SAMPLE_RATE: u32 = 44_100;

/// Why audio could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The bytes are not audio in a format the toolkit reads (or use a codec it lacks).
    #[error("not a supported audio file: {0}")]
    Unsupported(String),
    /// The bytes look like a supported format but are damaged, truncated or hold no audio.
    #[error("the audio could not be decoded: {0}")]
    Corrupt(String),
    /// The encoder refused its parameters or its input.
    #[error("audio encoding failed: {0}")]
    Encode(String),
}
