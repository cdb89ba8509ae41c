//! `POST /v1/operator/players/{id}/limits` and `GET …`: a player's loss, wager and deposit
//! limits per rolling day, week or month, and a session-time limit. A new or tighter limit
//! applies at once; a looser one, or a removal, only after
//! `jurisdictions.limit_raise_cooling_off_seconds`. The ledger checks every stake and deposit
//! against them in the movement's own transaction (`limit_reached`, nothing moves). The player
//! reads the same view over the WebSocket (`{"type": "limits"}`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{parse_body, OperatorDoor};
use crate::app::App;
use crate::limits::{report_views, LimitRequest};
use crate::server::HttpError;

/// One limit to set.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitBody {
    /// `loss`, `wager`, `deposit` or `session_time`.
    #[schema(example = "loss")]
    kind: String,
    /// `day`, `week` or `month` (rolling windows); omitted or `session` for `session_time`.
    #[schema(example = "day")]
    period: Option<String>,
    /// The limit in the player's currency (a decimal string); `null` or absent removes it.
    #[schema(example = "50.00")]
    amount: Option<String>,
    /// A session-time limit in minutes (1 to 1440); `null` or absent removes it.
    minutes: Option<i64>,
}

/// A player's limits as they stand.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct LimitsAnswer {
    player_id: String,
    currency: String,
    /// How long a looser limit or a removal waits before it applies.
    cooling_off_seconds: u64,
    /// Each limit in force or waiting: `kind`, `period`, `amount` or `minutes`, `used` (money
    /// limits: what the window has used) and `pending` (`amount`/`minutes`, `from_ms`).
    #[schema(value_type = Vec<Object>)]
    limits: Vec<croupier_core::protocol::PlayerLimitView>,
}

async fn answer(
    app: &App,
    player: &crate::ids::PlayerId,
    currency: &crate::money::Currency,
) -> Result<LimitsAnswer, HttpError> {
    let report = app.wallet.ledger().limits(player).await?;
    Ok(LimitsAnswer {
        player_id: player.name().to_string(),
        currency: currency.code().to_string(),
        cooling_off_seconds: app.config.jurisdictions.limit_raise_cooling_off_seconds,
        limits: report_views(&report, currency),
    })
}

/// Sets (or removes) one of a player's limits.
#[utoipa::path(
    post,
    path = "/v1/operator/players/{player}/limits",
    tag = "safer gambling",
    params(("player" = String, Path, description = "the operator's player")),
    request_body = LimitBody,
    responses(
        (status = 200, description = "every limit as it stands after the change (a looser one waits in `pending`)", body = LimitsAnswer),
        (status = 400, description = "bad body, kind, period, amount or minutes", body = super::ErrorBody),
        (status = 404, description = "unknown_player (no account yet: launch the player first)", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn set(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let player = caller.player(&path)?;
    let body = crate::server::read_body(&app, payload).await?;
    let request: LimitBody = parse_body("limit", &body)?;
    let account = caller.account(&app, &player).await?;
    let currency = app
        .currencies
        .get(&account.currency)
        .map_err(HttpError::from)?;
    let limit = LimitRequest::parse(
        &request.kind,
        request.period.as_deref(),
        request.amount.as_deref(),
        request.minutes,
        &currency,
    )
    .map_err(|e| HttpError::BadRequest(e.to_string()))?;
    let cooling_off_ms =
        i64::try_from(app.config.jurisdictions.limit_raise_cooling_off_seconds * 1_000)
            .unwrap_or(i64::MAX);
    let set = app
        .wallet
        .ledger()
        .set_limit(&player, limit.key, limit.amount, cooling_off_ms)
        .await?
        .ok_or_else(|| HttpError::UnknownPlayer(format!("no player {}", player.name())))?;
    tracing::info!(
        operator = %caller.0.id, player = %player, kind = limit.key.kind().as_str(),
        period = limit.key.period().as_str(), amount = ?limit.amount,
        waiting = set.pending.is_some(), "player limit set"
    );
    Ok(HttpResponse::Ok().json(answer(&app, &player, &currency).await?))
}

/// The player's limits: each in force or waiting, with what its window has used.
#[utoipa::path(
    get,
    path = "/v1/operator/players/{player}/limits",
    tag = "safer gambling",
    params(("player" = String, Path, description = "the operator's player")),
    responses(
        (status = 200, body = LimitsAnswer),
        (status = 404, description = "unknown_player", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn get(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let player = caller.player(&path)?;
    let account = caller.account(&app, &player).await?;
    let currency = app
        .currencies
        .get(&account.currency)
        .map_err(HttpError::from)?;
    Ok(HttpResponse::Ok().json(answer(&app, &player, &currency).await?))
}
