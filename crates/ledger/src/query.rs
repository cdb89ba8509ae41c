//! What the ledger is asked outside a batch of movements, as data: each question a [`Query`]
//! (a read) or a [`Change`] (a write of its own, outside the wallet's batches), each answered
//! by ONE function generic over [`SqlTx`]. A back end only says how to reach a connection and
//! a transaction; what is asked and how it is answered is written here once.

use super::chain_sql;
use super::exclusion::{Exclusion, ExclusionReason};
use super::exclusion_sql;
use super::fair::FairSeed;
use super::fair_sql;
use super::free_rounds_sql;
use super::harm_sql;
use super::jackpot_sql;
use super::ledger::FairRound;
use super::ledger::{
    Account, AuditReport, ChainHeads, Entry, FreeRoundEvent, FreeRounds, FreeSpins, HarmFlagRecord,
    HeadsScope, JackpotWin, LedgerError, PoolSpec, PoolState, ReconcileReport, RoundRecall,
    RoundRecord, SessionTotals, StatementPage,
};
use super::ledger_sql;
use super::limits::{LimitKey, LimitsReport, PlayerLimit};
use super::limits_sql;
use super::read_sql;
use super::recall_sql;
use super::sql::SqlTx;
use crate::ids::{CampaignId, PlayerId, ReqId, RoundId};

/// A read: runs on a read connection (SQLite: beside the writer; PostgreSQL: from the pool).
#[derive(Debug, Clone)]
pub enum Query {
    Account(PlayerId),
    Round(RoundId),
    RoundByReq(PlayerId, ReqId),
    History(PlayerId, u32),
    FreeSpins(PlayerId),
    OpenRounds,
    Entries(PlayerId),
    Audit,
    /// Chains' heads: all, or a page of an operator's players.
    ChainHeads(HeadsScope),
    /// A checkpoint to check against the chains.
    CheckHeads(ChainHeads),
    /// The digest of every chain's head, read a page at a time (bounded memory).
    HeadsDigest,
    Pools,
    JackpotWins(RoundId),
    Reconcile,
    Statement {
        player: PlayerId,
        span_ms: (i64, i64),
        after_seq: i64,
        limit: u32,
    },
    Recall(RoundId),
    FreeRounds {
        player: PlayerId,
        playable_at: Option<i64>,
    },
    FreeRoundEvents(PlayerId, CampaignId),
    /// A player's provably fair seed in force.
    FairSeed(PlayerId),
    /// A fair round with its nonce and seed.
    FairRound(RoundId),
    /// A player's exclusion row.
    Exclusion(PlayerId),
    /// A player's harm flags, newest first.
    HarmFlags(PlayerId),
    /// What a player staked and won in rounds begun since `since_ms`.
    SessionTotals {
        player: PlayerId,
        since_ms: i64,
    },
    /// A player's limits and what each window has used at `now_ms`.
    Limits {
        player: PlayerId,
        now_ms: i64,
    },
}

/// A write outside the movement batches, in a transaction of its own: rare (a table changing
/// hands, start-up), so it does not queue behind the wallet's group commits.
#[derive(Debug, Clone)]
pub enum Change {
    NextFence(String),
    EnsurePools(Vec<PoolSpec>),
    /// Closes free-rounds grants whose expiry has passed (a bounded batch).
    ExpireFreeRounds,
    /// Excludes a player (never shortening an exclusion in force).
    Exclude {
        player: PlayerId,
        until_ms: Option<i64>,
        reason: ExclusionReason,
    },
    /// Sets one limit of a player (a looser one waits `cooling_off_ms`).
    SetLimit {
        player: PlayerId,
        key: LimitKey,
        amount: Option<i64>,
        cooling_off_ms: i64,
    },
    /// Drops limited players' activity older than the longest window.
    PruneActivity,
    /// Records a harm flag (once per session and rule).
    RaiseHarmFlag(HarmFlagRecord),
}

/// What a [`Query`] or a [`Change`] answered; the variant follows from the question.
#[derive(Debug)]
pub enum Answer {
    Account(Option<Account>),
    Round(Option<RoundRecord>),
    Rounds(Vec<RoundRecord>),
    FreeSpins(Vec<FreeSpins>),
    Entries(Vec<Entry>),
    Audit(AuditReport),
    ChainHeads(ChainHeads),
    /// What does not hold, one line each.
    Problems(Vec<String>),
    /// A digest of heads, how many chains and links it covers.
    HeadsDigest(String, u64, i64),
    Pools(Vec<PoolState>),
    JackpotWins(Vec<JackpotWin>),
    Reconcile(ReconcileReport),
    Statement(StatementPage),
    Recall(Option<RoundRecall>),
    Fence(i64),
    FreeRounds(Vec<FreeRounds>),
    FreeRoundEvents(Vec<FreeRoundEvent>),
    FairSeed(Option<FairSeed>),
    FairRound(Option<FairRound>),
    Count(u64),
    Exclusion(Option<Exclusion>),
    Limits(LimitsReport),
    SessionTotals(SessionTotals),
    HarmFlags(Vec<HarmFlagRecord>),
    /// Whether a write made something new.
    New(bool),
    /// A limit as it stands after a change; `None`: no such account.
    Limit(Option<PlayerLimit>),
    Done,
}

