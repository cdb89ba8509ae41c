//! `croupier-loadtest operator`: an operator's back end at full speed against the operator
//! listener. Three phases, each a fixed number of calls with a bounded number in flight:
//!
//! 1. **deposits**: `--deposits` deposits of 0.01-1.00 with unique transaction ids, spread over
//!    `--players` players; deposits/s and latency percentiles;
//! 2. **launches**: `--launches` real launches of those players on `--game`; launches/s;
//! 3. **audit**: every player's balance read back must equal the sum of what was deposited
//!    to it, and a resend of a sample of the deposits must be answered as a replay that moved
//!    nothing. A run whose books do not add up fails (exit code 1).
//!
//! Loopback targets only, and every loop ends after its count.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use hdrhistogram::Histogram;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::target::{http_client, parse_targets};

/// Most calls one phase makes: a run ends by itself.
pub const MAX_CALLS: usize = 1_000_000;
/// Most calls in flight at once.
pub const MAX_CONCURRENCY: usize = 1_024;
/// Deposits resent in the audit to check they replay.
const REPLAY_SAMPLE: usize = 200;

#[derive(Debug, Clone, Args)]
pub struct OperatorArgs {
    /// The operator listener (`server.operator_listen`), loopback only.
    #[arg(long, short = 't', default_value = "http://127.0.0.1:8081")]
    pub target: String,
    /// An operator key (`croupier operator-key`) of a throw-away benchmark operator.
    #[arg(long)]
    pub key: String,
    /// Deposits to make.
    #[arg(long, default_value_t = 20_000)]
    pub deposits: usize,
    /// Launches to make.
    #[arg(long, default_value_t = 5_000)]
    pub launches: usize,
    /// Players the deposits and launches are spread over.
    #[arg(long, default_value_t = 1_000)]
    pub players: usize,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Currency of the players (one of the operator's).
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// Slot game the launches name.
    #[arg(long, default_value = "starfall")]
    pub game: String,
}

/// One phase's figures.
struct Phase {
    name: &'static str,
    ok: usize,
    failed: HashMap<String, usize>,
    elapsed: Duration,
    latency_us: Histogram<u64>,
}

impl Phase {
    fn line(&self) -> String {
        let q = |p: f64| self.latency_us.value_at_quantile(p) as f64 / 1000.0;
        format!(
            "{:<9} {:>7} ok {:>5} failed in {:>6.2} s = {:>8.0}/s   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms{}",
            self.name,
            self.ok,
            self.failed.values().sum::<usize>(),
            self.elapsed.as_secs_f64(),
            self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9),
            q(0.5),
            q(0.99),
            self.latency_us.max() as f64 / 1000.0,
            if self.failed.is_empty() {
                String::new()
            } else {
                format!("   failures: {:?}", self.failed)
            }
        )
    }
}

/// The amount of deposit `i`: 0.01 to 1.00.
fn amount(i: usize) -> Decimal {
    Decimal::new((i % 100 + 1) as i64, 2)
}

/// The player of call `i` in run `run`: fresh names each run, so the books are exact.
fn player(run: &str, i: usize, players: usize) -> String {
    format!("lt-{run}-{}", i % players)
}

/// Runs `count` calls of `call(i)` with at most `concurrency` in flight; each answers whether
/// it succeeded (or why not).
async fn phase<F, Fut>(name: &'static str, count: usize, concurrency: usize, call: F) -> Phase
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    for i in 0..count {
        let permit = gate.clone().acquire_owned().await.expect("never closed");
        let fut = call(i);
        tasks.spawn(async move {
            let began = Instant::now();
            let result = fut.await;
            drop(permit);
            (result, began.elapsed())
        });
    }
    let mut latency_us = Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let (mut ok, mut failed) = (0, HashMap::new());
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((Ok(()), took)) => {
                ok += 1;
                let _ = latency_us.record(took.as_micros().max(1) as u64);
            }
            Ok((Err(why), _)) => *failed.entry(why).or_insert(0) += 1,
            Err(e) => *failed.entry(format!("task: {e}")).or_insert(0) += 1,
        }
    }
    Phase {
        name,
        ok,
        failed,
        elapsed: start.elapsed(),
        latency_us,
    }
}

