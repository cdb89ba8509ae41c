//! The tester against its own echo server, in-process on 127.0.0.1:0: a short bounded loop whose
//! counts (not timings) are asserted, with and without deliberate connection drops.

use croupier_loadtest::echo::EchoServer;
use croupier_loadtest::target::parse_targets;
use croupier_loadtest::{run, RunConfig};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;

/// Whole test must end within this, whatever happens.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

async fn echo_config(players: usize, spins: u64) -> (EchoServer, RunConfig) {
    let server = EchoServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), 1000)
        .await
        .expect("bind echo");
    let targets = parse_targets(&[server.url()], true, false).expect("target");
    let mut cfg = RunConfig::new(targets, true);
    cfg.players = players;
    cfg.spins_per_player = Some(spins);
    cfg.max_run_time = Duration::from_secs(60);
    (server, cfg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_counts() {
    let (server, cfg) = echo_config(20, 25).await;
    let (_tx, stop) = watch::channel(false);
    let report = tokio::time::timeout(TEST_TIMEOUT, run(cfg, stop))
        .await
        .expect("bounded")
        .expect("run");
    assert_eq!(report.mode, "echo");
    assert_eq!(report.spins, 20 * 25);
    assert_eq!(report.players.with_session, 20);
    assert_eq!(report.players.connected_peak, 20);
    assert_eq!(report.error_frames, 0, "{:?}", report.errors_by_code);
    assert_eq!(
        report.connection_failures, 0,
        "{:?}",
        report.connection_failures_by_reason
    );
    assert_eq!(report.resends.retries, 0);
    assert!(!report.audit.performed && report.audit_passed);
    assert_eq!(report.latency.get("spin").map(|l| l.count), Some(500));
    assert_eq!(report.latency.get("connect").map(|l| l.count), Some(20));
    assert!(report.players.not_reached.is_none());
    let echoed = server
        .stats
        .frames
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(echoed, 500);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_drops_are_resent() {
    let (server, mut cfg) = echo_config(10, 20).await;
    cfg.chaos_drop = Some(5);
    let (_tx, stop) = watch::channel(false);
    let report = tokio::time::timeout(TEST_TIMEOUT, run(cfg, stop))
        .await
        .expect("bounded")
        .expect("run");
    assert_eq!(report.spins, 10 * 20);
    // Spins 5, 10, 15, 20 of each player are dropped once and resent.
    assert_eq!(report.resends.chaos_drops, 10 * 4);
    assert_eq!(report.resends.retries, 10 * 4);
    assert_eq!(report.resends.replay_checks, 10 * 4);
    assert_eq!(report.resends.replay_mismatches, 0);
    assert_eq!(report.error_frames, 0);
    // Each drop costs one reconnect.
    assert_eq!(
        report.latency.get("connect").map(|l| l.count),
        Some(10 + 40)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_is_bounded_by_its_schedule() {
    let (server, mut cfg) = echo_config(10, 1).await;
    cfg.spins_per_player = None;
    cfg.duration = Some(Duration::from_secs(1));
    cfg.rate = Some(200.0);
    let (_tx, stop) = watch::channel(false);
    let report = tokio::time::timeout(TEST_TIMEOUT, run(cfg, stop))
        .await
        .expect("bounded")
        .expect("run");
    // 200/s for 1 s: never more than the schedule holds.
    assert!(report.spins > 0);
    assert!(report.spins <= 200 + 10, "{} spins", report.spins);
    assert_eq!(report.load.loop_kind, "open");
    assert!(report.latency.contains_key("spin_service"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_signal_ends_a_long_run() {
    let (server, mut cfg) = echo_config(5, 1).await;
    cfg.spins_per_player = None;
    cfg.duration = Some(Duration::from_secs(600));
    let (tx, stop) = watch::channel(false);
    let handle = tokio::spawn(run(cfg, stop));
    // Stop once play is under way (bounded: 10 s at most).
    for _ in 0..1_000 {
        if server
            .stats
            .frames
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 20
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = tx.send(true);
    let report = tokio::time::timeout(TEST_TIMEOUT, handle)
        .await
        .expect("bounded")
        .expect("join")
        .expect("run");
    assert!(report.spins > 0);
    assert_eq!(report.error_frames, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_targets_share_players_round_robin() {
    let (a, mut cfg) = echo_config(10, 7).await;
    let b = EchoServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), 1000)
        .await
        .expect("bind echo b");
    cfg.targets = parse_targets(&[format!("{},{}", a.url(), b.url())], true, false).expect("t");
    let (_tx, stop) = watch::channel(false);
    let report = tokio::time::timeout(TEST_TIMEOUT, run(cfg, stop))
        .await
        .expect("bounded")
        .expect("run");
    assert_eq!(report.spins, 70);
    assert_eq!(report.targets.len(), 2);
    let frames = |s: &EchoServer| s.stats.frames.load(std::sync::atomic::Ordering::Relaxed);
    let accepted = |s: &EchoServer| s.stats.accepted.load(std::sync::atomic::Ordering::Relaxed);
    // Players 0, 2, 4, … on the first target, 1, 3, 5, … on the second.
    assert_eq!((frames(&a), frames(&b)), (35, 35));
    assert_eq!((accepted(&a), accepted(&b)), (5, 5));
    a.shutdown().await;
    b.shutdown().await;
}
