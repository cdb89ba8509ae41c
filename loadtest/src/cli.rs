//! The command line: `croupier-loadtest [run] [flags]` and `croupier-loadtest echo-server`,
//! and the conversion of the run flags into a checked `RunConfig`.

use crate::limits;
use crate::progress::ProgressMode;
use crate::protocol::EXAMPLE_SPIN_RESULT;
use crate::runner::{new_run_id, parse_money, RunConfig};
use crate::target::{parse_targets, TargetError};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rust_decimal::Decimal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "croupier-loadtest",
    version,
    about = "Load tester for croupier: virtual players spin over WebSocket; latency, throughput, \
             money audit and the echo transport ceiling.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load test (the default when no subcommand is given).
    Run(Box<RunArgs>),
    /// Start a minimal WebSocket echo server (the transport ceiling).
    EchoServer(EchoArgs),
    /// Seat N clients at one live table and measure how fast each round's result reaches all.
    TableFanout(crate::fanout::FanoutArgs),
    /// Open N player connections, keep them idle, report the server's memory per connection.
    Hold(crate::hold::HoldArgs),
    /// An operator's back end at full speed: deposits/s and launches/s, then the books checked.
    Operator(crate::operator::OperatorArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Every player spins slots.
    Slots,
    /// Live tables (not a run scenario yet: see the table-fanout command).
    Table,
    /// Slots and tables mixed (needs tables).
    Mixed,
}

/// Parses `30s`, `2m`, `1h30m`, `500ms` (humantime) or a bare number of seconds (`2.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if (0.0..=1e7).contains(&secs) {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!("{s:?} is not a reasonable number of seconds"));
    }
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Server URL(s): http://127.0.0.1:8080, or several (repeat the flag or separate by commas);
    /// players are spread over them round-robin. With --echo: the echo server's ws:// URL.
    #[arg(long, short = 't', default_value = "http://127.0.0.1:8080")]
    pub target: Vec<String>,

    /// Virtual players (one session and one WebSocket each).
    #[arg(long, short = 'p', default_value_t = 10)]
    pub players: usize,

    /// Time over which players are started, evenly (e.g. 10s). 0: all at once.
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    pub ramp_up: Duration,

    /// How long players spin once ramp-up is over (e.g. 30s, 2m). Default 10s when
    /// --spins-per-player is not given either.
    #[arg(long, short = 'd', value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Spins each player makes, then it stops (with --duration, whichever comes first).
    #[arg(long, short = 'n')]
    pub spins_per_player: Option<u64>,

    /// Open loop: total spins/s over all players, sent on a fixed schedule; latency is measured
    /// from the scheduled time (no coordinated omission). Without it: closed loop, unthrottled.
    #[arg(long, short = 'r')]
    pub rate: Option<f64>,

    /// Closed loop: pause between a player's reply and its next spin (e.g. 50ms).
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    pub think_time: Duration,

    /// Closed loop: do not pace players to the per-connection rate limit the server announces
    /// in `welcome` (expect rate_limited errors when players are few and the server is fast).
    #[arg(long)]
    pub ignore_rate_limit: bool,

    /// Game id(s) to spin, spread over players round-robin. Default: the first of GET /v1/games.
    #[arg(long, short = 'g', value_delimiter = ',')]
    pub game: Vec<String>,

    /// Bet per spin as a decimal string (e.g. 0.10). Default: the game's min_bet.
    #[arg(long, value_parser = parse_money)]
    pub bet: Option<Decimal>,

    /// Currency of the sessions.
    #[arg(long, default_value = "EUR")]
    pub currency: String,

    /// What the players play.
    #[arg(long, value_enum, default_value_t = Scenario::Slots)]
    pub scenario: Scenario,

    /// The targets are echo servers (croupier-loadtest echo-server): no sessions, no money;
    /// spin-sized frames are echoed and timed the same way.
    #[arg(long)]
    pub echo: bool,

    /// Echo mode: bytes per frame. Default: the size of the spin_result example of the protocol.
    #[arg(long, default_value_t = EXAMPLE_SPIN_RESULT.len())]
    pub echo_frame_bytes: usize,

    /// Drop the connection right after sending every Nth spin (before its reply), reconnect and
    /// resend the same req_id; checks that nothing is charged twice.
    #[arg(long)]
    pub chaos_drop: Option<u64>,

    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// Exit non-zero (4) on any error frame or connection failure too.
    #[arg(long)]
    pub fail_on_errors: bool,

    /// Transport ceiling to report spins/s against: `auto` (start an echo server child and run the
    /// same loop against it first), a number of frames/s, or the --json file of an echo run.
    #[arg(long)]
    pub ceiling: Option<String>,

    /// PID(s) of server processes whose VmHWM / VmRSS to report.
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,

    /// Live progress: auto (a line on a terminal, plain lines every 5 s otherwise), bar, plain, off.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    /// Allow targets that are not loopback addresses.
    #[arg(long)]
    pub allow_remote: bool,

    /// Run id used in player ids (lt-<run id>-<n>). Default: a fresh one.
    #[arg(long)]
    pub run_id: Option<String>,

    /// Hard cap on the spin phase whatever else is asked (bounds --spins-per-player runs).
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    pub max_run_time: Duration,

    /// WebSocket connects under way at once.
    #[arg(long, default_value_t = limits::DEFAULT_CONNECT_CONCURRENCY)]
    pub connect_concurrency: usize,
}

