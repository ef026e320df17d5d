//! Recognising, measuring and decoding audio files (symphonia).
//!
//! The format is decided from the bytes alone, then the matching symphonia reader reads the
//! whole stream: the duration is the number of frames actually decoded, so files whose headers
//! lie or say nothing (MP3 without a Xing frame) are measured right, and damaged files are
//! found out before anyone relies on them.
//!
//! Uploaded bytes reach symphonia only after [`sniff`] and [`check_header`] have read the
//! container's own header, and [`probe`] and [`decode_mono`] turn a panic inside the decoder into
//! [`AudioError::Corrupt`]: symphonia asserts on some impossible streams instead of returning an
//! error, and a bad upload must be refused, not answered with a 500.

use std::io::{Cursor, ErrorKind};
use std::panic::{self, AssertUnwindSafe};

use symphonia::core::audio::{AudioBufferRef, SampleBuffer};
use symphonia::core::codecs::{CODEC_TYPE_NULL, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::default::formats::{FlacReader, MpaReader, OggReader, WavReader};

use super::{AudioError, SAMPLE_RATE};

/// A container format the toolkit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    /// RIFF/WAVE with PCM samples.
    Wav,
    /// MPEG-1/2/2.5 Layer III, optionally behind ID3v2 tags.
    Mp3,
    /// Native FLAC.
    Flac,
    /// Ogg with Vorbis (or FLAC) inside.
    Ogg,
}

impl AudioFormat {
    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Mp3 => "mp3",
            Self::Flac => "flac",
            Self::Ogg => "ogg",
        }
    }

    /// The MIME type to serve the file with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Wav => "audio/wav",
            Self::Mp3 => "audio/mpeg",
            Self::Flac => "audio/flac",
            Self::Ogg => "audio/ogg",
        }
    }
}

/// What [`probe`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    pub format: AudioFormat,
    /// The decoded stream's rate, in Hz.
    pub sample_rate: u32,
    pub channels: u16,
    /// Decoded frames ÷ sample rate (encoder delay and padding trimmed when the file says how
    /// much there is: MP3 with a LAME tag, Ogg Vorbis).
    pub duration_secs: f64,
}

/// Identifies the format by its content (magic bytes: RIFF/WAVE, fLaC, OggS, ID3 or an MPEG
/// audio frame sync — never by file name) and measures the real duration by reading the stream
/// (count decoded frames, or packet durations, so MP3s without a Xing header are measured
/// right). Refuses non-audio, empty or truncated input with Unsupported/Corrupt, and refuses
/// audio streams with zero frames.
///
/// The whole stream is decoded (about 50 ms per minute of MP3 in a release build) but nothing
/// proportional to its length is kept, so it is the cheap check to run before
/// [`decode_mono`] — e.g. to refuse overlong uploads. Unknown formats, and codecs the toolkit
/// lacks (Ogg Opus, compressed WAV), are [`AudioError::Unsupported`]; a recognised file that
/// cannot be read through — bad headers, data missing against the length the header declares
/// (WAV, FLAC, MP3 with a Xing/Info frame), more than one packet in ten undecodable, no audio
/// at all — is [`AudioError::Corrupt`].
pub fn probe(bytes: &[u8]) -> Result<AudioInfo, AudioError> {
    contain_decoder_panic(|| probe_unguarded(bytes))
}

/// [`probe`] without the panic guard, for the fuzzer: it must see a decoder's panic to report it.
pub fn probe_unguarded(bytes: &[u8]) -> Result<AudioInfo, AudioError> {
    decode_all(bytes, |_| {})
}

/// Runs a decode of untrusted bytes, turning a panic inside it into [`AudioError::Corrupt`].
///
/// Unwinding out of the decode is safe to stop here: everything it touched (reader, decoder,
/// buffers) is local to the call and dropped with it, and it holds no lock another thread could
/// find poisoned.
fn contain_decoder_panic<T>(decode: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    panic::catch_unwind(AssertUnwindSafe(decode)).unwrap_or_else(|payload| {
        let cause = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::warn!(%cause, "the audio decoder panicked on an input; refused as corrupt");
        Err(AudioError::Corrupt("the decoder could not make sense of the stream".into()))
    })
}

