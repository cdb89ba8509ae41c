//! A player's safer-gambling limits as the ledger keeps them, and their rules, pure: which
//! limits exist ([`LimitKey`]), what a change does (a tighter limit at once, a looser one only
//! after the cooling-off: [`PlayerLimit::request`]), how much of a rolling window is used
//! ([`Usage`]) and when a refused stake would fit again ([`resets_at`]). The SQL that stores
//! them and checks every stake in the stake's own transaction is `limits_sql`; what the server
//! shows of them is the server's.
//!
//! Windows are rolling, counted in one-hour buckets ([`BUCKET_MS`]): a stake, win or deposit
//! counts from its hour's start until that hour has wholly left the window, so it counts for
//! the whole period and at most one hour more (never less: the error is on the player's side).

use crate::ids::PlayerId;

/// The width of one activity bucket: bounds the rows a month's window reads (720 + 1) at the
/// cost of an hour's precision, always in the player's favour.
pub const BUCKET_MS: i64 = 3_600_000;
/// The longest window: older buckets are pruned.
pub const LONGEST_WINDOW_MS: i64 = Period::Month.ms_or_zero();
/// The most limits a player can hold: every money kind in every period, and a session time.
pub const MAX_LIMITS: usize = 10;

/// What a limit bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// Net loss (stakes less wins and jackpots) over the window.
    Loss,
    /// Stakes over the window (refunded stakes taken off).
    Wager,
    /// Money deposited over the window.
    Deposit,
    /// Minutes of play in one session (from its launch).
    SessionTime,
}

/// Over what a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// One session (session-time limits only).
    Session,
}

impl LimitKind {
    pub const ALL: [LimitKind; 4] = [
        LimitKind::Loss,
        LimitKind::Wager,
        LimitKind::Deposit,
        LimitKind::SessionTime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Loss => "loss",
            LimitKind::Wager => "wager",
            LimitKind::Deposit => "deposit",
            LimitKind::SessionTime => "session_time",
        }
    }

    pub fn parse(text: &str) -> Option<LimitKind> {
        LimitKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl Period {
    pub const ALL: [Period; 4] = [Period::Day, Period::Week, Period::Month, Period::Session];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Session => "session",
        }
    }

    pub fn parse(text: &str) -> Option<Period> {
        Period::ALL.into_iter().find(|p| p.as_str() == text)
    }

    const fn ms_or_zero(self) -> i64 {
        const DAY: i64 = 86_400_000;
        match self {
            Period::Day => DAY,
            Period::Week => 7 * DAY,
            Period::Month => 30 * DAY,
            Period::Session => 0,
        }
    }

    /// The window's length; `None` for a session.
    pub fn window_ms(self) -> Option<i64> {
        (self != Period::Session).then(|| self.ms_or_zero())
    }
}

/// A limit that can exist: a money kind over a day, week or month, or a session's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitKey {
    kind: LimitKind,
    period: Period,
}

/// Why a limit key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitKeyError {
    #[error("a session_time limit counts per session (period \"session\")")]
    SessionTimePeriod,
    #[error("a {0} limit counts over a day, week or month")]
    MoneyPeriod(&'static str),
}

impl LimitKey {
    pub fn new(kind: LimitKind, period: Period) -> Result<Self, LimitKeyError> {
        match (kind, period) {
            (LimitKind::SessionTime, Period::Session) => Ok(Self { kind, period }),
            (LimitKind::SessionTime, _) => Err(LimitKeyError::SessionTimePeriod),
            (_, Period::Session) => Err(LimitKeyError::MoneyPeriod(kind.as_str())),
            _ => Ok(Self { kind, period }),
        }
    }

    pub fn kind(self) -> LimitKind {
        self.kind
    }

    pub fn period(self) -> Period {
        self.period
    }
}

/// A change waiting for its cooling-off to pass: the new amount (`None`: the limit removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub amount: Option<i64>,
    pub from_ms: i64,
}

/// One limit of one player as stored: the amount in force (minor units, or minutes for a
/// session time; `None`: no limit in force) and a looser change waiting, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerLimit {
    pub player: PlayerId,
    pub key: LimitKey,
    pub amount: Option<i64>,
    pub pending: Option<Pending>,
    pub set_at_ms: i64,
}

impl PlayerLimit {
    /// The amount in force at `now_ms`: a pending change whose cooling-off has passed applies.
    pub fn in_force(&self, now_ms: i64) -> Option<i64> {
        match self.pending {
            Some(p) if p.from_ms <= now_ms => p.amount,
            _ => self.amount,
        }
    }