#[derive(Debug, Clone, Args)]
pub struct EchoArgs {
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:9001")]
    pub listen: SocketAddr,

    /// Most connections at once (more are closed at accept).
    #[arg(long, default_value_t = limits::ECHO_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Exit after this long (Ctrl-C also stops it).
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    pub max_lifetime: Duration,

    /// Allow listening on a non-loopback address.
    #[arg(long)]
    pub allow_remote: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("{0}")]
    Invalid(String),
}

impl RunArgs {
    /// Checks the flags and builds the run configuration.
    pub fn to_config(&self) -> Result<RunConfig, CliError> {
        match self.scenario {
            Scenario::Slots => {}
            Scenario::Table | Scenario::Mixed => {
                return Err(CliError::Invalid(
                    "--scenario table/mixed is not a run scenario yet: measure live tables \
                     with `croupier-loadtest table-fanout`; use --scenario slots here"
                        .into(),
                ))
            }
        }
        if self.echo && self.ceiling.is_some() {
            return Err(CliError::Invalid(
                "--ceiling makes no sense with --echo".into(),
            ));
        }
        if self.echo_frame_bytes > limits::WS_MAX_MESSAGE {
            return Err(CliError::Invalid(format!(
                "--echo-frame-bytes is at most {}",
                limits::WS_MAX_MESSAGE
            )));
        }
        let targets = parse_targets(&self.target, self.echo, self.allow_remote)?;
        let mut cfg = RunConfig::new(targets, self.echo);
        cfg.players = self.players;
        cfg.ramp_up = self.ramp_up;
        cfg.duration = self.duration;
        cfg.spins_per_player = self.spins_per_player;
        if cfg.duration.is_none() && cfg.spins_per_player.is_none() {
            cfg.duration = Some(Duration::from_secs(10));
        }
        cfg.rate = self.rate;
        cfg.think_time = self.think_time;
        cfg.ignore_rate_limit = self.ignore_rate_limit;
        cfg.games = self.game.clone();
        cfg.bet = self.bet;
        cfg.currency = self.currency.clone();
        cfg.chaos_drop = self.chaos_drop;
        cfg.echo_frame_bytes = self.echo_frame_bytes;
        cfg.run_id = self.run_id.clone().unwrap_or_else(new_run_id);
        cfg.max_run_time = self.max_run_time;
        cfg.connect_concurrency = self.connect_concurrency;
        cfg.progress = self.progress;
        cfg.server_pids = self.server_pid.clone();
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn default_is_run() {
        let cli = Cli::try_parse_from([
            "croupier-loadtest",
            "--players",
            "5",
            "--target",
            "127.0.0.1:1,127.0.0.1:2",
            "-n",
            "3",
            "--bet",
            "0.10",
        ])
        .expect("parse");
        assert!(cli.command.is_none());
        let cfg = cli.run.to_config().expect("config");
        assert_eq!(cfg.players, 5);
        assert_eq!(cfg.targets.len(), 2);
        assert_eq!(cfg.spins_per_player, Some(3));
        assert_eq!(cfg.duration, None);
        assert_eq!(cfg.bet.map(|b| b.to_string()), Some("0.10".into()));
    }

    #[test]
    fn echo_server_subcommand() {
        let cli = Cli::try_parse_from([
            "croupier-loadtest",
            "echo-server",
            "--listen",
            "127.0.0.1:0",
        ])
        .expect("parse");
        assert!(matches!(cli.command, Some(Command::EchoServer(_))));
    }

    #[test]
    fn refusals() {
        let parse = |args: &[&str]| {
            let mut v = vec!["croupier-loadtest"];
            v.extend_from_slice(args);
            Cli::try_parse_from(v).map(|c| c.run.to_config())
        };
        assert!(matches!(parse(&["--scenario", "table"]), Ok(Err(_))));
        assert!(matches!(
            parse(&["--target", "http://192.168.1.2:80"]),
            Ok(Err(_))
        ));
        assert!(parse(&["--bet", "1e3x"]).is_err());
        assert!(parse(&["--bet", "-1.00"]).is_err());
        assert_eq!(
            parse_duration("1.5").ok(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_duration("2m").ok(), Some(Duration::from_secs(120)));
    }
}
