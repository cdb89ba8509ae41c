//! Structured logs: with `log.format = "json"`, every log line of a round carries the session,
//! request and round ids, and no line ever contains a session token; the ledger checkpoint is
//! logged on its schedule with the digest `croupier heads` gives.

use crate::common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_round_and_session_ids_but_never_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::shipped()
        .with(|c| c.log.format = croupier::config::LogFormat::Json)
        .write(dir.path());
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Server::spawn_logged(
        &config,
        &dir.path().join("data"),
        log.into(),
        "croupier=debug,warn",
    );
    let session = open_session(&server, "log-lena").await;
    let mut client = Client::connect(&server, &session.token).await;
    let reply = client
        .request(
            json!({"type": "spin", "req_id": "log-1", "game": "classic_sevens", "bet": "1.00"}),
        )
        .await;
    let round_id = reply["round_id"].as_str().unwrap().to_string();
    drop(client);
    drop(server); // kills the process; the log file is complete for what was written

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !text.contains(&session.token),
        "a token leaked into the logs"
    );
    let settled: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "round settled")
        .collect();
    assert_eq!(settled.len(), 1, "{text}");
    let span = &settled[0]["span"];
    assert_eq!(span["round"], round_id.as_str());
    assert_eq!(span["req_id"], "log-1");
    assert_eq!(span["player"], session.player.as_str());
    assert!(span["session"].as_str().is_some_and(|s| !s.is_empty()));
}

/// The ledger's checkpoint on its schedule (`ledger.checkpoint_log_seconds`): a log line with
/// the digest of every chain's head, the same digest `croupier heads` gives for that state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_checkpoint_is_logged_with_the_digest_croupier_heads_gives() {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::shipped()
        .no_tables()
        .with(|c| {
            c.log.format = croupier::config::LogFormat::Json;
            c.ledger.checkpoint_log_seconds = 1;
        })
        .write(dir.path());
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Server::spawn_logged(
        &config,
        &dir.path().join("data"),
        log.into(),
        "croupier=info,warn",
    );
    let session = open_session(&server, "log-cora").await;
    let mut client = Client::connect(&server, &session.token).await;
    let reply = client
        .request(json!({"type": "spin", "req_id": "c-1", "game": "classic_sevens", "bet": "1.00"}))
        .await;
    assert_eq!(reply["type"], "spin_result", "{reply}");
    drop(client);
    let checkpoints = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&log_path)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == "ledger chain checkpoint")
            .map(|v| v["fields"].clone())
            .collect()
    };
    // Two more checkpoints after the spin: the last one is of the ledger as it now stays.
    let seen = checkpoints().len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while checkpoints().len() < seen + 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint logged in 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let last = checkpoints().pop().unwrap();
    assert!(
        last["links"].as_i64().unwrap() >= 3,
        "the deposit, the bet and the round: {last}"
    );
    assert_eq!(server.sigterm().code(), Some(0));
    let (ok, heads, err) = server.command(&["heads"]);
    assert!(ok, "{err}");
    let heads: serde_json::Value = serde_json::from_str(&heads).unwrap();
    assert_eq!(last["digest"], heads["digest"], "{last} vs {heads}");
    assert_eq!(
        last["chains"].as_u64(),
        heads["heads"].as_array().map(|h| h.len() as u64)
    );
}
