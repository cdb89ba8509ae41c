//! Jackpot pools in the ledger database: contributions folded per wallet batch, exactly-once
//! claims, pool reads and reconciliation. Runs inside the ledger's transactions, so a bet's
//! contribution commits with its debit and a win's reset commits with the player's credit.
//!
//! Hot path: a batch keeps each touched level in memory (one read per level per batch), adds
//! its bets' contributions there, and writes each level once when the batch commits (one
//! UPDATE and one or two aggregated entries), not one write per spin per level.

use std::collections::HashMap;

use super::chain::{ChainKey, LinkTable};
use super::chain_sql;
use super::ledger::{
    ClaimReason, JackpotClaim, JackpotFeed, JackpotWin, LedgerError, LevelSeen, PoolSpec,
    PoolState, ReconcileReport,
};
use super::sql::{args, Arg, SqlTx};
use crate::ids::{PlayerId, RoundId};
use crate::jackpot::math::{payout_split, seed_funding, MICRO_PER_MINOR};

type Key = (String, String);

/// Reads a level for its claim, locking its row where the database can (PostgreSQL).
const LOCK_LEVEL: &str = "SELECT cycle, value_micro, reserve_micro, seed_micro FROM jackpot_pools \
     WHERE pool_id = $1 AND level = $2";

#[derive(Debug, Default)]
struct Level {
    cycle: i64,
    value_micro: i64,
    /// Not yet written: contributions and reserve shares of this batch, and how many bets.
    pending_contribution: i64,
    pending_reserve: i64,
    pending_bets: i64,
}

/// The jackpot side of one ledger transaction.
#[derive(Debug, Default)]
pub struct JackpotBatch {
    levels: HashMap<Key, Level>,
    /// Distinguishes this batch's aggregated entries (their tx ids must be unique).
    batch_id: Option<String>,
    /// Flushes so far in this batch: a level may be flushed twice in one cycle (a claim
    /// flushes it first, and a ceiling claim that lapses leaves the cycle running), so each
    /// flush's entries carry their own number.
    flushes: u64,
}

