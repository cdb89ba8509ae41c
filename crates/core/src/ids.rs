//! Identifiers that cross the wire or the ledger: each newtype can only hold a valid value.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest player id or request id we accept: ids are keys in maps, logs and the ledger.
pub const MAX_ID_LEN: usize = 64;

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
    allowed: &'static str,
    ok: fn(u8) -> bool,
) -> Result<(), IdError> {
    if text.is_empty() || text.len() > MAX_ID_LEN || !text.bytes().all(ok) {
        return Err(IdError::Invalid {
            what,
            max: MAX_ID_LEN,
            allowed,
        });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $allowed:literal, $ok:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, IdError> {
                check(text, $what, $allowed, $ok)?;
                Ok(Self(text.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                check(&text, $what, $allowed, $ok)?;
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
    /// A player, as named by the operator.
    PlayerId,
    "player_id",
    "A-Z a-z 0-9 _ . -",
    |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
);

string_id!(
    /// A client request id: the key of the exactly-once reply cache.
    ReqId,
    "req_id",
    "A-Z a-z 0-9 _ . : -",
    |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')
);

string_id!(
    /// A round: time-ordered (UUID v7), so ids sort in the order rounds were opened.
    RoundId,
    "round_id",
    "A-Z a-z 0-9 -",
    |b| b.is_ascii_alphanumeric() || b == b'-'
);

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
        assert!(PlayerId::parse(&"x".repeat(65)).is_err());
        assert!(ReqId::parse("r:1").is_ok());
        assert!(ReqId::parse("r/1").is_err());
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
