//! Provably fair draws (pure): the random stream of one round computed from a server seed the
//! player was shown the SHA-256 of beforehand, the player's own client seed and the round's
//! nonce, so that once the server seed is revealed anyone can recompute the round.
//!
//! The stream (docs/fairness.md gives it to players):
//! ```text
//! block(c) = HMAC-SHA256(key = server seed (32 bytes), message = "<client seed>:<nonce>:<c>")
//! draws    = the 32-byte blocks c = 0, 1, 2, … each read as 8 big-endian u32 words, in order
//! ```
//! The games read these words through [`RandomSource`] exactly as they read the ChaCha20 shard:
//! `below(n)` by rejection of the incomplete top zone, never modulo bias. Only where this
//! stream comes from differs; the game code and its sampling are the same.
//!
//! The server keeps seeds per player (derived, [`derive_server_seed`]), rotates them and
//! verifies rounds (`src/fair`); the ledger stores commitments and nonces.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::RandomSource;

/// Longest client seed a player may set: long enough for any passphrase or hex string, short
/// enough that every HMAC message stays one SHA-256 block pair.
pub const MAX_CLIENT_SEED: usize = 64;

/// A server seed: 32 secret bytes, shown only as [`ServerSeed::commitment`] until revealed.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSeed([u8; 32]);

impl ServerSeed {
    pub fn from_bytes(bytes: [u8; 32]) -> ServerSeed {
        ServerSeed(bytes)
    }

    /// Parses a revealed seed: exactly 64 hex digits.
    pub fn parse(hex_digits: &str) -> Option<ServerSeed> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes).ok()?;
        Some(ServerSeed(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// What the player is shown before play: SHA-256 of the seed's 32 bytes, in hex.
    pub fn commitment(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }
}

/// The commitment of a revealed seed given as hex, or `None` if it is not 64 hex digits.
pub fn commitment_of_hex(hex_digits: &str) -> Option<String> {
    ServerSeed::parse(hex_digits).map(|s| s.commitment())
}

/// Domain of [`derive_server_seed`]'s message, versioned: a seed derived under another
/// scheme can never collide with one of these.
const DERIVATION_DOMAIN: &[u8] = b"croupier-fair-seed-v1\0";

/// The server seed `index` of `player`, derived from the node's fair-seed key:
/// HMAC-SHA256(key, "croupier-fair-seed-v1\0" || player || ":" || index). The ledger stores only
/// its commitment until it is revealed, so a copy of the database cannot predict a round; the
/// key never leaves the nodes (it is derived from `auth.secret`).
pub fn derive_server_seed(key: &[u8; 32], player: &str, index: u64) -> ServerSeed {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(DERIVATION_DOMAIN);
    mac.update(player.as_bytes());
    mac.update(b":");
    mac.update(index.to_string().as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&mac.finalize().into_bytes());
    ServerSeed(bytes)
}

/// Never printed by accident: a seed is secret until it is revealed on purpose.
impl fmt::Debug for ServerSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerSeed(commitment {})", self.commitment())
    }
}

/// Why a client seed was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientSeedError {
    #[error("a client seed is 1 to {MAX_CLIENT_SEED} characters")]
    Length,
    #[error("a client seed holds printable ASCII other than ':' only")]
    Character,
}

/// The player's own seed: 1 to 64 printable ASCII characters, no `:` (the message separator),
/// so two different (client seed, nonce) pairs never give the same message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSeed(String);

