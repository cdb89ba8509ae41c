//! The ledger's money logic and SQL, written once for both databases ([`SqlTx`]): the rule of
//! each movement (open, settle, void, accounts, fences); `apply_sql` dispatches to them,
//! deposits and withdrawals are in `transfer_sql` and reads are in `read_sql`.
//!
//! About 600 lines, on purpose: opening, settling and voiding a round are one set of money
//! rules over the same rows (stake, balance, entries, the round's status), and they are checked
//! against each other when read side by side. Each function runs inside the caller's
//! transaction; the embedded ledger
//! drives these futures to completion synchronously on its writer thread (SQLite never waits),
//! the PostgreSQL ledger awaits them on its connection.

use super::chain::{ChainKey, LinkTable};
use super::chain_sql;
use super::jackpot_sql::JackpotBatch;
use super::ledger::{
    Account, Applied, EntryKind, FreeSpins, JackpotClaim, JackpotFeed, JackpotWin, LedgerError,
    LevelDraw, LevelSeen, MovementError, RoundRecord, RoundStatus,
};
use super::limits_sql::{self, Checked};
use super::read_sql::{fetch_round, invalid, round_by_req};
use super::sql::{args, Arg, SqlTx};
use crate::ids::{PlayerId, ReqId, RoundId};

pub type Outcome = Result<Result<Applied, MovementError>, LedgerError>;

/// Adds `delta` to a balance unless it would go negative; returns the new balance.
pub(crate) async fn adjust_balance<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    delta: i64,
) -> Result<Option<i64>, LedgerError> {
    let row = tx
        .row(
            "UPDATE accounts SET balance_minor = balance_minor + $1 \
             WHERE player_id = $2 AND balance_minor + $1 >= 0 \
             RETURNING balance_minor, chain_seq, chain_head, limits_set",
            args![delta, player.as_str()],
        )
        .await?;
    if let Some(r) = &row {
        let key = ChainKey::Player(player.as_str().to_string());
        chain_sql::preload(tx, key, r.i64(1)?, &r.text(2)?)?;
        limits_sql::note(tx, player, r.i64(3)?);
    }
    let balance = row.map(|r| r.i64(0)).transpose()?;
    if let Some(b) = balance {
        if b < 0 {
            return Err(LedgerError::Invariant(format!("{player} balance {b} < 0")));
        }
    }
    Ok(balance)
}

pub async fn balance_of<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
) -> Result<Option<i64>, LedgerError> {
    let row = tx
        .row(
            "SELECT balance_minor FROM accounts WHERE player_id = $1",
            args![player.as_str()],
        )
        .await?;
    row.map(|r| r.i64(0)).transpose()
}

/// One ledger entry; its sign and `balance_after` are checked where money is written.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_entry<T: SqlTx>(
    tx: &mut T,
    tx_id: &str,
    player: &PlayerId,
    kind: EntryKind,
    amount_minor: i64,
    balance_after_minor: i64,
    round_id: Option<&RoundId>,
    now: i64,
) -> Result<(), LedgerError> {
    let sign_ok = match kind {
        EntryKind::Bet | EntryKind::Withdrawal => amount_minor < 0,
        EntryKind::Deposit | EntryKind::Win | EntryKind::Refund | EntryKind::Jackpot => {
            amount_minor > 0
        }
    };
    if !sign_ok || balance_after_minor < 0 {
        return Err(LedgerError::Invariant(format!(
            "entry {tx_id}: {} of {amount_minor} leaving {balance_after_minor}",
            kind.as_str()
        )));
    }
    // The link covers exactly these values, in `chain::ENTRY_FIELDS` order.
    let fields = args![
        tx_id,
        player.as_str(),
        kind.as_str(),
        amount_minor,
        balance_after_minor,
        round_id.map(|r| r.as_str()),
        now
    ];
    let key = ChainKey::Player(player.as_str().to_string());
    let link = chain_sql::append(tx, &key, LinkTable::Entry, fields).await?;
    let hash = link.hash.to_hex();
    let mut all = fields.to_vec();
    all.extend([Arg::I64(link.links), Arg::Str(&hash)]);
    tx.exec(
        "INSERT INTO ledger_entries \
         (tx_id, player_id, kind, amount_minor, balance_after_minor, round_id, created_at_ms, \
         chain_seq, chain_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &all,
    )
    .await?;
    // A refund counts at its stake's hour: `void_round` records it.
    if kind != EntryKind::Refund && tx.watched().has(player) {
        limits_sql::record(tx, player, kind, amount_minor, now).await?;
    }
    Ok(())
}

