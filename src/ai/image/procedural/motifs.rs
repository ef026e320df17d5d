//! The motifs: what can be drawn in a picture (sky, stars, sun, moon, ribbons, mountains, dunes,
//! sea, skyline, trees, flowers, bokeh, rain, snow), back to front, and where it goes.

use std::f32::consts::TAU;

use super::canvas::Canvas;
use super::color::{BLACK, Colors, WHITE, lerp, smooth};
use super::noise::{Noise, profile};
use super::random::Rng;

/// Something drawn in the picture. The declaration order is the drawing order, back to front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Motif {
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
pub(super) struct Layout {
    pub(super) w: f32,
    pub(super) h: f32,
    /// The shorter side: sizes scale with it so portrait and landscape look alike.
    pub(super) unit: f32,
    /// Where sky meets land or sea.
    pub(super) horizon: f32,
    /// Whether something stands below the horizon (otherwise the sky fills the picture).
    pub(super) ground: bool,
    /// Whether the ground is sea.
    pub(super) water: bool,
    pub(super) colors: Colors,
}

impl Motif {
    /// The name reported in [`Artwork::motifs`](super::Artwork::motifs).
    pub(super) fn name(self) -> &'static str {
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
    pub(super) fn stands_on_ground(self) -> bool {
        matches!(self, Motif::Mountains | Motif::Dunes | Motif::Waves | Motif::Skyline | Motif::Trees | Motif::Flowers)
    }

    /// Whether the two motifs do not belong in one picture.
    pub(super) fn clashes(self, other: Motif) -> bool {
        matches!((self, other), (Motif::Sun, Motif::Moon) | (Motif::Moon, Motif::Sun))
    }

    pub(super) fn draw(self, canvas: &mut Canvas, rng: &mut Rng, lay: &Layout) {
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
