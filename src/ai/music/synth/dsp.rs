//! Deterministic math and the synthesizer's building blocks: `det_sin`/`det_exp` from `+ - × ÷`
//! only (no platform libm, so samples are bit-identical everywhere), a sine table read by 32-bit
//! phases, band-limited oscillators, soft clipping, seeded noise, a two-pole lowpass, the ADSR
//! envelope and vibrato.

use std::f64::consts::{FRAC_PI_2, LN_2, PI, TAU};
use std::sync::OnceLock;

use crate::splitmix::mix64;

const TABLE_BITS: u32 = 11;
const TABLE_LEN: usize = 1 << TABLE_BITS;
const FRAC_BITS: u32 = 32 - TABLE_BITS;
pub(super) const TWO_32: f64 = 4_294_967_296.0;
const INV_2_32: f32 = 1.0 / 4_294_967_296.0;
/// Phase units per radian.
pub(super) const PHASE_PER_RAD: f32 = (TWO_32 / TAU) as f32;

/// sin(x) by range reduction and a Taylor series (error < 1e-9), from `+ - × ÷` only.
fn det_sin(x: f64) -> f64 {
    let mut r = x - (x / TAU).round() * TAU;
    if r > FRAC_PI_2 {
        r = PI - r;
    } else if r < -FRAC_PI_2 {
        r = -PI - r;
    }
    let r2 = r * r;
    let (mut term, mut sum) = (r, r);
    for n in 1..9 {
        term *= -r2 / f64::from((2 * n) * (2 * n + 1));
        sum += term;
    }
    sum
}

/// e^x by range reduction to 2^k · e^r and a Taylor series, from `+ - × ÷` only.
pub(super) fn det_exp(x: f64) -> f64 {
    let x = x.clamp(-700.0, 700.0);
    let k = (x / LN_2).round();
    let r = x - k * LN_2;
    let (mut term, mut sum) = (1.0, 1.0);
    for n in 1..15 {
        term *= r / f64::from(n);
        sum += term;
    }
    sum * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// Equal-tempered frequency of a MIDI key (A4 = 440 Hz).
pub(super) fn midi_freq(key: u8) -> f64 {
    440.0 * det_exp((f64::from(key) - 69.0) / 12.0 * LN_2)
}

pub(super) fn sine_table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| (0..=TABLE_LEN).map(|i| det_sin(TAU * i as f64 / TABLE_LEN as f64) as f32).collect())
}

/// Sine of a 32-bit phase (a full turn = 2^32), linearly interpolated from the table.
#[inline]
pub(super) fn sine(table: &[f32], phase: u32) -> f32 {
    let i = (phase >> FRAC_BITS) as usize;
    let frac = (phase & ((1 << FRAC_BITS) - 1)) as f32 * (1.0 / (1u32 << FRAC_BITS) as f32);
    let a = table[i];
    a + (table[i + 1] - a) * frac
}

/// Band-limited (PolyBLEP) saw in -1..1.
#[inline]
pub(super) fn saw(phase: u32, inc: u32) -> f32 {
    let t = phase as f32 * INV_2_32;
    let dt = (inc as f32 * INV_2_32).max(1e-7);
    let blep = if t < dt {
        let x = t / dt;
        x + x - x * x - 1.0
    } else if t > 1.0 - dt {
        let x = (t - 1.0) / dt;
        x * x + x + x + 1.0
    } else {
        0.0
    };
    2.0 * t - 1.0 - blep
}

/// Band-limited square from two saws half a turn apart.
#[inline]
pub(super) fn square(phase: u32, inc: u32) -> f32 {
    0.5 * (saw(phase, inc) - saw(phase.wrapping_add(0x8000_0000), inc))
}

#[inline]
pub(super) fn triangle(phase: u32) -> f32 {
    let t = phase as f32 * INV_2_32;
    4.0 * (t - 0.5).abs() - 1.0
}

/// Smooth saturation, ≈ tanh for |x| < 3, clamped beyond.
#[inline]
pub(super) fn soft_clip(x: f32) -> f32 {
    let x = x.clamp(-3.0, 3.0);
    x * (27.0 + x * x) / (27.0 + 9.0 * x * x)
}

/// Seeded xorshift32 white noise in -1..1.
pub(super) struct Noise(u32);

impl Noise {
    pub(super) fn new(seed: u64) -> Self {
        Noise((mix64(seed) as u32) | 1)
    }

    #[inline]
    pub(super) fn next(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        (x as i32) as f32 * (1.0 / 2_147_483_648.0)
    }
}

/// Two cascaded one-pole lowpasses (12 dB/octave).
#[derive(Default)]
pub(super) struct Lp2 {
    z1: f32,
    z2: f32,
}

impl Lp2 {
    #[inline]
    pub(super) fn run(&mut self, x: f32, a: f32) -> f32 {
        self.z1 += a * (x - self.z1);
        self.z2 += a * (self.z1 - self.z2);
        self.z2
    }
}

/// One-pole coefficient for a cutoff (bilinear-ish approximation, no libm).
#[inline]
pub(super) fn lp_coef(cutoff: f32, sr: f32) -> f32 {
    let w = std::f32::consts::TAU * cutoff.clamp(20.0, 0.45 * sr) / sr;
    w / (1.0 + w)
}

/// Linear attack, exponential decay to a sustain level, exponential release after the gate.
pub(super) struct Adsr {
    pub(super) attack: f32,
    pub(super) decay: f32,
    pub(super) sustain: f32,
    pub(super) release: f32,
    pub(super) level: f32,
    pub(super) attacking: bool,
}

impl Adsr {
    #[inline]
    pub(super) fn next(&mut self, gate: bool) -> f32 {
        if !gate {
            self.level *= self.release;
        } else if self.attacking {
            self.level += self.attack;
            if self.level >= 1.0 {
                self.level = 1.0;
                self.attacking = false;
            }
        } else {
            self.level = self.sustain + (self.level - self.sustain) * self.decay;
        }
        self.level
    }
}

/// Pitch vibrato: an LFO that fades in after a delay.
pub(super) struct Vibrato {
    pub(super) phase: u32,
    pub(super) inc: u32,
    pub(super) depth: f32,
    pub(super) delay: usize,
    pub(super) ramp: f32,
}

impl Vibrato {
    /// The frequency factor at sample `i`.
    #[inline]
    pub(super) fn factor(&mut self, table: &[f32], i: usize) -> f32 {
        if i < self.delay {
            return 1.0;
        }
        let fade = ((i - self.delay) as f32 * self.ramp).min(1.0);
        let lfo = sine(table, self.phase);
        self.phase = self.phase.wrapping_add(self.inc);
        1.0 + self.depth * fade * lfo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn det_math_is_accurate() {
        for i in -40..40 {
            let x = f64::from(i) * 0.37;
            assert!((det_sin(x) - x.sin()).abs() < 1e-9, "sin {x}");
            assert!((det_exp(x) / x.exp() - 1.0).abs() < 1e-12, "exp {x}");
        }
        assert!((midi_freq(69) - 440.0).abs() < 1e-9);
        assert!((midi_freq(81) - 880.0).abs() < 1e-9);
    }
}
