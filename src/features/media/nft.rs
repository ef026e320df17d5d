//! Generative NFT artwork (1024×1024) and its ERC-721 metadata document.
//!
//! Every piece comes from a 32-byte seed the caller draws at random, so each one is unique; the
//! same seed and request always give the same pixels. A colour scheme and a style shape the
//! picture; the ones the request leaves out are picked by the seed. The seed also sets the
//! piece's detail (how many shapes, reported as "Complexity") and its "Rarity", which shows as
//! a silver (Rare) or gold (Legendary) frame.
//!
//! Nothing here touches a blockchain: [`erc721_metadata`] only writes the JSON a later mint
//! would point its `tokenURI` at.

use std::f32::consts::TAU;

use image::RgbaImage;
use serde_json::{Value, json};

use crate::ai::image::procedural::{BLACK, Canvas, Color, Hsl, Rng, WHITE, lerp};
use crate::splitmix::mix64;

/// Width and height of every piece, in pixels.
pub const SIZE: u32 = 1024;
/// Most traits a caller may add.
pub const MAX_TRAITS: usize = 10;
/// Longest trait name or value, in characters.
pub const MAX_TRAIT_CHARS: usize = 64;

/// What the caller asks for; everything is optional.
#[derive(Debug, Clone, Default)]
pub struct NftRequest {
    /// One of [`color_schemes`] (any case); picked by the seed when absent or blank.
    pub color_scheme: Option<String>,
    /// One of [`styles`] (any case); picked by the seed when absent or blank.
    pub style: Option<String>,
    /// The caller's own `(trait_type, value)` pairs, added after the generated ones.
    pub traits: Vec<(String, String)>,
}

