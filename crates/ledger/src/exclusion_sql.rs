//! Time-outs and self-exclusions in SQL, written once for SQLite and PostgreSQL: one row per
//! player, replaced only by an exclusion that ends later (or after the old one has ended), so
//! no call can shorten an exclusion in force.

use super::exclusion::{Exclusion, ExclusionReason};
use super::ledger::LedgerError;
use super::sql::{args, Row, SqlTx};
use crate::ids::PlayerId;

fn read(player: &PlayerId, row: &Row) -> Result<Exclusion, LedgerError> {
    let reason = row.text(1)?;
    Ok(Exclusion {
        player: player.clone(),
        until_ms: row.opt_i64(0)?,
        reason: ExclusionReason::parse(&reason).ok_or_else(|| {
            LedgerError::Invariant(format!("exclusion of {player}: reason {reason:?}"))
        })?,
        set_at_ms: row.i64(2)?,
    })
}

/// The player's exclusion row, in force or not.
pub async fn exclusion<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
) -> Result<Option<Exclusion>, LedgerError> {
    let row = tx
        .row(
            "SELECT until_ms, reason, set_at_ms FROM player_exclusions WHERE player_id = $1",
            args![player.as_str()],
        )
        .await?;
    row.map(|r| read(player, &r)).transpose()
}

/// Excludes the player until `until_ms` (`None`: indefinitely) unless an exclusion in force
/// already ends later; the exclusion that stands afterwards.
pub async fn exclude<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    until_ms: Option<i64>,
    reason: ExclusionReason,
    now: i64,
) -> Result<Exclusion, LedgerError> {
    if until_ms.is_some_and(|u| u <= now) {
        return Err(LedgerError::Invariant(format!(
            "an exclusion of {player} that ends before it starts"
        )));
    }
    // The old row gives way when it has ended, is not indefinite and ends before the new.
    tx.exec(
        "INSERT INTO player_exclusions (player_id, until_ms, reason, set_at_ms) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (player_id) DO UPDATE SET until_ms = excluded.until_ms, \
             reason = excluded.reason, set_at_ms = excluded.set_at_ms \
         WHERE player_exclusions.until_ms IS NOT NULL \
           AND (player_exclusions.until_ms <= $4 OR excluded.until_ms IS NULL \
                OR excluded.until_ms > player_exclusions.until_ms)",
        args![player.as_str(), until_ms, reason.as_str(), now],
    )
    .await?;
    exclusion(tx, player)
        .await?
        .ok_or_else(|| LedgerError::Invariant(format!("exclusion of {player} vanished")))
}