/// Takes one free spin on `game` if the player holds any: `(bet, multiplier, remaining after)`.
async fn take_free_spin<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    game: &str,
) -> Result<Option<(i64, u32, u32)>, LedgerError> {
    let taken = tx
        .row(
            "UPDATE free_spins SET remaining = remaining - 1 \
             WHERE player_id = $1 AND game = $2 AND remaining > 0 \
             RETURNING bet_minor, multiplier, remaining",
            args![player.as_str(), game],
        )
        .await?;
    let Some(row) = taken else {
        return Ok(None);
    };
    let (bet, multiplier, remaining) = (row.i64(0)?, row.i64(1)?, row.i64(2)?);
    if remaining == 0 {
        tx.exec(
            "DELETE FROM free_spins WHERE player_id = $1 AND game = $2 AND remaining = 0",
            args![player.as_str(), game],
        )
        .await?;
    }
    let multiplier = u32::try_from(multiplier).map_err(|_| invalid("free_spins.multiplier"))?;
    let remaining = u32::try_from(remaining).map_err(|_| invalid("free_spins.remaining"))?;
    Ok(Some((bet, multiplier, remaining)))
}

pub(crate) async fn give_free_spins<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    spins: &FreeSpins,
) -> Result<(), LedgerError> {
    // A retrigger adds spins at the bet and multiplier already held.
    tx.exec(
        "INSERT INTO free_spins (player_id, game, remaining, bet_minor, multiplier) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (player_id, game) DO UPDATE SET remaining = free_spins.remaining + excluded.remaining",
        args![
            player.as_str(),
            spins.game.as_str(),
            i64::from(spins.remaining),
            spins.bet_minor,
            i64::from(spins.multiplier)
        ],
    )
    .await?;
    Ok(())
}

/// The round a replayed `req_id` opened before, if the request is the same one: the same game
/// (a slot, or a table: their ids never clash), the same campaign (or none) and, for a paid
/// round, the same stake. Anything else reusing the `req_id` is another request and gets
/// `TxConflict` (`duplicate_request`).
pub(crate) async fn replayed_round<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    req_id: &ReqId,
    game: &str,
    bet_minor: Option<i64>,
    campaign: Option<&str>,
) -> Outcome {
    let round = round_by_req(tx, player, req_id)
        .await?
        .ok_or_else(|| LedgerError::Invariant(format!("round of {player}/{req_id} vanished")))?;
    let same_bet = round.free_spin || bet_minor.map_or(true, |b| b == round.bet_minor);
    if round.game != game || !same_bet || round.campaign.as_deref() != campaign {
        return Ok(Err(MovementError::TxConflict(format!(
            "{player}/{req_id}: that req_id opened round {} of {} for {}",
            round.round_id, round.game, round.bet_minor
        ))));
    }
    Ok(Ok(Applied::RoundOpened {
        balance_minor: round.balance_after_minor,
        round,
        free_spins_left: 0,
        free_rounds_left: None,
        replayed: true,
        jackpot: Vec::new(),
        fair: None,
    }))
}

pub(crate) async fn round_exists<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    req_id: &ReqId,
) -> Result<bool, LedgerError> {
    Ok(tx
        .row(
            "SELECT 1 FROM rounds WHERE player_id = $1 AND req_id = $2",
            args![player.as_str(), req_id.as_str()],
        )
        .await?
        .is_some())
}

