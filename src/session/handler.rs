//! What a client frame does, as a plain async function of the shared [`App`]: the spin
//! pipeline, balance, games, history. Runs as a detached task so a round completes even if
//! the socket drops. A paid spin whose stake the wallet shard can hold takes one commit
//! (`one_step`); any other spin (a free spin, an operator's free round, no hold) takes two
//! here: open the round and take the stake (or the free round) → draw on an RNG shard → settle.

use std::time::{Duration, Instant};

use super::error::{money, PlayError};
use super::settled::{record_contributions, refusal, replay_round, Drawn, Settled};
use super::{one_step, tables};
use super::{Caller, SessionLink};
use crate::app::App;
use crate::fair;
use crate::games::slot::{self, SlotGame, SpinMode};
use crate::ids::{CampaignId, ReqId, RoundId};
use crate::money::{Currency, Money};
use crate::protocol::{ClientFrame, ErrorCode, FreeRoundsView, GameView, RoundView, ServerFrame};
use crate::rng::fair::ClientSeed;
use crate::wallet::{
    Applied, JackpotWin, LedgerError, Movement, MovementError, RoundRecord, WalletError,
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
        ClientFrame::Spin {
            req_id,
            game,
            bet,
            campaign,
        } => {
            let stake = match &campaign {
                Some(campaign) => Stake::FreeRound(campaign),
                None => Stake::Bet(bet.as_deref()),
            };
            match link.reality.check_may_play() {
                Ok(()) => match spin(app, caller, &req_id, &game, stake).await {
                    Ok(frame) => {
                        link.harm.observe(app, caller, &frame).await;
                        Ok(super::reality::with_session(app, caller, frame).await)
                    }
                    Err(error) => Err(error),
                },
                Err(waiting) => Err(waiting),
            }
        }
        ClientFrame::RealityCheckAck { req_id } => {
            link.reality
                .ack()
                .map(|next_at_ms| ServerFrame::RealityCheckAcked {
                    req_id: req_id.to_string(),
                    next_at_ms,
                })
        }
        ClientFrame::FairSeed { req_id } => fair_seed(app, caller, &req_id).await,
        ClientFrame::RotateSeed {
            req_id,
            client_seed,
        } => rotate_seed(app, caller, &req_id, client_seed).await,
        ClientFrame::Balance { req_id } => balance(app, caller, &req_id).await,
        ClientFrame::Limits { req_id } => limits(app, caller, &req_id).await,
        ClientFrame::Games { req_id } => games(app, caller, &req_id).await,
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
            match link.reality.check_may_play() {
                Ok(()) => tables::bet(app, caller, link, &req_id, bet).await,
                Err(waiting) => Err(waiting),
            }
        }
    };
    result.unwrap_or_else(|error| {
        let code = error.code();
        if code == ErrorCode::Internal || code == ErrorCode::ServiceUnavailable {
            tracing::error!(player = %caller.player, session = %caller.session_id, %error, "request failed");
        }
        let limit = error.limit(&caller.currency);
        let message = match &limit {
            Some(hit) => crate::limits::describe(hit, &caller.currency),
            None => error.to_string(),
        };
        ServerFrame::Error {
            req_id: Some(req_id),
            code,
            message,
            retry_after_ms: error.retry_after_ms(),
            limit,
        }
    })
}

/// The player's own limits: each in force or waiting, with what its window has used.
async fn limits(app: &App, caller: &Caller, req_id: &ReqId) -> Result<ServerFrame, PlayError> {
    let report = app.wallet.ledger().limits(&caller.player).await?;
    Ok(ServerFrame::Limits {
        req_id: req_id.to_string(),
        currency: caller.currency.code().to_string(),
        limits: crate::limits::report_views(&report, &caller.currency),
    })
}

async fn fair_seed(app: &App, caller: &Caller, req_id: &ReqId) -> Result<ServerFrame, PlayError> {
    if !app.fair_offered(&caller.player) {
        return Err(fair::FairError::NotOffered.into());
    }
    let seed = fair::seed_in_force(&app.fair_keys, &app.wallet, &caller.player).await?;
    Ok(ServerFrame::FairSeed {
        req_id: req_id.to_string(),
        seed: fair::seed_view(&seed),
    })
}

