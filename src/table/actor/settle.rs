//! The table's money: settling each bet through the wallet, voiding a round and refunding its
//! bets once, retrying a failed commit a bounded number of times.

use super::*;

impl LiveTable {
    /// Pays the round: closes the book, computes every payout (pure), credits them through
    /// the wallet (group commit batches them), then tells each bettor and everyone.
    pub(super) fn settle(&mut self, ctx: &mut Context<Self>) {
        let Some(outcome) = self.outcome.clone() else {
            return self.void_round("no_outcome", ctx);
        };
        let bets = self.book.close();
        let round_id = self.book.round_id().clone();
        let stakes: Vec<_> = bets.iter().map(PlacedBet::stake).collect();
        let payouts = match self.rules.settle(&stakes, &outcome) {
            Ok(payouts) => payouts,
            Err(error) => {
                tracing::error!(table = self.id(), round = %round_id, %error, "settlement refused");
                return self.refund(round_id, bets, "settle_failed", ctx);
            }
        };
        let result = outcome.to_json();
        let table = self.config.id.clone();
        let m = self.deps.metrics.clone();
        m.tables
            .rounds
            .with_label_values(&[&table, "settled"])
            .inc();
        let wallet = self.deps.wallet.clone();
        let table_id = table.clone();
        let fence = self.fence().cloned();
        let work = bets.into_iter().zip(payouts).map(move |(bet, payout)| {
            let wallet = wallet.clone();
            let fence = fence.clone();
            let outcome_json = serde_json::json!({
                "table": table_id,
                "table_round": round_of_bet(bet.bet_id.as_str()),
                "bet": bet.bet.spec(),
                "amount": bet.amount.to_string(),
                "result": result,
                "outcome": payout.outcome,
                "returned": payout.returned.to_string(),
            });
            async move {
                let movement = Movement::SettleRound {
                    round_id: bet.bet_id.clone(),
                    player: bet.player.clone(),
                    win_minor: payout.returned.minor(),
                    outcome_json: outcome_json.to_string(),
                    free_spins_awarded: None,
                    jackpot_claims: bet.claims.clone(),
                    jackpot_draws: bet.draws.clone(),
                }
                .fenced(fence.as_ref());
                let applied = apply_with_retries(&wallet, movement).await;
                (bet, payout, applied)
            }
        });
        let work: Vec<_> = work.collect();
        self.money_in_flight += 1;
        let fut = join_all(work);
        ctx.spawn(fut.into_actor(self).map(move |results, act, _ctx| {
            let mut returned_minor = 0i64;
            let count = results.len();
            for (bet, payout, applied) in results {
                let kind = bet.bet.kind();
                m.tables.bets_settled
                    .with_label_values(&[&table, kind])
                    .inc();
                m.tables.returned_minor
                    .with_label_values(&[&table, kind])
                    .inc_by(payout.returned.minor().max(0) as u64);
                returned_minor += payout.returned.minor();
                let balance = match &applied {
                    Some((balance_minor, won)) => {
                        for w in won {
                            let deps = &act.deps;
                            let (table, currency) = (&act.config.id, &act.config.currency);
                            deps.jackpots
                                .won(&deps.metrics, bet.player.as_str(), table, w, currency);
                        }
                        money_text(*balance_minor, &bet.amount)
                    }
                    None => {
                        tracing::error!(table = %table, bet = %bet.bet_id, "settlement not committed: the table's new node refunds it if the table moved, else recovery does");
                        continue;
                    }
                };
                let frame = ServerFrame::BetSettled {
                    table: table.clone(),
                    round_id: round_id.to_string(),
                    bet_id: bet.bet_id.to_string(),
                    kind: kind.to_string(),
                    amount: bet.amount.to_string(),
                    outcome: payout.outcome.to_string(),
                    returned: payout.returned.to_string(),
                    balance,
                    jackpot_wins: applied
                        .map(|(_, won)| Jackpots::views(&won, bet.amount.currency()))
                        .unwrap_or_default(),
                };
                let _ = bet.notify.push(Arc::from(frame.to_json()));
            }
            let returned = Money::from_minor(returned_minor, &act.config.currency)
                .map(|m| m.to_string())
                .unwrap_or_default();
            let frame = ServerFrame::RoundSettled {
                table: table.clone(),
                round_id: round_id.to_string(),
                bets: count,
                returned,
            };
            act.broadcast(&frame);
            act.money_done();
        }));
    }

