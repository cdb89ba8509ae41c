//! `POST /v1/operator/players/{id}/exclusion` and `GET …`: a player's time-out or
//! self-exclusion. Setting one keeps it in the ledger (never shortened: an exclusion that ends
//! later, or an indefinite one, stands), ends every session of the player on every node (their
//! connections close within a second with the reason `player excluded`; rounds in flight
//! settle as usual), and refuses the player's launches until it ends.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{parse_body, OperatorDoor};
use crate::app::App;
use crate::server::HttpError;
use crate::session::access::{revoke_for, Revoke, EXCLUDED};
use crate::wallet::{Exclusion, ExclusionReason};

/// Longest a dated exclusion may run (a hundred years: longer is "indefinitely", say so).
const MAX_EXCLUSION_MS: i64 = 100 * 366 * 86_400_000;

/// An exclusion to set.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExclusionRequest {
    /// When it ends (Unix ms, in the future); `null` or absent: indefinitely.
    #[schema(example = 1798761600000_i64)]
    until_ms: Option<i64>,
    /// `time_out`, `self_exclusion` or `operator`.
    #[schema(example = "self_exclusion")]
    reason: String,
}

/// A player's exclusion as it stands.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct ExclusionAnswer {
    player_id: String,
    /// Whether the player is excluded now.
    excluded: bool,
    /// When it ends (Unix ms); `null` while `excluded`: indefinitely.
    until_ms: Option<i64>,
    reason: Option<String>,
    set_at_ms: Option<i64>,
    /// The sessions this call ended (setting only).
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions_ended: Option<usize>,
}

fn answer(name: &str, exclusion: Option<&Exclusion>, ended: Option<usize>) -> ExclusionAnswer {
    let now = crate::clock::now_ms();
    ExclusionAnswer {
        player_id: name.to_string(),
        excluded: exclusion.is_some_and(|e| e.in_force(now)),
        until_ms: exclusion.and_then(|e| e.until_ms),
        reason: exclusion.map(|e| e.reason.as_str().to_string()),
        set_at_ms: exclusion.map(|e| e.set_at_ms),
        sessions_ended: ended,
    }
}

/// Excludes one of the operator's players until a time or indefinitely, on every node.
#[utoipa::path(
    post,
    path = "/v1/operator/players/{player}/exclusion",
    tag = "safer gambling",
    params(("player" = String, Path, description = "the operator's player")),
    request_body = ExclusionRequest,
    responses(
        (status = 200, description = "the exclusion that stands (a longer one in force is kept)", body = ExclusionAnswer),
        (status = 400, description = "bad body, reason, or an end in the past or over 100 years away", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn exclude(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let player = caller.player(&path)?;
    let body = crate::server::read_body(&app, payload).await?;
    let request: ExclusionRequest = parse_body("exclusion", &body)?;
    let reason = ExclusionReason::parse(&request.reason).ok_or_else(|| {
        HttpError::BadRequest(format!(
            "reason must be time_out, self_exclusion or operator, got {:?}",
            request.reason
        ))
    })?;
    let now = crate::clock::now_ms();
    if let Some(until) = request.until_ms {
        if until <= now || until - now > MAX_EXCLUSION_MS {
            return Err(HttpError::BadRequest(format!(
                "until_ms must be in the future and at most 100 years away (null: \
                 indefinitely), got {until}"
            )));
        }
    }
    let standing = app
        .wallet
        .ledger()
        .exclude(&player, request.until_ms, reason)
        .await?;
    // Durable first, then every node is told: a node that misses the message finds the
    // revocation markers within `access::RECHECK_EVERY`.
    let ended = revoke_for(&app, &Revoke::Player(player.clone()), EXCLUDED).await?;
    tracing::info!(
        operator = %caller.0.id, player = %player, reason = reason.as_str(),
        until_ms = ?standing.until_ms, sessions = ended.len(), "player excluded"
    );
    Ok(HttpResponse::Ok().json(answer(player.name(), Some(&standing), Some(ended.len()))))
}

/// The player's exclusion: in force or not, and the last one set.
#[utoipa::path(
    get,
    path = "/v1/operator/players/{player}/exclusion",
    tag = "safer gambling",
    params(("player" = String, Path, description = "the operator's player")),
    responses((status = 200, body = ExclusionAnswer)),
    security(("operator_key" = []))
)]
pub(super) async fn exclusion(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let player = caller.player(&path)?;
    let found = app.wallet.ledger().exclusion(&player).await?;
    Ok(HttpResponse::Ok().json(answer(player.name(), found.as_ref(), None)))
}
