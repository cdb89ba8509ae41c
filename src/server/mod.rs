//! The node's HTTP face: the actix-web routes (sessions, the WebSocket upgrade, health,
//! metrics, the operator's cluster and drain endpoints) and how an HTTP error maps to a status.
//! Start-up (ledger, recovery, actor pools) and graceful shutdown (stop accepting, finish
//! rounds in flight, flush the ledger, close sockets with a close frame) are in `start.rs`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::app::App;
use crate::auth::{AuthError, TokenKeys};
use crate::config::Config;
use crate::ids::PlayerId;
use crate::jackpot::Jackpots;
use crate::metrics::Metrics;
use crate::money::{Money, MoneyError};
use crate::protocol::ErrorCode;
use crate::rng::{ReseedPolicy, RngPool};
use crate::table::{TableDeps, TableRegistry};
use crate::wallet::{Ledger, LedgerError, WalletError, WalletPool};

mod fair_rounds;
mod handshake;
pub mod operator_api;
mod sessions;
mod start;
mod upgrade;

use sessions::open_session;
use upgrade::{issue_ticket, not_an_upgrade};

pub use start::{build_app, serve};

/// Hard cap on any WebSocket frame the protocol layer will buffer; frames between
/// `session.max_frame_bytes` and this get a `frame_too_large` error, beyond it the connection
/// is closed (1009), since we would have to buffer them to reply.
pub const HARD_FRAME_CAP: usize = 64 * 1024;
/// Largest HTTP JSON body (session requests are tiny).
const MAX_JSON_BODY: usize = 4 * 1024;

/// HTTP-facing errors, mapped once to a status and a stable error code.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Money(#[from] MoneyError),
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Wallet(#[from] WalletError),
    #[error("the node is not accepting new players right now")]
    NotReady,
    #[error("shared session store unavailable: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("{0}")]
    Refused(#[from] crate::admission::Refused),
    #[error("the request body did not arrive within server.body_timeout_seconds")]
    SlowBody,
    #[error("{0}")]
    WrongCurrency(String),
    #[error("{0}")]
    UnknownPlayer(String),
    #[error("{0}")]
    IdempotencyConflict(String),
    #[error("{0}")]
    CurrencyNotAllowed(String),
    #[error("{0}")]
    UnknownRound(String),
    #[error("{0}")]
    RoundNotOpen(String),
    #[error("no such game {0:?}")]
    UnknownGame(String),
    #[error("{0}")]
    BetOutOfLimits(String),
    #[error("{0}")]
    UnknownCampaign(String),
    #[error("{0}")]
    SeedNotRevealed(String),
    #[error("more than this operator's {0} requests per second on this node")]
    OverRate(u32),
    #[error("{0}")]
    Jurisdiction(#[from] crate::jurisdiction::JurisdictionError),
    #[error("{0}")]
    Excluded(String),
    /// A deposit over one of the player's deposit limits.
    #[error("{0}")]
    LimitReached(String),
    /// An answer the code did not expect: a bug, logged.
    #[error("{0}")]
    Unexpected(String),
}

impl From<crate::auth::credential::CredentialError> for HttpError {
    fn from(e: crate::auth::credential::CredentialError) -> Self {
        match e {
            crate::auth::credential::CredentialError::Auth(e) => HttpError::Auth(e),
            other => HttpError::BadRequest(other.to_string()),
        }
    }
}

impl From<crate::session::access::AccessError> for HttpError {
    fn from(e: crate::session::access::AccessError) -> Self {
        match e {
            crate::session::access::AccessError::Auth(e) => HttpError::Auth(e),
            crate::session::access::AccessError::Cluster(e) => HttpError::Cluster(e),
        }
    }
}

impl HttpError {
    /// The JSON body of the answer: its stable code and a message.
    fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code().as_str(),
            "message": self.to_string(),
        })
    }

    /// The client's error code: the wrapped domain error's own, or this layer's.
    fn code(&self) -> ErrorCode {
        match self {
            HttpError::Auth(e) => e.code(),
            HttpError::BadRequest(_) => ErrorCode::BadRequest,
            HttpError::Money(e) => e.code(),
            HttpError::Ledger(e) => e.code(),
            HttpError::Wallet(e) => e.code(),
            HttpError::Cluster(e) => e.code(),
            HttpError::NotReady => ErrorCode::ServiceUnavailable,
            HttpError::Refused(crate::admission::Refused::NodeConnections(_)) => {
                ErrorCode::ServerBusy
            }
            HttpError::Refused(_) | HttpError::OverRate(_) => ErrorCode::RateLimited,
            HttpError::SlowBody => ErrorCode::BadRequest,
            HttpError::WrongCurrency(_) => ErrorCode::WrongCurrency,
            HttpError::UnknownPlayer(_) => ErrorCode::UnknownPlayer,
            HttpError::IdempotencyConflict(_) => ErrorCode::IdempotencyConflict,
            HttpError::CurrencyNotAllowed(_) => ErrorCode::CurrencyNotAllowed,
            HttpError::UnknownRound(_) => ErrorCode::UnknownRound,
            HttpError::RoundNotOpen(_) => ErrorCode::RoundNotOpen,
            HttpError::UnknownGame(_) => ErrorCode::UnknownGame,
            HttpError::BetOutOfLimits(_) => ErrorCode::BetOutOfLimits,
            HttpError::UnknownCampaign(_) => ErrorCode::UnknownCampaign,
            HttpError::SeedNotRevealed(_) => ErrorCode::SeedNotRevealed,
            HttpError::Jurisdiction(e) => e.code(),
            HttpError::Excluded(_) => ErrorCode::PlayerExcluded,
            HttpError::LimitReached(_) => ErrorCode::LimitReached,
            HttpError::Unexpected(_) => ErrorCode::Internal,
        }
    }
}

