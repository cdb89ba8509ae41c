//! Sessions, the `req_id` reply log, presence and the node registry: what a player's next node
//! needs to pick up where the last one left off, and what operators see of the cluster.
//!
//! - **Session** `croupier:session:<sid>`: a hash (player, currency, opened, expiry), expiring
//!   with the token. Written when the session opens: a node that cannot write it answers
//!   `service_unavailable`. A WebSocket upgrade needs it (a token without its record is
//!   refused); `croupier:player-sessions:<player>` lists a player's session ids.
//! - **Upgrade ticket** `croupier:ticket:<ticket>`: the session token a single-use ticket
//!   stands for, for [`TICKET_TTL`]; taken (`GETDEL`) by the upgrade that uses it, so the
//!   long-lived token never travels in a URL.
//! - **Revocation** `croupier:revoked:<sid>`: written (and the record deleted) when an operator
//!   ends a session, kept until the token would have expired. Nodes kick the session's
//!   connections at once (pub/sub) and look the marker up for every connection they hold
//!   every few seconds, in case the message was missed.
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
//! One trait, [`SharedState`], with one implementation per back end: [`InProcessState`] (one
//! node, `store/in_process.rs`) and [`RedisState`] (a cluster, `store/on_redis.rs`); the conformance
//! suite in `store/tests.rs` runs every case on both.
//!
//! Free-spin state is *not* here: free spins are value and live in the ledger with the money;
//! a session reads them from there on connect.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use croupier_core::jurisdiction::{AgeBand, Paced};
use serde::{Deserialize, Serialize};

use super::ClusterError;
use crate::ids::{PlayerId, ReqId};

mod in_process;
mod journal;
mod on_redis;

pub use in_process::InProcessState;
pub use on_redis::RedisState;

/// Replies kept per player for resends: a client resends its last few requests, not more.
pub const REPLIES_PER_PLAYER: usize = 64;
/// How long a player's reply log outlives its last reply (like the node's reply cache).
pub const REPLY_LOG_TTL: Duration = Duration::from_secs(3600);
/// Replies waiting to be written to Redis; past this they are dropped (and counted): the
/// ledger still answers a resend.
pub const REPLY_LOG_QUEUE: usize = 16_384;
/// Replies written per pipeline.
pub const REPLY_LOG_BATCH: usize = 512;
/// The longest a token may live (`auth.token_ttl_seconds` is at most this): how long a
/// revocation of an unknown session is kept.
pub const MAX_TOKEN_SECONDS: u64 = 30 * 86_400;
/// How long a WebSocket upgrade ticket is good for: long enough to open the socket right
/// after asking for it, short enough that a ticket seen in a log is worthless.
pub const TICKET_TTL: Duration = Duration::from_secs(30);
/// Tickets a single node keeps at once (about 300 bytes each): past this the oldest go.
pub const LOCAL_TICKETS: u64 = 100_000;
/// Sessions looked up in one pipeline by [`SharedState::revoked`].
pub const REVOKED_BATCH: usize = 2_000;
/// Players one node's heartbeat marks present in one pipeline.
pub const PRESENCE_BATCH: usize = 2_000;
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
    /// The jurisdiction profile the session plays under (jurisdictions.toml); a record
    /// journalled before profiles existed plays under the default one.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// The player's age band as the launch gave it (profiles with an 18-24 stake cap need it).
    #[serde(default)]
    pub age_band: Option<AgeBand>,
}

fn default_profile() -> String {
    croupier_core::jurisdiction::DEFAULT_PROFILE.to_string()
}

/// One node as its last heartbeat described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub node: String,
    pub version: String,
    /// The content hash of the play files it runs (`config_version`); empty from a node
    /// older than the field.
    #[serde(default)]
    pub config_version: String,
    pub ready: bool,
    pub players: u64,
    /// Live tables whose rounds this node runs.
    pub tables: Vec<String>,
    pub started_at_ms: i64,
    pub seen_at_ms: i64,
}

/// The shared-state store of one node.
#[async_trait]
pub trait SharedState: Send + Sync {
    /// Whether other nodes see what this store holds (Redis), or only this node.
    fn is_shared(&self) -> bool;

    /// Records a new session for every node (until `expires_at`).
    async fn open_session(&self, record: &SessionRecord) -> Result<(), ClusterError>;

    /// The session, if it exists and has not expired or been revoked.
    async fn session(&self, sid: &str) -> Result<Option<SessionRecord>, ClusterError>;

    /// Ends a session for every node: its record goes, a revocation marker stays until the
    /// token expires. The record it had, if any.
    async fn revoke_session(&self, sid: &str) -> Result<Option<SessionRecord>, ClusterError>;

    /// The ids of a player's sessions that have not expired or been revoked.
    async fn player_sessions(&self, player: &PlayerId) -> Result<Vec<String>, ClusterError>;

    /// Keeps a WebSocket upgrade ticket for `ttl`: it stands for `token`, once.
    async fn put_ticket(
        &self,
        ticket: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<(), ClusterError>;

    /// The token a ticket stands for, taking the ticket (a second use finds nothing).
    async fn take_ticket(&self, ticket: &str) -> Result<Option<String>, ClusterError>;

    /// Which of these sessions have been revoked (one round trip per [`REVOKED_BATCH`]).
    async fn revoked(&self, sids: &[Arc<str>]) -> Result<Vec<Arc<str>>, ClusterError>;

    /// Remembers a reply for resends on any node. Never waits: over Redis it is queued for
    /// the batching writer (dropped, and counted, if the queue is full); `false` if dropped.
    fn record_reply(&self, player: &PlayerId, req_id: &ReqId, reply: &str) -> bool;

    /// The player's latest replies, oldest first: `(req_id, reply)`.
    async fn recent_replies(
        &self,
        player: &PlayerId,
    ) -> Result<Vec<(String, Arc<str>)>, ClusterError>;

    /// This node is alive (for `ttl`) and these players are on it.
    async fn heartbeat(
        &self,
        info: &NodeInfo,
        players: &[PlayerId],
        ttl: Duration,
    ) -> Result<(), ClusterError>;

    /// The node a player is connected to, if any.
    async fn presence(&self, player: &PlayerId) -> Result<Option<String>, ClusterError>;

    /// Every node whose heartbeat has not expired, by name.
    async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError>;

    /// Takes this node out of the registry at once (a clean stop), rather than at expiry.
    async fn forget_node(&self, node: &str) -> Result<(), ClusterError>;

    /// Claims the start of a slot round of `player` if `interval_ms` has passed since the
    /// start of its last one on any node (`Go`: recorded now, under `token`); else how long
    /// is left. A cluster decides on Redis's clock, so nodes' clocks do not matter.
    async fn claim_round_start(
        &self,
        player: &PlayerId,
        interval_ms: u64,
        token: &str,
    ) -> Result<Paced, ClusterError>;

    /// Gives back the claim `token` of a round that never started (refused before any money
    /// moved), so the refusal changes nothing; a later claim is left alone.
    async fn release_round_start(&self, player: &PlayerId, token: &str)
        -> Result<(), ClusterError>;
}

#[cfg(test)]
mod tests;
