//! Slot-machine game mathematics: game files ([`SlotGame`]), spin evaluation ([`evaluate`],
//! [`spin`]), the exact PAR sheet ([`exact_rtp`]) and the Monte-Carlo check ([`simulate`]).
//!
//! Everything here is pure: no actors, no clock (except the simulator's speed figure), no I/O
//! besides reading game files. The rules these functions implement are written down in
//! `docs/games.md`, precisely enough for an independent lab to re-enumerate the strips.

mod config;
mod eval;
mod rtp;
mod simulate;
mod symbol;

#[cfg(test)]
pub(crate) mod test_games;

pub use crate::exact::Ratio;
pub use config::SpinMode;
pub use config::{
    file_version, is_variant_id, load_game_file, BetError, FreeSpins, SlotConfigError, SlotGame,
    StopsError, MAX_BET_DECIMALS, MAX_CYCLE, MAX_FREE_SPINS_AWARD, MAX_GAME_ID_LEN, MAX_LINES,
    MAX_LINE_PAY, MAX_MULTIPLIER, MAX_NAME_LEN, MAX_REELS, MAX_ROWS, MAX_SCATTER_PAY,
    MAX_STRIP_LEN, MAX_SYMBOLS, MAX_SYMBOL_ID_LEN, MAX_VARIANTS, MAX_VARIANT_ID_LEN,
};
pub use eval::{evaluate, spin, spin_tally, LineWin, ScatterWin, SpinOutcome, Tally};
pub use rtp::{exact_rtp, ParLineWin, ParScatterWin, ParSheet};
pub use simulate::{
    simulate, simulate_from, SimError, SimReport, SimSource, MAX_SIM_THREADS, SIM_RESEED_AFTER,
    SIM_RESEED_AFTER_DRAWS, Z_99,
};
pub use symbol::SymbolId;
