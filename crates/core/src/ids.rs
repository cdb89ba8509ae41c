//! Identifiers that cross the wire or the ledger: each newtype can only hold a valid value.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest id a client or an operator may send (player as the operator names it, request,
/// transaction): ids are keys in maps, logs and the ledger.
pub const MAX_ID_LEN: usize = 64;
/// Longest operator id: it prefixes every player id of the operator.
pub const MAX_OPERATOR_LEN: usize = 32;
/// Longest account key: `<operator>:<player>`.
pub const MAX_PLAYER_KEY_LEN: usize = MAX_OPERATOR_LEN + 1 + MAX_ID_LEN;
/// Between the operator and its player in an account key.
pub const OPERATOR_SEPARATOR: char = ':';

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} must be 1-{max} characters of {allowed}")]
    Invalid {
        what: &'static str,
        max: usize,
        allowed: &'static str,
    },
}

fn check(
    text: &str,
    what: &'static str,
    max: usize,
    allowed: &'static str,
    ok: fn(&str) -> bool,
) -> Result<(), IdError> {
    if text.is_empty() || text.len() > max || !ok(text) {
        return Err(IdError::Invalid { what, max, allowed });
    }
    Ok(())
}

/// Every byte of `text` passes `ok`.
fn all(text: &str, ok: fn(u8) -> bool) -> bool {
    text.bytes().all(ok)
}

/// The alphabet of names an operator or a client chooses.
fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $allowed:literal, $ok:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, IdError> {
                check(text, $what, $max, $allowed, $ok)?;
                Ok(Self(text.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                check(&text, $what, $max, $allowed, $ok)?;
                Ok(Self(text))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A player's account, the key of its balance and rounds: `<operator>:<player>` for a
    /// player of an operator (two operators' `alice` are two accounts), or a bare name for a
    /// player with no operator (demo play, `demo-<hex>`).
    PlayerId,
    "player_id",
    MAX_PLAYER_KEY_LEN,
    "A-Z a-z 0-9 _ . - (an operator's player: operator:player)",
    |t| match t.split_once(OPERATOR_SEPARATOR) {
        None => all(t, name_byte),
        Some((operator, player)) => {
            OperatorId::parse(operator).is_ok() && PlayerName::parse(player).is_ok()
        }
    }
);

string_id!(
    /// An operator (a casino brand): lower case, it prefixes its players' account keys.
    OperatorId,
    "operator_id",
    MAX_OPERATOR_LEN,
    "a-z 0-9 _ -",
    |t| all(t, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
);

string_id!(
    /// A player as its operator names it (unique within that operator only).
    PlayerName,
    "player_id",
    MAX_ID_LEN,
    "A-Z a-z 0-9 _ . -",
    |t| all(t, name_byte)
);

string_id!(
    /// A client request id: the key of the exactly-once reply cache; also the operator's
    /// own transaction id of a deposit or withdrawal.
    ReqId,
    "req_id",
    MAX_ID_LEN,
    "A-Z a-z 0-9 _ . : -",
    |t| all(t, |b| name_byte(b) || b == b':')
);

string_id!(
    /// An operator's free-rounds campaign, as the operator names it: with the player, the key
    /// that makes a grant idempotent.
    CampaignId,
    "campaign_id",
    MAX_ID_LEN,
    "A-Z a-z 0-9 _ . -",
    |t| all(t, name_byte)
);

string_id!(
    /// A round: time-ordered (UUID v7), so ids sort in the order rounds were opened.
    RoundId,
    "round_id",
    MAX_ID_LEN,
    "A-Z a-z 0-9 -",
    |t| all(t, |b| b.is_ascii_alphanumeric() || b == b'-')
);

impl PlayerId {
    /// The account of `player` of `operator`.
    pub fn of(operator: &OperatorId, player: &PlayerName) -> PlayerId {
        PlayerId(format!("{operator}{OPERATOR_SEPARATOR}{player}"))
    }

    /// The operator owning this account; `None` for a player of no operator (demo play).
    pub fn operator(&self) -> Option<&str> {
        self.0.split_once(OPERATOR_SEPARATOR).map(|(o, _)| o)
    }

    /// The player as its operator names it (the whole id for a player of no operator).
    pub fn name(&self) -> &str {
        self.0
            .split_once(OPERATOR_SEPARATOR)
            .map_or(self.0.as_str(), |(_, p)| p)
    }
}

impl RoundId {
    pub fn new_v7() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// The ledger transaction id of one movement of this round, e.g. `<round>:bet`.
    pub fn tx(&self, kind: &str) -> String {
        format!("{}:{kind}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_only_their_alphabet() {
        assert!(PlayerId::parse("alice_01.x-y").is_ok());
        assert!(PlayerId::parse("").is_err());
        assert!(PlayerId::parse("a b").is_err());
        assert!(PlayerId::parse("ä").is_err());
        assert!(PlayerId::parse(&"x".repeat(98)).is_err());
        assert!(PlayerName::parse(&"x".repeat(65)).is_err());
        assert!(ReqId::parse("r:1").is_ok());
        assert!(ReqId::parse("r/1").is_err());
    }

    #[test]
    fn accounts_are_namespaced_by_operator() {
        let house = OperatorId::parse("house").unwrap();
        let other = OperatorId::parse("other-brand").unwrap();
        let alice = PlayerName::parse("alice").unwrap();
        let a = PlayerId::of(&house, &alice);
        let b = PlayerId::of(&other, &alice);
        assert_ne!(a, b);
        assert_eq!(a.as_str(), "house:alice");
        assert_eq!((a.operator(), a.name()), (Some("house"), "alice"));
        assert_eq!(PlayerId::parse("house:alice").unwrap(), a);
        let demo = PlayerId::parse("demo-00ff").unwrap();
        assert_eq!((demo.operator(), demo.name()), (None, "demo-00ff"));
        for bad in [
            "House:alice",
            "house:",
            ":alice",
            "house:a:b",
            "house:a b",
            "a:b:c",
        ] {
            assert!(PlayerId::parse(bad).is_err(), "{bad}");
        }
        assert!(OperatorId::parse(&"o".repeat(33)).is_err());
        assert!(PlayerName::parse("a:b").is_err());
        let longest = PlayerId::of(
            &OperatorId::parse(&"o".repeat(32)).unwrap(),
            &PlayerName::parse(&"p".repeat(64)).unwrap(),
        );
        assert_eq!(PlayerId::parse(longest.as_str()).unwrap(), longest);
    }

    #[test]
    fn round_ids_are_ordered() {
        let a = RoundId::new_v7();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RoundId::new_v7();
        assert!(a < b);
        assert_eq!(a.tx("bet"), format!("{a}:bet"));
    }

    #[test]
    fn serde_rejects_invalid_ids() {
        assert!(serde_json::from_str::<PlayerId>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<PlayerId>("\"not ok\"").is_err());
    }
}