/// Decodes to mono f32 (channels averaged) at SAMPLE_RATE (resample with linear interpolation
/// when the source rate differs).
///
/// Accepts and refuses exactly what [`probe`] does. The result holds the whole track: check the
/// duration with [`probe`] first when the input is untrusted.
pub fn decode_mono(bytes: &[u8]) -> Result<Vec<f32>, AudioError> {
    contain_decoder_panic(|| decode_mono_unguarded(bytes))
}

fn decode_mono_unguarded(bytes: &[u8]) -> Result<Vec<f32>, AudioError> {
    let mut mono = Vec::new();
    let mut interleaved: Option<SampleBuffer<f32>> = None;
    let info = decode_all(bytes, |buf| {
        let channels = buf.spec().channels.count();
        let needed = buf.frames() * channels;
        let converter = match &mut interleaved {
            Some(sb) if sb.capacity() >= needed => sb,
            slot => slot.insert(SampleBuffer::new(buf.capacity().max(buf.frames()) as u64, *buf.spec())),
        };
        converter.copy_interleaved_ref(buf);
        let scale = 1.0 / channels as f32;
        mono.extend(converter.samples().chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() * scale));
    })?;
    Ok(resample_linear(mono, info.sample_rate, SAMPLE_RATE))
}

/// Opens the stream, decodes every packet and hands each decoded buffer to `sink`.
fn decode_all(bytes: &[u8], mut sink: impl FnMut(AudioBufferRef<'_>)) -> Result<AudioInfo, AudioError> {
    let sniffed = sniff(bytes)?;
    check_header(sniffed.format, &bytes[sniffed.start..])?;
    let source = MediaSourceStream::new(
        Box::new(Cursor::new(bytes[sniffed.start..].to_vec())),
        MediaSourceStreamOptions::default(),
    );
    let options = FormatOptions { enable_gapless: true, ..FormatOptions::default() };
    let mut reader: Box<dyn FormatReader> = match sniffed.format {
        AudioFormat::Wav => Box::new(WavReader::try_new(source, &options).map_err(read_error)?),
        AudioFormat::Mp3 => Box::new(MpaReader::try_new(source, &options).map_err(read_error)?),
        AudioFormat::Flac => Box::new(FlacReader::try_new(source, &options).map_err(read_error)?),
        AudioFormat::Ogg => Box::new(OggReader::try_new(source, &options).map_err(read_error)?),
    };
    let track = reader.tracks().iter().find(|t| t.codec_params.codec != CODEC_TYPE_NULL).ok_or_else(|| {
        AudioError::Unsupported(format!("the {} file holds no audio track", sniffed.format.extension()))
    })?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let mut decoder: Box<dyn Decoder> =
        symphonia::default::get_codecs().make(&params, &DecoderOptions::default()).map_err(|e| match e {
            SymphoniaError::Unsupported(what) => AudioError::Unsupported(format!(
                "the {} file uses a codec that is not supported ({what})",
                sniffed.format.extension()
            )),
            other => read_error(other),
        })?;

    // The length the container declares, where it is reliable enough to call a shorter stream
    // truncated; MP3 only counts when a Xing/Info/VBRI frame gave it (not a bitrate estimate),
    // and then a frame of slack covers encoders that count the tag frame itself.
    let declared = match sniffed.format {
        AudioFormat::Wav | AudioFormat::Flac => params.n_frames.map(|n| (n, 0)),
        AudioFormat::Mp3 if sniffed.mp3_vbr_header => params.n_frames.map(|n| (n, 1152)),
        _ => None,
    };

    let (mut frames, mut packets, mut failed) = (0u64, 0u64, 0u64);
    let mut first_failure = None;
    let mut spec = None;
    loop {
        let packet = match reader.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => break,
            // A new chained Ogg stream: the first one is the track.
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(read_error(e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        packets += 1;
        match decoder.decode(&packet) {
            Ok(buf) => {
                if buf.frames() > 0 {
                    frames += buf.frames() as u64;
                    spec.get_or_insert(*buf.spec());
                    sink(buf);
                }
            }
            // Like a player, skip a damaged packet; too many of them fail the file below.
            Err(SymphoniaError::DecodeError(what)) => {
                failed += 1;
                first_failure.get_or_insert(what);
            }
            Err(SymphoniaError::IoError(e)) => {
                failed += 1;
                first_failure.get_or_insert(if e.kind() == ErrorKind::UnexpectedEof {
                    "a packet is cut short"
                } else {
                    "read error"
                });
            }
            Err(e) => return Err(read_error(e)),
        }
    }

    let Some(spec) = spec else {
        return Err(AudioError::Corrupt(match first_failure {
            Some(what) => format!("no packet could be decoded ({what})"),
            None => "the stream holds no audio".into(),
        }));
    };
    if failed * 10 > packets {
        return Err(AudioError::Corrupt(format!(
            "{failed} of {packets} packets could not be decoded ({})",
            first_failure.unwrap_or("damaged data")
        )));
    }
    if let Some((declared, slack)) = declared
        && frames + slack < declared
    {
        return Err(AudioError::Corrupt(format!(
            "the file is truncated: {frames} of the {declared} frames its header declares are present"
        )));
    }
    let sample_rate = spec.rate;
    if sample_rate == 0 {
        return Err(AudioError::Corrupt("the sample rate is zero".into()));
    }
    Ok(AudioInfo {
        format: sniffed.format,
        sample_rate,
        channels: u16::try_from(spec.channels.count()).unwrap_or(u16::MAX),
        duration_secs: frames as f64 / f64::from(sample_rate),
    })
}

fn read_error(e: SymphoniaError) -> AudioError {
    match e {
        SymphoniaError::Unsupported(what) => AudioError::Unsupported(what.to_owned()),
        SymphoniaError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
            AudioError::Corrupt("the file ends before its headers do (truncated)".into())
        }
        other => AudioError::Corrupt(other.to_string()),
    }
}

/// The format [`sniff`] recognised and where its stream starts (after ID3v2 tags).
#[derive(Debug, PartialEq, Eq)]
struct Sniffed {
    format: AudioFormat,
    start: usize,
    /// The first MPEG frame is a Xing, Info or VBRI frame, so the reader's length is declared,
    /// not estimated.
    mp3_vbr_header: bool,
}

/// Recognises the format from magic bytes at the start of the content.
fn sniff(bytes: &[u8]) -> Result<Sniffed, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Unsupported("the file is empty".into()));
    }
    let start = skip_id3v2(bytes)?;
    let data = &bytes[start..];
    let found = |format| Ok(Sniffed { format, start, mp3_vbr_header: false });
    if data.starts_with(b"RIFF") {
        return match data.get(8..12) {
            Some(b"WAVE") => found(AudioFormat::Wav),
            Some(_) => Err(AudioError::Unsupported("a RIFF file that is not WAVE".into())),
            None => Err(AudioError::Corrupt("the RIFF header is truncated".into())),
        };
    }
    if data.starts_with(b"fLaC") {
        return found(AudioFormat::Flac);
    }
    if data.starts_with(b"OggS") {
        return found(AudioFormat::Ogg);
    }
    if let Some(first) = MpegHeader::parse(data) {
        // One sync word is easy to meet by chance: the next frame must follow where this one
        // ends, with the same version, rate and channel count.
        match data.get(first.frame_len..first.frame_len + 4) {
            Some(next) => match MpegHeader::parse(next) {
                Some(second) if second.same_stream(&first) => {}
                _ => return Err(AudioError::Unsupported("the data is not a recognised audio format".into())),
            },
            None if data.len() < first.frame_len => {
                return Err(AudioError::Corrupt("the first MPEG audio frame is truncated".into()));
            }
            None => {}
        }
        return Ok(Sniffed { format: AudioFormat::Mp3, start, mp3_vbr_header: first.has_vbr_header(data) });
    }
    if start > 0 {
        return Err(AudioError::Unsupported("an ID3 tag that is not followed by MPEG audio".into()));
    }
    Err(AudioError::Unsupported("the data is not a recognised audio format".into()))
}

