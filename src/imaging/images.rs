//! The safe pipeline for user-uploaded images (avatars, photos) and for encoding generated images.
//!
//! Untrusted bytes go through [`decode_untrusted`], which refuses, in this order and as early as
//! possible: oversized uploads, content that is not PNG/JPEG/WebP (whatever its file name says),
//! and images whose *header* declares too many pixels — a decompression bomb is refused before a
//! single pixel buffer is allocated. Only then are the pixels decoded, with `image`'s own decoder
//! limits as a second line of defence. The result is always 8-bit RGB or RGBA with the EXIF
//! orientation already applied.
//!
//! Metadata (EXIF with its GPS position, XMP, IPTC, ICC profiles, PNG text chunks) never leaves
//! this module: the encoders here write pixels only, so anything re-encoded through
//! [`encode_jpeg`], [`encode_png`] or [`encode_webp`] is free of it by construction.
//!
//! Animation is not kept: an animated WebP decodes to its first frame and an APNG to its default
//! image (the one shown by viewers that do not animate).
//!
//! Memory: [`inspect`] reads what a decode will hold from the header alone ([`Header::decode_bytes`]),
//! and [`fit_within_bytes`] and [`square_avatar_bytes`] what the resizing steps hold after it, so
//! that callers can admit a decode into a memory budget before it allocates anything. The resizers
//! box-filter a large source down to twice the target before their Lanczos pass, whose f32 buffer
//! (16 bytes a pixel) would otherwise be as wide as the source.
//!
//! Everything here is synchronous CPU work: call it off the async runtime (`spawn_blocking`).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits};
use image::{GenericImageView, Rgb, RgbImage, Rgba};

/// How much an untrusted image may weigh, encoded and decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest accepted upload, in bytes.
    pub max_bytes: u64,
    /// Largest accepted `width × height`, as declared by the image header.
    pub max_pixels: u64,
    /// Largest accepted width or height.
    pub max_side: u32,
}

/// Why an image was refused or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The upload is larger than [`ImageLimits::max_bytes`] (HTTP 413).
    #[error("the image is {bytes} bytes; at most {limit} bytes are accepted")]
    TooLarge {
        /// Size of the upload.
        bytes: u64,
        /// The byte limit it exceeds.
        limit: u64,
    },
    /// The header declares more pixels, or a longer side, than accepted (HTTP 413). Detected from
    /// the header alone, before decoding: this is the decompression-bomb guard.
    #[error(
        "the image is {width}×{height}; at most {limit} pixels and the configured side length are accepted"
    )]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The pixel limit (`width × height`) in force.
        limit: u64,
    },
    /// The content is not PNG, JPEG or WebP, whatever its name or declared type says (HTTP 422).
    #[error("not a PNG, JPEG or WebP image")]
    NotAnImage,
    /// A supported format using a feature the decoder refuses (HTTP 422).
    #[error("unsupported image: {0}")]
    Unsupported(String),
    /// Decoding the image would need more memory than the whole decode budget holds: it can never
    /// be admitted, so waiting would not help (HTTP 413, like an image over the pixel limit).
    #[error(
        "decoding this {width}×{height} image needs {needed} MiB, more than the server's decode budget of {budget} MiB"
    )]
    OverBudget {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// MiB the decode would hold at its peak.
        needed: u64,
        /// MiB of the whole budget.
        budget: u64,
    },
    /// The decode budget is taken by other decodes and did not free up in time (HTTP 503 with
    /// Retry-After): the image is fine, the server is busy.
    #[error("the server is decoding other images; retry in {retry_after_secs} s")]
    Busy {
        /// When to try again.
        retry_after_secs: u64,
    },
    /// The image is damaged or truncated (HTTP 422).
    #[error("the image could not be decoded: {0}")]
    Corrupt(String),
    /// Encoding failed: an internal error, not the uploader's fault.
    #[error("image encoding failed: {0}")]
    Encode(String),
}

/// The formats accepted as input, recognised by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// PNG, including APNG (decoded as its default image).
    Png,
    /// Baseline or progressive JPEG.
    Jpeg,
    /// Lossy or lossless WebP, including animated WebP (decoded as its first frame).
    Webp,
}

impl SourceFormat {
    /// The matching `image` format, to select its decoder explicitly.
    fn image_format(self) -> ImageFormat {
        match self {
            Self::Png => ImageFormat::Png,
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Webp => ImageFormat::WebP,
        }
    }
}

/// A decoded untrusted image, ready for resizing and re-encoding.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The pixels: 8-bit RGB, or 8-bit RGBA when the source has an alpha channel, with the EXIF
    /// orientation applied.
    pub image: DynamicImage,
    /// The format the bytes were in.
    pub format: SourceFormat,
    /// Width after orientation.
    pub width: u32,
    /// Height after orientation.
    pub height: u32,
}

/// Bytes per pixel of the widest decoded layout the accepted formats produce (16-bit RGBA PNG).
const MAX_DECODED_BYTES_PER_PIXEL: u64 = 8;

