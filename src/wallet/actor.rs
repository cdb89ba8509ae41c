//! `WalletActor`: one shard of wallet work. Movements queue in the shard while its batches in
//! flight commit ([`Ledger::batches_in_flight`]: one on PostgreSQL, where the queued movements
//! then go together in one database transaction; many on SQLite, whose one writer groups
//! every shard's batches itself): under load a commit carries many spins, idle it carries one
//! and adds no delay.
//! A reply is sent only after its batch has committed: acknowledged means durable.
//!
//! The shard also keeps its players' [`Holds`]: the stakes promised to one-step spins before
//! their draw. While a player holds a stake, the player's other movements are parked here and
//! join the queue once every hold is released, so nothing else can spend a held stake.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::holds::{Holds, Learned, NoHold};
use super::ledger::{Applied, Ledger, LedgerError, Movement, MovementError};
use crate::ids::PlayerId;
use crate::metrics::Metrics;

pub type MovementResult = Result<Result<Applied, MovementError>, WalletFailure>;

/// Why a movement got no answer from the ledger: nothing of its batch was written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WalletFailure {
    #[error("the wallet shard has too many movements queued")]
    Busy,
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
    /// No answer within `WALLET_REPLY_TIMEOUT`: the movement may still commit later (a
    /// resend with the same `req_id` then answers what it did).
    #[error("no answer from the ledger in time")]
    NoAnswer,
    #[error("ledger invariant broken: {0}")]
    Invariant(String),
}

impl WalletFailure {
    /// The client's error code.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        use crate::protocol::ErrorCode;
        match self {
            WalletFailure::Busy => ErrorCode::ServerBusy,
            WalletFailure::Unavailable(_) | WalletFailure::NoAnswer => {
                ErrorCode::ServiceUnavailable
            }
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
    /// The stake this movement's hold promised (a one-step spin), released when it commits.
    pub hold: Option<i64>,
}

/// Promises `stake` of the player's balance to a spin about to be drawn ([`Holds::try_hold`]).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Hold {
    pub player: PlayerId,
    pub stake: i64,
    pub reply: oneshot::Sender<Result<(), NoHold>>,
}

/// Gives back a hold whose spin never reached the ledger.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Release {
    pub player: PlayerId,
    pub stake: i64,
}

