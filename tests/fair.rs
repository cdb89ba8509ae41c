//! Provably fair play end to end (docs/fairness.md), on the real binary over a real WebSocket
//! and HTTP: a player sees the commitment, sets a client seed, plays 1,000 rounds, rotates
//! (which reveals the seed), and every round verifies against it through
//! `GET /v1/fair/rounds/{id}`; a forged seed fails `croupier verify`; bad client seeds and
//! players not offered the mode are refused with nothing changed.

use crate::common;

use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ROUNDS: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_verifies_a_thousand_rounds_after_a_rotation_and_a_forged_seed_fails() {
    let server = NodeConfig::shipped()
        .fast()
        .no_tables()
        .with(|c| c.games.provably_fair_demo = true)
        .start();
    let session = open_session(&server, "fair").await;
    let mut client = Client::connect(&server, &session.token).await;

    // Bad client seeds: a clear error, and the seed in force is untouched.
    let before = client
        .request(json!({"type": "fair_seed", "req_id": "f0"}))
        .await;
    assert_eq!(before["type"], "fair_seed", "{before}");
    for (i, bad) in [
        json!("a:b"),
        json!(""),
        json!("x".repeat(65)),
        json!("é"),
        json!(7),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = client
            .request(
                json!({"type": "rotate_seed", "req_id": format!("bad{i}"), "client_seed": bad}),
            )
            .await;
        assert_eq!(reply["code"], "bad_client_seed", "{bad}: {reply}");
    }
    let same = client
        .request(json!({"type": "fair_seed", "req_id": "f1"}))
        .await;
    assert_eq!(
        same["seed"], before["seed"],
        "a refused rotation changed nothing"
    );

    // Set our own client seed (this reveals the unplayed first seed), then play.
    let set = client
        .request(json!({"type": "rotate_seed", "req_id": "f2", "client_seed": "my-lucky-seed"}))
        .await;
    assert_eq!(set["type"], "seed_rotated", "{set}");
    assert_eq!(set["revealed"]["rounds"], 0);
    let seed = set["seed"].clone();
    assert_eq!(seed["client_seed"], "my-lucky-seed");
    assert_eq!(seed["next_nonce"], 0);
    let commitment = seed["commitment"].as_str().unwrap().to_string();

    let mut rounds = Vec::new();
    for i in 0..ROUNDS {
        let reply = client
            .request(json!({"type": "spin", "req_id": format!("s{i}"), "game": "starfall", "bet": "0.40"}))
            .await;
        assert_eq!(reply["type"], "spin_result", "{reply}");
        let proof = &reply["outcome"]["fair"];
        assert_eq!(proof["commitment"], commitment.as_str(), "{reply}");
        assert_eq!(proof["client_seed"], "my-lucky-seed");
        let nonce = proof["nonce"].as_i64().unwrap();
        rounds.push((
            reply["round_id"].as_str().unwrap().to_string(),
            nonce,
            reply,
        ));
    }
    // Free spins take their own nonces: every nonce of the seed is one round, in order.
    let nonces: Vec<i64> = rounds.iter().map(|r| r.1).collect();
    assert_eq!(nonces, (0..ROUNDS as i64).collect::<Vec<_>>());

    // Before the reveal nothing can be verified, and the seed is not shown.
    let http = reqwest::Client::new();
    let url = |id: &str| format!("{}/v1/fair/rounds/{id}", server.base);
    let early = http.get(url(&rounds[0].0)).send().await.unwrap();
    assert_eq!(early.status(), 409);
    let early: Value = early.json().await.unwrap();
    assert_eq!(early["code"], "seed_not_revealed", "{early}");

    let rotated = client
        .request(json!({"type": "rotate_seed", "req_id": "f3"}))
        .await;
    assert_eq!(rotated["type"], "seed_rotated", "{rotated}");
    let revealed = &rotated["revealed"];
    assert_eq!(revealed["rounds"], ROUNDS as i64);
    assert_eq!(revealed["commitment"], commitment.as_str());
    let server_seed = revealed["server_seed"].as_str().unwrap().to_string();
    let digest = hex::encode(Sha256::digest(hex::decode(&server_seed).unwrap()));
    assert_eq!(
        digest, commitment,
        "the revealed seed is the one committed to"
    );
    assert_ne!(rotated["seed"]["commitment"], commitment.as_str());

    for (id, nonce, reply) in &rounds {
        let verdict: Value = http
            .get(url(id))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(verdict["verified"], true, "{verdict}");
        assert_eq!(verdict["nonce"], *nonce);
        assert_eq!(verdict["server_seed"], server_seed.as_str());
        assert_eq!(verdict["stops"], reply["outcome"]["stops"], "{verdict}");
        assert_eq!(verdict["win"], reply["win"]);
    }

    // The operator's command verifies from the ledger; a forged seed fails it.
    let (ok, out, err) = server.command(&["verify", &rounds[7].0]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("verified"), "{out}");
    let forged = format!("{:064x}", 0xdead_beef_u64);
    let (ok, out, err) = server.command(&["verify", &rounds[7].0, "--server-seed", &forged]);
    assert!(!ok, "a forged seed must fail: {out}{err}");
    assert!(
        out.contains("commitment_matches: false") || err.contains("commitment"),
        "{out}{err}"
    );

    // Unknown and malformed round ids.
    let unknown = http
        .get(url("0193a5c4-8b00-7c11-a2b3-000000000001"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad = http.get(url("not%20an%20id")).send().await.unwrap();
    assert_eq!(bad.status(), 400);

    drop(client);
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_not_offered_the_mode_gets_a_clear_error_and_ordinary_rounds() {
    let server = NodeConfig::shipped().fast().no_tables().start();
    let session = open_session(&server, "not-fair").await;
    let mut client = Client::connect(&server, &session.token).await;
    for frame in [
        json!({"type": "fair_seed", "req_id": "a"}),
        json!({"type": "rotate_seed", "req_id": "b", "client_seed": "x"}),
    ] {
        let reply = client.request(frame).await;
        assert_eq!(reply["code"], "fair_not_offered", "{reply}");
    }
    let spin = client
        .request(json!({"type": "spin", "req_id": "s", "game": "starfall", "bet": "0.40"}))
        .await;
    assert_eq!(spin["type"], "spin_result", "{spin}");
    assert!(spin["outcome"].get("fair").is_none(), "{spin}");
    let http = reqwest::Client::new();
    let id = spin["round_id"].as_str().unwrap();
    let reply = http
        .get(format!("{}/v1/fair/rounds/{id}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404, "an ordinary round is not a fair one");
}
