//! MP3 encoding with LAME (through `mp3lame-encoder`; LAME is LGPL).

use mp3lame_encoder::{Bitrate, Builder, DualPcm, Encoder, FlushGap, Quality, max_required_buffer_size};

use super::AudioError;

/// Frames handed to LAME per call; the sanitised copies of each block reuse two buffers.
const BLOCK: usize = 8 * 1024;

/// Room LAME asks for when flushing its last frames.
const FLUSH_ROOM: usize = 7200;

/// Stereo MP3 (CBR, `kbps` e.g. 192) of two equal-length channels at `sample_rate`.
///
/// `kbps` must be one of the MP3 bitrates 8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192,
/// 224, 256 or 320. Samples are clamped to -1..=1 (NaN becomes silence). LAME picks the output
/// rate for the bitrate (44.1 kHz stays 44.1 kHz from 96 kbps up). The file starts with a
/// LAME "Info" frame that records the frame count and the encoder delay and padding, so
/// players and [`probe`](super::probe()) trim the encoder's silence and measure it exactly.
/// Empty or unequal channels, a zero sample rate and other bitrates are refused.
pub fn encode_mp3_stereo(left: &[f32], right: &[f32], sample_rate: u32, kbps: u32) -> Result<Vec<u8>, AudioError> {
    if left.len() != right.len() {
        return Err(AudioError::Encode(format!(
            "the channels differ in length ({} and {} samples)",
            left.len(),
            right.len()
        )));
    }
    if left.is_empty() {
        return Err(AudioError::Encode("there are no samples to encode".into()));
    }
    if sample_rate == 0 {
        return Err(AudioError::Encode("the sample rate is zero".into()));
    }
    let mut encoder = build_encoder(sample_rate, bitrate(kbps)?)?;

    let seconds = left.len() as u64 / u64::from(sample_rate) + 1;
    let estimate = seconds * u64::from(kbps) * 1000 / 8 + FLUSH_ROOM as u64;
    let mut out = Vec::with_capacity(usize::try_from(estimate).unwrap_or(0));
    let (mut l, mut r) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    for (cl, cr) in left.chunks(BLOCK).zip(right.chunks(BLOCK)) {
        let n = cl.len();
        sanitise(cl, &mut l[..n]);
        sanitise(cr, &mut r[..n]);
        // LAME writes into the vector's spare capacity (`encode_to_vec` is the crate's safe
        // form of `encode(input, out.spare_capacity_mut())` followed by `set_len`).
        out.reserve(max_required_buffer_size(n));
        encoder.encode_to_vec(DualPcm { left: &l[..n], right: &r[..n] }, &mut out).map_err(lame)?;
    }
    // `FlushGap` (lame_encode_flush) encodes the samples still buffered inside LAME and pads the
    // last frame; `FlushNoGap` (lame_encode_flush_nogap) only empties the bit reservoir, which
    // would drop the last ~50 ms and leave the padding in the LAME tag unset.
    out.reserve(FLUSH_ROOM);
    encoder.flush_to_vec::<FlushGap>(&mut out).map_err(lame)?;
    write_lame_tag(&encoder, &mut out)?;
    Ok(out)
}

fn build_encoder(sample_rate: u32, bitrate: Bitrate) -> Result<Encoder, AudioError> {
    let mut builder = Builder::new().ok_or_else(|| AudioError::Encode("LAME could not allocate an encoder".into()))?;
    builder.set_num_channels(2).map_err(lame)?;
    builder.set_sample_rate(sample_rate).map_err(lame)?;
    builder.set_brate(bitrate).map_err(lame)?;
    // LAME's default algorithm quality (-q 5): at these bitrates hardly distinguishable from
    // -q 2 ("-h") and twice as fast (a 30 s stereo track in ~0.25 s rather than ~0.5 s).
    builder.set_quality(Quality::Good).map_err(lame)?;
    builder.build().map_err(lame)
}

/// LAME starts the stream with an empty frame; after the flush it can fill it in with the
/// "Info" tag (frame count, encoder delay and padding). As LAME's own documentation says, the
/// tag replaces that reserved empty frame: there is no ID3v2 tag, so it is the first frame.
fn write_lame_tag(encoder: &Encoder, out: &mut [u8]) -> Result<(), AudioError> {
    let size = encoder.lame_tag_size();
    if size == 0 {
        return Ok(());
    }
    let mut tag = Vec::with_capacity(size);
    match encoder.lame_tag_encode_to_vec(&mut tag) {
        Some(written) if (4..=out.len()).contains(&written.get()) && out[..2] == tag[..2] => {
            out[..written.get()].copy_from_slice(&tag);
            Ok(())
        }
        _ => Err(AudioError::Encode("LAME did not produce its Info tag".into())),
    }
}

