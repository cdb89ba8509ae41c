//! Money entering and leaving the games: deposits (demo funding, an operator's deposit) and
//! an operator's withdrawals. Exactly once by transaction id: the same id with the same
//! player, direction and amount answers the balance it left the first time; any other use
//! of the id is a conflict. A withdrawal never takes a balance below zero; a deposit over
//! one of the player's deposit limits is refused (`limits_sql`).

use super::ledger::{Applied, EntryKind, MovementError};
use super::ledger_sql::{adjust_balance, balance_of, insert_entry, Outcome};
use super::limits_sql::{self, Checked};
use super::sql::{args, SqlTx};
use crate::ids::PlayerId;

/// Which way the money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    In,
    Out,
}

impl Direction {
    fn kind(self) -> EntryKind {
        match self {
            Direction::In => EntryKind::Deposit,
            Direction::Out => EntryKind::Withdrawal,
        }
    }

    fn applied(self, balance_minor: i64, replayed: bool) -> Applied {
        match self {
            Direction::In => Applied::Deposited {
                balance_minor,
                replayed,
            },
            Direction::Out => Applied::Withdrawn {
                balance_minor,
                replayed,
            },
        }
    }
}

/// Moves `amount_minor` (> 0) into or out of the player's balance under `tx_id`.
pub(crate) async fn transfer<T: SqlTx>(
    tx: &mut T,
    tx_id: &str,
    player: &PlayerId,
    direction: Direction,
    amount_minor: i64,
    now: i64,
) -> Outcome {
    if amount_minor <= 0 {
        return Ok(Err(MovementError::NonPositiveAmount));
    }
    let kind = direction.kind();
    let signed = match direction {
        Direction::In => amount_minor,
        Direction::Out => -amount_minor,
    };
    let existing = tx
        .row(
            "SELECT player_id, kind, amount_minor, balance_after_minor FROM ledger_entries \
             WHERE tx_id = $1",
            args![tx_id],
        )
        .await?;
    if let Some(row) = existing {
        let same = row.text(0)? == player.as_str()
            && row.text(1)? == kind.as_str()
            && row.i64(2)? == signed;
        return Ok(if same {
            Ok(direction.applied(row.i64(3)?, true))
        } else {
            Err(MovementError::TxConflict(tx_id.to_string()))
        });
    }
    let Some(balance) = adjust_balance(tx, player, signed).await? else {
        return Ok(Err(match balance_of(tx, player).await? {
            None => MovementError::UnknownAccount(player.to_string()),
            Some(balance_minor) => MovementError::InsufficientFunds {
                balance_minor,
                needed_minor: amount_minor,
            },
        }));
    };
    if direction == Direction::In {
        let checked = Checked::Deposit {
            minor: amount_minor,
        };
        if let Some(refused) = limits_sql::check(tx, player, checked, now).await? {
            adjust_balance(tx, player, -signed).await?;
            return Ok(Err(refused));
        }
    }
    insert_entry(tx, tx_id, player, kind, signed, balance, None, now).await?;
    Ok(Ok(direction.applied(balance, false)))
}
