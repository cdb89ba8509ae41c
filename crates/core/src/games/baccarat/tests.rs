//! Unit tests of `baccarat`: the tableau against a hand-made table of every case, dealing and
//! the shoe, settlement of every bet kind, property tests of the money, and the exact house
//! edges (about 750 lines: the tableau table alone is a third of it).

use super::bets::*;
use super::edge::*;
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
    let stakes: Vec<BaccaratStake> = BaccaratBet::ALL.iter().map(|&b| stake(b, "1.00")).collect();
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
