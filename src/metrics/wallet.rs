//! Money: wallet batches and commits, movements by kind and result, voided rounds, the holds
//! of one-step spins and the draws they discarded.

use prometheus::{Histogram, IntCounter, IntCounterVec, Registry};

use super::{counter, counter_vec, histogram, BATCH_BUCKETS, LATENCY_BUCKETS};

pub struct WalletMetrics {
    pub batch_size: Histogram,
    pub commit_seconds: Histogram,
    pub batch_failures: IntCounter,
    pub movements: IntCounterVec,
    pub rounds_voided: IntCounterVec,
    pub holds: IntCounterVec,
    pub discarded_draws: IntCounterVec,
}

impl WalletMetrics {
    pub(super) fn new(r: &Registry) -> Self {
        Self {
            batch_size: histogram(
                r,
                "wallet_batch_size",
                "Movements committed per ledger transaction (group commit size).",
                BATCH_BUCKETS,
            ),
            commit_seconds: histogram(
                r,
                "wallet_commit_duration_seconds",
                "Time to commit one wallet batch to the ledger.",
                LATENCY_BUCKETS,
            ),
            batch_failures: counter(
                r,
                "wallet_batch_failures_total",
                "Wallet batches the ledger failed to commit (nothing of them was written).",
            ),
            movements: counter_vec(
                r,
                "wallet_movements_total",
                "Wallet movements answered, by kind and result.",
                &["kind", "result"],
            ),
            rounds_voided: counter_vec(
                r,
                "rounds_voided_total",
                "Rounds voided and refunded, by cause.",
                &["cause"],
            ),
            holds: counter_vec(
                r,
                "wallet_holds_total",
                "Stake holds asked for by one-step spins, by outcome (granted, or why the spin \
                 took the two-step path: unknown, short, full).",
                &["outcome"],
            ),
            discarded_draws: counter_vec(
                r,
                "discarded_draws_total",
                "One-step spins drawn whose commit did not happen, by game and reason (each is \
                 also logged with its values; the request's resend plays a fresh draw).",
                &["game", "reason"],
            ),
        }
    }
}
