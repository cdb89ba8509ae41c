//! An operator's free rounds in SQL, written once for both databases ([`SqlTx`]): granting
//! (idempotent by player and campaign), opening a free round (one round taken, nothing
//! debited), giving a voided round back, cancelling, expiring, the reads, and the audit of each
//! grant's count against its events. Every change to a grant writes its event in the same
//! transaction.

use super::free_rounds::{
    FreeRoundEvent, FreeRoundEventKind, FreeRounds, FreeRoundsGrant, FreeRoundsStatus,
    EXPIRE_BATCH, MAX_ACTIVE_CAMPAIGNS, MAX_FREE_ROUNDS_PER_GRANT, MAX_GRANTS_LISTED,
};
use super::ledger::{Applied, LedgerError, MovementError, RoundRecord, RoundStatus};
use super::ledger_sql::{balance_of, replayed_round, round_exists, Outcome};
use super::read_sql::{fetch_round, invalid};
use super::sql::{args, Row, SqlTx};
use crate::ids::{CampaignId, PlayerId, ReqId, RoundId};

const GRANT_COLUMNS: &str = "player_id, campaign_id, game, bet_minor, granted, remaining, \
     expires_at_ms, status, created_at_ms, closed_at_ms";

fn count(row: &Row, i: usize, what: &str) -> Result<u32, LedgerError> {
    u32::try_from(row.i64(i)?).map_err(|_| invalid(what))
}

fn grant_from_row(r: &Row) -> Result<FreeRounds, LedgerError> {
    Ok(FreeRounds {
        player: PlayerId::parse(&r.text(0)?).map_err(|_| invalid("free_rounds.player_id"))?,
        campaign: CampaignId::parse(&r.text(1)?).map_err(|_| invalid("free_rounds.campaign_id"))?,
        game: r.text(2)?,
        bet_minor: r.i64(3)?,
        granted: count(r, 4, "free_rounds.granted")?,
        remaining: count(r, 5, "free_rounds.remaining")?,
        expires_at_ms: r.i64(6)?,
        status: FreeRoundsStatus::parse(&r.text(7)?)
            .ok_or_else(|| invalid("free_rounds.status"))?,
        created_at_ms: r.i64(8)?,
        closed_at_ms: r.opt_i64(9)?,
    })
}

async fn fetch<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    campaign: &CampaignId,
) -> Result<Option<FreeRounds>, LedgerError> {
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM free_rounds WHERE player_id = $1 AND campaign_id = $2"
    );
    match tx
        .row(&sql, args![player.as_str(), campaign.as_str()])
        .await?
    {
        Some(row) => Ok(Some(grant_from_row(&row)?)),
        None => Ok(None),
    }
}

async fn event<T: SqlTx>(
    tx: &mut T,
    (player, campaign): (&PlayerId, &CampaignId),
    kind: FreeRoundEventKind,
    rounds: u32,
    (round_id, now): (Option<&RoundId>, i64),
) -> Result<(), LedgerError> {
    tx.exec(
        "INSERT INTO free_round_events (player_id, campaign_id, kind, rounds, round_id, \
         created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        args![
            player.as_str(),
            campaign.as_str(),
            kind.as_str(),
            i64::from(rounds),
            round_id.map(|r| r.as_str()),
            now
        ],
    )
    .await?;
    Ok(())
}

/// The grant as asked, or as it already stands if asked before with the same details.
pub async fn grant<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    ask: &FreeRoundsGrant,
    now: i64,
) -> Outcome {
    if ask.bet_minor <= 0 || ask.rounds == 0 {
        return Ok(Err(MovementError::NonPositiveAmount));
    }
    if ask.rounds > MAX_FREE_ROUNDS_PER_GRANT {
        return Err(LedgerError::Invariant(format!(
            "a grant of {} free rounds passed the operator API's limit",
            ask.rounds
        )));
    }
    if let Some(existing) = fetch(tx, player, &ask.campaign).await? {
        return Ok(same_grant(existing, ask));
    }
    if balance_of(tx, player).await?.is_none() {
        return Ok(Err(MovementError::UnknownAccount(player.to_string())));
    }
    if ask.expires_at_ms <= now {
        return Ok(Err(MovementError::FreeRoundsUnavailable {
            campaign: ask.campaign.to_string(),
            reason: "it expires before it is granted".to_string(),
        }));
    }
    let open = tx
        .row(
            "SELECT COUNT(*) FROM free_rounds WHERE player_id = $1 AND status = 'active' \
             AND remaining > 0 AND expires_at_ms > $2",
            args![player.as_str(), now],
        )
        .await?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    if open >= i64::from(MAX_ACTIVE_CAMPAIGNS) {
        return Ok(Err(MovementError::TooManyCampaigns(MAX_ACTIVE_CAMPAIGNS)));
    }
    let inserted = tx
        .exec(
            "INSERT INTO free_rounds (player_id, campaign_id, game, bet_minor, granted, remaining, \
             expires_at_ms, status, created_at_ms) VALUES ($1, $2, $3, $4, $5, $5, $6, 'active', $7) \
             ON CONFLICT (player_id, campaign_id) DO NOTHING",
            args![
                player.as_str(),
                ask.campaign.as_str(),
                ask.game.as_str(),
                ask.bet_minor,
                i64::from(ask.rounds),
                ask.expires_at_ms,
                now
            ],
        )
        .await?;
    if inserted == 0 {
        // Granted meanwhile by a concurrent request (PostgreSQL): answer as that one stands.
        let existing = fetch(tx, player, &ask.campaign)
            .await?
            .ok_or_else(|| LedgerError::Invariant(format!("grant {} vanished", ask.campaign)))?;
        return Ok(same_grant(existing, ask));
    }
    let key = (player, &ask.campaign);
    event(tx, key, FreeRoundEventKind::Grant, ask.rounds, (None, now)).await?;
    let grant = fetch(tx, player, &ask.campaign)
        .await?
        .ok_or_else(|| LedgerError::Invariant(format!("grant {} vanished", ask.campaign)))?;
    Ok(Ok(Applied::FreeRoundsGranted {
        grant,
        replayed: false,
    }))
}

