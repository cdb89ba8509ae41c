//! Money: a currency with its scale, and amounts that can only hold values valid in it.
//!
//! Amounts are `rust_decimal::Decimal` in code and integer minor units (`i64`) in storage.
//! They are parsed from canonical decimal strings only, never from floats: digits, an optional
//! point and at most the currency's decimals. "1.50" and "1.5" are fine; "1.501" and "1.500"
//! EUR, " 1.00 ", "+1.00", "-0", "1.", ".5" and "1e2" are refused. A `Money` always fits its
//! minor units in an `i64`: an amount that would not is refused when it is made.

use std::fmt;

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

/// `minor` units of `currency` as signed text ("12.50", "-1.00" for a stored debit), or
/// `invalid(<minor>)` for a value the currency cannot hold: for frames, statements and logs
/// built from stored minor units.
pub fn minor_text(minor: i64, currency: &Currency) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    minor
        .checked_abs()
        .ok_or(MoneyError::TooLarge)
        .and_then(|size| Money::from_minor(size, currency))
        .map(|m| format!("{sign}{m}"))
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

/// Longest amount text read: more digits than any amount `Money` can hold.
const MAX_AMOUNT_TEXT: usize = 40;

/// A non-negative amount of one currency, always at exactly the currency's scale, with its
/// minor units (which always fit in an `i64`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Parses a client-supplied decimal string. Accepts zero; use [`Money::parse_positive`] for bets.
    /// The text must be canonical: ASCII digits, then optionally a point and 1 to `scale`
    /// digits. Nothing else: no sign, no spaces, no exponent, no digit group separators.
    pub fn parse(text: &str, currency: &Currency) -> Result<Self, MoneyError> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        if text.len() > MAX_AMOUNT_TEXT || !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
            // "-1.00" deserves the clearer answer: it is a number, just not one we take.
            let negative = text
                .strip_prefix('-')
                .is_some_and(|rest| rest.len() < text.len() && Self::parse(rest, currency).is_ok());
            return Err(if negative {
                MoneyError::Negative
            } else {
                MoneyError::NotADecimal
            });
        }
        let decimals = fraction.map_or(0, str::len);
        if decimals > currency.scale as usize {
            return Err(MoneyError::TooManyDecimals {
                currency: currency.code.clone(),
                got: decimals as u32,
                allowed: currency.scale,
            });
        }
        let amount = Decimal::from_str_exact(text).map_err(|_| MoneyError::NotADecimal)?;
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
        // At exactly the currency's scale, the mantissa is the count of minor units.
        let minor = amount.mantissa().to_i64().ok_or(MoneyError::TooLarge)?;
        Ok(Self {
            amount,
            minor,
            currency: currency.clone(),
        })
    }

    pub fn zero(currency: &Currency) -> Self {
        let mut amount = Decimal::ZERO;
        amount.rescale(currency.scale);
        Self {
            amount,
            minor: 0,
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

    /// Integer minor units: exact, counted when the amount was made (an amount whose minor
    /// units do not fit in an `i64` cannot exist).
    pub fn minor(&self) -> i64 {
        self.minor
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

    /// Stored debits are negative: shown signed, never as invalid.
    #[test]
    fn stored_minor_units_read_back_signed() {
        assert_eq!(minor_text(-100, &eur()), "-1.00");
        assert_eq!(minor_text(250, &eur()), "2.50");
        assert_eq!(minor_text(0, &eur()), "0.00");
        assert_eq!(minor_text(-5, &eur()), "-0.05");
        assert_eq!(
            minor_text(i64::MIN, &eur()),
            format!("invalid({})", i64::MIN)
        );
    }

    #[test]
    fn parses_valid_amounts_at_currency_scale() {
        assert_eq!(Money::parse("1.5", &eur()).unwrap().to_string(), "1.50");
        assert_eq!(Money::parse("1.50", &eur()).unwrap().minor(), 150);
        assert_eq!(Money::parse("0", &eur()).unwrap().to_string(), "0.00");
        assert_eq!(Money::parse("007.10", &eur()).unwrap().minor(), 710);
        let jpy = Currency::new("JPY", 0).unwrap();
        assert_eq!(Money::parse("300", &jpy).unwrap().minor(), 300);
    }

    /// Only canonical strings: what a lenient parser let through before is refused now.
    #[test]
    fn refuses_every_non_canonical_amount() {
        let c = eur();
        for text in [
            " 1.00",
            "1.00 ",
            " 1.00 ",
            "+1.00",
            "--1",
            "- 1",
            "1.",
            ".5",
            "1..0",
            "1.0.0",
            "1,00",
            "1_000",
            "1e2",
            "0x10",
            "١.٠٠",
            "１.００",
            "inf",
            "1.00\n",
            "\t1",
        ] {
            assert_eq!(
                Money::parse(text, &c),
                Err(MoneyError::NotADecimal),
                "{text:?}"
            );
        }
        for negative in ["-0", "-0.00", "-1", "-1.50"] {
            assert_eq!(
                Money::parse(negative, &c),
                Err(MoneyError::Negative),
                "{negative}"
            );
        }
        assert!(matches!(
            Money::parse("1.500", &c),
            Err(MoneyError::TooManyDecimals { got: 3, .. })
        ));
        let jpy = Currency::new("JPY", 0).unwrap();
        assert!(matches!(
            Money::parse("3.0", &jpy),
            Err(MoneyError::TooManyDecimals { got: 1, .. })
        ));
        assert_eq!(
            Money::parse(&"1".repeat(41), &c),
            Err(MoneyError::NotADecimal)
        );
    }

    /// An amount whose minor units would not fit in an i64 is refused when made; `minor()`
    /// never saturates.
    #[test]
    fn minor_units_that_do_not_fit_are_an_error() {
        let fine = Currency::new("SAT", 8).unwrap();
        assert_eq!(
            Money::parse("999999999999.99999999", &fine),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(
            Money::from_decimal(Decimal::from(MAX_AMOUNT_MAJOR - 1), &fine),
            Err(MoneyError::TooLarge)
        );
        let most = Money::parse("92233720368.54775807", &fine).unwrap();
        assert_eq!(most.minor(), i64::MAX);
        assert_eq!(
            most.checked_add(&Money::from_minor(1, &fine).unwrap()),
            Err(MoneyError::TooLarge)
        );
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
            let too_many = matches!(
                Money::parse(&text, &eur()),
                Err(MoneyError::TooManyDecimals { .. })
            );
            prop_assert!(too_many, "{}", text);
            let two = format!("{whole}.{:02}", frac % 100);
            prop_assert_eq!(Money::parse(&two, &eur()).unwrap().to_string(), two);
        }

        /// Any text at all: the parser answers, never panics, and what it accepts prints back
        /// as the same amount.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,48}") {
            if let Ok(m) = Money::parse(&text, &eur()) {
                prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
                prop_assert_eq!(Money::parse(&m.to_string(), &eur()).unwrap(), m);
            }
        }
    }
}
