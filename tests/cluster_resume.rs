//! Resume anywhere: a player who moves to another node of the cluster (same token) gets the
//! very same replies for the `req_id`s already answered on the first node, from the shared
//! reply log in Redis (which holds what moves money: the spins, not the balance read), and is
//! never charged again; a read resent runs again and answers the balance of now. Presence and
//! the node registry follow the player.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_moving_node_gets_the_same_replies_and_is_never_charged_twice() {
    let Some(url) = pg_database("clresume").await else {
        return;
    };
    let cluster = ClusterLines::new(&url);
    let a = NodeConfig::shipped()
        .cluster(&cluster)
        .no_tables()
        .with(|c| c.auth.admin_key = "resume-admin-key-0123456789abcdef".into())
        .start();
    let dir = tempfile::tempdir().unwrap();
    let b = Server::spawn(&a.config, &dir.path().join("b"));

    let session = open_session(&a, "resume").await;
    let player = session.player.clone();
    let mut on_a = Client::connect(&a, &session.token).await;
    let spin = json!({"type": "spin", "req_id": "s1", "game": "classic_sevens", "bet": "1.00"});
    let first_spin = on_a.request(spin.clone()).await;
    assert_eq!(first_spin["type"], "spin_result", "{first_spin}");
    let balance = json!({"type": "balance", "req_id": "b1"});
    let first_balance = on_a.request(balance.clone()).await;
    assert_eq!(first_balance["type"], "balance", "{first_balance}");
    // The balance moves on after b1 was answered.
    let second = on_a
        .request(json!({"type": "spin", "req_id": "s2", "game": "classic_sevens", "bet": "1.00"}))
        .await;
    assert_eq!(second["type"], "spin_result", "{second}");

    // The reply log is written behind the reply: wait (bounded) until it holds s2.
    let redis_client = redis::Client::open(cluster.redis_url.as_str()).unwrap();
    let mut conn = redis_client
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let key = format!("{}:replies:{player}", cluster.namespace);
    let mut logged = 0;
    for _ in 0..100 {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap();
        logged = members.len();
        if members.iter().any(|m| m.starts_with("s2\n")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        logged, 2,
        "s1 and s2 in the player's reply log (a balance moves no money)"
    );

    // On node B the old req_ids answer as the first time: b1 with the balance of then.
    let mut on_b = Client::connect(&b, &session.token).await;
    assert_eq!(
        on_b.welcome["balance"], second["balance"],
        "the same balance on any node"
    );
    assert_ne!(first_balance["balance"], second["balance"]);
    assert_eq!(
        on_b.request(spin).await,
        first_spin,
        "s1 replayed, not charged"
    );
    let again = on_b.request(balance).await;
    assert_eq!(
        again["balance"], second["balance"],
        "a read runs again: b1 answers the balance of now"
    );
    let now = on_b.balance().await;
    assert_eq!(
        now,
        second["balance"].as_str().unwrap(),
        "charged once per spin"
    );

    // Presence: node B's heartbeat lists the player's connection.
    let name_b = cluster_view(&b).await["node"].clone();
    let mut listed = false;
    for _ in 0..50 {
        let view = cluster_view(&a).await;
        let nodes = view["nodes"].as_array().cloned().unwrap_or_default();
        listed = nodes.len() == 2
            && nodes
                .iter()
                .any(|n| n["node"] == name_b && n["players"].as_u64() >= Some(1));
        if listed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(listed, "both nodes in the registry, the player on B");
    // An operator asks any node where the player is.
    let key = "resume-admin-key-0123456789abcdef";
    let http = reqwest::Client::new();
    let url_on_a = format!("{}/v1/admin/players/{player}", a.admin);
    let refused = http.get(&url_on_a).send().await.unwrap();
    assert_eq!(
        refused.status().as_u16(),
        401,
        "presence needs the operator key"
    );
    drop(on_a);
    let mut at = Value::Null;
    for _ in 0..50 {
        at = http
            .get(&url_on_a)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if at["node"] == name_b {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(at["node"], name_b, "{at}");
    let bad = http
        .get(format!("{}/v1/admin/players/no%20spaces", a.admin))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status().as_u16(),
        400,
        "a player id that cannot be is refused"
    );
    let ledger = croupier::wallet::postgres::PgLedger::connect(&url, 2)
        .await
        .unwrap();
    use croupier::wallet::Ledger;
    let id = croupier::ids::PlayerId::parse(&player).unwrap();
    assert_eq!(
        ledger.history(&id, 10).await.unwrap().len(),
        2,
        "two spins, two rounds"
    );
}
