//! The lead: one melody per section kind, a stepwise walk on the scale in two-bar phrases whose
//! strong beats and phrase endings land on chord tones.

use super::Rng;
use super::harmony::Chord;
use super::model::{Note, Part, SectionKind, Style};
use super::plan::Plan;

/// The lead's scale-index range (0 = the tonic of the lead octave); choruses sit higher.
const LEAD_LO: i32 = 2;
const LEAD_HI: i32 = 11;

#[derive(Debug, Clone, Copy)]
struct MelNote {
    beat: f64,
    len: f64,
    pitch: u8,
    vel: f64,
}

/// What a phrase ending must land on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    ChordTone,
    Root,
}

/// Writes the lead: one melody per section kind (verse, chorus, bridge) over that kind's
/// progression, repeated wherever the kind returns; none in intros and outros; a held tonic to
/// finish when the last bar has a lead.
pub(super) fn write(p: &Plan, rng: &mut Rng, out: &mut Vec<Note>) {
    let block_bars = 4 * p.bpc;
    let (grid, base_density) = match p.style {
        Style::Ambient => (1.0, 0.45),
        Style::Classical if p.energy > 0.6 => (0.25, 0.6),
        Style::Electronic if p.energy > 0.8 => (0.25, 0.5),
        Style::Classical => (0.5, 0.75),
        Style::Jazz => (0.5, 0.7),
        Style::Hiphop => (0.5, 0.45),
        _ => (0.5, 0.55),
    };
    let mut melodies: [Option<Vec<MelNote>>; 5] = Default::default();
    for (kind, factor, shift) in
        [(SectionKind::Chorus, 1.0, 2), (SectionKind::Verse, 0.8, 0), (SectionKind::Bridge, 0.6, 1)]
    {
        if !p.sections.iter().any(|s| s.kind == kind) {
            continue;
        }
        let chords: Vec<Chord> = (0..block_bars).map(|i| p.chord_for(kind, i)).collect();
        let density = (base_density * factor * (0.6 + 0.8 * p.energy)).clamp(0.1, 0.95);
        let boost = if kind == SectionKind::Chorus { 6.0 } else { 0.0 };
        let m = melody(p, &chords, density, grid, shift, rng);
        melodies[kind.index()] = Some(m.into_iter().map(|n| MelNote { vel: n.vel + boost, ..n }).collect());
    }
    for bar in &p.bars {
        let Some(m) = &melodies[bar.kind.index()] else { continue };
        if bar.final_bar {
            let pitch = p.lead_pitch(7, &bar.chord);
            p.add(out, Part::Lead, bar.beat, 8.0, pitch, p.vel(85.0, rng));
            continue;
        }
        let from = f64::from(bar.in_section % block_bars) * 4.0;
        for n in m.iter().filter(|n| n.beat >= from && n.beat < from + 4.0) {
            p.add(out, Part::Lead, bar.beat + n.beat - from, n.len, n.pitch, p.vel(n.vel, rng));
        }
    }
}

/// A melody over `chords` (one per bar), in two-bar phrases whose rhythms repeat (A A' / A B),
/// moving mostly by step, filling leaps, landing strong beats on chord tones, ending the
/// first phrases on a chord tone and the last on the chord's root.
fn melody(p: &Plan, chords: &[Chord], density: f64, grid: f64, shift: i32, rng: &mut Rng) -> Vec<MelNote> {
    const PHRASE: f64 = 8.0;
    let phrases = (chords.len() / 2).max(1);
    let a = rhythm(PHRASE, density, grid, rng);
    let b = rhythm(PHRASE, density, grid, rng);
    let (lo, hi) = (LEAD_LO + shift, LEAD_HI + shift);
    let mut cur = snap(p, (lo + hi) / 2, &chords[0], Target::ChordTone);
    let mut dir = if rng.chance(0.5) { 1 } else { -1 };
    let mut last_move = 0;
    let mut out = Vec::new();
    for ph in 0..phrases {
        let r = if ph % 2 == 0 || rng.chance(0.5) { &a } else { &b };
        let start = ph as f64 * PHRASE;
        for (k, &(t, len)) in r.iter().enumerate() {
            let beat = start + t;
            let chord = chords[((beat / 4.0) as usize).min(chords.len() - 1)];
            let prev = cur;
            if ph > 0 || k > 0 {
                cur = step(cur, &mut dir, last_move, lo, hi, rng);
            }
            let end = k + 1 == r.len();
            let strong = beat.fract() == 0.0 && (beat as i64) % 2 == 0;
            if end {
                let target = if ph + 1 == phrases { Target::Root } else { Target::ChordTone };
                cur = snap(p, cur, &chord, target);
            } else if strong {
                cur = snap(p, cur, &chord, Target::ChordTone);
            }
            last_move = cur - prev;
            let vel = if strong || end { 96.0 } else { 84.0 };
            out.push(MelNote { beat, len, pitch: p.lead_pitch(cur, &chord), vel });
        }
    }
    out
}

