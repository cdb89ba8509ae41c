//! Plays real spins over a real WebSocket against the real binary and checks the money:
//! every reply's balance follows from the previous one, history matches, the ledger audits.

use crate::common;

use common::*;
use croupier::protocol::ServerFrame;
use serde_json::json;

/// This test spins as fast as it can; the rate limit has its own test.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spins_move_money_exactly_and_history_recalls_them() {
    let server = NodeConfig::shipped().fast().start();
    let session = open_session(&server, "flow-alice").await;
    assert_eq!(session.balance, "1000.00");
    let mut client = Client::connect(&server, &session.token).await;
    assert_eq!(client.welcome["balance"], "1000.00");
    assert_eq!(client.welcome["player_id"], session.player.as_str());

    let games = client
        .request(json!({"type": "games", "req_id": "g1"}))
        .await;
    assert_eq!(games["type"], "games");
    let ids: Vec<&str> = games["games"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"classic_sevens") && ids.contains(&"starfall"),
        "{ids:?}"
    );

    let mut balance = cents("1000.00");
    let mut total_bet = 0;
    let mut total_win = 0;
    let mut free_spins_seen = 0;
    let spins = 300;
    for i in 0..spins {
        let game = if i % 2 == 0 {
            "classic_sevens"
        } else {
            "starfall"
        };
        let bet = if game == "starfall" { "0.40" } else { "0.25" };
        let reply = client
            .request(json!({"type": "spin", "req_id": format!("s{i}"), "game": game, "bet": bet}))
            .await;
        let ServerFrame::SpinResult {
            req_id,
            bet: debited,
            win,
            balance: after,
            free_spin,
            outcome,
            ..
        } = typed(&reply)
        else {
            panic!("a spin_result: {reply}");
        };
        assert_eq!(req_id, format!("s{i}"));
        let (debited, won) = (cents(&debited), cents(&win));
        if free_spin {
            free_spins_seen += 1;
            assert_eq!(debited, 0, "free spins debit nothing: {reply}");
        } else {
            assert_eq!(debited, cents(bet));
        }
        balance = balance - debited + won;
        total_bet += debited;
        total_win += won;
        assert_eq!(cents(&after), balance, "{reply}");
        assert_eq!(outcome["grid"].as_array().unwrap().len(), 3);
        assert!(outcome["win_multiple"].is_string());
    }
    assert_eq!(cents(&client.balance().await), balance);
    assert_eq!(cents("1000.00") - total_bet + total_win, balance);
    eprintln!("{spins} spins: bet {total_bet} won {total_win} free spins {free_spins_seen}");

    let history = client
        .request(json!({"type": "history", "req_id": "h1", "limit": 50}))
        .await;
    let ServerFrame::History { rounds, .. } = typed(&history) else {
        panic!("a history: {history}");
    };
    assert_eq!(rounds.len(), 50);
    assert_eq!(rounds[0].status, "settled");
    assert!(rounds[0]
        .outcome
        .as_ref()
        .is_some_and(|o| o["grid"].is_array()));
    let ids: Vec<&str> = rounds.iter().map(|r| r.round_id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "history is newest first");

    let pong = client
        .request(json!({"type": "ping", "req_id": "p1"}))
        .await;
    assert_eq!(pong["type"], "pong");

    let (ok, report) = server.audit();
    assert!(ok, "ledger audit: {report}");
    assert!(report.contains("mismatches 0"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_players_keep_exact_books() {
    let server = NodeConfig::shipped().fast().start();
    let players = 20;
    let spins = 40;
    let mut tasks = Vec::new();
    for p in 0..players {
        let session = open_session(&server, &format!("conc-{p}")).await;
        let mut client = Client::connect(&server, &session.token).await;
        tasks.push(tokio::spawn(async move {
            let mut balance = cents(&session.balance);
            for i in 0..spins {
                let reply = client
                    .request(json!({"type": "spin", "req_id": format!("c{i}"), "game": "starfall", "bet": "1.00"}))
                    .await;
                assert_eq!(reply["type"], "spin_result", "{reply}");
                balance = balance - cents(reply["bet"].as_str().unwrap()) + cents(reply["win"].as_str().unwrap());
                assert_eq!(cents(reply["balance"].as_str().unwrap()), balance);
            }
            assert_eq!(cents(&client.balance().await), balance);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (ok, report) = server.audit();
    assert!(ok && report.contains("open rounds 0"), "{report}");
}
