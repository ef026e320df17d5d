//! What the composer is asked for and what it gives back: the style, the parts, the request
//! ([`MusicParams`]) and the composed piece ([`Composition`]) with its notes and sounds.

/// The musical style asked for. `Custom` takes its style from the prompt's words (e.g. "lofi
/// beats" → hip-hop, "techno" → electronic) or, when none names one, from the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Ambient,
    Electronic,
    Pop,
    Rock,
    Classical,
    Jazz,
    Hiphop,
    Custom,
}

impl Style {
    pub const ALL: [Style; 8] = [
        Style::Ambient,
        Style::Electronic,
        Style::Pop,
        Style::Rock,
        Style::Classical,
        Style::Jazz,
        Style::Hiphop,
        Style::Custom,
    ];

    /// Reads a style's lowercase name (case and surrounding spaces are ignored; "hip-hop" and
    /// "hip hop" are accepted for `hiphop`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "hip-hop" | "hip hop" | "hip_hop" => Some(Style::Hiphop),
            _ => Self::ALL.into_iter().find(|st| st.as_str() == s),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Style::Ambient => "ambient",
            Style::Electronic => "electronic",
            Style::Pop => "pop",
            Style::Rock => "rock",
            Style::Classical => "classical",
            Style::Jazz => "jazz",
            Style::Hiphop => "hiphop",
            Style::Custom => "custom",
        }
    }

    /// The tempo used when none is given (before the prompt's tempo words nudge it).
    pub fn default_bpm(self) -> u32 {
        match self {
            Style::Ambient => 72,
            Style::Electronic => 124,
            Style::Pop => 108,
            Style::Rock => 124,
            Style::Classical => 92,
            Style::Jazz => 132,
            Style::Hiphop => 88,
            Style::Custom => 100,
        }
    }
}

/// One of the four parts of an arrangement (one stem, one MIDI track).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Drums,
    Bass,
    Chords,
    Lead,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::Drums, Part::Bass, Part::Chords, Part::Lead];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Drums => "drums",
            Part::Bass => "bass",
            Part::Chords => "chords",
            Part::Lead => "lead",
        }
    }

    /// Position in [`Part::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What the caller asks for.
#[derive(Debug, Clone)]
pub struct MusicParams {
    pub prompt: String,
    pub style: Style,
    pub mood: Option<String>,
    /// 40..=200; `None`: from the style and the prompt's tempo words.
    pub bpm: Option<u32>,
    /// "C", "F#", "Bb minor", "Am", "D major", "E flat minor"…; `None` (or blank): chosen from
    /// the style and the seed, the mode from the mood and prompt.
    pub key: Option<String>,
    /// 10..=180.
    pub duration_secs: u32,
    /// Lead timbre hint: piano, guitar, synth, strings, bell, flute… (unknown words are ignored).
    pub instrument: Option<String>,
    pub seed: u64,
}

/// One note. Drum notes carry General MIDI percussion numbers as `pitch` (see [`drum`](super::drum)).
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub part: Part,
    /// Seconds from the start.
    pub start: f64,
    /// Seconds; `start + length <= duration_secs`.
    pub length: f64,
    pub pitch: u8,
    /// 1..=127.
    pub velocity: u8,
}

/// The lead's sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timbre {
    /// Additive, slightly inharmonic partials with a hammer-like attack.
    Piano,
    /// Karplus-Strong plucked string (guitar, harp).
    Pluck,
    /// Detuned saws with vibrato (synth lead, brass-ish).
    Saw,
    /// Three detuned saws, slow attack, vibrato.
    Strings,
    /// Inharmonic FM bell.
    Bell,
    /// Sine with a few harmonics, breath noise and vibrato (flute, woodwinds).
    Flute,
}

impl Timbre {
    pub fn as_str(self) -> &'static str {
        match self {
            Timbre::Piano => "piano",
            Timbre::Pluck => "pluck",
            Timbre::Saw => "saw",
            Timbre::Strings => "strings",
            Timbre::Bell => "bell",
            Timbre::Flute => "flute",
        }
    }
}

/// The chord part's sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChordVoice {
    /// Detuned saws, slow attack, long release (ambient).
    Pad,
    /// Short filtered saws (electronic).
    Stab,
    /// The additive piano (pop, classical arpeggios, jazz comping).
    Piano,
    /// FM electric piano (hip-hop).
    ElectricPiano,
    /// Driven saws as a rhythm guitar (rock power chords).
    Guitar,
}

/// The bass part's sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BassVoice {
    /// Saw through a lowpass with a filter envelope (electronic, rock).
    Saw,
    /// Square through a lowpass (pop).
    Square,
    /// Sine sub-bass with a little drive (hip-hop).
    Sub,
    /// Plucked, fast-decaying sine/triangle (jazz walking bass).
    Upright,
    /// Soft triangle with a slow attack (ambient, classical).
    Soft,
}

/// A section of the arrangement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    Intro,
    Verse,
    Chorus,
    Bridge,
    Outro,
}

impl SectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SectionKind::Intro => "intro",
            SectionKind::Verse => "verse",
            SectionKind::Chorus => "chorus",
            SectionKind::Bridge => "bridge",
            SectionKind::Outro => "outro",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub kind: SectionKind,
    pub start_bar: u32,
    pub bars: u32,
    /// Seconds.
    pub start: f64,
}

/// A composed piece: everything the synthesizer and the MIDI writer need.
#[derive(Debug, Clone)]
pub struct Composition {
    pub params: MusicParams,
    /// The style actually arranged (`Custom` resolved).
    pub style: Style,
    pub bpm: u32,
    /// e.g. "A minor", "Bb major".
    pub key_name: String,
    /// Tonic pitch class, 0 = C.
    pub tonic: u8,
    pub minor: bool,
    /// Sharps (positive) or flats (negative) of the key signature, -7..=7.
    pub key_signature: i8,
    /// Exactly `params.duration_secs`.
    pub duration_secs: f64,
    /// Number of 4/4 bars (the last may be cut short or held a little longer to end on time).
    pub bars: u32,
    pub sections: Vec<Section>,
    /// 0..1: sparse and soft → dense and loud.
    pub energy: f32,
    /// 0..1: dark/warm → bright (filter cutoffs).
    pub brightness: f32,
    /// Sorted by start (then part, then pitch).
    pub notes: Vec<Note>,
    pub lead_timbre: Timbre,
    pub chord_voice: ChordVoice,
    pub bass_voice: BassVoice,
}

impl Composition {
    /// Seconds per beat.
    pub fn beat_secs(&self) -> f64 {
        60.0 / f64::from(self.bpm)
    }

    /// The notes of one part, in order.
    pub fn part_notes(&self, part: Part) -> impl Iterator<Item = &Note> {
        self.notes.iter().filter(move |n| n.part == part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_names_round_trip() {
        for s in Style::ALL {
            assert_eq!(Style::parse(s.as_str()), Some(s));
            assert!((40..=200).contains(&s.default_bpm()));
        }
        assert_eq!(Style::parse(" Hip-Hop "), Some(Style::Hiphop));
        assert_eq!(Style::parse("polka"), None);
        assert_eq!(Part::ALL.map(Part::as_str), ["drums", "bass", "chords", "lead"]);
    }
}
