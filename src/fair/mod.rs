//! Provably fair play on this node (docs/fairness.md): the key players' server seeds are derived
//! under, a player's seed in force (started on first use), rotations that reveal it, the stream a
//! fair round is drawn from, and the proof a round's outcome carries. The ledger keeps commitments,
//! nonces and revealed seeds (`croupier-ledger` `fair`); the pure stream and derivation are the
//! core's (`rng::fair`); checking a round against its revealed seed is [`verify`]; whom it is
//! offered to is `App::fair_offered`.

pub mod verify;

use rand_core::{OsRng, TryRngCore};
use serde_json::Value;

use crate::ids::PlayerId;
use crate::protocol::{ErrorCode, FairSeedView, RevealedSeedView};
use crate::rng::fair::{derive_server_seed, ClientSeed, FairStream, ServerSeed};
use crate::secrets::{KeyRing, Purpose};
use crate::wallet::{
    Applied, FairNonce, FairSeed, LedgerError, Movement, NewSeed, Reveal, WalletPool,
};

/// Random bytes of a client seed the server picks when the player names none (shown as hex).
const DEFAULT_CLIENT_SEED_BYTES: usize = 8;

/// Why provably fair play could not go on.
#[derive(Debug, thiserror::Error)]
pub enum FairError {
    #[error("provably fair play is not offered to this player")]
    NotOffered,
    #[error(
        "the key of seed {seed_index} (key id {key_id}) is not configured: keep its secret in \
         auth.previous_secrets until every seed under it is rotated"
    )]
    KeyGone { seed_index: i64, key_id: String },
    #[error("seed {0} does not derive to its commitment")]
    Mismatch(i64),
    #[error("the operating system's random source failed: {0}")]
    OsRandom(String),
}

impl FairError {
    pub fn code(&self) -> ErrorCode {
        match self {
            FairError::NotOffered => ErrorCode::FairNotOffered,
            FairError::OsRandom(_) => ErrorCode::ServiceUnavailable,
            FairError::KeyGone { .. } | FairError::Mismatch(_) => ErrorCode::Internal,
        }
    }
}

/// The keys server seeds are derived under: the current `auth.secret`'s, and the previous
/// secrets' (a seed keeps the key it was committed under until it is revealed).
#[derive(Debug, Clone)]
pub struct FairKeys(KeyRing);

impl FairKeys {
    pub fn new(secret: &str, previous: &[String]) -> FairKeys {
        FairKeys(KeyRing::new(secret, previous, Purpose::FairSeeds))
    }

    /// The server seed `index` of `player` under the current key, with that key's id.
    fn fresh(&self, player: &PlayerId, index: i64) -> (ServerSeed, String) {
        let key = &self.0.current;
        let seed = derive_server_seed(key.bytes(), player.as_str(), index.unsigned_abs());
        (seed, key.id().to_string())
    }

    /// The server seed `index` of `player` under key `key_id`, checked against `commitment`.
    pub fn seed(
        &self,
        player: &PlayerId,
        index: i64,
        key_id: &str,
        commitment: &str,
    ) -> Result<ServerSeed, FairError> {
        let key = self.0.find(key_id).ok_or_else(|| FairError::KeyGone {
            seed_index: index,
            key_id: key_id.to_string(),
        })?;
        let seed = derive_server_seed(key.bytes(), player.as_str(), index.unsigned_abs());
        if seed.commitment() != commitment {
            return Err(FairError::Mismatch(index));
        }
        Ok(seed)
    }
}

/// A client seed the server picks: 16 random hex digits.
pub fn random_client_seed() -> Result<ClientSeed, FairError> {
    let mut bytes = [0u8; DEFAULT_CLIENT_SEED_BYTES];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| FairError::OsRandom(e.to_string()))?;
    ClientSeed::parse(&hex::encode(bytes)).map_err(|e| FairError::OsRandom(e.to_string()))
}

/// What a rotation left: the seed it revealed (none for a first seed) and the seed in force.
pub struct Rotated {
    pub revealed: Option<FairSeed>,
    pub current: FairSeed,
}

