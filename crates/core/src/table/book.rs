//! The bets of one table round, as a pure state machine: a bet is *reserved* when the table
//! accepts it (betting open, limits kept), *confirmed* once its debit has committed, or
//! *cancelled* if the debit was refused. When the round settles the book is *closed*: a debit
//! that commits after that is too late and must be refunded, so money is never left hanging.

use std::collections::{BTreeMap, HashMap};

use crate::ids::{PlayerId, ReqId, RoundId};
use crate::jackpot::{JackpotClaim, LevelDraw};
use crate::money::Money;

use super::rules::{Stake, TableBet};

/// Most bets one player may hold in one round: a layout has 157 roulette bets, so this is
/// room for covering the table twice while bounding a round's memory per player.
pub const MAX_BETS_PER_PLAYER: usize = 300;
/// Most bets in one round over all players: bounds a round's memory and settlement batch.
pub const MAX_BETS_PER_ROUND: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("at most {MAX_BETS_PER_PLAYER} bets per player per round")]
    TooManyBetsForPlayer,
    #[error("this round holds its maximum of {MAX_BETS_PER_ROUND} bets")]
    RoundFull,
    #[error("the round has already settled")]
    Closed,
}

impl BookError {
    /// The client's error code: a bet the round cannot hold is out of the table's limits.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        crate::protocol::ErrorCode::BetOutOfLimits
    }
}

/// One bet of the round. `bet_id` is the bet's ledger round id (its debit is `<bet_id>:bet`).
#[derive(Debug, Clone)]
pub struct PlacedBet<N> {
    pub bet_id: RoundId,
    pub player: PlayerId,
    pub req_id: ReqId,
    pub bet: TableBet,
    pub amount: Money,
    /// Who to tell about this bet's settlement (the placing connection).
    pub notify: N,
    /// Jackpot levels this bet claims, drawn when its debit committed; paid at settlement.
    pub claims: Vec<JackpotClaim>,
    /// The jackpot draws those claims came from, kept with the bet's round.
    pub draws: Vec<LevelDraw>,
}

impl<N> PlacedBet<N> {
    pub fn stake(&self) -> Stake {
        Stake {
            bet_id: self.bet_id.to_string(),
            bet: self.bet,
            amount: self.amount.clone(),
        }
    }
}

#[derive(Debug)]
pub struct RoundBook<N> {
    round_id: RoundId,
    pending: BTreeMap<RoundId, PlacedBet<N>>,
    confirmed: Vec<PlacedBet<N>>,
    /// Bets (pending or confirmed) per player: the per-player bound without a scan.
    per_player: HashMap<PlayerId, usize>,
    closed: bool,
}

impl<N: Clone> RoundBook<N> {
    pub fn new(round_id: RoundId) -> Self {
        Self {
            round_id,
            pending: BTreeMap::new(),
            confirmed: Vec::new(),
            per_player: HashMap::new(),
            closed: false,
        }
    }

    pub fn round_id(&self) -> &RoundId {
        &self.round_id
    }

    fn forget(&mut self, player: &PlayerId) {
        if let Some(count) = self.per_player.get_mut(player) {
            *count -= 1;
            if *count == 0 {
                self.per_player.remove(player);
            }
        }
    }

    /// Takes a bet the table accepted; its debit is now in flight.
    pub fn reserve(&mut self, bet: PlacedBet<N>) -> Result<(), BookError> {
        if self.closed {
            return Err(BookError::Closed);
        }
        if self.pending.len() + self.confirmed.len() >= MAX_BETS_PER_ROUND {
            return Err(BookError::RoundFull);
        }
        let count = self.per_player.entry(bet.player.clone()).or_insert(0);
        if *count >= MAX_BETS_PER_PLAYER {
            return Err(BookError::TooManyBetsForPlayer);
        }
        *count += 1;
        self.pending.insert(bet.bet_id.clone(), bet);
        Ok(())
    }

