//! What a client frame does, as a plain async function of the shared [`App`]: the spin
//! pipeline (open the round and take the stake → draw on an RNG shard → settle), balance,
//! games, history. Runs as a detached task so a round completes even if the socket drops.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::error::{money, PlayError};
use super::tables;
use super::{Caller, SessionLink};
use crate::app::App;
use crate::games::slot::{self, SlotGame, SpinMode};
use crate::ids::{ReqId, RoundId};
use crate::jackpot::config::PoolConfig;
use crate::jackpot::math::MICRO_PER_MINOR;
use crate::jackpot::Jackpots;
use crate::money::{Currency, Money};
use crate::protocol::{ClientFrame, ErrorCode, GameView, RoundView, ServerFrame};
use crate::wallet::{
    Applied, FreeSpins, JackpotWin, LedgerError, LevelSeen, Movement, MovementError, RoundRecord,
    RoundStatus, WalletError,
};

/// Settlement is retried this many times before the round is left to recovery: the outcome is
/// already decided and must be honoured, a brief ledger outage should not void it.
const SETTLE_ATTEMPTS: u32 = 5;
const SETTLE_BACKOFF: Duration = Duration::from_millis(200);

/// Runs one frame and returns the reply to send.
pub async fn run(
    app: &App,
    caller: &Caller,
    link: &SessionLink,
    frame: ClientFrame,
) -> ServerFrame {
    let req_id = frame.req_id().to_string();
    let result = match frame {
        ClientFrame::Spin { req_id, game, bet } => {
            spin(app, caller, &req_id, &game, bet.as_deref()).await
        }
        ClientFrame::Balance { req_id } => balance(app, caller, &req_id).await,
        ClientFrame::Games { req_id } => Ok(games(app, &req_id)),
        ClientFrame::History { req_id, limit } => history(app, caller, &req_id, limit).await,
        ClientFrame::Ping { req_id } => Ok(ServerFrame::Pong {
            req_id: req_id.to_string(),
            server_time: crate::clock::now_ms(),
        }),
        ClientFrame::Tables { req_id } => Ok(ServerFrame::Tables {
            req_id: req_id.to_string(),
            tables: app.tables.views().await,
        }),
        ClientFrame::JoinTable { req_id, table } => {
            tables::join(app, caller, link, &req_id, &table).await
        }
        ClientFrame::LeaveTable { req_id, table } => tables::leave(app, link, &req_id, &table),
        ClientFrame::TableBet {
            req_id,
            table,
            kind,
            numbers,
            amount,
        } => {
            let bet = tables::BetRequest {
                table: &table,
                kind: &kind,
                numbers: &numbers,
                amount: &amount,
            };
            tables::bet(app, caller, link, &req_id, bet).await
        }
    };
    result.unwrap_or_else(|error| {
        let code = error.code();
        if code == ErrorCode::Internal || code == ErrorCode::ServiceUnavailable {
            tracing::error!(player = %caller.player, session = %caller.session_id, %error, "request failed");
        }
        ServerFrame::error(Some(req_id), code, error.to_string())
    })
}

async fn balance(app: &App, caller: &Caller, req_id: &ReqId) -> Result<ServerFrame, PlayError> {
    let account = app.wallet.ledger().account(&caller.player).await?;
    let balance_minor = account.map_or(0, |a| a.balance_minor);
    Ok(ServerFrame::Balance {
        req_id: req_id.to_string(),
        currency: caller.currency.code().to_string(),
        balance: money(balance_minor, &caller.currency),
    })
}

pub fn game_view(game: &SlotGame) -> GameView {
    GameView {
        id: game.id().to_string(),
        name: game.name().to_string(),
        reels: game.reels(),
        rows: game.rows(),
        lines: game.lines(),
        min_bet: game.min_bet().to_string(),
        max_bet: game.max_bet().to_string(),
        bet_step: game.bet_step().to_string(),
    }
}

fn games(app: &App, req_id: &ReqId) -> ServerFrame {
    ServerFrame::Games {
        req_id: req_id.to_string(),
        games: app.games.slots().map(|g| game_view(g)).collect(),
    }
}

