//! Jackpot arithmetic, exact and pure. Pools are kept in *micro-units*: millionths of the
//! currency's minor unit. A level's contribution share has at most six decimals
//! ([`Share`]), so a bet of `b` minor units contributes exactly `b × share × 10⁶` micro-units:
//! an integer, no rounding at all. A win pays the whole minor units of the pool; the fraction
//! below one minor unit (the *carry*) stays in the pool for the next cycle, so nothing is lost.

use rust_decimal::Decimal;

use crate::rng::RandomSource;

/// Micro-units per minor unit.
pub const MICRO_PER_MINOR: i64 = 1_000_000;
/// Decimals a share may have: one micro-unit per minor unit staked.
pub const SHARE_DECIMALS: u32 = 6;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("a share must be a decimal such as \"0.005\" with at most {SHARE_DECIMALS} decimals, between 0 and 0.1")]
    Invalid,
}

/// A fraction of each bet, in parts per million (0.005 = 5000 ppm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Share(i64);

/// Largest single share: 10% of a bet to one level is already far beyond any real network.
const MAX_SHARE_PPM: i64 = 100_000;

impl Share {
    pub fn parse(text: &str) -> Result<Share, ShareError> {
        let d: Decimal = text.trim().parse().map_err(|_| ShareError::Invalid)?;
        if d.scale() > SHARE_DECIMALS || d.is_sign_negative() {
            return Err(ShareError::Invalid);
        }
        let ppm = d * Decimal::from(1_000_000);
        let ppm: i64 = ppm.trunc().try_into().map_err(|_| ShareError::Invalid)?;
        if ppm > MAX_SHARE_PPM {
            return Err(ShareError::Invalid);
        }
        Ok(Share(ppm))
    }

    pub fn zero() -> Share {
        Share(0)
    }

    pub fn ppm(self) -> i64 {
        self.0
    }

    /// What a bet of `bet_minor` gives at this share, in micro-units (exact).
    pub fn of(self, bet_minor: i64) -> i64 {
        bet_minor.saturating_mul(self.0)
    }

    pub fn as_decimal(self) -> Decimal {
        Decimal::new(self.0, SHARE_DECIMALS)
    }
}

/// Splits a pool's value into what a win pays (whole minor units) and the carry it leaves.
pub fn payout_split(value_micro: i64) -> (i64, i64) {
    let value = value_micro.max(0);
    (value / MICRO_PER_MINOR, value % MICRO_PER_MINOR)
}

/// The standard "mystery" draw: a bet wins the level with probability
/// `contribution / (drop_at − seed)`, so contributions until a win are geometric with mean
/// `drop_at − seed`: the pool is expected to drop at `drop_at`. Bigger bets, bigger chance.
/// Returns `(numerator, denominator)` in micro-units; `None` when the bet contributes nothing.
pub fn mystery_odds(
    contribution_micro: i64,
    seed_micro: i64,
    drop_at_micro: i64,
) -> Option<(u64, u64)> {
    let span = drop_at_micro.checked_sub(seed_micro)?;
    if contribution_micro <= 0 || span <= 0 {
        return None;
    }
    Some((contribution_micro as u64, span as u64))
}

/// A uniform value in `0..n` from 32-bit draws, unbiased by rejection.
pub fn below_u64(rng: &mut impl RandomSource, n: u64) -> u64 {
    if n <= u64::from(u32::MAX) {
        return u64::from(rng.below(n as u32));
    }
    // Reject the incomplete top zone of the 64-bit range, as `below` does for 32 bits.
    let zone = u64::MAX - (u64::MAX % n) - 1;
    loop {
        let x = (u64::from(rng.next_u32()) << 32) | u64::from(rng.next_u32());
        if x <= zone {
            return x % n;
        }
    }
}

/// Draws a mystery win: true with probability `numerator / denominator` (capped at 1).
pub fn mystery_hit(rng: &mut impl RandomSource, odds: (u64, u64)) -> bool {
    mystery_draw(rng, odds).hit()
}

/// Makes a mystery draw and keeps it, for a round's record: the uniform value drawn in
/// `0..denominator` (nothing is drawn when the odds are certain).
pub fn mystery_draw(
    rng: &mut impl RandomSource,
    (numerator, denominator): (u64, u64),
) -> super::MysteryDraw {
    let drawn = (numerator < denominator).then(|| below_u64(rng, denominator));
    super::MysteryDraw {
        numerator,
        denominator,
        drawn,
    }
}

/// True when the pool, after this bet's contribution, has reached its must-drop-by ceiling.
pub fn ceiling_reached(value_after_micro: i64, ceiling_micro: Option<i64>) -> bool {
    ceiling_micro.is_some_and(|c| value_after_micro >= c)
}

