//! Session tokens: HS256 JWTs naming the player, their currency and the session, signed with
//! the token key derived from `auth.secret` (`secrets.rs`), issued by `croupier` for this
//! deployment (the audience is `cluster.namespace`) and valid for `auth.token_ttl_seconds`.
//! A token is only as good as the session record behind it: the WebSocket upgrade also checks
//! that record (`session::access`); this module checks the token itself, and [`credential`]
//! reads how an upgrade request names its session (bearer header or single-use ticket).

use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};

use crate::ids::PlayerId;
use crate::secrets::KeyRing;

pub mod credential;

/// Clock skew tolerated when checking expiry, between nodes of a cluster.
const LEEWAY_SECONDS: u64 = 5;
/// The `iss` of every token croupier signs.
pub const ISSUER: &str = "croupier";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
    #[error("no token given")]
    Missing,
    #[error("the session has ended (revoked, or unknown to this deployment)")]
    SessionEnded,
    #[error("the key is missing or wrong")]
    BadKey,
}

impl AuthError {
    /// The client's error code.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        match self {
            AuthError::BadKey => crate::protocol::ErrorCode::Unauthorized,
            AuthError::Expired
            | AuthError::Invalid
            | AuthError::Missing
            | AuthError::SessionEnded => crate::protocol::ErrorCode::InvalidToken,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Player id.
    pub sub: PlayerId,
    /// Currency code of the player's account.
    pub cur: String,
    /// Session id (UUID v7).
    pub sid: String,
    /// A demo (fun money) session.
    pub demo: bool,
    pub iss: String,
    /// The deployment (`cluster.namespace`): a token of staging is no token of production.
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

pub struct TokenKeys {
    ring: KeyRing,
    audience: String,
    validation: Validation,
    ttl_seconds: u64,
}

use crate::clock::unix_now;

impl TokenKeys {
    pub fn new(ring: KeyRing, audience: &str, ttl_seconds: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        Self {
            ring,
            audience: audience.to_string(),
            validation,
            ttl_seconds,
        }
    }

    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }

    pub fn issue(
        &self,
        player: &PlayerId,
        currency: &str,
        demo: bool,
    ) -> Result<(String, Claims), AuthError> {
        let now = unix_now();
        let claims = Claims {
            sub: player.clone(),
            cur: currency.to_string(),
            sid: uuid::Uuid::now_v7().to_string(),
            demo,
            iss: ISSUER.to_string(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_seconds,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.ring.current.id().to_string());
        let key = EncodingKey::from_secret(self.ring.current.bytes());
        let token = encode(&header, &claims, &key).map_err(|_| AuthError::Invalid)?;
        Ok((token, claims))
    }

    /// The claims of a token this deployment signed (under the current key or a previous
    /// one, by its `kid`), for this audience, issued no later than now and living no longer
    /// than the configured lifetime (a token claiming to expire in 2100 is refused).
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let header = decode_header(token).map_err(|_| AuthError::Invalid)?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.ring.find(kid))
            .ok_or(AuthError::Invalid)?;
        let claims = decode::<Claims>(
            token,
            &DecodingKey::from_secret(key.bytes()),
            &self.validation,
        )
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
            _ => AuthError::Invalid,
        })?;
        let now = unix_now();
        let issued_in_future = claims.iat > now + LEEWAY_SECONDS;
        let lives_too_long = claims.exp.saturating_sub(claims.iat) > self.ttl_seconds;
        if issued_in_future || lives_too_long {
            return Err(AuthError::Invalid);
        }
        Ok(claims)
    }
}

