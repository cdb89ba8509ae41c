//! Unit tests of `protocol`.

use super::*;

fn code_of(text: &str) -> ErrorCode {
    parse_client_frame(text).unwrap_err().code
}

#[test]
fn parses_every_client_frame() {
    let f = parse_client_frame(r#"{"type":"spin","req_id":"a","game":"g","bet":"1.00"}"#).unwrap();
    assert_eq!(f.kind(), "spin");
    let f = parse_client_frame(r#"{"type":"spin","req_id":"a","game":"g"}"#).unwrap();
    assert!(matches!(f, ClientFrame::Spin { bet: None, .. }));
    let f = parse_client_frame(r#"{"type":"history","req_id":"a"}"#).unwrap();
    assert!(matches!(f, ClientFrame::History { limit: 50, .. }));
    for kind in ["balance", "games", "ping"] {
        let f = parse_client_frame(&format!(r#"{{"type":"{kind}","req_id":"x"}}"#)).unwrap();
        assert_eq!(f.kind(), kind);
    }
}

/// A free round names its campaign and no bet (the campaign's bet is used).
#[test]
fn a_free_round_spin_names_its_campaign_and_no_bet() {
    let f = parse_client_frame(r#"{"type":"spin","req_id":"a","game":"g","campaign":"w-1"}"#);
    assert!(
        matches!(f, Ok(ClientFrame::Spin { campaign: Some(c), bet: None, .. }) if c.as_str() == "w-1")
    );
    let both = r#"{"type":"spin","req_id":"a","game":"g","campaign":"w-1","bet":"1.00"}"#;
    assert_eq!(code_of(both), ErrorCode::BadFrame);
    for bad in [r#""campaign":7"#, r#""campaign":"""#, r#""campaign":"a b""#] {
        let text = format!(r#"{{"type":"spin","req_id":"a","game":"g",{bad}}}"#);
        assert_eq!(code_of(&text), ErrorCode::BadFrame, "{text}");
    }
    let long = format!(
        r#"{{"type":"spin","req_id":"a","game":"g","campaign":"{}"}}"#,
        "c".repeat(65)
    );
    assert_eq!(code_of(&long), ErrorCode::BadFrame);
}

#[test]
fn bad_frames_get_precise_codes() {
    assert_eq!(code_of("not json"), ErrorCode::BadFrame);
    assert_eq!(code_of("[1,2]"), ErrorCode::BadFrame);
    assert_eq!(code_of(r#"{"type":"spin"}"#), ErrorCode::BadReqId);
    assert_eq!(
        code_of(r#"{"type":"spin","req_id":7}"#),
        ErrorCode::BadReqId
    );
    assert_eq!(
        code_of(r#"{"type":"spin","req_id":"has space"}"#),
        ErrorCode::BadReqId
    );
    assert_eq!(code_of(r#"{"req_id":"a"}"#), ErrorCode::BadFrame);
    assert_eq!(
        code_of(r#"{"type":"dance","req_id":"a"}"#),
        ErrorCode::UnknownType
    );
    assert_eq!(
        code_of(r#"{"type":"spin","req_id":"a"}"#),
        ErrorCode::BadFrame
    );
    assert_eq!(
        code_of(r#"{"type":"spin","req_id":"a","game":"g","bet":1.0}"#),
        ErrorCode::BadAmount
    );
    assert_eq!(
        code_of(r#"{"type":"spin","req_id":"a","game":"g","bet":"1","x":1}"#),
        ErrorCode::BadFrame
    );
    assert_eq!(
        code_of(r#"{"type":"history","req_id":"a","limit":0}"#),
        ErrorCode::BadFrame
    );
    assert_eq!(
        code_of(r#"{"type":"history","req_id":"a","limit":51}"#),
        ErrorCode::BadFrame
    );
    let e = parse_client_frame(r#"{"type":"dance","req_id":"a"}"#).unwrap_err();
    assert_eq!(e.req_id.as_deref(), Some("a"));
}

#[test]
fn error_codes_serialise_as_their_names() {
    let mut seen = std::collections::BTreeSet::new();
    for code in ErrorCode::all() {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            Value::String(code.as_str().into())
        );
        assert!(seen.insert(code.as_str()), "{code:?} twice");
        assert!(code
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_'));
    }
    assert!(seen.contains("insufficient_funds") && seen.contains("wrong_currency"));
}

proptest::proptest! {
    #[test]
    fn parser_never_panics(text in ".{0,200}") {
        let _ = parse_client_frame(&text);
    }
}

/// The test harness checks every frame the server sends against these types: a field the
/// types do not describe must fail to parse, or that check could never fail.
#[test]
fn server_frames_refuse_fields_the_types_do_not_describe() {
    let pong = r#"{"type":"pong","req_id":"p1","server_time":5}"#;
    let parsed: ServerFrame = serde_json::from_str(pong).unwrap();
    assert_eq!(parsed.to_json(), pong);
    let extra = r#"{"type":"pong","req_id":"p1","server_time":5,"surprise":1}"#;
    assert!(serde_json::from_str::<ServerFrame>(extra).is_err());
    let unknown = r#"{"type":"pong_v2","req_id":"p1"}"#;
    assert!(serde_json::from_str::<ServerFrame>(unknown).is_err());
}

/// What a client serialises is what the server parses, for every kind of frame.
#[test]
fn client_frames_round_trip_through_the_parser() {
    let r = || ReqId::parse("r-1").unwrap();
    let frames = [
        ClientFrame::Spin {
            req_id: r(),
            game: "starfall".into(),
            bet: Some("0.20".into()),
            campaign: None,
        },
        ClientFrame::Spin {
            req_id: r(),
            game: "starfall".into(),
            bet: None,
            campaign: None,
        },
        ClientFrame::Spin {
            req_id: r(),
            game: "starfall".into(),
            bet: None,
            campaign: Some(CampaignId::parse("welcome-10").unwrap()),
        },
        ClientFrame::Balance { req_id: r() },
        ClientFrame::Games { req_id: r() },
        ClientFrame::History {
            req_id: r(),
            limit: 7,
        },
        ClientFrame::Ping { req_id: r() },
        ClientFrame::Tables { req_id: r() },
        ClientFrame::JoinTable {
            req_id: r(),
            table: "roulette_1".into(),
        },
        ClientFrame::LeaveTable {
            req_id: r(),
            table: "roulette_1".into(),
        },
        ClientFrame::TableBet {
            req_id: r(),
            table: "roulette_1".into(),
            kind: "split".into(),
            numbers: vec![17, 20],
            amount: "1.00".into(),
        },
    ];
    for frame in frames {
        let text = serde_json::to_string(&frame).unwrap();
        assert_eq!(parse_client_frame(&text), Ok(frame), "{text}");
    }
}

/// A refused frame's req_id is found cheaply where it can be, and never invented.
#[test]
fn the_req_id_of_a_refused_frame_is_sniffed_not_parsed() {
    let id = |text: &str| sniff_req_id(text).map(|r| r.to_string());
    assert_eq!(
        id(r#"{"type":"spin","req_id":"s-1","game":"g"}"#),
        Some("s-1".into())
    );
    assert_eq!(
        id(r#"{ "req_id" :  "a.b:c" , "type":"ping"}"#),
        Some("a.b:c".into())
    );
    assert_eq!(
        id(&format!(
            r#"{{"req_id":"big","pad":"{}"}}"#,
            "x".repeat(70_000)
        )),
        Some("big".into())
    );
    // Inside another string, escaped: not the frame's key; the real one after it counts.
    assert_eq!(
        id(r#"{"game":"\"req_id\":\"no\"","req_id":"yes"}"#),
        Some("yes".into())
    );
    // Not a valid id, not a string, absent, or past the sniffed head: none.
    assert_eq!(id(r#"{"req_id":"semi;colon"}"#), None);
    assert_eq!(id(r#"{"req_id":12}"#), None);
    assert_eq!(id(r#"{"type":"ping"}"#), None);
    assert_eq!(
        id(&format!(
            r#"{{"pad":"{}","req_id":"late"}}"#,
            "x".repeat(REQ_ID_SNIFF_BYTES)
        )),
        None
    );
    assert_eq!(id("not json at all \"req_id\""), None);
    assert_eq!(id(""), None);
}
