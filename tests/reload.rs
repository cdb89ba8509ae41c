//! Reloading the play files on running nodes (`POST /v1/admin/reload`, SIGHUP, `croupier
//! reload`): under play, a game added, a table's limits changed and another table removed,
//! with every cent accounted for; a bad file refused with nothing changed; three nodes on
//! PostgreSQL and Redis converging on one version (a game added, a table removed under a bet
//! and another added), and a node started later playing it too.

use crate::common::*;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

const ADMIN_KEY: &str = "reload-admin-key-0123456789abcdef";

/// A games directory of its own holding these shipped game files.
fn games_dir(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        let from = repo_root().join("config/games").join(file);
        std::fs::copy(from, dir.path().join(file)).unwrap();
    }
    dir
}

fn node(games: &Path, tables: &str) -> NodeConfig {
    let games = games.to_path_buf();
    NodeConfig::shipped().fast().tables(tables).with(move |c| {
        c.games.dir = games;
        c.auth.admin_key = ADMIN_KEY.into();
    })
}

/// The tables file beside the node's config.
fn tables_file(server: &Server) -> PathBuf {
    server.config.parent().unwrap().join("tables.toml")
}

async fn reload(server: &Server, key: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/admin/reload", server.admin))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn version(server: &Server) -> String {
    cluster_view(server).await["config_version"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn game_ids(server: &Server) -> Vec<String> {
    let listed = get_json(server, "/v1/games").await;
    listed["games"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect()
}

async fn table_ids(server: &Server) -> Vec<String> {
    let listed = get_json(server, "/v1/tables").await;
    let mut ids: Vec<String> = listed["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn bet(req: &str, table: &str, kind: &str, amount: &str) -> Value {
    json!({"type": "table_bet", "req_id": req, "table": table, "kind": kind,
           "numbers": [], "amount": amount})
}

/// A bet on a removed table settles as usual (never refunded for the removal), and then the
/// table tells its seat it has closed.
async fn settled_then_closed(client: &mut Client, bet_id: &str, table: &str) {
    let settled = wait_for(client, "the bet's settlement", |f| {
        f["type"] == "bet_settled" && f["bet_id"] == bet_id
    })
    .await;
    assert_ne!(settled["outcome"], "void", "{settled}");
    let closed = wait_for(client, "table_closed", |f| f["type"] == "table_closed").await;
    assert_eq!(closed["table"], table);
}

/// The shipped tables on fast timings with roulette's red/black limit raised to `red_max`.
fn tables_with_red_max(betting: u64, red_max: &str) -> String {
    fast_tables(betting).replace(
        "red = { min = \"1.00\", max = \"2000.00\" }",
        &format!("red = {{ min = \"1.00\", max = \"{red_max}\" }}"),
    )
}

/// Only the roulette table of [`tables_with_red_max`].
fn roulette_only(betting: u64, red_max: &str) -> String {
    let all = tables_with_red_max(betting, red_max);
    all[..all.rfind("[[table]]").unwrap()].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_under_play_adds_a_game_changes_and_removes_tables_and_loses_no_cent() {
    let games = games_dir(&["classic_sevens.toml"]);
    let server = node(games.path(), &tables_with_red_max(3, "2000.00")).start();
    assert_eq!(
        game_ids(&server).await,
        ["classic_sevens", "classic_sevens_94"]
    );
    let before = version(&server).await;

    // Players spin throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let mut spinners = Vec::new();
    for p in 0..4 {
        let session = open_session(&server, &format!("rl-spin-{p}")).await;
        let (base, stop) = (server.base.clone(), stop.clone());
        spinners.push(tokio::spawn(spinner(
            base,
            session.token,
            stop,
            Duration::from_millis(5),
        )));
    }
    // A baccarat bettor has a bet in the table's round when the reload removes the table.
    let mut banker = seated(&server, "rl-banker", "baccarat_1").await;
    wait_for(&mut banker, "betting open", fresh_betting_open).await;
    let placed = ask(&mut banker, bet("b1", "baccarat_1", "banker", "5.00")).await;
    assert_eq!(placed["type"], "bet_accepted", "{placed}");
    let bet_id = placed["bet_id"].as_str().unwrap().to_string();

    // The new files: starfall added, roulette's red limit lowered, baccarat removed.
    std::fs::copy(
        repo_root().join("config/games/starfall.toml"),
        games.path().join("starfall.toml"),
    )
    .unwrap();
    std::fs::write(tables_file(&server), roulette_only(3, "20.00")).unwrap();
    let (status, wrong) = reload(&server, "not-the-key").await;
    assert_eq!(status, 401, "{wrong}");
    let (status, done) = reload(&server, ADMIN_KEY).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["previous"], before.as_str(), "{done}");
    assert_ne!(done["version"], before.as_str(), "{done}");
    assert_eq!(
        done["changes"]["games"]["added"],
        json!(["starfall", "starfall_94"])
    );
    assert_eq!(done["changes"]["tables"]["changed"], json!(["roulette_1"]));
    assert_eq!(done["changes"]["tables"]["removed"], json!(["baccarat_1"]));
    assert_eq!(version(&server).await, done["version"].as_str().unwrap());
    let metrics = metrics_text(&server).await;
    let info = format!(
        "croupier_config_info{{version=\"{}\"}} 1",
        done["version"].as_str().unwrap()
    );
    assert!(metrics.contains(&info), "{info} not in the scrape");
    assert!(
        !metrics.contains(&format!("version=\"{before}\"")),
        "the old version is gone from the scrape"
    );

    // The bet on the removed table settles (never refunded for the removal), then it closes.
    settled_then_closed(&mut banker, &bet_id, "baccarat_1").await;
    let again = ask(
        &mut banker,
        json!({"type": "join_table", "req_id": "join-again", "table": "baccarat_1"}),
    )
    .await;
    assert_eq!(again["code"], "unknown_table", "{again}");
    assert_eq!(table_ids(&server).await, ["roulette_1"]);

    // The new game plays, and its round names the game file's version.
    assert_eq!(
        game_ids(&server).await,
        [
            "classic_sevens",
            "classic_sevens_94",
            "starfall",
            "starfall_94"
        ]
    );
    let session = open_session(&server, "rl-star").await;
    let mut star = Client::connect(&server, &session.token).await;
    let spun = star
        .request(json!({"type": "spin", "req_id": "st1", "game": "starfall", "bet": "1.00"}))
        .await;
    assert_eq!(spun["type"], "spin_result", "{spun}");
    let history = star
        .request(json!({"type": "history", "req_id": "h1", "limit": 1}))
        .await;
    let text = std::fs::read_to_string(repo_root().join("config/games/starfall.toml")).unwrap();
    let expected = croupier::games::slot::file_version(&text);
    assert_eq!(
        history["rounds"][0]["outcome"]["game_version"],
        expected.as_str(),
        "{history}"
    );

    // Roulette's new limit holds from its next round.
    let mut red = seated(&server, "rl-red", "roulette_1").await;
    wait_for(&mut red, "betting open", fresh_betting_open).await;
    let over = ask(&mut red, bet("r1", "roulette_1", "red", "25.00")).await;
    assert_eq!(over["type"], "error", "{over}");
    assert_eq!(over["code"], "bet_out_of_limits", "{over}");
    let within = ask(&mut red, bet("r2", "roulette_1", "red", "20.00")).await;
    assert_eq!(within["type"], "bet_accepted", "{within}");

    stop.store(true, Ordering::Relaxed);
    let mut spins = 0;
    for s in spinners {
        let (staked, _won, _balance, _busy) = s.await.unwrap();
        spins += staked;
    }
    assert!(spins > 0, "the spinners played through the reload");
    let errors = metric_sum(&server, "croupier_errors_total").await;
    let refused = metric(&server, "croupier_errors_total{code=\"bet_out_of_limits\"}").await
        + metric(&server, "croupier_errors_total{code=\"unknown_table\"}").await;
    assert_eq!(errors, refused, "no error but the two refusals asked for");
    wait_for(&mut red, "the red bet's settlement", |f| {
        f["type"] == "bet_settled"
    })
    .await;
    let (ok, out) = server.reconcile();
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_refused_and_changes_nothing_then_sighup_and_the_cli_reload() {
    let games = games_dir(&["classic_sevens.toml"]);
    let server = node(games.path(), &fast_tables(3)).start();
    let before = version(&server).await;
    let good_tables = std::fs::read_to_string(tables_file(&server)).unwrap();
    let cases = [
        ("not toml", "[[table]\nid = "),
        (
            "a limit out of order",
            &*good_tables.replacen("max = \"100.00\"", "max = \"0.01\"", 1),
        ),
        (
            "a table changing its currency",
            &*good_tables.replacen("currency = \"EUR\"", "currency = \"USD\"", 1),
        ),
    ];
    for (what, text) in cases {
        std::fs::write(tables_file(&server), text).unwrap();
        let (status, refused) = reload(&server, ADMIN_KEY).await;
        assert_eq!(status, 422, "{what}: {refused}");
        assert_eq!(refused["code"], "bad_config", "{what}: {refused}");
        assert!(
            refused["message"].as_str().unwrap().starts_with("tables:"),
            "{what}: the message names the file: {refused}"
        );
        assert_eq!(version(&server).await, before, "{what}: nothing changed");
        assert_eq!(
            table_ids(&server).await,
            ["baccarat_1", "roulette_1"],
            "{what}"
        );
    }
    // A game file that does not parse: refused too, by `--check` first.
    std::fs::write(tables_file(&server), &good_tables).unwrap();
    std::fs::write(games.path().join("broken.toml"), "id = \"broken\"\n").unwrap();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(["reload", "--check", "--config"])
        .arg(&server.config)
        .output()
        .unwrap();
    assert!(!check.status.success());
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(stderr.contains("broken.toml"), "{stderr}");
    let (status, refused) = reload(&server, ADMIN_KEY).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("broken.toml"),
        "{refused}"
    );
    assert_eq!(version(&server).await, before);
    assert_eq!(
        metric(&server, "croupier_config_reloads_total{result=\"refused\"}").await,
        4.0
    );

    // Fixed: SIGHUP puts the new game in force.
    std::fs::remove_file(games.path().join("broken.toml")).unwrap();
    std::fs::copy(
        repo_root().join("config/games/starfall.toml"),
        games.path().join("starfall.toml"),
    )
    .unwrap();
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let mut after = before.clone();
    for _ in 0..100 {
        after = version(&server).await;
        if after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(after, before, "SIGHUP reloaded");
    assert!(game_ids(&server).await.contains(&"starfall".to_string()));

    // `croupier reload` against the node: the same files again change nothing.
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(["reload", "--admin", &server.admin, "--config"])
        .arg(&server.config)
        .env("CROUPIER_ADMIN_KEY", ADMIN_KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(
        cli.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["version"], after.as_str());
    assert_eq!(answer["previous"], after.as_str());
    assert_eq!(
        metric(
            &server,
            "croupier_config_reloads_total{result=\"unchanged\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(&server, "croupier_config_reloads_total{result=\"applied\"}").await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_during_a_removed_tables_last_round_refunds_its_bets_at_once() {
    let games = games_dir(&["classic_sevens.toml"]);
    // Long betting: the shutdown comes while the removed table's round still takes bets.
    let mut server = node(games.path(), &fast_tables(6)).start();
    let mut banker = seated(&server, "rl-stop-banker", "baccarat_1").await;
    wait_for(&mut banker, "betting open", fresh_betting_open).await;
    let placed = ask(&mut banker, bet("sb1", "baccarat_1", "banker", "5.00")).await;
    assert_eq!(placed["type"], "bet_accepted", "{placed}");
    let before = cents(placed["balance"].as_str().unwrap()) + 500;
    std::fs::write(tables_file(&server), roulette_only(6, "2000.00")).unwrap();
    let (status, done) = reload(&server, ADMIN_KEY).await;
    assert_eq!(status, 200, "{done}");
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // The shutdown voids the removed table's round and refunds the bet before the close.
    let void = wait_for(&mut banker, "round_void", |f| f["type"] == "round_void").await;
    assert_eq!(void["reason"], "shutdown", "{void}");
    let refund = wait_for(&mut banker, "the refund", |f| f["type"] == "bet_settled").await;
    assert_eq!(refund["outcome"], "void", "{refund}");
    assert_eq!(
        cents(refund["balance"].as_str().unwrap()),
        before,
        "{refund}"
    );
    assert!(server.sigterm_wait().success());
    let (ok, out) = server.reconcile();
    assert!(ok, "{out}");
    assert!(
        out.contains("open rounds 0"),
        "nothing left for recovery: {out}"
    );
}

fn one_pool(id: &str, contribution: &str) -> String {
    format!(
        "[[pool]]\nid = \"{id}\"\ncurrency = \"EUR\"\ngames = [\"classic_sevens\"]\n\n\
         [[pool.level]]\nname = \"only\"\ncontribution = \"{contribution}\"\nseed = \"10.00\"\nmust_drop_by = \"1000.00\"\n"
    )
}

/// Ten classic_sevens spins at 1.00, each answered with its result.
async fn spin_ten(client: &mut Client, prefix: &str) {
    for i in 0..10 {
        let frame = json!({"type": "spin", "req_id": format!("{prefix}{i}"), "game": "classic_sevens", "bet": "1.00"});
        let reply = client.request(frame).await;
        assert_eq!(reply["type"], "spin_result", "{reply}");
    }
}

/// The value of each pool `GET /v1/jackpots` lists, by pool id.
async fn pool_values(server: &Server) -> std::collections::BTreeMap<String, String> {
    jackpot_levels(server)
        .await
        .iter()
        .map(|j| {
            (
                j["pool"].as_str().unwrap().to_string(),
                j["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_share_holds_from_the_next_bet_and_a_removed_pool_keeps_its_money() {
    let games = games_dir(&["classic_sevens.toml"]);
    let server = node(games.path(), &fast_tables(3))
        .jackpots(&one_pool("first", "0.01"))
        .start();
    let pools_file = server.config.parent().unwrap().join("jackpots.toml");
    let session = open_session(&server, "rl-pools").await;
    let mut client = Client::connect(&server, &session.token).await;
    spin_ten(&mut client, "a").await;
    assert_eq!(
        pool_values(&server).await["first"],
        "10.10",
        "1 % of ten 1.00 bets"
    );
    std::fs::write(&pools_file, one_pool("first", "0.02")).unwrap();
    let (status, done) = reload(&server, ADMIN_KEY).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["changes"]["pools"]["changed"], json!(["first"]));
    spin_ten(&mut client, "b").await;
    assert_eq!(
        pool_values(&server).await["first"],
        "10.30",
        "2 % from the next bet"
    );
    // The pool removed, another in its place: the old one's money stays where reconcile and
    // the metrics see it, and no bet feeds it.
    std::fs::write(&pools_file, one_pool("second", "0.01")).unwrap();
    let (status, done) = reload(&server, ADMIN_KEY).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["changes"]["pools"]["added"], json!(["second"]));
    assert_eq!(done["changes"]["pools"]["removed"], json!(["first"]));
    spin_ten(&mut client, "c").await;
    let values = pool_values(&server).await;
    assert_eq!(
        values.get("first"),
        None,
        "players no longer see the removed pool"
    );
    assert_eq!(values["second"], "10.10");
    tokio::time::sleep(Duration::from_millis(1_200)).await; // the pool metrics' next read
    let kept = metric(
        &server,
        "croupier_jackpot_value_minor_units{level=\"only\",pool=\"first\"}",
    )
    .await;
    assert_eq!(
        kept, 1030.0,
        "the removed pool's money, still in the metrics"
    );
    let (ok, out) = server.reconcile();
    assert!(ok, "{out}");
    assert!(
        out.contains("pools 2"),
        "reconcile counts the removed pool too: {out}"
    );
}

fn default_profile_capped(cap: &str) -> String {
    format!(
        "[[profile]]\nid = \"default\"\nname = \"Default, capped\"\nslot_stake_cap = {{ EUR = \"{cap}\" }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_stake_cap_holds_from_an_open_sessions_next_spin() {
    let games = games_dir(&["classic_sevens.toml"]);
    let server = node(games.path(), &fast_tables(3))
        .jurisdictions(&default_profile_capped("5.00"))
        .start();
    let session = open_session(&server, "rl-capped").await;
    let mut client = Client::connect(&server, &session.token).await;
    let spin = |req: &str, bet: &str| json!({"type": "spin", "req_id": req, "game": "classic_sevens", "bet": bet});
    let first = client.request(spin("c1", "4.00")).await;
    assert_eq!(first["type"], "spin_result", "{first}");
    let before = client.balance().await;
    std::fs::write(
        server.config.parent().unwrap().join("jurisdictions.toml"),
        default_profile_capped("2.00"),
    )
    .unwrap();
    let (status, done) = reload(&server, ADMIN_KEY).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["changes"]["profiles"], true, "{done}");
    // The same connection: the new cap holds from its next spin, and the refusal moves nothing.
    let over = client.request(spin("c2", "4.00")).await;
    assert_eq!(over["code"], "stake_limit", "{over}");
    assert_eq!(client.balance().await, before);
    let within = client.request(spin("c3", "2.00")).await;
    assert_eq!(within["type"], "spin_result", "{within}");
}

/// A node's config and play files in a directory of its own: its games directory and its
/// tables file, to be changed by the test.
struct OwnFiles {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl OwnFiles {
    fn new(cluster: &ClusterLines, tables: &str) -> OwnFiles {
        let dir = tempfile::tempdir().unwrap();
        let games = dir.path().join("games");
        std::fs::create_dir(&games).unwrap();
        std::fs::copy(
            repo_root().join("config/games/classic_sevens.toml"),
            games.join("classic_sevens.toml"),
        )
        .unwrap();
        let config = node(&games, tables).cluster(cluster).write(dir.path());
        OwnFiles { dir, config }
    }

    fn games(&self) -> PathBuf {
        self.dir.path().join("games")
    }

    fn start(&self, name: &str) -> Server {
        Server::spawn(&self.config, &self.dir.path().join(name))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_on_one_version_through_redis_and_a_later_node_plays_it() {
    let Some(url) = pg_database("reload").await else {
        return;
    };
    let cluster = ClusterLines::new(&url);
    let tables = fast_tables(3);
    // Each node has files of its own, alike at first.
    let files: Vec<OwnFiles> = (0..3).map(|_| OwnFiles::new(&cluster, &tables)).collect();
    let nodes: Vec<Server> = files
        .iter()
        .enumerate()
        .map(|(i, f)| f.start(&format!("n{i}")))
        .collect();
    let before = version(&nodes[0]).await;
    for n in &nodes {
        assert_eq!(version(n).await, before);
    }
    // Only the first node's files change; one reload there reaches the others through Redis.
    std::fs::copy(
        repo_root().join("config/games/starfall.toml"),
        files[0].games().join("starfall.toml"),
    )
    .unwrap();
    let (status, done) = reload(&nodes[0], ADMIN_KEY).await;
    assert_eq!(status, 200, "{done}");
    let after = done["version"].as_str().unwrap().to_string();
    assert_ne!(after, before);
    for n in &nodes {
        let mut seen = String::new();
        for _ in 0..100 {
            seen = version(n).await;
            if seen == after {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(seen, after, "node {} converged", n.base);
        assert!(game_ids(n).await.contains(&"starfall".to_string()));
    }
    // Tables: baccarat removed while a bet is on it (placed through the third node), a second
    // roulette table added. One reload on the first node.
    let mut banker = seated(&nodes[2], "rl-cl-banker", "baccarat_1").await;
    wait_for(&mut banker, "betting open", fresh_betting_open).await;
    let placed = ask(&mut banker, bet("cb1", "baccarat_1", "banker", "5.00")).await;
    assert_eq!(placed["type"], "bet_accepted", "{placed}");
    let bet_id = placed["bet_id"].as_str().unwrap().to_string();
    let roulette = roulette_only(3, "2000.00");
    let first_table = roulette.find("\n[[table]]").unwrap() + 1;
    let second = roulette[first_table..].replace("roulette_1", "roulette_2");
    std::fs::write(
        files[0].config.parent().unwrap().join("tables.toml"),
        format!("{roulette}\n{second}"),
    )
    .unwrap();
    let (status, done) = reload(&nodes[0], ADMIN_KEY).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["changes"]["tables"]["added"], json!(["roulette_2"]));
    assert_eq!(done["changes"]["tables"]["removed"], json!(["baccarat_1"]));
    let after = done["version"].as_str().unwrap().to_string();
    settled_then_closed(&mut banker, &bet_id, "baccarat_1").await;
    for n in &nodes {
        let mut tables = Vec::new();
        for _ in 0..150 {
            tables = table_ids(n).await;
            if version(n).await == after && tables == ["roulette_1", "roulette_2"] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(tables, ["roulette_1", "roulette_2"], "on {}", n.base);
    }
    // The new table takes bets on any node.
    let mut red = seated(&nodes[1], "rl-cl-red", "roulette_2").await;
    wait_for(&mut red, "betting open", fresh_betting_open).await;
    let placed = ask(&mut red, bet("cr1", "roulette_2", "red", "2.00")).await;
    assert_eq!(placed["type"], "bet_accepted", "{placed}");
    wait_for(&mut red, "the red bet's settlement", |f| {
        f["type"] == "bet_settled"
    })
    .await;

    // A node started later with the old files plays the cluster's version: the new game and
    // the new tables.
    let late = OwnFiles::new(&cluster, &tables);
    let fourth = late.start("n3");
    assert_eq!(version(&fourth).await, after);
    assert!(game_ids(&fourth).await.contains(&"starfall".to_string()));
    let session = open_session(&fourth, "rl-late").await;
    let mut client = Client::connect(&fourth, &session.token).await;
    let spun = client
        .request(json!({"type": "spin", "req_id": "l1", "game": "starfall", "bet": "1.00"}))
        .await;
    assert_eq!(spun["type"], "spin_result", "{spun}");
    let joined = client
        .request(json!({"type": "join_table", "req_id": "lj", "table": "roulette_2"}))
        .await;
    assert_eq!(joined["type"], "table_state", "{joined}");

    // A bad file on one node is refused there and reaches no node.
    std::fs::write(files[1].games().join("broken.toml"), "id = \"broken\"\n").unwrap();
    let (status, refused) = reload(&nodes[1], ADMIN_KEY).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("broken.toml"),
        "{refused}"
    );
    tokio::time::sleep(croupier::play::shared::POLL_EVERY).await;
    for n in nodes.iter().chain([&fourth]) {
        assert_eq!(version(n).await, after, "nothing changed on {}", n.base);
    }
    let (ok, out) = nodes[0].reconcile();
    assert!(ok, "{out}");
}