fn round_view(round: &RoundRecord, currency: &Currency) -> RoundView {
    RoundView {
        round_id: round.round_id.to_string(),
        game: round.game.clone(),
        bet: money(round.bet_minor, currency),
        win: money(round.win_minor, currency),
        free_spin: round.free_spin,
        status: round.status.as_str().to_string(),
        created_at: round.created_at_ms,
        outcome: round
            .outcome_json
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok()),
    }
}

async fn history(
    app: &App,
    caller: &Caller,
    req_id: &ReqId,
    limit: u32,
) -> Result<ServerFrame, PlayError> {
    let rounds = app.wallet.ledger().history(&caller.player, limit).await?;
    Ok(ServerFrame::History {
        req_id: req_id.to_string(),
        rounds: rounds
            .iter()
            .map(|r| round_view(r, &caller.currency))
            .collect(),
    })
}

fn parse_bet(
    game: &SlotGame,
    bet: Option<&str>,
    currency: &Currency,
) -> Result<Option<i64>, PlayError> {
    let Some(text) = bet else { return Ok(None) };
    let bet = Money::parse_positive(text, currency)?;
    game.check_bet(&bet)
        .map_err(|e| PlayError::BetOutOfLimits(e.to_string()))?;
    Ok(Some(bet.minor()))
}

async fn spin(
    app: &App,
    caller: &Caller,
    req_id: &ReqId,
    game_id: &str,
    bet: Option<&str>,
) -> Result<ServerFrame, PlayError> {
    let started = Instant::now();
    let game = app
        .games
        .slot(game_id)
        .ok_or_else(|| PlayError::UnknownGame(game_id.chars().take(64).collect()))?
        .clone();
    let bet_minor = parse_bet(&game, bet, &caller.currency)?;
    let round_id = RoundId::new_v7();
    tracing::Span::current().record("round", tracing::field::display(&round_id));
    let hint = (caller.player.clone(), game.id().to_string());
    let try_free_spin = bet_minor.is_none() || app.free_spin_hints.contains(&hint);
    let feed = app.jackpots.feed_for(game.id(), &caller.currency);
    let pool = feed.as_ref().and_then(|_| app.jackpots.pool_for(game.id()));
    let opened = app
        .wallet
        .apply(Movement::OpenRound {
            round_id: round_id.clone(),
            player: caller.player.clone(),
            req_id: req_id.clone(),
            game: game.id().to_string(),
            bet_minor,
            try_free_spin,
            jackpot: feed,
            opened_json: None,
            node: Some(app.node.to_string()),
        })
        .await
        .map_err(|e| match e {
            WalletError::Refused(MovementError::InsufficientFunds {
                balance_minor,
                needed_minor,
            }) => PlayError::InsufficientFunds {
                balance: money(balance_minor, &caller.currency),
                bet: money(needed_minor, &caller.currency),
            },
            WalletError::Refused(MovementError::BetRequired) => PlayError::BetRequired,
            other => PlayError::Wallet(other),
        })?;
    let Applied::RoundOpened {
        round,
        replayed,
        free_spins_left,
        jackpot: seen,
        ..
    } = opened
    else {
        let what = format!("OpenRound {round_id} got an answer of another kind");
        return Err(LedgerError::Invariant(what).into());
    };
    if replayed {
        return replay_round(app, caller, req_id, round).await;
    }
    if free_spins_left == 0 {
        app.free_spin_hints.remove(&hint);
    }
    let mode = if round.free_spin {
        SpinMode::Free {
            multiplier: round.multiplier,
        }
    } else {
        SpinMode::Base
    };
    record_contributions(app, pool.as_deref(), &seen);
    let drawn_game = game.clone();
    // The outcome and any jackpot claims are drawn together, on the same shard.
    let (outcome, claims) = match app
        .rng
        .draw(move |rng| {
            let outcome = slot::spin(&drawn_game, mode, rng);
            let claims = pool.map_or_else(Vec::new, |p| {
                crate::jackpot::claims_for(&p, drawn_game.id(), &seen, Some(&outcome), rng)
            });
            (outcome, claims)
        })
        .await
    {
        Ok(drawn) => drawn,
        Err(error) => {
            // The stake is taken but no outcome exists: void the round now.
            crate::recovery::void(app, &round, "rng_unavailable").await;
            return Err(error.into());
        }
    };
    let stake = Money::from_minor(round.stake_minor, &caller.currency)?;
    let win = stake.mul_floor(outcome.win_multiple)?;
    let awarded = (outcome.free_spins_awarded > 0).then(|| FreeSpins {
        game: game.id().to_string(),
        remaining: outcome.free_spins_awarded,
        bet_minor: round.stake_minor,
        multiplier: game.free_spins().map_or(1, |f| f.multiplier()),
    });
    let outcome_value = serde_json::to_value(&outcome).unwrap_or(Value::Null);
    let outcome_json = outcome_value.to_string();
    let settle = Movement::SettleRound {
        round_id: round.round_id.clone(),
        player: caller.player.clone(),
        win_minor: win.minor(),
        outcome_json,
        free_spins_awarded: awarded,
        jackpot_claims: claims,
    };
    let (balance_minor, jackpot_wins) = settle_with_retries(app, settle).await?;
    for won in &jackpot_wins {
        let (player, currency) = (caller.player.as_str(), &caller.currency);
        app.jackpots
            .won(&app.metrics, player, game.id(), won, currency);
    }
    if outcome.free_spins_awarded > 0 {
        app.free_spin_hints.insert(hint);
    }
    let free_spins_remaining = free_spins_left + outcome.free_spins_awarded;
    tracing::debug!(
        game = game.id(),
        bet_minor = round.bet_minor,
        win_minor = win.minor(),
        free_spin = round.free_spin,
        "round settled"
    );
    record_spin_metrics(app, &game, &round, win.minor(), &caller.currency, started);
    Ok(ServerFrame::SpinResult {
        req_id: req_id.to_string(),
        round_id: round.round_id.to_string(),
        game: game.id().to_string(),
        bet: money(round.bet_minor, &caller.currency),
        win: win.to_string(),
        balance: money(balance_minor, &caller.currency),
        free_spin: round.free_spin,
        outcome: outcome_value,
        free_spins_remaining,
        jackpot_wins: Jackpots::views(&jackpot_wins, &caller.currency),
    })
}