impl Query {
    /// Reads that must see one consistent state across their statements (a chain's head and
    /// its links): run inside a read transaction.
    pub(crate) fn needs_snapshot(&self) -> bool {
        matches!(
            self,
            Query::Audit | Query::ChainHeads(_) | Query::CheckHeads(_)
        )
    }

    pub(crate) async fn run<T: SqlTx>(self, tx: &mut T) -> Result<Answer, LedgerError> {
        Ok(match self {
            Query::Account(p) => Answer::Account(read_sql::account(tx, &p).await?),
            Query::Round(r) => Answer::Round(read_sql::fetch_round(tx, &r).await?),
            Query::RoundByReq(p, r) => Answer::Round(read_sql::round_by_req(tx, &p, &r).await?),
            Query::History(p, limit) => Answer::Rounds(read_sql::history(tx, &p, limit).await?),
            Query::FreeSpins(p) => Answer::FreeSpins(read_sql::free_spins(tx, &p).await?),
            Query::OpenRounds => Answer::Rounds(read_sql::open_rounds(tx).await?),
            Query::Entries(p) => Answer::Entries(read_sql::entries(tx, &p).await?),
            Query::Audit => {
                let mut report = read_sql::audit(tx).await?;
                let (grants, mismatches) = free_rounds_sql::audit(tx).await?;
                report.free_round_grants = grants;
                report.mismatches.extend(mismatches);
                report.chain = chain_sql::audit(tx).await?;
                report
                    .mismatches
                    .extend(report.chain.breaks.iter().cloned());
                Answer::Audit(report)
            }
            Query::ChainHeads(scope) => {
                let now = crate::clock::now_ms();
                Answer::ChainHeads(chain_sql::heads(tx, &scope, now).await?)
            }
            Query::CheckHeads(heads) => Answer::Problems(chain_sql::check_heads(tx, &heads).await?),
            Query::HeadsDigest => {
                let (digest, chains, links) = chain_sql::all_heads_digest(tx).await?;
                Answer::HeadsDigest(digest.to_hex(), chains, links)
            }
            Query::Pools => Answer::Pools(jackpot_sql::pools(tx).await?),
            Query::JackpotWins(r) => {
                Answer::JackpotWins(jackpot_sql::wins_for_round(tx, &r).await?)
            }
            Query::Reconcile => Answer::Reconcile(jackpot_sql::reconcile(tx).await?),
            Query::Statement {
                player,
                span_ms,
                after_seq,
                limit,
            } => Answer::Statement(
                recall_sql::statement(tx, &player, span_ms, after_seq, limit).await?,
            ),
            Query::Recall(r) => Answer::Recall(recall_sql::recall(tx, &r).await?),
            Query::FreeRounds {
                player,
                playable_at,
            } => Answer::FreeRounds(free_rounds_sql::list(tx, &player, playable_at).await?),
            Query::FreeRoundEvents(p, c) => {
                Answer::FreeRoundEvents(free_rounds_sql::events(tx, &p, &c).await?)
            }
            Query::FairSeed(p) => Answer::FairSeed(fair_sql::seed_in_force(tx, &p).await?),
            Query::FairRound(r) => Answer::FairRound(fair_sql::fair_round(tx, &r).await?),
            Query::Exclusion(p) => Answer::Exclusion(exclusion_sql::exclusion(tx, &p).await?),
            Query::HarmFlags(p) => Answer::HarmFlags(harm_sql::flags(tx, &p).await?),
            Query::SessionTotals { player, since_ms } => {
                Answer::SessionTotals(read_sql::session_totals(tx, &player, since_ms).await?)
            }
            Query::Limits { player, now_ms } => Answer::Limits(LimitsReport {
                limits: limits_sql::limits(tx, &player).await?,
                usage: limits_sql::usage(tx, &player, now_ms).await?,
                at_ms: now_ms,
            }),
        })
    }
}

impl Change {
    /// Runs inside the back end's transaction; `now` in ms since the epoch.
    pub(crate) async fn run<T: SqlTx>(self, tx: &mut T, now: i64) -> Result<Answer, LedgerError> {
        Ok(match self {
            Change::NextFence(table) => {
                Answer::Fence(ledger_sql::next_fence(tx, &table, now).await?)
            }
            Change::EnsurePools(specs) => {
                jackpot_sql::ensure_pools(tx, &specs, now).await?;
                Answer::Done
            }
            Change::ExpireFreeRounds => Answer::Count(free_rounds_sql::expire(tx, now).await?),
            Change::Exclude {
                player,
                until_ms,
                reason,
            } => Answer::Exclusion(Some(
                exclusion_sql::exclude(tx, &player, until_ms, reason, now).await?,
            )),
            Change::SetLimit {
                player,
                key,
                amount,
                cooling_off_ms,
            } => Answer::Limit(
                limits_sql::set_limit(tx, &player, key, amount, now, cooling_off_ms).await?,
            ),
            Change::PruneActivity => Answer::Count(limits_sql::prune(tx, now).await?),
            Change::RaiseHarmFlag(flag) => Answer::New(harm_sql::raise(tx, &flag).await?),
        })
    }
}
