//! Every Prometheus metric the server exports, defined once, with what it measures, grouped by
//! the domain that records it: [`PlayMetrics`] (slots), [`ServerMetrics`] (connections, HTTP,
//! errors), [`WalletMetrics`] (money), [`TableMetrics`], [`JackpotMetrics`],
//! [`ClusterMetrics`] and [`TlsMetrics`], one file each. Labels are bounded: game ids, error codes, outcomes —
//! never player or session ids. The names exported are the same whatever the grouping.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

mod cluster;
mod jackpots;
mod play;
mod server;
mod tables;
mod tls;
mod wallet;

pub use cluster::ClusterMetrics;
pub use jackpots::JackpotMetrics;
pub use play::PlayMetrics;
pub use server::ServerMetrics;
pub use tables::TableMetrics;
pub use tls::TlsMetrics;
pub use wallet::WalletMetrics;

/// Latency buckets in seconds: 100 µs to 5 s, dense where a spin should land (1–20 ms).
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.05, 0.1, 0.25,
    0.5, 1.0, 2.5, 5.0,
];
/// Win as a multiple of the stake: where "big wins" (50x, 100x …) are counted.
const WIN_MULTIPLE_BUCKETS: &[f64] = &[
    0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1000.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Why a round is voided: the `cause` label of `croupier_rounds_voided_total`.
pub const VOID_CAUSES: [&str; 10] = [
    "late_debit",
    "node_lost",
    "owner_lost",
    "recovery",
    "stale",
    "rng_unavailable",
    "shutdown",
    "draw_timeout",
    "no_outcome",
    "settle_failed",
];
/// Lateness of table phase changes: a tick is 50 ms, so most land in the first buckets.
const LATENESS_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// Time to serialise one table event and queue it to every seat.
const FANOUT_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,
];
/// Labels of `croupier_wallet_movements_total`.
pub const MOVEMENT_KINDS: [&str; 10] = [
    "deposit",
    "withdraw",
    "open_round",
    "settle_round",
    "play_round",
    "void_round",
    "ensure_account",
    "open_free_round",
    "grant_free_rounds",
    "cancel_free_rounds",
];
/// Labels of `croupier_wallet_holds_total`.
pub const HOLD_OUTCOMES: [&str; 4] = ["granted", "unknown", "short", "full"];
/// Labels of `croupier_discarded_draws_total{reason}`: the commit failed (nothing written),
/// the ledger refused it, its answer did not come in time (it may still commit: the resend
/// then answers it), its `req_id` already had a round (the resend answers that round), or
/// the stake would cross one of the player's limits (checked in the commit's transaction).
pub const DISCARD_REASONS: [&str; 5] = [
    "commit_failed",
    "refused",
    "no_answer",
    "replayed",
    "limit_reached",
];
/// The results a reload of the play files is counted under (`croupier_config_reloads_total`).
pub const RELOAD_RESULTS: [&str; 3] = ["applied", "unchanged", "refused"];
/// Every Redis operation the cluster runs, as named in `croupier_redis_*{op}`.
pub const REDIS_OPS: [&str; 16] = [
    "play_get",
    "play_put",
    "session_open",
    "session_get",
    "replies_get",
    "reply_log",
    "heartbeat",
    "presence",
    "presence_get",
    "nodes_get",
    "lease_acquire",
    "lease_stamp",
    "lease_renew",
    "lease_release",
    "lease_get",
    "publish",
];
pub const MOVEMENT_RESULTS: [&str; 4] = ["applied", "replayed", "refused", "failed"];