/// A generated piece.
#[derive(Debug, Clone)]
pub struct NftArt {
    /// 1024×1024, fully opaque.
    pub image: RgbaImage,
    /// `(trait_type, value)`: "Color Scheme", "Style", "Complexity", "Rarity", then the
    /// caller's traits (a caller trait with the type of a generated one replaces its value).
    pub attributes: Vec<(String, String)>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NftError {
    #[error("unknown color scheme {0:?}; expected one of: {list}", list = COLOR_SCHEMES.join(", "))]
    UnknownColorScheme(String),
    #[error("unknown style {0:?}; expected one of: {list}", list = STYLES.join(", "))]
    UnknownStyle(String),
    #[error("{0} traits given; at most {MAX_TRAITS} are allowed")]
    TooManyTraits(usize),
    #[error("trait #{0}: its name and value must each be 1 to {MAX_TRAIT_CHARS} characters")]
    InvalidTrait(usize),
}

/// Optima's schemes, then the four the app's NFT creator offers (`vibrant | calm | dark | light`).
pub const COLOR_SCHEMES: [&str; 11] = ["sunset", "ocean", "neon", "pastel", "monochrome", "forest", "fire", "vibrant", "calm", "dark", "light"];

/// The colours of each scheme, in the order of [`COLOR_SCHEMES`]: two background colours (the
/// diagonal gradient's ends) and three inks.
const SCHEME_COLORS: [[Hsl; 5]; 11] = [
    [Hsl(270.0, 0.5, 0.18), Hsl(20.0, 0.85, 0.55), Hsl(330.0, 0.8, 0.6), Hsl(40.0, 0.95, 0.6), Hsl(280.0, 0.6, 0.45)],
    [Hsl(215.0, 0.7, 0.15), Hsl(190.0, 0.7, 0.45), Hsl(175.0, 0.8, 0.55), Hsl(200.0, 0.9, 0.72), Hsl(45.0, 0.9, 0.75)],
    [Hsl(260.0, 0.7, 0.06), Hsl(280.0, 0.7, 0.16), Hsl(320.0, 1.0, 0.6), Hsl(185.0, 1.0, 0.5), Hsl(60.0, 1.0, 0.55)],
    [Hsl(40.0, 0.6, 0.94), Hsl(200.0, 0.5, 0.86), Hsl(340.0, 0.7, 0.8), Hsl(160.0, 0.5, 0.72), Hsl(260.0, 0.6, 0.78)],
    [Hsl(0.0, 0.0, 0.08), Hsl(0.0, 0.0, 0.25), Hsl(0.0, 0.0, 0.95), Hsl(0.0, 0.0, 0.6), Hsl(0.0, 0.0, 0.42)],
    [Hsl(150.0, 0.4, 0.1), Hsl(100.0, 0.35, 0.3), Hsl(90.0, 0.6, 0.5), Hsl(45.0, 0.7, 0.6), Hsl(160.0, 0.5, 0.35)],
    [Hsl(0.0, 0.8, 0.08), Hsl(15.0, 0.9, 0.3), Hsl(30.0, 1.0, 0.55), Hsl(50.0, 1.0, 0.6), Hsl(5.0, 0.9, 0.45)],
    [Hsl(250.0, 0.9, 0.35), Hsl(330.0, 0.95, 0.5), Hsl(55.0, 1.0, 0.55), Hsl(160.0, 1.0, 0.45), Hsl(15.0, 1.0, 0.55)],
    [Hsl(200.0, 0.25, 0.82), Hsl(170.0, 0.2, 0.7), Hsl(210.0, 0.3, 0.55), Hsl(150.0, 0.25, 0.6), Hsl(40.0, 0.3, 0.8)],
    [Hsl(230.0, 0.3, 0.05), Hsl(250.0, 0.25, 0.12), Hsl(200.0, 0.35, 0.35), Hsl(280.0, 0.3, 0.4), Hsl(30.0, 0.4, 0.45)],
    [Hsl(45.0, 0.3, 0.97), Hsl(200.0, 0.3, 0.92), Hsl(210.0, 0.55, 0.7), Hsl(20.0, 0.6, 0.75), Hsl(150.0, 0.4, 0.7)],
];

pub const STYLES: [&str; 5] = ["geometric", "waves", "orbits", "mosaic", "glitch"];

/// The colour schemes a request may name.
pub fn color_schemes() -> &'static [&'static str] {
    &COLOR_SCHEMES
}

/// The styles a request may name.
pub fn styles() -> &'static [&'static str] {
    &STYLES
}

/// Paints the piece for `seed` and `req`, after checking the request. Pure CPU work (a few tens
/// of milliseconds): call it off the async runtime.
pub fn generate(seed: [u8; 32], req: &NftRequest) -> Result<NftArt, NftError> {
    check_traits(&req.traits)?;
    let folded = fold(&seed);
    let scheme = pick(req.color_scheme.as_deref(), &COLOR_SCHEMES, mix64(folded ^ 1))
        .ok_or_else(|| NftError::UnknownColorScheme(req.color_scheme.clone().unwrap_or_default()))?;
    let style = pick(req.style.as_deref(), &STYLES, mix64(folded ^ 2))
        .ok_or_else(|| NftError::UnknownStyle(req.style.clone().unwrap_or_default()))?;
    let rarity = rarity(mix64(folded ^ 3));

    let mut rng = Rng::new(folded);
    let detail = rng.unit();
    let inks = SCHEME_COLORS[scheme].map(Hsl::rgb);
    let mut canvas = Canvas::new(SIZE, SIZE);
    background(&mut canvas, inks[0], inks[1]);
    let ink = [inks[2], inks[3], inks[4]];
    match style {
        0 => geometric(&mut canvas, &mut rng, &ink, shapes(detail, 6, 48)),
        1 => waves(&mut canvas, &mut rng, &ink, inks[0], shapes(detail, 4, 18)),
        2 => orbits(&mut canvas, &mut rng, &ink, shapes(detail, 3, 12)),
        3 => mosaic(&mut canvas, &mut rng, &inks, shapes(detail, 4, 16)),
        _ => glitch(&mut canvas, &mut rng, &ink, shapes(detail, 6, 40)),
    }
    match rarity {
        "Rare" => frame(&mut canvas, Hsl(210.0, 0.1, 0.78).rgb(), 10.0),
        "Legendary" => frame(&mut canvas, Hsl(45.0, 0.9, 0.55).rgb(), 16.0),
        _ => {}
    }

    let mut attributes = vec![
        ("Color Scheme".to_owned(), title_case(COLOR_SCHEMES[scheme])),
        ("Style".to_owned(), title_case(STYLES[style])),
        ("Complexity".to_owned(), complexity(detail).to_owned()),
        ("Rarity".to_owned(), rarity.to_owned()),
    ];
    for (kind, value) in &req.traits {
        let (kind, value) = (kind.trim(), value.trim().to_owned());
        match attributes.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(kind)) {
            Some(existing) => existing.1 = value,
            None => attributes.push((kind.to_owned(), value)),
        }
    }
    let image = image::DynamicImage::ImageRgb8(canvas.into_image()).into_rgba8();
    Ok(NftArt { image, attributes })
}

