//! `croupier replay ROUND_ID`: a stored round played again from its stored draws through the
//! same evaluator live play and `croupier rtp` use, and compared with what was settled. Pure:
//! the command reads the round from the ledger and the game from the games directory.
//!
//! A slot round stores its reel stops (the RNG's draws: one per reel, in reel order); the
//! replay evaluates the grid they show in the round's mode (base, or free spins at the round's
//! multiplier), pays it on the round's stake, and checks both the outcome and the win. A live
//! table bet stores its bet and its round's result (the pocket, or the coup's cards): the replay
//! reads the result back through the game's own checks (a coup must follow the tableau),
//! settles the bet on it with the table's rules, and checks the outcome and the amount returned.

use serde::Serialize;

use serde::Deserialize;
use serde_json::Value;

use crate::games::slot::{self, SpinMode, SpinOutcome};
use crate::games::GameCatalog;
use crate::money::{Currency, Money};
use crate::table::rules::{Stake, TableOutcome, TableRules};
use crate::table::TableConfig;
use crate::wallet::{RoundRecord, RoundStatus};

/// Why a round cannot be replayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplayError {
    #[error("round {0} is {1}: only a settled round has an outcome to replay")]
    NotSettled(String, &'static str),
    #[error("round {round} is of {game}, which is neither a slot game nor a live table here")]
    UnknownGame { round: String, game: String },
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
    #[error(
        "round {round} was played under version {played} of {game}'s file, and this node has \
         version {here}: replay it with the game file it was played under"
    )]
    OtherVersion {
        round: String,
        game: String,
        played: String,
        here: String,
    },
}

/// What the replay found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    pub round_id: String,
    pub game: String,
    /// The RNG's draws as stored: a slot's reel stops, a table round's result.
    pub draws: Value,
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

/// What a settled table bet stores (`table::actor::settle`).
#[derive(Deserialize)]
struct TableRecord {
    bet: TableBetRecord,
    amount: String,
    result: Value,
    /// `win`, `lose` or `push`.
    outcome: String,
}

#[derive(Deserialize)]
struct TableBetRecord {
    kind: String,
    #[serde(default)]
    numbers: Vec<u8>,
}

/// The mode a slot round played in: base, or free spins at the round's multiplier.
pub fn spin_mode(round: &RoundRecord) -> SpinMode {
    if round.free_spin {
        SpinMode::Free {
            multiplier: round.multiplier,
        }
    } else {
        SpinMode::Base
    }
}

