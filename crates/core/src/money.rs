//! Money: a currency with its scale, and amounts that can only hold values valid in it.
//!
//! Amounts are `rust_decimal::Decimal` in code and integer minor units (`i64`) in storage.
//! They are parsed from decimal strings, never from floats: "1.50" is fine, "1.501" EUR is
//! rejected, and so is anything negative where a non-negative amount is expected.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Largest number of decimals a currency may have: keeps minor units well inside `i64`.
pub const MAX_CURRENCY_SCALE: u32 = 8;

/// Largest amount we accept anywhere, in major units. Bounds every sum we can form so that
/// minor units of any reachable total stay far inside `i64` (9.2e18).
pub const MAX_AMOUNT_MAJOR: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a decimal string such as \"1.50\"")]
    NotADecimal,
    #[error("amount has {got} decimals but {currency} allows {allowed}")]
    TooManyDecimals {
        currency: String,
        got: u32,
        allowed: u32,
    },
    #[error("amount must not be negative")]
    Negative,
    #[error("amount must be greater than zero")]
    Zero,
    #[error("amount is larger than the largest amount allowed")]
    TooLarge,
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    #[error("currency code must be three upper-case letters, got {0:?}")]
    BadCurrencyCode(String),
    #[error("currency mismatch: {0} vs {1}")]
    CurrencyMismatch(String, String),
    #[error("arithmetic overflow")]
    Overflow,
}

impl MoneyError {
    /// The client's error code: every amount that does not parse or fit is `bad_amount`.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        crate::protocol::ErrorCode::BadAmount
    }
}

/// `minor` units of `currency` as text ("12.50"), or `invalid(<minor>)` for a value the
/// currency cannot hold: for frames and logs built from stored minor units.
pub fn minor_text(minor: i64, currency: &Currency) -> String {
    Money::from_minor(minor, currency)
        .map(|m| m.to_string())
        .unwrap_or_else(|_| format!("invalid({minor})"))
}

/// A currency code (ISO 4217 style, three upper-case letters) with its number of decimals.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency {
    code: String,
    scale: u32,
}

impl Currency {
    pub fn new(code: &str, scale: u32) -> Result<Self, MoneyError> {
        let valid = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
        if !valid {
            return Err(MoneyError::BadCurrencyCode(code.to_string()));
        }
        if scale > MAX_CURRENCY_SCALE {
            return Err(MoneyError::TooManyDecimals {
                currency: code.to_string(),
                got: scale,
                allowed: MAX_CURRENCY_SCALE,
            });
        }
        Ok(Self {
            code: code.to_string(),
            scale,
        })
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// The smallest amount this currency can hold, e.g. 0.01 for EUR.
    pub fn minor_unit(&self) -> Decimal {
        Decimal::new(1, self.scale)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// A non-negative amount of one currency, always at exactly the currency's scale.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Parses a client-supplied decimal string. Accepts zero; use [`Money::parse_positive`] for bets.
    pub fn parse(text: &str, currency: &Currency) -> Result<Self, MoneyError> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.len() > 40 || trimmed.contains(['e', 'E', '_']) {
            return Err(MoneyError::NotADecimal);
        }
        let amount = Decimal::from_str(trimmed).map_err(|_| MoneyError::NotADecimal)?;
        Self::from_decimal(amount, currency)
    }

    pub fn parse_positive(text: &str, currency: &Currency) -> Result<Self, MoneyError> {
        let money = Self::parse(text, currency)?;
        if money.is_zero() {
            return Err(MoneyError::Zero);
        }
        Ok(money)
    }

    pub fn from_decimal(amount: Decimal, currency: &Currency) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative);
        }
        let normalized = amount.normalize();
        if normalized.scale() > currency.scale {
            return Err(MoneyError::TooManyDecimals {
                currency: currency.code.clone(),
                got: normalized.scale(),
                allowed: currency.scale,
            });
        }
        if normalized > Decimal::from(MAX_AMOUNT_MAJOR) {
            return Err(MoneyError::TooLarge);
        }
        let mut amount = normalized;
        amount.rescale(currency.scale);
        // -0 would print as "-0.00"; normalise it away.
        amount.set_sign_positive(true);
        Ok(Self {
            amount,
            currency: currency.clone(),
        })
    }

    pub fn zero(currency: &Currency) -> Self {
        let mut amount = Decimal::ZERO;
        amount.rescale(currency.scale);
        Self {
            amount,
            currency: currency.clone(),
        }
    }

    /// Builds an amount from integer minor units as stored in the ledger.
    pub fn from_minor(minor: i64, currency: &Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        Self::from_decimal(Decimal::new(minor, currency.scale), currency)
    }

    /// Rounds a non-negative decimal down (toward zero) to the currency's scale. The one
    /// rounding rule for computed payouts: the player is never paid a fraction we cannot hold.
    pub fn floor_from(amount: Decimal, currency: &Currency) -> Result<Self, MoneyError> {
        let floored =
            amount.round_dp_with_strategy(currency.scale, rust_decimal::RoundingStrategy::ToZero);
        Self::from_decimal(floored, currency)
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// Integer minor units, exact by construction (scale is the currency's, amount is bounded).
    pub fn minor(&self) -> i64 {
        // `amount` has exactly `currency.scale` decimals, so its mantissa is the minor count,
        // and MAX_AMOUNT_MAJOR keeps it inside i64.
        self.amount.mantissa().to_i64().unwrap_or(i64::MAX)
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::from_decimal(sum, &self.currency)
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let diff = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::from_decimal(diff, &self.currency)
    }

    /// Multiplies by an exact factor and rounds down to the currency's scale.
    pub fn mul_floor(&self, factor: Decimal) -> Result<Money, MoneyError> {
        let product = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Money::floor_from(product, &self.currency)
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(
                self.currency.code.clone(),
                other.currency.code.clone(),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.amount)
    }
}