/// Highest sample rate accepted: 768 kHz, the highest rate audio interfaces record at.
const MAX_SAMPLE_RATE: u32 = 768_000;

/// Most channels accepted: WAVE_FORMAT_EXTENSIBLE names 18 speaker positions.
const MAX_CHANNELS: u16 = 18;

/// Refuses stream parameters the container's header declares and no real recording has (a
/// sample rate of 0 makes symphonia's WAV reader panic), before symphonia reads them.
///
/// Only WAV needs it: symphonia's FLAC and Ogg Vorbis readers refuse such headers themselves,
/// and MP3 frame headers cannot express them.
fn check_header(format: AudioFormat, data: &[u8]) -> Result<(), AudioError> {
    let Some((channels, sample_rate)) = (match format {
        AudioFormat::Wav => wav_format(data)?,
        AudioFormat::Mp3 | AudioFormat::Flac | AudioFormat::Ogg => None,
    }) else {
        return Ok(());
    };
    let name = format.extension().to_uppercase();
    if !(1..=MAX_SAMPLE_RATE).contains(&sample_rate) {
        return Err(AudioError::Corrupt(format!(
            "the {name} header declares a sample rate of {sample_rate} Hz (1 to {MAX_SAMPLE_RATE} Hz is accepted)"
        )));
    }
    if !(1..=MAX_CHANNELS).contains(&channels) {
        return Err(AudioError::Corrupt(format!(
            "the {name} header declares {channels} channels (1 to {MAX_CHANNELS} are accepted)"
        )));
    }
    Ok(())
}

