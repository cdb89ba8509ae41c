//! Redis restarted (empty: no persistence) under a cluster node in full play. While Redis is
//! down the node answers what needs it (opening a session) with `service_unavailable`, keeps
//! playing spins (money is in PostgreSQL, never in Redis) and stops running its live table
//! once its lease could have passed to another node. When Redis is back the node recovers by
//! itself: sessions open again, the table runs again, players reconnect with their token and
//! carry on. No money is lost: every balance is exact and the ledger audit is clean.
//!
//! The test runs its own Redis (a free loopback port, no persistence), so stopping it
//! disturbs no other test.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const PLAYERS: usize = 4;
/// Time Redis stays down: longer than the table lease (2.5 s here), so the node must give
/// the table up and take it back.
const OUTAGE: Duration = Duration::from_secs(5);

/// Opens a demo session (`_label` names it for a reader); its status and body.
async fn open(server: &Server, _label: &str) -> (u16, Value) {
    let reply = reqwest::Client::new()
        .post(format!("{}/v1/sessions", server.base))
        .json(&json!({"currency": "EUR"}))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

async fn runs_table_here(server: &Server) -> bool {
    let Ok(reply) = reqwest::get(format!("{}/v1/cluster", server.admin)).await else {
        return false;
    };
    let view: Value = reply.json().await.unwrap_or(Value::Null);
    view["tables"]["roulette_1"].is_string() && view["tables"]["roulette_1"] == view["node"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_under_play_loses_no_money_and_the_node_recovers_by_itself() {
    let Some(pg) = pg_database("redisrestart").await else {
        return;
    };
    let mut redis = OwnRedis::start();
    let server = NodeConfig::shipped()
        .cluster(&ClusterLines::on(&pg, &redis.url()))
        .with(|c| c.cluster.table_lease_ms = 2500)
        .tables(&fast_tables(2))
        .start();
    for _ in 0..100 {
        if runs_table_here(&server).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        runs_table_here(&server).await,
        "the only node runs the table"
    );

    let run = uuid_like();
    let stop = Arc::new(AtomicBool::new(false));
    let mut players = Vec::new();
    let mut deposits = 0;
    for p in 0..PLAYERS {
        let (status, body) = open(&server, &format!("rr-{run}-{p}")).await;
        assert_eq!(status, 201, "{body}");
        deposits += cents(body["balance"].as_str().unwrap());
        let token = body["token"].as_str().unwrap().to_string();
        players.push(tokio::spawn(spinner(
            server.base.clone(),
            token,
            stop.clone(),
            Duration::from_millis(20),
        )));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    redis.stop();
    // What needs Redis is refused clearly; spins go on (they never wait on Redis).
    let (status, body) = open(&server, &format!("rr-{run}-late")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "service_unavailable", "{body}");
    let spins_before = metric(&server, "croupier_spins_total{game=\"classic_sevens\"}").await;
    tokio::time::sleep(OUTAGE).await;
    let spins_during = metric(&server, "croupier_spins_total{game=\"classic_sevens\"}").await;
    assert!(spins_during > spins_before, "spins went on without Redis");
    assert!(
        !runs_table_here(&server).await,
        "the table stopped once its lease could have passed"
    );
    assert!(metric(&server, "croupier_redis_errors_total{op=\"lease_renew\"}").await >= 1.0);

    redis.restart();
    // Back without a restart of the node: sessions open, the table runs again.
    let mut reopened = None;
    for _ in 0..100 {
        let (status, body) = open(&server, &format!("rr-{run}-late")).await;
        if status == 201 {
            reopened = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reopened = reopened.expect("sessions open again once Redis is back");
    for _ in 0..100 {
        if runs_table_here(&server).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(runs_table_here(&server).await, "the table runs again");
    // A late player joins the table after the outage.
    let late = reopened["token"].as_str().unwrap().to_string();
    let mut client = Client::connect(&server, &late).await;
    let state = client
        .request(json!({"type": "join_table", "req_id": "j", "table": "roulette_1"}))
        .await;
    assert_eq!(state["type"], "table_state", "{state}");

    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let totals = spinners_done(players).await;
    assert!(totals.least_staked > 0, "every player spun");
    assert_eq!(
        totals.balances,
        deposits - totals.staked + totals.won,
        "every cent accounted for"
    );
    let ledger = croupier::wallet::postgres::PgLedger::connect(&pg, 2)
        .await
        .unwrap();
    use croupier::wallet::Ledger;
    assert!(ledger.open_rounds().await.unwrap().is_empty());
    assert!(ledger.audit().await.unwrap().mismatches.is_empty());
    eprintln!(
        "{PLAYERS} players: {} spins, {} busy answers while Redis was down for {OUTAGE:?}",
        totals.staked / 100,
        totals.busy
    );
}
