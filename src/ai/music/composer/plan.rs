//! The plan of a piece: its 4/4 bars at the tempo, its sections (intro, verse, chorus, bridge,
//! outro) and the chord of every bar, and the helpers every part writes its notes with.

use super::Rng;
use super::harmony::{Chord, Color, Key, MAJOR_SCALE, MINOR_SCALE, build_chord, progressions};
use super::model::{Note, Part, Section, SectionKind, Style};

/// One pitched note in a bar: (beat within the bar, length in beats, pitch, base velocity).
pub(super) type Tone = (f64, f64, i32, f64);

/// How busy a part plays in a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Level {
    Light,
    Main,
    Full,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Bar {
    /// Beat at which the bar starts.
    pub(super) beat: f64,
    pub(super) kind: SectionKind,
    pub(super) in_section: u32,
    pub(super) last_of_section: bool,
    pub(super) final_bar: bool,
    pub(super) chord: Chord,
    /// The chord of the following bar (the tonic after the last).
    pub(super) next: Chord,
}

/// Everything the parts are written from: the style, the key, the tempo, the sections and
/// each bar's chord.
pub(super) struct Plan {
    pub(super) style: Style,
    pub(super) tonic: i32,
    scale: [i32; 7],
    /// Seconds per beat.
    spb: f64,
    /// (grid in beats, ratio): the second of each pair of `grid` notes lands at `ratio` of the pair.
    swing: Option<(f64, f64)>,
    pub(super) duration: f64,
    pub(super) energy: f64,
    /// Bars per chord.
    pub(super) bpc: u32,
    /// Progression per section kind.
    progs: [[usize; 4]; 5],
    color: Color,
    raise_v: bool,
    pub(super) sections: Vec<Section>,
    pub(super) bars: Vec<Bar>,
}

const MIDDLE_CYCLE: [SectionKind; 6] = [
    SectionKind::Verse,
    SectionKind::Chorus,
    SectionKind::Verse,
    SectionKind::Chorus,
    SectionKind::Bridge,
    SectionKind::Chorus,
];

/// Section kinds and lengths in bars for `n` bars, `block` bars being one pass of a
/// progression. Short pieces are one chorus; longer ones get an intro and outro (half a block,
/// or a block past 6 blocks) around verses and choruses of a block each (two blocks in long
/// pieces), with a bridge as the fifth section and (from four sections) instead of a chorus
/// right before the final one. The middle always ends on a chorus, whose length absorbs the
/// remainder (half to one and a half sections).
fn plan_sections(n: u32, block: u32) -> Vec<(SectionKind, u32)> {
    if n <= block + 1 {
        return vec![(SectionKind::Chorus, n)];
    }
    let edge = if n >= 6 * block {
        block
    } else if n >= 2 * block + 2 {
        (block / 2).max(1)
    } else {
        0
    };
    let middle = n - 2 * edge;
    let len = if middle >= 10 * block { 2 * block } else { block };
    let k = ((middle + len / 2) / len).max(1);
    let mut out: Vec<(SectionKind, u32)> = Vec::new();
    if edge > 0 {
        out.push((SectionKind::Intro, edge));
    }
    for i in 0..k {
        let last = i + 1 == k;
        let bars = if last { middle - len * (k - 1) } else { len };
        let kind = match (k - 1 - i, MIDDLE_CYCLE[i as usize % 6]) {
            (0, _) => SectionKind::Chorus,
            (1, SectionKind::Chorus) if k >= 4 => SectionKind::Bridge,
            (_, kind) => kind,
        };
        match out.last_mut() {
            Some((prev, b)) if *prev == kind => *b += bars,
            _ => out.push((kind, bars)),
        }
    }
    if edge > 0 {
        out.push((SectionKind::Outro, edge));
    }
    out
}

