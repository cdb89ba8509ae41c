//! Exact fractions for the game maths: [`Ratio`], a non-negative fraction of `u128` in lowest
//! terms (the slot PAR sheet: probabilities, RTP parts), and [`Fraction`], a signed reduced
//! fraction of `i64` (the house edges of roulette and baccarat bets, which a table of bets
//! reports as `numerator / denominator`). One `gcd` reduces both. No floats: a figure a lab
//! checks is an exact rational, turned into a decimal only to print it.

use std::fmt;

use rust_decimal::Decimal;

/// A non-negative exact fraction, always in lowest terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    num: u128,
    den: u128,
}

/// Greatest common divisor (`gcd(0, 0) = 0`).
pub fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

// The game limits (MAX_CYCLE, MAX_LINES, MAX_LINE_PAY, …) keep every numerator and denominator
// a PAR sheet forms far below u128::MAX, so overflow is a bug, not an input error.
const OVERFLOW: &str = "exact fraction overflow: game limits should make this impossible";

impl Ratio {
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    /// `num / den` in lowest terms. `den` must not be 0.
    pub fn new(num: u128, den: u128) -> Ratio {
        assert!(den != 0, "Ratio with zero denominator");
        let g = gcd(num, den).max(1);
        Ratio {
            num: num / g,
            den: den / g,
        }
    }
    pub fn numer(&self) -> u128 {
        self.num
    }
    pub fn denom(&self) -> u128 {
        self.den
    }
    pub fn is_zero(&self) -> bool {
        self.num == 0
    }

    /// Rounded half-up to `dp` decimals (at most 28).
    pub fn to_decimal(&self, dp: u32) -> Decimal {
        let dp = dp.min(28);
        let mut digits = self.num / self.den;
        let mut rem = self.num % self.den;
        for _ in 0..dp {
            rem *= 10; // rem < den ≤ 2^100, far from overflow
            digits = digits * 10 + rem / self.den;
            rem %= self.den;
        }
        if rem * 2 >= self.den {
            digits += 1;
        }
        Decimal::from_i128_with_scale(digits as i128, dp)
    }

    /// For statistics only (never for a paid figure).
    pub fn to_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl std::ops::Add for Ratio {
    type Output = Ratio;
    fn add(self, other: Ratio) -> Ratio {
        let g = gcd(self.den, other.den);
        let num = (self.num.checked_mul(other.den / g))
            .and_then(|a| {
                other
                    .num
                    .checked_mul(self.den / g)
                    .and_then(|b| a.checked_add(b))
            })
            .expect(OVERFLOW);
        let den = (self.den / g).checked_mul(other.den).expect(OVERFLOW);
        Ratio::new(num, den)
    }
}

impl std::ops::Mul for Ratio {
    type Output = Ratio;
    fn mul(self, other: Ratio) -> Ratio {
        let g1 = gcd(self.num, other.den).max(1);
        let g2 = gcd(other.num, self.den).max(1);
        let num = (self.num / g1).checked_mul(other.num / g2).expect(OVERFLOW);
        let den = (self.den / g2).checked_mul(other.den / g1).expect(OVERFLOW);
        Ratio::new(num, den)
    }
}

/// `other` must not be zero.
impl std::ops::Div for Ratio {
    type Output = Ratio;
    #[allow(clippy::suspicious_arithmetic_impl)] // dividing is multiplying by the inverse
    fn div(self, other: Ratio) -> Ratio {
        self * Ratio::new(other.den, other.num)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// A signed fraction in lowest terms with a positive denominator: an exact house edge
/// (expected loss per unit staked; negative would mean the bet favours the player).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    pub numerator: i64,
    pub denominator: i64,
}

impl Fraction {
    /// `numerator / denominator` reduced. Panics if `denominator` is 0 or the reduced parts do
    /// not fit in `i64` (the callers' enumerations are bounded far below; overflow is a bug).
    pub fn new(numerator: i128, denominator: i128) -> Fraction {
        assert!(denominator != 0, "Fraction with zero denominator");
        let g = gcd(numerator.unsigned_abs(), denominator.unsigned_abs()).max(1) as i128;
        let sign = if denominator < 0 { -1 } else { 1 };
        let fit = |v: i128| i64::try_from(v).expect(OVERFLOW);
        Fraction {
            numerator: fit(sign * numerator / g),
            denominator: fit(sign * denominator / g),
        }
    }

    /// Exact to `Decimal`'s 28 significant digits.
    pub fn to_decimal(self) -> Decimal {
        Decimal::from(self.numerator) / Decimal::from(self.denominator)
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(num: u128, den: u128) -> Ratio {
        Ratio::new(num, den)
    }

    #[test]
    fn ratios_stay_exact_and_reduced() {
        assert_eq!(r(6, 8), r(3, 4));
        assert_eq!((r(6, 8).numer(), r(6, 8).denom()), (3, 4));
        assert_eq!(r(1, 6) + r(1, 3), r(1, 2));
        assert_eq!(r(2, 3) * r(9, 4), r(3, 2));
        assert_eq!(r(1, 2) / r(1, 4), r(2, 1));
        assert_eq!(r(2, 3).to_decimal(4).to_string(), "0.6667");
        assert_eq!(r(1, 8).to_decimal(2).to_string(), "0.13", "half rounds up");
        assert_eq!(r(7, 1).to_decimal(0).to_string(), "7");
        assert_eq!(Ratio::ZERO + r(0, 5), Ratio::ZERO);
    }

    #[test]
    fn fractions_are_reduced_with_the_sign_on_top() {
        assert_eq!(
            Fraction::new(2, 74),
            Fraction {
                numerator: 1,
                denominator: 37
            }
        );
        assert_eq!(
            Fraction::new(3, -6),
            Fraction {
                numerator: -1,
                denominator: 2
            }
        );
        assert_eq!(
            Fraction::new(-3, -6),
            Fraction {
                numerator: 1,
                denominator: 2
            }
        );
        assert_eq!(
            Fraction::new(0, 5),
            Fraction {
                numerator: 0,
                denominator: 1
            }
        );
        assert_eq!(
            Fraction::new(1, 37).to_decimal().round_dp(4).to_string(),
            "0.0270"
        );
        assert_eq!(Fraction::new(-1, 4).to_string(), "-1/4");
    }

    #[test]
    #[should_panic(expected = "zero denominator")]
    fn a_zero_denominator_is_a_bug() {
        let _ = Fraction::new(1, 0);
    }
}
