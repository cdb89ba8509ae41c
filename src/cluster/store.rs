//! Sessions, the `req_id` reply log, presence and the node registry: what a player's next node
//! needs to pick up where the last one left off, and what operators see of the cluster.
//!
//! - **Session** `croupier:session:<sid>`: a hash (player, currency, opened, node last seen
//!   on), expiring with the token. Written when the session opens: a node that cannot write it
//!   answers `service_unavailable`.
//! - **Reply log** `croupier:replies:<player>`: a sorted set of the player's latest replies
//!   (`<req_id>\n<reply>`, scored by time), at most [`REPLIES_PER_PLAYER`], expiring an hour
//!   after the last. Written behind the reply by a batching task (one pipeline per batch, so
//!   far fewer round trips than spins); read once when a connection opens, into the node's
//!   reply cache, so a resend after a reconnect to another node gets the same bytes back. A
//!   reply that never reached Redis (node killed, Redis down) is rebuilt from the ledger, which
//!   never charges a `req_id` twice.
//! - **Presence and nodes**: each node's heartbeat writes `croupier:node:<id>` (its address,
//!   readiness, player count and the tables it runs), scores it in `croupier:nodes` by expiry,
//!   and `croupier:presence:<player>` = node for each connected player, all in one pipeline.
//!
//! Free-spin state is *not* here: free spins are value and live in the ledger with the money;
//! a session reads them from there on connect.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{ClusterError, RedisLink};
use crate::clock::now_ms;
use crate::ids::{PlayerId, ReqId};

/// Replies kept per player for resends: a client resends its last few requests, not more.
pub const REPLIES_PER_PLAYER: usize = 64;
/// How long a player's reply log outlives its last reply (like the node's reply cache).
pub const REPLY_LOG_TTL: Duration = Duration::from_secs(3600);
/// Replies waiting to be written to Redis; past this they are dropped (and counted): the
/// ledger still answers a resend.
pub const REPLY_LOG_QUEUE: usize = 16_384;
/// Replies written per pipeline.
pub const REPLY_LOG_BATCH: usize = 512;
/// Players one node's heartbeat marks present in one pipeline.
pub const PRESENCE_BATCH: usize = 2_000;
/// Sessions the in-process store keeps (one node).
const LOCAL_SESSIONS: u64 = 1_000_000;
/// How often a node writes its heartbeat and its players' presence.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// How long a heartbeat counts: a node missing three in a row is taken for dead.
pub const NODE_TTL: Duration = Duration::from_secs(6);

/// A session as every node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    pub player: PlayerId,
    pub currency: String,
    pub opened_at_ms: i64,
    /// Unix seconds; the record is gone after this (the token has expired too).
    pub expires_at: u64,
}

/// One node as its last heartbeat described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub node: String,
    pub version: String,
    pub ready: bool,
    pub players: u64,
    /// Live tables whose rounds this node runs.
    pub tables: Vec<String>,
    pub started_at_ms: i64,
    pub seen_at_ms: i64,
}

struct ReplyWrite {
    player: PlayerId,
    member: String,
}

/// A player's latest replies, oldest first: `(req_id, reply)`.
type ReplyLog = VecDeque<(String, Arc<str>)>;

#[derive(Default)]
struct Local {
    replies: Mutex<HashMap<PlayerId, ReplyLog>>,
    nodes: Mutex<HashMap<String, (NodeInfo, i64)>>,
    presence: Mutex<HashMap<PlayerId, (String, i64)>>,
}

enum Back {
    InProcess {
        local: Arc<Local>,
        sessions: moka::sync::Cache<String, SessionRecord>,
    },
    Redis {
        link: RedisLink,
        replies: mpsc::Sender<ReplyWrite>,
    },
}

/// The shared-state store of one node.
pub struct SharedState {
    back: Back,
}

fn session_key(link: &RedisLink, sid: &str) -> String {
    link.key(&format!("session:{sid}"))
}
fn replies_key(link: &RedisLink, player: &PlayerId) -> String {
    link.key(&format!("replies:{player}"))
}
fn node_key(link: &RedisLink, node: &str) -> String {
    link.key(&format!("node:{node}"))
}
fn presence_key(link: &RedisLink, player: &PlayerId) -> String {
    link.key(&format!("presence:{player}"))
}
fn nodes_key(link: &RedisLink) -> String {
    link.key("nodes")
}