/// The ERC-721 metadata JSON of a piece, per the OpenSea metadata standard.
///
/// The standard's fields are `name`, `description`, `image` and `attributes` (objects of
/// `trait_type` and `value`); marketplaces and validators expect nothing else at the top level.
/// The token id and the image's SHA-256 are useful to keep (the id for lookups, the hash to
/// prove the image behind `image` was not swapped) but have no standard field, so they go under
/// `properties`, the free-form object of the ERC-1155 metadata schema that ERC-721 readers
/// tolerate and ignore. The token id is a decimal string there, as JavaScript readers would
/// round numbers above 2^53.
///
/// `name` gets " #<token_id>" appended unless it already ends with it ("R3AL Genesis" →
/// "R3AL Genesis #7").
pub fn erc721_metadata(
    name: &str,
    description: &str,
    image_uri: &str,
    token_id: u64,
    attributes: &[(String, String)],
    image_sha256: &str,
) -> Value {
    let number = format!("#{token_id}");
    let name = if name.trim_end().ends_with(&number) { name.trim_end().to_owned() } else { format!("{} {number}", name.trim_end()) };
    let attributes: Vec<Value> = attributes.iter().map(|(kind, value)| json!({ "trait_type": kind, "value": value })).collect();
    json!({
        "name": name,
        "description": description,
        "image": image_uri,
        "attributes": attributes,
        "properties": { "token_id": token_id.to_string(), "image_sha256": image_sha256 },
    })
}

/// Refuses more than [`MAX_TRAITS`] traits, and names or values that are blank or longer than
/// [`MAX_TRAIT_CHARS`].
fn check_traits(traits: &[(String, String)]) -> Result<(), NftError> {
    if traits.len() > MAX_TRAITS {
        return Err(NftError::TooManyTraits(traits.len()));
    }
    let fits = |s: &str| (1..=MAX_TRAIT_CHARS).contains(&s.trim().chars().count());
    match traits.iter().position(|(kind, value)| !fits(kind) || !fits(value)) {
        Some(i) => Err(NftError::InvalidTrait(i + 1)),
        None => Ok(()),
    }
}

/// The 32 seed bytes folded into 64 bits, every byte mattering.
fn fold(seed: &[u8; 32]) -> u64 {
    seed.chunks_exact(8).fold(0, |acc, chunk| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        mix64(acc ^ u64::from_le_bytes(word))
    })
}

/// The index of the name asked for (any case) or, when none is asked, one picked by `roll`;
/// `None` when the name asked for is not in `names`.
fn pick(asked: Option<&str>, names: &[&str], roll: u64) -> Option<usize> {
    match asked.map(str::trim).filter(|a| !a.is_empty()) {
        Some(asked) => names.iter().position(|n| n.eq_ignore_ascii_case(asked)),
        None => Some((roll % names.len() as u64) as usize),
    }
}