impl Plan {
    pub(super) fn new(style: Style, key: &Key, bpm: u32, duration: f64, energy: f64, rng: &mut Rng) -> Plan {
        let spb = 60.0 / f64::from(bpm);
        let n = ((duration / (4.0 * spb)).round() as u32).max(1);
        let bpc = if style == Style::Ambient { 2 } else { 1 };
        let list = progressions(style, key.minor);
        let (verse, chorus, bridge) = (rng.pick(list), rng.pick(list), rng.pick(list));
        let mut plan = Plan {
            style,
            tonic: key.tonic,
            scale: if key.minor { MINOR_SCALE } else { MAJOR_SCALE },
            spb,
            swing: match style {
                Style::Jazz => Some((0.5, 0.64)),
                Style::Hiphop => Some((0.25, 0.58)),
                _ => None,
            },
            duration,
            energy,
            bpc,
            progs: [verse, verse, chorus, bridge, chorus],
            color: match style {
                Style::Jazz | Style::Hiphop => Color::Seventh,
                Style::Ambient => Color::Add9,
                _ => Color::Triad,
            },
            raise_v: key.minor && matches!(style, Style::Classical | Style::Jazz),
            sections: Vec::new(),
            bars: Vec::new(),
        };
        plan.lay_out(n);
        plan
    }

    /// Fills `sections` and `bars` for `n` bars.
    fn lay_out(&mut self, n: u32) {
        let mut start_bar = 0;
        for (kind, bars) in plan_sections(n, 4 * self.bpc) {
            self.sections.push(Section { kind, start_bar, bars, start: f64::from(start_bar) * 4.0 * self.spb });
            for i in 0..bars {
                let chord = self.chord_for(kind, i);
                self.bars.push(Bar {
                    beat: f64::from(start_bar + i) * 4.0,
                    kind,
                    in_section: i,
                    last_of_section: i + 1 == bars,
                    final_bar: start_bar + i + 1 == n,
                    chord,
                    next: chord,
                });
            }
            start_bar += bars;
        }
        let tonic = self.chord_at_degree(0);
        if let Some(last) = self.bars.last_mut() {
            last.chord = tonic;
        }
        for i in 0..self.bars.len() {
            self.bars[i].next = self.bars.get(i + 1).map_or(tonic, |b| b.chord);
        }
    }

    fn chord_at_degree(&self, degree: usize) -> Chord {
        build_chord(&self.scale, degree, self.color, self.raise_v)
    }

    /// The chord of bar `i` of a section of `kind`.
    pub(super) fn chord_for(&self, kind: SectionKind, i: u32) -> Chord {
        let prog = self.progs[kind.index()];
        self.chord_at_degree(prog[((i / self.bpc) % 4) as usize])
    }

    /// How busy bar `bar` plays.
    pub(super) fn level(&self, bar: &Bar) -> Level {
        match bar.kind {
            SectionKind::Intro | SectionKind::Bridge | SectionKind::Outro => Level::Light,
            SectionKind::Verse if self.energy < 0.3 => Level::Light,
            SectionKind::Verse => Level::Main,
            SectionKind::Chorus if self.energy < 0.25 => Level::Main,
            SectionKind::Chorus => Level::Full,
        }
    }

    fn swung(&self, beat: f64) -> f64 {
        let Some((grid, ratio)) = self.swing else { return beat };
        let pair = 2.0 * grid;
        let base = (beat / pair).floor() * pair;
        if (beat - base - grid).abs() < 1e-9 { base + pair * ratio } else { beat }
    }

    /// Velocity from a base value, the energy and a little randomness.
    pub(super) fn vel(&self, base: f64, rng: &mut Rng) -> u8 {
        (base * (0.8 + 0.35 * self.energy) + rng.jitter(5.0)).round().clamp(1.0, 127.0) as u8
    }

