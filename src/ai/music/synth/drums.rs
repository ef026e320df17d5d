//! The drum part: one-shots synthesized once per General MIDI drum key (kick, snare or brushes,
//! clap, side stick, toms, and hats, ride and crash from six square "metal" oscillators plus
//! noise) and mixed at every hit's velocity.

use super::Renderer;
use super::dsp::{Noise, TWO_32, lp_coef, sine, soft_clip};
use crate::ai::music::composer::drum::*;
use crate::ai::music::composer::{Composition, Part, Style};

impl Renderer {
    /// Mixes one-shots, each rendered once per drum key, at every hit's velocity.
    pub(super) fn drums(&self, c: &Composition, out: &mut [f32]) {
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
