//! Unit tests of `rtp`.

use std::collections::HashMap;

use super::*;
use crate::games::slot::test_games::{classic, classic_par, starfall_par, tiny};
use crate::games::slot::{evaluate, SlotGame};

fn r(num: u128, den: u128) -> Ratio {
    Ratio::new(num, den)
}

/// The tiny game (3 reels × 1 row, one line), all 12 combinations by hand:
///   reels A S W / A S / S A; A×3 pays 4 line bets; 3 scatters pay 2 and award 2 free spins ×3.
///   Line wins: A A A and W A A (4 each) → 8/12. Scatter: S S S → 2/12. Base RTP 5/6.
///   a = 2/12 = 1/6 free spins per spin; with retriggers E[free spins] = a/(1−a) = 1/5, so
///   free spins return 1/5 × 3 × 5/6 = 1/2 and the total is 4/3. Without: 1/6 × 3 × 5/6 = 5/12.
///   Hits: A A A, W A A, S S S → 3/12. Trigger: 1/12.
#[test]
fn tiny_game_matches_the_hand_calculation() {
    let par = exact_rtp(&tiny(true));
    assert_eq!(par.combinations, 12);
    assert_eq!(par.line_rtp, r(2, 3));
    assert_eq!(par.scatter_rtp, r(1, 6));
    assert_eq!(par.base_rtp, r(5, 6));
    assert_eq!(par.awards_per_spin, r(1, 6));
    assert_eq!(par.free_spins_per_paid_spin, r(1, 5));
    assert_eq!(par.free_spins_per_trigger, r(12, 5));
    assert_eq!(par.free_spins_rtp, r(1, 2));
    assert_eq!(par.total_rtp, r(4, 3));
    assert_eq!(par.hit_frequency, r(1, 4));
    assert_eq!(par.trigger_frequency, r(1, 12));
    assert!(!par.in_target(), "4/3 is outside 0.90..1");
    // Moments by hand: E[W]=5/6, E[W²]=3, E[K]=1/6, E[K²]=1/3, E[WK]=1/3, μ=3,
    // E[Y²]=41.4, E[X²]=13.4.
    assert!(
        (par.volatility - (13.4f64 - 16.0 / 9.0).sqrt()).abs() < 1e-9,
        "{}",
        par.volatility
    );
    let a3 = par
        .line_wins
        .iter()
        .find(|w| w.symbol == "A" && w.count == 3)
        .unwrap();
    assert_eq!(
        (a3.hits, a3.probability, a3.base_rtp, a3.share),
        (2, r(1, 6), r(2, 3), r(4, 5))
    );
    let s3 = &par.scatter_wins[0];
    assert_eq!((s3.count, s3.pay, s3.free_spins, s3.hits), (3, 2, 2, 1));
    assert_eq!((s3.base_rtp, s3.share), (r(1, 6), r(1, 5)));

    let par = exact_rtp(&tiny(false));
    assert_eq!(par.free_spins_per_paid_spin, r(1, 6));
    assert_eq!(par.free_spins_rtp, r(5, 12));
    assert_eq!(par.total_rtp, r(5, 4));
    // Without retriggers: μ = 2.5, E[Y²] = 27, E[X²] = 10.208333…, E[X] = 5/4.
    let ex2 = 3.0 + 2.0 * 2.5 / 3.0 + 27.0 / 6.0 + 6.25 / 6.0;
    assert!(
        (par.volatility - (ex2 - 1.5625f64).sqrt()).abs() < 1e-9,
        "{}",
        par.volatility
    );
}

