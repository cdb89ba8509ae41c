//! Session tokens: HS256 JWTs (HMAC-SHA256 with `auth.secret`) naming the player, their
//! currency and the session, valid for `auth.token_ttl_seconds`.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::ids::PlayerId;

/// Clock skew tolerated when checking expiry, between nodes of a cluster.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
    #[error("no token given")]
    Missing,
    #[error("the operator key is missing or wrong")]
    BadOperatorKey,
}

impl AuthError {
    /// The client's error code.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        match self {
            AuthError::BadOperatorKey => crate::protocol::ErrorCode::Unauthorized,
            AuthError::Expired | AuthError::Invalid | AuthError::Missing => {
                crate::protocol::ErrorCode::InvalidToken
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Player id.
    pub sub: PlayerId,
    /// Currency code of the player's account.
    pub cur: String,
    /// Session id (UUID v7).
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_seconds: u64,
}

use crate::clock::unix_now;

impl TokenKeys {
    pub fn new(secret: &str, ttl_seconds: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl_seconds,
        }
    }

    pub fn issue(&self, player: &PlayerId, currency: &str) -> Result<(String, Claims), AuthError> {
        let now = unix_now();
        let claims = Claims {
            sub: player.clone(),
            cur: currency.to_string(),
            sid: uuid::Uuid::now_v7().to_string(),
            iat: now,
            exp: now + self.ttl_seconds,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| AuthError::Invalid)?;
        Ok((token, claims))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid,
            })
    }
}

/// Compares the operator key in constant time.
pub fn operator_key_matches(given: &str, expected: &str) -> bool {
    use hmac::Mac;
    // Comparing MACs of both values keeps the comparison time independent of where they differ.
    let mac = |v: &str| {
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"croupier-operator-key")
            .expect("HMAC takes keys of any length");
        m.update(v.as_bytes());
        m.finalize().into_bytes()
    };
    !expected.is_empty() && mac(given) == mac(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "test-secret-test-secret-test-secret-0001";

    #[test]
    fn issued_tokens_verify() {
        let keys = TokenKeys::new(SECRET, 3600);
        let player = PlayerId::parse("alice").unwrap();
        let (token, claims) = keys.issue(&player, "EUR").unwrap();
        assert_eq!(keys.verify(&token).unwrap(), claims);
    }

    #[test]
    fn forged_and_tampered_tokens_fail() {
        let keys = TokenKeys::new(SECRET, 3600);
        let other = TokenKeys::new("another-secret-another-secret-another-1", 3600);
        let player = PlayerId::parse("alice").unwrap();
        let (token, _) = other.issue(&player, "EUR").unwrap();
        assert_eq!(keys.verify(&token), Err(AuthError::Invalid));
        let (good, _) = keys.issue(&player, "EUR").unwrap();
        let mut tampered = good.clone();
        tampered.insert(good.len() / 2, 'x');
        assert_eq!(keys.verify(&tampered), Err(AuthError::Invalid));
        assert_eq!(keys.verify(""), Err(AuthError::Missing));
        assert_eq!(keys.verify("a.b.c"), Err(AuthError::Invalid));
    }

    #[test]
    fn expired_tokens_fail() {
        let keys = TokenKeys::new(SECRET, 3600);
        let claims = Claims {
            sub: PlayerId::parse("bob").unwrap(),
            cur: "EUR".into(),
            sid: "s".into(),
            iat: 1,
            exp: unix_now() - 3600,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert_eq!(keys.verify(&token), Err(AuthError::Expired));
    }

    #[test]
    fn operator_key_comparison() {
        assert!(operator_key_matches("k", "k"));
        assert!(!operator_key_matches("k", "j"));
        assert!(!operator_key_matches("", ""));
    }
}
