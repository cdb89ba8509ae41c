//! One face over the two live games: parse a bet for a table, draw an outcome, settle a
//! round's stakes. Pure: the randomness comes in as a [`RandomSource`], the shoe is a value.

use serde::Serialize;
use serde_json::Value;

use super::config::{CommissionRule, TableConfig, TableGame};
use crate::games::baccarat::{self, BaccaratBet, BaccaratStake, Coup, Shoe};
use crate::games::roulette::{self, RouletteBet, RouletteStake};
use crate::money::Money;
use crate::rng::RandomSource;

/// Why a bet or a round's settlement was refused by the rules, mapped to `bad_bet` or
/// `bet_out_of_limits` for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("{0}")]
    BadBet(String),
    #[error("{kind} bets at this table are {min} to {max}, not {amount}")]
    OutOfLimits {
        kind: String,
        min: String,
        max: String,
        amount: String,
    },
    #[error("settlement overflow: {0}")]
    Overflow(String),
    #[error("the outcome {0} does not belong to this game")]
    WrongOutcome(&'static str),
}

impl RulesError {
    /// The client's error code.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        match self {
            RulesError::OutOfLimits { .. } => crate::protocol::ErrorCode::BetOutOfLimits,
            _ => crate::protocol::ErrorCode::BadBet,
        }
    }
}

/// A bet that exists on this table's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TableBet {
    Roulette(RouletteBet),
    Baccarat(BaccaratBet),
}

impl TableBet {
    pub fn kind(&self) -> &'static str {
        match self {
            TableBet::Roulette(b) => b.kind(),
            TableBet::Baccarat(b) => b.kind(),
        }
    }

    /// The numbers a roulette bet covers as the client sent them (column/dozen: `[1..3]`).
    pub fn spec(&self) -> Value {
        match self {
            TableBet::Roulette(b) => {
                serde_json::to_value(roulette::BetSpec::from(*b)).unwrap_or(Value::Null)
            }
            TableBet::Baccarat(b) => serde_json::json!({ "kind": b.kind() }),
        }
    }
}

/// What a round drew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableOutcome {
    Roulette { pocket: u8 },
    Baccarat(Coup),
}

impl TableOutcome {
    /// The public result every seated player sees.
    pub fn to_json(&self) -> Value {
        match self {
            TableOutcome::Roulette { pocket } => {
                let colour = if *pocket == 0 {
                    "green"
                } else if roulette::RED_NUMBERS.contains(pocket) {
                    "red"
                } else {
                    "black"
                };
                serde_json::json!({ "pocket": pocket, "colour": colour })
            }
            TableOutcome::Baccarat(coup) => serde_json::to_value(coup).unwrap_or(Value::Null),
        }
    }
}

/// One accepted bet of a round, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stake {
    pub bet_id: String,
    pub bet: TableBet,
    pub amount: Money,
}

/// What one stake returns: stake + winnings on a win, the stake on a push, zero on a loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub bet_id: String,
    /// `win`, `lose` or `push`.
    pub outcome: &'static str,
    pub returned: Money,
}

/// The rules of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableRules {
    Roulette,
    Baccarat(baccarat::Commission),
}

impl TableRules {
    pub fn of(table: &TableConfig) -> Self {
        match table.game {
            TableGame::EuropeanRoulette => TableRules::Roulette,
            TableGame::Baccarat => TableRules::Baccarat(match table.commission {
                CommissionRule::Standard => baccarat::Commission::Standard,
                CommissionRule::NoCommission => baccarat::Commission::NoCommission,
            }),
        }
    }

    /// Parses a bet for this table and checks its amount against the table's limit for that
    /// kind. A kind the table has no limit for is not offered there.
    pub fn parse_bet(
        &self,
        table: &TableConfig,
        kind: &str,
        numbers: &[u8],
        amount: &Money,
    ) -> Result<TableBet, RulesError> {
        let bet = match self {
            TableRules::Roulette => RouletteBet::parse(kind, numbers)
                .map(TableBet::Roulette)
                .map_err(|e| RulesError::BadBet(e.to_string()))?,
            TableRules::Baccarat(_) => {
                if !numbers.is_empty() {
                    return Err(RulesError::BadBet(format!(
                        "baccarat {kind} bets take no numbers"
                    )));
                }
                BaccaratBet::parse(kind)
                    .map(TableBet::Baccarat)
                    .map_err(|e| RulesError::BadBet(e.to_string()))?
            }
        };
        let Some(limit) = table.limits.get(bet.kind()) else {
            return Err(RulesError::BadBet(format!(
                "{} bets are not offered at table {}",
                bet.kind(),
                table.id
            )));
        };
        if amount.amount() < limit.min.amount() || amount.amount() > limit.max.amount() {
            return Err(RulesError::OutOfLimits {
                kind: bet.kind().to_string(),
                min: limit.min.to_string(),
                max: limit.max.to_string(),
                amount: amount.to_string(),
            });
        }
        Ok(bet)
    }

