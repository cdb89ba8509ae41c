//! Holds: what one wallet shard knows of its players' committed balances, and the stakes it
//! has promised to one-step spins before their draw. Pure state, no I/O; the shard actor
//! (`actor.rs`) drives it and unit tests below cover every rule.
//!
//! The rules, which make a hold a promise the ledger keeps:
//! - A balance is known only from a fresh committed result of this shard (every movement of
//!   the player passes through it on a single node), and forgotten on anything else (a
//!   replay, a refusal, a failed batch): the player's next spin takes the two-step path,
//!   which needs no knowledge and teaches the balance again.
//! - A hold is granted only when the balance is known, no other movement of the player is
//!   queued or committing, and the balance less what is already held covers the stake.
//! - While a player holds a stake, the shard parks the player's other movements (a table bet,
//!   a deposit) until every hold is released, so nothing else can spend it (`is_held`).

use std::collections::HashMap;

use crate::ids::PlayerId;

/// Players a shard keeps a book for. Past this, books with nothing held or in flight are
/// dropped (their players' next spin takes the two-step path once); a book is ~100 bytes,
/// so this caps a shard's books near 10 MB, above the connections a node allows.
pub const BOOKS_PER_SHARD: usize = 100_000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Book {
    /// The committed balance, when this shard knows it.
    balance: Option<i64>,
    /// Stakes promised to one-step spins not yet committed.
    held: i64,
    holds: u32,
    /// Other movements of this player queued or committing in the shard.
    others: u32,
}

impl Book {
    fn busy(&self) -> bool {
        self.holds > 0 || self.others > 0
    }
}

/// Why a hold was not granted: the spin takes the two-step path, where the ledger decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoHold {
    /// The shard does not know the balance now (never learned, forgotten, or another movement
    /// of the player is on its way).
    Unknown,
    /// The known balance, less what is held, does not cover the stake.
    Short { available: i64 },
    /// The shard keeps as many books as it may.
    Full,
}

/// What a committed (or failed) movement teaches about its player's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// The balance right after this movement, freshly committed.
    Balance(i64),
    /// Nothing certain (a replay answers an old balance; a refusal or failure, none).
    Forget,
}

#[derive(Debug)]
pub struct Holds {
    books: HashMap<PlayerId, Book>,
    cap: usize,
}

impl Default for Holds {
    fn default() -> Self {
        Self::with_capacity(BOOKS_PER_SHARD)
    }
}

