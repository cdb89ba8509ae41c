//! The table's clock: each tick runs the round machine's steps (open betting, close it, draw,
//! settle), opens rounds and asks an RNG shard for the draw.

use super::*;

impl LiveTable {
    pub(super) fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.stopped {
            if self.retire_waiters.is_some() && self.money_in_flight == 0 {
                ctx.stop(); // a removed table whose money has committed: nothing left to do
            }
            return;
        }
        let now = now_ms();
        for step in self.machine.tick(now) {
            let lateness = self.machine.last_lateness_ms().max(0) as f64 / 1000.0;
            self.deps
                .metrics
                .tables
                .phase_lateness_seconds
                .with_label_values(&[&self.config.id])
                .observe(lateness);
            self.run_step(step, ctx);
        }
        if self.machine.phase() == crate::table::round::Phase::BettingOpen {
            let seconds_left = (self.machine.time_left_ms(now) + 999) / 1000;
            if seconds_left != self.last_countdown && seconds_left > 0 {
                self.last_countdown = seconds_left;
                let frame = ServerFrame::BettingCountdown {
                    table: self.config.id.clone(),
                    round_id: self.book.round_id().to_string(),
                    seconds_left,
                };
                self.broadcast(&frame);
            }
        }
    }

    pub(super) fn run_step(&mut self, step: Step, ctx: &mut Context<Self>) {
        match step {
            Step::OpenBetting { closes_at_ms, .. } => self.open_round(closes_at_ms, ctx),
            Step::CloseBetting { .. } => {
                let frame = ServerFrame::BettingClosed {
                    table: self.config.id.clone(),
                    round_id: self.book.round_id().to_string(),
                };
                self.broadcast(&frame);
            }
            Step::Draw { .. } => self.draw(ctx),
            Step::Settle { .. } => {
                if self.outcome.is_some() {
                    self.settle(ctx);
                } else if self.draw_in_flight {
                    self.settle_when_drawn = true;
                } else {
                    self.void_round("no_outcome", ctx);
                }
                self.between_rounds();
            }
        }
    }

    pub(super) fn open_round(&mut self, closes_at_ms: i64, ctx: &mut Context<Self>) {
        if !self.book.is_closed() {
            // The previous round never reached settlement (its draw is stuck): refund it.
            self.void_round("draw_timeout", ctx);
        }
        self.between_rounds();
        if self.stopped {
            return; // a removed table opens no new round
        }
        self.book = RoundBook::new(RoundId::new_v7());
        self.bets_placed = 0;
        self.outcome = None;
        self.draw_in_flight = false;
        self.settle_when_drawn = false;
        self.last_countdown = -1;
        let frame = self.betting_open_frame(closes_at_ms, now_ms());
        self.broadcast(&frame);
    }

    /// The current round's `betting_open`, closing at `closes_at_ms`, as sent at `now`.
    pub(super) fn betting_open_frame(&self, closes_at_ms: i64, now: i64) -> ServerFrame {
        ServerFrame::BettingOpen {
            table: self.config.id.clone(),
            round_id: self.book.round_id().to_string(),
            closes_at: closes_at_ms,
            closes_in_ms: (closes_at_ms - now).max(0),
        }
    }

    /// The current round's `betting_open`, while betting is open and the round takes bets.
    pub(super) fn betting_open_now(&self) -> Option<ServerFrame> {
        let now = now_ms();
        let closes_at_ms = self.machine.phase_ends_at_ms();
        let open = self.machine.phase() == crate::table::round::Phase::BettingOpen
            && !self.book.is_closed()
            && now < closes_at_ms;
        open.then(|| self.betting_open_frame(closes_at_ms, now))
    }

    pub(super) fn draw(&mut self, ctx: &mut Context<Self>) {
        self.draw_in_flight = true;
        let round_id = self.book.round_id().clone();
        let rules = self.rules;
        let mut shoe = self.shoe.take();
        let rng = self.deps.rng.clone();
        let fut = async move {
            rng.draw(move |r| {
                let drawn = rules.draw(&mut shoe, r);
                (drawn, shoe)
            })
            .await
        };
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            if act.book.round_id() != &round_id || act.book.is_closed() {
                return; // that round was voided meanwhile
            }
            act.draw_in_flight = false;
            let outcome = match result {
                Ok((Drawn { outcome, shuffled }, shoe)) => {
                    act.shoe = shoe;
                    if shuffled {
                        tracing::info!(table = act.id(), "new shoe shuffled");
                    }
                    outcome
                }
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(outcome) => {
                    let result = outcome.to_json();
                    act.recent.push_front(PastRound {
                        round_id: round_id.to_string(),
                        result: result.clone(),
                    });
                    act.recent.truncate(RECENT_RESULTS);
                    act.outcome = Some(outcome);
                    let frame = ServerFrame::RoundResult {
                        table: act.config.id.clone(),
                        round_id: round_id.to_string(),
                        result,
                    };
                    act.broadcast(&frame);
                    if act.settle_when_drawn {
                        act.settle(ctx);
                        act.between_rounds();
                    }
                }
                Err(error) => {
                    tracing::error!(table = act.id(), round = %round_id, %error, "draw failed");
                    act.void_round("rng_unavailable", ctx);
                    act.between_rounds();
                }
            }
        }));
    }
}
