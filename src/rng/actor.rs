//! `RngActor`: one shard of randomness, owning one [`ShardRng`] on its own thread.
//!
//! A draw is a closure run against the shard's generator, so the pure game code (slot spin,
//! roulette pocket, baccarat shuffle) runs inside the shard and nothing else ever touches the
//! generator. Draws are spread round-robin over the shards; a full shard answers busy at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use croupier_core::rng::{OsRandomError, ReseedPolicy, ShardRng};

type DrawFn = Box<dyn FnOnce(&mut ShardRng) + Send>;

/// A closure to run on a shard's generator.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Draw(DrawFn);

#[derive(Debug, Clone, thiserror::Error)]
pub enum RngError {
    #[error("the random number generator is busy")]
    Busy,
    #[error("the random number generator stopped")]
    Stopped,
}

impl RngError {
    /// The client's error code.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        match self {
            RngError::Busy => crate::protocol::ErrorCode::ServerBusy,
            RngError::Stopped => crate::protocol::ErrorCode::ServiceUnavailable,
        }
    }
}

pub struct RngActor {
    rng: ShardRng,
    mailbox: usize,
    metrics: Arc<Metrics>,
    reseeds_reported: u64,
}

impl Actor for RngActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox);
    }
}

impl Handler<Draw> for RngActor {
    type Result = ();

    fn handle(&mut self, msg: Draw, _ctx: &mut Self::Context) {
        (msg.0)(&mut self.rng);
        let reseeds = self.rng.reseeds();
        if reseeds > self.reseeds_reported {
            self.metrics
                .play
                .rng_reseeds
                .inc_by(reseeds - self.reseeds_reported);
            self.reseeds_reported = reseeds;
        }
    }
}

#[derive(Clone)]
pub struct RngPool {
    shards: Arc<Vec<Addr<RngActor>>>,
    next: Arc<AtomicUsize>,
}

impl RngPool {
    /// Starts `shards` RNG actors, shard `i` on ChaCha stream `i`, each on its own thread.
    pub fn start(
        shards: usize,
        mailbox: usize,
        policy: ReseedPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<Self, OsRandomError> {
        let mut addrs = Vec::new();
        for shard in 0..shards.max(1) {
            let rng = ShardRng::from_os(shard as u64, policy)?;
            let arbiter = Arbiter::new();
            let metrics = metrics.clone();
            addrs.push(RngActor::start_in_arbiter(&arbiter.handle(), move |_| {
                RngActor {
                    rng,
                    mailbox,
                    metrics,
                    reseeds_reported: 0,
                }
            }));
        }
        Ok(Self {
            shards: Arc::new(addrs),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Runs `f` on the next shard's generator and returns its result.
    pub async fn draw<R, F>(&self, f: F) -> Result<R, RngError>
    where
        R: Send + 'static,
        F: FnOnce(&mut ShardRng) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        let job: DrawFn = Box::new(move |rng| {
            let _ = tx.send(f(rng));
        });
        self.shards[index]
            .try_send(Draw(job))
            .map_err(|_| RngError::Busy)?;
        // A draw is microseconds of CPU; this bound only catches a stopped or stuck shard.
        match tokio::time::timeout(Duration::from_secs(5), rx).await {
            Ok(Ok(value)) => Ok(value),
            _ => Err(RngError::Stopped),
        }
    }
}
