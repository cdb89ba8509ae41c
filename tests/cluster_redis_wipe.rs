//! A live table survives its node's death and then a Redis wipe, as an operator would try it:
//! three nodes on one PostgreSQL and one Redis behind nginx, players spinning through nginx
//! and six seated at `roulette_1` (two on each node), betting on every round. The table's node
//! is killed with SIGKILL; later Redis is stopped for longer than the lease and started again
//! empty, while everyone plays on. Then:
//!
//! 1. every fencing token the nodes ran the table under was handed out once, and the ledger's
//!    token is the last of them (tokens come from the ledger, never from Redis);
//! 2. every seated player, on every node, got every round's `betting_open` after each
//!    takeover, the first round included (outside the moments the table could not reach
//!    them: the kill, and Redis down), and no bet was ever refused with `not_seated`;
//! 3. the money is exact: each spinner's books match its balance, the seated players'
//!    balances plus the house's take are what they started with, nothing is left open, and
//!    `croupier audit` and `croupier reconcile` are clean.
//!
//! The test runs its own Redis, so stopping it disturbs no other test.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const TABLE: &str = "roulette_1";
const SPINNERS: usize = 30;
const SEATED_PER_NODE: usize = 2;
/// Redis stays down longer than the lease (2.5 s here): the holder must give the table up,
/// and Redis comes back with no lease, no session and no token in it.
const OUTAGE: Duration = Duration::from_secs(6);
/// Play after the kill, before Redis goes down: the dead node's open spins are voided (its
/// registry entry expires 6 s after its last heartbeat) and rounds run on the new holder.
const AFTER_KILL: Duration = Duration::from_secs(12);
/// Play after Redis is back: several rounds on the table's new holder (a round lasts 6 s).
const AFTER_WIPE: Duration = Duration::from_secs(24);
/// How long a seated player's reader waits for a frame before it looks at the stop flag.
const READ_SLICE: Duration = Duration::from_millis(500);
/// Attempts to join the table while it is moving (250 ms apart).
const JOIN_ATTEMPTS: usize = 80;
/// Rounds whose frames start this close to the kill may have been opened by the dying node.
const AROUND_THE_KILL: Duration = Duration::from_secs(1);

/// What a seated player saw: every table frame with its round, each `table_state` its joins
/// were answered with, and the answers to its bets.
#[derive(Default)]
struct SeatLog {
    /// (when, frame type, round id) of every frame of the table.
    frames: Vec<(Instant, String, String)>,
    /// (when, round id) of every `table_state` answering a join.
    joins: Vec<(Instant, String)>,
    /// When the connection was found broken.
    broken: Vec<Instant>,
    accepted: usize,
    refused: BTreeMap<String, usize>,
    not_seated: Vec<Value>,
}

type Shared = Arc<Mutex<SeatLog>>;

