//! Unit tests of `eval`.

use super::*;
use crate::games::slot::test_games::{classic, grid_game, grid_game_with, starfall};
use crate::money::{Currency, Money};
use proptest::prelude::*;

const B: &str = "BLANK";
const W: &str = "WILD";
const S: &str = "STAR";

fn base(grid: [[&str; 5]; 3]) -> SpinOutcome {
    evaluate(&grid_game(grid), &[0; 5], SpinMode::Base)
}

fn win(line: u32, symbol: &str, count: u32, pay: u32) -> LineWin {
    LineWin {
        line,
        symbol: SymbolId::new(symbol).unwrap(),
        count,
        pay,
    }
}

fn middle(row: [&'static str; 5]) -> SpinOutcome {
    base([[B; 5], row, [B; 5]])
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[test]
fn each_line_type_pays_left_to_right() {
    let out = base([
        ["K", "K", "Q", B, B],
        ["A", "A", "A", "K", B],
        ["Q", "Q", "Q", "Q", "Q"],
    ]);
    assert_eq!(out.grid[1][2], "A", "grid is [row][reel]");
    assert_eq!(
        out.line_wins,
        vec![win(1, "A", 3, 10), win(2, "K", 2, 2), win(3, "Q", 5, 20)]
    );
    assert_eq!(out.scatter_win, None);
    assert_eq!(out.win_multiple, dec("8"), "32 line bets on 4 lines");
    assert_eq!((out.multiplier, out.free_spins_awarded), (1, 0));
}

#[test]
fn the_v_line_follows_its_rows_and_wild_substitutes() {
    let out = base([["A", B, B, B, "A"], [B, "A", B, "A", B], [B, B, W, B, B]]);
    assert_eq!(out.line_wins, vec![win(4, "A", 5, 100)]);
    assert_eq!(out.win_multiple, dec("25"));
}

#[test]
fn leading_wilds_pay_the_better_of_wild_alone_and_the_substituted_symbol() {
    assert_eq!(
        middle([W, W, W, "K", "Q"]).line_wins,
        vec![win(1, W, 3, 50)]
    );
    assert_eq!(
        middle([W, W, W, "A", "A"]).line_wins,
        vec![win(1, "A", 5, 100)]
    );
    // Tie (WILD ×3 = K ×5 = 50): the substituted symbol is reported.
    assert_eq!(
        middle([W, W, W, "K", "K"]).line_wins,
        vec![win(1, "K", 5, 50)]
    );
    assert_eq!(middle([W; 5]).line_wins, vec![win(1, W, 5, 1000)]);
    assert_eq!(middle([W, "K", B, B, B]).line_wins, vec![win(1, "K", 2, 2)]);
    assert_eq!(
        middle(["A", W, "A", W, "K"]).line_wins,
        vec![win(1, "A", 4, 40)]
    );
}

#[test]
fn runs_stop_at_scatters_and_symbols_without_line_pays() {
    assert_eq!(
        middle([W, W, S, "A", "A"]).line_wins,
        vec![],
        "2 wilds pay nothing"
    );
    assert_eq!(middle([W, W, W, S, "A"]).line_wins, vec![win(1, W, 3, 50)]);
    assert_eq!(middle([W, W, B, "A", "A"]).line_wins, vec![]);
    assert_eq!(middle([B, "A", "A", "A", "A"]).line_wins, vec![]);
    assert_eq!(middle(["A", "A", B, "A", "A"]).line_wins, vec![]);
}

#[test]
fn scatters_pay_anywhere_and_never_on_lines() {
    let out = middle([S, S, S, B, B]);
    assert_eq!(out.line_wins, vec![]);
    assert_eq!(
        out.scatter_win,
        Some(ScatterWin {
            symbol: SymbolId::new(S).unwrap(),
            count: 3,
            pay: 5
        })
    );
    assert_eq!(out.free_spins_awarded, 10);
    assert_eq!(out.win_multiple, dec("5"));

    let two = base([[S, B, B, B, B], [B; 5], [B, B, B, S, B]]);
    assert_eq!(
        two.scatter_win.as_ref().map(|s| (s.count, s.pay)),
        Some((2, 1))
    );
    assert_eq!((two.free_spins_awarded, two.win_multiple), (0, dec("1")));

    // "n or more": 4 scatters pay the 3+ entry and award the 4+ spins.
    let four = base([[S, B, B, B, S], [B, S, B, B, B], [B, B, B, S, B]]);
    assert_eq!(
        four.scatter_win.as_ref().map(|s| (s.count, s.pay)),
        Some((4, 5))
    );
    assert_eq!(four.free_spins_awarded, 15);
    assert_eq!(base([[B; 5]; 3]).scatter_win, None);
}

#[test]
fn free_spins_apply_the_multiplier_and_retrigger_only_if_allowed() {
    let grid = [[S, B, S, B, S], ["A", "A", "A", "K", B], [B; 5]];
    let game = grid_game(grid);
    let paid = evaluate(&game, &[0; 5], SpinMode::Base);
    assert_eq!(
        paid.win_multiple,
        dec("7.5"),
        "10 line bets / 4 lines + 5 total bets"
    );
    assert_eq!((paid.multiplier, paid.free_spins_awarded), (1, 10));

    let free = evaluate(&game, &[0; 5], SpinMode::Free { multiplier: 3 });
    assert_eq!(free.win_multiple, dec("22.5"));
    assert_eq!((free.multiplier, free.free_spins_awarded), (3, 10));
    assert_eq!(
        free.line_wins, paid.line_wins,
        "pays are reported before the multiplier"
    );
    assert_eq!(free.scatter_win, paid.scatter_win);

    let no_retrigger = grid_game_with(grid, false);
    let free = evaluate(&no_retrigger, &[0; 5], SpinMode::Free { multiplier: 3 });
    assert_eq!(
        (free.free_spins_awarded, free.win_multiple),
        (0, dec("22.5"))
    );
    let paid = evaluate(&no_retrigger, &[0; 5], SpinMode::Base);
    assert_eq!(paid.free_spins_awarded, 10);
}

#[test]
fn win_multiple_is_exact() {
    // K×2 on top and V (2 + 2) and K×3 in the middle (5): 9 line bets / 4 lines.
    let grid = [["K", "K", B, B, B], ["K", "K", "K", B, B], [B; 5]];
    let out = base(grid);
    assert_eq!(
        out.line_wins,
        vec![win(1, "K", 3, 5), win(2, "K", 2, 2), win(4, "K", 2, 2)]
    );
    assert_eq!(out.win_multiple.to_string(), "2.25");
    let grid = [["K", "K", B, B, S], ["K", "K", "K", B, B], [B, B, B, S, B]];
    let game = grid_game(grid);
    assert_eq!(
        evaluate(&game, &[0; 5], SpinMode::Base)
            .win_multiple
            .to_string(),
        "3.25"
    );
    let free = evaluate(&game, &[0; 5], SpinMode::Free { multiplier: 3 });
    assert_eq!(free.win_multiple.to_string(), "9.75");
    assert_eq!(base([[B; 5]; 3]).win_multiple.to_string(), "0");
}

#[test]
fn units_convert_to_exact_decimals() {
    assert_eq!(units_to_multiple(10, 5).to_string(), "2");
    assert_eq!(units_to_multiple(1, 20).to_string(), "0.05");
    assert_eq!(units_to_multiple(7, 4).to_string(), "1.75");
    assert_eq!(units_to_multiple(3, 100).to_string(), "0.03");
    assert_eq!(units_to_multiple(0, 20).to_string(), "0");
    assert_eq!(units_to_multiple(123_456_789, 1).to_string(), "123456789");
}

/// The example `spin_result.outcome` of docs/protocol.md, reproduced by the shipped game.
#[test]
fn classic_sevens_reproduces_the_protocol_example() {
    let out = evaluate(&classic(), &[3, 17, 9], SpinMode::Base);
    let expected: serde_json::Value = serde_json::from_str(
        r#"{"stops": [3, 17, 9],
   "grid": [["BAR", "SEVEN", "CHERRY"], ["CHERRY", "CHERRY", "CHERRY"], ["BELL", "BAR", "PLUM"]],
   "line_wins": [{"line": 1, "symbol": "CHERRY", "count": 3, "pay": 10}],
   "scatter_win": null, "free_spins_awarded": 0, "multiplier": 1, "win_multiple": "2"}"#,
    )
    .unwrap();
    assert_eq!(serde_json::to_value(&out).unwrap(), expected);
    let text = serde_json::to_string(&out).unwrap();
    assert_eq!(
        text,
        r#"{"stops":[3,17,9],"grid":[["BAR","SEVEN","CHERRY"],["CHERRY","CHERRY","CHERRY"],["BELL","BAR","PLUM"]],"line_wins":[{"line":1,"symbol":"CHERRY","count":3,"pay":10}],"scatter_win":null,"free_spins_awarded":0,"multiplier":1,"win_multiple":"2"}"#
    );
    let eur = Currency::new("EUR", 2).unwrap();
    let bet = Money::parse("1.00", &eur).unwrap();
    assert_eq!(bet.mul_floor(out.win_multiple).unwrap().to_string(), "2.00");
}

#[test]
fn outcomes_round_trip_through_json() {
    let out = base([[S, B, S, B, S], ["A", "A", "A", "K", B], [B; 5]]);
    let text = serde_json::to_string(&out).unwrap();
    assert!(
        text.contains(r#""scatter_win":{"symbol":"STAR","count":3,"pay":5}"#),
        "{text}"
    );
    assert!(text.contains(r#""win_multiple":"7.5""#), "{text}");
    let back: SpinOutcome = serde_json::from_str(&text).unwrap();
    assert_eq!(back, out);
    let too_long = text.replace("\"STAR\"", "\"STARSTARSTARSTARS\"");
    assert!(serde_json::from_str::<SpinOutcome>(&too_long).is_err());
}

#[test]
fn stops_wrap_and_missing_stops_count_as_zero() {
    let game = classic();
    let reference = evaluate(&game, &[3, 17, 9], SpinMode::Base);
    let wrapped = evaluate(&game, &[3 + 24, 17 + 48, 9 + 24 * 1000], SpinMode::Base);
    assert_eq!(wrapped, reference, "outcome records the stops used");
    let huge = evaluate(&game, &[u32::MAX, u32::MAX, u32::MAX], SpinMode::Base);
    assert_eq!(huge.stops, vec![u32::MAX % 24; 3]);
    let short = evaluate(&game, &[3], SpinMode::Base);
    assert_eq!(short.stops, vec![3, 0, 0]);
    assert_eq!(evaluate(&game, &[3, 17, 9, 5], SpinMode::Base), reference);
}

use crate::rng::testing::Script;

#[test]
fn spin_draws_one_unbiased_stop_per_reel_and_nothing_else() {
    let game = classic();
    let mut rng = Script(vec![3, 24 + 17, 9], 0);
    let out = spin(&game, SpinMode::Base, &mut rng);
    assert_eq!(out, evaluate(&game, &[3, 17, 9], SpinMode::Base));
    assert_eq!(rng.1, 3, "exactly one draw per reel");
    // 2^32 mod 24 = 16: the top 16 values are rejected and redrawn.
    let mut rng = Script(vec![u32::MAX, 5, 6, 7], 0);
    assert_eq!(spin(&game, SpinMode::Base, &mut rng).stops, vec![5, 6, 7]);
    assert_eq!(rng.1, 4);
}

fn any_mode() -> impl Strategy<Value = SpinMode> {
    prop_oneof![
        Just(SpinMode::Base),
        (1u32..=10).prop_map(|multiplier| SpinMode::Free { multiplier })
    ]
}

proptest! {
    /// The simulator's path and the live path draw the same stops from the same draws and pay
    /// the same: the simulator measures the code that pays players.
    #[test]
    fn the_tally_path_pays_what_the_live_spin_pays(seed in any::<u64>(), mode in any_mode()) {
        for game in [starfall(), classic()] {
            let mut live = crate::rng::testing::seeded(seed);
            let mut fast = crate::rng::testing::seeded(seed);
            for _ in 0..20 {
                let outcome = spin(&game, mode, &mut live);
                let tally = spin_tally(&game, mode, &mut fast);
                let lines = Decimal::from(game.lines() as u64);
                prop_assert_eq!(outcome.win_multiple * lines, Decimal::from(tally.units));
                prop_assert_eq!(outcome.free_spins_awarded, tally.free_spins_awarded);
                let scatters = outcome.scatter_win.as_ref().map_or(tally.scatters, |s| s.count);
                prop_assert_eq!(scatters, tally.scatters);
            }
        }
    }

    #[test]
    fn evaluate_is_consistent_for_any_stops(
        raw in proptest::collection::vec(any::<u32>(), 5),
        mode in any_mode(),
        bet_steps in 1u32..=500,
    ) {
        let game = starfall();
        let stops: Vec<u32> = raw.iter().enumerate()
            .map(|(reel, &r)| r % game.strip_lengths()[reel] as u32)
            .collect();
        let out = evaluate(&game, &stops, mode);
        prop_assert_eq!(&out.stops, &stops);
        for (row, cells) in out.grid.iter().enumerate() {
            for (reel, cell) in cells.iter().enumerate() {
                let strip = game.strip(reel).unwrap();
                prop_assert_eq!(cell.as_str(), strip[(stops[reel] as usize + row) % strip.len()]);
            }
        }
        let mut line_sum = 0u64;
        let mut previous_line = 0;
        for w in &out.line_wins {
            prop_assert!(w.line > previous_line && w.line as usize <= game.lines());
            previous_line = w.line;
            prop_assert_eq!(w.pay, game.line_pay(&w.symbol, w.count as usize));
            prop_assert!(w.pay > 0);
            line_sum += u64::from(w.pay);
        }
        let scatter_pay = out.scatter_win.as_ref().map_or(0, |s| s.pay);
        let expected = (Decimal::from(line_sum) / Decimal::from(game.lines() as u64)
            + Decimal::from(scatter_pay))
            * Decimal::from(mode.multiplier());
        prop_assert_eq!(out.win_multiple, expected);
        prop_assert_eq!(out.multiplier, mode.multiplier());

        // Any valid bet times the win multiple is exact in cents: flooring loses nothing.
        let eur = Currency::new("EUR", 2).unwrap();
        let bet = Money::from_decimal(game.bet_step() * Decimal::from(bet_steps), &eur).unwrap();
        let paid = bet.mul_floor(out.win_multiple).unwrap();
        prop_assert_eq!(paid.amount(), bet.amount() * out.win_multiple);
    }

    #[test]
    fn classic_lines_never_pay_more_than_the_paytable(stops in proptest::collection::vec(0u32..24, 3)) {
        let game = classic();
        let out = evaluate(&game, &stops, SpinMode::Base);
        prop_assert_eq!(out.scatter_win, None);
        prop_assert_eq!(out.free_spins_awarded, 0);
        for w in &out.line_wins {
            prop_assert_eq!(w.pay, game.line_pay(&w.symbol, w.count as usize));
        }
    }
}
