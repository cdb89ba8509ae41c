//! Free rounds as an operator gives them and a player plays them: granted once per campaign,
//! shown on connect and in `games`, played over the WebSocket without a debit, cancelled,
//! expired (and the expiry recorded by the sweeper), every event in the ledger, the books
//! closing; and every bad grant refused with nothing changed.

use serde_json::{json, Value};

use super::*;
use crate::common::*;

fn grant_body(campaign: &str, rounds: i64, bet: &str, expires_at: i64) -> Value {
    json!({"campaign_id": campaign, "game": "starfall", "rounds": rounds, "bet": bet,
           "currency": "EUR", "expires_at": expires_at})
}

async fn grant(server: &Server, key: &str, player: &str, body: &Value) -> Reply {
    let path = format!("/v1/operator/players/{player}/free-rounds");
    call(server, key, "POST", &path, Some(&body.to_string())).await
}

async fn grants(server: &Server, key: &str, player: &str) -> Reply {
    let path = format!("/v1/operator/players/{player}/free-rounds");
    call(server, key, "GET", &path, None).await
}

async fn detail(server: &Server, key: &str, player: &str, campaign: &str) -> Reply {
    let path = format!("/v1/operator/players/{player}/free-rounds/{campaign}");
    call(server, key, "GET", &path, None).await
}

async fn cancel(server: &Server, key: &str, player: &str, campaign: &str) -> Reply {
    let path = format!("/v1/operator/players/{player}/free-rounds/{campaign}");
    call(server, key, "DELETE", &path, None).await
}

fn campaigns(frame: &Value) -> Vec<(String, u64)> {
    let mut listed: Vec<(String, u64)> = frame["free_rounds"]
        .as_array()
        .unwrap_or_else(|| panic!("no free_rounds in {frame}"))
        .iter()
        .map(|g| {
            (
                g["campaign"].as_str().unwrap().to_string(),
                g["remaining"].as_u64().unwrap(),
            )
        })
        .collect();
    listed.sort();
    listed
}