async fn rotate_seed(
    app: &App,
    caller: &Caller,
    req_id: &ReqId,
    client_seed: Option<ClientSeed>,
) -> Result<ServerFrame, PlayError> {
    if !app.fair_offered(&caller.player) {
        return Err(fair::FairError::NotOffered.into());
    }
    let rotated = fair::rotate(&app.fair_keys, &app.wallet, &caller.player, client_seed).await?;
    let revealed = rotated.revealed.as_ref().and_then(fair::revealed_view);
    let Some(revealed) = revealed else {
        let what = format!("{}: a rotation revealed no seed", caller.player);
        return Err(LedgerError::Invariant(what).into());
    };
    tracing::info!(
        player = %caller.player, seed_index = revealed.seed_index, rounds = revealed.rounds,
        "provably fair seed revealed"
    );
    Ok(ServerFrame::SeedRotated {
        req_id: req_id.to_string(),
        revealed,
        seed: fair::seed_view(&rotated.current),
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
        family: game.family().to_string(),
        variant: game.variant().map(str::to_string),
        rtp: game.rtp().map(|r| r.to_string()),
        name: game.name().to_string(),
        reels: game.reels(),
        rows: game.rows(),
        lines: game.lines(),
        min_bet: game.min_bet().to_string(),
        max_bet: game.max_bet().to_string(),
        bet_step: game.bet_step().to_string(),
    }
}

async fn games(app: &App, caller: &Caller, req_id: &ReqId) -> Result<ServerFrame, PlayError> {
    Ok(ServerFrame::Games {
        req_id: req_id.to_string(),
        games: app
            .play()
            .games
            .slots()
            .filter(|g| caller.rules.profile.offers(g))
            .map(|g| game_view(g))
            .collect(),
        free_rounds: free_rounds(app, caller).await?,
    })
}

/// The operator's free rounds the player may play now, as the welcome and `games` show them:
/// not those of a game the session's profile does not offer (they would be refused).
pub async fn free_rounds(app: &App, caller: &Caller) -> Result<Vec<FreeRoundsView>, PlayError> {
    let currency = &caller.currency;
    let now = crate::clock::now_ms();
    let grants = app
        .wallet
        .ledger()
        .free_rounds(&caller.player, Some(now))
        .await?;
    grants
        .into_iter()
        .filter(|g| {
            app.play()
                .games
                .slot(&g.game)
                .map_or(true, |game| caller.rules.profile.offers(game))
        })
        .map(|g| {
            Ok(FreeRoundsView {
                campaign: g.campaign.to_string(),
                bet: money(g.bet_minor, currency),
                game: g.game,
                remaining: g.remaining,
                expires_at: g.expires_at_ms,
            })
        })
        .collect()
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

/// The bet of a spin, checked against the game's limits and the jurisdiction's stake cap.
fn parse_bet(
    game: &SlotGame,
    bet: Option<&str>,
    caller: &Caller,
) -> Result<Option<i64>, PlayError> {
    let Some(text) = bet else { return Ok(None) };
    let bet = Money::parse_positive(text, &caller.currency)?;
    game.check_bet(&bet)
        .map_err(|e| PlayError::BetOutOfLimits(e.to_string()))?;
    caller
        .rules
        .check_slot_stake(bet.minor())
        .map_err(crate::jurisdiction::JurisdictionError::from)?;
    Ok(Some(bet.minor()))
}

/// A free round stakes its campaign's bet: under a capped profile that bet must be within the
/// cap too (the operator grants campaigns without knowing where the player will play). An
/// unknown or finished campaign is left to the ledger's own refusal.
async fn check_campaign_stake(
    app: &App,
    caller: &Caller,
    campaign: &CampaignId,
) -> Result<(), PlayError> {
    if caller.rules.slot_cap_minor.is_none() {
        return Ok(());
    }
    let now = crate::clock::now_ms();
    let grants = app
        .wallet
        .ledger()
        .free_rounds(&caller.player, Some(now))
        .await?;
    if let Some(grant) = grants.iter().find(|g| &g.campaign == campaign) {
        caller
            .rules
            .check_slot_stake(grant.bet_minor)
            .map_err(crate::jurisdiction::JurisdictionError::from)?;
    }
    Ok(())
}

/// What a spin stakes: a bet (or, omitted, the game's free spins), or one free round of an
/// operator's campaign (at the campaign's bet; no jackpot is fed or drawn).
enum Stake<'a> {
    Bet(Option<&'a str>),
    FreeRound(&'a CampaignId),
}

/// A slot spin: the bet and the game checked, the round start claimed under the
/// jurisdiction's speed of play (given back if the spin is refused before it begins), played.
async fn spin(
    app: &App,
    caller: &Caller,
    req_id: &ReqId,
    game_id: &str,
    stake: Stake<'_>,
) -> Result<ServerFrame, PlayError> {
    let started = Instant::now();
    let game = app
        .play()
        .games
        .slot(game_id)
        .ok_or_else(|| PlayError::UnknownGame(game_id.chars().take(64).collect()))?
        .clone();
    caller
        .rules
        .check_game(&game)
        .map_err(crate::jurisdiction::JurisdictionError::from)?;
    let bet_minor = match &stake {
        Stake::Bet(bet) => parse_bet(&game, *bet, caller)?,
        Stake::FreeRound(campaign) => {
            check_campaign_stake(app, caller, campaign).await?;
            None
        }
    };
    let start =
        crate::jurisdiction::RoundStart::claim(app, &caller.player, &caller.rules, req_id).await?;
    let played = play(app, caller, req_id, game, stake, bet_minor, started).await;
    if played.as_ref().is_err_and(PlayError::refused_before_play) {
        start.give_back(app).await;
    }
    played
}

async fn play(
    app: &App,
    caller: &Caller,
    req_id: &ReqId,
    game: std::sync::Arc<SlotGame>,
    stake: Stake<'_>,
    bet_minor: Option<i64>,
    started: Instant,
) -> Result<ServerFrame, PlayError> {
    let hint = (caller.player.clone(), game.id().to_string());
    // A provably fair round takes its nonce in the transaction that opens it, before the
    // draw: always the two-step path.
    let provably_fair = app.fair_offered(&caller.player);
    // The round's id and node are made only on this path: a one-step spin makes its own.
    let fresh = || (RoundId::new_v7(), Some(app.node.to_string()));
    let (round_id, open, pool) = match stake {
        Stake::FreeRound(campaign) => {
            let (round_id, node) = fresh();
            let open = Movement::OpenFreeRound {
                round_id: round_id.clone(),
                player: caller.player.clone(),
                req_id: req_id.clone(),
                game: game.id().to_string(),
                campaign: campaign.clone(),
                node,
            };
            (round_id, open, None)
        }
        Stake::Bet(_) => {
            let try_free_spin = bet_minor.is_none() || app.free_spin_hints.contains(&hint);
            if let (Some(bet), false, false) = (bet_minor, try_free_spin, provably_fair) {
                if let Some(hold) = app.wallet.hold(&caller.player, bet).await? {
                    let spin = one_step::Spin {
                        game: &game,
                        req_id,
                        hold,
                        started,
                    };
                    return one_step::spin(app, caller, spin).await;
                }
            }
            let (round_id, node) = fresh();
            let (feed, pool) = app
                .jackpot_feed(game.id(), &caller.currency, &caller.player, &caller.rules)
                .unzip();
            let open = Movement::OpenRound {
                round_id: round_id.clone(),
                player: caller.player.clone(),
                req_id: req_id.clone(),
                game: game.id().to_string(),
                bet_minor,
                try_free_spin,
                jackpot: feed,
                opened_json: None,
                node,
                session_started_ms: caller.session_started_ms,
            };
            (round_id, open, pool)
        }
    };
    tracing::Span::current().record("round", tracing::field::display(&round_id));
    let opened = if provably_fair {
        open_fair(app, caller, open).await?
    } else {
        app.wallet
            .apply(open)
            .await
            .map_err(|e| refusal(e, &caller.currency))?
    };
    let Applied::RoundOpened {
        round,
        replayed,
        free_spins_left,
        free_rounds_left,
        jackpot: seen,
        fair: nonce,
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
    let mut stream = match (provably_fair, &nonce) {
        (false, _) => None,
        (true, Some(nonce)) => match fair::stream(&app.fair_keys, &caller.player, nonce) {
            Ok(stream) => Some(stream),
            Err(error) => {
                crate::recovery::void(app, &round, "fair_seed_unavailable").await;
                return Err(error.into());
            }
        },
        (true, None) => {
            crate::recovery::void(app, &round, "fair_nonce_missing").await;
            let what = format!(
                "round {} opened provably fair without a nonce",
                round.round_id
            );
            return Err(LedgerError::Invariant(what).into());
        }
    };
    let (drawn_game, stake) = (game.clone(), round.bet_minor);
    // The outcome and any jackpot claims are drawn together, on the same shard. A provably
    // fair round's reels come from its seed's stream; its jackpot draws, like every round's,
    // from the shard (a shared pool is not one player's to verify: docs/fairness.md).
    let (outcome, (claims, draws)) = match app
        .rng
        .draw(move |rng| {
            let outcome = match stream.as_mut() {
                Some(stream) => slot::spin(&drawn_game, mode, stream),
                None => slot::spin(&drawn_game, mode, rng),
            };
            let jackpot = pool.map_or_else(Default::default, |p| {
                // Triggers name the game, whichever RTP variant is played.
                let game = drawn_game.family();
                crate::jackpot::claims_for(&p, game, stake, &seen, Some(&outcome), rng)
            });
            (outcome, jackpot)
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
    let mut drawn = Drawn::new(&game, round.stake_minor, outcome, &caller.currency)?;
    if let Some(nonce) = &nonce {
        drawn.attach("fair", fair::proof(nonce));
    }
    let settle = Movement::SettleRound {
        round_id: round.round_id.clone(),
        player: caller.player.clone(),
        win_minor: drawn.win.minor(),
        outcome_json: drawn.outcome_json.clone(),
        free_spins_awarded: drawn.awarded.clone(),
        jackpot_claims: claims,
        jackpot_draws: draws,
    };
    let (balance_minor, jackpot_wins) = settle_with_retries(app, settle).await?;
    let settled = Settled {
        round: &round,
        balance_minor,
        jackpot_wins: &jackpot_wins,
        free_spins_before: free_spins_left,
        free_rounds_left,
        hint,
        started,
    };
    Ok(settled.reply(app, caller, req_id, &game, drawn))
}

/// Opens a provably fair round: the open takes the next nonce of the player's seed in force;
/// a player with no seed yet gets one first (once).
async fn open_fair(app: &App, caller: &Caller, open: Movement) -> Result<Applied, PlayError> {
    let fair_open = || Movement::Fair {
        movement: Box::new(open.clone()),
    };
    match app.wallet.apply(fair_open()).await {
        Err(WalletError::Refused(MovementError::NoFairSeed)) => {
            fair::seed_in_force(&app.fair_keys, &app.wallet, &caller.player).await?;
            app.wallet
                .apply(fair_open())
                .await
                .map_err(|e| refusal(e, &caller.currency))
        }
        other => other.map_err(|e| refusal(e, &caller.currency)),
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
            Err(WalletError::Refused(refused)) => return Err(PlayError::SettleRefused(refused)),
            Err(error) if attempt >= SETTLE_ATTEMPTS => return Err(error.into()),
            Err(error) => {
                tracing::warn!(%error, attempt, "settlement failed, retrying");
                tokio::time::sleep(SETTLE_BACKOFF * attempt).await;
                attempt += 1;
            }
        }
    }
}
