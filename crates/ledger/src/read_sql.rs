//! Reading the ledger, written once for both databases ([`SqlTx`]): rounds (by id, by
//! `req_id`, a player's history, the open ones), accounts, entries, free spins, a session's
//! totals, and the audit
//! that recomputes every balance from its entries. Nothing here writes.

use super::ledger::{
    Account, AuditReport, Books, Entry, EntryKind, FreeSpins, LedgerError, RoundRecord,
    RoundStatus, SessionTotals,
};
use super::sql::{args, Row, SqlTx};
use crate::ids::{PlayerId, ReqId, RoundId};

pub const ROUND_COLUMNS: &str = "round_id, player_id, req_id, game, status, bet_minor, \
     stake_minor, win_minor, free_spin, multiplier, balance_after_minor, outcome, created_at_ms, \
     node_id, campaign_id";

pub(crate) fn invalid(what: &str) -> LedgerError {
    LedgerError::Invariant(format!("stored value out of range: {what}"))
}

pub fn round_from_row(row: &Row) -> Result<RoundRecord, LedgerError> {
    Ok(RoundRecord {
        round_id: RoundId::parse(&row.text(0)?).map_err(|_| invalid("round_id"))?,
        player: PlayerId::parse(&row.text(1)?).map_err(|_| invalid("player_id"))?,
        req_id: ReqId::parse(&row.text(2)?).map_err(|_| invalid("req_id"))?,
        game: row.text(3)?,
        status: RoundStatus::parse(&row.text(4)?).ok_or_else(|| invalid("status"))?,
        bet_minor: row.i64(5)?,
        stake_minor: row.i64(6)?,
        win_minor: row.i64(7)?,
        free_spin: row.i64(8)? != 0,
        multiplier: u32::try_from(row.i64(9)?).map_err(|_| invalid("multiplier"))?,
        balance_after_minor: row.i64(10)?,
        outcome_json: row.opt_text(11)?,
        created_at_ms: row.i64(12)?,
        node: row.opt_text(13)?,
        campaign: row.opt_text(14)?,
    })
}

pub(crate) async fn query_round<T: SqlTx>(
    tx: &mut T,
    where_clause: &str,
    a: &[super::sql::Arg<'_>],
) -> Result<Option<RoundRecord>, LedgerError> {
    let sql = format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE {where_clause}");
    match tx.row(&sql, a).await? {
        Some(row) => Ok(Some(round_from_row(&row)?)),
        None => Ok(None),
    }
}

pub async fn fetch_round<T: SqlTx>(
    tx: &mut T,
    round_id: &RoundId,
) -> Result<Option<RoundRecord>, LedgerError> {
    query_round(tx, "round_id = $1", args![round_id.as_str()]).await
}

pub async fn round_by_req<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    req_id: &ReqId,
) -> Result<Option<RoundRecord>, LedgerError> {
    query_round(
        tx,
        "player_id = $1 AND req_id = $2",
        args![player.as_str(), req_id.as_str()],
    )
    .await
}

