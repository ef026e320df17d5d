//! The canvas: an RGB picture with clipped, alpha-blended spans, columns, rectangles, discs and
//! glows.

use image::RgbImage;

use super::color::Color;

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
