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
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the channels, the ask and answer messages, [`TableCluster`] (asking, answering) |
//! | `serve.rs` | answers received, events relayed to this node's seats, asks served |
//! | `holder.rs` | each table's lease: renew, take over (fence, refund, run), give up, follow |

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::actor::SitDown;
use super::host::TableHost;
use crate::cluster::{Bus, ClusterError, Leases, Seal};
use crate::ids::{PlayerId, ReqId};
use crate::metrics::Metrics;
use crate::protocol::ErrorCode;

mod holder;
mod serve;

/// Longest a node waits for the table's node to answer an ask: then `server_busy`.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(3);
/// Asks one node may have waiting for answers; past this, `server_busy`.
pub const MAX_PENDING_ASKS: usize = 10_000;
/// Asks one table's node serves at once; past this the asker gets `server_busy`.
pub const ASKS_IN_FLIGHT: usize = 512;

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
        /// The bettor's jurisdiction (a node of an older version sends none: the default).
        #[serde(default = "default_profile")]
        profile: String,
        #[serde(default)]
        age_band: Option<croupier_core::jurisdiction::AgeBand>,
        /// When the bettor's session began (Unix ms), for a session-time limit.
        #[serde(default)]
        session_started_ms: Option<i64>,
    },
    Describe,
}

fn default_profile() -> String {
    croupier_core::jurisdiction::DEFAULT_PROFILE.to_string()
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
            .tables
            .asks
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
pub fn start(app: Arc<dyn TableHost>) {
    let Some(cluster) = app.tables().cluster().cloned() else {
        return;
    };
    tokio::spawn(serve::receive_answers(app.clone(), cluster.clone()));
    for id in app.tables().ids() {
        start_table(&app, &cluster, id);
    }
}

/// Starts one table's cluster tasks on this node (at start, or for a table a reload added):
/// its relay, its ask server and its lease. They end when the node shuts down, or when a
/// reload removes the table (`TableSlot::retired`).
pub fn start_table(app: &Arc<dyn TableHost>, cluster: &Arc<TableCluster>, id: String) {
    tokio::spawn(serve::relay(app.clone(), cluster.clone(), id.clone()));
    tokio::spawn(serve::serve_asks(app.clone(), cluster.clone(), id.clone()));
    tokio::spawn(holder::hold_lease(app.clone(), cluster.clone(), id));
}

#[cfg(test)]
mod tests;
