//! What an operator reads back and undoes: statements, a round's recall, `croupier replay`, and
//! the void of an open round.

use serde_json::json;

use super::*;
use crate::common::*;

/// `croupier replay ROUND` on the node's ledger: whether it matched, and what it printed.
pub(crate) fn replay(server: &Server, round: &str) -> (bool, String) {
    let (ok, stdout, stderr) = server.command(&["replay", round]);
    (ok, format!("{stdout}{stderr}"))
}

/// Places 5.00 on red at roulette_1 (waiting out a closed betting window); the bet's id.
async fn place_red(client: &mut Client) -> String {
    for _ in 0..100 {
        let req = format!("tb-{}", uuid_like());
        client
            .send(
                json!({"type": "table_bet", "req_id": req, "table": "roulette_1",
                         "kind": "red", "amount": "5.00"}),
            )
            .await;
        // Table pushes arrive in between: the answer is the frame that echoes this req_id.
        let r = loop {
            let frame = client.recv().await;
            if frame["req_id"] == req.as_str() {
                break frame;
            }
        };
        if r["type"] == "bet_accepted" {
            return r["bet_id"].as_str().unwrap().to_string();
        }
        if r["code"] == "betting_closed" {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    panic!("no bet accepted in 100 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_page_recalls_replay_and_an_open_round_is_voided_once() {
    let brands = Brands::new();
    let server = NodeConfig::shipped()
        .fast()
        .tables(&fast_tables(4))
        .shipped_jackpots()
        .operators(&brands.file(""))
        .start();
    let (key, rival) = (brands.house.key.as_str(), brands.rival.key.as_str());
    assert_eq!(
        transfer(
            &server,
            key,
            "hal",
            "deposits",
            money("h1", "100.00", "EUR")
        )
        .await
        .status,
        201
    );
    let session = operator_session(&server, key, "hal", "EUR").await;
    let mut hal = Client::connect(&server, &session.token).await;
    let mut rounds = Vec::new();
    // A scatter may award free spins: the spins after it are free (no bet line), so the bets
    // the statement must hold are the paid spins.
    let mut paid = 0;
    for i in 0..12 {
        let r = hal
            .request(json!({"type": "spin", "req_id": format!("s{i}"), "game": "starfall", "bet": "1.00"}))
            .await;
        assert_eq!(r["type"], "spin_result", "{r}");
        if r["free_spin"] == false {
            paid += 1;
        }
        rounds.push((
            r["round_id"].as_str().unwrap().to_string(),
            r["win"].as_str().unwrap().to_string(),
        ));
    }
    // The statement: every entry once, in order, a page of 5 at a time.
    let mut lines = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let query = match &cursor {
            Some(c) => format!("?limit=5&cursor={c}"),
            None => "?limit=5".into(),
        };
        let r = call(
            &server,
            key,
            "GET",
            &format!("/v1/operator/players/hal/statement{query}"),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{r:?}");
        lines.extend(r.body["lines"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let bets = lines.iter().filter(|l| l["kind"] == "bet").count();
    assert_eq!(
        (lines[0]["kind"].as_str(), bets),
        (Some("deposit"), paid),
        "{lines:?}"
    );
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "stable order, no line twice: {seqs:?}"
    );
    assert!(lines
        .iter()
        .filter(|l| l["kind"] == "bet")
        .all(|l| l["game"] == "starfall"));
    // A window before anything happened is empty; bad windows and cursors are refused.
    let r = call(
        &server,
        key,
        "GET",
        "/v1/operator/players/hal/statement?to=1",
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body["lines"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    for bad in [
        "?from=5&to=5",
        "?limit=0",
        "?limit=501",
        "?cursor=42",
        "?from=x",
        "?page=2",
    ] {
        let r = call(
            &server,
            key,
            "GET",
            &format!("/v1/operator/players/hal/statement{bad}"),
            None,
        )
        .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("bad_request")),
            "{bad}: {r:?}"
        );
    }
    let r = call(
        &server,
        rival,
        "GET",
        "/v1/operator/players/hal/statement",
        None,
    )
    .await;
    assert_eq!(r.status, 404, "another operator's player: {r:?}");
    // Recall: the whole round, its draws, its entries; and the replay agrees with it.
    let (round_id, win) = &rounds[0];
    let r = call(
        &server,
        key,
        "GET",
        &format!("/v1/operator/rounds/{round_id}"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let stops = r.body["draws"]["reel_stops"].as_array().unwrap();
    assert_eq!(stops.len(), 5, "{}", r.body);
    // starfall feeds the shipped pool: every level's draw is kept, the mystery values too, each
    // deciding exactly what the round was given.
    let jackpot = r.body["draws"]["jackpot"]
        .as_array()
        .unwrap_or_else(|| panic!("no jackpot draws: {}", r.body));
    assert_eq!(jackpot.len(), 3, "one draw per level: {}", r.body);
    let mut mysteries = 0;
    for level in jackpot {
        let Some(m) = level.get("mystery") else {
            continue;
        };
        mysteries += 1;
        let (drawn, numerator, denominator) = (
            m["drawn"].as_u64().unwrap(),
            m["numerator"].as_u64().unwrap(),
            m["denominator"].as_u64().unwrap(),
        );
        assert!(drawn < denominator, "{level}");
        assert_eq!(
            level["mystery_hit"].as_bool(),
            Some(drawn < numerator),
            "{level}"
        );
    }
    assert!(
        mysteries >= 2,
        "the shipped pool has two mystery levels: {jackpot:?}"
    );
    assert_eq!(
        (r.body["status"].as_str(), r.body["win"].as_str()),
        (Some("settled"), Some(win.as_str()))
    );
    assert_eq!(r.body["entries"][0]["kind"], "bet");
    assert_eq!(
        r.body["entries"][0]["amount"], "-1.00",
        "a debit is signed: {}",
        r.body
    );
    assert!(
        r.body["node"].is_string() && r.body["settled_at_ms"].is_i64(),
        "{}",
        r.body
    );
    for (round_id, _) in &rounds {
        let (ok, text) = replay(&server, round_id);
        assert!(
            ok && text.contains("replays to its stored outcome"),
            "{text}"
        );
    }
    let (ok, text) = replay(&server, "0190a5c4-9000-7000-8000-000000000000");
    assert!(!ok && text.contains("no round"), "{text}");
    for (who, path) in [
        (rival, format!("/v1/operator/rounds/{round_id}")),
        (
            key,
            "/v1/operator/rounds/0190a5c4-9000-7000-8000-000000000000".to_string(),
        ),
    ] {
        let r = call(&server, who, "GET", &path, None).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (404, Some("unknown_round")),
            "{path}: {r:?}"
        );
    }
    let r = call(
        &server,
        key,
        "GET",
        "/v1/operator/rounds/not%20a%20round",
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    // A settled round cannot be voided.
    let r = call(
        &server,
        key,
        "POST",
        &format!("/v1/operator/rounds/{round_id}/void"),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("round_not_open")),
        "{r:?}"
    );
    // A table bet is open until its round ends: voided, it is refunded once, and the round's
    // end pays nothing on it.
    let balance_before = hal.balance().await;
    let state = hal
        .request(json!({"type": "join_table", "req_id": "j", "table": "roulette_1"}))
        .await;
    assert_eq!(state["type"], "table_state", "{state}");
    let bet_id = place_red(&mut hal).await;
    let void = format!("/v1/operator/rounds/{bet_id}/void");
    let r = call(&server, rival, "POST", &void, None).await;
    assert_eq!(r.status, 404, "not rival's: {r:?}");
    let first = call(&server, key, "POST", &void, None).await;
    assert_eq!(
        (first.status, first.replayed, first.body["status"].as_str()),
        (200, false, Some("void")),
        "{first:?}"
    );
    let kinds: Vec<&str> = first.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["bet", "refund"]);
    let again = call(&server, key, "POST", &void, None).await;
    assert_eq!(
        (again.status, again.replayed, &again.body),
        (200, true, &first.body)
    );
    // Wait for the table round to end, then the books: the bet came back once, nothing more.
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    assert_eq!(
        balance(&server, key, "hal").await.body["balance"],
        balance_before.as_str()
    );
    let r = call(
        &server,
        key,
        "GET",
        &format!("/v1/operator/rounds/{bet_id}"),
        None,
    )
    .await;
    assert_eq!(r.body["entries"].as_array().unwrap().len(), 2, "{}", r.body);
    let (ok, report) = server.reconcile();
    assert!(ok, "{report}");
}
