//! Key and harmony: reading a written key, choosing one from the style and the mood, scales,
//! chords stacked in thirds, and the chord progressions per style and mode.

use std::cmp::Ordering;

use super::Rng;
use super::model::Style;
use super::prompt::{MAJOR, MINOR, Words};

/// Reads a key: a letter A–G (any case), an optional accidental (`#`, `b`, `♯`, `♭`, "sharp",
/// "flat") and an optional mode (`m`, `min`, `minor`, `maj`, `major`). Returns the tonic pitch
/// class (0 = C), the spelled tonic ("F#", "Bb") and the mode when one was written
/// (`Some(true)` = minor).
pub fn parse_key(s: &str) -> Result<(u8, String, Option<bool>), String> {
    let bad = || format!("unreadable key {s:?} (try \"C\", \"F#\", \"Bb minor\", \"Am\")");
    let t = s.trim();
    let mut chars = t.chars();
    let letter = chars.next().map(|c| c.to_ascii_uppercase()).ok_or_else(bad)?;
    let natural: i32 = match letter {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return Err(bad()),
    };
    let rest = chars.as_str().to_lowercase();
    let rest = rest.trim_start();
    let (acc, rest) = if let Some(r) = strip_any(rest, &["#", "♯", "sharp"]) {
        (1, r)
    } else if let Some(r) = strip_any(rest, &["b", "♭", "flat"]) {
        (-1, r)
    } else {
        (0, rest)
    };
    let mode = match rest.trim() {
        "" => None,
        "m" | "min" | "minor" => Some(true),
        "maj" | "major" => Some(false),
        _ => return Err(bad()),
    };
    let spelled = format!("{letter}{}", ["b", "", "#"][(acc + 1) as usize]);
    Ok(((natural + acc).rem_euclid(12) as u8, spelled, mode))
}

fn strip_any<'a>(s: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes.iter().find_map(|p| s.strip_prefix(p))
}

/// The key of a piece.
pub(super) struct Key {
    /// Tonic pitch class, 0 = C.
    pub(super) tonic: i32,
    /// As written or chosen: "F#", "Bb".
    pub(super) spelled: String,
    pub(super) minor: bool,
    /// Sharps (positive) or flats (negative), -7..=7.
    pub(super) signature: i8,
}

pub(super) const MAJOR_SCALE: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
pub(super) const MINOR_SCALE: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];
const MAJOR_NAMES: [&str; 12] = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
const MINOR_NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"];

pub(super) fn choose_key(key: Option<&str>, style: Style, words: &Words, rng: &mut Rng) -> Result<Key, String> {
    let given = match key.map(str::trim) {
        Some(k) if !k.is_empty() => Some(parse_key(k)?),
        _ => None,
    };
    let written_mode = given.as_ref().and_then(|g| g.2);
    let minor = written_mode.unwrap_or_else(|| match words.score(MINOR).cmp(&words.score(MAJOR)) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => match style {
            Style::Electronic | Style::Hiphop => true,
            Style::Pop | Style::Jazz => false,
            Style::Rock => rng.chance(0.3),
            _ => rng.chance(0.5),
        },
    });
    let (tonic, spelled) = match given {
        Some((pc, spelled, _)) => (i32::from(pc), spelled),
        None => {
            let pc = rng.pick(default_tonics(style));
            let names = if minor { MINOR_NAMES } else { MAJOR_NAMES };
            (pc, names[pc as usize].to_owned())
        }
    };
    let signature = key_signature(&spelled, minor);
    Ok(Key { tonic, spelled, minor, signature })
}

fn default_tonics(style: Style) -> &'static [i32] {
    match style {
        Style::Rock => &[4, 9, 2, 7],
        Style::Jazz => &[5, 10, 3, 0, 7],
        Style::Classical => &[0, 2, 7, 5, 9, 3],
        Style::Ambient => &[2, 4, 9, 0, 5],
        _ => &[0, 2, 5, 7, 9, 4],
    }
}

/// Position on the circle of fifths of a spelled tonic, folded into -7..=7.
fn key_signature(spelled: &str, minor: bool) -> i8 {
    let mut chars = spelled.chars();
    let letter = match chars.next() {
        Some('F') => -1,
        Some('G') => 1,
        Some('D') => 2,
        Some('A') => 3,
        Some('E') => 4,
        Some('B') => 5,
        _ => 0,
    };
    let acc = match chars.next() {
        Some('#') => 7,
        Some('b') => -7,
        _ => 0,
    };
    let f = letter + acc - if minor { 3 } else { 0 };
    (if f > 7 {
        f - 12
    } else if f < -7 {
        f + 12
    } else {
        f
    }) as i8
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Color {
    Triad,
    Seventh,
    Add9,
}

/// A chord as semitones above the tonic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chord {
    pub(super) root: i32,
    pub(super) tones: [i32; 4],
    pub(super) len: usize,
    /// Minor-key V with a raised (leading-tone) third: the lead raises degree 7 too.
    pub(super) raised: bool,
}

