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
//! interpolated per pixel; no per-pixel trigonometry. The drawing primitives (`Canvas`, `Rng`,
//! `Hsl`) are shared with the NFT artwork generator.
//!
//! `color`, `random`, `canvas` and `noise` are those primitives; `themes` reads the prompt into a
//! palette and motifs; `motifs` draws them.

mod canvas;
mod color;
mod motifs;
mod noise;
mod random;
mod themes;

use image::RgbImage;
use sha2::{Digest, Sha256};

pub(crate) use canvas::Canvas;
pub(crate) use color::{BLACK, Color, Hsl, WHITE, lerp};
use motifs::{Layout, Motif};
pub(crate) use random::Rng;
use themes::{ABSTRACT_PALETTES, choose_motifs, themes_in};

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
    fn pictures_are_not_flat() {
        for prompt in ["sunset over the ocean", "neon city at night", "misty morning", "zorblat quexel", "snow"] {
            for style in [ImageStyle::Vivid, ImageStyle::Natural] {
                let variance = luma_variance(&paint(prompt, style, 256, 256).image);
                assert!(variance > 100.0, "{prompt} ({}): luma variance {variance:.1}", style.as_str());
            }
        }
    }
}