/// Bytes per pixel of `image`'s resampling buffer (RGBA, `f32` channels).
const RESAMPLE_BYTES_PER_PIXEL: u64 = 16;

/// Bytes per pixel of what follows a resize: the result flattened onto white (an RGBA copy and
/// the RGB image), its thumbnail and the JPEG encoder's buffers, counted generously.
const AFTER_RESIZE_BYTES_PER_PIXEL: u64 = 16;

/// What an upload's header declares, read before any pixel is decoded: enough to know whether
/// it is accepted and how much memory decoding it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The format the bytes are in.
    pub format: SourceFormat,
    /// Declared width, before orientation.
    pub width: u32,
    /// Declared height, before orientation.
    pub height: u32,
    /// Bytes per pixel of the decoder's output (16-bit and alpha channels included).
    pub decoder_bytes_per_pixel: u64,
    /// Bytes per pixel of the decoded 8-bit image: 3 (RGB) or 4 (RGBA).
    pub output_bytes_per_pixel: u64,
}

impl Header {
    /// `width × height`.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Bytes of the decoded 8-bit image.
    pub fn decoded_bytes(&self) -> u64 {
        self.pixels() * self.output_bytes_per_pixel
    }

    /// The most [`decode_untrusted`] holds at once for this image: the decoder's output and
    /// either its rotated copy (EXIF orientation) or its 8-bit conversion, which is made after
    /// the rotation; plus the decoder's own working memory.
    pub fn decode_bytes(&self) -> u64 {
        let copy = self.decoder_bytes_per_pixel.max(self.output_bytes_per_pixel);
        self.pixels() * (self.decoder_bytes_per_pixel + copy) + DECODER_OVERHEAD_BYTES
    }
}

/// Decoder memory allowed on top of the pixels, for metadata chunks (ICC profiles, text) and
/// working buffers.
const DECODER_OVERHEAD_BYTES: u64 = 16 * 1024 * 1024;

/// Recognises PNG, JPEG and WebP by their magic bytes, ignoring any name or declared type.
pub fn sniff(bytes: &[u8]) -> Option<SourceFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(SourceFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(SourceFormat::Jpeg)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(SourceFormat::Webp)
    } else {
        None
    }
}

/// Decodes an untrusted upload into 8-bit RGB(A) pixels, orientation applied.
///
/// Checks, cheapest first: the byte size; the format, by content; the dimensions the header
/// declares (read without decoding pixels, so a 20,000 × 20,000 bomb costs microseconds); then
/// decodes with `image`'s limits (maximum side and allocation) as a second line of defence,
/// applies the EXIF orientation and converts 16-bit or grey images to 8-bit RGB(A). Alpha is kept;
/// callers producing JPEG drop it (see [`square_avatar`]).
///
/// Animated WebP yields its first frame and APNG its default image. CMYK/YCCK JPEGs are converted
/// to RGB by the decoder; JPEG features it refuses (e.g. arithmetic coding, 12-bit) come back as
/// [`ImageError::Unsupported`].
pub fn decode_untrusted(bytes: &[u8], limits: ImageLimits) -> Result<Decoded, ImageError> {
    let header = inspect(bytes, limits)?;
    let format = header.format;
    let image = to_rgb8_or_rgba8(decode_oriented(bytes, &header, limits)?);
    Ok(Decoded {
        width: image.width(),
        height: image.height(),
        image,
        format,
    })
}

/// The checks [`decode_untrusted`] makes before decoding (byte size, format by content, declared
/// dimensions), returning what the header declares. Costs microseconds whatever the image.
pub fn inspect(bytes: &[u8], limits: ImageLimits) -> Result<Header, ImageError> {
    check_byte_size(bytes, limits)?;
    let format = sniff(bytes).ok_or(ImageError::NotAnImage)?;
    let header = declared_header(bytes, format, limits)?;
    check_dimensions(header.width, header.height, limits)?;
    Ok(header)
}

/// Refuses uploads above [`ImageLimits::max_bytes`].
fn check_byte_size(bytes: &[u8], limits: ImageLimits) -> Result<(), ImageError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limits.max_bytes {
        return Err(ImageError::TooLarge {
            bytes: size,
            limit: limits.max_bytes,
        });
    }
    Ok(())
}

