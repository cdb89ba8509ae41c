//! `LiveTable`: one actor per table, a thin shell over the pure pieces. It feeds clock ticks
//! to the [`RoundMachine`], keeps the current round's [`RoundBook`], draws on an RNG shard,
//! settles with [`TableRules::settle`] through the wallet, and fans every event out to the
//! seated connections: each frame is serialised once and `try_send`-ed to every seat, so a
//! slow client costs one failed `try_send` and is then dropped; it never slows the table.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::future::join_all;
use tokio::sync::oneshot;

use super::book::{BookError, PlacedBet, RoundBook};
use super::config::TableConfig;
use super::round::{RoundMachine, Step};
use super::rules::{Drawn, TableBet, TableOutcome, TableRules};
use super::seat::{PushError, Pusher};
use crate::clock::now_ms;
use crate::games::baccarat::Shoe;
use crate::ids::{PlayerId, ReqId, RoundId};
use crate::jackpot::Jackpots;
use crate::metrics::Metrics;
use crate::money::Money;
use crate::protocol::{LimitView, PastRound, ServerFrame, TableBetView, TableView};
use crate::rng::RngPool;
use crate::wallet::{Applied, Fence, JackpotClaim, JackpotWin, Movement, WalletPool};

/// How often the table looks at the clock: phase changes land within this of their deadline.
pub const TICK: Duration = Duration::from_millis(50);
/// Past results a joining player is shown (the "road" on the table's board).
pub const RECENT_RESULTS: usize = 20;
/// Messages a table may hold queued (joins, bets, leaves) before callers get `server_busy`.
pub const TABLE_MAILBOX: usize = 4096;
/// Seats on a table configured with `max_seats = 0` ("unlimited" watchers): still bounded.
pub const UNLIMITED_SEATS: usize = super::config::MAX_SEATS as usize;
/// A settlement or refund is retried this often before it is left to start-up recovery.
const MONEY_ATTEMPTS: u32 = 5;
const MONEY_BACKOFF: Duration = Duration::from_millis(200);
/// How long a table taken over waits before its first round: the other nodes see the new
/// holder within a lease renewal and seat their players again, so every seated player gets
/// the first round's `betting_open` (a seat given back later still gets it, see [`SitDown`]).
pub const TAKEOVER_GRACE: Duration = Duration::from_millis(2_000);
/// Close reason sent to a client whose send queue filled up.
pub const TOO_FAR_BEHIND: &str = "too far behind the table";

/// What the wallet, the RNG and the metrics are to a table.
#[derive(Clone)]
pub struct TableDeps {
    pub wallet: WalletPool,
    pub rng: RngPool,
    pub metrics: Arc<Metrics>,
    pub jackpots: Arc<Jackpots>,
}

/// Why a table refused a request; each knows its client error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("betting is closed for this round")]
    BettingClosed,
    #[error("the table is full ({0} seats)")]
    Full(usize),
    #[error("join the table before betting")]
    NotSeated,
    #[error("{0}")]
    Book(#[from] BookError),
    #[error("the round settled before the bet's debit committed")]
    TooLate,
    #[error("the table is closed")]
    Stopped,
}

impl TableError {
    /// The client's error code.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        use crate::protocol::ErrorCode;
        match self {
            TableError::BettingClosed => ErrorCode::BettingClosed,
            TableError::Full(_) => ErrorCode::TableFull,
            TableError::NotSeated => ErrorCode::NotSeated,
            TableError::Book(e) => e.code(),
            TableError::TooLate => ErrorCode::RoundVoid,
            TableError::Stopped => ErrorCode::ServiceUnavailable,
        }
    }
}

struct Seat {
    player: PlayerId,
    pusher: Pusher,
}

/// Sits a connection at the table; the reply is the table as it is now.
#[derive(Message)]
#[rtype(result = "Result<Joined, TableError>")]
pub struct Join {
    pub player: PlayerId,
    pub pusher: Pusher,
    pub again: SitDown,
}