/// What a movement's result teaches the shard about its player's balance: only a fresh
/// committed result carries the balance as it now is.
fn learned(result: &MovementResult) -> Learned {
    match result {
        Ok(Ok(
            Applied::Deposited {
                balance_minor,
                replayed: false,
            }
            | Applied::Withdrawn {
                balance_minor,
                replayed: false,
            }
            | Applied::RoundOpened {
                balance_minor,
                replayed: false,
                ..
            }
            | Applied::RoundSettled {
                balance_minor,
                replayed: false,
                ..
            }
            | Applied::RoundVoided {
                balance_minor,
                replayed: false,
            }
            | Applied::RoundPlayed {
                balance_minor,
                replayed: false,
                ..
            },
        )) => Learned::Balance(*balance_minor),
        Ok(Ok(Applied::AccountReady(account))) => Learned::Balance(account.balance_minor),
        _ => Learned::Forget,
    }
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
    /// Batches sent to the ledger and not answered yet, at most `max_in_flight`
    /// ([`Ledger::batches_in_flight`]).
    in_flight: usize,
    max_in_flight: usize,
    holds: Holds,
    /// Movements of players holding a stake, waiting for the holds to end (in arrival order).
    parked: HashMap<PlayerId, Vec<Apply>>,
    parked_count: usize,
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
            max_in_flight: ledger.batches_in_flight().max(1),
            ledger,
            metrics,
            mailbox,
            batch_max,
            pending: Vec::new(),
            flush_waiters: Vec::new(),
            in_flight: 0,
            holds: Holds::default(),
            parked: HashMap::new(),
            parked_count: 0,
        }
    }

    /// Queues a movement for the next batch, or parks it while its player holds a stake.
    fn enqueue(&mut self, msg: Apply) {
        let player = msg.movement.player().clone();
        if msg.hold.is_none() {
            if self.holds.is_held(&player) {
                self.parked_count += 1;
                self.parked.entry(player).or_default().push(msg);
                return;
            }
            self.holds.other_queued(&player);
        }
        self.pending.push(msg);
    }

    /// Moves a player's parked movements into the queue once nothing of theirs is held.
    fn unpark(&mut self, player: &PlayerId) {
        if self.holds.is_held(player) {
            return;
        }
        for msg in self.parked.remove(player).unwrap_or_default() {
            self.parked_count -= 1;
            self.holds.other_queued(player);
            self.pending.push(msg);
        }
    }

    /// A committed (or failed) movement: its hold ends or its count drops, and its result
    /// teaches the balance; then its reply goes out.
    fn finish(&mut self, apply: Apply, result: MovementResult) {
        let player = apply.movement.player().clone();
        let learned = learned(&result);
        match apply.hold {
            Some(stake) => self.holds.play_done(&player, stake, learned),
            None => self.holds.other_done(&player, learned),
        }
        let _ = apply.reply.send(result);
        self.unpark(&player);
    }

    /// Sends queued movements to the ledger, batch by batch, while fewer than
    /// `max_in_flight` batches are committing; resolves the flush waiters once nothing is
    /// queued, parked or committing.
    fn commit_next(&mut self, ctx: &mut Context<Self>) {
        while self.in_flight < self.max_in_flight && !self.pending.is_empty() {
            self.send_batch(ctx);
        }
        if self.pending.is_empty() && self.in_flight == 0 && self.parked_count == 0 {
            for waiter in self.flush_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Sends the next batch. Its future is polled before any spawned after it, so batches
    /// reach the ledger (and SQLite's one writer queue) in the order they were taken.
    fn send_batch(&mut self, ctx: &mut Context<Self>) {
        let take = self.pending.len().min(self.batch_max);
        let batch: Vec<Apply> = self.pending.drain(..take).collect();
        let movements: Vec<Movement> = batch.iter().map(|a| a.movement.clone()).collect();
        let ledger = self.ledger.clone();
        self.in_flight += 1;
        let started = Instant::now();
        let fut = async move { ledger.commit_batch(&movements).await };
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            act.in_flight -= 1;
            act.metrics
                .observe_wallet_batch(batch.len(), started.elapsed());
            match result {
                Ok(results) => {
                    for (apply, result) in batch.into_iter().zip(results) {
                        act.finish(apply, Ok(result));
                    }
                }
                Err(error) => {
                    tracing::error!(shard = act.shard, %error, "wallet batch failed; nothing written");
                    act.metrics.wallet.batch_failures.inc();
                    let failure = WalletFailure::from(&error);
                    for apply in batch {
                        act.finish(apply, Err(failure.clone()));
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
        if self.pending.len() + self.parked_count >= self.mailbox {
            if let Some(stake) = msg.hold {
                let player = msg.movement.player().clone();
                self.holds.release(&player, stake);
                self.unpark(&player);
            }
            let _ = msg.reply.send(Err(WalletFailure::Busy));
            return;
        }
        self.enqueue(msg);
        self.commit_next(ctx);
    }
}

impl Handler<Hold> for WalletActor {
    type Result = ();

    fn handle(&mut self, msg: Hold, _ctx: &mut Self::Context) {
        let granted = self.holds.try_hold(&msg.player, msg.stake);
        if msg.reply.send(granted).is_err() && granted.is_ok() {
            // The spin gave up before hearing of its hold: nobody will use or release it.
            self.holds.release(&msg.player, msg.stake);
        }
    }
}

impl Handler<Release> for WalletActor {
    type Result = ();

    fn handle(&mut self, msg: Release, ctx: &mut Self::Context) {
        self.holds.release(&msg.player, msg.stake);
        self.unpark(&msg.player);
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
