//! The WebSocket upgrade, and how a session token reaches it without ever travelling in a URL
//! (where proxies and browsers log it): native clients send `Authorization: Bearer <token>` on
//! the upgrade request; browsers, which cannot set that header on a WebSocket, first trade the
//! token for a single-use ticket (`POST /v1/ws-tickets`, good for 30 s) and open
//! `/v1/ws?ticket=…`. Either way the token is verified and its session record checked
//! (`session::access`) before the upgrade.

use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{bearer, HttpError, HARD_FRAME_CAP};
use crate::app::App;
use crate::auth::credential::{upgrade_credential, Credential, Ticket};
use crate::auth::{AuthError, Claims};
use crate::cluster::store::TICKET_TTL;
use crate::session::{Caller, PlayerSession};

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
    let ticket = Ticket::generate().map_err(|_| HttpError::NotReady)?;
    app.shared
        .put_ticket(ticket.as_str(), token, TICKET_TTL)
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "ticket": ticket.as_str(),
        "expires_in_seconds": TICKET_TTL.as_secs(),
    })))
}

pub(super) async fn websocket(
    app: web::Data<App>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    if !app.is_ready() {
        return Err(HttpError::NotReady.into());
    }
    let token =
        match upgrade_credential(bearer(&req), req.query_string()).map_err(HttpError::from)? {
            Credential::Bearer(token) => token,
            Credential::Ticket(ticket) => app
                .shared
                .take_ticket(ticket.as_str())
                .await
                .map_err(HttpError::from)?
                .ok_or(HttpError::from(AuthError::Invalid))?,
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
