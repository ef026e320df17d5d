//! 16-bit PCM WAV writing.

use std::io::Cursor;

use hound::{SampleFormat, WavSpec, WavWriter};

/// Samples converted and handed to hound at a time (its internal buffer is reused).
const BLOCK: usize = 16 * 1024;

/// Size of the canonical header hound writes for 16-bit mono PCM.
const HEADER_LEN: usize = 44;

/// The most 16-bit samples a WAV file can hold: its sizes are 32-bit byte counts.
const MAX_SAMPLES: usize = (u32::MAX as usize - HEADER_LEN) / 2;

/// 16-bit PCM mono WAV bytes of `samples` (expected in -1..=1; clamped).
///
/// Samples are scaled by 32767 and rounded; NaN becomes silence. `sample_rate` must be non-zero
/// (it is written as is). Input beyond the format's 4 GiB limit (about 13.5 hours at 44.1 kHz)
/// is cut there.
pub fn encode_wav_mono16(samples: &[f32], sample_rate: u32) -> Vec<u8> {
    let samples = &samples[..samples.len().min(MAX_SAMPLES)];
    let spec = WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: SampleFormat::Int };
    let mut out = Vec::with_capacity(HEADER_LEN + samples.len() * 2);
    let mut writer = WavWriter::new(Cursor::new(&mut out), spec).expect("16-bit mono is a spec hound writes");
    for block in samples.chunks(BLOCK) {
        // The block length is at most BLOCK, so the cast cannot truncate.
        let mut block_writer = writer.get_i16_writer(block.len() as u32);
        for &s in block {
            block_writer.write_sample(to_i16(s));
        }
        block_writer.flush().expect("writing to memory cannot fail");
    }
    writer.finalize().expect("writing to memory cannot fail");
    out
}

/// Clamps to -1..=1 and scales to the 16-bit range (NaN → 0, as `as` saturates NaN to 0).
#[inline]
fn to_i16(s: f32) -> i16 {
    (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_samples_are_canonical_pcm() {
        let bytes = encode_wav_mono16(&[0.0, 1.0, -1.0, 2.0, -2.0, 0.5, f32::NAN], 22_050);
        assert_eq!(bytes.len(), HEADER_LEN + 7 * 2);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize, bytes.len() - 8);
        assert_eq!(&bytes[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), 1, "PCM");
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1, "mono");
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 22_050);
        assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 16, "bits per sample");
        assert_eq!(&bytes[36..40], b"data");
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 14);
        let pcm: Vec<i16> = bytes[44..].chunks(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        assert_eq!(pcm, [0, 32767, -32767, 32767, -32767, 16384, 0]);
    }

    #[test]
    fn long_input_spans_several_blocks() {
        let samples: Vec<f32> = (0..BLOCK * 2 + 123).map(|i| if i % 2 == 0 { 0.25 } else { -0.25 }).collect();
        let bytes = encode_wav_mono16(&samples, 44_100);
        assert_eq!(bytes.len(), HEADER_LEN + samples.len() * 2);
        let last = &bytes[bytes.len() - 2..];
        assert_eq!(i16::from_le_bytes([last[0], last[1]]), 8192, "the last sample (index even) is +0.25");
    }
}