/// Why a bet claims a level, in order of precedence: its symbols trigger it, the level (after
/// this bet's contribution) has reached its must-drop-by ceiling, or the mystery draw hit.
/// One rule for both spin paths: the two-step path applies it at the draw, the one-step path
/// inside the ledger transaction.
pub fn claim_reason(
    triggered: bool,
    value_after_micro: i64,
    ceiling_micro: Option<i64>,
    mystery_hit: bool,
) -> Option<super::ClaimReason> {
    use super::ClaimReason;
    if triggered {
        Some(ClaimReason::Trigger)
    } else if ceiling_reached(value_after_micro, ceiling_micro) {
        Some(ClaimReason::Ceiling)
    } else if mystery_hit {
        Some(ClaimReason::Mystery)
    } else {
        None
    }
}

/// How a new cycle is funded: the seed comes from the level's reserve as far as it goes, the
/// rest from the house. Returns `(from_reserve, from_house)`, in micro-units.
pub fn seed_funding(seed_micro: i64, reserve_micro: i64) -> (i64, i64) {
    let from_reserve = reserve_micro.clamp(0, seed_micro);
    (from_reserve, seed_micro - from_reserve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shares_parse_exactly() {
        assert_eq!(Share::parse("0.005").unwrap().ppm(), 5_000);
        assert_eq!(Share::parse("0.000001").unwrap().ppm(), 1);
        assert_eq!(Share::parse("0").unwrap().ppm(), 0);
        for bad in ["0.0000001", "-0.01", "0.2", "abc", "", "0.1000001"] {
            assert!(Share::parse(bad).is_err(), "{bad}");
        }
        // 0.5% of 0.01 EUR is 0.00005 EUR = 0.005 cents = 5000 micro-units: exact.
        assert_eq!(Share::parse("0.005").unwrap().of(1), 5_000);
    }

    #[test]
    fn a_win_pays_whole_minor_units_and_keeps_the_carry() {
        assert_eq!(payout_split(12_345_678), (12, 345_678));
        assert_eq!(payout_split(0), (0, 0));
        assert_eq!(payout_split(-5), (0, 0));
    }

    #[test]
    fn seeds_come_from_the_reserve_first() {
        assert_eq!(seed_funding(1_000, 300), (300, 700));
        assert_eq!(seed_funding(1_000, 5_000), (1_000, 0));
        assert_eq!(seed_funding(1_000, 0), (0, 1_000));
    }

    #[test]
    fn mystery_odds_put_the_expected_drop_at_the_configured_point() {
        // Seed 10.00, drop at 25.00 (in micro-units of cents), 1.00 bets at 0.5%.
        let seed = 1_000 * MICRO_PER_MINOR;
        let drop = 2_500 * MICRO_PER_MINOR;
        let c = Share::parse("0.005").unwrap().of(100);
        let (n, d) = mystery_odds(c, seed, drop).unwrap();
        // Expected contributions until a hit = c / p = d: the span from seed to drop point.
        assert_eq!((n, d), (500_000, 1_500_000_000));
        assert!(mystery_odds(0, seed, drop).is_none());
        assert!(mystery_odds(c, drop, seed).is_none());
    }

    #[test]
    fn mystery_hits_at_the_stated_rate() {
        let mut rng = crate::rng::testing::seeded(11);
        let draws = 200_000;
        let hits = (0..draws)
            .filter(|_| mystery_hit(&mut rng, (1, 100)))
            .count();
        // 2000 expected, sd ≈ 44.5: a fixed seed keeps this repeatable; ±5 sd.
        assert!((1_777..=2_223).contains(&hits), "{hits}");
        assert!(mystery_hit(&mut rng, (5, 5)));
    }

    proptest! {
        #[test]
        fn contributions_are_exact_and_additive(bets in proptest::collection::vec(1i64..1_000_000, 1..50), ppm in 0i64..100_000) {
            let share = Share(ppm);
            let total: i64 = bets.iter().map(|&b| share.of(b)).sum();
            let staked: i64 = bets.iter().sum();
            // The sum of the parts is the share of the sum: nothing lost to rounding.
            prop_assert_eq!(total, share.of(staked));
            let (paid, carry) = payout_split(total);
            prop_assert_eq!(paid * MICRO_PER_MINOR + carry, total);
            prop_assert!(carry < MICRO_PER_MINOR);
        }

        #[test]
        fn below_u64_stays_in_range(n in 1u64..u64::MAX, seed in 0u64..1000) {
            let mut rng = crate::rng::testing::seeded(seed);
            prop_assert!(below_u64(&mut rng, n) < n);
        }
    }
}