/// Errors of the seed frames: the fair layer's, or the wallet's.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Fair(#[from] FairError),
    #[error("{0}")]
    Wallet(#[from] crate::wallet::WalletError),
    #[error("{0}")]
    Ledger(#[from] LedgerError),
}

impl SeedError {
    pub fn code(&self) -> ErrorCode {
        match self {
            SeedError::Fair(e) => e.code(),
            SeedError::Wallet(e) => e.code(),
            SeedError::Ledger(e) => e.code(),
        }
    }
}

/// The player's seed in force, started (index 0, a random client seed) if they have none.
pub async fn seed_in_force(
    keys: &FairKeys,
    wallet: &WalletPool,
    player: &PlayerId,
) -> Result<FairSeed, SeedError> {
    if let Some(seed) = wallet.ledger().fair_seed(player).await? {
        return Ok(seed);
    }
    Ok(
        rotate_from(keys, wallet, player, None, random_client_seed()?)
            .await?
            .current,
    )
}

/// Reveals the player's seed in force and starts the next one with `client_seed` (a random
/// one if `None`). A player with no seed yet first gets one, which this reveals unplayed.
pub async fn rotate(
    keys: &FairKeys,
    wallet: &WalletPool,
    player: &PlayerId,
    client_seed: Option<ClientSeed>,
) -> Result<Rotated, SeedError> {
    let client_seed = match client_seed {
        Some(c) => c,
        None => random_client_seed()?,
    };
    let current = seed_in_force(keys, wallet, player).await?;
    rotate_from(keys, wallet, player, Some(&current), client_seed).await
}

async fn rotate_from(
    keys: &FairKeys,
    wallet: &WalletPool,
    player: &PlayerId,
    current: Option<&FairSeed>,
    client_seed: ClientSeed,
) -> Result<Rotated, SeedError> {
    let reveal = match current {
        Some(seed) => {
            let server = keys.seed(player, seed.seed_index, &seed.key_id, &seed.commitment)?;
            Some(Reveal {
                seed_index: seed.seed_index,
                server_seed: server.to_hex(),
            })
        }
        None => None,
    };
    let index = current.map_or(0, |s| s.seed_index + 1);
    let (server, key_id) = keys.fresh(player, index);
    let next = NewSeed {
        seed_index: index,
        commitment: server.commitment(),
        key_id,
        client_seed: client_seed.as_str().to_string(),
    };
    let movement = Movement::RotateSeed {
        player: player.clone(),
        reveal,
        next,
    };
    match wallet.apply(movement).await? {
        Applied::SeedRotated {
            revealed, current, ..
        } => Ok(Rotated { revealed, current }),
        other => Err(LedgerError::Invariant(format!("RotateSeed answered {other:?}")).into()),
    }
}

/// The stream a fair round draws from: its seed (derived, checked against the commitment the
/// round recorded), the client seed and the nonce it took.
pub fn stream(
    keys: &FairKeys,
    player: &PlayerId,
    nonce: &FairNonce,
) -> Result<FairStream, FairError> {
    let server = keys.seed(player, nonce.seed_index, &nonce.key_id, &nonce.commitment)?;
    let client =
        ClientSeed::parse(&nonce.client_seed).map_err(|_| FairError::Mismatch(nonce.seed_index))?;
    Ok(FairStream::new(
        &server,
        &client,
        nonce.nonce.unsigned_abs(),
    ))
}

/// The proof a fair round's outcome carries (`outcome.fair`): which seed, client seed and nonce
/// drew it. Stored with the outcome, so the round's chain link covers it.
pub fn proof(nonce: &FairNonce) -> Value {
    serde_json::json!({
        "seed_index": nonce.seed_index,
        "commitment": nonce.commitment,
        "client_seed": nonce.client_seed,
        "nonce": nonce.nonce,
    })
}

pub fn seed_view(seed: &FairSeed) -> FairSeedView {
    FairSeedView {
        seed_index: seed.seed_index,
        commitment: seed.commitment.clone(),
        client_seed: seed.client_seed.clone(),
        next_nonce: seed.next_nonce,
    }
}

/// A revealed seed as the player sees it; `None` if it was not revealed.
pub fn revealed_view(seed: &FairSeed) -> Option<RevealedSeedView> {
    Some(RevealedSeedView {
        seed_index: seed.seed_index,
        commitment: seed.commitment.clone(),
        server_seed: seed.server_seed.clone()?,
        client_seed: seed.client_seed.clone(),
        rounds: seed.next_nonce,
    })
}
