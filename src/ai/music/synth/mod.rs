//! The offline synthesizer of the Music Studio: renders one part of a [`Composition`] to mono
//! `f32` samples.
//!
//! Each note is rendered by its own voice, additively, into the part's buffer from the sample
//! its start falls on (a sample-accurate scheduler: `round(start × rate)`), gated for
//! `round(length × rate)` samples and followed by the voice's release tail (cut at the end of
//! the piece). Voices:
//!
//! - drums: one-shots rendered once per drum key and mixed at each hit's velocity — kick (sine
//!   with a pitch sweep and an exponential decay), snare (high-passed noise plus a body tone;
//!   brushes for jazz), clap (noise bursts), side stick, toms, and hats/ride/crash (six detuned
//!   square "metal" oscillators plus noise through a high-pass);
//! - bass: saw, square, sine sub, upright pluck or soft triangle through a two-pole lowpass with
//!   a filter envelope and an ADSR;
//! - chords: detuned-saw pads with a slow attack, plucky filtered saw stabs, additive piano, FM
//!   electric piano, or driven saws as a rhythm guitar;
//! - lead: additive piano, Karplus-Strong pluck, detuned saws with vibrato, strings, FM bell or
//!   flute.
//!
//! Output is deterministic: oscillators are fixed-point phase accumulators reading a sine table,
//! noise is a seeded xorshift, and every transcendental value (table, frequencies, decay
//! coefficients) comes from `dsp`'s own `det_sin`/`det_exp` (plain `+ - × ÷`), not the
//! platform's libm, so identical input gives bit-identical samples on every machine. Nothing is
//! allocated per sample; the work is O(samples × simultaneous voices).
//!
//! `dsp` holds the deterministic math and building blocks, `pitched` the voices of the bass,
//! chord and lead parts, `drums` the drum kit; this file schedules and finishes a part.

mod drums;
mod dsp;
mod pitched;

use super::composer::{Composition, Part, Style};
use crate::splitmix::mix64;
use dsp::{Adsr, TWO_32, Vibrato, det_exp, sine_table};

/// Renders one part to mono f32 at `sample_rate`, exactly `round(duration_secs × sample_rate)`
/// samples, values within -1..=1: the part is normalised to a peak of 0.9 (the mixer balances
/// parts) and faded out over its last 10 ms. A part without notes (the drums of ambient and
/// classical pieces) renders as silence; a zero sample rate gives an empty vector.
pub fn render_part(c: &Composition, part: Part, sample_rate: u32) -> Vec<f32> {
    let sr = f64::from(sample_rate);
    let len = (c.duration_secs * sr).round() as usize;
    let mut out = vec![0.0f32; len];
    if len == 0 {
        return out;
    }
    let r = Renderer::new(c, sr);
    match part {
        Part::Drums => r.drums(c, &mut out),
        _ => r.pitched(c, part, &mut out),
    }
    finish(&mut out, sr);
    out
}

/// Fades out the last 10 ms and scales the peak to 0.9.
fn finish(out: &mut [f32], sr: f64) {
    let fade = ((0.01 * sr) as usize).min(out.len());
    let n = out.len();
    for (i, s) in out[n - fade..].iter_mut().enumerate() {
        *s *= 1.0 - (i + 1) as f32 / fade as f32;
    }
    let peak = out.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 1e-9 {
        let g = 0.9 / peak;
        out.iter_mut().for_each(|s| *s *= g);
    }
}

struct Renderer {
    sr: f64,
    srf: f32,
    table: &'static [f32],
    style: Style,
    brightness: f32,
    seed: u64,
}

impl Renderer {
    fn new(c: &Composition, sr: f64) -> Self {
        Renderer {
            sr,
            srf: sr as f32,
            table: sine_table(),
            style: c.style,
            brightness: c.brightness.clamp(0.0, 1.0),
            seed: c.params.seed ^ piece_seed(c),
        }
    }

    fn samples(&self, secs: f64) -> usize {
        (secs * self.sr).round() as usize
    }

    /// Phase increment per sample for `freq` Hz.
    fn inc(&self, freq: f64) -> u32 {
        ((freq / self.sr).clamp(0.0, 0.49) * TWO_32) as u32
    }

    /// Per-sample multiplier of an exponential decay with time constant `tau` seconds.
    fn decay(&self, tau: f64) -> f32 {
        det_exp(-1.0 / (tau * self.sr).max(1e-9)) as f32
    }

