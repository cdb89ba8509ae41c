//! The WebSocket upgrade, and how a session token reaches it without ever travelling in a URL
//! (where proxies and browsers log it): native clients send `Authorization: Bearer <token>` on
//! the upgrade request; browsers, which cannot set that header on a WebSocket, first trade the
//! token for a single-use ticket (`POST /v1/ws-tickets`, good for 30 s) and open
//! `/v1/ws?ticket=…`. Either way the token is verified and its session record checked
//! (`session::access`) before the upgrade.

use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{bearer, HttpError, HARD_FRAME_CAP};
use crate::app::App;
use crate::auth::{AuthError, Claims};
use crate::cluster::store::TICKET_TTL;
use crate::session::{Caller, PlayerSession};

/// Random bytes in a ticket (hex in the URL): unguessable within its lifetime.
const TICKET_BYTES: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WsQuery {
    ticket: Option<String>,
    /// Refused: the long-lived token does not belong in a URL.
    token: Option<String>,
}

/// A token's claims, if it is good and its session is live.
async fn admit(app: &App, token: &str) -> Result<Claims, HttpError> {
    let claims = app.tokens.verify(token)?;
    crate::session::access::session_for(app, &claims).await?;
    Ok(claims)
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
    let mut bytes = [0u8; TICKET_BYTES];
    use rand_core::TryRngCore;
    rand_core::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| HttpError::NotReady)?;
    let ticket = hex::encode(bytes);
    app.shared.put_ticket(&ticket, token, TICKET_TTL).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "ticket": ticket,
        "expires_in_seconds": TICKET_TTL.as_secs(),
    })))
}

pub(super) async fn websocket(
    app: web::Data<App>,
    req: HttpRequest,
    query: web::Query<WsQuery>,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    if !app.is_ready() {
        return Err(HttpError::NotReady.into());
    }
    let query = query.into_inner();
    if query.token.is_some() {
        return Err(HttpError::BadRequest(
            "session tokens do not travel in URLs: send Authorization: Bearer <token>, or \
             trade the token for a ticket (POST /v1/ws-tickets) and open /v1/ws?ticket=…"
                .into(),
        )
        .into());
    }
    let token = match (bearer(&req), query.ticket) {
        (Some(_), Some(_)) => {
            return Err(
                HttpError::BadRequest("send a bearer token or a ticket, not both".into()).into(),
            )
        }
        (Some(token), None) => token.to_string(),
        (None, Some(ticket)) => {
            let valid =
                ticket.len() == 2 * TICKET_BYTES && ticket.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid {
                return Err(HttpError::from(AuthError::Invalid).into());
            }
            app.shared
                .take_ticket(&ticket)
                .await
                .map_err(HttpError::from)?
                .ok_or(HttpError::from(AuthError::Invalid))?
        }
        (None, None) => return Err(HttpError::from(AuthError::Missing).into()),
    };
    let claims = admit(&app, &token).await?;
    let currency = app.currencies.get(&claims.cur).map_err(HttpError::from)?;
    let slot = app
        .admission
        .connect(&claims.sub, req.peer_addr().map(|a| a.ip()))
        .map_err(HttpError::from)?;
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let caller = Caller {
        player: claims.sub,
        currency,
        session_id: claims.sid,
        expires_at: claims.exp,
    };
    let actor = PlayerSession::new(app.into_inner(), caller, session, slot);
    PlayerSession::create(move |ctx| {
        ctx.add_stream(stream.max_frame_size(HARD_FRAME_CAP));
        actor
    });
    Ok(response)
}
