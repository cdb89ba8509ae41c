//! What a reload changes, worked out from the play in force and the next one (pure): the
//! games, tables and pools added, changed and removed, and the changes no reload may make
//! (a table's game or currency, a pool's currency: the money already on them is in that
//! currency, at that game).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Play, PlayError};

/// Ids added, changed and removed, each sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delta {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl Delta {
    fn of<T>(
        old: &BTreeMap<&str, T>,
        new: &BTreeMap<&str, T>,
        same: impl Fn(&T, &T) -> bool,
    ) -> Delta {
        let mut delta = Delta::default();
        for (id, next) in new {
            match old.get(id) {
                None => delta.added.push(id.to_string()),
                Some(before) if !same(before, next) => delta.changed.push(id.to_string()),
                Some(_) => {}
            }
        }
        delta.removed = old
            .keys()
            .filter(|id| !new.contains_key(*id))
            .map(|id| id.to_string())
            .collect();
        delta
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Everything a reload changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub games: Delta,
    pub tables: Delta,
    pub pools: Delta,
    pub profiles: bool,
    pub operators: bool,
}

fn games(p: &Play) -> BTreeMap<&str, &str> {
    p.games.slots().map(|g| (g.id(), g.version())).collect()
}

fn tables(p: &Play) -> BTreeMap<&str, &crate::table::TableConfig> {
    p.tables.iter().map(|t| (t.id.as_str(), t)).collect()
}

fn pools(p: &Play) -> BTreeMap<&str, &crate::jackpot::config::PoolConfig> {
    p.pools.iter().map(|t| (t.id.as_str(), t)).collect()
}

impl Changes {
    /// The changes from `old` to `new`, or why `new` cannot replace `old` on a running node.
    pub fn between(old: &Play, new: &Play) -> Result<Changes, PlayError> {
        let (old_tables, new_tables) = (tables(old), tables(new));
        for (id, next) in &new_tables {
            if let Some(before) = old_tables.get(id) {
                if before.game != next.game || before.currency != next.currency {
                    return Err(PlayError::new(
                        "tables",
                        format!(
                            "table {id:?} changes its game or currency: its rounds and bets are \
                             kept under that game and currency; give the new table a new id"
                        ),
                    ));
                }
            }
        }
        let (old_pools, new_pools) = (pools(old), pools(new));
        for (id, next) in &new_pools {
            if let Some(before) = old_pools.get(id) {
                if before.currency != next.currency {
                    return Err(PlayError::new(
                        "jackpots",
                        format!(
                            "pool {id:?} changes its currency: its money is in {}; give the new \
                             pool a new id",
                            before.currency.code()
                        ),
                    ));
                }
            }
        }
        Ok(Changes {
            games: Delta::of(&games(old), &games(new), |a, b| a == b),
            tables: Delta::of(&old_tables, &new_tables, |a, b| a == b),
            pools: Delta::of(&old_pools, &new_pools, |a, b| a == b),
            profiles: old.bundle.file("jurisdictions") != new.bundle.file("jurisdictions"),
            operators: old.bundle.file("operators") != new.bundle.file("operators"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::play::Bundle;

    fn play(files: &[(&str, String)]) -> Play {
        let files = files
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"));
        let mut config: crate::config::Config = toml::from_str(text).unwrap();
        config.auth.demo_mode = true;
        let currencies = [("EUR".to_string(), 2u32), ("USD".to_string(), 2u32)];
        config.currencies = crate::money::CurrencyTable(currencies.into_iter().collect());
        Play::parse(Bundle::from_files(files).unwrap(), &config).unwrap()
    }

    fn shipped(name: &str) -> String {
        std::fs::read_to_string(format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn base() -> Vec<(&'static str, String)> {
        vec![
            (
                "games/classic_sevens.toml",
                shipped("games/classic_sevens.toml"),
            ),
            ("tables", shipped("tables.toml")),
        ]
    }

    #[test]
    fn nothing_changed_is_an_empty_change() {
        let changes = Changes::between(&play(&base()), &play(&base())).unwrap();
        assert_eq!(changes, Changes::default());
    }

    #[test]
    fn games_and_tables_added_changed_and_removed_are_named() {
        let old = play(&base());
        // The roulette table's seats changed, the baccarat table removed.
        let tables = shipped("tables.toml").replacen("max_seats = 0", "max_seats = 10", 1);
        let without_second = tables[..tables.rfind("[[table]]").unwrap()].to_string();
        let new = play(&[
            (
                "games/classic_sevens.toml",
                shipped("games/classic_sevens.toml") + "\n",
            ),
            ("games/starfall.toml", shipped("games/starfall.toml")),
            ("tables", without_second),
        ]);
        let changes = Changes::between(&old, &new).unwrap();
        assert_eq!(changes.games.added, ["starfall", "starfall_94"]);
        assert_eq!(
            changes.games.changed,
            ["classic_sevens", "classic_sevens_94"]
        );
        assert!(changes.games.removed.is_empty());
        assert_eq!(changes.tables.changed, ["roulette_1"]);
        assert_eq!(changes.tables.removed, ["baccarat_1"]);
        assert!(!changes.profiles && !changes.operators);
    }

    #[test]
    fn a_table_may_not_change_its_currency() {
        let old = play(&base());
        let tables = shipped("tables.toml").replacen("currency = \"EUR\"", "currency = \"USD\"", 1);
        let new = play(&[
            (
                "games/classic_sevens.toml",
                shipped("games/classic_sevens.toml"),
            ),
            ("tables", tables),
        ]);
        let error = Changes::between(&old, &new).unwrap_err();
        assert_eq!(error.file, "tables");
        assert!(error.message.contains("new id"), "{error}");
    }
}
