//! The exactly-once reply cache: for each request that moves money (a spin, a table bet), the
//! first reply to its `(player, req_id)`, shared by all of the player's connections, so a
//! resend (also after a reconnect) gets the same bytes back and runs nothing. A request still
//! in flight is not run twice either: the resend waits for it.
//!
//! Each entry remembers the request's fingerprint (a hash of the frame as parsed): the same
//! `req_id` sent with another kind or other parameters is another request and is answered
//! `duplicate_request` ([`Claim::Conflict`]). Read-only frames (balance, history, games, …)
//! are not remembered, only checked against what is: a resend of one simply runs again.
//!
//! Bounded in bytes over all players (`session.reply_cache_bytes`, moka weighs each player's
//! entry by what it holds), per player ([`REPLIES_PER_PLAYER`], the oldest go first) and in
//! time; past that the ledger still refuses to charge a `req_id` twice (and refuses it for
//! another request), and the reply is rebuilt from the stored round.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::ids::{PlayerId, ReqId};
use crate::protocol::ClientFrame;

pub use crate::cluster::store::REPLIES_PER_PLAYER;

/// Bytes counted per remembered reply beyond its text (ids, fingerprint, channel).
const ENTRY_OVERHEAD: usize = 160;

type Slot = watch::Receiver<Option<Arc<str>>>;

/// What identifies a request behind its `req_id`: the first 8 bytes of the SHA-256 of the
/// frame as parsed and serialised again (so the same frame gives the same value on every node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    pub fn of(frame: &ClientFrame) -> Fingerprint {
        let text = serde_json::to_string(frame).unwrap_or_default();
        let digest = Sha256::digest(text.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Fingerprint(u64::from_be_bytes(first))
    }

    /// A reply as the shared reply log holds it: this fingerprint, a newline, the reply.
    pub fn log_text(self, reply: &str) -> String {
        format!("{:016x}\n{reply}", self.0)
    }

    /// The fingerprint and reply of a reply-log text; `None` for anything else.
    pub fn parse_log_text(text: &str) -> Option<(Fingerprint, Arc<str>)> {
        let (hex, reply) = text.split_once('\n')?;
        if hex.len() != 16 {
            return None;
        }
        let value = u64::from_str_radix(hex, 16).ok()?;
        Some((Fingerprint(value), Arc::from(reply)))
    }

    /// Whether a frame of this kind is remembered: only those that move money need it.
    pub fn remembered(frame: &ClientFrame) -> bool {
        matches!(
            frame,
            ClientFrame::Spin { .. } | ClientFrame::TableBet { .. }
        )
    }
}

struct Entry {
    req_id: ReqId,
    fingerprint: Fingerprint,
    slot: Slot,
    bytes: usize,
}

#[derive(Default)]
struct PlayerReplies {
    entries: VecDeque<Entry>,
    bytes: usize,
}

impl PlayerReplies {
    fn find(&self, req_id: &ReqId) -> Option<&Entry> {
        self.entries.iter().find(|e| &e.req_id == req_id)
    }

    fn push(&mut self, entry: Entry) {
        self.bytes += entry.bytes;
        self.entries.push_back(entry);
        while self.entries.len() > REPLIES_PER_PLAYER {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.bytes;
            }
        }
    }

    fn remove(&mut self, req_id: &ReqId) {
        if let Some(i) = self.entries.iter().position(|e| &e.req_id == req_id) {
            if let Some(old) = self.entries.remove(i) {
                self.bytes -= old.bytes;
            }
        }
    }

    fn set_bytes(&mut self, req_id: &ReqId, bytes: usize) {
        if let Some(e) = self.entries.iter_mut().find(|e| &e.req_id == req_id) {
            self.bytes = self.bytes - e.bytes + bytes;
            e.bytes = bytes;
        }
    }
}

type Shared = Arc<Mutex<PlayerReplies>>;

fn lock(m: &Mutex<PlayerReplies>) -> MutexGuard<'_, PlayerReplies> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone)]
pub struct ReplyCache {
    players: Cache<PlayerId, Shared>,
}

/// What a request should do with its `req_id`.
pub enum Claim {
    /// First sighting: run the request, then `finish` (or `forget`) the ticket.
    Run(Ticket),
    /// Seen before: this is (or will be) the reply.
    Replay(Slot),
    /// The `req_id` belongs to another request: answer `duplicate_request`, run nothing.
    Conflict,
}

/// The right, and duty, to publish the reply of one `(player, req_id)`.
pub struct Ticket {
    player: PlayerId,
    req_id: ReqId,
    /// `None` for a frame that is not remembered: nothing to publish to.
    sender: Option<watch::Sender<Option<Arc<str>>>>,
}

fn entry_bytes(player: &PlayerId, req_id: &ReqId, reply: usize) -> usize {
    ENTRY_OVERHEAD + player.as_str().len() + req_id.as_str().len() + reply
}

