//! Milliseconds per step of the local image provider: paint the procedural artwork at the three
//! API sizes in both styles, encode it to PNG, cut a 256-pixel thumbnail; then one NFT piece.
//!
//! `cargo bench --bench image` (release build). Prints one line per case: the fastest of a few
//! runs of each step (the least disturbed by other load) and the mean.

use std::io::Cursor;
use std::time::Instant;

use image::ImageFormat;
use image::imageops::thumbnail;
use optima::ai::image::procedural::{ImageStyle, paint};
use optima::features::media::nft::{NftRequest, generate};

/// Runs of each step.
const RUNS: u32 = 5;

/// Times `step` over [`RUNS`] runs: (fastest, mean) in milliseconds, and the last result.
fn time<T>(mut step: impl FnMut() -> T) -> (f64, f64, T) {
    let (mut best, mut total) = (f64::MAX, 0.0);
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        last = Some(step());
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        best = best.min(ms);
        total += ms;
    }
    (best, total / f64::from(RUNS), last.expect("RUNS > 0"))
}

fn main() {
    let cases = [
        ("sunset over the ocean", 1024, 1024),
        ("neon city at night", 1024, 1792),
        ("a pine forest under snowy mountains", 1792, 1024),
    ];
    for (prompt, width, height) in cases {
        for style in [ImageStyle::Vivid, ImageStyle::Natural] {
            let (paint_best, paint_mean, art) = time(|| paint(prompt, style, width, height));
            let (png_best, png_mean, png) = time(|| {
                let mut out = Cursor::new(Vec::new());
                art.image.write_to(&mut out, ImageFormat::Png).expect("PNG encodes");
                out.into_inner()
            });
            let (thumb_best, thumb_mean, _) = time(|| thumbnail(&art.image, 256, 256));
            print!("{width:>4}x{height:<4} {:<7} paint {paint_best:>6.1} ms (mean {paint_mean:>6.1}), ", style.as_str());
            print!("PNG {png_best:>5.1} ms (mean {png_mean:>5.1}, {:>5} KiB), ", png.len() / 1024);
            print!("thumbnail {thumb_best:>4.1} ms (mean {thumb_mean:>4.1})");
            println!("  [{}: {}]", art.palette_name, art.motifs.join(", "));
        }
    }
    let request = NftRequest { color_scheme: None, style: Some("waves".into()), traits: Vec::new() };
    let (best, mean, art) = time(|| generate([7; 32], &request).expect("a valid request"));
    println!("NFT 1024x1024 waves: generate {best:.1} ms (mean {mean:.1}), {} attributes", art.attributes.len());
}
