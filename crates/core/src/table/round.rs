//! The round state machine of a live table, as a pure function of time: betting open (with a
//! deadline) → betting closed → result → settled → the next round. Time is an input (Unix ms),
//! so the machine is tested without a clock and the actor only feeds it ticks.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    BettingOpen,
    BettingClosed,
    Result,
    Settled,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::BettingOpen => "betting_open",
            Phase::BettingClosed => "betting_closed",
            Phase::Result => "result",
            Phase::Settled => "settled",
        }
    }
}

/// How long each phase lasts (from `config/tables.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub betting: Duration,
    /// Between closing bets and drawing: the "no more bets" moment players see.
    pub closed: Duration,
    pub result: Duration,
    pub settle: Duration,
}

/// What the table must do now, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A new round starts taking bets until `closes_at_ms`.
    OpenBetting {
        round_seq: u64,
        closes_at_ms: i64,
    },
    CloseBetting {
        round_seq: u64,
    },
    /// Draw the outcome (RNG shard) now.
    Draw {
        round_seq: u64,
    },
    /// Pay the round's bets.
    Settle {
        round_seq: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundError {
    #[error("betting is closed for this round")]
    BettingClosed,
}

#[derive(Debug, Clone)]
pub struct RoundMachine {
    timings: Timings,
    round_seq: u64,
    phase: Phase,
    phase_ends_at_ms: i64,
    /// How late the last phase change ran behind its deadline (betting-phase lateness metric).
    last_lateness_ms: i64,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl RoundMachine {
    /// A table that starts its first round (sequence `first_seq`) at `now_ms`.
    pub fn start(timings: Timings, first_seq: u64, now_ms: i64) -> (Self, Step) {
        let machine = Self {
            timings,
            round_seq: first_seq,
            phase: Phase::BettingOpen,
            phase_ends_at_ms: now_ms + ms(timings.betting),
            last_lateness_ms: 0,
        };
        let step = Step::OpenBetting {
            round_seq: first_seq,
            closes_at_ms: machine.phase_ends_at_ms,
        };
        (machine, step)
    }

    /// A table whose first round (sequence `first_seq`) opens `delay` after `now_ms`: until
    /// then it waits as if the round before had just settled, taking no bet.
    pub fn start_after(timings: Timings, first_seq: u64, now_ms: i64, delay: Duration) -> Self {
        Self {
            timings,
            round_seq: first_seq.saturating_sub(1),
            phase: Phase::Settled,
            phase_ends_at_ms: now_ms + ms(delay),
            last_lateness_ms: 0,
        }
    }

    /// New phase durations (a reload's): the phase under way keeps the end it has, every
    /// later phase takes the new length.
    pub fn retime(&mut self, timings: Timings) {
        self.timings = timings;
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn round_seq(&self) -> u64 {
        self.round_seq
    }

    pub fn phase_ends_at_ms(&self) -> i64 {
        self.phase_ends_at_ms
    }

    pub fn time_left_ms(&self, now_ms: i64) -> i64 {
        (self.phase_ends_at_ms - now_ms).max(0)
    }

    pub fn last_lateness_ms(&self) -> i64 {
        self.last_lateness_ms
    }

    /// A bet arriving at `now_ms` is accepted only while betting is open and before its deadline
    /// (a bet that races the deadline loses, even if the tick that closes betting is late).
    pub fn accept_bet(&self, now_ms: i64) -> Result<u64, RoundError> {
        if self.phase == Phase::BettingOpen && now_ms < self.phase_ends_at_ms {
            Ok(self.round_seq)
        } else {
            Err(RoundError::BettingClosed)
        }
    }

    /// Advances through every phase whose deadline has passed at `now_ms`.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Step> {
        let mut steps = Vec::new();
        // Each phase change moves the deadline forward, so this ends; the bound guards a
        // pathological clock jump from looping over thousands of missed rounds.
        for _ in 0..MAX_STEPS_PER_TICK {
            if now_ms < self.phase_ends_at_ms {
                break;
            }
            self.last_lateness_ms = now_ms - self.phase_ends_at_ms;
            let start = self.phase_ends_at_ms;
            let (next, lasts, step) = match self.phase {
                Phase::BettingOpen => (
                    Phase::BettingClosed,
                    self.timings.closed,
                    Step::CloseBetting {
                        round_seq: self.round_seq,
                    },
                ),
                Phase::BettingClosed => (
                    Phase::Result,
                    self.timings.result,
                    Step::Draw {
                        round_seq: self.round_seq,
                    },
                ),
                Phase::Result => (
                    Phase::Settled,
                    self.timings.settle,
                    Step::Settle {
                        round_seq: self.round_seq,
                    },
                ),
                Phase::Settled => {
                    self.round_seq += 1;
                    let closes_at_ms = start + ms(self.timings.betting);
                    (
                        Phase::BettingOpen,
                        self.timings.betting,
                        Step::OpenBetting {
                            round_seq: self.round_seq,
                            closes_at_ms,
                        },
                    )
                }
            };
            self.phase = next;
            self.phase_ends_at_ms = start + ms(lasts);
            steps.push(step);
        }
        steps
    }
}

/// Most phase changes one tick may make (a tick after a long stall catches up this far).
pub const MAX_STEPS_PER_TICK: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn timings() -> Timings {
        Timings {
            betting: Duration::from_secs(10),
            closed: Duration::from_secs(1),
            result: Duration::from_secs(2),
            settle: Duration::from_secs(3),
        }
    }

    #[test]
    fn new_timings_hold_from_the_next_phase_and_leave_the_one_under_way_alone() {
        let (mut m, _) = RoundMachine::start(timings(), 1, 0);
        // Betting closes at 10 s, draws at 11 s, settles at 13 s: retimed while settling.
        m.tick(13_000);
        assert_eq!(m.phase(), Phase::Settled);
        let ends = m.phase_ends_at_ms();
        let longer = Timings {
            betting: Duration::from_secs(30),
            ..timings()
        };
        m.retime(longer);
        assert_eq!(m.phase_ends_at_ms(), ends, "the settle phase keeps its end");
        let steps = m.tick(ends);
        assert!(
            matches!(steps[..], [Step::OpenBetting { closes_at_ms, .. }] if closes_at_ms == ends + 30_000),
            "{steps:?}"
        );
    }

    #[test]
    fn a_table_started_after_a_delay_takes_no_bet_then_opens_its_first_round() {
        let mut m = RoundMachine::start_after(timings(), 1, 1_000, Duration::from_secs(2));
        assert_eq!(m.phase(), Phase::Settled);
        assert_eq!(m.accept_bet(1_500), Err(RoundError::BettingClosed));
        assert_eq!(m.tick(2_999), vec![]);
        assert_eq!(
            m.tick(3_000),
            vec![Step::OpenBetting {
                round_seq: 1,
                closes_at_ms: 13_000
            }]
        );
        assert_eq!(m.accept_bet(3_001), Ok(1));
    }

    #[test]
    fn a_round_runs_through_every_phase_in_order() {
        let (mut m, first) = RoundMachine::start(timings(), 7, 1_000);
        assert_eq!(
            first,
            Step::OpenBetting {
                round_seq: 7,
                closes_at_ms: 11_000
            }
        );
        assert!(m.tick(10_999).is_empty());
        assert_eq!(m.tick(11_000), vec![Step::CloseBetting { round_seq: 7 }]);
        assert_eq!(m.phase(), Phase::BettingClosed);
        assert_eq!(m.tick(12_000), vec![Step::Draw { round_seq: 7 }]);
        assert_eq!(m.tick(14_000), vec![Step::Settle { round_seq: 7 }]);
        assert_eq!(
            m.tick(17_000),
            vec![Step::OpenBetting {
                round_seq: 8,
                closes_at_ms: 27_000
            }]
        );
        assert_eq!(m.round_seq(), 8);
    }

    #[test]
    fn late_bets_are_refused_even_before_the_closing_tick() {
        let (m, _) = RoundMachine::start(timings(), 1, 0);
        assert_eq!(m.accept_bet(9_999), Ok(1));
        assert_eq!(m.accept_bet(10_000), Err(RoundError::BettingClosed));
        let mut m = m;
        m.tick(10_500);
        assert_eq!(m.accept_bet(10_600), Err(RoundError::BettingClosed));
        assert_eq!(m.last_lateness_ms(), 500);
    }

    #[test]
    fn a_late_tick_catches_up_without_drifting_the_schedule() {
        let (mut m, _) = RoundMachine::start(timings(), 1, 0);
        // One tick 16 s late runs close, draw and settle; deadlines stay on the schedule.
        let steps = m.tick(16_000);
        assert_eq!(
            steps,
            vec![
                Step::CloseBetting { round_seq: 1 },
                Step::Draw { round_seq: 1 },
                Step::Settle { round_seq: 1 },
                Step::OpenBetting {
                    round_seq: 2,
                    closes_at_ms: 26_000
                },
            ]
        );
        assert_eq!(m.time_left_ms(16_000), 10_000);
    }

    #[test]
    fn a_clock_jump_is_bounded_per_tick() {
        let (mut m, _) = RoundMachine::start(timings(), 1, 0);
        let steps = m.tick(10_000_000);
        assert_eq!(steps.len(), MAX_STEPS_PER_TICK);
        // Round sequence numbers still only ever increase by one per round.
        let seqs: Vec<u64> = steps
            .iter()
            .filter_map(|s| match s {
                Step::OpenBetting { round_seq, .. } => Some(*round_seq),
                _ => None,
            })
            .collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    }
}
