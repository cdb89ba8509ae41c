//! Money in and out: fund, launch, play, withdraw; Stripe-like idempotency, a restart, a kill -9
//! during a burst, one transaction id sent to two nodes.

use serde_json::{json, Value};

use super::*;
use crate::common::*;

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
