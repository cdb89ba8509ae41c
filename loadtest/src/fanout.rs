//! `croupier-loadtest table-fanout`: seats N real WebSocket clients at one live table and
//! measures how long a round's result takes to reach all of them: for each round, the spread
//! between the first and the last client to receive `round_result` (one clock: every client
//! is in this process), and the server's own serialise-once-and-queue time from `/metrics`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::target::{http_client, open_session, parse_targets, Target};

/// Most clients one run seats: two sockets each on this machine (client and server side).
pub const MAX_FANOUT_PLAYERS: usize = 8_000;
/// Most rounds one run waits for.
pub const MAX_FANOUT_ROUNDS: u32 = 100;
/// Connections opened at once while seating (bounds the accept backlog and HTTP pool).
const SEATING_CONCURRENCY: usize = 128;
/// Longest one round may take to reach every client before the run gives up on it.
const ROUND_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Server URL(s) (loopback only): several (repeat the flag or separate by commas) spread
    /// the clients round-robin over the nodes of a cluster; the table runs on one of them and
    /// the others relay its events. Broadcast figures are read from the first.
    #[arg(long, short = 't', default_value = "http://127.0.0.1:8080")]
    pub target: Vec<String>,
    /// Clients to seat at the table.
    #[arg(long, short = 'p', default_value_t = 1000)]
    pub players: usize,
    /// Table to sit at.
    #[arg(long, default_value = "roulette_1")]
    pub table: String,
    /// Round results to measure.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// The first node's admin listener (`server.admin_listen`), where its `/metrics` is
    /// served: the table's own broadcast time is read from there.
    #[arg(long, default_value = "http://127.0.0.1:8090")]
    pub admin: String,
}

/// What one client saw: when each round's result arrived.
type Receipt = (String, Instant);

async fn seat(
    target: Target,
    http: reqwest::Client,
    _label: String,
    table: String,
    rounds: u32,
    receipts: mpsc::UnboundedSender<Receipt>,
) -> anyhow::Result<()> {
    let session = open_session(&http, &target, "EUR").await?;
    let (mut ws, _) = tokio_tungstenite::connect_async(
        target
            .ws_request(Some(&session.token))
            .map_err(anyhow::Error::msg)?,
    )
    .await
    .context("websocket upgrade")?;
    let join = json!({"type": "join_table", "req_id": "join", "table": table});
    ws.send(Message::Text(join.to_string().into())).await?;
    let mut seen = 0;
    // One extra round is read but not reported: clients closing after the last measured
    // result would slow that result's delivery to the others.
    let deadline = tokio::time::Instant::now() + ROUND_WAIT * (rounds + 2);
    while seen <= rounds {
        let next = tokio::time::timeout_at(deadline, ws.next()).await;
        let Ok(Some(Ok(message))) = next else {
            bail!("connection ended or timed out after {seen} rounds");
        };
        let Message::Text(text) = message else {
            continue;
        };
        // Cheap check first: only result frames are parsed.
        if !text.contains("\"round_result\"") {
            if text.contains("\"error\"") {
                bail!("server error: {text}");
            }
            continue;
        }
        let at = Instant::now();
        let frame: Value = serde_json::from_str(&text)?;
        if frame["type"] == "round_result" {
            if seen < rounds {
                let round = frame["round_id"].as_str().unwrap_or_default().to_string();
                let _ = receipts.send((round, at));
            }
            seen += 1;
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

async fn broadcast_totals(http: &reqwest::Client, admin: &str, table: &str) -> (f64, f64) {
    let url = format!("{}/metrics", admin.trim_end_matches('/'));
    let Ok(resp) = http.get(url).send().await else {
        return (0.0, 0.0);
    };
    let text = resp.text().await.unwrap_or_default();
    let pick = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("table=\"{table}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        pick("croupier_table_broadcast_duration_seconds_sum"),
        pick("croupier_table_broadcast_duration_seconds_count"),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub async fn run(args: FanoutArgs) -> anyhow::Result<()> {
    if args.players == 0 || args.players > MAX_FANOUT_PLAYERS {
        bail!("--players must be 1 to {MAX_FANOUT_PLAYERS}");
    }
    if args.rounds == 0 || args.rounds > MAX_FANOUT_ROUNDS {
        bail!("--rounds must be 1 to {MAX_FANOUT_ROUNDS}");
    }
    let targets = parse_targets(&args.target, false, false)?;
    let http = http_client()?;
    let run_id = std::process::id();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(SEATING_CONCURRENCY));
    for i in 0..args.players {
        let target = targets[i % targets.len()].clone();
        let (http, tx) = (http.clone(), tx.clone());
        let (table, permits) = (args.table.clone(), permits.clone());
        let player = format!("fanout-{run_id}-{i}");
        let rounds = args.rounds;
        tasks.spawn(async move {
            // Hold a permit only while connecting, so seating is bounded but reading is not.
            let permit = permits.acquire_owned().await;
            let seated = seat(target, http, player, table, rounds, tx);
            drop(permit);
            seated.await
        });
    }
    drop(tx);
    eprintln!(
        "seating {} clients at {} (concurrency {SEATING_CONCURRENCY})",
        args.players, args.table
    );
    let before = broadcast_totals(&http, &args.admin, &args.table).await;
    let mut by_round: HashMap<String, Vec<Instant>> = HashMap::new();
    while let Some((round, at)) = rx.recv().await {
        by_round.entry(round).or_default().push(at);
    }
    let mut failures = 0;
    while let Some(joined) = tasks.join_next().await {
        if !matches!(joined, Ok(Ok(()))) {
            failures += 1;
        }
    }
    let after = broadcast_totals(&http, &args.admin, &args.table).await;
    let mut rounds: Vec<(String, Vec<Instant>)> = by_round.into_iter().collect();
    rounds.sort_by(|a, b| a.0.cmp(&b.0));
    println!(
        "table-fanout: {} clients at {} over {} node(s), {} rounds seen, {failures} clients failed, {:.1} s",
        args.players,
        args.table,
        targets.len(),
        rounds.len(),
        started.elapsed().as_secs_f64()
    );
    println!("round                                 received   p50 after first   p99 after first   last after first");
    for (round, mut times) in rounds {
        times.sort();
        let first = times[0];
        let offsets: Vec<Duration> = times.iter().map(|t| *t - first).collect();
        println!(
            "{round}   {:>8}   {:>12.2} ms   {:>12.2} ms   {:>13.2} ms",
            times.len(),
            percentile(&offsets, 50.0).as_secs_f64() * 1e3,
            percentile(&offsets, 99.0).as_secs_f64() * 1e3,
            offsets.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
    }
    let (sum, count) = (after.0 - before.0, after.1 - before.1);
    if count > 0.0 {
        println!(
            "server: {count:.0} table events broadcast while measuring, mean {:.3} ms each to serialise once and queue to every seat",
            sum / count * 1e3
        );
    }
    if failures > 0 {
        bail!("{failures} clients failed");
    }
    Ok(())
}
