//! `POST /v1/operator/sessions/revoke`: ends one session (`session_id`) or every session of a
//! player (`player_id`), on every node: no new connection with their tokens, and their
//! connections closed within a second. Only the operator's own: a session of another
//! operator's player is answered as one that does not exist (`"revoked": []`). Idempotent.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{parse_body, OperatorDoor};
use crate::app::App;
use crate::server::HttpError;
use crate::session::access::{revoke, Revoke};

/// Exactly one of the two.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RevokeRequest {
    session_id: Option<String>,
    player_id: Option<String>,
}

/// The sessions ended.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct RevokeAnswer {
    revoked: Vec<String>,
}

/// Ends one session, or every session of one of the operator's players, on every node.
#[utoipa::path(
    post,
    path = "/v1/operator/sessions/revoke",
    tag = "sessions",
    request_body = RevokeRequest,
    responses(
        (status = 200, body = RevokeAnswer),
        (status = 400, body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn revoke_sessions(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let body = crate::server::read_body(&app, payload).await?;
    let request: RevokeRequest = parse_body("revoke request", &body)?;
    let what = match (request.session_id, request.player_id) {
        (Some(sid), None) if !sid.is_empty() && sid.len() <= crate::ids::MAX_ID_LEN => {
            let own = app
                .shared
                .session(&sid)
                .await?
                .is_some_and(|r| r.player.operator() == Some(caller.0.id.as_str()));
            if !own {
                return Ok(HttpResponse::Ok().json(RevokeAnswer { revoked: vec![] }));
            }
            Revoke::Session(sid)
        }
        (None, Some(player)) => Revoke::Player(caller.player(&player)?),
        _ => {
            return Err(HttpError::BadRequest(
                "name exactly one of session_id (1-64 characters) or player_id".into(),
            ))
        }
    };
    let ended = revoke(&app, &what).await?;
    tracing::info!(operator = %caller.0.id, sessions = ended.len(), "sessions revoked by the operator");
    Ok(HttpResponse::Ok().json(RevokeAnswer { revoked: ended }))
}
