//! Spin evaluation: turns reel stops into the grid, the line wins, the scatter win, the free
//! spins awarded and the exact win multiple — the [`SpinOutcome`] stored in the ledger and sent
//! to players. Pure functions; [`spin`] is the only place that draws randomness.
//!
//! The line rule lives in one function ([`best_line_win`]) used both here and by the PAR-sheet
//! enumeration, so the exact RTP is computed from the very code that pays players.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::rng::RandomSource;

use super::config::{SlotGame, Sym};

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
    pub symbol: String,
    /// How many reels, from reel 1, the win covers.
    pub count: u32,
    pub pay: u32,
}

/// The scatter win. `pay` is in total bets, before the free-spin multiplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScatterWin {
    pub symbol: String,
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
    pub grid: Vec<Vec<String>>,
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
    let stops: Vec<u32> = game
        .strip_lengths()
        .into_iter()
        .map(|len| rng.below(len as u32))
        .collect();
    evaluate(game, &stops, mode)
}

/// Evaluates the grid shown by `stops` (one per reel). Row `r` of reel `i` shows
/// `strip_i[(stop_i + r) % len_i]`. Never panics: a stop past the strip end wraps around, a
/// missing stop counts as 0 and extra stops are ignored; the outcome records the stops actually
/// used. Use [`SlotGame::check_stops`] to reject such input instead.
pub fn evaluate(game: &SlotGame, stops: &[u32], mode: SpinMode) -> SpinOutcome {
    let lengths = game.strip_lengths();
    let stops: Vec<u32> = lengths
        .iter()
        .enumerate()
        .map(|(reel, &len)| stops.get(reel).map_or(0, |&s| (s as usize % len) as u32))
        .collect();
    let columns: Vec<&[Sym]> = stops
        .iter()
        .enumerate()
        .map(|(reel, &stop)| game.window(reel, stop as usize))
        .collect();

    let grid = (0..game.rows())
        .map(|row| {
            columns
                .iter()
                .map(|col| game.symbol_name(col[row]).to_string())
                .collect()
        })
        .collect();

    let mut line_wins = Vec::new();
    let mut line_pay_sum: u64 = 0;
    for (i, line) in game.paylines().iter().enumerate() {
        if let Some(win) = best_line_win(game, |reel| columns[reel][line[reel]]) {
            line_pay_sum += u64::from(win.pay);
            line_wins.push(LineWin {
                line: i as u32 + 1,
                symbol: game.symbol_name(win.symbol).to_string(),
                count: win.count as u32,
                pay: win.pay,
            });
        }
    }

    let scatters: u32 = (0..stops.len())
        .map(|reel| game.scatters_in_view(reel, stops[reel] as usize))
        .sum();
    let scatter_pay = game.scatter_pay(scatters as usize);
    let scatter_win = match game.scatter() {
        Some(symbol) if scatter_pay > 0 => Some(ScatterWin {
            symbol: symbol.to_string(),
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

/// `units / lines` as an exact decimal (config validation guarantees `lines` divides a power
/// of ten), without trailing zeros: 10 units on 5 lines is "2".
pub(crate) fn units_to_multiple(units: u64, lines: usize) -> Decimal {
    (Decimal::from(units) / Decimal::from(lines as u64)).normalize()
}

/// The single win paid on one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BestLineWin {
    pub symbol: Sym,
    pub count: usize,
    pub pay: u32,
}

/// The line rule (see docs/games.md): count from reel 1; leading wilds may pay on their own;
/// the first non-wild symbol, substituted by wilds before and after it, pays for the length
/// of the run; the higher of the two is paid, the substituted symbol on a tie. Scatters and
/// symbols without line pays end the run and pay nothing.
#[inline]
pub(crate) fn best_line_win(game: &SlotGame, symbol_at: impl Fn(usize) -> Sym) -> Option<BestLineWin> {
    let reels = game.reels();
    let wild = game.wild_sym();
    let mut wilds = 0;
    while wilds < reels && Some(symbol_at(wilds)) == wild {
        wilds += 1;
    }
    let mut best = None;
    let mut wild_pay = 0;
    if let Some(w) = wild.filter(|_| wilds > 0) {
        wild_pay = game.line_pays_of(w)[wilds];
        if wild_pay > 0 {
            best = Some(BestLineWin {
                symbol: w,
                count: wilds,
                pay: wild_pay,
            });
        }
    }
    if wilds < reels {
        let symbol = symbol_at(wilds);
        let mut count = wilds + 1;
        while count < reels {
            let next = symbol_at(count);
            if next != symbol && Some(next) != wild {
                break;
            }
            count += 1;
        }
        let pay = game.line_pays_of(symbol)[count];
        if pay > 0 && pay >= wild_pay {
            best = Some(BestLineWin { symbol, count, pay });
        }
    }
    best
}
