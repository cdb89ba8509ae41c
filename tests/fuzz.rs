//! Arbitrary input to every parser an outsider reaches (issue 13, finding 14): the client-frame
//! parser, the money parser, the config loader, the tables, jackpots and game loaders, the
//! token check, the upgrade's bearer-or-ticket reading and the reply-log reader. Each must
//! answer every input with a value or a typed error, never a panic. Bounded here (10,000 cases
//! each, a few seconds); `CROUPIER_FUZZ_CASES=1000000` runs a long one.

use croupier::auth::credential::{upgrade_credential, Credential, CredentialError, Ticket};
use croupier::auth::TokenKeys;
use croupier::config::Config;
use croupier::games::slot::SlotGame;
use croupier::money::CurrencyTable;
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

/// What an upgrade's query string may look like: ticket- and token-shaped pairs, escapes,
/// separators, or anything at all.
fn query_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(ticket|token|t|x)=[0-9a-fA-F%+&=;]{0,80}",
        "ticket=[0-9a-f]{64}(&(ticket|token)=[0-9a-f]{0,8})?",
        "[a-z]{0,6}(=[^&]{0,10})?(&[a-z]{0,6}(=[^&]{0,10})?){0,4}",
    ]
}

/// The shipped currencies, for the loaders that check amounts against them.
fn currencies() -> CurrencyTable {
    Config::parse(include_str!("../config/default.toml"), "default.toml")
        .expect("the shipped config")
        .currencies
}

/// `shipped` with its line `line` (modulo the line count) given `value` after its `key = `.
fn with_one_value_changed(shipped: &str, line: usize, value: &str) -> String {
    let mut lines: Vec<String> = shipped.lines().map(str::to_string).collect();
    let at = line % lines.len();
    if let Some((key, _)) = lines[at].split_once(" = ") {
        lines[at] = format!("{key} = {value}");
    }
    lines.join("\n")
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
        let text = with_one_value_changed(include_str!("../config/default.toml"), line, &value);
        let _ = Config::parse(&text, "fuzz.toml");
    }

    #[test]
    fn tables_and_jackpots_files_never_panic(text in texty(), line in 0usize..400, value in texty()) {
        let currencies = currencies();
        let _ = croupier::table::config::parse(&text, &currencies);
        let _ = croupier::jackpot::config::parse(&text, &currencies);
        let tables = with_one_value_changed(include_str!("../config/tables.toml"), line, &value);
        let _ = croupier::table::config::parse(&tables, &currencies);
        let pools = with_one_value_changed(include_str!("../config/jackpots.toml"), line, &value);
        let _ = croupier::jackpot::config::parse(&pools, &currencies);
    }

    #[test]
    fn game_files_never_panic(text in texty(), line in 0usize..400, value in texty()) {
        let _ = SlotGame::from_toml_str(&text, "fuzz.toml");
        for shipped in [
            include_str!("../config/games/classic_sevens.toml"),
            include_str!("../config/games/starfall.toml"),
        ] {
            let game = with_one_value_changed(shipped, line, &value);
            let _ = SlotGame::from_toml_str(&game, "fuzz.toml");
        }
    }

    #[test]
    fn upgrade_credentials_never_panic_and_never_take_a_token_from_the_url(
        bearer in proptest::option::of(any::<String>()), query in query_like()
    ) {
        match upgrade_credential(bearer.as_deref(), &query) {
            Ok(Credential::Bearer(token)) => prop_assert_eq!(Some(token), bearer.clone()),
            Ok(Credential::Ticket(ticket)) => {
                prop_assert!(bearer.is_none());
                prop_assert_eq!(Ticket::parse(ticket.as_str()), Ok(ticket.clone()));
                prop_assert!(query.contains(ticket.as_str()));
            }
            Err(_) => {}
        }
        if query.starts_with("token=") && !query.contains('&') && query.len() < 1024 {
            prop_assert_eq!(
                upgrade_credential(bearer.as_deref(), &query),
                Err(CredentialError::TokenInUrl)
            );
        }
    }

    #[test]
    fn tickets_are_only_ever_64_lowercase_hex_digits(text in query_like()) {
        if let Ok(ticket) = Ticket::parse(&text) {
            prop_assert_eq!(ticket.as_str().len(), 64);
            prop_assert!(ticket.as_str().bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
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
