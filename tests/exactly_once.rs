//! Exactly once, at both layers: a resent `req_id` gets the first reply byte for byte and is
//! never charged again — on the same connection, after a reconnect, while the first is still
//! in flight, and after a server restart (when only the ledger remembers). The same `req_id`
//! with other details is another request and is refused (`duplicate_request`); reads, which
//! move nothing, run again.

use crate::common;

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

async fn raw_reply(client: &mut Client) -> String {
    loop {
        let message = tokio::time::timeout(REPLY_TIMEOUT, client.ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return text.to_string();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_req_ids_replay_and_never_charge_twice() {
    let mut server = NodeConfig::shipped().fast().start();
    let session = open_session(&server, "once-frank").await;
    let mut client = Client::connect(&server, &session.token).await;
    let spin =
        json!({"type": "spin", "req_id": "spin-1", "game": "starfall", "bet": "2.00"}).to_string();

    client.send_text(&spin).await;
    let first = raw_reply(&mut client).await;
    let first_json: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first_json["type"], "spin_result", "{first}");
    let after_first = first_json["balance"].as_str().unwrap().to_string();

    // Same connection.
    client.send_text(&spin).await;
    assert_eq!(raw_reply(&mut client).await, first);
    // Different details under the same req_id are another request: refused, nothing runs.
    let other =
        json!({"type": "spin", "req_id": "spin-1", "game": "classic_sevens", "bet": "5.00"})
            .to_string();
    client.send_text(&other).await;
    let refused: serde_json::Value = serde_json::from_str(&raw_reply(&mut client).await).unwrap();
    assert_eq!(refused["code"], "duplicate_request", "{refused}");
    assert_eq!(refused["req_id"], "spin-1");
    assert_eq!(client.balance().await, after_first);

    // Pipelined: the resend arrives while the first is in flight.
    let spin2 =
        json!({"type": "spin", "req_id": "spin-2", "game": "starfall", "bet": "2.00"}).to_string();
    client.send_text(&spin2).await;
    client.send_text(&spin2).await;
    let a = raw_reply(&mut client).await;
    let b = raw_reply(&mut client).await;
    assert_eq!(a, b);

    // After a reconnect, also from a second simultaneous connection.
    drop(client);
    let mut again = Client::connect(&server, &session.token).await;
    again.send_text(&spin).await;
    assert_eq!(raw_reply(&mut again).await, first);
    let history = again
        .request(json!({"type": "history", "req_id": "h1"}))
        .await;
    assert_eq!(history["rounds"].as_array().unwrap().len(), 2, "{history}");
    let balance_before_restart = again.balance().await;
    drop(again);

    // After a restart the reply cache is gone; the ledger still knows the round.
    server.sigterm();
    let restarted = Server::spawn(&server.config, &server.data_dir);
    let mut client = Client::connect(&restarted, &session.token).await;
    client.send_text(&spin).await;
    let replay: serde_json::Value = serde_json::from_str(&raw_reply(&mut client).await).unwrap();
    assert_eq!(replay["type"], "spin_result", "{replay}");
    assert_eq!(replay["round_id"], first_json["round_id"]);
    assert_eq!(replay["win"], first_json["win"]);
    assert_eq!(replay["balance"], first_json["balance"]);
    assert_eq!(replay["outcome"], first_json["outcome"]);
    assert_eq!(client.balance().await, balance_before_restart);
    let history = client
        .request(json!({"type": "history", "req_id": "h2"}))
        .await;
    assert_eq!(history["rounds"].as_array().unwrap().len(), 2);
    let (ok, report) = restarted.audit();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_run_again_and_refusals_replay() {
    let server = NodeConfig::shipped().fast().start();
    let session = open_session(&server, "once-gina").await;
    let mut client = Client::connect(&server, &session.token).await;
    let ping = json!({"type": "ping", "req_id": "p"}).to_string();
    client.send_text(&ping).await;
    let first = raw_reply(&mut client).await;
    assert!(first.contains("pong"), "{first}");
    std::thread::sleep(std::time::Duration::from_millis(5));
    // A read moves nothing: resent, it simply runs again (a fresh server_time).
    client.send_text(&ping).await;
    let second = raw_reply(&mut client).await;
    assert!(second.contains("pong") && second != first, "{second}");
    // An error reply is final too: the resend gets the same error and still runs nothing.
    let bad =
        json!({"type": "spin", "req_id": "e", "game": "starfall", "bet": "5000.00"}).to_string();
    client.send_text(&bad).await;
    let err = raw_reply(&mut client).await;
    assert!(err.contains("bet_out_of_limits"), "{err}");
    client.send_text(&bad).await;
    assert_eq!(raw_reply(&mut client).await, err);
}
