//! Unit tests of `roulette`.

use super::*;
use crate::money::Currency;
use proptest::prelude::*;

fn eur() -> Currency {
    Currency::new("EUR", 2).expect("EUR is a valid currency")
}

fn euros(text: &str) -> Money {
    Money::parse(text, &eur()).expect("test amount")
}

fn bet(kind: &str, numbers: &[u8]) -> RouletteBet {
    RouletteBet::parse(kind, numbers).expect("test bet is valid")
}

fn settle_one(bet: RouletteBet, amount: &str, pocket: u8) -> RouletteSettlement {
    let stake = RouletteStake {
        bet_id: "b1".into(),
        bet,
        amount: euros(amount),
    };
    let mut settled = settle(&[stake], pocket).expect("settles");
    settled.remove(0)
}

use crate::rng::testing::seeded;

/// (kind, numbers, stake, winning pocket, returned on that win, losing pockets), worked by hand.
type HandWorked = (
    &'static str,
    &'static [u8],
    &'static str,
    u8,
    &'static str,
    &'static [u8],
);
const HAND_WORKED: &[HandWorked] = &[
    ("straight", &[17], "2.50", 17, "90.00", &[16, 18, 0]),
    ("straight", &[0], "1.00", 0, "36.00", &[1, 36]),
    ("split", &[0, 2], "1.00", 2, "18.00", &[1, 3]),
    ("split", &[1, 0], "1.00", 0, "18.00", &[2]),
    ("split", &[11, 8], "5.00", 11, "90.00", &[12, 9]),
    ("split", &[14, 15], "2.00", 14, "36.00", &[16, 13]),
    ("street", &[13, 14, 15], "3.00", 15, "36.00", &[16, 12]),
    ("street", &[0, 1, 2], "1.00", 0, "12.00", &[3]),
    ("street", &[2, 0, 3], "1.00", 3, "12.00", &[1]),
    ("corner", &[26, 25, 29, 28], "1.50", 29, "13.50", &[27, 30]),
    ("corner", &[0, 1, 2, 3], "1.00", 0, "9.00", &[4]),
    (
        "six_line",
        &[36, 35, 34, 33, 32, 31],
        "10.00",
        36,
        "60.00",
        &[30, 0],
    ),
    ("column", &[2], "7.00", 35, "21.00", &[36, 34, 0]),
    ("dozen", &[3], "4.00", 25, "12.00", &[24, 0]),
    ("red", &[], "1.00", 36, "2.00", &[35, 0]),
    ("black", &[], "1.00", 10, "2.00", &[9, 0]),
    ("even", &[], "0.10", 36, "0.20", &[35, 0]),
    ("odd", &[], "1.00", 35, "2.00", &[36, 0]),
    ("low", &[], "1.00", 18, "2.00", &[19, 0]),
    ("high", &[], "1.00", 19, "2.00", &[18, 0]),
];

#[test]
fn hand_worked_wins_and_losses_for_every_bet_type() {
    for &(kind, numbers, stake, win, returned, losers) in HAND_WORKED {
        let b = bet(kind, numbers);
        assert_eq!(b.kind(), kind);
        let s = settle_one(b, stake, win);
        assert!(s.won, "{kind} {numbers:?} should win on {win}");
        assert_eq!(s.returned, euros(returned), "{kind} {numbers:?} on {win}");
        for &lose in losers {
            let s = settle_one(b, stake, lose);
            assert!(!s.won, "{kind} {numbers:?} should lose on {lose}");
            assert_eq!(s.returned, euros("0.00"));
        }
    }
}

#[test]
fn zero_loses_every_outside_bet() {
    for b in all_bets() {
        if b.numbers().len() >= 12 {
            assert!(!b.wins(0), "{b:?}");
        }
    }
}

#[test]
fn payouts_per_type() {
    let expected = [
        ("straight", &[5][..], 35),
        ("split", &[5, 6], 17),
        ("street", &[4, 5, 6], 11),
        ("corner", &[4, 5, 7, 8], 8),
        ("six_line", &[4, 5, 6, 7, 8, 9], 5),
        ("column", &[1], 2),
        ("dozen", &[1], 2),
        ("red", &[], 1),
        ("high", &[], 1),
    ];
    for (kind, numbers, payout) in expected {
        assert_eq!(bet(kind, numbers).payout_to_one(), payout, "{kind}");
    }
}

