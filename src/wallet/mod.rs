//! The wallet: money movements, sharded over `WalletActor`s by player, recorded in a `Ledger`.
//!
//! Sessions never touch the ledger for writes directly: they submit a [`Movement`] to the
//! player's shard through [`WalletPool::apply`], which fails fast with `Busy` when the shard's
//! mailbox is full (nothing happened) and otherwise waits for the committed result.
//!
//! A paid spin on the embedded ledger takes one commit instead of two: [`WalletPool::hold`]
//! has the player's shard promise the stake before the draw ([`holds`]), and
//! [`WalletPool::play`] commits stake and settlement together (`Movement::PlayRound`). When no
//! hold can be granted (balance not known to the shard, PostgreSQL, `ledger.one_step_spins`
//! off) the spin takes the two-step path: `OpenRound`, draw, `SettleRound`.

mod actor;
pub mod holds;

pub use croupier_ledger::{ledger, postgres, sqlite};

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

pub use actor::{Apply, Flush, WalletActor, WalletFailure};
use actor::{Hold as HoldRequest, Release};
pub use croupier_ledger::{
    Account, Applied, AuditReport, ChainHeads, ClaimReason, Entry, EntryKind, Exclusion,
    ExclusionReason, FairNonce, FairRound, FairSeed, Fence, FreeRoundEvent, FreeRounds,
    FreeRoundsGrant, FreeSpins, HarmFlagRecord, HeadsScope, JackpotClaim, JackpotFeed, JackpotWin,
    Ledger, LedgerError, LevelDraw, LevelFeed, LevelSeen, LimitKey, LimitKeyError, LimitKind,
    LimitsReport, Movement, MovementError, NewSeed, Period, PlayerLimit, PoolSpec, PoolState,
    ReconcileReport, Reveal, RoundRecall, RoundRecord, RoundStatus, StatementPage, Usage,
    MAX_STATEMENT_PAGE,
};
use holds::NoHold;

use crate::ids::PlayerId;
use crate::metrics::Metrics;

/// Opens the ledger the config names: PostgreSQL when `ledger.postgres_url` is set, else the
/// embedded SQLite file.
pub async fn open_ledger(config: &crate::config::Config) -> Result<Arc<dyn Ledger>, LedgerError> {
    let l = &config.ledger;
    Ok(if l.postgres_url.is_empty() {
        Arc::new(sqlite::SqliteLedger::open(&config.ledger_path(), l.synchronous).await?)
    } else {
        Arc::new(postgres::PgLedger::connect(&l.postgres_url, l.postgres_max_connections).await?)
    })
}

/// Longest we wait for a committed answer. A batch normally commits in milliseconds; past this
/// the database is considered unreachable for this request (the movement may still commit,
/// which the `req_id` replay and start-up recovery handle).
pub const WALLET_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, thiserror::Error)]
pub enum WalletError {
    #[error("the wallet is busy, retry with the same req_id")]
    Busy,
    #[error(transparent)]
    Failed(#[from] WalletFailure),
    #[error(transparent)]
    Refused(#[from] MovementError),
}

impl WalletError {
    /// The client's error code: busy (nothing happened, retry), or the failure's or the
    /// refusal's own.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        match self {
            WalletError::Busy => crate::protocol::ErrorCode::ServerBusy,
            WalletError::Failed(failure) => failure.code(),
            WalletError::Refused(refusal) => refusal.code(),
        }
    }
}

#[derive(Clone)]
pub struct WalletPool {
    shards: Arc<Vec<Addr<WalletActor>>>,
    ledger: Arc<dyn Ledger>,
    metrics: Arc<Metrics>,
    /// Whether spins may hold their stake and commit in one step (embedded ledger only).
    one_step: bool,
}

/// A stake the player's wallet shard has promised to one spin, from before its draw until
/// [`WalletPool::play`] commits it. Dropped unused (the draw failed, the request was
/// cancelled), it is released: the shard gets it back and nothing was written.
pub struct Hold {
    shard: Addr<WalletActor>,
    player: PlayerId,
    stake: i64,
    armed: bool,
}

impl Hold {
    pub fn stake(&self) -> i64 {
        self.stake
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if self.armed {
            // Past the mailbox limit on purpose: a release must never be lost.
            self.shard.do_send(Release {
                player: self.player.clone(),
                stake: self.stake,
            });
        }
    }
}