/// The next scale index: mostly a step (usually onward), sometimes a repeat or a leap of a
/// third to a fifth; a leap is followed by a step back; the range reflects at its bounds.
fn step(cur: i32, dir: &mut i32, last_move: i32, lo: i32, hi: i32, rng: &mut Rng) -> i32 {
    let m = if last_move.abs() >= 3 {
        -last_move.signum()
    } else {
        let r = rng.unit();
        let way = if rng.chance(0.7) { *dir } else { -*dir };
        if r < 0.12 {
            0
        } else if r < 0.78 {
            way
        } else {
            (2 + rng.below(3) as i32) * way
        }
    };
    let mut next = cur + m;
    if next < lo {
        next = (2 * lo - next).min(hi);
    } else if next > hi {
        next = (2 * hi - next).max(lo);
    }
    if next != cur {
        *dir = (next - cur).signum();
    }
    if next >= hi {
        *dir = -1;
    } else if next <= lo {
        *dir = 1;
    }
    next
}

/// The scale index nearest `idx` (ties downward) that is a chord tone, or the chord's root.
fn snap(p: &Plan, idx: i32, chord: &Chord, target: Target) -> i32 {
    for d in [0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6] {
        let c = idx + d;
        let pc = p.scale_semis(c, chord);
        let ok = match target {
            Target::ChordTone => chord.has_pc(pc),
            Target::Root => pc.rem_euclid(12) == chord.root.rem_euclid(12),
        };
        if ok {
            return c;
        }
    }
    idx
}

/// Onsets and lengths (beats) of a phrase of `beats`: the first onset at 0 (or a pickup),
/// others on the `grid` with a probability weighted towards strong beats, and a final longer
/// note 1.5–3 beats before the end, followed by a breath.
fn rhythm(beats: f64, density: f64, grid: f64, rng: &mut Rng) -> Vec<(f64, f64)> {
    let tail = if grid >= 1.0 {
        2.0 + rng.below(2) as f64
    } else if rng.chance(0.5) {
        2.0
    } else {
        1.5
    };
    let last = beats - tail;
    let first = if grid < 1.0 && rng.chance(0.2) { grid } else { 0.0 };
    let mut on = vec![first];
    let mut t = first + grid;
    while t < last - 1e-9 {
        if rng.chance(density * onset_weight(t)) {
            on.push(t);
        }
        t += grid;
    }
    on.push(last);
    let mut out = Vec::with_capacity(on.len());
    for (i, &s) in on.iter().enumerate() {
        let len = match on.get(i + 1) {
            Some(&next) => (next - s) * 0.92,
            None => tail - 0.5,
        };
        out.push((s, len));
    }
    out
}

fn onset_weight(t: f64) -> f64 {
    if t.fract() == 0.0 {
        if (t as i64) % 2 == 0 { 1.3 } else { 1.1 }
    } else if (t * 2.0).fract() == 0.0 {
        0.85
    } else {
        0.55
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::params;
    use super::super::compose;
    use super::*;

    #[test]
    fn lead_moves_by_step_on_chord_tones_and_ends_on_the_tonic() {
        let c = compose(&params("a song", Style::Pop, 60, 5)).unwrap();
        let lead: Vec<&Note> = c.part_notes(Part::Lead).collect();
        let steps = lead.windows(2).filter(|w| (i32::from(w[0].pitch) - i32::from(w[1].pitch)).abs() <= 2).count();
        assert!(steps * 2 > lead.len(), "mostly stepwise: {steps} of {}", lead.len());
        // Strong beats (1 and 3) of the lead sit on a tone of the chord sounding then.
        let spb = c.beat_secs();
        let mut checked = 0;
        for n in &lead {
            let beat = n.start / spb;
            if (beat - beat.round()).abs() > 1e-6 || (beat.round() as i64) % 2 != 0 {
                continue;
            }
            let sounding: Vec<u8> = c
                .part_notes(Part::Chords)
                .filter(|h| h.start <= n.start + 1e-6 && h.start + h.length > n.start + 1e-6)
                .map(|h| h.pitch % 12)
                .collect();
            if !sounding.is_empty() {
                assert!(sounding.contains(&(n.pitch % 12)), "{n:?} over {sounding:?}");
                checked += 1;
            }
        }
        assert!(checked > 10, "{checked}");
        for seed in 0..4 {
            let short = compose(&params("a song", Style::Pop, 12, seed)).unwrap();
            let last = short.part_notes(Part::Lead).last().unwrap();
            assert_eq!(last.pitch % 12, short.tonic, "a one-section piece ends on the tonic");
        }
    }
}
