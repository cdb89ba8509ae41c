//! Test fixtures shared by the slot tests: the shipped games, a hand-computed tiny game and a
//! builder for games whose stop 0 shows a chosen grid.

use super::SlotGame;

pub const STARFALL_TOML: &str = include_str!("../../../../../config/games/starfall.toml");
pub const CLASSIC_TOML: &str = include_str!("../../../../../config/games/classic_sevens.toml");

pub fn starfall() -> SlotGame {
    SlotGame::from_toml_str(STARFALL_TOML, "starfall.toml").expect("starfall.toml is valid")
}

pub fn classic() -> SlotGame {
    SlotGame::from_toml_str(CLASSIC_TOML, "classic_sevens.toml")
        .expect("classic_sevens.toml is valid")
}

/// 3 reels × 1 row, one line; 12 combinations worked out by hand in `rtp.rs` tests.
pub fn tiny_toml(retrigger: bool) -> String {
    format!(
        r#"
id = "tiny"
name = "Tiny"
rows = 1
symbols = ["A", "S", "W"]
wild = "W"
min_bet = "0.01"
max_bet = "1.00"
bet_step = "0.01"
target_rtp = {{ min = "0.90", max = "1" }}
reels = [["A", "S", "W"], ["A", "S"], ["S", "A"]]
paylines = [[0, 0, 0]]

[paytable]
A = {{ 3 = 4 }}

[scatter]
symbol = "S"
pays = {{ 3 = 2 }}

[free_spins]
trigger = 3
spins = {{ 3 = 2 }}
multiplier = 3
retrigger = {retrigger}
"#
    )
}

pub fn tiny(retrigger: bool) -> SlotGame {
    SlotGame::from_toml_str(&tiny_toml(retrigger), "tiny.toml").expect("tiny game is valid")
}

/// Padding stops after the chosen column, so scatters stay rare enough for `a < 1`.
const PADDING: usize = 40;

/// A 5 × 3 game with 4 lines (middle, top, bottom, V) whose stops `[0; 5]` show `grid`
/// (`grid[row][reel]`). Pays: WILD 3/4/5 = 50/200/1000, A 10/40/100, K 2/5/20/50 (from 2),
/// Q 5/10/20; STAR scatter 2 → 1, 3 → 5 total bets, 3+ → 10 free spins ×3 (4+ → 15).
pub fn grid_game_with(grid: [[&str; 5]; 3], retrigger: bool) -> SlotGame {
    let reels: Vec<String> = (0..5)
        .map(|reel| {
            let column: Vec<String> = (0..3).map(|row| format!("{:?}", grid[row][reel])).collect();
            let padding = vec!["\"BLANK\"".to_string(); PADDING];
            format!("[{}, {}]", column.join(", "), padding.join(", "))
        })
        .collect();
    let text = format!(
        r#"
id = "grid"
name = "Grid"
rows = 3
symbols = ["WILD", "STAR", "A", "K", "Q", "BLANK"]
wild = "WILD"
min_bet = "0.04"
max_bet = "4.00"
bet_step = "0.04"
target_rtp = {{ min = "0.9", max = "1" }}
reels = [{reels}]
paylines = [[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [2, 2, 2, 2, 2], [0, 1, 2, 1, 0]]

[paytable]
WILD = {{ 3 = 50, 4 = 200, 5 = 1000 }}
A = {{ 3 = 10, 4 = 40, 5 = 100 }}
K = {{ 2 = 2, 3 = 5, 4 = 20, 5 = 50 }}
Q = {{ 3 = 5, 4 = 10, 5 = 20 }}

[scatter]
symbol = "STAR"
pays = {{ 2 = 1, 3 = 5 }}

[free_spins]
trigger = 3
spins = {{ 3 = 10, 4 = 15 }}
multiplier = 3
retrigger = {retrigger}
"#,
        reels = reels.join(",\n  ")
    );
    SlotGame::from_toml_str(&text, "grid.toml").expect("grid game is valid")
}

pub fn grid_game(grid: [[&str; 5]; 3]) -> SlotGame {
    grid_game_with(grid, true)
}

/// The shipped games' PAR sheets, enumerated once per test run (starfall takes ~1 s).
pub fn starfall_par() -> &'static super::ParSheet {
    static PAR: std::sync::OnceLock<super::ParSheet> = std::sync::OnceLock::new();
    PAR.get_or_init(|| super::exact_rtp(&starfall()))
}

pub fn classic_par() -> &'static super::ParSheet {
    static PAR: std::sync::OnceLock<super::ParSheet> = std::sync::OnceLock::new();
    PAR.get_or_init(|| super::exact_rtp(&classic()))
}
