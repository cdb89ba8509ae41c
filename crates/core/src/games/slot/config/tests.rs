//! Unit tests of `config`: one test per group of rules, each bad value named by its key.
//! About 770 lines: the rules of the game file are many, and their tests are kept in one
//! place beside them.

use super::*;
use crate::games::slot::test_games;
use crate::money::Currency;

const VALID: &str = r#"
id = "valid_game"
name = "Valid Game"
rows = 3
symbols = ["WILD", "STAR", "A", "K"]
wild = "WILD"
min_bet = "0.10"
max_bet = "10.00"
bet_step = "0.10"
target_rtp = { min = "0.94", max = "0.97" }
reels = [
  ["A", "K", "WILD", "A", "K", "STAR", "A", "K"],
  ["K", "A", "K", "STAR", "A", "WILD", "K", "A"],
  ["A", "A", "K", "K", "WILD", "STAR", "K", "A"],
]
paylines = [[1, 1, 1], [0, 0, 0], [2, 2, 2], [0, 1, 2], [2, 1, 0]]

[paytable]
WILD = { 3 = 50 }
A = { 2 = 1, 3 = 5 }
K = { 3 = 4 }

[scatter]
symbol = "STAR"
pays = { 2 = 1, 3 = 10 }

[free_spins]
trigger = 3
spins = { 3 = 5 }
multiplier = 2
retrigger = true
"#;

fn parse(text: &str) -> Result<SlotGame, SlotConfigError> {
    SlotGame::from_toml_str(text, "valid.toml")
}

