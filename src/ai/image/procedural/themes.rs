//! Palettes and themes: the words that name a theme, the palette it brings and the motifs it
//! asks for; the palettes for prompts naming none; and the choice of motifs for a picture.

use super::ImageStyle;
use super::color::{Colors, Hsl};
use super::motifs::Motif;
use super::random::Rng;

/// Five colours a scene is painted with.
pub(super) struct Palette {
    pub(super) name: &'static str,
    /// Zenith of the sky.
    top: Hsl,
    /// The sky at the horizon.
    horizon: Hsl,
    /// Sun, moon, lit windows, petals, wave crests.
    accent: Hsl,
    /// Distant land and water.
    far: Hsl,
    /// Foreground land and water.
    near: Hsl,
}

impl Palette {
    /// The palette's colours in RGB under `style`.
    pub(super) fn graded(&self, style: ImageStyle) -> Colors {
        Colors {
            top: style.grade(self.top),
            horizon: style.grade(self.horizon),
            accent: style.grade(self.accent),
            far: style.grade(self.far),
            near: style.grade(self.near),
        }
    }
}

/// Words that name a theme, the palette it brings and the motifs it asks for (most wanted
/// first).
pub(super) struct Theme {
    words: &'static [&'static str],
    pub(super) palette: Palette,
    motifs: [Motif; 2],
}

