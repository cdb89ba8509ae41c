//! The wallet: money movements, sharded over `WalletActor`s by player, recorded in a `Ledger`.
//!
//! Sessions never touch the ledger for writes directly: they submit a [`Movement`] to the
//! player's shard through [`WalletPool::apply`], which fails fast with `Busy` when the shard's
//! mailbox is full (nothing happened) and otherwise waits for the committed result.

mod actor;

pub use croupier_ledger::{ledger, postgres, sqlite};

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

pub use actor::{Apply, Flush, WalletActor, WalletFailure};
pub use croupier_ledger::{
    Account, Applied, AuditReport, ClaimReason, Entry, EntryKind, Fence, FreeSpins, JackpotClaim,
    JackpotFeed, JackpotWin, Ledger, LedgerError, LevelFeed, LevelSeen, Movement, MovementError,
    PoolSpec, PoolState, ReconcileReport, RoundRecord, RoundStatus,
};

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
}

impl WalletPool {
    /// Starts `shards` wallet actors, each on its own arbiter (thread).
    pub fn start(
        shards: usize,
        ledger: Arc<dyn Ledger>,
        metrics: Arc<Metrics>,
        mailbox: usize,
        batch_max: usize,
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

    /// Submits one movement and waits for its committed result.
    pub async fn apply(&self, movement: Movement) -> Result<Applied, WalletError> {
        let kind = movement.kind();
        let result = self.submit(movement).await;
        let label = match &result {
            Ok(
                Applied::Deposited { replayed: true, .. }
                | Applied::RoundOpened { replayed: true, .. }
                | Applied::RoundSettled { replayed: true, .. }
                | Applied::RoundVoided { replayed: true, .. },
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

    async fn submit(&self, movement: Movement) -> Result<Applied, WalletError> {
        let (reply, answer) = oneshot::channel();
        let shard = self.shard_of(movement.player()).clone();
        shard
            .try_send(Apply { movement, reply })
            .map_err(|_| WalletError::Busy)?;
        match tokio::time::timeout(WALLET_REPLY_TIMEOUT, answer).await {
            Ok(Ok(Err(WalletFailure::Busy))) => Err(WalletError::Busy),
            Ok(Ok(result)) => Ok(result??),
            Ok(Err(_)) => Err(WalletFailure::Unavailable("wallet shard stopped".into()).into()),
            Err(_) => {
                Err(WalletFailure::Unavailable("no answer from the ledger in time".into()).into())
            }
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
