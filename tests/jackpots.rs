//! Progressive jackpots against the real server: many concurrent spinners hammer a pool that
//! drops often; every cycle is paid once, and the money adds up to the cent: total paid =
//! contributions + seeds − what remains in the pools, per player and in `croupier reconcile`.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value};

/// Frames read while waiting for one reply: jackpot pushes interleave with replies.
const MAX_FRAMES_WAITED: usize = 1_000;

/// Added to [`HOT_POOL`] (mini: about one spin in 20, and at 3.00): a major level won at its
/// 6.00 ceiling, fed 1% of every bet.
const MAJOR_AT_CEILING: &str = r#"
[[pool.level]]
name = "major"
contribution = "0.01"
seed = "5.00"
must_drop_by = "6.00"
"#;

fn hot_server() -> Server {
    NodeConfig::shipped()
        .fast()
        .jackpots(&format!("{HOT_POOL}{MAJOR_AT_CEILING}"))
        .start()
}

/// Sends a request and reads until its reply, collecting the pushes seen on the way.
async fn ask(client: &mut Client, frame: Value, pushes: &mut Vec<Value>) -> Value {
    let req_id = frame["req_id"].clone();
    client.send(frame).await;
    for _ in 0..MAX_FRAMES_WAITED {
        let f = client.recv().await;
        assert_ne!(f["type"], "__closed", "closed while waiting for {req_id}");
        if f["req_id"] == req_id {
            return f;
        }
        pushes.push(f);
    }
    panic!("no reply to {req_id}");
}

