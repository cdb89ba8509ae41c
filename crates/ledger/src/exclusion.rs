//! A player's time-out or self-exclusion as the ledger keeps it: until when (or indefinitely)
//! and why. The rule that an exclusion is never shortened lives in `exclusion_sql`; what the
//! server does with one (no launch, every session closed) is the server's.

use crate::ids::PlayerId;

/// Why a player may not play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionReason {
    /// A break the player chose (hours to weeks).
    TimeOut,
    /// The player excluded themselves (months, or indefinitely).
    SelfExclusion,
    /// The operator excluded the player (a safer-gambling interaction, a regulator's register).
    Operator,
}

impl ExclusionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ExclusionReason::TimeOut => "time_out",
            ExclusionReason::SelfExclusion => "self_exclusion",
            ExclusionReason::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<ExclusionReason> {
        match text {
            "time_out" => Some(ExclusionReason::TimeOut),
            "self_exclusion" => Some(ExclusionReason::SelfExclusion),
            "operator" => Some(ExclusionReason::Operator),
            _ => None,
        }
    }
}

/// The exclusion the ledger holds for a player (the one in force, or the last one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    pub player: PlayerId,
    /// When it ends (Unix ms); `None`: indefinitely.
    pub until_ms: Option<i64>,
    pub reason: ExclusionReason,
    pub set_at_ms: i64,
}

impl Exclusion {
    /// Whether it still stands at `now_ms`.
    pub fn in_force(&self, now_ms: i64) -> bool {
        match self.until_ms {
            None => true,
            Some(until) => until > now_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exclusion_stands_until_its_end_or_for_ever() {
        let e = |until_ms| Exclusion {
            player: PlayerId::parse("p").unwrap(),
            until_ms,
            reason: ExclusionReason::TimeOut,
            set_at_ms: 0,
        };
        assert!(e(Some(10)).in_force(9));
        assert!(!e(Some(10)).in_force(10));
        assert!(e(None).in_force(i64::MAX));
        for r in [
            ExclusionReason::TimeOut,
            ExclusionReason::SelfExclusion,
            ExclusionReason::Operator,
        ] {
            assert_eq!(ExclusionReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(ExclusionReason::parse("holiday"), None);
    }
}
