//! Operator API keys: made at random by `croupier operator-key`, shown once, and stored in
//! `config/operators.toml` only as `sha256:<hex>`. A key is 256 random bits, so one round of
//! SHA-256 is enough (no password stretching: there is nothing to guess).

use rand_core::TryRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How every key begins: tells a leaked key apart in logs and secret scanners.
pub const KEY_PREFIX: &str = "crk_";
const HASH_PREFIX: &str = "sha256:";

/// The stored form of a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    pub fn of(key: &str) -> KeyHash {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    /// Reads `sha256:<64 hex digits>`.
    pub fn parse(text: &str) -> Result<KeyHash, String> {
        let bad =
            || format!("must be {HASH_PREFIX}<64 hex digits>, as `croupier operator-key` prints");
        let hex_digits = text.strip_prefix(HASH_PREFIX).ok_or_else(bad)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes).map_err(|_| bad())?;
        Ok(KeyHash(bytes))
    }

    /// Constant-time equality.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Display for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{HASH_PREFIX}{}", hex::encode(self.0))
    }
}

/// A fresh key from the operating system's generator, and its hash.
pub fn generate() -> Result<(String, KeyHash), rand_core::OsError> {
    let mut bytes = [0u8; 32];
    rand_core::OsRng.try_fill_bytes(&mut bytes)?;
    let key = format!("{KEY_PREFIX}{}", hex::encode(bytes));
    let hash = KeyHash::of(&key);
    Ok((key, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_matches_its_printed_hash_only() {
        let (key, hash) = generate().unwrap();
        assert!(key.starts_with(KEY_PREFIX) && key.len() == KEY_PREFIX.len() + 64);
        let stored = KeyHash::parse(&hash.to_string()).unwrap();
        assert!(stored.matches(&KeyHash::of(&key)));
        assert!(!stored.matches(&KeyHash::of(&key[..key.len() - 1])));
        let (other, _) = generate().unwrap();
        assert_ne!(key, other);
    }

    #[test]
    fn only_well_formed_hashes_are_read() {
        for bad in [
            "",
            "sha256:",
            "sha256:zz",
            "md5:00",
            &format!("sha256:{}", "0".repeat(63)),
        ] {
            assert!(KeyHash::parse(bad).is_err(), "{bad}");
        }
        assert!(KeyHash::parse(&format!("sha256:{}", "ab".repeat(32))).is_ok());
    }
}
