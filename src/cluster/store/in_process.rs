//! [`InProcessState`]: the shared state of a node that runs alone, in memory: sessions in a
//! bounded cache (and, for a real node, in its session journal, so they and their revocations
//! survive a restart: `journal.rs`), reply logs, presence and the node registry under
//! short-held mutexes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::journal::{Entry, Journal, Live};
use super::{NodeInfo, SessionRecord, SharedState, REPLIES_PER_PLAYER};
use crate::clock::now_ms;
use crate::cluster::ClusterError;
use crate::ids::{PlayerId, ReqId};
use croupier_core::jurisdiction::profile::MAX_ROUND_INTERVAL_MS;
use croupier_core::jurisdiction::{pace, Paced};
use moka::ops::compute::Op;

/// Sessions the in-process store keeps (one node): beyond this the least used are dropped
/// and their players log in again.
const LOCAL_SESSIONS: u64 = 1_000_000;

/// A player's latest replies, oldest first: `(req_id, reply)`.
type ReplyLog = VecDeque<(String, Arc<str>)>;

/// The in-process store.
pub struct InProcessState {
    sessions: moka::sync::Cache<String, SessionRecord>,
    /// Upgrade tickets and the tokens they stand for (expire by themselves).
    tickets: moka::sync::Cache<String, String>,
    /// Revoked session ids and until when (Unix seconds).
    revoked: Mutex<HashMap<String, u64>>,
    /// `None` in tests of the store alone: nothing outlives the process.
    journal: Option<Journal>,
    replies: Mutex<HashMap<PlayerId, ReplyLog>>,
    nodes: Mutex<HashMap<String, (NodeInfo, i64)>>,
    presence: Mutex<HashMap<PlayerId, (String, i64)>>,
    /// Each paced player's last slot round start (Unix ms) and its claim's token; older than
    /// the longest interval a profile may set, an entry decides nothing and expires.
    round_starts: moka::sync::Cache<PlayerId, (i64, Arc<str>)>,
}

impl Default for InProcessState {
    fn default() -> Self {
        Self {
            sessions: moka::sync::Cache::builder()
                .max_capacity(LOCAL_SESSIONS)
                .build(),
            tickets: moka::sync::Cache::builder()
                .max_capacity(super::LOCAL_TICKETS)
                .time_to_live(super::TICKET_TTL)
                .build(),
            revoked: Mutex::default(),
            journal: None,
            replies: Mutex::default(),
            nodes: Mutex::default(),
            presence: Mutex::default(),
            round_starts: moka::sync::Cache::builder()
                .max_capacity(LOCAL_SESSIONS)
                .time_to_live(Duration::from_millis(MAX_ROUND_INTERVAL_MS))
                .build(),
        }
    }
}

impl InProcessState {
    /// The store of a node whose sessions live in `data_dir`'s journal.
    pub fn persistent(data_dir: &std::path::Path) -> Result<InProcessState, ClusterError> {
        let (journal, live) = Journal::open(data_dir, crate::clock::unix_now())?;
        let store = InProcessState {
            journal: Some(journal),
            ..InProcessState::default()
        };
        for (sid, record) in live.sessions {
            store.sessions.insert(sid, record);
        }
        *lock(&store.revoked) = live.revoked;
        Ok(store)
    }

    fn log(&self, entry: &Entry) -> Result<(), ClusterError> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        journal.append(entry, || {
            let now = crate::clock::unix_now();
            let mut revoked = lock(&self.revoked);
            revoked.retain(|_, until| *until > now);
            Live {
                sessions: self
                    .sessions
                    .iter()
                    .filter(|(_, r)| r.expires_at > now)
                    .map(|(sid, r)| (sid.as_ref().clone(), r))
                    .collect(),
                revoked: revoked.clone(),
            }
        })
    }
}