/// Refuses declared dimensions above [`ImageLimits::max_pixels`] or [`ImageLimits::max_side`].
fn check_dimensions(width: u32, height: u32, limits: ImageLimits) -> Result<(), ImageError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || width > limits.max_side || height > limits.max_side {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

/// What the header declares, read without decoding or allocating pixels.
///
/// PNG's IHDR is read directly at its fixed place after the signature: `image`'s PNG decoder
/// would first parse every chunk up to the image data (ICC profiles, compressed text) before
/// reporting dimensions, and fails on a header-only file. JPEG and WebP go through `image`'s
/// decoders, which parse their headers only until asked for pixels.
fn declared_header(bytes: &[u8], format: SourceFormat, limits: ImageLimits) -> Result<Header, ImageError> {
    match format {
        SourceFormat::Png => {
            png_header(bytes).ok_or_else(|| ImageError::Corrupt("PNG without a valid IHDR header".to_owned()))
        }
        SourceFormat::Jpeg | SourceFormat::Webp => {
            let decoder = reader(bytes, format, memory_limits(limits))
                .into_decoder()
                .map_err(decode_error)?;
            let (width, height) = decoder.dimensions();
            let color = decoder.color_type();
            Ok(Header {
                format,
                width,
                height,
                decoder_bytes_per_pixel: u64::from(color.bytes_per_pixel()),
                output_bytes_per_pixel: if color.has_alpha() { 4 } else { 3 },
            })
        }
    }
}

/// The IHDR chunk, which PNG requires first, right after the 8-byte signature: length (4),
/// `IHDR` (4), width (4), height (4), all big-endian, bit depth (1), colour type (1).
///
/// `image`'s PNG decoder expands low bit depths and palettes to 8 bits, and a `tRNS` chunk adds
/// an alpha channel to grey, RGB and palette images, so the decoded layout depends on both.
fn png_header(bytes: &[u8]) -> Option<Header> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
    let height = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
    let (depth, color) = (*bytes.get(24)?, *bytes.get(25)?);
    let alpha = matches!(color, 4 | 6) || png_has_trns(bytes);
    let color_channels: u64 = match color {
        0 | 4 => 1,
        2 | 3 | 6 => 3,
        _ => return None,
    };
    let channels = color_channels + u64::from(alpha);
    let channel_bytes = if depth == 16 { 2 } else { 1 };
    Some(Header {
        format: SourceFormat::Png,
        width,
        height,
        decoder_bytes_per_pixel: channels * channel_bytes,
        output_bytes_per_pixel: if alpha { 4 } else { 3 },
    })
}

/// Whether a `tRNS` chunk comes before the image data (where PNG requires it).
fn png_has_trns(bytes: &[u8]) -> bool {
    let mut at = 8;
    while let Some(chunk) = bytes.get(at..at + 8) {
        match &chunk[4..8] {
            b"tRNS" => return true,
            b"IDAT" => return false,
            _ => {}
        }
        let length = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as usize;
        // Length, type, data and CRC.
        at = at.saturating_add(12).saturating_add(length);
    }
    false
}

/// An `image` reader for `bytes`, with the decoder forced to the sniffed format.
fn reader(bytes: &[u8], format: SourceFormat, limits: Limits) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(limits);
    reader
}

/// `image`'s allocation limit for an image of at most [`ImageLimits::max_pixels`] pixels.
fn memory_limits(limits: ImageLimits) -> Limits {
    let mut memory = Limits::default();
    memory.max_alloc = Some(
        limits
            .max_pixels
            .saturating_mul(MAX_DECODED_BYTES_PER_PIXEL)
            .saturating_add(DECODER_OVERHEAD_BYTES),
    );
    memory
}

/// `image`'s limits for decoding this header: no allocation larger than the whole decode is
/// expected to hold (what a memory budget admitted), and the strict limit on each side.
fn decoding_limits(header: &Header, limits: ImageLimits) -> Limits {
    let mut decoding = memory_limits(limits);
    decoding.max_alloc = decoding.max_alloc.map(|cap| cap.min(header.decode_bytes()));
    decoding.max_image_width = Some(limits.max_side);
    decoding.max_image_height = Some(limits.max_side);
    decoding
}

