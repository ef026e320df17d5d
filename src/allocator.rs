//! Gives large buffers back to the operating system as soon as they are freed.
//!
//! glibc's malloc serves a block of 128 KiB or more from its own mapping, but each time such a
//! block is freed it raises that threshold to the block's size (up to 32 MiB). After the first
//! Argon2 hash (19 MiB) or decoded photo, blocks of that size come from the per-thread arenas
//! instead, and freed arena memory is mostly kept: 100 logins in a row, each hashed on whichever
//! blocking thread was free, left the process at 546 MB of RSS. A fixed threshold turns the
//! adjustment off, so every block of 1 MiB or more is mapped on its own and unmapped when freed.

/// Blocks at least this large get their own mapping.
const MMAP_THRESHOLD_BYTES: i32 = 1024 * 1024;

/// Call once, first thing in `main`, before threads start allocating.
pub fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a tunable of glibc's allocator; it is called before any
    // other thread exists, and an unsupported value is reported by its return, not UB.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}