fn log(shared: &Shared) -> std::sync::MutexGuard<'_, SeatLog> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Connects (bounded attempts) and sits down at the table (retrying while it moves); records
/// the `table_state` it is answered with.
async fn sit(base: &str, token: &str, name: &str, joins: &mut usize, shared: &Shared) -> Client {
    let url = base;
    for _ in 0..JOIN_ATTEMPTS {
        let Ok((mut ws, _)) = ws_connect(ws_request(base, token)).await else {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        let welcome = next_json(&mut ws).await;
        if welcome["type"] != "welcome" {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        let mut client = Client {
            ws,
            welcome,
            token: token.to_string(),
        };
        loop {
            *joins += 1;
            let req = format!("join-{name}-{joins}");
            let state = ask(
                &mut client,
                json!({"type": "join_table", "req_id": req, "table": TABLE}),
            )
            .await;
            if state["type"] == "table_state" {
                let round = state["table"]["round_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                log(shared).joins.push((Instant::now(), round));
                return client;
            }
            assert_eq!(state["code"], "server_busy", "{name}: {state}");
            if *joins > JOIN_ATTEMPTS {
                panic!("{name} could not join {TABLE}: {state}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    panic!("{name} could not connect to {url}");
}

/// A seated player: sits down at `first` (a node), bets 1.00 on red in every round it sees
/// open with time to spare, and when its connection breaks comes back through `lb` with its
/// token and sits down again. Ends at `stop`.
async fn seated(
    first: String,
    lb: String,
    token: String,
    name: String,
    stop: Arc<AtomicBool>,
    shared: Shared,
) {
    let mut joins = 0;
    let mut bets = 0;
    let mut client = sit(&first, &token, &name, &mut joins, &shared).await;
    while !stop.load(Ordering::Relaxed) {
        let next = tokio::time::timeout(READ_SLICE, client.ws.next()).await;
        let text = match next {
            Err(_) => continue,
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => {
                log(&shared).broken.push(Instant::now());
                client = sit(&lb, &token, &name, &mut joins, &shared).await;
                continue;
            }
            Ok(Some(Ok(_))) => continue,
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        let kind = frame["type"].as_str().unwrap_or("").to_string();
        if frame["table"] == TABLE && frame["req_id"].is_null() {
            if let Some(round) = frame["round_id"].as_str() {
                log(&shared)
                    .frames
                    .push((Instant::now(), kind.clone(), round.to_string()));
            }
        }
        if kind == "betting_open" && frame["table"] == TABLE && fresh_betting_open(&frame) {
            bets += 1;
            let bet = json!({"type": "table_bet", "req_id": format!("{name}-bet-{bets}"),
                             "table": TABLE, "kind": "red", "amount": "1.00"});
            if client.ws_send(bet).await.is_err() {
                log(&shared).broken.push(Instant::now());
                client = sit(&lb, &token, &name, &mut joins, &shared).await;
            }
            continue;
        }
        let answers_a_bet = frame["req_id"]
            .as_str()
            .is_some_and(|r| r.starts_with(&format!("{name}-bet-")));
        if !answers_a_bet {
            continue;
        }
        let mut seen = log(&shared);
        match kind.as_str() {
            "bet_accepted" => seen.accepted += 1,
            "error" if frame["code"] == "not_seated" => seen.not_seated.push(frame),
            "error" => {
                let code = frame["code"].as_str().unwrap_or("").to_string();
                // The table moving (busy), a late frame (closed), or a bet caught in a void.
                assert!(
                    ["server_busy", "betting_closed", "round_void"].contains(&code.as_str()),
                    "{name}: {frame}"
                );
                *seen.refused.entry(code).or_default() += 1;
            }
            _ => panic!("{name}: unexpected answer to a bet {frame}"),
        }
    }
}

/// The fencing tokens a node's log (JSON lines) says it ran the table under.
fn tokens_in_log(path: &std::path::Path) -> Vec<i64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "running this table" && l["fields"]["table"] == TABLE)
        .filter_map(|l| l["fields"]["token"].as_i64())
        .collect()
}

async fn runner_seen_by(node: &Server) -> Option<String> {
    let view: Value = reqwest::get(format!("{}/v1/cluster", node.admin))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    view["tables"][TABLE].as_str().map(str::to_string)
}

/// Waits (bounded) until every node of `nodes` names the same runner, one of `names`.
async fn agreed_runner(nodes: &[&Server], names: &[String]) -> String {
    for _ in 0..300 {
        let mut seen = BTreeSet::new();
        for n in nodes {
            seen.insert(runner_seen_by(n).await);
        }
        if let [Some(runner)] = seen.into_iter().collect::<Vec<_>>().as_slice() {
            if names.contains(runner) {
                return runner.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the nodes never agreed on who runs {TABLE}");
}

fn croupier_command(what: &str, node: &Server) -> (bool, String) {
    let (ok, stdout, stderr) = node.command(&[what]);
    (ok, format!("{stdout}{stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_table_survives_its_nodes_death_and_a_redis_wipe() {
    let Some(pg) = pg_database("clwipe").await else {
        return;
    };
    let mut redis = OwnRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::shipped()
        .cluster(&ClusterLines::on(&pg, &redis.url()))
        .with(|c| {
            c.cluster.table_lease_ms = 2500;
            c.log.format = croupier::config::LogFormat::Json;
        })
        .fast()
        .tables(&fast_tables(3))
        .write(dir.path());
    let logs: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("n{i}.log")))
        .collect();
    let mut nodes: Vec<Server> = (0..3)
        .map(|i| {
            let log = Stdio::from(File::create(&logs[i]).unwrap());
            let rust_log = "warn,croupier::table::cluster=info";
            Server::spawn_logged(&config, &dir.path().join(format!("n{i}")), log, rust_log)
        })
        .collect();
    let proxy = Nginx::start(&nodes).await;
    let lb = proxy.base.clone();
    let mut names = Vec::new();
    for n in &nodes {
        names.push(cluster_view(n).await["node"].as_str().unwrap().to_string());
    }
    let runner = agreed_runner(&nodes.iter().collect::<Vec<_>>(), &names).await;
    let owner = names.iter().position(|n| n == &runner).unwrap();

    let run = uuid_like();
    let stop = Arc::new(AtomicBool::new(false));
    let mut spinners = Vec::new();
    let mut spinner_deposits = 0;
    for k in 0..SPINNERS {
        let session = open_session_at(&lb, &format!("wipe-{run}-s{k}")).await;
        spinner_deposits += cents(&session.balance);
        let pause = Duration::from_millis(100);
        spinners.push(tokio::spawn(spinner(
            lb.clone(),
            session.token,
            stop.clone(),
            pause,
        )));
    }
    let mut seated_players = Vec::new();
    let mut seated_deposits = 0;
    for (i, node) in nodes.iter().enumerate() {
        for k in 0..SEATED_PER_NODE {
            let session = open_session_at(&lb, &format!("wipe-{run}-t{i}{k}")).await;
            let name = session.player.clone();
            seated_deposits += cents(&session.balance);
            let shared = Shared::default();
            let task = tokio::spawn(seated(
                node.base.clone(),
                lb.clone(),
                session.token,
                name.clone(),
                stop.clone(),
                shared.clone(),
            ));
            seated_players.push((name, shared, task));
        }
    }
    // Everyone has had a bet taken before anything breaks.
    for _ in 0..300 {
        if seated_players.iter().all(|(_, s, _)| log(s).accepted >= 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (name, shared, _) in &seated_players {
        assert!(log(shared).accepted >= 1, "{name} bet before the kill");
    }

    // The table's node dies; the others take the table and play on.
    let killed_at = Instant::now();
    nodes[owner].kill9();
    let survivors: Vec<&Server> = (0..3).filter(|&i| i != owner).map(|i| &nodes[i]).collect();
    let alive: Vec<String> = names.iter().filter(|n| **n != runner).cloned().collect();
    let after_kill = agreed_runner(&survivors, &alive).await;
    assert_ne!(after_kill, runner, "the table moved off the dead node");
    tokio::time::sleep(AFTER_KILL).await;

    // Redis goes away for longer than the lease and comes back empty.
    let stopped_at = Instant::now();
    redis.stop();
    tokio::time::sleep(OUTAGE).await;
    redis.start_again();
    let back_at = Instant::now();
    let after_wipe = agreed_runner(&survivors, &alive).await;
    tokio::time::sleep(AFTER_WIPE).await;
    stop.store(true, Ordering::Relaxed);

    // 3. The money: each spinner's books, then the seated players against the ledger.
    let totals = spinners_done(spinners).await;
    assert_eq!(
        totals.balances,
        spinner_deposits - totals.staked + totals.won,
        "every spin's cent accounted for"
    );
    for (_, _, task) in seated_players.iter_mut() {
        task.await.unwrap();
    }

    // 1. Every token the table ran under was handed out once; the ledger holds the last one.
    let mut tokens: Vec<i64> = logs.iter().flat_map(|l| tokens_in_log(l)).collect();
    tokens.sort_unstable();
    let distinct: BTreeSet<i64> = tokens.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        tokens.len(),
        "a fencing token was used twice: {tokens:?}"
    );
    assert!(
        tokens.len() >= 3,
        "the table was taken at start, after the kill and after the wipe: {tokens:?}"
    );
    let db = sqlx::PgPool::connect(&pg).await.unwrap();
    let in_ledger: i64 = sqlx::query_scalar("SELECT token FROM table_fences WHERE table_id = $1")
        .bind(TABLE)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(
        tokens.last().is_some_and(|t| *t <= in_ledger),
        "no node ran the table under a token the ledger did not hand out: {tokens:?}, ledger {in_ledger}"
    );
    let ledger = croupier::wallet::postgres::PgLedger::connect(&pg, 2)
        .await
        .unwrap();
    use croupier::wallet::Ledger;

    // 2. Every played round after each takeover reached every seated player, from the first.
    let mut first_seen: BTreeMap<String, Instant> = BTreeMap::new();
    let mut played = BTreeSet::new();
    for (_, shared, _) in &seated_players {
        for (at, kind, round) in &log(shared).frames {
            let seen = first_seen.entry(round.clone()).or_insert(*at);
            *seen = (*seen).min(*at);
            if kind == "round_result" {
                played.insert(round.clone());
            }
        }
    }
    let excused = |at: Instant| {
        (at + AROUND_THE_KILL >= killed_at && at <= killed_at + AROUND_THE_KILL)
            || (at >= stopped_at && at <= back_at)
    };
    let mut checked = 0;
    let mut after_back = 0;
    for (name, shared, _) in &seated_players {
        let seen = log(shared);
        let mut heard_after_back = 0;
        assert!(
            seen.not_seated.is_empty(),
            "{name}: seated, then refused: {:?}",
            seen.not_seated
        );
        let opened: BTreeSet<&str> = seen
            .frames
            .iter()
            .filter(|(_, kind, _)| kind == "betting_open")
            .map(|(_, _, round)| round.as_str())
            .collect();
        for round in &played {
            let at = first_seen[round];
            // Seated since before the round began (the round a join lands in is not owed).
            let seated_since = seen
                .joins
                .iter()
                .filter(|(joined, r)| *joined <= at && r != round)
                .map(|(joined, _)| *joined)
                .max();
            let Some(seated_since) = seated_since else {
                continue;
            };
            let broken_between = seen.broken.iter().any(|b| *b >= seated_since && *b <= at);
            if broken_between || excused(at) {
                continue;
            }
            assert!(
                opened.contains(round.as_str()),
                "{name} missed betting_open of round {round} ({:?} after the kill, {:?} after Redis came back)",
                at.checked_duration_since(killed_at),
                at.checked_duration_since(back_at)
            );
            checked += 1;
            if at > back_at {
                heard_after_back += 1;
            }
        }
        // Every seated player, on the table's node and on the follower, heard whole rounds
        // again after the wipe (its first round at the latest ~lease + 3 s after Redis is back).
        assert!(
            heard_after_back >= 1,
            "{name} heard no round after Redis came back"
        );
        after_back += heard_after_back;
    }

    // The last round's bets settle; then the seated players' money against the ledger.
    let mut open = Vec::new();
    for _ in 0..200 {
        open = ledger.open_rounds().await.unwrap();
        if open.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(open.is_empty(), "nothing left open: {open:?}");
    let mut house = 0;
    let mut seated_balances = 0;
    for (name, _, _) in &seated_players {
        let id = croupier::ids::PlayerId::parse(name).unwrap();
        seated_balances += ledger.account(&id).await.unwrap().unwrap().balance_minor;
        for round in ledger.history(&id, 1_000).await.unwrap() {
            if round.status == croupier::wallet::RoundStatus::Settled {
                house += round.bet_minor - round.win_minor;
            }
        }
    }
    assert_eq!(
        seated_balances + house,
        seated_deposits,
        "balances + house = what they started with"
    );
    let live = survivors[0];
    let (ok, text) = croupier_command("audit", live);
    assert!(ok, "audit: {text}");
    let (ok, text) = croupier_command("reconcile", live);
    assert!(ok, "reconcile: {text}");
    let refused: BTreeMap<String, usize> =
        seated_players
            .iter()
            .fold(BTreeMap::new(), |mut all, (_, s, _)| {
                for (code, n) in &log(s).refused {
                    *all.entry(code.clone()).or_default() += n;
                }
                all
            });
    eprintln!(
        "table ran on {runner}, then {after_kill}, then {after_wipe}; tokens {tokens:?}; {checked} (player, round) openings checked, {after_back} after the wipe; bets refused {refused:?}; {} spins",
        totals.staked / 100
    );
}