/// Decodes the pixels and applies the EXIF orientation, read from the decoder before decoding.
///
/// Unreadable orientation metadata leaves the image as stored rather than refusing it.
fn decode_oriented(bytes: &[u8], header: &Header, limits: ImageLimits) -> Result<DynamicImage, ImageError> {
    let mut decoder = reader(bytes, header.format, decoding_limits(header, limits))
        .into_decoder()
        .map_err(decode_error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Classifies a decoder error: features the decoder refuses are [`ImageError::Unsupported`];
/// anything else (damage, truncation, internals contradicting the header) is
/// [`ImageError::Corrupt`].
fn decode_error(err: image::ImageError) -> ImageError {
    match err {
        image::ImageError::Unsupported(e) => ImageError::Unsupported(e.to_string()),
        other => ImageError::Corrupt(other.to_string()),
    }
}

/// Whether the image is already 8-bit RGB or RGBA.
fn is_rgb8_or_rgba8(img: &DynamicImage) -> bool {
    matches!(
        img,
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_)
    )
}

/// Converts grey, 16-bit and float images to 8-bit RGB, or RGBA when they carry alpha.
fn to_rgb8_or_rgba8(img: DynamicImage) -> DynamicImage {
    if is_rgb8_or_rgba8(&img) {
        img
    } else if img.color().has_alpha() {
        DynamicImage::ImageRgba8(img.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(img.into_rgb8())
    }
}

/// A `side × side` avatar: the largest centred square, flattened onto white, resized with
/// Lanczos3 (up or down). A `side` of 0 is treated as 1.
///
/// A square more than twice the side is first box-filtered to twice the side, straight from the
/// source (no copy of the crop), so the Lanczos pass works on a small image.
pub fn square_avatar(img: &DynamicImage, side: u32) -> RgbImage {
    let (width, height) = img.dimensions();
    let crop = width.min(height);
    let (x, y) = ((width - crop) / 2, (height - crop) / 2);
    let side = side.max(1);
    let square = match side.checked_mul(2) {
        Some(twice) if crop > twice => {
            let view = imageops::crop_imm(img, x, y, crop, crop);
            DynamicImage::ImageRgba8(imageops::thumbnail(&*view, twice, twice))
        }
        _ => img.crop_imm(x, y, crop, crop),
    };
    imageops::resize(&flatten_on_white(&square), side, side, FilterType::Lanczos3)
}

/// The most [`square_avatar`] and encoding its result hold at once for an image of this
/// header, the decoded image included: the square (box-filtered RGBA or a copy of the crop),
/// its flattened copies, the resampling buffer and the result.
pub fn square_avatar_bytes(header: &Header, side: u32) -> u64 {
    let side = u64::from(side.max(1));
    let square = u64::from(header.width.min(header.height)).min(2 * side);
    let flattened = 4 + 3;
    header.decoded_bytes()
        + square * square * (4 + flattened)
        + square * side * RESAMPLE_BYTES_PER_PIXEL
        + side * side * AFTER_RESIZE_BYTES_PER_PIXEL
}

/// Drops the alpha channel by compositing onto white, so transparent areas do not turn black.
pub fn flatten_on_white(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let Rgba([r, g, b, a]) = *rgba.get_pixel(x, y);
        Rgb([r, g, b].map(|channel| over_white(channel, a)))
    })
}

/// One channel of `channel` at opacity `alpha`, composited over white.
fn over_white(channel: u8, alpha: u8) -> u8 {
    let (c, a) = (u32::from(channel), u32::from(alpha));
    let blended = (c * a + 255 * (255 - a) + 127) / 255;
    u8::try_from(blended).unwrap_or(u8::MAX)
}

/// Shrinks the image (Lanczos3) so its longer side is at most `long_side`, keeping the aspect
/// ratio. Never upscales: an image that already fits is returned as is.
///
/// A source more than twice the target on both sides is first box-filtered to twice the target
/// and dropped, so the Lanczos pass (whose `f32` buffer is as wide as its input) works on at
/// most four times the target's pixels.
pub fn fit_within(img: DynamicImage, long_side: u32) -> DynamicImage {
    let (width, height) = img.dimensions();
    let (target_width, target_height) = fitted_dimensions(width, height, long_side);
    if (target_width, target_height) == (width, height) {
        return img;
    }
    let source = match prefiltered_dimensions(width, height, target_width, target_height) {
        Some((w, h)) => img.thumbnail_exact(w, h),
        None => img,
    };
    source.resize_exact(target_width, target_height, FilterType::Lanczos3)
}

/// The most [`fit_within`], flattening its result and encoding it hold at once for an image of
/// this header, the decoded image included.
pub fn fit_within_bytes(header: &Header, long_side: u32) -> u64 {
    let pixel = header.output_bytes_per_pixel;
    let (width, height) = (header.width, header.height);
    let (target_width, target_height) = fitted_dimensions(width, height, long_side);
    let target = u64::from(target_width) * u64::from(target_height);
    let after = target * (pixel + AFTER_RESIZE_BYTES_PER_PIXEL);
    if (target_width, target_height) == (width, height) {
        return header.decoded_bytes() + after;
    }
    let (source_width, source_height) =
        prefiltered_dimensions(width, height, target_width, target_height).unwrap_or((width, height));
    let source = u64::from(source_width) * u64::from(source_height) * pixel;
    let prefiltering = if (source_width, source_height) == (width, height) { 0 } else { header.decoded_bytes() + source };
    let resampling = source + u64::from(source_width) * u64::from(target_height) * RESAMPLE_BYTES_PER_PIXEL + target * pixel;
    prefiltering.max(resampling).max(after)
}

/// The dimensions `DynamicImage::resize` gives when fitting into a `long_side` square, or the
/// image's own when it already fits (never upscaled).
fn fitted_dimensions(width: u32, height: u32, long_side: u32) -> (u32, u32) {
    if width.max(height) <= long_side {
        return (width, height);
    }
    let ratio = f64::from(long_side) / f64::from(width.max(height));
    let scale = |side: u32| ((f64::from(side) * ratio).round() as u32).clamp(1, long_side);
    (scale(width), scale(height))
}

