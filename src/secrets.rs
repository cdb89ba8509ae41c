//! The node's secrets: where `auth.secret` comes from (the config file, `CROUPIER_AUTH_SECRET`,
//! or, for a single node with none configured, a random one generated once into the data
//! directory), which secrets are strong enough to use, and the separate keys derived from it
//! (HKDF-SHA256): one signs session tokens, another seals what nodes tell each other. Each
//! derived key has a key id, so tokens and seals made under a previous secret can still be
//! checked while a rotation rolls through the cluster (`auth.previous_secrets`).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The file, inside `server.data_dir`, that holds a generated `auth.secret`.
pub const GENERATED_SECRET_FILE: &str = "auth-secret";
/// Secrets shorter than this are refused: HS256 wants at least 256 bits of key material.
pub const MIN_SECRET_LEN: usize = 32;
/// Secrets whose characters carry less information than this are refused: a long run of one
/// character or a few characters mixed is as guessable as a short secret. The estimate is the
/// secret's length times the Shannon entropy of its own character frequencies (32 random hex
/// digits, 128 bits of real entropy, score about 110; 64 of them about 240). A secret made of
/// a shorter string repeated is refused whatever its score.
pub const MIN_SECRET_BITS: u32 = 96;
/// Random bytes in a generated secret (written as hex: 64 characters, 256 bits).
const GENERATED_BYTES: usize = 32;
/// Hex digits of a key id: enough to tell a handful of live keys apart, too short to matter.
const KEY_ID_HEX: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("must be at least {MIN_SECRET_LEN} characters")]
    TooShort { key: &'static str },
    #[error(
        "too predictable (about {bits} bits, or a repeated pattern; at least {MIN_SECRET_BITS} \
         bits needed): \
         use a random value, e.g. `openssl rand -hex 32`"
    )]
    LowEntropy { key: &'static str, bits: u32 },
    #[error("must differ from the other secrets and keys (one key per purpose)")]
    Reused { key: &'static str },
    #[error("required: {why}")]
    Missing {
        key: &'static str,
        why: &'static str,
    },
    #[error("cannot {doing} {path}: {source}")]
    Io {
        doing: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a generated secret (expected {GENERATED_BYTES} bytes as hex)")]
    Corrupt { path: PathBuf },
}

impl SecretError {
    /// The setting the error is about (`auth` for the generated secret's file).
    pub fn key(&self) -> &'static str {
        match self {
            SecretError::TooShort { key }
            | SecretError::LowEntropy { key, .. }
            | SecretError::Reused { key }
            | SecretError::Missing { key, .. } => key,
            SecretError::Io { .. } | SecretError::Corrupt { .. } => "auth.secret",
        }
    }
}

/// How many bits of information `value` carries, estimated from its own character frequencies
/// (length x Shannon entropy), rounded down. Only used to refuse obviously weak secrets.
pub fn estimated_bits(value: &str) -> u32 {
    let mut counts = std::collections::HashMap::<char, u32>::new();
    let mut total = 0u32;
    for c in value.chars() {
        *counts.entry(c).or_default() += 1;
        total += 1;
    }
    if total == 0 {
        return 0;
    }
    let n = f64::from(total);
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = f64::from(k) / n;
            -p * p.log2()
        })
        .sum();
    (per_char * n).floor() as u32
}

/// Whether `value` is a shorter string repeated (`abcabcab`): periods up to half its length.
fn is_repetition(value: &str) -> bool {
    let b = value.as_bytes();
    (1..=b.len() / 2).any(|p| (p..b.len()).all(|i| b[i] == b[i - p]))
}

/// Refuses a secret that is too short or too predictable; `key` names the setting.
pub fn check_strength(key: &'static str, value: &str) -> Result<(), SecretError> {
    if value.len() < MIN_SECRET_LEN {
        return Err(SecretError::TooShort { key });
    }
    let bits = estimated_bits(value);
    if bits < MIN_SECRET_BITS || is_repetition(value) {
        return Err(SecretError::LowEntropy { key, bits });
    }
    Ok(())
}

