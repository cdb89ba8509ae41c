//! One movement applied inside the caller's transaction: the fence check of a table's movement,
//! then the rule of each kind (`transfer_sql` for deposits and withdrawals, `ledger_sql` for
//! open, settle, void and accounts, `play_sql` for a one-step spin, `free_rounds_sql` for an
//! operator's free rounds, `fair_sql` for provably fair seeds and nonces). Both databases'
//! commits call [`apply`] for each movement.

use super::chain_sql;
use super::fair_sql;
use super::free_rounds_sql::{self, FreeRoundArgs};
use super::jackpot_sql::JackpotBatch;
use super::ledger::{Applied, LedgerError, Movement, MovementError};
use super::ledger_sql::{
    ensure_account, open_round, settle_round, void_round, OpenArgs, Outcome, SettleArgs,
};
use super::play_sql::{play_round, PlayArgs};
use super::sql::{args, SqlTx};
use super::transfer_sql::{transfer, Direction};
use crate::ids::RoundId;

/// The table's current token (0 if none was ever raised). On PostgreSQL the row stays share-
/// locked to commit, so a raise waits for the movements checked under the old token.
async fn current_fence<T: SqlTx>(tx: &mut T, table: &str) -> Result<i64, LedgerError> {
    let lock = if tx.lock_rows().is_empty() {
        ""
    } else {
        " FOR SHARE"
    };
    let sql = format!("SELECT token FROM table_fences WHERE table_id = $1{lock}");
    match tx.row(&sql, args![table]).await? {
        Some(row) => row.i64(0),
        None => Ok(0),
    }
}

/// Applies one movement inside the caller's transaction; a round it finalised (settled or
/// voided, not a replay) is then linked to its player's chain, over the row its last write
/// returned.
pub async fn apply<T: SqlTx>(
    tx: &mut T,
    movement: &Movement,
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Outcome {
    if let Movement::Fair { movement } = movement {
        return apply_fair(tx, movement, now, jackpots).await;
    }
    let outcome = apply_rule(tx, movement, now, jackpots).await?;
    if let Ok(applied) = &outcome {
        if let Some(round) = finalised(movement, applied) {
            chain_sql::link_round(tx, round).await?;
        }
    }
    Ok(outcome)
}

/// The round a movement's result left final for the first time, if any.
fn finalised<'m>(movement: &'m Movement, applied: &Applied) -> Option<&'m RoundId> {
    let movement = match movement {
        Movement::Fenced { movement, .. } => movement.as_ref(),
        other => other,
    };
    match (movement, applied) {
        (
            Movement::PlayRound { round_id, .. },
            Applied::RoundPlayed {
                replayed: false, ..
            },
        )
        | (
            Movement::SettleRound { round_id, .. },
            Applied::RoundSettled {
                replayed: false, ..
            },
        )
        | (
            Movement::VoidRound { round_id, .. },
            Applied::RoundVoided {
                replayed: false, ..
            },
        ) => Some(round_id),
        _ => None,
    }
}

