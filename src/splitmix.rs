//! SplitMix64 (Steele, Lea and Flood, 2014): the one seeded generator behind everything Optima
//! makes from a seed (the offline composer and synthesizer, the procedural artwork, the NFT
//! artwork). Tiny, fast, and the same sequence on every machine, so seeded output is
//! reproducible bit for bit.
//!
//! Only the stream and its finaliser live here. How a user turns the 64-bit outputs into the
//! numbers it needs (an `f64` or an `f32` in `[0, 1)`, an index below `n`) stays with that
//! user: the ways differ, and each must keep giving exactly what it always gave.

/// The increment of the stream: 2^64 divided by the golden ratio, odd. Also a good multiplier
/// for spreading small counters over 64 bits before [`mix64`].
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub const fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 bits of the stream.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix64(self.0)
    }
}

/// The SplitMix64 finaliser: a bijective 64-bit mixer (every input bit affects every output
/// bit), also used on its own to turn a hash or a counter into a well-spread seed.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_sequence() {
        // The first outputs for seed 0 of the reference implementation (Vigna's splitmix64.c).
        let mut rng = SplitMix64::new(0);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(first, [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F]);
        assert_eq!(mix64(0), 0);
    }
}
