//! The play configuration in force: the games, live tables, jackpot pools, operators and
//! jurisdiction profiles, parsed and checked together from one [`Bundle`] of files into one
//! [`Play`]. A node holds its `Play` behind a swap (`App::play`): a reload
//! (`crate::reload`) builds the next one whole and swaps it in, or changes nothing.
//!
//! | file | owns |
//! |---|---|
//! | `bundle.rs` | the files as one value, its version (content hash) |
//! | `mod.rs` | [`Play`]: every file parsed and cross-checked, all or nothing |
//! | `diff.rs` | what a reload changes (games, tables, pools added, changed, removed) (pure) |
//! | `shared.rs` | the cluster's bundle in Redis: every node plays it, one reload reaches all |

pub mod bundle;
pub mod diff;
pub mod shared;

use std::sync::Arc;

pub use bundle::Bundle;

use crate::config::Config;
use crate::games::GameCatalog;
use crate::jackpot::config::PoolConfig;
use crate::table::TableConfig;
use croupier_core::jurisdiction::Profiles;

/// A play file that cannot be played, and why: the file (or `games/<file>`) and the message,
/// which names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PlayError {
    pub file: String,
    pub message: String,
}

impl PlayError {
    pub fn new(file: &str, message: impl Into<String>) -> PlayError {
        PlayError {
            file: file.to_string(),
            message: message.into(),
        }
    }
}

/// Everything the play files say, checked: what a node plays until the next reload.
pub struct Play {
    /// The bundle's version ([`Bundle::version`]).
    pub version: Arc<str>,
    pub bundle: Bundle,
    pub games: GameCatalog,
    pub profiles: Profiles,
    pub operators: crate::operator::Operators,
    pub tables: Vec<TableConfig>,
    /// The pools, each widened to every RTP variant of the games it names.
    pub pools: Vec<PoolConfig>,
}

impl Play {
    /// The files `config` names, read and checked.
    pub fn read(config: &Config) -> Result<Play, PlayError> {
        Play::parse(Bundle::read(config)?, config)
    }

    /// Parses and checks every file of `bundle`, each against the others: all of them, or an
    /// error naming the first file and key that is wrong.
    pub fn parse(bundle: Bundle, config: &Config) -> Result<Play, PlayError> {
        let currencies = &config.currencies;
        let games = GameCatalog::from_files(&bundle.game_files())
            .map_err(|e| PlayError::new("games", e.to_string()))?;
        if games.is_empty() {
            return Err(PlayError::new("games", "no game files"));
        }
        let profiles = match bundle.file("jurisdictions") {
            None => Profiles::default(),
            Some(text) => Profiles::parse(text, currencies)
                .map_err(|e| PlayError::new("jurisdictions", e.to_string()))?,
        };
        profiles
            .check_games(&games)
            .map_err(|e| PlayError::new("jurisdictions", e.to_string()))?;
        let operators = match bundle.file("operators") {
            None => crate::operator::Operators::default(),
            Some(text) => crate::operator::Operators::parse(text, currencies, &profiles)
                .map_err(|e| PlayError::new("operators", e.to_string()))?,
        };
        if operators.is_empty() && !config.auth.demo_mode {
            return Err(PlayError::new(
                "operators",
                "lists no operator, and demo mode is off: nobody could open a session \
                 (`croupier operator-key --operator ID` makes a key; docs/operator-api.md)",
            ));
        }
        let tables = match bundle.file("tables") {
            None => Vec::new(),
            Some(text) => crate::table::config::parse(text, currencies)
                .map_err(|e| PlayError::new("tables", e.to_string()))?,
        };
        if let Some(clash) = tables.iter().find(|t| games.slot(&t.id).is_some()) {
            // Table bets are ledger rounds whose game is the table id: it must not name a slot.
            return Err(PlayError::new(
                "tables",
                format!("table id {:?} is also a slot game id", clash.id),
            ));
        }
        let pools = match bundle.file("jackpots") {
            None => Vec::new(),
            Some(text) => crate::jackpot::config::parse(text, currencies)
                .map_err(|e| PlayError::new("jackpots", e.to_string()))?,
        };
        let pools = check_pools(pools, &games, &tables, bundle.file("tables").is_some())?;
        Ok(Play {
            version: bundle.version().into(),
            bundle,
            games,
            profiles,
            operators,
            tables,
            pools,
        })
    }
}

/// Checks that every pool's games and triggers exist (in the pool's currency), and widens each
/// pool to every RTP variant of the games it names (`starfall_94` feeds what `starfall`
/// feeds; a trigger naming the game fires on any variant: `jackpot::draws_for`).
fn check_pools(
    mut pools: Vec<PoolConfig>,
    games: &GameCatalog,
    tables: &[TableConfig],
    has_tables: bool,
) -> Result<Vec<PoolConfig>, PlayError> {
    let refuse = |message: String| PlayError::new("jackpots", message);
    for pool in &pools {
        for game in &pool.games {
            let slot = games.slot(game);
            let table = tables.iter().find(|t| &t.id == game);
            let currency = match (slot, table) {
                (_, Some(t)) => t.currency.code(),
                (Some(_), None) => pool.currency.code(),
                // A deployment running no tables still feeds the pool from its slots; the
                // table ids belong to tables it does not run.
                (None, None) if !has_tables => {
                    tracing::info!(pool = %pool.id, game = %game, "not on this node (no tables here)");
                    continue;
                }
                (None, None) => {
                    return Err(refuse(format!(
                        "pool {:?} lists {game:?}, which is neither a slot game nor a table",
                        pool.id
                    )))
                }
            };
            if currency != pool.currency.code() {
                return Err(refuse(format!(
                    "pool {:?} is in {}, table {game:?} in {currency}",
                    pool.id,
                    pool.currency.code()
                )));
            }
        }
        for level in &pool.levels {
            if let Some(t) = &level.trigger {
                let known = games
                    .slot(&t.game)
                    .is_some_and(|g| g.symbols().iter().any(|s| s == &t.symbol));
                if !known {
                    return Err(refuse(format!(
                        "pool {:?} level {:?}: trigger symbol {:?} is not a symbol of slot game {:?}",
                        pool.id, level.name, t.symbol, t.game
                    )));
                }
            }
        }
    }
    for pool in &mut pools {
        let variants: Vec<String> = games
            .slots()
            .filter(|g| pool.games.iter().any(|p| p == g.family()))
            .filter(|g| !pool.games.iter().any(|p| p == g.id()))
            .map(|g| g.id().to_string())
            .collect();
        pool.games.extend(variants);
    }
    Ok(pools)
}