    /// Voids the current round: every bet of it is refunded exactly once (`<bet>:refund`).
    pub(super) fn void_round(&mut self, cause: &'static str, ctx: &mut Context<Self>) {
        if self.book.is_closed() {
            return;
        }
        let bets = self.book.close();
        let round_id = self.book.round_id().clone();
        self.refund(round_id, bets, cause, ctx);
    }

    pub(super) fn refund(
        &mut self,
        round_id: RoundId,
        bets: Vec<PlacedBet<Pusher>>,
        cause: &'static str,
        ctx: &mut Context<Self>,
    ) {
        let table = self.config.id.clone();
        if bets.is_empty() {
            tracing::info!(table = %table, round = %round_id, cause, "round void (no bets)");
        } else {
            tracing::warn!(table = %table, round = %round_id, bets = bets.len(), cause, "round void: refunding every bet");
        }
        let m = self.deps.metrics.clone();
        m.tables.rounds.with_label_values(&[&table, "void"]).inc();
        m.wallet.rounds_voided.with_label_values(&[cause]).inc();
        let frame = ServerFrame::RoundVoid {
            table: table.clone(),
            round_id: round_id.to_string(),
            reason: cause.to_string(),
        };
        self.broadcast(&frame);
        let wallet = self.deps.wallet.clone();
        let fence = self.fence().cloned();
        let work: Vec<_> = bets
            .into_iter()
            .map(|bet| {
                let wallet = wallet.clone();
                let fence = fence.clone();
                async move {
                    let movement = Movement::VoidRound {
                        round_id: bet.bet_id.clone(),
                        player: bet.player.clone(),
                    }
                    .fenced(fence.as_ref());
                    let applied = apply_with_retries(&wallet, movement).await;
                    (bet, applied)
                }
            })
            .collect();
        self.money_in_flight += 1;
        ctx.spawn(join_all(work).into_actor(self).map(move |results, act, _ctx| {
            for (bet, applied) in results {
                let Some((balance_minor, _)) = applied else {
                    tracing::error!(table = %table, bet = %bet.bet_id, "refund not committed: the table's new node refunds it if the table moved, else recovery does");
                    continue;
                };
                let frame = ServerFrame::BetSettled {
                    table: table.clone(),
                    round_id: round_id.to_string(),
                    bet_id: bet.bet_id.to_string(),
                    kind: bet.bet.kind().to_string(),
                    amount: bet.amount.to_string(),
                    outcome: "void".to_string(),
                    returned: bet.amount.to_string(),
                    balance: money_text(balance_minor, &bet.amount),
                    jackpot_wins: Vec::new(),
                };
                let _ = bet.notify.push(Arc::from(frame.to_json()));
            }
            act.money_done();
        }));
    }

    pub(super) fn money_done(&mut self) {
        self.money_in_flight -= 1;
        if self.money_in_flight == 0 && self.stopped {
            for waiter in self.stop_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
        self.retired_if_done();
    }
}

/// Applies a settlement or refund, retrying transient failures: the balance after it and any
/// jackpot it paid, or `None` if it could not commit (start-up recovery refunds the open bet).
pub(super) async fn apply_with_retries(
    wallet: &WalletPool,
    movement: Movement,
) -> Option<(i64, Vec<JackpotWin>)> {
    for attempt in 1..=MONEY_ATTEMPTS {
        match wallet.apply(movement.clone()).await {
            Ok(Applied::RoundSettled {
                balance_minor,
                jackpot_wins,
                ..
            }) => return Some((balance_minor, jackpot_wins)),
            Ok(Applied::RoundVoided { balance_minor, .. }) => {
                return Some((balance_minor, Vec::new()))
            }
            Ok(other) => {
                tracing::error!(?other, "unexpected wallet answer to a table movement");
                return None;
            }
            Err(crate::wallet::WalletError::Refused(
                refused @ crate::wallet::MovementError::Fenced { .. },
            )) => {
                tracing::warn!(%refused, "table movement refused by the fence: this node no longer runs the table");
                return None;
            }
            Err(crate::wallet::WalletError::Refused(refused)) => {
                tracing::error!(%refused, "table movement refused by the ledger");
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, attempt, "table movement failed, retrying");
                tokio::time::sleep(MONEY_BACKOFF * attempt).await;
            }
        }
    }
    None
}
