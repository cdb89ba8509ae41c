//! `GET /v1/operator/players/{id}/harm-flags`: the harm flags a player's sessions raised
//! (loss chasing, long play; docs/jurisdictions.md, "Watching for harm"), newest first, for
//! the operator's safer-gambling team.

use actix_web::{web, HttpRequest, HttpResponse};

use super::OperatorDoor;
use crate::app::App;
use crate::server::HttpError;

/// One flag.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct FlagView {
    /// `loss_chasing` or `long_session`.
    #[schema(example = "loss_chasing")]
    rule: String,
    /// The session that raised it (the welcome's `session_id`).
    session_id: String,
    /// The jurisdiction profile whose rule it met.
    profile: String,
    raised_at_ms: i64,
}

/// A player's flags.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct FlagsAnswer {
    player_id: String,
    flags: Vec<FlagView>,
}

/// The player's harm flags, newest first (at most 200).
#[utoipa::path(
    get,
    path = "/v1/operator/players/{player}/harm-flags",
    tag = "safer gambling",
    params(("player" = String, Path, description = "the operator's player")),
    responses((status = 200, body = FlagsAnswer)),
    security(("operator_key" = []))
)]
pub(super) async fn list(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let player = caller.player(&path)?;
    let flags = app.wallet.ledger().harm_flags(&player).await?;
    Ok(HttpResponse::Ok().json(FlagsAnswer {
        player_id: player.name().to_string(),
        flags: flags
            .into_iter()
            .map(|f| FlagView {
                rule: f.rule,
                session_id: f.session_id,
                profile: f.profile,
                raised_at_ms: f.raised_at_ms,
            })
            .collect(),
    }))
}
