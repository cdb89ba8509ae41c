//! Progressive jackpots: pools fed by every qualifying bet on every node, won exactly once.
//!
//! | piece | owns |
//! |---|---|
//! | [`config`] | `config/jackpots.toml`: pools, levels, shares, seeds, ways to win (core crate) |
//! | [`math`] | exact arithmetic in micro-units, mystery odds, seed funding (pure, core crate) |
//! | [`Jackpots`] | which pool a game feeds, the claims a round makes (pure), live pool pushes |
//!
//! The money lives in the ledger (`croupier-ledger`, `jackpot_sql`): a bet's shares are added in the
//! same transaction as its debit (folded per wallet batch), and a claim resets its level and
//! credits the winner in the settlement's transaction, exactly once per `(pool, level, cycle)`.
//! This node only decides *whether* a round claims: trigger, mystery draw or ceiling.

pub use croupier_core::jackpot::{config, math, ClaimReason, JackpotClaim, JackpotWin, LevelDraw};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::Bus;

use crate::games::slot::SpinOutcome;
use crate::metrics::Metrics;
use crate::money::{Currency, Money};
use crate::protocol::{JackpotWinView, PoolView, ServerFrame};
use crate::rng::RandomSource;
use crate::wallet::{JackpotFeed, Ledger, LevelFeed, LevelSeen, PoolSpec};
use config::PoolConfig;

/// How often pool values are read and, when changed, pushed to players (at most every 500 ms).
pub const PUSH_EVERY: Duration = Duration::from_millis(500);

/// Everything a node knows about the pools; the values themselves are in the ledger.
pub struct Jackpots {
    /// The pools in force, swapped whole by a reload ([`Jackpots::reconfigure`]): a bet
    /// reads the pool it feeds once, and its round settles against what it read.
    set: arc_swap::ArcSwap<PoolSet>,
    /// Wins go to every node's players; pool values each node reads and pushes itself.
    events: Bus,
}

/// The pools of one play configuration, and which pool each game feeds.
#[derive(Default)]
struct PoolSet {
    pools: Vec<Arc<PoolConfig>>,
    by_game: HashMap<String, (Arc<PoolConfig>, JackpotFeed)>,
}

impl PoolSet {
    fn new(pools: Vec<PoolConfig>) -> PoolSet {
        let pools: Vec<Arc<PoolConfig>> = pools.into_iter().map(Arc::new).collect();
        let mut by_game = HashMap::new();
        for pool in &pools {
            let feed = JackpotFeed {
                pool: pool.id.clone(),
                levels: pool
                    .levels
                    .iter()
                    .map(|l| LevelFeed {
                        level: l.name.clone(),
                        contribution_ppm: l.contribution.ppm(),
                        reserve_ppm: l.reserve.ppm(),
                        must_drop_by_micro: l.must_drop_by_micro,
                    })
                    .collect(),
            };
            for game in &pool.games {
                by_game.insert(game.clone(), (pool.clone(), feed.clone()));
            }
        }
        PoolSet { pools, by_game }
    }
}

/// The levels to create in the ledger for these pools (at start-up, and before a reload puts
/// them in force).
pub fn specs(pools: &[PoolConfig]) -> Vec<PoolSpec> {
    pools
        .iter()
        .flat_map(|p| {
            p.levels.iter().map(|l| PoolSpec {
                pool: p.id.clone(),
                level: l.name.clone(),
                currency: p.currency.code().to_string(),
                seed_micro: l.seed_micro,
            })
        })
        .collect()
}

/// A masked player name for public win announcements: the first two characters, then `***`.
pub fn mask(player: &str) -> String {
    let shown: String = player.chars().take(2).collect();
    format!("{shown}***")
}

/// What the draw decides for each level of the pool a paid bet of `stake_minor` fed, in level
/// order: the trigger (from the spin's symbols) and the mystery draw. The mystery draw is
/// drawn for every level that has one, whatever else happens, so the RNG use of a round does
/// not depend on its result. A free spin (stake 0) has no mystery chance, and as it fed no
/// level, [`claims_from`] gives it no claim. `game` is the slot's family (every RTP variant
/// of a game fires its triggers) or the table id.
pub fn draws_for(
    pool: &PoolConfig,
    game: &str,
    stake_minor: i64,
    outcome: Option<&SpinOutcome>,
    rng: &mut impl RandomSource,
) -> Vec<LevelDraw> {
    pool.levels
        .iter()
        .map(|level| {
            let triggered = level.trigger.as_ref().is_some_and(|t| {
                t.game == game
                    && outcome.is_some_and(|o| {
                        o.line_wins
                            .iter()
                            .any(|w| w.symbol.as_str() == t.symbol && w.count >= t.count)
                    })
            });
            let contribution = level.contribution.of(stake_minor);
            let mystery = level
                .mystery_drop_at_micro
                .and_then(|drop| math::mystery_odds(contribution, level.seed_micro, drop))
                .map(|odds| math::mystery_draw(rng, odds));
            LevelDraw {
                level: level.name.clone(),
                triggered,
                mystery_hit: mystery.as_ref().is_some_and(|m| m.hit()),
                mystery,
            }
        })
        .collect()
}