fn member(req_id: &ReqId, reply: &str) -> String {
    format!("{req_id}\n{reply}")
}

fn parse_member(member: &str) -> Option<(String, Arc<str>)> {
    let (req_id, reply) = member.split_once('\n')?;
    Some((req_id.to_string(), Arc::from(reply)))
}

impl SharedState {
    pub fn in_process() -> SharedState {
        SharedState {
            back: Back::InProcess {
                local: Arc::default(),
                sessions: moka::sync::Cache::builder()
                    .max_capacity(LOCAL_SESSIONS)
                    .build(),
            },
        }
    }

    /// The store on Redis; starts the reply-log writer (it ends when the store is dropped).
    pub fn redis(link: RedisLink) -> SharedState {
        let (replies, queue) = mpsc::channel(REPLY_LOG_QUEUE);
        tokio::spawn(write_replies(link.clone(), queue));
        SharedState {
            back: Back::Redis { link, replies },
        }
    }

    /// Whether other nodes see what this store holds (Redis), or only this node.
    pub fn is_shared(&self) -> bool {
        matches!(self.back, Back::Redis { .. })
    }

    pub async fn open_session(&self, record: &SessionRecord) -> Result<(), ClusterError> {
        match &self.back {
            Back::InProcess { sessions, .. } => {
                sessions.insert(record.session_id.clone(), record.clone());
                Ok(())
            }
            Back::Redis { link, .. } => {
                let key = session_key(link, &record.session_id);
                let mut pipe = redis::pipe();
                pipe.atomic()
                    .hset_multiple(
                        &key,
                        &[
                            ("player", record.player.as_str()),
                            ("currency", record.currency.as_str()),
                            ("opened_at_ms", &record.opened_at_ms.to_string()),
                            ("expires_at", &record.expires_at.to_string()),
                        ],
                    )
                    .ignore()
                    .cmd("EXPIREAT")
                    .arg(&key)
                    .arg(record.expires_at)
                    .ignore();
                link.pipeline("session_open", &pipe).await
            }
        }
    }

    /// The session, if it exists and has not expired.
    pub async fn session(&self, sid: &str) -> Result<Option<SessionRecord>, ClusterError> {
        let now = crate::clock::unix_now();
        match &self.back {
            Back::InProcess { sessions, .. } => {
                Ok(sessions.get(sid).filter(|s| s.expires_at > now))
            }
            Back::Redis { link, .. } => {
                let key = session_key(link, sid);
                let fields: HashMap<String, String> = link
                    .query("session_get", redis::cmd("HGETALL").arg(&key))
                    .await?;
                if fields.is_empty() {
                    return Ok(None);
                }
                let corrupt = |message: String| ClusterError::Corrupt {
                    key: key.clone(),
                    message,
                };
                let field = |name: &str| {
                    fields
                        .get(name)
                        .cloned()
                        .ok_or_else(|| corrupt(format!("no field {name}")))
                };
                let number = |name: &str| -> Result<i64, ClusterError> {
                    field(name)?
                        .parse()
                        .map_err(|_| corrupt(format!("{name} is not a number")))
                };
                Ok(Some(SessionRecord {
                    session_id: sid.to_string(),
                    player: PlayerId::parse(&field("player")?)
                        .map_err(|e| corrupt(e.to_string()))?,
                    currency: field("currency")?,
                    opened_at_ms: number("opened_at_ms")?,
                    expires_at: number("expires_at")?.max(0) as u64,
                })
                .filter(|s| s.expires_at > now))
            }
        }
    }

