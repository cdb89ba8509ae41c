//! Live tables across nodes. Each table runs on exactly one node at a time, the one holding its
//! lease ([`crate::cluster::lease`]); every other node relays.
//!
//! ```text
//!  node B (player seated)                          node A (holds the lease, runs LiveTable)
//!  join / table_bet ── ask  croupier:table:<id>:ask ──▶ ask server: the same join / bet code,
//!                                                      with a remote seat for B's connection
//!  request's reply  ◀─ answer croupier:node:<B> ─────── answer
//!  relay ──▶ B's seated connections ◀─ croupier:table:<id> ── outbox: broadcasts once per event,
//!                                                      personal frames (bet_settled) by session
//! ```
//!
//! Each node runs, per table, a lease task: the holder renews; the others try to take a free
//! lease every [`LEASE_RENEW_EVERY`]. Taking a table means: raise its fencing token in the
//! ledger (the old holder's bets and settlements are refused from then on), void and refund
//! every bet the old holder left open (`owner_lost`), start the `LiveTable`, and seat this
//! node's own connections. A holder that cannot renew for a lease period stops its table. The
//! other nodes notice the new holder and seat their connections there again.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::actor::{self, Running, SitDown};
use super::{LocalSeat, Run, TableSlot};
use crate::app::App;
use crate::cluster::lease::{Holder, TAKING};
use crate::cluster::{Bus, ClusterError, Leases, Seal, LEASE_RENEW_EVERY};
use crate::ids::{PlayerId, ReqId};
use crate::metrics::Metrics;
use crate::money::Money;
use crate::protocol::{ErrorCode, ServerFrame};
use crate::session::{Caller, PushError, Pusher};
use crate::wallet::{Applied, Fence, Movement, RoundRecord};

/// Longest a node waits for the table's node to answer an ask: then `server_busy`.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(3);
/// Asks one node may have waiting for answers; past this, `server_busy`.
pub const MAX_PENDING_ASKS: usize = 10_000;
/// Asks one table's node serves at once; past this the asker gets `server_busy`.
pub const ASKS_IN_FLIGHT: usize = 512;
/// Frames a table's outbox holds for the bus; a burst past this is dropped (the remote
/// players miss that event, like a local player whose queue is full).
pub const OUTBOX_QUEUE: usize = 8192;
/// Frames published per round trip by an outbox.
const OUTBOX_BATCH: usize = 256;
/// Every this many lease renewals, the holder drops the seats of nodes that died.
const PRUNE_EVERY_RENEWALS: u64 = 5;
/// Attempts to seat a connection again at a table's new node (it may still be taking over).
const RESEAT_ATTEMPTS: u32 = 20;
const RESEAT_BACKOFF: Duration = Duration::from_millis(250);

pub fn table_channel(table: &str) -> String {
    format!("table:{table}")
}
pub fn ask_channel(table: &str) -> String {
    format!("table:{table}:ask")
}
pub fn node_channel(node: &str) -> String {
    format!("node:{node}")
}

/// The bus channels a node with these tables listens on.
pub fn channels(node: &str, tables: &[String]) -> Vec<String> {
    let mut all = vec![node_channel(node)];
    for t in tables {
        all.push(table_channel(t));
        all.push(ask_channel(t));
    }
    all
}

/// What one node asks of the node running a table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AskOp {
    Join {
        player: PlayerId,
        session: String,
        /// The cluster seating the player again (a node of the previous build sends none).
        #[serde(default)]
        again: SitDown,
    },
    Leave {
        session: String,
    },
    Bet {
        player: PlayerId,
        currency: String,
        session: String,
        req_id: ReqId,
        kind: String,
        numbers: Vec<u8>,
        amount: String,
    },
    Describe,
}