/// Compares a configured key (the admin key) in constant time.
pub fn key_matches(given: &str, expected: &str) -> bool {
    use hmac::Mac;
    // Comparing MACs of both values keeps the comparison time independent of where they differ.
    let mac = |v: &str| {
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"croupier-key")
            .expect("HMAC takes keys of any length");
        m.update(v.as_bytes());
        m.finalize().into_bytes()
    };
    !expected.is_empty() && mac(given) == mac(expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Purpose;

    const SECRET: &str = "test-secret-9f86d081884c7d659a2feaa0c55ad015";

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(KeyRing::new(secret, &[], Purpose::Tokens), "croupier", 3600)
    }

    /// Signs `claims` as this deployment would, under the current key.
    fn sign(keys: &TokenKeys, claims: &Claims) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.ring.current.id().to_string());
        encode(
            &header,
            claims,
            &EncodingKey::from_secret(keys.ring.current.bytes()),
        )
        .unwrap()
    }

    fn claims(keys: &TokenKeys) -> Claims {
        let player = PlayerId::parse("alice").unwrap();
        keys.issue(&player, "EUR", false).unwrap().1
    }

    #[test]
    fn issued_tokens_verify() {
        let keys = keys(SECRET);
        let player = PlayerId::parse("alice").unwrap();
        let (token, claims) = keys.issue(&player, "EUR", true).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), claims);
        assert!(claims.demo);
    }

    #[test]
    fn forged_and_tampered_tokens_fail() {
        let keys = keys(SECRET);
        let other = self::keys("another-secret-another-secret-another-1");
        let player = PlayerId::parse("alice").unwrap();
        let (token, _) = other.issue(&player, "EUR", false).unwrap();
        assert_eq!(keys.verify(&token), Err(AuthError::Invalid));
        let (good, _) = keys.issue(&player, "EUR", false).unwrap();
        let mut tampered = good.clone();
        tampered.insert(good.len() / 2, 'x');
        assert_eq!(keys.verify(&tampered), Err(AuthError::Invalid));
        assert_eq!(keys.verify(""), Err(AuthError::Missing));
        assert_eq!(keys.verify("a.b.c"), Err(AuthError::Invalid));
        // Signed with the raw secret rather than the derived token key: refused.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.ring.current.id().to_string());
        let raw = encode(
            &header,
            &claims(&keys),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(keys.verify(&raw), Err(AuthError::Invalid));
    }

    #[test]
    fn expired_tokens_fail() {
        let keys = keys(SECRET);
        let mut c = claims(&keys);
        c.iat = unix_now() - 7200;
        c.exp = unix_now() - 3600;
        assert_eq!(keys.verify(&sign(&keys, &c)), Err(AuthError::Expired));
    }

    #[test]
    fn claims_are_checked_against_the_deployment() {
        let keys = keys(SECRET);
        // A lifetime longer than the configured one (a year-2100 token) is refused.
        let mut c = claims(&keys);
        c.exp = 4_102_444_800;
        assert_eq!(keys.verify(&sign(&keys, &c)), Err(AuthError::Invalid));
        // Issued in the future.
        let mut c = claims(&keys);
        c.iat += 600;
        c.exp += 600;
        assert_eq!(keys.verify(&sign(&keys, &c)), Err(AuthError::Invalid));
        // Another issuer, another deployment.
        let mut c = claims(&keys);
        c.iss = "someone-else".into();
        assert_eq!(keys.verify(&sign(&keys, &c)), Err(AuthError::Invalid));
        let mut c = claims(&keys);
        c.aud = "staging".into();
        assert_eq!(keys.verify(&sign(&keys, &c)), Err(AuthError::Invalid));
        // No key id, or an unknown one.
        let c = claims(&keys);
        let no_kid = encode(
            &Header::new(Algorithm::HS256),
            &c,
            &EncodingKey::from_secret(keys.ring.current.bytes()),
        )
        .unwrap();
        assert_eq!(keys.verify(&no_kid), Err(AuthError::Invalid));
    }

    #[test]
    fn tokens_of_a_previous_secret_verify_during_a_rotation() {
        let old = keys(SECRET);
        let player = PlayerId::parse("alice").unwrap();
        let (token, claims) = old.issue(&player, "EUR", false).unwrap();
        let rotated = TokenKeys::new(
            KeyRing::new(
                "the-new-secret-5ad015a3bf4f1b2b0b822cd1",
                &[SECRET.into()],
                Purpose::Tokens,
            ),
            "croupier",
            3600,
        );
        assert_eq!(rotated.verify(&token).unwrap(), claims);
        let done = self::keys("the-new-secret-5ad015a3bf4f1b2b0b822cd1");
        assert_eq!(done.verify(&token), Err(AuthError::Invalid));
    }

    #[test]
    fn operator_key_comparison() {
        assert!(key_matches("k", "k"));
        assert!(!key_matches("k", "j"));
        assert!(!key_matches("", ""));
    }
}