/// POSTs `body` and answers the reply's JSON if its status is `want`.
async fn post(
    client: &reqwest::Client,
    url: String,
    key: &str,
    body: Value,
    want: u16,
) -> Result<(Value, bool), String> {
    let reply = client
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("transport: {}", e.without_url()))?;
    let status = reply.status().as_u16();
    let replayed = reply.headers().contains_key("idempotent-replayed");
    let body: Value = reply.json().await.map_err(|e| format!("body: {e}"))?;
    if status != want {
        return Err(format!(
            "HTTP {status} {}",
            body["code"].as_str().unwrap_or("?")
        ));
    }
    Ok((body, replayed))
}

pub async fn run(args: OperatorArgs) -> anyhow::Result<()> {
    if args.deposits > MAX_CALLS || args.launches > MAX_CALLS {
        bail!("--deposits and --launches are at most {MAX_CALLS}");
    }
    if !(1..=MAX_CONCURRENCY).contains(&args.concurrency) || args.players == 0 {
        bail!("--concurrency is 1 to {MAX_CONCURRENCY}, --players at least 1");
    }
    let target = parse_targets(std::slice::from_ref(&args.target), false, false)?
        .remove(0)
        .http
        .to_string();
    let base = target.trim_end_matches('/').to_string();
    let client = http_client()?;
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let tx = |i: usize| format!("lt-{run_id}-{i}");
    let player = |i: usize, players: usize| player(&run_id, i, players);
    let (key, currency, players) = (
        Arc::new(args.key.clone()),
        args.currency.clone(),
        args.players,
    );
    let deposits = phase("deposits", args.deposits, args.concurrency, |i| {
        let (client, key, currency) = (client.clone(), key.clone(), currency.clone());
        let url = format!("{base}/v1/operator/players/{}/deposits", player(i, players));
        let body =
            json!({"transaction_id": tx(i), "amount": amount(i).to_string(), "currency": currency});
        async move { post(&client, url, &key, body, 201).await.map(|_| ()) }
    })
    .await;
    println!("{}", deposits.line());
    let launches = phase("launches", args.launches, args.concurrency, |i| {
        let (client, key) = (client.clone(), key.clone());
        let body = json!({"player_id": player(i, players), "currency": currency, "game": args.game,
                          "language": "en", "country": "GB", "mode": "real"});
        let url = format!("{base}/v1/operator/launch");
        async move { post(&client, url, &key, body, 201).await.map(|_| ()) }
    })
    .await;
    println!("{}", launches.line());
    // The books: a resend replays and moves nothing; every balance is what was deposited.
    let mut replays = 0;
    for i in (0..args.deposits).step_by((args.deposits / REPLAY_SAMPLE).max(1)) {
        let url = format!("{base}/v1/operator/players/{}/deposits", player(i, players));
        let body =
            json!({"transaction_id": tx(i), "amount": amount(i).to_string(), "currency": currency});
        let (_, replayed) = post(&client, url, &key, body, 201)
            .await
            .map_err(anyhow::Error::msg)
            .context("a resent deposit")?;
        if !replayed {
            bail!("deposit {} moved money again on a resend", tx(i));
        }
        replays += 1;
    }
    let mut expected: HashMap<String, Decimal> = HashMap::new();
    for i in 0..args.deposits {
        *expected.entry(player(i, players)).or_default() += amount(i);
    }
    let mut wrong = 0;
    for (name, sum) in &expected {
        let reply: Value = client
            .get(format!("{base}/v1/operator/players/{name}/balance"))
            .bearer_auth(key.as_str())
            .send()
            .await?
            .json()
            .await?;
        let held: Decimal = reply["balance"]
            .as_str()
            .and_then(|b| b.parse().ok())
            .context("a balance")?;
        if held != *sum {
            wrong += 1;
        }
    }
    println!(
        "audit     {replays} resends replayed and moved nothing; {} players' balances hold what \
         was deposited{}",
        expected.len(),
        if wrong > 0 {
            format!(", {wrong} DO NOT")
        } else {
            String::new()
        }
    );
    if wrong > 0 || !deposits.failed.is_empty() {
        bail!("the books do not add up, or deposits failed");
    }
    Ok(())
}