/// The channel count and sample rate of a RIFF/WAVE file's `fmt ` chunk, or `None` when the
/// chunk is not there (symphonia then refuses the file itself).
fn wav_format(riff: &[u8]) -> Result<Option<(u16, u32)>, AudioError> {
    let mut at = 12;
    while let Some(header) = riff.get(at..at + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[..4] == b"fmt " {
            let body = riff
                .get(at + 8..at + 8 + size.min(16))
                .filter(|body| body.len() == 16)
                .ok_or_else(|| AudioError::Corrupt("the WAV fmt chunk is truncated".into()))?;
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let sample_rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            return Ok(Some((channels, sample_rate)));
        }
        // Chunks are padded to an even length.
        at = at.saturating_add(8).saturating_add(size).saturating_add(size & 1);
    }
    Ok(None)
}

/// Length of the ID3v2 tags at the start (and the zero padding some taggers leave after them).
fn skip_id3v2(bytes: &[u8]) -> Result<usize, AudioError> {
    let mut pos = 0;
    while bytes[pos..].starts_with(b"ID3") {
        let header =
            bytes.get(pos..pos + 10).ok_or_else(|| AudioError::Corrupt("the ID3v2 tag header is truncated".into()))?;
        if header[3] == 0xFF || header[4] == 0xFF || header[6..10].iter().any(|b| b & 0x80 != 0) {
            return Err(AudioError::Unsupported("the ID3v2 tag header is malformed".into()));
        }
        let size = header[6..10].iter().fold(0usize, |acc, &b| (acc << 7) | usize::from(b));
        let footer = if header[5] & 0x10 != 0 { 10 } else { 0 };
        pos += 10 + size + footer;
        if pos > bytes.len() {
            return Err(AudioError::Corrupt("the ID3v2 tag is truncated".into()));
        }
    }
    if pos > 0 {
        pos += bytes[pos..].iter().take_while(|&&b| b == 0).count();
    }
    Ok(pos)
}

/// The fields of an MPEG audio Layer III frame header that sniffing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MpegHeader {
    /// 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5 (the header's version bits).
    version: u8,
    sample_rate: u32,
    mono: bool,
    crc: bool,
    /// The whole frame, header included.
    frame_len: usize,
}

