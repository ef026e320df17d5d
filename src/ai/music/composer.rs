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

use std::cmp::Ordering;

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

use drum::*;

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

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

/// One note. Drum notes carry General MIDI percussion numbers as `pitch` (see [`drum`]).
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

    fn index(self) -> usize {
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

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Composes a piece. Deterministic: the same params give the same composition.
///
/// Errors: a key it cannot read (e.g. "H#"), a bpm outside 40..=200, a duration outside
/// 10..=180 seconds.
pub fn compose(params: &MusicParams) -> Result<Composition, String> {
    validate(params)?;
    let words = Words::new(params);
    let base = mix64(params.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed_for(params));
    let stream = |i: u64| Rng::new(mix64(base ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03)));
    let mut rng = stream(1);

    let style = resolve_style(params.style, &words, &mut rng);
    let key = choose_key(params.key.as_deref(), style, &words, &mut rng)?;
    let bpm = params.bpm.unwrap_or_else(|| choose_bpm(style, &words, &mut rng));
    let energy = energy_of(style, &words);
    let brightness = brightness_of(style, &words);
    let plan = Plan::new(style, &key, bpm, f64::from(params.duration_secs), energy, &mut rng);

    let mut notes = Vec::new();
    drums(&plan, &mut stream(2), &mut notes);
    bass(&plan, &mut stream(3), &mut notes);
    chords(&plan, &mut stream(4), &mut notes);
    lead(&plan, &mut stream(5), &mut notes);
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

// ---------------------------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and the same sequence everywhere.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
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

/// The SplitMix64 finaliser.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------------------------
// Reading the prompt
// ---------------------------------------------------------------------------------------------

const SOFT: &[&str] = &[
    "rain", "night", "calm", "chill", "relax", "sleep", "soft", "gentle", "quiet", "peace", "lofi", "mellow", "dream",
    "ambient", "meditat", "slow", "lullaby", "serene", "cozy", "cosy", "lazy", "study", "focus", "ocean", "snow",
    "whisper", "tender", "float", "sunday",
];
const ENERGETIC: &[&str] = &[
    "energetic",
    "energy",
    "fast",
    "party",
    "dance",
    "danc",
    "hype",
    "intense",
    "driving",
    "epic",
    "aggressive",
    "upbeat",
    "workout",
    "club",
    "power",
    "euphori",
    "run",
    "action",
    "rave",
    "festival",
    "loud",
    "wild",
    "hard",
    "heavy",
    "battle",
    "race",
    "fight",
    "jump",
];
const MINOR: &[&str] = &[
    "sad",
    "dark",
    "melanchol",
    "tense",
    "tension",
    "gloom",
    "moody",
    "somber",
    "sombre",
    "lonel",
    "haunt",
    "eerie",
    "myster",
    "angry",
    "anger",
    "tragic",
    "sorrow",
    "grief",
    "scary",
    "horror",
    "suspense",
    "cold",
    "storm",
    "noir",
    "minor",
    "cry",
    "tears",
    "rain",
    "night",
];
const MAJOR: &[&str] = &[
    "happy",
    "bright",
    "uplift",
    "energetic",
    "joy",
    "cheer",
    "sunny",
    "sun",
    "hope",
    "playful",
    "fun",
    "party",
    "summer",
    "triumph",
    "celebrat",
    "love",
    "major",
    "smile",
    "sweet",
    "victory",
    "hero",
    "morning",
    "spring",
];
const BRIGHT: &[&str] = &["bright", "crisp", "sparkl", "shin", "glitter", "clear", "airy", "sunny", "summer", "glass"];
const DULL: &[&str] =
    &["warm", "dark", "muffled", "underwater", "lofi", "night", "rain", "vintage", "dusty", "deep", "soft", "mellow"];
const FASTER: &[&str] = &["fast", "quick", "rapid", "uptempo", "hyper", "speed", "race", "run"];
const SLOWER: &[&str] = &["slow", "lazy", "downtempo", "ballad", "calm", "sleep", "relax"];

const TIMBRE_WORDS: &[(&str, Timbre)] = &[
    ("piano", Timbre::Piano),
    ("keys", Timbre::Piano),
    ("guitar", Timbre::Pluck),
    ("harp", Timbre::Pluck),
    ("pluck", Timbre::Pluck),
    ("koto", Timbre::Pluck),
    ("banjo", Timbre::Pluck),
    ("mandolin", Timbre::Pluck),
    ("ukulele", Timbre::Pluck),
    ("synth", Timbre::Saw),
    ("saw", Timbre::Saw),
    ("lead", Timbre::Saw),
    ("brass", Timbre::Saw),
    ("trumpet", Timbre::Saw),
    ("horn", Timbre::Saw),
    ("string", Timbre::Strings),
    ("violin", Timbre::Strings),
    ("viola", Timbre::Strings),
    ("cello", Timbre::Strings),
    ("orchestra", Timbre::Strings),
    ("bell", Timbre::Bell),
    ("chime", Timbre::Bell),
    ("glockenspiel", Timbre::Bell),
    ("celesta", Timbre::Bell),
    ("vibraphone", Timbre::Bell),
    ("marimba", Timbre::Bell),
    ("musicbox", Timbre::Bell),
    ("flute", Timbre::Flute),
    ("whistle", Timbre::Flute),
    ("ocarina", Timbre::Flute),
    ("recorder", Timbre::Flute),
    ("clarinet", Timbre::Flute),
    ("sax", Timbre::Flute),
    ("woodwind", Timbre::Flute),
];

const STYLE_WORDS: &[(&str, Style)] = &[
    ("ambient", Style::Ambient),
    ("drone", Style::Ambient),
    ("atmospher", Style::Ambient),
    ("meditat", Style::Ambient),
    ("electronic", Style::Electronic),
    ("edm", Style::Electronic),
    ("techno", Style::Electronic),
    ("house", Style::Electronic),
    ("trance", Style::Electronic),
    ("synthwave", Style::Electronic),
    ("electro", Style::Electronic),
    ("rave", Style::Electronic),
    ("pop", Style::Pop),
    ("rock", Style::Rock),
    ("punk", Style::Rock),
    ("metal", Style::Rock),
    ("grunge", Style::Rock),
    ("classical", Style::Classical),
    ("orchestra", Style::Classical),
    ("symphon", Style::Classical),
    ("baroque", Style::Classical),
    ("sonata", Style::Classical),
    ("jazz", Style::Jazz),
    ("swing", Style::Jazz),
    ("bebop", Style::Jazz),
    ("lounge", Style::Jazz),
    ("hiphop", Style::Hiphop),
    ("hop", Style::Hiphop),
    ("rap", Style::Hiphop),
    ("trap", Style::Hiphop),
    ("lofi", Style::Hiphop),
    ("boombap", Style::Hiphop),
];

/// The lowercase words of the prompt, the mood and the instrument hint.
struct Words {
    prompt: Vec<String>,
    mood: Vec<String>,
    instrument: Vec<String>,
}

impl Words {
    fn new(p: &MusicParams) -> Self {
        let split = |s: &str| -> Vec<String> {
            s.to_lowercase()
                .replace("lo-fi", "lofi")
                .replace("hip-hop", "hiphop")
                .replace("music box", "musicbox")
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Words {
            prompt: split(&p.prompt),
            mood: split(p.mood.as_deref().unwrap_or("")),
            instrument: split(p.instrument.as_deref().unwrap_or("")),
        }
    }

    /// Prompt hits plus mood hits counted twice.
    fn score(&self, list: &[&str]) -> i32 {
        let hits = |ws: &[String]| ws.iter().filter(|w| matches(w, list)).count() as i32;
        hits(&self.prompt) + 2 * hits(&self.mood)
    }
}

/// `word` is `stem`, or starts with it when the stem is long enough to be one (≥ 4 letters).
fn matches(word: &str, list: &[&str]) -> bool {
    list.iter().any(|stem| word == *stem || (stem.len() >= 4 && word.starts_with(stem)))
}

fn find_in<T: Copy>(words: &[String], table: &[(&str, T)]) -> Option<T> {
    words.iter().find_map(|w| table.iter().find(|(stem, _)| matches(w, &[*stem])).map(|&(_, v)| v))
}

fn resolve_style(style: Style, words: &Words, rng: &mut Rng) -> Style {
    if style != Style::Custom {
        return style;
    }
    find_in(&words.prompt, STYLE_WORDS)
        .or_else(|| find_in(&words.mood, STYLE_WORDS))
        .unwrap_or_else(|| rng.pick(&Style::ALL[..7]))
}

fn energy_of(style: Style, words: &Words) -> f64 {
    let base = match style {
        Style::Ambient => 0.15,
        Style::Electronic | Style::Rock => 0.7,
        Style::Pop => 0.55,
        Style::Classical => 0.4,
        Style::Jazz | Style::Hiphop | Style::Custom => 0.45,
    };
    let net = (words.score(ENERGETIC) - words.score(SOFT)).clamp(-4, 4);
    (base + 0.12 * f64::from(net)).clamp(0.05, 0.95)
}

fn brightness_of(style: Style, words: &Words) -> f64 {
    let base = match style {
        Style::Ambient | Style::Hiphop => 0.35,
        Style::Jazz | Style::Classical => 0.45,
        _ => 0.6,
    };
    let net = (words.score(BRIGHT) - words.score(DULL)).clamp(-3, 3);
    (base + 0.12 * f64::from(net)).clamp(0.05, 0.95)
}

fn choose_bpm(style: Style, words: &Words, rng: &mut Rng) -> u32 {
    let net = (words.score(FASTER) - words.score(SLOWER)).clamp(-2, 2);
    let factor = 1.0 + 0.12 * f64::from(net) + rng.jitter(0.04);
    (f64::from(style.default_bpm()) * factor).round().clamp(40.0, 200.0) as u32
}

fn lead_timbre(words: &Words, style: Style) -> Timbre {
    find_in(&words.instrument, TIMBRE_WORDS).or_else(|| find_in(&words.prompt, TIMBRE_WORDS)).unwrap_or(match style {
        Style::Ambient | Style::Hiphop => Timbre::Bell,
        Style::Electronic | Style::Rock => Timbre::Saw,
        Style::Pop | Style::Custom => Timbre::Pluck,
        Style::Classical => Timbre::Strings,
        Style::Jazz => Timbre::Flute,
    })
}

fn chord_voice(style: Style) -> ChordVoice {
    match style {
        Style::Ambient => ChordVoice::Pad,
        Style::Electronic => ChordVoice::Stab,
        Style::Rock => ChordVoice::Guitar,
        Style::Hiphop => ChordVoice::ElectricPiano,
        Style::Pop | Style::Classical | Style::Jazz | Style::Custom => ChordVoice::Piano,
    }
}

fn bass_voice(style: Style) -> BassVoice {
    match style {
        Style::Electronic | Style::Rock => BassVoice::Saw,
        Style::Pop | Style::Custom => BassVoice::Square,
        Style::Hiphop => BassVoice::Sub,
        Style::Jazz => BassVoice::Upright,
        Style::Ambient | Style::Classical => BassVoice::Soft,
    }
}

// ---------------------------------------------------------------------------------------------
// Key and harmony
// ---------------------------------------------------------------------------------------------

struct Key {
    tonic: i32,
    spelled: String,
    minor: bool,
    signature: i8,
}

const MAJOR_SCALE: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR_SCALE: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];
const MAJOR_NAMES: [&str; 12] = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
const MINOR_NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"];

fn choose_key(key: Option<&str>, style: Style, words: &Words, rng: &mut Rng) -> Result<Key, String> {
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
enum Color {
    Triad,
    Seventh,
    Add9,
}

/// A chord as semitones above the tonic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Chord {
    root: i32,
    tones: [i32; 4],
    len: usize,
    /// Minor-key V with a raised (leading-tone) third: the lead raises degree 7 too.
    raised: bool,
}

impl Chord {
    fn tones(&self) -> &[i32] {
        &self.tones[..self.len]
    }

    fn has_pc(&self, pc: i32) -> bool {
        self.tones().iter().any(|t| t.rem_euclid(12) == pc.rem_euclid(12))
    }
}

/// Stacks thirds on `degree` of `scale`.
fn build_chord(scale: &[i32; 7], degree: usize, color: Color, raise_v: bool) -> Chord {
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
fn progressions(style: Style, minor: bool) -> &'static [[usize; 4]] {
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

// ---------------------------------------------------------------------------------------------
// The plan: bars, sections, chords
// ---------------------------------------------------------------------------------------------

/// How busy a part plays in a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Light,
    Main,
    Full,
}

#[derive(Debug, Clone, Copy)]
struct Bar {
    /// Beat at which the bar starts.
    beat: f64,
    kind: SectionKind,
    in_section: u32,
    last_of_section: bool,
    final_bar: bool,
    chord: Chord,
    /// The chord of the following bar (the tonic after the last).
    next: Chord,
}

struct Plan {
    style: Style,
    tonic: i32,
    scale: [i32; 7],
    /// Seconds per beat.
    spb: f64,
    /// (grid in beats, ratio): the second of each pair of `grid` notes lands at `ratio` of the pair.
    swing: Option<(f64, f64)>,
    duration: f64,
    energy: f64,
    /// Bars per chord.
    bpc: u32,
    /// Progression per section kind.
    progs: [[usize; 4]; 5],
    color: Color,
    raise_v: bool,
    sections: Vec<Section>,
    bars: Vec<Bar>,
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
    fn new(style: Style, key: &Key, bpm: u32, duration: f64, energy: f64, rng: &mut Rng) -> Plan {
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
    fn chord_for(&self, kind: SectionKind, i: u32) -> Chord {
        let prog = self.progs[kind.index()];
        self.chord_at_degree(prog[((i / self.bpc) % 4) as usize])
    }

    /// How busy bar `bar` plays.
    fn level(&self, bar: &Bar) -> Level {
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
    fn vel(&self, base: f64, rng: &mut Rng) -> u8 {
        (base * (0.8 + 0.35 * self.energy) + rng.jitter(5.0)).round().clamp(1.0, 127.0) as u8
    }

    /// Adds a note at `beat` (swung) lasting `len` beats, cut at the end of the piece.
    fn add(&self, out: &mut Vec<Note>, part: Part, beat: f64, len: f64, pitch: u8, velocity: u8) {
        let start = self.swung(beat) * self.spb;
        let end = (start + len * self.spb).min(self.duration);
        if start < self.duration - 0.02 && end - start >= 0.01 {
            out.push(Note { part, start, length: end - start, pitch, velocity: velocity.max(1) });
        }
    }

    /// The bass register root of `chord` (G#1..G2).
    fn bass_root(&self, chord: &Chord) -> i32 {
        let p = 36 + (self.tonic + chord.root).rem_euclid(12);
        if p > 43 { p - 12 } else { p }
    }

    /// Close voicing of `chord` from G3 up (middle register), sorted.
    fn voicing(&self, chord: &Chord) -> Vec<u8> {
        const LO: i32 = 55;
        let mut v: Vec<u8> = chord.tones().iter().map(|t| (LO + (self.tonic + t - LO).rem_euclid(12)) as u8).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Semitones above the tonic of lead scale index `idx` (0 = tonic), raising the 7th over a
    /// raised V.
    fn scale_semis(&self, idx: i32, chord: &Chord) -> i32 {
        let d = idx.rem_euclid(7) as usize;
        let raise = i32::from(chord.raised && d == 6);
        self.scale[d] + raise + 12 * idx.div_euclid(7)
    }

    fn lead_pitch(&self, idx: i32, chord: &Chord) -> u8 {
        let base = 60 + self.tonic - if self.tonic > 6 { 12 } else { 0 };
        (base + self.scale_semis(idx, chord)).clamp(0, 127) as u8
    }
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

// ---------------------------------------------------------------------------------------------
// Drums
// ---------------------------------------------------------------------------------------------

/// One drum hit in a bar: (beat within the bar, GM key, base velocity).
type Hit = (f64, u8, f64);

/// Writes the drum part. Ambient and classical pieces have none.
fn drums(p: &Plan, rng: &mut Rng, out: &mut Vec<Note>) {
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

// ---------------------------------------------------------------------------------------------
// Bass
// ---------------------------------------------------------------------------------------------

/// One bass note in a bar: (beat within the bar, length in beats, pitch, base velocity).
type Tone = (f64, f64, i32, f64);

/// Writes the bass: chord roots with a rhythm per style (a walking line for jazz). Silent in
/// intros except for jazz and classical.
fn bass(p: &Plan, rng: &mut Rng, out: &mut Vec<Note>) {
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

// ---------------------------------------------------------------------------------------------
// Chords
// ---------------------------------------------------------------------------------------------

/// Writes the chord part in the middle register: pads (ambient), stabs (electronic), piano
/// rhythms (pop), power chords (rock), electric piano (hip-hop), comping (jazz), arpeggios
/// (classical).
fn chords(p: &Plan, rng: &mut Rng, out: &mut Vec<Note>) {
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

// ---------------------------------------------------------------------------------------------
// Lead
// ---------------------------------------------------------------------------------------------

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
fn lead(p: &Plan, rng: &mut Rng, out: &mut Vec<Note>) {
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

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

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

    fn count(c: &Composition, part: Part) -> usize {
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

    #[test]
    fn out_of_range_params_are_refused() {
        let p = params("x", Style::Pop, 30, 0);
        assert!(compose(&MusicParams { bpm: Some(39), ..p.clone() }).is_err());
        assert!(compose(&MusicParams { bpm: Some(201), ..p.clone() }).is_err());
        assert!(compose(&MusicParams { duration_secs: 9, ..p.clone() }).is_err());
        assert!(compose(&MusicParams { duration_secs: 181, ..p.clone() }).is_err());
        assert!(compose(&MusicParams { bpm: Some(40), duration_secs: 180, ..p }).is_ok());
    }

    #[test]
    fn mood_words_set_the_mode() {
        for seed in 0..6 {
            let dark = compose(&params("a dark and sad night", Style::Pop, 20, seed)).unwrap();
            assert!(dark.minor, "{}", dark.key_name);
            let happy = MusicParams { mood: Some("happy".into()), ..params("x", Style::Hiphop, 20, seed) };
            assert!(!compose(&happy).unwrap().minor);
        }
    }

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

    #[test]
    fn prompt_words_shape_density_and_tempo() {
        let mut calm_total = 0;
        let mut busy_total = 0;
        for seed in 0..4 {
            let calm = compose(&params("calm rainy night, soft and quiet", Style::Pop, 60, seed)).unwrap();
            let busy = compose(&params("energetic fast party, dance!", Style::Pop, 60, seed)).unwrap();
            assert!(calm.bpm < busy.bpm, "{} vs {}", calm.bpm, busy.bpm);
            assert!(calm.energy < busy.energy);
            calm_total += calm.notes.len();
            busy_total += busy.notes.len();
        }
        assert!(calm_total * 3 < busy_total * 2, "{calm_total} vs {busy_total}");
    }

    #[test]
    fn instruments_pick_the_lead_timbre() {
        let with = |prompt: &str, instrument: Option<&str>| {
            let p = MusicParams { instrument: instrument.map(str::to_owned), ..params(prompt, Style::Pop, 10, 0) };
            compose(&p).unwrap().lead_timbre
        };
        assert_eq!(with("a melody", Some("Piano")), Timbre::Piano);
        assert_eq!(with("a melody", Some("violin")), Timbre::Strings);
        assert_eq!(with("soft guitar by the fire", None), Timbre::Pluck);
        assert_eq!(with("music box lullaby", None), Timbre::Bell);
        assert_eq!(with("a flute at dawn", Some("kazoo")), Timbre::Flute);
        assert_eq!(with("a melody", None), Timbre::Pluck, "pop's default");
    }

    #[test]
    fn custom_style_follows_the_prompt() {
        let c = compose(&params("lo-fi hip hop beats to study to", Style::Custom, 20, 0)).unwrap();
        assert_eq!(c.style, Style::Hiphop);
        let c = compose(&params("dark techno", Style::Custom, 20, 0)).unwrap();
        assert_eq!(c.style, Style::Electronic);
        let c = compose(&params("something", Style::Custom, 20, 0)).unwrap();
        assert_ne!(c.style, Style::Custom);
    }

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
