//! Media toolkit: the safe handling of user-uploaded and generated media.
//!
//! - [`images`]: untrusted image decoding (PNG, JPEG, WebP) with size and decompression-bomb
//!   limits, avatar/thumbnail resizing and metadata-free re-encoding;
//! - [`budget`]: the memory budget that decodes reserve their peak from before they start.

pub mod budget;
pub mod images;