    /// Adds a note at `beat` (swung) lasting `len` beats, cut at the end of the piece.
    pub(super) fn add(&self, out: &mut Vec<Note>, part: Part, beat: f64, len: f64, pitch: u8, velocity: u8) {
        let start = self.swung(beat) * self.spb;
        let end = (start + len * self.spb).min(self.duration);
        if start < self.duration - 0.02 && end - start >= 0.01 {
            out.push(Note { part, start, length: end - start, pitch, velocity: velocity.max(1) });
        }
    }

    /// The bass register root of `chord` (G#1..G2).
    pub(super) fn bass_root(&self, chord: &Chord) -> i32 {
        let p = 36 + (self.tonic + chord.root).rem_euclid(12);
        if p > 43 { p - 12 } else { p }
    }

    /// Close voicing of `chord` from G3 up (middle register), sorted.
    pub(super) fn voicing(&self, chord: &Chord) -> Vec<u8> {
        const LO: i32 = 55;
        let mut v: Vec<u8> = chord.tones().iter().map(|t| (LO + (self.tonic + t - LO).rem_euclid(12)) as u8).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Semitones above the tonic of lead scale index `idx` (0 = tonic), raising the 7th over a
    /// raised V.
    pub(super) fn scale_semis(&self, idx: i32, chord: &Chord) -> i32 {
        let d = idx.rem_euclid(7) as usize;
        let raise = i32::from(chord.raised && d == 6);
        self.scale[d] + raise + 12 * idx.div_euclid(7)
    }

    pub(super) fn lead_pitch(&self, idx: i32, chord: &Chord) -> u8 {
        let base = 60 + self.tonic - if self.tonic > 6 { 12 } else { 0 };
        (base + self.scale_semis(idx, chord)).clamp(0, 127) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::params;
    use super::super::compose;
    use super::*;

    #[test]
    fn section_plans() {
        use SectionKind::*;
        assert_eq!(plan_sections(5, 4), vec![(Chorus, 5)]);
        assert_eq!(plan_sections(8, 4), vec![(Verse, 4), (Chorus, 4)]);
        assert_eq!(plan_sections(15, 4), vec![(Intro, 2), (Verse, 4), (Chorus, 7), (Outro, 2)]);
        assert_eq!(
            plan_sections(18, 4),
            vec![(Intro, 2), (Verse, 4), (Chorus, 4), (Verse, 4), (Chorus, 2), (Outro, 2)]
        );
        let five = plan_sections(22, 4);
        assert_eq!(
            five.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![Intro, Verse, Chorus, Verse, Bridge, Chorus, Outro]
        );
        let long = plan_sections(93, 4);
        assert_eq!(long.iter().map(|s| s.1).sum::<u32>(), 93);
        assert_eq!((long[0], long[long.len() - 1]), ((Intro, 4), (Outro, 4)));
        assert!(long[1..long.len() - 1].iter().all(|s| (4..=12).contains(&s.1)), "{long:?}");
        assert!(long.iter().any(|s| s.0 == Bridge));
    }

    #[test]
    fn sections_vary() {
        let c = compose(&params("x", Style::Rock, 180, 1)).unwrap();
        let kinds: Vec<SectionKind> = c.sections.iter().map(|s| s.kind).collect();
        assert_eq!(kinds.first(), Some(&SectionKind::Intro));
        assert_eq!(kinds.last(), Some(&SectionKind::Outro));
        assert!(kinds.contains(&SectionKind::Verse) && kinds.contains(&SectionKind::Chorus));
        let density = |kind: SectionKind| {
            let (mut notes, mut secs) = (0, 0.0);
            for s in c.sections.iter().filter(|s| s.kind == kind) {
                let end = s.start + f64::from(s.bars) * 4.0 * c.beat_secs();
                notes += c.notes.iter().filter(|n| n.start >= s.start && n.start < end).count();
                secs += end - s.start;
            }
            notes as f64 / secs
        };
        assert!(density(SectionKind::Chorus) > density(SectionKind::Intro));
    }
}
