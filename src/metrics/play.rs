//! Slot play: spins, stakes and wins by game, and the RNG.

use prometheus::{HistogramVec, IntCounter, IntCounterVec, Registry};

use super::{counter, counter_vec, histogram_vec, LATENCY_BUCKETS, WIN_MULTIPLE_BUCKETS};

pub struct PlayMetrics {
    pub spins: IntCounterVec,
    pub free_spins: IntCounterVec,
    pub free_rounds: IntCounterVec,
    pub free_round_win_minor: IntCounterVec,
    pub bet_minor: IntCounterVec,
    pub win_minor: IntCounterVec,
    pub winning_spins: IntCounterVec,
    /// Harm flags raised, by rule and profile: never by player (docs/jurisdictions.md).
    pub harm_flags: IntCounterVec,
    pub spin_seconds: HistogramVec,
    pub win_multiple: HistogramVec,
    pub rng_reseeds: IntCounter,
}

impl PlayMetrics {
    pub(super) fn new(r: &Registry) -> Self {
        Self {
            spins: counter_vec(
                r,
                "spins_total",
                "Settled slot spins, paid and free, by game.",
                &["game"],
            ),
            free_spins: counter_vec(
                r,
                "free_spins_total",
                "Settled free spins, by game.",
                &["game"],
            ),
            free_rounds: counter_vec(
                r,
                "free_rounds_total",
                "Settled free rounds of operators' campaigns, by game.",
                &["game"],
            ),
            free_round_win_minor: counter_vec(
                r,
                "free_round_win_minor_units_total",
                "Amount credited for free-round wins (not in win_minor_units_total), by game and \
                 currency.",
                &["game", "currency"],
            ),
            bet_minor: counter_vec(
                r,
                "bet_minor_units_total",
                "Amount debited for bets, in minor currency units (cents), by game and currency.",
                &["game", "currency"],
            ),
            win_minor: counter_vec(
                r,
                "win_minor_units_total",
                "Amount credited for wins, in minor currency units (cents), by game and currency.",
                &["game", "currency"],
            ),
            winning_spins: counter_vec(
                r,
                "winning_spins_total",
                "Settled spins with a win greater than zero, by game (hit frequency numerator).",
                &["game"],
            ),
            harm_flags: counter_vec(
                r,
                "harm_flags_total",
                "Harm flags raised (a session met a rule of its profile), by rule and profile.",
                &["rule", "profile"],
            ),
            spin_seconds: histogram_vec(
                r,
                "spin_duration_seconds",
                "Time from a spin frame received to its settled reply sent, by game.",
                LATENCY_BUCKETS,
                &["game"],
            ),
            win_multiple: histogram_vec(
                r,
                "spin_win_multiple",
                "Win of each settled spin as a multiple of its stake, by game (big-win counts).",
                WIN_MULTIPLE_BUCKETS,
                &["game"],
            ),
            rng_reseeds: counter(
                r,
                "rng_reseeds_total",
                "RNG shard reseeds from the operating system.",
            ),
        }
    }
}