/// Replaces `from` by `to` in the valid game and expects an error on `key` mentioning `needle`.
#[track_caller]
fn rejects(from: &str, to: &str, key: &str, needle: &str) {
    let text = VALID.replacen(from, to, 1);
    assert_ne!(text, VALID, "pattern {from:?} not in the valid game");
    match parse(&text) {
        Err(e @ SlotConfigError::Invalid { .. }) => {
            let message = e.to_string();
            assert_eq!(e.key(), Some(key), "{message}");
            assert!(
                message.starts_with(&format!("valid.toml: {key}: ")),
                "{message}"
            );
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        Err(other) => panic!("expected a validation error on {key}, got {other}"),
        Ok(_) => panic!("expected a validation error on {key}, the game loaded"),
    }
}

#[test]
fn the_valid_game_loads_with_its_getters() {
    let game = parse(VALID).unwrap();
    assert_eq!(game.id(), "valid_game");
    assert_eq!(game.name(), "Valid Game");
    assert_eq!((game.reels(), game.rows(), game.lines()), (3, 3, 5));
    assert_eq!(game.min_bet(), Decimal::new(10, 2));
    assert_eq!(game.max_bet(), Decimal::new(1000, 2));
    assert_eq!(game.bet_step(), Decimal::new(10, 2));
    assert_eq!(
        game.target_rtp(),
        (Decimal::new(94, 2), Decimal::new(97, 2))
    );
    assert_eq!(game.wild(), Some("WILD"));
    assert_eq!(game.scatter(), Some("STAR"));
    assert_eq!(game.line_pay("A", 2), 1);
    assert_eq!(game.line_pay("A", 1), 0);
    assert_eq!(game.scatter_pay(2), 1);
    assert_eq!(
        game.scatter_pay(9),
        10,
        "n or more: 9 scatters pay the 3+ entry"
    );
    let fs = game.free_spins().unwrap();
    assert_eq!(
        (
            fs.trigger(),
            fs.spins_for(2),
            fs.spins_for(3),
            fs.spins_for(9)
        ),
        (3, 0, 5, 5)
    );
    assert_eq!(
        game.free_spin_mode(),
        Some(SpinMode::Free { multiplier: 2 })
    );
    assert_eq!(game.cycle(), 512);
    assert_eq!(game.scatter_count_distribution().iter().sum::<u128>(), 512);
}

#[test]
fn the_shipped_games_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/games");
    let games = SlotGame::load_dir(&dir).unwrap();
    let ids: Vec<&str> = games.iter().map(|g| g.id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted by id: {ids:?}");
    assert!(
        ids.contains(&"classic_sevens") && ids.contains(&"starfall"),
        "{ids:?}"
    );
    let classic = test_games::classic();
    assert_eq!(
        (classic.reels(), classic.rows(), classic.lines()),
        (3, 3, 5)
    );
    assert_eq!(classic.name(), "Classic Sevens");
    assert_eq!(
        (
            classic.min_bet().to_string(),
            classic.max_bet().to_string(),
            classic.bet_step().to_string()
        ),
        ("0.05".into(), "50.00".into(), "0.05".into())
    );
    let starfall = test_games::starfall();
    assert_eq!(
        (starfall.reels(), starfall.rows(), starfall.lines()),
        (5, 3, 20)
    );
    assert_eq!(starfall.name(), "Starfall");
    assert_eq!(
        (
            starfall.min_bet().to_string(),
            starfall.max_bet().to_string(),
            starfall.bet_step().to_string()
        ),
        ("0.20".into(), "100.00".into(), "0.20".into())
    );
}

#[test]
fn identity_rules() {
    rejects(
        r#"id = "valid_game""#,
        r#"id = "Valid-Game""#,
        "id",
        "snake_case",
    );
    rejects(
        r#"id = "valid_game""#,
        r#"id = "9lives""#,
        "id",
        "snake_case",
    );
    rejects(
        r#"name = "Valid Game""#,
        r#"name = "  ""#,
        "name",
        "1 to 64",
    );
}

#[test]
fn layout_rules() {
    rejects("rows = 3", "rows = 0", "rows", "0 is outside 1..=6");
    rejects("rows = 3", "rows = 7", "rows", "7 is outside 1..=6");
    rejects(
        r#"["WILD", "STAR", "A", "K"]"#,
        r#"["WILD", "STAR", "A", "A"]"#,
        "symbols[3]",
        "duplicate symbol \"A\"",
    );
    rejects(
        r#"["WILD", "STAR", "A", "K"]"#,
        r#"["WILD", "STAR", "a", "K"]"#,
        "symbols[2]",
        "A-Z",
    );
    rejects(r#"["WILD", "STAR", "A", "K"]"#, "[]", "symbols", "1 to 64");
}

#[test]
fn wild_and_scatter_rules() {
    rejects(
        r#"wild = "WILD""#,
        r#"wild = "JOKER""#,
        "wild",
        "unknown symbol \"JOKER\"",
    );
    rejects(
        r#"symbol = "STAR""#,
        r#"symbol = "COMET""#,
        "scatter.symbol",
        "unknown symbol",
    );
    rejects(
        r#"symbol = "STAR""#,
        r#"symbol = "WILD""#,
        "scatter.symbol",
        "cannot also be the wild",
    );
    rejects(
        "WILD = { 3 = 50 }",
        "STAR = { 3 = 50 }",
        "paytable.STAR",
        "not on lines",
    );
}

#[test]
fn strip_rules() {
    rejects(
        r#"["A", "K", "WILD", "A", "K", "STAR", "A", "K"],"#,
        r#"["A", "K", "WILD", "A", "K", "STAR", "A", "COMET"],"#,
        "reels[0][7]",
        "unknown symbol \"COMET\"",
    );
    rejects(
        r#"["K", "A", "K", "STAR", "A", "WILD", "K", "A"],"#,
        "[],",
        "reels[1]",
        "has 0 stops",
    );
    rejects(
        r#"["K", "A", "K", "STAR", "A", "WILD", "K", "A"],"#,
        r#"["K", "A"],"#,
        "reels[1]",
        "has 2 stops",
    );
    let no_reels = VALID.replace(
        r#"  ["A", "K", "WILD", "A", "K", "STAR", "A", "K"],
  ["K", "A", "K", "STAR", "A", "WILD", "K", "A"],
  ["A", "A", "K", "K", "WILD", "STAR", "K", "A"],
"#,
        "",
    );
    let err = parse(&no_reels).unwrap_err();
    assert_eq!(err.key(), Some("reels"), "{err}");
}

#[test]
fn too_many_reels_or_combinations_are_rejected() {
    let strip = |n: usize| format!("[{}]", vec!["\"A\""; n].join(", "));
    let game = |reels: usize, stops: usize| {
        let strips = vec![strip(stops); reels].join(", ");
        let line = format!("[{}]", vec!["0"; reels].join(", "));
        format!(
                "id = \"big\"\nname = \"Big\"\nrows = 1\nsymbols = [\"A\"]\nmin_bet = \"1\"\nmax_bet = \"1\"\nbet_step = \"1\"\n\
                 target_rtp = {{ min = \"0.9\", max = \"1\" }}\nreels = [{strips}]\npaylines = [{line}]\n[paytable]\nA = {{ {reels} = 1 }}\n"
            )
    };
    assert!(SlotGame::from_toml_str(&game(7, 10), "big.toml").is_ok());
    let err = SlotGame::from_toml_str(&game(8, 2), "big.toml").unwrap_err();
    assert_eq!(err.key(), Some("reels"), "{err}");
    let err = SlotGame::from_toml_str(&game(7, 1000), "big.toml").unwrap_err();
    assert!(err.to_string().contains("can be enumerated"), "{err}");
    let err = SlotGame::from_toml_str(&game(2, 1001), "big.toml").unwrap_err();
    assert_eq!(err.key(), Some("reels[0]"), "{err}");
}

#[test]
fn payline_rules() {
    const LINES: &str = "paylines = [[1, 1, 1], [0, 0, 0], [2, 2, 2], [0, 1, 2], [2, 1, 0]]";
    rejects(
        LINES,
        "paylines = [[1, 1, 1], [0, 0], [2, 2, 2], [0, 1, 2], [2, 1, 0]]",
        "paylines[1]",
        "has 2 rows",
    );
    rejects(
        LINES,
        "paylines = [[1, 1, 1], [0, 0, 0], [2, 2, 2], [0, 1, 5], [2, 1, 0]]",
        "paylines[3][2]",
        "row 5 is outside 0..3",
    );
    rejects(
        LINES,
        "paylines = [[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 1, 2], [2, 1, 0]]",
        "paylines[2]",
        "duplicates paylines[0]",
    );
    rejects(
        LINES,
        "paylines = [[1, 1, 1], [0, 0, 0], [2, 2, 2]]",
        "paylines",
        "prime factors",
    );
    rejects(LINES, "paylines = []", "paylines", "1 to 100");
    // starfall's own example from the brief
    let text = test_games::STARFALL_TOML.replacen("[0, 1, 2, 1, 0]", "[0, 1, 5, 1, 0]", 1);
    let err = SlotGame::from_toml_str(&text, "starfall.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "starfall.toml: paylines[3][2]: row 5 is outside 0..3"
    );
}

#[test]
fn paytable_rules() {
    rejects(
        "WILD = { 3 = 50 }",
        "FOO = { 3 = 50 }",
        "paytable.FOO",
        "unknown symbol",
    );
    rejects(
        "A = { 2 = 1, 3 = 5 }",
        "A = { x = 1, 3 = 5 }",
        "paytable.A.x",
        "counts such as 3",
    );
    rejects(
        "A = { 2 = 1, 3 = 5 }",
        "A = { 2 = 1, 4 = 5 }",
        "paytable.A.4",
        "count 4 is outside 1..=3",
    );
    rejects(
        "A = { 2 = 1, 3 = 5 }",
        "A = { 2 = 1, 3 = 0 }",
        "paytable.A.3",
        "0 is outside 1..=100000",
    );
    rejects(
        "A = { 2 = 1, 3 = 5 }",
        "A = { 2 = 6, 3 = 5 }",
        "paytable.A.3",
        "more must never pay less",
    );
    rejects(
        "A = { 2 = 1, 3 = 5 }",
        "A = { 1 = 1, 3 = 5 }",
        "paytable.A",
        "no pay for 2 of a kind",
    );
    rejects("A = { 2 = 1, 3 = 5 }", "A = {}", "paytable.A", "no pays");
    rejects(
        "[paytable]\nWILD = { 3 = 50 }\nA = { 2 = 1, 3 = 5 }\nK = { 3 = 4 }",
        "[paytable]",
        "paytable",
        "no symbol pays",
    );
}

#[test]
fn scatter_and_free_spin_rules() {
    rejects(
        "pays = { 2 = 1, 3 = 10 }",
        "pays = { 2 = 1, 10 = 10 }",
        "scatter.pays.10",
        "count 10 is outside 1..=9",
    );
    rejects(
        "pays = { 2 = 1, 3 = 10 }",
        "pays = { 2 = 1, 3 = 10001 }",
        "scatter.pays.3",
        "outside 1..=10000",
    );
    rejects(
        "trigger = 3",
        "trigger = 0",
        "free_spins.trigger",
        "0 is outside 1..=9",
    );
    rejects(
        "spins = { 3 = 5 }",
        "spins = { 4 = 5 }",
        "free_spins.spins",
        "trigger count 3",
    );
    rejects(
        "spins = { 3 = 5 }",
        "spins = { 2 = 5, 3 = 5 }",
        "free_spins.spins.2",
        "below the trigger",
    );
    rejects(
        "spins = { 3 = 5 }",
        "spins = { 3 = 101 }",
        "free_spins.spins.3",
        "outside 1..=100",
    );
    rejects(
        "multiplier = 2",
        "multiplier = 0",
        "free_spins.multiplier",
        "outside 1..=10",
    );
    rejects(
        "multiplier = 2",
        "multiplier = 11",
        "free_spins.multiplier",
        "outside 1..=10",
    );
    // 27/512 of spins show 3 scatters: 20 spins each is 1.05 per spin on average.
    rejects(
        "spins = { 3 = 5 }",
        "spins = { 3 = 20 }",
        "free_spins",
        "1.054 free spins on average",
    );
    let no_retrigger = VALID
        .replacen("spins = { 3 = 5 }", "spins = { 3 = 20 }", 1)
        .replacen("retrigger = true", "retrigger = false", 1);
    assert!(
        parse(&no_retrigger).is_ok(),
        "without retriggers any award is fine"
    );
    let no_scatter = VALID.replacen(
        "[scatter]\nsymbol = \"STAR\"\npays = { 2 = 1, 3 = 10 }\n",
        "",
        1,
    );
    let err = parse(&no_scatter).unwrap_err();
    assert_eq!(err.key(), Some("free_spins"), "{err}");
}

#[test]
fn bet_rules() {
    rejects(
        r#"min_bet = "0.10""#,
        r#"min_bet = "ten""#,
        "min_bet",
        "not a decimal",
    );
    rejects(
        r#"min_bet = "0.10""#,
        r#"min_bet = "1e-1""#,
        "min_bet",
        "not a decimal",
    );
    rejects(
        r#"min_bet = "0.10""#,
        r#"min_bet = "-0.10""#,
        "min_bet",
        "greater than zero",
    );
    rejects(
        r#"min_bet = "0.10""#,
        r#"min_bet = "0.000000001""#,
        "min_bet",
        "more than 8 decimals",
    );
    rejects(
        r#"min_bet = "0.10""#,
        r#"min_bet = "20.00""#,
        "min_bet",
        "above max_bet",
    );
    rejects(
        r#"min_bet = "0.10""#,
        r#"min_bet = "0.15""#,
        "min_bet",
        "not a multiple of bet_step 0.10",
    );
    rejects(
        r#"max_bet = "10.00""#,
        r#"max_bet = "10.05""#,
        "max_bet",
        "not a multiple of bet_step",
    );
    rejects(
        r#"bet_step = "0.10""#,
        r#"bet_step = "0.00""#,
        "bet_step",
        "greater than zero",
    );
    // 5 lines: the step must be a multiple of 0.05 so that line bets are whole cents.
    let text = VALID
        .replacen(r#"min_bet = "0.10""#, r#"min_bet = "0.02""#, 1)
        .replacen(r#"bet_step = "0.10""#, r#"bet_step = "0.02""#, 1);
    let err = parse(&text).unwrap_err();
    assert_eq!(err.key(), Some("bet_step"), "{err}");
    assert!(err.to_string().contains("multiple of 0.05"), "{err}");
}

#[test]
fn target_rtp_rules() {
    const RTP: &str = r#"target_rtp = { min = "0.94", max = "0.97" }"#;
    rejects(
        RTP,
        r#"target_rtp = { min = "0.98", max = "0.97" }"#,
        "target_rtp.min",
        "above target_rtp.max",
    );
    rejects(
        RTP,
        r#"target_rtp = { min = "0.94", max = "1.2" }"#,
        "target_rtp.max",
        "above 1",
    );
    rejects(
        RTP,
        r#"target_rtp = { min = "x", max = "0.97" }"#,
        "target_rtp.min",
        "not a decimal",
    );
}

#[test]
fn syntax_errors_name_the_file_and_the_field() {
    let text = VALID.replacen("rows = 3", "rows = 3\ncolumns = 5", 1);
    let err = parse(&text).unwrap_err();
    assert!(matches!(err, SlotConfigError::Parse { .. }));
    let message = err.to_string();
    assert!(message.starts_with("valid.toml: "), "{message}");
    assert!(message.contains("unknown field `columns`"), "{message}");

    let text = VALID.replacen(r#"min_bet = "0.10""#, "min_bet = 0.10", 1);
    let message = parse(&text).unwrap_err().to_string();
    assert!(
        message.contains("min_bet") && message.contains("string"),
        "{message}"
    );

    let text = VALID.replacen("multiplier = 2", "multiplier = -2", 1);
    assert!(matches!(parse(&text), Err(SlotConfigError::Parse { .. })));
    let text = VALID.replacen("multiplier = 2\n", "", 1);
    let message = parse(&text).unwrap_err().to_string();
    assert!(message.contains("missing field `multiplier`"), "{message}");
}

#[test]
fn load_dir_sorts_by_id_and_rejects_duplicates() {
    let dir = std::env::temp_dir().join(format!("croupier-slot-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |file: &str, text: &str| std::fs::write(dir.join(file), text).unwrap();
    write("zeta.toml", &VALID.replacen("valid_game", "zeta", 1));
    write("alpha.toml", &VALID.replacen("valid_game", "alpha", 1));
    write("notes.txt", "not a game");
    let ids: Vec<String> = SlotGame::load_dir(&dir)
        .unwrap()
        .iter()
        .map(|g| g.id().to_string())
        .collect();
    assert_eq!(ids, ["alpha", "zeta"]);

    write("other.toml", &VALID.replacen("valid_game", "alpha", 1));
    let err = SlotGame::load_dir(&dir).unwrap_err();
    assert!(matches!(err, SlotConfigError::DuplicateId { .. }));
    assert_eq!(
        err.to_string(),
        "duplicate game id \"alpha\" in alpha.toml and other.toml"
    );

    std::fs::remove_file(dir.join("other.toml")).unwrap();
    write("broken.toml", "id = ");
    let err = SlotGame::load_dir(&dir).unwrap_err();
    assert!(err.to_string().starts_with("broken.toml: "), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();

    let err = SlotGame::load_dir(&dir).unwrap_err();
    assert!(matches!(err, SlotConfigError::Io { .. }), "{err}");
}

#[test]
fn bets_are_checked_against_the_limits() {
    let game = parse(VALID).unwrap();
    let eur = Currency::new("EUR", 2).unwrap();
    let bet = |text: &str| Money::parse(text, &eur).unwrap();
    assert_eq!(game.check_bet(&bet("0.10")), Ok(()));
    assert_eq!(game.check_bet(&bet("10.00")), Ok(()));
    assert_eq!(game.check_bet(&bet("2.30")), Ok(()));
    let below = game.check_bet(&bet("0.05")).unwrap_err();
    assert!(matches!(below, BetError::BelowMin { .. }));
    assert_eq!(below.to_string(), "bet 0.05 is below the minimum 0.10");
    let above = game.check_bet(&bet("10.10")).unwrap_err();
    assert_eq!(above.to_string(), "bet 10.10 is above the maximum 10.00");
    let step = game.check_bet(&bet("0.25")).unwrap_err();
    assert_eq!(
        step.to_string(),
        "bet 0.25 is not a multiple of the bet step 0.10"
    );
    let jpy = Currency::new("JPY", 0).unwrap();
    assert_eq!(game.check_bet(&Money::parse("3", &jpy).unwrap()), Ok(()));
}

#[test]
fn stops_are_checked() {
    let game = parse(VALID).unwrap();
    assert_eq!(game.check_stops(&[0, 7, 3]), Ok(()));
    assert_eq!(
        game.check_stops(&[0, 7]),
        Err(StopsError::WrongCount { got: 2, reels: 3 })
    );
    assert_eq!(
        game.check_stops(&[0, 8, 0]),
        Err(StopsError::OutOfRange {
            reel: 1,
            stop: 8,
            len: 8
        })
    );
}

/// The valid game with a second RTP variant on other strips.
fn with_variant(main: &str, variant: &str) -> String {
    format!(
        "{main}\n{}",
        VALID.replacen(
            "id = \"valid_game\"",
            &format!("id = \"valid_game\"\n{variant}"),
            1
        )
    )
}

const VARIANT: &str = r#"
[[variant]]
id = "94"
target_rtp = { min = "0.90", max = "0.95" }
reels = [
  ["A", "K", "WILD", "A", "K", "STAR", "A", "K"],
  ["K", "A", "K", "STAR", "A", "K", "K", "A"],
  ["A", "A", "K", "K", "WILD", "STAR", "K", "A"],
]
"#;

fn variants(text: &str) -> Result<Vec<SlotGame>, SlotConfigError> {
    SlotGame::variants_from_toml_str(text, "valid.toml")
}

#[test]
fn a_variant_is_the_same_game_on_other_strips_with_its_own_id() {
    let text = format!(
        "{}{VARIANT}",
        VALID.replacen(
            "id = \"valid_game\"",
            "id = \"valid_game\"\nrtp_variant = \"96\"",
            1
        )
    );
    let games = variants(&text).unwrap();
    assert_eq!(games.len(), 2);
    let (main, other) = (&games[0], &games[1]);
    assert_eq!(
        (main.id(), main.family(), main.variant()),
        ("valid_game", "valid_game", Some("96"))
    );
    assert_eq!(
        (other.id(), other.family(), other.variant()),
        ("valid_game_94", "valid_game", Some("94"))
    );
    assert_eq!(other.strip(1).unwrap()[5], "K");
    assert_eq!(main.strip(1).unwrap()[5], "WILD");
    assert_eq!(
        other.target_rtp(),
        (Decimal::new(90, 2), Decimal::new(95, 2))
    );
    assert_eq!(
        (other.paylines(), other.lines(), other.name()),
        (main.paylines(), main.lines(), main.name())
    );
    // from_toml_str gives the main game; a file without variants names none.
    assert_eq!(
        SlotGame::from_toml_str(&text, "valid.toml").unwrap().id(),
        "valid_game"
    );
    assert_eq!(parse(VALID).unwrap().variant(), None);
    // load_dir holds every variant, and two files cannot both make one id.
    let dir = std::env::temp_dir().join(format!("croupier-variant-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.toml"), &text).unwrap();
    let ids: Vec<String> = SlotGame::load_dir(&dir)
        .unwrap()
        .iter()
        .map(|g| g.id().to_string())
        .collect();
    assert_eq!(ids, ["valid_game", "valid_game_94"]);
    std::fs::write(
        dir.join("b.toml"),
        VALID.replacen("valid_game", "valid_game_94", 1),
    )
    .unwrap();
    let err = SlotGame::load_dir(&dir).unwrap_err().to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.contains("duplicate game id \"valid_game_94\""), "{err}");
}

#[test]
fn bad_variants_are_refused_naming_the_key() {
    let cases: [(String, &str, &str); 7] = [
        (format!("{VALID}{VARIANT}"), "rtp_variant", "missing"),
        (
            with_variant("", "rtp_variant = \"9 6\"").to_string(),
            "rtp_variant",
            "a-z and 0-9",
        ),
        (
            format!(
                "{}{}",
                with_variant("", "rtp_variant = \"96\""),
                VARIANT.replace("id = \"94\"", "id = \"96\"")
            ),
            "variant[0].id",
            "named twice",
        ),
        (
            format!(
                "{}{}",
                with_variant("", "rtp_variant = \"96\""),
                VARIANT.replace("id = \"94\"", "id = \"ninety_four\"")
            ),
            "variant[0].id",
            "a-z and 0-9",
        ),
        (
            format!(
                "{}{}",
                with_variant("", "rtp_variant = \"96\""),
                VARIANT.replacen("\"WILD\"", "\"JOKER\"", 1)
            ),
            "variant[0].reels[0][2]",
            "unknown symbol",
        ),
        (
            format!(
                "{}{}",
                with_variant("", "rtp_variant = \"96\""),
                VARIANT.replace("target_rtp", "rtp = \"0.97\"\ntarget_rtp")
            ),
            "variant[0].rtp",
            "outside the game's target_rtp",
        ),
        (
            with_variant("", "rtp = \"0.99\""),
            "rtp",
            "outside the game's target_rtp",
        ),
    ];
    for (text, key, needle) in cases {
        match variants(&text) {
            Err(e @ SlotConfigError::Invalid { .. }) => {
                let message = e.to_string();
                assert_eq!(e.key(), Some(key), "{message}");
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
            Err(other) => panic!("{key}: expected a validation error, got {other}"),
            Ok(_) => panic!("{key}: the game loaded"),
        }
    }
    // A variant id that makes the game id too long.
    let long = format!(
        "{}{}",
        VALID.replacen(
            "id = \"valid_game\"",
            "id = \"a_game_id_of_twenty_nine_chars\"\nrtp_variant = \"96\"",
            1
        ),
        VARIANT.replace("id = \"94\"", "id = \"low\"")
    );
    let err = variants(&long).unwrap_err();
    assert_eq!(err.key(), Some("variant[0].id"), "{err}");
    // An unknown key in a variant (only strips, band and rtp may differ).
    let extra = format!(
        "{}{}",
        with_variant("", "rtp_variant = \"96\""),
        VARIANT.replace("target_rtp", "rows = 4\ntarget_rtp")
    );
    assert!(matches!(
        variants(&extra),
        Err(SlotConfigError::Parse { .. })
    ));
}
