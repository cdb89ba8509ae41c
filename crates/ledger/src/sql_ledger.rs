//! [`SqlLedger`]: the one [`Ledger`], generic over the database it runs on. It turns each
//! question into a [`Query`] or a [`Change`] and each batch into one commit; the [`Backend`]
//! (SQLite in `sqlite`, PostgreSQL in `postgres`) only says how a batch is committed and where a
//! query runs. Nothing here knows which database it talks to.

use async_trait::async_trait;

use super::fair::FairSeed;
use super::ledger::FairRound;
use super::ledger::{
    Account, Applied, AuditReport, ChainHeads, Entry, FreeRoundEvent, FreeRounds, FreeSpins,
    HeadsScope, JackpotWin, Ledger, LedgerError, Movement, MovementError, PoolSpec, PoolState,
    ReconcileReport, RoundRecall, RoundRecord, StatementPage,
};
use super::query::{Answer, Change, Query};
use crate::ids::{CampaignId, PlayerId, ReqId, RoundId};

/// Each movement's result, in the batch's order.
pub type BatchResult = Result<Vec<Result<Applied, MovementError>>, LedgerError>;

/// How one database commits a batch and answers a question. Implemented by the two back ends
/// of this crate only.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Applies the movements in order in ONE transaction (`apply_sql::apply` each, then the
    /// jackpot contributions folded once).
    /// The batch is borrowed: a back end that must own it (SQLite's writer thread) copies it.
    async fn commit(&self, batch: &[Movement]) -> BatchResult;
    /// Runs a read on a read connection.
    async fn read(&self, query: Query) -> Result<Answer, LedgerError>;
    /// Runs a write in a transaction of its own.
    async fn change(&self, change: Change) -> Result<Answer, LedgerError>;
    /// See [`Ledger::batches_in_flight`].
    fn batches_in_flight(&self) -> usize {
        1
    }
}

/// The ledger over back end `B`; see [`crate::SqliteLedger`] and [`crate::PgLedger`].
pub struct SqlLedger<B> {
    backend: B,
}

impl<B: Backend> SqlLedger<B> {
    pub(crate) fn new(backend: B) -> Self {
        Self { backend }
    }

    #[cfg(test)]
    pub(crate) fn backend(&self) -> &B {
        &self.backend
    }
}

fn unexpected(asked: &str, answer: &Answer) -> LedgerError {
    LedgerError::Invariant(format!("{asked} answered {answer:?}"))
}

/// `answer!(self.backend.read(q), Variant)`: the value of the expected answer, else an
/// invariant error naming what came back.
macro_rules! answer {
    ($call:expr, $variant:ident) => {
        match $call.await? {
            Answer::$variant(value) => Ok(value),
            other => Err(unexpected(stringify!($variant), &other)),
        }
    };
}

#[async_trait]
impl<B: Backend> Ledger for SqlLedger<B> {
    fn batches_in_flight(&self) -> usize {
        self.backend.batches_in_flight()
    }

    async fn next_fence(&self, table: &str) -> Result<i64, LedgerError> {
        answer!(
            self.backend.change(Change::NextFence(table.to_string())),
            Fence
        )
    }

    async fn ensure_account(
        &self,
        player: &PlayerId,
        currency: &str,
    ) -> Result<Account, LedgerError> {
        let movement = Movement::EnsureAccount {
            player: player.clone(),
            currency: currency.to_string(),
        };
        match self.backend.commit(&[movement]).await?.pop() {
            Some(Ok(Applied::AccountReady(account))) => Ok(account),
            other => Err(LedgerError::Invariant(format!(
                "ensure_account answered {other:?}"
            ))),
        }
    }

    async fn account(&self, player: &PlayerId) -> Result<Option<Account>, LedgerError> {
        answer!(self.backend.read(Query::Account(player.clone())), Account)
    }

    async fn commit_batch(&self, batch: &[Movement]) -> BatchResult {
        let results = self.backend.commit(batch).await?;
        if results.len() != batch.len() {
            return Err(LedgerError::Invariant(format!(
                "a batch of {} movements answered {} results",
                batch.len(),
                results.len()
            )));
        }
        Ok(results)
    }

    async fn round(&self, round_id: &RoundId) -> Result<Option<RoundRecord>, LedgerError> {
        answer!(self.backend.read(Query::Round(round_id.clone())), Round)
    }

    async fn round_by_req(
        &self,
        player: &PlayerId,
        req_id: &ReqId,
    ) -> Result<Option<RoundRecord>, LedgerError> {
        let query = Query::RoundByReq(player.clone(), req_id.clone());
        answer!(self.backend.read(query), Round)
    }

    async fn history(
        &self,
        player: &PlayerId,
        limit: u32,
    ) -> Result<Vec<RoundRecord>, LedgerError> {
        answer!(
            self.backend.read(Query::History(player.clone(), limit)),
            Rounds
        )
    }

    async fn free_spins(&self, player: &PlayerId) -> Result<Vec<FreeSpins>, LedgerError> {
        answer!(
            self.backend.read(Query::FreeSpins(player.clone())),
            FreeSpins
        )
    }

    async fn free_rounds(
        &self,
        player: &PlayerId,
        playable_at: Option<i64>,
    ) -> Result<Vec<FreeRounds>, LedgerError> {
        let query = Query::FreeRounds {
            player: player.clone(),
            playable_at,
        };
        answer!(self.backend.read(query), FreeRounds)
    }

    async fn free_round_events(
        &self,
        player: &PlayerId,
        campaign: &CampaignId,
    ) -> Result<Vec<FreeRoundEvent>, LedgerError> {
        let query = Query::FreeRoundEvents(player.clone(), campaign.clone());
        answer!(self.backend.read(query), FreeRoundEvents)
    }

