//! Randomness: the generator every outcome comes from and its unbiased range sampling. The
//! server's `RngActor` shards (in the server crate) each own one [`ShardRng`].
//!
//! `RandomSource` is the only interface game math sees, so live play, the simulator and tests
//! run the very same code with a ChaCha20 stream, a provably fair round's HMAC-SHA256 stream
//! ([`fair`]), a seeded test generator or a fixed script.

pub mod fair;
mod generator;

pub use generator::{OsRandomError, ReseedPolicy, ShardRng, CLOCK_CHECK_EVERY};

/// Uniform integers in a range, without bias. Implemented by [`ShardRng`] for play.
pub trait RandomSource {
    /// 32 uniformly distributed random bits.
    fn next_u32(&mut self) -> u32;

    /// A uniform integer in `0..n` by rejection sampling: draws of 32 bits that fall in the
    /// incomplete top zone (`2^32 mod n` values) are discarded and drawn again, so every
    /// result has exactly the same probability. `n` must be at least 1.
    fn below(&mut self, n: u32) -> u32 {
        self.sample(&Below::new(n))
    }

    /// [`RandomSource::below`] with its bound prepared once ([`Below`]): the same value from
    /// the same draws, without a division per draw.
    #[inline]
    fn sample(&mut self, range: &Below) -> u32 {
        if range.n <= 1 {
            return 0;
        }
        loop {
            let x = self.next_u32();
            if x <= range.limit {
                return x % range.divisor;
            }
        }
    }
}

/// Shuffles `items` in place, every order equally likely: Fisher–Yates from the end, the
/// position swapped with drawn by [`RandomSource::below`] (rejection, no modulo bias). The
/// baccarat shoe shuffles with it, and `croupier rng-dump --shuffle` dumps its permutations
/// for the certification tests.
pub fn shuffle<T>(items: &mut [T], rng: &mut (impl RandomSource + ?Sized)) {
    for i in (1..items.len()).rev() {
        // A shoe is at most a few hundred cards: i + 1 is far inside u32.
        let j = rng.below(i as u32 + 1) as usize;
        items.swap(i, j);
    }
}

/// The range `0..n` of [`RandomSource::below`], prepared: the rejection limit computed once and
/// the remainder by multiplication (`strength_reduce`, exact for every 32-bit value). A slot
/// game keeps one per reel.
#[derive(Debug, Clone, Copy)]
pub struct Below {
    n: u32,
    /// Accept draws `x <= limit`: `limit + 1` is the largest multiple of `n` within 2^32, so
    /// the `2^32 mod n` draws above it (which would over-represent small results) are drawn
    /// again.
    limit: u32,
    divisor: strength_reduce::StrengthReducedU32,
}

impl Below {
    /// `0..n`; `n` must be at least 1 (`0` is treated as 1: the only value is 0).
    pub fn new(n: u32) -> Below {
        debug_assert!(n > 0, "below(0) has no valid result");
        let n = n.max(1);
        let rejected_zone = (u32::MAX - n + 1) % n; // == 2^32 mod n
        Below {
            n,
            limit: u32::MAX - rejected_zone,
            divisor: strength_reduce::StrengthReducedU32::new(n),
        }
    }

    pub fn n(&self) -> u32 {
        self.n
    }
}

/// Test doubles for game code: a scripted source that replays fixed draws (and counts them),
/// and a seeded one for reproducible runs. Compiled always (the server's tests use them too),
/// but nothing outside tests calls them: play draws only from [`ShardRng`].
#[doc(hidden)]
pub mod testing {
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};

    use super::RandomSource;

    /// Replays fixed raw 32-bit draws; `.1` counts how many were taken.
    pub struct Script(pub Vec<u32>, pub usize);

    impl RandomSource for Script {
        fn next_u32(&mut self) -> u32 {
            let v = self.0[self.1];
            self.1 += 1;
            v
        }
    }

    /// A reproducible stream from a seed.
    pub struct Seeded(ChaCha8Rng);

    impl RandomSource for Seeded {
        fn next_u32(&mut self) -> u32 {
            self.0.next_u32()
        }
    }

    pub fn seeded(seed: u64) -> Seeded {
        Seeded(ChaCha8Rng::seed_from_u64(seed))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Script;
    use super::*;

    #[test]
    fn rejection_discards_the_incomplete_top_zone() {
        // 2^32 mod 3 == 1: only u32::MAX is rejected.
        let mut s = Script(vec![u32::MAX, 7], 0);
        assert_eq!(s.below(3), 1);
        assert_eq!(s.1, 2, "u32::MAX must have been rejected");
        let mut s = Script(vec![u32::MAX - 1], 0);
        assert_eq!(s.below(3), (u32::MAX - 1) % 3);
    }

    #[test]
    fn shuffle_is_fisher_yates_from_the_end() {
        // Draws for i = 3, 2, 1: below(4) = 1, below(3) = 2, below(2) = 0.
        let mut s = Script(vec![1, 2, 0], 0);
        let mut items = [0, 1, 2, 3];
        shuffle(&mut items, &mut s);
        // i=3 swaps with 1: [0,3,2,1]; i=2 with 2: same; i=1 with 0: [3,0,2,1].
        assert_eq!(items, [3, 0, 2, 1]);
        assert_eq!(s.1, 3, "one draw per position but the first");
        let mut empty: [u8; 0] = [];
        shuffle(&mut empty, &mut Script(vec![], 0));
    }

    #[test]
    fn powers_of_two_reject_nothing() {
        let mut s = Script(vec![u32::MAX], 0);
        assert_eq!(s.below(1 << 16), (1 << 16) - 1);
    }

    #[test]
    fn below_one_is_zero_without_drawing() {
        let mut s = Script(vec![], 0);
        assert_eq!(s.below(1), 0);
    }

    #[test]
    fn reject_zone_is_exact_for_every_small_n() {
        for n in 1u64..2000 {
            let zone = ((1u64 << 32) % n) as u32;
            let nn = n as u32;
            assert_eq!((u32::MAX - nn + 1) % nn, zone % nn.max(1), "n={n}");
            let accepted = (1u64 << 32) - zone as u64;
            assert_eq!(
                accepted % n,
                0,
                "accepted range must be a multiple of n={n}"
            );
        }
    }
}
