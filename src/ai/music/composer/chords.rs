//! The chord part: the bar's chord voiced in the middle register, played as pads, stabs,
//! piano rhythms, power chords, comping or arpeggios depending on the style.

use super::Rng;
use super::model::{Note, Part, Style};
use super::plan::{Bar, Level, Plan, Tone};

/// Writes the chord part in the middle register: pads (ambient), stabs (electronic), piano
/// rhythms (pop), power chords (rock), electric piano (hip-hop), comping (jazz), arpeggios
/// (classical).
pub(super) fn write(p: &Plan, rng: &mut Rng, out: &mut Vec<Note>) {
    let variant = rng.below(3);
    let mut tones: Vec<Tone> = Vec::with_capacity(64);
    for bar in &p.bars {
        tones.clear();
        let v: Vec<i32> = p.voicing(&bar.chord).into_iter().map(i32::from).collect();
        let level = p.level(bar);
        if bar.final_bar {
            block(&mut tones, &v, 0.0, 8.0, 75.0);
        } else {
            chord_bar(p, bar, level, variant, &v, rng, &mut tones);
        }
        for &(b, len, pitch, vel) in &tones {
            p.add(out, Part::Chords, bar.beat + b, len, pitch as u8, p.vel(vel, rng));
        }
    }
}

/// Every note of `v` at `at` for `len` beats.
fn block(t: &mut Vec<Tone>, v: &[i32], at: f64, len: f64, vel: f64) {
    t.extend(v.iter().map(|&n| (at, len, n, vel)));
}

#[allow(clippy::too_many_arguments)]
fn chord_bar(p: &Plan, bar: &Bar, level: Level, variant: usize, v: &[i32], rng: &mut Rng, t: &mut Vec<Tone>) {
    const STABS: [&[f64]; 3] = [&[0.5, 1.5, 2.5, 3.5], &[0.0, 0.75, 1.5, 2.5, 3.25], &[0.0, 1.5, 3.0]];
    const COMPS: [&[f64]; 4] = [&[0.0, 1.5], &[0.5, 2.0, 3.5], &[1.5, 3.5], &[0.0, 2.5]];
    match p.style {
        Style::Ambient => {
            if bar.in_section.is_multiple_of(p.bpc) {
                let len = 4.0 * f64::from(p.bpc);
                block(t, v, 0.0, len, 60.0);
                if level == Level::Full {
                    t.push((0.0, len, v[0] + 12, 50.0));
                }
            }
        }
        Style::Electronic if level == Level::Light => {
            block(t, v, 0.0, 1.5, 70.0);
            block(t, v, 2.5, 1.0, 65.0);
        }
        Style::Electronic => {
            for &at in STABS[variant] {
                block(t, v, at, 0.3, if level == Level::Full { 90.0 } else { 80.0 });
            }
        }
        Style::Rock => {
            let r = 40 + (v[0] - 40).rem_euclid(12);
            let power = [r, r + 7, r + 12];
            match level {
                Level::Light => block(t, v, 0.0, 3.9, 75.0),
                Level::Main => {
                    block(t, &power, 0.0, 1.9, 95.0);
                    block(t, &power, 2.0, 1.9, 90.0);
                }
                Level::Full => {
                    for i in 0..8 {
                        block(t, &power, f64::from(i) * 0.5, 0.45, if i % 2 == 0 { 100.0 } else { 85.0 });
                    }
                }
            }
        }
        Style::Hiphop => {
            if level == Level::Full {
                block(t, v, 0.0, 2.25, 70.0);
                block(t, v, 2.5, 1.4, 64.0);
            } else {
                block(t, v, 0.0, 3.9, 66.0);
            }
        }
        Style::Jazz if level == Level::Light => block(t, v, 0.0, 3.5, 58.0),
        Style::Jazz => {
            let hits = rng.pick(&COMPS);
            for (i, &at) in hits.iter().enumerate() {
                let next = hits.get(i + 1).copied().unwrap_or(4.0);
                block(t, v, at, (next - at).min(1.0) * 0.9, 66.0);
            }
        }
        Style::Classical => arpeggio(p, level, v, t),
        _ => match level {
            Level::Light => block(t, v, 0.0, 3.9, 62.0),
            Level::Main => {
                block(t, v, 0.0, 1.4, 72.0);
                block(t, v, 1.5, 0.9, 64.0);
                block(t, v, 2.5, 1.4, 68.0);
            }
            Level::Full => {
                for i in 0..4 {
                    block(t, v, f64::from(i), 0.85, if i % 2 == 0 { 78.0 } else { 68.0 });
                }
            }
        },
    }
}

/// Classical accompaniment: block chords when light, an Alberti bass in eighths, or a rising
/// and falling broken chord in sixteenths when energetic.
fn arpeggio(p: &Plan, level: Level, v: &[i32], t: &mut Vec<Tone>) {
    if level == Level::Light {
        return block(t, v, 0.0, 3.9, 60.0);
    }
    let n = v.len();
    let order: Vec<i32> = if level == Level::Full && p.energy > 0.55 {
        let mut up: Vec<i32> = v.to_vec();
        up.push(v[0] + 12);
        let down: Vec<i32> = up.iter().rev().skip(1).take(up.len() - 2).copied().collect();
        up.into_iter().chain(down).collect()
    } else {
        vec![v[0] - 12, v[n - 1], v[n / 2], v[n - 1]]
    };
    let step = if level == Level::Full && p.energy > 0.55 { 0.25 } else { 0.5 };
    let count = (4.0 / step) as usize;
    for i in 0..count {
        let pitch = order[i % order.len()];
        t.push((i as f64 * step, step * 0.95, pitch, if i % 4 == 0 { 70.0 } else { 58.0 }));
    }
}