    /// Draws the round's outcome. Baccarat deals from `shoe`, which the caller keeps between
    /// rounds; a shoe past its cut card (or none yet) is replaced by a freshly shuffled one,
    /// and `shuffled` says so.
    pub fn draw(&self, shoe: &mut Option<Shoe>, rng: &mut impl RandomSource) -> Drawn {
        match self {
            TableRules::Roulette => Drawn {
                outcome: Ok(TableOutcome::Roulette {
                    pocket: roulette::draw_pocket(rng),
                }),
                shuffled: false,
            },
            TableRules::Baccarat(_) => {
                let mut shuffled = false;
                if shoe.as_ref().map_or(true, |s| s.needs_shuffle()) {
                    match Shoe::new(baccarat::DECKS, rng) {
                        Ok(fresh) => *shoe = Some(fresh),
                        Err(e) => {
                            return Drawn {
                                outcome: Err(e.to_string()),
                                shuffled: false,
                            }
                        }
                    }
                    shuffled = true;
                }
                let outcome = match shoe.as_mut() {
                    Some(shoe) => baccarat::deal_coup(shoe)
                        .map(TableOutcome::Baccarat)
                        .map_err(|e| e.to_string()),
                    None => Err("no shoe".to_string()),
                };
                Drawn { outcome, shuffled }
            }
        }
    }

