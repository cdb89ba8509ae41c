//! The end-of-run report: one struct that is both printed as a table for people and written as
//! JSON (`--json FILE`) for machines, so the two always carry the same figures.

use crate::books::Audit;
use crate::limits::FdLimits;
use crate::memory::{mib, CpuUse, ProcMem};
use crate::metrics::LatencySummary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: String,
    pub run_id: String,
    /// "server" or "echo".
    pub mode: String,
    pub targets: Vec<String>,
    pub scenario: String,
    pub games: Vec<String>,
    pub bet: Option<String>,
    pub players: PlayersReport,
    pub load: LoadReport,
    /// Whole run, sessions and audit included (s).
    pub wall_time_s: f64,
    /// From the first spin sent to the last spin reply (s): the throughput window.
    pub spin_window_s: f64,
    /// Spin replies (echo mode: echo round trips).
    pub spins: u64,
    pub free_spins: u64,
    /// spins / spin_window_s.
    pub throughput_per_s: f64,
    /// With a ramp-up: spins/s from the end of ramp-up to the last reply (all players in).
    pub steady_throughput_per_s: Option<f64>,
    /// Per request type: spin, spin_service (open loop), balance, session, connect.
    pub latency: BTreeMap<String, LatencySummary>,
    pub resends: ResendReport,
    pub error_frames: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    pub connection_failures: u64,
    pub connection_failures_by_reason: BTreeMap<String, u64>,
    pub audit: Audit,
    pub audit_passed: bool,
    pub memory: MemoryReport,
    pub fd_limits: Option<FdLimits>,
    pub ceiling: Option<Ceiling>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlayersReport {
    pub requested: usize,
    /// Got a session (echo mode: got connected).
    pub with_session: u64,
    /// Most WebSockets open at once.
    pub connected_peak: i64,
    /// Players whose loop ended early, by reason.
    pub stopped_early: BTreeMap<String, u64>,
    /// Why not all requested players got connected, if they did not.
    pub not_reached: Option<String>,
    /// Seconds from the run's start until every player had started (session + connect).
    pub all_started_after_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// "closed" (each player sends its next spin when the last is answered) or "open".
    pub loop_kind: String,
    pub rate: Option<f64>,
    pub ramp_up_s: f64,
    pub duration_s: Option<f64>,
    pub spins_per_player: Option<u64>,
    pub think_time_ms: f64,
    /// Closed loop: spins/s each player was held to (the server's announced limit × margin).
    pub player_rate_cap: Option<f64>,
    pub chaos_drop: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ResendReport {
    /// Resends of a `req_id` on a new connection (chaos drops included).
    pub retries: u64,
    pub chaos_drops: u64,
    /// Connections lost unasked while a request was out, and of those reply timeouts.
    pub drops: u64,
    pub timeouts: u64,
    /// Resends after `server_busy` / `service_unavailable`.
    pub busy_retries: u64,
    /// Second resends of a retried `req_id`, and replies that differed from the first.
    pub replay_checks: u64,
    pub replay_mismatches: u64,
    pub reconnect_pushes: u64,
    pub unexpected_frames: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryReport {
    pub client: Option<ProcMem>,
    /// Client VmRSS before the players started.
    pub client_baseline_rss_kib: Option<u64>,
    /// (client VmHWM − baseline) / peak connections.
    pub client_kib_per_connection: Option<f64>,
    pub servers: Vec<ProcMem>,
    /// CPU used from the start of the players to the end of the audit, by the tester and by the
    /// `--server-pid` processes.
    pub client_cpu: Option<CpuUse>,
    pub servers_cpu: Vec<CpuUse>,
}

/// The transport ceiling: the same loop against the echo server.
#[derive(Debug, Clone, Serialize)]
pub struct Ceiling {
    /// Where the figure came from: "auto" (measured just before), a file, or a number.
    pub source: String,
    pub echo_frames_per_s: f64,
    pub echo_latency: Option<LatencySummary>,
    pub echo_server_memory: Option<ProcMem>,
    /// Our spins/s as a fraction of the echo frames/s.
    pub ratio: f64,
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Most audit lines printed in the table (all are in the JSON).
const MAX_PRINTED: usize = 20;

impl Report {
    /// The human table.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let w = &mut o;
        let what = if self.mode == "echo" {
            "echo round trips"
        } else {
            "spins"
        };
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "croupier-loadtest  run {}  mode {}  scenario {}  targets {}",
            self.run_id,
            self.mode,
            self.scenario,
            self.targets.join(", ")
        );
        let l = &self.load;
        let mut shape = format!("{} loop", l.loop_kind);
        if let Some(r) = l.rate {
            let _ = write!(shape, " at {r} spins/s");
        }
        if let Some(d) = l.duration_s {
            let _ = write!(shape, ", duration {d}s");
        }
        if let Some(n) = l.spins_per_player {
            let _ = write!(shape, ", {n} spins/player");
        }
        if l.ramp_up_s > 0.0 {
            let _ = write!(shape, ", ramp-up {}s", l.ramp_up_s);
        }
        if let Some(c) = l.player_rate_cap {
            let _ = write!(
                shape,
                " (each player at most {c:.0} spins/s: server rate limit)"
            );
        }
        if l.think_time_ms > 0.0 {
            let _ = write!(shape, ", think time {} ms", l.think_time_ms);
        }
        if let Some(n) = l.chaos_drop {
            let _ = write!(shape, ", chaos drop on every spin number divisible by {n}");
        }
        if !self.games.is_empty() {
            let _ = write!(shape, ", game {}", self.games.join(","));
        }
        if let Some(b) = &self.bet {
            let _ = write!(shape, ", bet {b}");
        }
        let _ = writeln!(w, "load         {shape}");
        let p = &self.players;
        let _ = writeln!(
            w,
            "players      requested {}, started {}, peak connected {}{}",
            p.requested,
            p.with_session,
            p.connected_peak,
            p.all_started_after_s
                .map(|s| format!(", all in after {s:.1} s"))
                .unwrap_or_default()
        );
        if let Some(why) = &p.not_reached {
            let _ = writeln!(w, "             NOT REACHED: {why}");
        }
        for (why, n) in &p.stopped_early {
            let _ = writeln!(w, "             {n} stopped early: {why}");
        }
        let _ = writeln!(
            w,
            "throughput   {} {what} in {:.2} s = {:.0}/s  (wall time {:.2} s, free spins {})",
            self.spins,
            self.spin_window_s,
            self.throughput_per_s,
            self.wall_time_s,
            self.free_spins
        );
        if let Some(s) = self.steady_throughput_per_s {
            let _ = writeln!(
                w,
                "             {s:.0}/s once every player was in (steady state)"
            );
        }
        if let Some(c) = &self.ceiling {
            let _ = writeln!(
                w,
                "ceiling      echo {:.0} frames/s ({}) -> {what} at {:.1} % of the transport ceiling",
                c.echo_frames_per_s,
                c.source,
                c.ratio * 100.0
            );
        }
        let _ = writeln!(
            w,
            "latency ms   {:<13}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}",
            "", "count", "mean", "p50", "p90", "p99", "p99.9", "max"
        );
        for (name, s) in &self.latency {
            if s.count == 0 {
                continue;
            }
            let _ = writeln!(
                w,
                "             {:<13}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}",
                name,
                s.count,
                ms(s.mean_ms),
                ms(s.p50_ms),
                ms(s.p90_ms),
                ms(s.p99_ms),
                ms(s.p999_ms),
                ms(s.max_ms)
            );
        }
        if let Some(c) = self.ceiling.as_ref().and_then(|c| c.echo_latency.as_ref()) {
            let _ = writeln!(
                w,
                "             {:<13}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}",
                "(echo)",
                c.count,
                ms(c.mean_ms),
                ms(c.p50_ms),
                ms(c.p90_ms),
                ms(c.p99_ms),
                ms(c.p999_ms),
                ms(c.max_ms)
            );
        }
        let r = &self.resends;
        let _ = writeln!(
            w,
            "resends      {} retries (chaos drops {}, lost connections {}, timeouts {}), busy retries {}, replay checks {} ({} differed)",
            r.retries, r.chaos_drops, r.drops, r.timeouts, r.busy_retries, r.replay_checks, r.replay_mismatches
        );
        if r.reconnect_pushes + r.unexpected_frames > 0 {
            let _ = writeln!(
                w,
                "             reconnect pushes {}, unexpected frames {}",
                r.reconnect_pushes, r.unexpected_frames
            );
        }
        let _ = write!(w, "errors       {} error frames", self.error_frames);
        for (code, n) in &self.errors_by_code {
            let _ = write!(w, "  {code}={n}");
        }
        let _ = writeln!(w);
        let _ = write!(w, "conn fail    {}", self.connection_failures);
        for (why, n) in &self.connection_failures_by_reason {
            let _ = write!(w, "\n             {n} x {why}");
        }
        let _ = writeln!(w);
        self.render_audit(w);
        self.render_memory(w);
        for warn in &self.warnings {
            let _ = writeln!(w, "warning      {warn}");
        }
        o
    }

    fn render_audit(&self, w: &mut String) {
        let a = &self.audit;
        if !a.performed {
            let _ = writeln!(
                w,
                "money audit  not performed ({} mode moves no money)",
                self.mode
            );
            return;
        }
        let verdict = if self.audit_passed {
            "PASSED"
        } else {
            "FAILED"
        };
        let _ = writeln!(
            w,
            "money audit  {verdict}: {}/{} players match to the cent (bets {}, wins {}, expected total {})",
            a.matched, a.players, a.total_bets, a.total_wins, a.total_expected
        );
        for m in a.mismatches.iter().take(MAX_PRINTED) {
            let _ = writeln!(
                w,
                "  MISMATCH   {}: books {} server {} (difference {}, {} spins)",
                m.player_id, m.expected, m.server, m.difference, m.spins
            );
        }
        let lists: [(&str, &Vec<String>); 3] = [
            ("UNVERIFIED", &a.unverified),
            ("DRIFT", &a.drift_notes),
            ("WRONG BET", &a.bet_mismatch_notes),
        ];
        for (tag, list) in lists {
            for n in list.iter().take(MAX_PRINTED) {
                let _ = writeln!(w, "  {tag:<10} {n}");
            }
            if list.len() > MAX_PRINTED {
                let _ = writeln!(w, "  ... and {} more {tag}", list.len() - MAX_PRINTED);
            }
        }
        if a.mismatches.len() > MAX_PRINTED {
            let _ = writeln!(
                w,
                "  ... and {} more MISMATCH",
                a.mismatches.len() - MAX_PRINTED
            );
        }
        if a.replay_mismatches > 0 {
            let _ = writeln!(
                w,
                "  EXACTLY-ONCE  {} resent req_ids got another reply than the first",
                a.replay_mismatches
            );
        }
    }

    fn render_memory(&self, w: &mut String) {
        let m = &self.memory;
        if let Some(c) = m.client {
            let per = m
                .client_kib_per_connection
                .map(|k| format!(", ~{k:.0} KiB per connection"))
                .unwrap_or_default();
            let _ = writeln!(
                w,
                "memory       client VmHWM {} VmRSS {}{per}",
                mib(c.vm_hwm_kib),
                mib(c.vm_rss_kib)
            );
        }
        for s in &m.servers {
            let _ = writeln!(
                w,
                "             server pid {} VmHWM {} VmRSS {}",
                s.pid,
                mib(s.vm_hwm_kib),
                mib(s.vm_rss_kib)
            );
        }
        if let Some(e) = self.ceiling.as_ref().and_then(|c| c.echo_server_memory) {
            let _ = writeln!(
                w,
                "             echo server pid {} VmHWM {} VmRSS {}",
                e.pid,
                mib(e.vm_hwm_kib),
                mib(e.vm_rss_kib)
            );
        }
        let cpu_line = |who: &str, c: &CpuUse| {
            format!(
                "{who} pid {} {:.1} s user + {:.1} s system = {:.2} cores",
                c.pid, c.user_s, c.system_s, c.cores
            )
        };
        if let Some(c) = &m.client_cpu {
            let _ = writeln!(w, "cpu          {}", cpu_line("client", c));
        }
        for c in &m.servers_cpu {
            let _ = writeln!(w, "             {}", cpu_line("server", c));
        }
        if let Some(f) = self.fd_limits {
            let _ = writeln!(
                w,
                "open files   RLIMIT_NOFILE soft {} (was {}), hard {}",
                f.soft, f.soft_before, f.hard
            );
        }
    }

    /// The throughput that counts: steady state when there was a ramp-up, else the whole window.
    pub fn headline_throughput(&self) -> f64 {
        self.steady_throughput_per_s
            .unwrap_or(self.throughput_per_s)
    }

    /// Any error frame or connection failure (what `--fail-on-errors` fails on).
    pub fn has_errors(&self) -> bool {
        self.error_frames > 0 || self.connection_failures > 0
    }
}