impl AskOp {
    /// The ask's kind, as labelled in the metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            AskOp::Join { .. } => "join",
            AskOp::Leave { .. } => "leave",
            AskOp::Bet { .. } => "bet",
            AskOp::Describe => "describe",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Ask {
    id: String,
    from: String,
    to: String,
    #[serde(flatten)]
    op: AskOp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RemoteError {
    code: ErrorCode,
    message: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    id: String,
    #[serde(default)]
    ok: Option<serde_json::Value>,
    #[serde(default)]
    err: Option<RemoteError>,
}

/// Why an ask got no useful answer.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("the table's node did not answer in time; retry with the same req_id")]
    NoAnswer,
    #[error("too many requests waiting on other nodes; retry")]
    TooMany,
    #[error("cannot reach the other nodes: {0}")]
    Bus(#[from] ClusterError),
    #[error("{message}")]
    Remote { code: ErrorCode, message: String },
}

impl AskError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AskError::NoAnswer | AskError::TooMany => ErrorCode::ServerBusy,
            AskError::Bus(e) => e.code(),
            AskError::Remote { code, .. } => *code,
        }
    }
}

/// A table's way to the players seated on other nodes: frames queued here are published on
/// the table's channel by one task, in order, batched. Never waits.
#[derive(Clone)]
pub struct TableOutbox(mpsc::Sender<(Arc<str>, Arc<str>)>);

const TO_EVERYONE: &str = "*";
/// Prefix of an address naming a player (every seat of theirs), not a session.
const TO_PLAYER: &str = "player:";

impl TableOutbox {
    /// Starts the outbox of `table` on `bus`; it ends when the last sender is dropped.
    pub fn start(bus: Bus, node: Arc<str>, seal: Seal, table: &str) -> TableOutbox {
        let (tx, mut rx) = mpsc::channel::<(Arc<str>, Arc<str>)>(OUTBOX_QUEUE);
        let channel = table_channel(table);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < OUTBOX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let messages: Vec<Arc<str>> = batch
                    .iter()
                    .map(|(to, text)| Arc::from(seal.seal(&format!("{node}\t{to}\t{text}"))))
                    .collect();
                if let Err(error) = bus.publish_on(&channel, &messages).await {
                    tracing::warn!(%error, frames = messages.len(), table = %channel, "table events not published to other nodes");
                }
            }
        });
        TableOutbox(tx)
    }

    pub fn send_all(&self, text: Arc<str>) {
        let _ = self.0.try_send((Arc::from(TO_EVERYONE), text));
    }

    /// To every seat `player` holds at the table, on every other node.
    pub fn send_to_player(&self, player: &PlayerId, text: Arc<str>) {
        let to: Arc<str> = Arc::from(format!("{TO_PLAYER}{player}"));
        let _ = self.0.try_send((to, text));
    }

    pub fn send_to(&self, session: &Arc<str>, text: Arc<str>) -> Result<(), PushError> {
        self.0
            .try_send((session.clone(), text))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => PushError::Full,
                mpsc::error::TrySendError::Closed(_) => PushError::Gone,
            })
    }
}

/// A node's part in running tables across the cluster.
pub struct TableCluster {
    pub node: Arc<str>,
    bus: Bus,
    seal: Seal,
    metrics: Arc<Metrics>,
    leases: Box<dyn Leases>,
    pending: DashMap<String, oneshot::Sender<Answer>>,
    taking: AtomicBool,
}

impl TableCluster {
    /// `seal` signs and checks every message between the nodes (see [`Seal`]).
    pub fn new(
        node: Arc<str>,
        bus: Bus,
        leases: Box<dyn Leases>,
        seal: Seal,
        metrics: Arc<Metrics>,
    ) -> Arc<TableCluster> {
        Arc::new(TableCluster {
            node,
            bus,
            seal,
            leases,
            metrics,
            pending: DashMap::new(),
            taking: AtomicBool::new(true),
        })
    }

    /// Stops taking leases (drain, shutdown): the tables go to the other nodes.
    pub fn stop_taking(&self) {
        self.taking.store(false, Ordering::Release);
    }

    fn taking(&self) -> bool {
        self.taking.load(Ordering::Acquire)
    }

    pub async fn release(&self, table: &str, token: i64) {
        if let Err(error) = self.leases.release(table, &self.node, token).await {
            tracing::warn!(%error, table, "lease not released; it expires by itself");
        }
    }

