//! Live tables: rounds, bets and returns, seats and fan-out, and who runs each table.

use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec, Registry};

use super::{counter_vec, gauge_vec, histogram_vec, FANOUT_BUCKETS, LATENESS_BUCKETS};

pub struct TableMetrics {
    pub rounds: IntCounterVec,
    pub bets: IntCounterVec,
    pub bet_minor: IntCounterVec,
    pub bets_settled: IntCounterVec,
    pub returned_minor: IntCounterVec,
    pub seated: IntGaugeVec,
    pub phase_lateness_seconds: HistogramVec,
    pub broadcast_seconds: HistogramVec,
    pub slow_clients_dropped: IntCounterVec,
    pub owned: IntGaugeVec,
    pub leases_acquired: IntCounterVec,
    pub asks: IntCounterVec,
}

impl TableMetrics {
    pub(super) fn new(r: &Registry) -> Self {
        Self {
            rounds: counter_vec(
                r,
                "table_rounds_total",
                "Live-table rounds finished, by table and result (settled or void).",
                &["table", "result"],
            ),
            bets: counter_vec(
                r,
                "table_bets_total",
                "Live-table bets accepted (debited and in the round), by table and bet kind.",
                &["table", "kind"],
            ),
            bet_minor: counter_vec(
                r,
                "table_bet_minor_units_total",
                "Amount staked on live-table bets, in minor units of the table's currency, by table and bet kind.",
                &["table", "kind"],
            ),
            bets_settled: counter_vec(
                r,
                "table_bets_settled_total",
                "Live-table bets settled (paid or lost, not voided), by table and bet kind.",
                &["table", "kind"],
            ),
            returned_minor: counter_vec(
                r,
                "table_returned_minor_units_total",
                "Amount returned to players by settled live-table bets (stake plus winnings), in minor units, by table and bet kind.",
                &["table", "kind"],
            ),
            seated: gauge_vec(
                r,
                "table_seated_players",
                "Connections seated at each live table on this node.",
                &["table"],
            ),
            phase_lateness_seconds: histogram_vec(
                r,
                "table_phase_lateness_seconds",
                "How late each live-table phase change ran behind its scheduled deadline.",
                LATENESS_BUCKETS,
                &["table"],
            ),
            broadcast_seconds: histogram_vec(
                r,
                "table_broadcast_duration_seconds",
                "Time to serialise one table event once and queue it to every seated connection.",
                FANOUT_BUCKETS,
                &["table"],
            ),
            slow_clients_dropped: counter_vec(
                r,
                "table_slow_clients_dropped_total",
                "Seated connections closed because their send queue was full (too far behind).",
                &["table"],
            ),
            owned: gauge_vec(
                r,
                "table_owned",
                "1 while this node runs the table's rounds (holds its lease), else 0.",
                &["table"],
            ),
            leases_acquired: counter_vec(
                r,
                "table_leases_acquired_total",
                "Times this node took a table's lease (first start, an owner that died or drained).",
                &["table"],
            ),
            asks: counter_vec(
                r,
                "table_asks_total",
                "Joins, bets and views this node asked of the node running a live table (cluster mode), by table, kind and outcome (answered, refused, no_answer, too_many, unreachable).",
                &["table", "kind", "outcome"],
            ),
        }
    }
}
