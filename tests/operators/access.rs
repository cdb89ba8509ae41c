//! Who reaches what: each operator only its own players, every bad input refused with nothing
//! changed, a request rate per operator, and fun money kept off real jackpot pools.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_reach_only_their_own_players() {
    let brands = Brands::new();
    let server = brands.node().start();
    let (house, rival) = (&brands.house.key, &brands.rival.key);
    assert_eq!(
        transfer(
            &server,
            house,
            "alice",
            "deposits",
            money("a", "100.00", "EUR")
        )
        .await
        .status,
        201
    );
    assert_eq!(
        transfer(
            &server,
            rival,
            "alice",
            "deposits",
            money("a", "5.00", "EUR")
        )
        .await
        .status,
        201
    );
    // Two alices, two balances; the same transaction id in two operators' namespaces.
    assert_eq!(
        balance(&server, house, "alice").await.body["balance"],
        "100.00"
    );
    assert_eq!(
        balance(&server, rival, "alice").await.body["balance"],
        "5.00"
    );
    // Rival cannot take house's money: its own alice has 5.00.
    let r = transfer(
        &server,
        rival,
        "alice",
        "withdrawals",
        money("w", "50.00", "EUR"),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("insufficient_funds")),
        "{r:?}"
    );
    // House's bob does not exist for rival, on any endpoint.
    assert_eq!(
        transfer(&server, house, "bob", "deposits", money("b", "1.00", "EUR"))
            .await
            .status,
        201
    );
    let r = balance(&server, rival, "bob").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("unknown_player"))
    );
    let r = transfer(
        &server,
        rival,
        "bob",
        "withdrawals",
        money("w2", "1.00", "EUR"),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("unknown_player"))
    );
    // A launch of rival's alice plays rival's alice.
    let r = call(
        &server,
        rival,
        "POST",
        "/v1/operator/launch",
        Some(
            &json!({"player_id": "alice", "currency": "EUR", "table": "roulette_1",
                     "language": "en", "country": "GB", "mode": "real"})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 400, "no tables on this node: {r:?}");
    let r = call(
        &server,
        rival,
        "POST",
        "/v1/operator/launch",
        Some(
            &json!({"player_id": "alice", "currency": "EUR", "game": "classic_sevens",
                     "language": "en", "country": "GB", "mode": "real"})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.body["balance"].as_str()),
        (201, Some("5.00")),
        "{r:?}"
    );
    let mut client = Client::connect(&server, r.body["token"].as_str().unwrap()).await;
    assert_eq!(client.welcome["player_id"], "rival:alice");
    assert_eq!(client.balance().await, "5.00");
    assert_eq!(
        balance(&server, house, "alice").await.body["balance"],
        "100.00"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_refused_and_changes_nothing() {
    let brands = Brands::new();
    let server = brands.node().start();
    let (key, rival) = (brands.house.key.as_str(), brands.rival.key.as_str());
    assert_eq!(
        transfer(
            &server,
            key,
            "erin",
            "deposits",
            money("seed", "10.00", "EUR")
        )
        .await
        .status,
        201
    );
    let (_, before) = server.audit();
    let long = "x".repeat(65);
    let long_player = format!("/v1/operator/players/{long}/deposits");
    let deposits = "/v1/operator/players/erin/deposits";
    let withdrawals = "/v1/operator/players/erin/withdrawals";
    let launch = "/v1/operator/launch";
    let good_launch = json!({"player_id": "erin", "currency": "EUR", "game": "starfall",
                             "language": "en", "country": "GB", "mode": "real"});
    let launch_with = |field: &str, value: Value| {
        let mut body = good_launch.clone();
        body[field] = value;
        body.to_string()
    };
    let cases: Vec<(&str, String, &str, String, u16, &str)> = vec![
        // (what, key, path, body, status, code)
        (
            "no key",
            String::new(),
            deposits,
            money("n1", "1.00", "EUR").to_string(),
            401,
            "unauthorized",
        ),
        (
            "wrong key",
            "crk_0000".into(),
            deposits,
            money("n2", "1.00", "EUR").to_string(),
            401,
            "unauthorized",
        ),
        (
            "a key's hash",
            croupier::operator::keys::KeyHash::of(key).to_string(),
            deposits,
            money("n3", "1.00", "EUR").to_string(),
            401,
            "unauthorized",
        ),
        (
            "unknown player",
            key.into(),
            "/v1/operator/players/nobody/withdrawals",
            money("n4", "1.00", "EUR").to_string(),
            404,
            "unknown_player",
        ),
        (
            "negative",
            key.into(),
            deposits,
            money("n5", "-1.00", "EUR").to_string(),
            400,
            "bad_amount",
        ),
        (
            "zero",
            key.into(),
            deposits,
            money("n6", "0.00", "EUR").to_string(),
            400,
            "bad_amount",
        ),
        (
            "over scale",
            key.into(),
            deposits,
            money("n7", "1.001", "EUR").to_string(),
            400,
            "bad_amount",
        ),
        (
            "huge",
            key.into(),
            deposits,
            money("n8", "99999999999999999999.00", "EUR").to_string(),
            400,
            "bad_amount",
        ),
        (
            "exponent",
            key.into(),
            deposits,
            money("n9", "1e3", "EUR").to_string(),
            400,
            "bad_amount",
        ),
        (
            "number, not string",
            key.into(),
            deposits,
            r#"{"transaction_id":"n10","amount":1.5,"currency":"EUR"}"#.into(),
            400,
            "bad_request",
        ),
        (
            "unknown currency",
            key.into(),
            deposits,
            money("n11", "1.00", "XXX").to_string(),
            403,
            "currency_not_allowed",
        ),
        (
            "currency of the node, not of house",
            key.into(),
            deposits,
            money("n12", "1.00", "GBP").to_string(),
            403,
            "currency_not_allowed",
        ),
        (
            "rival's currency on house's player",
            rival.into(),
            "/v1/operator/players/erin/withdrawals",
            money("n13", "1.00", "GBP").to_string(),
            404,
            "unknown_player",
        ),
        (
            "over-long player",
            key.into(),
            &long_player,
            money("n14", "1.00", "EUR").to_string(),
            400,
            "bad_request",
        ),
        (
            "player with a colon",
            key.into(),
            "/v1/operator/players/rival:erin/deposits",
            money("n15", "1.00", "EUR").to_string(),
            400,
            "bad_request",
        ),
        (
            "over-long transaction id",
            key.into(),
            deposits,
            money(&long, "1.00", "EUR").to_string(),
            400,
            "bad_request",
        ),
        (
            "empty transaction id",
            key.into(),
            deposits,
            money("", "1.00", "EUR").to_string(),
            400,
            "bad_request",
        ),
        (
            "transaction id with a space",
            key.into(),
            deposits,
            money("a b", "1.00", "EUR").to_string(),
            400,
            "bad_request",
        ),
        (
            "bad JSON",
            key.into(),
            deposits,
            "{\"transaction_id\":".into(),
            400,
            "bad_request",
        ),
        (
            "empty body",
            key.into(),
            deposits,
            String::new(),
            400,
            "bad_request",
        ),
        (
            "unknown field",
            key.into(),
            deposits,
            r#"{"transaction_id":"n16","amount":"1.00","currency":"EUR","note":"x"}"#.into(),
            400,
            "bad_request",
        ),
        (
            "missing field",
            key.into(),
            deposits,
            r#"{"transaction_id":"n17","amount":"1.00"}"#.into(),
            400,
            "bad_request",
        ),
        (
            "body over 4 KiB",
            key.into(),
            deposits,
            format!(
                r#"{{"transaction_id":"n18","amount":"1.00","currency":"EUR","pad":"{}"}}"#,
                "p".repeat(5000)
            ),
            400,
            "bad_request",
        ),
        (
            "withdrawal over the balance",
            key.into(),
            withdrawals,
            money("n19", "10.01", "EUR").to_string(),
            409,
            "insufficient_funds",
        ),
        (
            "launch: both game and table",
            key.into(),
            launch,
            launch_with("table", json!("roulette_1")),
            400,
            "bad_request",
        ),
        (
            "launch: unknown game",
            key.into(),
            launch,
            launch_with("game", json!("poker")),
            400,
            "bad_request",
        ),
        (
            "launch: bad language",
            key.into(),
            launch,
            launch_with("language", json!("english")),
            400,
            "bad_request",
        ),
        (
            "launch: bad country",
            key.into(),
            launch,
            launch_with("country", json!("gb")),
            400,
            "bad_request",
        ),
        (
            "launch: lobby not http",
            key.into(),
            launch,
            launch_with("lobby_url", json!("javascript:alert(1)")),
            400,
            "bad_request",
        ),
        (
            "launch: unknown mode",
            key.into(),
            launch,
            launch_with("mode", json!("cash")),
            400,
            "bad_request",
        ),
        (
            "launch: currency not allowed",
            key.into(),
            launch,
            launch_with("currency", json!("GBP")),
            403,
            "currency_not_allowed",
        ),
    ];
    for (what, key, path, body, status, code) in &cases {
        let r = call(&server, key, "POST", path, Some(body)).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (*status, Some(*code)),
            "{what}: {r:?}"
        );
        assert!(
            !r.body["message"].as_str().unwrap_or("").is_empty(),
            "{what}: a message says why"
        );
    }
    // A GET of another operator's player, and a wrong method, change nothing either.
    assert_eq!(balance(&server, rival, "erin").await.status, 404);
    assert_eq!(balance(&server, key, "erin").await.body["balance"], "10.00");
    let (ok, after) = server.audit();
    assert!(ok, "{after}");
    assert_eq!(before, after, "no account, no entry, no round was added");
    // erin plays in EUR: a GBP deposit for rival's erin is a new account of rival's, and
    // house's erin is untouched.
    let r = transfer(
        &server,
        rival,
        "erin",
        "deposits",
        money("g1", "3.00", "GBP"),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = transfer(
        &server,
        rival,
        "erin",
        "deposits",
        money("g2", "3.00", "EUR"),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("wrong_currency")),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operator_has_its_own_request_rate() {
    let brands = Brands::new();
    let server = NodeConfig::shipped()
        .no_tables()
        .operators(&brands.file("requests_per_second = 5"))
        .start();
    let mut statuses = BTreeMap::new();
    for _ in 0..30 {
        let r = balance(&server, &brands.house.key, "nobody").await;
        *statuses
            .entry((r.status, r.body["code"].as_str().unwrap_or("").to_string()))
            .or_insert(0) += 1;
    }
    let limited = statuses
        .get(&(429, "rate_limited".into()))
        .copied()
        .unwrap_or(0);
    assert!(
        limited >= 20,
        "past 5 a second house is refused: {statuses:?}"
    );
    // Rival's budget is its own.
    assert_eq!(
        balance(&server, &brands.rival.key, "nobody").await.status,
        404
    );
}

/// The hot pool's (value, cycle) as `GET /v1/jackpots` shows it.
async fn hot_pool(server: &Server) -> (String, i64) {
    let body: Value = http()
        .get(format!("{}/v1/jackpots", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let level = &body["jackpots"][0];
    (
        level["value"].as_str().unwrap().to_string(),
        level["cycle"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fun_money_never_feeds_or_wins_a_pool_of_real_money() {
    let brands = Brands::new();
    let server = brands.node().fast().jackpots(HOT_POOL).start();
    let start = hot_pool(&server).await;
    // 60 demo spins of 1.00 would feed 3.00 and win the mini about three times.
    let demo = open_session(&server, "fun").await;
    let mut fun = Client::connect(&server, &demo.token).await;
    for i in 0..60 {
        let r = fun
            .request(json!({"type": "spin", "req_id": format!("f{i}"), "game": "starfall", "bet": "1.00"}))
            .await;
        assert_eq!(r["type"], "spin_result", "{r}");
        assert!(
            r.get("jackpot_wins")
                .is_none_or(|w| w.as_array().is_none_or(Vec::is_empty)),
            "{r}"
        );
    }
    assert_eq!(
        hot_pool(&server).await,
        start,
        "demo spins left the pool as it was"
    );
    // A real player's spin feeds it.
    let key = &brands.house.key;
    assert_eq!(
        transfer(&server, key, "gus", "deposits", money("g", "5.00", "EUR"))
            .await
            .status,
        201
    );
    let gus = operator_session(&server, key, "gus", "EUR").await;
    let mut real = Client::connect(&server, &gus.token).await;
    let r = real
        .request(json!({"type": "spin", "req_id": "r1", "game": "starfall", "bet": "1.00"}))
        .await;
    assert_eq!(r["type"], "spin_result", "{r}");
    assert_ne!(hot_pool(&server).await, start, "a real bet feeds the pool");
    let (ok, report) = server.reconcile();
    assert!(ok, "{report}");
}