/// Twice the target, when the source is larger than that on both sides.
fn prefiltered_dimensions(width: u32, height: u32, target_width: u32, target_height: u32) -> Option<(u32, u32)> {
    let (w, h) = (target_width.checked_mul(2)?, target_height.checked_mul(2)?);
    (width > w && height > h).then_some((w, h))
}

/// Like [`fit_within`] but with `imageops::thumbnail`'s fast integer box filter: for previews
/// where speed beats quality. Never upscales.
pub fn thumbnail(img: &DynamicImage, long_side: u32) -> DynamicImage {
    if fits(img, long_side) {
        img.clone()
    } else {
        img.thumbnail(long_side, long_side)
    }
}

/// Whether neither side of the image exceeds `long_side`.
fn fits(img: &DynamicImage, long_side: u32) -> bool {
    img.width().max(img.height()) <= long_side
}

/// Encodes a baseline JPEG (`quality` 1–100, clamped) with no metadata segment: no EXIF/APP1,
/// no ICC profile, only the JFIF APP0 header.
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(encode_error)?;
    Ok(out)
}

/// Encodes a PNG with no metadata chunk. Float images are converted to 8-bit first; every other
/// layout (grey, RGB(A), 8 or 16 bits) is written as is.
pub fn encode_png(img: &DynamicImage) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let encoder = PngEncoder::new(&mut out);
    let written = match img {
        DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => {
            to_rgb8_or_rgba8(img.clone()).write_with_encoder(encoder)
        }
        _ => img.write_with_encoder(encoder),
    };
    written.map_err(encode_error)?;
    Ok(out)
}

/// Encodes a *lossless* WebP with no metadata chunk; other layouts are converted to 8-bit RGB(A).
///
/// Lossless is the only WebP encoder `image` 0.25 has: for photographs the output is typically
/// several times larger than [`encode_jpeg`] at quality 80–85 (often larger than the upload), so
/// prefer JPEG for photos and keep WebP for graphics, screenshots and images with alpha.
pub fn encode_webp(img: &DynamicImage) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    img.write_with_encoder(WebPEncoder::new_lossless(&mut out))
        .map_err(encode_error)?;
    Ok(out)
}

