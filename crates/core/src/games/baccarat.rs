//! Baccarat punto banco rules: cards and the shoe (shuffle, burn, cut card), dealing a coup
//! with the fixed third-card rules, the bets and their settlement under both commission
//! variants, and the exact house edge of each bet for a full shoe.
//!
//! Pure functions only: no clock, no I/O. Randomness enters only through the
//! [`RandomSource`] given to [`Shoe::new`]; everything after that is a function of the shoe.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};
use crate::rng::RandomSource;

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
    /// Fisher–Yates with `rng.below(i + 1)`, so every order is equally likely. Then the usual
    /// burn: the first card is turned face up and as many further cards as its value are
    /// burned (10 for a 10 or court card), 2 to 11 cards in all. The cut card goes in front
    /// of the last [`CUT_CARD_FROM_END`] cards.
    pub fn new(decks: usize, rng: &mut impl RandomSource) -> Result<Shoe, BaccaratError> {
        if !(MIN_DECKS..=MAX_DECKS).contains(&decks) {
            return Err(BaccaratError::DeckCount(decks));
        }
        let mut cards = ordered_cards(decks);
        for i in (1..cards.len()).rev() {
            // i < 52 × MAX_DECKS, far inside u32.
            let j = rng.below(i as u32 + 1) as usize;
            cards.swap(i, j);
        }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaccaratBet {
    Player,
    Banker,
    Tie,
    PlayerPair,
    BankerPair,
}

impl BaccaratBet {
    pub const ALL: [BaccaratBet; 5] = [
        BaccaratBet::Player,
        BaccaratBet::Banker,
        BaccaratBet::Tie,
        BaccaratBet::PlayerPair,
        BaccaratBet::BankerPair,
    ];

    pub fn parse(kind: &str) -> Result<BaccaratBet, BaccaratError> {
        BaccaratBet::ALL
            .into_iter()
            .find(|bet| bet.kind() == kind)
            .ok_or_else(|| BaccaratError::UnknownBetKind(kind.to_string()))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            BaccaratBet::Player => "player",
            BaccaratBet::Banker => "banker",
            BaccaratBet::Tie => "tie",
            BaccaratBet::PlayerPair => "player_pair",
            BaccaratBet::BankerPair => "banker_pair",
        }
    }
}

/// How a winning banker bet is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Commission {
    /// Banker pays 0.95:1 (a 5% commission on the winnings).
    Standard,
    /// Banker pays 1:1, except a banker win on a total of 6 pays 1:2.
    NoCommission,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Win,
    Lose,
    Push,
}

/// One bet placed on a coup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaccaratStake {
    /// Opaque id chosen by the caller, echoed in the settlement.
    pub bet_id: String,
    pub bet: BaccaratBet,
    pub amount: Money,
}

/// The result of one stake: `returned` is stake + winnings on a win, the stake on a push,
/// zero on a loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaccaratSettlement {
    pub bet_id: String,
    pub outcome: Outcome,
    pub returned: Money,
}

/// Player, tie and pair winnings per unit staked.
const PLAYER_PAYS: i64 = 1;
const TIE_PAYS: i64 = 8;
const PAIR_PAYS: i64 = 11;

/// Winnings per unit staked for a winning banker bet on this coup, e.g. 0.95 (standard).
fn banker_pays(coup: &Coup, commission: Commission) -> Decimal {
    match commission {
        Commission::Standard => Decimal::new(95, 2),
        Commission::NoCommission if coup.banker_won_on_six => Decimal::new(5, 1),
        Commission::NoCommission => Decimal::ONE,
    }
}

/// The outcome of `bet` on `coup`, with the winnings per unit staked when it wins.
fn judge(bet: BaccaratBet, coup: &Coup, commission: Commission) -> (Outcome, Decimal) {
    let win_if = |won: bool, pays: Decimal| {
        if won {
            (Outcome::Win, pays)
        } else {
            (Outcome::Lose, Decimal::ZERO)
        }
    };
    match (bet, coup.winner) {
        (BaccaratBet::Player | BaccaratBet::Banker, Winner::Tie) => (Outcome::Push, Decimal::ZERO),
        (BaccaratBet::Player, winner) => win_if(winner == Winner::Player, PLAYER_PAYS.into()),
        (BaccaratBet::Banker, winner) => {
            win_if(winner == Winner::Banker, banker_pays(coup, commission))
        }
        (BaccaratBet::Tie, winner) => win_if(winner == Winner::Tie, TIE_PAYS.into()),
        (BaccaratBet::PlayerPair, _) => win_if(coup.player_pair, PAIR_PAYS.into()),
        (BaccaratBet::BankerPair, _) => win_if(coup.banker_pair, PAIR_PAYS.into()),
    }
}

/// Settles every stake against `coup`, in the order given.
///
/// Winnings are `stake × ratio` rounded DOWN to the currency's minor unit
/// ([`Money::mul_floor`]); only the 0.95 and 0.5 ratios can leave a fraction, so the 5%
/// commission is in effect rounded up: a 0.10 EUR banker win pays 0.09 and returns 0.19.
/// Fails only if a return would exceed the largest amount `Money` can hold.
pub fn settle(
    bets: &[BaccaratStake],
    coup: &Coup,
    commission: Commission,
) -> Result<Vec<BaccaratSettlement>, BaccaratError> {
    bets.iter()
        .map(|stake| {
            let (outcome, pays) = judge(stake.bet, coup, commission);
            let returned = match outcome {
                Outcome::Win => {
                    let winnings = stake.amount.mul_floor(pays)?;
                    stake.amount.checked_add(&winnings)?
                }
                Outcome::Push => stake.amount.clone(),
                Outcome::Lose => Money::zero(stake.amount.currency()),
            };
            Ok(BaccaratSettlement {
                bet_id: stake.bet_id.clone(),
                outcome,
                returned,
            })
        })
        .collect()
}