    /// Settles every stake of a round against its outcome, in the order given.
    pub fn settle(
        &self,
        stakes: &[Stake],
        outcome: &TableOutcome,
    ) -> Result<Vec<Payout>, RulesError> {
        match (self, outcome) {
            (TableRules::Roulette, TableOutcome::Roulette { pocket }) => {
                let bets = stakes
                    .iter()
                    .map(|s| match s.bet {
                        TableBet::Roulette(bet) => Ok(RouletteStake {
                            bet_id: s.bet_id.clone(),
                            bet,
                            amount: s.amount.clone(),
                        }),
                        TableBet::Baccarat(_) => Err(RulesError::WrongOutcome("roulette")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let settled = roulette::settle(&bets, *pocket)
                    .map_err(|e| RulesError::Overflow(e.to_string()))?;
                Ok(settled
                    .into_iter()
                    .map(|s| Payout {
                        bet_id: s.bet_id,
                        outcome: if s.won { "win" } else { "lose" },
                        returned: s.returned,
                    })
                    .collect())
            }
            (TableRules::Baccarat(commission), TableOutcome::Baccarat(coup)) => {
                let bets = stakes
                    .iter()
                    .map(|s| match s.bet {
                        TableBet::Baccarat(bet) => Ok(BaccaratStake {
                            bet_id: s.bet_id.clone(),
                            bet,
                            amount: s.amount.clone(),
                        }),
                        TableBet::Roulette(_) => Err(RulesError::WrongOutcome("baccarat")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let settled = baccarat::settle(&bets, coup, *commission)
                    .map_err(|e| RulesError::Overflow(e.to_string()))?;
                Ok(settled
                    .into_iter()
                    .map(|s| Payout {
                        bet_id: s.bet_id,
                        outcome: match s.outcome {
                            baccarat::Outcome::Win => "win",
                            baccarat::Outcome::Lose => "lose",
                            baccarat::Outcome::Push => "push",
                        },
                        returned: s.returned,
                    })
                    .collect())
            }
            (TableRules::Roulette, _) => Err(RulesError::WrongOutcome("baccarat")),
            (TableRules::Baccarat(_), _) => Err(RulesError::WrongOutcome("roulette")),
        }
    }
}

/// The result of [`TableRules::draw`].
#[derive(Debug)]
pub struct Drawn {
    pub outcome: Result<TableOutcome, String>,
    pub shuffled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, CurrencyTable};

    fn eur() -> Currency {
        Currency::new("EUR", 2).unwrap()
    }

    fn tables() -> Vec<TableConfig> {
        let currencies = CurrencyTable([("EUR".to_string(), 2u32)].into_iter().collect());
        super::super::config::parse(include_str!("../../../../config/tables.toml"), &currencies)
            .unwrap()
    }

    fn table(game: TableGame) -> TableConfig {
        tables().into_iter().find(|t| t.game == game).unwrap()
    }

    fn eur_amount(text: &str) -> Money {
        Money::parse_positive(text, &eur()).unwrap()
    }

    #[test]
    fn bets_are_parsed_against_the_table_layout_and_limits() {
        let t = table(TableGame::EuropeanRoulette);
        let rules = TableRules::of(&t);
        let bet = rules
            .parse_bet(&t, "split", &[2, 0], &eur_amount("1.00"))
            .unwrap();
        assert_eq!(bet.kind(), "split");
        assert_eq!(bet.spec()["numbers"], serde_json::json!([0, 2]));
        // Not adjacent, too few numbers, unknown kind, baccarat kind at roulette.
        for (kind, numbers) in [
            ("split", vec![1u8, 5]),
            ("straight", vec![]),
            ("straight", vec![37]),
            ("basket", vec![]),
            ("banker", vec![]),
        ] {
            let e = rules
                .parse_bet(&t, kind, &numbers, &eur_amount("1.00"))
                .unwrap_err();
            assert!(
                matches!(e, RulesError::BadBet(_)),
                "{kind} {numbers:?}: {e}"
            );
        }
        // Limits: straight is 0.10 to 100.00 in the shipped file.
        let e = rules
            .parse_bet(&t, "straight", &[7], &eur_amount("100.01"))
            .unwrap_err();
        assert!(matches!(e, RulesError::OutOfLimits { .. }), "{e}");
        assert!(rules
            .parse_bet(&t, "straight", &[7], &eur_amount("0.10"))
            .is_ok());
        let e = rules
            .parse_bet(&t, "red", &[], &eur_amount("0.50"))
            .unwrap_err();
        assert!(e.to_string().contains("1.00 to 2000.00"), "{e}");

        let b = table(TableGame::Baccarat);
        let rules = TableRules::of(&b);
        assert!(rules.parse_bet(&b, "tie", &[], &eur_amount("5.00")).is_ok());
        assert!(rules
            .parse_bet(&b, "tie", &[1], &eur_amount("5.00"))
            .is_err());
        assert!(rules
            .parse_bet(&b, "red", &[], &eur_amount("5.00"))
            .is_err());
    }

    #[test]
    fn a_kind_without_limits_is_not_offered() {
        let mut t = table(TableGame::EuropeanRoulette);
        t.limits.remove("corner");
        let e = TableRules::of(&t)
            .parse_bet(&t, "corner", &[1, 2, 4, 5], &eur_amount("1.00"))
            .unwrap_err();
        assert!(e.to_string().contains("not offered"), "{e}");
    }

    #[test]
    fn roulette_round_settles_every_stake_by_hand() {
        let t = table(TableGame::EuropeanRoulette);
        let rules = TableRules::of(&t);
        let stake = |id: &str, kind: &str, numbers: &[u8], amount: &str| Stake {
            bet_id: id.into(),
            bet: rules
                .parse_bet(&t, kind, numbers, &eur_amount(amount))
                .unwrap(),
            amount: eur_amount(amount),
        };
        let stakes = vec![
            stake("a", "straight", &[17], "1.00"),
            stake("b", "split", &[17, 20], "2.00"),
            stake("c", "red", &[], "10.00"),
            stake("d", "black", &[], "10.00"),
            stake("e", "column", &[2], "3.00"),
            stake("f", "low", &[], "4.00"),
        ];
        // 17 is black, column 2 (2, 5, … 35), low.
        let paid = rules
            .settle(&stakes, &TableOutcome::Roulette { pocket: 17 })
            .unwrap();
        let got: Vec<(&str, String)> = paid
            .iter()
            .map(|p| (p.outcome, p.returned.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("win", "36.00".to_string()),
                ("win", "36.00".to_string()),
                ("lose", "0.00".to_string()),
                ("win", "20.00".to_string()),
                ("win", "9.00".to_string()),
                ("win", "8.00".to_string()),
            ]
        );
        // Zero loses every outside bet.
        let paid = rules
            .settle(&stakes, &TableOutcome::Roulette { pocket: 0 })
            .unwrap();
        assert!(paid.iter().all(|p| p.returned.is_zero()));
    }

    #[test]
    fn a_wrong_outcome_is_refused() {
        let t = table(TableGame::EuropeanRoulette);
        let rules = TableRules::of(&t);
        let b = table(TableGame::Baccarat);
        let mut shoe = None;
        let mut rng = crate::rng::testing::seeded(1);
        let coup = TableRules::of(&b)
            .draw(&mut shoe, &mut rng)
            .outcome
            .unwrap();
        assert!(rules.settle(&[], &coup).is_err());
    }

    #[test]
    fn baccarat_draws_from_a_kept_shoe_and_reshuffles_at_the_cut_card() {
        let b = table(TableGame::Baccarat);
        let rules = TableRules::of(&b);
        let mut shoe = None;
        let mut rng = crate::rng::testing::seeded(7);
        let first = rules.draw(&mut shoe, &mut rng);
        assert!(first.shuffled);
        assert!(matches!(first.outcome, Ok(TableOutcome::Baccarat(_))));
        let mut shuffles = 0;
        let mut coups = 1;
        while shuffles == 0 {
            let next = rules.draw(&mut shoe, &mut rng);
            assert!(next.outcome.is_ok());
            shuffles += usize::from(next.shuffled);
            coups += 1;
            assert!(
                coups < 200,
                "an 8-deck shoe reaches its cut card in < 200 coups"
            );
        }
        // 416 cards less the burn and the 16 behind the cut card, 4 to 6 cards a coup.
        assert!(
            (60..=100).contains(&coups),
            "{coups} coups before the shuffle"
        );
    }
}