/// What a paid bet of `debit` gives its pool, in micro-units: the round records it.
pub(crate) fn jackpot_share(feed: Option<&JackpotFeed>, debit: i64) -> i64 {
    feed.map_or(0, |f| {
        f.levels
            .iter()
            .map(|l| debit.saturating_mul(l.contribution_ppm + l.reserve_ppm))
            .sum()
    })
}

/// Adds a paid bet's shares to its pool (folded per batch) and checks they are what its round
/// recorded (`taken_micro`); returns each level as the bet left it.
pub(crate) async fn feed_jackpot<T: SqlTx>(
    tx: &mut T,
    jackpots: &mut JackpotBatch,
    round_id: &RoundId,
    feed: Option<&JackpotFeed>,
    (debit, taken_micro): (i64, i64),
) -> Result<Vec<LevelSeen>, LedgerError> {
    let Some(feed) = feed else {
        return Ok(Vec::new());
    };
    let (taken, seen) = jackpots.contribute(tx, feed, debit).await?;
    if taken != taken_micro {
        return Err(LedgerError::Invariant(format!(
            "round {round_id}: jackpot share {taken} != recorded {taken_micro}"
        )));
    }
    Ok(seen)
}

/// What an OpenRound asks for.
pub struct OpenArgs<'a> {
    pub round_id: &'a RoundId,
    pub player: &'a PlayerId,
    pub req_id: &'a ReqId,
    pub game: &'a str,
    pub bet_minor: Option<i64>,
    pub try_free_spin: bool,
    pub feed: Option<&'a JackpotFeed>,
    pub opened_json: Option<&'a str>,
    pub node: Option<&'a str>,
    pub session_started_ms: Option<i64>,
}