/// Common 60 %, Uncommon 25 %, Rare 12 %, Legendary 3 %.
fn rarity(roll: u64) -> &'static str {
    match roll % 100 {
        0..60 => "Common",
        60..85 => "Uncommon",
        85..97 => "Rare",
        _ => "Legendary",
    }
}

/// How many shapes a style draws for `detail` in `[0, 1)`: from `lo` to `hi`.
fn shapes(detail: f32, lo: usize, hi: usize) -> usize {
    (lo + (detail * (hi - lo + 1) as f32) as usize).min(hi)
}

/// The "Complexity" trait: the detail's third.
fn complexity(detail: f32) -> &'static str {
    if detail < 1.0 / 3.0 {
        "Low"
    } else if detail < 2.0 / 3.0 {
        "Medium"
    } else {
        "High"
    }
}

/// "sunset" → "Sunset".
fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A diagonal gradient from `from` (top left) to `to` (bottom right).
fn background(canvas: &mut Canvas, from: Color, to: Color) {
    let span = (canvas.width() + canvas.height() - 2).max(1) as f32;
    for y in 0..canvas.height() {
        for (x, px) in canvas.row_mut(y).chunks_exact_mut(3).enumerate() {
            let c = lerp(from, to, (x as f32 + y as f32) / span);
            for (p, v) in px.iter_mut().zip(c) {
                *p = v as u8;
            }
        }
    }
}

/// Fills the triangle `points` (scanline, sampling row centres).
fn triangle(canvas: &mut Canvas, points: [(f32, f32); 3], c: Color, a: f32) {
    let top = points.iter().map(|p| p.1).fold(f32::MAX, f32::min);
    let bottom = points.iter().map(|p| p.1).fold(f32::MIN, f32::max);
    for y in top.floor() as i32..=bottom.ceil() as i32 {
        let fy = y as f32 + 0.5;
        let (mut lo, mut hi) = (f32::MAX, f32::MIN);
        for i in 0..3 {
            let (p, q) = (points[i], points[(i + 1) % 3]);
            if (p.1 <= fy) != (q.1 <= fy) {
                let x = p.0 + (fy - p.1) / (q.1 - p.1) * (q.0 - p.0);
                (lo, hi) = (lo.min(x), hi.max(x));
            }
        }
        if lo < hi {
            canvas.span(y, lo, hi, c, a);
        }
    }
}

/// The annulus of radius `r` and half-thickness `half` around (`cx`, `cy`).
fn ring(canvas: &mut Canvas, (cx, cy): (f32, f32), r: f32, half: f32, c: Color, a: f32) {
    let (outer, inner) = (r + half, (r - half).max(0.0));
    for y in (cy - outer).floor() as i32..=(cy + outer).ceil() as i32 {
        let dy = y as f32 + 0.5 - cy;
        let reach = outer * outer - dy * dy;
        if reach <= 0.0 {
            continue;
        }
        let xo = reach.sqrt();
        let hole = inner * inner - dy * dy;
        if hole > 0.0 {
            let xi = hole.sqrt();
            canvas.span(y, cx - xo, cx - xi, c, a);
            canvas.span(y, cx + xi, cx + xo, c, a);
        } else {
            canvas.span(y, cx - xo, cx + xo, c, a);
        }
    }
}