#[test]
fn covered_numbers() {
    assert_eq!(
        bet("column", &[1]).numbers(),
        (1..=34).step_by(3).collect::<Vec<u8>>()
    );
    assert_eq!(
        bet("column", &[3]).numbers(),
        (3..=36).step_by(3).collect::<Vec<u8>>()
    );
    assert_eq!(bet("dozen", &[2]).numbers(), (13..=24).collect::<Vec<u8>>());
    assert_eq!(bet("red", &[]).numbers(), RED_NUMBERS.to_vec());
    let black = bet("black", &[]).numbers();
    assert_eq!(black.len(), 18);
    assert!(black.iter().all(|n| !RED_NUMBERS.contains(n) && *n != 0));
    assert_eq!(bet("low", &[]).numbers(), (1..=18).collect::<Vec<u8>>());
    assert_eq!(bet("odd", &[]).numbers().len(), 18);
    assert_eq!(bet("corner", &[8, 4, 7, 5]).numbers(), vec![4, 5, 7, 8]);
}

#[test]
fn invalid_layouts_are_rejected() {
    let invalid: &[(&str, &[u8])] = &[
        ("split", &[5, 30]),  // not adjacent
        ("split", &[3, 4]),   // 3 is at the right edge, 4 starts the next row
        ("split", &[1, 3]),   // same row, not touching
        ("split", &[0, 4]),   // zero only touches 1, 2, 3
        ("split", &[7, 7]),   // duplicate
        ("split", &[36, 37]), // 37 is off the wheel
        ("split", &[1]),      // too few
        ("straight", &[37]),
        ("straight", &[]),
        ("straight", &[1, 2]),
        ("street", &[2, 3, 4]), // crosses rows
        ("street", &[0, 1, 3]), // not a trio
        ("street", &[1, 4, 7]), // a column fragment
        ("street", &[1, 1, 2]),
        ("corner", &[1, 2, 3, 4]),
        ("corner", &[3, 4, 6, 7]), // wraps around the edge
        ("corner", &[0, 1, 2, 4]),
        ("corner", &[34, 35, 37, 38]),
        ("six_line", &[2, 3, 4, 5, 6, 7]),
        ("six_line", &[34, 35, 36, 37, 38, 39]),
        ("six_line", &[1, 2, 3, 4, 5, 5]),
        ("column", &[0]),
        ("column", &[4]),
        ("column", &[]),
        ("dozen", &[1, 2]),
        ("red", &[1]),
        ("high", &[19]),
        ("basket", &[0, 1, 2]),
        ("Straight", &[1]),
        ("", &[]),
    ];
    for &(kind, numbers) in invalid {
        let err = RouletteBet::parse(kind, numbers).expect_err(&format!("{kind} {numbers:?}"));
        assert!(!err.to_string().is_empty());
    }
    assert_eq!(
        RouletteBet::parse("straight", &[37]),
        Err(RouletteError::NumberOutOfRange(37))
    );
    assert_eq!(
        RouletteBet::parse("split", &[7, 7]),
        Err(RouletteError::DuplicateNumber(7))
    );
    assert!(matches!(
        RouletteBet::parse("split", &[5, 30]),
        Err(RouletteError::NotOnLayout { kind: "split", .. })
    ));
    let message = RouletteBet::parse("corner", &[1, 2, 3, 4])
        .expect_err("bad corner")
        .to_string();
    assert!(message.contains("square"), "{message}");
}

/// Checks parse against every subset of the wheel of the right size.
fn count_valid(kind: &str, size: usize) -> usize {
    fn walk(kind: &str, size: usize, start: u8, chosen: &mut Vec<u8>, count: &mut usize) {
        if chosen.len() == size {
            *count += usize::from(RouletteBet::parse(kind, chosen).is_ok());
            return;
        }
        for n in start..=MAX_NUMBER {
            chosen.push(n);
            walk(kind, size, n + 1, chosen, count);
            chosen.pop();
        }
    }
    let mut count = 0;
    walk(kind, size, 0, &mut Vec::new(), &mut count);
    count
}