pub async fn account<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
) -> Result<Option<Account>, LedgerError> {
    let row = tx
        .row(
            "SELECT currency, balance_minor FROM accounts WHERE player_id = $1",
            args![player.as_str()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let balance_minor = row.i64(1)?;
    if balance_minor < 0 {
        return Err(LedgerError::Invariant(format!(
            "{player} balance {balance_minor} < 0"
        )));
    }
    Ok(Some(Account {
        player: player.clone(),
        currency: row.text(0)?,
        balance_minor,
    }))
}

pub async fn history<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    limit: u32,
) -> Result<Vec<RoundRecord>, LedgerError> {
    let sql = format!(
        "SELECT {ROUND_COLUMNS} FROM rounds WHERE player_id = $1 \
         ORDER BY created_at_ms DESC, round_id DESC LIMIT $2"
    );
    let rows = tx
        .rows(&sql, args![player.as_str(), i64::from(limit)])
        .await?;
    rows.iter().map(round_from_row).collect()
}

/// What the player staked and won in rounds begun since `since_ms` (not voided), and the
/// jackpots won since then: two indexed reads (`rounds_player`; awards are few).
pub async fn session_totals<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    since_ms: i64,
) -> Result<SessionTotals, LedgerError> {
    let rounds = tx
        .row(
            "SELECT CAST(COALESCE(SUM(bet_minor), 0) AS BIGINT), \
             CAST(COALESCE(SUM(win_minor), 0) AS BIGINT) FROM rounds \
             WHERE player_id = $1 AND created_at_ms >= $2 AND status <> 'void'",
            args![player.as_str(), since_ms],
        )
        .await?
        .ok_or_else(|| LedgerError::Invariant("an aggregate returned no row".into()))?;
    let jackpots = tx
        .row(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM jackpot_awards \
             WHERE player_id = $1 AND created_at_ms >= $2",
            args![player.as_str(), since_ms],
        )
        .await?
        .ok_or_else(|| LedgerError::Invariant("an aggregate returned no row".into()))?;
    Ok(SessionTotals {
        staked_minor: rounds.i64(0)?,
        won_minor: rounds.i64(1)? + jackpots.i64(0)?,
    })
}

pub async fn free_spins<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
) -> Result<Vec<FreeSpins>, LedgerError> {
    let rows = tx
        .rows(
            "SELECT game, remaining, bet_minor, multiplier FROM free_spins \
             WHERE player_id = $1 AND remaining > 0 ORDER BY game",
            args![player.as_str()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(FreeSpins {
                game: r.text(0)?,
                remaining: u32::try_from(r.i64(1)?).map_err(|_| invalid("free_spins.remaining"))?,
                bet_minor: r.i64(2)?,
                multiplier: u32::try_from(r.i64(3)?)
                    .map_err(|_| invalid("free_spins.multiplier"))?,
            })
        })
        .collect()
}

pub async fn open_rounds<T: SqlTx>(tx: &mut T) -> Result<Vec<RoundRecord>, LedgerError> {
    let sql = format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE status = 'open' ORDER BY round_id");
    let rows = tx.rows(&sql, args![]).await?;
    rows.iter().map(round_from_row).collect()
}

/// The columns [`entry_from_row`] reads, in its order.
pub const ENTRY_COLUMNS: &str =
    "seq, tx_id, kind, amount_minor, balance_after_minor, round_id, created_at_ms, player_id";

pub fn entry_from_row(r: &Row) -> Result<Entry, LedgerError> {
    Ok(Entry {
        seq: r.i64(0)?,
        tx_id: r.text(1)?,
        kind: EntryKind::parse(&r.text(2)?).ok_or_else(|| invalid("ledger_entries.kind"))?,
        amount_minor: r.i64(3)?,
        balance_after_minor: r.i64(4)?,
        round_id: r.opt_text(5)?,
        created_at_ms: r.i64(6)?,
        player: PlayerId::parse(&r.text(7)?).map_err(|_| invalid("ledger_entries.player_id"))?,
    })
}

pub async fn entries<T: SqlTx>(tx: &mut T, player: &PlayerId) -> Result<Vec<Entry>, LedgerError> {
    let sql =
        format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE player_id = $1 ORDER BY seq");
    let rows = tx.rows(&sql, args![player.as_str()]).await?;
    rows.iter().map(entry_from_row).collect()
}