    /// The change waiting at `now_ms`, if its cooling-off has not passed.
    pub fn waiting(&self, now_ms: i64) -> Option<Pending> {
        self.pending.filter(|p| p.from_ms > now_ms)
    }

    /// This limit after a request for `amount` (`None`: remove it) at `now_ms`. A limit that
    /// is new or tighter than the one in force applies at once and drops any waiting raise;
    /// a looser one (or a removal) waits `cooling_off_ms`, the one in force standing meanwhile.
    pub fn request(
        current: Option<&PlayerLimit>,
        player: &PlayerId,
        key: LimitKey,
        amount: Option<i64>,
        now_ms: i64,
        cooling_off_ms: i64,
    ) -> PlayerLimit {
        let in_force = current.and_then(|c| c.in_force(now_ms));
        let at_once = match (in_force, amount) {
            (None, _) => true,
            (Some(old), Some(new)) => new <= old,
            (Some(_), None) => false,
        };
        let (amount, pending) = if at_once {
            (amount, None)
        } else {
            let waiting = Pending {
                amount,
                from_ms: now_ms.saturating_add(cooling_off_ms),
            };
            (in_force, Some(waiting))
        };
        PlayerLimit {
            player: player.clone(),
            key,
            amount,
            pending,
            set_at_ms: now_ms,
        }
    }
}

/// A player's limits and what each window has used, read at `at_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsReport {
    pub limits: Vec<PlayerLimit>,
    /// Used in the day, week and month windows.
    pub usage: [Usage; 3],
    pub at_ms: i64,
}

impl LimitsReport {
    /// What a window of `period` has used (`None` for a session).
    pub fn used(&self, period: Period) -> Option<Usage> {
        match period {
            Period::Day => Some(self.usage[0]),
            Period::Week => Some(self.usage[1]),
            Period::Month => Some(self.usage[2]),
            Period::Session => None,
        }
    }
}

/// The players with limits a transaction has met: marked when their balance update returned
/// `limits_set` (`limits_sql::note`), so the entries written after it are counted. Part of
/// the transaction's handle, born and dropped with it.
#[derive(Debug, Default)]
pub struct Watched(std::collections::HashSet<String>);

impl Watched {
    pub fn mark(&mut self, player: &PlayerId) {
        self.0.insert(player.as_str().to_string());
    }

    pub fn has(&self, player: &PlayerId) -> bool {
        self.0.contains(player.as_str())
    }
}

/// Money counted in a window (or in one bucket), minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub wagered: i64,
    pub won: i64,
    pub deposited: i64,
}

impl Usage {
    /// How much of a limit of `kind` this usage takes (a net win takes nothing of a loss limit).
    pub fn used(&self, kind: LimitKind) -> i64 {
        match kind {
            LimitKind::Loss => (self.wagered - self.won).max(0),
            LimitKind::Wager => self.wagered,
            LimitKind::Deposit => self.deposited,
            LimitKind::SessionTime => 0,
        }
    }

    fn plus(self, other: Usage) -> Usage {
        Usage {
            wagered: self.wagered + other.wagered,
            won: self.won + other.won,
            deposited: self.deposited + other.deposited,
        }
    }

    fn minus(self, other: Usage) -> Usage {
        Usage {
            wagered: self.wagered - other.wagered,
            won: self.won - other.won,
            deposited: self.deposited - other.deposited,
        }
    }
}

/// The start of the bucket `at_ms` falls in.
pub fn bucket_of(at_ms: i64) -> i64 {
    at_ms - at_ms.rem_euclid(BUCKET_MS)
}

/// The oldest bucket still counted in a window of `window_ms` at `now_ms`: one whose hour
/// ends after the window's start.
pub fn window_start(now_ms: i64, window_ms: i64) -> i64 {
    now_ms - window_ms - BUCKET_MS + 1
}

/// Whether `more` on top of `used` stays within `limit`.
pub fn fits(used: i64, more: i64, limit: i64) -> bool {
    used.saturating_add(more) <= limit
}