/// Replays `round` (which played in `currency`) with the games of `catalog` and the live
/// tables of `tables`.
pub fn replay(
    catalog: &GameCatalog,
    tables: &[TableConfig],
    round: &RoundRecord,
    currency: &Currency,
) -> Result<Replay, ReplayError> {
    let id = round.round_id.to_string();
    if round.status != RoundStatus::Settled {
        return Err(ReplayError::NotSettled(id, round.status.as_str()));
    }
    let text = round
        .outcome_json
        .as_deref()
        .ok_or_else(|| ReplayError::NoOutcome(id.clone()))?;
    let bad = |why: String| ReplayError::BadOutcome {
        round: id.clone(),
        why,
    };
    let money =
        |minor| Money::from_minor(minor, currency).map_err(|_| ReplayError::Money(id.clone()));
    if let Some(table) = tables.iter().find(|t| t.id == round.game) {
        let record: TableRecord = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let rules = TableRules::of(table);
        let amount = Money::parse(&record.amount, currency).map_err(|e| bad(e.to_string()))?;
        let bet = rules
            .parse_bet(table, &record.bet.kind, &record.bet.numbers, &amount)
            .map_err(|e| bad(e.to_string()))?;
        let outcome = match rules {
            TableRules::Roulette => TableOutcome::Roulette {
                pocket: record.result["pocket"]
                    .as_u64()
                    .and_then(|p| u8::try_from(p).ok())
                    .ok_or_else(|| bad("no pocket in the result".into()))?,
            },
            TableRules::Baccarat(_) => TableOutcome::Baccarat(
                serde_json::from_value(record.result.clone()).map_err(|e| bad(e.to_string()))?,
            ),
        };
        let stake = Stake {
            bet_id: id.clone(),
            bet,
            amount,
        };
        let payout = rules
            .settle(&[stake], &outcome)
            .map_err(|e| bad(e.to_string()))?
            .pop()
            .ok_or_else(|| bad("no payout".into()))?;
        return Ok(Replay {
            round_id: id.clone(),
            game: table.id.clone(),
            draws: record.result,
            stored_win: money(round.win_minor)?.to_string(),
            replayed_win: payout.returned.to_string(),
            outcome_matches: payout.outcome == record.outcome,
            win_matches: payout.returned.minor() == round.win_minor,
        });
    }
    let Some(game) = catalog.slot(&round.game) else {
        return Err(ReplayError::UnknownGame {
            round: id,
            game: round.game.clone(),
        });
    };
    let stored: SpinOutcome = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    // A round recorded before game versions were kept names none: it is replayed as is.
    let played: Option<String> = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("game_version")?.as_str().map(str::to_string));
    if let Some(played) = played.filter(|v| v != game.version()) {
        return Err(ReplayError::OtherVersion {
            round: id,
            game: game.id().to_string(),
            played,
            here: game.version().to_string(),
        });
    }
    game.check_stops(&stored.stops)
        .map_err(|e| ReplayError::BadStops {
            round: id.clone(),
            game: game.id().to_string(),
            why: e.to_string(),
        })?;
    let replayed = slot::evaluate(game, &stored.stops, spin_mode(round));
    let money =
        |minor| Money::from_minor(minor, currency).map_err(|_| ReplayError::Money(id.clone()));
    let stake = money(round.stake_minor)?;
    let win = stake
        .mul_floor(replayed.win_multiple)
        .map_err(|_| ReplayError::Money(id.clone()))?;
    Ok(Replay {
        round_id: id.clone(),
        game: game.id().to_string(),
        draws: serde_json::json!(stored.stops),
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
            campaign: None,
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
            let honest = replay(
                &catalog,
                &[],
                &round("starfall", &outcome, win.minor()),
                &eur,
            )
            .unwrap();
            assert!(honest.matches(), "{honest:?}");
            let forged = replay(
                &catalog,
                &[],
                &round("starfall", &outcome, win.minor() + 1),
                &eur,
            )
            .unwrap();
            assert!(!forged.win_matches && forged.outcome_matches);
            checked += 1;
        }
        assert!(checked > 10);
    }

    fn tables() -> Vec<TableConfig> {
        let currencies: crate::money::CurrencyTable = toml::from_str("EUR = 2").unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tables.toml");
        crate::table::config::load(&path, &currencies).unwrap()
    }

    /// A settled roulette bet of 5.00 on red, stored as the table stores it.
    fn red_bet(pocket: u8, outcome: &str, win_minor: i64) -> RoundRecord {
        let mut r = round(
            "roulette_1",
            &slot::evaluate(catalog().slot("starfall").unwrap(), &[0], SpinMode::Base),
            win_minor,
        );
        r.bet_minor = 500;
        r.stake_minor = 500;
        r.outcome_json = Some(
            serde_json::json!({"table": "roulette_1", "table_round": "t", "bet": {"kind": "red", "numbers": []},
                               "amount": "5.00", "result": {"pocket": pocket, "colour": "x"},
                               "outcome": outcome, "returned": "0.00"})
            .to_string(),
        );
        r
    }

    #[test]
    fn a_table_bet_replays_through_the_tables_rules() {
        let (catalog, tables) = (catalog(), tables());
        let eur = Currency::new("EUR", 2).unwrap();
        // 1 is red: 5.00 on red returns 10.00; 2 is black: nothing.
        let won = replay(&catalog, &tables, &red_bet(1, "win", 1_000), &eur).unwrap();
        assert!(won.matches(), "{won:?}");
        let lost = replay(&catalog, &tables, &red_bet(2, "lose", 0), &eur).unwrap();
        assert!(lost.matches(), "{lost:?}");
        let paid_a_loser = replay(&catalog, &tables, &red_bet(2, "win", 1_000), &eur).unwrap();
        assert!(!paid_a_loser.win_matches && !paid_a_loser.outcome_matches);
        let off_wheel = replay(&catalog, &tables, &red_bet(37, "win", 1_000), &eur);
        assert!(
            matches!(off_wheel, Err(ReplayError::BadOutcome { .. })),
            "{off_wheel:?}"
        );
    }

    #[test]
    fn a_round_of_another_version_of_its_game_file_is_not_replayed_under_this_one() {
        let catalog = catalog();
        let game = catalog.slot("classic_sevens").unwrap();
        let outcome = slot::evaluate(game, &[0, 0, 0], SpinMode::Base);
        let eur = Currency::new("EUR", 2).unwrap();
        let win = Money::parse("1.00", &eur)
            .unwrap()
            .mul_floor(outcome.win_multiple);
        let mut round = round("classic_sevens", &outcome, win.unwrap().minor());
        let stored = round.outcome_json.as_deref().unwrap();
        let mut value: Value = serde_json::from_str(stored).unwrap();
        value["game_version"] = Value::from(game.version());
        round.outcome_json = Some(value.to_string());
        assert!(
            replay(&catalog, &[], &round, &eur).unwrap().matches(),
            "its own version"
        );
        value["game_version"] = Value::from("0123456789abcdef");
        round.outcome_json = Some(value.to_string());
        let r = replay(&catalog, &[], &round, &eur);
        assert!(matches!(r, Err(ReplayError::OtherVersion { .. })), "{r:?}");
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
        let r = replay(&catalog, &[], &round("classic_sevens", &edited, 0), &eur).unwrap();
        assert!(!r.outcome_matches && r.win_matches, "{r:?}");
        let mut open = round("classic_sevens", &outcome, 0);
        open.status = RoundStatus::Open;
        assert!(matches!(
            replay(&catalog, &[], &open, &eur),
            Err(ReplayError::NotSettled(..))
        ));
        let elsewhere = round("roulette_1", &outcome, 0);
        let r = replay(&catalog, &[], &elsewhere, &eur);
        assert!(matches!(r, Err(ReplayError::UnknownGame { .. })), "{r:?}");
        let mut off_strip = outcome.clone();
        off_strip.stops = vec![9_999, 0, 0];
        let r = replay(&catalog, &[], &round("classic_sevens", &off_strip, 0), &eur);
        assert!(matches!(r, Err(ReplayError::BadStops { .. })), "{r:?}");
    }
}
