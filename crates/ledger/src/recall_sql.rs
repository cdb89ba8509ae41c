//! What an operator reads back for a complaint or a regulator: a player's statement (every
//! ledger entry between two times, in the ledger's own order, a page at a time) and the whole
//! record of one round (the round, its entries, its jackpot share and awards).

use super::jackpot_sql::wins_for_round;
use super::ledger::{Entry, LedgerError, LevelDraw, RoundRecall, StatementLine, StatementPage};
use super::read_sql::{entry_from_row, fetch_round, ENTRY_COLUMNS};
use super::sql::{args, SqlTx};
use crate::ids::{PlayerId, RoundId};

/// Most lines one statement page may ask for.
pub const MAX_STATEMENT_PAGE: u32 = 500;

/// The player's entries with `from_ms <= created_at_ms < to_ms` and `seq > after_seq`, in
/// `seq` order (the order they were written, which never changes), at most `limit`, each with
/// its round's game and status. `next_after` is the cursor of the next page, if any.
pub async fn statement<T: SqlTx>(
    tx: &mut T,
    player: &PlayerId,
    (from_ms, to_ms): (i64, i64),
    after_seq: i64,
    limit: u32,
) -> Result<StatementPage, LedgerError> {
    let limit = limit.clamp(1, MAX_STATEMENT_PAGE);
    let columns = ENTRY_COLUMNS
        .split(", ")
        .map(|c| format!("e.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns}, r.game, r.status, r.campaign_id FROM ledger_entries e \
         LEFT JOIN rounds r ON r.round_id = e.round_id \
         WHERE e.player_id = $1 AND e.seq > $2 AND e.created_at_ms >= $3 AND e.created_at_ms < $4 \
         ORDER BY e.seq LIMIT $5"
    );
    // One more than asked says whether a next page exists.
    let rows = tx
        .rows(
            &sql,
            args![
                player.as_str(),
                after_seq,
                from_ms,
                to_ms,
                i64::from(limit) + 1
            ],
        )
        .await?;
    let mut lines = Vec::with_capacity(rows.len());
    for r in rows.iter().take(limit as usize) {
        lines.push(StatementLine {
            entry: entry_from_row(r)?,
            game: r.opt_text(8)?,
            round_status: r.opt_text(9)?,
            campaign: r.opt_text(10)?,
        });
    }
    let next_after = (rows.len() > limit as usize)
        .then(|| lines.last().map(|l| l.entry.seq))
        .flatten();
    Ok(StatementPage { lines, next_after })
}

/// Everything the ledger holds about one round.
pub async fn recall<T: SqlTx>(
    tx: &mut T,
    round_id: &RoundId,
) -> Result<Option<RoundRecall>, LedgerError> {
    let Some(round) = fetch_round(tx, round_id).await? else {
        return Ok(None);
    };
    let extra = tx
        .row(
            "SELECT settled_at_ms, jackpot_pool, jackpot_micro, jackpot_draws FROM rounds \
             WHERE round_id = $1",
            args![round_id.as_str()],
        )
        .await?;
    let (settled_at_ms, jackpot_pool, jackpot_micro, draws) = match extra {
        Some(r) => (r.opt_i64(0)?, r.opt_text(1)?, r.i64(2)?, r.opt_text(3)?),
        None => (None, None, 0, None),
    };
    let jackpot_draws: Vec<LevelDraw> = match draws {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| LedgerError::Invariant(format!("round {round_id}: jackpot draws: {e}")))?,
        None => Vec::new(),
    };
    // A round's entries are `<round>:bet`, `:win`, `:refund`, `:jackpot:<level>`: a range of
    // the unique transaction-id index (';' sorts right after ':'), no index of its own.
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE tx_id >= $1 AND tx_id < $2 ORDER BY seq"
    );
    let (low, high) = (format!("{round_id}:"), format!("{round_id};"));
    let entries: Vec<Entry> = tx
        .rows(&sql, args![low.as_str(), high.as_str()])
        .await?
        .iter()
        .map(entry_from_row)
        .collect::<Result<_, _>>()?;
    let awards = wins_for_round(tx, round_id).await?;
    Ok(Some(RoundRecall {
        round,
        settled_at_ms,
        jackpot_pool,
        jackpot_micro,
        jackpot_draws,
        entries,
        awards,
    }))
}