const THEMES: &[Theme] = &[
    Theme {
        words: &["sunset", "dusk", "evening", "twilight"],
        palette: Palette {
            name: "sunset", top: Hsl(270.0, 0.55, 0.25), horizon: Hsl(25.0, 0.9, 0.6),
            accent: Hsl(45.0, 1.0, 0.7), far: Hsl(330.0, 0.45, 0.38), near: Hsl(280.0, 0.5, 0.16),
        },
        motifs: [Motif::Sun, Motif::Mountains],
    },
    Theme {
        words: &["sunrise", "dawn", "morning"],
        palette: Palette {
            name: "sunrise", top: Hsl(210.0, 0.5, 0.55), horizon: Hsl(35.0, 0.9, 0.72),
            accent: Hsl(50.0, 1.0, 0.75), far: Hsl(20.0, 0.4, 0.48), near: Hsl(250.0, 0.3, 0.22),
        },
        motifs: [Motif::Sun, Motif::Mountains],
    },
    Theme {
        words: &["ocean", "sea", "water", "wave", "beach", "lake", "coast", "seaside", "river"],
        palette: Palette {
            name: "ocean", top: Hsl(205.0, 0.7, 0.55), horizon: Hsl(190.0, 0.6, 0.8),
            accent: Hsl(50.0, 0.9, 0.82), far: Hsl(200.0, 0.7, 0.42), near: Hsl(215.0, 0.8, 0.22),
        },
        motifs: [Motif::Waves, Motif::Sun],
    },
    Theme {
        words: &["forest", "tree", "jungle", "wood", "woods", "woodland", "pine"],
        palette: Palette {
            name: "forest", top: Hsl(160.0, 0.35, 0.62), horizon: Hsl(80.0, 0.4, 0.8),
            accent: Hsl(55.0, 0.8, 0.75), far: Hsl(140.0, 0.4, 0.36), near: Hsl(130.0, 0.55, 0.15),
        },
        motifs: [Motif::Trees, Motif::Mountains],
    },
    Theme {
        words: &["neon", "cyber", "cyberpunk", "synthwave", "retrowave", "vaporwave"],
        palette: Palette {
            name: "neon", top: Hsl(270.0, 0.8, 0.08), horizon: Hsl(300.0, 0.9, 0.32),
            accent: Hsl(320.0, 1.0, 0.6), far: Hsl(190.0, 1.0, 0.45), near: Hsl(260.0, 0.7, 0.1),
        },
        motifs: [Motif::Bands, Motif::Bokeh],
    },
    Theme {
        words: &["city", "urban", "skyline", "street", "town", "downtown", "building", "skyscraper"],
        palette: Palette {
            name: "city", top: Hsl(220.0, 0.45, 0.32), horizon: Hsl(30.0, 0.5, 0.62),
            accent: Hsl(45.0, 0.9, 0.7), far: Hsl(225.0, 0.2, 0.32), near: Hsl(230.0, 0.25, 0.12),
        },
        motifs: [Motif::Skyline, Motif::Bokeh],
    },
    Theme {
        words: &["night", "star", "starry", "space", "galaxy", "cosmos", "cosmic", "nebula", "moon", "midnight"],
        palette: Palette {
            name: "night", top: Hsl(235.0, 0.6, 0.06), horizon: Hsl(240.0, 0.5, 0.22),
            accent: Hsl(55.0, 0.3, 0.9), far: Hsl(245.0, 0.35, 0.16), near: Hsl(250.0, 0.4, 0.07),
        },
        motifs: [Motif::Stars, Motif::Moon],
    },
    Theme {
        words: &["desert", "sand", "sandy", "dune", "canyon", "sahara"],
        palette: Palette {
            name: "desert", top: Hsl(200.0, 0.6, 0.68), horizon: Hsl(40.0, 0.7, 0.8),
            accent: Hsl(45.0, 1.0, 0.7), far: Hsl(30.0, 0.6, 0.55), near: Hsl(25.0, 0.7, 0.4),
        },
        motifs: [Motif::Dunes, Motif::Sun],
    },
    Theme {
        words: &["snow", "snowy", "ice", "icy", "winter", "frost", "frozen", "glacier"],
        palette: Palette {
            name: "snow", top: Hsl(205.0, 0.4, 0.72), horizon: Hsl(200.0, 0.3, 0.9),
            accent: Hsl(190.0, 0.5, 0.95), far: Hsl(210.0, 0.25, 0.78), near: Hsl(210.0, 0.2, 0.93),
        },
        motifs: [Motif::Mountains, Motif::Snowfall],
    },
    Theme {
        words: &["fire", "flame", "lava", "volcano", "ember", "inferno", "fiery", "burning", "blaze"],
        palette: Palette {
            name: "fire", top: Hsl(0.0, 0.8, 0.1), horizon: Hsl(20.0, 1.0, 0.45),
            accent: Hsl(45.0, 1.0, 0.6), far: Hsl(10.0, 0.9, 0.3), near: Hsl(0.0, 0.7, 0.08),
        },
        motifs: [Motif::Bands, Motif::Bokeh],
    },
    Theme {
        words: &["mountain", "peak", "hill", "alpine", "valley", "summit"],
        palette: Palette {
            name: "mountain", top: Hsl(210.0, 0.5, 0.58), horizon: Hsl(200.0, 0.3, 0.85),
            accent: Hsl(45.0, 0.7, 0.85), far: Hsl(215.0, 0.2, 0.55), near: Hsl(220.0, 0.25, 0.28),
        },
        motifs: [Motif::Mountains, Motif::Sun],
    },
    Theme {
        words: &["flower", "garden", "bloom", "blossom", "meadow", "spring", "rose", "tulip", "floral"],
        palette: Palette {
            name: "garden", top: Hsl(200.0, 0.6, 0.78), horizon: Hsl(330.0, 0.5, 0.88),
            accent: Hsl(330.0, 0.8, 0.65), far: Hsl(110.0, 0.45, 0.45), near: Hsl(120.0, 0.5, 0.25),
        },
        motifs: [Motif::Flowers, Motif::Sun],
    },
    Theme {
        words: &["storm", "stormy", "rain", "rainy", "thunder", "lightning", "thunderstorm", "drizzle"],
        palette: Palette {
            name: "storm", top: Hsl(220.0, 0.15, 0.2), horizon: Hsl(210.0, 0.15, 0.45),
            accent: Hsl(55.0, 0.6, 0.85), far: Hsl(215.0, 0.15, 0.3), near: Hsl(220.0, 0.15, 0.14),
        },
        motifs: [Motif::Rain, Motif::Mountains],
    },
];

/// Palettes for prompts naming no theme, picked by the seed.
pub(super) const ABSTRACT_PALETTES: &[Palette] = &[
    Palette {
        name: "aurora", top: Hsl(230.0, 0.6, 0.12), horizon: Hsl(160.0, 0.7, 0.45),
        accent: Hsl(290.0, 0.7, 0.65), far: Hsl(200.0, 0.5, 0.25), near: Hsl(230.0, 0.5, 0.1),
    },
    Palette {
        name: "pastel", top: Hsl(260.0, 0.5, 0.82), horizon: Hsl(20.0, 0.7, 0.88),
        accent: Hsl(340.0, 0.7, 0.78), far: Hsl(180.0, 0.35, 0.7), near: Hsl(220.0, 0.35, 0.5),
    },
    Palette {
        name: "ember", top: Hsl(350.0, 0.5, 0.15), horizon: Hsl(15.0, 0.75, 0.5),
        accent: Hsl(40.0, 0.9, 0.65), far: Hsl(0.0, 0.45, 0.3), near: Hsl(340.0, 0.4, 0.12),
    },
    Palette {
        name: "lagoon", top: Hsl(190.0, 0.7, 0.35), horizon: Hsl(165.0, 0.6, 0.7),
        accent: Hsl(60.0, 0.8, 0.75), far: Hsl(175.0, 0.6, 0.4), near: Hsl(200.0, 0.7, 0.2),
    },
];

