//! A one-step spin (`Movement::PlayRound`): the stake and the settlement of a paid spin in
//! one transaction. It leaves exactly the rows the two-step path leaves (`open_round` then
//! `settle_round`: the round settled, its `<round>:bet` and `<round>:win` entries, the jackpot
//! shares, the free spins awarded, the claims paid) in fewer statements: one balance update
//! for stake and win, and the round inserted already settled. The draw's jackpot decisions
//! become claims here, on the level as this very bet leaves it. The conformance suite checks
//! both paths against the same expectations.

use super::chain::ChainKey;
use super::chain_sql;
use super::jackpot_sql::JackpotBatch;
use super::ledger::{
    Applied, EntryKind, FreeSpins, JackpotClaim, JackpotFeed, LedgerError, LevelDraw, LevelSeen,
    MovementError, RoundRecord, RoundStatus,
};
use super::ledger_sql::{
    adjust_balance, balance_of, draws_json, feed_jackpot, give_free_spins, insert_entry,
    jackpot_share, pay_claims, replayed_round, round_exists, Outcome,
};
use super::limits_sql::{self, Checked};
use super::sql::{args, SqlTx};
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
    pub session_started_ms: Option<i64>,
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

/// The whole spin in four statements on the common path: one conditional balance update
/// (stake and win at once, refused unless the balance covers the stake), the round inserted
/// already settled, and its bet and win entries. Rare paths (a replayed `req_id`, too little
/// money) undo or look up after, as `open_round` does.
pub async fn play_round<T: SqlTx>(
    tx: &mut T,
    p: PlayArgs<'_>,
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Outcome {
    let (round_id, player, req_id, game) = (p.round_id, p.player, p.req_id, p.game);
    let (bet, win) = (p.bet_minor, p.win_minor);
    if bet <= 0 || win < 0 {
        return Ok(Err(MovementError::NonPositiveAmount));
    }
    let row = tx
        .row(
            "UPDATE accounts SET balance_minor = balance_minor - $1 + $2 \
             WHERE player_id = $3 AND balance_minor >= $1 \
             RETURNING balance_minor, chain_seq, chain_head, limits_set",
            args![bet, win, player.as_str()],
        )
        .await?;
    if let Some(r) = &row {
        let key = ChainKey::Player(player.as_str().to_string());
        chain_sql::preload(tx, key, r.i64(1)?, &r.text(2)?)?;
        limits_sql::note(tx, player, r.i64(3)?);
    }
    let after_win = row.map(|r| r.i64(0)).transpose()?;
    let Some(after_win) = after_win else {
        if round_exists(tx, player, req_id).await? {
            return replayed(tx, player, req_id, game, bet).await;
        }
        return Ok(Err(match balance_of(tx, player).await? {
            Some(balance_minor) => MovementError::InsufficientFunds {
                balance_minor,
                needed_minor: bet,
            },
            None => MovementError::UnknownAccount(player.to_string()),
        }));
    };
    let checked = Checked::Stake {
        minor: bet,
        session_started_ms: p.session_started_ms,
    };
    if let Some(refused) = limits_sql::check(tx, player, checked, now).await? {
        // Nothing of the spin stands: the stake and win are undone, the draw is not used.
        adjust_balance(tx, player, bet - win).await?;
        if round_exists(tx, player, req_id).await? {
            return replayed(tx, player, req_id, game, bet).await;
        }
        return Ok(Err(refused));
    }
    let after_bet = after_win - win;
    if after_bet < 0 || after_win < 0 {
        return Err(LedgerError::Invariant(format!(
            "round {round_id}: balance {after_bet} after the stake, {after_win} after the win"
        )));
    }
    let taken_micro = jackpot_share(p.feed, bet);
    let draws = draws_json(p.draws)?;
    let inserted = chain_sql::write_round(
            tx,
            "INSERT INTO rounds (round_id, player_id, req_id, game, status, bet_minor, stake_minor, \
             win_minor, free_spin, multiplier, balance_after_minor, outcome, created_at_ms, \
             settled_at_ms, jackpot_pool, jackpot_micro, node_id, jackpot_draws) \
             VALUES ($1, $2, $3, $4, 'settled', $5, $5, $6, 0, 1, $7, $8, $9, $9, $10, $11, $12, $13) \
             ON CONFLICT (player_id, req_id) DO NOTHING",
            args![
                round_id.as_str(),
                player.as_str(),
                req_id.as_str(),
                game,
                bet,
                win,
                after_win,
                p.outcome_json,
                now,
                p.feed.map(|f| f.pool.as_str()),
                taken_micro,
                p.node,
                draws.as_deref()
            ],
        )
        .await?;
    if inserted == 0 {
        // A replayed req_id: give back what was just moved, answer the original round.
        adjust_balance(tx, player, bet - win).await?;
        return replayed(tx, player, req_id, game, bet).await;
    }
    let at = Some(round_id);
    insert_entry(
        tx,
        &round_id.tx("bet"),
        player,
        EntryKind::Bet,
        -bet,
        after_bet,
        at,
        now,
    )
    .await?;
    if win > 0 {
        let kind = EntryKind::Win;
        insert_entry(
            tx,
            &round_id.tx("win"),
            player,
            kind,
            win,
            after_win,
            at,
            now,
        )
        .await?;
    }
    let seen = feed_jackpot(tx, jackpots, round_id, p.feed, (bet, taken_micro)).await?;
    if let Some(spins) = p.free_spins_awarded {
        give_free_spins(tx, player, spins).await?;
    }
    let claims = claims(round_id, p.feed, &seen, p.draws)?;
    let (balance, jackpot_wins) =
        pay_claims(tx, (round_id, player), &claims, after_win, now, jackpots).await?;
    let round = RoundRecord {
        round_id: round_id.clone(),
        player: player.clone(),
        req_id: req_id.clone(),
        game: game.to_string(),
        status: RoundStatus::Settled,
        bet_minor: bet,
        stake_minor: bet,
        win_minor: win,
        free_spin: false,
        multiplier: 1,
        balance_after_minor: balance,
        outcome_json: Some(p.outcome_json.to_string()),
        created_at_ms: now,
        node: p.node.map(str::to_string),
        campaign: None,
    };
    Ok(Ok(Applied::RoundPlayed {
        round,
        balance_minor: balance,
        replayed: false,
        jackpot: seen,
        jackpot_wins,
    }))
}

/// The answer to a PlayRound whose `req_id` already has a round: that round, or a conflict
/// when it was another request (`replayed_round`'s rule).
async fn replayed<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    req_id: &ReqId,
    game: &str,
    bet: i64,
) -> Outcome {
    Ok(
        match replayed_round(tx, player, req_id, game, Some(bet), None).await? {
            Ok(Applied::RoundOpened { round, .. }) => Ok(Applied::RoundPlayed {
                balance_minor: round.balance_after_minor,
                round,
                replayed: true,
                jackpot: Vec::new(),
                jackpot_wins: Vec::new(),
            }),
            Ok(other) => {
                return Err(LedgerError::Invariant(format!(
                    "a replayed round answered {other:?}"
                )))
            }
            Err(refused) => Err(refused),
        },
    )
}
