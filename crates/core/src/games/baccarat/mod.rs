//! Baccarat punto banco rules: cards and the shoe (shuffle, burn, cut card), dealing a coup
//! with the fixed third-card rules, the bets and their settlement under both commission
//! variants, and the exact house edge of each bet for a full shoe.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | cards, the shoe, the tableau (who draws a third card) and dealing a coup |
//! | `bets.rs` | the bets, what each pays under both commission variants, settlement |
//! | `edge.rs` | the exact house edge of every bet, by enumerating a full shoe |
//!
//! Pure functions only: no clock, no I/O. Randomness enters only through the
//! [`RandomSource`] given to [`Shoe::new`]; everything after that is a function of the shoe.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};
use crate::rng::RandomSource;

mod bets;
mod edge;

pub use bets::{settle, BaccaratBet, BaccaratSettlement, BaccaratStake, Commission, Outcome};
pub use edge::{house_edge_fractions, house_edges, EdgeFraction};

/// Decks in a standard punto banco shoe.
pub const DECKS: usize = 8;
/// Fewest decks a shoe may hold.
pub const MIN_DECKS: usize = 1;
/// Most decks a shoe may hold: a dealing shoe takes about eight.
pub const MAX_DECKS: usize = 8;
/// Cards in one deck.
pub const CARDS_PER_DECK: usize = 52;
/// The cut card goes in front of the last this-many cards. Reaching it ends the shoe after
/// the coup in progress, which takes at most 5 more cards, so 11 to 16 cards stay undealt.
pub const CUT_CARD_FROM_END: usize = 16;
/// Most cards a coup can use: two per hand plus one third card each.
pub const MAX_CARDS_PER_COUP: usize = 6;
/// Highest card rank (king); ace is 1.
pub const MAX_RANK: u8 = 13;
/// Ranks of each point value in a deck: 10, J, Q, K count 0; A..9 count their face.
const RANKS_PER_POINT: [u64; 10] = [4, 1, 1, 1, 1, 1, 1, 1, 1, 1];
/// Suits per deck.
const SUITS: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaccaratError {
    #[error("card rank must be 1 (ace) to 13 (king), got {0}")]
    InvalidRank(u8),
    #[error("a shoe holds {MIN_DECKS} to {MAX_DECKS} decks, got {0}")]
    DeckCount(usize),
    #[error("the shoe ran out of cards in the middle of a coup")]
    ShoeExhausted,
    #[error("the cut card has been reached: shuffle a new shoe before the next coup")]
    ShoeNeedsShuffle,
    #[error(
        "unknown bet kind {0:?}; expected one of player, banker, tie, player_pair, banker_pair"
    )]
    UnknownBetKind(String),
    #[error("the recorded coup does not follow the drawing rules: {0}")]
    InconsistentCoup(&'static str),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suit {
    Clubs,
    Diamonds,
    Hearts,
    Spades,
}

impl Suit {
    pub const ALL: [Suit; SUITS] = [Suit::Clubs, Suit::Diamonds, Suit::Hearts, Suit::Spades];
}

/// A playing card; the rank is always 1 (ace) ..= 13 (king).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawCard")]
pub struct Card {
    rank: u8,
    suit: Suit,
}

#[derive(Deserialize)]
struct RawCard {
    rank: u8,
    suit: Suit,
}

impl TryFrom<RawCard> for Card {
    type Error = BaccaratError;
    fn try_from(raw: RawCard) -> Result<Self, Self::Error> {
        Card::new(raw.rank, raw.suit)
    }
}

impl Card {
    pub fn new(rank: u8, suit: Suit) -> Result<Card, BaccaratError> {
        if !(1..=MAX_RANK).contains(&rank) {
            return Err(BaccaratError::InvalidRank(rank));
        }
        Ok(Card { rank, suit })
    }

    pub fn rank(self) -> u8 {
        self.rank
    }

    pub fn suit(self) -> Suit {
        self.suit
    }

    /// Baccarat value: ace 1, 2–9 face value, 10 and court cards 0.
    pub fn points(self) -> u8 {
        if self.rank < 10 {
            self.rank
        } else {
            0
        }
    }
}

/// Every card of `decks` decks in a fixed order (unshuffled).
fn ordered_cards(decks: usize) -> Vec<Card> {
    let mut cards = Vec::with_capacity(decks * CARDS_PER_DECK);
    for _ in 0..decks {
        for suit in Suit::ALL {
            for rank in 1..=MAX_RANK {
                cards.push(Card { rank, suit });
            }
        }
    }
    cards
}

