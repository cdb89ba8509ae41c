//! Free rounds as the ledger records them: rounds an operator gives one player on one game at a
//! fixed bet (a campaign), played without a debit, their wins credited like any win. Each grant
//! has a history of events (grant, play, void, cancel, expire) from which its count of rounds
//! left follows; the audit checks that it does. A slot's own free spins (a scatter's award,
//! the `free_spins` table) are another thing and never mixed with these.

use serde::{Deserialize, Serialize};

use crate::ids::{CampaignId, PlayerId};

/// Most rounds one grant may give: a campaign is a promotion, not a balance.
pub const MAX_FREE_ROUNDS_PER_GRANT: u32 = 1_000;
/// Most campaigns a player may hold open at once: bounds what a connect reads and shows.
pub const MAX_ACTIVE_CAMPAIGNS: u32 = 50;
/// Most grants one expiry sweep closes in one transaction; the sweeper runs again for more.
pub const EXPIRE_BATCH: u32 = 1_000;
/// Most grants one read lists (newest first): a player's whole promotional history is for the
/// operator's own back office.
pub const MAX_GRANTS_LISTED: u32 = 200;

/// Where a grant stands. `Active` with no rounds left is used up; the other two are closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreeRoundsStatus {
    Active,
    /// The operator cancelled the rounds not yet played.
    Cancelled,
    /// The expiry passed with rounds not yet played.
    Expired,
}

impl FreeRoundsStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FreeRoundsStatus::Active => "active",
            FreeRoundsStatus::Cancelled => "cancelled",
            FreeRoundsStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "active" => FreeRoundsStatus::Active,
            "cancelled" => FreeRoundsStatus::Cancelled,
            "expired" => FreeRoundsStatus::Expired,
            _ => return None,
        })
    }
}

/// What an operator asks for: `rounds` rounds of `game` at `bet_minor`, playable until
/// `expires_at_ms`. The same campaign granted again to the same player with the same details
/// is the same grant; with other details it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeRoundsGrant {
    pub campaign: CampaignId,
    pub game: String,
    pub bet_minor: i64,
    pub rounds: u32,
    pub expires_at_ms: i64,
}

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeRounds {
    pub player: PlayerId,
    pub campaign: CampaignId,
    pub game: String,
    pub bet_minor: i64,
    pub granted: u32,
    pub remaining: u32,
    pub expires_at_ms: i64,
    pub status: FreeRoundsStatus,
    pub created_at_ms: i64,
    /// When it was cancelled or expired.
    pub closed_at_ms: Option<i64>,
}

impl FreeRounds {
    /// Whether a round of it may be played at `now_ms`.
    pub fn playable(&self, now_ms: i64) -> bool {
        self.status == FreeRoundsStatus::Active && self.remaining > 0 && now_ms < self.expires_at_ms
    }

    /// Whether `ask` is this grant asked again (the idempotent replay of its grant).
    pub fn is_grant(&self, ask: &FreeRoundsGrant) -> bool {
        self.campaign == ask.campaign
            && self.game == ask.game
            && self.bet_minor == ask.bet_minor
            && self.granted == ask.rounds
            && self.expires_at_ms == ask.expires_at_ms
    }
}

/// What happened to a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreeRoundEventKind {
    /// `rounds` were given.
    Grant,
    /// One round was taken to play `round_id`.
    Play,
    /// `round_id` was voided before it settled and its round given back.
    Void,
    /// The operator cancelled: `rounds` not yet played are gone.
    Cancel,
    /// The expiry passed: `rounds` not yet played are gone.
    Expire,
}

