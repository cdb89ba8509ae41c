//! HAProxy with the shipped `deploy/haproxy.cfg` in front of three cluster nodes: its active
//! checks on `GET /health/ready` put every node in rotation; a drained node (ready answers 503)
//! leaves rotation by the checks alone; its players are told to reconnect, come back through
//! HAProxy to the other nodes with their token, resend their request and are charged once; new
//! sessions never reach the drained node. A node then killed with SIGKILL fails its checks
//! too, and its players move to the last node. Every balance is exact throughout. Players
//! come in over TLS; plain HTTP is only redirected. The shipped file also passes `haproxy -c`
//! as it is (its certificate path aside).

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const ADMIN_KEY: &str = "haproxy-test-admin-key-0123456789abcd";
const PLAYERS: usize = 6;
const STAKE: i64 = 100;
/// Longest the checks may take to notice a change (2 checks, 1 s apart, plus slack).
const CHECKS_NOTICE_WITHIN: Duration = Duration::from_secs(10);

/// Polls HAProxy until `node` is in `state` (the first word of its status); how long it took.
async fn wait_state(proxy: &Haproxy, node: &str, state: &str) -> Duration {
    let started = Instant::now();
    let mut states = Default::default();
    while started.elapsed() < CHECKS_NOTICE_WITHIN {
        states = proxy.server_states().await;
        if states
            .get(node)
            .is_some_and(|s| s.split_whitespace().next() == Some(state))
        {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{node} not {state} within {CHECKS_NOTICE_WITHIN:?}: {states:?}");
}

struct Player {
    token: String,
    client: Client,
    expected: i64,
}

/// One spin of `req_id`; a player whose connection is gone (or who is told to reconnect)
/// comes back through `lb` with the same token and resends the same `req_id`. Whether the
/// player had to move.
async fn spin(p: &mut Player, lb: &str, req_id: &str) -> bool {
    let frame = json!({"type": "spin", "req_id": req_id, "game": "classic_sevens", "bet": "1.00"});
    let mut moved = false;
    for _ in 0..5 {
        let mut reply = None;
        if p.client.ws_send(frame.clone()).await.is_ok() {
            while let Some(f) = p.client.try_recv().await {
                if f["req_id"] == req_id {
                    reply = Some(f);
                    break;
                }
                if f["type"] == "reconnect" {
                    assert_eq!(f["reason"], "node draining", "{f}");
                }
            }
        }
        match reply {
            Some(r) => {
                assert_eq!(r["type"], "spin_result", "{r}");
                p.expected += cents(r["win"].as_str().unwrap()) - STAKE;
                for w in r["jackpot_wins"].as_array().into_iter().flatten() {
                    p.expected += cents(w["amount"].as_str().unwrap());
                }
                assert_eq!(cents(r["balance"].as_str().unwrap()), p.expected, "{r}");
                return moved;
            }
            None => {
                moved = true;
                p.client = Client::connect_at(lb, &p.token).await;
            }
        }
    }
    panic!("no answer to {req_id} in 5 attempts");
}

async fn connections(node: &Server) -> f64 {
    metric(node, "croupier_websocket_connections").await
}

#[test]
fn the_shipped_haproxy_cfg_passes_haproxy_c() {
    // As shipped, but for the certificate path (the compose stack mounts one there).
    let ca = TestCa::new();
    let shipped = std::fs::read_to_string(repo_root().join("deploy/haproxy.cfg")).unwrap();
    let bundle = "/usr/local/etc/haproxy/tls/bundle.pem";
    assert!(shipped.contains(bundle), "the TLS bind names {bundle}");
    let cfg = ca.dir.path().join("haproxy.cfg");
    std::fs::write(
        &cfg,
        shipped.replace(bundle, &ca.files.bundle.display().to_string()),
    )
    .unwrap();
    let out = Command::new(Haproxy::binary())
        .args(["-c", "-f"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    // The node names only resolve inside the compose network: HAProxy starts without them.
    assert!(out.status.success(), "haproxy -c: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_checks_take_a_draining_node_out_and_its_players_move_on() {
    let Some(url) = pg_database("haproxy").await else {
        return;
    };
    let first = NodeConfig::shipped()
        .cluster(&ClusterLines::new(&url))
        .fast()
        .no_tables()
        .with(|c| c.auth.admin_key = ADMIN_KEY.into())
        .start();
    let dir = tempfile::tempdir().unwrap();
    let second = Server::spawn(&first.config, &dir.path().join("n2"));
    let third = Server::spawn(&first.config, &dir.path().join("n3"));
    let mut nodes = [first, second, third];
    let proxy = Haproxy::start(&nodes).await;
    for name in ["croupier1", "croupier2", "croupier3"] {
        wait_state(&proxy, name, "UP").await;
    }
    // Players come in over TLS only: plain HTTP is redirected and reaches no node.
    plain_http_is_only_redirected(&proxy.plain).await;
    let ready = http()
        .get(format!("{}/health/ready", proxy.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    // Players through HAProxy (leastconn: two per node); each spins once.
    let run = uuid_like();
    let mut players = Vec::new();
    for p in 0..PLAYERS {
        let session = open_session_at(&proxy.base, &format!("hap-{run}-{p}")).await;
        let client = Client::connect_at(&proxy.base, &session.token).await;
        players.push(Player {
            token: session.token,
            client,
            expected: cents(&session.balance),
        });
    }
    for (i, p) in players.iter_mut().enumerate() {
        assert!(!spin(p, &proxy.base, &format!("s1-{i}")).await);
    }
    let mut spread = Vec::new();
    for node in &nodes {
        spread.push(connections(node).await);
    }
    assert!(
        spread.iter().all(|&c| c > 0.0),
        "players on every node: {spread:?}"
    );
    let on_drained = spread[0] as usize;

    // Drain node 1: only the checks tell HAProxy (no one edits its config).
    let drain = reqwest::Client::new()
        .post(format!("{}/v1/admin/drain", nodes[0].admin))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(drain.status().as_u16(), 202);
    let noticed = wait_state(&proxy, "croupier1", "DOWN").await;
    eprintln!("HAProxy took croupier1 out of rotation {noticed:?} after the drain");
    let states = proxy.server_states().await;
    assert_eq!(states["croupier2"], "UP", "{states:?}");
    assert_eq!(states["croupier3"], "UP", "{states:?}");
    // The node closes its players' sockets; wait for that before they next ask.
    for _ in 0..100 {
        if connections(&nodes[0]).await == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        connections(&nodes[0]).await,
        0.0,
        "the drained node let its players go"
    );

    // Its players come back through HAProxy, resend, and are charged once; the others never
    // noticed.
    let mut moved = 0;
    for (i, p) in players.iter_mut().enumerate() {
        moved += usize::from(spin(p, &proxy.base, &format!("s2-{i}")).await);
    }
    assert_eq!(
        moved, on_drained,
        "exactly the drained node's players moved"
    );
    let others = connections(&nodes[1]).await + connections(&nodes[2]).await;
    assert_eq!(
        others, PLAYERS as f64,
        "every player is on the two other nodes"
    );

    // New players: HAProxy no longer sends anyone to the drained node.
    let mut newcomers = Vec::new();
    for p in 0..PLAYERS {
        let session = open_session_at(&proxy.base, &format!("hap-{run}-new-{p}")).await;
        let mut client = Client::connect_at(&proxy.base, &session.token).await;
        let pong = client.request(json!({"type": "ping", "req_id": "p"})).await;
        assert_eq!(pong["req_id"], "p", "{pong}");
        newcomers.push(client);
    }
    assert_eq!(
        connections(&nodes[0]).await,
        0.0,
        "no new player on the drained node"
    );
    let others = connections(&nodes[1]).await + connections(&nodes[2]).await;
    assert_eq!(
        others,
        (2 * PLAYERS) as f64,
        "{others} connections on the two other nodes"
    );

    // A node killed outright fails its checks too; its players move to the last node.
    drop(newcomers);
    // The newcomers' sockets close; count the killed node's players once they are gone.
    for _ in 0..100 {
        let left = connections(&nodes[1]).await + connections(&nodes[2]).await;
        if left == PLAYERS as f64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_killed = connections(&nodes[1]).await as usize;
    nodes[1].kill9();
    let noticed = wait_state(&proxy, "croupier2", "DOWN").await;
    eprintln!("HAProxy took the killed croupier2 out of rotation {noticed:?} after SIGKILL");
    let mut moved = 0;
    for (i, p) in players.iter_mut().enumerate() {
        moved += usize::from(spin(p, &proxy.base, &format!("s3-{i}")).await);
    }
    assert_eq!(moved, on_killed, "exactly the killed node's players moved");
    assert_eq!(
        connections(&nodes[2]).await,
        PLAYERS as f64,
        "every player is on the last node"
    );

    // Every balance, read again from whichever node each player is on, is exact.
    for p in players.iter_mut() {
        let reply: Value = p
            .client
            .request(json!({"type": "balance", "req_id": format!("b-{}", uuid_like())}))
            .await;
        assert_eq!(
            cents(reply["balance"].as_str().unwrap()),
            p.expected,
            "{reply}"
        );
    }
}