#[test]
fn exactly_the_layouts_of_the_table_exist() {
    assert_eq!(count_valid("straight", 1), 37);
    // 24 side by side + 33 one above the other + 0-1, 0-2, 0-3.
    assert_eq!(count_valid("split", 2), 60);
    // 12 rows + 2 trios.
    assert_eq!(count_valid("street", 3), 14);
    // 22 squares + first four.
    assert_eq!(count_valid("corner", 4), 23);
    assert_eq!(count_valid("six_line", 6), 11);
    assert_eq!(all_bets().len(), 37 + 60 + 14 + 23 + 11 + 3 + 3 + 6);
}

#[test]
fn every_bet_round_trips_through_json_and_parse() {
    for b in all_bets() {
        let json = serde_json::to_string(&b).expect("serializes");
        let back: RouletteBet = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, b, "{json}");
        let spec = BetSpec::from(b);
        assert_eq!(RouletteBet::parse(&spec.kind, &spec.numbers), Ok(b));
    }
    let bad = serde_json::from_str::<RouletteBet>(r#"{"kind":"split","numbers":[5,30]}"#);
    assert!(bad.is_err());
}

#[test]
fn house_edge_is_one_in_37_for_every_bet() {
    let one_in_37 = Decimal::ONE / Decimal::from(37);
    for b in all_bets() {
        assert_eq!(house_edge_fraction(&b), (1, 37), "{b:?}");
        assert_eq!(house_edge(&b), one_in_37, "{b:?}");
    }
    assert!(one_in_37.to_string().starts_with("0.0270270270"));
}

#[test]
fn settle_rejects_a_pocket_off_the_wheel_and_keeps_order() {
    assert_eq!(settle(&[], 37), Err(RouletteError::NumberOutOfRange(37)));
    let stakes: Vec<RouletteStake> = ["a", "b", "c"]
        .iter()
        .zip([bet("red", &[]), bet("straight", &[1]), bet("odd", &[])])
        .map(|(id, b)| RouletteStake {
            bet_id: id.to_string(),
            bet: b,
            amount: euros("1.00"),
        })
        .collect();
    let settled = settle(&stakes, 1).expect("settles");
    let ids: Vec<&str> = settled.iter().map(|s| s.bet_id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(settled[1].returned, euros("36.00"));
}

#[test]
fn a_return_too_large_for_money_is_an_error_not_a_panic() {
    let stake = RouletteStake {
        bet_id: "big".into(),
        bet: bet("straight", &[7]),
        amount: euros("1000000000000.00"),
    };
    assert!(matches!(
        settle(&[stake], 7),
        Err(RouletteError::Money(MoneyError::TooLarge))
    ));
}

#[test]
fn draw_pocket_covers_the_wheel() {
    let mut rng = seeded(37);
    let mut seen = [0u32; POCKETS as usize];
    for _ in 0..37_000 {
        let pocket = draw_pocket(&mut rng);
        assert!(pocket <= MAX_NUMBER);
        seen[pocket as usize] += 1;
    }
    assert!(seen.iter().all(|&c| c > 700), "{seen:?}");
}

proptest! {
    #[test]
    fn settlement_pays_only_winners_and_exactly(
        index in 0usize..157,
        pocket in 0u8..37,
        minor in 0i64..2_000_000_000_000,
    ) {
        let bets = all_bets();
        let b = bets[index];
        let amount = Money::from_minor(minor, &eur()).expect("in range");
        let stake = RouletteStake { bet_id: "p".into(), bet: b, amount: amount.clone() };
        let s = settle(&[stake], pocket).expect("settles").remove(0);
        prop_assert_eq!(s.won, b.numbers().contains(&pocket));
        prop_assert!(s.returned.amount() >= Decimal::ZERO);
        if s.won {
            let ratio = Decimal::from(b.payout_to_one());
            let expected =
                Money::floor_from(amount.amount() * (Decimal::ONE + ratio), &eur()).expect("fits");
            prop_assert_eq!(s.returned, expected);
        } else {
            prop_assert!(s.returned.is_zero());
        }
    }
}