    /// Asks `node` (running `table`) and waits, bounded, for its answer; counted in
    /// `croupier_table_asks_total` by kind and outcome.
    pub async fn ask(
        &self,
        table: &str,
        node: &str,
        op: AskOp,
    ) -> Result<serde_json::Value, AskError> {
        let kind = op.kind();
        let result = self.ask_once(table, node, op).await;
        let outcome = match &result {
            Ok(_) => "answered",
            Err(AskError::Remote { .. }) => "refused",
            Err(AskError::NoAnswer) => "no_answer",
            Err(AskError::TooMany) => "too_many",
            Err(AskError::Bus(_)) => "unreachable",
        };
        self.metrics
            .table_asks
            .with_label_values(&[table, kind, outcome])
            .inc();
        result
    }

    async fn ask_once(
        &self,
        table: &str,
        node: &str,
        op: AskOp,
    ) -> Result<serde_json::Value, AskError> {
        if self.pending.len() >= MAX_PENDING_ASKS {
            return Err(AskError::TooMany);
        }
        let id = uuid::Uuid::now_v7().to_string();
        let (tx, rx) = oneshot::channel();
        self.pending.insert(id.clone(), tx);
        if let Err(e) = self.send_ask(table, node, id.clone(), op).await {
            self.pending.remove(&id);
            return Err(e.into());
        }
        let answer = tokio::time::timeout(ASK_TIMEOUT, rx).await;
        self.pending.remove(&id);
        match answer {
            Ok(Ok(Answer {
                ok: Some(value), ..
            })) => Ok(value),
            Ok(Ok(Answer {
                err: Some(RemoteError { code, message }),
                ..
            })) => Err(AskError::Remote { code, message }),
            _ => Err(AskError::NoAnswer),
        }
    }

    /// Tells `node` something that needs no answer (a player left).
    pub async fn tell(&self, table: &str, node: &str, op: AskOp) {
        let _ = self.send_ask(table, node, String::new(), op).await;
    }

    /// Publishes an ask (an empty `id`: a tell) on the table's ask channel, sealed.
    async fn send_ask(
        &self,
        table: &str,
        node: &str,
        id: String,
        op: AskOp,
    ) -> Result<(), ClusterError> {
        let ask = Ask {
            id,
            from: self.node.to_string(),
            to: node.to_string(),
            op,
        };
        self.bus
            .publish_on(&ask_channel(table), &[self.sealed(&ask)])
            .await
    }

    async fn answer(&self, to: &str, answer: Answer) {
        let text = self.sealed(&answer);
        if let Err(error) = self.bus.publish_on(&node_channel(to), &[text]).await {
            tracing::warn!(%error, to, "answer to another node not sent");
        }
    }

    fn sealed(&self, message: &impl Serialize) -> Arc<str> {
        Arc::from(
            self.seal
                .seal(&serde_json::to_string(message).unwrap_or_default()),
        )
    }
}

/// The body of a message from another node, or `None` (logged) when its seal is wrong: a
/// node with another `auth.secret`, or someone else publishing on the cluster's Redis.
fn opened<'a>(seal: &Seal, text: &'a str) -> Option<&'a str> {
    let body = seal.open(text);
    if body.is_none() {
        tracing::warn!(bytes = text.len(), "message on the cluster bus with a wrong seal ignored (same auth.secret on every node?)");
    }
    body
}

/// Starts this node's cluster tasks for every table: answers, relays, ask servers and leases.
/// They end when the node shuts down.
pub fn start(app: Arc<App>) {
    let Some(cluster) = app.tables.cluster().cloned() else {
        return;
    };
    tokio::spawn(receive_answers(app.clone(), cluster.clone()));
    let ids: Vec<String> = app.tables.ids().map(str::to_string).collect();
    for id in ids {
        tokio::spawn(relay(app.clone(), cluster.clone(), id.clone()));
        tokio::spawn(serve_asks(app.clone(), cluster.clone(), id.clone()));
        tokio::spawn(hold_lease(app.clone(), cluster.clone(), id));
    }
}

/// The next message of a bus channel, or `None` once the node shuts down. Messages a slow
/// reader missed are counted in the log as `what` and skipped.
async fn next_message(
    app: &App,
    rx: &mut tokio::sync::broadcast::Receiver<Arc<str>>,
    what: &str,
) -> Option<Arc<str>> {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            _ = app.shutdown.cancelled() => return None,
            next = rx.recv() => match next {
                Ok(text) => return Some(text),
                Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, what, "bus messages skipped"),
                Err(RecvError::Closed) => return None,
            },
        }
    }
}

