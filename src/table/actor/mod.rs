//! `LiveTable`: one actor per table, a thin shell over the pure pieces. It feeds clock ticks
//! to the [`RoundMachine`], keeps the current round's [`RoundBook`], draws on an RNG shard,
//! settles with [`TableRules::settle`] through the wallet, and fans every event out to the
//! seated connections: each frame is serialised once and `try_send`-ed to every seat, so a
//! slow client costs one failed `try_send` and is then dropped; it never slows the table.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the actor's state, seats, views and the fan-out |
//! | `round.rs` | the clock: ticks, phase changes, opening a round, the draw |
//! | `settle.rs` | money: settling, voiding and refunding through the wallet, with retries |
//! | `messages.rs` | what sessions and the cluster ask of the table, and the answers |

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::future::join_all;
use tokio::sync::oneshot;

mod messages;
mod round;
mod settle;

pub use messages::{
    Cancel, Confirm, Describe, Join, Joined, Leave, PruneNodes, Reconfigure, Reserve, Reserved,
    Retire, SitDown, Stop,
};

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
use crate::wallet::{Applied, Fence, JackpotClaim, JackpotWin, LevelDraw, Movement, WalletPool};

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

/// What a table runs under in a cluster: the lease's fencing token, which every bet and
/// settlement carries to the ledger, and the outbox to the players seated on other nodes.
#[derive(Clone)]
pub struct Running {
    pub fence: Fence,
    pub outbox: super::seat::TableOutbox,
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
    /// Where the node's registry reads the table's config: set when a new config takes hold.
    shown: Option<Arc<arc_swap::ArcSwap<TableConfig>>>,
    /// A reload's config, taken when the round under way has settled.
    pending: Option<Arc<TableConfig>>,
    /// A reload removed the table: it stops once the round under way has settled, and these
    /// are told when its money has committed.
    retire_waiters: Option<Vec<oneshot::Sender<()>>>,
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
            shown: None,
            pending: None,
            retire_waiters: None,
        }
    }

    /// The table keeps `cell` (its registry's view of its config) up to date.
    pub fn showing(mut self, cell: Arc<arc_swap::ArcSwap<TableConfig>>) -> Self {
        self.shown = Some(cell);
        self
    }

    /// Between rounds (the book closed: every bet of the round settled or refunded), takes a
    /// reload's pending config, or stops a retired table. The config's id, game and currency
    /// are the table's own (the reload checked): only limits, seats, timings and commission
    /// change, from the next round on.
    fn between_rounds(&mut self) {
        if !self.book.is_closed() {
            return;
        }
        if let Some(config) = self.pending.take() {
            tracing::info!(
                table = self.id(),
                "new table config in force from the next round"
            );
            self.rules = TableRules::of(&config);
            self.machine.retime(config.timings);
            self.config = config.clone();
            if let Some(cell) = &self.shown {
                cell.store(config);
            }
        }
        if self.retire_waiters.is_some() && !self.stopped {
            tracing::info!(
                table = self.id(),
                "table removed: its last round is settling"
            );
            self.stopped = true;
            self.retired_if_done();
        }
    }

    /// Once a retired table's last money has committed (its players have had their
    /// settlements): tells its seats `table_closed`, lets them go and tells the waiters.
    fn retired_if_done(&mut self) {
        let Some(waiters) = self.retire_waiters.as_mut() else {
            return;
        };
        if !self.stopped || self.money_in_flight > 0 {
            return;
        }
        let waiters = std::mem::take(waiters);
        if !self.seats.is_empty() {
            let frame = ServerFrame::TableClosed {
                table: self.config.id.clone(),
                reason: "removed".to_string(),
            };
            self.broadcast(&frame);
            self.seats.clear();
            self.count_seats();
        }
        for waiter in waiters {
            let _ = waiter.send(());
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
            stream_url: self.config.stream_url.clone(),
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