    fn adsr(&self, attack: f64, decay: f64, sustain: f32, release: f64) -> Adsr {
        Adsr {
            attack: (1.0 / (attack * self.sr).max(1.0)) as f32,
            decay: self.decay(decay),
            sustain,
            release: self.decay(release),
            level: 0.0,
            attacking: true,
        }
    }

    fn vibrato(&self, rate: f64, depth: f32, delay: f64, fade: f64) -> Vibrato {
        Vibrato {
            phase: 0,
            inc: self.inc(rate),
            depth,
            delay: self.samples(delay),
            ramp: (1.0 / (fade * self.sr).max(1.0)) as f32,
        }
    }
}

/// A per-piece noise seed that also depends on what was composed (bpm, key, length).
fn piece_seed(c: &Composition) -> u64 {
    mix64(u64::from(c.bpm) << 32 | u64::from(c.tonic) << 16 | u64::from(c.bars))
}

#[cfg(test)]
mod tests {
    use super::super::composer::tests::params;
    use super::super::composer::{MusicParams, compose};
    use super::*;

    const SR: u32 = 16_000;

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn length_range_and_loudness_for_every_style_and_part() {
        for style in Style::ALL {
            let c = compose(&params("evening", style, 12, 3)).unwrap();
            for part in Part::ALL {
                let x = render_part(&c, part, SR);
                assert_eq!(x.len(), 12 * SR as usize, "{style:?} {part:?}");
                assert!(x.iter().all(|s| (-1.0..=1.0).contains(s)), "{style:?} {part:?} out of range or NaN");
                if c.part_notes(part).next().is_some() {
                    assert!(rms(&x) > 0.01, "{style:?} {part:?} too quiet: {}", rms(&x));
                } else {
                    assert!(x.iter().all(|&s| s == 0.0), "empty part renders silence");
                }
            }
        }
    }

    #[test]
    fn length_is_exact_at_odd_rates_and_durations() {
        let c = compose(&params("x", Style::Pop, 11, 1)).unwrap();
        for sr in [8_000, 22_050, 44_100, 48_000, 11_025] {
            let x = render_part(&c, Part::Bass, sr);
            assert_eq!(x.len(), (11.0 * f64::from(sr)).round() as usize);
        }
        assert!(render_part(&c, Part::Lead, 0).is_empty());
    }

    #[test]
    fn every_timbre_and_voice_sounds() {
        for instrument in ["piano", "guitar", "synth", "strings", "bell", "flute"] {
            let p = MusicParams { instrument: Some(instrument.into()), ..params("x", Style::Pop, 10, 2) };
            let c = compose(&p).unwrap();
            let x = render_part(&c, Part::Lead, SR);
            assert!(x.iter().all(|s| (-1.0..=1.0).contains(s)));
            assert!(rms(&x) > 0.01, "{instrument}: {}", rms(&x));
        }
    }

    #[test]
    fn rendering_is_deterministic_and_seed_sensitive() {
        let p = params("neon rain", Style::Electronic, 10, 42);
        let a = compose(&p).unwrap();
        let b = compose(&p).unwrap();
        let other = compose(&MusicParams { seed: 43, ..p }).unwrap();
        for part in Part::ALL {
            let x = render_part(&a, part, SR);
            let y = render_part(&b, part, SR);
            assert!(x.iter().zip(&y).all(|(s, t)| s.to_bits() == t.to_bits()), "{part:?}");
            if part != Part::Drums {
                assert_ne!(x, render_part(&other, part, SR), "{part:?}");
            }
        }
    }

    #[test]
    fn notes_start_on_their_sample() {
        // A lone kick at the start of a bar: the drum stem is silent before its sample.
        let c = compose(&params("club", Style::Electronic, 10, 1)).unwrap();
        let first = c.part_notes(Part::Drums).next().unwrap();
        let x = render_part(&c, Part::Drums, SR);
        let at = (first.start * f64::from(SR)).round() as usize;
        assert!(x[..at].iter().all(|&s| s == 0.0));
        assert!(x[at..at + 64].iter().any(|&s| s != 0.0));
    }

    #[test]
    fn full_thirty_second_render() {
        // Exercises the whole pipeline at a real rate; says nothing about time taken.
        let c = compose(&params("late night drive", Style::Electronic, 30, 9)).unwrap();
        for part in Part::ALL {
            let x = render_part(&c, part, 44_100);
            assert_eq!(x.len(), 30 * 44_100);
            assert!(rms(&x) > 0.01);
        }
    }
}
