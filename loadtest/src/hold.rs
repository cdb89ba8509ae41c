//! `croupier-loadtest hold`: opens N authenticated player connections (a demo session and a
//! WebSocket each), keeps them idle with a ping every [`HOLD_PING_EVERY`], and reports the
//! server's resident memory per connection: (VmRSS with every connection held − VmRSS before
//! the first) / connections held, read from `/proc/<server-pid>/status`.
//!
//! One process can hold only as many sockets as its open-files limit allows: when N is more,
//! the command runs itself as several child processes (`--child`), each holding its share and
//! printing `held <ok> <failed>` once its connections are open. The parent reads the server's
//! memory when every child has reported, then closes their stdin, and they close their
//! connections and exit.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::limits::{self, FD_OVERHEAD};
use crate::memory;
use crate::target::{http_client, open_session, parse_targets, Target};

/// Most connections one run holds (over all its processes).
pub const MAX_HOLD_PLAYERS: usize = 100_000;
/// Most child processes one run spreads its connections over.
pub const MAX_HOLD_PROCESSES: usize = 64;
/// Ping interval of an idle connection: well inside the server's shipped idle timeout
/// (`session.idle_timeout_seconds` = 120) and far below its rate limit.
pub const HOLD_PING_EVERY: Duration = Duration::from_secs(20);
/// Longest the connections may take to open before the run gives up on the rest.
const OPEN_DEADLINE: Duration = Duration::from_secs(600);
/// Pause after the last connection opened before the server's memory is read, so allocations
/// made while connecting have settled.
const SETTLE: Duration = Duration::from_secs(2);
/// Longest a hold lasts after the connections are open.
const MAX_HOLD: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Args)]
pub struct HoldArgs {
    /// Server URL(s), loopback only (repeat the flag or separate by commas): connections are
    /// spread round-robin.
    #[arg(long, short = 't', default_value = "http://127.0.0.1:8080")]
    pub target: Vec<String>,
    /// Connections to open and hold.
    #[arg(long, short = 'p', default_value_t = 1000)]
    pub players: usize,
    /// The server process whose memory is read (its pid).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// How long to keep the connections open once all are open (memory is read first).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub hold: Duration,
    /// Sessions and upgrades in flight at once while opening.
    #[arg(long, default_value_t = 128)]
    pub connect_concurrency: usize,
    /// Child processes to spread the connections over; default: as few as this process's
    /// open-files limit allows.
    #[arg(long)]
    pub processes: Option<usize>,
    /// Currency of the demo sessions.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// Internal: run as one child of a spread hold.
    #[arg(long, hide = true)]
    pub child: bool,
}

/// What one process held.
#[derive(Debug, Default, Clone, Copy)]
struct Held {
    ok: usize,
    failed: usize,
}

