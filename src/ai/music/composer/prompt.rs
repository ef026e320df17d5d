//! Reading the prompt: the words of the prompt, the mood and the instrument hint decide the
//! style (for `Custom`), the energy, the brightness, the tempo, the mode (see [`MINOR`] and
//! [`MAJOR`]) and the sounds of the lead, chord and bass parts.

use super::Rng;
use super::model::{BassVoice, ChordVoice, MusicParams, Style, Timbre};

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
pub(super) const MINOR: &[&str] = &[
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
pub(super) const MAJOR: &[&str] = &[
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
pub(super) struct Words {
    prompt: Vec<String>,
    mood: Vec<String>,
    instrument: Vec<String>,
}

impl Words {
    pub(super) fn new(p: &MusicParams) -> Self {
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
    pub(super) fn score(&self, list: &[&str]) -> i32 {
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

pub(super) fn resolve_style(style: Style, words: &Words, rng: &mut Rng) -> Style {
    if style != Style::Custom {
        return style;
    }
    find_in(&words.prompt, STYLE_WORDS)
        .or_else(|| find_in(&words.mood, STYLE_WORDS))
        .unwrap_or_else(|| rng.pick(&Style::ALL[..7]))
}

pub(super) fn energy_of(style: Style, words: &Words) -> f64 {
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

pub(super) fn brightness_of(style: Style, words: &Words) -> f64 {
    let base = match style {
        Style::Ambient | Style::Hiphop => 0.35,
        Style::Jazz | Style::Classical => 0.45,
        _ => 0.6,
    };
    let net = (words.score(BRIGHT) - words.score(DULL)).clamp(-3, 3);
    (base + 0.12 * f64::from(net)).clamp(0.05, 0.95)
}

pub(super) fn choose_bpm(style: Style, words: &Words, rng: &mut Rng) -> u32 {
    let net = (words.score(FASTER) - words.score(SLOWER)).clamp(-2, 2);
    let factor = 1.0 + 0.12 * f64::from(net) + rng.jitter(0.04);
    (f64::from(style.default_bpm()) * factor).round().clamp(40.0, 200.0) as u32
}

pub(super) fn lead_timbre(words: &Words, style: Style) -> Timbre {
    find_in(&words.instrument, TIMBRE_WORDS).or_else(|| find_in(&words.prompt, TIMBRE_WORDS)).unwrap_or(match style {
        Style::Ambient | Style::Hiphop => Timbre::Bell,
        Style::Electronic | Style::Rock => Timbre::Saw,
        Style::Pop | Style::Custom => Timbre::Pluck,
        Style::Classical => Timbre::Strings,
        Style::Jazz => Timbre::Flute,
    })
}

pub(super) fn chord_voice(style: Style) -> ChordVoice {
    match style {
        Style::Ambient => ChordVoice::Pad,
        Style::Electronic => ChordVoice::Stab,
        Style::Rock => ChordVoice::Guitar,
        Style::Hiphop => ChordVoice::ElectricPiano,
        Style::Pop | Style::Classical | Style::Jazz | Style::Custom => ChordVoice::Piano,
    }
}

pub(super) fn bass_voice(style: Style) -> BassVoice {
    match style {
        Style::Electronic | Style::Rock => BassVoice::Saw,
        Style::Pop | Style::Custom => BassVoice::Square,
        Style::Hiphop => BassVoice::Sub,
        Style::Jazz => BassVoice::Upright,
        Style::Ambient | Style::Classical => BassVoice::Soft,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::params;
    use super::super::{MusicParams, Style, Timbre, compose};

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
}
