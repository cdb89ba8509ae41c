//! Targets: parsing `--target` URLs (loopback only unless `--allow-remote`), the WebSocket URL of
//! each, and the two HTTP calls the tester makes: `POST /v1/sessions` and `GET /v1/games`.

use crate::limits;
use crate::protocol::{HttpError, SessionReply, SessionRequest};
use reqwest::Url;
use rust_decimal::Decimal;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// One server (or echo server) the players are spread over.
#[derive(Debug, Clone)]
pub struct Target {
    /// What the user passed, for the report.
    pub label: String,
    /// HTTP base (`http://host:port`), unused in echo mode.
    pub http: Url,
    /// WebSocket URL without the token (`ws://host:port/v1/ws`, or the echo URL as given).
    pub ws: Url,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("target {0:?} is not a URL: {1}")]
    Parse(String, String),
    #[error("target {0:?}: scheme {1:?} is not supported (http:// or ws://; no TLS)")]
    Scheme(String, String),
    #[error(
        "target {0:?} is not a loopback address: this tester only loads 127.0.0.0/8, ::1 or \
         localhost unless --allow-remote is given"
    )]
    NotLoopback(String),
    #[error("no --target given")]
    Empty,
    #[error("{0} targets given, at most {max}", max = limits::MAX_TARGETS)]
    TooMany(usize),
}

/// Parses `--target` values (each may hold several, comma-separated).
pub fn parse_targets(
    raw: &[String],
    echo: bool,
    allow_remote: bool,
) -> Result<Vec<Target>, TargetError> {
    let mut out = Vec::new();
    for item in raw.iter().flat_map(|s| s.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        out.push(parse_one(item, echo, allow_remote)?);
    }
    if out.is_empty() {
        return Err(TargetError::Empty);
    }
    if out.len() > limits::MAX_TARGETS {
        return Err(TargetError::TooMany(out.len()));
    }
    Ok(out)
}

fn parse_one(item: &str, echo: bool, allow_remote: bool) -> Result<Target, TargetError> {
    let with_scheme = if item.contains("://") {
        item.to_owned()
    } else if echo {
        format!("ws://{item}")
    } else {
        format!("http://{item}")
    };
    let url =
        Url::parse(&with_scheme).map_err(|e| TargetError::Parse(item.to_owned(), e.to_string()))?;
    let host = url
        .host_str()
        .ok_or_else(|| TargetError::Parse(item.to_owned(), "no host".into()))?;
    if !allow_remote && !is_loopback(host) {
        return Err(TargetError::NotLoopback(item.to_owned()));
    }
    let (http_scheme, ws_scheme) = match url.scheme() {
        "http" | "ws" => ("http", "ws"),
        other => return Err(TargetError::Scheme(item.to_owned(), other.to_owned())),
    };
    let mut http = url.clone();
    let mut ws = url;
    // Both schemes are special and of the same kind, so set_scheme cannot fail here.
    let _ = http.set_scheme(http_scheme);
    let _ = ws.set_scheme(ws_scheme);
    http.set_path("");
    http.set_query(None);
    if !echo {
        ws.set_path("/v1/ws");
        ws.set_query(None);
    }
    Ok(Target {
        label: item.to_owned(),
        http,
        ws,
    })
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || IpAddr::from_str(h)
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

impl Target {
    /// The WebSocket upgrade request, with the session token (if any) as its bearer:
    /// croupier takes no token in a URL.
    pub fn ws_request(
        &self,
        token: Option<&str>,
    ) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, String> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = self
            .ws
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        if let Some(t) = token {
            let value = format!("Bearer {t}")
                .parse()
                .map_err(|_| "the token is not a header value".to_string())?;
            request.headers_mut().insert("authorization", value);
        }
        Ok(request)
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.http.as_str().trim_end_matches('/'), path)
    }
}

/// The shared HTTP client: plain HTTP, bounded pool, per-request timeout.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(limits::HTTP_TIMEOUT)
        .connect_timeout(limits::HTTP_TIMEOUT)
        .pool_max_idle_per_host(limits::HTTP_POOL_IDLE_PER_HOST)
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
}