pub async fn run(args: HoldArgs) -> anyhow::Result<()> {
    if args.players == 0 || args.players > MAX_HOLD_PLAYERS {
        bail!("--players must be between 1 and {MAX_HOLD_PLAYERS}");
    }
    if args.hold > MAX_HOLD {
        bail!("--hold is at most {} s", MAX_HOLD.as_secs());
    }
    if args.connect_concurrency == 0 || args.connect_concurrency > 10_000 {
        bail!("--connect-concurrency must be between 1 and 10000");
    }
    let targets = parse_targets(&args.target, false, false).map_err(anyhow::Error::msg)?;
    let fds = limits::raise_nofile().context("reading RLIMIT_NOFILE")?;
    if args.child {
        return child(&args, targets).await;
    }
    let per_process = (fds.soft.saturating_sub(FD_OVERHEAD) as usize).max(1);
    let processes = args
        .processes
        .unwrap_or_else(|| args.players.div_ceil(per_process));
    if processes == 0 || processes > MAX_HOLD_PROCESSES {
        bail!("{processes} processes needed (or asked for): at most {MAX_HOLD_PROCESSES}");
    }
    if args.players.div_ceil(processes) > per_process {
        bail!(
            "{} connections per process exceed RLIMIT_NOFILE ({}): use more --processes",
            args.players.div_ceil(processes),
            fds.soft
        );
    }
    let before = args.server_pid.and_then(|pid| memory::read(Some(pid)));
    let started = Instant::now();
    let exe = std::env::current_exe().context("locating this binary for the children")?;
    let mut children = Vec::new();
    for index in 0..processes {
        let share = args.players / processes + usize::from(index < args.players % processes);
        let mut command = tokio::process::Command::new(&exe);
        command
            .arg("hold")
            .arg("--child")
            .arg("--players")
            .arg(share.to_string())
            .arg("--connect-concurrency")
            .arg(args.connect_concurrency.div_ceil(processes).to_string())
            .arg("--currency")
            .arg(&args.currency)
            .arg("--hold")
            .arg(format!("{}ms", MAX_HOLD.as_millis()));
        for t in &args.target {
            command.arg("--target").arg(t);
        }
        let child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting a hold child")?;
        children.push(child);
    }
    let mut total = Held::default();
    for child in &mut children {
        let stdout = child.stdout.take().context("a child's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(OPEN_DEADLINE, lines.next_line())
            .await
            .context("a child took too long to open its connections")??
            .context("a child exited before reporting")?;
        let mut words = line.split_whitespace();
        let (Some("held"), Some(ok), Some(failed)) = (words.next(), words.next(), words.next())
        else {
            bail!("a child said {line:?}");
        };
        total.ok += ok.parse::<usize>()?;
        total.failed += failed.parse::<usize>()?;
    }
    let opened_in = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let during = args.server_pid.and_then(|pid| memory::read(Some(pid)));
    println!(
        "held         {} connections ({} failed) in {processes} process(es), opened in {:.1} s",
        total.ok,
        total.failed,
        opened_in.as_secs_f64()
    );
    match (before, during) {
        (Some(b), Some(d)) if total.ok > 0 => {
            let delta = d.vm_rss_kib.saturating_sub(b.vm_rss_kib);
            println!(
                "server       pid {}: VmRSS {:.1} MiB before, {:.1} MiB held: {:.1} KiB per connection",
                d.pid,
                b.vm_rss_kib as f64 / 1024.0,
                d.vm_rss_kib as f64 / 1024.0,
                delta as f64 / total.ok as f64
            );
        }
        _ => println!("server       memory not read (give --server-pid of a local server)"),
    }
    tokio::time::sleep(args.hold).await;
    for child in &mut children {
        drop(child.stdin.take());
    }
    for mut child in children {
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    }
    if total.ok == 0 {
        bail!("no connection could be held");
    }
    Ok(())
}

/// One child: opens its connections, reports, holds them until stdin closes (or `--hold`).
async fn child(args: &HoldArgs, targets: Vec<Target>) -> anyhow::Result<()> {
    let http = http_client().context("HTTP client")?;
    let (stop_tx, stop) = watch::channel(false);
    let gate = std::sync::Arc::new(Semaphore::new(args.connect_concurrency));
    let (opened_tx, mut opened) = tokio::sync::mpsc::channel::<bool>(args.players);
    let mut set = JoinSet::new();
    for i in 0..args.players {
        let target = targets[i % targets.len()].clone();
        let (http, gate, stop, opened) =
            (http.clone(), gate.clone(), stop.clone(), opened_tx.clone());
        let currency = args.currency.clone();
        set.spawn(async move {
            let connection = {
                let _permit = gate.acquire_owned().await;
                connect(&http, &target, &currency).await
            };
            match connection {
                Ok(ws) => {
                    let _ = opened.send(true).await;
                    idle(ws, stop).await;
                    None
                }
                Err(error) => {
                    let _ = opened.send(false).await;
                    Some(format!("{error:#}"))
                }
            }
        });
    }
    drop(opened_tx);
    let mut held = Held::default();
    let deadline = tokio::time::Instant::now() + OPEN_DEADLINE;
    while held.ok + held.failed < args.players {
        match tokio::time::timeout_at(deadline, opened.recv()).await {
            Ok(Some(true)) => held.ok += 1,
            Ok(Some(false)) => held.failed += 1,
            _ => break,
        }
    }
    if held.failed > 0 {
        // The first reason among the connections that already gave up.
        let mut first = None;
        while let Some(done) = set.try_join_next() {
            if let Ok(Some(reason)) = done {
                first.get_or_insert(reason);
            }
        }
        eprintln!(
            "hold: {} connection(s) failed; one said: {}",
            held.failed,
            first.unwrap_or_else(|| "-".into())
        );
    }
    println!("held {} {}", held.ok, held.failed);
    // Until the parent closes stdin (or the hold ends).
    let parent_gone = tokio::task::spawn_blocking(|| {
        use std::io::Read;
        let mut byte = [0u8; 1];
        let _ = std::io::stdin().read(&mut byte);
    });
    let _ = tokio::time::timeout(args.hold, parent_gone).await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while set.join_next().await.is_some() {}
    })
    .await;
    // The thread still reading stdin (if the hold ended first) would keep the runtime's
    // shutdown waiting: this child is done.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A demo session and its WebSocket, up to the `welcome` frame.
async fn connect(
    http: &reqwest::Client,
    target: &Target,
    currency: &str,
) -> anyhow::Result<Socket> {
    let session = open_session(http, target, currency).await?;
    let request = target
        .ws_request(Some(&session.token))
        .map_err(anyhow::Error::msg)?;
    let (mut ws, _) = tokio::time::timeout(
        limits::WS_CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(request, Some(limits::ws_config()), false),
    )
    .await
    .context("upgrade timed out")??;
    let welcome = tokio::time::timeout(limits::WS_CONNECT_TIMEOUT, ws.next())
        .await
        .context("no welcome")?;
    match welcome {
        Some(Ok(Message::Text(text))) if text.contains("\"welcome\"") => Ok(ws),
        other => bail!("expected welcome, got {other:?}"),
    }
}

/// Keeps one connection open: a ping every [`HOLD_PING_EVERY`], everything received dropped,
/// until `stop`.
async fn idle(mut ws: Socket, mut stop: watch::Receiver<bool>) {
    let mut ping = tokio::time::interval(HOLD_PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ping.tick() => {
                if ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            message = ws.next() => match message {
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
    let _ = ws.close(None).await;
}
