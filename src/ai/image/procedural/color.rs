//! Colours: RGB and HSL, blending, and the smoothstep the gradients and noise interpolate with.

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
pub(super) fn smooth(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A theme's palette after grading (`themes::Palette::graded`): what the motifs paint with.
pub(super) struct Colors {
    pub(super) top: Color,
    pub(super) horizon: Color,
    pub(super) accent: Color,
    pub(super) far: Color,
    pub(super) near: Color,
}
