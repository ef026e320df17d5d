//! The stereo mixer: equal-power panning, headroom and a look-ahead limiter; level meters.

use std::collections::VecDeque;
use std::f32::consts::FRAC_PI_4;

use super::SAMPLE_RATE;

/// One part of a mix.
#[derive(Debug, Clone, Copy)]
pub struct MixTrack<'a> {
    /// Mono samples at [`SAMPLE_RATE`].
    pub samples: &'a [f32],
    /// Linear gain (1.0 = unchanged; non-finite counts as 0).
    pub gain: f32,
    /// Stereo position: -1 left .. 1 right (clamped; equal-power law, so 0 puts 0.707 on each side).
    pub pan: f32,
}

/// No output sample exceeds this magnitude.
const CEILING: f32 = 0.98;
/// What the limiter aims for, a hair under [`CEILING`] so float rounding never reaches it.
const TARGET: f32 = 0.975;
/// Look-ahead of the limiter: gain reduction starts this long before a peak (5 ms).
const LOOKAHEAD: usize = SAMPLE_RATE as usize / 200;
/// Time constant with which the gain recovers after a peak.
const RELEASE_SECS: f64 = 0.08;

/// Sums the tracks into stereo (equal-power pan), leaves headroom, and applies a limiter so that
/// no output sample exceeds 0.98 in magnitude (a smooth gain reduction: look-ahead or envelope
/// follower; not hard clipping). Output length = the longest track.
///
/// Headroom: the sum is scaled by 1/√n for n audible tracks (uncorrelated parts then keep about
/// the loudness of one). The limiter is stereo-linked: the gain needed to bring each frame under
/// the ceiling is held over a 5 ms look-ahead window and averaged over the same window — which
/// ramps the gain down smoothly *before* each peak yet provably never leaves a sample above it —
/// then recovers with an 80 ms release. A mix that stays under the ceiling passes unchanged.
/// Non-finite samples count as silence. Time constants assume [`SAMPLE_RATE`].
pub fn mix_stereo(tracks: &[MixTrack]) -> (Vec<f32>, Vec<f32>) {
    let len = tracks.iter().map(|t| t.samples.len()).max().unwrap_or(0);
    let (mut left, mut right) = (vec![0.0f32; len], vec![0.0f32; len]);
    let gain_of = |t: &MixTrack| if t.gain.is_finite() { t.gain } else { 0.0 };
    let audible = tracks.iter().filter(|t| !t.samples.is_empty() && gain_of(t) != 0.0).count();
    let headroom = 1.0 / (audible.max(1) as f32).sqrt();
    for track in tracks {
        let gain = gain_of(track) * headroom;
        if gain == 0.0 {
            continue;
        }
        let (pan_left, pan_right) = pan_law(track.pan);
        let (gl, gr) = (gain * pan_left, gain * pan_right);
        for ((l, r), &s) in left.iter_mut().zip(right.iter_mut()).zip(track.samples) {
            let s = if s.is_finite() { s } else { 0.0 };
            *l += s * gl;
            *r += s * gr;
        }
    }
    limit(&mut left, &mut right);
    (left, right)
}

/// Left and right gains of the equal-power (sin/cos) pan law.
fn pan_law(pan: f32) -> (f32, f32) {
    let pan = if pan.is_finite() { pan.clamp(-1.0, 1.0) } else { 0.0 };
    let angle = (pan + 1.0) * FRAC_PI_4;
    (angle.cos(), angle.sin())
}

