//! Smoke run against the real croupier binary, when `CROUPIER_BIN` names it: start it on
//! 127.0.0.1:0 with a temporary ledger, run 50 players × 20 spins (and a small run with deliberate
//! drops), and assert the money audit passes and no error frame came back; then `hold` 40 idle
//! connections over two child processes. No timing or memory figure is asserted.
//! Without `CROUPIER_BIN` the test says it skipped and passes.
//!
//! Knobs: `CROUPIER_REPO` (where the server runs; default: the parent of this crate),
//! `CROUPIER_CONFIG` (default: `$CROUPIER_REPO/config/default.toml`), `CROUPIER_SMOKE_ARGS`
//! (extra server arguments, split on whitespace).

use croupier_loadtest::target::parse_targets;
use croupier_loadtest::{run, RunConfig};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// The server must print its address within this (migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Each load run must end within this.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// Where the server runs: the croupier repository (`CROUPIER_REPO`, default the parent of this
/// crate), since its config names paths (the games dir) relative to it.
fn repo_root() -> PathBuf {
    if let Some(r) = std::env::var_os("CROUPIER_REPO") {
        return PathBuf::from(r);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

struct Server {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

async fn start_server(bin: PathBuf) -> Server {
    let config = std::env::var_os("CROUPIER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("config/default.toml"));
    let data = tempfile::tempdir().expect("temp data dir");
    let mut cmd = Command::new(&bin);
    // The config names paths (games dir) relative to the repository root.
    cmd.current_dir(repo_root())
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--admin-listen")
        .arg("127.0.0.1:0")
        .arg("--operator-listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data.path());
    if let Ok(extra) = std::env::var("CROUPIER_SMOKE_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdout = child.stdout.take().expect("server stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(START_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            // The players' listener; "admin listening on …" comes first and is not it.
            if let Some(rest) = line.strip_prefix("listening on ") {
                return rest.split_whitespace().next().map(str::to_owned);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("the server printed `listening on http://127.0.0.1:PORT`");
    // Keep reading its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server {
        child,
        url,
        _data: data,
    }
}

async fn load(
    server: &Server,
    players: usize,
    spins: u64,
    chaos: Option<u64>,
) -> croupier_loadtest::report::Report {
    let targets = parse_targets(std::slice::from_ref(&server.url), false, false).expect("target");
    let mut cfg = RunConfig::new(targets, false);
    cfg.players = players;
    cfg.spins_per_player = Some(spins);
    cfg.chaos_drop = chaos;
    cfg.max_run_time = Duration::from_secs(120);
    cfg.server_pids = server.child.id().into_iter().collect();
    let (_tx, stop) = watch::channel(false);
    let report = tokio::time::timeout(RUN_TIMEOUT, run(cfg, stop))
        .await
        .expect("load run finished in time")
        .expect("load run");
    println!("{}", report.render());
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_against_croupier() {
    let Some(bin) = std::env::var_os("CROUPIER_BIN").map(PathBuf::from) else {
        eprintln!(
            "smoke_server: skipped, CROUPIER_BIN is not set (point it at target/release/croupier)"
        );
        return;
    };
    let mut server = start_server(bin).await;

    let report = load(&server, 50, 20, None).await;
    assert!(
        report.audit_passed,
        "money audit failed:\n{}",
        report.render()
    );
    assert_eq!(report.audit.players, 50);
    assert_eq!(report.audit.matched, 50);
    assert_eq!(report.spins, 50 * 20);
    assert_eq!(report.error_frames, 0, "{:?}", report.errors_by_code);
    assert_eq!(
        report.connection_failures, 0,
        "{:?}",
        report.connection_failures_by_reason
    );

    // Resends after deliberate drops must be answered with the first reply and charged once.
    let report = load(&server, 10, 10, Some(3)).await;
    assert!(
        report.audit_passed,
        "money audit failed:\n{}",
        report.render()
    );
    assert_eq!(report.resends.chaos_drops, 10 * 3);
    assert_eq!(report.resends.replay_mismatches, 0);
    assert_eq!(report.error_frames, 0, "{:?}", report.errors_by_code);

    let _ = server.child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), server.child.wait()).await;

    // Idle connections held by two child processes, and the server's memory per connection
    // (a fresh server: the shipped per-address sign-up budget is spent by the runs above).
    let mut server =
        start_server(std::env::var_os("CROUPIER_BIN").map(PathBuf::from).unwrap()).await;
    let pid = server.child.id().expect("server pid").to_string();
    let out = tokio::time::timeout(
        RUN_TIMEOUT,
        Command::new(env!("CARGO_BIN_EXE_croupier-loadtest"))
            .args([
                "hold",
                "--target",
                &server.url,
                "--players",
                "40",
                "--processes",
                "2",
            ])
            .args(["--hold", "1s", "--server-pid", &pid])
            .output(),
    )
    .await
    .expect("hold finished in time")
    .expect("hold ran");
    let said = String::from_utf8_lossy(&out.stdout);
    println!("{said}");
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("held         40 connections (0 failed) in 2 process(es)"),
        "{said}"
    );
    assert!(said.contains("KiB per connection"), "{said}");
    // And bad flags are refused before anything connects.
    for bad in [
        &["--players", "0"][..],
        &["--processes", "1000"],
        &["--hold", "2h"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_croupier-loadtest"))
            .args(["hold", "--target", &server.url])
            .args(bad)
            .output()
            .await
            .expect("hold ran");
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(!out.stderr.is_empty(), "{bad:?}: no reason given");
    }

    let _ = server.child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), server.child.wait()).await;
}
