//! The tamper-evident ledger (issue 20) through the real binary: an operator's players play,
//! the operator pages through its players' chain heads and keeps them, `croupier heads` and
//! `croupier audit --heads` check those checkpoints, and an amount edited in the SQLite file
//! (with every balance made to agree) is named by `croupier audit`. Bad page requests are
//! refused and change nothing.

use serde_json::{json, Value};

use super::*;
use crate::common::*;

async fn launch(server: &Server, key: &str, player: &str) -> String {
    let body = json!({"player_id": player, "currency": "EUR", "game": "starfall",
                      "language": "en", "country": "MT", "mode": "real"});
    let r = call(
        server,
        key,
        "POST",
        "/v1/operator/launch",
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body["token"].as_str().unwrap().to_string()
}

async fn heads(server: &Server, key: &str, query: &str) -> Reply {
    call(
        server,
        key,
        "GET",
        &format!("/v1/operator/ledger/heads{query}"),
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_keeps_chain_heads_and_the_audit_finds_an_edited_amount() {
    let brands = Brands::new();
    let mut server = brands.node().fast().start();
    let key = &brands.house.key;
    for (i, player) in ["ann", "bob", "cyd"].into_iter().enumerate() {
        let r = transfer(
            &server,
            key,
            player,
            "deposits",
            money(&format!("d{i}"), "20.00", "EUR"),
        )
        .await;
        assert_eq!(r.status, 201, "{r:?}");
        let token = launch(&server, key, player).await;
        let mut client = Client::connect(&server, &token).await;
        for n in 0..5 {
            let spin = json!({"type": "spin", "req_id": format!("s{n}"), "game": "starfall",
                              "bet": "1.00"});
            let reply = client.request(spin).await;
            assert_eq!(reply["type"], "spin_result", "{reply}");
        }
    }
    // The rival's player is not in the house's pages.
    let r = transfer(
        &server,
        &brands.rival.key,
        "eve",
        "deposits",
        money("r1", "5.00", "EUR"),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");

    // Pages of two, then the rest; each page vouches for itself.
    let first = heads(&server, key, "?limit=2").await;
    assert_eq!(first.status, 200, "{first:?}");
    let chains: Vec<&str> = first.body["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["chain"].as_str().unwrap())
        .collect();
    assert_eq!(chains, ["player:house:ann", "player:house:bob"]);
    // A deposit and five spins: at least the deposit, five bets and five rounds.
    assert!(
        first.body["heads"][0]["links"].as_i64().unwrap() >= 11,
        "{first:?}"
    );
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let rest = heads(&server, key, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(rest.status, 200, "{rest:?}");
    assert_eq!(rest.body["heads"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["heads"][0]["chain"], "player:house:cyd");
    assert!(rest.body.get("next_cursor").is_none(), "{rest:?}");
    let rival = heads(&server, &brands.rival.key, "").await;
    assert_eq!(
        rival.body["heads"].as_array().unwrap().len(),
        1,
        "{rival:?}"
    );

    // Bad pages: a clear 400 or 401, nothing else happens.
    for (query, code) in [
        ("?limit=0", "bad_request"),
        ("?limit=10001", "bad_request"),
        ("?limit=two", "bad_request"),
        ("?cursor=zz", "bad_request"),
        ("?cursor=h", "bad_request"),
        ("?after=x", "bad_request"),
    ] {
        let r = heads(&server, key, query).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some(code)),
            "{query}: {r:?}"
        );
    }
    for bad_key in ["", "crk_not_a_key"] {
        let r = heads(&server, bad_key, "").await;
        assert_eq!(r.status, 401, "{r:?}");
    }
    let again = heads(&server, key, "?limit=2").await;
    assert_eq!(
        again.body["heads"], first.body["heads"],
        "bad requests changed nothing"
    );

    // The operator keeps the page as it came; the node's full export is a checkpoint too.
    let dir = tempfile::tempdir().unwrap();
    let page_file = dir.path().join("page.json");
    std::fs::write(&page_file, first.body.to_string()).unwrap();
    let (ok, all, err) = server.command(&["heads"]);
    assert!(ok, "{err}");
    let all: Value = serde_json::from_str(&all).unwrap();
    // Every player of every operator (and each jackpot level, when pools are configured).
    let players: Vec<&str> = all["heads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["chain"].as_str()?.strip_prefix("player:"))
        .collect();
    assert_eq!(
        players,
        ["house:ann", "house:bob", "house:cyd", "rival:eve"],
        "{all}"
    );
    let all_file = dir.path().join("all.json");
    std::fs::write(&all_file, all.to_string()).unwrap();

    assert_eq!(server.sigterm().code(), Some(0));
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
    assert!(report.contains(" broken 0"), "{report}");
    for file in [&page_file, &all_file] {
        let (ok, report, _) = server.command(&["audit", "--heads", file.to_str().unwrap()]);
        assert!(ok && report.contains("held"), "{report}");
    }
    // Not a checkpoint: a clear refusal naming the file.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"heads\": 3}").unwrap();
    let (ok, _, err) = server.command(&["audit", "--heads", junk.to_str().unwrap()]);
    assert!(
        !ok && err.contains("junk.json") && err.contains("not a checkpoint"),
        "{err}"
    );

    // Someone with the database file makes bob's deposit 2,000.00 and every balance agree.
    let db = rusqlite::Connection::open(server.data_dir.join("croupier.db")).unwrap();
    db.execute_batch(
        "UPDATE ledger_entries SET amount_minor = amount_minor + 198000 WHERE tx_id LIKE '%d1';
         UPDATE ledger_entries SET balance_after_minor = balance_after_minor + 198000
             WHERE player_id = 'house:bob';
         UPDATE rounds SET balance_after_minor = balance_after_minor + 198000
             WHERE player_id = 'house:bob';
         UPDATE accounts SET balance_minor = balance_minor + 198000 WHERE player_id = 'house:bob';",
    )
    .unwrap();
    drop(db);
    let (ok, report) = server.audit();
    assert!(!ok, "{report}");
    assert!(
        report.contains("player house:bob: link 1 (entry ") && report.contains("altered"),
        "{report}"
    );
    // The operator's kept page: bob's head is still there (the edit hid below it), so the page
    // holds, while the walk of the chain found the edit.
    let (_, report, _) = server.command(&["audit", "--heads", page_file.to_str().unwrap()]);
    assert!(
        report.contains("held") && report.contains("altered"),
        "{report}"
    );
}
