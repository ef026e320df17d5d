//! Offline procedural artwork for the `local` image provider: a prompt and a style become a
//! landscape-like picture at any size from 64 to 2048 pixels a side.
//!
//! How it works, in order: the prompt (trimmed, lower-cased) and the style are hashed with
//! SHA-256 into a 64-bit seed. The prompt's words pick *themes* ("sunset", "ocean", "neon"…):
//! the first theme named sets the palette, and the themes together choose up to three motifs
//! drawn over a gradient sky (sun or moon disc, stars, mountain silhouettes, dunes, waves,
//! trees, a city skyline with lit windows, flowing bands, bokeh, flowers, rain, snowfall). A
//! prompt naming no theme gets a palette and two motifs picked by the seed. Positions, counts and
//! sizes all come from a SplitMix64 generator seeded with that seed, so the same prompt and
//! style always give byte-identical pixels.
//!
//! The style grades the palette: [`ImageStyle::Vivid`] pushes saturation and contrast up,
//! [`ImageStyle::Natural`] desaturates and softens it, then adds a vignette and film grain.
//!
//! Speed: everything is row or column fills, bounded-box discs and low-resolution value noise
//! interpolated per pixel; no per-pixel trigonometry. The drawing primitives ([`Canvas`],
//! [`Rng`], [`Hsl`]) are shared with the NFT artwork generator.

use std::f32::consts::TAU;

use image::RgbImage;
use sha2::{Digest, Sha256};

/// Smallest width or height painted; smaller requests are raised to it.
pub const MIN_SIDE: u32 = 64;
/// Largest width or height painted; larger requests are lowered to it.
pub const MAX_SIDE: u32 = 2048;

/// The look asked for, as in the OpenAI Images API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageStyle {
    /// Saturated, high-contrast colours.
    Vivid,
    /// Muted colours, softer contrast, vignette and grain.
    Natural,
}

impl ImageStyle {
    /// The API name of the style.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageStyle::Vivid => "vivid",
            ImageStyle::Natural => "natural",
        }
    }

    /// The RGB colour a palette entry becomes under this style.
    fn grade(self, c: Hsl) -> Color {
        match self {
            ImageStyle::Vivid => Hsl(c.0, (c.1 * 1.25 + 0.1).min(1.0), (0.5 + (c.2 - 0.5) * 1.15).clamp(0.0, 1.0)).rgb(),
            ImageStyle::Natural => Hsl(c.0, c.1 * 0.45, 0.52 + (c.2 - 0.5) * 0.8).rgb(),
        }
    }
}

/// A painted picture and what it was made of.
#[derive(Debug, Clone)]
pub struct Artwork {
    pub image: RgbImage,
    /// The seed the composition was drawn from (a hash of the prompt and style).
    pub seed: u64,
    /// The palette used, e.g. "sunset" or, for a prompt naming no theme, "aurora".
    pub palette_name: &'static str,
    /// The motifs drawn, back to front, e.g. `["gradient sky", "sun", "waves"]`.
    pub motifs: Vec<&'static str>,
}

/// Paints `prompt` in `style` at `width × height` (each clamped to
/// [`MIN_SIDE`]`..=`[`MAX_SIDE`]). Pure CPU work: call it off the async runtime.
pub fn paint(prompt: &str, style: ImageStyle, width: u32, height: u32) -> Artwork {
    let (width, height) = (width.clamp(MIN_SIDE, MAX_SIDE), height.clamp(MIN_SIDE, MAX_SIDE));
    let seed = seed_for(prompt, style);
    let mut rng = Rng::new(seed);
    let themes = themes_in(prompt);
    let palette = match themes.first() {
        Some(theme) => &theme.palette,
        None => &ABSTRACT_PALETTES[rng.below(ABSTRACT_PALETTES.len())],
    };
    let motifs = choose_motifs(&themes, &mut rng);
    let (w, h) = (width as f32, height as f32);
    let layout = Layout {
        w,
        h,
        unit: w.min(h),
        horizon: h * rng.range(0.55, 0.72),
        ground: motifs.iter().any(|m| m.stands_on_ground()),
        water: motifs.contains(&Motif::Waves),
        colors: palette.graded(style),
    };
    let mut canvas = Canvas::new(width, height);
    for motif in &motifs {
        motif.draw(&mut canvas, &mut rng, &layout);
    }
    if style == ImageStyle::Natural {
        soften(&mut canvas, &mut rng);
    }
    Artwork { image: canvas.into_image(), seed, palette_name: palette.name, motifs: motifs.iter().map(|m| m.name()).collect() }
}

