//! A live table across three nodes behind nginx, on one PostgreSQL and one Redis: the table
//! runs on the node holding its lease; players connected to every node join it, bet on it and
//! are paid by it, and all see the same round. Then the table's node is killed with SIGKILL in
//! the middle of a round: its players reconnect through nginx with their token, another node takes the
//! lease, voids the round in flight and refunds every bet of it exactly once, and play goes on.
//! Then the new table node is drained (`POST /v1/admin/drain`): it hands the table to the last
//! node and tells its players to reconnect, which they do. At the end every balance is exact
//! to the cent, no round is left open and the ledger audit is clean.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const TABLE: &str = "roulette_1";
const PLAYERS_PER_NODE: usize = 2;
const STAKE: i64 = 100; // cents, on red
const ADMIN_KEY: &str = "cluster-tables-admin-key-0123456789abcd";

/// Which node runs the table, as `node`'s `/v1/cluster` says.
async fn table_node(node: &Server) -> Option<String> {
    cluster_view(node).await["tables"][TABLE]
        .as_str()
        .map(str::to_string)
}

async fn node_name(node: &Server) -> String {
    cluster_view(node).await["node"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits (bounded) until every node in `nodes` names the same runner for the table, one of
/// `nodes` (a lease left by an earlier test's node on the shared test Redis expires first).
async fn agreed_runner(nodes: &[&Server]) -> String {
    let mut names = Vec::new();
    for n in nodes {
        names.push(node_name(n).await);
    }
    for _ in 0..200 {
        let mut seen = BTreeSet::new();
        for n in nodes {
            seen.insert(table_node(n).await);
        }
        if seen.len() == 1 {
            if let Some(Some(runner)) = seen.into_iter().next() {
                if names.contains(&runner) {
                    return runner;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the nodes never agreed on who runs {TABLE}");
}

struct Player {
    name: String,
    token: String,
    client: Client,
    /// Cents expected on the balance: deposits − stakes kept + returns.
    expected: i64,
}

/// Joins the table, retrying (same `req_id`, bounded) while it is moving between nodes.
async fn join(client: &mut Client, tag: &str) {
    let frame = json!({"type": "join_table", "req_id": format!("join-{tag}"), "table": TABLE});
    for _ in 0..20 {
        let state = ask(client, frame.clone()).await;
        if state["code"] == "server_busy" {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        assert_eq!(state["type"], "table_state", "{state}");
        return;
    }
    panic!("{tag} could not join {TABLE}");
}

/// Waits for the next `betting_open` and places one bet on red for every player.
/// Returns the round id every player saw.
async fn bet_everyone(players: &mut [Player], round_tag: &str) -> String {
    let mut rounds = BTreeSet::new();
    for p in players.iter_mut() {
        let open = wait_for(&mut p.client, "betting_open", fresh_betting_open).await;
        rounds.insert(open["round_id"].as_str().unwrap().to_string());
    }
    let mut accepted = BTreeSet::new();
    for p in players.iter_mut() {
        // A frame read late (the round closed meanwhile, or the table just moved): bet again,
        // with a new req_id, in the next round.
        for attempt in 0..5 {
            let req = format!("{round_tag}-{attempt}-{}", p.name);
            let reply = ask(
                &mut p.client,
                json!({"type": "table_bet", "req_id": req, "table": TABLE, "kind": "red", "amount": "1.00"}),
            )
            .await;
            if reply["code"] == "betting_closed" || reply["code"] == "server_busy" {
                wait_for(&mut p.client, "betting_open", |f| {
                    f["type"] == "betting_open"
                })
                .await;
                continue;
            }
            assert_eq!(reply["type"], "bet_accepted", "{}: {reply}", p.name);
            p.expected -= STAKE;
            accepted.insert(reply["round_id"].as_str().unwrap().to_string());
            break;
        }
    }
    assert_eq!(
        accepted.len(),
        1,
        "every node's players bet in one round: {accepted:?} (opens seen: {rounds:?})"
    );
    accepted.into_iter().next().unwrap()
}

/// Whether the player's connection still answers; a `reconnect` push seen on the way is
/// returned (a draining node says why it lets the player go).
async fn still_connected(p: &mut Player) -> (bool, Option<Value>) {
    let ping = format!("ping-{}", uuid_like());
    if p.client
        .ws_send(json!({"type": "ping", "req_id": ping}))
        .await
        .is_err()
    {
        return (false, None);
    }
    let mut told = None;
    while let Some(frame) = p.client.try_recv().await {
        if frame["type"] == "reconnect" {
            told = Some(frame);
        } else if frame["req_id"] == ping.as_str() {
            return (true, told);
        }
    }
    (false, told)
}

/// Players whose node is gone come back through the balancer with their token and sit down
/// at the table again. Returns how many did, and the `reconnect` pushes they were sent.
async fn come_back(players: &mut [Player], lb: &str, tag: &str) -> (usize, Vec<Value>) {
    let (mut back, mut told) = (0, Vec::new());
    for p in players.iter_mut() {
        let (alive, reconnect) = still_connected(p).await;
        told.extend(reconnect);
        if !alive {
            p.client = Client::connect_at(lb, &p.token).await;
            join(&mut p.client, &format!("{}-{tag}", p.name)).await;
            back += 1;
        }
    }
    (back, told)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_runs_on_one_node_serves_all_three_and_moves_when_its_node_dies() {
    let Some(url) = pg_database("cltables").await else {
        return;
    };
    let first = NodeConfig::shipped()
        .cluster(&ClusterLines::new(&url))
        .with(|c| {
            c.cluster.table_lease_ms = 2500;
            c.auth.admin_key = ADMIN_KEY.into();
        })
        .tables(&fast_tables(3))
        .start();
    let dir = tempfile::tempdir().unwrap();
    let second = Server::spawn(&first.config, &dir.path().join("n2"));
    let third = Server::spawn(&first.config, &dir.path().join("n3"));
    let mut nodes = vec![first, second, third];
    let proxy = Nginx::start(&nodes).await;
    let lb = proxy.base.clone();
    let names: Vec<String> = futures_util::future::join_all(nodes.iter().map(node_name)).await;
    let runner = agreed_runner(&nodes.iter().collect::<Vec<_>>()).await;
    // The three run the same play files: one config version, in every node's heartbeat.
    let own = cluster_view(&nodes[0]).await["config_version"].clone();
    assert_eq!(own.as_str().map(str::len), Some(16), "{own}");
    let mut reported = Vec::new();
    for _ in 0..100 {
        let view = cluster_view(&nodes[2]).await;
        reported = view["nodes"].as_array().cloned().unwrap_or_default();
        if reported.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reported.len(), 3, "{reported:?}");
    assert!(
        reported.iter().all(|n| n["config_version"] == own),
        "{reported:?}"
    );
    let owner = names
        .iter()
        .position(|n| n == &runner)
        .expect("a node of ours runs it");

    // Six players through nginx (least_conn: two per node), every one at the one table.
    let run = uuid_like();
    let mut players = Vec::new();
    for k in 0..3 * PLAYERS_PER_NODE {
        let session = open_session_at(&lb, &format!("ct-{run}-{k}")).await;
        let name = session.player.clone();
        let mut client = Client::connect_at(&lb, &session.token).await;
        join(&mut client, &name).await;
        players.push(Player {
            expected: cents(&session.balance),
            name,
            token: session.token,
            client,
        });
    }
    for node in &nodes {
        let here = metric(node, "croupier_websocket_connections").await;
        assert!(here >= 1.0, "players on every node");
    }

    // Round 1: everyone bets; every bettor is paid by the table's node, wherever they are.
    let round1 = bet_everyone(&mut players, "r1").await;
    let mut results = BTreeSet::new();
    for p in players.iter_mut() {
        let settled = wait_for(&mut p.client, "bet_settled", |f| {
            f["type"] == "bet_settled" && f["round_id"] == round1.as_str()
        })
        .await;
        p.expected += cents(settled["returned"].as_str().unwrap());
        assert_eq!(
            cents(settled["balance"].as_str().unwrap()),
            p.expected,
            "{settled}"
        );
        let result = wait_for(&mut p.client, "round_settled", |f| {
            f["type"] == "round_settled" && f["round_id"] == round1.as_str()
        })
        .await;
        results.insert(result["returned"].to_string());
    }
    assert_eq!(results.len(), 1, "one result for everyone: {results:?}");

    // Round 2: everyone bets, then the table's node dies while betting is still open. Its
    // players come back through nginx on the other nodes with their token.
    let round2 = bet_everyone(&mut players, "r2").await;
    nodes[owner].kill9();
    let (back, _) = come_back(&mut players, &lb, "again").await;
    assert!(back >= 1, "the dead node's players reconnected");
    let survivors: Vec<usize> = (0..nodes.len()).filter(|&i| i != owner).collect();
    let alive: Vec<&Server> = survivors.iter().map(|&i| &nodes[i]).collect();
    let new_runner = agreed_runner(&alive).await;
    assert_ne!(new_runner, runner, "the table moved");
    // The new node voids round 2 and refunds every bet of it exactly once; the players who
    // stayed connected are told.
    for p in players.iter_mut() {
        p.expected += STAKE;
    }
    let mut told = 0;
    for p in players.iter_mut() {
        let frame = wait_for(&mut p.client, "round_void or the next round", |f| {
            (f["type"] == "round_void" && f["round_id"] == round2.as_str())
                || f["type"] == "betting_open"
        })
        .await;
        if frame["type"] == "round_void" {
            assert_eq!(frame["reason"], "owner_lost", "{frame}");
            told += 1;
            // And their own refund, like any voided bet: amount back, balance as it now is.
            let refund = wait_for(&mut p.client, "the refund's bet_settled", |f| {
                f["type"] == "bet_settled" && f["round_id"] == round2.as_str()
            })
            .await;
            assert_eq!(refund["outcome"], "void", "{refund}");
            assert_eq!(refund["kind"], "red", "{refund}");
            assert_eq!(cents(refund["returned"].as_str().unwrap()), STAKE);
            assert_eq!(cents(refund["balance"].as_str().unwrap()), p.expected);
        }
    }
    assert!(
        told >= 1,
        "players who stayed connected were told round 2 was void"
    );
    for p in players.iter_mut() {
        let history = ask(
            &mut p.client,
            json!({"type": "history", "req_id": format!("h-{}", uuid_like()), "limit": 10}),
        )
        .await;
        let voided: Vec<&Value> = history["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["round_id"].as_str().unwrap_or("").starts_with(&round2))
            .collect();
        assert_eq!(voided.len(), 1, "{}: one bet in round 2: {history}", p.name);
        assert_eq!(voided[0]["status"], "void", "{}", voided[0]);
    }

    // Round 3 on the new node, players on both survivors.
    let round3 = bet_everyone(&mut players, "r3").await;
    assert_ne!(round3, round2);
    for p in players.iter_mut() {
        let settled = wait_for(&mut p.client, "bet_settled", |f| {
            f["type"] == "bet_settled" && f["round_id"] == round3.as_str()
        })
        .await;
        p.expected += cents(settled["returned"].as_str().unwrap());
    }

    // Drain the table's node: it stops taking players, hands the table to the last node and
    // tells its players to reconnect; they do, through nginx, and play on.
    let drained = names.iter().position(|n| n == &new_runner).unwrap();
    let last = survivors.iter().copied().find(|&i| i != drained).unwrap();
    let http = reqwest::Client::new();
    let drain_url = format!("{}/v1/admin/drain", nodes[drained].admin);
    let refused = http
        .post(&drain_url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status().as_u16(),
        401,
        "drain needs the operator key"
    );
    let drain = http
        .post(&drain_url)
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(drain.status().as_u16(), 202);
    let ready = reqwest::get(format!("{}/health/ready", nodes[drained].base))
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503, "a draining node is not ready");
    let mut last_runner = None;
    for _ in 0..100 {
        last_runner = table_node(&nodes[last]).await;
        if last_runner.as_ref().is_some_and(|r| r != &names[drained]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        last_runner.as_ref(),
        Some(&names[last]),
        "the last node runs the table"
    );
    // Its players' bets of rounds 1 and 2 went to the first table node as asks, answered.
    let asked = "croupier_table_asks_total{kind=\"bet\",outcome=\"answered\",table=\"roulette_1\"}";
    assert!(
        metric(&nodes[drained], asked).await >= 1.0,
        "bets asked across nodes"
    );
    // The node closes its sockets once the table is handed over; wait for that, or a ping
    // could still be answered by the draining node.
    for _ in 0..100 {
        if metric(&nodes[drained], "croupier_websocket_connections").await == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (back, told) = come_back(&mut players, &lb, "drained").await;
    assert!(back >= 1, "the drained node's players reconnected");
    assert!(
        told.iter().any(|f| f["reason"] == "node draining"),
        "they were told why: {told:?}"
    );
    let round4 = bet_everyone(&mut players, "r4").await;
    for p in players.iter_mut() {
        let settled = wait_for(&mut p.client, "bet_settled", |f| {
            f["type"] == "bet_settled" && f["round_id"] == round4.as_str()
        })
        .await;
        p.expected += cents(settled["returned"].as_str().unwrap());
    }

    // The money audit: every balance exact; the players' money plus the house's take is the
    // money they started with; nothing left open; every balance equals its entries.
    let mut balances = BTreeMap::new();
    let mut total = 0;
    for p in players.iter_mut() {
        let reply = ask(
            &mut p.client,
            json!({"type": "balance", "req_id": format!("b-{}", uuid_like())}),
        )
        .await;
        let balance = cents(reply["balance"].as_str().unwrap());
        assert_eq!(balance, p.expected, "{}'s balance", p.name);
        total += balance;
        balances.insert(p.name.clone(), balance);
    }
    let ledger = croupier::wallet::postgres::PgLedger::connect(&url, 2)
        .await
        .unwrap();
    use croupier::wallet::Ledger;
    assert!(
        ledger.open_rounds().await.unwrap().is_empty(),
        "no bet left open"
    );
    let audit = ledger.audit().await.unwrap();
    assert!(audit.mismatches.is_empty(), "{audit:?}");
    let mut house = 0;
    for p in &players {
        let id = croupier::ids::PlayerId::parse(&p.name).unwrap();
        for round in ledger.history(&id, 100).await.unwrap() {
            if round.status == croupier::wallet::RoundStatus::Settled {
                house += round.bet_minor - round.win_minor;
            }
        }
    }
    let started = 100_000 * players.len() as i64;
    assert_eq!(
        total + house,
        started,
        "balances + house = the money the players started with"
    );
    eprintln!(
        "table ran on {runner}, then {new_runner}, then {}; {} players, house {house}, balances {balances:?}",
        names[last],
        players.len()
    );
}