fn same_grant(existing: FreeRounds, ask: &FreeRoundsGrant) -> Result<Applied, MovementError> {
    if existing.is_grant(ask) {
        Ok(Applied::FreeRoundsGranted {
            grant: existing,
            replayed: true,
        })
    } else {
        Err(MovementError::TxConflict(format!(
            "free rounds {} of {} were granted with other details",
            ask.campaign, existing.player
        )))
    }
}

/// Closes an active grant as `cancelled` or `expired`: its rounds not yet played are gone,
/// and the event says how many. Closing first locks the row (PostgreSQL), so the count read
/// back is the one lost. `false` if it was not active (closed before, or meanwhile).
async fn close<T: SqlTx>(
    tx: &mut T,
    (player, campaign): (&PlayerId, &CampaignId),
    kind: FreeRoundEventKind,
    now: i64,
) -> Result<bool, LedgerError> {
    let status = match kind {
        FreeRoundEventKind::Cancel => FreeRoundsStatus::Cancelled,
        FreeRoundEventKind::Expire => FreeRoundsStatus::Expired,
        other => {
            return Err(LedgerError::Invariant(format!(
                "a grant closed by a {} event",
                other.as_str()
            )))
        }
    };
    let closed = tx
        .row(
            "UPDATE free_rounds SET status = $1, closed_at_ms = $2 \
             WHERE player_id = $3 AND campaign_id = $4 AND status = 'active' RETURNING remaining",
            args![status.as_str(), now, player.as_str(), campaign.as_str()],
        )
        .await?;
    let Some(row) = closed else {
        return Ok(false);
    };
    let lost = count(&row, 0, "free_rounds.remaining")?;
    tx.exec(
        "UPDATE free_rounds SET remaining = 0 WHERE player_id = $1 AND campaign_id = $2",
        args![player.as_str(), campaign.as_str()],
    )
    .await?;
    event(tx, (player, campaign), kind, lost, (None, now)).await?;
    Ok(true)
}

/// Cancels the rounds not yet played; a grant already closed is answered as it stands.
pub async fn cancel<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    campaign: &CampaignId,
    now: i64,
) -> Outcome {
    let cancelled = close(tx, (player, campaign), FreeRoundEventKind::Cancel, now).await?;
    Ok(match fetch(tx, player, campaign).await? {
        Some(grant) => Ok(Applied::FreeRoundsCancelled {
            grant,
            replayed: !cancelled,
        }),
        None => Err(MovementError::UnknownCampaign(campaign.to_string())),
    })
}

/// What an OpenFreeRound asks for.
pub struct FreeRoundArgs<'a> {
    pub round_id: &'a RoundId,
    pub player: &'a PlayerId,
    pub req_id: &'a ReqId,
    pub game: &'a str,
    pub campaign: &'a CampaignId,
    pub node: Option<&'a str>,
}

/// Why a campaign's round cannot be taken now, as the player hears it.
async fn unavailable<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    (campaign, game): (&CampaignId, &str),
    now: i64,
) -> Result<MovementError, LedgerError> {
    let reason = match fetch(tx, player, campaign).await? {
        None => "no such campaign".to_string(),
        Some(g) if g.game != game => format!("it is for {}", g.game),
        Some(g) if g.status == FreeRoundsStatus::Cancelled => "it was cancelled".to_string(),
        Some(g) if g.status == FreeRoundsStatus::Expired || now >= g.expires_at_ms => {
            "it has expired".to_string()
        }
        Some(_) => "all its rounds are played".to_string(),
    };
    Ok(MovementError::FreeRoundsUnavailable {
        campaign: campaign.to_string(),
        reason,
    })
}

