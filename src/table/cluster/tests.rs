//! Unit tests of `cluster`.

use super::holder::refund_frame;
use super::*;
use crate::wallet::RoundRecord;

/// The refund a takeover sends is built from what the bet stored when it was debited.
#[test]
fn a_refund_frame_comes_from_the_bets_stored_details_or_not_at_all() {
    let table = super::super::testing::fast_tables(3)
        .into_iter()
        .find(|t| t.id == "roulette_1")
        .unwrap();
    let opened = serde_json::json!({
        "table": "roulette_1", "table_round": "r7", "amount": "2.50",
        "bet": {"kind": "split", "numbers": [17, 20]},
    });
    let mut round = RoundRecord {
        round_id: crate::ids::RoundId::parse("r7-b3").unwrap(),
        player: PlayerId::parse("p").unwrap(),
        req_id: ReqId::parse("q").unwrap(),
        game: "roulette_1".into(),
        status: crate::wallet::RoundStatus::Open,
        bet_minor: 250,
        stake_minor: 250,
        win_minor: 0,
        free_spin: false,
        multiplier: 1,
        balance_after_minor: 9_750,
        outcome_json: Some(opened.to_string()),
        created_at_ms: 0,
        node: None,
        campaign: None,
    };
    let frame: serde_json::Value =
        serde_json::from_str(&refund_frame(&table, &round, 10_000).unwrap().to_json()).unwrap();
    assert_eq!(frame["type"], "bet_settled");
    assert_eq!(frame["round_id"], "r7");
    assert_eq!(frame["bet_id"], "r7-b3");
    assert_eq!(frame["kind"], "split");
    assert_eq!(frame["outcome"], "void");
    assert_eq!(frame["amount"], "2.50");
    assert_eq!(frame["returned"], "2.50");
    assert_eq!(frame["balance"], "100.00");
    // Stored without details (a bet debited before they were kept), or garbled: no frame.
    round.outcome_json = None;
    assert!(refund_frame(&table, &round, 10_000).is_none());
    round.outcome_json = Some("{\"table_round\": 7}".into());
    assert!(refund_frame(&table, &round, 10_000).is_none());
}

#[test]
fn asks_and_answers_round_trip_as_json() {
    let ask = Ask {
        id: "1".into(),
        from: "a".into(),
        to: "b".into(),
        op: AskOp::Bet {
            player: PlayerId::parse("p").unwrap(),
            currency: "EUR".into(),
            session: "s".into(),
            req_id: ReqId::parse("r").unwrap(),
            kind: "straight".into(),
            numbers: vec![17],
            amount: "1.00".into(),
            profile: "uk".into(),
            age_band: Some(croupier_core::jurisdiction::AgeBand::From18To24),
            session_started_ms: Some(1_700_000_000_000),
        },
    };
    let text = serde_json::to_string(&ask).unwrap();
    let back: Ask = serde_json::from_str(&text).unwrap();
    assert!(
        matches!(back.op, AskOp::Bet { ref numbers, ref profile, age_band: Some(_), .. }
        if numbers == &[17] && profile == "uk")
    );
    // An ask from a node that predates jurisdictions plays under the default profile.
    let old = text.replace(r#","profile":"uk","age_band":"18-24""#, "");
    assert_ne!(old, text);
    let back: Ask = serde_json::from_str(&old).unwrap();
    assert!(
        matches!(back.op, AskOp::Bet { ref profile, age_band: None, .. } if profile == "default")
    );
    let answer = Answer {
        id: "1".into(),
        ok: None,
        err: Some(RemoteError {
            code: ErrorCode::TableFull,
            message: "full".into(),
        }),
    };
    let back: Answer = serde_json::from_str(&serde_json::to_string(&answer).unwrap()).unwrap();
    assert_eq!(back.err.unwrap().code, ErrorCode::TableFull);
    // A player id that is not valid does not parse: a node never acts on it.
    let bad = text.replace("\"player\":\"p\"", "\"player\":\"no spaces\"");
    assert!(serde_json::from_str::<Ask>(&bad).is_err());
}