    /// Remembers a reply for resends on any node. Never waits: over Redis it is queued for
    /// the batching writer (dropped, and counted, if the queue is full).
    pub fn record_reply(&self, player: &PlayerId, req_id: &ReqId, reply: &str) -> bool {
        match &self.back {
            Back::InProcess { local, .. } => {
                let mut all = local
                    .replies
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let log = all.entry(player.clone()).or_default();
                log.retain(|(r, _)| r != req_id.as_str());
                log.push_back((req_id.to_string(), Arc::from(reply)));
                while log.len() > REPLIES_PER_PLAYER {
                    log.pop_front();
                }
                true
            }
            Back::Redis { replies, .. } => replies
                .try_send(ReplyWrite {
                    player: player.clone(),
                    member: member(req_id, reply),
                })
                .is_ok(),
        }
    }

    /// The player's latest replies, oldest first.
    pub async fn recent_replies(
        &self,
        player: &PlayerId,
    ) -> Result<Vec<(String, Arc<str>)>, ClusterError> {
        match &self.back {
            Back::InProcess { local, .. } => {
                let all = local
                    .replies
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Ok(all
                    .get(player)
                    .map(|log| log.iter().cloned().collect())
                    .unwrap_or_default())
            }
            Back::Redis { link, .. } => {
                let members: Vec<String> = link
                    .query(
                        "replies_get",
                        redis::cmd("ZRANGE")
                            .arg(replies_key(link, player))
                            .arg(0)
                            .arg(-1),
                    )
                    .await?;
                Ok(members.iter().filter_map(|m| parse_member(m)).collect())
            }
        }
    }

    /// This node is alive (for `ttl`) and these players are on it.
    pub async fn heartbeat(
        &self,
        info: &NodeInfo,
        players: &[PlayerId],
        ttl: Duration,
    ) -> Result<(), ClusterError> {
        let now = now_ms();
        let expires = now + ttl.as_millis() as i64;
        match &self.back {
            Back::InProcess { local, .. } => {
                let mut nodes = local
                    .nodes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                nodes.retain(|_, (_, until)| *until > now);
                nodes.insert(info.node.clone(), (info.clone(), expires));
                let mut presence = local
                    .presence
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                presence.retain(|_, (_, until)| *until > now);
                for p in players {
                    presence.insert(p.clone(), (info.node.clone(), expires));
                }
                Ok(())
            }
            Back::Redis { link, .. } => {
                let json = serde_json::to_string(info).map_err(|e| ClusterError::Corrupt {
                    key: node_key(link, &info.node),
                    message: e.to_string(),
                })?;
                let px = ttl.as_millis() as u64;
                let mut pipe = redis::pipe();
                pipe.cmd("SET")
                    .arg(node_key(link, &info.node))
                    .arg(json)
                    .arg("PX")
                    .arg(px)
                    .ignore()
                    .cmd("ZADD")
                    .arg(nodes_key(link))
                    .arg(expires)
                    .arg(&info.node)
                    .ignore()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(nodes_key(link))
                    .arg("-inf")
                    .arg(now)
                    .ignore();
                link.pipeline::<()>("heartbeat", &pipe).await?;
                for chunk in players.chunks(PRESENCE_BATCH) {
                    let mut pipe = redis::pipe();
                    for p in chunk {
                        pipe.cmd("SET")
                            .arg(presence_key(link, p))
                            .arg(&info.node)
                            .arg("PX")
                            .arg(px)
                            .ignore();
                    }
                    link.pipeline::<()>("presence", &pipe).await?;
                }
                Ok(())
            }
        }
    }

    /// The node a player is connected to, if any.
    pub async fn presence(&self, player: &PlayerId) -> Result<Option<String>, ClusterError> {
        match &self.back {
            Back::InProcess { local, .. } => {
                let presence = local
                    .presence
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Ok(presence
                    .get(player)
                    .filter(|(_, until)| *until > now_ms())
                    .map(|(node, _)| node.clone()))
            }
            Back::Redis { link, .. } => {
                link.query(
                    "presence_get",
                    redis::cmd("GET").arg(presence_key(link, player)),
                )
                .await
            }
        }
    }

