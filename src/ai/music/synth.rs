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
//! coefficients) comes from this file's own `det_sin`/`det_exp` (plain `+ - × ÷`), not the
//! platform's libm, so identical input gives bit-identical samples on every machine. Nothing is
//! allocated per sample; the work is O(samples × simultaneous voices).

use std::f64::consts::{FRAC_PI_2, LN_2, PI, TAU};
use std::sync::OnceLock;

use super::composer::drum::*;
use super::composer::{BassVoice, ChordVoice, Composition, Part, Style, Timbre, mix64};

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

// ---------------------------------------------------------------------------------------------
// Deterministic math and building blocks
// ---------------------------------------------------------------------------------------------

const TABLE_BITS: u32 = 11;
const TABLE_LEN: usize = 1 << TABLE_BITS;
const FRAC_BITS: u32 = 32 - TABLE_BITS;
const TWO_32: f64 = 4_294_967_296.0;
const INV_2_32: f32 = 1.0 / 4_294_967_296.0;
/// Phase units per radian.
const PHASE_PER_RAD: f32 = (TWO_32 / TAU) as f32;

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
fn det_exp(x: f64) -> f64 {
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
fn midi_freq(key: u8) -> f64 {
    440.0 * det_exp((f64::from(key) - 69.0) / 12.0 * LN_2)
}

fn sine_table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| (0..=TABLE_LEN).map(|i| det_sin(TAU * i as f64 / TABLE_LEN as f64) as f32).collect())
}

/// Sine of a 32-bit phase (a full turn = 2^32), linearly interpolated from the table.
#[inline]
fn sine(table: &[f32], phase: u32) -> f32 {
    let i = (phase >> FRAC_BITS) as usize;
    let frac = (phase & ((1 << FRAC_BITS) - 1)) as f32 * (1.0 / (1u32 << FRAC_BITS) as f32);
    let a = table[i];
    a + (table[i + 1] - a) * frac
}

