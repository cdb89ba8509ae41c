//! The server on the cluster ledger: money in PostgreSQL (a fresh database on the server the
//! test script starts). Concurrent spinners on a hot jackpot pool, a kill -9 mid-play and a
//! restart: every acknowledged round is in the ledger as told, open ones are refunded once,
//! and `croupier reconcile` on PostgreSQL finds every balance and pool exact.

use crate::common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_postgres_keeps_every_cent_through_a_kill_9() {
    let Some(url) = pg_database("node").await else {
        return;
    };
    let mut server = NodeConfig::shipped()
        .fast()
        .with(|c| {
            c.ledger.postgres_url = url.clone();
            c.auth.demo_on_shared_ledger = true;
            c.ledger.stale_round_seconds = 5;
        })
        // No live tables: their rounds would raise the stale limit to twice a table round.
        .no_tables()
        .jackpots(HOT_POOL)
        .start();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for p in 0..4 {
        let session = open_session(&server, &format!("pg-{p}")).await;
        let mut client = Client::connect(&server, &session.token).await;
        let acked = acked.clone();
        let player = session.player.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let game = if i % 2 == 0 {
                    "classic_sevens"
                } else {
                    "starfall"
                };
                let frame =
                    json!({"type": "spin", "req_id": format!("k{i}"), "game": game, "bet": "1.00"});
                if client.ws_send(frame).await.is_err() {
                    break;
                }
                // Jackpot pushes may come first; stop at the first frame that is not one.
                let reply = loop {
                    match client.try_recv().await {
                        Some(f) if JACKPOT_PUSHES.contains(&f["type"].as_str().unwrap_or("")) => {
                            continue
                        }
                        other => break other,
                    }
                };
                match reply {
                    Some(r) if r["type"] == "spin_result" => {
                        acked.lock().unwrap().push((player.clone(), r))
                    }
                    _ => break,
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.kill9();
    for task in tasks {
        task.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let wins = acked
        .iter()
        .filter(|(_, r)| r.get("jackpot_wins").is_some())
        .count();
    assert!(wins > 0, "a hot pool drops within 300 spins");

    // Restart on the same database: recovery refunds what was in flight.
    let mut restarted = Server::spawn(&server.config, &server.data_dir);
    let ledger = croupier::wallet::postgres::PgLedger::connect(&url, 2)
        .await
        .unwrap();
    use croupier::wallet::Ledger;
    for (player, reply) in &acked {
        let round_id = croupier::ids::RoundId::parse(reply["round_id"].as_str().unwrap()).unwrap();
        let round = ledger
            .round(&round_id)
            .await
            .unwrap()
            .expect("acknowledged round is stored");
        assert_eq!(round.player.as_str(), player);
        assert_eq!(round.status, croupier::wallet::RoundStatus::Settled);
        assert_eq!(round.win_minor, cents(reply["win"].as_str().unwrap()));
    }
    // On a shared ledger a starting node leaves young open rounds alone (another node may be
    // playing them); the sweeper refunds them once they are stale (5 s here).
    for _ in 0..100 {
        if ledger.open_rounds().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        ledger.open_rounds().await.unwrap().is_empty(),
        "the sweeper voided the open rounds"
    );
    restarted.sigterm();
    let (ok, report) = restarted.reconcile();
    assert!(ok, "{report}");
    assert!(report.contains("mismatches 0"), "{report}");
    println!(
        "{} acknowledged spins, {wins} with a jackpot; {report}",
        acked.len()
    );
}
