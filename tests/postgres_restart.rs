//! PostgreSQL restarted under a node in full play: while the database is down players get
//! `service_unavailable` (or `server_busy`), never a wrong result; when it is back the node
//! recovers without a restart; no acknowledged round is lost and every balance is exact. (An
//! outage shorter than the pool's 5 s connection wait is not even seen: requests wait, and
//! settlements retry.)
//!
//! The test runs its own PostgreSQL (initdb in a temporary directory, a free loopback port), so
//! restarting it disturbs no other test. It needs root (PostgreSQL runs as `postgres`).

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl Postgres {
    /// `None` (with a note) where PostgreSQL or root is missing outside the test script.
    fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).max());
        let is_root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
        let Some(bin) = bin.filter(|b| b.join("initdb").exists() && is_root) else {
            assert!(
                std::env::var_os("CROUPIER_REQUIRE_SERVICES").is_none(),
                "PostgreSQL and root are needed: run the suite with scripts/test.sh"
            );
            eprintln!("skipped: no PostgreSQL binaries or not root");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let chown = Command::new("chown")
            .arg("postgres")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(chown.success());
        let pg = Postgres {
            bin,
            port: free_port(),
            dir,
        };
        let data = pg.dir.path().join("data");
        let init = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg.bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(init.status.success(), "{init:?}");
        pg.ctl("start");
        Some(pg)
    }

    fn ctl(&self, what: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "-m", "fast", "-o", &options, what])
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl {what}: {out:?}");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_loses_no_acknowledged_round_and_the_node_recovers() {
    let Some(pg) = Postgres::start() else { return };
    croupier::wallet::postgres::create_database(&format!("{}/postgres", pg.url()), "ledger")
        .await
        .unwrap();
    let url = format!("{}/ledger", pg.url());
    let server = NodeConfig::shipped()
        .fast()
        .with(|c| {
            c.ledger.postgres_url = url.clone();
            c.auth.demo_on_shared_ledger = true;
            c.ledger.stale_round_seconds = 5;
        })
        .no_tables()
        .start();
    let acked = Arc::new(Mutex::new(Vec::<(String, Value)>::new()));
    let refused = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut players = Vec::new();
    for p in 0..4 {
        let session = open_session(&server, &format!("pgr-{p}")).await;
        let mut client = Client::connect(&server, &session.token).await;
        let (acked, refused, stop) = (acked.clone(), refused.clone(), stop.clone());
        let player = session.player.clone();
        players.push(tokio::spawn(async move {
            // Bounded: at most this many spins, until told to stop.
            for i in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let frame = json!({"type": "spin", "req_id": format!("r{i}"), "game": "starfall", "bet": "0.20"});
                let reply = client.request(frame).await;
                match reply["type"].as_str() {
                    Some("spin_result") => acked.lock().unwrap().push((player.clone(), reply)),
                    Some("error") => {
                        let code = reply["code"].as_str().unwrap_or("").to_string();
                        assert!(
                            ["service_unavailable", "server_busy"].contains(&code.as_str()),
                            "only 'try again' errors while the database is away: {reply}"
                        );
                        refused.lock().unwrap().push(code);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    _ => panic!("unexpected {reply}"),
                }
            }
            client
        }));
    }
    let wait_for = |n: usize| {
        let acked = acked.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while acked.lock().unwrap().len() < n && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            acked.lock().unwrap().len()
        }
    };
    let before = wait_for(200).await;
    // Longer than the pool's 5 s wait for a connection (an outage shorter than that is ridden
    // out: requests wait and settlements retry), so players are told to retry.
    pg.ctl("stop");
    tokio::time::sleep(Duration::from_secs(7)).await;
    pg.ctl("start");
    // The node recovers by itself: new spins succeed again.
    let after = wait_for(before + 200).await;
    assert!(
        after >= before + 200,
        "spins resumed after the restart ({before} -> {after})"
    );
    stop.store(true, Ordering::Relaxed);
    let mut clients = Vec::new();
    for p in players {
        clients.push(p.await.unwrap());
    }
    // The node saw the outage: every batch tried while PostgreSQL was down failed. (Whether a
    // player saw it depends on timing: a settlement caught by the outage retries and succeeds
    // once the database is back, so four players all mid-settlement may see no error at all.)
    let failed_batches = metric(&server, "croupier_wallet_batch_failures_total").await;
    assert!(
        failed_batches >= 1.0,
        "no wallet batch failed during the outage"
    );
    let refused = refused.lock().unwrap().len();

    // Every acknowledged round is in the ledger as told; whatever the outage left open is
    // refunded by the sweeper; the books balance.
    use croupier::wallet::Ledger;
    let ledger = croupier::wallet::postgres::PgLedger::connect(&url, 2)
        .await
        .unwrap();
    let acked = acked.lock().unwrap().clone();
    for (player, reply) in &acked {
        let id = croupier::ids::RoundId::parse(reply["round_id"].as_str().unwrap()).unwrap();
        let round = ledger
            .round(&id)
            .await
            .unwrap()
            .expect("acknowledged round stored");
        assert_eq!(round.player.as_str(), player);
        assert_eq!(round.win_minor, cents(reply["win"].as_str().unwrap()));
        assert_eq!(round.status, croupier::wallet::RoundStatus::Settled);
    }
    for _ in 0..100 {
        if ledger.open_rounds().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ledger.open_rounds().await.unwrap().is_empty());
    for client in clients.iter_mut() {
        let player = client.welcome["player_id"].as_str().unwrap().to_string();
        let (staked, won): (i64, i64) = acked
            .iter()
            .filter(|(who, _)| *who == player)
            .map(|(_, r)| {
                (
                    cents(r["bet"].as_str().unwrap()),
                    cents(r["win"].as_str().unwrap()),
                )
            })
            .fold((0, 0), |(s, w), (b, x)| (s + b, w + x));
        assert_eq!(
            cents(&client.balance().await),
            100_000 - staked + won,
            "{player}"
        );
    }
    let report = ledger.audit().await.unwrap();
    assert!(report.mismatches.is_empty(), "{report:?}");
    println!(
        "{} acknowledged spins, {refused} refused while PostgreSQL restarted",
        acked.len()
    );
}
