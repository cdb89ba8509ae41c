//! Jackpot arithmetic and configuration, pure: what a pool is ([`config`]), its exact
//! micro-unit arithmetic and mystery odds ([`math`]), and what a round claims and wins. The
//! server's `jackpot` module decides claims for live rounds and pushes pool values; the
//! ledger crate stores the money.

pub mod config;
pub mod math;

use serde::{Deserialize, Serialize};

/// Why a round claims a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimReason {
    Trigger,
    Mystery,
    Ceiling,
}

impl ClaimReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimReason::Trigger => "trigger",
            ClaimReason::Mystery => "mystery",
            ClaimReason::Ceiling => "ceiling",
        }
    }
}

/// A round's claim on a level in the cycle it saw. Exactly once per `(pool, level, cycle)`:
/// if that cycle was already won, the claim wins the cycle now running (the fresh seed and
/// what it gathered since), the rule of docs/games.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JackpotClaim {
    pub pool: String,
    pub level: String,
    pub cycle: i64,
    pub reason: ClaimReason,
}

/// What a spin's draw decided for one level of its pool before the stake and settlement commit
/// together (a one-step spin): whether the spin's symbols trigger the level and whether the
/// mystery draw hit. The ceiling and the cycle are decided in the ledger transaction, from the
/// level as this very bet leaves it ([`math::claim_reason`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelDraw {
    pub level: String,
    pub triggered: bool,
    pub mystery_hit: bool,
    /// The mystery draw as made (none when the level has no mystery chance for this bet):
    /// kept with the round so its recall shows every value the RNG produced for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mystery: Option<MysteryDraw>,
}

/// One mystery draw: the odds `numerator / denominator` (micro-units: the bet's contribution
/// over the level's span) and the uniform value drawn in `0..denominator`, none when the odds
/// were certain. It hits when the value is below the numerator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MysteryDraw {
    pub numerator: u64,
    pub denominator: u64,
    pub drawn: Option<u64>,
}

impl MysteryDraw {
    pub fn hit(&self) -> bool {
        self.numerator >= self.denominator || self.drawn.is_some_and(|v| v < self.numerator)
    }
}

/// A level paid to a round's player.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JackpotWin {
    pub pool: String,
    pub level: String,
    pub cycle: i64,
    pub amount_minor: i64,
    pub reason: ClaimReason,
}
