//! Three nodes behind nginx on one PostgreSQL ledger: players are spread over the nodes and
//! share one hot jackpot pool; one node is killed with SIGKILL mid-play; its players reconnect
//! through nginx to the others with their token, resend the request that was in flight and are
//! never charged twice; the survivors refund the dead node's open rounds; every player's
//! balance and every pool is exact to the cent at the end (`croupier reconcile`).

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const PLAYERS: usize = 9;
const SPINS: usize = 60;
/// Reconnect and resend attempts a player makes after losing its node (bounded).
const ATTEMPTS: usize = 120;
/// Players stop before this spin until node 2 has been killed, so the kill always lands
/// mid-play (it waits for 30 starfall spins on node 2, which fast players could outrun).
const HOLD_AT: usize = 40;
/// Longest a player holds at [`HOLD_AT`] for the kill.
const HOLD_LIMIT: Duration = Duration::from_secs(30);

async fn connect(lb: &str, token: &str) -> Option<Client> {
    let (mut ws, _) = ws_connect(ws_request(lb, token)).await.ok()?;
    let welcome = loop {
        let frame = tokio::time::timeout(REPLY_TIMEOUT, ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(text) = frame {
            break serde_json::from_str::<Value>(&text).ok()?;
        }
    };
    (welcome["type"] == "welcome").then_some(Client {
        ws,
        welcome,
        token: token.to_string(),
    })
}

/// The next frame that is not a jackpot push, or `None` if the connection is gone.
async fn reply(client: &mut Client) -> Option<Value> {
    loop {
        let f = client.try_recv().await?;
        if !JACKPOT_PUSHES.contains(&f["type"].as_str().unwrap_or("")) {
            return Some(f);
        }
    }
}

#[derive(Default, Debug)]
struct Books {
    staked: i64,
    credited: i64,
    reconnects: usize,
    voided: usize,
}

/// Plays `SPINS` spins through the load balancer, reconnecting and resending the same
/// `req_id` whenever the connection breaks, until each spin has an answer.
async fn play(lb: String, token: String, mut killed: tokio::sync::watch::Receiver<bool>) -> Books {
    let mut books = Books::default();
    let mut client = connect(&lb, &token).await.expect("first connection");
    for i in 0..SPINS {
        if i == HOLD_AT {
            let _ = tokio::time::timeout(HOLD_LIMIT, killed.wait_for(|k| *k)).await;
        }
        let game = if i % 2 == 0 {
            "classic_sevens"
        } else {
            "starfall"
        };
        let frame = json!({"type": "spin", "req_id": format!("s{i}"), "game": game, "bet": "1.00"});
        let mut answer = None;
        for _ in 0..ATTEMPTS {
            let sent = client
                .ws
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_ok();
            match if sent { reply(&mut client).await } else { None } {
                Some(r) if r["type"] == "spin_result" => {
                    answer = Some(r);
                    break;
                }
                Some(r) if r["code"] == "round_void" => {
                    books.voided += 1;
                    answer = Some(r);
                    break;
                }
                // Still open on the dead node's behalf: wait for the sweeper.
                Some(r) if r["code"] == "server_busy" || r["code"] == "service_unavailable" => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Some(r) => panic!("unexpected reply {r}"),
                None => {
                    books.reconnects += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if let Some(c) = connect(&lb, &token).await {
                        client = c;
                    }
                }
            }
        }
        let r = answer.expect("an answer within the attempts");
        if r["type"] == "spin_result" {
            books.staked += cents(r["bet"].as_str().unwrap());
            books.credited += cents(r["win"].as_str().unwrap());
            for w in r["jackpot_wins"].as_array().into_iter().flatten() {
                books.credited += cents(w["amount"].as_str().unwrap());
            }
        }
    }
    // The final balance, from whichever node the balancer picks.
    let balance = loop {
        let _ = client
            .ws
            .send(Message::Text(
                json!({"type": "balance", "req_id": "final"})
                    .to_string()
                    .into(),
            ))
            .await;
        match reply(&mut client).await {
            Some(r) if r["type"] == "balance" => break cents(r["balance"].as_str().unwrap()),
            _ => {
                books.reconnects += 1;
                client = connect(&lb, &token).await.expect("reconnect");
            }
        }
    };
    assert_eq!(
        balance,
        100_000 - books.staked + books.credited,
        "{books:?}"
    );
    books
}

/// Opens a 1.00 spin for a new `player` straight in the ledger, as node `node` would.
async fn stranded_spin(
    ledger: &croupier::wallet::postgres::PgLedger,
    player: &str,
    node: &str,
) -> croupier::ids::RoundId {
    use croupier::wallet::{Ledger, Movement};
    let player = croupier::ids::PlayerId::parse(player).unwrap();
    ledger.ensure_account(&player, "EUR").await.unwrap();
    let round = croupier::ids::RoundId::new_v7();
    let movements = [
        Movement::Deposit {
            tx_id: format!("{player}:seed"),
            player: player.clone(),
            amount_minor: 100,
        },
        Movement::OpenRound {
            round_id: round.clone(),
            player,
            req_id: croupier::ids::ReqId::parse("stranded").unwrap(),
            game: "starfall".into(),
            bet_minor: Some(100),
            try_free_spin: false,
            jackpot: None,
            opened_json: None,
            node: Some(node.to_string()),
            session_started_ms: None,
        },
    ];
    for applied in ledger.commit_batch(&movements).await.unwrap() {
        applied.unwrap();
    }
    round
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behind_nginx_share_every_cent_through_a_kill_9() {
    let Some(url) = pg_database("cluster").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = NodeConfig::shipped()
        .cluster(&ClusterLines::new(&url))
        .fast()
        .no_tables()
        .jackpots(HOT_POOL)
        .start();
    let second = Server::spawn(&first.config, &dir.path().join("n2"));
    let third = Server::spawn(&first.config, &dir.path().join("n3"));
    let mut nodes = [first, second, third];
    let proxy = Nginx::start(&nodes).await;
    let lb = proxy.base.clone();
    // Sessions through the balancer (the demo deposit is exactly once, whichever node). Player
    // ids are new on every run: the test Redis outlives each test's fresh ledger, and a
    // player's reply log there would answer this run's req_ids with the last run's replies.
    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut tokens = Vec::new();
    for p in 0..PLAYERS {
        let session = open_session_at(&proxy.base, &format!("cl-{run}-{p}")).await;
        tokens.push(session.token);
    }
    // A watcher on node 1 who never spins: wins on every node reach it over Redis.
    let watcher = open_session(&nodes[0], "cl-watch").await;
    let mut watcher = Client::connect(&nodes[0], &watcher.token).await;
    let (kill_done, killed) = tokio::sync::watch::channel(false);
    let players: Vec<_> = tokens
        .into_iter()
        .map(|t| tokio::spawn(play(lb.clone(), t, killed.clone())))
        .collect();
    // Players spread over all three nodes; then node 2 dies mid-play.
    let mut spread = [0.0; 3];
    for _ in 0..100 {
        for (i, n) in nodes.iter().enumerate() {
            spread[i] = metric(n, "croupier_websocket_connections").await;
        }
        if spread.iter().sum::<f64>() >= PLAYERS as f64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        spread.iter().all(|&c| c > 0.0),
        "players on every node: {spread:?}"
    );
    for _ in 0..200 {
        if metric(&nodes[1], "croupier_spins_total{game=\"starfall\"}").await >= 30.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let before_kill = metric(&nodes[1], "croupier_spins_total{game=\"starfall\"}").await;
    eprintln!("node 2 starfall spins at the kill: {before_kill}");
    // A spin surely in flight on node 2 when it dies (opened straight in the ledger under its
    // name, so the test does not depend on catching one): the survivors must refund it once
    // node 2 has left the registry, long before ledger.stale_round_seconds (60 s, the default).
    use croupier::wallet::Ledger;
    let ledger = croupier::wallet::postgres::PgLedger::connect(&url, 2)
        .await
        .unwrap();
    let node2 = cluster_view(&nodes[1]).await["node"]
        .as_str()
        .unwrap()
        .to_string();
    let stranded = stranded_spin(&ledger, &format!("cl-{run}-stranded"), &node2).await;
    nodes[1].kill9();
    let killed_at = std::time::Instant::now();
    let _ = kill_done.send(true);
    let mut reconnects = 0;
    let mut voided = 0;
    for p in players {
        let books = p.await.unwrap();
        reconnects += books.reconnects;
        voided += books.voided;
    }
    assert!(reconnects > 0, "the dead node's players reconnected");
    // The survivors refund whatever the dead node left open, within seconds.
    for _ in 0..150 {
        let round = ledger.round(&stranded).await.unwrap().unwrap();
        if round.status == croupier::wallet::RoundStatus::Void {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refunded_after = killed_at.elapsed();
    let round = ledger.round(&stranded).await.unwrap().unwrap();
    assert_eq!(
        round.status,
        croupier::wallet::RoundStatus::Void,
        "{round:?}"
    );
    eprintln!("node 2's stranded spin refunded {refunded_after:?} after the kill");
    let lost = metric(
        &nodes[0],
        "croupier_rounds_voided_total{cause=\"node_lost\"}",
    )
    .await
        + metric(
            &nodes[2],
            "croupier_rounds_voided_total{cause=\"node_lost\"}",
        )
        .await;
    assert!(lost >= 1.0, "voided as node_lost by a survivor");
    for _ in 0..100 {
        if ledger.open_rounds().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ledger.open_rounds().await.unwrap().is_empty());
    let node1_wins = metric_sum(&nodes[0], "croupier_jackpot_wins_total").await as usize;
    let mut heard = 0;
    while let Ok(Some(frame)) =
        tokio::time::timeout(Duration::from_millis(500), watcher.try_recv()).await
    {
        heard += usize::from(frame["type"] == "jackpot_won");
    }
    assert!(
        heard > node1_wins,
        "the watcher on node 1 heard wins of other nodes ({heard} heard, {node1_wins} on node 1)"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(["reconcile", "--config"])
        .arg(&nodes[0].config)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{report}");
    println!(
        "spread {spread:?}; {reconnects} reconnects, {voided} spins refunded after the kill; {report}"
    );
}
