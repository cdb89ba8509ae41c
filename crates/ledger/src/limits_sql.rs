//! A player's limits in SQL, written once for SQLite and PostgreSQL: setting one (the rules of
//! `limits`), counting what a limited player stakes, wins and deposits per hour, and checking a
//! stake or a deposit against every limit in force inside the movement's own transaction, so
//! two nodes cannot both let a bet through (the account row the stake updates orders them).
//!
//! Only accounts marked `limits_set` are counted or checked; the mark is read by the balance
//! update every money movement runs anyway ([`note`]), so a player without limits costs nothing.

use super::ledger::{EntryKind, LedgerError, MovementError};
use super::limits::{
    bucket_of, fits, resets_at, window_start, LimitKey, LimitKind, Pending, Period, PlayerLimit,
    Usage, BUCKET_MS, LONGEST_WINDOW_MS,
};
use super::sql::{args, Row, SqlTx};
use crate::ids::PlayerId;

/// Records what a balance update's `RETURNING limits_set` said of the player.
pub(crate) fn note<T: SqlTx>(tx: &mut T, player: &PlayerId, limits_set: i64) {
    if limits_set != 0 {
        tx.watched().mark(player);
    }
}

fn read(player: &PlayerId, row: &Row) -> Result<PlayerLimit, LedgerError> {
    let (kind, period) = (row.text(0)?, row.text(1)?);
    let bad = || LedgerError::Invariant(format!("limit of {player}: {kind:?} per {period:?}"));
    let kind_ = LimitKind::parse(&kind).ok_or_else(bad)?;
    let period_ = Period::parse(&period).ok_or_else(bad)?;
    let key = LimitKey::new(kind_, period_).map_err(|_| bad())?;
    let pending = row.opt_i64(4)?.map(|from_ms| {
        Ok::<_, LedgerError>(Pending {
            amount: row.opt_i64(3)?,
            from_ms,
        })
    });
    Ok(PlayerLimit {
        player: player.clone(),
        key,
        amount: row.opt_i64(2)?,
        pending: pending.transpose()?,
        set_at_ms: row.i64(5)?,
    })
}

/// Every limit row of the player (in force, waiting or removed), in a stable order.
pub async fn limits<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
) -> Result<Vec<PlayerLimit>, LedgerError> {
    let rows = tx
        .rows(
            "SELECT kind, period, amount, pending_amount, pending_from_ms, set_at_ms \
             FROM player_limits WHERE player_id = $1 ORDER BY kind, period",
            args![player.as_str()],
        )
        .await?;
    rows.iter().map(|r| read(player, r)).collect()
}

/// Sets one limit by the rules of [`PlayerLimit::request`]; the limit as it stands after.
/// `None`: the player has no account. The first limit of an account marks it and counts its
/// last month of play from the ledger's entries, so a new limit sees what came before it.
pub async fn set_limit<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    key: LimitKey,
    amount: Option<i64>,
    now: i64,
    cooling_off_ms: i64,
) -> Result<Option<PlayerLimit>, LedgerError> {
    let marked = tx
        .exec(
            "UPDATE accounts SET limits_set = 1 WHERE player_id = $1 AND limits_set = 0",
            args![player.as_str()],
        )
        .await?;
    if marked == 1 {
        backfill(tx, player, now).await?;
    } else {
        let lock = tx.lock_rows();
        let sql = format!("SELECT limits_set FROM accounts WHERE player_id = $1{lock}");
        if tx.row(&sql, args![player.as_str()]).await?.is_none() {
            return Ok(None);
        }
    }
    let current = limits(tx, player).await?.into_iter().find(|l| l.key == key);
    let next = PlayerLimit::request(current.as_ref(), player, key, amount, now, cooling_off_ms);
    tx.exec(
        "INSERT INTO player_limits \
         (player_id, kind, period, amount, pending_amount, pending_from_ms, set_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (player_id, kind, period) DO UPDATE SET amount = excluded.amount, \
             pending_amount = excluded.pending_amount, \
             pending_from_ms = excluded.pending_from_ms, set_at_ms = excluded.set_at_ms",
        args![
            player.as_str(),
            key.kind().as_str(),
            key.period().as_str(),
            next.amount,
            next.pending.and_then(|p| p.amount),
            next.pending.map(|p| p.from_ms),
            now
        ],
    )
    .await?;
    Ok(Some(next))
}

/// Counts the player's entries of the longest window into hourly activity (the first limit).
async fn backfill<T: SqlTx>(tx: &mut T, player: &PlayerId, now: i64) -> Result<(), LedgerError> {
    let since = window_start(now, LONGEST_WINDOW_MS);
    let rows = tx
        .rows(
            "SELECT kind, amount_minor, created_at_ms FROM ledger_entries \
             WHERE player_id = $1 AND created_at_ms >= $2",
            args![player.as_str(), since],
        )
        .await?;
    for row in rows {
        let kind = row.text(0)?;
        let kind = EntryKind::parse(&kind)
            .ok_or_else(|| LedgerError::Invariant(format!("entry kind {kind:?}")))?;
        record(tx, player, kind, row.i64(1)?, row.i64(2)?).await?;
    }
    Ok(())
}

