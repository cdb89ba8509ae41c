//! Spin evaluation: turns reel stops into the grid, the line wins, the scatter win, the free
//! spins awarded and the exact win multiple — the [`SpinOutcome`] stored in the ledger and sent
//! to players. Pure functions; [`spin`] is the only place that draws randomness.
//!
//! The line rule lives in one function ([`best_line_win`]) used both here and by the PAR-sheet
//! enumeration, so the exact RTP is computed from the very code that pays players.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rng::RandomSource;

use super::config::{SlotGame, Sym, MAX_REELS, MAX_SYMBOL_ID_LEN};

/// A symbol id held inline (ids are at most [`MAX_SYMBOL_ID_LEN`] bytes), so building an
/// outcome allocates no strings. Serialised as a plain JSON string.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SymbolId {
    len: u8,
    bytes: [u8; MAX_SYMBOL_ID_LEN],
}

impl SymbolId {
    /// `None` if `id` is longer than [`MAX_SYMBOL_ID_LEN`] bytes.
    pub fn new(id: &str) -> Option<SymbolId> {
        if id.len() > MAX_SYMBOL_ID_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_SYMBOL_ID_LEN];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        Some(SymbolId {
            len: id.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Built from a whole `&str`, so the bytes are valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl std::ops::Deref for SymbolId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for SymbolId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SymbolId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for SymbolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SymbolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for SymbolId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SymbolId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SymbolId::new(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "symbol id {text:?} is longer than {MAX_SYMBOL_ID_LEN} bytes"
            ))
        })
    }
}

/// Which kind of spin is being played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpinMode {
    /// A paid spin: wins × 1, scatters may award free spins.
    Base,
    /// A free spin: wins × `multiplier`; scatters award more only if the game allows retriggers.
    Free { multiplier: u32 },
}

impl SpinMode {
    pub fn multiplier(self) -> u32 {
        match self {
            SpinMode::Base => 1,
            SpinMode::Free { multiplier } => multiplier,
        }
    }
}

/// One paying line. `pay` is in line bets, before the free-spin multiplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineWin {
    /// 1-based payline number.
    pub line: u32,
    pub symbol: SymbolId,
    /// How many reels, from reel 1, the win covers.
    pub count: u32,
    pub pay: u32,
}

/// The scatter win. `pay` is in total bets, before the free-spin multiplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScatterWin {
    pub symbol: SymbolId,
    /// Scatters anywhere in the grid.
    pub count: u32,
    pub pay: u32,
}

/// Everything a spin produced. Its JSON form is part of the protocol (`spin_result.outcome`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpinOutcome {
    /// Strip position of each reel; row 0 shows `strip[stop]`.
    pub stops: Vec<u32>,
    /// `grid[row][reel]`.
    pub grid: Vec<Vec<SymbolId>>,
    pub line_wins: Vec<LineWin>,
    /// Present only when the scatters pay.
    pub scatter_win: Option<ScatterWin>,
    pub free_spins_awarded: u32,
    /// 1 in the base game, the free-spin multiplier in free spins.
    pub multiplier: u32,
    /// Exact total win in total bets: (Σ line pays ÷ lines + scatter pay) × multiplier.
    pub win_multiple: Decimal,
}

impl SpinOutcome {
    /// Whether anything was won (free spins alone do not count).
    pub fn is_win(&self) -> bool {
        !self.win_multiple.is_zero()
    }
}

/// Draws one stop per reel with the unbiased `below(strip length)`, in reel order, then
/// evaluates. Nothing else consumes randomness.
pub fn spin(game: &SlotGame, mode: SpinMode, rng: &mut impl RandomSource) -> SpinOutcome {
    let stops: Vec<u32> = (0..game.reels())
        .map(|reel| rng.below(game.strip_len(reel) as u32))
        .collect();
    evaluate(game, &stops, mode)
}

