//! One load-test run from start to report: checks the configuration and the machine's limits,
//! picks game and bet, ramps the virtual players up, runs the spin phase under a hard deadline,
//! runs the money audit, and gathers every figure into a `Report`.

use crate::books::Audit;
use crate::limits::{self, FdLimits};
use crate::memory;
use crate::metrics::{Kind, LatencySummary, Metrics};
use crate::player::{EchoPad, Player, Schedule, Shared};
use crate::progress::{Progress, ProgressMode};
use crate::protocol::{self, EXAMPLE_SPIN_RESULT};
use crate::report::{LoadReport, MemoryReport, PlayersReport, Report, ResendReport};
use crate::target::{self, Target};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// How often the steady-state marker checks whether every player has started.
const STEADY_POLL: Duration = Duration::from_millis(20);

/// What to run. Built from the command line by `cli`, or directly by tests.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub targets: Vec<Target>,
    /// Targets are echo servers: no sessions, no money, padded spin frames.
    pub echo: bool,
    pub players: usize,
    pub ramp_up: Duration,
    pub duration: Option<Duration>,
    pub spins_per_player: Option<u64>,
    /// Open loop: total spins/s over all players. None: closed loop.
    pub rate: Option<f64>,
    pub think_time: Duration,
    /// Closed loop: do not pace players to the server's announced per-connection rate.
    pub ignore_rate_limit: bool,
    /// Games, spread over players round-robin. Empty: the first the server lists.
    pub games: Vec<String>,
    /// Bet per spin. None: the game's minimum bet.
    pub bet: Option<Decimal>,
    pub currency: String,
    pub chaos_drop: Option<u64>,
    /// Echo mode: bytes per frame (default: the size of a spin result).
    pub echo_frame_bytes: usize,
    pub run_id: String,
    pub max_run_time: Duration,
    pub connect_concurrency: usize,
    pub progress: ProgressMode,
    pub server_pids: Vec<u32>,
    /// The open-files limit as raised at start (None: not checked).
    pub fd_limits: Option<FdLimits>,
}