fn bitrate(kbps: u32) -> Result<Bitrate, AudioError> {
    Ok(match kbps {
        8 => Bitrate::Kbps8,
        16 => Bitrate::Kbps16,
        24 => Bitrate::Kbps24,
        32 => Bitrate::Kbps32,
        40 => Bitrate::Kbps40,
        48 => Bitrate::Kbps48,
        64 => Bitrate::Kbps64,
        80 => Bitrate::Kbps80,
        96 => Bitrate::Kbps96,
        112 => Bitrate::Kbps112,
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        other => return Err(AudioError::Encode(format!("{other} kbps is not an MP3 bitrate"))),
    })
}

/// Copies `src` into `dst` clamped to -1..=1, NaN as 0 (LAME's float input is full scale ±1).
#[inline]
fn sanitise(src: &[f32], dst: &mut [f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = if s.is_nan() { 0.0 } else { s.clamp(-1.0, 1.0) };
    }
}

fn lame(e: impl std::fmt::Display) -> AudioError {
    AudioError::Encode(format!("LAME: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::probe::{AudioFormat, decode_mono, probe};
    use crate::audio::rms;

    fn sine(freq: f32, amplitude: f32, secs: f32, rate: u32) -> Vec<f32> {
        let n = (secs * rate as f32) as usize;
        (0..n).map(|i| amplitude * (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin()).collect()
    }

    #[test]
    fn stereo_sine_round_trips_through_probe_and_decode() {
        let left = sine(440.0, 0.5, 2.0, 44_100);
        let right = sine(440.0, 0.5, 2.0, 44_100);
        let mp3 = encode_mp3_stereo(&left, &right, 44_100, 192).unwrap();
        // 192 kbps for 2 s is 48 000 bytes, give or take a frame.
        assert!((46_000..52_000).contains(&mp3.len()), "{} bytes", mp3.len());

        let info = probe(&mp3).unwrap();
        assert_eq!(info.format, AudioFormat::Mp3);
        assert_eq!(info.sample_rate, 44_100);
        assert_eq!(info.channels, 2);
        assert!((info.duration_secs - 2.0).abs() <= 0.1, "duration {}", info.duration_secs);

        let decoded = decode_mono(&mp3).unwrap();
        let (want, got) = (rms(&left), rms(&decoded));
        assert!((got - want).abs() <= 0.2 * want, "rms {got} vs {want}");
        assert!((decoded.len() as i64 - left.len() as i64).abs() <= 4410, "{} samples", decoded.len());
    }

    #[test]
    fn info_tag_makes_the_duration_exact_and_the_tail_is_kept() {
        let left = sine(440.0, 0.5, 1.0, 44_100);
        let mp3 = encode_mp3_stereo(&left, &left, 44_100, 128).unwrap();
        assert!(mp3[..400].windows(4).any(|w| w == b"Info"), "the first frame is LAME's Info tag");
        let decoded = decode_mono(&mp3).unwrap();
        assert_eq!(decoded.len(), left.len(), "delay and padding trimmed, nothing lost");
        // The last 10 ms still carry the sine (the flush encoded LAME's buffered samples).
        assert!(rms(&decoded[decoded.len() - 441..]) > 0.25);
    }

    #[test]
    fn thirty_seconds_encode() {
        let left = sine(440.0, 0.8, 30.0, 44_100);
        let right = sine(660.0, 0.8, 30.0, 44_100);
        let mp3 = encode_mp3_stereo(&left, &right, 44_100, 192).unwrap();
        assert!((700_000..740_000).contains(&mp3.len()), "{} bytes", mp3.len());
        let info = probe(&mp3).unwrap();
        assert!((info.duration_secs - 30.0).abs() <= 0.1, "duration {}", info.duration_secs);
    }

    #[test]
    fn odd_rate_mono_sized_and_out_of_range_input_encodes() {
        // Not a multiple of the block or of a frame; clipping and NaN in the input.
        let mut left = sine(300.0, 1.5, 0.77, 22_050);
        left[100] = f32::NAN;
        let right = vec![0.0; left.len()];
        let mp3 = encode_mp3_stereo(&left, &right, 22_050, 64).unwrap();
        let info = probe(&mp3).unwrap();
        assert_eq!(info.sample_rate, 22_050);
        assert!((info.duration_secs - 0.77).abs() <= 0.1, "duration {}", info.duration_secs);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let s = [0.0f32; 10];
        for (l, r, rate, kbps) in [
            (&s[..], &s[..5], 44_100, 192),
            (&[][..], &[][..], 44_100, 192),
            (&s[..], &s[..], 44_100, 100),
            (&s[..], &s[..], 0, 192),
        ] {
            assert!(matches!(encode_mp3_stereo(l, r, rate, kbps), Err(AudioError::Encode(_))));
        }
    }
}
