//! Pool definitions from `config/jackpots.toml`: levels, shares, seeds, reserve, mystery drop
//! point, must-drop-by ceiling, slot triggers and the games that feed each pool; validated
//! with messages that name the pool and the key.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::math::{Share, MICRO_PER_MINOR};
use crate::data::is_data_id as is_id;
use crate::money::{Currency, CurrencyTable, Money};

/// Bounds that keep a misconfigured network from taking more of a bet than any real one does.
pub const MAX_POOLS: usize = 100;
pub const MAX_LEVELS: usize = 8;
/// Sum of every level's contribution and reserve share of one pool.
pub const MAX_TOTAL_SHARE_PPM: i64 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("jackpots.toml: {key}: {message}")]
pub struct JackpotConfigError {
    pub key: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    game: String,
    symbol: String,
    count: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    name: String,
    contribution: String,
    seed: String,
    #[serde(default)]
    reserve: Option<String>,
    #[serde(default)]
    mystery_drop_at: Option<String>,
    #[serde(default)]
    must_drop_by: Option<String>,
    #[serde(default)]
    trigger: Option<RawTrigger>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    id: String,
    currency: String,
    games: Vec<String>,
    level: Vec<RawLevel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    pool: Vec<RawPool>,
}

/// A slot symbol combination that wins a level: `count` or more of `symbol` on a paying line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub game: String,
    pub symbol: String,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelConfig {
    pub name: String,
    pub contribution: Share,
    pub reserve: Share,
    pub seed_micro: i64,
    pub mystery_drop_at_micro: Option<i64>,
    pub must_drop_by_micro: Option<i64>,
    pub trigger: Option<Trigger>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    pub id: String,
    pub currency: Currency,
    /// Slot game ids and table ids whose bets feed the pool.
    pub games: Vec<String>,
    pub levels: Vec<LevelConfig>,
}

pub fn load(
    path: &std::path::Path,
    currencies: &CurrencyTable,
) -> Result<Vec<PoolConfig>, JackpotConfigError> {
    let text = crate::data::read_data_file(path)
        .map_err(|(key, message)| JackpotConfigError { key, message })?;
    parse(&text, currencies)
}