/// Wraps an encoder failure.
fn encode_error(err: image::ImageError) -> ImageError {
    ImageError::Encode(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma};

    /// Generous limits, well above anything the tests build except the forged bombs.
    const LIMITS: ImageLimits = ImageLimits {
        max_bytes: 10 * 1024 * 1024,
        max_pixels: 40_000_000,
        max_side: 10_000,
    };

    /// A deterministic noisy RGB image (compresses badly, so truncation hits pixel data).
    fn noise(width: u32, height: u32) -> RgbImage {
        let mut state = 0x2545_F491_u32;
        RgbImage::from_fn(width, height, |_, _| {
            let mut next = || {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                state.to_be_bytes()[0]
            };
            Rgb([next(), next(), next()])
        })
    }

    /// Encodes any dynamic image in `format` with `image` itself (test fixtures only).
    fn encoded(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("fixture encodes");
        out.into_inner()
    }

    /// CRC-32 (ISO-HDLC), as PNG chunks need.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0_u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A PNG chunk: length, type, data, CRC over type and data.
    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let length = u32::try_from(data.len()).expect("small chunk");
        let mut chunk = length.to_be_bytes().to_vec();
        chunk.extend_from_slice(kind);
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(&crc32(&chunk[4..]).to_be_bytes());
        chunk
    }

    /// A PNG signature and an IHDR declaring `width × height` 8-bit RGB, and no image data.
    fn forged_png(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(png_chunk(b"IHDR", &ihdr));
        png
    }

    /// The JPEG's segments before the scan data: `(marker, offset of its 0xFF)`.
    fn jpeg_segments(jpeg: &[u8]) -> Vec<(u8, usize)> {
        let mut segments = Vec::new();
        let mut pos = 2;
        while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF {
            let marker = jpeg[pos + 1];
            segments.push((marker, pos));
            if marker == 0xDA {
                break;
            }
            pos += 2 + usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        }
        segments
    }

    /// Offset of the first segment with `marker`.
    fn segment_offset(jpeg: &[u8], marker: u8) -> usize {
        jpeg_segments(jpeg)
            .into_iter()
            .find_map(|(m, pos)| (m == marker).then_some(pos))
            .expect("segment present")
    }

    /// Whether `needle` occurs in `haystack`.
    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    }

    /// An APP1 Exif segment: big-endian TIFF, IFD0 with an ImageDescription holding GPS-looking
    /// text and Orientation = 6 (rotate 90° clockwise).
    fn exif_app1() -> Vec<u8> {
        let description = b"GPSLatitude 52.5200 N, GPSLongitude 13.4050 E\0";
        let count = u32::try_from(description.len()).expect("short text");
        let mut tiff = b"MM\x00\x2A".to_vec();
        tiff.extend_from_slice(&8_u32.to_be_bytes()); // IFD0 offset
        tiff.extend_from_slice(&2_u16.to_be_bytes()); // entry count
        // ImageDescription (0x010E), ASCII, value stored after the IFD at offset 8 + 2 + 24 + 4.
        tiff.extend_from_slice(&[0x01, 0x0E, 0x00, 0x02]);
        tiff.extend_from_slice(&count.to_be_bytes());
        tiff.extend_from_slice(&38_u32.to_be_bytes());
        // Orientation (0x0112), SHORT, count 1, value 6 left-justified.
        tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x06, 0, 0]);
        tiff.extend_from_slice(&0_u32.to_be_bytes()); // no IFD1
        tiff.extend_from_slice(description);
        let length = u16::try_from(2 + 6 + tiff.len()).expect("small segment");
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&length.to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend(tiff);
        app1
    }

    fn is_red(pixel: Rgb<u8>) -> bool {
        pixel[0] > 200 && pixel[2] < 60
    }

    fn is_blue(pixel: Rgb<u8>) -> bool {
        pixel[2] > 200 && pixel[0] < 60
    }

    #[test]
    fn sniff_goes_by_content() {
        let png = encoded(&DynamicImage::ImageRgb8(noise(4, 4)), ImageFormat::Png);
        let jpeg = encode_jpeg(&noise(8, 8), 80).expect("encodes");
        assert_eq!(sniff(&png), Some(SourceFormat::Png));
        assert_eq!(sniff(&jpeg), Some(SourceFormat::Jpeg));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn exif_orientation_is_applied_and_metadata_dropped() {
        // 40×20: left half red, right half blue.
        let source = RgbImage::from_fn(40, 20, |x, _| {
            if x < 20 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        });
        let plain = encode_jpeg(&source, 95).expect("encodes");
        let mut tagged = plain[..2].to_vec();
        tagged.extend(exif_app1());
        tagged.extend_from_slice(&plain[2..]);
        assert!(contains(&tagged, b"GPSLatitude"));

        let decoded = decode_untrusted(&tagged, LIMITS).expect("decodes");
        assert_eq!(decoded.format, SourceFormat::Jpeg);
        assert_eq!((decoded.width, decoded.height), (20, 40));
        // Rotated 90° clockwise: the left (red) half is now on top.
        let rgb = decoded.image.to_rgb8();
        assert!(is_red(*rgb.get_pixel(10, 8)), "{:?}", rgb.get_pixel(10, 8));
        assert!(
            is_blue(*rgb.get_pixel(10, 32)),
            "{:?}",
            rgb.get_pixel(10, 32)
        );

        let reencoded = encode_jpeg(&rgb, 85).expect("encodes");
        let markers: Vec<u8> = jpeg_segments(&reencoded)
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        assert!(!markers.contains(&0xE1), "APP1 in {markers:x?}");
        assert!(markers.contains(&0xC0), "baseline SOF0 in {markers:x?}");
        assert!(!contains(&reencoded, b"Exif"));
        assert!(!contains(&reencoded, b"GPS"));
        let again = decode_untrusted(&reencoded, LIMITS).expect("decodes");
        assert_eq!((again.width, again.height), (20, 40));
    }

    #[test]
    fn png_bomb_header_is_refused_before_decoding() {
        let err = decode_untrusted(&forged_png(20_000, 20_000), LIMITS).expect_err("refused");
        assert!(
            matches!(
                err,
                ImageError::TooManyPixels {
                    width: 20_000,
                    height: 20_000,
                    limit: 40_000_000
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_side_over_max_side_is_refused() {
        let err = decode_untrusted(&forged_png(12_000, 2), LIMITS).expect_err("refused");
        assert!(
            matches!(
                err,
                ImageError::TooManyPixels {
                    width: 12_000,
                    height: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn jpeg_bomb_header_is_refused_before_decoding() {
        let mut jpeg = encode_jpeg(&noise(16, 16), 80).expect("encodes");
        // SOF0: marker (2) length (2) precision (1) height (2) width (2).
        let sof = segment_offset(&jpeg, 0xC0);
        jpeg[sof + 5..sof + 7].copy_from_slice(&20_000_u16.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&20_000_u16.to_be_bytes());
        let err = decode_untrusted(&jpeg, LIMITS).expect_err("refused");
        assert!(
            matches!(
                err,
                ImageError::TooManyPixels {
                    width: 20_000,
                    height: 20_000,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn oversized_upload_is_refused_first() {
        let limits = ImageLimits {
            max_bytes: 10,
            ..LIMITS
        };
        let err = decode_untrusted(b"definitely not an image", limits).expect_err("refused");
        assert!(
            matches!(
                err,
                ImageError::TooLarge {
                    bytes: 23,
                    limit: 10
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn text_is_not_an_image() {
        let err =
            decode_untrusted(b"hello, I am totally a photo.jpg\n", LIMITS).expect_err("refused");
        assert!(matches!(err, ImageError::NotAnImage), "{err:?}");
    }

    #[test]
    fn png_without_ihdr_is_corrupt() {
        let err =
            decode_untrusted(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIEND", LIMITS).expect_err("refused");
        assert!(matches!(err, ImageError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn truncated_png_is_corrupt() {
        let png = encoded(&DynamicImage::ImageRgb8(noise(64, 64)), ImageFormat::Png);
        let err = decode_untrusted(&png[..png.len() / 2], LIMITS).expect_err("refused");
        assert!(matches!(err, ImageError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn sixteen_bit_png_decodes_to_8_bit() {
        let deep = ImageBuffer::from_pixel(5, 3, Rgb([0xFFFF_u16, 0x8080, 0]));
        let png = encoded(&DynamicImage::ImageRgb16(deep), ImageFormat::Png);
        let decoded = decode_untrusted(&png, LIMITS).expect("decodes");
        let DynamicImage::ImageRgb8(rgb) = &decoded.image else {
            panic!("expected 8-bit RGB, got {:?}", decoded.image.color());
        };
        assert_eq!((decoded.width, decoded.height), (5, 3));
        assert_eq!(*rgb.get_pixel(4, 2), Rgb([255, 128, 0]));
    }

    #[test]
    fn grey_png_decodes_to_rgb() {
        let grey = ImageBuffer::from_pixel(2, 2, Luma([77_u8]));
        let png = encoded(&DynamicImage::ImageLuma8(grey), ImageFormat::Png);
        let decoded = decode_untrusted(&png, LIMITS).expect("decodes");
        assert_eq!(
            decoded.image.as_rgb8().map(|rgb| *rgb.get_pixel(1, 1)),
            Some(Rgb([77; 3]))
        );
    }

    #[test]
    fn square_avatar_crops_the_centre() {
        // 300×200: 50px red margins left and right around a green 200×200 centre.
        let wide = RgbImage::from_fn(300, 200, |x, _| {
            if (50..250).contains(&x) {
                Rgb([0, 255, 0])
            } else {
                Rgb([255, 0, 0])
            }
        });
        let avatar = square_avatar(&DynamicImage::ImageRgb8(wide), 512);
        assert_eq!(avatar.dimensions(), (512, 512));
        for (x, y) in [(0, 0), (511, 0), (0, 511), (511, 511), (256, 256)] {
            let pixel = avatar.get_pixel(x, y);
            assert!(pixel[1] > 240 && pixel[0] < 15, "({x},{y}) is {pixel:?}");
        }
    }

    #[test]
    fn square_avatar_of_a_large_image_is_box_filtered_first() {
        let mut wide = RgbImage::from_pixel(3000, 1200, Rgb([0, 0, 255]));
        for y in 0..1200 {
            for x in 1200..1800 {
                wide.put_pixel(x, y, Rgb([255, 0, 0]));
            }
        }
        let avatar = square_avatar(&DynamicImage::ImageRgb8(wide), 64);
        assert_eq!(avatar.dimensions(), (64, 64));
        // The centred square is half red (in the middle) and blue on both sides.
        assert!(is_red(*avatar.get_pixel(32, 32)), "{:?}", avatar.get_pixel(32, 32));
        assert!(is_blue(*avatar.get_pixel(2, 32)) && is_blue(*avatar.get_pixel(61, 32)));
    }

    #[test]
    fn square_avatar_flattens_transparency_onto_white() {
        let clear = ImageBuffer::from_pixel(10, 10, Rgba([0_u8, 0, 0, 0]));
        let avatar = square_avatar(&DynamicImage::ImageRgba8(clear), 4);
        assert_eq!(*avatar.get_pixel(2, 2), Rgb([255; 3]));
    }

    #[test]
    fn fit_within_shrinks_keeping_aspect_and_never_upscales() {
        let big = DynamicImage::ImageRgb8(noise(1000, 500));
        assert_eq!(fit_within(big, 200).dimensions(), (200, 100));
        let tall = DynamicImage::ImageRgb8(noise(300, 900));
        assert_eq!(fit_within(tall, 300).dimensions(), (100, 300));
        let small = DynamicImage::ImageRgb8(noise(100, 50));
        assert_eq!(fit_within(small, 200).dimensions(), (100, 50));
        // Box-filtered first (more than twice the target), then Lanczos: same size and colour.
        let red = DynamicImage::ImageRgb8(ImageBuffer::from_pixel(2000, 1000, Rgb([200, 10, 10])));
        let fitted = fit_within(red, 64).to_rgb8();
        assert_eq!(fitted.dimensions(), (64, 32));
        assert!(fitted.pixels().all(|p| p.0.iter().zip([200, 10, 10]).all(|(a, b)| a.abs_diff(b) <= 1)));
    }

    #[test]
    fn the_header_tells_what_decoding_costs() {
        let grey = encoded(&DynamicImage::ImageLuma8(ImageBuffer::from_pixel(70, 50, Luma([0u8]))), ImageFormat::Png);
        let header = inspect(&grey, LIMITS).expect("inspects");
        assert_eq!((header.format, header.width, header.height), (SourceFormat::Png, 70, 50));
        assert_eq!((header.decoder_bytes_per_pixel, header.output_bytes_per_pixel), (1, 3));
        // Grey decoded (1), then its RGB conversion (3), and the decoder's own memory.
        assert_eq!(header.decode_bytes(), 70 * 50 * 4 + DECODER_OVERHEAD_BYTES);

        let deep = encoded(&DynamicImage::ImageRgba16(ImageBuffer::new(8, 4)), ImageFormat::Png);
        let header = inspect(&deep, LIMITS).expect("inspects");
        assert_eq!((header.decoder_bytes_per_pixel, header.output_bytes_per_pixel), (8, 4));
        // The rotated copy of the 16-bit image is the larger second buffer.
        assert_eq!(header.decode_bytes(), 8 * 4 * 16 + DECODER_OVERHEAD_BYTES);

        let mut with_trns = grey.clone();
        let idat = with_trns.windows(4).position(|w| w == b"IDAT").expect("an IDAT chunk") - 4;
        with_trns.splice(idat..idat, png_chunk(b"tRNS", &[0, 0]));
        let header = inspect(&with_trns, LIMITS).expect("inspects");
        assert_eq!((header.decoder_bytes_per_pixel, header.output_bytes_per_pixel), (2, 4));
        let decoded = decode_untrusted(&with_trns, LIMITS).expect("decodes");
        assert!(decoded.image.color().has_alpha(), "tRNS gives grey an alpha channel");

        let jpeg = encode_jpeg(&noise(40, 30), 80).expect("encodes");
        let header = inspect(&jpeg, LIMITS).expect("inspects");
        assert_eq!((header.format, header.width, header.height, header.decoder_bytes_per_pixel), (SourceFormat::Jpeg, 40, 30, 3));
    }

    #[test]
    fn the_resizers_working_memory_is_bounded_by_their_target() {
        // The 7000 × 7000 grey PNG of issue 16, fitted into 2048.
        let bomb = Header { format: SourceFormat::Png, width: 7000, height: 7000, decoder_bytes_per_pixel: 1, output_bytes_per_pixel: 3 };
        let decoded = 7000 * 7000 * 3;
        let (twice, target) = (4096 * 4096 * 3, 2048 * 2048);
        let expected = (decoded + twice).max(twice + 4096 * 2048 * 16 + target * 3).max(target * 19);
        assert_eq!(fit_within_bytes(&bomb, 2048), expected);
        assert!(fit_within_bytes(&bomb, 2048) < 240 * 1024 * 1024, "{}", fit_within_bytes(&bomb, 2048));
        // An avatar holds little beyond the decoded image.
        assert!(square_avatar_bytes(&bomb, 512) - decoded < 32 * 1024 * 1024);
        // An image that already fits: itself and what follows.
        let small = Header { width: 100, height: 50, ..bomb };
        assert_eq!(fit_within_bytes(&small, 2048), 100 * 50 * (3 + 3 + 16));
    }

    #[test]
    fn thumbnail_fits_the_long_side() {
        let portrait = DynamicImage::ImageRgb8(noise(1024, 1792));
        let (width, height) = thumbnail(&portrait, 256).dimensions();
        assert_eq!(height, 256);
        assert!(width.abs_diff(146) <= 1, "width {width}");
        let small = DynamicImage::ImageRgb8(noise(30, 20));
        assert_eq!(thumbnail(&small, 256).dimensions(), (30, 20));
    }

    #[test]
    fn encode_jpeg_round_trips_dimensions() {
        let jpeg = encode_jpeg(&noise(37, 23), 80).expect("encodes");
        let decoded = decode_untrusted(&jpeg, LIMITS).expect("decodes");
        assert_eq!((decoded.width, decoded.height), (37, 23));
    }

    #[test]
    fn encode_png_round_trips_pixels() {
        let img = DynamicImage::ImageRgb8(noise(9, 7));
        let decoded =
            decode_untrusted(&encode_png(&img).expect("encodes"), LIMITS).expect("decodes");
        assert_eq!(decoded.format, SourceFormat::Png);
        assert_eq!(decoded.image, img);
    }

    #[test]
    fn encode_webp_is_lossless_webp() {
        let img = DynamicImage::ImageRgba8(ImageBuffer::from_fn(6, 4, |x, y| {
            Rgba([
                u8::try_from(x * 40).unwrap_or(0),
                u8::try_from(y * 60).unwrap_or(0),
                7,
                200,
            ])
        }));
        let webp = encode_webp(&img).expect("encodes");
        assert_eq!(sniff(&webp), Some(SourceFormat::Webp));
        let decoded = decode_untrusted(&webp, LIMITS).expect("decodes");
        assert_eq!(decoded.image, img);
    }
}