/// Evaluates the grid shown by `stops` (one per reel). Row `r` of reel `i` shows
/// `strip_i[(stop_i + r) % len_i]`. Never panics: a stop past the strip end wraps around, a
/// missing stop counts as 0 and extra stops are ignored; the outcome records the stops actually
/// used. Use [`SlotGame::check_stops`] to reject such input instead.
pub fn evaluate(game: &SlotGame, stops: &[u32], mode: SpinMode) -> SpinOutcome {
    let stops: Vec<u32> = (0..game.reels())
        .map(|reel| {
            stops
                .get(reel)
                .map_or(0, |&s| s % game.strip_len(reel) as u32)
        })
        .collect();
    let columns: [&[Sym]; MAX_REELS] = std::array::from_fn(|reel| match stops.get(reel) {
        Some(&stop) => game.window(reel, stop as usize),
        None => &[],
    });
    let columns = &columns[..stops.len()];

    let grid = (0..game.rows())
        .map(|row| columns.iter().map(|col| game.symbol_id(col[row])).collect())
        .collect();

    let mut line_wins = Vec::new();
    let mut line_pay_sum: u64 = 0;
    for (i, line) in game.paylines().iter().enumerate() {
        if let Some(win) = best_line_win(game, |reel| columns[reel][line[reel]]) {
            line_pay_sum += u64::from(win.pay);
            line_wins.push(LineWin {
                line: i as u32 + 1,
                symbol: game.symbol_id(win.symbol),
                count: win.count as u32,
                pay: win.pay,
            });
        }
    }

    let scatters: u32 = (0..stops.len())
        .map(|reel| game.scatters_in_view(reel, stops[reel] as usize))
        .sum();
    let scatter_pay = game.scatter_pay(scatters as usize);
    let scatter_win = match game.scatter_sym() {
        Some(symbol) if scatter_pay > 0 => Some(ScatterWin {
            symbol: game.symbol_id(symbol),
            count: scatters,
            pay: scatter_pay,
        }),
        _ => None,
    };

    let multiplier = mode.multiplier();
    let units = win_units(line_pay_sum, scatter_pay, game.lines()) * u64::from(multiplier);
    SpinOutcome {
        stops,
        grid,
        line_wins,
        scatter_win,
        free_spins_awarded: game.award(scatters, mode),
        multiplier,
        win_multiple: units_to_multiple(units, game.lines()),
    }
}

/// A spin's win in units of 1/lines of the total bet: Σ line pays + lines × scatter pay.
#[inline]
pub(crate) fn win_units(line_pay_sum: u64, scatter_pay: u32, lines: usize) -> u64 {
    line_pay_sum + lines as u64 * u64::from(scatter_pay)
}

/// `units / lines` as an exact decimal, without trailing zeros: 10 units on 5 lines is "2".
/// Config validation guarantees `lines` divides a power of ten, 10^k = lines × f, so
/// units / lines = units × f / 10^k exactly.
pub(crate) fn units_to_multiple(units: u64, lines: usize) -> Decimal {
    let lines = lines.max(1) as u128;
    let mut scale = 0u32;
    let mut power = 1u128;
    while power % lines != 0 && scale < 28 {
        power *= 10;
        scale += 1;
    }
    let mantissa = u128::from(units) * (power / lines);
    Decimal::from_i128_with_scale(mantissa as i128, scale).normalize()
}

/// The single win paid on one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BestLineWin {
    pub symbol: Sym,
    pub count: usize,
    pub pay: u32,
}

/// The line rule (see docs/games.md), fed one reel at a time from reel 1: leading wilds may
/// pay on their own; the first non-wild symbol, substituted by wilds before and after it, pays
/// for the length of its run; the higher of the two is paid, the substituted symbol on a tie.
/// Scatters and symbols without line pays end the run and pay nothing. The live evaluation and
/// the PAR-sheet enumeration both use exactly this code.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineRun {
    wild: Option<Sym>,
    /// Leading wilds so far.
    wilds: usize,
    /// The first non-wild symbol and the length of its run (wilds included).
    symbol: Option<(Sym, usize)>,
    /// A symbol broke the run: later reels cannot change the result.
    settled: bool,
}

impl LineRun {
    #[inline]
    pub(crate) fn new(game: &SlotGame) -> LineRun {
        LineRun {
            wild: game.wild_sym(),
            wilds: 0,
            symbol: None,
            settled: false,
        }
    }

