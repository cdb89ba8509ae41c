//! The WebSocket upgrade, and how a session token reaches it without ever travelling in a URL
//! (where proxies and browsers log it): native clients send `Authorization: Bearer <token>` on
//! the upgrade request; browsers, which cannot set that header on a WebSocket, first trade the
//! token for a single-use ticket (`POST /v1/ws-tickets`, good for 30 s) and open
//! `/v1/ws?ticket=…`. Either way the token is verified and its session record checked
//! (`session::access`) before the upgrade.
//!
//! The upgrade is actix-http's: the players' listener hands every upgrade request to
//! [`service`] with its raw connection, which answers the handshake itself (`handshake.rs`) and
//! runs the socket with tokio-tungstenite and small buffers (`session::socket`), so an idle
//! player holds a few KiB, not the 16 KiB of buffers actix-http keeps per HTTP connection.

use std::sync::Arc;

use actix::prelude::*;
use actix_codec::{AsyncRead, AsyncWrite, Framed, FramedParts};
use actix_http::{h1, HttpMessage, Request, StatusCode};
use actix_service::ServiceFactory;
use actix_web::{web, HttpRequest, HttpResponse};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::{bearer, bearer_of, handshake, HttpError, HARD_FRAME_CAP};
use crate::app::App;
use crate::auth::credential::{upgrade_credential, Credential, Ticket};
use crate::auth::{AuthError, Claims};
use crate::cluster::store::TICKET_TTL;
use crate::cluster::SessionRecord;
use crate::protocol::ErrorCode;
use crate::session::{Caller, FromSocket, PlayerSession};

/// A token's claims, if it is good and its session is live.
async fn admit(app: &App, token: &str) -> Result<(Claims, SessionRecord), HttpError> {
    let claims = app.tokens.verify(token)?;
    let record = crate::session::access::session_for(app, &claims).await?;
    Ok((claims, record))
}

/// `POST /v1/ws-tickets` with the session token as bearer: a ticket for one upgrade.
pub(super) async fn issue_ticket(
    app: web::Data<App>,
    req: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    if !app.is_ready() {
        return Err(HttpError::NotReady);
    }
    let token = bearer(&req).ok_or(AuthError::Missing)?;
    admit(&app, token).await?;
    let ticket = Ticket::generate().map_err(|_| HttpError::NotReady)?;
    app.shared
        .put_ticket(ticket.as_str(), token, TICKET_TTL)
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "ticket": ticket.as_str(),
        "expires_in_seconds": TICKET_TTL.as_secs(),
    })))
}

/// actix-http's upgrade service on the players' listener: every request that asks for a
/// protocol upgrade (`Connection: upgrade`) arrives here with its connection, and actix-http's
/// own buffers for it are dropped once the head is read. `/v1/ws` becomes a player's
/// WebSocket; anything else is answered `404` and closed.
pub(super) fn service<T>(
    app: Arc<App>,
) -> impl ServiceFactory<
    (Request, Framed<T, h1::Codec>),
    Config = (),
    Response = (),
    Error = actix_web::Error,
    InitError = (),
>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    actix_service::fn_service(move |(req, framed): (Request, Framed<T, h1::Codec>)| {
        let app = app.clone();
        async move {
            upgrade(app, req, framed).await;
            Ok::<_, actix_web::Error>(())
        }
    })
}

/// What an upgrade request is answered with, if not a WebSocket.
struct Refusal {
    status: StatusCode,
    body: serde_json::Value,
}

impl From<HttpError> for Refusal {
    fn from(e: HttpError) -> Self {
        Refusal {
            status: actix_web::ResponseError::status_code(&e),
            body: e.body(),
        }
    }
}

/// A player admitted to a WebSocket: the handshake's accept key, who they are, and their claim
/// on the connection budgets.
struct Admitted {
    accept: String,
    caller: Caller,
    slot: crate::admission::Slot,
}

