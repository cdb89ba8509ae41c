//! Every bad input gets a clear error (or, for tokens and floods, a refusal or a close with a
//! reason) and changes nothing: afterwards the balance, the rounds and the ledger are as before.

use crate::common;

use common::*;
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn spin(req: &str, game: &str, bet: Value) -> String {
    json!({"type": "spin", "req_id": req, "game": game, "bet": bet}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_clear_errors_and_change_nothing() {
    let server = NodeConfig::shipped()
        .with(|c| c.auth.demo_balance = "10.00".into())
        .start();
    let session = open_session(&server, "bad-bob").await;
    let mut client = Client::connect(&server, &session.token).await;
    let before = client.balance().await;
    assert_eq!(before, "10.00");

    let long_req = "r".repeat(65);
    let oversized = format!(
        r#"{{"type":"ping","req_id":"big","pad":"{}"}}"#,
        "x".repeat(5000)
    );
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "bad_frame"),
        ("[1,2,3]".into(), "bad_frame"),
        ("\"just a string\"".into(), "bad_frame"),
        ("null".into(), "bad_frame"),
        (
            r#"{"type":"spin","game":"starfall","bet":"1.00"}"#.into(),
            "bad_req_id",
        ),
        (
            r#"{"type":"spin","req_id":12,"game":"starfall","bet":"1.00"}"#.into(),
            "bad_req_id",
        ),
        (
            format!(r#"{{"type":"ping","req_id":"{long_req}"}}"#),
            "bad_req_id",
        ),
        (
            r#"{"type":"ping","req_id":"semi;colon"}"#.into(),
            "bad_req_id",
        ),
        (r#"{"type":"cashout","req_id":"b1"}"#.into(), "unknown_type"),
        (r#"{"type":7,"req_id":"b2"}"#.into(), "bad_frame"),
        (r#"{"req_id":"b3"}"#.into(), "bad_frame"),
        (spin("b4", "no_such_game", json!("1.00")), "unknown_game"),
        (
            spin("b5", "../../etc/passwd", json!("1.00")),
            "unknown_game",
        ),
        (
            r#"{"type":"spin","req_id":"b6","bet":"1.00"}"#.into(),
            "bad_frame",
        ),
        (
            r#"{"type":"spin","req_id":"b7","game":"starfall"}"#.into(),
            "bad_amount",
        ),
        (spin("b8", "starfall", json!(1.0)), "bad_amount"),
        (spin("b9", "starfall", json!(1)), "bad_amount"),
        (spin("b10", "starfall", json!(["1.00"])), "bad_amount"),
        (spin("b11", "starfall", json!("-1.00")), "bad_amount"),
        (spin("b12", "starfall", json!("0.00")), "bad_amount"),
        (spin("b13", "starfall", json!("0")), "bad_amount"),
        (spin("b14", "starfall", json!("1.001")), "bad_amount"),
        (spin("b15", "starfall", json!("1e2")), "bad_amount"),
        (spin("b16", "starfall", json!("NaN")), "bad_amount"),
        (spin("b17", "starfall", json!("")), "bad_amount"),
        (spin("b18", "starfall", json!("one euro")), "bad_amount"),
        // Only canonical amounts: no padding, no sign, no trailing zeros past the currency.
        (spin("b18a", "starfall", json!(" 1.00 ")), "bad_amount"),
        (spin("b18b", "starfall", json!("+1.00")), "bad_amount"),
        (spin("b18c", "starfall", json!("1.000")), "bad_amount"),
        (spin("b18d", "starfall", json!("1.")), "bad_amount"),
        (spin("b18e", "starfall", json!(".5")), "bad_amount"),
        (
            spin("b19", "starfall", json!("99999999999999999999999999")),
            "bad_amount",
        ),
        (spin("b20", "starfall", json!("0.10")), "bet_out_of_limits"),
        (
            spin("b21", "starfall", json!("100.20")),
            "bet_out_of_limits",
        ),
        (spin("b22", "starfall", json!("0.30")), "bet_out_of_limits"),
        (
            spin("b23", "classic_sevens", json!("0.01")),
            "bet_out_of_limits",
        ),
        (
            spin("b24", "starfall", json!("20.00")),
            "insufficient_funds",
        ),
        (
            spin("b25", "starfall", json!("10.20")),
            "insufficient_funds",
        ),
        (
            r#"{"type":"spin","req_id":"b26","game":"starfall","bet":"1.00","cheat":true}"#.into(),
            "bad_frame",
        ),
        (
            r#"{"type":"history","req_id":"b27","limit":0}"#.into(),
            "bad_frame",
        ),
        (
            r#"{"type":"history","req_id":"b28","limit":"ten"}"#.into(),
            "bad_frame",
        ),
        (
            r#"{"type":"history","req_id":"b29","limit":1000}"#.into(),
            "bad_frame",
        ),
        (oversized, "frame_too_large"),
    ];
    for (frame, expected) in &cases {
        client.send_text(frame).await;
        let reply = client.recv().await;
        assert_eq!(reply["type"], "error", "frame {frame} got {reply}");
        assert_eq!(reply["code"], *expected, "frame {frame} got {reply}");
        assert!(!reply["message"].as_str().unwrap().is_empty());
        if *expected == "frame_too_large" {
            assert_eq!(
                reply["req_id"], "big",
                "a refused frame's reply names it: {reply}"
            );
        }
    }
    client
        .ws
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    let reply = client.recv().await;
    assert_eq!(reply["code"], "bad_frame", "{reply}");

    // Nothing changed, and the connection still works.
    assert_eq!(client.balance().await, before);
    let history = client
        .request(json!({"type": "history", "req_id": "h-after"}))
        .await;
    assert_eq!(history["rounds"].as_array().unwrap().len(), 0, "{history}");
    let ok = client
        .request(json!({"type": "spin", "req_id": "good", "game": "starfall", "bet": "0.20"}))
        .await;
    assert_eq!(ok["type"], "spin_result", "{ok}");
    let (audit_ok, report) = server.audit();
    assert!(audit_ok, "{report}");
    eprintln!("{} bad frames rejected", cases.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_before_the_upgrade() {
    let server = Server::start();
    let session = open_session(&server, "tok-carol").await;
    let mut forged = session.token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    // Signed with another key.
    let other = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0b2stY2Fyb2wiLCJjdXIiOiJFVVIiLCJzaWQiOiJ4IiwiaWF0IjoxLCJleHAiOjQ5MDAwMDAwMDB9.c2lnbmF0dXJl";
    for token in [forged.as_str(), other, "", "garbage", "a.b.c"] {
        let result = tokio_tungstenite::connect_async(server.ws_request(token)).await;
        match result {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "token {token:?}");
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or(b"{}")).unwrap();
                assert_eq!(body["code"], "invalid_token");
            }
            other => panic!("token {token:?} was not refused: {other:?}"),
        }
    }
    // Bad session requests.
    let http = reqwest::Client::new();
    for body in [
        r#"{"player_id":"has space"}"#,
        r#"{"player_id":""}"#,
        r#"{"player_id":"alice"}"#,
        "not json",
        r#"{"player_id":"x","currency":"XXX"}"#,
        r#"{"player_id":"x","extra":1}"#,
    ] {
        let reply = http
            .post(format!("{}/v1/sessions", server.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400, "{body}");
        let json: Value = reply.json().await.unwrap();
        assert!(
            json["code"] == "bad_request" || json["code"] == "bad_amount",
            "{body}: {json}"
        );
    }
    let (ok, report) = server.audit();
    assert!(ok && report.contains("accounts 1 "), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_rate_limited_then_closed_with_a_reason() {
    let server = NodeConfig::shipped()
        .with(|c| {
            c.session.rate_per_second = 5;
            c.session.burst = 5;
            c.session.flood_close_after = 30;
        })
        .start();
    let session = open_session(&server, "flood-erin").await;
    let mut client = Client::connect(&server, &session.token).await;
    let before = client.balance().await;
    for i in 0..200 {
        let frame = spin(&format!("f{i}"), "starfall", json!("1.00"));
        if client.ws.send(Message::Text(frame.into())).await.is_err() {
            break;
        }
    }
    let mut rate_limited = 0;
    let mut results = 0;
    let close = loop {
        let reply = client.recv().await;
        match reply["type"].as_str().unwrap() {
            "error" if reply["code"] == "rate_limited" => {
                // The client waiting for that spin's reply gets this one.
                let req_id = reply["req_id"].as_str().unwrap_or_default();
                assert!(
                    req_id.starts_with('f'),
                    "rate_limited names its frame: {reply}"
                );
                rate_limited += 1;
            }
            "spin_result" => results += 1,
            "__closed" => break reply["frame"].as_str().unwrap().to_string(),
            _ => panic!("unexpected {reply}"),
        }
    };
    assert!(rate_limited >= 29, "rate limited {rate_limited}");
    assert!(
        close.contains("rate limit exceeded") && close.contains("Policy"),
        "{close}"
    );
    // Only accepted spins moved money (a spin accepted before the close still settles, even
    // though its reply could not be sent): the balance is exactly their effect.
    // The one spin that was running when the socket closed may still be settling: read the
    // books once they are quiet (no round open and two reads agreeing), bounded.
    let mut again = Client::connect(&server, &session.token).await;
    let mut last = None;
    for attempt in 0..50 {
        let history = again
            .request(json!({"type": "history", "req_id": format!("h{attempt}")}))
            .await;
        let rounds = history["rounds"].as_array().unwrap().clone();
        let balance = cents(&again.balance().await);
        let quiet = rounds.iter().all(|r| r["status"] != "open");
        if quiet && last.as_ref() == Some(&(rounds.clone(), balance)) {
            break;
        }
        last = Some((rounds, balance));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (rounds, balance) = last.unwrap();
    assert!(rounds.len() >= results && rounds.len() <= 10, "{rounds:?}");
    let moved: i64 = rounds
        .iter()
        .map(|r| cents(r["win"].as_str().unwrap()) - cents(r["bet"].as_str().unwrap()))
        .sum();
    assert_eq!(balance, cents(&before) + moved);
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
    eprintln!("flood: {results} spins ran, {rate_limited} rate-limited, then closed; balance before {before}");
}