/// When adding `more` would first fit under `limit` again, as buckets leave the window:
/// `buckets` are the window's (start, usage), any order. `None` if it never would (`more`
/// exceeds the limit by itself, or the buckets still counted then are enough to refuse it).
pub fn resets_at(
    kind: LimitKind,
    window_ms: i64,
    buckets: &[(i64, Usage)],
    more: i64,
    limit: i64,
) -> Option<i64> {
    // Buckets of one start leave together: merge them first.
    let mut merged = std::collections::BTreeMap::<i64, Usage>::new();
    for (start, u) in buckets {
        let sum = merged.entry(*start).or_default();
        *sum = sum.plus(*u);
    }
    let mut left = merged
        .values()
        .fold(Usage::default(), |sum, u| sum.plus(*u));
    for (start, usage) in merged {
        left = left.minus(usage);
        if fits(left.used(kind), more, limit) {
            return Some(start + BUCKET_MS + window_ms);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn player() -> PlayerId {
        PlayerId::parse("p").unwrap()
    }

    fn key(kind: LimitKind, period: Period) -> LimitKey {
        LimitKey::new(kind, period).unwrap()
    }

    #[test]
    fn only_sensible_keys_exist() {
        assert!(LimitKey::new(LimitKind::Loss, Period::Day).is_ok());
        assert!(LimitKey::new(LimitKind::SessionTime, Period::Session).is_ok());
        assert_eq!(
            LimitKey::new(LimitKind::SessionTime, Period::Week),
            Err(LimitKeyError::SessionTimePeriod)
        );
        assert_eq!(
            LimitKey::new(LimitKind::Deposit, Period::Session),
            Err(LimitKeyError::MoneyPeriod("deposit"))
        );
        for k in LimitKind::ALL {
            assert_eq!(LimitKind::parse(k.as_str()), Some(k));
        }
        for p in Period::ALL {
            assert_eq!(Period::parse(p.as_str()), Some(p));
        }
        assert_eq!(LimitKind::parse("fun"), None);
        assert_eq!(Period::parse("year"), None);
    }

    #[test]
    fn tighter_applies_at_once_looser_waits_the_cooling_off() {
        let k = key(LimitKind::Loss, Period::Day);
        let new = PlayerLimit::request(None, &player(), k, Some(100), 0, 50);
        assert_eq!((new.in_force(0), new.pending), (Some(100), None));
        let lower = PlayerLimit::request(Some(&new), &player(), k, Some(60), 10, 50);
        assert_eq!((lower.in_force(10), lower.pending), (Some(60), None));
        let raise = PlayerLimit::request(Some(&lower), &player(), k, Some(200), 20, 50);
        assert_eq!(raise.in_force(69), Some(60));
        assert_eq!(raise.waiting(69).map(|p| p.amount), Some(Some(200)));
        assert_eq!(raise.in_force(70), Some(200));
        assert_eq!(raise.waiting(70), None);
        // Tightening while a raise waits drops the raise.
        let tighten = PlayerLimit::request(Some(&raise), &player(), k, Some(50), 30, 50);
        assert_eq!((tighten.in_force(1_000), tighten.pending), (Some(50), None));
        // A removal waits too; after it, any new limit applies at once.
        let removed = PlayerLimit::request(Some(&tighten), &player(), k, None, 40, 50);
        assert_eq!(removed.in_force(89), Some(50));
        assert_eq!(removed.in_force(90), None);
        let again = PlayerLimit::request(Some(&removed), &player(), k, Some(500), 90, 50);
        assert_eq!((again.in_force(90), again.pending), (Some(500), None));
    }

    #[test]
    fn a_raise_after_a_due_raise_counts_from_the_new_amount() {
        let k = key(LimitKind::Wager, Period::Week);
        let first = PlayerLimit::request(None, &player(), k, Some(100), 0, 10);
        let raise = PlayerLimit::request(Some(&first), &player(), k, Some(200), 0, 10);
        // At 15 the raise is due: 150 is a tightening of 200, so it applies at once.
        let lower = PlayerLimit::request(Some(&raise), &player(), k, Some(150), 15, 10);
        assert_eq!((lower.in_force(15), lower.pending), (Some(150), None));
    }

    #[test]
    fn usage_per_kind() {
        let u = Usage {
            wagered: 100,
            won: 130,
            deposited: 40,
        };
        assert_eq!(u.used(LimitKind::Loss), 0);
        assert_eq!(u.used(LimitKind::Wager), 100);
        assert_eq!(u.used(LimitKind::Deposit), 40);
        let loss = Usage { won: 30, ..u };
        assert_eq!(loss.used(LimitKind::Loss), 70);
    }

    #[test]
    fn buckets_and_windows() {
        assert_eq!(bucket_of(BUCKET_MS + 5), BUCKET_MS);
        assert_eq!(bucket_of(BUCKET_MS), BUCKET_MS);
        // At the end of an hour plus a day, that hour's bucket has just left a day window.
        let day = Period::Day.window_ms().unwrap();
        let now = BUCKET_MS + BUCKET_MS + day;
        assert!(window_start(now, day) > BUCKET_MS);
        assert!(window_start(now - 1, day) <= BUCKET_MS);
        assert_eq!(Period::Session.window_ms(), None);
    }

    #[test]
    fn the_reset_is_when_enough_of_the_window_has_left() {
        let day = Period::Day.window_ms().unwrap();
        let w = |wagered| Usage {
            wagered,
            ..Usage::default()
        };
        let buckets = [(2 * BUCKET_MS, w(30)), (0, w(50)), (BUCKET_MS, w(20))];
        // Limit 100, used 100: a stake of 10 fits once the first bucket (50) has left.
        assert_eq!(
            resets_at(LimitKind::Wager, day, &buckets, 10, 100),
            Some(BUCKET_MS + day)
        );
        // A stake of 80 needs all three gone.
        assert_eq!(
            resets_at(LimitKind::Wager, day, &buckets, 80, 100),
            Some(3 * BUCKET_MS + day)
        );
        assert_eq!(
            resets_at(LimitKind::Wager, day, &buckets, 50, 100),
            Some(BUCKET_MS + day)
        );
        // A stake over the limit never fits.
        assert_eq!(resets_at(LimitKind::Wager, day, &buckets, 101, 100), None);
        // A loss limit: a winning bucket leaving can make things worse, not better.
        let l = |wagered, won| Usage {
            wagered,
            won,
            deposited: 0,
        };
        let mixed = [(0, l(10, 60)), (BUCKET_MS, l(80, 0))];
        assert_eq!(
            resets_at(LimitKind::Loss, day, &mixed, 30, 50),
            Some(2 * BUCKET_MS + day)
        );
    }

    proptest! {
        /// A request never loosens a limit at once, and a tightening always applies at once.
        #[test]
        fn nothing_loosens_before_the_cooling_off(
            old in proptest::option::of(1i64..1_000),
            new in proptest::option::of(1i64..1_000),
            now in 0i64..1_000,
            cool in 1i64..1_000,
        ) {
            let k = key(LimitKind::Deposit, Period::Month);
            let current = old.map(|a| PlayerLimit::request(None, &player(), k, Some(a), 0, cool));
            let after = PlayerLimit::request(current.as_ref(), &player(), k, new, now, cool);
            let before = current.as_ref().and_then(|c| c.in_force(now));
            match (before, after.in_force(now)) {
                (Some(b), Some(a)) => prop_assert!(a <= b),
                (Some(_), None) => prop_assert!(false, "removed at once"),
                _ => {}
            }
            if let (Some(b), Some(n)) = (before, new) {
                if n <= b {
                    prop_assert_eq!(after.in_force(now), Some(n));
                }
            }
            prop_assert_eq!(after.in_force(now.saturating_add(cool)), new);
        }

        /// At the reset time the stake fits in what is still counted; a moment before, not.
        #[test]
        fn the_reset_time_is_the_first_that_fits(
            wagers in proptest::collection::vec((0i64..24, 0i64..100, 0i64..100), 0..24),
            more in 1i64..200,
            limit in 1i64..1_000,
        ) {
            let day = Period::Day.window_ms().unwrap();
            let buckets: Vec<(i64, Usage)> = wagers
                .iter()
                .map(|(h, w, won)| (h * BUCKET_MS, Usage { wagered: *w, won: *won, deposited: 0 }))
                .collect();
            let counted = |at: i64| {
                buckets
                    .iter()
                    .filter(|(s, _)| *s >= window_start(at, day))
                    .fold(Usage::default(), |sum, (_, u)| sum.plus(*u))
            };
            // At `now` every bucket is still counted.
            let now = 24 * BUCKET_MS;
            for kind in [LimitKind::Wager, LimitKind::Loss] {
                let refused_now = !fits(counted(now).used(kind), more, limit);
                match resets_at(kind, day, &buckets, more, limit) {
                    Some(at) => {
                        prop_assert!(fits(counted(at).used(kind), more, limit));
                        if refused_now {
                            prop_assert!(!fits(counted(at - 1).used(kind), more, limit));
                        }
                    }
                    // Never: not even with every bucket gone.
                    None => prop_assert!(more > limit || (buckets.is_empty() && !refused_now)),
                }
            }
        }
    }
}