impl WalletPool {
    /// Starts `shards` wallet actors, each on its own arbiter (thread). `one_step`: spins may
    /// hold their stake and commit once (only where every movement of a player passes through
    /// this node's shards: the embedded ledger).
    pub fn start(
        shards: usize,
        ledger: Arc<dyn Ledger>,
        metrics: Arc<Metrics>,
        mailbox: usize,
        batch_max: usize,
        one_step: bool,
    ) -> Self {
        let addrs = (0..shards.max(1))
            .map(|shard| {
                let arbiter = Arbiter::new();
                let (ledger, metrics) = (ledger.clone(), metrics.clone());
                WalletActor::start_in_arbiter(&arbiter.handle(), move |_| {
                    WalletActor::new(shard, ledger, metrics, mailbox, batch_max)
                })
            })
            .collect();
        Self {
            shards: Arc::new(addrs),
            ledger,
            metrics,
            one_step,
        }
    }

    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    fn shard_of(&self, player: &PlayerId) -> &Addr<WalletActor> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        player.hash(&mut hasher);
        &self.shards[(hasher.finish() % self.shards.len() as u64) as usize]
    }

    /// Asks the player's shard to promise `stake` to a spin about to be drawn. `None`: no
    /// hold (one-step spins off, the balance not known to the shard, or too little of it):
    /// take the two-step path, where the ledger decides.
    pub async fn hold(&self, player: &PlayerId, stake: i64) -> Result<Option<Hold>, WalletError> {
        if !self.one_step {
            return Ok(None);
        }
        let shard = self.shard_of(player).clone();
        let (reply, answer) = oneshot::channel();
        shard
            .try_send(HoldRequest {
                player: player.clone(),
                stake,
                reply,
            })
            .map_err(|_| WalletError::Busy)?;
        let outcome = match answer.await {
            Ok(Ok(())) => "granted",
            Ok(Err(NoHold::Unknown)) => "unknown",
            Ok(Err(NoHold::Short { .. })) => "short",
            Ok(Err(NoHold::Full)) => "full",
            Err(_) => return Err(WalletFailure::Unavailable("wallet shard stopped".into()).into()),
        };
        self.metrics
            .wallet
            .holds
            .with_label_values(&[outcome])
            .inc();
        Ok((outcome == "granted").then(|| Hold {
            shard,
            player: player.clone(),
            stake,
            armed: true,
        }))
    }

    /// Commits a held spin's `PlayRound` and waits for the result; the hold ends with it.
    pub async fn play(&self, mut hold: Hold, movement: Movement) -> Result<Applied, WalletError> {
        if movement.player() != &hold.player {
            let what = format!("a hold of {} used for {}", hold.player, movement.player());
            return Err(WalletFailure::Invariant(what).into());
        }
        let (reply, answer) = oneshot::channel();
        let apply = Apply {
            movement,
            reply,
            hold: Some(hold.stake),
        };
        // Sent: the shard owns the hold now and releases it with the result.
        let sent = hold.shard.try_send(apply).map(|()| hold.armed = false);
        self.count("play_round", self.answer(sent, answer).await)
    }

    /// Submits one movement and waits for its committed result.
    pub async fn apply(&self, movement: Movement) -> Result<Applied, WalletError> {
        let kind = movement.kind();
        let (reply, answer) = oneshot::channel();
        let shard = self.shard_of(movement.player()).clone();
        let sent = shard.try_send(Apply {
            movement,
            reply,
            hold: None,
        });
        self.count(kind, self.answer(sent, answer).await)
    }

    fn count(
        &self,
        kind: &str,
        result: Result<Applied, WalletError>,
    ) -> Result<Applied, WalletError> {
        let label = match &result {
            Ok(
                Applied::Deposited { replayed: true, .. }
                | Applied::Withdrawn { replayed: true, .. }
                | Applied::RoundOpened { replayed: true, .. }
                | Applied::RoundSettled { replayed: true, .. }
                | Applied::RoundVoided { replayed: true, .. }
                | Applied::RoundPlayed { replayed: true, .. }
                | Applied::FreeRoundsGranted { replayed: true, .. }
                | Applied::FreeRoundsCancelled { replayed: true, .. },
            ) => "replayed",
            Ok(_) => "applied",
            Err(WalletError::Refused(_)) => "refused",
            Err(_) => "failed",
        };
        self.metrics
            .wallet
            .movements
            .with_label_values(&[kind, label])
            .inc();
        result
    }

    /// Waits for the answer of a movement sent to its shard (`sent`: whether it got in).
    async fn answer<E>(
        &self,
        sent: Result<(), E>,
        answer: oneshot::Receiver<actor::MovementResult>,
    ) -> Result<Applied, WalletError> {
        sent.map_err(|_| WalletError::Busy)?;
        match tokio::time::timeout(WALLET_REPLY_TIMEOUT, answer).await {
            Ok(Ok(Err(WalletFailure::Busy))) => Err(WalletError::Busy),
            Ok(Ok(result)) => Ok(result??),
            Ok(Err(_)) => Err(WalletFailure::Unavailable("wallet shard stopped".into()).into()),
            Err(_) => Err(WalletFailure::NoAnswer.into()),
        }
    }

    /// Waits until every shard has committed everything queued so far.
    pub async fn flush(&self) {
        for shard in self.shards.iter() {
            let (tx, rx) = oneshot::channel();
            if shard.send(Flush(tx)).await.is_ok() {
                let _ = rx.await;
            }
        }
    }
}