impl RunConfig {
    /// A small closed-loop run against `targets` with defaults for everything else.
    pub fn new(targets: Vec<Target>, echo: bool) -> Self {
        RunConfig {
            targets,
            echo,
            players: 10,
            ramp_up: Duration::ZERO,
            duration: None,
            spins_per_player: Some(10),
            rate: None,
            think_time: Duration::ZERO,
            ignore_rate_limit: false,
            games: Vec::new(),
            bet: None,
            currency: "EUR".into(),
            chaos_drop: None,
            echo_frame_bytes: EXAMPLE_SPIN_RESULT.len(),
            run_id: new_run_id(),
            max_run_time: limits::DEFAULT_MAX_RUN_TIME,
            connect_concurrency: limits::DEFAULT_CONNECT_CONCURRENCY,
            progress: ProgressMode::Off,
            server_pids: Vec::new(),
            fd_limits: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("the requested player count cannot be reached: {0}")]
    Capacity(String),
    #[error("cannot pick a game or bet: {0}")]
    Games(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A run id unique enough to keep player ids of different runs apart (time + pid, base 36).
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut n = (nanos ^ (u128::from(std::process::id()) << 64)) % 36u128.pow(10);
    let mut s = Vec::new();
    for _ in 0..10 {
        s.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn validate(cfg: &RunConfig) -> Result<(), RunError> {
    let bad = |m: String| Err(RunError::Config(m));
    if cfg.players == 0 || cfg.players > limits::MAX_PLAYERS {
        return bad(format!("--players must be 1..={}", limits::MAX_PLAYERS));
    }
    if cfg.ramp_up > limits::MAX_RAMP_UP {
        return bad(format!("--ramp-up is at most {:?}", limits::MAX_RAMP_UP));
    }
    if cfg
        .duration
        .is_some_and(|d| d > limits::MAX_DURATION || d.is_zero())
    {
        return bad(format!(
            "--duration must be >0 and at most {:?}",
            limits::MAX_DURATION
        ));
    }
    if cfg
        .spins_per_player
        .is_some_and(|n| n == 0 || n > limits::MAX_SPINS_PER_PLAYER)
    {
        return bad(format!(
            "--spins-per-player must be 1..={}",
            limits::MAX_SPINS_PER_PLAYER
        ));
    }
    if cfg.duration.is_none() && cfg.spins_per_player.is_none() {
        return bad("give --duration or --spins-per-player".into());
    }
    if let Some(r) = cfg.rate {
        if !(r > 0.0 && r <= limits::MAX_RATE) {
            return bad(format!("--rate must be in (0, {}]", limits::MAX_RATE));
        }
    }
    if cfg.chaos_drop == Some(0) {
        return bad("--chaos-drop must be at least 1".into());
    }
    if cfg.max_run_time.is_zero() || cfg.max_run_time > limits::MAX_DURATION * 2 {
        return bad(format!(
            "--max-run-time must be >0 and at most {:?}",
            limits::MAX_DURATION * 2
        ));
    }
    if cfg.connect_concurrency == 0 {
        return bad("--connect-concurrency must be at least 1".into());
    }
    if !protocol::is_valid_id(&format!("lt-{}-{}", cfg.run_id, cfg.players)) {
        return bad(format!(
            "--run-id {:?} makes invalid player ids",
            cfg.run_id
        ));
    }
    for g in &cfg.games {
        if !protocol::is_valid_id(g) {
            return bad(format!("--game {g:?} is not a valid game id"));
        }
    }
    if cfg.targets.is_empty() {
        return bad("no target".into());
    }
    Ok(())
}

/// Resolves games and bet: flags first, else the server's `GET /v1/games`.
async fn pick_games(
    cfg: &RunConfig,
    http: &reqwest::Client,
    warnings: &mut Vec<String>,
) -> Result<(Vec<String>, Decimal), RunError> {
    if cfg.echo {
        let bet = cfg.bet.unwrap_or_else(|| Decimal::new(100, 2));
        let games = if cfg.games.is_empty() {
            vec!["echo".to_owned()]
        } else {
            cfg.games.clone()
        };
        return Ok((games, bet));
    }
    if !cfg.games.is_empty() && cfg.bet.is_some() {
        return Ok((cfg.games.clone(), cfg.bet.unwrap_or_default()));
    }
    let listed = target::list_games(http, &cfg.targets[0]).await;
    let listed = match listed {
        Ok(l) if !l.is_empty() => l,
        Ok(_) => return Err(RunError::Games("GET /v1/games lists no game".into())),
        Err(e) => {
            return Err(RunError::Games(format!(
                "GET /v1/games failed ({e}); pass --game and --bet"
            )))
        }
    };
    let games = if cfg.games.is_empty() {
        vec![listed[0].id.clone()]
    } else {
        cfg.games.clone()
    };
    let bet = match cfg.bet {
        Some(b) => b,
        None => {
            // The smallest minimum bet of the chosen games fits all of them only if steps agree;
            // take the first game's minimum and say so.
            let g = listed.iter().find(|g| g.id == games[0]).ok_or_else(|| {
                RunError::Games(format!("game {:?} is not in GET /v1/games", games[0]))
            })?;
            let b = g.min_bet.ok_or_else(|| {
                RunError::Games(format!("game {:?} has no min_bet; pass --bet", g.id))
            })?;
            if games.len() > 1 {
                warnings.push(format!(
                    "bet {b} is the minimum of {}, used for every game",
                    g.id
                ));
            }
            b
        }
    };
    Ok((games, bet))
}

/// Runs the load test. `stop` set to true ends the spin phase early (the audit still runs).
pub async fn run(cfg: RunConfig, stop: watch::Receiver<bool>) -> Result<Report, RunError> {
    validate(&cfg)?;
    if let Some(fds) = &cfg.fd_limits {
        limits::check_capacity(cfg.players, cfg.targets.len(), fds).map_err(RunError::Capacity)?;
    }
    let mut warnings = Vec::new();
    let run_start = Instant::now();
    let http = target::http_client()?;
    let (games, bet) = pick_games(&cfg, &http, &mut warnings).await?;
    if bet <= Decimal::ZERO {
        return Err(RunError::Config(format!("bet {bet} must be positive")));
    }
    let metrics = Arc::new(Metrics::new());
    // After the histograms are allocated, so the per-connection figure counts connections only.
    let baseline = memory::read(None);

    let cpu_before: Vec<Option<memory::CpuTime>> = std::iter::once(None)
        .chain(cfg.server_pids.iter().map(|p| Some(*p)))
        .map(memory::cpu)
        .collect();
    let t0 = Instant::now();
    let spin_phase = cfg
        .duration
        .unwrap_or(cfg.max_run_time)
        .min(cfg.max_run_time);
    let spin_deadline = t0 + cfg.ramp_up + spin_phase;
    let hard_deadline = spin_deadline + limits::DRAIN_GRACE;
    let schedule = cfg.rate.map(|rate| Schedule {
        t0,
        rate,
        interval: Duration::from_secs_f64(cfg.players as f64 / rate),
    });
    if let (Some(rate), false) = (cfg.rate, cfg.echo) {
        let per_player = rate / cfg.players as f64;
        warnings.push(format!(
            "open loop: {per_player:.2} spins/s per player; keep it under the server's per-player \
             rate limit (welcome.limits.rate_per_second) or expect rate_limited errors"
        ));
    }
    let echo_pad = cfg.echo.then(|| {
        // Pad so the frame is `echo_frame_bytes` long (the envelope is about 80 bytes).
        let probe = format!(
            r#"{{"type":"spin","req_id":"s{}","game":"{}","bet":"{}","pad":""}}"#,
            0, games[0], bet
        );
        EchoPad("x".repeat(cfg.echo_frame_bytes.saturating_sub(probe.len())))
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    // Forward the caller's stop, and stop by itself at the hard deadline.
    {
        let mut outer = stop.clone();
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = outer.wait_for(|s| *s) => {}
                _ = tokio::time::sleep_until(hard_deadline.into()) => {}
            }
            let _ = stop_tx.send(true);
        });
    }
    let shared = Arc::new(Shared {
        metrics: metrics.clone(),
        http,
        connect_slots: Semaphore::new(cfg.connect_concurrency),
        session_slots: Semaphore::new(limits::SESSION_CONCURRENCY),
        ws_config: limits::ws_config(),
        echo: echo_pad,
        currency: cfg.currency.clone(),
        bet,
        spins_per_player: cfg.spins_per_player,
        spin_deadline,
        schedule,
        think_time: cfg.think_time,
        ignore_rate_limit: cfg.ignore_rate_limit,
        chaos_drop: cfg.chaos_drop,
        stop: stop_rx,
    });
    // Steady state begins when ramp-up is over and every player has started (got its session
    // and connected, or failed to): before that, players are still joining.
    let marker = {
        let m = metrics.clone();
        let ramp_end = t0 + cfg.ramp_up;
        let players = cfg.players as u64;
        let mut stop = shared.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(ramp_end.into()).await;
            loop {
                if m.started.load(Relaxed) >= players {
                    m.mark_steady();
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(STEADY_POLL) => {}
                    r = stop.wait_for(|s| *s) => { drop(r); return; }
                }
            }
        })
    };
    let targets: Vec<Arc<Target>> = cfg.targets.iter().cloned().map(Arc::new).collect();
    let label = if cfg.echo { "echo" } else { "spin" };
    let progress = Progress::start(cfg.progress, label.into(), metrics.clone(), cfg.players);

    // Spin phase: every player ramps in, plays, and comes back with its books.
    let mut set = JoinSet::new();
    for idx in 0..cfg.players {
        let id = format!("lt-{}-{}", cfg.run_id, idx);
        let game = games[idx % games.len()].clone();
        let target = targets[idx % targets.len()].clone();
        let mut p = Player::new(idx, id, game, target, shared.clone());
        let at = t0 + cfg.ramp_up.mul_f64(idx as f64 / cfg.players as f64);
        set.spawn(async move {
            if p.start(at).await {
                p.play().await;
            }
            p
        });
    }
    let (players, panicked) = collect(&mut set, hard_deadline + limits::DRAIN_GRACE).await;
    let _ = stop_tx.send(true);
    marker.abort();
    let all_started = metrics.steady_since();
    if panicked > 0 {
        warnings.push(format!("{panicked} player tasks panicked"));
    }
    let player_id = |idx: usize| format!("lt-{}-{}", cfg.run_id, idx);
    let mut returned = vec![false; cfg.players];
    for p in &players {
        returned[p.idx] = true;
    }

    // Audit phase: resolve unanswered spins, fetch every balance.
    let mut audit = Audit {
        performed: !cfg.echo,
        ..Audit::default()
    };
    let mut stopped_early: BTreeMap<String, u64> = BTreeMap::new();
    for p in &players {
        if let Some(why) = &p.stopped {
            *stopped_early.entry(why.clone()).or_insert(0) += 1;
        }
    }
    let mut set = JoinSet::new();
    for mut p in players {
        set.spawn(async move {
            let outcome = p.audit().await;
            p.close().await;
            (p.idx, p.id.clone(), p.books.clone(), outcome)
        });
    }
    let audit_deadline = Instant::now() + limits::AUDIT_TIMEOUT;
    let (outcomes, audit_panicked) = collect(&mut set, audit_deadline).await;
    let mut audited = vec![false; cfg.players];
    for (idx, id, books, outcome) in outcomes {
        audited[idx] = true;
        if let (Some(books), Some(outcome)) = (books, outcome) {
            audit.add(&id, &books, outcome);
        }
    }
    if audit_panicked > 0 {
        warnings.push(format!("{audit_panicked} audit tasks panicked"));
    }
    if audit.performed {
        for idx in 0..cfg.players {
            let why = if !returned[idx] {
                "did not finish the spin phase in time"
            } else if !audited[idx] {
                "audit did not finish in time"
            } else {
                continue;
            };
            // Only players that may have had a session are unproven money.
            audit.players += 1;
            audit.unverified.push(format!("{}: {why}", player_id(idx)));
        }
    }
    audit.replay_mismatches = metrics.replay_mismatches.load(Relaxed);
    progress.finish().await;

    // Figures.
    let cpu_wall = t0.elapsed().as_secs_f64();
    let cpu_after: Vec<Option<memory::CpuTime>> = std::iter::once(None)
        .chain(cfg.server_pids.iter().map(|p| Some(*p)))
        .map(memory::cpu)
        .collect();
    let mut cpu_use = cpu_before
        .into_iter()
        .zip(cpu_after)
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => Some(memory::CpuUse::between(a, b, cpu_wall)),
            _ => None,
        });
    let client_cpu = cpu_use.next().flatten();
    let servers_cpu: Vec<memory::CpuUse> = cpu_use.flatten().collect();
    let client = memory::read(None);
    let peak = metrics.connected_peak.load(Relaxed);
    let per_conn = match (client, baseline) {
        (Some(c), Some(b)) if peak > 0 => {
            Some(c.vm_hwm_kib.saturating_sub(b.vm_rss_kib) as f64 / peak as f64)
        }
        _ => None,
    };
    let spins = metrics.spins.load(Relaxed);
    let window = metrics.spin_window();
    let mut latency = BTreeMap::new();
    for k in Kind::ALL {
        let h = metrics.histogram(k);
        if !h.is_empty() {
            latency.insert(k.name().to_owned(), LatencySummary::of(&h));
        }
    }
    let failures = metrics.failures_by_reason();
    let with_session = metrics.sessions.load(Relaxed);
    let not_reached = (peak < cfg.players as i64).then(|| {
        let mut why = format!("{} of {} players had a WebSocket open at once", peak, cfg.players);
        if failures.is_empty() {
            why.push_str(" (players finished before others connected: use --ramp-up shorter or a longer run)");
        } else {
            let top: Vec<String> = failures.iter().map(|(r, n)| format!("{n} x {r}")).collect();
            why.push_str(&format!("; connection failures: {}", top.join("; ")));
            if failures.keys().any(|r| r.contains("EMFILE")) {
                why.push_str(" — raise RLIMIT_NOFILE (ulimit -n)");
            }
            if failures.keys().any(|r| r.contains("timeout")) {
                why.push_str(
                    " — timeouts: the server did not accept or answer in time (overloaded, or \
                     out of open files itself: check its RLIMIT_NOFILE and logs)",
                );
            }
            if failures.keys().any(|r| r.contains("refused") || r.contains("reset")) {
                why.push_str(
                    " — the server refused or reset connections: check its own open-files \
                     limit, listen backlog (somaxconn) and connection limits",
                );
            }
        }
        why
    });
    let audit_passed = audit.passed();
    Ok(Report {
        tool: format!("croupier-loadtest {}", env!("CARGO_PKG_VERSION")),
        run_id: cfg.run_id.clone(),
        mode: if cfg.echo { "echo" } else { "server" }.into(),
        targets: cfg.targets.iter().map(|t| t.label.clone()).collect(),
        scenario: "slots".into(),
        games,
        bet: (!cfg.echo).then(|| bet.to_string()),
        players: PlayersReport {
            requested: cfg.players,
            with_session,
            connected_peak: peak,
            stopped_early,
            not_reached,
            all_started_after_s: all_started.map(|d| d.as_secs_f64()),
        },
        load: LoadReport {
            loop_kind: if cfg.rate.is_some() { "open" } else { "closed" }.into(),
            rate: cfg.rate,
            ramp_up_s: cfg.ramp_up.as_secs_f64(),
            duration_s: cfg.duration.map(|d| d.as_secs_f64()),
            spins_per_player: cfg.spins_per_player,
            think_time_ms: cfg.think_time.as_secs_f64() * 1000.0,
            player_rate_cap: match (
                cfg.rate,
                cfg.ignore_rate_limit,
                metrics.server_rate_limit.load(Relaxed),
            ) {
                (None, false, r) if r > 0 => Some(r as f64 * limits::RATE_LIMIT_MARGIN),
                _ => None,
            },
            chaos_drop: cfg.chaos_drop,
        },
        wall_time_s: run_start.elapsed().as_secs_f64(),
        spin_window_s: window.as_secs_f64(),
        spins,
        free_spins: metrics.free_spins.load(Relaxed),
        steady_throughput_per_s: metrics.steady_throughput(),
        throughput_per_s: if window.is_zero() {
            0.0
        } else {
            spins as f64 / window.as_secs_f64()
        },
        latency,
        resends: ResendReport {
            retries: metrics.retries.load(Relaxed),
            chaos_drops: metrics.chaos_drops.load(Relaxed),
            drops: metrics.drops.load(Relaxed),
            timeouts: metrics.timeouts.load(Relaxed),
            busy_retries: metrics.busy_retries.load(Relaxed),
            replay_checks: metrics.replay_checks.load(Relaxed),
            replay_mismatches: metrics.replay_mismatches.load(Relaxed),
            reconnect_pushes: metrics.reconnect_pushes.load(Relaxed),
            unexpected_frames: metrics.unexpected_frames.load(Relaxed),
        },
        error_frames: metrics.error_frames.load(Relaxed),
        errors_by_code: metrics.errors_by_code(),
        connection_failures: metrics.connection_failures.load(Relaxed),
        connection_failures_by_reason: failures,
        audit,
        audit_passed,
        memory: MemoryReport {
            client,
            client_baseline_rss_kib: baseline.map(|b| b.vm_rss_kib),
            client_kib_per_connection: per_conn,
            client_cpu,
            servers_cpu,
            servers: cfg
                .server_pids
                .iter()
                .filter_map(|p| memory::read(Some(*p)))
                .collect(),
        },
        fd_limits: cfg.fd_limits,
        ceiling: None,
        warnings,
    })
}

/// Joins every task until `deadline`; the rest are aborted. Returns the results and how many
/// tasks panicked.
async fn collect<T: Send + 'static>(set: &mut JoinSet<T>, deadline: Instant) -> (Vec<T>, usize) {
    let mut out = Vec::with_capacity(set.len());
    let mut panicked = 0usize;
    while !set.is_empty() {
        match tokio::time::timeout_at(deadline.into(), set.join_next()).await {
            Ok(Some(Ok(v))) => out.push(v),
            Ok(Some(Err(_))) => panicked += 1,
            Ok(None) => break,
            Err(_) => {
                set.abort_all();
                break;
            }
        }
    }
    (out, panicked)
}

/// Parses a money flag (`"0.10"`): a decimal string, never a float.
pub fn parse_money(s: &str) -> Result<Decimal, String> {
    let d =
        Decimal::from_str(s.trim()).map_err(|e| format!("{s:?} is not a decimal amount: {e}"))?;
    if d <= Decimal::ZERO {
        return Err(format!("{s:?} must be positive"));
    }
    Ok(d)
}
