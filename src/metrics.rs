//! Every Prometheus metric the server exports, defined once, with what it measures.
//! Labels are bounded: game ids, error codes, outcomes — never player or session ids.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

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
pub const MOVEMENT_KINDS: [&str; 5] = [
    "deposit",
    "open_round",
    "settle_round",
    "void_round",
    "ensure_account",
];
/// Every Redis operation the cluster runs, as named in `croupier_redis_*{op}`.
pub const REDIS_OPS: [&str; 14] = [
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
    pub spins: IntCounterVec,
    pub free_spins: IntCounterVec,
    pub bet_minor: IntCounterVec,
    pub win_minor: IntCounterVec,
    pub winning_spins: IntCounterVec,
    pub spin_seconds: HistogramVec,
    pub win_multiple: HistogramVec,
    pub ws_connections: IntGauge,
    pub ws_connections_opened: IntCounter,
    pub ws_messages_received: IntCounterVec,
    pub ws_messages_sent: IntCounter,
    pub ws_closed: IntCounterVec,
    pub errors: IntCounterVec,
    pub http_requests: IntCounterVec,
    pub wallet_batch_size: Histogram,
    pub wallet_commit_seconds: Histogram,
    pub wallet_batch_failures: IntCounter,
    pub wallet_movements: IntCounterVec,
    pub rounds_voided: IntCounterVec,
    pub rng_reseeds: IntCounter,
    pub sessions_opened: IntCounter,
    pub ready: IntGauge,
    pub build_info: IntGaugeVec,
    pub table_rounds: IntCounterVec,
    pub table_bets: IntCounterVec,
    pub table_bet_minor: IntCounterVec,
    pub table_bets_settled: IntCounterVec,
    pub table_returned_minor: IntCounterVec,
    pub table_seated: IntGaugeVec,
    pub table_phase_lateness_seconds: HistogramVec,
    pub table_broadcast_seconds: HistogramVec,
    pub table_slow_clients_dropped: IntCounterVec,
    pub jackpot_value: IntGaugeVec,
    pub jackpot_contributions: prometheus::CounterVec,
    pub jackpot_wins: IntCounterVec,
    pub jackpot_paid_minor: IntCounterVec,
    pub jackpot_last_win: IntGaugeVec,
    pub jackpot_ceiling: IntGaugeVec,
    pub redis_command_seconds: HistogramVec,
    pub redis_errors: IntCounterVec,
    pub cluster_nodes: IntGauge,
    pub table_owned: IntGaugeVec,
    pub table_leases_acquired: IntCounterVec,
    pub reply_log_dropped: IntCounter,
    pub table_asks: IntCounterVec,
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
        let spin_seconds = HistogramVec::new(
            HistogramOpts::new(
                "spin_duration_seconds",
                "Time from a spin frame received to its settled reply sent, by game.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["game"],
        )
        .expect("valid metric");
        r.register(Box::new(spin_seconds.clone()))
            .expect("unique metric");
        let win_multiple = HistogramVec::new(
            HistogramOpts::new(
                "spin_win_multiple",
                "Win of each settled spin as a multiple of its stake, by game (big-win counts).",
            )
            .buckets(WIN_MULTIPLE_BUCKETS.to_vec()),
            &["game"],
        )
        .expect("valid metric");
        r.register(Box::new(win_multiple.clone()))
            .expect("unique metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "build_info",
                "Always 1; labels carry the version of the running build.",
            ),
            &["version"],
        )
        .expect("valid metric");
        r.register(Box::new(build_info.clone()))
            .expect("unique metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        Self {
            spins: counter_vec(
                &r,
                "spins_total",
                "Settled slot spins, paid and free, by game.",
                &["game"],
            ),
            free_spins: counter_vec(
                &r,
                "free_spins_total",
                "Settled free spins, by game.",
                &["game"],
            ),
            bet_minor: counter_vec(
                &r,
                "bet_minor_units_total",
                "Amount debited for bets, in minor currency units (cents), by game and currency.",
                &["game", "currency"],
            ),
            win_minor: counter_vec(
                &r,
                "win_minor_units_total",
                "Amount credited for wins, in minor currency units (cents), by game and currency.",
                &["game", "currency"],
            ),
            winning_spins: counter_vec(
                &r,
                "winning_spins_total",
                "Settled spins with a win greater than zero, by game (hit frequency numerator).",
                &["game"],
            ),
            spin_seconds,
            win_multiple,
            ws_connections: gauge(
                &r,
                "websocket_connections",
                "Open player WebSocket connections.",
            ),
            ws_connections_opened: counter(
                &r,
                "websocket_connections_opened_total",
                "Player WebSocket connections accepted since start.",
            ),
            ws_messages_received: counter_vec(
                &r,
                "websocket_messages_received_total",
                "Client frames received, by frame type (unknown types counted as 'invalid').",
                &["type"],
            ),
            ws_messages_sent: counter(
                &r,
                "websocket_messages_sent_total",
                "Frames sent to players.",
            ),
            ws_closed: counter_vec(
                &r,
                "websocket_closed_total",
                "Player connections closed, by reason.",
                &["reason"],
            ),
            errors: counter_vec(
                &r,
                "errors_total",
                "Error replies sent to clients, by stable error code.",
                &["code"],
            ),
            http_requests: counter_vec(
                &r,
                "http_requests_total",
                "HTTP requests served, by route and status class.",
                &["route", "status"],
            ),
            wallet_batch_size: histogram(
                &r,
                "wallet_batch_size",
                "Movements committed per ledger transaction (group commit size).",
                BATCH_BUCKETS,
            ),
            wallet_commit_seconds: histogram(
                &r,
                "wallet_commit_duration_seconds",
                "Time to commit one wallet batch to the ledger.",
                LATENCY_BUCKETS,
            ),
            wallet_batch_failures: counter(
                &r,
                "wallet_batch_failures_total",
                "Wallet batches the ledger failed to commit (nothing of them was written).",
            ),
            wallet_movements: counter_vec(
                &r,
                "wallet_movements_total",
                "Wallet movements answered, by kind and result.",
                &["kind", "result"],
            ),
            rounds_voided: counter_vec(
                &r,
                "rounds_voided_total",
                "Rounds voided and refunded, by cause.",
                &["cause"],
            ),
            rng_reseeds: counter(
                &r,
                "rng_reseeds_total",
                "RNG shard reseeds from the operating system.",
            ),
            sessions_opened: counter(&r, "sessions_opened_total", "Sessions opened over HTTP."),
            ready: gauge(
                &r,
                "ready",
                "1 while the node accepts new players, 0 while starting or draining.",
            ),
            build_info,
            table_rounds: counter_vec(
                &r,
                "table_rounds_total",
                "Live-table rounds finished, by table and result (settled or void).",
                &["table", "result"],
            ),
            table_bets: counter_vec(
                &r,
                "table_bets_total",
                "Live-table bets accepted (debited and in the round), by table and bet kind.",
                &["table", "kind"],
            ),
            table_bet_minor: counter_vec(
                &r,
                "table_bet_minor_units_total",
                "Amount staked on live-table bets, in minor units of the table's currency, by table and bet kind.",
                &["table", "kind"],
            ),
            table_bets_settled: counter_vec(
                &r,
                "table_bets_settled_total",
                "Live-table bets settled (paid or lost, not voided), by table and bet kind.",
                &["table", "kind"],
            ),
            table_returned_minor: counter_vec(
                &r,
                "table_returned_minor_units_total",
                "Amount returned to players by settled live-table bets (stake plus winnings), in minor units, by table and bet kind.",
                &["table", "kind"],
            ),
            table_seated: gauge_vec(
                &r,
                "table_seated_players",
                "Connections seated at each live table on this node.",
                &["table"],
            ),
            table_phase_lateness_seconds: histogram_vec(
                &r,
                "table_phase_lateness_seconds",
                "How late each live-table phase change ran behind its scheduled deadline.",
                LATENESS_BUCKETS,
                &["table"],
            ),
            table_broadcast_seconds: histogram_vec(
                &r,
                "table_broadcast_duration_seconds",
                "Time to serialise one table event once and queue it to every seated connection.",
                FANOUT_BUCKETS,
                &["table"],
            ),
            table_slow_clients_dropped: counter_vec(
                &r,
                "table_slow_clients_dropped_total",
                "Seated connections closed because their send queue was full (too far behind).",
                &["table"],
            ),
            jackpot_value: gauge_vec(
                &r,
                "jackpot_value_minor_units",
                "Current value of each jackpot level in minor units (whole cents; read from the ledger every 500 ms).",
                &["pool", "level"],
            ),
            jackpot_contributions: {
                let metric = prometheus::CounterVec::new(
                    Opts::new(
                        "jackpot_contributions_minor_units_total",
                        "Contributions this node's bets added to each jackpot level, in minor units (fractions of a cent included).",
                    ),
                    &["pool", "level"],
                )
                .expect("valid metric");
                r.register(Box::new(metric.clone())).expect("unique metric");
                metric
            },
            jackpot_wins: counter_vec(
                &r,
                "jackpot_wins_total",
                "Jackpot levels won through this node, by pool, level and reason (trigger, mystery, ceiling).",
                &["pool", "level", "reason"],
            ),
            jackpot_paid_minor: counter_vec(
                &r,
                "jackpot_paid_minor_units_total",
                "Amount paid by jackpot wins through this node, in minor units.",
                &["pool", "level"],
            ),
            jackpot_last_win: gauge_vec(
                &r,
                "jackpot_last_win_timestamp_seconds",
                "Unix time of each level's last win on any node (0 before the first); time since = time() - this.",
                &["pool", "level"],
            ),
            jackpot_ceiling: gauge_vec(
                &r,
                "jackpot_ceiling_minor_units",
                "Must-drop-by ceiling of each jackpot level that has one, in minor units (from jackpots.toml).",
                &["pool", "level"],
            ),
            redis_command_seconds: histogram_vec(
                &r,
                "redis_command_duration_seconds",
                "Time of each Redis command or pipeline (cluster mode), by operation, failures included.",
                LATENCY_BUCKETS,
                &["op"],
            ),
            redis_errors: counter_vec(
                &r,
                "redis_errors_total",
                "Redis commands that failed or timed out (cluster mode), by operation.",
                &["op"],
            ),
            cluster_nodes: gauge(
                &r,
                "cluster_nodes",
                "Nodes alive in the cluster as this node's last heartbeat saw them (1 on one node).",
            ),
            table_owned: gauge_vec(
                &r,
                "table_owned",
                "1 while this node runs the table's rounds (holds its lease), else 0.",
                &["table"],
            ),
            table_leases_acquired: counter_vec(
                &r,
                "table_leases_acquired_total",
                "Times this node took a table's lease (first start, an owner that died or drained).",
                &["table"],
            ),
            reply_log_dropped: counter(
                &r,
                "reply_log_dropped_total",
                "Replies not queued for the shared reply log because its queue was full (the ledger still answers their resends).",
            ),
            table_asks: counter_vec(
                &r,
                "table_asks_total",
                "Joins, bets and views this node asked of the node running a live table (cluster mode), by table, kind and outcome (answered, refused, no_answer, too_many, unreachable).",
                &["table", "kind", "outcome"],
            ),
            registry: r,
        }
    }

    /// Creates the cluster's series at zero (on one node too: its Redis series stay at zero).
    pub fn init_cluster_series(&self, tables: &[&str]) {
        for op in REDIS_OPS {
            self.redis_command_seconds.with_label_values(&[op]);
            self.redis_errors.with_label_values(&[op]);
        }
        for table in tables {
            self.table_owned.with_label_values(&[table]);
            self.table_leases_acquired.with_label_values(&[table]);
            for kind in ["join", "bet"] {
                for outcome in ["answered", "refused", "no_answer"] {
                    self.table_asks.with_label_values(&[table, kind, outcome]);
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
                self.table_rounds.with_label_values(&[table, result]);
            }
            for kind in kinds {
                self.table_bets.with_label_values(&[table, kind]);
                self.table_bet_minor.with_label_values(&[table, kind]);
                self.table_bets_settled.with_label_values(&[table, kind]);
                self.table_returned_minor.with_label_values(&[table, kind]);
            }
            self.table_seated.with_label_values(&[table]);
            self.table_phase_lateness_seconds
                .with_label_values(&[table]);
            self.table_broadcast_seconds.with_label_values(&[table]);
            self.table_slow_clients_dropped.with_label_values(&[table]);
        }
    }

    /// Creates each jackpot level's series at zero.
    pub fn init_jackpot_series(&self, levels: &[(&str, &str)]) {
        for (pool, level) in levels {
            self.jackpot_value.with_label_values(&[pool, level]);
            self.jackpot_contributions.with_label_values(&[pool, level]);
            for reason in ["trigger", "mystery", "ceiling"] {
                self.jackpot_wins.with_label_values(&[pool, level, reason]);
            }
            self.jackpot_paid_minor.with_label_values(&[pool, level]);
            self.jackpot_last_win.with_label_values(&[pool, level]);
        }
    }

    pub fn init_series(&self, games: &[&str], currencies: &[&str]) {
        for code in crate::protocol::ErrorCode::all() {
            self.errors.with_label_values(&[code.as_str()]);
        }
        for cause in VOID_CAUSES {
            self.rounds_voided.with_label_values(&[cause]);
        }
        for game in games {
            self.spins.with_label_values(&[game]);
            self.free_spins.with_label_values(&[game]);
            self.winning_spins.with_label_values(&[game]);
            self.spin_seconds.with_label_values(&[game]);
            self.win_multiple.with_label_values(&[game]);
            for currency in currencies {
                self.bet_minor.with_label_values(&[game, currency]);
                self.win_minor.with_label_values(&[game, currency]);
            }
        }
        for kind in MOVEMENT_KINDS {
            for result in MOVEMENT_RESULTS {
                self.wallet_movements.with_label_values(&[kind, result]);
            }
        }
    }

    /// One committed wallet batch: its size and how long the commit took.
    pub fn observe_wallet_batch(&self, movements: usize, took: std::time::Duration) {
        self.wallet_batch_size.observe(movements as f64);
        self.wallet_commit_seconds.observe(took.as_secs_f64());
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