/// Motifs a prompt naming no theme may get.
const GENERIC_MOTIFS: [Motif; 6] = [Motif::Bands, Motif::Bokeh, Motif::Mountains, Motif::Sun, Motif::Stars, Motif::Waves];

/// Most motifs in one picture, the gradient sky included.
const MAX_MOTIFS: usize = 4;

/// Whether prompt word `word` names keyword `key` (plural "s" allowed).
fn names(word: &str, key: &str) -> bool {
    word == key || word.strip_suffix('s') == Some(key)
}

/// The themes the prompt names, in the order of their first mention.
pub(super) fn themes_in(prompt: &str) -> Vec<&'static Theme> {
    let text = prompt.to_lowercase();
    let mut found: Vec<&'static Theme> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if let Some(theme) = THEMES.iter().find(|t| t.words.iter().any(|k| names(word, k)))
            && !found.iter().any(|f| f.palette.name == theme.palette.name)
        {
            found.push(theme);
        }
    }
    found
}

/// The gradient sky plus the themes' motifs, first choices of every theme before second
/// choices, at most [`MAX_MOTIFS`] in all, sorted back to front. Without themes, two distinct
/// generic motifs picked by `rng`.
pub(super) fn choose_motifs(themes: &[&Theme], rng: &mut Rng) -> Vec<Motif> {
    let wanted: Vec<Motif> = if themes.is_empty() {
        let n = GENERIC_MOTIFS.len();
        let first = rng.below(n);
        vec![GENERIC_MOTIFS[first], GENERIC_MOTIFS[(first + 1 + rng.below(n - 1)) % n]]
    } else {
        (0..2).flat_map(|rank| themes.iter().map(move |t| t.motifs[rank])).collect()
    };
    let mut motifs = vec![Motif::Sky];
    for m in wanted {
        if motifs.len() < MAX_MOTIFS && !motifs.iter().any(|&o| o == m || o.clashes(m)) {
            motifs.push(m);
        }
    }
    motifs.sort();
    motifs
}

#[cfg(test)]
mod tests {
    use super::super::paint;
    use super::*;

    #[test]
    fn prompt_words_choose_palette_and_motifs() {
        let sea = paint("Sunset over the ocean", ImageStyle::Vivid, 128, 128);
        assert_eq!(sea.palette_name, "sunset");
        assert_eq!(sea.motifs, ["gradient sky", "sun", "mountains", "waves"]);

        let city = paint("neon city at night", ImageStyle::Vivid, 128, 128);
        assert_eq!(city.palette_name, "neon");
        assert_eq!(city.motifs, ["gradient sky", "stars", "flowing bands", "city skyline"]);

        let cases = [
            ("snowy mountains in winter", "snow", "mountains"),
            ("desert dunes", "desert", "dunes"),
            ("a thunderstorm", "storm", "rain"),
            ("flowers in the garden", "garden", "flowers"),
            ("pine trees", "forest", "trees"),
            ("stars in the galaxy", "night", "moon"),
        ];
        for (prompt, palette, motif) in cases {
            let art = paint(prompt, ImageStyle::Vivid, 96, 96);
            assert_eq!(art.palette_name, palette, "{prompt}");
            assert!(art.motifs.contains(&motif), "{prompt}: {:?}", art.motifs);
            assert!((2..=MAX_MOTIFS).contains(&art.motifs.len()), "{prompt}: {:?}", art.motifs);
        }

        let unknown = paint("zorblat quexel", ImageStyle::Vivid, 96, 96);
        assert!(ABSTRACT_PALETTES.iter().any(|p| p.name == unknown.palette_name));
        assert_eq!(unknown.motifs.len(), 3);
    }
}