/// Who asks for a seat: the player (`join_table`, answered with the table's state), or the
/// cluster seating a player again at a table's new `LiveTable` after it moved or restarted.
/// A seat given back that way is pushed the round's `betting_open` when betting is open: the
/// player never got it (the round opened before the seat came back) and is answered nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SitDown {
    #[default]
    First,
    Again,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Joined {
    pub view: TableView,
    pub your_bets: Vec<TableBetView>,
    pub recent: Vec<PastRound>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub session_id: String,
}

/// Asks to place a bet in the current round (betting must be open and the caller seated).
#[derive(Message)]
#[rtype(result = "Result<Reserved, TableError>")]
pub struct Reserve {
    pub player: PlayerId,
    pub req_id: ReqId,
    pub bet: TableBet,
    pub amount: Money,
    pub pusher: Pusher,
}

#[derive(Debug, Clone)]
pub struct Reserved {
    pub round_id: RoundId,
    pub bet_id: RoundId,
}

/// The reserved bet's debit committed: it plays, or `TooLate` (the caller refunds it).
#[derive(Message)]
#[rtype(result = "Result<(), TableError>")]
pub struct Confirm {
    pub round_id: RoundId,
    pub bet_id: RoundId,
    /// Jackpot levels the bet claims (drawn by the caller when the debit committed).
    pub claims: Vec<JackpotClaim>,
}

/// The reserved bet's debit was refused or failed: it never played.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Cancel {
    pub round_id: RoundId,
    pub bet_id: RoundId,
}

#[derive(Message)]
#[rtype(result = "TableView")]
pub struct Describe;

/// Drops the seats of connections on nodes that are no longer alive (cluster mode).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PruneNodes {
    pub alive: std::collections::HashSet<String>,
}

/// What a table runs under in a cluster: the lease's fencing token, which every bet and
/// settlement carries to the ledger, and the outbox to the players seated on other nodes.
#[derive(Clone)]
pub struct Running {
    pub fence: Fence,
    pub outbox: super::seat::TableOutbox,
}

/// Stops the table: voids the round in flight (refunding every bet), waits for every
/// settlement and refund to commit, then answers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop {
    pub reason: &'static str,
    pub done: oneshot::Sender<()>,
}

pub struct LiveTable {
    config: Arc<TableConfig>,
    rules: TableRules,
    deps: TableDeps,
    machine: RoundMachine,
    book: RoundBook<Pusher>,
    bets_placed: u32,
    outcome: Option<TableOutcome>,
    draw_in_flight: bool,
    settle_when_drawn: bool,
    shoe: Option<Shoe>,
    seats: HashMap<Arc<str>, Seat>,
    recent: VecDeque<PastRound>,
    last_countdown: i64,
    /// Settlements and refunds whose money has not committed yet.
    money_in_flight: usize,
    stop_waiters: Vec<oneshot::Sender<()>>,
    stopped: bool,
    /// `None` on one node: no lease, no other nodes to reach.
    running: Option<Running>,
    remote_seats: usize,
}

/// The book of the round the machine starts in: open while betting is, closed (taking no
/// bet) while the machine waits for its first round.
fn first_book(machine: &RoundMachine, round_id: RoundId) -> RoundBook<Pusher> {
    let mut book = RoundBook::new(round_id);
    if machine.phase() != super::round::Phase::BettingOpen {
        book.close();
    }
    book
}

/// The ledger id of a table bet: `<table round id>-b<n>`, so every bet names its round.
pub fn bet_id(round_id: &RoundId, n: u32) -> RoundId {
    // A v7 UUID (36) + "-b" + at most 10 digits stays inside the 64-character id.
    RoundId::parse(&format!("{round_id}-b{n}")).unwrap_or_else(|_| RoundId::new_v7())
}