/// The cards of one shoe in dealing order, with the position of the cut card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shoe {
    cards: Vec<Card>,
    /// Index of the next card to deal.
    next: usize,
    /// Index in front of which the cut card sits.
    cut_at: usize,
    /// Cards burned after the shuffle (the exposed card included).
    burned: usize,
}

impl Shoe {
    /// A freshly shuffled shoe of `decks` decks.
    ///
    /// [`crate::rng::shuffle`] (Fisher–Yates with `rng.below(i + 1)`), so every order is
    /// equally likely. Then the usual
    /// burn: the first card is turned face up and as many further cards as its value are
    /// burned (10 for a 10 or court card), 2 to 11 cards in all. The cut card goes in front
    /// of the last [`CUT_CARD_FROM_END`] cards.
    pub fn new(decks: usize, rng: &mut impl RandomSource) -> Result<Shoe, BaccaratError> {
        if !(MIN_DECKS..=MAX_DECKS).contains(&decks) {
            return Err(BaccaratError::DeckCount(decks));
        }
        let mut cards = ordered_cards(decks);
        crate::rng::shuffle(&mut cards, rng);
        let burn_value = match cards[0].points() {
            0 => 10,
            points => usize::from(points),
        };
        let burned = 1 + burn_value;
        let cut_at = cards.len() - CUT_CARD_FROM_END;
        Ok(Shoe {
            cards,
            next: burned,
            cut_at,
            burned,
        })
    }

    /// A shoe dealing exactly `cards` in this order: no shuffle, no burn, and the cut card
    /// behind the last card. For tests and for replaying a recorded shoe.
    pub fn stacked(cards: Vec<Card>) -> Shoe {
        let cut_at = cards.len();
        Shoe {
            cards,
            next: 0,
            cut_at,
            burned: 0,
        }
    }

    /// True once the cut card has come out: finish the coup in progress, then shuffle.
    pub fn needs_shuffle(&self) -> bool {
        self.next >= self.cut_at
    }

    /// Cards not dealt yet (including those behind the cut card).
    pub fn remaining(&self) -> usize {
        self.cards.len() - self.next
    }

    /// Cards burned after the shuffle.
    pub fn burned(&self) -> usize {
        self.burned
    }

    /// Total cards in the shoe.
    pub fn len(&self) -> usize {
        self.cards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }

    fn draw(&mut self) -> Result<Card, BaccaratError> {
        let card = *self
            .cards
            .get(self.next)
            .ok_or(BaccaratError::ShoeExhausted)?;
        self.next += 1;
        Ok(card)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    Player,
    Banker,
    Tie,
}

/// One dealt coup. Built only by dealing (or by deserializing a record that replays to the
/// same coup), so it always follows the drawing rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CoupRecord", into = "CoupRecord")]
pub struct Coup {
    player_cards: Vec<Card>,
    banker_cards: Vec<Card>,
    player_total: u8,
    banker_total: u8,
    winner: Winner,
    player_pair: bool,
    banker_pair: bool,
    banker_won_on_six: bool,
}

/// The serialized round record of a coup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CoupRecord {
    pub player_cards: Vec<Card>,
    pub banker_cards: Vec<Card>,
    pub player_total: u8,
    pub banker_total: u8,
    pub winner: Winner,
    pub player_pair: bool,
    pub banker_pair: bool,
    pub banker_won_on_six: bool,
}

impl From<Coup> for CoupRecord {
    fn from(c: Coup) -> Self {
        CoupRecord {
            player_cards: c.player_cards,
            banker_cards: c.banker_cards,
            player_total: c.player_total,
            banker_total: c.banker_total,
            winner: c.winner,
            player_pair: c.player_pair,
            banker_pair: c.banker_pair,
            banker_won_on_six: c.banker_won_on_six,
        }
    }
}

impl TryFrom<CoupRecord> for Coup {
    type Error = BaccaratError;
    /// Replays the recorded cards in dealing order and accepts the record only if the rules
    /// produce exactly it.
    fn try_from(record: CoupRecord) -> Result<Self, Self::Error> {
        let (p, b) = (&record.player_cards, &record.banker_cards);
        if p.len() < 2 || b.len() < 2 || p.len() > 3 || b.len() > 3 {
            return Err(BaccaratError::InconsistentCoup(
                "each hand has 2 or 3 cards",
            ));
        }
        let mut order = vec![p[0], b[0], p[1], b[1]];
        order.extend(p.get(2));
        order.extend(b.get(2));
        let mut shoe = Shoe::stacked(order);
        let replayed = play_coup(&mut shoe)?;
        let same = replayed.player_cards == record.player_cards
            && replayed.banker_cards == record.banker_cards
            && replayed.player_total == record.player_total
            && replayed.banker_total == record.banker_total
            && replayed.winner == record.winner
            && replayed.player_pair == record.player_pair
            && replayed.banker_pair == record.banker_pair
            && replayed.banker_won_on_six == record.banker_won_on_six;
        if same {
            Ok(replayed)
        } else {
            Err(BaccaratError::InconsistentCoup(
                "the cards do not give the recorded draws, totals or result",
            ))
        }
    }
}