    /// Every node whose heartbeat has not expired, by name.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        let now = now_ms();
        match &self.back {
            Back::InProcess { local, .. } => {
                let nodes = local
                    .nodes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut live: Vec<NodeInfo> = nodes
                    .values()
                    .filter(|(_, until)| *until > now)
                    .map(|(info, _)| info.clone())
                    .collect();
                live.sort_by(|a, b| a.node.cmp(&b.node));
                Ok(live)
            }
            Back::Redis { link, .. } => {
                let names: Vec<String> = link
                    .query(
                        "nodes_get",
                        redis::cmd("ZRANGEBYSCORE")
                            .arg(nodes_key(link))
                            .arg(now)
                            .arg("+inf"),
                    )
                    .await?;
                if names.is_empty() {
                    return Ok(Vec::new());
                }
                let keys: Vec<String> = names.iter().map(|n| node_key(link, n)).collect();
                let infos: Vec<Option<String>> = link
                    .query("nodes_get", redis::cmd("MGET").arg(&keys))
                    .await?;
                let mut live: Vec<NodeInfo> = infos
                    .into_iter()
                    .flatten()
                    .filter_map(|json| serde_json::from_str(&json).ok())
                    .collect();
                live.sort_by(|a, b| a.node.cmp(&b.node));
                Ok(live)
            }
        }
    }

    /// Takes this node out of the registry at once (a clean stop), rather than at expiry.
    pub async fn forget_node(&self, node: &str) -> Result<(), ClusterError> {
        match &self.back {
            Back::InProcess { local, .. } => {
                local
                    .nodes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(node);
                Ok(())
            }
            Back::Redis { link, .. } => {
                let mut pipe = redis::pipe();
                pipe.cmd("ZREM").arg(nodes_key(link)).arg(node).ignore();
                pipe.cmd("DEL").arg(node_key(link, node)).ignore();
                link.pipeline("heartbeat", &pipe).await
            }
        }
    }
}

/// Writes this node's heartbeat and presence every [`HEARTBEAT_EVERY`] until shutdown, and
/// keeps `croupier_cluster_nodes` up to date.
pub fn start_heartbeat(app: Arc<crate::app::App>) {
    let started_at_ms = now_ms();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(HEARTBEAT_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let mut players: Vec<PlayerId> =
                app.connected.iter().map(|e| e.value().clone()).collect();
            players.sort();
            players.dedup();
            let info = NodeInfo {
                node: app.node.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ready: app.is_ready(),
                players: players.len() as u64,
                tables: app.tables.running_here(),
                started_at_ms,
                seen_at_ms: now_ms(),
            };
            let beat = app.shared.heartbeat(&info, &players, NODE_TTL).await;
            let nodes = match beat {
                Ok(()) => app.shared.nodes().await,
                Err(e) => Err(e),
            };
            match nodes {
                Ok(nodes) => {
                    failing = false;
                    app.metrics.cluster_nodes.set(nodes.len() as i64);
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "heartbeat not written; retrying");
                    }
                    failing = true;
                }
            }
        }
    });
}

/// A reply's score in its log: time in ms × 1000 (exact in a double), and always above the
/// previous score, so replies written in the same millisecond (in one batch or two) keep their
/// order and trimming drops the oldest.
fn reply_score(now_ms: i64, last: i64) -> i64 {
    (now_ms * 1000).max(last + 1)
}

/// The reply-log writer: waits for one reply, takes whatever else is queued (up to a batch),
/// and writes them all in one pipeline. A failed batch is dropped and counted.
async fn write_replies(link: RedisLink, mut queue: mpsc::Receiver<ReplyWrite>) {
    let keep = -(REPLIES_PER_PLAYER as i64) - 1;
    let ttl = REPLY_LOG_TTL.as_millis() as u64;
    let mut failing = false;
    let mut last_score = 0i64;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < REPLY_LOG_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        for write in &batch {
            last_score = reply_score(now_ms(), last_score);
            let key = replies_key(&link, &write.player);
            pipe.cmd("ZADD")
                .arg(&key)
                .arg(last_score)
                .arg(&write.member)
                .ignore();
            pipe.cmd("ZREMRANGEBYRANK")
                .arg(&key)
                .arg(0)
                .arg(keep)
                .ignore();
            pipe.cmd("PEXPIRE").arg(&key).arg(ttl).ignore();
        }
        match link.pipeline::<()>("reply_log", &pipe).await {
            Ok(()) => failing = false,
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, replies = batch.len(), "reply log: batches not written until redis is back; the ledger answers those resends");
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests;