/// An exact house edge: expected loss per unit staked as `numerator / denominator`, reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeFraction {
    pub numerator: i64,
    pub denominator: i64,
}

impl EdgeFraction {
    fn new(numerator: i128, denominator: i128) -> EdgeFraction {
        let (mut a, mut b) = (numerator.abs(), denominator.abs());
        while b != 0 {
            (a, b) = (b, a % b);
        }
        let divisor = a.max(1);
        // The inputs are bounded by EDGE_DENOMINATOR_BOUND, so the reduced parts fit in i64.
        EdgeFraction {
            numerator: (numerator / divisor) as i64,
            denominator: (denominator / divisor) as i64,
        }
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::from(self.numerator) / Decimal::from(self.denominator)
    }
}

/// Cards in the shoe the house edges are computed for.
const EDGE_SHOE_CARDS: u64 = (DECKS * CARDS_PER_DECK) as u64;
/// Bound on every numerator and denominator the edge computation forms: 20 (from the 0.95 =
/// 19/20 payout) × N⁶ (more than the ordered 6-card sequences of an N-card shoe).
const EDGE_DENOMINATOR_BOUND: u128 = 20 * (EDGE_SHOE_CARDS as u128).pow(6);
const _: () = assert!(EDGE_DENOMINATOR_BOUND < i64::MAX as u128);

/// Weighted counts of the coup outcomes over every card sequence of a full shoe.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct OutcomeWeights {
    player: u128,
    banker_not_six: u128,
    banker_six: u128,
    tie: u128,
}

/// Enumerates every sequence of point values a coup can draw from a full shoe, without
/// replacement. Each sequence is weighted by the product of the remaining counts at each draw,
/// scaled to the common denominator N·(N−1)·…·(N−5) (N cards) by multiplying short sequences
/// by the number of ways to complete them to six cards. Returns (weights, denominator).
fn coup_outcome_weights() -> (OutcomeWeights, u128) {
    let mut counts = RANKS_PER_POINT.map(|ranks| ranks * SUITS as u64 * DECKS as u64);
    let n = EDGE_SHOE_CARDS;
    let completions = |dealt: u64| -> u128 { (dealt..6).map(|k| u128::from(n - k)).product() };
    let mut weights = OutcomeWeights::default();

    // Takes one card of value `v` out of `counts` and returns how many there were.
    fn take(counts: &mut [u64; 10], v: usize) -> u128 {
        let available = counts[v];
        counts[v] -= 1;
        u128::from(available)
    }
    let mut record = |player: u8, banker: u8, weight: u128| match player.cmp(&banker) {
        std::cmp::Ordering::Greater => weights.player += weight,
        std::cmp::Ordering::Equal => weights.tie += weight,
        std::cmp::Ordering::Less if banker == 6 => weights.banker_six += weight,
        std::cmp::Ordering::Less => weights.banker_not_six += weight,
    };

    for p1 in 0..10 {
        if counts[p1] == 0 {
            continue;
        }
        let w1 = take(&mut counts, p1);
        for b1 in 0..10 {
            if counts[b1] == 0 {
                continue;
            }
            let w2 = w1 * take(&mut counts, b1);
            for p2 in 0..10 {
                if counts[p2] == 0 {
                    continue;
                }
                let w3 = w2 * take(&mut counts, p2);
                for b2 in 0..10 {
                    if counts[b2] == 0 {
                        continue;
                    }
                    let w4 = w3 * take(&mut counts, b2);
                    let player = hand_total([p1 as u8, p2 as u8]);
                    let banker = hand_total([b1 as u8, b2 as u8]);
                    if is_natural(player) || is_natural(banker) {
                        record(player, banker, w4 * completions(4));
                    } else if player_draws(player) {
                        for p3 in 0..10 {
                            if counts[p3] == 0 {
                                continue;
                            }
                            let w5 = w4 * take(&mut counts, p3);
                            let player3 = hand_total([player, p3 as u8]);
                            if banker_draws(banker, Some(p3 as u8)) {
                                for (b3, &left) in counts.iter().enumerate() {
                                    let banker3 = hand_total([banker, b3 as u8]);
                                    record(player3, banker3, w5 * u128::from(left));
                                }
                            } else {
                                record(player3, banker, w5 * completions(5));
                            }
                            counts[p3] += 1;
                        }
                    } else if banker_draws(banker, None) {
                        for (b3, &left) in counts.iter().enumerate() {
                            let banker3 = hand_total([banker, b3 as u8]);
                            record(player, banker3, w4 * u128::from(left) * completions(5));
                        }
                    } else {
                        record(player, banker, w4 * completions(4));
                    }
                    counts[b2] += 1;
                }
                counts[p2] += 1;
            }
            counts[b1] += 1;
        }
        counts[p1] += 1;
    }
    (weights, completions(0))
}