/// Everything the table-driven enumeration counts, recounted with the live `evaluate`.
fn brute_force_check(game: &SlotGame) {
    let par = exact_rtp(game);
    let lengths = game.strip_lengths();
    let lines = Decimal::from(game.lines() as u64);
    let mut stops = vec![0u32; lengths.len()];
    let (mut combos, mut units, mut winning, mut triggers, mut awards) =
        (0u128, 0u128, 0u128, 0u128, 0u128);
    let mut line_hits: HashMap<(String, u32), u64> = HashMap::new();
    let mut scatter_hits: HashMap<u32, u64> = HashMap::new();
    'all: loop {
        let out = evaluate(game, &stops, SpinMode::Base);
        combos += 1;
        units += (out.win_multiple * lines)
            .normalize()
            .to_string()
            .parse::<u128>()
            .unwrap();
        winning += u128::from(out.is_win());
        triggers += u128::from(out.free_spins_awarded > 0);
        awards += u128::from(out.free_spins_awarded);
        for w in &out.line_wins {
            *line_hits
                .entry((w.symbol.to_string(), w.count))
                .or_default() += 1;
        }
        let scatters: u32 = out
            .grid
            .iter()
            .flatten()
            .filter(|s| Some(s.as_str()) == game.scatter())
            .count() as u32;
        *scatter_hits.entry(scatters).or_default() += 1;
        for reel in (0..stops.len()).rev() {
            stops[reel] += 1;
            if (stops[reel] as usize) < lengths[reel] {
                continue 'all;
            }
            stops[reel] = 0;
        }
        break;
    }
    let lines = game.lines() as u128;
    assert_eq!(par.combinations, combos);
    assert_eq!(par.base_rtp, r(units, combos * lines));
    assert_eq!(par.hit_frequency, r(winning, combos));
    assert_eq!(par.trigger_frequency, r(triggers, combos));
    assert_eq!(par.awards_per_spin, r(awards, combos));
    for w in &par.line_wins {
        let brute = line_hits
            .remove(&(w.symbol.clone(), w.count as u32))
            .unwrap_or(0);
        assert_eq!(w.hits, brute, "{} ×{}", w.symbol, w.count);
    }
    assert!(
        line_hits.is_empty(),
        "wins missing from the PAR sheet: {line_hits:?}"
    );
    for w in &par.scatter_wins {
        assert_eq!(
            w.hits,
            scatter_hits.get(&(w.count as u32)).copied().unwrap_or(0),
            "{} scatters",
            w.count
        );
    }
}

#[test]
fn enumeration_matches_live_evaluation_on_classic_sevens() {
    brute_force_check(&classic());
}

