//! The offline algorithmic composer of the Music Studio: a prompt, a style and a few hints
//! become an arrangement of four parts (drums, bass, chords, lead) as timed notes.
//!
//! How it works, in order: the words of the prompt and the mood set the mode (minor for
//! sad/dark/tense…, major for happy/bright/uplifting…), an energy (sparser and softer for
//! rain/night/calm…, denser for energetic/fast/party…), a brightness, the tempo and the lead
//! timbre. The piece is cut into 4/4 bars at the tempo and into sections (intro, verse, chorus,
//! bridge, outro) that vary the density; each section kind gets a chord progression picked from a
//! few per style and mode (I–V–vi–IV, i–VI–III–VII, ii–V–I with sevenths for jazz…). Drums, bass,
//! chords and lead are then written bar by bar with style-specific patterns, the lead as a
//! stepwise walk on the scale whose strong beats and phrase endings land on chord tones.
//!
//! Everything is plain arithmetic on a seeded SplitMix64 generator (no system randomness, no
//! hash-map order, no threads), so the same [`MusicParams`] always give the same
//! [`Composition`], on every run and machine.
//!
//! Drum notes use General MIDI percussion numbers (see [`drum`]). **Ambient and classical pieces
//! have no drums** (their drum part is empty); every other style has all four parts.
//!
//! The work is split by step: `model` holds the request and the result, `prompt` reads the
//! words, `harmony` the key and the chords, `plan` lays out bars and sections, and `drums`,
//! `bass`, `chords` and `lead` each write one part.

mod bass;
mod chords;
mod drums;
mod harmony;
mod lead;
mod model;
mod plan;
mod prompt;

pub use harmony::parse_key;
pub use model::{BassVoice, ChordVoice, Composition, MusicParams, Note, Part, Section, SectionKind, Style, Timbre};

use crate::splitmix::{GOLDEN_GAMMA, SplitMix64, mix64};
use harmony::choose_key;
use plan::Plan;
use prompt::{Words, bass_voice, brightness_of, chord_voice, choose_bpm, energy_of, lead_timbre, resolve_style};

/// General MIDI percussion key numbers used by the drum part (MIDI channel 10).
pub mod drum {
    pub const KICK: u8 = 36;
    pub const SIDE_STICK: u8 = 37;
    pub const SNARE: u8 = 38;
    pub const CLAP: u8 = 39;
    pub const CLOSED_HAT: u8 = 42;
    pub const PEDAL_HAT: u8 = 44;
    pub const LOW_TOM: u8 = 45;
    pub const OPEN_HAT: u8 = 46;
    pub const MID_TOM: u8 = 47;
    pub const CRASH: u8 = 49;
    pub const HIGH_TOM: u8 = 50;
    pub const RIDE: u8 = 51;
}

/// Composes a piece. Deterministic: the same params give the same composition.
///
/// Errors: a key it cannot read (e.g. "H#"), a bpm outside 40..=200, a duration outside
/// 10..=180 seconds.
pub fn compose(params: &MusicParams) -> Result<Composition, String> {
    validate(params)?;
    let words = Words::new(params);
    let base = mix64(params.seed.wrapping_mul(GOLDEN_GAMMA) ^ seed_for(params));
    let stream = |i: u64| Rng::new(mix64(base ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03)));
    let mut rng = stream(1);

    let style = resolve_style(params.style, &words, &mut rng);
    let key = choose_key(params.key.as_deref(), style, &words, &mut rng)?;
    let bpm = params.bpm.unwrap_or_else(|| choose_bpm(style, &words, &mut rng));
    let energy = energy_of(style, &words);
    let brightness = brightness_of(style, &words);
    let plan = Plan::new(style, &key, bpm, f64::from(params.duration_secs), energy, &mut rng);

    let mut notes = Vec::new();
    drums::write(&plan, &mut stream(2), &mut notes);
    bass::write(&plan, &mut stream(3), &mut notes);
    chords::write(&plan, &mut stream(4), &mut notes);
    lead::write(&plan, &mut stream(5), &mut notes);
    finish_notes(&mut notes);

    Ok(Composition {
        params: params.clone(),
        style,
        bpm,
        key_name: format!("{} {}", key.spelled, if key.minor { "minor" } else { "major" }),
        tonic: key.tonic as u8,
        minor: key.minor,
        key_signature: key.signature,
        duration_secs: plan.duration,
        bars: plan.bars.len() as u32,
        sections: plan.sections.clone(),
        energy: energy as f32,
        brightness: brightness as f32,
        notes,
        lead_timbre: lead_timbre(&words, style),
        chord_voice: chord_voice(style),
        bass_voice: bass_voice(style),
    })
}

