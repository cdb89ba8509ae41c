//! The one-step spin: the player's wallet shard holds the stake (so nothing else can spend
//! it), the RNG shard draws the outcome and the jackpot decisions, and stake and settlement
//! commit together in ONE ledger transaction (`Movement::PlayRound`). Nothing is shown before
//! that commit. A draw whose commit does not happen is never replaced by another draw for its
//! value: the player gets an error, the draw is counted in `croupier_discarded_draws_total`
//! and logged with its values, and the resent request plays a fresh, independent draw (or,
//! when the first did commit after all, answers that round). What happens when a spin is
//! interrupted at each step is in docs/games.md, "A spin, step by step".

use std::sync::Arc;
use std::time::Instant;

use super::error::PlayError;
use super::settled::{record_contributions, refusal, replay_round, Drawn, Settled};
use super::Caller;
use crate::app::App;
use crate::games::slot::{self, SlotGame, SpinMode};
use crate::ids::{ReqId, RoundId};
use crate::protocol::ServerFrame;
use crate::wallet::{
    Applied, Hold, LedgerError, Movement, MovementError, WalletError, WalletFailure,
};

/// A paid spin whose stake the wallet shard holds.
pub struct Spin<'a> {
    pub game: &'a Arc<SlotGame>,
    pub req_id: &'a ReqId,
    pub hold: Hold,
    pub started: Instant,
}

/// Why a one-step draw was not used, as labelled in `croupier_discarded_draws_total`.
fn discard_reason(error: &WalletError) -> &'static str {
    match error {
        // A player's limit is checked in the stake's own transaction: the refusal depends on
        // the stake alone, never on the draw, and is not the broken hold "refused" alerts on.
        WalletError::Refused(MovementError::LimitReached { .. }) => "limit_reached",
        WalletError::Refused(_) => "refused",
        WalletError::Failed(WalletFailure::NoAnswer) => "no_answer",
        WalletError::Busy | WalletError::Failed(_) => "commit_failed",
    }
}

/// Counts and logs a draw that will not be used, with everything an auditor needs to see that
/// it was not chosen against: the round it would have been, its stake, its win, its outcome.
fn discarded(app: &App, caller: &Caller, movement: &Movement, reason: &str) {
    let Movement::PlayRound {
        round_id,
        game,
        bet_minor,
        win_minor,
        outcome_json,
        jackpot_draws,
        ..
    } = movement
    else {
        return;
    };
    app.metrics
        .wallet
        .discarded_draws
        .with_label_values(&[game, reason])
        .inc();
    let jackpot_draws = format!("{jackpot_draws:?}");
    if reason == "limit_reached" {
        // Expected play, not a fault: logged for the auditors all the same.
        tracing::info!(
            player = %caller.player, round = %round_id, game, bet_minor, win_minor,
            outcome = %outcome_json, jackpot_draws, reason,
            "draw discarded: the stake would cross a player limit"
        );
        return;
    }
    tracing::warn!(
        player = %caller.player, round = %round_id, game, bet_minor, win_minor,
        outcome = %outcome_json, jackpot_draws, reason,
        "draw discarded: its commit did not happen (the resend plays a fresh draw)"
    );
}

pub async fn spin(app: &App, caller: &Caller, spin: Spin<'_>) -> Result<ServerFrame, PlayError> {
    let Spin {
        game,
        req_id,
        hold,
        started,
    } = spin;
    let bet_minor = hold.stake();
    let round_id = RoundId::new_v7();
    tracing::Span::current().record("round", tracing::field::display(&round_id));
    let (feed, pool) = app
        .jackpot_feed(game.id(), &caller.currency, &caller.player, &caller.rules)
        .unzip();
    let (drawn_game, drawn_pool) = (game.clone(), pool.clone());
    // The outcome and the jackpot decisions are drawn together, on one RNG shard. If the
    // draw fails, the hold is dropped (released) and nothing was written.
    let (outcome, draws) = app
        .rng
        .draw(move |rng| {
            let outcome = slot::spin(&drawn_game, SpinMode::Base, rng);
            let draws = drawn_pool.map_or_else(Vec::new, |p| {
                crate::jackpot::draws_for(&p, drawn_game.family(), bet_minor, Some(&outcome), rng)
            });
            (outcome, draws)
        })
        .await?;
    let drawn = Drawn::new(game, bet_minor, outcome, &caller.currency)?;
    let movement = Movement::PlayRound {
        round_id,
        player: caller.player.clone(),
        req_id: req_id.clone(),
        game: game.id().to_string(),
        bet_minor,
        jackpot: feed,
        node: Some(app.node.to_string()),
        win_minor: drawn.win.minor(),
        outcome_json: drawn.outcome_json.clone(),
        free_spins_awarded: drawn.awarded.clone(),
        jackpot_draws: draws,
        session_started_ms: caller.session_started_ms,
    };
    let answer = app.wallet.play(hold, movement.clone()).await;
    let (round, balance_minor, seen, jackpot_wins) = match answer {
        Ok(Applied::RoundPlayed {
            replayed: false,
            round,
            balance_minor,
            jackpot,
            jackpot_wins,
        }) => (round, balance_minor, jackpot, jackpot_wins),
        Ok(Applied::RoundPlayed {
            replayed: true,
            round,
            ..
        }) => {
            // The req_id already had a round (its reply was lost): that round stands.
            discarded(app, caller, &movement, "replayed");
            return replay_round(app, caller, req_id, round).await;
        }
        Ok(other) => {
            let what = format!("PlayRound answered {other:?}");
            return Err(LedgerError::Invariant(what).into());
        }
        Err(error) => {
            discarded(app, caller, &movement, discard_reason(&error));
            return Err(refusal(error, &caller.currency));
        }
    };
    record_contributions(app, pool.as_deref(), &seen);
    let settled = Settled {
        round: &round,
        balance_minor,
        jackpot_wins: &jackpot_wins,
        free_spins_before: 0,
        free_rounds_left: None,
        hint: (caller.player.clone(), game.id().to_string()),
        started,
    };
    Ok(settled.reply(app, caller, req_id, game, drawn))
}
