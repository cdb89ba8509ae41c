//! Slot game configuration: parses one `config/games/*.toml` file into a validated
//! [`SlotGame`], checks bets against its limits, and precomputes the lookup tables that the
//! evaluator and the PAR-sheet enumeration share.
//!
//! Everything that can be wrong in a game file is caught here, once, with an error naming the
//! file and the key, so evaluation never has to second-guess its input.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::money::Money;

use super::symbol::SymbolId;

mod validate;

/// Most reels a game may have: bounds the enumeration depth and the PAR-sheet sums.
pub const MAX_REELS: usize = 7;
/// Most rows a game may show: no layout we render is taller.
pub const MAX_ROWS: usize = 6;
/// Longest reel strip: stops go into the ledger as small integers and strips stay reviewable.
pub const MAX_STRIP_LEN: usize = 1_000;
/// Most paylines: keeps `lines × pay` sums small and the client's line display sane.
pub const MAX_LINES: usize = 100;
/// Most distinct symbols: symbols are indexed with a `u8` in the hot evaluation loops.
pub const MAX_SYMBOLS: usize = 64;
pub use super::symbol::MAX_SYMBOL_ID_LEN;
/// Longest game id: ids are used in URLs, metrics labels and ledger rows.
pub const MAX_GAME_ID_LEN: usize = 32;
/// Longest RTP variant id (`94`, `96`, `low`): it becomes part of the variant's game id.
pub const MAX_VARIANT_ID_LEN: usize = 8;
/// Most RTP variants one game file may add to its main one: each is a full PAR sheet to
/// certify and a set of metric series.
pub const MAX_VARIANTS: usize = 4;
/// Longest display name.
pub const MAX_NAME_LEN: usize = 64;
/// Largest line pay, in line bets: with [`MAX_LINES`] and [`MAX_CYCLE`] keeps PAR sums in `u128`.
pub const MAX_LINE_PAY: u32 = 100_000;
/// Largest scatter pay, in total bets (same reason as [`MAX_LINE_PAY`]).
pub const MAX_SCATTER_PAY: u32 = 10_000;
/// Most free spins one spin may award: a bounded bonus keeps the free-spin EV well defined.
pub const MAX_FREE_SPINS_AWARD: u32 = 100;
/// Largest free-spin win multiplier.
pub const MAX_MULTIPLIER: u32 = 10;
/// Most stop combinations of a game (product of strip lengths): the PAR sheet must stay
/// enumerable and its per-combination counters (u64) and moment sums (u128) cannot overflow.
pub const MAX_CYCLE: u128 = 1 << 40;
/// Most decimals in a bet limit: the largest currency scale we support (see `money.rs`).
pub const MAX_BET_DECIMALS: u32 = crate::money::MAX_CURRENCY_SCALE;

pub(crate) use super::symbol::Sym;

/// A game file that cannot be used, naming the file and the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum SlotConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name}: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: {key}: {message}")]
    Invalid {
        source_name: String,
        key: String,
        message: String,
    },
    #[error("duplicate game id {id:?} in {first} and {second}")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
}

impl SlotConfigError {
    /// The offending key for validation errors (e.g. `paylines[3][2]`).
    pub fn key(&self) -> Option<&str> {
        match self {
            SlotConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// A bet the game does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BetError {
    #[error("bet {bet} is below the minimum {min}")]
    BelowMin { bet: Decimal, min: Decimal },
    #[error("bet {bet} is above the maximum {max}")]
    AboveMax { bet: Decimal, max: Decimal },
    #[error("bet {bet} is not a multiple of the bet step {step}")]
    NotAMultipleOfStep { bet: Decimal, step: Decimal },
}

/// Stops that do not fit the game (see [`SlotGame::check_stops`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StopsError {
    #[error("{got} stops given, the game has {reels} reels")]
    WrongCount { got: usize, reels: usize },
    #[error("stop {stop} of reel {reel} is outside 0..{len}")]
    OutOfRange { reel: usize, stop: u32, len: usize },
}

// ---------------------------------------------------------------------------------------------
// The validated game.

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

/// Free-spin rules of a game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSpins {
    trigger: u32,
    /// Spins awarded by a grid with `n` scatters, index `n` (0 below the trigger).
    awards: Vec<u32>,
    multiplier: u32,
    retrigger: bool,
}

