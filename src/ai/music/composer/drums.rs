//! The drum part: a pattern per style (four on the floor, backbeat, boom-bap, the jazz ride),
//! busier in choruses, with fills at section ends and a crash on the final bar.

use super::Rng;
use super::drum::*;
use super::model::{Note, Part, Style};
use super::plan::{Level, Plan};

/// One drum hit in a bar: (beat within the bar, GM key, base velocity).
type Hit = (f64, u8, f64);

/// Writes the drum part. Ambient and classical pieces have none.
pub(super) fn write(p: &Plan, rng: &mut Rng, out: &mut Vec<Note>) {
    if matches!(p.style, Style::Ambient | Style::Classical) {
        return;
    }
    let variant = rng.below(3);
    let mut hits: Vec<Hit> = Vec::with_capacity(32);
    for bar in &p.bars {
        hits.clear();
        let level = p.level(bar);
        if bar.final_bar {
            hits.push((0.0, KICK, 110.0));
            hits.push((0.0, if p.style == Style::Jazz { RIDE } else { CRASH }, 100.0));
        } else {
            let fill = bar.last_of_section && level >= Level::Main && rng.chance(0.7);
            match p.style {
                Style::Electronic => electronic_drums(p, level, fill, &mut hits),
                Style::Rock => rock_drums(level, fill, variant, &mut hits),
                Style::Hiphop => hiphop_drums(level, variant, rng, &mut hits),
                Style::Jazz => jazz_drums(level, rng, &mut hits),
                _ => pop_drums(p, level, fill, variant, &mut hits),
            }
            let crash_style = matches!(p.style, Style::Rock | Style::Pop | Style::Electronic);
            if crash_style && bar.in_section == 0 && level == Level::Full {
                hits.push((0.0, CRASH, 100.0));
            }
        }
        for &(b, key, v) in &hits {
            p.add(out, Part::Drums, bar.beat + b, 0.25, key, p.vel(v, rng));
        }
    }
}

/// Four on the floor, claps on 2 and 4, offbeat hats (open in choruses), 16th hats when
/// energetic, a snare roll as fill.
fn electronic_drums(p: &Plan, level: Level, fill: bool, hits: &mut Vec<Hit>) {
    for b in 0..4 {
        let b = f64::from(b);
        hits.push((b, KICK, 115.0));
        let hat = if level == Level::Full { OPEN_HAT } else { CLOSED_HAT };
        hits.push((b + 0.5, hat, if level == Level::Light { 65.0 } else { 85.0 }));
        if level >= Level::Main && (b == 1.0 || b == 3.0) {
            hits.push((b, CLAP, 105.0));
        }
        if level == Level::Full && p.energy > 0.6 {
            hits.push((b + 0.25, CLOSED_HAT, 45.0));
            hits.push((b + 0.75, CLOSED_HAT, 45.0));
        }
    }
    if fill {
        for (i, t) in [3.0, 3.25, 3.5, 3.75].into_iter().enumerate() {
            hits.push((t, SNARE, 60.0 + 12.0 * i as f64));
        }
    }
}

/// Backbeat: kick on 1 and 3, snare on 2 and 4, eighth hats (ride in choruses), tom fills.
fn rock_drums(level: Level, fill: bool, variant: usize, hits: &mut Vec<Hit>) {
    let cymbal = if level == Level::Full { RIDE } else { CLOSED_HAT };
    let end = if fill { 2.0 } else { 4.0 };
    for i in 0..8 {
        let t = f64::from(i) * 0.5;
        if t < end {
            hits.push((t, cymbal, if i % 2 == 0 { 85.0 } else { 60.0 }));
        }
    }
    hits.push((0.0, KICK, 110.0));
    if level >= Level::Main {
        hits.push((2.0, KICK, 105.0));
        if variant > 0 {
            hits.push((2.5, KICK, 95.0));
        }
        if level == Level::Full && variant != 1 {
            hits.push((0.5, KICK, 90.0));
        }
        hits.push((1.0, SNARE, 110.0));
        if !fill {
            hits.push((3.0, SNARE, 110.0));
        }
    } else {
        hits.push((2.0, KICK, 95.0));
    }
    if fill {
        for (i, t) in [2.0, 2.25, 2.5, 2.75].into_iter().enumerate() {
            hits.push((t, SNARE, 80.0 + 6.0 * i as f64));
        }
        for (t, tom) in [(3.0, HIGH_TOM), (3.25, HIGH_TOM), (3.5, MID_TOM), (3.75, LOW_TOM)] {
            hits.push((t, tom, 100.0));
        }
    }
}