/// The claims a two-step round makes on its pool's levels, one per level at most, from its
/// draws and the levels as its bet left them (`seen`, from the ledger when it opened):
/// [`math::claim_reason`], at the cycle the bet fed. A level the bet did not feed is skipped.
pub fn claims_from(
    pool: &PoolConfig,
    seen: &[LevelSeen],
    draws: &[LevelDraw],
) -> Vec<JackpotClaim> {
    let mut claims = Vec::new();
    for draw in draws {
        let Some(seen) = seen.iter().find(|s| s.level == draw.level) else {
            continue;
        };
        let Some(level) = pool.levels.iter().find(|l| l.name == draw.level) else {
            continue;
        };
        let ceiling = level.must_drop_by_micro;
        if let Some(reason) =
            math::claim_reason(draw.triggered, seen.value_micro, ceiling, draw.mystery_hit)
        {
            claims.push(JackpotClaim {
                pool: pool.id.clone(),
                level: draw.level.clone(),
                cycle: seen.cycle,
                reason,
            });
        }
    }
    claims
}

/// A two-step round's draws and claims at once: [`draws_for`] then [`claims_from`]. The draws
/// go to the ledger with the settlement, for the round's recall.
pub fn claims_for(
    pool: &PoolConfig,
    game: &str,
    stake_minor: i64,
    seen: &[LevelSeen],
    outcome: Option<&SpinOutcome>,
    rng: &mut impl RandomSource,
) -> (Vec<JackpotClaim>, Vec<LevelDraw>) {
    let draws = draws_for(pool, game, stake_minor, outcome, rng);
    (claims_from(pool, seen, &draws), draws)
}

impl Jackpots {
    pub fn new(pools: Vec<PoolConfig>, events: Bus) -> Self {
        Self {
            set: arc_swap::ArcSwap::from_pointee(PoolSet::new(pools)),
            events,
        }
    }

    /// Puts these pools in force from the next bet (their levels exist in the ledger:
    /// [`specs`]). A round already open settles against the pool its bet fed; a pool left
    /// out keeps its money in the ledger, where `croupier reconcile` and the pool metrics
    /// still see it, and players no longer do.
    pub fn reconfigure(&self, pools: Vec<PoolConfig>) {
        self.set.store(Arc::new(PoolSet::new(pools)));
    }

    /// The pools in force.
    pub fn pools(&self) -> Vec<Arc<PoolConfig>> {
        self.set.load().pools.clone()
    }

    /// The pool a bet on `game` (a slot id or a table id) feeds, in its currency: what the
    /// bet adds to it, and the pool its round's claims are drawn against (read together, so
    /// a reload between the two cannot pair one pool's feed with another's levels).
    pub fn feed_for(
        &self,
        game: &str,
        currency: &Currency,
    ) -> Option<(JackpotFeed, Arc<PoolConfig>)> {
        let set = self.set.load();
        let (pool, feed) = set.by_game.get(game)?;
        (pool.currency == *currency).then(|| (feed.clone(), pool.clone()))
    }