impl MpegHeader {
    fn parse(b: &[u8]) -> Option<Self> {
        const MPEG1_KBPS: [u32; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
        const MPEG2_KBPS: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
        let &[b0, b1, b2, b3, ..] = b else { return None };
        let version = (b1 >> 3) & 0b11;
        let layer = (b1 >> 1) & 0b11;
        let bitrate_index = usize::from(b2 >> 4);
        let rate_index = usize::from((b2 >> 2) & 0b11);
        // Sync, not the reserved version, Layer III, no free-format or invalid bitrate, a real rate.
        if b0 != 0xFF || b1 & 0xE0 != 0xE0 || version == 1 || layer != 1 {
            return None;
        }
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        let mpeg1 = version == 3;
        let kbps = if mpeg1 { MPEG1_KBPS[bitrate_index] } else { MPEG2_KBPS[bitrate_index] };
        let sample_rate = [44_100, 48_000, 32_000][rate_index] >> (3 - u32::from(version)).min(2);
        let padding = u32::from((b2 >> 1) & 1);
        let per_frame = if mpeg1 { 144_000 } else { 72_000 };
        Some(Self {
            version,
            sample_rate,
            mono: b3 >> 6 == 0b11,
            crc: b1 & 1 == 0,
            frame_len: (per_frame * kbps / sample_rate + padding) as usize,
        })
    }

    fn same_stream(&self, other: &Self) -> bool {
        self.version == other.version && self.sample_rate == other.sample_rate && self.mono == other.mono
    }

    /// Whether the frame at the start of `frame` is a Xing/Info or VBRI frame.
    fn has_vbr_header(&self, frame: &[u8]) -> bool {
        let side_info = match (self.version == 3, self.mono) {
            (true, false) => 32,
            (true, true) | (false, false) => 17,
            (false, true) => 9,
        };
        let xing = 4 + if self.crc { 2 } else { 0 } + side_info;
        matches!(frame.get(xing..xing + 4), Some(b"Xing" | b"Info")) || frame.get(36..40) == Some(b"VBRI")
    }
}

/// Resamples by linear interpolation between neighbouring input samples (no filtering: fine
/// for the upsampling and small rate changes the studio meets).
fn resample_linear(input: Vec<f32>, from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() {
        return input;
    }
    let out_len = ((input.len() as u128 * u128::from(to) + u128::from(from) / 2) / u128::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    let last = input.len() - 1;
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let index = (pos as usize).min(last);
            let frac = (pos - index as f64) as f32;
            let a = input[index];
            let b = input[(index + 1).min(last)];
            a + (b - a) * frac
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{encode_mp3_stereo, encode_wav_mono16, rms};

    fn sine(freq: f32, amplitude: f32, secs: f32, rate: u32) -> Vec<f32> {
        let n = (secs * rate as f32) as usize;
        (0..n).map(|i| amplitude * (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin()).collect()
    }

    /// Deterministic noise (xorshift64).
    fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    fn zero_crossings(samples: &[f32]) -> usize {
        samples.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count()
    }

    fn assert_refused(bytes: &[u8], what: &str) {
        match probe(bytes) {
            Err(AudioError::Unsupported(_) | AudioError::Corrupt(_)) => {}
            other => panic!("{what}: probe gave {other:?}"),
        }
        assert!(decode_mono(bytes).is_err(), "{what}: decode_mono accepted it");
    }

    #[test]
    fn wav_sine_is_recognised_measured_and_decoded() {
        let samples = sine(440.0, 0.5, 1.5, 44_100);
        let wav = encode_wav_mono16(&samples, 44_100);
        let info = probe(&wav).unwrap();
        assert_eq!(info.format, AudioFormat::Wav);
        assert_eq!((info.sample_rate, info.channels), (44_100, 1));
        assert!((info.duration_secs - 1.5).abs() <= 0.01, "duration {}", info.duration_secs);

        let decoded = decode_mono(&wav).unwrap();
        assert_eq!(decoded.len(), samples.len());
        assert!((rms(&decoded) - rms(&samples)).abs() < 1e-3, "rms {} vs {}", rms(&decoded), rms(&samples));
        let worst = decoded.iter().zip(&samples).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "16-bit round trip off by {worst}");
    }

    #[test]
    fn other_rates_are_resampled_to_the_studio_rate() {
        for rate in [22_050, 48_000, 8_000] {
            let samples = sine(440.0, 0.5, 1.0, rate);
            let decoded = decode_mono(&encode_wav_mono16(&samples, rate)).unwrap();
            assert!(decoded.len().abs_diff(SAMPLE_RATE as usize) <= 1, "{rate} Hz: {} samples", decoded.len());
            assert!((rms(&decoded) - rms(&samples)).abs() < 0.01, "{rate} Hz: rms {}", rms(&decoded));
            // Still 440 Hz: 880 zero crossings in the second.
            assert!(zero_crossings(&decoded).abs_diff(880) <= 2, "{rate} Hz: {} crossings", zero_crossings(&decoded));
        }
    }

    #[test]
    fn stereo_wav_channels_are_averaged() {
        let left = sine(440.0, 0.6, 0.5, 44_100);
        let mut wav = Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::new(&mut wav, spec).unwrap();
        for &s in &left {
            writer.write_sample((s * 32767.0) as i16).unwrap();
            writer.write_sample(0i16).unwrap();
        }
        writer.finalize().unwrap();
        let wav = wav.into_inner();
        let info = probe(&wav).unwrap();
        assert_eq!((info.format, info.channels), (AudioFormat::Wav, 2));
        let decoded = decode_mono(&wav).unwrap();
        assert_eq!(decoded.len(), left.len());
        assert!((rms(&decoded) - rms(&left) / 2.0).abs() < 1e-3);
    }

    #[test]
    fn truncated_and_empty_wavs_are_refused() {
        let wav = encode_wav_mono16(&sine(440.0, 0.5, 1.0, 44_100), 44_100);
        assert!(matches!(probe(&wav[..wav.len() / 2]), Err(AudioError::Corrupt(_))), "data cut in half");
        assert_refused(&wav[..30], "header cut short");
        assert_refused(&wav[..44], "header without its data");
        assert_refused(&encode_wav_mono16(&[], 44_100), "a WAV with no samples");
        assert_refused(&wav[..11], "RIFF cut before the form type");
    }

    /// A FLAC file with verbatim (uncompressed) subframes: enough of an encoder for tests.
    fn flac_verbatim(channels: &[Vec<f32>]) -> Vec<u8> {
        fn crc8(data: &[u8]) -> u8 {
            data.iter().fold(0u8, |mut crc, &b| {
                crc ^= b;
                for _ in 0..8 {
                    crc = if crc & 0x80 != 0 { (crc << 1) ^ 0x07 } else { crc << 1 };
                }
                crc
            })
        }
        fn crc16(data: &[u8]) -> u16 {
            data.iter().fold(0u16, |mut crc, &b| {
                crc ^= u16::from(b) << 8;
                for _ in 0..8 {
                    crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x8005 } else { crc << 1 };
                }
                crc
            })
        }
        const BLOCK: usize = 4096;
        let n = channels[0].len();
        let mut out = b"fLaC".to_vec();
        out.extend([0x80, 0, 0, 34]); // last metadata block, STREAMINFO, 34 bytes
        out.extend((BLOCK as u16).to_be_bytes());
        out.extend((BLOCK as u16).to_be_bytes());
        out.extend([0; 6]); // frame sizes unknown
        let packed = (44_100u64 << 44) | ((channels.len() as u64 - 1) << 41) | (15 << 36) | n as u64;
        out.extend(packed.to_be_bytes());
        out.extend([0; 16]); // no MD5
        for (number, start) in (0..n).step_by(BLOCK).enumerate() {
            let len = BLOCK.min(n - start);
            let block_code = if len == BLOCK { 0xC } else { 0x7 };
            let mut frame = vec![0xFF, 0xF8, (block_code << 4) | 0x9, ((channels.len() as u8 - 1) << 4) | (0b100 << 1)];
            frame.push(u8::try_from(number).unwrap());
            if len != BLOCK {
                frame.extend(((len - 1) as u16).to_be_bytes());
            }
            frame.push(crc8(&frame));
            for channel in channels {
                frame.push(0x02); // verbatim subframe
                for &s in &channel[start..start + len] {
                    frame.extend(((s * 32767.0).round() as i16).to_be_bytes());
                }
            }
            let crc = crc16(&frame);
            frame.extend(crc.to_be_bytes());
            out.extend(frame);
        }
        out
    }

    #[test]
    fn flac_is_recognised_measured_and_decoded() {
        let tone = sine(440.0, 0.5, 1.25, 44_100);
        let mono = flac_verbatim(std::slice::from_ref(&tone));
        let info = probe(&mono).unwrap();
        assert_eq!(
            info,
            AudioInfo {
                format: AudioFormat::Flac,
                sample_rate: 44_100,
                channels: 1,
                duration_secs: tone.len() as f64 / 44_100.0
            }
        );
        let decoded = decode_mono(&mono).unwrap();
        assert_eq!(decoded.len(), tone.len());
        assert!((rms(&decoded) - rms(&tone)).abs() < 1e-3);

        let stereo = flac_verbatim(&[tone.clone(), vec![0.0; tone.len()]]);
        assert_eq!(probe(&stereo).unwrap().channels, 2);
        assert!((rms(&decode_mono(&stereo).unwrap()) - rms(&tone) / 2.0).abs() < 1e-3);

        assert!(matches!(probe(&mono[..mono.len() * 3 / 5]), Err(AudioError::Corrupt(_))), "cut FLAC");
    }

    #[test]
    fn truncated_flac_and_ogg_headers_are_refused() {
        let flac = flac_verbatim(&[sine(440.0, 0.5, 0.2, 44_100)]);
        for cut in [4, 8, 20, 42] {
            assert_refused(&flac[..cut], &format!("FLAC cut at {cut}"));
        }
        let mut ogg = b"OggS\x00\x02".to_vec();
        ogg.extend([0u8; 8]);
        assert_refused(&ogg, "Ogg page header cut short");
        let mut ogg = b"OggS".to_vec();
        ogg.extend(random_bytes(3, 200));
        assert_refused(&ogg, "OggS then noise");
        assert_refused(b"OggS", "bare OggS");
        assert_refused(b"fLaC", "bare fLaC");
    }

    #[test]
    fn mp3_behind_an_id3_tag_and_without_an_info_frame() {
        let tone = sine(440.0, 0.5, 2.0, 44_100);
        let mp3 = encode_mp3_stereo(&tone, &tone, 44_100, 128).unwrap();

        // An ID3v2.4 tag of 300 bytes (syncsafe size 2·128 + 44) and some zero padding in front.
        let mut tagged = b"ID3\x04\x00\x00\x00\x00\x02\x2c".to_vec();
        tagged.extend(std::iter::repeat_n(b'x', 300));
        tagged.extend([0; 16]);
        tagged.extend(&mp3);
        let info = probe(&tagged).unwrap();
        assert_eq!(info.format, AudioFormat::Mp3);
        assert!((info.duration_secs - 2.0).abs() <= 0.01, "exact thanks to the LAME tag: {}", info.duration_secs);

        // Drop the Info frame: the frames are counted, delay and padding included.
        let first = MpegHeader::parse(&mp3).unwrap();
        let bare = &mp3[first.frame_len..];
        assert!(!MpegHeader::parse(bare).unwrap().has_vbr_header(bare));
        let info = probe(bare).unwrap();
        assert_eq!((info.format, info.sample_rate, info.channels), (AudioFormat::Mp3, 44_100, 2));
        assert!((info.duration_secs - 2.0).abs() <= 0.1, "duration {}", info.duration_secs);
        assert!((rms(&decode_mono(bare).unwrap()) - rms(&tone)).abs() < 0.2 * rms(&tone));

        // With the Info frame saying how long it is, a cut file is caught.
        assert!(matches!(probe(&mp3[..mp3.len() / 2]), Err(AudioError::Corrupt(_))), "cut MP3");
    }

    #[test]
    fn non_audio_is_refused() {
        assert!(matches!(probe(&[]), Err(AudioError::Unsupported(_))));
        assert!(decode_mono(&[]).is_err());
        assert!(matches!(probe(b"Hello, this is a text file.\nIt is not audio.\n"), Err(AudioError::Unsupported(_))));
        assert_refused(b"<!doctype html><html><body>not found</body></html>", "an HTML page");
        for seed in 1..=50 {
            assert_refused(&random_bytes(seed, 8192), &format!("noise #{seed}"));
        }
        // A frame sync followed by noise: the next frame is not where the first says.
        let mut fake = vec![0xFF, 0xFB, 0x90, 0x64];
        fake.extend(random_bytes(7, 4096));
        assert!(matches!(probe(&fake), Err(AudioError::Unsupported(_))));
        assert_refused(&fake[..100], "a lone truncated frame");
        assert_refused(b"RIFF\x24\x00\x00\x00AVI LIST", "RIFF that is not WAVE");
        assert_refused(b"ID3\x03\x00\x00\x00\x00\x00\x05hello and then some text", "ID3 then text");
        assert_refused(b"ID3\x03\x00", "cut ID3 header");
    }

    #[test]
    fn wav_headers_no_recording_has_are_refused_before_symphonia() {
        let wav = encode_wav_mono16(&sine(440.0, 0.5, 0.1, 44_100), 44_100);
        // RIFF header (12) and the fmt chunk's header (8): channels at 22, the rate at 24.
        for (offset, value, what) in [
            (24, &0u32.to_le_bytes()[..], "sample rate of 0 Hz"),
            (24, &(MAX_SAMPLE_RATE + 1).to_le_bytes()[..], "sample rate of 768001 Hz"),
            (22, &0u16.to_le_bytes()[..], "0 channels"),
            (22, &(MAX_CHANNELS + 1).to_le_bytes()[..], "19 channels"),
        ] {
            let mut bad = wav.clone();
            bad[offset..offset + value.len()].copy_from_slice(value);
            match probe_unguarded(&bad) {
                Err(AudioError::Corrupt(message)) => assert!(message.contains(what), "{what}: {message}"),
                other => panic!("{what}: {other:?}"),
            }
            assert!(decode_mono(&bad).is_err(), "{what}: decode_mono accepted it");
        }
        // A fmt chunk cut short by the end of the file.
        assert!(matches!(probe(&wav[..30]), Err(AudioError::Corrupt(_))));
    }

    #[test]
    fn a_panic_inside_the_decoder_is_a_corrupt_file() {
        let got: Result<(), _> = contain_decoder_panic(|| panic!("TimeBase cannot have 0 numerator or denominator"));
        assert!(matches!(got, Err(AudioError::Corrupt(_))), "{got:?}");
        // The guard passes results through untouched.
        assert!(matches!(contain_decoder_panic(|| Ok(7)), Ok(7)));
    }

    #[test]
    fn mpeg_header_fields() {
        // MPEG-1 Layer III, 128 kbps, 44.1 kHz, no padding, joint stereo.
        let h = MpegHeader::parse(&[0xFF, 0xFB, 0x90, 0x64]).unwrap();
        assert_eq!((h.version, h.sample_rate, h.mono, h.crc, h.frame_len), (3, 44_100, false, false, 417));
        // MPEG-2 Layer III, 64 kbps, 22.05 kHz, padded, mono.
        let h = MpegHeader::parse(&[0xFF, 0xF3, 0x82, 0xC0]).unwrap();
        assert_eq!((h.version, h.sample_rate, h.mono, h.frame_len), (2, 22_050, true, 209));
        // MPEG-2.5 at 8 kHz.
        assert_eq!(MpegHeader::parse(&[0xFF, 0xE3, 0x18, 0xC0]).unwrap().sample_rate, 8_000);
        for bad in
            [[0xFF, 0xFD, 0x90, 0x64], [0xFF, 0xFB, 0xF0, 0x64], [0xFF, 0xFB, 0x9C, 0x64], [0xFF, 0xEB, 0x90, 0x64]]
        {
            assert_eq!(MpegHeader::parse(&bad), None, "{bad:02x?}");
        }
    }

    #[test]
    fn linear_resampling() {
        assert_eq!(resample_linear(vec![0.0, 1.0], 1, 2), [0.0, 0.5, 1.0, 1.0]);
        assert_eq!(resample_linear(vec![0.0, 1.0, 2.0, 3.0], 2, 1), [0.0, 2.0]);
        assert_eq!(resample_linear(vec![0.5; 3], 7, 7), [0.5; 3]);
        assert!(resample_linear(vec![], 8_000, 44_100).is_empty());
    }

    #[test]
    fn formats_name_themselves() {
        let all = [AudioFormat::Wav, AudioFormat::Mp3, AudioFormat::Flac, AudioFormat::Ogg];
        assert_eq!(all.map(AudioFormat::extension), ["wav", "mp3", "flac", "ogg"]);
        assert_eq!(all.map(AudioFormat::content_type), ["audio/wav", "audio/mpeg", "audio/flac", "audio/ogg"]);
    }
}
