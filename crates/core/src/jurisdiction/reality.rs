//! A session's reality checks, pure: when the next one is due, whether one is waiting for the
//! player's acknowledgement (no new round starts meanwhile), and what an acknowledgement does.
//! The session actor polls it and pushes `reality_check`; the frame handler refuses rounds while
//! one waits and takes `reality_check_ack` (docs/jurisdictions.md, "Reality checks").

/// The reality-check clock of one connection to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealityClock {
    interval_ms: i64,
    due_at_ms: i64,
    waiting: bool,
}

impl RealityClock {
    /// The clock of a connection to a session begun at `started_ms`; `None` when the
    /// profile has no reality checks. The first check is due one interval after the session
    /// began, or at once if a whole interval has passed already: a player who reconnects (to
    /// this node or another) cannot dodge a check, at the cost of one more check than needed.
    pub fn new(interval_minutes: u32, started_ms: i64) -> Option<Self> {
        if interval_minutes == 0 {
            return None;
        }
        let interval_ms = i64::from(interval_minutes) * 60_000;
        Some(Self {
            interval_ms,
            // Already past for a connection that comes later than that: the first poll pushes.
            due_at_ms: started_ms.saturating_add(interval_ms),
            waiting: false,
        })
    }

    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    /// When the next check is due (Unix ms); a waiting one was due then.
    pub fn due_at_ms(&self) -> i64 {
        self.due_at_ms
    }

    /// Whether a check waits for the player's acknowledgement: no round may start.
    pub fn waiting(&self) -> bool {
        self.waiting
    }

    /// `true` once, when a check falls due at `now_ms`: the caller pushes it.
    pub fn poll(&mut self, now_ms: i64) -> bool {
        if self.waiting || now_ms < self.due_at_ms {
            return false;
        }
        self.waiting = true;
        true
    }

    /// The player acknowledged at `now_ms`: play goes on, the next check is one interval on.
    /// `None`: no check was waiting (nothing changes).
    pub fn ack(&mut self, now_ms: i64) -> Option<i64> {
        if !self.waiting {
            return None;
        }
        self.waiting = false;
        self.due_at_ms = now_ms.saturating_add(self.interval_ms);
        Some(self.due_at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: i64 = 60_000;

    #[test]
    fn no_interval_no_clock() {
        assert_eq!(RealityClock::new(0, 0), None);
    }

    #[test]
    fn a_check_falls_due_blocks_until_acknowledged_and_comes_back_an_interval_later() {
        let mut c = RealityClock::new(60, 1_000).unwrap();
        assert_eq!(c.due_at_ms(), 1_000 + 60 * MIN);
        assert!(!c.poll(1_000 + 60 * MIN - 1));
        assert!(!c.waiting());
        assert_eq!(c.ack(2_000), None, "nothing to acknowledge");
        assert!(c.poll(1_000 + 60 * MIN));
        assert!(c.waiting());
        assert!(!c.poll(1_000 + 61 * MIN), "pushed once");
        let next = c.ack(1_000 + 62 * MIN).unwrap();
        assert_eq!(next, 1_000 + 122 * MIN);
        assert!(!c.waiting());
        assert!(!c.poll(next - 1));
        assert!(c.poll(next));
    }

    #[test]
    fn a_connection_to_a_session_past_an_interval_gets_a_check_at_once() {
        let mut c = RealityClock::new(60, 0).unwrap();
        assert!(
            c.poll(90 * MIN),
            "the first poll of a late connection pushes"
        );
        // A session begun a little in this node's future (another node's clock) waits.
        let mut c = RealityClock::new(60, 10 * MIN).unwrap();
        assert!(!c.poll(5 * MIN));
        assert_eq!(c.due_at_ms(), 70 * MIN);
    }

    proptest! {
        /// However the clock is polled and acknowledged, a check comes at most one interval
        /// after the session began or the last acknowledgement, and never twice before an ack.
        #[test]
        fn never_more_than_an_interval_without_a_check(
            minutes in 1u32..120,
            started in 0i64..1_000_000,
            steps in proptest::collection::vec((0i64..200_000, any::<bool>()), 1..60),
        ) {
            let mut now = started;
            let mut c = RealityClock::new(minutes, started).unwrap();
            let interval = i64::from(minutes) * MIN;
            let mut since = started;
            for (dt, ack) in steps {
                now += dt;
                let was_waiting = c.waiting();
                let pushed = c.poll(now);
                prop_assert!(!(pushed && was_waiting));
                if !c.waiting() {
                    prop_assert!(now - since < interval);
                }
                if ack && c.waiting() {
                    c.ack(now);
                    since = now;
                }
            }
        }
    }
}