/// Opens a round in as few statements as possible: the stake is taken first with conditional
/// writes, and the rare paths (a replayed `req_id`, insufficient funds) undo or look up after.
pub(crate) async fn open_round<T: SqlTx>(
    tx: &mut T,
    o: OpenArgs<'_>,
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Outcome {
    let (round_id, player, req_id, game) = (o.round_id, o.player, o.req_id, o.game);
    let free = if o.try_free_spin {
        take_free_spin(tx, player, game).await?
    } else {
        None
    };
    let (debit, stake, multiplier) = match (free, o.bet_minor) {
        (Some((stake, multiplier, _)), _) => (0, stake, multiplier),
        (None, Some(bet)) if bet > 0 => (bet, bet, 1),
        (None, _) if round_exists(tx, player, req_id).await? => {
            return replayed_round(tx, player, req_id, game, o.bet_minor, None).await
        }
        (None, Some(_)) => return Ok(Err(MovementError::NonPositiveAmount)),
        (None, None) => return Ok(Err(MovementError::BetRequired)),
    };
    let balance = if debit > 0 {
        match adjust_balance(tx, player, -debit).await? {
            Some(b) => {
                let checked = Checked::Stake {
                    minor: debit,
                    session_started_ms: o.session_started_ms,
                };
                if let Some(refused) = limits_sql::check(tx, player, checked, now).await? {
                    adjust_balance(tx, player, debit).await?;
                    if round_exists(tx, player, req_id).await? {
                        return replayed_round(tx, player, req_id, game, o.bet_minor, None).await;
                    }
                    return Ok(Err(refused));
                }
                b
            }
            None if round_exists(tx, player, req_id).await? => {
                return replayed_round(tx, player, req_id, game, o.bet_minor, None).await
            }
            None => {
                return Ok(Err(match balance_of(tx, player).await? {
                    Some(balance_minor) => MovementError::InsufficientFunds {
                        balance_minor,
                        needed_minor: debit,
                    },
                    None => MovementError::UnknownAccount(player.to_string()),
                }))
            }
        }
    } else {
        match balance_of(tx, player).await? {
            Some(b) => b,
            None => return Ok(Err(MovementError::UnknownAccount(player.to_string()))),
        }
    };
    // Only a paid bet feeds a jackpot: a free spin debits nothing.
    let feed = o.feed.filter(|_| debit > 0);
    let taken_micro = jackpot_share(feed, debit);
    let inserted = tx
        .exec(
            "INSERT INTO rounds (round_id, player_id, req_id, game, status, bet_minor, stake_minor, \
             win_minor, free_spin, multiplier, balance_after_minor, outcome, created_at_ms, \
             jackpot_pool, jackpot_micro, node_id) \
             VALUES ($1, $2, $3, $4, 'open', $5, $6, 0, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (player_id, req_id) DO NOTHING",
            args![
                round_id.as_str(),
                player.as_str(),
                req_id.as_str(),
                game,
                debit,
                stake,
                i64::from(free.is_some()),
                i64::from(multiplier),
                balance,
                o.opened_json,
                now,
                feed.map(|f| f.pool.as_str()),
                taken_micro,
                o.node
            ],
        )
        .await?;
    if inserted == 0 {
        // A replayed req_id: give back what was just taken, return the original round.
        if debit > 0 {
            adjust_balance(tx, player, debit).await?;
        }
        if let Some((bet_minor, multiplier, _)) = free {
            let spin = FreeSpins {
                game: game.to_string(),
                remaining: 1,
                bet_minor,
                multiplier,
            };
            give_free_spins(tx, player, &spin).await?;
        }
        return replayed_round(tx, player, req_id, game, o.bet_minor, None).await;
    }
    if debit > 0 {
        let tx_id = round_id.tx("bet");
        let at = Some(round_id);
        insert_entry(tx, &tx_id, player, EntryKind::Bet, -debit, balance, at, now).await?;
    }
    let jackpot = feed_jackpot(tx, jackpots, round_id, feed, (debit, taken_micro)).await?;
    let round = RoundRecord {
        round_id: round_id.clone(),
        player: player.clone(),
        req_id: req_id.clone(),
        game: game.to_string(),
        status: RoundStatus::Open,
        bet_minor: debit,
        stake_minor: stake,
        win_minor: 0,
        free_spin: free.is_some(),
        multiplier,
        balance_after_minor: balance,
        outcome_json: o.opened_json.map(str::to_string),
        created_at_ms: now,
        node: o.node.map(str::to_string),
        campaign: None,
    };
    Ok(Ok(Applied::RoundOpened {
        round,
        balance_minor: balance,
        free_spins_left: free.map_or(0, |f| f.2),
        free_rounds_left: None,
        replayed: false,
        jackpot,
        fair: None,
    }))
}

/// What a SettleRound asks for.
pub struct SettleArgs<'a> {
    pub round_id: &'a RoundId,
    pub player: &'a PlayerId,
    pub win_minor: i64,
    pub outcome_json: &'a str,
    pub free_spins_awarded: Option<&'a FreeSpins>,
    pub claims: &'a [JackpotClaim],
    pub draws: &'a [LevelDraw],
}

/// A round's jackpot draws as stored (`rounds.jackpot_draws`): JSON, or NULL when it had none.
pub(crate) fn draws_json(draws: &[LevelDraw]) -> Result<Option<String>, LedgerError> {
    if draws.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(draws)
        .map(Some)
        .map_err(|e| LedgerError::Invariant(format!("jackpot draws as JSON: {e}")))
}

