//! Arbitrary input to every parser an outsider reaches (issue 13, finding 14): the client-frame
//! parser, the money parser, the config loader, the token check and the reply-log reader. Each
//! must answer every input with a value or a typed error, never a panic. Bounded here
//! (`FUZZ_CASES` cases each, a few seconds); `CROUPIER_FUZZ_CASES=1000000` runs a long one.

use croupier::auth::TokenKeys;
use croupier::config::Config;
use croupier::money::{Currency, Money};
use croupier::protocol::parse_client_frame;
use croupier::reply_cache::Fingerprint;
use croupier::secrets::{KeyRing, Purpose};
use proptest::prelude::*;

/// Cases per property in the suite; the environment can ask for more.
fn cases() -> u32 {
    std::env::var("CROUPIER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// Text shaped like the input: JSON-ish fragments, digits and points, or anything at all.
fn texty() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[-+ 0-9.eE]{0,24}",
        r#"\{("[a-z_]{1,10}": ?("[a-z0-9_.:-]{0,12}"|[0-9.-]{1,8}|\[[0-9, ]{0,12}\]|null|true),? ?){0,6}\}"#,
        proptest::collection::vec(any::<u8>(), 0..512)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// A frame that parses must survive a round trip through its own serialisation.
fn frame_round_trips(text: &str) {
    if let Ok(frame) = parse_client_frame(text) {
        let again = serde_json::to_string(&frame).expect("a parsed frame serialises");
        let back = parse_client_frame(&again).expect("its serialisation parses");
        assert_eq!(back, frame, "{text}");
        let _ = Fingerprint::of(&frame);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn client_frames_never_panic(text in texty()) {
        frame_round_trips(&text);
    }

    #[test]
    fn spin_frames_with_any_fields_never_panic(
        req in any::<String>(), game in any::<String>(), bet in texty()
    ) {
        let text = serde_json::json!({"type": "spin", "req_id": req, "game": game, "bet": bet})
            .to_string();
        frame_round_trips(&text);
    }

    #[test]
    fn money_parses_or_refuses_and_round_trips(text in texty(), decimals in 0u32..=4) {
        let currency = Currency::new("EUR", decimals).unwrap();
        if let Ok(m) = Money::parse(&text, &currency) {
            let again = Money::parse(&m.to_string(), &currency).expect("its text parses");
            prop_assert_eq!(again.minor(), m.minor());
            prop_assert!(m.minor() >= 0);
        }
    }

    #[test]
    fn config_text_never_panics(text in texty()) {
        let _ = Config::parse(&text, "fuzz.toml");
    }

    #[test]
    fn a_shipped_config_with_one_line_changed_never_panics(line in 0usize..200, value in texty()) {
        let shipped = include_str!("../config/default.toml");
        let mut lines: Vec<String> = shipped.lines().map(str::to_string).collect();
        let at = line % lines.len();
        if let Some((key, _)) = lines[at].split_once(" = ") {
            lines[at] = format!("{key} = {value}");
        }
        let _ = Config::parse(&lines.join("\n"), "fuzz.toml");
    }

    #[test]
    fn tokens_never_panic_and_forgeries_fail(text in texty(), dots in 0usize..4) {
        let keys = TokenKeys::new(
            KeyRing::new("fuzz-secret-9f86d081884c7d659a2feaa0c55ad015", &[], Purpose::Tokens),
            "croupier",
            3600,
        );
        let mut token = text.clone();
        for _ in 0..dots {
            token.push('.');
            token.push_str(&text);
        }
        prop_assert!(keys.verify(&token).is_err(), "{token}");
    }

    #[test]
    fn reply_log_lines_never_panic(text in texty()) {
        let _ = Fingerprint::parse_log_text(&text);
    }
}
