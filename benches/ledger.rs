//! Ledger throughput: spins (open + settle) committed per second through the SQLite ledger at
//! several group-commit sizes, with full and normal durability. Run: `cargo bench --bench ledger`.

use std::time::Instant;

use croupier::ids::{PlayerId, ReqId, RoundId};
use croupier::wallet::sqlite::{Durability, SqliteLedger};
use croupier::wallet::{Ledger, Movement};

const SPINS: usize = 20_000;
const PLAYERS: usize = 100;

async fn run(durability: Durability, batch: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(&dir.path().join("bench.db"), durability)
        .await
        .unwrap();
    let players: Vec<PlayerId> = (0..PLAYERS)
        .map(|p| PlayerId::parse(&format!("p{p}")).unwrap())
        .collect();
    let mut funding = Vec::new();
    for (i, p) in players.iter().enumerate() {
        ledger.ensure_account(p, "EUR").await.unwrap();
        funding.push(Movement::Deposit {
            tx_id: format!("d{i}"),
            player: p.clone(),
            amount_minor: 1_000_000_000,
        });
    }
    ledger.commit_batch(&funding).await.unwrap();
    let started = Instant::now();
    let mut spin = 0;
    while spin < SPINS {
        let rounds: Vec<(RoundId, PlayerId)> = (0..batch)
            .map(|i| (RoundId::new_v7(), players[(spin + i) % PLAYERS].clone()))
            .collect();
        let opens: Vec<Movement> = rounds
            .iter()
            .enumerate()
            .map(|(i, (r, p))| Movement::OpenRound {
                round_id: r.clone(),
                player: p.clone(),
                req_id: ReqId::parse(&format!("q{}", spin + i)).unwrap(),
                game: "starfall".into(),
                bet_minor: Some(100),
                try_free_spin: false,
                jackpot: None,
                opened_json: None,
                node: None,
                session_started_ms: None,
            })
            .collect();
        ledger.commit_batch(&opens).await.unwrap();
        let settles: Vec<Movement> = rounds
            .iter()
            .map(|(r, p)| Movement::SettleRound {
                round_id: r.clone(),
                player: p.clone(),
                win_minor: 50,
                outcome_json: r#"{"stops":[1,2,3,4,5],"win_multiple":"0.5"}"#.into(),
                free_spins_awarded: None,
                jackpot_claims: Vec::new(),
                jackpot_draws: Vec::new(),
            })
            .collect();
        ledger.commit_batch(&settles).await.unwrap();
        spin += batch;
    }
    spin as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "ledger: spins/s (open + settle, two commits per batch), {SPINS} spins, {PLAYERS} players"
    );
    for durability in [Durability::Full, Durability::Normal] {
        for batch in [1usize, 8, 32, 128] {
            let rate = runtime.block_on(run(durability, batch));
            println!("  synchronous={durability:?} batch={batch:>4}: {rate:>9.0} spins/s");
        }
    }
}