/// Counts one entry of a limited player in the hour of `at_ms`: a stake (negative) as wagered,
/// a refund as a stake taken back, a win or jackpot as won, a deposit as deposited.
pub(crate) async fn record<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    kind: EntryKind,
    amount_minor: i64,
    at_ms: i64,
) -> Result<(), LedgerError> {
    let (wagered, won, deposited) = match kind {
        EntryKind::Bet => (-amount_minor, 0, 0),
        EntryKind::Refund => (-amount_minor, 0, 0),
        EntryKind::Win | EntryKind::Jackpot => (0, amount_minor, 0),
        EntryKind::Deposit => (0, 0, amount_minor),
        EntryKind::Withdrawal => return Ok(()),
    };
    tx.exec(
        "INSERT INTO player_activity \
         (player_id, hour_ms, wagered_minor, won_minor, deposited_minor) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (player_id, hour_ms) DO UPDATE SET \
             wagered_minor = player_activity.wagered_minor + excluded.wagered_minor, \
             won_minor = player_activity.won_minor + excluded.won_minor, \
             deposited_minor = player_activity.deposited_minor + excluded.deposited_minor",
        args![player.as_str(), bucket_of(at_ms), wagered, won, deposited],
    )
    .await?;
    Ok(())
}

fn usage_of(row: &Row, first: usize) -> Result<Usage, LedgerError> {
    Ok(Usage {
        wagered: row.i64(first)?,
        won: row.i64(first + 1)?,
        deposited: row.i64(first + 2)?,
    })
}

/// What the player used in each window at `now`: day, week, month.
pub async fn usage<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    now: i64,
) -> Result<[Usage; 3], LedgerError> {
    let starts = [Period::Day, Period::Week, Period::Month]
        .map(|p| window_start(now, p.window_ms().unwrap_or(LONGEST_WINDOW_MS)));
    let sum = |column: &str, from: usize| {
        format!("CAST(COALESCE(SUM(CASE WHEN hour_ms >= ${from} THEN {column} ELSE 0 END), 0) AS BIGINT)")
    };
    // SQLite numbers `$N` by first appearance: the window starts come first, as $1 to $3.
    let mut columns = Vec::new();
    for from in 1..=3 {
        for column in ["wagered_minor", "won_minor", "deposited_minor"] {
            columns.push(sum(column, from));
        }
    }
    let sql = format!(
        "SELECT {} FROM player_activity WHERE player_id = $4 AND hour_ms >= $3",
        columns.join(", ")
    );
    let row = tx
        .row(
            &sql,
            args![starts[0], starts[1], starts[2], player.as_str()],
        )
        .await?
        .ok_or_else(|| LedgerError::Invariant("an aggregate returned no row".into()))?;
    Ok([usage_of(&row, 0)?, usage_of(&row, 3)?, usage_of(&row, 6)?])
}

/// The window's buckets (start, usage) at `now`.
async fn buckets<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    window_ms: i64,
    now: i64,
) -> Result<Vec<(i64, Usage)>, LedgerError> {
    let rows = tx
        .rows(
            "SELECT hour_ms, wagered_minor, won_minor, deposited_minor FROM player_activity \
             WHERE player_id = $1 AND hour_ms >= $2",
            args![player.as_str(), window_start(now, window_ms)],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.i64(0)?, usage_of(r, 1)?)))
        .collect()
}

/// What a stake or a deposit is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Checked {
    /// A paid stake of this many minor units, in a session that began then (if known).
    Stake {
        minor: i64,
        session_started_ms: Option<i64>,
    },
    Deposit {
        minor: i64,
    },
}

/// The first limit in force that `what` would cross, as the refusal the player gets; `None`
/// if it fits them all. Runs only for a watched player, before the movement's entry counts.
pub(crate) async fn check<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    what: Checked,
    now: i64,
) -> Result<Option<MovementError>, LedgerError> {
    if !tx.watched().has(player) {
        return Ok(None);
    }
    let (kinds, more): (&[LimitKind], i64) = match what {
        Checked::Stake { minor, .. } => (
            &[LimitKind::Loss, LimitKind::Wager, LimitKind::SessionTime],
            minor,
        ),
        Checked::Deposit { minor } => (&[LimitKind::Deposit], minor),
    };
    let in_force: Vec<(LimitKey, i64)> = limits(tx, player)
        .await?
        .iter()
        .filter(|l| kinds.contains(&l.key.kind()))
        .filter_map(|l| Some((l.key, l.in_force(now)?)))
        .collect();
    if in_force.is_empty() {
        return Ok(None);
    }
    let mut used: Option<[Usage; 3]> = None;
    for (key, limit) in in_force {
        let refused = |resets_at_ms| MovementError::LimitReached {
            kind: key.kind(),
            period: key.period(),
            limit,
            resets_at_ms,
        };
        let window = match key.period() {
            Period::Session => {
                let started = match what {
                    Checked::Stake {
                        session_started_ms, ..
                    } => session_started_ms,
                    Checked::Deposit { .. } => None,
                };
                let over = started.is_some_and(|s| now - s >= limit.saturating_mul(60_000));
                if over {
                    return Ok(Some(refused(None)));
                }
                continue;
            }
            Period::Day => 0,
            Period::Week => 1,
            Period::Month => 2,
        };
        let sums = match used {
            Some(sums) => sums,
            None => *used.insert(usage(tx, player, now).await?),
        };
        if !fits(sums[window].used(key.kind()), more, limit) {
            let window_ms = key.period().window_ms().unwrap_or(LONGEST_WINDOW_MS);
            let hours = buckets(tx, player, window_ms, now).await?;
            let at = resets_at(key.kind(), window_ms, &hours, more, limit);
            return Ok(Some(refused(at)));
        }
    }
    Ok(None)
}

/// Drops activity older than the longest window (a bounded sweep); how many rows went.
pub async fn prune<T: SqlTx>(tx: &mut T, now: i64) -> Result<u64, LedgerError> {
    let before = window_start(now, LONGEST_WINDOW_MS) - BUCKET_MS;
    tx.exec(
        "DELETE FROM player_activity WHERE hour_ms < $1",
        args![before],
    )
    .await
}