/// Pop: kick on 1 and 3 (and a pushed one), snare or clap backbeat, eighth or sixteenth hats.
fn pop_drums(p: &Plan, level: Level, fill: bool, variant: usize, hits: &mut Vec<Hit>) {
    let sixteenths = level == Level::Full && p.energy > 0.55;
    let step = if sixteenths { 0.25 } else { 0.5 };
    let mut t: f64 = 0.0;
    while t < 4.0 {
        let accent = t.fract() == 0.0;
        let v = if level == Level::Light {
            50.0
        } else if accent {
            75.0
        } else {
            50.0
        };
        hits.push((t, CLOSED_HAT, v));
        t += step;
    }
    hits.push((0.0, KICK, 110.0));
    hits.push((2.0, KICK, 105.0));
    if level >= Level::Main {
        hits.push((if variant == 2 { 2.5 } else { 1.5 }, KICK, 90.0));
        let back = if variant == 1 { CLAP } else { SNARE };
        hits.push((1.0, back, 105.0));
        hits.push((3.0, back, 105.0));
    }
    if fill {
        for (i, t) in [3.25, 3.5, 3.75].into_iter().enumerate() {
            hits.push((t, SNARE, 75.0 + 10.0 * i as f64));
        }
    }
}

/// Boom-bap: syncopated kicks, a hard snare on 2 and 4, swung sixteenth hats with ghost notes.
fn hiphop_drums(level: Level, variant: usize, rng: &mut Rng, hits: &mut Vec<Hit>) {
    const KICKS: [[f64; 3]; 3] = [[0.0, 0.75, 2.5], [0.0, 1.75, 2.5], [0.0, 2.25, 2.5]];
    for i in 0..8 {
        let t = f64::from(i) * 0.5;
        let open = level == Level::Full && i == 7 && rng.chance(0.5);
        hits.push((t, if open { OPEN_HAT } else { CLOSED_HAT }, if i % 2 == 0 { 72.0 } else { 52.0 }));
        if level == Level::Full && rng.chance(0.35) {
            hits.push((t + 0.25, CLOSED_HAT, 35.0));
        }
    }
    if level == Level::Light {
        hits.push((0.0, KICK, 105.0));
        hits.push((2.5, KICK, 95.0));
        hits.push((1.0, SIDE_STICK, 80.0));
        hits.push((3.0, SIDE_STICK, 80.0));
        return;
    }
    for &t in &KICKS[variant] {
        hits.push((t, KICK, if t == 0.0 { 115.0 } else { 100.0 }));
    }
    if level == Level::Full && rng.chance(0.4) {
        hits.push((3.25, KICK, 85.0));
    }
    hits.push((1.0, SNARE, 112.0));
    hits.push((3.0, SNARE, 112.0));
}

/// Jazz: the swung ride pattern, hi-hat foot on 2 and 4, brushes and comping snare accents,
/// feathered kick in choruses.
fn jazz_drums(level: Level, rng: &mut Rng, hits: &mut Vec<Hit>) {
    for (t, v) in [(0.0, 70.0), (1.0, 80.0), (1.5, 55.0), (2.0, 70.0), (3.0, 80.0), (3.5, 55.0)] {
        hits.push((t, RIDE, v));
    }
    hits.push((1.0, PEDAL_HAT, 55.0));
    hits.push((3.0, PEDAL_HAT, 55.0));
    if level == Level::Light {
        return;
    }
    for b in 0..4 {
        hits.push((f64::from(b), SNARE, 28.0));
    }
    for t in [0.5, 1.5, 2.5, 3.5] {
        if rng.chance(0.3) {
            hits.push((t, SNARE, 55.0));
        }
    }
    if level == Level::Full {
        for b in 0..4 {
            hits.push((f64::from(b), KICK, 32.0));
        }
        if rng.chance(0.3) {
            hits.push((3.5, KICK, 60.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{count, params};
    use super::super::{Note, compose};
    use super::*;

    #[test]
    fn electronic_kicks_every_beat_ambient_has_no_drums() {
        let c = compose(&params("club night", Style::Electronic, 60, 3)).unwrap();
        let spb = c.beat_secs();
        let last_bar = c.bars - 1;
        let mut bars_with_drums = 0;
        for bar in 0..last_bar {
            let (from, to) = (f64::from(bar) * 4.0 * spb, f64::from(bar + 1) * 4.0 * spb);
            let drums: Vec<&Note> =
                c.part_notes(Part::Drums).filter(|n| n.start >= from - 1e-9 && n.start < to - 1e-9).collect();
            if drums.is_empty() {
                continue;
            }
            bars_with_drums += 1;
            for beat in 0..4 {
                let at = from + f64::from(beat) * spb;
                assert!(
                    drums.iter().any(|n| n.pitch == KICK && (n.start - at).abs() < 1e-6),
                    "bar {bar} beat {beat} has no kick"
                );
            }
        }
        assert!(bars_with_drums as u32 >= c.bars / 2);
        let ambient = compose(&params("club night", Style::Ambient, 60, 3)).unwrap();
        assert_eq!(count(&ambient, Part::Drums), 0);
        // Rock has a backbeat: snares on beats 2 and 4, not on 1.
        let rock = compose(&params("road trip", Style::Rock, 60, 3)).unwrap();
        let spb = rock.beat_secs();
        let beat_of = |n: &Note| ((n.start / spb).round() as i64).rem_euclid(4);
        let snares: Vec<i64> = rock
            .part_notes(Part::Drums)
            .filter(|n| n.pitch == SNARE && (n.start / spb).fract().abs() < 1e-6)
            .map(beat_of)
            .collect();
        assert!(snares.iter().filter(|&&b| b == 1 || b == 3).count() > 10);
        assert_eq!(snares.iter().filter(|&&b| b == 0).count(), 0);
    }
}