fn cents(text: &str) -> i64 {
    let (whole, frac) = text.split_once('.').unwrap();
    whole.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_rounds_are_granted_once_played_without_a_debit_cancelled_and_expired() {
    let brands = Brands::new();
    // The sweeper (which records expiries) ticks every 2.5 s (half of the smallest setting).
    let server = brands
        .node()
        .fast()
        .with(|c| c.ledger.stale_round_seconds = 5)
        .start();
    let key = brands.house.key.as_str();
    assert_eq!(
        transfer(&server, key, "fay", "deposits", money("f1", "10.00", "EUR"))
            .await
            .status,
        201
    );
    let hour = now_ms() + 3_600_000;
    let welcome = grant_body("welcome", 5, "0.20", hour);
    let first = grant(&server, key, "fay", &welcome).await;
    assert_eq!((first.status, first.replayed), (201, false), "{first:?}");
    assert_eq!(
        (
            &first.body["remaining"],
            &first.body["status"],
            &first.body["bet"]
        ),
        (&json!(5), &json!("active"), &json!("0.20"))
    );
    // Asked again: the same grant; with other details: a conflict, and nothing changes.
    let again = grant(&server, key, "fay", &welcome).await;
    assert_eq!((again.status, again.replayed), (201, true), "{again:?}");
    let other = grant(&server, key, "fay", &grant_body("welcome", 6, "0.20", hour)).await;
    assert_eq!(
        (other.status, other.body["code"].as_str()),
        (409, Some("idempotency_conflict"))
    );
    let soon = now_ms() + 3_000;
    for (campaign, rounds, expires) in [("spare", 2, hour), ("soon", 3, soon)] {
        let r = grant(
            &server,
            key,
            "fay",
            &grant_body(campaign, rounds, "1.00", expires),
        )
        .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let session = operator_session(&server, key, "fay", "EUR").await;
    let mut fay = Client::connect(&server, &session.token).await;
    let expected = vec![
        ("soon".to_string(), 3),
        ("spare".to_string(), 2),
        ("welcome".to_string(), 5),
    ];
    assert_eq!(campaigns(&fay.welcome), expected, "{}", fay.welcome);
    let games = fay.request(json!({"type": "games", "req_id": "g1"})).await;
    assert_eq!(campaigns(&games), expected, "{games}");
    // Five free rounds: nothing debited, each win credited, the count going down. A round that
    // awards the game's own free spins is followed by those (at the campaign's bet): until
    // they are played, the campaign waits (`free_spins_pending`).
    let mut balance = cents("10.00");
    let mut played = Vec::new();
    let mut feature_spins = 0;
    for i in 0..5u64 {
        let r = fay
            .request(
                json!({"type": "spin", "req_id": format!("fr{i}"), "game": "starfall",
                            "campaign": "welcome"}),
            )
            .await;
        assert_eq!(r["type"], "spin_result", "{r}");
        assert_eq!(
            (&r["bet"], &r["campaign"]),
            (&json!("0.00"), &json!("welcome"))
        );
        assert_eq!(r["free_rounds_remaining"], json!(4 - i), "{r}");
        assert!(!r["free_spin"].as_bool().unwrap());
        balance += cents(r["win"].as_str().unwrap());
        assert_eq!(cents(r["balance"].as_str().unwrap()), balance, "{r}");
        let mut held = r["free_spins_remaining"].as_u64().unwrap();
        played.push(r);
        if held > 0 {
            let early = fay
                .request(
                    json!({"type": "spin", "req_id": format!("early{i}"), "game": "starfall",
                                "campaign": "welcome"}),
                )
                .await;
            assert_eq!(early["code"], "free_spins_pending", "{early}");
        }
        while held > 0 {
            feature_spins += 1;
            assert!(feature_spins < 1_000, "free spins never ended");
            let f = fay
                .request(
                    json!({"type": "spin", "req_id": format!("fs{feature_spins}"),
                                "game": "starfall"}),
                )
                .await;
            assert_eq!(
                (&f["free_spin"], &f["bet"]),
                (&json!(true), &json!("0.00")),
                "{f}"
            );
            assert!(f.get("campaign").is_none(), "{f}");
            balance += cents(f["win"].as_str().unwrap());
            held = f["free_spins_remaining"].as_u64().unwrap();
        }
    }
    // A resend is the first answer; a sixth round, a bet beside a campaign, another game, an
    // unknown campaign are refused and take nothing.
    let resent = fay
        .request(
            json!({"type": "spin", "req_id": "fr4", "game": "starfall", "campaign": "welcome"}),
        )
        .await;
    assert_eq!(resent, played[4]);
    let refusals = [
        (
            json!({"type": "spin", "req_id": "x1", "game": "starfall", "campaign": "welcome"}),
            "free_rounds_unavailable",
        ),
        (
            json!({"type": "spin", "req_id": "x2", "game": "starfall", "campaign": "spare", "bet": "1.00"}),
            "bad_frame",
        ),
        (
            json!({"type": "spin", "req_id": "x3", "game": "classic_sevens", "campaign": "spare"}),
            "free_rounds_unavailable",
        ),
        (
            json!({"type": "spin", "req_id": "x4", "game": "starfall", "campaign": "nope"}),
            "free_rounds_unavailable",
        ),
        (
            json!({"type": "spin", "req_id": "x5", "game": "starfall", "campaign": "a b"}),
            "bad_frame",
        ),
    ];
    for (frame, code) in refusals {
        let r = fay.request(frame.clone()).await;
        assert_eq!(
            (r["type"].as_str(), r["code"].as_str()),
            (Some("error"), Some(code)),
            "{frame} -> {r}"
        );
    }
    assert_eq!(cents(&fay.balance().await), balance);
    // Cancelled: the rest is gone at once; a second cancel answers the same.
    let c = cancel(&server, key, "fay", "spare").await;
    assert_eq!(
        (c.status, &c.body["status"], &c.body["remaining"]),
        (200, &json!("cancelled"), &json!(0)),
        "{c:?}"
    );
    let c2 = cancel(&server, key, "fay", "spare").await;
    assert_eq!((c2.status, &c2.body["status"]), (200, &json!("cancelled")));
    let r = fay
        .request(json!({"type": "spin", "req_id": "x6", "game": "starfall", "campaign": "spare"}))
        .await;
    assert_eq!(r["code"], "free_rounds_unavailable", "{r}");
    // Expired: unplayable at once, and the sweeper records what it lost.
    let wait = (soon - now_ms()).max(0) as u64 + 200;
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    let r = fay
        .request(json!({"type": "spin", "req_id": "x7", "game": "starfall", "campaign": "soon"}))
        .await;
    assert_eq!(r["code"], "free_rounds_unavailable", "{r}");
    assert!(r["message"].as_str().unwrap().contains("expired"), "{r}");
    let games = fay.request(json!({"type": "games", "req_id": "g2"})).await;
    assert_eq!(
        campaigns(&games),
        vec![],
        "nothing playable is left: {games}"
    );
    let mut expired = Value::Null;
    for _ in 0..100 {
        expired = detail(&server, key, "fay", "soon").await.body;
        if expired["status"] == "expired" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        (&expired["status"], &expired["remaining"]),
        (&json!("expired"), &json!(0)),
        "{expired}"
    );
    let kinds: Vec<(&str, u64)> = expired["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["rounds"].as_u64().unwrap()))
        .collect();
    assert_eq!(kinds, [("grant", 3), ("expire", 3)]);
    // Every play is an event with its round; the statement shows the wins and no stakes.
    let w = detail(&server, key, "fay", "welcome").await.body;
    let plays: Vec<&str> = w["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "play")
        .map(|e| e["round_id"].as_str().unwrap())
        .collect();
    let rounds: Vec<&str> = played
        .iter()
        .map(|r| r["round_id"].as_str().unwrap())
        .collect();
    assert_eq!(plays, rounds);
    let listed = grants(&server, key, "fay").await;
    assert_eq!(
        listed.body["grants"].as_array().map(Vec::len),
        Some(3),
        "{listed:?}"
    );
    let statement = call(
        &server,
        key,
        "GET",
        "/v1/operator/players/fay/statement",
        None,
    )
    .await;
    let lines = statement.body["lines"].as_array().unwrap();
    assert!(lines.iter().all(|l| l["kind"] != "bet"), "{lines:?}");
    let won = played.iter().filter(|r| r["win"] != "0.00").count();
    assert_eq!(
        lines.iter().filter(|l| l["campaign"] == "welcome").count(),
        won
    );
    // The round's record says what it was; replay agrees with the stored win.
    let round = rounds[0];
    let recall = call(
        &server,
        key,
        "GET",
        &format!("/v1/operator/rounds/{round}"),
        None,
    )
    .await;
    assert_eq!(
        (
            &recall.body["campaign"],
            &recall.body["bet"],
            &recall.body["stake"]
        ),
        (&json!("welcome"), &json!("0.00"), &json!("0.20")),
        "{recall:?}"
    );
    let (matched, text) = super::rounds::replay(&server, round);
    assert!(matched, "{text}");
    let (ok, report) = server.reconcile();
    assert!(ok && report.contains("free-rounds grants 3 "), "{report}");
    assert!(report.contains("books of house in EUR"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_grant_is_refused_and_changes_nothing() {
    let brands = Brands::new();
    let server = brands.node().start();
    let (key, rival) = (brands.house.key.as_str(), brands.rival.key.as_str());
    transfer(&server, key, "gil", "deposits", money("g1", "5.00", "EUR")).await;
    transfer(
        &server,
        rival,
        "gbp",
        "deposits",
        money("g1", "5.00", "GBP"),
    )
    .await;
    let hour = now_ms() + 3_600_000;
    let ok = grant_body("kept", 2, "0.20", hour);
    assert_eq!(grant(&server, key, "gil", &ok).await.status, 201);
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body.to_string()
    };
    let year = 367 * 24 * 3_600 * 1_000_i64;
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "gil",
            with("game", json!("no_such_game")),
            400,
            "unknown_game",
        ),
        ("gil", with("bet", json!("0.01")), 400, "bet_out_of_limits"),
        (
            "gil",
            with("bet", json!("1000.00")),
            400,
            "bet_out_of_limits",
        ),
        ("gil", with("bet", json!("0.205")), 400, "bad_amount"),
        ("gil", with("bet", json!("-1.00")), 400, "bad_amount"),
        ("gil", with("bet", json!("0")), 400, "bad_amount"),
        ("gil", with("bet", json!(0.2)), 400, "bad_request"),
        ("gil", with("rounds", json!(0)), 400, "bad_request"),
        ("gil", with("rounds", json!(1_001)), 400, "bad_request"),
        ("gil", with("rounds", json!(-1)), 400, "bad_request"),
        ("gil", with("rounds", json!("5")), 400, "bad_request"),
        (
            "gil",
            with("expires_at", json!(now_ms() - 1)),
            400,
            "bad_request",
        ),
        (
            "gil",
            with("expires_at", json!(now_ms() + year)),
            400,
            "bad_request",
        ),
        (
            "gil",
            with("expires_at", json!("tomorrow")),
            400,
            "bad_request",
        ),
        ("gil", with("campaign_id", json!("")), 400, "bad_request"),
        (
            "gil",
            with("campaign_id", json!("c".repeat(65))),
            400,
            "bad_request",
        ),
        ("gil", with("campaign_id", json!("a b")), 400, "bad_request"),
        (
            "gil",
            with("currency", json!("GBP")),
            403,
            "currency_not_allowed",
        ),
        (
            "gil",
            with("currency", json!("XXX")),
            403,
            "currency_not_allowed",
        ),
        ("gil", with("surprise", json!(1)), 400, "bad_request"),
        ("gil", "{not json".to_string(), 400, "bad_request"),
        ("g l", ok.to_string(), 400, "bad_request"),
        // Another campaign of the same player differs only in its id: fine. The same id
        // with other details is a conflict.
        ("gil", with("rounds", json!(3)), 409, "idempotency_conflict"),
    ];
    for (player, body, status, code) in &cases {
        let path = format!("/v1/operator/players/{player}/free-rounds");
        let r = call(&server, key, "POST", &path, Some(body)).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (*status, Some(*code)),
            "{body} -> {r:?}"
        );
    }
    // A key that is missing or wrong; a player of another currency; another operator's key.
    let path = "/v1/operator/players/gil/free-rounds";
    for bad in ["", "crk_wrong"] {
        let r = call(&server, bad, "POST", path, Some(&ok.to_string())).await;
        assert_eq!(r.status, 401, "{r:?}");
    }
    let mut in_eur = grant_body("eur", 1, "0.20", hour);
    in_eur["currency"] = json!("EUR");
    let r = grant(&server, rival, "gbp", &in_eur).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("wrong_currency")),
        "{r:?}"
    );
    for r in [
        detail(&server, rival, "gil", "kept").await,
        cancel(&server, rival, "gil", "kept").await,
        grants(&server, rival, "gil").await,
    ] {
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (404, Some("unknown_player")),
            "{r:?}"
        );
    }
    for r in [
        detail(&server, key, "gil", "nope").await,
        cancel(&server, key, "gil", "nope").await,
    ] {
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (404, Some("unknown_campaign")),
            "{r:?}"
        );
    }
    let r = cancel(&server, key, "gil", "a%20b").await;
    assert_eq!(r.status, 400, "{r:?}");
    // Nothing changed: one grant, untouched, and the balances as they were.
    let listed = grants(&server, key, "gil").await.body;
    let grants_now = listed["grants"].as_array().unwrap();
    assert_eq!(grants_now.len(), 1, "{listed}");
    assert_eq!(
        (&grants_now[0]["campaign_id"], &grants_now[0]["remaining"]),
        (&json!("kept"), &json!(2))
    );
    assert_eq!(balance(&server, key, "gil").await.body["balance"], "5.00");
    assert_eq!(balance(&server, rival, "gbp").await.body["balance"], "5.00");
    let (ok, report) = server.reconcile();
    assert!(ok && report.contains("free-rounds grants 1 "), "{report}");
}
