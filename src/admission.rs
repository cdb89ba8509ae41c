//! Who may take a node's resources, and how much: open WebSockets per player, per client
//! address and on the node (a slot is taken at the upgrade and given back when the connection
//! ends), and demo
//! sign-ups per client address and per node (each one creates and funds an account in the
//! ledger). Every limit is a config key; a refusal is `rate_limited` (HTTP 429) and changes
//! nothing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::ids::PlayerId;

/// Client addresses whose sign-up budget a node remembers; past this the limiter's memory is
/// trimmed to the addresses seen recently (`retain_recent`).
pub const SIGNUP_ADDRESSES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("player already has {0} connections open (session.max_connections_per_player)")]
    PlayerConnections(u32),
    #[error("this address already has {0} connections open (server.max_connections_per_address)")]
    AddressConnections(u32),
    #[error(
        "this node holds its {0} WebSockets (server.max_websockets); try another node or later"
    )]
    NodeConnections(u32),
    #[error("too many demo sign-ups from this address; try again in a minute")]
    AddressSignups,
    #[error("too many demo sign-ups on this node right now; try again shortly")]
    NodeSignups,
}

/// The limits, from the config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_player: u32,
    pub per_address: u32,
    /// Open WebSockets on the node.
    pub node: u32,
    pub signups_per_address_per_minute: u32,
    pub signups_per_second: u32,
}

pub struct Admission {
    limits: Limits,
    players: DashMap<PlayerId, u32>,
    addresses: DashMap<IpAddr, u32>,
    /// Open WebSockets on the node.
    open: AtomicU32,
    signups_by_address: DefaultKeyedRateLimiter<IpAddr>,
    signups: DefaultDirectRateLimiter,
}

/// A connection's claim on its player's and address's budgets; given back on drop.
pub struct Slot {
    admission: Arc<Admission>,
    player: PlayerId,
    address: Option<IpAddr>,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// Takes one from `key`'s count if it is below `max`.
fn take<K: std::hash::Hash + Eq + Clone>(map: &DashMap<K, u32>, key: &K, max: u32) -> bool {
    let mut count = map.entry(key.clone()).or_insert(0);
    if *count >= max {
        return false;
    }
    *count += 1;
    true
}

fn give_back<K: std::hash::Hash + Eq>(map: &DashMap<K, u32>, key: &K) {
    map.remove_if_mut(key, |_, count| {
        *count = count.saturating_sub(1);
        *count == 0
    });
}

impl Admission {
    pub fn new(limits: Limits) -> Arc<Admission> {
        let per_minute = Quota::per_minute(nonzero(limits.signups_per_address_per_minute));
        let per_second = Quota::per_second(nonzero(limits.signups_per_second));
        Arc::new(Admission {
            limits,
            players: DashMap::new(),
            addresses: DashMap::new(),
            open: AtomicU32::new(0),
            signups_by_address: RateLimiter::keyed(per_minute),
            signups: RateLimiter::direct(per_second),
        })
    }

    /// A slot for one more connection of `player` from `address`, if both are under their
    /// limits (a refused connection takes nothing).
    pub fn connect(
        self: &Arc<Self>,
        player: &PlayerId,
        address: Option<IpAddr>,
    ) -> Result<Slot, Refused> {
        let node = self.limits.node;
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < node).then_some(n + 1)
            });
        if taken.is_err() {
            return Err(Refused::NodeConnections(node));
        }
        if !take(&self.players, player, self.limits.per_player) {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::PlayerConnections(self.limits.per_player));
        }
        if let Some(ip) = address {
            if !take(&self.addresses, &ip, self.limits.per_address) {
                give_back(&self.players, player);
                self.open.fetch_sub(1, Ordering::AcqRel);
                return Err(Refused::AddressConnections(self.limits.per_address));
            }
        }
        Ok(Slot {
            admission: self.clone(),
            player: player.clone(),
            address,
        })
    }

    /// Whether one more demo sign-up from `address` may go ahead now.
    pub fn signup(&self, address: Option<IpAddr>) -> Result<(), Refused> {
        if let Some(ip) = address {
            if self.signups_by_address.check_key(&ip).is_err() {
                return Err(Refused::AddressSignups);
            }
            if self.signups_by_address.len() > SIGNUP_ADDRESSES {
                self.signups_by_address.retain_recent();
                self.signups_by_address.shrink_to_fit();
            }
        }
        self.signups.check().map_err(|_| Refused::NodeSignups)
    }

    /// Open connections counted for `player` (tests, metrics).
    pub fn connections_of(&self, player: &PlayerId) -> u32 {
        self.players.get(player).map_or(0, |c| *c)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
        give_back(&self.admission.players, &self.player);
        if let Some(ip) = &self.address {
            give_back(&self.admission.addresses, ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            per_player: 2,
            per_address: 3,
            node: 1_000,
            signups_per_address_per_minute: 2,
            signups_per_second: 1_000,
        }
    }

    #[test]
    fn connections_are_bounded_per_player_and_per_address_and_given_back() {
        let a = Admission::new(limits());
        let (alice, bob) = (
            PlayerId::parse("alice").unwrap(),
            PlayerId::parse("bob").unwrap(),
        );
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let one = a.connect(&alice, Some(ip)).unwrap();
        let _two = a.connect(&alice, Some(ip)).unwrap();
        assert_eq!(
            a.connect(&alice, Some(ip)).err(),
            Some(Refused::PlayerConnections(2))
        );
        let _three = a.connect(&bob, Some(ip)).unwrap();
        assert_eq!(
            a.connect(&bob, Some(ip)).err(),
            Some(Refused::AddressConnections(3))
        );
        assert_eq!(
            a.connections_of(&bob),
            1,
            "a refused connection takes nothing"
        );
        drop(one);
        assert_eq!(a.connections_of(&alice), 1);
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(a.connect(&alice, Some(other)).is_ok());
    }

    #[test]
    fn the_node_holds_at_most_its_websockets_and_a_refusal_takes_nothing() {
        let a = Admission::new(Limits {
            node: 3,
            per_player: 10,
            per_address: 2,
            ..limits()
        });
        let players: Vec<PlayerId> = ["p1", "p2", "p3", "p4"]
            .iter()
            .map(|p| PlayerId::parse(p).unwrap())
            .collect();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let first = a.connect(&players[0], Some(ip)).unwrap();
        let _second = a.connect(&players[1], Some(ip)).unwrap();
        // Refused by its address: the node's count is given back.
        assert_eq!(
            a.connect(&players[2], Some(ip)).err(),
            Some(Refused::AddressConnections(2))
        );
        let _third = a.connect(&players[2], None).unwrap();
        assert_eq!(
            a.connect(&players[3], None).err(),
            Some(Refused::NodeConnections(3))
        );
        assert_eq!(a.connections_of(&players[3]), 0, "a refusal takes nothing");
        drop(first);
        assert!(
            a.connect(&players[3], None).is_ok(),
            "a slot given back is free"
        );
    }

    #[test]
    fn demo_signups_are_bounded_per_address() {
        let a = Admission::new(limits());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(a.signup(Some(ip)).is_ok());
        assert!(a.signup(Some(ip)).is_ok());
        assert_eq!(a.signup(Some(ip)), Err(Refused::AddressSignups));
        assert!(a.signup(Some("10.0.0.2".parse().unwrap())).is_ok());
    }
}