/// Opens one free round of the campaign: nothing debited, the campaign's bet staked.
pub async fn open_free_round<T: SqlTx>(tx: &mut T, a: FreeRoundArgs<'_>, now: i64) -> Outcome {
    let (player, req_id, game, campaign) = (a.player, a.req_id, a.game, a.campaign);
    let asked = Some(campaign.as_str());
    let held = tx
        .row(
            "SELECT 1 FROM free_spins WHERE player_id = $1 AND game = $2 AND remaining > 0",
            args![player.as_str(), game],
        )
        .await?;
    if held.is_some() {
        if round_exists(tx, player, req_id).await? {
            return replayed_round(tx, player, req_id, game, None, asked).await;
        }
        return Ok(Err(MovementError::FreeSpinsPending(game.to_string())));
    }
    let taken = tx
        .row(
            "UPDATE free_rounds SET remaining = remaining - 1 WHERE player_id = $1 \
             AND campaign_id = $2 AND game = $3 AND status = 'active' AND remaining > 0 \
             AND expires_at_ms > $4 RETURNING bet_minor, remaining",
            args![player.as_str(), campaign.as_str(), game, now],
        )
        .await?;
    let Some(taken) = taken else {
        if round_exists(tx, player, req_id).await? {
            return replayed_round(tx, player, req_id, game, None, asked).await;
        }
        return Ok(Err(unavailable(tx, player, (campaign, game), now).await?));
    };
    let (stake, left) = (taken.i64(0)?, count(&taken, 1, "free_rounds.remaining")?);
    let Some(balance) = balance_of(tx, player).await? else {
        return Err(LedgerError::Invariant(format!(
            "{player} holds free rounds but no account"
        )));
    };
    let inserted = tx
        .exec(
            "INSERT INTO rounds (round_id, player_id, req_id, game, status, bet_minor, stake_minor, \
             win_minor, free_spin, multiplier, balance_after_minor, created_at_ms, jackpot_micro, \
             node_id, campaign_id) \
             VALUES ($1, $2, $3, $4, 'open', 0, $5, 0, 0, 1, $6, $7, 0, $8, $9) \
             ON CONFLICT (player_id, req_id) DO NOTHING",
            args![
                a.round_id.as_str(),
                player.as_str(),
                req_id.as_str(),
                game,
                stake,
                balance,
                now,
                a.node,
                campaign.as_str()
            ],
        )
        .await?;
    if inserted == 0 {
        // A replayed req_id: give the round back, answer the original round.
        tx.exec(
            "UPDATE free_rounds SET remaining = remaining + 1 WHERE player_id = $1 AND campaign_id = $2",
            args![player.as_str(), campaign.as_str()],
        )
        .await?;
        return replayed_round(tx, player, req_id, game, None, asked).await;
    }
    let at = (Some(a.round_id), now);
    event(tx, (player, campaign), FreeRoundEventKind::Play, 1, at).await?;
    let round = RoundRecord {
        round_id: a.round_id.clone(),
        player: player.clone(),
        req_id: req_id.clone(),
        game: game.to_string(),
        status: RoundStatus::Open,
        bet_minor: 0,
        stake_minor: stake,
        win_minor: 0,
        free_spin: false,
        multiplier: 1,
        balance_after_minor: balance,
        outcome_json: None,
        created_at_ms: now,
        node: a.node.map(str::to_string),
        campaign: Some(campaign.to_string()),
    };
    Ok(Ok(Applied::RoundOpened {
        round,
        balance_minor: balance,
        free_spins_left: 0,
        free_rounds_left: Some(left),
        replayed: false,
        jackpot: Vec::new(),
        fair: None,
    }))
}

/// A round just voided (`apply_sql`, after `ledger_sql::void_round`): if it was a free round,
/// its round goes back to the campaign while the campaign is still active (a cancelled or
/// expired one has nothing left to give back to).
pub async fn give_back<T: SqlTx>(
    tx: &mut T,
    round_id: &RoundId,
    now: i64,
) -> Result<(), LedgerError> {
    let Some(round) = fetch_round(tx, round_id).await? else {
        return Ok(());
    };
    let Some(campaign) = &round.campaign else {
        return Ok(());
    };
    let campaign = CampaignId::parse(campaign).map_err(|_| invalid("rounds.campaign_id"))?;
    let given = tx
        .exec(
            "UPDATE free_rounds SET remaining = remaining + 1 WHERE player_id = $1 \
             AND campaign_id = $2 AND status = 'active' AND remaining < granted",
            args![round.player.as_str(), campaign.as_str()],
        )
        .await?;
    if given == 1 {
        let at = (Some(&round.round_id), now);
        event(
            tx,
            (&round.player, &campaign),
            FreeRoundEventKind::Void,
            1,
            at,
        )
        .await?;
    }
    Ok(())
}

