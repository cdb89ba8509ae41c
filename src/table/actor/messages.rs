//! What sessions and the cluster ask of a `LiveTable` (join, leave, reserve, confirm, cancel,
//! describe, prune, stop), and how the table answers each.

use super::*;

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
    /// The connection whose seat goes.
    pub connection: String,
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
    /// The draws they came from, kept with the bet's round at settlement.
    pub draws: Vec<LevelDraw>,
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

/// Stops the table: voids the round in flight (refunding every bet), waits for every
/// settlement and refund to commit, then answers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop {
    pub reason: &'static str,
    pub done: oneshot::Sender<()>,
}

/// A reload changed the table's config (same id, game and currency): it holds from the
/// table's next round.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconfigure {
    pub config: Arc<TableConfig>,
}

/// A reload removed the table: it takes no new player, settles the round under way (its bets
/// are paid as usual, never refunded for this), tells its seats `table_closed` and stops;
/// `done` is told once its money has committed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire {
    pub done: oneshot::Sender<()>,
}

impl Handler<Reconfigure> for LiveTable {
    type Result = ();

    fn handle(&mut self, msg: Reconfigure, _ctx: &mut Self::Context) {
        self.pending = Some(msg.config);
        self.between_rounds();
    }
}

impl Handler<Retire> for LiveTable {
    type Result = ();

    fn handle(&mut self, msg: Retire, _ctx: &mut Self::Context) {
        if self.stopped && self.retire_waiters.is_none() {
            // Stopped already (shutdown, a lost lease): nothing left to settle here.
            let _ = msg.done.send(());
            return;
        }
        self.retire_waiters
            .get_or_insert_with(Vec::new)
            .push(msg.done);
        self.between_rounds();
        self.retired_if_done();
    }
}

impl Handler<Join> for LiveTable {
    type Result = Result<Joined, TableError>;

    fn handle(&mut self, msg: Join, _ctx: &mut Self::Context) -> Self::Result {
        if self.stopped || self.retire_waiters.is_some() {
            return Err(TableError::Stopped);
        }
        let capacity = match self.config.max_seats {
            0 => UNLIMITED_SEATS,
            seats => seats as usize,
        };
        let session = msg.pusher.connection.clone();
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
        self.seats.remove(msg.connection.as_str());
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
        match self.seats.get(&msg.pusher.connection) {
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
            draws: Vec::new(),
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
            .confirm(&msg.bet_id, msg.claims, msg.draws)
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
