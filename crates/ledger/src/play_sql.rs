//! A one-step spin ([`Movement::PlayRound`]): the stake and the settlement of a paid spin in
//! one transaction, built from the same `open_round` and `settle_round` as the two-step path
//! (same rows, same entries, same transaction ids), with the draw's jackpot decisions turned
//! into claims here, on the level as this very bet leaves it.

use super::jackpot_sql::JackpotBatch;
use super::ledger::{
    Applied, FreeSpins, JackpotClaim, JackpotFeed, LedgerError, LevelDraw, LevelSeen,
    RoundStatus,
};
use super::ledger_sql::{open_round, settle_round, OpenArgs, Outcome, SettleArgs};
use super::sql::SqlTx;
use crate::ids::{PlayerId, ReqId, RoundId};
use crate::jackpot::math::claim_reason;

/// What a PlayRound asks for.
pub struct PlayArgs<'a> {
    pub round_id: &'a RoundId,
    pub player: &'a PlayerId,
    pub req_id: &'a ReqId,
    pub game: &'a str,
    pub bet_minor: i64,
    pub feed: Option<&'a JackpotFeed>,
    pub node: Option<&'a str>,
    pub win_minor: i64,
    pub outcome_json: &'a str,
    pub free_spins_awarded: Option<&'a FreeSpins>,
    pub draws: &'a [LevelDraw],
}

/// The claims of a one-step spin: each level the draw names, at the cycle this bet fed, for
/// the reason [`claim_reason`] gives on the value this bet left. A draw for a level the bet
/// did not feed is a bug of the caller: nothing is written.
fn claims(
    round_id: &RoundId,
    feed: Option<&JackpotFeed>,
    seen: &[LevelSeen],
    draws: &[LevelDraw],
) -> Result<Vec<JackpotClaim>, LedgerError> {
    let mut claims = Vec::new();
    for draw in draws {
        let fed = feed.and_then(|f| {
            let level = f.levels.iter().find(|l| l.level == draw.level)?;
            let seen = seen.iter().find(|s| s.level == draw.level)?;
            Some((f, level, seen))
        });
        let Some((feed, level, seen)) = fed else {
            return Err(LedgerError::Invariant(format!(
                "round {round_id}: a jackpot draw for level {} its bet did not feed",
                draw.level
            )));
        };
        let ceiling = level.must_drop_by_micro;
        if let Some(reason) =
            claim_reason(draw.triggered, seen.value_micro, ceiling, draw.mystery_hit)
        {
            claims.push(JackpotClaim {
                pool: feed.pool.clone(),
                level: draw.level.clone(),
                cycle: seen.cycle,
                reason,
            });
        }
    }
    Ok(claims)
}

pub async fn play_round<T: SqlTx>(
    tx: &mut T,
    p: PlayArgs<'_>,
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Outcome {
    let open = OpenArgs {
        round_id: p.round_id,
        player: p.player,
        req_id: p.req_id,
        game: p.game,
        bet_minor: Some(p.bet_minor),
        try_free_spin: false,
        feed: p.feed,
        opened_json: None,
        node: p.node,
    };
    let (round, seen) = match open_round(tx, open, now, jackpots).await? {
        Ok(Applied::RoundOpened {
            round,
            replayed: true,
            ..
        }) => {
            return Ok(Ok(Applied::RoundPlayed {
                balance_minor: round.balance_after_minor,
                round,
                replayed: true,
                jackpot: Vec::new(),
                jackpot_wins: Vec::new(),
            }))
        }
        Ok(Applied::RoundOpened { round, jackpot, .. }) => (round, jackpot),
        Ok(other) => {
            return Err(LedgerError::Invariant(format!(
                "round {}: opening answered {other:?}",
                p.round_id
            )))
        }
        Err(refused) => return Ok(Err(refused)),
    };
    if round.free_spin || round.bet_minor != p.bet_minor {
        return Err(LedgerError::Invariant(format!(
            "round {}: a one-step spin opened as {} free {}",
            p.round_id, round.bet_minor, round.free_spin
        )));
    }
    let claims = claims(p.round_id, p.feed, &seen, p.draws)?;
    let settle = SettleArgs {
        round_id: p.round_id,
        player: p.player,
        win_minor: p.win_minor,
        outcome_json: p.outcome_json,
        free_spins_awarded: p.free_spins_awarded,
        claims: &claims,
    };
    match settle_round(tx, settle, now, jackpots).await? {
        Ok(Applied::RoundSettled {
            balance_minor,
            replayed: false,
            jackpot_wins,
        }) => {
            let round = super::ledger::RoundRecord {
                status: RoundStatus::Settled,
                win_minor: p.win_minor,
                outcome_json: Some(p.outcome_json.to_string()),
                balance_after_minor: balance_minor,
                ..round
            };
            Ok(Ok(Applied::RoundPlayed {
                round,
                balance_minor,
                replayed: false,
                jackpot: seen,
                jackpot_wins,
            }))
        }
        // The round was opened a moment ago in this same transaction: anything but a fresh
        // settlement is a broken rule, and failing the transaction writes nothing of it.
        other => Err(LedgerError::Invariant(format!(
            "round {}: settling in its own opening transaction answered {other:?}",
            p.round_id
        ))),
    }
}