fn record_contributions(app: &App, pool: Option<&PoolConfig>, seen: &[LevelSeen]) {
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
    m.play
        .bet_minor
        .with_label_values(&[id, currency.code()])
        .inc_by(round.bet_minor.max(0) as u64);
    m.play
        .win_minor
        .with_label_values(&[id, currency.code()])
        .inc_by(win_minor.max(0) as u64);
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

async fn settle_with_retries(
    app: &App,
    settle: Movement,
) -> Result<(i64, Vec<JackpotWin>), PlayError> {
    let mut attempt = 1;
    loop {
        match app.wallet.apply(settle.clone()).await {
            Ok(Applied::RoundSettled {
                balance_minor,
                jackpot_wins,
                ..
            }) => return Ok((balance_minor, jackpot_wins)),
            Ok(other) => {
                let what = format!("SettleRound answered {other:?}");
                return Err(LedgerError::Invariant(what).into());
            }
            Err(WalletError::Refused(refused)) => return Err(PlayError::Refused(refused)),
            Err(error) if attempt >= SETTLE_ATTEMPTS => return Err(error.into()),
            Err(error) => {
                tracing::warn!(%error, attempt, "settlement failed, retrying");
                tokio::time::sleep(SETTLE_BACKOFF * attempt).await;
                attempt += 1;
            }
        }
    }
}

/// A spin whose `req_id` already has a round in the ledger (the reply cache forgot it, or the
/// server restarted): rebuild the original reply; never charge again.
async fn replay_round(
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
            jackpot_wins: Jackpots::views(
                &app.wallet.ledger().jackpot_wins(&round.round_id).await?,
                &caller.currency,
            ),
        }),
        RoundStatus::Void => Err(PlayError::RoundVoid(round.round_id.to_string())),
        RoundStatus::Open => {
            let now = crate::clock::now_ms();
            if now - round.created_at_ms > app.stale_round_ms {
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