/// The look-ahead limiter (see [`mix_stereo`]). In place; allocates once, not per sample.
fn limit(left: &mut [f32], right: &mut [f32]) {
    if peak(left).max(peak(right)) <= TARGET {
        return;
    }
    let n = left.len();
    // The gain each frame needs on its own to stay under the target (stereo-linked).
    let needed: Vec<f32> = left
        .iter()
        .zip(right.iter())
        .map(|(l, r)| {
            let p = l.abs().max(r.abs());
            if p > TARGET { TARGET / p } else { 1.0 }
        })
        .collect();

    // h[j] = min(needed[j .. j+L]) for j from -(L-1): every sample's need is known L samples
    // ahead. g[i] = mean(h[i-L+1 ..= i]): each of those windows contains i, so g[i] <= needed[i],
    // and g moves in straight ramps. k = j + L - 1 is the newest sample in the window.
    let l = LOOKAHEAD;
    let mut window: VecDeque<(usize, f32)> = VecDeque::with_capacity(l + 1);
    let mut ring = vec![0.0f64; l];
    let mut sum = 0.0f64;
    let release = 1.0 - (-1.0 / (RELEASE_SECS * f64::from(SAMPLE_RATE))).exp();
    let mut gain = 1.0f64;
    for k in 0..n + l - 1 {
        if k < n {
            let v = needed[k];
            while window.back().is_some_and(|&(_, w)| w >= v) {
                window.pop_back();
            }
            window.push_back((k, v));
        }
        while window.front().is_some_and(|&(i, _)| i + l <= k) {
            window.pop_front();
        }
        let h = f64::from(window.front().map_or(1.0, |&(_, w)| w));
        sum += h - ring[k % l];
        ring[k % l] = h;
        if k + 1 < l {
            continue;
        }
        let i = k + 1 - l;
        let smooth = sum / l as f64;
        // Down at once (the ramp is already smooth), back up with the release time constant;
        // either way the gain stays <= smooth <= needed[i].
        gain = if smooth < gain { smooth } else { gain + (smooth - gain) * release };
        let g = gain as f32;
        // The clamp only guards against float rounding; the gain has done the work.
        left[i] = (left[i] * g).clamp(-CEILING, CEILING);
        right[i] = (right[i] * g).clamp(-CEILING, CEILING);
    }
}

/// The largest magnitude in `samples` (0 when empty; NaN ignored).
pub fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

