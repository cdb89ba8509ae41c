//! `croupier replay ROUND_ID`: a stored round played again from its stored draws through the
//! same evaluator live play and `croupier rtp` use, and compared with what was settled. Pure:
//! the command reads the round from the ledger and the game from the games directory.
//!
//! A slot round stores its reel stops (the RNG's draws: one per reel, in reel order); the
//! replay evaluates the grid they show in the round's mode (base, or free spins at the round's
//! multiplier), pays it on the round's stake, and checks both the outcome and the win. Live
//! table bets are not replayed yet (their result and bet are recorded; see the operator API).

use serde::Serialize;

use crate::games::slot::{self, SpinMode, SpinOutcome};
use crate::games::GameCatalog;
use crate::money::{Currency, Money};
use crate::wallet::{RoundRecord, RoundStatus};

/// Why a round cannot be replayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplayError {
    #[error("round {0} is {1}: only a settled round has an outcome to replay")]
    NotSettled(String, &'static str),
    #[error("round {round} is a bet on live table {game}: table rounds are not replayed yet")]
    Table { round: String, game: String },
    #[error("round {0} has no stored outcome")]
    NoOutcome(String),
    #[error("the stored outcome of round {round} cannot be read: {why}")]
    BadOutcome { round: String, why: String },
    #[error("the stored stops of round {round} do not fit {game}: {why}")]
    BadStops {
        round: String,
        game: String,
        why: String,
    },
    #[error("amount of round {0} out of range")]
    Money(String),
}

/// What the replay found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    pub round_id: String,
    pub game: String,
    pub stops: Vec<u32>,
    pub stored_win: String,
    pub replayed_win: String,
    /// The replayed outcome (grid, line wins, scatters, free spins) equals the stored one.
    pub outcome_matches: bool,
    pub win_matches: bool,
}

impl Replay {
    pub fn matches(&self) -> bool {
        self.outcome_matches && self.win_matches
    }
}

/// Replays `round` (which played in `currency`) with the games of `catalog`.
pub fn replay(
    catalog: &GameCatalog,
    round: &RoundRecord,
    currency: &Currency,
) -> Result<Replay, ReplayError> {
    let id = round.round_id.to_string();
    if round.status != RoundStatus::Settled {
        return Err(ReplayError::NotSettled(id, round.status.as_str()));
    }
    let Some(game) = catalog.slot(&round.game) else {
        return Err(ReplayError::Table {
            round: id,
            game: round.game.clone(),
        });
    };
    let text = round
        .outcome_json
        .as_deref()
        .ok_or_else(|| ReplayError::NoOutcome(id.clone()))?;
    let stored: SpinOutcome = serde_json::from_str(text).map_err(|e| ReplayError::BadOutcome {
        round: id.clone(),
        why: e.to_string(),
    })?;
    game.check_stops(&stored.stops)
        .map_err(|e| ReplayError::BadStops {
            round: id.clone(),
            game: game.id().to_string(),
            why: e.to_string(),
        })?;
    let mode = if round.free_spin {
        SpinMode::Free {
            multiplier: round.multiplier,
        }
    } else {
        SpinMode::Base
    };
    let replayed = slot::evaluate(game, &stored.stops, mode);
    let money =
        |minor| Money::from_minor(minor, currency).map_err(|_| ReplayError::Money(id.clone()));
    let stake = money(round.stake_minor)?;
    let win = stake
        .mul_floor(replayed.win_multiple)
        .map_err(|_| ReplayError::Money(id.clone()))?;
    Ok(Replay {
        round_id: id.clone(),
        game: game.id().to_string(),
        stops: stored.stops.clone(),
        stored_win: money(round.win_minor)?.to_string(),
        replayed_win: win.to_string(),
        outcome_matches: replayed == stored,
        win_matches: win.minor() == round.win_minor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PlayerId, ReqId, RoundId};

    fn catalog() -> GameCatalog {
        GameCatalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/games"))
            .unwrap()
    }

    /// A settled round of `game` whose stored outcome is `outcome`, paid `win_minor` on 1.00.
    fn round(game: &str, outcome: &SpinOutcome, win_minor: i64) -> RoundRecord {
        RoundRecord {
            round_id: RoundId::new_v7(),
            player: PlayerId::parse("house:alice").unwrap(),
            req_id: ReqId::parse("r1").unwrap(),
            game: game.into(),
            status: RoundStatus::Settled,
            bet_minor: 100,
            stake_minor: 100,
            win_minor,
            free_spin: false,
            multiplier: 1,
            balance_after_minor: 0,
            outcome_json: Some(serde_json::to_string(outcome).unwrap()),
            created_at_ms: 0,
            node: None,
        }
    }

    #[test]
    fn every_stop_combination_tried_replays_to_its_own_win_and_a_forged_win_does_not() {
        let catalog = catalog();
        let eur = Currency::new("EUR", 2).unwrap();
        let game = catalog.slot("starfall").unwrap();
        let mut checked = 0;
        let lengths = game.strip_lengths();
        for first in 0..lengths[0] as u32 {
            let stops: Vec<u32> = (0..game.reels())
                .map(|r| (first * 7 + r as u32 * 3) % lengths[r] as u32)
                .collect();
            let outcome = slot::evaluate(game, &stops, SpinMode::Base);
            let win = Money::from_minor(100, &eur)
                .unwrap()
                .mul_floor(outcome.win_multiple)
                .unwrap();
            let honest = replay(&catalog, &round("starfall", &outcome, win.minor()), &eur).unwrap();
            assert!(honest.matches(), "{honest:?}");
            let forged = replay(
                &catalog,
                &round("starfall", &outcome, win.minor() + 1),
                &eur,
            )
            .unwrap();
            assert!(!forged.win_matches && forged.outcome_matches);
            checked += 1;
        }
        assert!(checked > 10);
    }

    #[test]
    fn an_edited_outcome_or_a_round_that_cannot_replay_is_told_apart() {
        let catalog = catalog();
        let eur = Currency::new("EUR", 2).unwrap();
        let game = catalog.slot("classic_sevens").unwrap();
        let outcome = slot::evaluate(game, &[0, 0, 0], SpinMode::Base);
        // The stored outcome claims more than its stops show: the replay says so.
        let mut edited = outcome.clone();
        edited.win_multiple += rust_decimal::Decimal::ONE;
        let r = replay(&catalog, &round("classic_sevens", &edited, 0), &eur).unwrap();
        assert!(!r.outcome_matches && r.win_matches, "{r:?}");
        let mut open = round("classic_sevens", &outcome, 0);
        open.status = RoundStatus::Open;
        assert!(matches!(
            replay(&catalog, &open, &eur),
            Err(ReplayError::NotSettled(..))
        ));
        let table = round("roulette_1", &outcome, 0);
        assert!(matches!(
            replay(&catalog, &table, &eur),
            Err(ReplayError::Table { .. })
        ));
        let mut off_strip = outcome.clone();
        off_strip.stops = vec![9_999, 0, 0];
        let r = replay(&catalog, &round("classic_sevens", &off_strip, 0), &eur);
        assert!(matches!(r, Err(ReplayError::BadStops { .. })), "{r:?}");
    }
}