async fn receive_answers(app: Arc<App>, cluster: Arc<TableCluster>) {
    let Some(mut answers) = cluster.bus.listen(&node_channel(&cluster.node)) else {
        return;
    };
    while let Some(text) = next_message(&app, &mut answers, "answers (their asks time out)").await {
        let Some(body) = opened(&cluster.seal, &text) else {
            continue;
        };
        if let Ok(answer) = serde_json::from_str::<Answer>(body) {
            if let Some((_, waiting)) = cluster.pending.remove(&answer.id) {
                let _ = waiting.send(answer);
            }
        }
    }
}

/// Delivers the table's events published by the node running it to this node's seats.
async fn relay(app: Arc<App>, cluster: Arc<TableCluster>, id: String) {
    let (Some(slot), Some(mut events)) =
        (app.tables.get(&id), cluster.bus.listen(&table_channel(&id)))
    else {
        return;
    };
    while let Some(text) = next_message(&app, &mut events, "table events").await {
        let Some(body) = opened(&cluster.seal, &text) else {
            continue;
        };
        let mut parts = body.splitn(3, '\t');
        let (Some(from), Some(to), Some(frame)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if from == cluster.node.as_ref() || matches!(slot.run(), Run::Here { .. }) {
            continue; // this node's own events reach its seats directly
        }
        let frame: Arc<str> = Arc::from(frame);
        let addressed = |seat: &LocalSeat| match to.strip_prefix(TO_PLAYER) {
            _ if to == TO_EVERYONE => true,
            Some(player) => seat.player.as_str() == player,
            None => seat.pusher.session_id.as_ref() == to,
        };
        for seat in slot.local_seats().into_iter().filter(addressed) {
            match seat.pusher.push(frame.clone()) {
                Ok(()) => app.metrics.ws_messages_sent.inc(),
                Err(PushError::Full) => {
                    seat.pusher.kick(actor::TOO_FAR_BEHIND);
                    slot.remove_seat(&seat.pusher.session_id);
                    app.metrics
                        .table_slow_clients_dropped
                        .with_label_values(&[&id])
                        .inc();
                }
                Err(PushError::Gone) => {
                    slot.remove_seat(&seat.pusher.session_id);
                }
            }
        }
    }
}

/// Serves other nodes' asks while this node runs the table.
async fn serve_asks(app: Arc<App>, cluster: Arc<TableCluster>, id: String) {
    let Some(mut asks) = cluster.bus.listen(&ask_channel(&id)) else {
        return;
    };
    let in_flight = Arc::new(Semaphore::new(ASKS_IN_FLIGHT));
    while let Some(text) = next_message(&app, &mut asks, "asks (their askers time out)").await {
        let Some(ask) =
            opened(&cluster.seal, &text).and_then(|b| serde_json::from_str::<Ask>(b).ok())
        else {
            continue;
        };
        if ask.to != cluster.node.as_ref() {
            continue;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            let err = RemoteError {
                code: ErrorCode::ServerBusy,
                message: "the table's node is busy; retry".into(),
            };
            let answer = Answer {
                id: ask.id,
                ok: None,
                err: Some(err),
            };
            cluster.answer(&ask.from, answer).await;
            continue;
        };
        let (app, cluster, id) = (app.clone(), cluster.clone(), id.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let (asker, ask_id) = (ask.from.clone(), ask.id.clone());
            let result = serve_ask(&app, &id, ask).await;
            if ask_id.is_empty() {
                return; // a tell
            }
            let answer = match result {
                Ok(value) => Answer {
                    id: ask_id,
                    ok: Some(value),
                    err: None,
                },
                Err(err) => Answer {
                    id: ask_id,
                    ok: None,
                    err: Some(err),
                },
            };
            cluster.answer(&asker, answer).await;
        });
    }
}

