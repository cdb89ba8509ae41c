//! [`InProcessState`]: the shared state of a node that runs alone, in memory: sessions in a
//! bounded cache, reply logs, presence and the node registry under short-held mutexes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::{NodeInfo, SessionRecord, SharedState, REPLIES_PER_PLAYER};
use crate::clock::now_ms;
use crate::cluster::ClusterError;
use crate::ids::{PlayerId, ReqId};

/// Sessions the in-process store keeps (one node): beyond this the least used are dropped
/// and their players log in again.
const LOCAL_SESSIONS: u64 = 1_000_000;

/// A player's latest replies, oldest first: `(req_id, reply)`.
type ReplyLog = VecDeque<(String, Arc<str>)>;

/// The in-process store.
pub struct InProcessState {
    sessions: moka::sync::Cache<String, SessionRecord>,
    replies: Mutex<HashMap<PlayerId, ReplyLog>>,
    nodes: Mutex<HashMap<String, (NodeInfo, i64)>>,
    presence: Mutex<HashMap<PlayerId, (String, i64)>>,
}

impl Default for InProcessState {
    fn default() -> Self {
        Self {
            sessions: moka::sync::Cache::builder()
                .max_capacity(LOCAL_SESSIONS)
                .build(),
            replies: Mutex::default(),
            nodes: Mutex::default(),
            presence: Mutex::default(),
        }
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
        self.sessions
            .insert(record.session_id.clone(), record.clone());
        Ok(())
    }

    async fn session(&self, sid: &str) -> Result<Option<SessionRecord>, ClusterError> {
        let now = crate::clock::unix_now();
        Ok(self.sessions.get(sid).filter(|s| s.expires_at > now))
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
}