impl PartialOrd for Money {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        if self.currency != other.currency {
            return None;
        }
        Some(self.amount.cmp(&other.amount))
    }
}

/// The currencies this deployment accepts, from `[currencies]` in the config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CurrencyTable(pub std::collections::BTreeMap<String, u32>);

impl CurrencyTable {
    pub fn get(&self, code: &str) -> Result<Currency, MoneyError> {
        let scale = self
            .0
            .get(code)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))?;
        Currency::new(code, *scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::new("EUR", 2).unwrap()
    }

    #[test]
    fn parses_valid_amounts_at_currency_scale() {
        assert_eq!(Money::parse("1.5", &eur()).unwrap().to_string(), "1.50");
        assert_eq!(Money::parse("1.50", &eur()).unwrap().minor(), 150);
        assert_eq!(Money::parse("0", &eur()).unwrap().to_string(), "0.00");
        assert_eq!(Money::parse("-0", &eur()).unwrap().to_string(), "0.00");
        assert_eq!(Money::parse("1.500", &eur()).unwrap().minor(), 150);
    }

    #[test]
    fn rejects_bad_amounts() {
        let c = eur();
        assert!(matches!(
            Money::parse("1.001", &c),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert_eq!(Money::parse("-1", &c), Err(MoneyError::Negative));
        assert_eq!(Money::parse("abc", &c), Err(MoneyError::NotADecimal));
        assert_eq!(Money::parse("", &c), Err(MoneyError::NotADecimal));
        assert_eq!(Money::parse("1e3", &c), Err(MoneyError::NotADecimal));
        assert_eq!(Money::parse("NaN", &c), Err(MoneyError::NotADecimal));
        assert_eq!(Money::parse_positive("0.00", &c), Err(MoneyError::Zero));
        assert_eq!(
            Money::parse("10000000000000.00", &c),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn currency_codes_are_checked() {
        assert!(Currency::new("eur", 2).is_err());
        assert!(Currency::new("EURO", 2).is_err());
        assert!(Currency::new("BTC", 9).is_err());
        assert!(Currency::new("JPY", 0).is_ok());
    }

    #[test]
    fn floor_rounds_toward_zero() {
        let m = Money::parse("1.00", &eur()).unwrap();
        assert_eq!(m.mul_floor(Decimal::new(1, 3)).unwrap().to_string(), "0.00");
        assert_eq!(
            m.mul_floor(Decimal::new(1999, 3)).unwrap().to_string(),
            "1.99"
        );
    }

    proptest! {
        #[test]
        fn minor_units_round_trip(minor in 0i64..100_000_000_000_000) {
            let m = Money::from_minor(minor, &eur()).unwrap();
            prop_assert_eq!(m.minor(), minor);
            let again = Money::parse(&m.to_string(), &eur()).unwrap();
            prop_assert_eq!(again, m);
        }

        #[test]
        fn add_then_sub_is_identity(a in 0i64..1_000_000_000_000, b in 0i64..1_000_000_000_000) {
            let c = eur();
            let x = Money::from_minor(a, &c).unwrap();
            let y = Money::from_minor(b, &c).unwrap();
            let sum = x.checked_add(&y).unwrap();
            prop_assert_eq!(sum.minor(), a + b);
            prop_assert_eq!(sum.checked_sub(&y).unwrap(), x.clone());
            prop_assert_eq!(x.checked_sub(&sum).is_err(), b > 0);
        }

        #[test]
        fn parse_never_accepts_over_scale(whole in 0u32..100000, frac in 0u32..1000) {
            let text = format!("{whole}.{frac:03}");
            let parsed = Money::parse(&text, &eur());
            if frac % 10 == 0 {
                prop_assert!(parsed.is_ok());
            } else {
                prop_assert!(parsed.is_err());
            }
        }
    }
}