async fn level_of<T: SqlTx>(
    tx: &mut T,
    levels: &mut HashMap<Key, Level>,
    pool: &str,
    level: &str,
) -> Result<(), LedgerError> {
    let key = (pool.to_string(), level.to_string());
    if levels.contains_key(&key) {
        return Ok(());
    }
    // The batch's first touch of this pool reads all its levels and, on PostgreSQL, locks them
    // in level order until commit: batches sharing a pool queue here instead of deadlocking.
    let sql = format!(
        "SELECT level, cycle, value_micro, chain_seq, chain_head FROM jackpot_pools \
         WHERE pool_id = $1 ORDER BY level{}",
        tx.lock_rows()
    );
    for row in tx.rows(&sql, args![pool]).await? {
        let state = Level {
            cycle: row.i64(1)?,
            value_micro: row.i64(2)?,
            ..Level::default()
        };
        let key = ChainKey::Pool(pool.to_string(), row.text(0)?);
        chain_sql::preload(tx, key, row.i64(3)?, &row.text(4)?)?;
        levels
            .entry((pool.to_string(), row.text(0)?))
            .or_insert(state);
    }
    if !levels.contains_key(&key) {
        return Err(LedgerError::Invariant(format!(
            "jackpot level {pool}/{level} is not in the ledger (ensure_pools not run?)"
        )));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_entry<T: SqlTx>(
    tx: &mut T,
    tx_id: &str,
    (pool, level): (&str, &str),
    cycle: i64,
    kind: &str,
    amount_micro: i64,
    bets: i64,
    round: Option<(&RoundId, &PlayerId)>,
    now: i64,
) -> Result<(), LedgerError> {
    if amount_micro < 0 {
        return Err(LedgerError::Invariant(format!(
            "jackpot entry {tx_id}: negative {kind} {amount_micro}"
        )));
    }
    // The link covers exactly these values, in `chain::POOL_FIELDS` order.
    let fields = args![
        tx_id,
        pool,
        level,
        cycle,
        kind,
        amount_micro,
        bets,
        round.map(|(r, _)| r.as_str()),
        round.map(|(_, p)| p.as_str()),
        now
    ];
    let key = ChainKey::Pool(pool.to_string(), level.to_string());
    let link = chain_sql::append(tx, &key, LinkTable::Pool, fields).await?;
    let hash = link.hash.to_hex();
    let mut all = fields.to_vec();
    all.extend([Arg::I64(link.links), Arg::Str(&hash)]);
    tx.exec(
        "INSERT INTO jackpot_entries (tx_id, pool_id, level, cycle, kind, amount_micro, bets, \
         round_id, player_id, created_at_ms, chain_seq, chain_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &all,
    )
    .await?;
    Ok(())
}

impl JackpotBatch {
    /// Adds one paid bet's shares to its pool's levels (in memory until [`Self::flush`]).
    /// Returns the total taken from the bet and each level as the bet left it.
    pub async fn contribute<T: SqlTx>(
        &mut self,
        tx: &mut T,
        feed: &JackpotFeed,
        debit_minor: i64,
    ) -> Result<(i64, Vec<LevelSeen>), LedgerError> {
        let mut taken = 0i64;
        let mut seen = Vec::with_capacity(feed.levels.len());
        for l in &feed.levels {
            level_of(tx, &mut self.levels, &feed.pool, &l.level).await?;
            let contribution = debit_minor.saturating_mul(l.contribution_ppm);
            let reserve = debit_minor.saturating_mul(l.reserve_ppm);
            let state = self
                .levels
                .get_mut(&(feed.pool.clone(), l.level.clone()))
                .ok_or_else(|| LedgerError::Invariant("jackpot level vanished".into()))?;
            state.value_micro += contribution;
            state.pending_contribution += contribution;
            state.pending_reserve += reserve;
            state.pending_bets += 1;
            taken += contribution + reserve;
            seen.push(LevelSeen {
                level: l.level.clone(),
                cycle: state.cycle,
                value_micro: state.value_micro,
                contribution_micro: contribution,
            });
        }
        Ok((taken, seen))
    }

    /// Writes one level's pending contributions: one UPDATE, one entry per kind.
    async fn flush_level<T: SqlTx>(
        &mut self,
        tx: &mut T,
        key: &Key,
        now: i64,
    ) -> Result<(), LedgerError> {
        let Some(state) = self.levels.get_mut(key) else {
            return Ok(());
        };
        if state.pending_bets == 0 {
            return Ok(());
        }
        let (contribution, reserve, bets) = (
            state.pending_contribution,
            state.pending_reserve,
            state.pending_bets,
        );
        state.pending_contribution = 0;
        state.pending_reserve = 0;
        state.pending_bets = 0;
        let cycle = state.cycle;
        let batch = self
            .batch_id
            .get_or_insert_with(|| RoundId::new_v7().to_string())
            .clone();
        self.flushes += 1;
        let flush = self.flushes;
        let at = (key.0.as_str(), key.1.as_str());
        // The entries first (each a link of the level's chain), then the level's row, which
        // takes the chain's new head in the same statement.
        for (kind, amount) in [("contribution", contribution), ("reserve", reserve)] {
            if amount > 0 {
                let tx_id = format!("jp:{batch}:{flush}:{}:{}:{cycle}:{kind}", key.0, key.1);
                insert_entry(tx, &tx_id, at, cycle, kind, amount, bets, None, now).await?;
            }
        }
        let chain = ChainKey::Pool(key.0.clone(), key.1.clone());
        let (was, head) = tx.chains().cursor(&chain).ok_or_else(|| {
            LedgerError::Invariant(format!("{chain}: head not loaded before its flush"))
        })?;
        let hash = head.hash.to_hex();
        let updated = tx
            .exec(
                "UPDATE jackpot_pools SET value_micro = value_micro + $1, \
                 reserve_micro = reserve_micro + $2, updated_at_ms = $3, chain_seq = $4, \
                 chain_head = $5 WHERE pool_id = $6 AND level = $7 AND cycle = $8 \
                 AND chain_seq = $9",
                args![
                    contribution,
                    reserve,
                    now,
                    head.links,
                    hash.as_str(),
                    &key.0,
                    &key.1,
                    cycle,
                    was.links
                ],
            )
            .await?;
        if updated != 1 {
            return Err(LedgerError::Invariant(format!(
                "jackpot level {}/{} left cycle {cycle} (or its chain moved) inside a batch",
                key.0, key.1
            )));
        }
        tx.chains().written(&chain);
        Ok(())
    }

    /// Writes every level's pending contributions; run last before the transaction commits,
    /// in a fixed order (by pool and level), so concurrent batches lock pool rows alike.
    pub async fn flush<T: SqlTx>(&mut self, tx: &mut T, now: i64) -> Result<(), LedgerError> {
        let mut keys: Vec<Key> = self.levels.keys().cloned().collect();
        keys.sort();
        for key in keys {
            self.flush_level(tx, &key, now).await?;
        }
        Ok(())
    }

    /// Claims a level for a round, exactly once per `(pool, level, cycle)`: the level resets
    /// to its seed (plus the carry below one minor unit) in the statement that checks the
    /// cycle, and the award is keyed by that cycle. If the claimed cycle was already won, a
    /// trigger or mystery claim takes the cycle now running (docs/games.md: the second winner
    /// gets the fresh seed); a ceiling claim lapses (`None`): the ceiling was reached by the
    /// cycle it saw, which is paid, and the fresh cycle has not reached it.
    pub async fn claim<T: SqlTx>(
        &mut self,
        tx: &mut T,
        claim: &JackpotClaim,
        round_id: &RoundId,
        player: &PlayerId,
        now: i64,
    ) -> Result<Option<JackpotWin>, LedgerError> {
        let key = (claim.pool.clone(), claim.level.clone());
        level_of(tx, &mut self.levels, &claim.pool, &claim.level).await?;
        self.flush_level(tx, &key, now).await?;
        // FOR UPDATE: on PostgreSQL the level stays locked until this transaction commits, so
        // no other node's claim reads it in between (SQLite has one writer and ignores it).
        let lock = format!("{LOCK_LEVEL}{}", tx.lock_rows());
        let row = tx
            .row(&lock, args![&claim.pool, &claim.level])
            .await?
            .ok_or_else(|| {
                LedgerError::Invariant(format!("jackpot {}/{} vanished", claim.pool, claim.level))
            })?;
        let (cycle, value, reserve, seed) = (row.i64(0)?, row.i64(1)?, row.i64(2)?, row.i64(3)?);
        if claim.reason == ClaimReason::Ceiling && cycle != claim.cycle {
            // Every bet between the one that crossed the ceiling and its settlement saw the
            // level past it; only the cycle they saw drops, once.
            tracing::debug!(
                pool = %claim.pool, level = %claim.level, claimed = claim.cycle, cycle,
                "ceiling claim lapsed: its cycle was already won"
            );
            return Ok(None);
        }
        let (paid_minor, carry) = payout_split(value);
        let (from_reserve, from_house) = seed_funding(seed, reserve);
        let next_value = carry + seed;
        let reset = tx
            .exec(
                "UPDATE jackpot_pools SET cycle = cycle + 1, value_micro = $1, \
                 reserve_micro = reserve_micro - $2, last_won_at_ms = $3, updated_at_ms = $3 \
                 WHERE pool_id = $4 AND level = $5 AND cycle = $6 AND value_micro = $7",
                args![
                    next_value,
                    from_reserve,
                    now,
                    &claim.pool,
                    &claim.level,
                    cycle,
                    value
                ],
            )
            .await?;
        if reset != 1 {
            return Err(LedgerError::Invariant(format!(
                "jackpot {}/{} cycle {cycle} changed under its claim",
                claim.pool, claim.level
            )));
        }
        tx.exec(
            "INSERT INTO jackpot_awards (pool_id, level, cycle, round_id, player_id, \
             amount_minor, reason, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![
                &claim.pool,
                &claim.level,
                cycle,
                round_id.as_str(),
                player.as_str(),
                paid_minor,
                claim.reason.as_str(),
                now
            ],
        )
        .await?;
        let at = (claim.pool.as_str(), claim.level.as_str());
        let payout_tx = format!("{}:jackpot:{}:{}", round_id, claim.pool, claim.level);
        let round = Some((round_id, player));
        insert_entry(
            tx,
            &payout_tx,
            at,
            cycle,
            "payout",
            paid_minor * MICRO_PER_MINOR,
            0,
            round,
            now,
        )
        .await?;
        let next = cycle + 1;
        let seed_tx = format!("jp:{}:{}:{next}:seed", claim.pool, claim.level);
        insert_entry(tx, &seed_tx, at, next, "seed", seed, 0, round, now).await?;
        if from_reserve > 0 {
            let tx_id = format!("jp:{}:{}:{next}:reserve_to_seed", claim.pool, claim.level);
            insert_entry(
                tx,
                &tx_id,
                at,
                next,
                "reserve_to_seed",
                from_reserve,
                0,
                round,
                now,
            )
            .await?;
        }
        tracing::info!(
            pool = %claim.pool, level = %claim.level, cycle, paid_minor, from_house,
            reason = claim.reason.as_str(), "jackpot won"
        );
        if let Some(state) = self.levels.get_mut(&key) {
            state.cycle = next;
            state.value_micro = next_value;
        }
        Ok(Some(JackpotWin {
            pool: claim.pool.clone(),
            level: claim.level.clone(),
            cycle,
            amount_minor: paid_minor,
            reason: claim.reason,
        }))
    }
}

/// Creates missing levels at their seed, cycle 1 (seed entry from the house); updates the seed
/// an existing level restarts at.
pub async fn ensure_pools<T: SqlTx>(
    tx: &mut T,
    specs: &[PoolSpec],
    now: i64,
) -> Result<(), LedgerError> {
    for s in specs {
        let created = tx
            .exec(
                "INSERT INTO jackpot_pools (pool_id, level, currency, cycle, value_micro, \
                 reserve_micro, seed_micro, last_won_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, 1, $4, 0, $4, NULL, $5) ON CONFLICT (pool_id, level) DO NOTHING",
                args![&s.pool, &s.level, &s.currency, s.seed_micro, now],
            )
            .await?;
        if created == 1 {
            let tx_id = format!("jp:{}:{}:1:seed", s.pool, s.level);
            let at = (s.pool.as_str(), s.level.as_str());
            insert_entry(tx, &tx_id, at, 1, "seed", s.seed_micro, 0, None, now).await?;
        } else {
            let currency = tx
                .row(
                    "SELECT currency FROM jackpot_pools WHERE pool_id = $1 AND level = $2",
                    args![&s.pool, &s.level],
                )
                .await?
                .map(|r| r.text(0))
                .transpose()?
                .unwrap_or_default();
            if currency != s.currency {
                return Err(LedgerError::Invariant(format!(
                    "jackpot {}/{} is in {currency} in the ledger, {} in the config",
                    s.pool, s.level, s.currency
                )));
            }
            tx.exec(
                "UPDATE jackpot_pools SET seed_micro = $1 WHERE pool_id = $2 AND level = $3",
                args![s.seed_micro, &s.pool, &s.level],
            )
            .await?;
        }
    }
    Ok(())
}

pub async fn pools<T: SqlTx>(tx: &mut T) -> Result<Vec<PoolState>, LedgerError> {
    let rows = tx
        .rows(
            "SELECT pool_id, level, currency, cycle, value_micro, reserve_micro, seed_micro, \
             last_won_at_ms FROM jackpot_pools ORDER BY pool_id, seed_micro",
            args![],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let state = PoolState {
            pool: r.text(0)?,
            level: r.text(1)?,
            currency: r.text(2)?,
            cycle: r.i64(3)?,
            value_micro: r.i64(4)?,
            reserve_micro: r.i64(5)?,
            seed_micro: r.i64(6)?,
            last_won_at_ms: r.opt_i64(7)?,
        };
        if state.value_micro < 0 || state.reserve_micro < 0 || state.cycle < 1 {
            return Err(LedgerError::Invariant(format!(
                "jackpot {}/{} read back out of range",
                state.pool, state.level
            )));
        }
        out.push(state);
    }
    Ok(out)
}

fn parse_reason(text: &str) -> Result<ClaimReason, LedgerError> {
    Ok(match text {
        "trigger" => ClaimReason::Trigger,
        "mystery" => ClaimReason::Mystery,
        "ceiling" => ClaimReason::Ceiling,
        other => return Err(LedgerError::Invariant(format!("award reason {other:?}"))),
    })
}

pub async fn wins_for_round<T: SqlTx>(
    tx: &mut T,
    round_id: &RoundId,
) -> Result<Vec<JackpotWin>, LedgerError> {
    let rows = tx
        .rows(
            "SELECT pool_id, level, cycle, amount_minor, reason FROM jackpot_awards \
             WHERE round_id = $1 ORDER BY level",
            args![round_id.as_str()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(JackpotWin {
                pool: r.text(0)?,
                level: r.text(1)?,
                cycle: r.i64(2)?,
                amount_minor: r.i64(3)?,
                reason: parse_reason(&r.text(4)?)?,
            })
        })
        .collect()
}

/// Recomputes every level from its entries: value = seeds + contributions − payouts, reserve
/// = reserve shares − reserve used for seeds; the bets' recorded shares equal the entries;
/// every award has its payout entry and its player's credit.
pub async fn reconcile<T: SqlTx>(tx: &mut T) -> Result<ReconcileReport, LedgerError> {
    let mut report = ReconcileReport::default();
    for state in pools(tx).await? {
        report.pools += 1;
        let sums = tx
            .rows(
                "SELECT kind, CAST(COALESCE(SUM(amount_micro), 0) AS BIGINT) FROM jackpot_entries \
                 WHERE pool_id = $1 AND level = $2 GROUP BY kind",
                args![&state.pool, &state.level],
            )
            .await?;
        let mut sum = std::collections::HashMap::new();
        for r in &sums {
            sum.insert(r.text(0)?, r.i64(1)?);
        }
        let of = |kind: &str| sum.get(kind).copied().unwrap_or(0);
        let (seeds, contributions, payouts) = (of("seed"), of("contribution"), of("payout"));
        let (reserve_in, reserve_out) = (of("reserve"), of("reserve_to_seed"));
        report.seeds_micro += seeds;
        report.contributions_micro += contributions;
        report.payouts_micro += payouts;
        let expected = seeds + contributions - payouts;
        if expected != state.value_micro {
            report.mismatches.push(format!(
                "{}/{}: value {} but seeds {seeds} + contributions {contributions} - payouts {payouts} = {expected}",
                state.pool, state.level, state.value_micro
            ));
        }
        if reserve_in - reserve_out != state.reserve_micro {
            report.mismatches.push(format!(
                "{}/{}: reserve {} but {reserve_in} saved - {reserve_out} used",
                state.pool, state.level, state.reserve_micro
            ));
        }
    }
    let by_pool = tx
        .rows(
            "SELECT p.pool_id, \
               (SELECT CAST(COALESCE(SUM(jackpot_micro), 0) AS BIGINT) FROM rounds r \
                  WHERE r.jackpot_pool = p.pool_id), \
               (SELECT CAST(COALESCE(SUM(amount_micro), 0) AS BIGINT) FROM jackpot_entries e \
                  WHERE e.pool_id = p.pool_id AND e.kind IN ('contribution', 'reserve')) \
             FROM (SELECT DISTINCT pool_id FROM jackpot_pools) p",
            args![],
        )
        .await?;
    for r in &by_pool {
        let (pool, from_rounds, from_entries) = (r.text(0)?, r.i64(1)?, r.i64(2)?);
        if from_rounds != from_entries {
            report.mismatches.push(format!(
                "{pool}: bets record {from_rounds} micro-units for the pool, its entries {from_entries}"
            ));
        }
    }
    let awards = tx
        .rows(
            "SELECT pool_id, level, cycle, round_id, player_id, amount_minor FROM jackpot_awards",
            args![],
        )
        .await?;
    for r in &awards {
        let (pool, level, cycle) = (r.text(0)?, r.text(1)?, r.i64(2)?);
        let (round, player, amount) = (r.text(3)?, r.text(4)?, r.i64(5)?);
        report.awards += 1;
        let payout_tx = format!("{round}:jackpot:{pool}:{level}");
        let payout = tx
            .row(
                "SELECT amount_micro FROM jackpot_entries WHERE tx_id = $1",
                args![payout_tx.as_str()],
            )
            .await?
            .map(|r| r.i64(0))
            .transpose()?;
        if payout != Some(amount * MICRO_PER_MINOR) {
            report.mismatches.push(format!(
                "award {pool}/{level} cycle {cycle}: payout entry {payout:?}, award {amount}"
            ));
        }
        if amount > 0 {
            let credit = tx
                .row(
                    "SELECT amount_minor, player_id FROM ledger_entries \
                     WHERE tx_id = $1 AND kind = 'jackpot'",
                    args![payout_tx.as_str()],
                )
                .await?
                .map(|r| Ok::<_, LedgerError>((r.i64(0)?, r.text(1)?)))
                .transpose()?;
            if credit != Some((amount, player.clone())) {
                report.mismatches.push(format!(
                    "award {pool}/{level} cycle {cycle}: credit {credit:?}, award {amount} to {player}"
                ));
            }
        }
    }
    Ok(report)
}