impl ClientSeed {
    pub fn parse(text: &str) -> Result<ClientSeed, ClientSeedError> {
        if text.is_empty() || text.len() > MAX_CLIENT_SEED {
            return Err(ClientSeedError::Length);
        }
        if !text.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(ClientSeedError::Character);
        }
        Ok(ClientSeed(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for ClientSeed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The draws of one round: server seed, client seed, nonce.
pub struct FairStream {
    mac: Hmac<Sha256>,
    prefix: String,
    counter: u64,
    block: [u32; 8],
    used: usize,
}

impl FairStream {
    pub fn new(server: &ServerSeed, client: &ClientSeed, nonce: u64) -> FairStream {
        // HMAC takes a key of any length: 32 bytes never fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&server.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        FairStream {
            mac,
            prefix: format!("{}:{nonce}:", client.0),
            counter: 0,
            block: [0; 8],
            used: 8,
        }
    }

    fn refill(&mut self) {
        let mut mac = self.mac.clone();
        mac.update(self.prefix.as_bytes());
        mac.update(self.counter.to_string().as_bytes());
        let bytes = mac.finalize().into_bytes();
        for (word, chunk) in self.block.iter_mut().zip(bytes.chunks_exact(4)) {
            *word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        self.counter += 1;
        self.used = 0;
    }
}

impl RandomSource for FairStream {
    fn next_u32(&mut self) -> u32 {
        if self.used == self.block.len() {
            self.refill();
        }
        let word = self.block[self.used];
        self.used += 1;
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> ServerSeed {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        ServerSeed::from_bytes(bytes)
    }

    /// Known answers computed apart from this code (Python's hmac and hashlib):
    /// `hmac.new(bytes(range(32)), b"lucky:7:0", sha256)`, its words big-endian.
    #[test]
    fn the_stream_is_hmac_sha256_blocks_read_as_big_endian_words() {
        let client = ClientSeed::parse("lucky").unwrap();
        let mut s = FairStream::new(&seed(), &client, 7);
        let first: Vec<u32> = (0..9).map(|_| s.next_u32()).collect();
        assert_eq!(
            first,
            [
                1726710994, 3573916807, 3265439835, 4154482732, 2279023077, 1778171904, 41750806,
                4161951858, 1529083773
            ]
        );
        assert_eq!(
            seed().commitment(),
            "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
        );
        assert_eq!(ServerSeed::parse(&seed().to_hex()), Some(seed()));
        assert!(
            !format!("{:?}", seed()).contains(&seed().to_hex()),
            "Debug hides the seed"
        );
    }

    /// Known answer computed apart (Python): `hmac.new(bytes(range(32)),
    /// b"croupier-fair-seed-v1\x00house:alice:3", sha256)`.
    #[test]
    fn server_seeds_are_derived_per_player_and_index() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let s = derive_server_seed(&key, "house:alice", 3);
        assert_eq!(
            s.to_hex(),
            "3fc733c87dd92c515836d292dfcdbd232245fcf092f001121bc2b456fe572b08"
        );
        assert_eq!(
            commitment_of_hex(&s.to_hex()).as_deref(),
            Some("ab04cb647374b58f94dc000a797493cfd72adefa9ae7772c1f8cfb30619c5bee")
        );
        assert_ne!(derive_server_seed(&key, "house:alice", 4), s);
        assert_ne!(derive_server_seed(&key, "house:alic", 3), s);
        assert_eq!(commitment_of_hex("not hex"), None);
    }

    #[test]
    fn each_nonce_and_each_client_seed_is_its_own_stream() {
        let a = ClientSeed::parse("a").unwrap();
        let b = ClientSeed::parse("b").unwrap();
        let words = |client: &ClientSeed, nonce| -> Vec<u32> {
            let mut s = FairStream::new(&seed(), client, nonce);
            (0..16).map(|_| s.next_u32()).collect()
        };
        assert_eq!(
            words(&a, 1),
            words(&a, 1),
            "the same round is the same stream"
        );
        assert_ne!(words(&a, 1), words(&a, 2));
        assert_ne!(words(&a, 1), words(&b, 1));
        // "a:1:" + counter 1 vs "a:11:" + … never collide: the nonce ends at a ':'.
        assert_ne!(words(&a, 1)[8..], words(&a, 11)[..8]);
    }

    #[test]
    fn client_seeds_are_short_printable_and_colon_free() {
        assert!(ClientSeed::parse("my-lucky_seed.2026").is_ok());
        assert!(ClientSeed::parse(&"x".repeat(MAX_CLIENT_SEED)).is_ok());
        assert_eq!(ClientSeed::parse(""), Err(ClientSeedError::Length));
        assert_eq!(
            ClientSeed::parse(&"x".repeat(MAX_CLIENT_SEED + 1)),
            Err(ClientSeedError::Length)
        );
        for bad in ["a:b", "with space", "tab\t", "é", "nul\0"] {
            assert_eq!(
                ClientSeed::parse(bad),
                Err(ClientSeedError::Character),
                "{bad:?}"
            );
        }
        assert_eq!(ServerSeed::parse("00"), None);
        assert_eq!(ServerSeed::parse(&"z".repeat(64)), None);
    }

    #[test]
    fn below_on_the_fair_stream_is_uniform_by_chi_square() {
        // 37 pockets, 370,000 draws over 10,000 rounds (37 draws each): chi-square with 36
        // degrees of freedom; 67.0 is its 0.999 quantile. Fixed seeds: the run is repeatable.
        let client = ClientSeed::parse("chi").unwrap();
        let mut counts = [0u64; 37];
        for nonce in 0..10_000 {
            let mut s = FairStream::new(&seed(), &client, nonce);
            for _ in 0..37 {
                counts[s.below(37) as usize] += 1;
            }
        }
        let expected = 10_000.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 67.0, "chi-square {chi2}: {counts:?}");
    }
}
