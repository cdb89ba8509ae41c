//! Faults the real server never commits, injected to prove the tester catches them: a server
//! that charges a resent spin twice must fail the money audit. Normal play (free spins,
//! dropped connections, resends) is tested against the real croupier in smoke_server.rs.

use crate::support::{start_mock, MockConfig};
use croupier_loadtest::target::parse_targets;
use croupier_loadtest::{run, RunConfig};
use rust_decimal::Decimal;
use std::time::Duration;
use tokio::sync::watch;

const TEST_TIMEOUT: Duration = Duration::from_secs(120);

async fn config(mock: MockConfig, players: usize, spins: u64) -> RunConfig {
    let url = start_mock(mock).await;
    let targets = parse_targets(&[url], false, false).expect("target");
    let mut cfg = RunConfig::new(targets, false);
    cfg.players = players;
    cfg.spins_per_player = Some(spins);
    cfg.max_run_time = Duration::from_secs(60);
    cfg
}

async fn go(cfg: RunConfig) -> croupier_loadtest::report::Report {
    let (_tx, stop) = watch::channel(false);
    tokio::time::timeout(TEST_TIMEOUT, run(cfg, stop))
        .await
        .expect("bounded")
        .expect("run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_catches_a_double_charge() {
    let mock = MockConfig {
        cheat_on_resend: true,
        ..MockConfig::default()
    };
    let mut cfg = config(mock, 5, 10).await;
    cfg.chaos_drop = Some(5);
    let report = go(cfg).await;
    assert!(!report.audit_passed);
    assert_eq!(report.audit.mismatches.len(), 5, "{}", report.render());
    // Each player's spins 5 and 10 were resent (and probed): charged again each time.
    for m in &report.audit.mismatches {
        assert!(m.difference < Decimal::ZERO);
    }
    assert!(report.render().contains("MISMATCH"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_reported() {
    // A port nothing listens on: bind, take the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let targets = parse_targets(&[format!("http://127.0.0.1:{port}")], false, false).expect("t");
    let mut cfg = RunConfig::new(targets, false);
    cfg.players = 3;
    cfg.games = vec!["classic_sevens".into()];
    cfg.bet = Some(Decimal::new(10, 2));
    let report = go(cfg).await;
    assert_eq!(report.spins, 0);
    assert!(report.connection_failures >= 3);
    let why = report.players.not_reached.clone().unwrap_or_default();
    assert!(why.contains("refused"), "{why}");
}