#[derive(Default)]
struct Totals {
    staked_paid: i64,
    jackpot_paid: i64,
    wins_by_level: BTreeMap<String, i64>,
    foreign_won_pushes: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_spinners_hammer_a_pool_and_the_money_adds_up() {
    let server = hot_server();
    let players = 8;
    let spins = 150;
    let totals = Arc::new(Mutex::new(Totals::default()));
    let mut tasks = Vec::new();
    for p in 0..players {
        let session = open_session(&server, &format!("jp-{p}")).await;
        let mut client = Client::connect(&server, &session.token).await;
        let totals = totals.clone();
        let me = session.player.clone();
        tasks.push(tokio::spawn(async move {
            let mut pushes = Vec::new();
            let (mut staked, mut credited) = (0i64, 0i64);
            for i in 0..spins {
                let game = if i % 2 == 0 {
                    "classic_sevens"
                } else {
                    "starfall"
                };
                let frame =
                    json!({"type": "spin", "req_id": format!("s{i}"), "game": game, "bet": "1.00"});
                let reply = ask(&mut client, frame, &mut pushes).await;
                assert_eq!(reply["type"], "spin_result", "{reply}");
                let bet = cents(reply["bet"].as_str().unwrap());
                staked += bet;
                credited += cents(reply["win"].as_str().unwrap());
                let mut t = totals.lock().unwrap();
                t.staked_paid += bet;
                for w in reply["jackpot_wins"].as_array().into_iter().flatten() {
                    let amount = cents(w["amount"].as_str().unwrap());
                    credited += amount;
                    t.jackpot_paid += amount;
                    *t.wins_by_level
                        .entry(w["level"].as_str().unwrap().to_string())
                        .or_default() += 1;
                }
            }
            // Balance = start - stakes + slot wins + jackpots, to the cent.
            let balance = ask(
                &mut client,
                json!({"type": "balance", "req_id": "b"}),
                &mut pushes,
            )
            .await;
            assert_eq!(
                cents(balance["balance"].as_str().unwrap()),
                100_000 - staked + credited,
                "{me}"
            );
            let mut t = totals.lock().unwrap();
            for push in &pushes {
                if push["type"] == "jackpot_won" {
                    assert!(push["winner"].as_str().unwrap().ends_with("***"), "{push}");
                    assert_ne!(push["winner"], me.as_str(), "winners are masked");
                    t.foreign_won_pushes += 1;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let totals = Arc::try_unwrap(totals).ok().unwrap().into_inner().unwrap();
    let pools = jackpot_levels(&server).await;
    assert_eq!(pools.len(), 2, "{pools:?}");
    // Money: paid = contributions + seeds − remaining, to the micro-unit.
    let mut contributed_micro = 0i64;
    let mut seeds_micro = 0i64;
    let mut remaining_micro = 0i64;
    let mut wins = 0i64;
    for level in &pools {
        let (share_ppm, seed) = match level["level"].as_str().unwrap() {
            "mini" => (50_000, 100),
            "major" => (10_000, 500),
            other => panic!("{other}"),
        };
        let cycle = level["cycle"].as_i64().unwrap();
        wins += cycle - 1;
        contributed_micro += totals.staked_paid * share_ppm;
        seeds_micro += cycle * seed * 1_000_000;
        remaining_micro += cents(level["value"].as_str().unwrap()) * 1_000_000
            + level["carry_micro"].as_i64().unwrap();
    }
    assert_eq!(
        totals.jackpot_paid * 1_000_000,
        contributed_micro + seeds_micro - remaining_micro,
        "paid = contributed + seeds - remaining"
    );
    // Every cycle paid exactly once: as many wins as cycles completed, and many of them.
    let replied_wins: i64 = totals.wins_by_level.values().sum();
    assert_eq!(replied_wins, wins);
    assert!(wins >= 20, "a hot pool over 1200 spins drops often: {wins}");
    assert!(totals.foreign_won_pushes > 0, "players saw others' wins");
    let (ok, text) = server.reconcile();
    assert!(ok, "{text}");
    assert!(text.contains(&format!("awards {wins}")), "{text}");
    println!(
        "{wins} jackpot wins over {} paid spins; reconcile: {text}",
        totals.staked_paid / 100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_values_are_pushed_at_most_every_500_ms_and_only_when_changed() {
    let server = hot_server();
    let spinner = open_session(&server, "jp-push-spin").await;
    let watcher = open_session(&server, "jp-push-watch").await;
    let mut s = Client::connect(&server, &spinner.token).await;
    let mut w = Client::connect(&server, &watcher.token).await;
    let mut pushes = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..40 {
        let frame =
            json!({"type": "spin", "req_id": format!("p{i}"), "game": "starfall", "bet": "0.20"});
        ask(&mut s, frame, &mut pushes).await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let spun = started.elapsed();
    // The watcher spun nothing, yet saw the pool move; updates were at least ~500 ms apart.
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        let Some(frame) = tokio::time::timeout(std::time::Duration::from_millis(800), w.try_recv())
            .await
            .ok()
            .flatten()
        else {
            break;
        };
        if frame["type"] == "jackpot_update" {
            seen.push((std::time::Instant::now(), frame));
        }
    }
    assert!(
        seen.len() >= 2,
        "{} updates in {:?}",
        seen.len(),
        started.elapsed()
    );
    for pair in seen.windows(2) {
        assert_ne!(pair[0].1, pair[1].1, "an update without a change");
    }
    let values: Vec<&Value> = seen.iter().map(|(_, f)| &f["pools"]).collect();
    assert!(values.iter().all(|p| p.as_array().unwrap().len() == 2));
    // Frames are queued as produced: at most one push per 500 ms while the pool moved (plus
    // the first, and one for a change in the last moments), however long the spins took.
    let most = spun.as_millis() as usize / 500 + 2;
    assert!(seen.len() <= most, "{} updates in {spun:?}", seen.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_network_pool_grows_by_its_exact_shares() {
    // The shipped jackpots.toml, as a player of the default config sees it.
    let server = NodeConfig::shipped().fast().shipped_jackpots().start();
    let before = jackpot_levels(&server).await;
    let levels: Vec<&str> = before
        .iter()
        .map(|l| l["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["mini", "major", "grand"]);
    let session = open_session(&server, "jp-net").await;
    let mut c = Client::connect(&server, &session.token).await;
    let mut pushes = Vec::new();
    let mut staked = 0;
    let mut any_win = false;
    for i in 0..10 {
        let frame =
            json!({"type": "spin", "req_id": format!("n{i}"), "game": "starfall", "bet": "1.00"});
        let reply = ask(&mut c, frame, &mut pushes).await;
        staked += cents(reply["bet"].as_str().unwrap());
        any_win |= reply.get("jackpot_wins").is_some();
    }
    let after = jackpot_levels(&server).await;
    if !any_win {
        // mini takes 0.4%: 10 × 1.00 adds exactly 4 cents (4,000,000 micro-units).
        let micro = |l: &Value| {
            cents(l["value"].as_str().unwrap()) * 1_000_000 + l["carry_micro"].as_i64().unwrap()
        };
        assert_eq!(micro(&after[0]) - micro(&before[0]), staked * 4_000);
        assert_eq!(micro(&after[2]) - micro(&before[2]), staked * 1_000);
    }
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
}

/// Live-table bets feed a pool and may win it too: drawn when the bet is debited, paid with
/// its settlement, in the bettor's `bet_settled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_bets_feed_and_win_a_pool_and_the_money_adds_up() {
    let pools = r#"
[[pool]]
id = "tables"
currency = "EUR"
games = ["roulette_1"]

[[pool.level]]
name = "mini"
contribution = "0.05"
seed = "1.00"
mystery_drop_at = "1.50"
must_drop_by = "1.50"
"#;
    let server = NodeConfig::shipped()
        .fast()
        .jackpots(pools)
        .tables(&fast_tables(3))
        .start();
    let session = open_session(&server, "jp-table").await;
    let mut c = Client::connect(&server, &session.token).await;
    let mut pushes = Vec::new();
    let join = json!({"type": "join_table", "req_id": "j", "table": "roulette_1"});
    assert_eq!(ask(&mut c, join, &mut pushes).await["type"], "table_state");
    let (mut staked, mut returned, mut jackpots_paid, mut settled) = (0i64, 0i64, 0i64, 0usize);
    let mut placed = 0usize;
    for round in 0..3 {
        // Wait for a fresh round, then bet ten times on red.
        loop {
            let f = c.recv().await;
            if fresh_betting_open(&f) {
                break;
            }
            pushes.push(f);
        }
        for i in 0..10 {
            let bet = json!({"type": "table_bet", "req_id": format!("t{round}-{i}"),
                             "table": "roulette_1", "kind": "red", "amount": "1.00"});
            let reply = ask(&mut c, bet, &mut pushes).await;
            assert_eq!(reply["type"], "bet_accepted", "{reply}");
            staked += 100;
            placed += 1;
        }
    }
    // Read every settlement (including those already collected among the pushes).
    let mut frames = std::mem::take(&mut pushes);
    while settled < placed {
        for f in frames.drain(..) {
            if f["type"] == "bet_settled" {
                settled += 1;
                returned += cents(f["returned"].as_str().unwrap());
                for w in f["jackpot_wins"].as_array().into_iter().flatten() {
                    jackpots_paid += cents(w["amount"].as_str().unwrap());
                }
            }
        }
        if settled < placed {
            frames.push(c.recv().await);
        }
    }
    let balance = ask(
        &mut c,
        json!({"type": "balance", "req_id": "b"}),
        &mut pushes,
    )
    .await;
    assert_eq!(
        cents(balance["balance"].as_str().unwrap()),
        100_000 - staked + returned + jackpots_paid
    );
    let pools = jackpot_levels(&server).await;
    let cycle = pools[0]["cycle"].as_i64().unwrap();
    // The tenth bet of a cycle at the latest takes the level to its 1.50 ceiling and wins it
    // (a mystery draw may win it sooner), so 30 bets complete at least three cycles.
    assert!(cycle > 3, "cycle {cycle} after 30 bets of 1.00 feeding 5%");
    let remaining = cents(pools[0]["value"].as_str().unwrap()) * 1_000_000
        + pools[0]["carry_micro"].as_i64().unwrap();
    assert_eq!(
        jackpots_paid * 1_000_000,
        staked * 50_000 + cycle * 100 * 1_000_000 - remaining
    );
    let (ok, report) = server.audit();
    assert!(ok, "{report}");
}