/// `count` translucent circles, squares and triangles.
fn geometric(canvas: &mut Canvas, rng: &mut Rng, ink: &[Color; 3], count: usize) {
    let size = SIZE as f32;
    for _ in 0..count {
        let c = ink[rng.below(ink.len())];
        let a = rng.range(0.55, 0.95);
        let (x, y, s) = (rng.range(0.0, size), rng.range(0.0, size), size * rng.range(0.04, 0.28));
        match rng.below(3) {
            0 => canvas.disc(x, y, s * 0.5, 1.5, c, a),
            1 => canvas.rect(x - s * 0.5, y - s * 0.5, x + s * 0.5, y + s * 0.5, c, a),
            _ => {
                let turn = rng.range(0.0, TAU);
                let corner = |k: f32| (x + (turn + k * TAU / 3.0).cos() * s * 0.6, y + (turn + k * TAU / 3.0).sin() * s * 0.6);
                triangle(canvas, [corner(0.0), corner(1.0), corner(2.0)], c, a);
            }
        }
    }
}

/// `count` stacked wave layers, each an opaque fill under a two-sine curve with a light crest,
/// deeper layers lighter.
fn waves(canvas: &mut Canvas, rng: &mut Rng, ink: &[Color; 3], shade: Color, count: usize) {
    let size = SIZE as f32;
    for k in 0..count {
        let base = size * (k as f32 + 1.0) / (count as f32 + 1.0);
        let (a1, a2) = (size * rng.range(0.02, 0.07), size * rng.range(0.005, 0.025));
        let (f1, f2) = (TAU / (size * rng.range(0.35, 1.2)), TAU / (size * rng.range(0.08, 0.25)));
        let (p1, p2) = (rng.range(0.0, TAU), rng.range(0.0, TAU));
        let fill = lerp(ink[k % ink.len()], shade, 0.35 * (1.0 - k as f32 / count as f32));
        let crest = lerp(fill, WHITE, 0.4);
        for x in 0..canvas.width() {
            let fx = x as f32;
            let y = base + a1 * (fx * f1 + p1).sin() + a2 * (fx * f2 + p2).sin();
            canvas.column(x, y, y + 4.0, crest, 0.85);
            canvas.column(x, y + 4.0, size, fill, 1.0);
        }
    }
}

/// A glowing star at the centre, faint background stars, and `count` orbit rings each carrying
/// a planet.
fn orbits(canvas: &mut Canvas, rng: &mut Rng, ink: &[Color; 3], count: usize) {
    let size = SIZE as f32;
    for _ in 0..80 + rng.below(80) {
        let (x, y) = (rng.range(0.0, size), rng.range(0.0, size));
        canvas.disc(x, y, rng.range(0.6, 1.8), 1.0, WHITE, rng.range(0.2, 0.7));
    }
    let centre = (size * rng.range(0.42, 0.58), size * rng.range(0.42, 0.58));
    canvas.glow(centre.0, centre.1, size * 0.3, ink[1], 0.35);
    canvas.disc(centre.0, centre.1, size * rng.range(0.05, 0.09), 1.5, lerp(ink[1], WHITE, 0.2), 1.0);
    let line = lerp(ink[0], WHITE, 0.3);
    for k in 0..count {
        let r = size * (0.12 + 0.36 * (k as f32 + 1.0) / count as f32);
        ring(canvas, centre, r, rng.range(1.0, 3.0), line, 0.45);
        let angle = rng.range(0.0, TAU);
        let (px, py) = (centre.0 + angle.cos() * r, centre.1 + angle.sin() * r);
        let planet = size * rng.range(0.01, 0.035);
        canvas.glow(px, py, planet * 2.5, ink[k % ink.len()], 0.3);
        canvas.disc(px, py, planet, 1.5, ink[k % ink.len()], 1.0);
    }
}