/// Pair weights over every ordered rank sequence of the first four cards of a full shoe,
/// without replacement: (player pair, banker pair, all sequences). Dealing order is player,
/// banker, player, banker, so the player pairs cards 1 and 3 and the banker cards 2 and 4.
fn pair_weights() -> (u128, u128, u128) {
    const FIRST_FOUR: usize = 4;
    /// Sums: [player pair, banker pair, total].
    fn walk(
        depth: usize,
        weight: u128,
        counts: &mut [u64],
        ranks: &mut [usize; FIRST_FOUR],
        sums: &mut [u128; 3],
    ) {
        if depth == FIRST_FOUR {
            sums[2] += weight;
            if ranks[0] == ranks[2] {
                sums[0] += weight;
            }
            if ranks[1] == ranks[3] {
                sums[1] += weight;
            }
            return;
        }
        for rank in 0..counts.len() {
            let available = counts[rank];
            if available == 0 {
                continue;
            }
            counts[rank] -= 1;
            ranks[depth] = rank;
            walk(
                depth + 1,
                weight * u128::from(available),
                counts,
                ranks,
                sums,
            );
            counts[rank] += 1;
        }
    }
    let mut counts = vec![(SUITS * DECKS) as u64; usize::from(MAX_RANK)];
    let mut sums = [0u128; 3];
    walk(0, 1, &mut counts, &mut [0; FIRST_FOUR], &mut sums);
    (sums[0], sums[1], sums[2])
}

/// Exact house edges of every bet for a full [`DECKS`]-deck shoe, as reduced fractions.
///
/// Convention: the edge is the expected loss per unit staked per coup; for player and banker
/// bets a tie is a push that counts in the denominator (the classic 1.06% / 1.24% figures).
pub fn house_edge_fractions(commission: Commission) -> Vec<(BaccaratBet, EdgeFraction)> {
    let (w, total) = coup_outcome_weights();
    let (player_pair, banker_pair, pair_total) = pair_weights();
    let signed = |x: u128| x as i128;
    let (player, banker_6, banker_not_6, tie) = (
        signed(w.player),
        signed(w.banker_six),
        signed(w.banker_not_six),
        signed(w.tie),
    );
    let banker = banker_6 + banker_not_6;
    let total = signed(total);

    // Edge = −(Σ winnings × weight − Σ stake lost × weight) / total.
    let player_edge = EdgeFraction::new(banker - player, total);
    let banker_edge = match commission {
        // 0.95 = 19/20.
        Commission::Standard => EdgeFraction::new(20 * player - 19 * banker, 20 * total),
        // Winning on 6 pays 1/2.
        Commission::NoCommission => {
            EdgeFraction::new(2 * player - 2 * banker_not_6 - banker_6, 2 * total)
        }
    };
    let tie_edge = EdgeFraction::new((player + banker) - i128::from(TIE_PAYS) * tie, total);
    let pair_edge = |pair: u128| {
        let pair = signed(pair);
        let lose = signed(pair_total) - pair;
        EdgeFraction::new(lose - i128::from(PAIR_PAYS) * pair, signed(pair_total))
    };
    vec![
        (BaccaratBet::Player, player_edge),
        (BaccaratBet::Banker, banker_edge),
        (BaccaratBet::Tie, tie_edge),
        (BaccaratBet::PlayerPair, pair_edge(player_pair)),
        (BaccaratBet::BankerPair, pair_edge(banker_pair)),
    ]
}

