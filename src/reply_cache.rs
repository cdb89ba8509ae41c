//! The exactly-once reply cache: the first reply to each `(player, req_id)`, shared by all of
//! the player's connections, so a resend (also after a reconnect) gets the same bytes back and
//! runs nothing. A request still in flight is not run twice either: the resend waits for it.
//!
//! Bounded in entries and in time (moka, TinyLFU eviction); past that the ledger still refuses
//! to charge a spin twice and the reply is rebuilt from the stored round.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use tokio::sync::watch;

use crate::ids::{PlayerId, ReqId};

type Key = (PlayerId, ReqId);
type Slot = watch::Receiver<Option<Arc<str>>>;

#[derive(Clone)]
pub struct ReplyCache {
    slots: Cache<Key, Slot>,
}

/// What a request should do with its `req_id`.
pub enum Claim {
    /// First sighting: run the request, then `finish` (or `forget`) the ticket.
    Run(Ticket),
    /// Seen before: this is (or will be) the reply.
    Replay(Slot),
}

/// The right, and duty, to publish the reply of one `(player, req_id)`.
pub struct Ticket {
    key: Key,
    sender: watch::Sender<Option<Arc<str>>>,
}

impl ReplyCache {
    pub fn new(max_entries: u64, ttl: Duration) -> Self {
        Self {
            slots: Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub fn claim(&self, player: &PlayerId, req_id: &ReqId) -> Claim {
        let key = (player.clone(), req_id.clone());
        let (sender, receiver) = watch::channel(None);
        let entry = self.slots.entry(key.clone()).or_insert(receiver);
        if entry.is_fresh() {
            Claim::Run(Ticket { key, sender })
        } else {
            Claim::Replay(entry.into_value())
        }
    }

    /// Publishes the reply to anyone waiting and, when `keep`, for every later resend.
    pub fn finish(&self, ticket: Ticket, reply: Arc<str>, keep: bool) {
        if !keep {
            self.slots.invalidate(&ticket.key);
        }
        ticket.sender.send_replace(Some(reply));
    }

    /// Waits for the reply of a request claimed by someone else. `None` if its owner died
    /// without answering (the caller should treat it as a transient failure).
    pub async fn wait(mut slot: Slot) -> Option<Arc<str>> {
        let ready = slot.wait_for(|reply| reply.is_some()).await.ok()?;
        ready.clone()
    }

    /// Remembers a reply another node sent (from the shared reply log), unless this node has
    /// its own entry for that `req_id` already.
    pub fn preload(&self, player: &PlayerId, req_id: &ReqId, reply: Arc<str>) {
        let (_sender, receiver) = watch::channel(Some(reply));
        self.slots
            .entry((player.clone(), req_id.clone()))
            .or_insert(receiver);
    }

    /// Drops a slot whose owner died without answering, so the next resend runs again.
    pub fn invalidate(&self, player: &PlayerId, req_id: &ReqId) {
        self.slots.invalidate(&(player.clone(), req_id.clone()));
    }

    pub fn entry_count(&self) -> u64 {
        self.slots.run_pending_tasks();
        self.slots.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(p: &str, r: &str) -> (PlayerId, ReqId) {
        (PlayerId::parse(p).unwrap(), ReqId::parse(r).unwrap())
    }

    #[tokio::test]
    async fn first_claim_runs_and_resends_replay_the_same_reply() {
        let cache = ReplyCache::new(100, Duration::from_secs(60));
        let (p, r) = ids("alice", "r1");
        let Claim::Run(ticket) = cache.claim(&p, &r) else {
            panic!("first claim must run")
        };
        let Claim::Replay(waiting) = cache.claim(&p, &r) else {
            panic!("second must replay")
        };
        cache.finish(ticket, Arc::from("reply-1"), true);
        assert_eq!(ReplyCache::wait(waiting).await.as_deref(), Some("reply-1"));
        let Claim::Replay(later) = cache.claim(&p, &r) else {
            panic!("kept reply must replay")
        };
        assert_eq!(ReplyCache::wait(later).await.as_deref(), Some("reply-1"));
    }

    #[tokio::test]
    async fn a_preloaded_reply_replays_and_never_overwrites_this_nodes_own() {
        let cache = ReplyCache::new(100, Duration::from_secs(60));
        let (p, r) = ids("dora", "r1");
        cache.preload(&p, &r, Arc::from("from-another-node"));
        let Claim::Replay(slot) = cache.claim(&p, &r) else {
            panic!("a preloaded reply must replay")
        };
        assert_eq!(
            ReplyCache::wait(slot).await.as_deref(),
            Some("from-another-node")
        );
        let (_, r2) = ids("dora", "r2");
        let Claim::Run(ticket) = cache.claim(&p, &r2) else {
            panic!()
        };
        cache.preload(&p, &r2, Arc::from("stale"));
        cache.finish(ticket, Arc::from("mine"), true);
        let Claim::Replay(slot) = cache.claim(&p, &r2) else {
            panic!()
        };
        assert_eq!(ReplyCache::wait(slot).await.as_deref(), Some("mine"));
    }

    #[tokio::test]
    async fn transient_replies_are_not_kept() {
        let cache = ReplyCache::new(100, Duration::from_secs(60));
        let (p, r) = ids("bob", "r1");
        let Claim::Run(ticket) = cache.claim(&p, &r) else {
            panic!()
        };
        cache.finish(ticket, Arc::from("busy"), false);
        assert!(matches!(cache.claim(&p, &r), Claim::Run(_)));
    }

    #[tokio::test]
    async fn players_do_not_share_req_ids() {
        let cache = ReplyCache::new(100, Duration::from_secs(60));
        let (a, r) = ids("a", "same");
        let (b, _) = ids("b", "same");
        let Claim::Run(_t) = cache.claim(&a, &r) else {
            panic!()
        };
        assert!(matches!(cache.claim(&b, &r), Claim::Run(_)));
    }

    #[tokio::test]
    async fn a_dropped_ticket_releases_waiters() {
        let cache = ReplyCache::new(100, Duration::from_secs(60));
        let (p, r) = ids("c", "r");
        let Claim::Run(ticket) = cache.claim(&p, &r) else {
            panic!()
        };
        let Claim::Replay(waiting) = cache.claim(&p, &r) else {
            panic!()
        };
        drop(ticket);
        assert_eq!(ReplyCache::wait(waiting).await, None);
    }
}
