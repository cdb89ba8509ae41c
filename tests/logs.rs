//! Structured logs: with `log.format = "json"`, every log line of a round carries the session,
//! request and round ids, and no line ever contains a session token.

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