    /// Adds the symbol of the next reel.
    #[inline]
    pub(crate) fn push(&mut self, s: Sym) {
        if self.settled {
            return;
        }
        let is_wild = Some(s) == self.wild;
        match &mut self.symbol {
            None if is_wild => self.wilds += 1,
            None => self.symbol = Some((s, self.wilds + 1)),
            Some((symbol, count)) if *symbol == s || is_wild => *count += 1,
            Some(_) => self.settled = true,
        }
    }

    /// Whether later reels can no longer change the result.
    #[inline]
    pub(crate) fn is_settled(&self) -> bool {
        self.settled
    }

    /// The win of the reels pushed so far, if any.
    #[inline]
    pub(crate) fn finish(&self, game: &SlotGame) -> Option<BestLineWin> {
        let mut best = None;
        let mut wild_pay = 0;
        if let Some(w) = self.wild.filter(|_| self.wilds > 0) {
            wild_pay = game.line_pays_of(w)[self.wilds];
            if wild_pay > 0 {
                best = Some(BestLineWin {
                    symbol: w,
                    count: self.wilds,
                    pay: wild_pay,
                });
            }
        }
        if let Some((symbol, count)) = self.symbol {
            let pay = game.line_pays_of(symbol)[count];
            if pay > 0 && pay >= wild_pay {
                best = Some(BestLineWin { symbol, count, pay });
            }
        }
        best
    }
}

