//! What every spin path shares once its stake is taken and its outcome drawn: the win and the
//! outcome as stored and shown ([`Drawn`]), the bookkeeping and reply of a settled spin
//! ([`Settled`]), the replay of a round a `req_id` already has, and how a refused stake reads
//! to the player. Used by the two-step path (`handler`) and the one-step path (`one_step`).

use std::time::Instant;

use serde_json::Value;

use super::error::{money, PlayError};
use super::Caller;
use crate::app::App;
use crate::games::slot::{self, SlotGame};
use crate::ids::ReqId;
use crate::jackpot::config::PoolConfig;
use crate::jackpot::math::MICRO_PER_MINOR;
use crate::jackpot::Jackpots;
use crate::money::{Currency, Money};
use crate::protocol::ServerFrame;
use crate::wallet::{
    FreeSpins, JackpotWin, LevelSeen, MovementError, RoundRecord, RoundStatus, WalletError,
};

/// A stake the wallet refused, as the player hears it.
pub fn refusal(error: WalletError, currency: &Currency) -> PlayError {
    match error {
        WalletError::Refused(MovementError::InsufficientFunds {
            balance_minor,
            needed_minor,
        }) => PlayError::InsufficientFunds {
            balance: money(balance_minor, currency),
            bet: money(needed_minor, currency),
        },
        WalletError::Refused(MovementError::BetRequired) => PlayError::BetRequired,
        WalletError::Refused(refused @ MovementError::LimitReached { .. }) => {
            PlayError::Refused(refused)
        }
        other => PlayError::Wallet(other),
    }
}

/// A spin's draw as the ledger stores it and the player sees it: the win, the outcome (as
/// JSON, once), and the free spins it awards.
pub struct Drawn {
    pub win: Money,
    pub outcome_value: Value,
    pub outcome_json: String,
    pub awarded: Option<FreeSpins>,
    pub free_spins_awarded: u32,
}

impl Drawn {
    pub fn new(
        game: &SlotGame,
        stake_minor: i64,
        outcome: slot::SpinOutcome,
        currency: &Currency,
    ) -> Result<Self, PlayError> {
        let stake = Money::from_minor(stake_minor, currency)?;
        let win = stake.mul_floor(outcome.win_multiple)?;
        let awarded = (outcome.free_spins_awarded > 0).then(|| FreeSpins {
            game: game.id().to_string(),
            remaining: outcome.free_spins_awarded,
            bet_minor: stake_minor,
            multiplier: game.free_spins().map_or(1, |f| f.multiplier()),
        });
        let mut outcome_value = serde_json::to_value(&outcome).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut outcome_value {
            // The game file's version the round was played under (a reload may change it).
            map.insert("game_version".into(), Value::from(game.version()));
        }
        Ok(Self {
            win,
            outcome_json: outcome_value.to_string(),
            outcome_value,
            awarded,
            free_spins_awarded: outcome.free_spins_awarded,
        })
    }
}

impl Drawn {
    /// Adds `value` to the outcome under `key` (a fair round's proof), as stored and shown.
    pub fn attach(&mut self, key: &str, value: Value) {
        if let Value::Object(map) = &mut self.outcome_value {
            map.insert(key.to_string(), value);
        }
        self.outcome_json = self.outcome_value.to_string();
    }
}

/// A settled spin, however it got there: what is left to do (jackpot announcements, the free
/// spin hint, metrics) and the reply.
pub struct Settled<'a> {
    pub round: &'a RoundRecord,
    pub balance_minor: i64,
    pub jackpot_wins: &'a [JackpotWin],
    /// Free spins the player held on the game before this spin's award.
    pub free_spins_before: u32,
    /// A free round's campaign: its rounds left.
    pub free_rounds_left: Option<u32>,
    pub hint: (crate::ids::PlayerId, String),
    pub started: Instant,
}

impl Settled<'_> {
    pub fn reply(
        self,
        app: &App,
        caller: &Caller,
        req_id: &ReqId,
        game: &SlotGame,
        drawn: Drawn,
    ) -> ServerFrame {
        let round = self.round;
        for won in self.jackpot_wins {
            let (player, currency) = (caller.player.as_str(), &caller.currency);
            app.jackpots
                .won(&app.metrics, player, game.id(), won, currency);
        }
        if drawn.free_spins_awarded > 0 {
            app.free_spin_hints.insert(self.hint);
        }
        let win_minor = drawn.win.minor();
        tracing::debug!(
            game = game.id(),
            bet_minor = round.bet_minor,
            win_minor,
            free_spin = round.free_spin,
            "round settled"
        );
        record_spin_metrics(app, game, round, win_minor, &caller.currency, self.started);
        ServerFrame::SpinResult {
            req_id: req_id.to_string(),
            round_id: round.round_id.to_string(),
            game: game.id().to_string(),
            bet: money(round.bet_minor, &caller.currency),
            win: drawn.win.to_string(),
            balance: money(self.balance_minor, &caller.currency),
            free_spin: round.free_spin,
            outcome: drawn.outcome_value,
            free_spins_remaining: self.free_spins_before + drawn.free_spins_awarded,
            campaign: round.campaign.clone(),
            free_rounds_remaining: self.free_rounds_left,
            jackpot_wins: Jackpots::views(self.jackpot_wins, &caller.currency),
            session: None,
        }
    }
}

