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

/// Where the server keeps `needle`: the files of its data folder that contain it (on SQLite the
/// database file is one of them, freed pages included) and, on PostgreSQL, whose database files
/// are the cluster's, the tables with a live row holding it as text or as bytes.
pub fn stored_containing(app: &crate::helpers::TestApp, needle: &[u8]) -> Vec<String> {
    let mut found = files_containing(&app.data_dir(), needle);
    if app.is_postgres() {
        let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
        let text = std::str::from_utf8(needle).ok().map(|t| t.replace('\'', "''"));
        for table in app.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", &[]) {
            let table = table.text(0).unwrap();
            let mut test = format!("strpos(t::text, '{hex}') > 0");
            if let Some(text) = &text {
                test = format!("{test} OR strpos(t::text, '{text}') > 0");
            }
            if app.count(&format!("SELECT count(*) FROM {table} t WHERE {test}"), &[]) > 0 {
                found.push(format!("table {table}"));
            }
        }
    }
    found
}