/// The table round a bet id belongs to (see [`bet_id`]).
pub fn round_of_bet(bet_id: &str) -> &str {
    bet_id.rsplit_once("-b").map_or(bet_id, |(round, _)| round)
}

fn money_text(minor: i64, like: &Money) -> String {
    crate::money::minor_text(minor, like.currency())
}

impl LiveTable {
    pub fn new(config: Arc<TableConfig>, deps: TableDeps) -> Self {
        Self::running(config, deps, None)
    }

    /// A table run under a cluster lease (`Some`), or alone on one node (`None`).
    ///
    /// Alone, the first round opens at once (nobody is seated yet). Under a lease the table
    /// has just been taken over, and the players seated on every node are being seated again:
    /// its first round opens [`TAKEOVER_GRACE`] later, so its `betting_open` reaches them.
    pub fn running(config: Arc<TableConfig>, deps: TableDeps, running: Option<Running>) -> Self {
        let machine = match running {
            None => RoundMachine::start(config.timings, 1, now_ms()).0,
            Some(_) => RoundMachine::start_after(config.timings, 1, now_ms(), TAKEOVER_GRACE),
        };
        let round_id = RoundId::new_v7();
        Self {
            rules: TableRules::of(&config),
            config,
            deps,
            book: first_book(&machine, round_id),
            machine,
            bets_placed: 0,
            outcome: None,
            draw_in_flight: false,
            settle_when_drawn: false,
            shoe: None,
            seats: HashMap::new(),
            recent: VecDeque::new(),
            last_countdown: -1,
            money_in_flight: 0,
            stop_waiters: Vec::new(),
            stopped: false,
            running,
            remote_seats: 0,
        }
    }

    fn fence(&self) -> Option<&Fence> {
        self.running.as_ref().map(|r| &r.fence)
    }

    fn count_seats(&mut self) {
        self.remote_seats = self
            .seats
            .values()
            .filter(|s| s.pusher.remote_node().is_some())
            .count();
        self.deps
            .metrics
            .tables
            .seated
            .with_label_values(&[&self.config.id])
            .set(self.seats.len() as i64);
    }

    fn id(&self) -> &str {
        &self.config.id
    }

    pub fn view(&self) -> TableView {
        let now = now_ms();
        TableView {
            id: self.config.id.clone(),
            game: self.config.game_name().to_string(),
            currency: self.config.currency.code().to_string(),
            round_id: self.book.round_id().to_string(),
            phase: if self.stopped {
                "closed".to_string()
            } else {
                self.machine.phase().as_str().to_string()
            },
            time_left_ms: self.machine.time_left_ms(now),
            seated: self.seats.len(),
            max_seats: self.config.max_seats,
            limits: self
                .config
                .limits
                .iter()
                .map(|(kind, l)| {
                    let view = LimitView {
                        min: l.min.to_string(),
                        max: l.max.to_string(),
                    };
                    (kind.clone(), view)
                })
                .collect(),
        }
    }