impl Chord {
    pub(super) fn tones(&self) -> &[i32] {
        &self.tones[..self.len]
    }

    pub(super) fn has_pc(&self, pc: i32) -> bool {
        self.tones().iter().any(|t| t.rem_euclid(12) == pc.rem_euclid(12))
    }
}

/// Stacks thirds on `degree` of `scale`.
pub(super) fn build_chord(scale: &[i32; 7], degree: usize, color: Color, raise_v: bool) -> Chord {
    let at = |idx: usize| scale[idx % 7] + 12 * (idx / 7) as i32;
    let mut tones = [at(degree), at(degree + 2), at(degree + 4), 0];
    let raised = raise_v && degree == 4;
    if raised {
        tones[1] += 1;
    }
    let len = match color {
        Color::Triad => 3,
        Color::Seventh => {
            tones[3] = at(degree + 6);
            4
        }
        Color::Add9 => {
            tones[3] = at(degree + 8);
            if (tones[3] - tones[0]).rem_euclid(12) == 2 { 4 } else { 3 }
        }
    };
    Chord { root: tones[0], tones, len, raised }
}

/// Chord progressions (scale degrees, 0 = I) per style and mode.
pub(super) fn progressions(style: Style, minor: bool) -> &'static [[usize; 4]] {
    match (style, minor) {
        (Style::Jazz, false) => &[[1, 4, 0, 0], [0, 5, 1, 4], [2, 5, 1, 4], [0, 3, 1, 4]],
        (Style::Jazz, true) => &[[1, 4, 0, 0], [0, 3, 1, 4], [0, 5, 1, 4]],
        (Style::Classical, false) => &[[0, 3, 4, 0], [0, 5, 3, 4], [0, 1, 4, 0], [0, 4, 5, 3]],
        (Style::Classical, true) => &[[0, 3, 4, 0], [0, 5, 3, 4], [0, 6, 5, 4]],
        (Style::Ambient, false) => &[[0, 3, 0, 3], [0, 2, 3, 0], [0, 3, 5, 3], [5, 3, 0, 4]],
        (Style::Ambient, true) => &[[0, 5, 2, 6], [0, 3, 0, 5], [0, 5, 0, 6], [0, 2, 5, 6]],
        (Style::Hiphop, false) => &[[1, 4, 0, 5], [0, 5, 1, 4], [3, 2, 1, 0]],
        (Style::Hiphop, true) => &[[0, 3, 0, 3], [0, 5, 6, 0], [0, 3, 5, 4], [0, 6, 5, 6]],
        (Style::Rock, false) => &[[0, 3, 4, 3], [0, 4, 5, 3], [0, 3, 0, 4], [0, 5, 3, 4]],
        (Style::Rock, true) => &[[0, 6, 5, 6], [0, 5, 6, 0], [0, 3, 6, 0], [0, 5, 2, 6]],
        (_, false) => &[[0, 4, 5, 3], [0, 5, 3, 4], [5, 3, 0, 4], [0, 3, 5, 4]],
        (_, true) => &[[0, 5, 2, 6], [0, 6, 5, 6], [0, 3, 5, 4], [0, 5, 3, 4]],
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::params;
    use super::super::{MusicParams, Part, compose};
    use super::*;

    #[test]
    fn keys_are_read() {
        assert_eq!(parse_key("Am").unwrap(), (9, "A".into(), Some(true)));
        assert_eq!(parse_key("A minor").unwrap(), (9, "A".into(), Some(true)));
        assert_eq!(parse_key("F#").unwrap(), (6, "F#".into(), None));
        assert_eq!(parse_key("Bb major").unwrap(), (10, "Bb".into(), Some(false)));
        assert_eq!(parse_key(" e flat minor ").unwrap(), (3, "Eb".into(), Some(true)));
        assert_eq!(parse_key("bm").unwrap(), (11, "B".into(), Some(true)));
        for bad in ["H#", "", "C dorian", "Xm", "C##"] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_shapes_the_composition() {
        let with = |key: &str| compose(&MusicParams { key: Some(key.into()), ..params("song", Style::Pop, 20, 1) });
        let c = with("Am").unwrap();
        assert_eq!((c.key_name.as_str(), c.tonic, c.minor, c.key_signature), ("A minor", 9, true, 0));
        let c = with("Bb major").unwrap();
        assert_eq!((c.key_name.as_str(), c.key_signature), ("Bb major", -2));
        assert_eq!(with("F# minor").unwrap().key_signature, 3);
        assert_eq!(with("Eb minor").unwrap().key_signature, -6);
        let err = with("H#").unwrap_err();
        assert!(err.contains("H#"), "{err}");
        // The lead plays in the key: every lead note is in A natural minor (no raised V in pop).
        let c = with("A minor").unwrap();
        let scale = [9, 11, 0, 2, 4, 5, 7];
        assert!(c.part_notes(Part::Lead).all(|n| scale.contains(&(n.pitch % 12))));
    }
}