/// The bearer token of a request's `Authorization` header, if it has one (a session token, the
/// operator's key or the admin key, by route).
fn bearer(req: &HttpRequest) -> Option<&str> {
    bearer_of(req.headers())
}

/// The bearer token in a set of request headers.
fn bearer_of(headers: &actix_web::http::header::HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Reads a JSON request body of at most [`MAX_JSON_BODY`] bytes, within
/// `server.body_timeout_seconds`: a client trickling its body is cut off, not waited for.
async fn read_body(app: &App, mut payload: web::Payload) -> Result<web::Bytes, HttpError> {
    use futures_util::StreamExt;
    let deadline = Duration::from_secs(app.config.server.body_timeout_seconds);
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| HttpError::BadRequest(format!("request body: {e}")))?;
            if body.len() + chunk.len() > MAX_JSON_BODY {
                return Err(HttpError::BadRequest(format!(
                    "request body over {MAX_JSON_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(deadline, read)
        .await
        .map_err(|_| HttpError::SlowBody)?
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        if matches!(self, HttpError::SlowBody) {
            return StatusCode::REQUEST_TIMEOUT;
        }
        match self.code() {
            ErrorCode::Unauthorized | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::ServiceUnavailable | ErrorCode::ServerBusy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::UnknownPlayer | ErrorCode::UnknownRound | ErrorCode::UnknownCampaign => {
                StatusCode::NOT_FOUND
            }
            ErrorCode::IdempotencyConflict
            | ErrorCode::InsufficientFunds
            | ErrorCode::RoundNotOpen
            | ErrorCode::LimitReached
            | ErrorCode::SeedNotRevealed => StatusCode::CONFLICT,
            ErrorCode::CurrencyNotAllowed
            | ErrorCode::PlayerExcluded
            | ErrorCode::GameNotOffered => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if self.code() == ErrorCode::Internal {
            tracing::error!(error = %self, "internal error answering an HTTP request");
        }
        HttpResponse::build(self.status_code()).json(self.body())
    }
}

/// The cluster as this node sees it: every live node (from the heartbeats), this node's name,
/// and which node runs each live table.
async fn cluster_view(app: web::Data<App>) -> Result<HttpResponse, HttpError> {
    let nodes = app.shared.nodes().await?;
    let tables: serde_json::Map<String, serde_json::Value> = app
        .tables
        .all()
        .into_iter()
        .map(|slot| {
            let run = match slot.run() {
                crate::table::Run::Here { .. } => serde_json::json!(app.node.as_ref()),
                crate::table::Run::There { node, .. } => serde_json::json!(node),
                crate::table::Run::Nobody => serde_json::Value::Null,
            };
            (slot.id.clone(), run)
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "node": app.node.as_ref(),
        "config_version": app.play().version.as_ref(),
        "ready": app.is_ready(),
        "nodes": nodes,
        "tables": tables,
    })))
}

/// Drains this node (admin key): it stops taking players (`/health/ready` 503), hands its
/// live tables to other nodes (the round in flight is voided and refunded), tells every player
/// to reconnect once their request in flight is answered, and keeps serving nothing new until
/// stopped. Idempotent.
async fn drain(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, HttpError> {
    sessions::check_admin(&app, &req)?;
    let first = !app.draining.is_cancelled();
    if first {
        tracing::info!(
            "draining: no new players; tables to other nodes; sessions told to reconnect"
        );
        app.set_ready(false);
        let app = app.clone().into_inner();
        actix_rt::spawn(async move {
            app.tables.stop_all("shutdown").await;
            app.draining.cancel();
        });
    }
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "draining": true,
        "sessions": app.connected.len(),
    })))
}