/// Why an HTTP call failed, phrased as a short reason for the failure table.
#[derive(Debug, thiserror::Error)]
pub enum HttpFailure {
    #[error("session: {0}")]
    Transport(String),
    #[error("session: HTTP {status} {code}")]
    Status { status: u16, code: String },
    #[error("session: bad reply body: {0}")]
    Body(String),
}

impl HttpFailure {
    /// Worth another attempt (transport trouble or 5xx/429), as opposed to a refusal.
    pub fn retryable(&self) -> bool {
        match self {
            HttpFailure::Transport(_) => true,
            HttpFailure::Status { status, .. } => *status >= 500 || *status == 429,
            HttpFailure::Body(_) => false,
        }
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        // The innermost io::Error says why (refused, too many open files, no local port, …).
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = src {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                return format!("connect: {}", crate::limits::io_reason(io));
            }
            src = s.source();
        }
        "connect failed".into()
    } else {
        "transport error".into()
    }
}

/// `POST /v1/sessions`: a new demo player (the server chooses its id, in the reply).
pub async fn open_session(
    client: &reqwest::Client,
    target: &Target,
    currency: &str,
) -> Result<SessionReply, HttpFailure> {
    let resp = client
        .post(target.endpoint("/v1/sessions"))
        .json(&SessionRequest { currency })
        .send()
        .await
        .map_err(|e| HttpFailure::Transport(transport_reason(&e)))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| HttpFailure::Transport(transport_reason(&e)))?;
    if !status.is_success() {
        let code = serde_json::from_slice::<HttpError>(&body)
            .map(|e| e.code)
            .unwrap_or_else(|_| "-".into());
        return Err(HttpFailure::Status {
            status: status.as_u16(),
            code,
        });
    }
    serde_json::from_slice(&body).map_err(|e| HttpFailure::Body(e.to_string()))
}

/// A slot game as `GET /v1/games` lists it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct GameInfo {
    pub id: String,
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub min_bet: Option<Decimal>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum GamesBody {
    Wrapped { games: Vec<GameInfo> },
    List(Vec<GameInfo>),
}

/// `GET /v1/games`: the games the server offers (accepts `{"games": [...]}` or a bare list).
pub async fn list_games(
    client: &reqwest::Client,
    target: &Target,
) -> Result<Vec<GameInfo>, String> {
    let resp = client
        .get(target.endpoint("/v1/games"))
        .send()
        .await
        .map_err(|e| transport_reason(&e))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    let body = resp.bytes().await.map_err(|e| transport_reason(&e))?;
    match serde_json::from_slice::<GamesBody>(&body) {
        Ok(GamesBody::Wrapped { games }) | Ok(GamesBody::List(games)) => Ok(games),
        Err(e) => Err(format!("unreadable games list: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_by_default() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.3.2.1"));
        assert!(is_loopback("[::1]"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("10.0.0.1"));
        assert!(!is_loopback("example.com"));
        assert!(parse_targets(&["http://10.1.2.3:80".into()], false, false).is_err());
        assert!(parse_targets(&["http://10.1.2.3:80".into()], false, true).is_ok());
    }

    #[test]
    fn urls() {
        let t = parse_targets(
            &["127.0.0.1:8080,http://localhost:9000/".into()],
            false,
            false,
        )
        .expect("targets");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].ws.as_str(), "ws://127.0.0.1:8080/v1/ws");
        assert_eq!(
            t[1].endpoint("/v1/sessions"),
            "http://localhost:9000/v1/sessions"
        );
        let request = t[0].ws_request(Some("a.b-c")).unwrap();
        assert_eq!(request.uri().to_string(), "ws://127.0.0.1:8080/v1/ws");
        assert_eq!(request.headers()["authorization"], "Bearer a.b-c");
        let e = parse_targets(&["ws://127.0.0.1:9001".into()], true, false).expect("echo");
        let request = e[0].ws_request(None).unwrap();
        assert_eq!(request.uri().to_string(), "ws://127.0.0.1:9001/");
        assert!(!request.headers().contains_key("authorization"));
        assert!(parse_targets(&["https://127.0.0.1".into()], false, false).is_err());
    }
}
