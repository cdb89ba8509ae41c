//! Watching one session for patterns that may indicate gambling harm, pure: the rules a
//! profile sets ([`HarmRules`]) and a watcher fed each settled round ([`HarmWatch`]) that says
//! when a rule is first met in the session. What it can see is one session's own rounds, in
//! order: it flags loss chasing (the stake raised sharply right after a loss, again and again)
//! and long play; it cannot see the player's other operators, their deposits elsewhere or their
//! life. A flag is a prompt for the operator's safer-gambling team, never a verdict.

/// A profile's harm rules; a zero turns a rule off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HarmRules {
    /// A stake at least this percent of the previous one, placed right after that one lost,
    /// counts as a chase (200: doubled or more).
    pub chase_rise_percent: u32,
    /// Chases in one session that raise the flag.
    pub chase_count: u32,
    /// Minutes of one session that raise the long-play flag.
    pub long_session_minutes: u32,
}

/// A pattern met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HarmFlag {
    /// Stakes raised sharply after losses, `chase_count` times in the session.
    LossChasing,
    /// Play past `long_session_minutes` since the session began.
    LongSession,
}

impl HarmFlag {
    pub const ALL: [HarmFlag; 2] = [HarmFlag::LossChasing, HarmFlag::LongSession];

    pub fn as_str(self) -> &'static str {
        match self {
            HarmFlag::LossChasing => "loss_chasing",
            HarmFlag::LongSession => "long_session",
        }
    }

    pub fn parse(text: &str) -> Option<HarmFlag> {
        HarmFlag::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

/// One session's watcher: fed every round it settles, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarmWatch {
    rules: HarmRules,
    /// The last paid round: its stake and whether it lost (won less than it staked).
    last: Option<(i64, bool)>,
    chases: u32,
    raised: [bool; 2],
}

impl HarmWatch {
    pub fn new(rules: HarmRules) -> Self {
        Self {
            rules,
            last: None,
            chases: 0,
            raised: [false; 2],
        }
    }

    /// Whether any rule is on (a watcher with none need not be fed).
    pub fn watching(&self) -> bool {
        self.rules.long_session_minutes > 0
            || (self.rules.chase_rise_percent > 0 && self.rules.chase_count > 0)
    }

    /// A round settled `elapsed_ms` into the session, staking `stake_minor` (0: a free round
    /// or free spin, which neither chases nor breaks a chain) and winning `win_minor`. The
    /// flags this round raises for the first time in the session.
    pub fn round(&mut self, stake_minor: i64, win_minor: i64, elapsed_ms: i64) -> Vec<HarmFlag> {
        let mut raised = Vec::new();
        let rules = self.rules;
        if stake_minor > 0 {
            if let Some((previous, lost)) = self.last {
                let rise = i128::from(stake_minor) * 100;
                let bar = i128::from(previous) * i128::from(rules.chase_rise_percent);
                if rules.chase_rise_percent > 0 && lost && rise >= bar {
                    self.chases += 1;
                }
            }
            self.last = Some((stake_minor, win_minor < stake_minor));
            if rules.chase_rise_percent > 0
                && rules.chase_count > 0
                && self.chases >= rules.chase_count
            {
                self.raise(HarmFlag::LossChasing, &mut raised);
            }
        }
        let long = i64::from(rules.long_session_minutes) * 60_000;
        if rules.long_session_minutes > 0 && elapsed_ms >= long {
            self.raise(HarmFlag::LongSession, &mut raised);
        }
        raised
    }

    fn raise(&mut self, flag: HarmFlag, raised: &mut Vec<HarmFlag>) {
        let i = flag as usize;
        if !self.raised[i] {
            self.raised[i] = true;
            raised.push(flag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules() -> HarmRules {
        HarmRules {
            chase_rise_percent: 200,
            chase_count: 2,
            long_session_minutes: 60,
        }
    }

    #[test]
    fn doubling_after_losses_twice_is_chasing_once() {
        let mut w = HarmWatch::new(rules());
        assert!(w.round(100, 0, 0).is_empty(), "a first loss");
        assert!(w.round(200, 0, 1).is_empty(), "one chase");
        assert_eq!(
            w.round(400, 0, 2),
            vec![HarmFlag::LossChasing],
            "two chases"
        );
        assert!(w.round(800, 0, 3).is_empty(), "raised once per session");
    }

    #[test]
    fn raising_after_a_win_or_a_small_rise_is_not_chasing() {
        let mut w = HarmWatch::new(rules());
        w.round(100, 500, 0);
        assert!(w.round(1_000, 0, 1).is_empty(), "after a win");
        assert!(w.round(1_500, 0, 2).is_empty(), "150 %: under the bar");
        // A free round between stakes neither chases nor breaks the chain.
        assert!(w.round(0, 0, 3).is_empty());
        assert!(
            w.round(3_000, 0, 4).is_empty(),
            "one chase (after the 1,500 loss)"
        );
        assert_eq!(w.round(6_000, 0, 5), vec![HarmFlag::LossChasing]);
    }

    #[test]
    fn long_play_is_flagged_once_and_rules_at_zero_are_off() {
        let mut w = HarmWatch::new(rules());
        assert!(w.round(100, 100, 59 * 60_000).is_empty());
        assert_eq!(w.round(100, 100, 60 * 60_000), vec![HarmFlag::LongSession]);
        assert!(w.round(100, 100, 61 * 60_000).is_empty());
        let mut off = HarmWatch::new(HarmRules::default());
        assert!(!off.watching());
        for i in 0..10 {
            assert!(off.round(100 << i, 0, i64::MAX).is_empty());
        }
        for f in HarmFlag::ALL {
            assert_eq!(HarmFlag::parse(f.as_str()), Some(f));
        }
        assert_eq!(HarmFlag::parse("sad"), None);
    }

    proptest! {
        /// Each flag is raised at most once, whatever the rounds; stakes that never rise
        /// never raise the chasing flag.
        #[test]
        fn each_flag_at_most_once(
            rounds in proptest::collection::vec((0i64..10_000, 0i64..20_000), 0..200),
        ) {
            let mut w = HarmWatch::new(rules());
            let mut seen = Vec::new();
            for (i, (stake, win)) in rounds.iter().enumerate() {
                seen.extend(w.round(*stake, *win, i as i64 * 60_000));
            }
            let mut unique = seen.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), seen.len());
            let mut flat = HarmWatch::new(rules());
            for (i, (_, win)) in rounds.iter().enumerate() {
                let raised = flat.round(100, *win, i as i64);
                prop_assert!(!raised.contains(&HarmFlag::LossChasing));
            }
        }
    }
}
