//! Progressive jackpots: level values and ceilings, contributions, wins and payouts.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

use super::{counter_vec, gauge_vec};

pub struct JackpotMetrics {
    pub value: IntGaugeVec,
    pub contributions: prometheus::CounterVec,
    pub wins: IntCounterVec,
    pub paid_minor: IntCounterVec,
    pub last_win: IntGaugeVec,
    pub ceiling: IntGaugeVec,
}

impl JackpotMetrics {
    pub(super) fn new(r: &Registry) -> Self {
        Self {
            value: gauge_vec(
                r,
                "jackpot_value_minor_units",
                "Current value of each jackpot level in minor units (whole cents; read from the ledger every 500 ms).",
                &["pool", "level"],
            ),
            contributions: {
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
            wins: counter_vec(
                r,
                "jackpot_wins_total",
                "Jackpot levels won through this node, by pool, level and reason (trigger, mystery, ceiling).",
                &["pool", "level", "reason"],
            ),
            paid_minor: counter_vec(
                r,
                "jackpot_paid_minor_units_total",
                "Amount paid by jackpot wins through this node, in minor units.",
                &["pool", "level"],
            ),
            last_win: gauge_vec(
                r,
                "jackpot_last_win_timestamp_seconds",
                "Unix time of each level's last win on any node (0 before the first); time since = time() - this.",
                &["pool", "level"],
            ),
            ceiling: gauge_vec(
                r,
                "jackpot_ceiling_minor_units",
                "Must-drop-by ceiling of each jackpot level that has one, in minor units (from jackpots.toml).",
                &["pool", "level"],
            ),
        }
    }
}
