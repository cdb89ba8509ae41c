//! `WalletActor`: one shard of wallet work. Movements queue in the shard while the previous
//! batch commits, then go to the ledger together in one database transaction (group commit):
//! under load a commit carries many spins, idle it carries one and adds no delay.
//! A reply is sent only after its batch has committed: acknowledged means durable.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::ledger::{Applied, Ledger, LedgerError, Movement, MovementError};
use crate::metrics::Metrics;

pub type MovementResult = Result<Result<Applied, MovementError>, WalletFailure>;

/// Why a movement got no answer from the ledger: nothing of its batch was written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WalletFailure {
    #[error("the wallet shard has too many movements queued")]
    Busy,
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
    #[error("ledger invariant broken: {0}")]
    Invariant(String),
}

impl WalletFailure {
    /// The client's error code.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        use crate::protocol::ErrorCode;
        match self {
            WalletFailure::Busy => ErrorCode::ServerBusy,
            WalletFailure::Unavailable(_) => ErrorCode::ServiceUnavailable,
            WalletFailure::Invariant(_) => ErrorCode::Internal,
        }
    }
}

impl From<&LedgerError> for WalletFailure {
    fn from(e: &LedgerError) -> Self {
        match e {
            LedgerError::Invariant(what) => WalletFailure::Invariant(what.clone()),
            other => WalletFailure::Unavailable(other.to_string()),
        }
    }
}

/// A movement and where to send its result.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Apply {
    pub movement: Movement,
    pub reply: oneshot::Sender<MovementResult>,
}

/// Resolves once everything queued before it has committed (used at shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush(pub oneshot::Sender<()>);

pub struct WalletActor {
    shard: usize,
    ledger: Arc<dyn Ledger>,
    metrics: Arc<Metrics>,
    mailbox: usize,
    batch_max: usize,
    pending: Vec<Apply>,
    flush_waiters: Vec<oneshot::Sender<()>>,
    committing: bool,
}

impl WalletActor {
    pub fn new(
        shard: usize,
        ledger: Arc<dyn Ledger>,
        metrics: Arc<Metrics>,
        mailbox: usize,
        batch_max: usize,
    ) -> Self {
        Self {
            shard,
            ledger,
            metrics,
            mailbox,
            batch_max,
            pending: Vec::new(),
            flush_waiters: Vec::new(),
            committing: false,
        }
    }

    fn commit_next(&mut self, ctx: &mut Context<Self>) {
        if self.committing {
            return;
        }
        if self.pending.is_empty() {
            for waiter in self.flush_waiters.drain(..) {
                let _ = waiter.send(());
            }
            return;
        }
        let take = self.pending.len().min(self.batch_max);
        let batch: Vec<Apply> = self.pending.drain(..take).collect();
        let movements: Vec<Movement> = batch.iter().map(|a| a.movement.clone()).collect();
        let ledger = self.ledger.clone();
        self.committing = true;
        let started = Instant::now();
        let fut = async move { ledger.commit_batch(&movements).await };
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            act.committing = false;
            act.metrics
                .observe_wallet_batch(batch.len(), started.elapsed());
            match result {
                Ok(results) => {
                    for (apply, result) in batch.into_iter().zip(results) {
                        let _ = apply.reply.send(Ok(result));
                    }
                }
                Err(error) => {
                    tracing::error!(shard = act.shard, %error, "wallet batch failed; nothing written");
                    act.metrics.wallet.batch_failures.inc();
                    let failure = WalletFailure::from(&error);
                    for apply in batch {
                        let _ = apply.reply.send(Err(failure.clone()));
                    }
                }
            }
            act.commit_next(ctx);
        }));
    }
}

impl Actor for WalletActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox);
    }
}

impl Handler<Apply> for WalletActor {
    type Result = ();

    fn handle(&mut self, msg: Apply, ctx: &mut Self::Context) {
        if self.pending.len() >= self.mailbox {
            let _ = msg.reply.send(Err(WalletFailure::Busy));
            return;
        }
        self.pending.push(msg);
        self.commit_next(ctx);
    }
}

impl Handler<Flush> for WalletActor {
    type Result = ();

    fn handle(&mut self, msg: Flush, ctx: &mut Self::Context) {
        self.flush_waiters.push(msg.0);
        self.commit_next(ctx);
    }
}
