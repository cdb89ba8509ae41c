//! European roulette rules: the single-zero wheel, every bet type of the standard layout (parsed
//! so that only layouts that exist on the table can be represented), which pockets each bet
//! covers, what it pays, settlement of a spin, and the exact house edge of each bet.
//!
//! Pure functions only: no clock, no I/O. The pocket comes from [`draw_pocket`] with any
//! [`RandomSource`]; settling is a function of the stakes and that pocket.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};
use crate::rng::RandomSource;

/// Pockets on a single-zero wheel: 0 and 1..=36.
pub const POCKETS: u8 = 37;
/// Highest number on the wheel.
pub const MAX_NUMBER: u8 = POCKETS - 1;
/// Numbers per street (row of the layout) and number of columns.
const ROW_LEN: u8 = 3;
/// Numbers per dozen.
const DOZEN_LEN: u8 = 12;
/// The red numbers of the standard European layout; every other non-zero number is black.
pub const RED_NUMBERS: [u8; 18] = [
    1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouletteError {
    #[error("unknown bet kind {0:?}; expected one of straight, split, street, corner, six_line, column, dozen, red, black, even, odd, low, high")]
    UnknownKind(String),
    #[error("a {kind} bet covers {expected} number(s), got {got}")]
    WrongNumberCount {
        kind: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{0} is not on the wheel (pockets are 0 to 36)")]
    NumberOutOfRange(u8),
    #[error("number {0} is listed twice")]
    DuplicateNumber(u8),
    #[error("{kind} {numbers:?} is not a {kind} on the layout: {rule}")]
    NotOnLayout {
        kind: &'static str,
        numbers: Vec<u8>,
        rule: &'static str,
    },
    #[error("{kind} must be 1, 2 or 3, got {got}")]
    ThirdOutOfRange { kind: &'static str, got: u8 },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Two numbers next to each other on the layout (side by side or one above the other),
/// or 0 with 1, 2 or 3. Held as (low, high).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Split(u8, u8);

/// A row of three (n, n+1, n+2 with n = 1, 4, …, 34) or a trio 0-1-2 / 0-2-3. Held sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Street([u8; 3]);

/// Four numbers meeting at a corner (n, n+1, n+3, n+4 with n not in the right-hand column),
/// or the "first four" 0-1-2-3. Held sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Corner([u8; 4]);

/// Two adjacent streets: n..=n+5 with n = 1, 4, …, 31. Holds n.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SixLine(u8);

/// A column or dozen number, 1..=3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Third(u8);

/// A pocket of the wheel, 0..=36.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pocket(u8);

impl Pocket {
    pub fn new(number: u8) -> Result<Self, RouletteError> {
        if number > MAX_NUMBER {
            return Err(RouletteError::NumberOutOfRange(number));
        }
        Ok(Self(number))
    }

    pub fn number(self) -> u8 {
        self.0
    }
}

impl Split {
    pub fn numbers(self) -> [u8; 2] {
        [self.0, self.1]
    }
}

impl Street {
    pub fn numbers(self) -> [u8; 3] {
        self.0
    }
}

impl Corner {
    pub fn numbers(self) -> [u8; 4] {
        self.0
    }
}

impl SixLine {
    pub fn numbers(self) -> [u8; 6] {
        let n = self.0;
        [n, n + 1, n + 2, n + 3, n + 4, n + 5]
    }
}

impl Third {
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A bet on the European layout. Every value is a bet that exists on the table: the inner
/// types can only be built by [`RouletteBet::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "BetSpec", try_from = "BetSpec")]
pub enum RouletteBet {
    Straight(Pocket),
    Split(Split),
    Street(Street),
    Corner(Corner),
    SixLine(SixLine),
    Column(Third),
    Dozen(Third),
    Red,
    Black,
    Even,
    Odd,
    /// 1–18.
    Low,
    /// 19–36.
    High,
}

/// The wire form of a bet: `{"kind": "split", "numbers": [0, 2]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BetSpec {
    pub kind: String,
    #[serde(default)]
    pub numbers: Vec<u8>,
}

impl From<RouletteBet> for BetSpec {
    fn from(bet: RouletteBet) -> Self {
        let numbers = match bet {
            RouletteBet::Column(t) | RouletteBet::Dozen(t) => vec![t.0],
            RouletteBet::Straight(_)
            | RouletteBet::Split(_)
            | RouletteBet::Street(_)
            | RouletteBet::Corner(_)
            | RouletteBet::SixLine(_) => bet.numbers(),
            _ => Vec::new(),
        };
        Self {
            kind: bet.kind().to_string(),
            numbers,
        }
    }
}

impl TryFrom<BetSpec> for RouletteBet {
    type Error = RouletteError;
    fn try_from(spec: BetSpec) -> Result<Self, Self::Error> {
        RouletteBet::parse(&spec.kind, &spec.numbers)
    }
}

impl RouletteBet {
    /// Parses a bet from its kind and the numbers it covers (any order). Column and dozen take
    /// `[1]`, `[2]` or `[3]`; the even-money bets take no numbers.
    pub fn parse(kind: &str, numbers: &[u8]) -> Result<RouletteBet, RouletteError> {
        match kind {
            "straight" => {
                let [n] = sorted_distinct::<1>("straight", numbers)?;
                Ok(RouletteBet::Straight(Pocket(n)))
            }
            "split" => parse_split(numbers).map(RouletteBet::Split),
            "street" => parse_street(numbers).map(RouletteBet::Street),
            "corner" => parse_corner(numbers).map(RouletteBet::Corner),
            "six_line" => parse_six_line(numbers).map(RouletteBet::SixLine),
            "column" => parse_third("column", numbers).map(RouletteBet::Column),
            "dozen" => parse_third("dozen", numbers).map(RouletteBet::Dozen),
            "red" => outside(RouletteBet::Red, numbers),
            "black" => outside(RouletteBet::Black, numbers),
            "even" => outside(RouletteBet::Even, numbers),
            "odd" => outside(RouletteBet::Odd, numbers),
            "low" => outside(RouletteBet::Low, numbers),
            "high" => outside(RouletteBet::High, numbers),
            other => Err(RouletteError::UnknownKind(other.to_string())),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            RouletteBet::Straight(_) => "straight",
            RouletteBet::Split(_) => "split",
            RouletteBet::Street(_) => "street",
            RouletteBet::Corner(_) => "corner",
            RouletteBet::SixLine(_) => "six_line",
            RouletteBet::Column(_) => "column",
            RouletteBet::Dozen(_) => "dozen",
            RouletteBet::Red => "red",
            RouletteBet::Black => "black",
            RouletteBet::Even => "even",
            RouletteBet::Odd => "odd",
            RouletteBet::Low => "low",
            RouletteBet::High => "high",
        }
    }

    /// The pockets this bet wins on, ascending.
    pub fn numbers(&self) -> Vec<u8> {
        match self {
            RouletteBet::Straight(p) => vec![p.0],
            RouletteBet::Split(s) => s.numbers().to_vec(),
            RouletteBet::Street(s) => s.numbers().to_vec(),
            RouletteBet::Corner(c) => c.numbers().to_vec(),
            RouletteBet::SixLine(s) => s.numbers().to_vec(),
            _ => (0..=MAX_NUMBER).filter(|&n| self.wins(n)).collect(),
        }
    }

    /// Winnings per unit staked (the stake itself is returned on top).
    pub fn payout_to_one(&self) -> u32 {
        match self {
            RouletteBet::Straight(_) => 35,
            RouletteBet::Split(_) => 17,
            RouletteBet::Street(_) => 11,
            RouletteBet::Corner(_) => 8,
            RouletteBet::SixLine(_) => 5,
            RouletteBet::Column(_) | RouletteBet::Dozen(_) => 2,
            RouletteBet::Red
            | RouletteBet::Black
            | RouletteBet::Even
            | RouletteBet::Odd
            | RouletteBet::Low
            | RouletteBet::High => 1,
        }
    }

    /// Whether the ball landing in `pocket` wins this bet. Zero loses every outside bet.
    /// A pocket that is not on the wheel wins nothing.
    pub fn wins(&self, pocket: u8) -> bool {
        if pocket > MAX_NUMBER {
            return false;
        }
        let n = pocket;
        let on_number = n != 0;
        match self {
            RouletteBet::Straight(p) => p.0 == n,
            RouletteBet::Split(s) => s.numbers().contains(&n),
            RouletteBet::Street(s) => s.numbers().contains(&n),
            RouletteBet::Corner(c) => c.numbers().contains(&n),
            RouletteBet::SixLine(s) => s.numbers().contains(&n),
            RouletteBet::Column(t) => on_number && column_of(n) == t.0,
            RouletteBet::Dozen(t) => on_number && dozen_of(n) == t.0,
            RouletteBet::Red => RED_NUMBERS.contains(&n),
            RouletteBet::Black => on_number && !RED_NUMBERS.contains(&n),
            RouletteBet::Even => on_number && n % 2 == 0,
            RouletteBet::Odd => n % 2 == 1,
            RouletteBet::Low => (1..=18).contains(&n),
            RouletteBet::High => (19..=36).contains(&n),
        }
    }
}

/// Column 1, 2 or 3 of a number 1..=36 (column 1 is 1, 4, …, 34).
fn column_of(n: u8) -> u8 {
    (n - 1) % ROW_LEN + 1
}

/// Dozen 1, 2 or 3 of a number 1..=36.
fn dozen_of(n: u8) -> u8 {
    (n - 1) / DOZEN_LEN + 1
}

/// Checks count, range and distinctness, and returns the numbers ascending.
fn sorted_distinct<const N: usize>(
    kind: &'static str,
    numbers: &[u8],
) -> Result<[u8; N], RouletteError> {
    let mut sorted: [u8; N] = numbers
        .try_into()
        .map_err(|_| RouletteError::WrongNumberCount {
            kind,
            expected: N,
            got: numbers.len(),
        })?;
    if let Some(&bad) = sorted.iter().find(|&&n| n > MAX_NUMBER) {
        return Err(RouletteError::NumberOutOfRange(bad));
    }
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(RouletteError::DuplicateNumber(pair[0]));
    }
    Ok(sorted)
}

fn not_on_layout(kind: &'static str, numbers: &[u8], rule: &'static str) -> RouletteError {
    RouletteError::NotOnLayout {
        kind,
        numbers: numbers.to_vec(),
        rule,
    }
}

/// True for numbers in the right-hand column (3, 6, …, 36): nothing lies to their right.
fn is_right_edge(n: u8) -> bool {
    n % ROW_LEN == 0
}

fn parse_split(numbers: &[u8]) -> Result<Split, RouletteError> {
    let [a, b] = sorted_distinct::<2>("split", numbers)?;
    let with_zero = a == 0 && b <= ROW_LEN;
    let side_by_side = a >= 1 && b == a + 1 && !is_right_edge(a);
    let one_above_other = a >= 1 && b == a + ROW_LEN;
    if with_zero || side_by_side || one_above_other {
        Ok(Split(a, b))
    } else {
        Err(not_on_layout(
            "split",
            numbers,
            "the two numbers must touch on the layout (or be 0 with 1, 2 or 3)",
        ))
    }
}

fn parse_street(numbers: &[u8]) -> Result<Street, RouletteError> {
    let sorted = sorted_distinct::<3>("street", numbers)?;
    let [a, b, c] = sorted;
    let trio = sorted == [0, 1, 2] || sorted == [0, 2, 3];
    let row = a % ROW_LEN == 1 && b == a + 1 && c == a + 2;
    if trio || row {
        Ok(Street(sorted))
    } else {
        Err(not_on_layout(
            "street",
            numbers,
            "a street is one row of three (1-2-3 … 34-35-36) or a trio 0-1-2 / 0-2-3",
        ))
    }
}

fn parse_corner(numbers: &[u8]) -> Result<Corner, RouletteError> {
    let sorted = sorted_distinct::<4>("corner", numbers)?;
    let [a, b, c, d] = sorted;
    let first_four = sorted == [0, 1, 2, 3];
    let square =
        a >= 1 && !is_right_edge(a) && b == a + 1 && c == a + ROW_LEN && d == a + ROW_LEN + 1;
    if first_four || square {
        Ok(Corner(sorted))
    } else {
        Err(not_on_layout(
            "corner",
            numbers,
            "a corner is four numbers forming a square (or the first four 0-1-2-3)",
        ))
    }
}

fn parse_six_line(numbers: &[u8]) -> Result<SixLine, RouletteError> {
    let sorted = sorted_distinct::<6>("six_line", numbers)?;
    let first = sorted[0];
    let consecutive = sorted
        .iter()
        .zip(first..)
        .all(|(&n, expected)| n == expected);
    if first % ROW_LEN == 1 && consecutive {
        Ok(SixLine(first))
    } else {
        Err(not_on_layout(
            "six_line",
            numbers,
            "a six line is two adjacent rows (1-6, 4-9, …, 31-36)",
        ))
    }
}

fn parse_third(kind: &'static str, numbers: &[u8]) -> Result<Third, RouletteError> {
    match numbers {
        [k @ 1..=3] => Ok(Third(*k)),
        [k] => Err(RouletteError::ThirdOutOfRange { kind, got: *k }),
        _ => Err(RouletteError::WrongNumberCount {
            kind,
            expected: 1,
            got: numbers.len(),
        }),
    }
}

fn outside(bet: RouletteBet, numbers: &[u8]) -> Result<RouletteBet, RouletteError> {
    if numbers.is_empty() {
        Ok(bet)
    } else {
        Err(RouletteError::WrongNumberCount {
            kind: bet.kind(),
            expected: 0,
            got: numbers.len(),
        })
    }
}

/// Spins the wheel: a uniform pocket 0..=36.
pub fn draw_pocket(rng: &mut impl RandomSource) -> u8 {
    // below(37) < 37 always fits in u8.
    rng.below(u32::from(POCKETS)) as u8
}

/// One bet placed on a spin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouletteStake {
    /// Opaque id chosen by the caller, echoed in the settlement.
    pub bet_id: String,
    pub bet: RouletteBet,
    pub amount: Money,
}

/// The result of one stake: `returned` is stake + winnings on a win, zero on a loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouletteSettlement {
    pub bet_id: String,
    pub won: bool,
    pub returned: Money,
}

/// Settles every stake against `pocket`, in the order given.
///
/// Fails only if `pocket` is not on the wheel or a return would exceed the largest amount
/// `Money` can hold.
pub fn settle(
    bets: &[RouletteStake],
    pocket: u8,
) -> Result<Vec<RouletteSettlement>, RouletteError> {
    Pocket::new(pocket)?;
    bets.iter()
        .map(|stake| {
            let won = stake.bet.wins(pocket);
            let returned = if won {
                // Integer payouts: stake × (payout + 1) is exact; mul_floor keeps the one rule.
                let factor = Decimal::from(stake.bet.payout_to_one()) + Decimal::ONE;
                stake.amount.mul_floor(factor)?
            } else {
                Money::zero(stake.amount.currency())
            };
            Ok(RouletteSettlement {
                bet_id: stake.bet_id.clone(),
                won,
                returned,
            })
        })
        .collect()
}

/// House edge as an exact reduced fraction (numerator, denominator), from the 37 pockets.
pub fn house_edge_fraction(bet: &RouletteBet) -> (i64, i64) {
    let payout = i64::from(bet.payout_to_one());
    // Net result per unit stake summed over the equally likely pockets.
    let net: i64 = (0..POCKETS)
        .map(|pocket| if bet.wins(pocket) { payout } else { -1 })
        .sum();
    let edge = crate::exact::Fraction::new(i128::from(-net), i128::from(POCKETS));
    (edge.numerator, edge.denominator)
}

/// House edge (expected loss per unit staked), computed by enumerating the 37 pockets.
pub fn house_edge(bet: &RouletteBet) -> Decimal {
    let (num, den) = house_edge_fraction(bet);
    Decimal::from(num) / Decimal::from(den)
}

/// Every distinct bet on the layout (157 of them), for tests and tools.
pub fn all_bets() -> Vec<RouletteBet> {
    let mut candidates: Vec<(&str, Vec<u8>)> = vec![
        ("split", vec![0, 2]),
        ("street", vec![0, 2, 3]),
        ("corner", vec![0, 1, 2, 3]),
    ];
    for a in 0..=MAX_NUMBER {
        candidates.push(("straight", vec![a]));
        candidates.push(("split", vec![a, a + 1]));
        candidates.push(("split", vec![a, a + ROW_LEN]));
        candidates.push(("street", vec![a, a + 1, a + 2]));
        candidates.push(("corner", vec![a, a + 1, a + 3, a + 4]));
        candidates.push(("six_line", (a..a + 6).collect()));
    }
    for k in 1..=3 {
        candidates.push(("column", vec![k]));
        candidates.push(("dozen", vec![k]));
    }
    for kind in ["red", "black", "even", "odd", "low", "high"] {
        candidates.push((kind, vec![]));
    }
    let mut bets: Vec<RouletteBet> = Vec::new();
    for (kind, numbers) in candidates {
        if let Ok(bet) = RouletteBet::parse(kind, &numbers) {
            if !bets.contains(&bet) {
                bets.push(bet);
            }
        }
    }
    bets
}

#[cfg(test)]
mod tests;
