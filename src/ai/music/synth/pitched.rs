//! The pitched parts: every note of the bass, chord or lead part rendered by its own voice
//! (bass oscillators through a filter envelope; pads, stabs, piano, electric piano and rhythm
//! guitar for chords; piano, plucked string, saw leads, strings, bell and flute for the lead).

use super::Renderer;
use super::dsp::{Adsr, Lp2, Noise, PHASE_PER_RAD, lp_coef, midi_freq, saw, sine, soft_clip, square, triangle};
use crate::ai::music::composer::{BassVoice, ChordVoice, Composition, Part, Style, Timbre};
use crate::splitmix::GOLDEN_GAMMA;

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

impl Renderer {
    /// Renders every note of a pitched part into `out`.
    pub(super) fn pitched(&self, c: &Composition, part: Part, out: &mut [f32]) {
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
                noise: Noise::new(self.seed ^ (i as u64).wrapping_mul(GOLDEN_GAMMA)),
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