async fn serve_ask(app: &App, id: &str, ask: Ask) -> Result<serde_json::Value, RemoteError> {
    let not_here = || RemoteError {
        code: ErrorCode::ServerBusy,
        message: "the table is moving to another node; retry".into(),
    };
    let slot = app.tables.get(id).ok_or_else(not_here)?;
    let Run::Here {
        addr,
        running: Some(running),
    } = slot.run()
    else {
        return Err(not_here());
    };
    let remote = |session: &str| Pusher::remote(session, &ask.from, running.outbox.clone());
    let to_value = |v: Result<serde_json::Value, serde_json::Error>| {
        v.map_err(|e| RemoteError {
            code: ErrorCode::Internal,
            message: e.to_string(),
        })
    };
    match ask.op {
        AskOp::Join {
            player,
            session,
            again,
        } => {
            let join = actor::Join {
                player,
                pusher: remote(&session),
                again,
            };
            match tokio::time::timeout(super::TABLE_REPLY_TIMEOUT, addr.send(join)).await {
                Ok(Ok(Ok(joined))) => to_value(serde_json::to_value(joined)),
                Ok(Ok(Err(e))) => {
                    let e = crate::session::PlayError::from(e);
                    Err(RemoteError {
                        code: e.code(),
                        message: e.to_string(),
                    })
                }
                _ => Err(not_here()),
            }
        }
        AskOp::Leave { session } => {
            let _ = addr.try_send(actor::Leave {
                session_id: session,
            });
            Ok(serde_json::Value::Null)
        }
        AskOp::Describe => {
            match tokio::time::timeout(super::TABLE_REPLY_TIMEOUT, addr.send(actor::Describe)).await
            {
                Ok(Ok(view)) => to_value(serde_json::to_value(view)),
                _ => Err(not_here()),
            }
        }
        AskOp::Bet {
            player,
            currency,
            session,
            req_id,
            kind,
            numbers,
            amount,
        } => {
            let currency = app.currencies.get(&currency).map_err(|e| RemoteError {
                code: ErrorCode::WrongCurrency,
                message: e.to_string(),
            })?;
            let caller = Caller {
                player,
                currency,
                session_id: session.clone(),
            };
            let request = crate::session::tables::BetRequest {
                table: id,
                kind: &kind,
                numbers: &numbers,
                amount: &amount,
            };
            let reply = crate::session::tables::bet_for_remote(
                app,
                slot,
                &caller,
                &remote(&session),
                &req_id,
                request,
            )
            .await;
            to_value(serde_json::to_value(reply))
        }
    }
}