/// The single win paid on one line; `symbol_at(reel)` gives the line's symbol on each reel.
#[inline]
pub(crate) fn best_line_win(
    game: &SlotGame,
    symbol_at: impl Fn(usize) -> Sym,
) -> Option<BestLineWin> {
    let mut run = LineRun::new(game);
    for reel in 0..game.reels() {
        run.push(symbol_at(reel));
        if run.is_settled() {
            break;
        }
    }
    run.finish(game)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::slot::test_games::{classic, grid_game, grid_game_with, starfall};
    use crate::money::{Currency, Money};
    use proptest::prelude::*;

    const B: &str = "BLANK";
    const W: &str = "WILD";
    const S: &str = "STAR";

    fn base(grid: [[&str; 5]; 3]) -> SpinOutcome {
        evaluate(&grid_game(grid), &[0; 5], SpinMode::Base)
    }

    fn win(line: u32, symbol: &str, count: u32, pay: u32) -> LineWin {
        LineWin {
            line,
            symbol: SymbolId::new(symbol).unwrap(),
            count,
            pay,
        }
    }

    fn middle(row: [&'static str; 5]) -> SpinOutcome {
        base([[B; 5], row, [B; 5]])
    }

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn each_line_type_pays_left_to_right() {
        let out = base([
            ["K", "K", "Q", B, B],
            ["A", "A", "A", "K", B],
            ["Q", "Q", "Q", "Q", "Q"],
        ]);
        assert_eq!(out.grid[1][2], "A", "grid is [row][reel]");
        assert_eq!(
            out.line_wins,
            vec![win(1, "A", 3, 10), win(2, "K", 2, 2), win(3, "Q", 5, 20)]
        );
        assert_eq!(out.scatter_win, None);
        assert_eq!(out.win_multiple, dec("8"), "32 line bets on 4 lines");
        assert_eq!((out.multiplier, out.free_spins_awarded), (1, 0));
    }

    #[test]
    fn the_v_line_follows_its_rows_and_wild_substitutes() {
        let out = base([["A", B, B, B, "A"], [B, "A", B, "A", B], [B, B, W, B, B]]);
        assert_eq!(out.line_wins, vec![win(4, "A", 5, 100)]);
        assert_eq!(out.win_multiple, dec("25"));
    }

    #[test]
    fn leading_wilds_pay_the_better_of_wild_alone_and_the_substituted_symbol() {
        assert_eq!(
            middle([W, W, W, "K", "Q"]).line_wins,
            vec![win(1, W, 3, 50)]
        );
        assert_eq!(
            middle([W, W, W, "A", "A"]).line_wins,
            vec![win(1, "A", 5, 100)]
        );
        // Tie (WILD ×3 = K ×5 = 50): the substituted symbol is reported.
        assert_eq!(
            middle([W, W, W, "K", "K"]).line_wins,
            vec![win(1, "K", 5, 50)]
        );
        assert_eq!(middle([W; 5]).line_wins, vec![win(1, W, 5, 1000)]);
        assert_eq!(middle([W, "K", B, B, B]).line_wins, vec![win(1, "K", 2, 2)]);
        assert_eq!(
            middle(["A", W, "A", W, "K"]).line_wins,
            vec![win(1, "A", 4, 40)]
        );
    }

    #[test]
    fn runs_stop_at_scatters_and_symbols_without_line_pays() {
        assert_eq!(
            middle([W, W, S, "A", "A"]).line_wins,
            vec![],
            "2 wilds pay nothing"
        );
        assert_eq!(middle([W, W, W, S, "A"]).line_wins, vec![win(1, W, 3, 50)]);
        assert_eq!(middle([W, W, B, "A", "A"]).line_wins, vec![]);
        assert_eq!(middle([B, "A", "A", "A", "A"]).line_wins, vec![]);
        assert_eq!(middle(["A", "A", B, "A", "A"]).line_wins, vec![]);
    }

    #[test]
    fn scatters_pay_anywhere_and_never_on_lines() {
        let out = middle([S, S, S, B, B]);
        assert_eq!(out.line_wins, vec![]);
        assert_eq!(
            out.scatter_win,
            Some(ScatterWin {
                symbol: SymbolId::new(S).unwrap(),
                count: 3,
                pay: 5
            })
        );
        assert_eq!(out.free_spins_awarded, 10);
        assert_eq!(out.win_multiple, dec("5"));

        let two = base([[S, B, B, B, B], [B; 5], [B, B, B, S, B]]);
        assert_eq!(
            two.scatter_win.as_ref().map(|s| (s.count, s.pay)),
            Some((2, 1))
        );
        assert_eq!((two.free_spins_awarded, two.win_multiple), (0, dec("1")));

        // "n or more": 4 scatters pay the 3+ entry and award the 4+ spins.
        let four = base([[S, B, B, B, S], [B, S, B, B, B], [B, B, B, S, B]]);
        assert_eq!(
            four.scatter_win.as_ref().map(|s| (s.count, s.pay)),
            Some((4, 5))
        );
        assert_eq!(four.free_spins_awarded, 15);
        assert_eq!(base([[B; 5]; 3]).scatter_win, None);
    }

    #[test]
    fn free_spins_apply_the_multiplier_and_retrigger_only_if_allowed() {
        let grid = [[S, B, S, B, S], ["A", "A", "A", "K", B], [B; 5]];
        let game = grid_game(grid);
        let paid = evaluate(&game, &[0; 5], SpinMode::Base);
        assert_eq!(
            paid.win_multiple,
            dec("7.5"),
            "10 line bets / 4 lines + 5 total bets"
        );
        assert_eq!((paid.multiplier, paid.free_spins_awarded), (1, 10));

        let free = evaluate(&game, &[0; 5], SpinMode::Free { multiplier: 3 });
        assert_eq!(free.win_multiple, dec("22.5"));
        assert_eq!((free.multiplier, free.free_spins_awarded), (3, 10));
        assert_eq!(
            free.line_wins, paid.line_wins,
            "pays are reported before the multiplier"
        );
        assert_eq!(free.scatter_win, paid.scatter_win);

        let no_retrigger = grid_game_with(grid, false);
        let free = evaluate(&no_retrigger, &[0; 5], SpinMode::Free { multiplier: 3 });
        assert_eq!(
            (free.free_spins_awarded, free.win_multiple),
            (0, dec("22.5"))
        );
        let paid = evaluate(&no_retrigger, &[0; 5], SpinMode::Base);
        assert_eq!(paid.free_spins_awarded, 10);
    }

    #[test]
    fn win_multiple_is_exact() {
        // K×2 on top and V (2 + 2) and K×3 in the middle (5): 9 line bets / 4 lines.
        let grid = [["K", "K", B, B, B], ["K", "K", "K", B, B], [B; 5]];
        let out = base(grid);
        assert_eq!(
            out.line_wins,
            vec![win(1, "K", 3, 5), win(2, "K", 2, 2), win(4, "K", 2, 2)]
        );
        assert_eq!(out.win_multiple.to_string(), "2.25");
        let grid = [["K", "K", B, B, S], ["K", "K", "K", B, B], [B, B, B, S, B]];
        let game = grid_game(grid);
        assert_eq!(
            evaluate(&game, &[0; 5], SpinMode::Base)
                .win_multiple
                .to_string(),
            "3.25"
        );
        let free = evaluate(&game, &[0; 5], SpinMode::Free { multiplier: 3 });
        assert_eq!(free.win_multiple.to_string(), "9.75");
        assert_eq!(base([[B; 5]; 3]).win_multiple.to_string(), "0");
    }

    #[test]
    fn units_convert_to_exact_decimals() {
        assert_eq!(units_to_multiple(10, 5).to_string(), "2");
        assert_eq!(units_to_multiple(1, 20).to_string(), "0.05");
        assert_eq!(units_to_multiple(7, 4).to_string(), "1.75");
        assert_eq!(units_to_multiple(3, 100).to_string(), "0.03");
        assert_eq!(units_to_multiple(0, 20).to_string(), "0");
        assert_eq!(units_to_multiple(123_456_789, 1).to_string(), "123456789");
    }

    /// The example `spin_result.outcome` of docs/protocol.md, reproduced by the shipped game.
    #[test]
    fn classic_sevens_reproduces_the_protocol_example() {
        let out = evaluate(&classic(), &[3, 17, 9], SpinMode::Base);
        let expected: serde_json::Value = serde_json::from_str(
            r#"{"stops": [3, 17, 9],
   "grid": [["BAR", "SEVEN", "CHERRY"], ["CHERRY", "CHERRY", "CHERRY"], ["BELL", "BAR", "PLUM"]],
   "line_wins": [{"line": 1, "symbol": "CHERRY", "count": 3, "pay": 10}],
   "scatter_win": null, "free_spins_awarded": 0, "multiplier": 1, "win_multiple": "2"}"#,
        )
        .unwrap();
        assert_eq!(serde_json::to_value(&out).unwrap(), expected);
        let text = serde_json::to_string(&out).unwrap();
        assert_eq!(
            text,
            r#"{"stops":[3,17,9],"grid":[["BAR","SEVEN","CHERRY"],["CHERRY","CHERRY","CHERRY"],["BELL","BAR","PLUM"]],"line_wins":[{"line":1,"symbol":"CHERRY","count":3,"pay":10}],"scatter_win":null,"free_spins_awarded":0,"multiplier":1,"win_multiple":"2"}"#
        );
        let eur = Currency::new("EUR", 2).unwrap();
        let bet = Money::parse("1.00", &eur).unwrap();
        assert_eq!(bet.mul_floor(out.win_multiple).unwrap().to_string(), "2.00");
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        let out = base([[S, B, S, B, S], ["A", "A", "A", "K", B], [B; 5]]);
        let text = serde_json::to_string(&out).unwrap();
        assert!(
            text.contains(r#""scatter_win":{"symbol":"STAR","count":3,"pay":5}"#),
            "{text}"
        );
        assert!(text.contains(r#""win_multiple":"7.5""#), "{text}");
        let back: SpinOutcome = serde_json::from_str(&text).unwrap();
        assert_eq!(back, out);
        let too_long = text.replace("\"STAR\"", "\"STARSTARSTARSTARS\"");
        assert!(serde_json::from_str::<SpinOutcome>(&too_long).is_err());
    }

    #[test]
    fn stops_wrap_and_missing_stops_count_as_zero() {
        let game = classic();
        let reference = evaluate(&game, &[3, 17, 9], SpinMode::Base);
        let wrapped = evaluate(&game, &[3 + 24, 17 + 48, 9 + 24 * 1000], SpinMode::Base);
        assert_eq!(wrapped, reference, "outcome records the stops used");
        let huge = evaluate(&game, &[u32::MAX, u32::MAX, u32::MAX], SpinMode::Base);
        assert_eq!(huge.stops, vec![u32::MAX % 24; 3]);
        let short = evaluate(&game, &[3], SpinMode::Base);
        assert_eq!(short.stops, vec![3, 0, 0]);
        assert_eq!(evaluate(&game, &[3, 17, 9, 5], SpinMode::Base), reference);
    }

    use crate::rng::testing::Script;

    #[test]
    fn spin_draws_one_unbiased_stop_per_reel_and_nothing_else() {
        let game = classic();
        let mut rng = Script(vec![3, 24 + 17, 9], 0);
        let out = spin(&game, SpinMode::Base, &mut rng);
        assert_eq!(out, evaluate(&game, &[3, 17, 9], SpinMode::Base));
        assert_eq!(rng.1, 3, "exactly one draw per reel");
        // 2^32 mod 24 = 16: the top 16 values are rejected and redrawn.
        let mut rng = Script(vec![u32::MAX, 5, 6, 7], 0);
        assert_eq!(spin(&game, SpinMode::Base, &mut rng).stops, vec![5, 6, 7]);
        assert_eq!(rng.1, 4);
    }

    fn any_mode() -> impl Strategy<Value = SpinMode> {
        prop_oneof![
            Just(SpinMode::Base),
            (1u32..=10).prop_map(|multiplier| SpinMode::Free { multiplier })
        ]
    }

    proptest! {
        #[test]
        fn evaluate_is_consistent_for_any_stops(
            raw in proptest::collection::vec(any::<u32>(), 5),
            mode in any_mode(),
            bet_steps in 1u32..=500,
        ) {
            let game = starfall();
            let stops: Vec<u32> = raw.iter().enumerate()
                .map(|(reel, &r)| r % game.strip_lengths()[reel] as u32)
                .collect();
            let out = evaluate(&game, &stops, mode);
            prop_assert_eq!(&out.stops, &stops);
            for (row, cells) in out.grid.iter().enumerate() {
                for (reel, cell) in cells.iter().enumerate() {
                    let strip = game.strip(reel).unwrap();
                    prop_assert_eq!(cell.as_str(), strip[(stops[reel] as usize + row) % strip.len()]);
                }
            }
            let mut line_sum = 0u64;
            let mut previous_line = 0;
            for w in &out.line_wins {
                prop_assert!(w.line > previous_line && w.line as usize <= game.lines());
                previous_line = w.line;
                prop_assert_eq!(w.pay, game.line_pay(&w.symbol, w.count as usize));
                prop_assert!(w.pay > 0);
                line_sum += u64::from(w.pay);
            }
            let scatter_pay = out.scatter_win.as_ref().map_or(0, |s| s.pay);
            let expected = (Decimal::from(line_sum) / Decimal::from(game.lines() as u64)
                + Decimal::from(scatter_pay))
                * Decimal::from(mode.multiplier());
            prop_assert_eq!(out.win_multiple, expected);
            prop_assert_eq!(out.multiplier, mode.multiplier());

            // Any valid bet times the win multiple is exact in cents: flooring loses nothing.
            let eur = Currency::new("EUR", 2).unwrap();
            let bet = Money::from_decimal(game.bet_step() * Decimal::from(bet_steps), &eur).unwrap();
            let paid = bet.mul_floor(out.win_multiple).unwrap();
            prop_assert_eq!(paid.amount(), bet.amount() * out.win_multiple);
        }

        #[test]
        fn classic_lines_never_pay_more_than_the_paytable(stops in proptest::collection::vec(0u32..24, 3)) {
            let game = classic();
            let out = evaluate(&game, &stops, SpinMode::Base);
            prop_assert_eq!(out.scatter_win, None);
            prop_assert_eq!(out.free_spins_awarded, 0);
            for w in &out.line_wins {
                prop_assert_eq!(w.pay, game.line_pay(&w.symbol, w.count as usize));
            }
        }
    }
}