/// The secret of a node that was given none: read from `data_dir/auth-secret`, or generated
/// there (from the OS's random source, readable by its owner only) on first start, so tokens
/// stay valid across restarts and no secret ever sits in the repository.
pub fn load_or_generate(data_dir: &Path) -> Result<String, SecretError> {
    let path = data_dir.join(GENERATED_SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret = text.trim().to_string();
            let valid = secret.len() == 2 * GENERATED_BYTES
                && secret.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid {
                return Err(SecretError::Corrupt { path });
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; GENERATED_BYTES];
            rand_core::OsRng
                .try_fill_bytes(&mut bytes)
                .map_err(|e| SecretError::Io {
                    doing: "draw random bytes for",
                    path: path.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
            let secret = hex::encode(bytes);
            write_private(&path, &secret)?;
            tracing::info!(path = %path.display(), "generated auth.secret (single node; a cluster must configure one)");
            Ok(secret)
        }
        Err(source) => Err(SecretError::Io {
            doing: "read",
            path,
            source,
        }),
    }
}

use rand_core::TryRngCore;

/// Writes `text` to a new file readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), SecretError> {
    use std::io::Write;
    let io = |doing, source| SecretError::Io {
        doing,
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io("create", e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| io("write", e))
}

/// What a derived key is for: each purpose gets its own key, so a token can never pass as a
/// seal or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signs and checks session tokens (HS256).
    Tokens,
    /// Seals messages between nodes over Redis.
    Seals,
    /// Derives players' provably fair server seeds (docs/fairness.md).
    FairSeeds,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::Tokens => b"croupier/v1/session-tokens",
            Purpose::Seals => b"croupier/v1/node-seals",
            Purpose::FairSeeds => b"croupier/v1/fair-seeds",
        }
    }
}

/// A key derived from `auth.secret` for one purpose, with its id.
#[derive(Clone)]
pub struct DerivedKey {
    bytes: [u8; 32],
    id: String,
}

impl std::fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl DerivedKey {
    /// HKDF-SHA256 of the secret for `purpose`.
    pub fn derive(secret: &str, purpose: Purpose) -> DerivedKey {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"croupier"), secret.as_bytes());
        let mut bytes = [0u8; 32];
        hk.expand(purpose.info(), &mut bytes)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let digest = Sha256::digest(bytes);
        let id = hex::encode(digest)[..KEY_ID_HEX].to_string();
        DerivedKey { bytes, id }
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Names the key (in a token's `kid` header, in front of a seal) without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The current key for a purpose and the keys of previous secrets, still accepted.
#[derive(Debug, Clone)]
pub struct KeyRing {
    pub current: DerivedKey,
    pub previous: Vec<DerivedKey>,
}

impl KeyRing {
    pub fn new(secret: &str, previous: &[String], purpose: Purpose) -> KeyRing {
        KeyRing {
            current: DerivedKey::derive(secret, purpose),
            previous: previous
                .iter()
                .map(|s| DerivedKey::derive(s, purpose))
                .collect(),
        }
    }

    /// The key with this id, current or previous.
    pub fn find(&self, id: &str) -> Option<&DerivedKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_secrets_are_refused() {
        assert!(matches!(
            check_strength("auth.secret", "short"),
            Err(SecretError::TooShort { .. })
        ));
        for weak in [
            "a".repeat(64),
            "ab".repeat(32),
            "abcd".repeat(16),
            "passwordpasswordpasswordpassword".to_string(),
            "0123456789".repeat(4),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab".to_string(),
        ] {
            assert!(
                matches!(
                    check_strength("auth.secret", &weak),
                    Err(SecretError::LowEntropy { .. })
                ),
                "{weak}"
            );
        }
        // 32 random bytes as hex, and a long passphrase of varied characters.
        check_strength(
            "auth.secret",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        )
        .unwrap();
        check_strength("auth.secret", "Correct-Horse-Battery-Staple-42-Zebra").unwrap();
    }

    #[test]
    fn a_generated_secret_is_kept_and_strong() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_generate(dir.path()).unwrap();
        check_strength("auth.secret", &first).unwrap();
        assert_eq!(load_or_generate(dir.path()).unwrap(), first);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(load_or_generate(other.path()).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(GENERATED_SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(GENERATED_SECRET_FILE), "edited").unwrap();
        assert!(matches!(
            load_or_generate(dir.path()),
            Err(SecretError::Corrupt { .. })
        ));
    }

    #[test]
    fn each_purpose_has_its_own_key_and_id() {
        let secret = "Correct-Horse-Battery-Staple-42-Zebra";
        let tokens = DerivedKey::derive(secret, Purpose::Tokens);
        let seals = DerivedKey::derive(secret, Purpose::Seals);
        assert_ne!(tokens.bytes(), seals.bytes());
        assert_ne!(tokens.id(), seals.id());
        assert_ne!(&tokens.bytes()[..], secret.as_bytes());
        let again = DerivedKey::derive(secret, Purpose::Tokens);
        assert_eq!(again.bytes(), tokens.bytes());
        let ring = KeyRing::new(
            "another-secret-9f86d081884c7d659a2f",
            &[secret.into()],
            Purpose::Tokens,
        );
        assert_eq!(ring.find(tokens.id()).unwrap().bytes(), tokens.bytes());
        assert!(ring.find("00000000").is_none());
    }
}