/// A seed from everything that shapes the music (prompt, style, mood, bpm, key, duration,
/// instrument), stable across runs and machines: FNV-1a over the normalised fields (lowercase,
/// single spaces), finished with the SplitMix64 mixer. `seed` itself is ignored.
pub fn seed_for(params_without_seed: &MusicParams) -> u64 {
    let p = params_without_seed;
    let opt = |s: &Option<String>| s.as_deref().map(normalise).unwrap_or_default();
    let fields = [
        normalise(&p.prompt),
        p.style.as_str().to_owned(),
        opt(&p.mood),
        p.bpm.map(|b| b.to_string()).unwrap_or_default(),
        opt(&p.key),
        p.duration_secs.to_string(),
        opt(&p.instrument),
    ];
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for f in &fields {
        for &b in f.as_bytes().iter().chain(&[0x1F]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    mix64(h)
}

fn validate(p: &MusicParams) -> Result<(), String> {
    if !(10..=180).contains(&p.duration_secs) {
        return Err(format!("duration must be 10..=180 seconds, got {}", p.duration_secs));
    }
    if let Some(b) = p.bpm
        && !(40..=200).contains(&b)
    {
        return Err(format!("bpm must be 40..=200, got {b}"));
    }
    Ok(())
}

fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Sorts notes and cuts overlapping notes of the same part and pitch (duplicates within 2 ms
/// are merged, keeping the louder), so MIDI note-offs pair unambiguously.
fn finish_notes(notes: &mut Vec<Note>) {
    notes.sort_by(|a, b| {
        a.start.total_cmp(&b.start).then(a.part.index().cmp(&b.part.index())).then(a.pitch.cmp(&b.pitch))
    });
    let mut last: Vec<Option<usize>> = vec![None; 4 * 128];
    for i in 0..notes.len() {
        let slot = notes[i].part.index() * 128 + usize::from(notes[i].pitch & 127);
        if let Some(j) = last[slot] {
            let gap = notes[i].start - notes[j].start;
            if gap < 0.002 {
                notes[i].velocity = notes[i].velocity.max(notes[j].velocity);
                notes[j].velocity = 0;
            } else if notes[j].start + notes[j].length > notes[i].start {
                notes[j].length = gap;
            }
        }
        last[slot] = Some(i);
    }
    notes.retain(|n| n.velocity > 0);
}

/// The composer's draws from a seeded [`SplitMix64`] stream.
#[derive(Debug, Clone)]
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    /// Uniform in [-amount, amount).
    fn jitter(&mut self, amount: f64) -> f64 {
        (self.unit() * 2.0 - 1.0) * amount
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn params(prompt: &str, style: Style, duration: u32, seed: u64) -> MusicParams {
        MusicParams {
            prompt: prompt.to_owned(),
            style,
            mood: None,
            bpm: None,
            key: None,
            duration_secs: duration,
            instrument: None,
            seed,
        }
    }

    pub(super) fn count(c: &Composition, part: Part) -> usize {
        c.part_notes(part).count()
    }

    #[test]
    fn same_params_same_notes() {
        for style in Style::ALL {
            let p = params("a walk in the park", style, 40, 7);
            let a = compose(&p).unwrap();
            let b = compose(&p).unwrap();
            assert_eq!(a.notes, b.notes, "{style:?}");
            assert_eq!((a.bpm, &a.key_name), (b.bpm, &b.key_name));
        }
    }

    #[test]
    fn seed_or_prompt_changes_notes() {
        let p = params("a walk in the park", Style::Pop, 40, 7);
        let base = compose(&p).unwrap().notes;
        let reseeded = compose(&MusicParams { seed: 8, ..p.clone() }).unwrap().notes;
        assert_ne!(base, reseeded);
        let reworded = MusicParams { prompt: "a walk in the woods".into(), ..p };
        assert_ne!(base, compose(&reworded).unwrap().notes);
    }

    #[test]
    fn seed_for_is_stable_and_sensitive() {
        let p = params("Rainy  Night", Style::Ambient, 30, 0);
        let q = MusicParams { prompt: "rainy night".into(), seed: 99, ..p.clone() };
        assert_eq!(seed_for(&p), seed_for(&q), "normalised text, seed ignored");
        assert_ne!(seed_for(&p), seed_for(&MusicParams { duration_secs: 31, ..p.clone() }));
        assert_ne!(seed_for(&p), seed_for(&MusicParams { mood: Some("sad".into()), ..p.clone() }));
        assert_ne!(seed_for(&p), seed_for(&MusicParams { style: Style::Jazz, ..p }));
    }

    #[test]
    fn seed_for_matches_a_fixed_value() {
        // FNV-1a + SplitMix finaliser is specified, so the value must never drift.
        let p = params("x", Style::Pop, 30, 0);
        let again = params("x", Style::Pop, 30, 123);
        assert_eq!(seed_for(&p), seed_for(&again));
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        for b in b"x\x1fpop\x1f\x1f\x1f\x1f30\x1f\x1f" {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
        assert_eq!(seed_for(&p), mix64(h));
    }

    #[test]
    fn every_part_present_for_band_styles() {
        for style in [Style::Pop, Style::Rock, Style::Electronic, Style::Hiphop, Style::Jazz] {
            for (duration, seed) in [(10, 1), (30, 2), (95, 3), (180, 4)] {
                let c = compose(&params("test", style, duration, seed)).unwrap();
                for part in Part::ALL {
                    assert!(count(&c, part) > 0, "{style:?} {duration}s has no {part:?}");
                }
            }
        }
    }

    #[test]
    fn ambient_and_classical_have_no_drums_but_the_other_parts() {
        for style in [Style::Ambient, Style::Classical] {
            for (duration, seed) in [(10, 1), (60, 2), (180, 3)] {
                let c = compose(&params("test", style, duration, seed)).unwrap();
                assert_eq!(count(&c, Part::Drums), 0, "{style:?}");
                for part in [Part::Bass, Part::Chords, Part::Lead] {
                    assert!(count(&c, part) > 0, "{style:?} {duration}s has no {part:?}");
                }
            }
        }
    }

    #[test]
    fn notes_within_duration_sorted_and_sane() {
        for style in Style::ALL {
            for (duration, bpm) in [(10, Some(40)), (10, Some(200)), (37, None), (180, Some(61))] {
                let p = MusicParams { bpm, ..params("anything", style, duration, 11) };
                let c = compose(&p).unwrap();
                assert_eq!(c.duration_secs, f64::from(duration));
                assert!(c.notes.windows(2).all(|w| w[0].start <= w[1].start), "sorted");
                for n in &c.notes {
                    assert!(n.start >= 0.0 && n.length > 0.0, "{n:?}");
                    assert!(n.start + n.length <= c.duration_secs + 1e-9, "{style:?} {n:?}");
                    assert!((1..=127).contains(&n.velocity) && n.pitch <= 127);
                }
                let secs: u32 = c.sections.iter().map(|s| s.bars).sum();
                assert_eq!(secs, c.bars);
            }
        }
    }

    #[test]
    fn out_of_range_params_are_refused() {
        let p = params("x", Style::Pop, 30, 0);
        assert!(compose(&MusicParams { bpm: Some(39), ..p.clone() }).is_err());
        assert!(compose(&MusicParams { bpm: Some(201), ..p.clone() }).is_err());
        assert!(compose(&MusicParams { duration_secs: 9, ..p.clone() }).is_err());
        assert!(compose(&MusicParams { duration_secs: 181, ..p.clone() }).is_err());
        assert!(compose(&MusicParams { bpm: Some(40), duration_secs: 180, ..p }).is_ok());
    }
}