async fn apply_rule<T: SqlTx>(
    tx: &mut T,
    movement: &Movement,
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Outcome {
    let movement = match movement {
        Movement::Fenced { fence, movement } => {
            let current = current_fence(tx, &fence.table).await?;
            if current != fence.token {
                return Ok(Err(MovementError::Fenced {
                    table: fence.table.clone(),
                    token: fence.token,
                    current,
                }));
            }
            movement.as_ref()
        }
        other => other,
    };
    match movement {
        Movement::Deposit {
            tx_id,
            player,
            amount_minor,
        } => transfer(tx, tx_id, player, Direction::In, *amount_minor, now).await,
        Movement::Withdraw {
            tx_id,
            player,
            amount_minor,
        } => transfer(tx, tx_id, player, Direction::Out, *amount_minor, now).await,
        Movement::OpenRound {
            round_id,
            player,
            req_id,
            game,
            bet_minor,
            try_free_spin,
            jackpot,
            opened_json,
            node,
            session_started_ms,
        } => {
            let o = OpenArgs {
                round_id,
                player,
                req_id,
                game,
                bet_minor: *bet_minor,
                try_free_spin: *try_free_spin,
                feed: jackpot.as_ref(),
                opened_json: opened_json.as_deref(),
                node: node.as_deref(),
                session_started_ms: *session_started_ms,
            };
            open_round(tx, o, now, jackpots).await
        }
        Movement::SettleRound {
            round_id,
            player,
            win_minor,
            outcome_json,
            free_spins_awarded,
            jackpot_claims,
            jackpot_draws,
        } => {
            let s = SettleArgs {
                round_id,
                player,
                win_minor: *win_minor,
                outcome_json,
                free_spins_awarded: free_spins_awarded.as_ref(),
                claims: jackpot_claims,
                draws: jackpot_draws,
            };
            settle_round(tx, s, now, jackpots).await
        }
        Movement::PlayRound {
            round_id,
            player,
            req_id,
            game,
            bet_minor,
            jackpot,
            node,
            win_minor,
            outcome_json,
            free_spins_awarded,
            jackpot_draws,
            session_started_ms,
        } => {
            let p = PlayArgs {
                round_id,
                player,
                req_id,
                game,
                bet_minor: *bet_minor,
                feed: jackpot.as_ref(),
                node: node.as_deref(),
                win_minor: *win_minor,
                outcome_json,
                free_spins_awarded: free_spins_awarded.as_ref(),
                draws: jackpot_draws,
                session_started_ms: *session_started_ms,
            };
            play_round(tx, p, now, jackpots).await
        }
        Movement::OpenFreeRound {
            round_id,
            player,
            req_id,
            game,
            campaign,
            node,
        } => {
            let a = FreeRoundArgs {
                round_id,
                player,
                req_id,
                game,
                campaign,
                node: node.as_deref(),
            };
            free_rounds_sql::open_free_round(tx, a, now).await
        }
        Movement::GrantFreeRounds { player, grant } => {
            free_rounds_sql::grant(tx, player, grant, now).await
        }
        Movement::CancelFreeRounds { player, campaign } => {
            free_rounds_sql::cancel(tx, player, campaign, now).await
        }
        Movement::VoidRound { round_id, player } => {
            let voided = void_round(tx, round_id, player, now).await?;
            if let Ok(Applied::RoundVoided {
                replayed: false, ..
            }) = &voided
            {
                free_rounds_sql::give_back(tx, round_id, now).await?;
            }
            Ok(voided)
        }
        Movement::EnsureAccount { player, currency } => {
            let account = ensure_account(tx, player, currency, now).await?;
            Ok(Ok(Applied::AccountReady(account)))
        }
        Movement::RotateSeed {
            player,
            reveal,
            next,
        } => fair_sql::rotate(tx, player, reveal.as_ref(), next, now).await,
        Movement::Fenced { .. } => Err(LedgerError::Invariant(
            "a fenced movement inside a fenced movement".to_string(),
        )),
        Movement::Fair { .. } => Err(LedgerError::Invariant(
            "a provably fair movement inside another movement".to_string(),
        )),
    }
}

/// A provably fair open: the player must have a seed in force (locked to commit); the open
/// then takes its next nonce, or, replayed, answers the nonce its round took.
async fn apply_fair<T: SqlTx>(
    tx: &mut T,
    movement: &Movement,
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Outcome {
    if !matches!(
        movement,
        Movement::OpenRound { .. } | Movement::OpenFreeRound { .. }
    ) {
        return Err(LedgerError::Invariant(format!(
            "only a round's open is provably fair, not a {}",
            movement.kind()
        )));
    }
    let player = movement.player();
    if !fair_sql::has_seed(tx, player).await? {
        return Ok(Err(MovementError::NoFairSeed));
    }
    let mut outcome = apply_rule(tx, movement, now, jackpots).await?;
    if let Ok(Applied::RoundOpened {
        round,
        replayed,
        fair,
        ..
    }) = &mut outcome
    {
        *fair = if *replayed {
            fair_sql::nonce_of(tx, &round.round_id).await?
        } else {
            Some(fair_sql::take_nonce(tx, player, &round.round_id).await?)
        };
    }
    Ok(outcome)
}