pub struct Metrics {
    pub registry: Registry,
    pub play: PlayMetrics,
    pub server: ServerMetrics,
    pub wallet: WalletMetrics,
    pub tables: TableMetrics,
    pub jackpots: JackpotMetrics,
    pub cluster: ClusterMetrics,
    pub tls: TlsMetrics,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::new(name, help).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let metric = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> HistogramVec {
    let metric = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let metric = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

impl Metrics {
    /// Builds the registry. Metric definitions are static, so a failure here is a bug caught by
    /// the first test that starts a server; it panics at start-up, never later.
    pub fn new() -> Self {
        let r = Registry::new_custom(Some("croupier".into()), None).expect("valid prefix");
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            r.register(Box::new(process)).expect("unique metric");
        }
        Self {
            play: PlayMetrics::new(&r),
            server: ServerMetrics::new(&r),
            wallet: WalletMetrics::new(&r),
            tables: TableMetrics::new(&r),
            jackpots: JackpotMetrics::new(&r),
            cluster: ClusterMetrics::new(&r),
            tls: TlsMetrics::new(&r),
            registry: r,
        }
    }

    /// Creates the cluster's series at zero (on one node too: its Redis series stay at zero).
    pub fn init_cluster_series(&self, tables: &[&str]) {
        for result in RELOAD_RESULTS {
            self.cluster.config_reloads.with_label_values(&[result]);
        }
        for op in REDIS_OPS {
            self.cluster.redis_command_seconds.with_label_values(&[op]);
            self.cluster.redis_errors.with_label_values(&[op]);
        }
        for table in tables {
            self.tables.owned.with_label_values(&[table]);
            self.tables.leases_acquired.with_label_values(&[table]);
            for kind in ["join", "bet"] {
                for outcome in ["answered", "refused", "no_answer"] {
                    self.tables.asks.with_label_values(&[table, kind, outcome]);
                }
            }
        }
    }

    /// Creates every bounded label combination at zero, so `increase()` sees the first event
    /// on a fresh node instead of a series that appears from nowhere.
    /// Creates each table's series at zero (see [`Metrics::init_series`]).
    pub fn init_table_series(&self, tables: &[(&str, Vec<&str>)]) {
        for (table, kinds) in tables {
            for result in ["settled", "void"] {
                self.tables.rounds.with_label_values(&[table, result]);
            }
            for kind in kinds {
                self.tables.bets.with_label_values(&[table, kind]);
                self.tables.bet_minor.with_label_values(&[table, kind]);
                self.tables.bets_settled.with_label_values(&[table, kind]);
                self.tables.returned_minor.with_label_values(&[table, kind]);
            }
            self.tables.seated.with_label_values(&[table]);
            self.tables
                .phase_lateness_seconds
                .with_label_values(&[table]);
            self.tables.broadcast_seconds.with_label_values(&[table]);
            self.tables.slow_clients_dropped.with_label_values(&[table]);
        }
    }

    /// Creates each jackpot level's series at zero.
    pub fn init_jackpot_series(&self, levels: &[(&str, &str)]) {
        for (pool, level) in levels {
            self.jackpots.value.with_label_values(&[pool, level]);
            self.jackpots
                .contributions
                .with_label_values(&[pool, level]);
            for reason in ["trigger", "mystery", "ceiling"] {
                self.jackpots.wins.with_label_values(&[pool, level, reason]);
            }
            self.jackpots.paid_minor.with_label_values(&[pool, level]);
            self.jackpots.last_win.with_label_values(&[pool, level]);
        }
    }

    /// Creates every profile's harm-flag series at zero, so a flag's first raise is seen by
    /// `increase()` and the dashboard has a series before any flag (profiles are few: bounded).
    pub fn init_harm_series<'a>(&self, profiles: impl Iterator<Item = &'a str>) {
        for profile in profiles {
            for rule in croupier_core::jurisdiction::HarmFlag::ALL {
                self.play
                    .harm_flags
                    .with_label_values(&[rule.as_str(), profile]);
            }
        }
    }

    pub fn init_series(&self, games: &[&str], currencies: &[&str]) {
        for code in crate::protocol::ErrorCode::all() {
            self.server.errors.with_label_values(&[code.as_str()]);
        }
        for cause in VOID_CAUSES {
            self.wallet.rounds_voided.with_label_values(&[cause]);
        }
        for game in games {
            self.play.spins.with_label_values(&[game]);
            self.play.free_spins.with_label_values(&[game]);
            self.play.free_rounds.with_label_values(&[game]);
            self.play.winning_spins.with_label_values(&[game]);
            self.play.spin_seconds.with_label_values(&[game]);
            self.play.win_multiple.with_label_values(&[game]);
            for currency in currencies {
                self.play.bet_minor.with_label_values(&[game, currency]);
                self.play.win_minor.with_label_values(&[game, currency]);
                self.play
                    .free_round_win_minor
                    .with_label_values(&[game, currency]);
            }
        }
        for kind in MOVEMENT_KINDS {
            for result in MOVEMENT_RESULTS {
                self.wallet.movements.with_label_values(&[kind, result]);
            }
        }
        for outcome in HOLD_OUTCOMES {
            self.wallet.holds.with_label_values(&[outcome]);
        }
        for game in games {
            for reason in DISCARD_REASONS {
                self.wallet
                    .discarded_draws
                    .with_label_values(&[game, reason]);
            }
        }
    }

    /// One committed wallet batch: its size and how long the commit took.
    pub fn observe_wallet_batch(&self, movements: usize, took: std::time::Duration) {
        self.wallet.batch_size.observe(movements as f64);
        self.wallet.commit_seconds.observe(took.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if encoder
            .encode(&self.registry.gather(), &mut buffer)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
