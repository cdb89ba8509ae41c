//! The operator API (issue 15) against the real binary, as an operator's back end uses it:
//! keys, launch, deposits and withdrawals (idempotent like Stripe's keys, also across a
//! restart, a kill -9 and two nodes), balances, the books per operator, and every bad input
//! refused with nothing changed.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::{json, Value};

/// The two operators of these tests: house plays EUR only, rival EUR and GBP.
struct Brands {
    house: Operator,
    rival: Operator,
}

impl Brands {
    fn new() -> Brands {
        Brands {
            house: Operator::new("house"),
            rival: Operator::new("rival"),
        }
    }

    fn file(&self, house_lines: &str) -> String {
        format!(
            "{}{}",
            self.house.entry(&["EUR"], house_lines),
            self.rival.entry(&["EUR", "GBP"], "")
        )
    }

    fn node(&self) -> NodeConfig {
        NodeConfig::shipped().no_tables().operators(&self.file(""))
    }
}

/// An answer of the operator API: status, the `Idempotent-Replayed` header, the JSON body.
#[derive(Debug, Clone, PartialEq)]
struct Reply {
    status: u16,
    replayed: bool,
    body: Value,
}

async fn call(server: &Server, key: &str, method: &str, path: &str, body: Option<&str>) -> Reply {
    let url = format!("{}{path}", server.operator);
    let request = match method {
        "GET" => http().get(url),
        _ => http().post(url),
    };
    let request = if key.is_empty() {
        request
    } else {
        request.bearer_auth(key)
    };
    let request = match body {
        Some(text) => request
            .header("content-type", "application/json")
            .body(text.to_string()),
        None => request,
    };
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    let replayed = reply.headers().get("idempotent-replayed").is_some();
    let text = reply.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {path}: not JSON ({status}): {text}"));
    Reply {
        status,
        replayed,
        body,
    }
}

async fn transfer(server: &Server, key: &str, player: &str, way: &str, body: Value) -> Reply {
    let path = format!("/v1/operator/players/{player}/{way}");
    call(server, key, "POST", &path, Some(&body.to_string())).await
}

fn money(tx: &str, amount: &str, currency: &str) -> Value {
    json!({"transaction_id": tx, "amount": amount, "currency": currency})
}