    /// The bet's debit committed: it plays in this round, unless the round already settled
    /// (then the caller refunds it). Unknown ids are too late too: nothing to play.
    pub fn confirm(
        &mut self,
        bet_id: &RoundId,
        claims: Vec<JackpotClaim>,
        draws: Vec<LevelDraw>,
    ) -> Result<&PlacedBet<N>, BookError> {
        let mut bet = self.pending.remove(bet_id).ok_or(BookError::Closed)?;
        bet.claims = claims;
        bet.draws = draws;
        if self.closed {
            self.forget(&bet.player);
            return Err(BookError::Closed);
        }
        self.confirmed.push(bet);
        Ok(self.confirmed.last().expect("just pushed"))
    }

    /// The bet's debit was refused (insufficient funds, ledger down): it never played.
    pub fn cancel(&mut self, bet_id: &RoundId) {
        if let Some(bet) = self.pending.remove(bet_id) {
            self.forget(&bet.player);
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn confirmed(&self) -> &[PlacedBet<N>] {
        &self.confirmed
    }

    /// Bets of one player, confirmed first, then those whose debit is in flight.
    pub fn bets_of<'a>(&'a self, player: &'a PlayerId) -> impl Iterator<Item = &'a PlacedBet<N>> {
        self.confirmed
            .iter()
            .chain(self.pending.values())
            .filter(move |b| &b.player == player)
    }

    /// Closes the book: the confirmed bets settle (or are voided); anything still pending
    /// will be told it is too late by [`RoundBook::confirm`].
    pub fn close(&mut self) -> Vec<PlacedBet<N>> {
        self.closed = true;
        std::mem::take(&mut self.confirmed)
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::baccarat::BaccaratBet;
    use crate::money::Currency;

    fn bet(player: &str, n: u32) -> PlacedBet<()> {
        let eur = Currency::new("EUR", 2).unwrap();
        PlacedBet {
            bet_id: RoundId::parse(&format!("bet-{player}-{n}")).unwrap(),
            player: PlayerId::parse(player).unwrap(),
            req_id: ReqId::parse(&format!("r{n}")).unwrap(),
            bet: TableBet::Baccarat(BaccaratBet::Banker),
            amount: Money::parse_positive("1.00", &eur).unwrap(),
            notify: (),
            claims: Vec::new(),
            draws: Vec::new(),
        }
    }

    #[test]
    fn a_bet_plays_only_once_its_debit_is_confirmed() {
        let mut book = RoundBook::new(RoundId::parse("round-1").unwrap());
        let a = bet("alice", 1);
        book.reserve(a.clone()).unwrap();
        book.reserve(bet("bob", 2)).unwrap();
        assert_eq!(book.pending(), 2);
        assert!(book.confirmed().is_empty());
        book.confirm(&a.bet_id, Vec::new(), Vec::new()).unwrap();
        book.cancel(&RoundId::parse("bet-bob-2").unwrap());
        assert_eq!(book.pending(), 0);
        assert_eq!(book.bets_of(&a.player).count(), 1);
        let settled = book.close();
        assert_eq!(settled.len(), 1);
        assert_eq!(settled[0].bet_id, a.bet_id);
    }

    #[test]
    fn a_debit_that_commits_after_the_close_is_too_late() {
        let mut book = RoundBook::new(RoundId::parse("round-1").unwrap());
        let late = bet("alice", 1);
        book.reserve(late.clone()).unwrap();
        assert!(book.close().is_empty());
        assert_eq!(
            book.confirm(&late.bet_id, Vec::new(), Vec::new())
                .unwrap_err(),
            BookError::Closed
        );
        assert_eq!(book.pending(), 0, "the late bet leaves the book");
        assert_eq!(book.reserve(bet("bob", 2)).unwrap_err(), BookError::Closed);
        // Confirming twice, or an id never reserved, is refused the same way.
        assert!(book.confirm(&late.bet_id, Vec::new(), Vec::new()).is_err());
    }

    #[test]
    fn bets_per_player_are_bounded() {
        let mut book = RoundBook::new(RoundId::parse("round-1").unwrap());
        for n in 0..MAX_BETS_PER_PLAYER as u32 {
            book.reserve(bet("alice", n)).unwrap();
        }
        assert_eq!(
            book.reserve(bet("alice", 9999)).unwrap_err(),
            BookError::TooManyBetsForPlayer
        );
        assert!(book.reserve(bet("bob", 1)).is_ok());
    }
}
