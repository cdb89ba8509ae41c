//! How a WebSocket upgrade names its session: the `Authorization: Bearer` token, or a
//! single-use ticket in the query (`/v1/ws?ticket=<64 hex>`), never both and never the token
//! itself in the URL. Pure, so it is unit-tested and fuzzed (tests/fuzz.rs): any header and
//! any query text gives a [`Credential`] or a typed refusal.

use serde::Deserialize;

use super::AuthError;

/// Random bytes in a ticket (64 lowercase hex digits in the URL): unguessable within its life.
pub const TICKET_BYTES: usize = 32;
/// Longest query string read on the upgrade: a ticket query is 71 bytes; anything much longer
/// is not a client of croupier's and is refused before it is parsed.
pub const MAX_QUERY_BYTES: usize = 1024;

/// A ticket as `POST /v1/ws-tickets` makes them: only ever 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket(String);

impl Ticket {
    /// The ticket in `text`, or [`AuthError::Invalid`] (a wrong-shaped ticket is one nobody
    /// was given).
    pub fn parse(text: &str) -> Result<Ticket, AuthError> {
        let shaped = text.len() == 2 * TICKET_BYTES
            && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if shaped {
            Ok(Ticket(text.to_string()))
        } else {
            Err(AuthError::Invalid)
        }
    }

    /// A fresh ticket from the operating system's random source.
    pub fn generate() -> Result<Ticket, rand_core::OsError> {
        use rand_core::TryRngCore;
        let mut bytes = [0u8; TICKET_BYTES];
        rand_core::OsRng.try_fill_bytes(&mut bytes)?;
        Ok(Ticket(hex::encode(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the upgrade request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Bearer(String),
    Ticket(Ticket),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "session tokens do not travel in URLs: send Authorization: Bearer <token>, or trade the \
         token for a ticket (POST /v1/ws-tickets) and open /v1/ws?ticket=…"
    )]
    TokenInUrl,
    #[error("send a bearer token or a ticket, not both")]
    Both,
    #[error("the query of /v1/ws takes only `ticket`: {0}")]
    BadQuery(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    ticket: Option<String>,
    /// Refused: the long-lived token does not belong in a URL.
    token: Option<String>,
}

/// The credential of an upgrade with this bearer token (if any) and this raw query string.
pub fn upgrade_credential(
    bearer: Option<&str>,
    query: &str,
) -> Result<Credential, CredentialError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(CredentialError::BadQuery(format!(
            "longer than {MAX_QUERY_BYTES} bytes"
        )));
    }
    let query: Query =
        serde_urlencoded::from_str(query).map_err(|e| CredentialError::BadQuery(e.to_string()))?;
    if query.token.is_some() {
        return Err(CredentialError::TokenInUrl);
    }
    match (bearer, query.ticket) {
        (Some(_), Some(_)) => Err(CredentialError::Both),
        (Some(token), None) => Ok(Credential::Bearer(token.to_string())),
        (None, Some(ticket)) => Ok(Credential::Ticket(Ticket::parse(&ticket)?)),
        (None, None) => Err(AuthError::Missing.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_bearer_or_a_well_shaped_ticket_is_a_credential() {
        assert_eq!(
            upgrade_credential(Some("tok"), ""),
            Ok(Credential::Bearer("tok".into()))
        );
        let ticket = upgrade_credential(None, &format!("ticket={GOOD}")).unwrap();
        assert_eq!(ticket, Credential::Ticket(Ticket::parse(GOOD).unwrap()));
        let fresh = Ticket::generate().unwrap();
        assert_eq!(Ticket::parse(fresh.as_str()), Ok(fresh));
    }

    #[test]
    fn everything_else_is_refused_with_its_reason() {
        let upper = format!("ticket={}", GOOD.to_uppercase());
        let cases: [(Option<&str>, String, CredentialError); 7] = [
            (None, String::new(), AuthError::Missing.into()),
            (None, "token=abc".into(), CredentialError::TokenInUrl),
            (Some("t"), "token=abc".into(), CredentialError::TokenInUrl),
            (Some("t"), format!("ticket={GOOD}"), CredentialError::Both),
            (None, "ticket=short".into(), AuthError::Invalid.into()),
            (None, upper, AuthError::Invalid.into()),
            (None, format!("ticket={GOOD}0"), AuthError::Invalid.into()),
        ];
        for (bearer, query, expected) in cases {
            let got = upgrade_credential(bearer, &query).unwrap_err();
            assert_eq!(got, expected, "{bearer:?} {query}");
        }
        for query in [
            format!("ticket={GOOD}&x=1"),
            format!("ticket={}", "a".repeat(MAX_QUERY_BYTES)),
        ] {
            assert!(matches!(
                upgrade_credential(None, &query),
                Err(CredentialError::BadQuery(_))
            ));
        }
    }
}