impl Holds {
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            books: HashMap::new(),
            cap: cap.max(1),
        }
    }

    /// The player's book, making room for it if needed; `None` when the shard is full of busy
    /// books.
    fn book(&mut self, player: &PlayerId) -> Option<&mut Book> {
        if !self.books.contains_key(player) && self.books.len() >= self.cap {
            self.books.retain(|_, book| book.busy());
            if self.books.len() >= self.cap {
                return None;
            }
        }
        Some(self.books.entry(player.clone()).or_default())
    }

    /// Promises `stake` of the player's balance to a spin about to be drawn.
    pub fn try_hold(&mut self, player: &PlayerId, stake: i64) -> Result<(), NoHold> {
        let Some(book) = self.book(player) else {
            return Err(NoHold::Full);
        };
        let Some(balance) = book.balance.filter(|_| book.others == 0) else {
            return Err(NoHold::Unknown);
        };
        let available = balance - book.held;
        if stake <= 0 || available < stake {
            return Err(NoHold::Short { available });
        }
        book.held += stake;
        book.holds += 1;
        Ok(())
    }

    /// Gives back a hold whose spin never reached the ledger (its draw failed, its request was
    /// dropped). Nothing was written, so the balance stays known.
    pub fn release(&mut self, player: &PlayerId, stake: i64) {
        if let Some(book) = self.books.get_mut(player) {
            debug_assert!(
                book.holds > 0 && book.held >= stake,
                "release without a hold"
            );
            book.held = (book.held - stake).max(0);
            book.holds = book.holds.saturating_sub(1);
        }
    }

    /// The held spin's movement has committed (or failed): its hold ends and its result
    /// teaches the balance.
    pub fn play_done(&mut self, player: &PlayerId, stake: i64, learned: Learned) {
        self.release(player, stake);
        self.learn(player, learned);
    }

    /// Another movement of the player entered the shard's queue.
    pub fn other_queued(&mut self, player: &PlayerId) {
        if let Some(book) = self.book(player) {
            book.others += 1;
        }
    }

    /// Another movement of the player has committed (or failed).
    pub fn other_done(&mut self, player: &PlayerId, learned: Learned) {
        if let Some(book) = self.books.get_mut(player) {
            book.others = book.others.saturating_sub(1);
        }
        self.learn(player, learned);
    }

    fn learn(&mut self, player: &PlayerId, learned: Learned) {
        let Some(book) = self.book(player) else {
            return;
        };
        book.balance = match learned {
            Learned::Balance(balance) => {
                debug_assert!(balance >= 0, "a committed balance below zero");
                (balance >= 0).then_some(balance)
            }
            Learned::Forget => None,
        };
    }

    /// True while a spin holds part of the player's balance: the player's other movements wait.
    pub fn is_held(&self, player: &PlayerId) -> bool {
        self.books.get(player).is_some_and(|b| b.holds > 0)
    }

    #[cfg(test)]
    fn known(&self, player: &PlayerId) -> Option<i64> {
        self.books.get(player).and_then(|b| b.balance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> PlayerId {
        PlayerId::parse(name).unwrap()
    }

    #[test]
    fn nothing_is_held_before_a_committed_balance_is_known() {
        let mut h = Holds::default();
        assert_eq!(h.try_hold(&p("a"), 10), Err(NoHold::Unknown));
        h.other_queued(&p("a"));
        h.other_done(&p("a"), Learned::Balance(100));
        assert_eq!(h.try_hold(&p("a"), 10), Ok(()));
    }

    #[test]
    fn holds_never_promise_more_than_the_balance() {
        let mut h = Holds::default();
        h.other_queued(&p("a"));
        h.other_done(&p("a"), Learned::Balance(100));
        assert_eq!(h.try_hold(&p("a"), 60), Ok(()));
        assert_eq!(
            h.try_hold(&p("a"), 50),
            Err(NoHold::Short { available: 40 })
        );
        assert_eq!(h.try_hold(&p("a"), 40), Ok(()));
        assert_eq!(h.try_hold(&p("a"), 1), Err(NoHold::Short { available: 0 }));
        assert_eq!(h.try_hold(&p("a"), 0), Err(NoHold::Short { available: 0 }));
        // The first spin lost 60 and won 5: 45 committed, 40 still held.
        h.play_done(&p("a"), 60, Learned::Balance(45));
        assert_eq!(h.try_hold(&p("a"), 6), Err(NoHold::Short { available: 5 }));
        assert_eq!(h.try_hold(&p("a"), 5), Ok(()));
    }

    #[test]
    fn another_movement_on_its_way_makes_the_balance_unknown() {
        let mut h = Holds::default();
        h.other_queued(&p("a"));
        h.other_done(&p("a"), Learned::Balance(100));
        h.other_queued(&p("a")); // a table bet, say
        assert_eq!(h.try_hold(&p("a"), 10), Err(NoHold::Unknown));
        h.other_done(&p("a"), Learned::Balance(70));
        assert_eq!(h.try_hold(&p("a"), 70), Ok(()));
        assert!(h.is_held(&p("a")));
    }

    #[test]
    fn a_replay_a_refusal_or_a_failure_forgets_the_balance() {
        let mut h = Holds::default();
        h.other_queued(&p("a"));
        h.other_done(&p("a"), Learned::Balance(100));
        assert_eq!(h.try_hold(&p("a"), 10), Ok(()));
        h.play_done(&p("a"), 10, Learned::Forget);
        assert_eq!(h.known(&p("a")), None);
        assert_eq!(h.try_hold(&p("a"), 10), Err(NoHold::Unknown));
        assert!(!h.is_held(&p("a")));
    }

    #[test]
    fn a_released_hold_gives_its_stake_back_and_keeps_the_balance() {
        let mut h = Holds::default();
        h.other_queued(&p("a"));
        h.other_done(&p("a"), Learned::Balance(100));
        assert_eq!(h.try_hold(&p("a"), 100), Ok(()));
        h.release(&p("a"), 100);
        assert!(!h.is_held(&p("a")));
        assert_eq!(h.known(&p("a")), Some(100));
        assert_eq!(h.try_hold(&p("a"), 100), Ok(()));
    }

    #[test]
    fn the_books_are_bounded_and_busy_books_are_kept() {
        let mut h = Holds::with_capacity(2);
        for name in ["a", "b"] {
            h.other_queued(&p(name));
            h.other_done(&p(name), Learned::Balance(50));
        }
        assert_eq!(h.try_hold(&p("a"), 10), Ok(()));
        // "c" makes room by dropping the idle book of "b", never the held one of "a".
        h.other_queued(&p("c"));
        assert_eq!(h.known(&p("b")), None);
        assert!(h.is_held(&p("a")));
        // Both books busy: a fourth player gets no book, and no hold.
        assert_eq!(h.try_hold(&p("d"), 1), Err(NoHold::Full));
        h.other_done(&p("c"), Learned::Balance(5));
        assert_eq!(h.try_hold(&p("c"), 5), Ok(()));
    }
}