/// The table's lease, as seen from this node: renew it while running the table; otherwise
/// take it when it is free, or follow whoever holds it.
async fn hold_lease(app: Arc<App>, cluster: Arc<TableCluster>, id: String) {
    let Some(slot) = app.tables.get(&id) else {
        return;
    };
    let ttl = cluster.leases.ttl();
    let mut ticker = tokio::time::interval(LEASE_RENEW_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_renewed = Instant::now();
    let mut renewals = 0u64;
    let mut warned = false;
    loop {
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match slot.run() {
            Run::Here {
                addr,
                running: Some(running),
            } => match cluster
                .leases
                .renew(&id, &cluster.node, running.fence.token)
                .await
            {
                Ok(true) => {
                    last_renewed = Instant::now();
                    renewals += 1;
                    if renewals % PRUNE_EVERY_RENEWALS == 0 {
                        if let Ok(nodes) = app.shared.nodes().await {
                            let alive: HashSet<String> =
                                nodes.into_iter().map(|n| n.node).collect();
                            let _ = addr.try_send(actor::PruneNodes { alive });
                        }
                    }
                }
                Ok(false) => give_up(&app, slot, &addr, "the lease was taken by another node"),
                Err(error) => {
                    // Past the lease period another node may hold the table: stop now.
                    if last_renewed.elapsed() + LEASE_RENEW_EVERY >= ttl {
                        give_up(&app, slot, &addr, "redis unreachable for a lease period");
                    } else {
                        tracing::warn!(%error, table = %id, "lease not renewed; retrying");
                    }
                }
            },
            Run::Here { running: None, .. } => return, // one node: nothing to hold
            current => {
                if !cluster.taking() {
                    continue;
                }
                match cluster.leases.acquire(&id, &cluster.node).await {
                    Ok(true) => {
                        warned = false;
                        if take_over(&app, &cluster, slot).await {
                            last_renewed = Instant::now();
                        }
                    }
                    Ok(false) => match cluster.leases.holder(&id).await {
                        Ok(Some(holder)) => follow(&app, slot, current, holder),
                        Ok(None) => {}
                        Err(error) => tracing::debug!(%error, table = %id, "lease holder unknown"),
                    },
                    Err(error) => {
                        if !warned {
                            tracing::warn!(%error, table = %id, "cannot look at the table's lease");
                            warned = true;
                        }
                    }
                }
            }
        }
    }
}

/// This node lost the table: stop running it (its refunds are fenced: the new holder's void
/// wins), and let the lease task find the new holder.
fn give_up(app: &App, slot: &TableSlot, addr: &actix::Addr<super::LiveTable>, why: &str) {
    tracing::warn!(table = %slot.config.id, why, "no longer running this table");
    slot.set_run(Run::Nobody);
    app.metrics
        .table_owned
        .with_label_values(&[&slot.config.id])
        .set(0);
    let (done, _wait) = oneshot::channel();
    addr.do_send(actor::Stop {
        reason: "owner_lost",
        done,
    });
}

/// The `bet_settled` telling a bettor that `round`, a bet the old node left open, was voided
/// and refunded, from the details stored when the bet was debited; `None` if it has none.
fn refund_frame(
    table: &super::config::TableConfig,
    round: &RoundRecord,
    balance_minor: i64,
) -> Option<ServerFrame> {
    let opened: serde_json::Value = serde_json::from_str(round.outcome_json.as_deref()?).ok()?;
    let amount = Money::from_minor(round.bet_minor, &table.currency).ok()?;
    let balance = Money::from_minor(balance_minor, &table.currency).ok()?;
    Some(ServerFrame::BetSettled {
        table: table.id.clone(),
        round_id: opened["table_round"].as_str()?.to_string(),
        bet_id: round.round_id.to_string(),
        kind: opened["bet"]["kind"].as_str()?.to_string(),
        amount: amount.to_string(),
        outcome: "void".to_string(),
        returned: amount.to_string(),
        balance: balance.to_string(),
        jackpot_wins: Vec::new(),
    })
}

/// Another node runs the table: seat this node's connections there if it is a new holder.
/// A new token is a new holder even on the same node (it took the table again after losing
/// its lease, e.g. when Redis came back empty): its `LiveTable` is new and has no seats.
fn follow(app: &Arc<App>, slot: &TableSlot, current: Run, holder: Holder) {
    if holder.token == TAKING {
        return; // still raising its token: follow it once it runs the table
    }
    if matches!(&current, Run::There { node, token } if *node == holder.node && *token == holder.token)
    {
        return;
    }
    tracing::info!(table = %slot.config.id, node = %holder.node, token = holder.token, "table runs on another node");
    slot.set_run(Run::There {
        node: holder.node.clone(),
        token: holder.token,
    });
    let seats = slot.local_seats();
    if seats.is_empty() {
        return;
    }
    let (app, id) = (app.clone(), slot.config.id.clone());
    tokio::spawn(async move {
        let Some(slot) = app.tables.get(&id) else {
            return;
        };
        let same_holder = |run: Run| matches!(run, Run::There { ref node, token } if *node == holder.node && token == holder.token);
        for seat in seats {
            for attempt in 1..=RESEAT_ATTEMPTS {
                if !slot.has_seat(&seat.pusher.session_id) || !same_holder(slot.run()) {
                    break;
                }
                let sat = crate::session::tables::sit_down(
                    &app,
                    slot,
                    &seat.player,
                    &seat.pusher,
                    SitDown::Again,
                )
                .await;
                match sat {
                    Ok(_) => break,
                    Err(error) if attempt == RESEAT_ATTEMPTS => {
                        tracing::warn!(table = %id, %error, "could not seat a player at the table's new node");
                    }
                    Err(_) => tokio::time::sleep(RESEAT_BACKOFF).await,
                }
            }
        }
    });
}

/// Takes over the table whose lease this node has just taken: raise a new token in the
/// ledger (the old holder's movements are refused from then on), stamp the lease with it,
/// refund what the old holder left open, run it. `false` if it could not (the lease is given
/// back, or already lost).
async fn take_over(app: &Arc<App>, cluster: &Arc<TableCluster>, slot: &TableSlot) -> bool {
    let id = slot.config.id.clone();
    let ledger = app.wallet.ledger();
    let token = match ledger.next_fence(&id).await {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, table = %id, "cannot raise the table's fence; not taking it");
            cluster.release(&id, TAKING).await;
            return false;
        }
    };
    match cluster.leases.stamp(&id, &cluster.node, token).await {
        Ok(true) => {}
        Ok(false) => {
            // The lease expired (or Redis lost it) while the ledger raised the token: another
            // node may be taking the table; the raised token is simply never used.
            tracing::warn!(table = %id, token, "lost the lease while raising its fence; not taking the table");
            return false;
        }
        Err(error) => {
            tracing::warn!(%error, table = %id, token, "cannot stamp the lease; not taking the table");
            cluster.release(&id, TAKING).await;
            return false;
        }
    }
    let fence = Fence {
        table: id.clone(),
        token,
    };
    let open = match ledger.open_rounds().await {
        Ok(open) => open,
        Err(error) => {
            tracing::warn!(%error, table = %id, "cannot read the open rounds; not taking the table");
            return false;
        }
    };
    let outbox = TableOutbox::start(
        cluster.bus.clone(),
        cluster.node.clone(),
        cluster.seal.clone(),
        &id,
    );
    let mut voided_rounds = std::collections::BTreeSet::new();
    let mut refunds: Vec<(PlayerId, Arc<str>)> = Vec::new();
    for round in open.into_iter().filter(|r| r.game == id) {
        let void = Movement::VoidRound {
            round_id: round.round_id.clone(),
            player: round.player.clone(),
        }
        .fenced(Some(&fence));
        match app.wallet.apply(void).await {
            Ok(Applied::RoundVoided {
                replayed,
                balance_minor,
                ..
            }) => {
                if !replayed {
                    app.metrics
                        .rounds_voided
                        .with_label_values(&["owner_lost"])
                        .inc();
                    match refund_frame(&slot.config, &round, balance_minor) {
                        Some(frame) => {
                            refunds.push((round.player.clone(), Arc::from(frame.to_json())))
                        }
                        None => {
                            tracing::warn!(table = %id, round = %round.round_id, "refunded, but the bet was stored without its details: the player learns it from balance and history");
                        }
                    }
                }
                voided_rounds.insert(actor::round_of_bet(round.round_id.as_str()).to_string());
            }
            Ok(_) | Err(_) => {
                tracing::warn!(table = %id, round = %round.round_id, "bet left open by the old node not refunded now; the stale sweeper will");
            }
        }
    }
    for round_id in &voided_rounds {
        let frame = ServerFrame::RoundVoid {
            table: id.clone(),
            round_id: round_id.clone(),
            reason: "owner_lost".into(),
        };
        let text: Arc<str> = Arc::from(frame.to_json());
        outbox.send_all(text.clone());
        for seat in slot.local_seats() {
            let _ = seat.pusher.push(text.clone());
        }
    }
    // Each refunded bettor's own `bet_settled`, to their seats here and on every other node (a
    // player who has not sat down again yet sees the refund in balance and history).
    for (player, text) in refunds {
        outbox.send_to_player(&player, text.clone());
        for seat in slot
            .local_seats()
            .into_iter()
            .filter(|s| s.player == player)
        {
            let _ = seat.pusher.push(text.clone());
        }
    }
    if !voided_rounds.is_empty() {
        tracing::warn!(table = %id, rounds = voided_rounds.len(), "voided and refunded the rounds the previous node left open");
    }
    let running = Running { fence, outbox };
    let addr = slot.start_here(app.tables.deps(), Some(running));
    app.metrics.table_owned.with_label_values(&[&id]).set(1);
    app.metrics
        .table_leases_acquired
        .with_label_values(&[&id])
        .inc();
    tracing::info!(table = %id, token, "running this table");
    for seat in slot.local_seats() {
        let join = actor::Join {
            player: seat.player,
            pusher: seat.pusher,
            again: SitDown::Again,
        };
        let _ = addr.send(join).await;
    }
    true
}

#[cfg(test)]
mod tests;
