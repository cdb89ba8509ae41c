//! The live progress line while a run goes on: players connected, spins/s, p99 so far, errors
//! and connection failures. An indicatif spinner on a terminal, a plain line every few seconds
//! otherwise (CI logs), or nothing.

use crate::metrics::{Kind, Metrics};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the terminal line is redrawn.
const BAR_TICK: Duration = Duration::from_millis(250);
/// How often a plain line is printed when stderr is not a terminal.
const PLAIN_TICK: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ProgressMode {
    /// A live line on a terminal, plain lines otherwise.
    #[default]
    Auto,
    Bar,
    Plain,
    Off,
}

/// The running progress reporter; `finish` stops it.
pub struct Progress {
    done: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Progress {
    pub fn start(mode: ProgressMode, label: String, metrics: Arc<Metrics>, players: usize) -> Self {
        let (done, rx) = watch::channel(false);
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Plain,
            m => m,
        };
        let task = (mode != ProgressMode::Off)
            .then(|| tokio::spawn(run(mode, label, metrics, players, rx)));
        Progress { done, task }
    }

    pub async fn finish(mut self) {
        let _ = self.done.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

fn line(m: &Metrics, players: usize, spins_per_s: f64) -> String {
    let p99 = m.histogram(Kind::Spin).value_at_quantile(0.99) as f64 / 1000.0;
    format!(
        "players {}/{players} | spins {} ({spins_per_s:.0}/s) | p99 {p99:.2} ms | errors {} | conn failures {} | retries {}",
        m.connected.load(Relaxed),
        m.spins.load(Relaxed),
        m.error_frames.load(Relaxed),
        m.connection_failures.load(Relaxed),
        m.retries.load(Relaxed),
    )
}

async fn run(
    mode: ProgressMode,
    label: String,
    m: Arc<Metrics>,
    players: usize,
    mut done: watch::Receiver<bool>,
) {
    let tick = if mode == ProgressMode::Bar {
        BAR_TICK
    } else {
        PLAIN_TICK
    };
    let bar = (mode == ProgressMode::Bar).then(|| {
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix} {msg}")
        {
            b.set_style(style);
        }
        b.set_prefix(label.clone());
        b
    });
    let mut last_spins = m.spins.load(Relaxed);
    let mut interval = tokio::time::interval(tick);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = done.wait_for(|d| *d) => break,
        }
        let spins = m.spins.load(Relaxed);
        let rate = (spins - last_spins) as f64 / tick.as_secs_f64();
        last_spins = spins;
        let text = line(&m, players, rate);
        match &bar {
            Some(b) => {
                b.set_message(text);
                b.tick();
            }
            None => eprintln!("[{:>6.1}s] {label} {text}", m.elapsed().as_secs_f64()),
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}
