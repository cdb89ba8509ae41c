//! Provably fair seeds as the ledger keeps them (docs/fairness.md): a player's seed in force, what
//! a rotation asks for, and the nonce a fair round took (a fair round with everything a verifier
//! needs is `ledger::FairRound`, beside the round record it holds). The seeds themselves are
//! derived and checked by the server (`src/fair`); the ledger only stores commitments, and a seed
//! once it is revealed.

use crate::ids::PlayerId;

/// One of a player's seeds: in force (`revealed_at_ms` is `None`) or revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairSeed {
    pub player: PlayerId,
    /// 0 for the player's first seed, then one more per rotation.
    pub seed_index: i64,
    /// SHA-256 of the server seed, hex: what the player was shown before play.
    pub commitment: String,
    /// The id of the key the server seed is derived under.
    pub key_id: String,
    pub client_seed: String,
    /// The nonce the next fair round takes (also: how many rounds this seed has played).
    pub next_nonce: i64,
    pub created_at_ms: i64,
    pub revealed_at_ms: Option<i64>,
    /// The server seed (hex), once revealed.
    pub server_seed: Option<String>,
}

/// A seed a rotation starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSeed {
    pub seed_index: i64,
    pub commitment: String,
    pub key_id: String,
    pub client_seed: String,
}

/// The seed in force a rotation reveals: its index and its server seed (hex), which must hash
/// to the commitment stored for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reveal {
    pub seed_index: i64,
    pub server_seed: String,
}

/// The nonce a fair round took, with the seed's public half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairNonce {
    pub seed_index: i64,
    pub nonce: i64,
    pub commitment: String,
    pub client_seed: String,
    /// The key the seed is derived under.
    pub key_id: String,
}

/// Whether `next` may follow `current` (the player's seed in force, if any): the first seed
/// is index 0, each rotation the next index, and a rotation reveals exactly the seed in force.
pub fn rotation_fits(current: Option<&FairSeed>, reveal: Option<&Reveal>, next: &NewSeed) -> bool {
    match (current, reveal) {
        (None, None) => next.seed_index >= 0,
        (Some(seed), Some(reveal)) => {
            reveal.seed_index == seed.seed_index && next.seed_index == seed.seed_index + 1
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(index: i64) -> FairSeed {
        FairSeed {
            player: PlayerId::parse("p").unwrap(),
            seed_index: index,
            commitment: "c".repeat(64),
            key_id: "k".into(),
            client_seed: "x".into(),
            next_nonce: 0,
            created_at_ms: 0,
            revealed_at_ms: None,
            server_seed: None,
        }
    }

    fn next(index: i64) -> NewSeed {
        NewSeed {
            seed_index: index,
            commitment: "d".repeat(64),
            key_id: "k".into(),
            client_seed: "y".into(),
        }
    }

    fn reveal(index: i64) -> Reveal {
        Reveal {
            seed_index: index,
            server_seed: "0".repeat(64),
        }
    }

    #[test]
    fn a_rotation_reveals_the_seed_in_force_and_starts_the_next() {
        assert!(rotation_fits(None, None, &next(0)));
        assert!(rotation_fits(Some(&seed(3)), Some(&reveal(3)), &next(4)));
        // A seed in force is never replaced without being revealed, nor a stale one revealed.
        assert!(!rotation_fits(Some(&seed(3)), None, &next(4)));
        assert!(!rotation_fits(Some(&seed(3)), Some(&reveal(2)), &next(3)));
        assert!(!rotation_fits(Some(&seed(3)), Some(&reveal(3)), &next(5)));
        assert!(!rotation_fits(None, Some(&reveal(0)), &next(1)));
    }
}