    async fn expire_free_rounds(&self) -> Result<u64, LedgerError> {
        answer!(self.backend.change(Change::ExpireFreeRounds), Count)
    }

    async fn open_rounds(&self) -> Result<Vec<RoundRecord>, LedgerError> {
        answer!(self.backend.read(Query::OpenRounds), Rounds)
    }

    async fn entries(&self, player: &PlayerId) -> Result<Vec<Entry>, LedgerError> {
        answer!(self.backend.read(Query::Entries(player.clone())), Entries)
    }

    async fn statement(
        &self,
        player: &PlayerId,
        span_ms: (i64, i64),
        after_seq: i64,
        limit: u32,
    ) -> Result<StatementPage, LedgerError> {
        let query = Query::Statement {
            player: player.clone(),
            span_ms,
            after_seq,
            limit,
        };
        answer!(self.backend.read(query), Statement)
    }

    async fn recall(&self, round_id: &RoundId) -> Result<Option<RoundRecall>, LedgerError> {
        answer!(self.backend.read(Query::Recall(round_id.clone())), Recall)
    }

    async fn audit(&self) -> Result<AuditReport, LedgerError> {
        answer!(self.backend.read(Query::Audit), Audit)
    }

    async fn chain_heads(&self, scope: HeadsScope) -> Result<ChainHeads, LedgerError> {
        answer!(self.backend.read(Query::ChainHeads(scope)), ChainHeads)
    }

    async fn heads_digest(&self) -> Result<(String, u64, i64), LedgerError> {
        match self.backend.read(Query::HeadsDigest).await? {
            Answer::HeadsDigest(digest, chains, links) => Ok((digest, chains, links)),
            other => Err(unexpected("HeadsDigest", &other)),
        }
    }

    async fn check_heads(&self, heads: ChainHeads) -> Result<Vec<String>, LedgerError> {
        answer!(self.backend.read(Query::CheckHeads(heads)), Problems)
    }

    async fn ensure_pools(&self, specs: &[PoolSpec]) -> Result<(), LedgerError> {
        match self
            .backend
            .change(Change::EnsurePools(specs.to_vec()))
            .await?
        {
            Answer::Done => Ok(()),
            other => Err(unexpected("ensure_pools", &other)),
        }
    }

    async fn pools(&self) -> Result<Vec<PoolState>, LedgerError> {
        answer!(self.backend.read(Query::Pools), Pools)
    }

    async fn jackpot_wins(&self, round_id: &RoundId) -> Result<Vec<JackpotWin>, LedgerError> {
        answer!(
            self.backend.read(Query::JackpotWins(round_id.clone())),
            JackpotWins
        )
    }

    async fn reconcile(&self) -> Result<ReconcileReport, LedgerError> {
        answer!(self.backend.read(Query::Reconcile), Reconcile)
    }

    async fn fair_seed(&self, player: &PlayerId) -> Result<Option<FairSeed>, LedgerError> {
        answer!(self.backend.read(Query::FairSeed(player.clone())), FairSeed)
    }

    async fn fair_round(&self, round_id: &RoundId) -> Result<Option<FairRound>, LedgerError> {
        answer!(
            self.backend.read(Query::FairRound(round_id.clone())),
            FairRound
        )
    }

    async fn exclude(
        &self,
        player: &PlayerId,
        until_ms: Option<i64>,
        reason: crate::exclusion::ExclusionReason,
    ) -> Result<crate::exclusion::Exclusion, LedgerError> {
        let change = Change::Exclude {
            player: player.clone(),
            until_ms,
            reason,
        };
        match answer!(self.backend.change(change), Exclusion)? {
            Some(exclusion) => Ok(exclusion),
            None => Err(LedgerError::Invariant(format!(
                "exclusion of {player} vanished"
            ))),
        }
    }

    async fn raise_harm_flag(
        &self,
        flag: super::ledger::HarmFlagRecord,
    ) -> Result<bool, LedgerError> {
        answer!(self.backend.change(Change::RaiseHarmFlag(flag)), New)
    }

    async fn harm_flags(
        &self,
        player: &PlayerId,
    ) -> Result<Vec<super::ledger::HarmFlagRecord>, LedgerError> {
        answer!(
            self.backend.read(Query::HarmFlags(player.clone())),
            HarmFlags
        )
    }

    async fn session_totals(
        &self,
        player: &PlayerId,
        since_ms: i64,
    ) -> Result<super::ledger::SessionTotals, LedgerError> {
        let query = Query::SessionTotals {
            player: player.clone(),
            since_ms,
        };
        answer!(self.backend.read(query), SessionTotals)
    }

    async fn limits(&self, player: &PlayerId) -> Result<crate::limits::LimitsReport, LedgerError> {
        let query = Query::Limits {
            player: player.clone(),
            now_ms: crate::clock::now_ms(),
        };
        answer!(self.backend.read(query), Limits)
    }

    async fn set_limit(
        &self,
        player: &PlayerId,
        key: crate::limits::LimitKey,
        amount: Option<i64>,
        cooling_off_ms: i64,
    ) -> Result<Option<crate::limits::PlayerLimit>, LedgerError> {
        let change = Change::SetLimit {
            player: player.clone(),
            key,
            amount,
            cooling_off_ms,
        };
        answer!(self.backend.change(change), Limit)
    }

    async fn prune_activity(&self) -> Result<u64, LedgerError> {
        answer!(self.backend.change(Change::PruneActivity), Count)
    }

    async fn exclusion(
        &self,
        player: &PlayerId,
    ) -> Result<Option<crate::exclusion::Exclusion>, LedgerError> {
        answer!(
            self.backend.read(Query::Exclusion(player.clone())),
            Exclusion
        )
    }
}