impl Coup {
    pub fn player_cards(&self) -> &[Card] {
        &self.player_cards
    }
    pub fn banker_cards(&self) -> &[Card] {
        &self.banker_cards
    }
    pub fn player_total(&self) -> u8 {
        self.player_total
    }
    pub fn banker_total(&self) -> u8 {
        self.banker_total
    }
    pub fn winner(&self) -> Winner {
        self.winner
    }
    /// The player's first two cards have the same rank.
    pub fn player_pair(&self) -> bool {
        self.player_pair
    }
    /// The banker's first two cards have the same rank.
    pub fn banker_pair(&self) -> bool {
        self.banker_pair
    }
    /// The banker won with a final total of 6 (pays 1:2 under no-commission).
    pub fn banker_won_on_six(&self) -> bool {
        self.banker_won_on_six
    }
}

/// Total of a hand: the sum of point values modulo 10.
fn hand_total(points: impl IntoIterator<Item = u8>) -> u8 {
    points.into_iter().fold(0, |total, p| (total + p) % 10)
}

/// A two-card 8 or 9: both hands stand.
fn is_natural(two_card_total: u8) -> bool {
    two_card_total >= 8
}

/// The player draws on 0–5 and stands on 6–7 (only asked when neither hand is a natural).
fn player_draws(player_total: u8) -> bool {
    player_total <= 5
}

/// The banker's rule (only asked when neither hand is a natural). When the player stood, the
/// banker draws on 0–5. Otherwise it depends on the value of the player's third card:
///
/// | banker | draws when the player's third card is |
/// |--------|---------------------------------------|
/// | 0–2    | anything                              |
/// | 3      | anything but 8                        |
/// | 4      | 2–7                                   |
/// | 5      | 4–7                                   |
/// | 6      | 6–7                                   |
/// | 7      | never                                 |
fn banker_draws(banker_total: u8, player_third: Option<u8>) -> bool {
    match player_third {
        None => banker_total <= 5,
        Some(third) => match banker_total {
            0..=2 => true,
            3 => third != 8,
            4 => (2..=7).contains(&third),
            5 => (4..=7).contains(&third),
            6 => (6..=7).contains(&third),
            _ => false,
        },
    }
}

/// Deals one coup: player, banker, player, banker, then the third cards by the rules.
///
/// Refuses to start once the cut card has come out; a coup that reaches the cut card
/// always finishes (the cards behind it are there for that).
pub fn deal_coup(shoe: &mut Shoe) -> Result<Coup, BaccaratError> {
    if shoe.needs_shuffle() {
        return Err(BaccaratError::ShoeNeedsShuffle);
    }
    play_coup(shoe)
}

fn play_coup(shoe: &mut Shoe) -> Result<Coup, BaccaratError> {
    let mut player_cards = Vec::with_capacity(3);
    let mut banker_cards = Vec::with_capacity(3);
    player_cards.push(shoe.draw()?);
    banker_cards.push(shoe.draw()?);
    player_cards.push(shoe.draw()?);
    banker_cards.push(shoe.draw()?);

    let points = |cards: &[Card]| hand_total(cards.iter().map(|c| c.points()));
    let (player_two, banker_two) = (points(&player_cards), points(&banker_cards));
    if !is_natural(player_two) && !is_natural(banker_two) {
        let mut player_third = None;
        if player_draws(player_two) {
            let card = shoe.draw()?;
            player_third = Some(card.points());
            player_cards.push(card);
        }
        if banker_draws(banker_two, player_third) {
            banker_cards.push(shoe.draw()?);
        }
    }

    let (player_total, banker_total) = (points(&player_cards), points(&banker_cards));
    let winner = match player_total.cmp(&banker_total) {
        std::cmp::Ordering::Greater => Winner::Player,
        std::cmp::Ordering::Less => Winner::Banker,
        std::cmp::Ordering::Equal => Winner::Tie,
    };
    Ok(Coup {
        player_pair: player_cards[0].rank == player_cards[1].rank,
        banker_pair: banker_cards[0].rank == banker_cards[1].rank,
        banker_won_on_six: winner == Winner::Banker && banker_total == 6,
        player_cards,
        banker_cards,
        player_total,
        banker_total,
        winner,
    })
}

#[cfg(test)]
mod tests;