impl FreeRoundEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FreeRoundEventKind::Grant => "grant",
            FreeRoundEventKind::Play => "play",
            FreeRoundEventKind::Void => "void",
            FreeRoundEventKind::Cancel => "cancel",
            FreeRoundEventKind::Expire => "expire",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "grant" => FreeRoundEventKind::Grant,
            "play" => FreeRoundEventKind::Play,
            "void" => FreeRoundEventKind::Void,
            "cancel" => FreeRoundEventKind::Cancel,
            "expire" => FreeRoundEventKind::Expire,
            _ => return None,
        })
    }

    /// How the event moves the count of rounds left.
    pub fn sign(self) -> i64 {
        match self {
            FreeRoundEventKind::Grant | FreeRoundEventKind::Void => 1,
            FreeRoundEventKind::Play | FreeRoundEventKind::Cancel | FreeRoundEventKind::Expire => {
                -1
            }
        }
    }
}

/// One event of a grant, in the order they were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeRoundEvent {
    pub seq: i64,
    pub kind: FreeRoundEventKind,
    pub rounds: u32,
    pub round_id: Option<String>,
    pub created_at_ms: i64,
}

/// The rounds left that a grant's events add up to.
pub fn remaining_from(events: &[FreeRoundEvent]) -> i64 {
    events
        .iter()
        .map(|e| e.kind.sign() * i64::from(e.rounds))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> FreeRounds {
        FreeRounds {
            player: PlayerId::parse("acme:alice").unwrap(),
            campaign: CampaignId::parse("welcome").unwrap(),
            game: "starfall".into(),
            bet_minor: 20,
            granted: 10,
            remaining: 3,
            expires_at_ms: 1_000,
            status: FreeRoundsStatus::Active,
            created_at_ms: 0,
            closed_at_ms: None,
        }
    }

    #[test]
    fn only_an_active_unexpired_grant_with_rounds_left_is_playable() {
        let g = grant();
        assert!(g.playable(999));
        assert!(!g.playable(1_000), "the expiry instant itself is too late");
        let used = FreeRounds {
            remaining: 0,
            ..grant()
        };
        assert!(!used.playable(0));
        for status in [FreeRoundsStatus::Cancelled, FreeRoundsStatus::Expired] {
            assert!(!FreeRounds { status, ..grant() }.playable(0));
        }
    }

    #[test]
    fn a_grant_asked_again_is_the_same_only_with_every_detail_the_same() {
        let ask = FreeRoundsGrant {
            campaign: CampaignId::parse("welcome").unwrap(),
            game: "starfall".into(),
            bet_minor: 20,
            rounds: 10,
            expires_at_ms: 1_000,
        };
        assert!(grant().is_grant(&ask));
        assert!(!grant().is_grant(&FreeRoundsGrant {
            rounds: 11,
            ..ask.clone()
        }));
        assert!(!grant().is_grant(&FreeRoundsGrant {
            bet_minor: 10,
            ..ask.clone()
        }));
        assert!(!grant().is_grant(&FreeRoundsGrant {
            game: "x".into(),
            ..ask.clone()
        }));
        assert!(!grant().is_grant(&FreeRoundsGrant {
            expires_at_ms: 1,
            ..ask
        }));
    }

    #[test]
    fn events_add_up_to_the_rounds_left() {
        let e = |kind, rounds| FreeRoundEvent {
            seq: 0,
            kind,
            rounds,
            round_id: None,
            created_at_ms: 0,
        };
        use FreeRoundEventKind::*;
        let events = [
            e(Grant, 10),
            e(Play, 1),
            e(Play, 1),
            e(Void, 1),
            e(Cancel, 9),
        ];
        assert_eq!(remaining_from(&events), 0);
        assert_eq!(remaining_from(&events[..4]), 9);
        for kind in [Grant, Play, Void, Cancel, Expire] {
            assert_eq!(FreeRoundEventKind::parse(kind.as_str()), Some(kind));
        }
        for status in [
            FreeRoundsStatus::Active,
            FreeRoundsStatus::Cancelled,
            FreeRoundsStatus::Expired,
        ] {
            assert_eq!(FreeRoundsStatus::parse(status.as_str()), Some(status));
        }
    }
}