async fn balance(server: &Server, key: &str, player: &str) -> Reply {
    let path = format!("/v1/operator/players/{player}/balance");
    call(server, key, "GET", &path, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_funds_launches_plays_and_withdraws() {
    let brands = Brands::new();
    let server = brands.node().fast().start();
    let key = &brands.house.key;
    let r = transfer(
        &server,
        key,
        "alice",
        "deposits",
        money("dep-1", "50.00", "EUR"),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        r.body,
        json!({"transaction_id": "dep-1", "player_id": "alice", "currency": "EUR",
               "amount": "50.00", "balance": "50.00"})
    );
    let launch = json!({
        "player_id": "alice", "currency": "EUR", "game": "starfall", "language": "de",
        "country": "DE", "lobby_url": "https://casino.example/lobby?from=slot", "mode": "real",
    });
    let r = call(
        &server,
        key,
        "POST",
        "/v1/operator/launch",
        Some(&launch.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        (r.body["mode"].as_str(), r.body["balance"].as_str()),
        (Some("real"), Some("50.00"))
    );
    let token = r.body["token"].as_str().unwrap();
    let url = r.body["launch_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/play/?game=starfall&lang=de&lobby=https%3A%2F%2Fcasino",
            server.base
        )),
        "{url}"
    );
    assert!(
        url.ends_with(&format!("#token={token}")),
        "the token rides in the fragment: {url}"
    );
    // The launch's token plays: a spin, and the balance the operator reads is the player's.
    let mut player = Client::connect(&server, token).await;
    assert_eq!(player.welcome["player_id"], "house:alice");
    let spin = player
        .request(json!({"type": "spin", "req_id": "s1", "game": "starfall", "bet": "1.00"}))
        .await;
    assert_eq!(spin["type"], "spin_result", "{spin}");
    let after_spin = spin["balance"].as_str().unwrap().to_string();
    let r = balance(&server, key, "alice").await;
    assert_eq!(
        (r.status, r.body["balance"].as_str()),
        (200, Some(after_spin.as_str()))
    );
    let r = transfer(
        &server,
        key,
        "alice",
        "withdrawals",
        money("wd-1", "10.00", "EUR"),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let expected = rust_decimal::Decimal::from_str_exact(&after_spin).unwrap()
        - rust_decimal::Decimal::from(10);
    assert_eq!(
        r.body["balance"].as_str().unwrap(),
        format!("{expected:.2}")
    );
    assert_eq!(
        player.balance().await,
        format!("{expected:.2}"),
        "the session sees it at once"
    );
    // A demo launch is fun money on a fresh demo player, never the real account.
    let demo = launch.to_string().replace("\"real\"", "\"demo\"");
    let r = call(&server, key, "POST", "/v1/operator/launch", Some(&demo)).await;
    assert_eq!(
        (
            r.status,
            r.body["mode"].as_str(),
            r.body["balance"].as_str()
        ),
        (201, Some("demo"), Some("1000.00"))
    );
    let fun = Client::connect(&server, r.body["token"].as_str().unwrap()).await;
    assert!(fun.welcome["player_id"]
        .as_str()
        .unwrap()
        .starts_with("demo-"));
    // The books close per operator: 50 in, 10 out, the spin's stake and win.
    drop((player, fun));
    let (ok, report) = server.reconcile();
    assert!(ok, "{report}");
    let house = report
        .lines()
        .find(|l| l.starts_with("books of house in EUR"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        house.contains("1 accounts; deposits 50.00 - withdrawals 10.00 - stakes 1.00")
            && house.ends_with("ok"),
        "{house}"
    );
}

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
async fn transfers_are_idempotent_like_stripe_keys() {
    let brands = Brands::new();
    let server = brands.node().start();
    let key = brands.house.key.clone();
    let first = transfer(
        &server,
        &key,
        "carol",
        "deposits",
        money("t-1", "20.00", "EUR"),
    )
    .await;
    assert_eq!((first.status, first.replayed), (201, false), "{first:?}");
    assert_eq!(
        transfer(
            &server,
            &key,
            "carol",
            "deposits",
            money("t-2", "1.00", "EUR")
        )
        .await
        .status,
        201
    );
    // The same id and body: the first answer again (its balance, not today's), marked.
    let again = transfer(
        &server,
        &key,
        "carol",
        "deposits",
        money("t-1", "20.00", "EUR"),
    )
    .await;
    assert_eq!(
        (again.status, again.replayed, &again.body),
        (201, true, &first.body)
    );
    // The same id with another body: another amount, another player, the other direction.
    for (player, way, body) in [
        ("carol", "deposits", money("t-1", "20.01", "EUR")),
        ("dave", "deposits", money("t-1", "20.00", "EUR")),
        ("carol", "withdrawals", money("t-1", "20.00", "EUR")),
    ] {
        let r = transfer(&server, &key, player, way, body.clone()).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (409, Some("idempotency_conflict")),
            "{body}: {r:?}"
        );
    }
    assert_eq!(
        balance(&server, &key, "carol").await.body["balance"],
        "21.00"
    );
    // Twenty at once with one id move the money once, and all get the one answer.
    let calls = (0..20).map(|_| {
        let (server, key) = (&server, key.clone());
        async move {
            transfer(
                server,
                &key,
                "carol",
                "withdrawals",
                money("burst", "7.00", "EUR"),
            )
            .await
        }
    });
    let replies = futures_util::future::join_all(calls).await;
    let fresh = replies.iter().filter(|r| !r.replayed).count();
    assert_eq!(fresh, 1, "{replies:?}");
    for r in &replies {
        assert_eq!((r.status, &r.body), (201, &replies[0].body));
    }
    assert_eq!(replies[0].body["balance"], "14.00");
    // After a restart the ledger still knows every id.
    let mut server = server;
    assert!(server.sigterm().success());
    let restarted = Server::spawn(&server.config, &server.data_dir);
    let r = transfer(
        &restarted,
        &key,
        "carol",
        "deposits",
        money("t-1", "20.00", "EUR"),
    )
    .await;
    assert_eq!((r.status, r.replayed, &r.body), (201, true, &first.body));
    let r = transfer(
        &restarted,
        &key,
        "carol",
        "withdrawals",
        money("burst", "7.00", "EUR"),
    )
    .await;
    assert_eq!((r.replayed, &r.body), (true, &replies[0].body));
    assert_eq!(
        balance(&restarted, &key, "carol").await.body["balance"],
        "14.00"
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_deposit_survives_a_kill_9() {
    let brands = Brands::new();
    let mut server = brands.node().start();
    let key = brands.house.key.clone();
    // 400 deposits of 0.01 .. 4.00 on 40 players, all in flight when the node is killed.
    let burst = (0..400).map(|i| {
        let (operator, key) = (server.operator.clone(), key.clone());
        tokio::spawn(async move {
            let body = money(
                &format!("k{i}"),
                &format!("{}.{:02}", (i + 1) / 100, (i + 1) % 100),
                "EUR",
            );
            let reply = http()
                .post(format!(
                    "{operator}/v1/operator/players/p{}/deposits",
                    i % 40
                ))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await;
            match reply {
                Ok(r) if r.status() == 201 => Some((i, r.json::<Value>().await.ok()?)),
                _ => None,
            }
        })
    });
    let tasks: Vec<_> = burst.collect();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    server.kill9();
    let mut acknowledged = Vec::new();
    for task in tasks {
        if let Ok(Some(done)) = task.await {
            acknowledged.push(done);
        }
    }
    let restarted = Server::spawn(&server.config, &server.data_dir);
    for (i, body) in &acknowledged {
        let player = format!("p{}", i % 40);
        let amount = body["amount"].as_str().unwrap();
        let r = transfer(
            &restarted,
            &key,
            &player,
            "deposits",
            money(&format!("k{i}"), amount, "EUR"),
        )
        .await;
        assert_eq!(
            (r.status, r.replayed, &r.body),
            (201, true, body),
            "acknowledged k{i} is in the ledger"
        );
    }
    let (ok, report) = restarted.audit();
    assert!(ok, "{report}");
    eprintln!(
        "{} of 400 deposits acknowledged before the kill",
        acknowledged.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transaction_id_sent_to_two_nodes_moves_money_once() {
    let Some(pg) = pg_database("operators").await else {
        return;
    };
    let brands = Brands::new();
    let cluster = ClusterLines::new(&pg);
    let a = brands.node().cluster(&cluster).start();
    let dir = tempfile::tempdir().unwrap();
    let b = Server::spawn(&a.config, &dir.path().join("b"));
    let key = brands.house.key.clone();
    assert_eq!(
        transfer(&a, &key, "fay", "deposits", money("open", "1.00", "EUR"))
            .await
            .status,
        201
    );
    let calls = (0..20).map(|i| {
        let (node, key) = (if i % 2 == 0 { &a } else { &b }, key.clone());
        async move { transfer(node, &key, "fay", "deposits", money("twice", "5.00", "EUR")).await }
    });
    let replies = futures_util::future::join_all(calls).await;
    assert_eq!(
        replies.iter().filter(|r| !r.replayed).count(),
        1,
        "{replies:?}"
    );
    for r in &replies {
        assert_eq!((r.status, &r.body), (201, &replies[0].body), "{replies:?}");
    }
    assert_eq!(balance(&b, &key, "fay").await.body["balance"], "6.00");
    let r = transfer(&b, &key, "fay", "deposits", money("twice", "5.00", "EUR")).await;
    assert_eq!(
        (r.replayed, &r.body),
        (true, &replies[0].body),
        "the other node answers the same"
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

/// `croupier replay ROUND` on the node's ledger: whether it matched, and what it printed.
fn replay(server: &Server, round: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(["replay", round, "--config"])
        .arg(&server.config)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Places 5.00 on red at roulette_1 (waiting out a closed betting window); the bet's id.
async fn place_red(client: &mut Client) -> String {
    for _ in 0..100 {
        let req = format!("tb-{}", uuid_like());
        client
            .send(
                json!({"type": "table_bet", "req_id": req, "table": "roulette_1",
                         "kind": "red", "amount": "5.00"}),
            )
            .await;
        // Table pushes arrive in between: the answer is the frame that echoes this req_id.
        let r = loop {
            let frame = client.recv().await;
            if frame["req_id"] == req.as_str() {
                break frame;
            }
        };
        if r["type"] == "bet_accepted" {
            return r["bet_id"].as_str().unwrap().to_string();
        }
        if r["code"] == "betting_closed" {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    panic!("no bet accepted in 100 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_page_recalls_replay_and_an_open_round_is_voided_once() {
    let brands = Brands::new();
    let server = NodeConfig::shipped()
        .fast()
        .tables(&fast_tables(4))
        .operators(&brands.file(""))
        .start();
    let (key, rival) = (brands.house.key.as_str(), brands.rival.key.as_str());
    assert_eq!(
        transfer(
            &server,
            key,
            "hal",
            "deposits",
            money("h1", "100.00", "EUR")
        )
        .await
        .status,
        201
    );
    let session = operator_session(&server, key, "hal", "EUR").await;
    let mut hal = Client::connect(&server, &session.token).await;
    let mut rounds = Vec::new();
    for i in 0..12 {
        let r = hal
            .request(json!({"type": "spin", "req_id": format!("s{i}"), "game": "starfall", "bet": "1.00"}))
            .await;
        assert_eq!(r["type"], "spin_result", "{r}");
        rounds.push((
            r["round_id"].as_str().unwrap().to_string(),
            r["win"].as_str().unwrap().to_string(),
        ));
    }
    // The statement: every entry once, in order, a page of 5 at a time.
    let mut lines = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let query = match &cursor {
            Some(c) => format!("?limit=5&cursor={c}"),
            None => "?limit=5".into(),
        };
        let r = call(
            &server,
            key,
            "GET",
            &format!("/v1/operator/players/hal/statement{query}"),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{r:?}");
        lines.extend(r.body["lines"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let bets = lines.iter().filter(|l| l["kind"] == "bet").count();
    assert_eq!(
        (lines[0]["kind"].as_str(), bets),
        (Some("deposit"), 12),
        "{lines:?}"
    );
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "stable order, no line twice: {seqs:?}"
    );
    assert!(lines
        .iter()
        .filter(|l| l["kind"] == "bet")
        .all(|l| l["game"] == "starfall"));
    // A window before anything happened is empty; bad windows and cursors are refused.
    let r = call(
        &server,
        key,
        "GET",
        "/v1/operator/players/hal/statement?to=1",
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body["lines"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    for bad in [
        "?from=5&to=5",
        "?limit=0",
        "?limit=501",
        "?cursor=42",
        "?from=x",
        "?page=2",
    ] {
        let r = call(
            &server,
            key,
            "GET",
            &format!("/v1/operator/players/hal/statement{bad}"),
            None,
        )
        .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("bad_request")),
            "{bad}: {r:?}"
        );
    }
    let r = call(
        &server,
        rival,
        "GET",
        "/v1/operator/players/hal/statement",
        None,
    )
    .await;
    assert_eq!(r.status, 404, "another operator's player: {r:?}");
    // Recall: the whole round, its draws, its entries; and the replay agrees with it.
    let (round_id, win) = &rounds[0];
    let r = call(
        &server,
        key,
        "GET",
        &format!("/v1/operator/rounds/{round_id}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let stops = r.body["draws"]["reel_stops"].as_array().unwrap();
    assert_eq!(stops.len(), 5, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["win"].as_str()),
        (Some("settled"), Some(win.as_str()))
    );
    assert_eq!(r.body["entries"][0]["kind"], "bet");
    assert!(
        r.body["node"].is_string() && r.body["settled_at_ms"].is_i64(),
        "{}",
        r.body
    );
    for (round_id, _) in &rounds {
        let (ok, text) = replay(&server, round_id);
        assert!(
            ok && text.contains("replays to its stored outcome"),
            "{text}"
        );
    }
    let (ok, text) = replay(&server, "0190a5c4-9000-7000-8000-000000000000");
    assert!(!ok && text.contains("no round"), "{text}");
    for (who, path) in [
        (rival, format!("/v1/operator/rounds/{round_id}")),
        (
            key,
            "/v1/operator/rounds/0190a5c4-9000-7000-8000-000000000000".to_string(),
        ),
    ] {
        let r = call(&server, who, "GET", &path, None).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (404, Some("unknown_round")),
            "{path}: {r:?}"
        );
    }
    let r = call(
        &server,
        key,
        "GET",
        "/v1/operator/rounds/not%20a%20round",
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    // A settled round cannot be voided.
    let r = call(
        &server,
        key,
        "POST",
        &format!("/v1/operator/rounds/{round_id}/void"),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("round_not_open")),
        "{r:?}"
    );
    // A table bet is open until its round ends: voided, it is refunded once, and the round's
    // end pays nothing on it.
    let balance_before = hal.balance().await;
    let state = hal
        .request(json!({"type": "join_table", "req_id": "j", "table": "roulette_1"}))
        .await;
    assert_eq!(state["type"], "table_state", "{state}");
    let bet_id = place_red(&mut hal).await;
    let void = format!("/v1/operator/rounds/{bet_id}/void");
    let r = call(&server, rival, "POST", &void, None).await;
    assert_eq!(r.status, 404, "not rival's: {r:?}");
    let first = call(&server, key, "POST", &void, None).await;
    assert_eq!(
        (first.status, first.replayed, first.body["status"].as_str()),
        (200, false, Some("void")),
        "{first:?}"
    );
    let kinds: Vec<&str> = first.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["bet", "refund"]);
    let again = call(&server, key, "POST", &void, None).await;
    assert_eq!(
        (again.status, again.replayed, &again.body),
        (200, true, &first.body)
    );
    // Wait for the table round to end, then the books: the bet came back once, nothing more.
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    assert_eq!(
        balance(&server, key, "hal").await.body["balance"],
        balance_before.as_str()
    );
    let r = call(
        &server,
        key,
        "GET",
        &format!("/v1/operator/rounds/{bet_id}"),
        None,
    )
    .await;
    assert_eq!(r.body["entries"].as_array().unwrap().len(), 2, "{}", r.body);
    let (ok, report) = server.reconcile();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_exactly_the_live_routes() {
    let brands = Brands::new();
    let server = brands.node().start();
    let key = &brands.house.key;
    let doc: Value = http()
        .get(format!("{}/v1/operator/openapi.json", server.operator))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert_eq!(
        doc["components"]["securitySchemes"]["operator_key"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.to_uppercase(), path.clone()));
        }
    }
    operations.sort();
    // The routes the API serves (every test of this file goes through them), each documented.
    let expected = [
        ("GET", "/v1/operator/players/{player}/balance"),
        ("GET", "/v1/operator/players/{player}/statement"),
        ("GET", "/v1/operator/rounds/{round_id}"),
        ("POST", "/v1/operator/launch"),
        ("POST", "/v1/operator/players/{player}/deposits"),
        ("POST", "/v1/operator/players/{player}/withdrawals"),
        ("POST", "/v1/operator/rounds/{round_id}/void"),
        ("POST", "/v1/operator/sessions/revoke"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(operations, expected);
    // Every documented operation is routed: an empty call answers the API's own JSON error
    // (a route the server did not have would be a bare 404 or 405).
    for (method, path) in &operations {
        let concrete = path
            .replace("{player}", "alice")
            .replace("{round_id}", "0190a5c4-9000-7000-8000-000000000000");
        let r = call(&server, key, method, &concrete, Some("{}")).await;
        assert!(r.body["code"].is_string(), "{method} {path}: {r:?}");
        let declared = &paths[path][method.to_lowercase()]["responses"];
        assert!(
            declared.get(r.status.to_string()).is_some() || r.status == 401 || r.status == 429,
            "{method} {path} answered {} which it does not declare: {r:?}",
            r.status
        );
        assert!(
            paths[path][method.to_lowercase()]["security"].is_array(),
            "{method} {path} declares its key"
        );
    }
}
