//! The bass part: chord roots in a rhythm per style, or a walking line for jazz.

use super::Rng;
use super::model::{Note, Part, SectionKind, Style};
use super::plan::{Bar, Level, Plan, Tone};

/// Writes the bass: chord roots with a rhythm per style (a walking line for jazz). Silent in
/// intros except for jazz and classical.
pub(super) fn write(p: &Plan, rng: &mut Rng, out: &mut Vec<Note>) {
    let variant = rng.below(3);
    let mut tones: Vec<Tone> = Vec::with_capacity(16);
    let mut prev = p.bass_root(&p.bars[0].chord);
    for bar in &p.bars {
        let intro_rest = bar.kind == SectionKind::Intro && !matches!(p.style, Style::Jazz | Style::Classical);
        if intro_rest {
            continue;
        }
        tones.clear();
        let root = p.bass_root(&bar.chord);
        if bar.final_bar {
            tones.push((0.0, 8.0, root, 95.0));
        } else {
            bass_bar(p, bar, p.level(bar), variant, root, prev, rng, &mut tones);
        }
        for &(b, len, pitch, v) in &tones {
            p.add(out, Part::Bass, bar.beat + b, len, pitch.clamp(24, 60) as u8, p.vel(v, rng));
            prev = pitch;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn bass_bar(p: &Plan, bar: &Bar, level: Level, variant: usize, root: i32, prev: i32, rng: &mut Rng, t: &mut Vec<Tone>) {
    let (fifth, octave) = (root + 7, root + 12);
    match p.style {
        Style::Electronic if level == Level::Full && p.energy > 0.65 => {
            for b in 0..4 {
                for s in [0.25, 0.5, 0.75] {
                    let pitch = if s == 0.5 && b % 2 == 1 { octave } else { root };
                    t.push((f64::from(b) + s, 0.2, pitch, 92.0));
                }
            }
        }
        Style::Electronic if level == Level::Light => {
            t.push((0.0, 2.0, root, 90.0));
            t.push((2.5, 1.0, root, 85.0));
        }
        Style::Electronic => {
            for b in 0..4 {
                let pitch = if level == Level::Full && b == 3 { octave } else { root };
                t.push((f64::from(b) + 0.5, 0.45, pitch, 95.0));
            }
        }
        Style::Rock if level == Level::Light => {
            for b in 0..4 {
                t.push((f64::from(b), 0.9, root, 95.0));
            }
        }
        Style::Rock => {
            let approach = bar.next.root != bar.chord.root && variant != 0;
            for i in 0..8 {
                let pitch = if approach && i >= 6 { fifth } else { root };
                t.push((f64::from(i) * 0.5, 0.45, pitch, if i % 2 == 0 { 100.0 } else { 85.0 }));
            }
        }
        Style::Hiphop if level == Level::Light => t.push((0.0, 3.0, root, 95.0)),
        Style::Hiphop => {
            t.push((0.0, 1.25, root, 100.0));
            t.push((if variant == 1 { 1.75 } else { 2.5 }, 1.0, root, 92.0));
            if level == Level::Full && rng.chance(0.5) {
                t.push((3.5, 0.5, if variant == 2 { fifth } else { octave }, 85.0));
            }
        }
        Style::Jazz if level == Level::Light => {
            t.push((0.0, 1.9, root, 90.0));
            t.push((2.0, 1.9, fifth - 12 * i32::from(fifth > 48), 85.0));
        }
        Style::Jazz => walking_bar(p, bar, root, prev, rng, t),
        Style::Classical if level == Level::Light => t.push((0.0, 4.0, root, 80.0)),
        Style::Classical => {
            t.push((0.0, 1.9, root, 82.0));
            t.push((2.0, 1.9, fifth, 75.0));
        }
        Style::Ambient => {
            if bar.in_section.is_multiple_of(p.bpc) {
                t.push((0.0, 4.0 * f64::from(p.bpc), root, 75.0));
            }
        }
        _ if level == Level::Light => t.push((0.0, 3.5, root, 90.0)),
        _ if level == Level::Full => {
            for i in 0..8 {
                let pitch = if i % 4 == 3 && variant != 0 { octave } else { root };
                t.push((f64::from(i) * 0.5, 0.45, pitch, if i % 2 == 0 { 98.0 } else { 85.0 }));
            }
        }
        _ => {
            t.push((0.0, 1.4, root, 98.0));
            t.push((1.5, 0.45, root, 85.0));
            t.push((2.0, 1.4, root, 95.0));
            t.push((3.5, 0.45, if variant == 1 { octave } else { fifth }, 85.0));
        }
    }
}

/// The pitch of pitch class `pc` nearest to `near`.
fn nearest(pc: i32, near: i32) -> i32 {
    let d = (pc - near).rem_euclid(12);
    if d > 6 { near + d - 12 } else { near + d }
}

/// A walking bass bar: root, two chord tones, and a chromatic or scale approach to the next
/// root, each the octave nearest the previous note, kept within E1..E3.
fn walking_bar(p: &Plan, bar: &Bar, root: i32, prev: i32, rng: &mut Rng, t: &mut Vec<Tone>) {
    let abs = |semis: i32| (p.tonic + semis).rem_euclid(12);
    let keep = |x: i32| {
        if x < 28 {
            x + 12
        } else if x > 52 {
            x - 12
        } else {
            x
        }
    };
    let r = keep(nearest(root, prev));
    let chord_tone = |i: usize| abs(bar.chord.tones[i.min(bar.chord.len - 1)]);
    let (a, b) = if rng.chance(0.5) { (1, 2) } else { (2, 1) };
    let n1 = keep(nearest(chord_tone(a), r + 2));
    let n2 = keep(nearest(chord_tone(b), n1));
    let target = keep(nearest(abs(bar.next.root), n2));
    let n3 = if target == n2 { n2 + 2 } else { target + if rng.chance(0.5) { 1 } else { -1 } };
    for (i, pitch) in [r, n1, n2, keep(n3)].into_iter().enumerate() {
        t.push((i as f64, 0.95, pitch, if i == 0 { 92.0 } else { 82.0 }));
    }
}