impl ReplyCache {
    /// A cache of at most `max_bytes` (over all players), each player's replies kept `ttl`
    /// after their last use.
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        Self {
            players: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|player: &PlayerId, replies: &Shared| {
                    let bytes = lock(replies).bytes + player.as_str().len() + ENTRY_OVERHEAD;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .time_to_idle(ttl)
                .build(),
        }
    }

    fn replies(&self, player: &PlayerId) -> Shared {
        self.players.get_with(player.clone(), Shared::default)
    }

    /// Claims `frame`'s `req_id` for `player`.
    pub fn claim(&self, player: &PlayerId, frame: &ClientFrame) -> Claim {
        self.claim_as(
            player,
            frame.req_id(),
            Fingerprint::of(frame),
            Fingerprint::remembered(frame),
        )
    }

    /// [`ReplyCache::claim`] with the frame's fingerprint already computed (the session needs
    /// it for the shared reply log too: hashed once per frame).
    pub fn claim_as(
        &self,
        player: &PlayerId,
        req_id: &ReqId,
        fingerprint: Fingerprint,
        remembered: bool,
    ) -> Claim {
        let shared = match self.players.get(player) {
            Some(shared) => shared,
            None if !remembered => return self.untracked(player, req_id),
            None => self.replies(player),
        };
        let mut replies = lock(&shared);
        if let Some(entry) = replies.find(req_id) {
            return if entry.fingerprint == fingerprint {
                Claim::Replay(entry.slot.clone())
            } else {
                Claim::Conflict
            };
        }
        if !remembered {
            return self.untracked(player, req_id);
        }
        let (sender, slot) = watch::channel(None);
        replies.push(Entry {
            req_id: req_id.clone(),
            fingerprint,
            slot,
            bytes: entry_bytes(player, req_id, 0),
        });
        drop(replies);
        // Re-inserted so the cache weighs what the player now holds.
        self.players.insert(player.clone(), shared);
        Claim::Run(Ticket {
            player: player.clone(),
            req_id: req_id.clone(),
            sender: Some(sender),
        })
    }

    fn untracked(&self, player: &PlayerId, req_id: &ReqId) -> Claim {
        Claim::Run(Ticket {
            player: player.clone(),
            req_id: req_id.clone(),
            sender: None,
        })
    }

    /// Publishes the reply to anyone waiting and, when `keep`, for every later resend.
    pub fn finish(&self, ticket: Ticket, reply: Arc<str>, keep: bool) {
        let Some(sender) = ticket.sender else {
            return;
        };
        if let Some(shared) = self.players.get(&ticket.player) {
            {
                let mut replies = lock(&shared);
                if keep {
                    let bytes = entry_bytes(&ticket.player, &ticket.req_id, reply.len());
                    replies.set_bytes(&ticket.req_id, bytes);
                } else {
                    replies.remove(&ticket.req_id);
                }
            }
            self.players.insert(ticket.player.clone(), shared);
        }
        sender.send_replace(Some(reply));
    }

    /// Waits for the reply of a request claimed by someone else. `None` if its owner died
    /// without answering (the caller should treat it as a transient failure).
    pub async fn wait(mut slot: Slot) -> Option<Arc<str>> {
        let ready = slot.wait_for(|reply| reply.is_some()).await.ok()?;
        ready.clone()
    }

    /// Remembers a reply another node sent (from the shared reply log), unless this node has
    /// its own entry for that `req_id` already.
    pub fn preload(
        &self,
        player: &PlayerId,
        req_id: &ReqId,
        fingerprint: Fingerprint,
        reply: Arc<str>,
    ) {
        let shared = self.replies(player);
        {
            let mut replies = lock(&shared);
            if replies.find(req_id).is_some() {
                return;
            }
            let bytes = entry_bytes(player, req_id, reply.len());
            let (_sender, slot) = watch::channel(Some(reply));
            replies.push(Entry {
                req_id: req_id.clone(),
                fingerprint,
                slot,
                bytes,
            });
        }
        self.players.insert(player.clone(), shared);
    }

    /// Drops a slot whose owner died without answering, so the next resend runs again.
    pub fn invalidate(&self, player: &PlayerId, req_id: &ReqId) {
        if let Some(shared) = self.players.get(player) {
            lock(&shared).remove(req_id);
            self.players.insert(player.clone(), shared);
        }
    }

    /// Players with remembered replies.
    pub fn entry_count(&self) -> u64 {
        self.players.run_pending_tasks();
        self.players.entry_count()
    }

    /// Bytes the cache holds, as it weighs them.
    pub fn weighted_bytes(&self) -> u64 {
        self.players.run_pending_tasks();
        self.players.weighted_size()
    }
}

#[cfg(test)]
mod tests;