/// Exact house edges of every bet (see [`house_edge_fractions`] for the convention).
pub fn house_edges(commission: Commission) -> Vec<(BaccaratBet, Decimal)> {
    house_edge_fractions(commission)
        .into_iter()
        .map(|(bet, edge)| (bet, edge.to_decimal()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;
    use std::collections::HashMap;

    use crate::rng::testing::seeded;

    fn eur() -> Currency {
        Currency::new("EUR", 2).expect("EUR is valid")
    }

    fn euros(text: &str) -> Money {
        Money::parse(text, &eur()).expect("test amount")
    }

    /// A card of `rank`; suits rotate so pairs are by rank, not identical cards.
    fn card(rank: u8, suit: Suit) -> Card {
        Card::new(rank, suit).expect("test rank")
    }

    /// Deals a coup from ranks in dealing order: P1, B1, P2, B2, then third cards.
    fn coup_of(ranks: &[u8]) -> Coup {
        let cards = ranks
            .iter()
            .enumerate()
            .map(|(i, &r)| card(r, Suit::ALL[i % SUITS]))
            .collect();
        let mut shoe = Shoe::stacked(cards);
        let coup = deal_coup(&mut shoe).expect("enough cards");
        assert_eq!(
            shoe.remaining(),
            0,
            "every stacked card must be used: {ranks:?}"
        );
        coup
    }

    fn ranks(cards: &[Card]) -> Vec<u8> {
        cards.iter().map(|c| c.rank()).collect()
    }

    #[test]
    fn card_values() {
        let values: Vec<u8> = (1..=13).map(|r| card(r, Suit::Hearts).points()).collect();
        assert_eq!(values, [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0]);
        assert_eq!(
            Card::new(0, Suit::Clubs),
            Err(BaccaratError::InvalidRank(0))
        );
        assert_eq!(
            Card::new(14, Suit::Clubs),
            Err(BaccaratError::InvalidRank(14))
        );
        assert!(serde_json::from_str::<Card>(r#"{"rank":14,"suit":"clubs"}"#).is_err());
        let king: Card = serde_json::from_str(r#"{"rank":13,"suit":"spades"}"#).expect("valid");
        assert_eq!(king, card(13, Suit::Spades));
    }

    #[test]
    fn naturals_stand() {
        // Player 9 + K = 9 natural; banker 5 + 2 = 7 does not draw.
        let c = coup_of(&[9, 5, 13, 2]);
        assert_eq!((c.player_total(), c.banker_total()), (9, 7));
        assert_eq!(c.winner(), Winner::Player);
        assert_eq!(c.banker_cards().len(), 2);
        // Banker 4 + 4 = 8 natural: the player's 5 does not draw. Banker pair.
        let c = coup_of(&[2, 4, 3, 4]);
        assert_eq!((c.player_total(), c.banker_total()), (5, 8));
        assert_eq!(c.winner(), Winner::Banker);
        assert!(c.banker_pair() && !c.player_pair() && !c.banker_won_on_six());
        // Both natural 8: tie.
        let c = coup_of(&[4, 10, 4, 8]);
        assert_eq!(
            (c.player_total(), c.banker_total(), c.winner()),
            (8, 8, Winner::Tie)
        );
        assert!(c.player_pair());
        // Natural 9 beats natural 8; a natural 8 against a banker 6 stands too.
        assert_eq!(coup_of(&[9, 8, 10, 10]).winner(), Winner::Player);
        let c = coup_of(&[6, 3, 2, 3]);
        assert_eq!(
            (c.player_total(), c.banker_total(), c.winner()),
            (8, 6, Winner::Player)
        );
    }

    #[test]
    fn player_stands_on_six_and_seven_and_banker_then_draws_on_zero_to_five() {
        // Player 3 + 3 = 6 stands; banker 2 + 2 = 4 draws a 2: 6–6 tie.
        let c = coup_of(&[3, 2, 3, 2, 2]);
        assert_eq!(ranks(c.player_cards()), [3, 3]);
        assert_eq!(ranks(c.banker_cards()), [2, 2, 2]);
        assert_eq!(
            (c.player_total(), c.banker_total(), c.winner()),
            (6, 6, Winner::Tie)
        );
        assert!(c.player_pair() && c.banker_pair());
        // Player 4 + 3 = 7 stands; banker 6 + K = 6 stands.
        let c = coup_of(&[4, 6, 3, 13]);
        assert_eq!(
            (c.player_total(), c.banker_total(), c.winner()),
            (7, 6, Winner::Player)
        );
        // Player Q + 6 = 6 stands; banker A + 4 = 5 draws an A: 6–6.
        let c = coup_of(&[12, 1, 6, 4, 1]);
        assert_eq!((c.player_total(), c.banker_total()), (6, 6));
        // Player 7 stands; banker 7 stands: tie without third cards.
        let c = coup_of(&[7, 7, 10, 10]);
        assert_eq!((c.banker_cards().len(), c.winner()), (2, Winner::Tie));
        // Player 7 stands; banker 0 (K + 10) draws a 6 and loses 6–7. A standing player has
        // 6 or 7, so a banker win on six always follows a player third card.
        let c = coup_of(&[7, 13, 10, 10, 6]);
        assert_eq!((c.banker_total(), c.winner()), (6, Winner::Player));
        assert!(!c.banker_won_on_six() && !c.banker_pair());
    }

    #[test]
    fn player_draws_on_zero_to_five() {
        for total in 0..=7u8 {
            // Player K + total; banker 10 + 7 = 7 (stands whatever happens).
            let first = if total == 0 { 13 } else { total };
            let drawing = total <= 5;
            let mut sequence = vec![13, 10, first, 7];
            if drawing {
                sequence.push(1);
            }
            let c = coup_of(&sequence);
            assert_eq!(c.player_cards().len() == 3, drawing, "player total {total}");
        }
    }

    /// Banker's draw decision for each two-card total (rows) and value of the player's third
    /// card (columns 0..=9), worked out by hand from the printed rule card.
    const BANKER_TABLE: [&str; 8] = [
        "DDDDDDDDDD", // 0
        "DDDDDDDDDD", // 1
        "DDDDDDDDDD", // 2
        "DDDDDDDDSD", // 3: stands on an 8
        "SSDDDDDDSS", // 4: draws on 2–7
        "SSSSDDDDSS", // 5: draws on 4–7
        "SSSSSSDDSS", // 6: draws on 6–7
        "SSSSSSSSSS", // 7
    ];

    #[test]
    fn banker_third_card_table_every_cell() {
        for (banker_total, row) in BANKER_TABLE.iter().enumerate() {
            for (third, decision) in row.chars().enumerate() {
                let rank_for = |points: usize| if points == 0 { 10 } else { points as u8 };
                // Player K + 5 = 5 draws `third`; banker K + banker_total.
                let mut sequence = vec![13, 13, 5, rank_for(banker_total), rank_for(third)];
                let draws = decision == 'D';
                if draws {
                    sequence.push(9);
                }
                let c = coup_of(&sequence);
                assert_eq!(
                    c.banker_cards().len() == 3,
                    draws,
                    "banker {banker_total}, player third {third}"
                );
            }
        }
    }

    #[test]
    fn banker_table_hand_worked_coups() {
        /// (dealing order, player cards, banker cards, player total, banker total, winner)
        type Case = (&'static [u8], &'static [u8], &'static [u8], u8, u8, Winner);
        let cases: &[Case] = &[
            // Banker 0–2 draws even on a player 8: P K+3+8 = 1, B K+2+5 = 7.
            (
                &[13, 13, 3, 2, 8, 5],
                &[13, 3, 8],
                &[13, 2, 5],
                1,
                7,
                Winner::Banker,
            ),
            // Banker 1 draws on a player 9: P 2+2+9 = 3, B A+K+9 = 0.
            (
                &[2, 1, 2, 13, 9, 9],
                &[2, 2, 9],
                &[1, 13, 9],
                3,
                0,
                Winner::Player,
            ),
            // Banker 3 stands on a player 8: P 10+4+8 = 2, B 2+A = 3.
            (
                &[10, 2, 4, 1, 8],
                &[10, 4, 8],
                &[2, 1],
                2,
                3,
                Winner::Banker,
            ),
            // Banker 3 draws on a player 9: P 10+4+9 = 3, B 2+A+3 = 6.
            (
                &[10, 2, 4, 1, 9, 3],
                &[10, 4, 9],
                &[2, 1, 3],
                3,
                6,
                Winner::Banker,
            ),
            // Banker 4 stands on a player A: P 5+K+A = 6, B 4+K = 4.
            (
                &[5, 4, 13, 13, 1],
                &[5, 13, 1],
                &[4, 13],
                6,
                4,
                Winner::Player,
            ),
            // Banker 4 draws on a player 2: P 5+K+2 = 7, B 4+K+5 = 9.
            (
                &[5, 4, 13, 13, 2, 5],
                &[5, 13, 2],
                &[4, 13, 5],
                7,
                9,
                Winner::Banker,
            ),
            // Banker 4 stands on a player 8: P 3+2+8 = 3, B 2+2 = 4.
            (&[3, 2, 2, 2, 8], &[3, 2, 8], &[2, 2], 3, 4, Winner::Banker),
            // Banker 5 stands on a player 3: P A+A+3 = 5, B 3+2 = 5.
            (&[1, 3, 1, 2, 3], &[1, 1, 3], &[3, 2], 5, 5, Winner::Tie),
            // Banker 5 draws on a player 4: P A+A+4 = 6, B 3+2+3 = 8.
            (
                &[1, 3, 1, 2, 4, 3],
                &[1, 1, 4],
                &[3, 2, 3],
                6,
                8,
                Winner::Banker,
            ),
            // Banker 5 draws on a player 7: P 4+A+7 = 2, B 9+6+Q = 5.
            (
                &[4, 9, 1, 6, 7, 12],
                &[4, 1, 7],
                &[9, 6, 12],
                2,
                5,
                Winner::Banker,
            ),
            // Banker 6 stands on a player 5: P J+5+5 = 0, B 3+3 = 6.
            (
                &[11, 3, 5, 3, 5],
                &[11, 5, 5],
                &[3, 3],
                0,
                6,
                Winner::Banker,
            ),
            // Banker 6 draws on a player 6: P J+5+6 = 1, B 3+3+3 = 9.
            (
                &[11, 3, 5, 3, 6, 3],
                &[11, 5, 6],
                &[3, 3, 3],
                1,
                9,
                Winner::Banker,
            ),
            // Banker 6 draws on a player 7: P 2+2+7 = 1, B 8+8+K = 6.
            (
                &[2, 8, 2, 8, 7, 13],
                &[2, 2, 7],
                &[8, 8, 13],
                1,
                6,
                Winner::Banker,
            ),
            // Banker 6 stands on a player 8: P K+4+8 = 2, B 6+10 = 6.
            (
                &[13, 6, 4, 10, 8],
                &[13, 4, 8],
                &[6, 10],
                2,
                6,
                Winner::Banker,
            ),
            // Banker 7 stands on a player 7: P A+K+7 = 8, B 7+K = 7.
            (
                &[1, 7, 13, 13, 7],
                &[1, 13, 7],
                &[7, 13],
                8,
                7,
                Winner::Player,
            ),
        ];
        for &(sequence, player, banker, player_total, banker_total, winner) in cases {
            let c = coup_of(sequence);
            assert_eq!(ranks(c.player_cards()), player, "{sequence:?}");
            assert_eq!(ranks(c.banker_cards()), banker, "{sequence:?}");
            assert_eq!(
                (c.player_total(), c.banker_total(), c.winner()),
                (player_total, banker_total, winner),
                "{sequence:?}"
            );
            assert_eq!(
                c.banker_won_on_six(),
                winner == Winner::Banker && banker_total == 6,
                "{sequence:?}"
            );
        }
    }

    #[test]
    fn pairs_are_by_rank_of_the_first_two_cards() {
        // 10 and K both count 0 but are not a pair; a third card never makes a pair
        // (P 10+K+10 = 0, B 2+A+4 = 7).
        let c = coup_of(&[10, 2, 13, 1, 10, 4]);
        assert!(!c.player_pair() && !c.banker_pair());
        let c = coup_of(&[4, 9, 4, 9]); // natural 8 against natural 8
        assert!(c.player_pair() && c.banker_pair());
    }

    #[test]
    fn coup_record_round_trips_and_tampering_is_rejected() {
        let c = coup_of(&[10, 2, 4, 1, 9, 3]);
        let json = serde_json::to_value(&c).expect("serializes");
        assert_eq!(json["winner"], "banker");
        assert_eq!(json["banker_won_on_six"], true);
        let back: Coup = serde_json::from_value(json.clone()).expect("valid record");
        assert_eq!(back, c);
        let mut forged = json.clone();
        forged["winner"] = "player".into();
        assert!(serde_json::from_value::<Coup>(forged).is_err());
        let mut forged = json.clone();
        forged["banker_cards"]
            .as_array_mut()
            .expect("array")
            .truncate(2);
        assert!(serde_json::from_value::<Coup>(forged).is_err());
        let mut forged = json;
        forged["player_pair"] = true.into();
        assert!(serde_json::from_value::<Coup>(forged).is_err());
    }

    #[test]
    fn unshuffled_shoe_has_every_card_decks_times() {
        let cards = ordered_cards(DECKS);
        assert_eq!(cards.len(), 416);
        let mut counts: HashMap<Card, usize> = HashMap::new();
        for c in &cards {
            *counts.entry(*c).or_default() += 1;
        }
        assert_eq!(counts.len(), 52);
        assert!(counts.values().all(|&n| n == DECKS));
    }

    fn sorted(mut cards: Vec<Card>) -> Vec<Card> {
        cards.sort_by_key(|c| (c.suit(), c.rank()));
        cards
    }

    #[test]
    fn shuffle_is_a_permutation_with_burn_and_cut_card() {
        let shoe = Shoe::new(DECKS, &mut seeded(1)).expect("8 decks");
        assert_eq!(shoe.len(), 416);
        assert_eq!(sorted(shoe.cards.clone()), sorted(ordered_cards(DECKS)));
        assert_ne!(shoe.cards, ordered_cards(DECKS));
        let other = Shoe::new(DECKS, &mut seeded(2)).expect("8 decks");
        assert_ne!(shoe.cards, other.cards);
        // Burn: the exposed card plus its value (10 for a zero).
        let value = match shoe.cards[0].points() {
            0 => 10,
            p => usize::from(p),
        };
        assert_eq!(shoe.burned(), 1 + value);
        assert_eq!(shoe.remaining(), 416 - shoe.burned());
        assert_eq!(shoe.cut_at, 416 - CUT_CARD_FROM_END);
        assert!(!shoe.needs_shuffle());
    }

    /// Records the ranges asked of `below` and always answers 0.
    struct Recorder(Vec<u32>);
    impl RandomSource for Recorder {
        fn next_u32(&mut self) -> u32 {
            0
        }
        fn below(&mut self, n: u32) -> u32 {
            self.0.push(n);
            0
        }
    }

    #[test]
    fn fisher_yates_asks_below_i_plus_one_for_every_position() {
        let mut recorder = Recorder(Vec::new());
        let shoe = Shoe::new(1, &mut recorder).expect("1 deck");
        let expected: Vec<u32> = (2..=52).rev().collect();
        assert_eq!(recorder.0, expected);
        // Always swapping with index 0 rotates the deck by one.
        let ordered = ordered_cards(1);
        assert_eq!(shoe.cards[0], ordered[1]);
        assert_eq!(shoe.cards[51], ordered[0]);
    }

    #[test]
    fn deck_count_is_bounded() {
        assert_eq!(
            Shoe::new(0, &mut seeded(0)),
            Err(BaccaratError::DeckCount(0))
        );
        assert_eq!(
            Shoe::new(9, &mut seeded(0)),
            Err(BaccaratError::DeckCount(9))
        );
        assert!(Shoe::new(6, &mut seeded(0)).is_ok());
    }

    #[test]
    fn cut_card_ends_the_shoe_after_the_coup_in_progress() {
        for seed in 0..50 {
            let mut shoe = Shoe::new(DECKS, &mut seeded(seed)).expect("8 decks");
            let mut coups = 0;
            while !shoe.needs_shuffle() {
                let before = shoe.remaining();
                let coup = deal_coup(&mut shoe).expect("a started coup always finishes");
                let used = coup.player_cards().len() + coup.banker_cards().len();
                assert_eq!(before - shoe.remaining(), used);
                coups += 1;
            }
            let left = shoe.remaining();
            assert!(
                (CUT_CARD_FROM_END - (MAX_CARDS_PER_COUP - 1)..=CUT_CARD_FROM_END).contains(&left),
                "seed {seed}: {left} cards left"
            );
            assert!(coups > 70, "seed {seed}: only {coups} coups");
            assert_eq!(deal_coup(&mut shoe), Err(BaccaratError::ShoeNeedsShuffle));
        }
    }

    #[test]
    fn a_stacked_shoe_that_runs_dry_is_an_error() {
        let mut shoe = Shoe::stacked(vec![card(1, Suit::Clubs); 4]);
        // A+A = 2 against A+A = 2: the player must draw a fifth card.
        assert_eq!(deal_coup(&mut shoe), Err(BaccaratError::ShoeExhausted));
    }

    fn stake(bet: BaccaratBet, amount: &str) -> BaccaratStake {
        BaccaratStake {
            bet_id: bet.kind().to_string(),
            bet,
            amount: euros(amount),
        }
    }

    fn settle_one(
        bet: BaccaratBet,
        amount: &str,
        coup: &Coup,
        commission: Commission,
    ) -> BaccaratSettlement {
        settle(&[stake(bet, amount)], coup, commission)
            .expect("settles")
            .remove(0)
    }

    #[test]
    fn bet_kinds_parse() {
        for bet in BaccaratBet::ALL {
            assert_eq!(BaccaratBet::parse(bet.kind()), Ok(bet));
            let json = serde_json::to_string(&bet).expect("serializes");
            assert_eq!(json, format!("\"{}\"", bet.kind()));
        }
        assert_eq!(
            BaccaratBet::parse("Banker"),
            Err(BaccaratError::UnknownBetKind("Banker".into()))
        );
        assert!(BaccaratBet::parse("dragon").is_err());
    }

    #[test]
    fn standard_commission_rounds_winnings_down() {
        // Banker 9 (natural) over player 5.
        let banker_nine = coup_of(&[2, 4, 3, 5]);
        assert_eq!(banker_nine.winner(), Winner::Banker);
        let pays = |amount: &str| {
            settle_one(
                BaccaratBet::Banker,
                amount,
                &banker_nine,
                Commission::Standard,
            )
            .returned
        };
        assert_eq!(pays("0.10"), euros("0.19")); // 0.095 → 0.09
        assert_eq!(pays("1.00"), euros("1.95"));
        assert_eq!(pays("0.30"), euros("0.58")); // 0.285 → 0.28
        assert_eq!(pays("0.01"), euros("0.01")); // 0.0095 → 0.00
        assert_eq!(pays("20.00"), euros("39.00"));
        // Whole-unit currency: 1 JPY wins 0.95 → 0, the stake comes back.
        let jpy = Currency::new("JPY", 0).expect("JPY");
        let yen = |text: &str| Money::parse(text, &jpy).expect("yen");
        let s = BaccaratStake {
            bet_id: "y".into(),
            bet: BaccaratBet::Banker,
            amount: yen("1"),
        };
        let r = settle(&[s], &banker_nine, Commission::Standard).expect("settles");
        assert_eq!(
            (r[0].outcome, r[0].returned.clone()),
            (Outcome::Win, yen("1"))
        );
    }

    #[test]
    fn no_commission_pays_half_on_a_banker_six() {
        // P 10+4+9 = 3, B 2+A+3 = 6: banker wins on six.
        let six = coup_of(&[10, 2, 4, 1, 9, 3]);
        assert!(six.banker_won_on_six());
        let nine = coup_of(&[2, 4, 3, 5]);
        let nc = Commission::NoCommission;
        assert_eq!(
            settle_one(BaccaratBet::Banker, "1.00", &six, nc).returned,
            euros("1.50")
        );
        assert_eq!(
            settle_one(BaccaratBet::Banker, "0.15", &six, nc).returned,
            euros("0.22")
        );
        assert_eq!(
            settle_one(BaccaratBet::Banker, "1.00", &nine, nc).returned,
            euros("2.00")
        );
        // Standard commission ignores the six.
        let std = Commission::Standard;
        assert_eq!(
            settle_one(BaccaratBet::Banker, "1.00", &six, std).returned,
            euros("1.95")
        );
        // A banker six that ties is a push, not a win.
        let tie_on_six = coup_of(&[3, 2, 3, 2, 2]);
        assert!(!tie_on_six.banker_won_on_six());
        let s = settle_one(BaccaratBet::Banker, "1.00", &tie_on_six, nc);
        assert_eq!((s.outcome, s.returned), (Outcome::Push, euros("1.00")));
    }

    #[test]
    fn every_bet_settles_by_hand() {
        // Tie 6–6 with both pairs: P 3+3, B 2+2+2.
        let tie = coup_of(&[3, 2, 3, 2, 2]);
        let player_win = coup_of(&[9, 5, 13, 2]);
        let c = Commission::Standard;
        let check = |bet, coup: &Coup, outcome, returned: &str| {
            let s = settle_one(bet, "1.00", coup, c);
            assert_eq!(
                (s.outcome, s.returned),
                (outcome, euros(returned)),
                "{bet:?}"
            );
        };
        check(BaccaratBet::Player, &tie, Outcome::Push, "1.00");
        check(BaccaratBet::Banker, &tie, Outcome::Push, "1.00");
        check(BaccaratBet::Tie, &tie, Outcome::Win, "9.00");
        check(BaccaratBet::PlayerPair, &tie, Outcome::Win, "12.00");
        check(BaccaratBet::BankerPair, &tie, Outcome::Win, "12.00");
        check(BaccaratBet::Player, &player_win, Outcome::Win, "2.00");
        check(BaccaratBet::Banker, &player_win, Outcome::Lose, "0.00");
        check(BaccaratBet::Tie, &player_win, Outcome::Lose, "0.00");
        check(BaccaratBet::PlayerPair, &player_win, Outcome::Lose, "0.00");
        check(BaccaratBet::BankerPair, &player_win, Outcome::Lose, "0.00");
        // Order and ids are preserved.
        let stakes: Vec<BaccaratStake> =
            BaccaratBet::ALL.iter().map(|&b| stake(b, "1.00")).collect();
        let settled = settle(&stakes, &tie, c).expect("settles");
        let ids: Vec<&str> = settled.iter().map(|s| s.bet_id.as_str()).collect();
        assert_eq!(
            ids,
            ["player", "banker", "tie", "player_pair", "banker_pair"]
        );
    }

    #[test]
    fn a_return_too_large_for_money_is_an_error_not_a_panic() {
        let tie = coup_of(&[3, 2, 3, 2, 2]);
        let s = stake(BaccaratBet::Tie, "1000000000000.00");
        assert!(matches!(
            settle(&[s], &tie, Commission::Standard),
            Err(BaccaratError::Money(MoneyError::TooLarge))
        ));
    }

    fn percent(edge: Decimal) -> f64 {
        // Only for the failure message.
        edge.to_string().parse::<f64>().unwrap_or(f64::NAN) * 100.0
    }

    fn edge_of(edges: &[(BaccaratBet, EdgeFraction)], bet: BaccaratBet) -> EdgeFraction {
        edges
            .iter()
            .find(|(b, _)| *b == bet)
            .map(|(_, e)| *e)
            .expect("every bet has an edge")
    }

    #[test]
    fn outcome_counts_match_the_published_eight_deck_combinations() {
        // Published 8-deck combination counts (e.g. Wizard of Odds, "Baccarat Combinations").
        let (w, total) = coup_outcome_weights();
        assert_eq!(total, 4_998_398_275_503_360);
        assert_eq!(w.banker_six + w.banker_not_six, 2_292_252_566_437_888);
        assert_eq!(w.player, 2_230_518_282_592_256);
        assert_eq!(w.tie, 475_627_426_473_216);
        assert_eq!(w.player + w.banker_six + w.banker_not_six + w.tie, total);
    }

    #[test]
    fn house_edges_are_exact() {
        let total: i64 = 4_998_398_275_503_360;
        let (banker, player, tie) = (
            2_292_252_566_437_888i64,
            2_230_518_282_592_256i64,
            475_627_426_473_216i64,
        );
        let standard = house_edge_fractions(Commission::Standard);
        let reduced = |n: i64, d: i64| EdgeFraction::new(n.into(), d.into());
        assert_eq!(
            edge_of(&standard, BaccaratBet::Player),
            reduced(banker - player, total)
        );
        assert_eq!(
            edge_of(&standard, BaccaratBet::Banker),
            reduced(20 * player - 19 * banker, 20 * total)
        );
        assert_eq!(
            edge_of(&standard, BaccaratBet::Tie),
            reduced(total - 9 * tie, total)
        );
        // A pair wins 31/415 of the time (31 cards of the first card's rank among 415 left):
        // edge = (384 − 11 × 31) / 415 = 43/415.
        let pair = reduced(43, 415);
        assert_eq!(edge_of(&standard, BaccaratBet::PlayerPair), pair);
        assert_eq!(edge_of(&standard, BaccaratBet::BankerPair), pair);

        let rounded = |e: EdgeFraction, dp| e.to_decimal().round_dp(dp);
        let expect = |bet, edges: &[(BaccaratBet, EdgeFraction)], dp, value: &str| {
            let edge = edge_of(edges, bet);
            assert_eq!(
                rounded(edge, dp).to_string(),
                value,
                "{bet:?}: {:.6}%",
                percent(edge.to_decimal())
            );
        };
        expect(BaccaratBet::Banker, &standard, 6, "0.010579");
        expect(BaccaratBet::Player, &standard, 6, "0.012351");
        expect(BaccaratBet::Tie, &standard, 6, "0.143596");
        expect(BaccaratBet::PlayerPair, &standard, 6, "0.103614");

        let no_commission = house_edge_fractions(Commission::NoCommission);
        expect(BaccaratBet::Banker, &no_commission, 4, "0.0146");
        for bet in [
            BaccaratBet::Player,
            BaccaratBet::Tie,
            BaccaratBet::PlayerPair,
        ] {
            assert_eq!(edge_of(&no_commission, bet), edge_of(&standard, bet));
        }
        let decimals = house_edges(Commission::Standard);
        assert_eq!(decimals.len(), 5);
        for ((bet, d), (_, f)) in decimals.iter().zip(&standard) {
            assert_eq!(*d, f.to_decimal(), "{bet:?}");
        }
    }

    /// `cargo test --release print_house_edges -- --nocapture` prints the table of docs/tables.md.
    #[test]
    fn print_house_edges() {
        println!("outcome weights, denominator: {:?}", coup_outcome_weights());
        println!("pair weights: {:?}", pair_weights());
        for commission in [Commission::Standard, Commission::NoCommission] {
            for (bet, e) in house_edge_fractions(commission) {
                println!(
                    "{commission:?} {bet:?}: {}/{} = {} ({:.4}%)",
                    e.numerator,
                    e.denominator,
                    e.to_decimal(),
                    percent(e.to_decimal())
                );
            }
        }
    }

    fn expected_ratio(bet: BaccaratBet, coup: &Coup, commission: Commission) -> Option<Decimal> {
        let won = match bet {
            BaccaratBet::Player => coup.winner() == Winner::Player,
            BaccaratBet::Banker => coup.winner() == Winner::Banker,
            BaccaratBet::Tie => coup.winner() == Winner::Tie,
            BaccaratBet::PlayerPair => coup.player_pair(),
            BaccaratBet::BankerPair => coup.banker_pair(),
        };
        won.then(|| match (bet, commission) {
            (BaccaratBet::Player, _) => Decimal::ONE,
            (BaccaratBet::Banker, Commission::Standard) => Decimal::new(95, 2),
            (BaccaratBet::Banker, Commission::NoCommission) if coup.banker_total() == 6 => {
                Decimal::new(5, 1)
            }
            (BaccaratBet::Banker, Commission::NoCommission) => Decimal::ONE,
            (BaccaratBet::Tie, _) => Decimal::from(8),
            (_, _) => Decimal::from(11),
        })
    }

    proptest! {
        #[test]
        fn settlement_never_pays_a_loser_and_pays_winners_exactly(
            seed in any::<u64>(),
            coups_to_skip in 0usize..60,
            bet_index in 0usize..5,
            minor in 0i64..5_000_000_000_000,
            no_commission in any::<bool>(),
        ) {
            let mut shoe = Shoe::new(DECKS, &mut seeded(seed)).expect("8 decks");
            for _ in 0..coups_to_skip {
                deal_coup(&mut shoe).expect("far from the cut card");
            }
            let coup = deal_coup(&mut shoe).expect("far from the cut card");
            let bet = BaccaratBet::ALL[bet_index];
            let commission = if no_commission { Commission::NoCommission } else { Commission::Standard };
            let amount = Money::from_minor(minor, &eur()).expect("in range");
            let s = BaccaratStake { bet_id: "p".into(), bet, amount: amount.clone() };
            let settled = settle(&[s], &coup, commission).expect("settles").remove(0);
            prop_assert!(settled.returned.amount() >= Decimal::ZERO);
            let is_push = matches!(bet, BaccaratBet::Player | BaccaratBet::Banker)
                && coup.winner() == Winner::Tie;
            match (settled.outcome, expected_ratio(bet, &coup, commission)) {
                (Outcome::Push, _) => {
                    prop_assert!(is_push);
                    prop_assert_eq!(settled.returned, amount);
                }
                (Outcome::Lose, None) => {
                    prop_assert!(!is_push);
                    prop_assert!(settled.returned.is_zero());
                }
                (Outcome::Win, Some(ratio)) => {
                    let expected = Money::floor_from(
                        amount.amount() * (Decimal::ONE + ratio), &eur()).expect("fits");
                    prop_assert_eq!(settled.returned, expected);
                }
                (outcome, ratio) => prop_assert!(false, "{outcome:?} but expected ratio {ratio:?}"),
            }
        }
    }
}