/// Band-limited (PolyBLEP) saw in -1..1.
#[inline]
fn saw(phase: u32, inc: u32) -> f32 {
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
fn square(phase: u32, inc: u32) -> f32 {
    0.5 * (saw(phase, inc) - saw(phase.wrapping_add(0x8000_0000), inc))
}

#[inline]
fn triangle(phase: u32) -> f32 {
    let t = phase as f32 * INV_2_32;
    4.0 * (t - 0.5).abs() - 1.0
}

/// Smooth saturation, ≈ tanh for |x| < 3, clamped beyond.
#[inline]
fn soft_clip(x: f32) -> f32 {
    let x = x.clamp(-3.0, 3.0);
    x * (27.0 + x * x) / (27.0 + 9.0 * x * x)
}

/// Seeded xorshift32 white noise in -1..1.
struct Noise(u32);

impl Noise {
    fn new(seed: u64) -> Self {
        Noise((mix64(seed) as u32) | 1)
    }

    #[inline]
    fn next(&mut self) -> f32 {
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
struct Lp2 {
    z1: f32,
    z2: f32,
}

impl Lp2 {
    #[inline]
    fn run(&mut self, x: f32, a: f32) -> f32 {
        self.z1 += a * (x - self.z1);
        self.z2 += a * (self.z1 - self.z2);
        self.z2
    }
}

/// One-pole coefficient for a cutoff (bilinear-ish approximation, no libm).
#[inline]
fn lp_coef(cutoff: f32, sr: f32) -> f32 {
    let w = std::f32::consts::TAU * cutoff.clamp(20.0, 0.45 * sr) / sr;
    w / (1.0 + w)
}

/// Linear attack, exponential decay to a sustain level, exponential release after the gate.
struct Adsr {
    attack: f32,
    decay: f32,
    sustain: f32,
    release: f32,
    level: f32,
    attacking: bool,
}

impl Adsr {
    #[inline]
    fn next(&mut self, gate: bool) -> f32 {
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
struct Vibrato {
    phase: u32,
    inc: u32,
    depth: f32,
    delay: usize,
    ramp: f32,
}

impl Vibrato {
    /// The frequency factor at sample `i`.
    #[inline]
    fn factor(&mut self, table: &[f32], i: usize) -> f32 {
        if i < self.delay {
            return 1.0;
        }
        let fade = ((i - self.delay) as f32 * self.ramp).min(1.0);
        let lfo = sine(table, self.phase);
        self.phase = self.phase.wrapping_add(self.inc);
        1.0 + self.depth * fade * lfo
    }
}

/// What a pitched voice plays.
struct Voice {
    /// Samples until note-off.
    gate: usize,
    freq: f64,
    key: u8,
    /// 0..1.
    vel: f32,
    noise: Noise,
}

impl Voice {
    /// Loudness from velocity: a gentle curve.
    fn amp(&self) -> f32 {
        self.vel * (0.3 + 0.7 * self.vel)
    }
}

// ---------------------------------------------------------------------------------------------
// The renderer
// ---------------------------------------------------------------------------------------------

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

    /// Renders every note of a pitched part into `out`.
    fn pitched(&self, c: &Composition, part: Part, out: &mut [f32]) {
        let tail = self.samples(match part {
            Part::Bass => 0.35,
            Part::Chords => chord_tail(c.chord_voice),
            _ => lead_tail(c.lead_timbre),
        });
        let mut line = vec![0.0f32; (self.sr / 20.0) as usize + 4];
        for (i, n) in c.part_notes(part).enumerate() {
            let start = (n.start * self.sr).round() as usize;
            if start >= out.len() {
                continue;
            }
            let gate = ((n.length * self.sr).round() as usize).max(1);
            let end = start.saturating_add(gate).saturating_add(tail).min(out.len());
            let mut v = Voice {
                gate,
                freq: midi_freq(n.pitch),
                key: n.pitch,
                vel: f32::from(n.velocity) / 127.0,
                noise: Noise::new(self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            };
            let buf = &mut out[start..end];
            match part {
                Part::Bass => self.bass(c.bass_voice, &mut v, buf),
                Part::Chords => self.chord(c.chord_voice, &mut v, buf),
                _ => self.lead(c.lead_timbre, &mut v, buf, &mut line),
            }
        }
    }

    fn chord(&self, voice: ChordVoice, v: &mut Voice, buf: &mut [f32]) {
        match voice {
            ChordVoice::Pad => self.pad(v, buf),
            ChordVoice::Stab => self.stab(v, buf),
            ChordVoice::Piano => self.piano(v, buf),
            ChordVoice::ElectricPiano => self.electric_piano(v, buf),
            ChordVoice::Guitar => self.guitar(v, buf),
        }
    }

    fn lead(&self, timbre: Timbre, v: &mut Voice, buf: &mut [f32], line: &mut [f32]) {
        match timbre {
            Timbre::Piano => self.piano(v, buf),
            Timbre::Pluck => self.pluck(v, buf, line),
            Timbre::Saw => self.saw_lead(v, buf, 2, 0.004, self.adsr(0.01, 0.4, 0.7, 0.07)),
            Timbre::Strings => self.saw_lead(v, buf, 3, 0.006, self.adsr(0.15, 1.0, 0.9, 0.22)),
            Timbre::Bell => self.bell(v, buf),
            Timbre::Flute => self.flute(v, buf),
        }
    }

    // --- bass ----------------------------------------------------------------------------------

    /// Oscillator → two-pole lowpass with a decaying filter envelope → ADSR.
    fn bass(&self, kind: BassVoice, v: &mut Voice, buf: &mut [f32]) {
        let t = self.table;
        let (inc, inc2) = (self.inc(v.freq * 0.9985), self.inc(v.freq * 1.0015));
        let (mut p1, mut p2) = (0u32, 0x4000_0000u32);
        let mut env = match kind {
            BassVoice::Soft => self.adsr(0.06, 1.0, 0.8, 0.05),
            BassVoice::Sub => self.adsr(0.005, 0.8, 0.7, 0.04),
            BassVoice::Upright => self.adsr(0.004, 0.3, 0.2, 0.04),
            BassVoice::Saw | BassVoice::Square => self.adsr(0.004, 0.3, 0.75, 0.04),
        };
        let f = v.freq as f32;
        let (base, amount) = match kind {
            BassVoice::Saw => (f * 2.0 + 150.0 + 500.0 * self.brightness, 1400.0 * v.vel),
            BassVoice::Square => (f * 1.5 + 120.0 + 300.0 * self.brightness, 800.0 * v.vel),
            BassVoice::Sub => (500.0, 0.0),
            BassVoice::Upright => (700.0 + 400.0 * self.brightness, 600.0),
            BassVoice::Soft => (f * 2.0 + 250.0, 0.0),
        };
        let (mut fenv, fdecay) = (1.0f32, self.decay(0.12));
        let mut lp = Lp2::default();
        let amp = v.amp();
        for (i, out) in buf.iter_mut().enumerate() {
            let e = env.next(i < v.gate);
            if i >= v.gate && e < 1e-4 {
                break;
            }
            let raw = match kind {
                BassVoice::Saw => 0.5 * (saw(p1, inc) + saw(p2, inc2)),
                BassVoice::Square => square(p1, inc),
                BassVoice::Sub => soft_clip(1.6 * (sine(t, p1) + 0.2 * sine(t, p1.wrapping_mul(2)))),
                BassVoice::Upright => sine(t, p1) + 0.3 * sine(t, p1.wrapping_mul(2)),
                BassVoice::Soft => triangle(p1),
            };
            let y = lp.run(raw, lp_coef(base + amount * fenv, self.srf));
            fenv *= fdecay;
            *out += y * e * amp;
            p1 = p1.wrapping_add(inc);
            p2 = p2.wrapping_add(inc2);
        }
    }

    // --- chords --------------------------------------------------------------------------------

    /// Two detuned saws and a triangle, lowpassed, slow attack and long release.
    fn pad(&self, v: &mut Voice, buf: &mut [f32]) {
        let incs = [self.inc(v.freq * 0.9965), self.inc(v.freq * 1.0035), self.inc(v.freq)];
        let mut ph = [0u32, 0x5555_5555, 0xAAAA_AAAA];
        let attack = if self.style == Style::Ambient { 1.2 } else { 0.5 };
        let mut env = self.adsr(attack, 3.0, 0.85, 0.5);
        let a = lp_coef(600.0 + 2200.0 * self.brightness, self.srf);
        let mut lp = Lp2::default();
        let amp = v.amp();
        for (i, out) in buf.iter_mut().enumerate() {
            let e = env.next(i < v.gate);
            if i >= v.gate && e < 1e-4 {
                break;
            }
            let raw = 0.35 * (saw(ph[0], incs[0]) + saw(ph[1], incs[1])) + 0.3 * triangle(ph[2]);
            *out += lp.run(raw, a) * e * amp;
            for k in 0..3 {
                ph[k] = ph[k].wrapping_add(incs[k]);
            }
        }
    }

    /// Detuned saws with a fast filter sweep and a short, plucky envelope.
    fn stab(&self, v: &mut Voice, buf: &mut [f32]) {
        let (i1, i2) = (self.inc(v.freq * 0.994), self.inc(v.freq * 1.006));
        let (mut p1, mut p2) = (0u32, 0x3000_0000u32);
        let mut env = self.adsr(0.002, 0.15, 0.25, 0.06);
        let (mut fenv, fdecay) = (1.0f32, self.decay(0.08));
        let base = 500.0 + 700.0 * self.brightness;
        let amount = (1500.0 + 3500.0 * self.brightness) * v.vel;
        let mut lp = Lp2::default();
        let amp = v.amp();
        for (i, out) in buf.iter_mut().enumerate() {
            let e = env.next(i < v.gate);
            if i >= v.gate && e < 1e-4 {
                break;
            }
            let raw = 0.5 * (saw(p1, i1) + saw(p2, i2));
            *out += lp.run(raw, lp_coef(base + amount * fenv, self.srf)) * e * amp;
            fenv *= fdecay;
            p1 = p1.wrapping_add(i1);
            p2 = p2.wrapping_add(i2);
        }
    }

    /// Additive piano: six slightly inharmonic partials, higher ones decaying faster and
    /// brighter with velocity, a short hammer noise, a quick damper release.
    fn piano(&self, v: &mut Voice, buf: &mut [f32]) {
        const AMPS: [f32; 6] = [1.0, 0.55, 0.32, 0.2, 0.12, 0.07];
        let t = self.table;
        let tau1 = (3.2 - (f64::from(v.key) - 48.0) * 0.045).clamp(0.5, 3.2);
        let mut ph = [0u32; 6];
        let mut incs = [0u32; 6];
        let mut amps = [0f32; 6];
        let mut coefs = [0f32; 6];
        for k in 0..6 {
            let n = (k + 1) as f64;
            let f = v.freq * n * (1.0 + 0.0004 * n * n).sqrt();
            if f < 0.45 * self.sr {
                incs[k] = self.inc(f);
                let shine = if k >= 2 { 0.4 + 0.8 * v.vel * (0.5 + self.brightness) } else { 1.0 };
                amps[k] = AMPS[k] * shine;
                coefs[k] = self.decay(tau1 / (1.0 + 0.6 * k as f64));
            }
        }
        let attack = self.samples(0.002).max(1) as f32;
        let hammer = self.samples(0.004);
        let release = self.decay(0.08);
        let (mut damp, amp) = (1.0f32, 0.45 * v.amp());
        for (i, out) in buf.iter_mut().enumerate() {
            if i >= v.gate {
                damp *= release;
                if damp < 1e-4 {
                    break;
                }
            }
            let mut s = 0.0;
            for k in 0..6 {
                s += sine(t, ph[k]) * amps[k];
                amps[k] *= coefs[k];
                ph[k] = ph[k].wrapping_add(incs[k]);
            }
            if i < hammer {
                s += 0.15 * v.vel * v.noise.next();
            }
            let a = (i as f32 / attack).min(1.0);
            *out += s * a * damp * amp;
        }
    }

    /// FM electric piano: a sine carrier modulated at the same frequency with a decaying
    /// index (the bark), a slow decay and a short release.
    fn electric_piano(&self, v: &mut Voice, buf: &mut [f32]) {
        let t = self.table;
        let inc = self.inc(v.freq);
        let (mut pc, mut pm) = (0u32, 0u32);
        let mut env = self.adsr(0.002, 1.6, 0.0, 0.12);
        let (mut index, idecay) = (0.4 + 1.6 * v.vel, self.decay(0.35));
        let amp = v.amp();
        for (i, out) in buf.iter_mut().enumerate() {
            let e = env.next(i < v.gate);
            if (i >= v.gate || !env.attacking) && e < 1e-4 {
                break;
            }
            let m = (index + 0.15) * sine(t, pm);
            let s = sine(t, pc.wrapping_add(((m * PHASE_PER_RAD) as i64) as u32));
            *out += s * e * amp;
            index *= idecay;
            pc = pc.wrapping_add(inc);
            pm = pm.wrapping_add(inc);
        }
    }

    /// Two detuned saws, driven into soft clipping and lowpassed: a rhythm guitar.
    fn guitar(&self, v: &mut Voice, buf: &mut [f32]) {
        let (i1, i2) = (self.inc(v.freq * 0.997), self.inc(v.freq * 1.003));
        let (mut p1, mut p2) = (0u32, 0x2000_0000u32);
        let mut env = self.adsr(0.003, 0.6, 0.55, 0.06);
        let a = lp_coef(1400.0 + 2000.0 * self.brightness, self.srf);
        let mut lp = Lp2::default();
        let amp = v.amp();
        for (i, out) in buf.iter_mut().enumerate() {
            let e = env.next(i < v.gate);
            if i >= v.gate && e < 1e-4 {
                break;
            }
            let raw = soft_clip(1.8 * (saw(p1, i1) + saw(p2, i2)));
            *out += lp.run(raw, a) * e * amp;
            p1 = p1.wrapping_add(i1);
            p2 = p2.wrapping_add(i2);
        }
    }

    // --- lead ----------------------------------------------------------------------------------

    /// Karplus-Strong: a noise burst (darker when soft) circulating in a delay line of one
    /// period through an averaging filter and an all-pass for the fractional delay; damped
    /// quickly after the note-off. `line` is a reused buffer of at least `rate / 20` samples.
    fn pluck(&self, v: &mut Voice, buf: &mut [f32], line: &mut [f32]) {
        let period = self.sr / v.freq;
        let n = ((period - 0.5).floor() as usize).clamp(2, line.len() - 1);
        let d = ((period - 0.5 - n as f64) as f32).clamp(0.05, 1.0);
        let c = (1.0 - d) / (1.0 + d);
        let line = &mut line[..n];
        let a = 0.25 + 0.65 * v.vel * (0.5 + 0.5 * self.brightness);
        let mut z = 0.0;
        for x in line.iter_mut() {
            z += a * (v.noise.next() - z);
            *x = z;
        }
        let mean = line.iter().sum::<f32>() / n as f32;
        line.iter_mut().for_each(|x| *x -= mean);
        let loss_on = if v.freq < 200.0 { 0.999 } else { 0.996 };
        let (mut idx, mut prev, mut ap_x, mut ap_y) = (0usize, 0.0f32, 0.0f32, 0.0f32);
        let amp = v.amp();
        for (i, out) in buf.iter_mut().enumerate() {
            let y = line[idx];
            let loss = if i < v.gate { loss_on } else { 0.85 };
            let s = 0.5 * (y + prev) * loss;
            prev = y;
            let ap = c * s + ap_x - c * ap_y;
            ap_x = s;
            ap_y = ap;
            line[idx] = ap;
            idx += 1;
            if idx == n {
                idx = 0;
            }
            *out += y * amp;
        }
    }

    /// `count` detuned saws (spread `spread` each side) with delayed vibrato through a lowpass:
    /// a synth lead (2) or strings (3, slow attack).
    fn saw_lead(&self, v: &mut Voice, buf: &mut [f32], count: usize, spread: f64, mut env: Adsr) {
        let detune = [1.0 - spread, 1.0 + spread, 1.0];
        let base: [f32; 3] = std::array::from_fn(|k| self.inc(v.freq * detune[k]) as f32);
        let mut ph = [0u32, 0x5555_5555, 0xAAAA_AAAA];
        let mut vib = self.vibrato(5.5, 0.005, 0.2, 0.3);
        let cut = if count == 3 { 1800.0 + 1800.0 * self.brightness } else { 1200.0 + 3500.0 * self.brightness };
        let a = lp_coef(cut, self.srf);
        let mut lp = Lp2::default();
        let amp = v.amp() / count as f32;
        for (i, out) in buf.iter_mut().enumerate() {
            let e = env.next(i < v.gate);
            if i >= v.gate && e < 1e-4 {
                break;
            }
            let f = vib.factor(self.table, i);
            let mut raw = 0.0;
            for k in 0..count {
                let inc = (base[k] * f) as u32;
                raw += saw(ph[k], inc);
                ph[k] = ph[k].wrapping_add(inc);
            }
            *out += lp.run(raw, a) * e * amp;
        }
    }

    /// FM bell: an inharmonic modulator (×3.5) whose index decays faster than the tone.
    fn bell(&self, v: &mut Voice, buf: &mut [f32]) {
        let t = self.table;
        let (ic, im) = (self.inc(v.freq), self.inc(v.freq * 3.5));
        let (mut pc, mut pm) = (0u32, 0u32);
        let mut env = self.adsr(0.001, 1.3, 0.0, 0.45);
        let (mut index, idecay) = (1.0 + 2.5 * v.vel, self.decay(0.5));
        let amp = v.amp();
        for (i, out) in buf.iter_mut().enumerate() {
            let e = env.next(i < v.gate);
            if !env.attacking && e < 1e-4 {
                break;
            }
            let m = index * sine(t, pm);
            *out += sine(t, pc.wrapping_add(((m * PHASE_PER_RAD) as i64) as u32)) * e * amp;
            index *= idecay;
            pc = pc.wrapping_add(ic);
            pm = pm.wrapping_add(im);
        }
    }

    /// Flute: a sine with weak 2nd and 3rd harmonics, lowpassed breath noise (stronger at the
    /// attack) and delayed vibrato.
    fn flute(&self, v: &mut Voice, buf: &mut [f32]) {
        let t = self.table;
        let base = self.inc(v.freq) as f32;
        let mut ph = 0u32;
        let mut env = self.adsr(0.06, 0.5, 0.85, 0.08);
        let mut vib = self.vibrato(5.0, 0.0035, 0.15, 0.25);
        let (mut chiff, cdecay) = (1.0f32, self.decay(0.05));
        let (mut breath, ba) = (0.0f32, lp_coef(2500.0, self.srf));
        let amp = v.amp();
        for (i, out) in buf.iter_mut().enumerate() {
            let e = env.next(i < v.gate);
            if i >= v.gate && e < 1e-4 {
                break;
            }
            let tone = sine(t, ph) + 0.2 * sine(t, ph.wrapping_mul(2)) + 0.06 * sine(t, ph.wrapping_mul(3));
            breath += ba * (v.noise.next() - breath);
            *out += (tone + breath * (0.12 + 0.6 * chiff)) * e * amp;
            chiff *= cdecay;
            ph = ph.wrapping_add((base * vib.factor(t, i)) as u32);
        }
    }

    // --- drums ---------------------------------------------------------------------------------

    /// Mixes one-shots, each rendered once per drum key, at every hit's velocity.
    fn drums(&self, c: &Composition, out: &mut [f32]) {
        let mut kit: Vec<Option<Vec<f32>>> = vec![None; 128];
        for n in c.part_notes(Part::Drums) {
            let start = (n.start * self.sr).round() as usize;
            if start >= out.len() {
                continue;
            }
            let sample = kit[usize::from(n.pitch & 127)].get_or_insert_with(|| self.drum(n.pitch));
            let x = f32::from(n.velocity) / 127.0;
            let amp = x * (0.3 + 0.7 * x);
            let end = (start + sample.len()).min(out.len());
            for (o, s) in out[start..end].iter_mut().zip(sample.iter()) {
                *o += s * amp;
            }
        }
    }

    /// The one-shot for a GM drum key.
    fn drum(&self, key: u8) -> Vec<f32> {
        let mut noise = Noise::new(self.seed ^ u64::from(key));
        match key {
            KICK | 35 => self.kick(&mut noise),
            SNARE | 40 if self.style == Style::Jazz => self.brush(&mut noise),
            SNARE | 40 => self.snare(&mut noise),
            CLAP => self.clap(&mut noise),
            SIDE_STICK => self.side_stick(&mut noise),
            LOW_TOM | 41 | 43 => self.tom(95.0, &mut noise),
            MID_TOM | 48 => self.tom(125.0, &mut noise),
            HIGH_TOM => self.tom(165.0, &mut noise),
            PEDAL_HAT => self.metal(&mut noise, 0.02, 7500.0, 0.6),
            OPEN_HAT => self.metal(&mut noise, 0.2, 6500.0, 0.8),
            RIDE | 59 => self.ride(&mut noise),
            CRASH | 57 => self.metal(&mut noise, 0.55, 4500.0, 1.0),
            _ => self.metal(&mut noise, 0.035, 7000.0, 0.7),
        }
    }

    /// Sine with an exponential pitch sweep and decay, a click, a little drive.
    fn kick(&self, noise: &mut Noise) -> Vec<f32> {
        let (f0, f1, ptau, atau, drive) = match self.style {
            Style::Electronic => (160.0, 48.0, 0.035, 0.3, 1.8),
            Style::Hiphop => (125.0, 46.0, 0.05, 0.4, 1.5),
            Style::Jazz => (110.0, 60.0, 0.03, 0.15, 1.0),
            _ => (135.0, 52.0, 0.03, 0.22, 1.3),
        };
        let n = self.samples(atau * 7.0);
        let (pd, ad) = (self.decay(ptau), self.decay(atau));
        let click = self.samples(0.002).max(1);
        let (mut pe, mut a, mut ph) = (1.0f32, 1.0f32, 0u32);
        let scale = (TWO_32 / self.sr) as f32;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let f = f1 + (f0 - f1) * pe;
            let mut s = sine(self.table, ph) * a;
            if i < click {
                s += 0.3 * noise.next() * (1.0 - i as f32 / click as f32);
            }
            out.push(soft_clip(drive * s) / soft_clip(drive));
            ph = ph.wrapping_add((f * scale) as u32);
            pe *= pd;
            a *= ad;
        }
        out
    }

    /// High-passed noise plus a two-tone body.
    fn snare(&self, noise: &mut Noise) -> Vec<f32> {
        let n = self.samples(0.6);
        let (nd, bd) = (self.decay(0.09), self.decay(0.045));
        let (i1, i2) = (self.inc(185.0), self.inc(330.0));
        let (mut p1, mut p2) = (0u32, 0u32);
        let (mut ne, mut be, mut lp) = (1.0f32, 1.0f32, 0.0f32);
        let a = lp_coef(1500.0, self.srf);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let x = noise.next();
            lp += a * (x - lp);
            let body = sine(self.table, p1) + 0.5 * sine(self.table, p2);
            out.push(0.7 * (x - lp) * ne + 0.5 * body * be);
            p1 = p1.wrapping_add(i1);
            p2 = p2.wrapping_add(i2);
            ne *= nd;
            be *= bd;
        }
        out
    }

    /// A brush sweep: soft-attack, lowpassed noise.
    fn brush(&self, noise: &mut Noise) -> Vec<f32> {
        let n = self.samples(0.8);
        let attack = self.samples(0.012).max(1) as f32;
        let d = self.decay(0.11);
        let a = lp_coef(5000.0, self.srf);
        let (mut e, mut lp) = (1.0f32, 0.0f32);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            lp += a * (noise.next() - lp);
            out.push(lp * e * (i as f32 / attack).min(1.0));
            if i as f32 >= attack {
                e *= d;
            }
        }
        out
    }

    /// Three quick noise bursts then a tail, band-passed.
    fn clap(&self, noise: &mut Noise) -> Vec<f32> {
        let n = self.samples(0.5);
        let gap = self.samples(0.011).max(1);
        let (bd, td) = (self.decay(0.006), self.decay(0.08));
        let (lo, hi) = (lp_coef(900.0, self.srf), lp_coef(3500.0, self.srf));
        let (mut e, mut z1, mut z2) = (0.0f32, 0.0f32, 0.0f32);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if i < 3 * gap && i % gap == 0 {
                e = 1.0;
            }
            let x = noise.next();
            z1 += lo * (x - z1);
            z2 += hi * (x - z1 - z2);
            out.push(z2 * e);
            e *= if i < 3 * gap { bd } else { td };
        }
        out
    }

    fn side_stick(&self, noise: &mut Noise) -> Vec<f32> {
        let n = self.samples(0.12);
        let (i1, i2) = (self.inc(1700.0), self.inc(820.0));
        let (d, cd) = (self.decay(0.012), self.decay(0.004));
        let (mut p1, mut p2, mut e, mut ce) = (0u32, 0u32, 1.0f32, 1.0f32);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let s = (sine(self.table, p1) + sine(self.table, p2)) * e + noise.next() * ce;
            out.push(0.6 * s);
            p1 = p1.wrapping_add(i1);
            p2 = p2.wrapping_add(i2);
            e *= d;
            ce *= cd;
        }
        out
    }

    /// A kick-like sweep from 1.6× `freq` down to `freq`, longer and with some noise.
    fn tom(&self, freq: f32, noise: &mut Noise) -> Vec<f32> {
        let n = self.samples(1.4);
        let (pd, ad, nd) = (self.decay(0.05), self.decay(0.2), self.decay(0.03));
        let scale = (TWO_32 / self.sr) as f32;
        let (mut pe, mut a, mut ne, mut ph) = (1.0f32, 1.0f32, 1.0f32, 0u32);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let f = freq * (1.0 + 0.6 * pe);
            out.push(0.8 * sine(self.table, ph) * a + 0.15 * noise.next() * ne);
            ph = ph.wrapping_add((f * scale) as u32);
            pe *= pd;
            a *= ad;
            ne *= nd;
        }
        out
    }

    /// Cymbal/hat: six square oscillators at inharmonic ratios (the classic drum-machine
    /// "metal") mixed with noise, through a two-pole high-pass, decaying with `tau` seconds.
    fn metal(&self, noise: &mut Noise, tau: f64, cutoff: f32, noise_mix: f32) -> Vec<f32> {
        const RATIOS: [f64; 6] = [205.3, 304.4, 369.6, 522.7, 540.0, 800.0];
        let incs: [u32; 6] = std::array::from_fn(|k| self.inc(RATIOS[k] * 1.7));
        let mut ph = [0u32; 6];
        let n = self.samples(tau * 7.0);
        let (d, a) = (self.decay(tau), lp_coef(cutoff, self.srf));
        let (mut e, mut z1, mut z2) = (1.0f32, 0.0f32, 0.0f32);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let mut m = 0.0;
            for k in 0..6 {
                m += if ph[k] < 0x8000_0000 { 1.0 } else { -1.0 };
                ph[k] = ph[k].wrapping_add(incs[k]);
            }
            let x = (1.0 - noise_mix) * m / 6.0 + noise_mix * noise.next();
            z1 += a * (x - z1);
            let h1 = x - z1;
            z2 += a * (h1 - z2);
            out.push((h1 - z2) * e);
            e *= d;
        }
        out
    }

    /// A ride: metal with a longer decay plus a faint bell ping.
    fn ride(&self, noise: &mut Noise) -> Vec<f32> {
        let mut out = self.metal(noise, 0.3, 4000.0, 0.5);
        let (i1, i2) = (self.inc(2400.0), self.inc(3350.0));
        let (mut p1, mut p2, mut e) = (0u32, 0u32, 0.25f32);
        let d = self.decay(0.25);
        for s in out.iter_mut() {
            *s += (sine(self.table, p1) + sine(self.table, p2)) * e;
            p1 = p1.wrapping_add(i1);
            p2 = p2.wrapping_add(i2);
            e *= d;
        }
        out
    }
}

/// Seconds of release tail rendered after each chord note.
fn chord_tail(voice: ChordVoice) -> f64 {
    match voice {
        ChordVoice::Pad => 3.5,
        ChordVoice::Stab | ChordVoice::Guitar => 0.45,
        ChordVoice::Piano => 0.75,
        ChordVoice::ElectricPiano => 0.85,
    }
}

/// Seconds of release tail rendered after each lead note.
fn lead_tail(timbre: Timbre) -> f64 {
    match timbre {
        Timbre::Piano => 0.75,
        Timbre::Pluck => 0.3,
        Timbre::Saw | Timbre::Flute => 0.6,
        Timbre::Strings => 1.6,
        Timbre::Bell => 3.2,
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
    fn det_math_is_accurate() {
        for i in -40..40 {
            let x = f64::from(i) * 0.37;
            assert!((det_sin(x) - x.sin()).abs() < 1e-9, "sin {x}");
            assert!((det_exp(x) / x.exp() - 1.0).abs() < 1e-12, "exp {x}");
        }
        assert!((midi_freq(69) - 440.0).abs() < 1e-9);
        assert!((midi_freq(81) - 880.0).abs() < 1e-9);
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
