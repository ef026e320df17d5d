//! Bytes for tests: content made here to send (pictures, patterns), and ways to look into what
//! the server answered or stored (decoding, hashing, searching files).

use std::io::Cursor;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::helpers::files_under;

/// Bytes that differ at every offset (period 251), so a shifted or spliced read cannot pass.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// A smooth RGB picture (compresses well), `w × h`.
pub fn picture(w: u32, h: u32) -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    }))
}

/// `img` in `format`.
pub fn encoded(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("fixture encodes");
    out.into_inner()
}

/// A smooth `w × h` RGB PNG.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    encoded(picture(w, h), image::ImageFormat::Png)
}

pub fn decode(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory(bytes).expect("decodes as an image")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `needle` (not empty) occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The files under `dir` whose bytes contain `needle`, relative, sorted.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    files_under(dir).into_iter().filter(|f| contains(&std::fs::read(dir.join(f)).unwrap_or_default(), needle)).collect()
}