pub fn parse(
    text: &str,
    currencies: &CurrencyTable,
) -> Result<Vec<PoolConfig>, JackpotConfigError> {
    let raw: RawFile = crate::data::toml_with_key(text)
        .map_err(|(key, message)| JackpotConfigError { key, message })?;
    if raw.pool.len() > MAX_POOLS {
        return Err(JackpotConfigError {
            key: "pool".into(),
            message: format!("at most {MAX_POOLS} pools"),
        });
    }
    let mut ids = BTreeSet::new();
    let mut fed = BTreeSet::new();
    let mut pools = Vec::new();
    for (i, p) in raw.pool.into_iter().enumerate() {
        let fail = |key: &str, message: String| JackpotConfigError {
            key: format!("pool[{i}].{key}"),
            message,
        };
        if !is_id(&p.id) {
            return Err(fail("id", "must be 1-64 characters of a-z 0-9 _".into()));
        }
        if !ids.insert(p.id.clone()) {
            return Err(fail("id", format!("duplicate pool id {:?}", p.id)));
        }
        let currency = currencies
            .get(&p.currency)
            .map_err(|e| fail("currency", e.to_string()))?;
        if p.games.is_empty() {
            return Err(fail(
                "games",
                "at least one game or table feeds a pool".into(),
            ));
        }
        for game in &p.games {
            // One pool per game: a bet's contribution and its draws are then unambiguous.
            if !fed.insert(game.clone()) {
                return Err(fail(
                    "games",
                    format!("{game:?} already feeds another pool"),
                ));
            }
        }
        if p.level.is_empty() || p.level.len() > MAX_LEVELS {
            return Err(fail("level", format!("1 to {MAX_LEVELS} levels")));
        }
        let mut names = BTreeSet::new();
        let mut levels = Vec::new();
        let mut total_ppm = 0;
        for (j, l) in p.level.into_iter().enumerate() {
            let lfail = |key: &str, message: String| fail(&format!("level[{j}].{key}"), message);
            if !is_id(&l.name) || !names.insert(l.name.clone()) {
                return Err(lfail("name", "a unique name of a-z 0-9 _".into()));
            }
            let share =
                |key: &str, text: &str| Share::parse(text).map_err(|e| lfail(key, e.to_string()));
            let contribution = share("contribution", &l.contribution)?;
            if contribution.ppm() == 0 {
                return Err(lfail("contribution", "must be above zero".into()));
            }
            let reserve = match &l.reserve {
                Some(text) => share("reserve", text)?,
                None => Share::zero(),
            };
            total_ppm += contribution.ppm() + reserve.ppm();
            let amount = |key: &str, text: &str| {
                Money::parse_positive(text, &currency)
                    .map(|m| m.minor() * MICRO_PER_MINOR)
                    .map_err(|e| lfail(key, e.to_string()))
            };
            let seed_micro = amount("seed", &l.seed)?;
            let mystery = l
                .mystery_drop_at
                .as_deref()
                .map(|t| amount("mystery_drop_at", t))
                .transpose()?;
            let ceiling = l
                .must_drop_by
                .as_deref()
                .map(|t| amount("must_drop_by", t))
                .transpose()?;
            if mystery.is_some_and(|m| m <= seed_micro) {
                return Err(lfail("mystery_drop_at", "must be above the seed".into()));
            }
            if ceiling.is_some_and(|c| c <= seed_micro) {
                return Err(lfail("must_drop_by", "must be above the seed".into()));
            }
            if let (Some(m), Some(c)) = (mystery, ceiling) {
                if m > c {
                    return Err(lfail(
                        "mystery_drop_at",
                        "must not be above must_drop_by".into(),
                    ));
                }
            }
            let trigger = match l.trigger {
                Some(t) => {
                    if !p.games.contains(&t.game) {
                        return Err(lfail(
                            "trigger.game",
                            format!("{:?} does not feed this pool", t.game),
                        ));
                    }
                    if t.count == 0 {
                        return Err(lfail("trigger.count", "must be at least 1".into()));
                    }
                    Some(Trigger {
                        game: t.game,
                        symbol: t.symbol,
                        count: t.count,
                    })
                }
                None => None,
            };
            if mystery.is_none() && ceiling.is_none() && trigger.is_none() {
                return Err(lfail(
                    "name",
                    "a level needs a way to be won: mystery_drop_at, must_drop_by or trigger"
                        .into(),
                ));
            }
            levels.push(LevelConfig {
                name: l.name,
                contribution,
                reserve,
                seed_micro,
                mystery_drop_at_micro: mystery,
                must_drop_by_micro: ceiling,
                trigger,
            });
        }
        if total_ppm > MAX_TOTAL_SHARE_PPM {
            return Err(fail(
                "level",
                "contribution and reserve shares add up to more than 0.1 of a bet".into(),
            ));
        }
        pools.push(PoolConfig {
            id: p.id,
            currency,
            games: p.games,
            levels,
        });
    }
    Ok(pools)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../../config/jackpots.toml");

    fn currencies() -> CurrencyTable {
        CurrencyTable([("EUR".to_string(), 2u32)].into_iter().collect())
    }

    #[test]
    fn shipped_pools_are_valid() {
        let pools = parse(SHIPPED, &currencies()).unwrap();
        assert!(!pools.is_empty());
        let p = &pools[0];
        assert!(p.levels.iter().any(|l| l.trigger.is_some()));
        assert!(p.levels.iter().any(|l| l.mystery_drop_at_micro.is_some()));
        assert!(p.levels.iter().any(|l| l.must_drop_by_micro.is_some()));
    }

    fn error_for(from: &str, to: &str) -> String {
        assert!(SHIPPED.contains(from), "edit target exists: {from}");
        parse(&SHIPPED.replacen(from, to, 1), &currencies())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_pools_are_refused_naming_the_key() {
        let e = error_for("contribution = \"0.004\"", "contribution = \"0.0000001\"");
        assert!(e.contains("level[0].contribution"), "{e}");
        let e = error_for("contribution = \"0.004\"", "contribution = \"0.5\"");
        assert!(e.contains("contribution"), "{e}");
        let e = error_for("seed = \"10.00\"", "seed = \"10.001\"");
        assert!(e.contains("level[0].seed"), "{e}");
        let e = error_for("mystery_drop_at = \"40.00\"", "mystery_drop_at = \"5.00\"");
        assert!(
            e.contains("mystery_drop_at") && e.contains("above the seed"),
            "{e}"
        );
        let e = error_for("currency = \"EUR\"", "currency = \"XXX\"");
        assert!(e.contains("pool[0].currency"), "{e}");
        let e = error_for("name = \"mini\"", "name = \"major\"");
        assert!(e.contains("name"), "{e}");
        let e = error_for("count = 5", "count = 0");
        assert!(e.contains("trigger.count"), "{e}");
        let e = error_for("games = [", "gamez = [");
        assert!(e.contains("gamez") || e.contains("games"), "{e}");
    }
}