/// The first 8 bytes (big-endian) of SHA-256 over the normalised prompt, a unit separator and
/// the style name.
fn seed_for(prompt: &str, style: ImageStyle) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(prompt.trim().to_lowercase().as_bytes());
    hasher.update(b"\x1f");
    hasher.update(style.as_str().as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

// ---------------------------------------------------------------------------------------------
// Shared primitives: colours, the generator, the canvas
// ---------------------------------------------------------------------------------------------

/// An RGB colour with channels in `0.0..=255.0`.
pub(crate) type Color = [f32; 3];

pub(crate) const WHITE: Color = [255.0, 255.0, 255.0];
pub(crate) const BLACK: Color = [0.0, 0.0, 0.0];

/// A colour as hue (degrees), saturation and lightness (both `0.0..=1.0`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hsl(pub(crate) f32, pub(crate) f32, pub(crate) f32);

impl Hsl {
    /// The same colour in RGB.
    pub(crate) fn rgb(self) -> Color {
        let Hsl(h, s, l) = self;
        let chroma = (1.0 - (2.0 * l - 1.0).abs()) * s;
        let sector = h.rem_euclid(360.0) / 60.0;
        let x = chroma * (1.0 - (sector % 2.0 - 1.0).abs());
        let (r, g, b) = match sector as u32 {
            0 => (chroma, x, 0.0),
            1 => (x, chroma, 0.0),
            2 => (0.0, chroma, x),
            3 => (0.0, x, chroma),
            4 => (x, 0.0, chroma),
            _ => (chroma, 0.0, x),
        };
        let m = l - chroma / 2.0;
        [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
    }
}

/// `a` blended towards `b` by `t` (`0.0` → `a`, `1.0` → `b`).
pub(crate) fn lerp(a: Color, b: Color, t: f32) -> Color {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/// Hermite smoothstep of `t` clamped to `0.0..=1.0`.
fn smooth(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// SplitMix64: tiny, fast, and the same sequence on every machine.
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

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in `[lo, hi)`.
    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `0..n` (`n` must not be 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }
}

/// The SplitMix64 finaliser: a bijective 64-bit mixer.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Blends `c` over one RGB pixel with opacity `a`.
fn mix_into(px: &mut [u8], c: Color, a: f32) {
    if a >= 1.0 {
        // Opaque: a plain write (also the common case of the big fills).
        px.iter_mut().zip(c).for_each(|(p, c)| *p = (c + 0.5) as u8);
        return;
    }
    for (p, c) in px.iter_mut().zip(c) {
        let v = f32::from(*p);
        // `as` saturates, so out-of-range colours clip instead of wrapping.
        *p = (v + (c - v) * a + 0.5) as u8;
    }
}

/// An RGB picture with the clipped, alpha-blended drawing operations the painters use.
pub(crate) struct Canvas {
    img: RgbImage,
}

impl Canvas {
    /// A black canvas.
    pub(crate) fn new(width: u32, height: u32) -> Self {
        Canvas { img: RgbImage::new(width, height) }
    }

    pub(crate) fn width(&self) -> i32 {
        self.img.width() as i32
    }

    pub(crate) fn height(&self) -> i32 {
        self.img.height() as i32
    }

    pub(crate) fn into_image(self) -> RgbImage {
        self.img
    }

    /// The raw RGB bytes of row `y` (which must be on the canvas).
    pub(crate) fn row_mut(&mut self, y: i32) -> &mut [u8] {
        let stride = self.img.width() as usize * 3;
        let buf: &mut [u8] = &mut self.img;
        &mut buf[y as usize * stride..][..stride]
    }

    /// Blends `c` over pixel (`x`, `y`); off the canvas it does nothing.
    pub(crate) fn blend(&mut self, x: i32, y: i32, c: Color, a: f32) {
        if x >= 0 && x < self.width() && y >= 0 && y < self.height() {
            let x = x as usize * 3;
            mix_into(&mut self.row_mut(y)[x..x + 3], c, a);
        }
    }

    /// Blends `c` over row `y` from `x0` to `x1` (rounded, clipped).
    pub(crate) fn span(&mut self, y: i32, x0: f32, x1: f32, c: Color, a: f32) {
        if y < 0 || y >= self.height() || a <= 0.0 {
            return;
        }
        let width = self.width() as f32;
        let (from, to) = (x0.round().clamp(0.0, width) as usize, x1.round().clamp(0.0, width) as usize);
        if from < to {
            for px in self.row_mut(y)[from * 3..to * 3].chunks_exact_mut(3) {
                mix_into(px, c, a);
            }
        }
    }

    /// Blends `c` over column `x` from `y0` to `y1` (rounded, clipped).
    pub(crate) fn column(&mut self, x: i32, y0: f32, y1: f32, c: Color, a: f32) {
        if x < 0 || x >= self.width() || a <= 0.0 {
            return;
        }
        let (from, to) = (y0.round().max(0.0) as usize, (y1.round().max(0.0) as usize).min(self.img.height() as usize));
        let stride = self.img.width() as usize * 3;
        let buf: &mut [u8] = &mut self.img;
        for y in from..to {
            let i = y * stride + x as usize * 3;
            mix_into(&mut buf[i..i + 3], c, a);
        }
    }

    /// Blends `c` over the rectangle from (`x0`, `y0`) to (`x1`, `y1`).
    pub(crate) fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Color, a: f32) {
        for y in y0.round().max(0.0) as i32..(y1.round() as i32).min(self.height()) {
            self.span(y, x0, x1, c, a);
        }
    }

    /// A disc of radius `r`: opacity `a` inside, fading to nothing over the outer `soft` pixels.
    pub(crate) fn disc(&mut self, cx: f32, cy: f32, r: f32, soft: f32, c: Color, a: f32) {
        let soft = soft.max(0.5);
        self.radial(cx, cy, r, |d2| a * ((r - d2.sqrt()) / soft).clamp(0.0, 1.0), c);
    }

    /// A glow: opacity `a` at the centre, falling off smoothly to nothing at radius `r`.
    pub(crate) fn glow(&mut self, cx: f32, cy: f32, r: f32, c: Color, a: f32) {
        let r2 = r * r;
        self.radial(cx, cy, r, |d2| {
            let t = 1.0 - d2 / r2;
            if t > 0.0 { a * t * t } else { 0.0 }
        }, c);
    }

    /// Blends `c` over the pixels within `r` of (`cx`, `cy`) with the opacity `alpha` gives for
    /// each pixel's squared distance to the centre.
    fn radial(&mut self, cx: f32, cy: f32, r: f32, alpha: impl Fn(f32) -> f32, c: Color) {
        let (x0, x1) = (((cx - r).floor() as i32).max(0), ((cx + r).ceil() as i32).min(self.width() - 1));
        let (y0, y1) = (((cy - r).floor() as i32).max(0), ((cy + r).ceil() as i32).min(self.height() - 1));
        for y in y0..=y1 {
            let dy = y as f32 + 0.5 - cy;
            let row = self.row_mut(y);
            for x in x0..=x1 {
                let dx = x as f32 + 0.5 - cx;
                let a = alpha(dx * dx + dy * dy);
                if a > 0.0 {
                    let i = x as usize * 3;
                    mix_into(&mut row[i..i + 3], c, a);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------------------------

/// 2-D value noise: random values on a coarse grid, smoothly interpolated in between.
struct Noise {
    cols: usize,
    rows: usize,
    cell_w: f32,
    cell_h: f32,
    values: Vec<f32>,
}

impl Noise {
    /// A `cols × rows` grid of cells stretched over a `width × height` picture.
    fn new(rng: &mut Rng, cols: usize, rows: usize, width: f32, height: f32) -> Self {
        let values = (0..(cols + 1) * (rows + 1)).map(|_| rng.unit()).collect();
        Noise { cols, rows, cell_w: width / cols as f32, cell_h: height / rows as f32, values }
    }

    /// The noise at (`x`, `y`), in `[0, 1)`.
    fn at(&self, x: f32, y: f32) -> f32 {
        let (fx, fy) = (x / self.cell_w, y / self.cell_h);
        let (ix, iy) = ((fx as usize).min(self.cols - 1), (fy as usize).min(self.rows - 1));
        let (tx, ty) = (smooth(fx - ix as f32), smooth(fy - iy as f32));
        let stride = self.cols + 1;
        let v = |i: usize, j: usize| self.values[j * stride + i];
        let top = v(ix, iy) + (v(ix + 1, iy) - v(ix, iy)) * tx;
        let bottom = v(ix, iy + 1) + (v(ix + 1, iy + 1) - v(ix, iy + 1)) * tx;
        top + (bottom - top) * ty
    }
}

/// A 1-D fractal value-noise profile of `len` samples stretched to `[0, 1]`: `knots` random
/// heights at the coarsest octave, twice as many each further octave at `roughness` times the
/// amplitude.
fn profile(rng: &mut Rng, len: usize, knots: usize, octaves: u32, roughness: f32) -> Vec<f32> {
    let mut out = vec![0.0f32; len];
    let (mut amplitude, mut knots) = (1.0, knots.max(1));
    for _ in 0..octaves {
        let heights: Vec<f32> = (0..=knots).map(|_| rng.unit()).collect();
        for (i, v) in out.iter_mut().enumerate() {
            let f = i as f32 / len as f32 * knots as f32;
            let j = (f as usize).min(knots - 1);
            let t = smooth(f - j as f32);
            *v += amplitude * (heights[j] + (heights[j + 1] - heights[j]) * t);
        }
        amplitude *= roughness;
        knots *= 2;
    }
    let (lo, hi) = out.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let spread = (hi - lo).max(f32::EPSILON);
    out.iter_mut().for_each(|v| *v = (*v - lo) / spread);
    out
}

// ---------------------------------------------------------------------------------------------
// Palettes and themes
// ---------------------------------------------------------------------------------------------

/// Five colours a scene is painted with.
struct Palette {
    name: &'static str,
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
    fn graded(&self, style: ImageStyle) -> Colors {
        Colors {
            top: style.grade(self.top),
            horizon: style.grade(self.horizon),
            accent: style.grade(self.accent),
            far: style.grade(self.far),
            near: style.grade(self.near),
        }
    }
}

/// A [`Palette`] after grading.
struct Colors {
    top: Color,
    horizon: Color,
    accent: Color,
    far: Color,
    near: Color,
}

/// Words that name a theme, the palette it brings and the motifs it asks for (most wanted
/// first).
struct Theme {
    words: &'static [&'static str],
    palette: Palette,
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
const ABSTRACT_PALETTES: &[Palette] = &[
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
fn themes_in(prompt: &str) -> Vec<&'static Theme> {
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
fn choose_motifs(themes: &[&Theme], rng: &mut Rng) -> Vec<Motif> {
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

// ---------------------------------------------------------------------------------------------
// Motifs
// ---------------------------------------------------------------------------------------------

/// Something drawn in the picture. The declaration order is the drawing order, back to front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Motif {
    Sky,
    Stars,
    Sun,
    Moon,
    Bands,
    Mountains,
    Dunes,
    Waves,
    Skyline,
    Trees,
    Flowers,
    Bokeh,
    Rain,
    Snowfall,
}

/// Where things go, and in which colours.
struct Layout {
    w: f32,
    h: f32,
    /// The shorter side: sizes scale with it so portrait and landscape look alike.
    unit: f32,
    /// Where sky meets land or sea.
    horizon: f32,
    /// Whether something stands below the horizon (otherwise the sky fills the picture).
    ground: bool,
    /// Whether the ground is sea.
    water: bool,
    colors: Colors,
}

impl Motif {
    /// The name reported in [`Artwork::motifs`].
    fn name(self) -> &'static str {
        match self {
            Motif::Sky => "gradient sky",
            Motif::Stars => "stars",
            Motif::Sun => "sun",
            Motif::Moon => "moon",
            Motif::Bands => "flowing bands",
            Motif::Mountains => "mountains",
            Motif::Dunes => "dunes",
            Motif::Waves => "waves",
            Motif::Skyline => "city skyline",
            Motif::Trees => "trees",
            Motif::Flowers => "flowers",
            Motif::Bokeh => "bokeh",
            Motif::Rain => "rain",
            Motif::Snowfall => "snowfall",
        }
    }

    /// Whether the motif needs land or sea below a horizon.
    fn stands_on_ground(self) -> bool {
        matches!(self, Motif::Mountains | Motif::Dunes | Motif::Waves | Motif::Skyline | Motif::Trees | Motif::Flowers)
    }

    /// Whether the two motifs do not belong in one picture.
    fn clashes(self, other: Motif) -> bool {
        matches!((self, other), (Motif::Sun, Motif::Moon) | (Motif::Moon, Motif::Sun))
    }

    fn draw(self, canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
        match self {
            Motif::Sky => sky(canvas, rng, lay),
            Motif::Stars => stars(canvas, rng, lay),
            Motif::Sun => sun(canvas, rng, lay),
            Motif::Moon => moon(canvas, rng, lay),
            Motif::Bands => bands(canvas, rng, lay),
            Motif::Mountains => mountains(canvas, rng, lay),
            Motif::Dunes => dunes(canvas, rng, lay),
            Motif::Waves => waves(canvas, rng, lay),
            Motif::Skyline => skyline(canvas, rng, lay),
            Motif::Trees => trees(canvas, rng, lay),
            Motif::Flowers => flowers(canvas, rng, lay),
            Motif::Bokeh => bokeh(canvas, rng, lay),
            Motif::Rain => rain(canvas, rng, lay),
            Motif::Snowfall => snowfall(canvas, rng, lay),
        }
    }
}

/// Where the sky ends: the horizon when something stands on the ground, else the bottom.
fn sky_end(lay: &Layout) -> f32 {
    if lay.ground { lay.horizon } else { lay.h }
}

/// The base of every picture: a vertical gradient from zenith to horizon (then, when there is
/// ground, from far to near land), textured by two octaves of value noise.
fn sky(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let coarse = Noise::new(rng, 4, 4, lay.w, lay.h);
    let fine = Noise::new(rng, 14, 14, lay.w, lay.h);
    let end = sky_end(lay);
    let c = &lay.colors;
    for y in 0..canvas.height() {
        let fy = y as f32 + 0.5;
        let base = if fy < end {
            lerp(c.top, c.horizon, smooth(fy / end))
        } else {
            lerp(c.far, c.near, (fy - end) / (lay.h - end).max(1.0))
        };
        for (x, px) in canvas.row_mut(y).chunks_exact_mut(3).enumerate() {
            let fx = x as f32;
            let shade = 0.9 + 0.13 * coarse.at(fx, fy) + 0.07 * fine.at(fx, fy);
            for (p, b) in px.iter_mut().zip(base) {
                *p = (b * shade) as u8;
            }
        }
    }
}

/// Pin-point stars, denser towards the zenith, a few of them larger and haloed.
fn stars(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let count = (lay.w * lay.h / 2500.0 * rng.range(0.7, 1.3)) as usize;
    let end = sky_end(lay) * 0.97;
    for _ in 0..count {
        let (x, y) = (rng.range(0.0, lay.w), end * rng.unit().powf(1.6));
        let c = lerp(WHITE, lay.colors.accent, rng.range(0.0, 0.4));
        let a = rng.range(0.35, 1.0);
        if rng.chance(0.12) {
            let r = (lay.unit * rng.range(0.0015, 0.004)).max(1.0);
            canvas.glow(x, y, r * 4.0, c, a * 0.4);
            canvas.disc(x, y, r, 1.0, c, a);
        } else {
            canvas.blend(x as i32, y as i32, c, a);
        }
    }
}

/// A glowing sun, above the horizon when there is one (high enough to clear most ridges).
fn sun(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let r = lay.unit * rng.range(0.05, 0.1);
    let cx = lay.w * rng.range(0.2, 0.8);
    let cy = if lay.ground { lay.horizon - lay.h * rng.range(0.12, 0.3) } else { lay.h * rng.range(0.25, 0.6) };
    let c = lay.colors.accent;
    canvas.glow(cx, cy, r * 5.0, c, 0.45);
    canvas.glow(cx, cy, r * 2.0, c, 0.6);
    canvas.disc(cx, cy, r, 1.5, lerp(c, WHITE, 0.35), 1.0);
}

/// A pale moon high in the sky, with a soft halo and a few faint craters.
fn moon(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let r = lay.unit * rng.range(0.04, 0.07);
    let (cx, cy) = (lay.w * rng.range(0.15, 0.85), sky_end(lay) * rng.range(0.12, 0.4));
    let c = lerp(lay.colors.accent, WHITE, 0.3);
    canvas.glow(cx, cy, r * 3.5, c, 0.3);
    canvas.disc(cx, cy, r, 1.5, c, 1.0);
    for _ in 0..3 + rng.below(3) {
        let (angle, dist) = (rng.range(0.0, TAU), r * rng.range(0.0, 0.6));
        let cr = r * rng.range(0.1, 0.25);
        canvas.disc(cx + angle.cos() * dist, cy + angle.sin() * dist, cr, cr * 0.5, lay.colors.far, 0.2);
    }
}

/// Translucent ribbons that meander across the picture.
fn bands(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let c = &lay.colors;
    let tints = [c.accent, c.horizon, c.far, lerp(c.accent, c.top, 0.5)];
    let lowest = sky_end(lay) / lay.h * 0.95;
    for i in 0..3 + rng.below(4) {
        let base = lay.h * rng.range(0.1, lowest.max(0.2));
        let amplitude = lay.h * rng.range(0.03, 0.12);
        let thickness = lay.h * rng.range(0.015, 0.06);
        let alpha = rng.range(0.25, 0.55);
        let knots = 2 + rng.below(3);
        let path = profile(rng, canvas.width() as usize, knots, 3, 0.45);
        for (x, p) in path.iter().enumerate() {
            let centre = base + amplitude * (p - 0.5) * 2.0;
            for y in (centre - thickness) as i32..=(centre + thickness) as i32 {
                let d = (y as f32 - centre) / thickness;
                canvas.blend(x as i32, y, tints[i % tints.len()], alpha * (1.0 - d * d).max(0.0));
            }
        }
    }
}

/// Two or three ridges of mountains, hazy far away and dark up close.
fn mountains(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let c = &lay.colors;
    let layers = 2 + rng.below(2);
    for i in 0..layers {
        let t = i as f32 / (layers - 1) as f32;
        let colour = lerp(lerp(c.far, c.horizon, 0.45), c.near, t);
        let base = lay.horizon + t * 0.06 * lay.h;
        let peak = lay.h * rng.range(0.12, 0.3) * (1.0 - 0.35 * t);
        let knots = 2 + rng.below(4);
        let ridge = profile(rng, canvas.width() as usize, knots, 6, 0.5);
        for (x, p) in ridge.iter().enumerate() {
            canvas.column(x as i32, base - peak * p, lay.h, colour, 1.0);
        }
    }
}

/// Low, smooth dunes with sunlit crests.
fn dunes(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let c = &lay.colors;
    let layers = 2 + rng.below(2);
    let crest = lay.h * 0.015;
    for i in 0..layers {
        let t = i as f32 / (layers - 1) as f32;
        let colour = lerp(lerp(c.far, c.horizon, 0.3), c.near, t);
        let lit = lerp(colour, c.accent, 0.35);
        let base = lay.horizon + t * 0.18 * (lay.h - lay.horizon);
        let height = lay.h * rng.range(0.04, 0.1);
        let knots = 1 + rng.below(2);
        let ridge = profile(rng, canvas.width() as usize, knots, 2, 0.3);
        for (x, p) in ridge.iter().enumerate() {
            let top = base - height * p;
            canvas.column(x as i32, top, top + crest, lit, 1.0);
            canvas.column(x as i32, top + crest, lay.h, colour, 1.0);
        }
    }
}

/// The sea below the horizon: a depth gradient, broken crest lines that grow towards the
/// viewer, and a shimmering path of light.
fn waves(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let c = &lay.colors;
    let (top, depth) = (lay.horizon, lay.h - lay.horizon);
    let surface = lerp(c.far, c.horizon, 0.35);
    for y in top as i32..canvas.height() {
        let t = ((y as f32 - top) / depth).clamp(0.0, 1.0);
        canvas.span(y, 0.0, lay.w, lerp(surface, c.near, t.sqrt()), 1.0);
    }
    let crest = lerp(c.horizon, c.accent, 0.5);
    let lines = 18 + rng.below(18);
    for k in 0..lines {
        let d = (k as f32 + rng.unit()) / lines as f32;
        let y = top + depth * d * d;
        let amplitude = 1.0 + d * lay.unit * 0.012;
        let freq = 1.0 / (lay.unit * (0.01 + 0.05 * d));
        let (phase, gate_freq, gate_phase) = (rng.range(0.0, TAU), freq * rng.range(0.15, 0.35), rng.range(0.0, TAU));
        let thickness = 1.0 + d * 3.0 * lay.unit / 1024.0;
        let alpha = rng.range(0.25, 0.5);
        for x in 0..canvas.width() {
            let fx = x as f32;
            if (fx * gate_freq + gate_phase).sin() > 0.1 {
                let wy = y + amplitude * (fx * freq + phase).sin();
                canvas.column(x, wy, wy + thickness, crest, alpha);
            }
        }
    }
    let path = lay.w * rng.range(0.3, 0.7);
    for _ in 0..40 + rng.below(40) {
        let d = rng.unit();
        let y = top + depth * d * d;
        let half = lay.unit * (0.01 + 0.06 * d) * rng.range(0.3, 1.0);
        let x = path + rng.range(-1.0, 1.0) * lay.unit * (0.02 + 0.1 * d);
        canvas.rect(x - half, y, x + half, y + 1.0 + d * 3.0, c.accent, rng.range(0.2, 0.5));
    }
}

/// Two rows of buildings rising from the horizon (down to the bottom, or to the water's edge),
/// the front row darker with more lit windows.
fn skyline(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let c = &lay.colors;
    let bottom = if lay.water { lay.horizon } else { lay.h };
    let window = lerp(c.accent, WHITE, 0.2);
    let rows = [(lerp(lerp(c.far, c.near, 0.5), c.horizon, 0.25), 0.14, 0.38, 0.15), (c.near, 0.06, 0.26, 0.35)];
    for (colour, low, high, lit) in rows {
        let mut x = -lay.w * rng.range(0.0, 0.05);
        while x < lay.w {
            let width = lay.w * rng.range(0.04, 0.1);
            let top = lay.horizon - lay.h * rng.range(low, high);
            let right = x + width - (width * 0.08).max(1.0);
            canvas.rect(x, top, right, bottom, colour, 1.0);
            let (ww, wh) = ((width / 9.0).max(2.0), (width / 7.0).max(2.0));
            let mut wy = top + wh * 1.5;
            while wy + wh < bottom {
                let mut wx = x + ww;
                while wx + ww < right {
                    if rng.chance(lit) {
                        canvas.rect(wx, wy, wx + ww, wy + wh, window, rng.range(0.6, 1.0));
                    }
                    wx += ww * 2.0;
                }
                wy += wh * 2.2;
            }
            x += width;
        }
    }
}

/// Conifers with jagged tiers: a treeline on the far shore when there is sea, else scattered
/// over the ground, bigger and darker nearer the viewer.
fn trees(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let c = &lay.colors;
    let count = 8 + rng.below(16);
    let mut placed: Vec<(f32, f32)> =
        (0..count).map(|_| (lay.w * rng.range(-0.05, 1.05), if lay.water { rng.range(0.0, 0.03) } else { rng.unit() })).collect();
    placed.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (x, d) in placed {
        let (base, height) = if lay.water {
            (lay.horizon + d * lay.h, lay.h * rng.range(0.06, 0.12))
        } else {
            (lay.horizon + d * (lay.h - lay.horizon) * 1.05, lay.h * (0.08 + 0.3 * d) * rng.range(0.8, 1.2))
        };
        let half = height * rng.range(0.18, 0.26);
        let colour = lerp(c.far, c.near, 0.4 + 0.6 * d);
        canvas.rect(x - half * 0.12, base - height * 0.15, x + half * 0.12, base, lerp(colour, BLACK, 0.3), 1.0);
        let crown = height * 0.9;
        for row in 0..crown as i32 {
            let progress = row as f32 / crown;
            let reach = half * progress * (0.7 + 0.3 * (progress * 3.0).fract());
            canvas.span((base - height + row as f32) as i32, x - reach, x + reach, colour, 1.0);
        }
    }
}

/// Five-petalled blooms on stems across the foreground.
fn flowers(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let c = &lay.colors;
    let count = 25 + rng.below(40);
    let mut placed: Vec<(f32, f32)> = (0..count).map(|_| (rng.range(0.0, lay.w), rng.range(0.15, 1.0))).collect();
    placed.sort_by(|a, b| a.1.total_cmp(&b.1));
    let stem = lerp(c.far, c.near, 0.5);
    for (x, d) in placed {
        let y = lay.horizon + (lay.h - lay.horizon) * d;
        let s = lay.unit * (0.006 + 0.025 * d);
        canvas.rect(x - s * 0.1, y, x + s * 0.1, y + s * 3.0, stem, 1.0);
        let petal = lerp(c.accent, WHITE, rng.range(0.0, 0.35));
        let turn = rng.range(0.0, TAU);
        for k in 0..5 {
            let angle = turn + k as f32 * TAU / 5.0;
            canvas.disc(x + angle.cos() * s * 0.55, y + angle.sin() * s * 0.55, s * 0.45, 1.0, petal, 1.0);
        }
        canvas.disc(x, y, s * 0.28, 1.0, lerp(c.accent, c.near, 0.5), 1.0);
    }
}

/// Out-of-focus discs of light.
fn bokeh(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let c = &lay.colors;
    let tints = [c.accent, c.horizon, lerp(c.accent, WHITE, 0.4)];
    for _ in 0..12 + rng.below(20) {
        let r = lay.unit * rng.range(0.01, 0.06);
        let (x, y) = (rng.range(0.0, lay.w), rng.range(0.0, lay.h));
        let tint = tints[rng.below(tints.len())];
        canvas.disc(x, y, r, r * 0.3, tint, rng.range(0.12, 0.3));
    }
}

/// Slanted streaks of rain over everything.
fn rain(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    let colour = lerp(lay.colors.horizon, WHITE, 0.5);
    let slant = rng.range(-0.25, 0.25);
    for _ in 0..(lay.w * lay.h / 2500.0) as usize {
        let (x, y) = (rng.range(0.0, lay.w), rng.range(0.0, lay.h));
        let length = lay.h * rng.range(0.015, 0.05);
        let alpha = rng.range(0.15, 0.35);
        for s in 0..length as i32 {
            canvas.blend((x + slant * s as f32) as i32, y as i32 + s, colour, alpha);
        }
    }
}

/// Soft white flakes over everything.
fn snowfall(canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
    for _ in 0..(lay.w * lay.h / 3500.0) as usize {
        let (x, y) = (rng.range(0.0, lay.w), rng.range(0.0, lay.h));
        let r = (lay.unit * rng.range(0.002, 0.006)).max(0.8);
        canvas.disc(x, y, r, 1.0, WHITE, rng.range(0.5, 0.9));
    }
}

/// The finish of the natural style: a vignette darkening the edges and a fine luminance grain.
fn soften(canvas: &mut Canvas, rng: &mut Rng) {
    let falloff = |i: i32, n: i32| {
        let d = (i as f32 + 0.5) / n as f32 * 2.0 - 1.0;
        1.0 - 0.2 * d * d
    };
    let (width, height) = (canvas.width(), canvas.height());
    let across: Vec<f32> = (0..width).map(|x| falloff(x, width)).collect();
    for y in 0..height {
        let down = falloff(y, height);
        for (px, fx) in canvas.row_mut(y).chunks_exact_mut(3).zip(&across) {
            let grain = ((rng.next_u64() & 0xff) as f32 - 127.5) * (5.0 / 127.5);
            let k = down * fx;
            for p in px.iter_mut() {
                *p = (f32::from(*p) * k + grain + 0.5) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean R, G, B of the picture.
    fn mean_rgb(img: &RgbImage) -> [f64; 3] {
        let mut sum = [0.0f64; 3];
        for p in img.pixels() {
            for (s, v) in sum.iter_mut().zip(p.0) {
                *s += f64::from(v);
            }
        }
        let n = f64::from(img.width() * img.height());
        sum.map(|s| s / n)
    }

    /// Mean HSV saturation, `(max − min) / max` per pixel.
    fn mean_saturation(img: &RgbImage) -> f64 {
        let total: f64 = img
            .pixels()
            .map(|p| {
                let (max, min) = (p.0.iter().max().copied().unwrap_or(0), p.0.iter().min().copied().unwrap_or(0));
                if max == 0 { 0.0 } else { f64::from(max - min) / f64::from(max) }
            })
            .sum();
        total / f64::from(img.width() * img.height())
    }

    /// Variance of the luma.
    fn luma_variance(img: &RgbImage) -> f64 {
        let lumas: Vec<f64> =
            img.pixels().map(|p| 0.299 * f64::from(p.0[0]) + 0.587 * f64::from(p.0[1]) + 0.114 * f64::from(p.0[2])).collect();
        let mean = lumas.iter().sum::<f64>() / lumas.len() as f64;
        lumas.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lumas.len() as f64
    }

    #[test]
    fn paints_the_requested_sizes() {
        for (w, h) in [(1024, 1024), (1024, 1792), (1792, 1024)] {
            let art = paint("sunset over the ocean", ImageStyle::Vivid, w, h);
            assert_eq!(art.image.dimensions(), (w, h));
        }
        assert_eq!(paint("tiny", ImageStyle::Natural, 64, 100).image.dimensions(), (64, 100));
        assert_eq!(paint("clamped", ImageStyle::Natural, 8, 5000).image.dimensions(), (MIN_SIDE, MAX_SIDE));
    }

    #[test]
    fn same_input_gives_identical_pixels() {
        let a = paint("A quiet forest by the lake", ImageStyle::Natural, 320, 240);
        let b = paint("  a quiet FOREST by the lake ", ImageStyle::Natural, 320, 240);
        assert_eq!(a.seed, b.seed);
        assert_eq!(a.image.as_raw(), b.image.as_raw());
        assert_eq!((a.palette_name, &a.motifs), (b.palette_name, &b.motifs));
        assert_ne!(a.seed, paint("a quiet forest by the lake", ImageStyle::Vivid, 320, 240).seed);
    }

    #[test]
    fn different_prompts_give_different_pictures() {
        let warm = mean_rgb(&paint("sunset over the ocean", ImageStyle::Vivid, 256, 256).image);
        let cold = mean_rgb(&paint("neon city at night", ImageStyle::Vivid, 256, 256).image);
        let distance = warm.iter().zip(cold).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        assert!(distance > 40.0, "mean colours {warm:?} and {cold:?} are too close");
    }

    #[test]
    fn vivid_is_clearly_more_saturated_than_natural() {
        for prompt in ["sunset over the ocean", "neon city at night", "a forest in spring", "zorblat quexel"] {
            let vivid = mean_saturation(&paint(prompt, ImageStyle::Vivid, 256, 256).image);
            let natural = mean_saturation(&paint(prompt, ImageStyle::Natural, 256, 256).image);
            assert!(vivid > natural + 0.15, "{prompt}: vivid {vivid:.3} vs natural {natural:.3}");
        }
    }

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

    #[test]
    fn pictures_are_not_flat() {
        for prompt in ["sunset over the ocean", "neon city at night", "misty morning", "zorblat quexel", "snow"] {
            for style in [ImageStyle::Vivid, ImageStyle::Natural] {
                let variance = luma_variance(&paint(prompt, style, 256, 256).image);
                assert!(variance > 100.0, "{prompt} ({}): luma variance {variance:.1}", style.as_str());
            }
        }
    }
}
