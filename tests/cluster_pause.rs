//! A table's node paused past its lease (SIGSTOP) while a bet is in its round: the other node
//! takes the table, voids the round and refunds the bet. When the paused node wakes up it
//! still believes it runs the table and goes on with that round, but the ledger refuses its
//! movements (the fencing token moved on): the bet is neither paid nor refunded a second time.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

const TABLE: &str = "roulette_1";

fn signal(node: &Server, sig: &str) {
    let pid = node.child.id().to_string();
    assert!(Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap()
        .success());
}

/// Waits (bounded) until `node` says `expected` runs the table.
async fn runs_on(node: &Server, expected: &str) -> bool {
    for _ in 0..150 {
        if cluster_view(node).await["tables"][TABLE] == expected {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_table_node_wakes_up_fenced_and_pays_nothing_twice() {
    let Some(url) = pg_database("clpause").await else {
        return;
    };
    // Long betting phase: the bet is still in its round when the node is paused.
    let a = NodeConfig::shipped()
        .cluster(&ClusterLines::new(&url))
        .with(|c| c.cluster.table_lease_ms = 2500)
        .tables(&fast_tables(6))
        .start();
    let dir = tempfile::tempdir().unwrap();
    let b = Server::spawn(&a.config, &dir.path().join("b"));
    let name_a = cluster_view(&a).await["node"].as_str().unwrap().to_string();
    let name_b = cluster_view(&b).await["node"].as_str().unwrap().to_string();
    let mut runner = None;
    for _ in 0..100 {
        let (on_a, on_b) = (cluster_view(&a).await, cluster_view(&b).await);
        let ours =
            on_a["tables"][TABLE] == name_a.as_str() || on_a["tables"][TABLE] == name_b.as_str();
        // (A lease left by an earlier test's node on the shared test Redis expires first.)
        if ours && on_a["tables"][TABLE] == on_b["tables"][TABLE] {
            runner = on_a["tables"][TABLE].as_str().map(str::to_string);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let runner = runner.expect("one node runs the table");
    let (paused, other, other_name) = if runner == name_a {
        (&a, &b, &name_b)
    } else {
        (&b, &a, &name_a)
    };

    // A player on the other node bets in the paused node's round.
    let session = open_session(other, &format!("pause-{}", uuid_like())).await;
    let start = cents(&session.balance);
    let mut player = Client::connect(other, &session.token).await;
    let state = ask(
        &mut player,
        json!({"type": "join_table", "req_id": "join", "table": TABLE}),
    )
    .await;
    assert_eq!(state["type"], "table_state", "{state}");
    let mut accepted = None;
    for attempt in 0..5 {
        wait_for(&mut player, "betting_open", |f| f["type"] == "betting_open").await;
        let reply = ask(
            &mut player,
            json!({"type": "table_bet", "req_id": format!("bet-{attempt}"), "table": TABLE,
                   "kind": "straight", "numbers": [17], "amount": "5.00"}),
        )
        .await;
        if reply["type"] == "bet_accepted" {
            accepted = Some(reply);
            break;
        }
        assert_eq!(reply["code"], "betting_closed", "{reply}");
    }
    let accepted = accepted.expect("a bet in an open round");
    let round = accepted["round_id"].as_str().unwrap().to_string();
    assert_eq!(
        cents(accepted["balance"].as_str().unwrap()),
        start - 500,
        "{accepted}"
    );

    // Pause the table's node past its lease: the other node takes the table and refunds.
    signal(paused, "-STOP");
    assert!(
        runs_on(other, other_name).await,
        "the other node took the table"
    );
    let void = wait_for(&mut player, "round_void", |f| {
        f["type"] == "round_void" && f["round_id"] == round.as_str()
    })
    .await;
    assert_eq!(void["reason"], "owner_lost", "{void}");
    let balance = ask(
        &mut player,
        json!({"type": "balance", "req_id": "after-void"}),
    )
    .await;
    assert_eq!(
        cents(balance["balance"].as_str().unwrap()),
        start,
        "refunded once"
    );

    // Wake it: it carries on with its stale round; the ledger refuses every movement of it.
    signal(paused, "-CONT");
    assert!(
        runs_on(paused, other_name).await,
        "the woken node sees the table has moved"
    );
    let refused = |kind: &'static str| {
        let name = format!("croupier_wallet_movements_total{{kind=\"{kind}\",result=\"refused\"}}");
        async move { metric(paused, &name).await }
    };
    let mut fenced = 0.0;
    for _ in 0..100 {
        fenced = refused("settle_round").await + refused("void_round").await;
        if fenced >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        fenced >= 1.0,
        "the woken node's stale settlement or refund was refused"
    );
    assert_eq!(
        metric(paused, "croupier_table_owned{table=\"roulette_1\"}").await,
        0.0
    );

    let balance = ask(
        &mut player,
        json!({"type": "balance", "req_id": "after-wake"}),
    )
    .await;
    assert_eq!(
        cents(balance["balance"].as_str().unwrap()),
        start,
        "nothing paid twice"
    );
    let ledger = croupier::wallet::postgres::PgLedger::connect(&url, 2)
        .await
        .unwrap();
    use croupier::wallet::Ledger;
    assert!(ledger.open_rounds().await.unwrap().is_empty());
    assert!(ledger.audit().await.unwrap().mismatches.is_empty());
    eprintln!("paused {runner}; {other_name} took the table; {fenced} stale movements refused");
}