/// Settles in two or three statements; a round that is not open (a replay, a conflict) is
/// found out by the conditional update, and the credit is undone in that rare case.
pub(crate) async fn settle_round<T: SqlTx>(
    tx: &mut T,
    s: SettleArgs<'_>,
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Outcome {
    let (round_id, player, win_minor) = (s.round_id, s.player, s.win_minor);
    if win_minor < 0 {
        return Ok(Err(MovementError::NonPositiveAmount));
    }
    let Some(balance) = adjust_balance(tx, player, win_minor).await? else {
        return Ok(Err(MovementError::UnknownAccount(player.to_string())));
    };
    let draws = draws_json(s.draws)?;
    let updated = chain_sql::write_round(
        tx,
        "UPDATE rounds SET status = 'settled', win_minor = $1, outcome = $2, \
         balance_after_minor = $3, settled_at_ms = $4, jackpot_draws = $5 \
         WHERE round_id = $6 AND player_id = $7 AND status = 'open'",
        args![
            win_minor,
            s.outcome_json,
            balance,
            now,
            draws.as_deref(),
            round_id.as_str(),
            player.as_str()
        ],
    )
    .await?;
    if updated != 1 {
        adjust_balance(tx, player, -win_minor).await?;
        let Some(round) = fetch_round(tx, round_id).await? else {
            return Ok(Err(MovementError::UnknownRound(round_id.to_string())));
        };
        let same = &round.player == player
            && round.win_minor == win_minor
            && round.outcome_json.as_deref() == Some(s.outcome_json);
        return Ok(match round.status {
            RoundStatus::Settled if same => Ok(Applied::RoundSettled {
                balance_minor: round.balance_after_minor,
                replayed: true,
                jackpot_wins: super::jackpot_sql::wins_for_round(tx, round_id).await?,
            }),
            RoundStatus::Void => Err(MovementError::RoundNotOpen(round_id.to_string())),
            _ => Err(MovementError::TxConflict(round_id.tx("win"))),
        });
    }
    if win_minor > 0 {
        let tx_id = round_id.tx("win");
        let at = Some(round_id);
        insert_entry(
            tx,
            &tx_id,
            player,
            EntryKind::Win,
            win_minor,
            balance,
            at,
            now,
        )
        .await?;
    }
    if let Some(spins) = s.free_spins_awarded {
        give_free_spins(tx, player, spins).await?;
    }
    let (balance, jackpot_wins) =
        pay_claims(tx, (round_id, player), s.claims, balance, now, jackpots).await?;
    Ok(Ok(Applied::RoundSettled {
        balance_minor: balance,
        replayed: false,
        jackpot_wins,
    }))
}

/// Pays a settling round's jackpot claims: each level won is reset and credited to the player
/// (`<round>:jackpot:<pool>:<level>`), and the round's recorded balance follows. Returns the
/// balance after and the levels won (a ceiling claim whose cycle was already won pays nothing).
pub(crate) async fn pay_claims<T: SqlTx>(
    tx: &mut T,
    (round_id, player): (&RoundId, &PlayerId),
    claims: &[JackpotClaim],
    mut balance: i64,
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Result<(i64, Vec<JackpotWin>), LedgerError> {
    let mut jackpot_wins = Vec::with_capacity(claims.len());
    for claim in claims {
        let Some(won) = jackpots.claim(tx, claim, round_id, player, now).await? else {
            continue; // a ceiling claim whose cycle was already won
        };
        if won.amount_minor > 0 {
            balance = adjust_balance(tx, player, won.amount_minor)
                .await?
                .ok_or_else(|| LedgerError::Invariant(format!("{player} vanished mid-round")))?;
            let tx_id = format!("{round_id}:jackpot:{}:{}", won.pool, won.level);
            let (kind, amount, at) = (EntryKind::Jackpot, won.amount_minor, Some(round_id));
            insert_entry(tx, &tx_id, player, kind, amount, balance, at, now).await?;
        }
        jackpot_wins.push(won);
    }
    if !jackpot_wins.is_empty() {
        chain_sql::write_round(
            tx,
            "UPDATE rounds SET balance_after_minor = $1 WHERE round_id = $2",
            args![balance, round_id.as_str()],
        )
        .await?;
    }
    Ok((balance, jackpot_wins))
}

pub(crate) async fn void_round<T: SqlTx>(
    tx: &mut T,
    round_id: &RoundId,
    player: &PlayerId,
    now: i64,
) -> Outcome {
    let Some(round) = fetch_round(tx, round_id).await? else {
        return Ok(Err(MovementError::UnknownRound(round_id.to_string())));
    };
    if &round.player != player {
        return Ok(Err(MovementError::TxConflict(round_id.tx("refund"))));
    }
    match round.status {
        RoundStatus::Open => {}
        RoundStatus::Void => {
            return Ok(Ok(Applied::RoundVoided {
                balance_minor: round.balance_after_minor,
                replayed: true,
            }))
        }
        RoundStatus::Settled => return Ok(Err(MovementError::RoundNotOpen(round_id.to_string()))),
    }
    let balance = if round.bet_minor > 0 {
        let Some(balance) = adjust_balance(tx, player, round.bet_minor).await? else {
            return Ok(Err(MovementError::UnknownAccount(player.to_string())));
        };
        let tx_id = round_id.tx("refund");
        let (kind, amount, at) = (EntryKind::Refund, round.bet_minor, Some(round_id));
        insert_entry(tx, &tx_id, player, kind, amount, balance, at, now).await?;
        if tx.watched().has(player) {
            limits_sql::record(tx, player, kind, amount, round.created_at_ms).await?;
        }
        balance
    } else {
        balance_of(tx, player).await?.unwrap_or(0)
    };
    if round.free_spin {
        let spin = FreeSpins {
            game: round.game.clone(),
            remaining: 1,
            bet_minor: round.stake_minor,
            multiplier: round.multiplier,
        };
        give_free_spins(tx, player, &spin).await?;
    }
    chain_sql::write_round(
        tx,
        "UPDATE rounds SET status = 'void', balance_after_minor = $1, settled_at_ms = $2 \
         WHERE round_id = $3 AND status = 'open'",
        args![balance, now, round_id.as_str()],
    )
    .await?;
    Ok(Ok(Applied::RoundVoided {
        balance_minor: balance,
        replayed: false,
    }))
}

pub async fn ensure_account<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    currency: &str,
    now: i64,
) -> Result<Account, LedgerError> {
    tx.exec(
        "INSERT INTO accounts (player_id, currency, balance_minor, created_at_ms, operator_id) \
         VALUES ($1, $2, 0, $3, $4) ON CONFLICT (player_id) DO NOTHING",
        args![player.as_str(), currency, now, player.operator()],
    )
    .await?;
    let row = tx
        .row(
            "SELECT currency, balance_minor FROM accounts WHERE player_id = $1",
            args![player.as_str()],
        )
        .await?
        .ok_or_else(|| LedgerError::Invariant(format!("account {player} vanished")))?;
    Ok(Account {
        player: player.clone(),
        currency: row.text(0)?,
        balance_minor: row.i64(1)?,
    })
}

/// Raises a table's fencing token by one and returns it: the token the caller now runs the
/// table under. The ledger, not Redis, is where tokens come from, so they only grow for the
/// life of the ledger whatever happens to Redis (a flush, a restart without persistence, a
/// failover): two calls never return the same token, and every movement fenced by an older
/// one is refused from the commit of this one on. On PostgreSQL the update waits for the
/// movements still checking the old token (they hold the row `FOR SHARE` to their commit).
pub async fn next_fence<T: SqlTx>(tx: &mut T, table: &str, now: i64) -> Result<i64, LedgerError> {
    let row = tx
        .row(
            "INSERT INTO table_fences (table_id, token, raised_at_ms) VALUES ($1, 1, $2) \
             ON CONFLICT (table_id) DO UPDATE SET token = table_fences.token + 1, \
             raised_at_ms = excluded.raised_at_ms RETURNING token",
            args![table, now],
        )
        .await?
        .ok_or_else(|| LedgerError::Invariant(format!("no fence returned for table {table}")))?;
    let token = row.i64(0)?;
    if token < 1 {
        return Err(LedgerError::Invariant(format!(
            "table {table}: fencing token {token} after a raise"
        )));
    }
    Ok(token)
}