/// Closes up to [`EXPIRE_BATCH`] grants whose expiry has passed; returns how many.
pub async fn expire<T: SqlTx>(tx: &mut T, now: i64) -> Result<u64, LedgerError> {
    let due = tx
        .rows(
            "SELECT player_id, campaign_id FROM free_rounds WHERE status = 'active' \
             AND expires_at_ms <= $1 ORDER BY expires_at_ms LIMIT $2",
            args![now, i64::from(EXPIRE_BATCH)],
        )
        .await?;
    let mut closed = 0;
    for row in &due {
        let player =
            PlayerId::parse(&row.text(0)?).map_err(|_| invalid("free_rounds.player_id"))?;
        let campaign =
            CampaignId::parse(&row.text(1)?).map_err(|_| invalid("free_rounds.campaign_id"))?;
        // Not active any more: closed meanwhile by another node's sweep or a cancel.
        if close(tx, (&player, &campaign), FreeRoundEventKind::Expire, now).await? {
            closed += 1;
        }
    }
    Ok(closed)
}

/// The player's grants, newest first; with `playable_at`, only those playable then.
pub async fn list<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    playable_at: Option<i64>,
) -> Result<Vec<FreeRounds>, LedgerError> {
    let limit = i64::from(MAX_GRANTS_LISTED);
    // Placeholders are numbered in order of first appearance (`sql`): the limit comes last.
    let order = "ORDER BY created_at_ms DESC, campaign_id LIMIT";
    let rows = match playable_at {
        Some(now) => {
            let sql = format!(
                "SELECT {GRANT_COLUMNS} FROM free_rounds WHERE player_id = $1 AND status = 'active' \
                 AND remaining > 0 AND expires_at_ms > $2 {order} $3"
            );
            tx.rows(&sql, args![player.as_str(), now, limit]).await?
        }
        None => {
            let sql =
                format!("SELECT {GRANT_COLUMNS} FROM free_rounds WHERE player_id = $1 {order} $2");
            tx.rows(&sql, args![player.as_str(), limit]).await?
        }
    };
    rows.iter().map(grant_from_row).collect()
}

/// One grant's events, in the order they were written.
pub async fn events<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    campaign: &CampaignId,
) -> Result<Vec<FreeRoundEvent>, LedgerError> {
    let rows = tx
        .rows(
            "SELECT seq, kind, rounds, round_id, created_at_ms FROM free_round_events \
             WHERE player_id = $1 AND campaign_id = $2 ORDER BY seq",
            args![player.as_str(), campaign.as_str()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(FreeRoundEvent {
                seq: r.i64(0)?,
                kind: FreeRoundEventKind::parse(&r.text(1)?)
                    .ok_or_else(|| invalid("free_round_events.kind"))?,
                rounds: count(r, 2, "free_round_events.rounds")?,
                round_id: r.opt_text(3)?,
                created_at_ms: r.i64(4)?,
            })
        })
        .collect()
}

/// The audit of free rounds: every grant's count of rounds left is what its events add up to
/// (and zero once closed), and every free round was taken from its campaign. Returns the
/// number of grants checked and what does not add up.
pub async fn audit<T: SqlTx>(tx: &mut T) -> Result<(u64, Vec<String>), LedgerError> {
    let mut mismatches = Vec::new();
    let grants = tx
        .rows(
            "SELECT f.player_id, f.campaign_id, f.remaining, f.status, CAST(COALESCE(SUM( \
             CASE WHEN e.kind IN ('grant', 'void') THEN e.rounds ELSE -e.rounds END), 0) AS BIGINT) \
             FROM free_rounds f LEFT JOIN free_round_events e \
             ON e.player_id = f.player_id AND e.campaign_id = f.campaign_id \
             GROUP BY f.player_id, f.campaign_id, f.remaining, f.status",
            args![],
        )
        .await?;
    for r in &grants {
        let (player, campaign, remaining, status, events) =
            (r.text(0)?, r.text(1)?, r.i64(2)?, r.text(3)?, r.i64(4)?);
        if remaining != events || (status != "active" && remaining != 0) {
            mismatches.push(format!(
                "free rounds {campaign} of {player} ({status}): {remaining} left, \
                 but its events add up to {events}"
            ));
        }
    }
    let untaken = tx
        .rows(
            "SELECT r.round_id FROM rounds r WHERE r.campaign_id IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM free_round_events e WHERE e.round_id = r.round_id AND e.kind = 'play')",
            args![],
        )
        .await?;
    for r in &untaken {
        mismatches.push(format!(
            "free round {} was not taken from its campaign",
            r.text(0)?
        ));
    }
    Ok((grants.len() as u64, mismatches))
}