/// 5 reels with stacked scatters (up to 8 in view), a paying wild, 1-of-a-kind pays and
/// lines over every row, so every branch of the line rule and the row tables is exercised.
#[test]
fn enumeration_matches_live_evaluation_on_a_small_five_reel_game() {
    let text = r#"
id = "mini"
name = "Mini"
rows = 3
symbols = ["W", "S", "A", "K", "Q"]
wild = "W"
min_bet = "0.10"
max_bet = "1.00"
bet_step = "0.10"
target_rtp = { min = "0.5", max = "1" }
reels = [
  ["A", "W", "K", "S", "S", "Q", "A"],
  ["K", "A", "W", "Q", "S", "K"],
  ["W", "W", "A", "S", "K", "Q", "S"],
  ["Q", "K", "A", "W", "S", "A"],
  ["S", "S", "K", "A", "W", "Q", "A"],
]
paylines = [[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [2, 2, 2, 2, 2], [0, 1, 2, 1, 0], [2, 1, 0, 1, 2],
            [0, 0, 1, 2, 2], [2, 2, 1, 0, 0], [1, 0, 0, 0, 1], [1, 2, 2, 2, 1], [0, 2, 0, 2, 0]]

[paytable]
W = { 2 = 3, 3 = 10, 4 = 30, 5 = 100 }
A = { 3 = 5, 4 = 20, 5 = 60 }
K = { 1 = 1, 2 = 2, 3 = 4, 4 = 8, 5 = 40 }
Q = { 4 = 10, 5 = 30 }

[scatter]
symbol = "S"
pays = { 2 = 1, 4 = 5, 7 = 50 }

[free_spins]
trigger = 4
spins = { 4 = 3, 6 = 7 }
multiplier = 2
retrigger = false
"#;
    let game = SlotGame::from_toml_str(text, "mini.toml").unwrap();
    brute_force_check(&game);
    let par = exact_rtp(&game);
    assert!(
        par.scatter_wins.iter().any(|w| w.count > 5 && w.hits > 0),
        "stacked scatters occur"
    );
    assert!(par.line_wins.iter().any(|w| w.symbol == "W" && w.hits > 0));
}

#[test]
fn enumeration_handles_one_and_two_reels() {
    for (reels, lines, pays) in [
        (
            r#"[["A", "W", "S", "A", "K"]]"#,
            "[[0], [1]]",
            "W = { 1 = 3 }\nA = { 1 = 1 }\nK = { 1 = 2 }",
        ),
        (
            r#"[["A", "W", "S", "A", "K"], ["K", "S", "A", "W"]]"#,
            "[[0, 1], [1, 0]]",
            "W = { 2 = 9 }\nA = { 1 = 1, 2 = 2 }\nK = { 2 = 5 }",
        ),
    ] {
        let text = format!(
            r#"
id = "short"
name = "Short"
rows = 2
symbols = ["W", "S", "A", "K"]
wild = "W"
min_bet = "0.02"
max_bet = "1.00"
bet_step = "0.02"
target_rtp = {{ min = "0.5", max = "1" }}
reels = {reels}
paylines = {lines}
[paytable]
{pays}
[scatter]
symbol = "S"
pays = {{ 1 = 1 }}
"#
        );
        let game = SlotGame::from_toml_str(&text, "short.toml").unwrap();
        brute_force_check(&game);
    }
}

#[test]
fn shipped_games_are_inside_their_target_rtp() {
    for par in [classic_par(), starfall_par()] {
        println!("{par}");
        assert!(
            par.in_target(),
            "{} RTP {} outside {:?}",
            par.game_id,
            par.total_rtp.to_decimal(6),
            par.target_rtp
        );
        let rtp = par.total_rtp.to_decimal(6);
        assert!(rtp >= Decimal::new(94, 2) && rtp <= Decimal::new(97, 2));
    }
    let classic = classic_par();
    assert!(classic.hit_frequency.to_f64() > 0.10 && classic.hit_frequency.to_f64() < 0.30);
    assert!(classic.free_spins_rtp.is_zero());
    let starfall = starfall_par();
    assert!(starfall.hit_frequency.to_f64() > 0.25 && starfall.hit_frequency.to_f64() < 0.40);
    let one_in = 1.0 / starfall.trigger_frequency.to_f64();
    assert!(
        (100.0..=200.0).contains(&one_in),
        "free spins 1 in {one_in}"
    );
    assert_eq!(starfall.free_spin_multiplier, 2);
}

#[test]
fn in_target_compares_exactly_at_the_bounds() {
    let mut par = exact_rtp(&tiny(false)); // total 5/4
    par.target_rtp = (Decimal::new(125, 2), Decimal::new(125, 2));
    assert!(par.in_target());
    par.target_rtp = (Decimal::new(1251, 3), Decimal::new(2, 0));
    assert!(!par.in_target());
    par.target_rtp = (Decimal::new(1, 0), Decimal::new(12499999, 7));
    assert!(!par.in_target());
}

#[test]
fn the_report_is_readable() {
    let text = starfall_par().to_string();
    for needle in [
        "PAR sheet: Starfall (starfall, RTP variant 96)",
        "stated RTP          96.02%  (the exact RTP, rounded)",
        "TOTAL RTP",
        "hit frequency",
        "free spins trigger",
        "COMET ×5",
        "3 scatters",
        "inside",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
}

/// Every RTP variant of every shipped game: its exact RTP inside its own band, the RTP it
/// states to players that figure rounded, and at least two variants per game, apart by at
/// least a point (a 94 % and a 96 % one).
#[test]
fn every_shipped_variant_is_inside_its_band_and_states_its_exact_rtp() {
    use super::super::test_games::{CLASSIC_TOML, STARFALL_TOML};
    for (text, file) in [
        (CLASSIC_TOML, "classic_sevens.toml"),
        (STARFALL_TOML, "starfall.toml"),
    ] {
        let variants = SlotGame::variants_from_toml_str(text, file).unwrap();
        assert!(variants.len() >= 2, "{file}: {} variant(s)", variants.len());
        let mut rtps = Vec::new();
        for game in &variants {
            let par = exact_rtp(game);
            assert!(
                par.in_target(),
                "{}: {}",
                game.id(),
                par.total_rtp.to_decimal(6)
            );
            assert!(game.rtp().is_some(), "{} states no rtp", game.id());
            assert!(
                par.stated_matches(),
                "{}: states {:?}, exact {}",
                game.id(),
                game.rtp(),
                par.total_rtp.to_decimal(6)
            );
            let sheet = par.to_string();
            assert!(sheet.contains("(the exact RTP, rounded)"), "{sheet}");
            assert!(
                sheet.contains(&format!("RTP variant {}", game.variant().unwrap())),
                "{sheet}"
            );
            rtps.push(par.total_rtp.to_decimal(4));
        }
        let (lo, hi) = (rtps.iter().min().unwrap(), rtps.iter().max().unwrap());
        assert!(hi - lo >= Decimal::new(1, 2), "{file}: {rtps:?}");
    }
}

#[test]
fn a_stated_rtp_that_is_not_the_exact_one_is_reported() {
    let text = super::super::test_games::CLASSIC_TOML.replacen(
        r#"rtp = "0.9585""#,
        r#"rtp = "0.9600""#,
        1,
    );
    let game = SlotGame::from_toml_str(&text, "classic_sevens.toml").unwrap();
    let par = exact_rtp(&game);
    assert!(!par.stated_matches());
    assert!(
        par.to_string().contains("DIFFERS from the exact RTP"),
        "{par}"
    );
}
