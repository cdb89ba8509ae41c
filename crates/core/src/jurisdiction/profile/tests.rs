//! Unit tests of `profile`: the file format, every bad key, `rtp_variants` against the games.

use super::*;

fn currencies() -> CurrencyTable {
    CurrencyTable(
        [("EUR".to_string(), 2), ("GBP".to_string(), 2)]
            .into_iter()
            .collect(),
    )
}

const FILE: &str = r#"
    [[profile]]
    id = "default"
    name = "Permissive"

    [[profile]]
    id = "uk"
    name = "Great Britain"
    countries = ["GB"]
    min_round_interval_ms = 2500
    autoplay = false
    slot_stake_cap = { GBP = "5.00" }
    slot_stake_cap_18_24 = { GBP = "2.00" }
    reality_check_minutes = 60
    harm_chase_rise_percent = 200
    harm_chase_count = 3
    harm_long_session_minutes = 180
"#;

#[test]
fn a_file_reads_into_profiles_by_id_and_country() {
    let p = Profiles::parse(FILE, &currencies()).unwrap();
    let uk = p.get("uk").unwrap();
    assert_eq!(uk.min_round_interval_ms, 2_500);
    assert_eq!(uk.slot_stake_cap["GBP"], 500);
    assert_eq!(uk.slot_stake_cap_18_24["GBP"], 200);
    assert!(!uk.autoplay && uk.turbo && uk.jackpots, "unset flags allow");
    assert_eq!(
        uk.harm,
        HarmRules {
            chase_rise_percent: 200,
            chase_count: 3,
            long_session_minutes: 180
        }
    );
    assert_eq!(p.get("default").unwrap().harm, HarmRules::default());
    assert_eq!(p.for_launch("GB", "default").unwrap().id, "uk");
    assert_eq!(p.for_launch("FR", "default").unwrap().id, "default");
    assert!(p.for_launch("FR", "nope").is_none());
    assert_eq!(p.default_profile().id, "default");
}

#[test]
fn bad_files_name_the_key() {
    let cases = [
        (
            r#"[[profile]]
            id = "uk"
            name = "x""#,
            "profile",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            [[profile]]
            id = "default"
            name = "y""#,
            "profile[1].id",
        ),
        (
            r#"[[profile]]
            id = "Default"
            name = "x""#,
            "profile[0].id",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            countries = ["gb"]"#,
            "profile[0].countries[0]",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            countries = ["GB"]
            [[profile]]
            id = "uk"
            name = "y"
            countries = ["GB"]"#,
            "profile[1].countries[0]",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            min_round_interval_ms = 600000"#,
            "profile[0].min_round_interval_ms",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            slot_stake_cap = { XYZ = "1.00" }"#,
            "profile[0].slot_stake_cap.XYZ",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            slot_stake_cap = { GBP = "0" }"#,
            "profile[0].slot_stake_cap.GBP",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            slot_stake_cap = { GBP = "1.001" }"#,
            "profile[0].slot_stake_cap.GBP",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            slot_stake_cap_18_24 = { GBP = "2.00" }"#,
            "profile[0].slot_stake_cap_18_24.GBP",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            slot_stake_cap = { GBP = "1.00" }
            slot_stake_cap_18_24 = { GBP = "2.00" }"#,
            "profile[0].slot_stake_cap_18_24.GBP",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            reality_check_minutes = 5000"#,
            "profile[0].reality_check_minutes",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            harm_chase_rise_percent = 90
            harm_chase_count = 2"#,
            "profile[0].harm_chase_rise_percent",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            harm_chase_rise_percent = 200"#,
            "profile[0].harm_chase_count",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            harm_long_session_minutes = 100000"#,
            "profile[0].harm_long_session_minutes",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            rtp_variants = { starfall = ["9-6"] }"#,
            "profile[0].rtp_variants.starfall[0]",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            rtp_variants = { starfall = ["96", "96"] }"#,
            "profile[0].rtp_variants.starfall[1]",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            rtp_variants = { Star-Fall = ["96"] }"#,
            "profile[0].rtp_variants.Star-Fall",
        ),
        (
            r#"[[profile]]
            id = "default"
            name = "x"
            speed = 1"#,
            "profile[0]",
        ),
    ];
    for (text, key) in cases {
        let error = Profiles::parse(text, &currencies()).unwrap_err();
        assert!(error.key.starts_with(key), "{key}: got {error}");
    }
}

#[test]
fn rtp_variants_choose_what_is_offered_and_must_name_real_ones() {
    use crate::games::slot::test_games::{CLASSIC_TOML, STARFALL_TOML};
    let dir = std::env::temp_dir().join(format!("croupier-rtp-variants-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("starfall.toml"), STARFALL_TOML).unwrap();
    std::fs::write(dir.join("classic_sevens.toml"), CLASSIC_TOML).unwrap();
    let games = GameCatalog::load(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let file = |variants: &str| {
        format!("[[profile]]\nid = \"default\"\nname = \"x\"\nrtp_variants = {variants}\n")
    };
    let p = Profiles::parse(
        &file(r#"{ starfall = ["94"], classic_sevens = [] }"#),
        &currencies(),
    )
    .unwrap();
    p.check_games(&games).unwrap();
    let d = p.default_profile();
    let offered: Vec<&str> = games
        .slots()
        .filter(|g| d.offers(g))
        .map(|g| g.id())
        .collect();
    assert_eq!(offered, ["starfall_94"]);
    // Not named: every variant.
    let all = Profiles::default();
    assert_eq!(
        games
            .slots()
            .filter(|g| all.default_profile().offers(g))
            .count(),
        4
    );
    for (variants, needle) in [
        (r#"{ starfal = ["96"] }"#, "no slot game \"starfal\""),
        (
            r#"{ starfall = ["95"] }"#,
            "starfall has no RTP variant \"95\" (it has: 96, 94)",
        ),
    ] {
        let p = Profiles::parse(&file(variants), &currencies()).unwrap();
        let error = p.check_games(&games).unwrap_err();
        assert!(
            error.key.starts_with("profile default: rtp_variants."),
            "{error}"
        );
        assert!(error.message.contains(needle), "{error}");
    }
}

#[test]
fn the_default_profiles_are_permissive() {
    let p = Profiles::default();
    let d = p.default_profile();
    assert_eq!(**d, Profile::permissive(DEFAULT_PROFILE));
    assert!(d.jackpots && d.autoplay && d.min_round_interval_ms == 0);
}