/// A `grid × grid` mosaic of coloured tiles, most carrying a circle, a diamond, a half-tile
/// triangle or an inset square.
fn mosaic(canvas: &mut Canvas, rng: &mut Rng, colours: &[Color; 5], grid: usize) {
    let cell = SIZE as f32 / grid as f32;
    let gap = (cell * 0.04).max(1.0);
    for gy in 0..grid {
        for gx in 0..grid {
            let (x0, y0) = (gx as f32 * cell, gy as f32 * cell);
            let (x1, y1) = (x0 + cell - gap, y0 + cell - gap);
            let tile = rng.below(colours.len());
            let mark = colours[(tile + 1 + rng.below(colours.len() - 1)) % colours.len()];
            let tile = colours[tile];
            canvas.rect(x0, y0, x1, y1, tile, 1.0);
            let (cx, cy, r) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0, (cell - gap) / 2.0);
            match rng.below(5) {
                0 => canvas.disc(cx, cy, r * 0.7, 1.0, mark, 1.0),
                1 => triangle(canvas, [(x0, y0), (x1, y0), (x0, y1)], mark, 1.0),
                2 => canvas.rect(cx - r * 0.5, cy - r * 0.5, cx + r * 0.5, cy + r * 0.5, mark, 1.0),
                3 => {
                    triangle(canvas, [(cx, cy - r * 0.8), (cx + r * 0.8, cy), (cx, cy + r * 0.8)], mark, 1.0);
                    triangle(canvas, [(cx, cy - r * 0.8), (cx - r * 0.8, cy), (cx, cy + r * 0.8)], mark, 1.0);
                }
                _ => {}
            }
        }
    }
}

/// Big discs, blocks and bars torn by `count` horizontally displaced slices (some shifting only
/// the red channel), under scanlines.
fn glitch(canvas: &mut Canvas, rng: &mut Rng, ink: &[Color; 3], count: usize) {
    let size = SIZE as f32;
    for _ in 0..3 + rng.below(4) {
        let (x, y, s) = (rng.range(0.1, 0.9) * size, rng.range(0.1, 0.9) * size, size * rng.range(0.12, 0.3));
        let c = ink[rng.below(ink.len())];
        if rng.chance(0.5) {
            canvas.disc(x, y, s, 1.5, c, 1.0);
        } else {
            canvas.rect(x - s, y - s * 0.6, x + s, y + s * 0.6, c, 1.0);
        }
    }
    for _ in 0..4 + rng.below(6) {
        let (x, y, w, h) = (rng.range(0.0, size), rng.range(0.0, size), size * rng.range(0.1, 0.5), size * rng.range(0.01, 0.05));
        canvas.rect(x, y, x + w, y + h, ink[rng.below(ink.len())], rng.range(0.6, 1.0));
    }
    let side = canvas.width() as usize;
    for _ in 0..count {
        let top = rng.below(side) as i32;
        let rows = 4 + rng.below(60) as i32;
        let shift = 1 + rng.below(side / 4);
        let red_only = rng.chance(0.4);
        let leftwards = rng.chance(0.5);
        for y in top..(top + rows).min(canvas.height()) {
            let row = canvas.row_mut(y);
            if red_only {
                let mut reds: Vec<u8> = row.iter().step_by(3).copied().collect();
                if leftwards { reds.rotate_left(shift) } else { reds.rotate_right(shift) }
                row.iter_mut().step_by(3).zip(reds).for_each(|(p, r)| *p = r);
            } else if leftwards {
                row.rotate_left(shift * 3);
            } else {
                row.rotate_right(shift * 3);
            }
        }
    }
    for y in (0..canvas.height()).step_by(3) {
        canvas.span(y, 0.0, size, BLACK, 0.18);
    }
}

/// A border of `thickness` pixels with a thin light inner line.
fn frame(canvas: &mut Canvas, c: Color, thickness: f32) {
    let size = SIZE as f32;
    let (t, line) = (thickness, lerp(c, WHITE, 0.6));
    canvas.rect(0.0, 0.0, size, t, c, 1.0);
    canvas.rect(0.0, size - t, size, size, c, 1.0);
    canvas.rect(0.0, t, t, size - t, c, 1.0);
    canvas.rect(size - t, t, size, size - t, c, 1.0);
    inner_line(canvas, t, line);
}

