//! Speed of play: a slot round may start only when the profile's minimum interval has passed
//! since the start of the player's last one (UKGC RTS 14: 2.5 s; GlüStV 2021 § 22a: 5 s).
//! The decision is a function of the last start and the time now; the shared state keeps the
//! last start for every node (Redis in a cluster), so reconnecting elsewhere does not reset it.

/// Whether a round may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paced {
    /// It may: the start is recorded at `now`.
    Go,
    /// Too early: the next start is allowed in this many milliseconds (at least 1).
    Wait { retry_after_ms: u64 },
}

/// The decision for a start at `now_ms` after a last start at `last_start_ms` (none: the
/// player's first round) under a minimum interval of `interval_ms` (0: no minimum). A clock
/// that went backwards counts as no time passed, never as a free start.
pub fn pace(last_start_ms: Option<i64>, now_ms: i64, interval_ms: u64) -> Paced {
    let Some(last) = last_start_ms else {
        return Paced::Go;
    };
    let elapsed = u64::try_from(now_ms.saturating_sub(last)).unwrap_or(0);
    if elapsed >= interval_ms {
        Paced::Go
    } else {
        Paced::Wait {
            retry_after_ms: interval_ms - elapsed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_first_round_and_a_round_after_the_interval_go() {
        assert_eq!(pace(None, 1_000, 2_500), Paced::Go);
        assert_eq!(pace(Some(1_000), 3_500, 2_500), Paced::Go);
        assert_eq!(pace(Some(1_000), 1_000, 0), Paced::Go);
    }

    #[test]
    fn an_early_round_waits_for_the_rest_of_the_interval() {
        assert_eq!(
            pace(Some(1_000), 3_499, 2_500),
            Paced::Wait { retry_after_ms: 1 }
        );
        assert_eq!(
            pace(Some(1_000), 1_000, 5_000),
            Paced::Wait {
                retry_after_ms: 5_000
            }
        );
    }

    #[test]
    fn a_clock_that_went_back_gives_no_free_start() {
        assert_eq!(
            pace(Some(10_000), 9_000, 2_500),
            Paced::Wait {
                retry_after_ms: 2_500
            }
        );
    }

    proptest! {
        /// Waiting exactly what it says is always enough, and never more than the interval.
        #[test]
        fn retry_after_is_exact(last in 0i64..1_000_000, gap in 0i64..10_000, interval in 0u64..10_000) {
            match pace(Some(last), last + gap, interval) {
                Paced::Go => prop_assert!(gap as u64 >= interval),
                Paced::Wait { retry_after_ms } => {
                    prop_assert!(retry_after_ms >= 1 && retry_after_ms <= interval);
                    prop_assert_eq!(pace(Some(last), last + gap + retry_after_ms as i64, interval), Paced::Go);
                    prop_assert_ne!(pace(Some(last), last + gap + retry_after_ms as i64 - 1, interval), Paced::Go);
                }
            }
        }
    }
}