    /// Serialises `frame` once and offers it to every seat. A seat whose queue is full is
    /// dropped with a close reason; its bets still settle (the ledger does not need it).
    fn broadcast(&mut self, frame: &ServerFrame) {
        let started = Instant::now();
        let text: Arc<str> = Arc::from(frame.to_json());
        let mut dropped = Vec::new();
        if self.remote_seats > 0 {
            if let Some(running) = &self.running {
                running.outbox.send_all(text.clone());
            }
        }
        for (session, seat) in &self.seats {
            if seat.pusher.remote_node().is_some() {
                continue;
            }
            match seat.pusher.push(text.clone()) {
                Ok(()) => {}
                Err(PushError::Full) => {
                    seat.pusher.kick(TOO_FAR_BEHIND);
                    dropped.push((session.clone(), true));
                }
                Err(PushError::Gone) => dropped.push((session.clone(), false)),
            }
        }
        let m = &self.deps.metrics;
        m.server
            .ws_messages_sent
            .inc_by((self.seats.len() - self.remote_seats) as u64);
        let recount = !dropped.is_empty();
        for (session, slow) in dropped {
            self.seats.remove(&session);
            if slow {
                m.tables
                    .slow_clients_dropped
                    .with_label_values(&[&self.config.id])
                    .inc();
            }
        }
        if recount {
            self.count_seats();
        }
        let m = &self.deps.metrics;
        m.tables
            .broadcast_seconds
            .with_label_values(&[&self.config.id])
            .observe(started.elapsed().as_secs_f64());
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.stopped {
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
        if self.machine.phase() == super::round::Phase::BettingOpen {
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

    fn run_step(&mut self, step: Step, ctx: &mut Context<Self>) {
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
            }
        }
    }

    fn open_round(&mut self, closes_at_ms: i64, ctx: &mut Context<Self>) {
        if !self.book.is_closed() {
            // The previous round never reached settlement (its draw is stuck): refund it.
            self.void_round("draw_timeout", ctx);
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
    fn betting_open_frame(&self, closes_at_ms: i64, now: i64) -> ServerFrame {
        ServerFrame::BettingOpen {
            table: self.config.id.clone(),
            round_id: self.book.round_id().to_string(),
            closes_at: closes_at_ms,
            closes_in_ms: (closes_at_ms - now).max(0),
        }
    }

    /// The current round's `betting_open`, while betting is open and the round takes bets.
    fn betting_open_now(&self) -> Option<ServerFrame> {
        let now = now_ms();
        let closes_at_ms = self.machine.phase_ends_at_ms();
        let open = self.machine.phase() == super::round::Phase::BettingOpen
            && !self.book.is_closed()
            && now < closes_at_ms;
        open.then(|| self.betting_open_frame(closes_at_ms, now))
    }

    fn draw(&mut self, ctx: &mut Context<Self>) {
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
                    }
                }
                Err(error) => {
                    tracing::error!(table = act.id(), round = %round_id, %error, "draw failed");
                    act.void_round("rng_unavailable", ctx);
                }
            }
        }));
    }

    /// Pays the round: closes the book, computes every payout (pure), credits them through
    /// the wallet (group commit batches them), then tells each bettor and everyone.
    fn settle(&mut self, ctx: &mut Context<Self>) {
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
    fn void_round(&mut self, cause: &'static str, ctx: &mut Context<Self>) {
        if self.book.is_closed() {
            return;
        }
        let bets = self.book.close();
        let round_id = self.book.round_id().clone();
        self.refund(round_id, bets, cause, ctx);
    }

    fn refund(
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

    fn money_done(&mut self) {
        self.money_in_flight -= 1;
        if self.money_in_flight == 0 && self.stopped {
            for waiter in self.stop_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }
}

/// Applies a settlement or refund, retrying transient failures: the balance after it and any
/// jackpot it paid, or `None` if it could not commit (start-up recovery refunds the open bet).
async fn apply_with_retries(
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

impl Actor for LiveTable {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(TABLE_MAILBOX);
        self.deps
            .metrics
            .tables
            .seated
            .with_label_values(&[&self.config.id])
            .set(0);
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
    }
}

impl Handler<Join> for LiveTable {
    type Result = Result<Joined, TableError>;

    fn handle(&mut self, msg: Join, _ctx: &mut Self::Context) -> Self::Result {
        if self.stopped {
            return Err(TableError::Stopped);
        }
        let capacity = match self.config.max_seats {
            0 => UNLIMITED_SEATS,
            seats => seats as usize,
        };
        let session = msg.pusher.session_id.clone();
        if !self.seats.contains_key(&session) && self.seats.len() >= capacity {
            return Err(TableError::Full(capacity));
        }
        let your_bets = self
            .book
            .bets_of(&msg.player)
            .map(|b| {
                let spec = b.bet.spec();
                TableBetView {
                    bet_id: b.bet_id.to_string(),
                    kind: b.bet.kind().to_string(),
                    numbers: serde_json::from_value(spec["numbers"].clone()).unwrap_or_default(),
                    amount: b.amount.to_string(),
                    status: if self.book.confirmed().iter().any(|c| c.bet_id == b.bet_id) {
                        "accepted".into()
                    } else {
                        "pending".into()
                    },
                }
            })
            .collect();
        if msg.again == SitDown::Again {
            if let Some(open) = self.betting_open_now() {
                let _ = msg.pusher.push(Arc::from(open.to_json()));
            }
        }
        self.seats.insert(
            session,
            Seat {
                player: msg.player,
                pusher: msg.pusher,
            },
        );
        self.count_seats();
        Ok(Joined {
            view: self.view(),
            your_bets,
            recent: self.recent.iter().cloned().collect(),
        })
    }
}

impl Handler<Leave> for LiveTable {
    type Result = ();

    fn handle(&mut self, msg: Leave, _ctx: &mut Self::Context) {
        self.seats.remove(msg.session_id.as_str());
        self.count_seats();
    }
}

impl Handler<PruneNodes> for LiveTable {
    type Result = ();

    fn handle(&mut self, msg: PruneNodes, _ctx: &mut Self::Context) {
        self.seats.retain(|_, seat| {
            seat.pusher
                .remote_node()
                .map_or(true, |node| msg.alive.contains(node))
        });
        self.count_seats();
    }
}

impl Handler<Reserve> for LiveTable {
    type Result = Result<Reserved, TableError>;

    fn handle(&mut self, msg: Reserve, _ctx: &mut Self::Context) -> Self::Result {
        if self.stopped {
            return Err(TableError::Stopped);
        }
        self.machine
            .accept_bet(now_ms())
            .map_err(|_| TableError::BettingClosed)?;
        match self.seats.get(&msg.pusher.session_id) {
            Some(seat) if seat.player == msg.player => {}
            _ => return Err(TableError::NotSeated),
        }
        self.bets_placed += 1;
        let round_id = self.book.round_id().clone();
        let bet_id = bet_id(&round_id, self.bets_placed);
        self.book.reserve(PlacedBet {
            bet_id: bet_id.clone(),
            player: msg.player,
            req_id: msg.req_id,
            bet: msg.bet,
            amount: msg.amount,
            notify: msg.pusher,
            claims: Vec::new(),
        })?;
        Ok(Reserved { round_id, bet_id })
    }
}

impl Handler<Confirm> for LiveTable {
    type Result = Result<(), TableError>;

    fn handle(&mut self, msg: Confirm, _ctx: &mut Self::Context) -> Self::Result {
        if self.book.round_id() != &msg.round_id {
            return Err(TableError::TooLate);
        }
        let bet = self
            .book
            .confirm(&msg.bet_id, msg.claims)
            .map_err(|_| TableError::TooLate)?;
        let m = &self.deps.metrics;
        m.tables
            .bets
            .with_label_values(&[&self.config.id, bet.bet.kind()])
            .inc();
        m.tables
            .bet_minor
            .with_label_values(&[&self.config.id, bet.bet.kind()])
            .inc_by(bet.amount.minor().max(0) as u64);
        Ok(())
    }
}

impl Handler<Cancel> for LiveTable {
    type Result = ();

    fn handle(&mut self, msg: Cancel, _ctx: &mut Self::Context) {
        if self.book.round_id() == &msg.round_id {
            self.book.cancel(&msg.bet_id);
        }
    }
}

impl Handler<Describe> for LiveTable {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _msg: Describe, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.view())
    }
}

impl Handler<Stop> for LiveTable {
    type Result = ();

    fn handle(&mut self, msg: Stop, ctx: &mut Self::Context) {
        if !self.stopped {
            self.stopped = true;
            self.void_round(msg.reason, ctx);
        }
        if self.money_in_flight == 0 {
            let _ = msg.done.send(());
        } else {
            self.stop_waiters.push(msg.done);
        }
    }
}