impl FreeSpins {
    /// Fewest scatters that award free spins.
    pub fn trigger(&self) -> u32 {
        self.trigger
    }
    /// Free spins awarded for `scatters` scatters in view (0 below the trigger).
    pub fn spins_for(&self, scatters: u32) -> u32 {
        self.awards.get(scatters as usize).copied().unwrap_or(0)
    }
    /// Win multiplier during free spins.
    pub fn multiplier(&self) -> u32 {
        self.multiplier
    }
    /// Whether scatters during free spins award more free spins.
    pub fn retrigger(&self) -> bool {
        self.retrigger
    }
}

/// A validated slot game. Cheap to share by reference; all lookups are precomputed.
#[derive(Debug, Clone)]
pub struct SlotGame {
    id: String,
    /// The game file's own id, shared by all its RTP variants (`starfall` for `starfall_94`).
    family: String,
    /// This RTP variant's name (`rtp_variant` or `[[variant]].id`), if the game names one.
    variant: Option<String>,
    /// The RTP stated to players, inside `target_rtp` (the tests pin it to the PAR sheet).
    rtp: Option<Decimal>,
    name: String,
    rows: usize,
    symbols: Vec<String>,
    /// The same ids, inline, for building outcomes without allocating.
    symbol_ids: Vec<SymbolId>,
    wild: Option<Sym>,
    scatter: Option<Sym>,
    strips: Vec<Vec<Sym>>,
    paylines: Vec<Vec<usize>>,
    /// `line_pays[symbol][count]` in line bets, `count` in `0..=reels`; 0 = no pay.
    line_pays: Vec<Vec<u32>>,
    /// The same table flat, `PAY_STRIDE` entries per symbol: one load per lookup on the spin
    /// path, 2 KiB at most (in the first-level cache).
    line_pay_table: Vec<u32>,
    /// `scatter_pays[n]` in total bets for `n` scatters in view, `n` in `0..=reels*rows`.
    scatter_pays: Vec<u32>,
    free_spins: Option<FreeSpins>,
    min_bet: Decimal,
    max_bet: Decimal,
    bet_step: Decimal,
    target_rtp: (Decimal, Decimal),
    /// Per reel, the symbols in view for every stop: `windows[reel][stop * rows + row]`.
    windows: Vec<Vec<Sym>>,
    /// Per reel, the number of scatters in view for every stop.
    scatters_in_view: Vec<Vec<u8>>,
    /// Per reel, the range of its stops, prepared for drawing (`RandomSource::sample`).
    stop_ranges: Vec<crate::rng::Below>,
    /// Per payline, the cell of each reel in a spin's [`Cells`]: `reel * rows + row`.
    line_cells: Vec<[u8; MAX_REELS]>,
    /// [`file_version`] of the file the game came from: a round's record names it, so a
    /// round played before a reload is told from one played after.
    version: String,
}

/// Hex digits of a game file's version: 64 bits tell the edits of one file apart.
pub const GAME_VERSION_HEX_LEN: usize = 16;

/// The version of a game file's text: the first [`GAME_VERSION_HEX_LEN`] hex digits of its
/// SHA-256. Every RTP variant of the file shares it (their ids differ already).
pub fn file_version(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hex = hex::encode(Sha256::digest(text.as_bytes()));
    hex.truncate(GAME_VERSION_HEX_LEN);
    hex
}

/// Entries per symbol in the flat line-pay table: counts `0..=MAX_REELS`.
pub(crate) const PAY_STRIDE: usize = MAX_REELS + 1;

/// The symbols in view, reel after reel (`cells[reel * rows + row]`), in an array a `u8` cell
/// index can never run past.
pub(crate) type Cells = [Sym; 256];