pub async fn audit<T: SqlTx>(tx: &mut T) -> Result<AuditReport, LedgerError> {
    let mut report = AuditReport::default();
    let sums = tx
        .rows(
            "SELECT a.player_id, a.balance_minor, CAST(COALESCE(SUM(e.amount_minor), 0) AS BIGINT), \
             COUNT(e.seq) FROM accounts a LEFT JOIN ledger_entries e ON e.player_id = a.player_id \
             GROUP BY a.player_id, a.balance_minor",
            args![],
        )
        .await?;
    for r in &sums {
        let (player, balance, sum, count) = (r.text(0)?, r.i64(1)?, r.i64(2)?, r.i64(3)?);
        report.accounts += 1;
        report.entries += count as u64;
        if balance != sum || balance < 0 {
            report.mismatches.push(format!(
                "{player}: balance {balance} but entries sum to {sum}"
            ));
        }
    }
    // Each entry's balance_after must chain: previous balance_after + amount.
    let chain = tx
        .rows(
            "SELECT player_id, tx_id, amount_minor, balance_after_minor FROM ledger_entries \
             ORDER BY player_id, seq",
            args![],
        )
        .await?;
    let mut last: Option<(String, i64)> = None;
    for r in &chain {
        let (player, tx_id, amount, after) = (r.text(0)?, r.text(1)?, r.i64(2)?, r.i64(3)?);
        let before = match &last {
            Some((p, b)) if *p == player => *b,
            _ => 0,
        };
        if before + amount != after {
            report.mismatches.push(format!(
                "{player}: entry {tx_id} moves {amount} from {before} but records {after}"
            ));
        }
        last = Some((player, after));
    }
    let open = tx
        .row("SELECT COUNT(*) FROM rounds WHERE status = 'open'", args![])
        .await?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    report.open_rounds = open as u64;
    report.books = books(tx).await?;
    for b in &report.books {
        if b.expected_balances() != b.balances {
            report.mismatches.push(format!(
                "operator {} {}: deposits {} - withdrawals {} - stakes {} + wins {} + refunds {} \
                 + jackpots {} = {}, but balances sum to {}",
                b.operator.as_deref().unwrap_or("(none)"),
                b.currency,
                b.deposits,
                b.withdrawals,
                b.stakes,
                b.wins,
                b.refunds,
                b.jackpots,
                b.expected_balances(),
                b.balances
            ));
        }
    }
    Ok(report)
}

/// The books of every operator and currency: entries summed by kind, balances summed.
async fn books<T: SqlTx>(tx: &mut T) -> Result<Vec<Books>, LedgerError> {
    let mut books: std::collections::BTreeMap<(Option<String>, String), Books> = Default::default();
    let balances = tx
        .rows(
            "SELECT operator_id, currency, CAST(SUM(balance_minor) AS BIGINT), COUNT(*) \
             FROM accounts GROUP BY operator_id, currency",
            args![],
        )
        .await?;
    for r in &balances {
        let (operator, currency) = (r.opt_text(0)?, r.text(1)?);
        let b = books
            .entry((operator.clone(), currency.clone()))
            .or_default();
        (b.operator, b.currency) = (operator, currency);
        b.balances = r.i64(2)?;
        b.accounts = r.i64(3)? as u64;
    }
    let sums = tx
        .rows(
            "SELECT a.operator_id, a.currency, e.kind, CAST(SUM(e.amount_minor) AS BIGINT) \
             FROM ledger_entries e JOIN accounts a ON a.player_id = e.player_id \
             GROUP BY a.operator_id, a.currency, e.kind",
            args![],
        )
        .await?;
    for r in &sums {
        let key = (r.opt_text(0)?, r.text(1)?);
        let kind = EntryKind::parse(&r.text(2)?).ok_or_else(|| invalid("ledger_entries.kind"))?;
        let sum = r.i64(3)?;
        let Some(b) = books.get_mut(&key) else {
            return Err(LedgerError::Invariant(format!(
                "entries of {key:?} without an account"
            )));
        };
        match kind {
            EntryKind::Deposit => b.deposits = sum,
            EntryKind::Withdrawal => b.withdrawals = -sum,
            EntryKind::Bet => b.stakes = -sum,
            EntryKind::Win => b.wins = sum,
            EntryKind::Refund => b.refunds = sum,
            EntryKind::Jackpot => b.jackpots = sum,
        }
    }
    Ok(books.into_values().collect())
}
