//! Durability: after a kill -9 mid-play and a restart, every acknowledged round is in the
//! ledger as the client was told, balances equal the sum of their entries, and a round left
//! between stake and settlement is voided and refunded exactly once.

use crate::common;

use std::sync::Arc;

use common::*;
use croupier::ids::{PlayerId, ReqId, RoundId};
use croupier::wallet::sqlite::{Durability, SqliteLedger};
use croupier::wallet::{Applied, Ledger, Movement, RoundStatus};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_play_loses_no_acknowledged_round() {
    let mut server = NodeConfig::shipped().fast().start();
    let players = 4;
    let mut sessions = Vec::new();
    for p in 0..players {
        sessions.push(open_session(&server, &format!("crash-{p}")).await);
    }
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for session in &sessions {
        let mut client = Client::connect(&server, &session.token).await;
        let acked = acked.clone();
        let player = session.player.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let frame = json!({"type": "spin", "req_id": format!("k{i}"), "game": "starfall", "bet": "0.20"});
                if client.ws_send(frame).await.is_err() {
                    break;
                }
                match client.try_recv().await {
                    Some(reply) if reply["type"] == "spin_result" => acked.lock().unwrap().push((player.clone(), reply)),
                    _ => break,
                }
            }
        }));
    }
    // Let them play, then kill the server without warning.
    while acked.lock().unwrap().len() < 400 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.kill9();
    for task in tasks {
        task.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 400);

    // Restart: recovery voids whatever was in flight; then check against the ledger.
    let mut restarted = Server::spawn(&server.config, &server.data_dir);
    restarted.sigterm();
    let ledger = SqliteLedger::open(&server.data_dir.join("croupier.db"), Durability::Full)
        .await
        .unwrap();
    for (player, reply) in &acked {
        let round_id = RoundId::parse(reply["round_id"].as_str().unwrap()).unwrap();
        let round = ledger
            .round(&round_id)
            .await
            .unwrap()
            .expect("acknowledged round is stored");
        assert_eq!(round.status, RoundStatus::Settled);
        assert_eq!(round.player.as_str(), player);
        assert_eq!(round.win_minor, cents(reply["win"].as_str().unwrap()));
        assert_eq!(
            round.balance_after_minor,
            cents(reply["balance"].as_str().unwrap())
        );
    }
    let report = ledger.audit().await.unwrap();
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert_eq!(report.open_rounds, 0, "recovery voided every open round");
    eprintln!(
        "{} acknowledged rounds survived kill -9; audit clean over {} entries",
        acked.len(),
        report.entries
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_left_open_is_voided_and_refunded_once_at_start() {
    let mut server = NodeConfig::shipped().fast().start();
    let session = open_session(&server, "void-hank").await;
    server.sigterm();
    // Simulate a crash between stake and settlement: a round opened in the ledger, never settled.
    let db = server.data_dir.join("croupier.db");
    let ledger = SqliteLedger::open(&db, Durability::Full).await.unwrap();
    let player = PlayerId::parse(&session.player).unwrap();
    let round_id = RoundId::new_v7();
    let opened = ledger
        .commit_batch(&[Movement::OpenRound {
            round_id: round_id.clone(),
            player: player.clone(),
            req_id: ReqId::parse("lost-1").unwrap(),
            game: "starfall".into(),
            bet_minor: Some(500),
            try_free_spin: false,
            jackpot: None,
            opened_json: None,
            node: None,
            session_started_ms: None,
        }])
        .await
        .unwrap();
    assert!(matches!(
        opened[0],
        Ok(Applied::RoundOpened {
            balance_minor: 99_500,
            ..
        })
    ));
    drop(ledger);

    for restart in 0..2 {
        let mut node = Server::spawn(&server.config, &server.data_dir);
        let mut client = Client::connect(&node, &session.token).await;
        assert_eq!(
            client.balance().await,
            "1000.00",
            "refunded exactly once (restart {restart})"
        );
        let replay = client
            .request(json!({"type": "spin", "req_id": "lost-1", "game": "starfall", "bet": "5.00"}))
            .await;
        assert_eq!(replay["code"], "round_void", "{replay}");
        node.sigterm();
    }
    let ledger = SqliteLedger::open(&db, Durability::Full).await.unwrap();
    let entries = ledger.entries(&player).await.unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["deposit", "bet", "refund"]);
    assert_eq!(
        ledger.round(&round_id).await.unwrap().unwrap().status,
        RoundStatus::Void
    );
    assert!(ledger.audit().await.unwrap().mismatches.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_rounds_and_closes_sockets_with_a_close_frame() {
    let mut server = NodeConfig::shipped().fast().start();
    let session = open_session(&server, "term-ivy").await;
    let mut client = Client::connect(&server, &session.token).await;
    for i in 0..5 {
        let r = client.request(json!({"type": "spin", "req_id": format!("t{i}"), "game": "classic_sevens", "bet": "1.00"})).await;
        assert_eq!(r["type"], "spin_result");
    }
    // A spin in flight when the signal lands still gets its reply.
    client
        .send(json!({"type": "spin", "req_id": "last", "game": "classic_sevens", "bet": "1.00"}))
        .await;
    let pid = server.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let mut saw_result = false;
    let mut saw_reconnect = false;
    let close = loop {
        let reply = client.recv().await;
        match reply["type"].as_str().unwrap() {
            "spin_result" => saw_result = true,
            "reconnect" => saw_reconnect = true,
            "__closed" => break reply["frame"].as_str().unwrap().to_string(),
            _ => panic!("unexpected {reply}"),
        }
    };
    assert!(
        close.contains("Away") && close.contains("server shutting down"),
        "{close}"
    );
    assert!(saw_reconnect);
    let status = server.sigterm_wait();
    assert!(status.success(), "{status:?}");
    let ledger = SqliteLedger::open(&server.data_dir.join("croupier.db"), Durability::Full)
        .await
        .unwrap();
    let report = ledger.audit().await.unwrap();
    assert_eq!(report.open_rounds, 0);
    assert!(report.mismatches.is_empty());
    let rounds = ledger
        .history(&PlayerId::parse(&session.player).unwrap(), 50)
        .await
        .unwrap();
    assert_eq!(
        rounds.len(),
        if saw_result { 6 } else { rounds.len().max(5) }
    );
}
