//! Spin evaluation: turns reel stops into the grid, the line wins, the scatter win, the free
//! spins awarded and the exact win multiple — the [`SpinOutcome`] stored in the ledger and sent
//! to players. Pure functions; [`spin`] is the only place that draws randomness.
//!
//! The line rule lives in one place ([`LineRun`], through [`line_pay`] here) used both here
//! and by the PAR-sheet enumeration, so the exact RTP is computed from the very code that pays
//! players.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::rng::RandomSource;

use super::config::{Cells, SlotGame, SpinMode, Sym, MAX_REELS};
use super::symbol::SymbolId;

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

/// What a spin pays, without the details a player is shown: the simulator's fast path. The
/// live path ([`evaluate`]) computes it with the same code ([`tally_columns`]) and adds the
/// grid and the wins line by line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// The win in units of 1/lines of the total bet, the multiplier applied.
    pub units: u64,
    pub free_spins_awarded: u32,
    /// Scatter symbols in view.
    pub scatters: u32,
}

/// Draws one stop per reel with the unbiased `below(strip length)` (prepared once per reel,
/// `RandomSource::sample`), in reel order, then evaluates. Nothing else consumes randomness.
pub fn spin(game: &SlotGame, mode: SpinMode, rng: &mut impl RandomSource) -> SpinOutcome {
    let stops = draw_stops(game, rng);
    evaluate(game, &stops[..game.reels()], mode)
}

/// [`spin`] for the simulator: the same draws in the same order, the same pay rules, no
/// allocation. `spin(..).win_multiple × lines == spin_tally(..).units` for the same draws
/// (tested).
pub fn spin_tally(game: &SlotGame, mode: SpinMode, rng: &mut impl RandomSource) -> Tally {
    let stops = draw_stops(game, rng);
    let columns = columns(game, &stops[..game.reels()]);
    tally_columns(
        game,
        &columns[..game.reels()],
        &stops[..game.reels()],
        mode,
        |_, _| {},
    )
}

/// One stop per reel, drawn in reel order (unused entries past the last reel are 0).
#[inline]
fn draw_stops(game: &SlotGame, rng: &mut impl RandomSource) -> [u32; MAX_REELS] {
    let mut stops = [0u32; MAX_REELS];
    for (reel, stop) in stops.iter_mut().enumerate().take(game.reels()) {
        *stop = rng.sample(game.stop_range(reel));
    }
    stops
}

/// The symbols in view on each reel for in-range `stops`.
#[inline]
fn columns<'g>(game: &'g SlotGame, stops: &[u32]) -> [&'g [Sym]; MAX_REELS] {
    std::array::from_fn(|reel| match stops.get(reel) {
        Some(&stop) => game.window(reel, stop as usize),
        None => &[],
    })
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
    let columns = columns(game, &stops);
    let columns = &columns[..stops.len()];

    let grid = (0..game.rows())
        .map(|row| columns.iter().map(|col| game.symbol_id(col[row])).collect())
        .collect();

    let mut line_wins = Vec::new();
    let tally = tally_columns(game, columns, &stops, mode, |i, win| {
        line_wins.push(LineWin {
            line: i as u32 + 1,
            symbol: game.symbol_id(win.symbol),
            count: win.count as u32,
            pay: win.pay,
        })
    });

    let scatter_pay = game.scatter_pay(tally.scatters as usize);
    let scatter_win = match game.scatter_sym() {
        Some(symbol) if scatter_pay > 0 => Some(ScatterWin {
            symbol: game.symbol_id(symbol),
            count: tally.scatters,
            pay: scatter_pay,
        }),
        _ => None,
    };

    SpinOutcome {
        stops,
        grid,
        line_wins,
        scatter_win,
        free_spins_awarded: tally.free_spins_awarded,
        multiplier: mode.multiplier(),
        win_multiple: units_to_multiple(tally.units, game.lines()),
    }
}

/// The pay rules, once for both paths: every payline through [`line_pay`] (each win
/// handed to `on_line_win` with its 0-based line index), the scatters in view, the free spins
/// and the multiplier. `columns` and `stops` are in range, one per reel.
#[inline]
fn tally_columns(
    game: &SlotGame,
    columns: &[&[Sym]],
    stops: &[u32],
    mode: SpinMode,
    mut on_line_win: impl FnMut(usize, BestLineWin),
) -> Tally {
    // The view copied once into a flat array the lines index without bounds to check.
    let rows = game.rows();
    let mut cells: Cells = [0; 256];
    for (reel, column) in columns.iter().enumerate() {
        for (row, &symbol) in column[..rows].iter().enumerate() {
            cells[reel * rows + row] = symbol;
        }
    }
    let mut line_pay_sum: u64 = 0;
    for (i, line) in game.line_cells().iter().enumerate() {
        let win = line_pay(game, |reel| cells[usize::from(line[reel])]);
        line_pay_sum += u64::from(win.pay);
        if win.pay > 0 {
            on_line_win(i, win);
        }
    }
    let scatters: u32 = (0..stops.len())
        .map(|reel| game.scatters_in_view(reel, stops[reel] as usize))
        .sum();
    let scatter_pay = game.scatter_pay(scatters as usize);
    Tally {
        units: win_units(line_pay_sum, scatter_pay, game.lines()) * u64::from(mode.multiplier()),
        free_spins_awarded: game.award(scatters, mode),
        scatters,
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
        Some(self.pay(game)).filter(|win| win.pay > 0)
    }

    /// The win of the reels pushed so far, `pay` 0 for none: the higher of the leading wilds
    /// alone and the substituted symbol, the symbol on a tie. Written without branches on the
    /// pays, which the spin path cannot predict.
    #[inline]
    pub(crate) fn pay(&self, game: &SlotGame) -> BestLineWin {
        let wild = self.wild.unwrap_or(0);
        let wild_pay = if self.wilds > 0 {
            game.line_pays_of(wild)[self.wilds]
        } else {
            0
        };
        let (symbol, count) = self.symbol.unwrap_or((wild, 0));
        let symbol_pay = game.line_pays_of(symbol)[count];
        if symbol_pay >= wild_pay {
            BestLineWin {
                symbol,
                count,
                pay: symbol_pay,
            }
        } else {
            BestLineWin {
                symbol: wild,
                count: self.wilds,
                pay: wild_pay,
            }
        }
    }
}

/// The single win paid on one line, `pay` 0 for none; `symbol_at(reel)` gives the line's
/// symbol on each reel.
#[inline]
pub(crate) fn line_pay(game: &SlotGame, symbol_at: impl Fn(usize) -> Sym) -> BestLineWin {
    let mut run = LineRun::new(game);
    for reel in 0..game.reels() {
        run.push(symbol_at(reel));
        if run.is_settled() {
            break;
        }
    }
    run.pay(game)
}

#[cfg(test)]
mod tests;