    /// Pool updates and win announcements for one session.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<str>> {
        self.events.subscribe()
    }

    /// A level was paid to `player` on `game` (a slot or a table): counts it and tells every
    /// player of every node (masked winner). The ledger has already logged the win.
    pub fn won(
        &self,
        metrics: &Metrics,
        player: &str,
        game: &str,
        win: &JackpotWin,
        currency: &Currency,
    ) {
        metrics
            .jackpots
            .wins
            .with_label_values(&[&win.pool, &win.level, win.reason.as_str()])
            .inc();
        metrics
            .jackpots
            .paid_minor
            .with_label_values(&[&win.pool, &win.level])
            .inc_by(win.amount_minor.max(0) as u64);
        let frame = ServerFrame::JackpotWon {
            pool: win.pool.clone(),
            level: win.level.clone(),
            cycle: win.cycle,
            amount: Money::from_minor(win.amount_minor, currency)
                .map(|m| m.to_string())
                .unwrap_or_default(),
            currency: currency.code().to_string(),
            game: game.to_string(),
            winner: mask(player),
        };
        let (bus, text) = (self.events.clone(), Arc::from(frame.to_json()));
        // Called from request tasks and actors alike: a plain tokio task (no LocalSet needed).
        tokio::spawn(async move { bus.publish(text).await });
    }

    /// The wins as the winner's reply (`spin_result`, `bet_settled`) lists them.
    pub fn views(wins: &[JackpotWin], currency: &Currency) -> Vec<JackpotWinView> {
        wins.iter()
            .map(|w| JackpotWinView {
                pool: w.pool.clone(),
                level: w.level.clone(),
                amount: Money::from_minor(w.amount_minor, currency)
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Reads the pools every [`PUSH_EVERY`]; when a value changed, pushes them to every
    /// session and updates the pool metrics. Ends with `shutdown`.
    pub fn start_pusher(
        self: &Arc<Self>,
        ledger: Arc<dyn Ledger>,
        metrics: Arc<Metrics>,
        currencies: crate::money::CurrencyTable,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let me = self.clone();
        actix::spawn(async move {
            let mut last: Vec<PoolView> = Vec::new();
            let mut tick = tokio::time::interval(PUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let live = me.set.load_full();
                if live.pools.is_empty() {
                    continue; // no jackpots in force: nothing to read
                }
                let pools = match ledger.pools().await {
                    Ok(pools) => pools,
                    Err(error) => {
                        tracing::warn!(%error, "jackpot pools unreadable; no push this time");
                        continue;
                    }
                };
                let views: Vec<PoolView> = pools
                    .iter()
                    .filter_map(|p| {
                        let currency = currencies.get(&p.currency).ok()?;
                        let (minor, _) = math::payout_split(p.value_micro);
                        metrics
                            .jackpots
                            .value
                            .with_label_values(&[&p.pool, &p.level])
                            .set(minor);
                        if let Some(at) = p.last_won_at_ms {
                            metrics
                                .jackpots
                                .last_win
                                .with_label_values(&[&p.pool, &p.level])
                                .set(at / 1000);
                        }
                        // A pool a reload removed: its money is still in the metrics (and
                        // `reconcile`), but players are not shown a pool they cannot win.
                        live.pools.iter().find(|c| c.id == p.pool)?;
                        Some(PoolView {
                            pool: p.pool.clone(),
                            level: p.level.clone(),
                            currency: p.currency.clone(),
                            value: Money::from_minor(minor, &currency).ok()?.to_string(),
                            cycle: p.cycle,
                        })
                    })
                    .collect();
                if views != last {
                    let frame = ServerFrame::JackpotUpdate {
                        pools: views.clone(),
                    };
                    me.events.publish_local(Arc::from(frame.to_json()));
                    last = views;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::CurrencyTable;

    fn network() -> PoolConfig {
        let currencies = CurrencyTable([("EUR".to_string(), 2u32)].into_iter().collect());
        config::parse(include_str!("../../config/jackpots.toml"), &currencies)
            .unwrap()
            .remove(0)
    }

    fn seen(pool: &PoolConfig, value_micro: i64, contribution_micro: i64) -> Vec<LevelSeen> {
        pool.levels
            .iter()
            .map(|l| LevelSeen {
                level: l.name.clone(),
                cycle: 7,
                value_micro,
                contribution_micro,
            })
            .collect()
    }

    #[test]
    fn the_ceiling_wins_a_level_once_reached() {
        let pool = network();
        let mini = &pool.levels[0];
        let at = mini.must_drop_by_micro.unwrap();
        let mut rng = crate::rng::testing::seeded(1);
        // A contribution of 0 means no mystery chance: only the ceiling can win.
        let below = claims_of(
            &pool,
            "starfall",
            0,
            &seen(&pool, at - 1, 0),
            None,
            &mut rng,
        );
        assert!(below.is_empty());
        let reached = claims_of(&pool, "starfall", 0, &seen(&pool, at, 0), None, &mut rng);
        assert_eq!(
            reached.len(),
            1,
            "only mini's ceiling is 50.00: {reached:?}"
        );
        assert_eq!(reached[0].level, "mini");
        assert_eq!(reached[0].cycle, 7);
        assert_eq!(reached[0].reason, ClaimReason::Ceiling);
    }

    /// The claims of [`claims_for`] (its draws are checked in
    /// `every_mystery_draw_is_kept_with_what_it_decided`).
    fn claims_of(
        pool: &PoolConfig,
        game: &str,
        stake_minor: i64,
        seen: &[LevelSeen],
        outcome: Option<&SpinOutcome>,
        rng: &mut impl RandomSource,
    ) -> Vec<JackpotClaim> {
        claims_for(pool, game, stake_minor, seen, outcome, rng).0
    }

    #[test]
    fn every_mystery_draw_is_kept_with_what_it_decided() {
        let pool = network();
        let mini = &pool.levels[0];
        let span = mini.mystery_drop_at_micro.unwrap() - mini.seed_micro;
        let stake = span / 10 / mini.contribution.ppm();
        let mut rng = crate::rng::testing::seeded(9);
        let (mut hits, mut misses) = (0, 0);
        for _ in 0..200 {
            let draws = draws_for(&pool, "starfall", stake, None, &mut rng);
            assert_eq!(draws.len(), pool.levels.len());
            for draw in &draws {
                let Some(m) = &draw.mystery else {
                    assert!(!draw.mystery_hit, "{draw:?}");
                    continue;
                };
                let drawn = m.drawn.expect("uncertain odds draw a value");
                assert!(drawn < m.denominator, "{m:?}");
                assert_eq!(draw.mystery_hit, drawn < m.numerator, "{draw:?}");
                if draw.mystery_hit {
                    hits += 1
                } else {
                    misses += 1
                }
            }
        }
        assert!(hits > 0 && misses > 0, "{hits} hits, {misses} misses");
        // A bet that contributes nothing has no mystery chance and draws nothing.
        let none = draws_for(&pool, "starfall", 0, None, &mut rng);
        assert!(none.iter().all(|d| d.mystery.is_none() && !d.mystery_hit));
    }

    #[test]
    fn a_bet_that_did_not_feed_a_level_cannot_win_it() {
        let pool = network();
        let mut rng = crate::rng::testing::seeded(1);
        assert!(claims_of(&pool, "starfall", 100, &[], None, &mut rng).is_empty());
    }

    #[test]
    fn mystery_claims_come_at_the_configured_rate() {
        let pool = network();
        let mini = &pool.levels[0];
        // A contribution of a tenth of the span: about one claim in ten rounds.
        let span = mini.mystery_drop_at_micro.unwrap() - mini.seed_micro;
        let stake = span / 10 / mini.contribution.ppm();
        assert_eq!(mini.contribution.of(stake), span / 10);
        let mut rng = crate::rng::testing::seeded(5);
        let rounds = 20_000;
        let value = mini.seed_micro; // below every ceiling
        let hits = (0..rounds)
            .filter(|_| {
                claims_of(
                    &pool,
                    "starfall",
                    stake,
                    &seen(&pool, value, span / 10),
                    None,
                    &mut rng,
                )
                .iter()
                .any(|c| c.level == "mini" && c.reason == ClaimReason::Mystery)
            })
            .count();
        // Expected 2000, sd ≈ 42: a fixed seed keeps the run repeatable.
        assert!((1_800..=2_200).contains(&hits), "{hits}");
    }

    fn outcome_with(symbol: &str, count: u32) -> SpinOutcome {
        use crate::games::slot::{LineWin, SymbolId};
        SpinOutcome {
            stops: vec![0; 5],
            grid: Vec::new(),
            line_wins: vec![LineWin {
                line: 3,
                symbol: SymbolId::new(symbol).unwrap(),
                count,
                pay: 2000,
            }],
            scatter_win: None,
            free_spins_awarded: 0,
            multiplier: 1,
            win_multiple: rust_decimal::Decimal::from(100),
        }
    }

    #[test]
    fn the_slot_trigger_wins_only_its_level_on_its_game() {
        let pool = network();
        let mut rng = crate::rng::testing::seeded(3);
        let low = pool.levels[0].seed_micro; // below every ceiling; no mystery chance
        let five = outcome_with("WILD", 5);
        let claims = claims_of(
            &pool,
            "starfall",
            0,
            &seen(&pool, low, 0),
            Some(&five),
            &mut rng,
        );
        assert_eq!(claims.len(), 1, "{claims:?}");
        assert_eq!(
            (claims[0].level.as_str(), claims[0].reason),
            ("grand", ClaimReason::Trigger)
        );
        // Four wilds, another symbol, or the same line on another game: no trigger.
        for (game, outcome) in [
            ("starfall", outcome_with("WILD", 4)),
            ("starfall", outcome_with("STAR", 5)),
            ("classic_sevens", outcome_with("WILD", 5)),
        ] {
            let seen = seen(&pool, low, 0);
            let claims = claims_of(&pool, game, 0, &seen, Some(&outcome), &mut rng);
            assert!(claims.is_empty(), "{game}: {claims:?}");
        }
    }

    #[test]
    fn winners_are_masked() {
        assert_eq!(mask("alice"), "al***");
        assert_eq!(mask("x"), "x***");
    }
}