/// The root mean square of `samples` (0 when empty).
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, amplitude: f32, secs: f32) -> Vec<f32> {
        let n = (secs * SAMPLE_RATE as f32) as usize;
        (0..n).map(|i| amplitude * (std::f32::consts::TAU * freq * i as f32 / SAMPLE_RATE as f32).sin()).collect()
    }

    fn track(samples: &[f32], gain: f32, pan: f32) -> MixTrack<'_> {
        MixTrack { samples, gain, pan }
    }

    #[test]
    fn meters() {
        assert_eq!(peak(&[]), 0.0);
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(peak(&[0.1, -0.7, 0.3, f32::NAN]), 0.7);
        assert!((rms(&[0.5, -0.5, 0.5, -0.5]) - 0.5).abs() < 1e-7);
        assert!((rms(&sine(440.0, 1.0, 1.0)) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3);
    }

    #[test]
    fn four_loud_sines_are_limited_not_silenced() {
        let parts = [sine(110.0, 1.0, 2.0), sine(220.0, 1.0, 2.0), sine(330.0, 1.0, 2.0), sine(440.0, 1.0, 2.0)];
        let tracks: Vec<MixTrack> = parts.iter().map(|p| track(p, 1.0, 0.0)).collect();
        let (l, r) = mix_stereo(&tracks);
        assert_eq!((l.len(), r.len()), (parts[0].len(), parts[0].len()));
        assert!(peak(&l) <= CEILING && peak(&r) <= CEILING, "peaks {} {}", peak(&l), peak(&r));
        assert!(peak(&l) > 0.9, "the limiter brings peaks to the ceiling, not far below: {}", peak(&l));
        assert!(rms(&l) > 0.2 && rms(&r) > 0.2, "rms {} {}", rms(&l), rms(&r));
    }

    #[test]
    fn huge_gains_and_correlated_parts_stay_under_the_ceiling() {
        let a = sine(55.0, 1.0, 1.0);
        let b = sine(3000.0, 1.0, 1.0);
        let (l, r) = mix_stereo(&[track(&a, 8.0, -0.5), track(&a, 8.0, -0.5), track(&b, 20.0, 0.7)]);
        assert!(peak(&l) <= CEILING && peak(&r) <= CEILING, "peaks {} {}", peak(&l), peak(&r));
        assert!(rms(&l) > 0.2);
    }

    #[test]
    fn a_mix_under_the_ceiling_passes_unchanged() {
        let a = sine(440.0, 0.5, 0.5);
        let (l, r) = mix_stereo(&[track(&a, 1.0, 0.0)]);
        let g = std::f32::consts::FRAC_1_SQRT_2;
        for ((&x, &y), &s) in l.iter().zip(&r).zip(&a) {
            assert!((x - s * g).abs() < 1e-6 && (y - s * g).abs() < 1e-6);
        }
    }

    #[test]
    fn hard_left_and_right_pans() {
        let a = sine(440.0, 0.8, 0.5);
        let (l, r) = mix_stereo(&[track(&a, 1.0, -1.0)]);
        let (el, er) = (rms(&l).powi(2), rms(&r).powi(2));
        assert!(el > 0.3 && er <= el * 1e-4, "left {el}, right {er}");
        let (l, r) = mix_stereo(&[track(&a, 1.0, 1.0)]);
        assert!(rms(&r) > 0.5 && rms(&l) <= rms(&r) * 1e-2);
        // Out-of-range pans are clamped.
        let (l, r) = mix_stereo(&[track(&a, 1.0, -7.0)]);
        assert!(rms(&l) > 0.5 && rms(&r) < 1e-3);
    }

    #[test]
    fn the_gain_moves_smoothly_into_and_out_of_a_loud_burst() {
        // Quiet, then 12 dB over the ceiling, then quiet again: hard left, so left = input × gain.
        let mut input = sine(440.0, 0.2, 0.5);
        input.extend(sine(440.0, 4.0, 0.5));
        input.extend(sine(440.0, 0.2, 0.5));
        let (l, _) = mix_stereo(&[track(&input, 1.0, -1.0)]);
        assert!(peak(&l) <= CEILING);
        // The applied gain, where the input is loud enough to read it off.
        let gains: Vec<(usize, f32)> = l
            .iter()
            .zip(&input)
            .enumerate()
            .filter(|(_, (_, s))| s.abs() > 0.05)
            .map(|(i, (o, s))| (i, o / s))
            .collect();
        let max_step =
            gains.windows(2).map(|w| (w[1].1 - w[0].1).abs() / (w[1].0 - w[0].0) as f32).fold(0.0f32, f32::max);
        assert!(max_step < 0.005, "the gain moves by {max_step} per sample");
        let min_gain = gains.iter().map(|g| g.1).fold(1.0f32, f32::min);
        assert!((0.2..0.26).contains(&min_gain), "about 12 dB of reduction, got {min_gain}");
        // Hard clipping would flatten the tops: a limited sine keeps its shape.
        let loud = &l[SAMPLE_RATE as usize / 2 + 2000..SAMPLE_RATE as usize - 2000];
        // (A sine spends 6.4% of its time above 0.995 of its peak; clipped 12 dB, about 90%.)
        let top = 0.995 * peak(loud);
        let flat = loud.iter().filter(|s| s.abs() > top).count();
        assert!(flat < loud.len() / 10, "{flat} of {} samples at the peak", loud.len());
        // After the release the quiet part is back at unity gain.
        let tail = &l[l.len() - 4410..];
        assert!((rms(tail) / rms(&input[input.len() - 4410..]) - 1.0).abs() < 0.01);
    }

    #[test]
    fn length_is_the_longest_track_and_odd_input_is_harmless() {
        let long = sine(220.0, 0.3, 1.0);
        let short = vec![0.5f32; 100];
        let nan = [f32::NAN, f32::INFINITY, 0.1];
        let (l, r) = mix_stereo(&[
            track(&short, 1.0, 0.0),
            track(&long, 1.0, 0.0),
            track(&nan, f32::NAN, f32::NAN),
            track(&nan, 1.0, 0.0),
        ]);
        assert_eq!((l.len(), r.len()), (long.len(), long.len()));
        assert!(l.iter().chain(&r).all(|s| s.is_finite()));
        assert_eq!(mix_stereo(&[]), (vec![], vec![]));
        assert_eq!(mix_stereo(&[track(&[], 1.0, 0.0)]), (vec![], vec![]));
    }
}