/// A poisoned lock still holds consistent maps (each update is one insert or retain).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl SharedState for InProcessState {
    fn is_shared(&self) -> bool {
        false
    }

    async fn open_session(&self, record: &SessionRecord) -> Result<(), ClusterError> {
        self.log(&Entry::Open(record.clone()))?;
        self.sessions
            .insert(record.session_id.clone(), record.clone());
        Ok(())
    }

    async fn session(&self, sid: &str) -> Result<Option<SessionRecord>, ClusterError> {
        let now = crate::clock::unix_now();
        Ok(self.sessions.get(sid).filter(|s| s.expires_at > now))
    }

    async fn revoke_session(&self, sid: &str) -> Result<Option<SessionRecord>, ClusterError> {
        let now = crate::clock::unix_now();
        let record = self.sessions.get(sid).filter(|s| s.expires_at > now);
        let until = record
            .as_ref()
            .map_or(now + super::MAX_TOKEN_SECONDS, |r| r.expires_at);
        self.log(&Entry::Revoke {
            sid: sid.to_string(),
            until,
        })?;
        lock(&self.revoked).insert(sid.to_string(), until);
        self.sessions.invalidate(sid);
        Ok(record)
    }

    async fn player_sessions(&self, player: &PlayerId) -> Result<Vec<String>, ClusterError> {
        let now = crate::clock::unix_now();
        Ok(self
            .sessions
            .iter()
            .filter(|(_, r)| &r.player == player && r.expires_at > now)
            .map(|(sid, _)| sid.as_ref().clone())
            .collect())
    }

    async fn put_ticket(
        &self,
        ticket: &str,
        token: &str,
        _ttl: Duration,
    ) -> Result<(), ClusterError> {
        // Every ticket lives TICKET_TTL, the cache's time to live.
        self.tickets.insert(ticket.to_string(), token.to_string());
        Ok(())
    }

    async fn take_ticket(&self, ticket: &str) -> Result<Option<String>, ClusterError> {
        Ok(self.tickets.remove(ticket))
    }

    async fn revoked(&self, sids: &[Arc<str>]) -> Result<Vec<Arc<str>>, ClusterError> {
        let revoked = lock(&self.revoked);
        Ok(sids
            .iter()
            .filter(|sid| revoked.contains_key(sid.as_ref()))
            .cloned()
            .collect())
    }

    fn record_reply(&self, player: &PlayerId, req_id: &ReqId, reply: &str) -> bool {
        let mut all = lock(&self.replies);
        let log = all.entry(player.clone()).or_default();
        log.retain(|(r, _)| r != req_id.as_str());
        log.push_back((req_id.to_string(), Arc::from(reply)));
        while log.len() > REPLIES_PER_PLAYER {
            log.pop_front();
        }
        true
    }

    async fn recent_replies(
        &self,
        player: &PlayerId,
    ) -> Result<Vec<(String, Arc<str>)>, ClusterError> {
        Ok(lock(&self.replies)
            .get(player)
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn heartbeat(
        &self,
        info: &NodeInfo,
        players: &[PlayerId],
        ttl: Duration,
    ) -> Result<(), ClusterError> {
        let now = now_ms();
        let expires = now + ttl.as_millis() as i64;
        {
            let mut nodes = lock(&self.nodes);
            nodes.retain(|_, (_, until)| *until > now);
            nodes.insert(info.node.clone(), (info.clone(), expires));
        }
        let mut presence = lock(&self.presence);
        presence.retain(|_, (_, until)| *until > now);
        for p in players {
            presence.insert(p.clone(), (info.node.clone(), expires));
        }
        Ok(())
    }

    async fn presence(&self, player: &PlayerId) -> Result<Option<String>, ClusterError> {
        Ok(lock(&self.presence)
            .get(player)
            .filter(|(_, until)| *until > now_ms())
            .map(|(node, _)| node.clone()))
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        let now = now_ms();
        let mut live: Vec<NodeInfo> = lock(&self.nodes)
            .values()
            .filter(|(_, until)| *until > now)
            .map(|(info, _)| info.clone())
            .collect();
        live.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(live)
    }

    async fn forget_node(&self, node: &str) -> Result<(), ClusterError> {
        lock(&self.nodes).remove(node);
        Ok(())
    }

    async fn claim_round_start(
        &self,
        player: &PlayerId,
        interval_ms: u64,
        token: &str,
    ) -> Result<Paced, ClusterError> {
        let now = now_ms();
        let mut decided = Paced::Go;
        // One caller at a time per player (moka's per-key lock): two spins on two sockets
        // cannot both pass.
        self.round_starts
            .entry(player.clone())
            .and_compute_with(|last| {
                decided = pace(last.map(|e| e.into_value().0), now, interval_ms);
                match decided {
                    Paced::Go => Op::Put((now, Arc::from(token))),
                    Paced::Wait { .. } => Op::Nop,
                }
            });
        Ok(decided)
    }

    async fn release_round_start(
        &self,
        player: &PlayerId,
        token: &str,
    ) -> Result<(), ClusterError> {
        self.round_starts
            .entry(player.clone())
            .and_compute_with(|last| match last {
                Some(e) if e.value().1.as_ref() == token => Op::Remove,
                _ => Op::Nop,
            });
        Ok(())
    }
}
