//! The WebSocket opening handshake of RFC 6455 §4.2, as pure functions: what a client's
//! upgrade request must carry, and the exact bytes of the answers (`101 Switching Protocols`,
//! or an HTTP error with the node's JSON error body). The upgrade itself (`upgrade.rs`) writes
//! these bytes to the connection actix-http hands over, then speaks WebSocket over it with
//! tokio-tungstenite's small, fixed buffers.

use actix_http::header::{
    HeaderMap, CONNECTION, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use actix_http::{Method, StatusCode};

/// The only WebSocket version there is (RFC 6455 §4.1).
const VERSION: &str = "13";

/// Why an upgrade request is not a WebSocket handshake; each is a `400`, except a version we
/// do not speak (`426`, naming the one we do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("a WebSocket upgrade must be a GET")]
    NotGet,
    #[error("the upgrade must ask for \"websocket\" (Upgrade header)")]
    NotWebSocket,
    #[error("the Connection header must name \"upgrade\"")]
    NoConnectionUpgrade,
    #[error("Sec-WebSocket-Key missing or not 16 base64-encoded bytes")]
    BadKey,
    #[error("Sec-WebSocket-Version must be 13")]
    BadVersion,
}

impl HandshakeError {
    pub fn status(&self) -> StatusCode {
        match self {
            HandshakeError::BadVersion => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A header's value contains `token` in its comma-separated list (case-insensitive).
fn lists(headers: &HeaderMap, name: &actix_http::header::HeaderName, token: &str) -> bool {
    headers.get_all(name).any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// Checks a client's opening handshake; the `Sec-WebSocket-Accept` value to answer with.
pub fn accept_key(method: &Method, headers: &HeaderMap) -> Result<String, HandshakeError> {
    if method != Method::GET {
        return Err(HandshakeError::NotGet);
    }
    if !lists(headers, &UPGRADE, "websocket") {
        return Err(HandshakeError::NotWebSocket);
    }
    if !lists(headers, &CONNECTION, "upgrade") {
        return Err(HandshakeError::NoConnectionUpgrade);
    }
    let version = headers
        .get(SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok());
    if version.map(str::trim) != Some(VERSION) {
        return Err(HandshakeError::BadVersion);
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or(HandshakeError::BadKey)?;
    // 16 random bytes, base64: 24 characters ending in "==" (RFC 6455 §4.1, item 7).
    let decodes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key)
        .is_ok_and(|bytes| bytes.len() == 16);
    if !decodes {
        return Err(HandshakeError::BadKey);
    }
    Ok(tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// The `101` that opens the WebSocket.
pub fn switching_protocols(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
         sec-websocket-accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// An HTTP error answer with a JSON body, after which the connection is closed.
pub fn error_response(status: StatusCode, body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    let version = if status == StatusCode::UPGRADE_REQUIRED {
        "sec-websocket-version: 13\r\nupgrade: websocket\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         {version}connection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append((*name).clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn good() -> Vec<(&'static HeaderName, &'static str)> {
        vec![
            (&UPGRADE, "websocket"),
            (&CONNECTION, "Upgrade"),
            (&SEC_WEBSOCKET_VERSION, "13"),
            (&SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ=="),
        ]
    }

    #[test]
    fn the_rfc_example_is_accepted_with_its_accept_key() {
        // RFC 6455 §1.3: this key's accept value.
        let key = accept_key(&Method::GET, &headers(&good())).unwrap();
        assert_eq!(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let answer = String::from_utf8(switching_protocols(&key)).unwrap();
        assert!(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(answer.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(answer.ends_with("\r\n\r\n"));
    }

    #[test]
    fn header_tokens_are_matched_in_lists_and_without_case() {
        let mut pairs = good();
        pairs[0] = (&UPGRADE, "WebSocket");
        pairs[1] = (&CONNECTION, "keep-alive, Upgrade");
        assert!(accept_key(&Method::GET, &headers(&pairs)).is_ok());
    }

    #[test]
    fn every_missing_or_wrong_part_is_refused_with_its_reason() {
        assert_eq!(
            accept_key(&Method::POST, &headers(&good())),
            Err(HandshakeError::NotGet)
        );
        let cases: [(usize, Option<&str>, HandshakeError); 8] = [
            (0, None, HandshakeError::NotWebSocket),
            (0, Some("h2c"), HandshakeError::NotWebSocket),
            (1, Some("keep-alive"), HandshakeError::NoConnectionUpgrade),
            (2, None, HandshakeError::BadVersion),
            (2, Some("8"), HandshakeError::BadVersion),
            (3, None, HandshakeError::BadKey),
            (3, Some("not base64!"), HandshakeError::BadKey),
            (3, Some("c2hvcnQ="), HandshakeError::BadKey),
        ];
        for (index, value, expected) in cases {
            let mut pairs = good();
            match value {
                Some(v) => pairs[index].1 = v,
                None => {
                    pairs.remove(index);
                }
            }
            assert_eq!(
                accept_key(&Method::GET, &headers(&pairs)),
                Err(expected.clone()),
                "{pairs:?}"
            );
        }
        assert_eq!(
            HandshakeError::BadVersion.status(),
            StatusCode::UPGRADE_REQUIRED
        );
        assert_eq!(HandshakeError::BadKey.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn an_error_answer_is_complete_http_with_its_body_length() {
        let body = serde_json::json!({"code": "unauthorized", "message": "no"});
        let text = String::from_utf8(error_response(StatusCode::UNAUTHORIZED, &body)).unwrap();
        let (head, rest) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}", rest.len())));
        assert!(head.contains("connection: close"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(rest).unwrap(),
            body
        );
        let upgrade =
            String::from_utf8(error_response(StatusCode::UPGRADE_REQUIRED, &body)).unwrap();
        assert!(upgrade.contains("sec-websocket-version: 13\r\n"));
    }
}
