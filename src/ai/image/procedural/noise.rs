//! Value noise: a 2-D grid smoothly interpolated (sky texture) and 1-D fractal profiles (ridges,
//! dunes, ribbons).

use super::color::smooth;
use super::random::Rng;

/// 2-D value noise: random values on a coarse grid, smoothly interpolated in between.
pub(super) struct Noise {
    cols: usize,
    rows: usize,
    cell_w: f32,
    cell_h: f32,
    values: Vec<f32>,
}

impl Noise {
    /// A `cols × rows` grid of cells stretched over a `width × height` picture.
    pub(super) fn new(rng: &mut Rng, cols: usize, rows: usize, width: f32, height: f32) -> Self {
        let values = (0..(cols + 1) * (rows + 1)).map(|_| rng.unit()).collect();
        Noise { cols, rows, cell_w: width / cols as f32, cell_h: height / rows as f32, values }
    }

    /// The noise at (`x`, `y`), in `[0, 1)`.
    pub(super) fn at(&self, x: f32, y: f32) -> f32 {
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
pub(super) fn profile(rng: &mut Rng, len: usize, knots: usize, octaves: u32, roughness: f32) -> Vec<f32> {
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