impl SlotGame {
    /// Parses and validates one game file and gives its main game (the top-level strips).
    /// `source_name` (usually the file name) prefixes every error message.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<SlotGame, SlotConfigError> {
        let mut games = validate::parse(text, source_name)?;
        Ok(games.swap_remove(0))
    }

    /// Every game one file holds: the main game, then each `[[variant]]` (same rules, other
    /// strips) as a game of its own whose id is `<id>_<variant>`.
    pub fn variants_from_toml_str(
        text: &str,
        source_name: &str,
    ) -> Result<Vec<SlotGame>, SlotConfigError> {
        validate::parse(text, source_name)
    }

    /// Loads every `*.toml` in `dir`, sorted by id. Two files with the same id are an error.
    pub fn load_dir(dir: &Path) -> Result<Vec<SlotGame>, SlotConfigError> {
        let io_err = |source| SlotConfigError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err)? {
            let path = entry.map_err(io_err)?.path();
            if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| SlotConfigError::Io {
                path: path.clone(),
                source,
            })?;
            files.push((file_name(&path), text));
        }
        Self::from_files(&files)
    }

    /// Every game of these game files (`(file name, text)`), sorted by id: what
    /// [`SlotGame::load_dir`] reads, from texts already in memory (a reload's bundle). Two
    /// files with the same id are an error.
    pub fn from_files(files: &[(String, String)]) -> Result<Vec<SlotGame>, SlotConfigError> {
        let mut games: Vec<(SlotGame, String)> = Vec::new();
        for (file, text) in files {
            for game in Self::variants_from_toml_str(text, file)? {
                if let Some((_, first)) = games.iter().find(|(g, _)| g.id == game.id) {
                    return Err(SlotConfigError::DuplicateId {
                        id: game.id,
                        first: first.clone(),
                        second: file.clone(),
                    });
                }
                games.push((game, file.clone()));
            }
        }
        games.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(games.into_iter().map(|(g, _)| g).collect())
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    /// The version of the file the game came from ([`file_version`]).
    pub fn version(&self) -> &str {
        &self.version
    }
    /// The game file's id, shared by every RTP variant of the game (jackpot pools and
    /// triggers, and profiles' `rtp_variants`, name games by it).
    pub fn family(&self) -> &str {
        &self.family
    }
    /// This RTP variant's name, if the game names its variants.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }
    /// The RTP the game states to players, if it states one.
    pub fn rtp(&self) -> Option<Decimal> {
        self.rtp
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn reels(&self) -> usize {
        self.strips.len()
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of paylines.
    pub fn lines(&self) -> usize {
        self.paylines.len()
    }
    pub fn min_bet(&self) -> Decimal {
        self.min_bet
    }
    pub fn max_bet(&self) -> Decimal {
        self.max_bet
    }
    pub fn bet_step(&self) -> Decimal {
        self.bet_step
    }
    /// The documented RTP range `(min, max)` the game's exact RTP must lie in.
    pub fn target_rtp(&self) -> (Decimal, Decimal) {
        self.target_rtp
    }
    /// Symbol ids in declaration order.
    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }
    pub fn wild(&self) -> Option<&str> {
        self.wild.map(|s| self.symbol_name(s))
    }
    pub fn scatter(&self) -> Option<&str> {
        self.scatter.map(|s| self.symbol_name(s))
    }
    pub fn free_spins(&self) -> Option<&FreeSpins> {
        self.free_spins.as_ref()
    }
    /// The mode of this game's free spins, if it has any.
    pub fn free_spin_mode(&self) -> Option<SpinMode> {
        self.free_spins.as_ref().map(|f| SpinMode::Free {
            multiplier: f.multiplier,
        })
    }
    pub fn strip_lengths(&self) -> Vec<usize> {
        self.strips.iter().map(Vec::len).collect()
    }
    /// The symbol ids of one reel strip, or `None` past the last reel.
    pub fn strip(&self, reel: usize) -> Option<Vec<&str>> {
        let strip = self.strips.get(reel)?;
        Some(strip.iter().map(|&s| self.symbol_name(s)).collect())
    }
    /// Row index per reel of each payline (line `n` is `paylines()[n - 1]`).
    pub fn paylines(&self) -> &[Vec<usize>] {
        &self.paylines
    }
    /// Line pay in line bets for `count` of `symbol` (0 if none or unknown).
    pub fn line_pay(&self, symbol: &str, count: usize) -> u32 {
        self.symbol_index(symbol)
            .and_then(|s| self.line_pays[s as usize].get(count).copied())
            .unwrap_or(0)
    }
    /// Scatter pay in total bets for `count` scatters in view.
    pub fn scatter_pay(&self, count: usize) -> u32 {
        self.scatter_pays.get(count).copied().unwrap_or(0)
    }

    /// Checks a total stake against the limits: within `min_bet..=max_bet` and a whole
    /// multiple of `bet_step`.
    pub fn check_bet(&self, bet: &Money) -> Result<(), BetError> {
        let bet = bet.amount();
        if bet < self.min_bet {
            return Err(BetError::BelowMin {
                bet,
                min: self.min_bet,
            });
        }
        if bet > self.max_bet {
            return Err(BetError::AboveMax {
                bet,
                max: self.max_bet,
            });
        }
        if !(bet % self.bet_step).is_zero() {
            return Err(BetError::NotAMultipleOfStep {
                bet,
                step: self.bet_step,
            });
        }
        Ok(())
    }

    /// Checks stops from an untrusted source (e.g. a stored round) before [`super::evaluate`].
    pub fn check_stops(&self, stops: &[u32]) -> Result<(), StopsError> {
        if stops.len() != self.reels() {
            return Err(StopsError::WrongCount {
                got: stops.len(),
                reels: self.reels(),
            });
        }
        for (reel, (&stop, strip)) in stops.iter().zip(&self.strips).enumerate() {
            if stop as usize >= strip.len() {
                return Err(StopsError::OutOfRange {
                    reel,
                    stop,
                    len: strip.len(),
                });
            }
        }
        Ok(())
    }

    // --- crate-internal lookups shared by the evaluator and the enumeration ---

    pub(crate) fn symbol_name(&self, s: Sym) -> &str {
        &self.symbols[s as usize]
    }
    pub(crate) fn symbol_id(&self, s: Sym) -> SymbolId {
        self.symbol_ids[s as usize]
    }
    pub(crate) fn scatter_sym(&self) -> Option<Sym> {
        self.scatter
    }
    pub(crate) fn strip_len(&self, reel: usize) -> usize {
        self.strips[reel].len()
    }
    /// Per payline, each reel's cell in [`Cells`].
    pub(crate) fn line_cells(&self) -> &[[u8; MAX_REELS]] {
        &self.line_cells
    }
    /// The range a stop of `reel` is drawn from (`0..strip length`).
    pub(crate) fn stop_range(&self, reel: usize) -> &crate::rng::Below {
        &self.stop_ranges[reel]
    }
    fn symbol_index(&self, name: &str) -> Option<Sym> {
        self.symbols
            .iter()
            .position(|s| s == name)
            .map(|i| i as Sym)
    }
    pub(crate) fn wild_sym(&self) -> Option<Sym> {
        self.wild
    }
    pub(crate) fn line_pays_of(&self, s: Sym) -> &[u32] {
        let at = usize::from(s) * PAY_STRIDE;
        &self.line_pay_table[at..at + PAY_STRIDE]
    }
    pub(crate) fn scatter_pays_table(&self) -> &[u32] {
        &self.scatter_pays
    }
    /// Symbols in view on `reel` at `stop`, top row first. `stop` must be in range.
    pub(crate) fn window(&self, reel: usize, stop: usize) -> &[Sym] {
        &self.windows[reel][stop * self.rows..(stop + 1) * self.rows]
    }
    pub(crate) fn scatters_in_view(&self, reel: usize, stop: usize) -> u32 {
        u32::from(self.scatters_in_view[reel][stop])
    }
    /// Free spins a grid with `scatters` scatters awards in `mode` (no retrigger → 0 in free spins).
    pub(crate) fn award(&self, scatters: u32, mode: SpinMode) -> u32 {
        match (&self.free_spins, mode) {
            (Some(fs), SpinMode::Base) => fs.spins_for(scatters),
            (Some(fs), SpinMode::Free { .. }) if fs.retrigger => fs.spins_for(scatters),
            _ => 0,
        }
    }

    /// For every scatter count `n`, how many stop combinations show exactly `n` scatters
    /// (convolution of the per-reel counts; exact).
    pub fn scatter_count_distribution(&self) -> Vec<u128> {
        let mut dist = vec![1u128];
        for counts in &self.scatters_in_view {
            let max_here = counts.iter().copied().max().unwrap_or(0) as usize;
            let mut per_reel = vec![0u128; max_here + 1];
            for &c in counts {
                per_reel[c as usize] += 1;
            }
            let mut next = vec![0u128; dist.len() + max_here];
            for (i, &a) in dist.iter().enumerate() {
                for (j, &b) in per_reel.iter().enumerate() {
                    next[i + j] += a * b;
                }
            }
            dist = next;
        }
        dist
    }

    /// Number of stop combinations: the product of the strip lengths.
    pub fn cycle(&self) -> u128 {
        self.strips.iter().map(|s| s.len() as u128).product()
    }
}

impl fmt::Display for SlotGame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} reels × {} rows, {} lines",
            self.name,
            self.id,
            self.reels(),
            self.rows,
            self.lines()
        )
    }
}

/// Whether `id` can name an RTP variant: 1 to [`MAX_VARIANT_ID_LEN`] of `a-z 0-9` (it becomes
/// part of a game id). Game files and profiles' `rtp_variants` share the rule.
pub fn is_variant_id(id: &str) -> bool {
    (1..=MAX_VARIANT_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Loads one game file: its main game, then its RTP variants; errors are prefixed with the
/// file name.
pub fn load_game_file(path: &Path) -> Result<Vec<SlotGame>, SlotConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| SlotConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    SlotGame::variants_from_toml_str(&text, &file_name(path))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests;