/// Checks the handshake (first: a malformed request spends no ticket), then the credential,
/// the session and the connection budgets.
async fn admit_upgrade(app: &App, req: &Request) -> Result<Admitted, Refusal> {
    if req.path() != "/v1/ws" {
        return Err(Refusal {
            status: StatusCode::NOT_FOUND,
            body: serde_json::json!({"code": ErrorCode::BadRequest.as_str(),
                                     "message": "no WebSocket here; players connect to /v1/ws"}),
        });
    }
    if !app.is_ready() {
        return Err(HttpError::NotReady.into());
    }
    let accept = handshake::accept_key(req.method(), req.headers()).map_err(|e| Refusal {
        status: e.status(),
        body: serde_json::json!({"code": ErrorCode::BadRequest.as_str(), "message": e.to_string()}),
    })?;
    let query = req.uri().query().unwrap_or("");
    let token =
        match upgrade_credential(bearer_of(req.headers()), query).map_err(HttpError::from)? {
            Credential::Bearer(token) => token,
            Credential::Ticket(ticket) => app
                .shared
                .take_ticket(ticket.as_str())
                .await
                .map_err(HttpError::from)?
                .ok_or(HttpError::from(AuthError::Invalid))?,
        };
    let (claims, record) = admit(app, &token).await?;
    let currency = app.currencies.get(&claims.cur).map_err(HttpError::from)?;
    let rules = crate::jurisdiction::session_rules(
        &app.play().profiles,
        &record.profile,
        &currency,
        record.age_band,
    )
    .map_err(HttpError::from)?;
    let slot = app
        .admission
        .connect(&claims.sub, req.peer_addr().map(|a| a.ip()))
        .map_err(HttpError::from)?;
    let caller = Caller {
        player: claims.sub,
        currency,
        session_id: claims.sid,
        expires_at: claims.exp,
        rules,
        session_started_ms: Some(record.opened_at_ms),
    };
    Ok(Admitted {
        accept,
        caller,
        slot,
    })
}

/// Answers the upgrade, then, for an admitted player, starts the connection: a task of its
/// own owns the socket (`session::socket`) and the `PlayerSession` actor decides what each
/// frame does. Its admission slot counts it against `server.max_websockets` until it ends.
async fn upgrade<T>(app: Arc<App>, req: Request, framed: Framed<T, h1::Codec>)
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    // Bytes the client sent after the head (a frame pipelined behind the upgrade) go on to
    // the WebSocket; the rest of actix-http's parts (its buffers, the codec) drop here.
    let FramedParts {
        mut io, read_buf, ..
    } = framed.into_parts();
    let early = (!read_buf.is_empty()).then(|| read_buf.to_vec());
    drop(read_buf);
    // Boxed: the ticket and session lookups' state is not carried in this future.
    let admitted = Box::pin(admit_upgrade(&app, &req)).await;
    drop(req);
    let class = match &admitted {
        Ok(_) => "1xx".to_string(),
        Err(refusal) => format!("{}xx", refusal.status.as_u16() / 100),
    };
    app.metrics
        .server
        .http_requests
        .with_label_values(&["/v1/ws", &class])
        .inc();
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => {
            let answer = handshake::error_response(refusal.status, &refusal.body);
            let _ = io.write_all(&answer).await;
            let _ = io.shutdown().await;
            return;
        }
    };
    if io
        .write_all(&handshake::switching_protocols(&admitted.accept))
        .await
        .is_err()
    {
        return; // gone before the answer; the slot is given back as it drops
    }
    // Its own task from here on: actix-http's per-connection state (several KiB) is freed
    // once this future ends. The node's slot (`admission`) counts the socket instead.
    let config = Some(crate::session::socket::config(HARD_FRAME_CAP));
    let sockets = app.sockets.clone();
    actix_rt::spawn(sockets.track_future(async move {
        let ws = match early {
            None => WebSocketStream::from_raw_socket(io, Role::Server, config).await,
            Some(early) => {
                WebSocketStream::from_partially_read(io, early, Role::Server, config).await
            }
        };
        let (actor, connection) = PlayerSession::new(app, admitted.caller, admitted.slot);
        let session = actor.start();
        connection
            .run(ws, |incoming| {
                let session = session.clone();
                // Waits for the actor to take it: a flood is read no faster than it is handled.
                async move { session.send(FromSocket(incoming)).await.is_ok() }
            })
            .await;
    }));
}

/// `GET /v1/ws` without an upgrade (the upgrades never reach the routes): a clear `400`.
pub(super) async fn not_an_upgrade() -> Result<HttpResponse, HttpError> {
    Err(HttpError::BadRequest(
        "/v1/ws is a WebSocket: send an upgrade request (Connection: upgrade, Upgrade: websocket)"
            .into(),
    ))
}