/// A one-pixel square outline inset by `inset`.
fn inner_line(canvas: &mut Canvas, inset: f32, c: Color) {
    let far = SIZE as f32 - inset;
    canvas.rect(inset, inset, far, inset + 1.0, c, 0.8);
    canvas.rect(inset, far - 1.0, far, far, c, 0.8);
    canvas.rect(inset, inset + 1.0, inset + 1.0, far - 1.0, c, 0.8);
    canvas.rect(far - 1.0, inset + 1.0, far, far - 1.0, c, 0.8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(byte: u8) -> [u8; 32] {
        let mut s = [0u8; 32];
        s.iter_mut().enumerate().for_each(|(i, b)| *b = byte.wrapping_mul(31).wrapping_add(i as u8));
        s
    }

    fn request(scheme: Option<&str>, style: Option<&str>) -> NftRequest {
        NftRequest { color_scheme: scheme.map(str::to_owned), style: style.map(str::to_owned), traits: Vec::new() }
    }

    fn attribute<'a>(art: &'a NftArt, kind: &str) -> Option<&'a str> {
        art.attributes.iter().find(|(k, _)| k == kind).map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_scheme_and_style_paints_1024_square() {
        // Every scheme, each with the next style in turn: every scheme and every style at least once.
        for (i, scheme) in color_schemes().iter().enumerate() {
            let style = styles()[i % styles().len()];
            let art = generate(seed(7), &request(Some(scheme), Some(style))).expect("known names");
            assert_eq!(art.image.dimensions(), (SIZE, SIZE));
            assert_eq!(attribute(&art, "Color Scheme"), Some(title_case(scheme).as_str()));
            assert_eq!(attribute(&art, "Style"), Some(title_case(style).as_str()));
            assert!(art.image.pixels().all(|p| p.0[3] == 255));
            let first = art.image.get_pixel(SIZE / 2, SIZE / 2).0;
            assert!(art.image.pixels().any(|p| p.0 != first), "{scheme}/{style} is flat");
        }
    }

    #[test]
    fn same_seed_and_request_give_identical_pixels() {
        let req = request(None, None);
        let (a, b) = (generate(seed(1), &req).expect("valid"), generate(seed(1), &req).expect("valid"));
        assert_eq!(a.image.as_raw(), b.image.as_raw());
        assert_eq!(a.attributes, b.attributes);
    }

    #[test]
    fn different_seeds_give_different_pieces() {
        let req = request(Some("neon"), Some("geometric"));
        let a = generate(seed(1), &req).expect("valid");
        let mut other = seed(1);
        other[31] ^= 1;
        let b = generate(other, &req).expect("valid");
        assert_ne!(a.image.as_raw(), b.image.as_raw());
        let picks: std::collections::HashSet<_> = (0..40u8)
            .map(|i| {
                let folded = fold(&seed(i));
                (pick(None, &COLOR_SCHEMES, mix64(folded ^ 1)), pick(None, &STYLES, mix64(folded ^ 2)))
            })
            .collect();
        assert!(picks.len() > 10, "absent scheme/style are picked by the seed: {picks:?}");
        let art = generate(seed(5), &request(None, None)).expect("valid");
        let folded = fold(&seed(5));
        let scheme = pick(None, &COLOR_SCHEMES, mix64(folded ^ 1)).map(|i| title_case(COLOR_SCHEMES[i]));
        assert_eq!(attribute(&art, "Color Scheme"), scheme.as_deref());
    }

    #[test]
    fn unknown_scheme_or_style_is_refused_with_the_allowed_values() {
        let err = generate(seed(1), &request(Some("plaid"), None)).expect_err("unknown scheme");
        assert_eq!(err, NftError::UnknownColorScheme("plaid".into()));
        let message = err.to_string();
        assert!(COLOR_SCHEMES.iter().all(|s| message.contains(s)), "{message}");

        let err = generate(seed(1), &request(None, Some("cubist"))).expect_err("unknown style");
        let message = err.to_string();
        assert!(message.contains("cubist") && STYLES.iter().all(|s| message.contains(s)), "{message}");

        assert!(generate(seed(1), &request(Some(" Ocean "), Some("WAVES"))).is_ok());
        assert!(generate(seed(1), &request(Some(""), Some("  "))).is_ok());
    }

    #[test]
    fn traits_are_checked() {
        let with = |traits: Vec<(String, String)>| NftRequest { traits, ..request(None, None) };
        let many = (0..11).map(|i| (format!("t{i}"), "v".to_owned())).collect();
        assert_eq!(generate(seed(1), &with(many)).expect_err("too many"), NftError::TooManyTraits(11));
        let long = vec![("ok".to_owned(), "v".to_owned()), ("x".repeat(65), "v".to_owned())];
        assert_eq!(generate(seed(1), &with(long)).expect_err("too long"), NftError::InvalidTrait(2));
        let blank = vec![("Mood".to_owned(), "  ".to_owned())];
        assert_eq!(generate(seed(1), &with(blank)).expect_err("blank"), NftError::InvalidTrait(1));
        let ten = (0..10).map(|i| (format!("t{i}"), "é".repeat(64))).collect();
        assert!(generate(seed(1), &with(ten)).is_ok());
    }

    #[test]
    fn caller_traits_are_appended_and_override_generated_ones() {
        let req = NftRequest {
            traits: vec![("Mood".into(), "Calm".into()), ("rarity".into(), "Mythic".into())],
            ..request(Some("fire"), Some("orbits"))
        };
        let art = generate(seed(3), &req).expect("valid");
        let kinds: Vec<&str> = art.attributes.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["Color Scheme", "Style", "Complexity", "Rarity", "Mood"]);
        assert_eq!(attribute(&art, "Mood"), Some("Calm"));
        assert_eq!(attribute(&art, "Rarity"), Some("Mythic"));
        assert!(["Low", "Medium", "High"].contains(&attribute(&art, "Complexity").unwrap_or_default()));
    }

    #[test]
    fn rarity_and_complexity_follow_their_shares() {
        let mut counts = std::collections::HashMap::new();
        for roll in 0..10_000u64 {
            *counts.entry(rarity(mix64(roll))).or_insert(0i32) += 1;
        }
        for (name, share) in [("Common", 6000), ("Uncommon", 2500), ("Rare", 1200), ("Legendary", 300)] {
            let got = counts.get(name).copied().unwrap_or(0);
            assert!((got - share).abs() < 200, "{name}: {got}");
        }
        assert_eq!((complexity(0.1), complexity(0.5), complexity(0.9)), ("Low", "Medium", "High"));
        assert_eq!((shapes(0.0, 4, 16), shapes(0.999, 4, 16)), (4, 16));
    }

    #[test]
    fn metadata_has_exactly_the_standard_fields() {
        let attributes = vec![("Style".to_owned(), "Waves".to_owned()), ("Rarity".to_owned(), "Rare".to_owned())];
        let doc = erc721_metadata("R3AL Genesis", "A wave.", "https://x.test/n/7.png", 7, &attributes, "ab12");
        let keys: Vec<&str> = doc.as_object().expect("an object").keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["attributes", "description", "image", "name", "properties"]);
        assert_eq!(doc["name"], "R3AL Genesis #7");
        assert_eq!(doc["description"], "A wave.");
        assert_eq!(doc["image"], "https://x.test/n/7.png");
        assert_eq!(doc["attributes"], json!([{ "trait_type": "Style", "value": "Waves" }, { "trait_type": "Rarity", "value": "Rare" }]));
        assert_eq!(doc["properties"], json!({ "token_id": "7", "image_sha256": "ab12" }));
        assert_eq!(erc721_metadata("Piece #7", "", "", 7, &[], "")["name"], "Piece #7");
    }
}