/// Reloads the play files (admin key): 200 with what changed (`reload::Reloaded`), or
/// 422 `bad_config` naming the file and key (nothing changed), or 503 when the ledger or the
/// cluster's Redis did not take it (nothing changed).
async fn reload(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, HttpError> {
    sessions::check_admin(&app, &req)?;
    match crate::reload::from_files(&app.clone().into_inner(), "admin_api").await {
        Ok(done) => Ok(HttpResponse::Ok().json(done)),
        Err(error) => {
            let status = match error {
                crate::reload::ReloadError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            Ok(HttpResponse::build(status).json(serde_json::json!({
                "code": error.code(),
                "message": error.to_string(),
            })))
        }
    }
}

/// Where a player is connected (admin key): the node from the presence heartbeats (on any
/// node of the cluster), or `null` when the player is not connected.
async fn player_presence(
    app: web::Data<App>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    sessions::check_admin(&app, &req)?;
    let player = PlayerId::parse(&path).map_err(|e| HttpError::BadRequest(e.to_string()))?;
    let node = app.shared.presence(&player).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "player_id": player.as_str(),
        "node": node,
    })))
}

async fn list_tables(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "tables": app.tables.views().await }))
}

async fn list_jackpots(app: web::Data<App>) -> Result<HttpResponse, HttpError> {
    let pools = app.wallet.ledger().pools().await?;
    // The pools in force: one a reload removed keeps its money in the ledger (and the
    // metrics, and `reconcile`), but is not a jackpot players can win.
    let live = app.jackpots.pools();
    let views: Vec<_> = pools
        .iter()
        .filter(|p| live.iter().any(|c| c.id == p.pool))
        .map(|p| {
            let (minor, carry_micro) = crate::jackpot::math::payout_split(p.value_micro);
            let value = app
                .currencies
                .get(&p.currency)
                .and_then(|c| Money::from_minor(minor, &c))
                .map(|m| m.to_string())
                .unwrap_or_default();
            serde_json::json!({
                "pool": p.pool, "level": p.level, "currency": p.currency, "cycle": p.cycle,
                "value": value, "carry_micro": carry_micro,
                "seed": app.currencies.get(&p.currency).and_then(|c| Money::from_minor(p.seed_micro / crate::jackpot::math::MICRO_PER_MINOR, &c)).map(|m| m.to_string()).unwrap_or_default(),
                "last_won_at": p.last_won_at_ms,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "jackpots": views })))
}

async fn list_games(app: web::Data<App>) -> HttpResponse {
    let games: Vec<_> = app
        .play()
        .games
        .slots()
        .map(|g| crate::session::handler::game_view(g))
        .collect();
    HttpResponse::Ok().json(serde_json::json!({ "games": games }))
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().body("live\n")
}

async fn ready(app: web::Data<App>) -> HttpResponse {
    if app.is_ready() {
        HttpResponse::Ok().body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable().body("not ready\n")
    }
}

async fn metrics(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(app.metrics.render())
}
