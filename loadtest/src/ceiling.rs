//! `--ceiling`: where the transport ceiling comes from (a number, an echo run's JSON report, or
//! `auto`: an echo-server child process measured with the same loop just before the real run),
//! and the ratio of our spin throughput to it.

use crate::memory::{self, ProcMem};
use crate::metrics::LatencySummary;
use crate::report::{Ceiling, Report};
use crate::runner::{self, RunConfig};
use crate::target::parse_targets;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// The echo child must print its address within this.
const CHILD_START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Auto,
    FramesPerSecond(f64),
    File(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum CeilingError {
    #[error("--ceiling {0:?}: not `auto`, a positive number, or a readable file")]
    Parse(String),
    #[error("reading ceiling file {0}: {1}")]
    File(String, String),
    #[error("echo server child: {0}")]
    Child(String),
    #[error("echo run: {0}")]
    Run(#[from] runner::RunError),
}

impl Source {
    pub fn parse(s: &str) -> Result<Source, CeilingError> {
        if s == "auto" {
            return Ok(Source::Auto);
        }
        if let Ok(n) = s.parse::<f64>() {
            return if n.is_finite() && n > 0.0 {
                Ok(Source::FramesPerSecond(n))
            } else {
                Err(CeilingError::Parse(s.into()))
            };
        }
        let p = PathBuf::from(s);
        if p.is_file() {
            Ok(Source::File(p))
        } else {
            Err(CeilingError::Parse(s.into()))
        }
    }
}

/// What the echo measurement gave.
#[derive(Debug, Clone)]
pub struct EchoFigures {
    pub source: String,
    pub frames_per_s: f64,
    pub latency: Option<LatencySummary>,
    pub server_memory: Option<ProcMem>,
}

impl EchoFigures {
    /// The ceiling section of `report`, with its ratio.
    pub fn ceiling_for(&self, report: &Report) -> Ceiling {
        Ceiling {
            source: self.source.clone(),
            echo_frames_per_s: self.frames_per_s,
            echo_latency: self.latency.clone(),
            echo_server_memory: self.server_memory,
            ratio: if self.frames_per_s > 0.0 {
                report.headline_throughput() / self.frames_per_s
            } else {
                0.0
            },
        }
    }
}

/// Reads the frames/s of an echo run from its `--json` report.
pub fn from_file(path: &Path) -> Result<EchoFigures, CeilingError> {
    let err = |e: String| CeilingError::File(path.display().to_string(), e);
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    if v.get("mode").and_then(|m| m.as_str()) != Some("echo") {
        return Err(err("not the report of an --echo run".into()));
    }
    let fps = v
        .get("steady_throughput_per_s")
        .and_then(|t| t.as_f64())
        .or_else(|| v.get("throughput_per_s").and_then(|t| t.as_f64()))
        .ok_or_else(|| err("no throughput_per_s".into()))?;
    let latency = v
        .pointer("/latency/spin")
        .and_then(|l| serde_json::from_value(l.clone()).ok());
    let server_memory = v
        .pointer("/memory/servers/0")
        .and_then(|m| serde_json::from_value(m.clone()).ok());
    Ok(EchoFigures {
        source: path.display().to_string(),
        frames_per_s: fps,
        latency,
        server_memory,
    })
}

/// A running `echo-server` child process.
pub struct EchoChild {
    child: Child,
    pub url: String,
    pub pid: u32,
}

impl EchoChild {
    /// Starts `exe echo-server --listen 127.0.0.1:0` and reads the address it prints.
    pub async fn spawn(exe: &Path, lifetime: Duration) -> Result<EchoChild, CeilingError> {
        let mut child = Command::new(exe)
            .args(["echo-server", "--listen", "127.0.0.1:0", "--max-lifetime"])
            .arg(format!("{}s", lifetime.as_secs().max(1)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| CeilingError::Child(format!("cannot start {}: {e}", exe.display())))?;
        let pid = child.id().unwrap_or(0);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| CeilingError::Child("no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(CHILD_START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(u) = line.strip_prefix("listening on ") {
                    return Some(u.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| CeilingError::Child("did not print its address".into()))?;
        // Keep draining its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(EchoChild { child, url, pid })
    }

    /// Stops the child (it is ours: started above) and reaps it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// `--ceiling auto`: the same players, ramp-up, duration / spins and rate against a fresh echo
/// server child.
pub async fn measure_auto(
    exe: &Path,
    cfg: &RunConfig,
    stop: watch::Receiver<bool>,
) -> Result<EchoFigures, CeilingError> {
    let lifetime =
        cfg.ramp_up + cfg.duration.unwrap_or(cfg.max_run_time) + Duration::from_secs(300);
    let child = EchoChild::spawn(exe, lifetime).await?;
    let mut echo_cfg = cfg.clone();
    echo_cfg.echo = true;
    echo_cfg.chaos_drop = None;
    echo_cfg.games = Vec::new();
    echo_cfg.bet = None;
    echo_cfg.server_pids = vec![child.pid];
    echo_cfg.run_id = format!("{}e", cfg.run_id);
    echo_cfg.targets = match parse_targets(std::slice::from_ref(&child.url), true, false) {
        Ok(t) => t,
        Err(e) => {
            child.stop().await;
            return Err(CeilingError::Child(e.to_string()));
        }
    };
    let res = runner::run(echo_cfg, stop).await;
    let mem = memory::read(Some(child.pid));
    child.stop().await;
    let report = res?;
    Ok(EchoFigures {
        source: "auto".into(),
        frames_per_s: report.headline_throughput(),
        latency: report.latency.get("spin").cloned(),
        server_memory: mem,
    })
}
