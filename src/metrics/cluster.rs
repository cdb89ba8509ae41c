//! The cluster: Redis latency and errors, live nodes, the shared reply log, the version of
//! the play files each node runs.

use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry};

use super::{counter, counter_vec, gauge, gauge_vec, histogram_vec, LATENCY_BUCKETS};

pub struct ClusterMetrics {
    pub redis_command_seconds: HistogramVec,
    pub redis_errors: IntCounterVec,
    pub nodes: IntGauge,
    pub reply_log_dropped: IntCounter,
    pub config_info: IntGaugeVec,
    pub config_reloads: IntCounterVec,
}

impl ClusterMetrics {
    pub(super) fn new(r: &Registry) -> Self {
        Self {
            redis_command_seconds: histogram_vec(
                r,
                "redis_command_duration_seconds",
                "Time of each Redis command or pipeline (cluster mode), by operation, failures included.",
                LATENCY_BUCKETS,
                &["op"],
            ),
            redis_errors: counter_vec(
                r,
                "redis_errors_total",
                "Redis commands that failed or timed out (cluster mode), by operation.",
                &["op"],
            ),
            nodes: gauge(
                r,
                "cluster_nodes",
                "Nodes alive in the cluster as this node's last heartbeat saw them (1 on one node).",
            ),
            reply_log_dropped: counter(
                r,
                "reply_log_dropped_total",
                "Replies not queued for the shared reply log because its queue was full (the ledger still answers their resends).",
            ),
            config_info: gauge_vec(
                r,
                "config_info",
                "1, labelled with the content hash of the play files this node runs (games, tables, jackpots, operators, jurisdictions); nodes of one deployment should agree.",
                &["version"],
            ),
            config_reloads: counter_vec(
                r,
                "config_reloads_total",
                "Reloads of the play files on this node, by result: applied, unchanged (same version), refused (a file or the ledger said no; nothing changed).",
                &["result"],
            ),
        }
    }
}
