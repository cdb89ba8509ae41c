//! The `croupier-loadtest` binary: the command-line edge. Parses flags, raises the open-files
//! limit, runs the echo server or a load test (with its ceiling), prints the report, writes the
//! JSON, and turns the outcome into an exit code.

use anyhow::{bail, Context};
use clap::Parser;
use croupier_loadtest::ceiling::{self, Source};
use croupier_loadtest::cli::{Cli, Command, EchoArgs, RunArgs};
use croupier_loadtest::echo::EchoServer;
use croupier_loadtest::{limits, memory, runner, target};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::watch;

/// Exit codes: 0 all good; 1 the run could not be done; 2 bad flags (clap);
/// 3 the money audit failed; 4 errors occurred and --fail-on-errors was given.
const EXIT_FAILED: u8 = 1;
const EXIT_AUDIT: u8 = 3;
const EXIT_ERRORS: u8 = 4;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let res = rt.block_on(async {
        match cli.command {
            Some(Command::EchoServer(args)) => echo_server(args).await.map(|()| ExitCode::SUCCESS),
            Some(Command::TableFanout(args)) => {
                raise_fds();
                croupier_loadtest::fanout::run(args)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Some(Command::Hold(args)) => croupier_loadtest::hold::run(args)
                .await
                .map(|()| ExitCode::SUCCESS),
            Some(Command::Operator(args)) => croupier_loadtest::operator::run(args)
                .await
                .map(|()| ExitCode::SUCCESS),
            Some(Command::Run(args)) => run(*args).await,
            None => run(cli.run).await,
        }
    });
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Raises RLIMIT_NOFILE and says what it is now.
fn raise_fds() -> Option<limits::FdLimits> {
    match limits::raise_nofile() {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("warning: cannot read or raise RLIMIT_NOFILE: {e}");
            None
        }
    }
}

/// Ctrl-C once: stop the spin phase (the audit still runs). Twice: exit at once.
fn stop_on_ctrl_c() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: finishing requests in flight, then the money audit (Ctrl-C again to quit)");
            let _ = tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    rx
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = args.to_config()?;
    cfg.fd_limits = raise_fds();
    let stop = stop_on_ctrl_c();
    let figures = match args.ceiling.as_deref().map(Source::parse).transpose()? {
        None => None,
        Some(Source::FramesPerSecond(n)) => Some(ceiling::EchoFigures {
            source: "given".into(),
            frames_per_s: n,
            latency: None,
            server_memory: None,
        }),
        Some(Source::File(p)) => Some(ceiling::from_file(&p)?),
        Some(Source::Auto) => {
            let exe = std::env::current_exe().context("locating this binary for the echo child")?;
            eprintln!("ceiling: running the same loop against an echo server child first");
            Some(ceiling::measure_auto(&exe, &cfg, stop.clone()).await?)
        }
    };
    let mut report = runner::run(cfg, stop).await?;
    if let Some(f) = &figures {
        report.ceiling = Some(f.ceiling_for(&report));
    }
    print!("{}", report.render());
    let _ = std::io::stdout().flush();
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).context("encoding the JSON report")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    if report.players.with_session == 0 || report.players.connected_peak == 0 {
        eprintln!("FAILED: no player could connect (see connection failures) (exit {EXIT_FAILED})");
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    if !report.audit_passed {
        eprintln!("FAILED: the money audit found differences (exit {EXIT_AUDIT})");
        return Ok(ExitCode::from(EXIT_AUDIT));
    }
    if args.fail_on_errors && report.has_errors() {
        eprintln!(
            "FAILED: {} error frames and {} connection failures with --fail-on-errors (exit {EXIT_ERRORS})",
            report.error_frames, report.connection_failures
        );
        return Ok(ExitCode::from(EXIT_ERRORS));
    }
    Ok(ExitCode::SUCCESS)
}

async fn echo_server(args: EchoArgs) -> anyhow::Result<()> {
    if !args.allow_remote && !target::is_loopback(&args.listen.ip().to_string()) {
        bail!(
            "--listen {} is not a loopback address (pass --allow-remote)",
            args.listen
        );
    }
    if args.max_lifetime.is_zero() || args.max_lifetime > limits::ECHO_MAX_LIFETIME {
        bail!(
            "--max-lifetime must be >0 and at most {:?}",
            limits::ECHO_MAX_LIFETIME
        );
    }
    if let Some(f) = raise_fds() {
        let usable = f.soft.saturating_sub(limits::ECHO_FD_OVERHEAD);
        if (args.max_connections as u64) > usable {
            eprintln!(
                "note: --max-connections {} but RLIMIT_NOFILE allows about {usable} (soft {}, hard {})",
                args.max_connections, f.soft, f.hard
            );
        }
    }
    let server = EchoServer::bind(args.listen, args.max_connections)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    println!("listening on {}", server.url());
    let _ = std::io::stdout().flush();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = tokio::time::sleep(args.max_lifetime) => eprintln!("echo server: lifetime over"),
    }
    let s = server.stats.clone();
    server.shutdown().await;
    let mem = memory::read(None)
        .map(|m| {
            format!(
                ", VmHWM {} VmRSS {}",
                memory::mib(m.vm_hwm_kib),
                memory::mib(m.vm_rss_kib)
            )
        })
        .unwrap_or_default();
    eprintln!(
        "echo server: {} connections (peak {} at once, {} refused over the limit, {} failed handshakes, {} failed accepts), {} frames echoed{mem}",
        s.accepted.load(Relaxed),
        s.open_peak.load(Relaxed),
        s.refused_over_limit.load(Relaxed),
        s.handshake_failures.load(Relaxed),
        s.accept_errors.load(Relaxed),
        s.frames.load(Relaxed),
    );
    Ok(())
}
