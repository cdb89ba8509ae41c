//! Live tables against the real server: several real WebSocket clients at one table see the
//! same rounds and results; settlements match the rules and the ledger; late and bad bets are
//! refused and change nothing; void rounds (shutdown, kill -9) refund every bet exactly once.

use crate::common;

use std::collections::HashMap;

use common::*;
use serde_json::{json, Value};

async fn wait_type(client: &mut Client, kind: &str) -> Value {
    wait_for(client, kind, |f| f["type"] == kind).await
}

/// The balance, skipping any table pushes that arrive before the reply.
async fn balance(client: &mut Client) -> String {
    let reply = ask(
        client,
        json!({"type": "balance", "req_id": format!("bal-{}", uuid_like())}),
    )
    .await;
    assert_eq!(reply["type"], "balance", "{reply}");
    reply["balance"].as_str().unwrap().to_string()
}

fn bet(req: &str, table: &str, kind: &str, numbers: &[u8], amount: &str) -> Value {
    json!({"type": "table_bet", "req_id": req, "table": table, "kind": kind,
           "numbers": numbers, "amount": amount})
}

const RED: [i64; 18] = [
    1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36,
];

/// What a roulette bet returns in cents, worked out here independently of the server's rules.
fn roulette_return(kind: &str, numbers: &[i64], stake: i64, pocket: i64) -> i64 {
    let (wins, pays) = match kind {
        "straight" => (numbers[0] == pocket, 35),
        "red" => (RED.contains(&pocket), 1),
        "black" => (pocket != 0 && !RED.contains(&pocket), 1),
        "even" => (pocket != 0 && pocket % 2 == 0, 1),
        "dozen" => (
            (numbers[0] - 1) * 12 < pocket && pocket <= numbers[0] * 12,
            2,
        ),
        "column" => (pocket != 0 && (pocket - 1) % 3 == numbers[0] - 1, 2),
        other => panic!("no hand rule for {other}"),
    };
    if wins {
        stake * (pays + 1)
    } else {
        0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tables_video_stream_is_listed_and_in_the_join_reply() {
    const STREAM: &str = "https://video.example.com/live/roulette_1.m3u8";
    let tables = fast_tables(3).replacen(
        "max_seats = 0",
        &format!("max_seats = 0\nstream_url = \"{STREAM}\""),
        1,
    );
    let server = NodeConfig::shipped().fast().tables(&tables).start();
    let listed = get_json(&server, "/v1/tables").await;
    for table in listed["tables"].as_array().unwrap() {
        match table["id"].as_str().unwrap() {
            "roulette_1" => assert_eq!(table["stream_url"], STREAM, "{table}"),
            _ => assert!(
                table.get("stream_url").is_none(),
                "no stream, no key: {table}"
            ),
        }
    }
    let mut client = seated(&server, "stream-watcher", "roulette_1").await;
    let again = ask(
        &mut client,
        json!({"type": "join_table", "req_id": "join-again", "table": "roulette_1"}),
    )
    .await;
    assert_eq!(again["table"]["stream_url"], STREAM, "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seated_player_sees_the_same_round_and_is_paid_by_the_rules() {
    let server = NodeConfig::shipped().fast().tables(&fast_tables(3)).start();
    let table = "roulette_1";
    let mut clients = Vec::new();
    for p in 0..3 {
        clients.push(seated(&server, &format!("rt-{p}"), table).await);
    }
    // GET /v1/tables lists the table with its three seated players.
    let listed = get_json(&server, "/v1/tables").await;
    let row = listed["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == table)
        .unwrap()
        .clone();
    assert_eq!(row["seated"], 3, "{row}");
    assert_eq!(row["game"], "european_roulette");

    // Everyone waits for the same fresh round (its countdown reaches every seat), then bets.
    let round_id =
        wait_for(&mut clients[0], "betting_open", fresh_betting_open).await["round_id"].clone();
    for c in clients.iter_mut().skip(1) {
        wait_for(c, "the same round", |f| f["round_id"] == round_id).await;
    }
    let plan: Vec<Vec<(&str, Vec<u8>, &str)>> = vec![
        vec![("straight", vec![17], "1.00"), ("red", vec![], "2.00")],
        vec![("dozen", vec![2], "3.00"), ("column", vec![1], "1.00")],
        vec![("even", vec![], "5.00"), ("black", vec![], "4.00")],
    ];
    /// Each player's accepted bets: bet id → (kind, numbers, stake in cents).
    type Accepted = HashMap<String, (String, Vec<u8>, i64)>;
    let mut accepted: Vec<Accepted> = Vec::new();
    for (p, c) in clients.iter_mut().enumerate() {
        let mut mine = HashMap::new();
        for (i, (kind, numbers, amount)) in plan[p].iter().enumerate() {
            let reply = ask(c, bet(&format!("b{p}-{i}"), table, kind, numbers, amount)).await;
            assert_eq!(reply["type"], "bet_accepted", "{reply}");
            assert_eq!(reply["round_id"], round_id);
            mine.insert(
                reply["bet_id"].as_str().unwrap().to_string(),
                (kind.to_string(), numbers.clone(), cents(amount)),
            );
        }
        accepted.push(mine);
    }
    // Same outcome for everyone; each player's own settlements follow the rules.
    let mut pockets = Vec::new();
    for (p, c) in clients.iter_mut().enumerate() {
        let result = wait_type(c, "round_result").await;
        assert_eq!(result["round_id"], round_id, "{result}");
        let pocket = result["result"]["pocket"].as_i64().unwrap();
        pockets.push(pocket);
        let mut returned_total = 0;
        let mut staked_total = 0;
        for _ in 0..accepted[p].len() {
            let settled = wait_type(c, "bet_settled").await;
            let (kind, numbers, stake) = &accepted[p][settled["bet_id"].as_str().unwrap()];
            let numbers: Vec<i64> = numbers.iter().map(|&n| i64::from(n)).collect();
            let expected = roulette_return(kind, &numbers, *stake, pocket);
            assert_eq!(
                cents(settled["returned"].as_str().unwrap()),
                expected,
                "{settled}"
            );
            returned_total += expected;
            staked_total += stake;
        }
        let summary = wait_type(c, "round_settled").await;
        assert_eq!(summary["round_id"], round_id);
        assert_eq!(summary["bets"], 6, "{summary}");
        let balance = balance(c).await;
        assert_eq!(cents(&balance), 100_000 - staked_total + returned_total);
        // The ledger holds each bet as a settled round of this table, linked to the round.
        let history = ask(c, json!({"type": "history", "req_id": "h", "limit": 10})).await;
        let rounds = history["rounds"].as_array().unwrap();
        assert_eq!(rounds.len(), accepted[p].len(), "{history}");
        for r in rounds {
            assert_eq!(r["game"], table);
            assert_eq!(r["status"], "settled");
            assert_eq!(r["outcome"]["table_round"], round_id);
            assert_eq!(r["outcome"]["result"]["pocket"], pocket);
            let (kind, numbers, stake) = &accepted[p][r["round_id"].as_str().unwrap()];
            let numbers: Vec<i64> = numbers.iter().map(|&n| i64::from(n)).collect();
            assert_eq!(
                cents(r["win"].as_str().unwrap()),
                roulette_return(kind, &numbers, *stake, pocket)
            );
        }
    }
    assert!(pockets.windows(2).all(|w| w[0] == w[1]), "{pockets:?}");
    // The next round has a new, larger id (time-ordered).
    let next = wait_type(&mut clients[0], "betting_open").await;
    assert!(next["round_id"].as_str().unwrap() > round_id.as_str().unwrap());
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
}

/// Independent baccarat settlement in cents: (winner, pairs) from the public result.
fn baccarat_return(kind: &str, stake: i64, result: &Value) -> i64 {
    let winner = result["winner"].as_str().unwrap();
    let pair = |hand: &str| {
        let cards = result[hand].as_array().unwrap();
        cards[0]["rank"] == cards[1]["rank"]
    };
    match kind {
        "player" if winner == "player" => stake * 2,
        "banker" if winner == "banker" => stake + stake * 95 / 100,
        "player" | "banker" if winner == "tie" => stake,
        "tie" if winner == "tie" => stake * 9,
        "player_pair" if pair("player_cards") => stake * 12,
        "banker_pair" if pair("banker_cards") => stake * 12,
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baccarat_rounds_deal_by_the_rules_and_settle_every_bet_kind() {
    let server = NodeConfig::shipped().fast().tables(&fast_tables(2)).start();
    let table = "baccarat_1";
    let mut c = seated(&server, "bac-0", table).await;
    let mut staked = 0;
    let mut returned = 0;
    for round in 0..2 {
        let open = wait_for(&mut c, "betting_open", fresh_betting_open).await;
        let mut mine = HashMap::new();
        for (i, (kind, amount)) in [
            ("player", "10.00"),
            ("banker", "10.10"),
            ("tie", "1.00"),
            ("player_pair", "1.00"),
            ("banker_pair", "1.00"),
        ]
        .into_iter()
        .enumerate()
        {
            let reply = ask(
                &mut c,
                bet(&format!("r{round}-{i}"), table, kind, &[], amount),
            )
            .await;
            assert_eq!(reply["type"], "bet_accepted", "{reply}");
            assert_eq!(reply["round_id"], open["round_id"]);
            mine.insert(
                reply["bet_id"].as_str().unwrap().to_string(),
                (kind, cents(amount)),
            );
            staked += cents(amount);
        }
        let result = wait_type(&mut c, "round_result").await["result"].clone();
        let (p, b) = (
            result["player_cards"].as_array().unwrap().len(),
            result["banker_cards"].as_array().unwrap().len(),
        );
        assert!((2..=3).contains(&p) && (2..=3).contains(&b), "{result}");
        for _ in 0..mine.len() {
            let settled = wait_type(&mut c, "bet_settled").await;
            let (kind, stake) = mine[settled["bet_id"].as_str().unwrap()];
            let expected = baccarat_return(kind, stake, &result);
            assert_eq!(
                cents(settled["returned"].as_str().unwrap()),
                expected,
                "{kind} {result}"
            );
            returned += expected;
        }
    }
    assert_eq!(cents(&balance(&mut c).await), 100_000 - staked + returned);
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_bet_is_refused_and_changes_nothing() {
    let server = NodeConfig::shipped().fast().tables(&fast_tables(2)).start();
    let table = "roulette_1";
    let mut c = seated(&server, "late-0", table).await;
    let before = balance(&mut c).await;
    wait_type(&mut c, "betting_closed").await;
    let reply = ask(&mut c, bet("late", table, "red", &[], "1.00")).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "betting_closed", "{reply}");
    assert_eq!(balance(&mut c).await, before);
    let history = ask(&mut c, json!({"type": "history", "req_id": "h"})).await;
    assert_eq!(history["rounds"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_table_requests_get_clear_errors_and_change_nothing() {
    let server = NodeConfig::shipped()
        .fast()
        .tables(&fast_tables(30))
        .start();
    let table = "roulette_1";
    let session = open_session(&server, "bad-tab").await;
    let mut c = Client::connect(&server, &session.token).await;
    // Not seated yet: betting is refused.
    let reply = ask(&mut c, bet("ns", table, "red", &[], "1.00")).await;
    assert_eq!(reply["code"], "not_seated", "{reply}");
    let reply = ask(
        &mut c,
        json!({"type": "leave_table", "req_id": "l0", "table": table}),
    )
    .await;
    assert_eq!(reply["code"], "not_seated", "{reply}");
    let state = ask(
        &mut c,
        json!({"type": "join_table", "req_id": "j", "table": table}),
    )
    .await;
    assert_eq!(state["type"], "table_state");
    let before = balance(&mut c).await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"type": "join_table", "req_id": "x1", "table": "craps_9"}),
            "unknown_table",
        ),
        (json!({"type": "join_table", "req_id": "x2"}), "bad_frame"),
        (
            json!({"type": "join_table", "req_id": "x3", "table": 7}),
            "bad_frame",
        ),
        (bet("x4", "nope", "red", &[], "1.00"), "unknown_table"),
        (bet("x5", table, "basket", &[], "1.00"), "bad_bet"),
        (bet("x6", table, "split", &[1, 5], "1.00"), "bad_bet"),
        (bet("x7", table, "straight", &[37], "1.00"), "bad_bet"),
        (bet("x8", table, "straight", &[], "1.00"), "bad_bet"),
        (bet("x9", table, "red", &[1], "1.00"), "bad_bet"),
        (bet("x10", table, "banker", &[], "1.00"), "bad_bet"),
        (
            bet("x11", table, "straight", &[7], "100.01"),
            "bet_out_of_limits",
        ),
        (bet("x12", table, "red", &[], "0.50"), "bet_out_of_limits"),
        (bet("x13", table, "red", &[], "1.001"), "bad_amount"),
        (bet("x14", table, "red", &[], "-1.00"), "bad_amount"),
        (bet("x15", table, "red", &[], "0"), "bad_amount"),
        (bet("x16", table, "red", &[], "abc"), "bad_amount"),
        (
            bet("x17", table, "red", &[], "2000000.00"),
            "bet_out_of_limits",
        ),
        (
            json!({"type": "table_bet", "req_id": "x18", "table": table, "kind": "red", "amount": 1.0}),
            "bad_amount",
        ),
        (
            json!({"type": "table_bet", "req_id": "x19", "table": table, "kind": "red"}),
            "bad_amount",
        ),
        (
            json!({"type": "table_bet", "req_id": "x20", "table": table, "kind": "straight", "numbers": [-1], "amount": "1.00"}),
            "bad_bet",
        ),
        (
            json!({"type": "table_bet", "req_id": "x21", "table": table, "kind": "straight", "numbers": [300], "amount": "1.00"}),
            "bad_bet",
        ),
        (
            json!({"type": "table_bet", "req_id": "x22", "table": table, "kind": "straight", "numbers": "7", "amount": "1.00"}),
            "bad_bet",
        ),
        (
            json!({"type": "table_bet", "req_id": "x23", "table": table, "kind": "six_line", "numbers": [1,2,3,4,5,6,7], "amount": "1.00"}),
            "bad_bet",
        ),
        (
            json!({"type": "table_bet", "req_id": "x24", "table": table, "kind": "red", "amount": "1.00", "seat": 3}),
            "bad_frame",
        ),
        (
            json!({"type": "table_bet", "req_id": "x25", "table": table, "kind": 5, "amount": "1.00"}),
            "bad_frame",
        ),
        (
            bet("x26", table, "red", &[], "5000.00"),
            "bet_out_of_limits",
        ),
        (
            json!({"type": "leave_table", "req_id": "x27", "table": "craps_9"}),
            "unknown_table",
        ),
    ];
    let tried = cases.len();
    for (frame, code) in cases {
        let reply = ask(&mut c, frame.clone()).await;
        assert_eq!(reply["type"], "error", "{frame} -> {reply}");
        assert_eq!(reply["code"], code, "{frame} -> {reply}");
        assert!(!reply["message"].as_str().unwrap().is_empty());
    }
    // More than the balance: refused by the wallet.
    let poor = open_session(&server, "bad-tab-poor").await;
    let mut p = Client::connect(&server, &poor.token).await;
    ask(
        &mut p,
        json!({"type": "join_table", "req_id": "j", "table": table}),
    )
    .await;
    for i in 0..5 {
        let reply = ask(&mut p, bet(&format!("big{i}"), table, "red", &[], "200.00")).await;
        assert_eq!(reply["type"], "bet_accepted", "{reply}");
    }
    let reply = ask(&mut p, bet("big5", table, "red", &[], "1.00")).await;
    assert_eq!(reply["code"], "insufficient_funds", "{reply}");
    // A player in another currency cannot bet at a EUR table.
    let usd = reqwest::Client::new()
        .post(format!("{}/v1/sessions", server.base))
        .json(&json!({"currency": "USD"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let mut u = Client::connect(&server, usd["token"].as_str().unwrap()).await;
    ask(
        &mut u,
        json!({"type": "join_table", "req_id": "j", "table": table}),
    )
    .await;
    let reply = ask(&mut u, bet("usd", table, "red", &[], "1.00")).await;
    assert_eq!(reply["code"], "wrong_currency", "{reply}");
    // Nothing above moved money or opened a round.
    assert_eq!(balance(&mut c).await, before);
    let history = ask(&mut c, json!({"type": "history", "req_id": "h"})).await;
    assert_eq!(history["rounds"].as_array().unwrap().len(), 0, "{history}");
    // A resent bet req_id is answered once and charged once.
    let first = ask(&mut c, bet("once", table, "odd", &[], "1.00")).await;
    let again = ask(&mut c, bet("once", table, "odd", &[], "1.00")).await;
    assert_eq!(first, again);
    assert_eq!(cents(&balance(&mut c).await), cents(&before) - 100);
    println!(
        "bad table requests tried: {tried} (+ insufficient funds, wrong currency, 2 unseated)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_voids_the_round_and_refunds_every_bet_once() {
    let mut server = NodeConfig::shipped()
        .fast()
        .tables(&fast_tables(30))
        .start();
    let table = "roulette_1";
    let mut clients = Vec::new();
    for p in 0..2 {
        let mut c = seated(&server, &format!("void-{p}"), table).await;
        for i in 0..3 {
            let reply = ask(
                &mut c,
                bet(&format!("v{i}"), table, "straight", &[i], "2.00"),
            )
            .await;
            assert_eq!(reply["type"], "bet_accepted", "{reply}");
        }
        assert_eq!(balance(&mut c).await, "994.00");
        clients.push(c);
    }
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    for c in clients.iter_mut() {
        let void = wait_type(c, "round_void").await;
        assert_eq!(void["reason"], "shutdown");
        let mut refunds = 0;
        let mut balance = String::new();
        for _ in 0..3 {
            let settled = wait_type(c, "bet_settled").await;
            assert_eq!(settled["outcome"], "void");
            assert_eq!(settled["returned"], "2.00");
            refunds += 1;
            balance = settled["balance"].as_str().unwrap().to_string();
        }
        assert_eq!(refunds, 3);
        assert!(cents(&balance) >= 99_400);
    }
    let status = server.sigterm_wait();
    assert!(status.success(), "{status:?}");
    // After a restart the money is back and nothing is refunded twice.
    let restarted = Server::spawn(&server.config, &server.data_dir);
    for before in &clients {
        // The same player, with the token it was given.
        let mut c = Client::connect(&restarted, &before.token).await;
        assert_eq!(balance(&mut c).await, "1000.00");
        let history = ask(&mut c, json!({"type": "history", "req_id": "h"})).await;
        let rounds = history["rounds"].as_array().unwrap();
        assert_eq!(rounds.len(), 3);
        assert!(rounds.iter().all(|r| r["status"] == "void"), "{history}");
    }
    let (ok, report) = restarted.audit();
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_betting_phase_is_refunded_at_restart() {
    let mut server = NodeConfig::shipped()
        .fast()
        .tables(&fast_tables(30))
        .start();
    let table = "baccarat_1";
    let mut c = seated(&server, "k9-0", table).await;
    for (i, kind) in ["player", "banker", "tie"].into_iter().enumerate() {
        let reply = ask(&mut c, bet(&format!("k{i}"), table, kind, &[], "10.00")).await;
        assert_eq!(reply["type"], "bet_accepted", "{reply}");
    }
    assert_eq!(balance(&mut c).await, "970.00");
    server.kill9();
    let restarted = Server::spawn(&server.config, &server.data_dir);
    let mut c = Client::connect(&restarted, &c.token).await;
    assert_eq!(
        balance(&mut c).await,
        "1000.00",
        "every bet refunded by start-up recovery"
    );
    let history = ask(&mut c, json!({"type": "history", "req_id": "h"})).await;
    let rounds = history["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 3);
    assert!(rounds
        .iter()
        .all(|r| r["status"] == "void" && r["game"] == table));
    // The same bets resent after the restart are not charged again.
    ask(
        &mut c,
        json!({"type": "join_table", "req_id": "j2", "table": table}),
    )
    .await;
    let reply = ask(&mut c, bet("k0", table, "player", &[], "10.00")).await;
    assert_eq!(reply["code"], "round_void", "{reply}");
    assert_eq!(balance(&mut c).await, "1000.00");
    let (ok, report) = restarted.audit();
    assert!(ok, "{report}");
}
