//! The exact house edge of every bet for a full shoe: every card sequence a coup can draw,
//! weighted and counted in integers, reduced to an exact fraction (`crate::exact::Fraction`).

use super::bets::{PAIR_PAYS, TIE_PAYS};
use super::*;

/// An exact house edge: expected loss per unit staked as `numerator / denominator`, reduced.
pub type EdgeFraction = crate::exact::Fraction;

/// Cards in the shoe the house edges are computed for.
const EDGE_SHOE_CARDS: u64 = (DECKS * CARDS_PER_DECK) as u64;
/// Bound on every numerator and denominator the edge computation forms: 20 (from the 0.95 =
/// 19/20 payout) × N⁶ (more than the ordered 6-card sequences of an N-card shoe).
const EDGE_DENOMINATOR_BOUND: u128 = 20 * (EDGE_SHOE_CARDS as u128).pow(6);
const _: () = assert!(EDGE_DENOMINATOR_BOUND < i64::MAX as u128);

/// Weighted counts of the coup outcomes over every card sequence of a full shoe.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct OutcomeWeights {
    pub(super) player: u128,
    pub(super) banker_not_six: u128,
    pub(super) banker_six: u128,
    pub(super) tie: u128,
}

/// Enumerates every sequence of point values a coup can draw from a full shoe, without
/// replacement. Each sequence is weighted by the product of the remaining counts at each draw,
/// scaled to the common denominator N·(N−1)·…·(N−5) (N cards) by multiplying short sequences
/// by the number of ways to complete them to six cards. Returns (weights, denominator).
pub(super) fn coup_outcome_weights() -> (OutcomeWeights, u128) {
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
pub(super) fn pair_weights() -> (u128, u128, u128) {
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