pub fn record_contributions(app: &App, pool: Option<&PoolConfig>, seen: &[LevelSeen]) {
    let Some(pool) = pool else { return };
    for level in seen {
        app.metrics
            .jackpots
            .contributions
            .with_label_values(&[&pool.id, &level.level])
            .inc_by(level.contribution_micro as f64 / MICRO_PER_MINOR as f64);
    }
}

fn record_spin_metrics(
    app: &App,
    game: &SlotGame,
    round: &RoundRecord,
    win_minor: i64,
    currency: &Currency,
    started: Instant,
) {
    let m = &app.metrics;
    let id = game.id();
    m.play.spins.with_label_values(&[id]).inc();
    if round.free_spin {
        m.play.free_spins.with_label_values(&[id]).inc();
    }
    if round.campaign.is_some() {
        // A promotion's cost: kept out of the game's observed RTP (bets and wins).
        m.play.free_rounds.with_label_values(&[id]).inc();
        m.play
            .free_round_win_minor
            .with_label_values(&[id, currency.code()])
            .inc_by(win_minor.max(0) as u64);
    } else {
        m.play
            .bet_minor
            .with_label_values(&[id, currency.code()])
            .inc_by(round.bet_minor.max(0) as u64);
        m.play
            .win_minor
            .with_label_values(&[id, currency.code()])
            .inc_by(win_minor.max(0) as u64);
    }
    if win_minor > 0 {
        m.play.winning_spins.with_label_values(&[id]).inc();
    }
    m.play
        .spin_seconds
        .with_label_values(&[id])
        .observe(started.elapsed().as_secs_f64());
    if round.stake_minor > 0 {
        m.play
            .win_multiple
            .with_label_values(&[id])
            .observe(win_minor as f64 / round.stake_minor as f64);
    }
}

/// A spin whose `req_id` already has a round in the ledger (the reply cache forgot it, or the
/// server restarted): rebuild the original reply; never charge again.
pub async fn replay_round(
    app: &App,
    caller: &Caller,
    req_id: &ReqId,
    round: RoundRecord,
) -> Result<ServerFrame, PlayError> {
    match round.status {
        RoundStatus::Settled => Ok(ServerFrame::SpinResult {
            req_id: req_id.to_string(),
            round_id: round.round_id.to_string(),
            game: round.game.clone(),
            bet: money(round.bet_minor, &caller.currency),
            win: money(round.win_minor, &caller.currency),
            balance: money(round.balance_after_minor, &caller.currency),
            free_spin: round.free_spin,
            outcome: round
                .outcome_json
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null),
            free_spins_remaining: app
                .wallet
                .ledger()
                .free_spins(&caller.player)
                .await?
                .iter()
                .find(|f| f.game == round.game)
                .map_or(0, |f| f.remaining),
            free_rounds_remaining: match &round.campaign {
                Some(campaign) => Some(
                    app.wallet
                        .ledger()
                        .free_rounds(&caller.player, None)
                        .await?
                        .iter()
                        .find(|g| g.campaign.as_str() == campaign)
                        .map_or(0, |g| g.remaining),
                ),
                None => None,
            },
            campaign: round.campaign.clone(),
            jackpot_wins: Jackpots::views(
                &app.wallet.ledger().jackpot_wins(&round.round_id).await?,
                &caller.currency,
            ),
            session: None,
        }),
        RoundStatus::Void => Err(PlayError::RoundVoid(round.round_id.to_string())),
        RoundStatus::Open => {
            let now = crate::clock::now_ms();
            if now - round.created_at_ms > app.stale_round_ms() {
                crate::recovery::void(app, &round, "stale").await;
                Err(PlayError::RoundVoid(round.round_id.to_string()))
            } else if crate::recovery::lost(app, &round, now).await {
                crate::recovery::void(app, &round, "node_lost").await;
                Err(PlayError::RoundVoid(round.round_id.to_string()))
            } else {
                Err(PlayError::InProgress)
            }
        }
    }
}
