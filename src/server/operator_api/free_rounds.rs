//! Free rounds an operator gives one of its players: `POST …/free-rounds` (grant, idempotent
//! by campaign id), `GET …/free-rounds` (the player's grants), `GET …/free-rounds/{campaign}`
//! (one grant with every event: grant, play, void, cancel, expire) and `DELETE
//! …/free-rounds/{campaign}` (cancel what is not yet played).
//!
//! A grant is checked here against the game (it exists, the bet is within its limits and a
//! multiple of its step) and the operator (its currency); the ledger then applies it exactly
//! once per player and campaign. The player sees playable grants on connect and in `games`, and
//! plays one with `{"type": "spin", "game": …, "campaign": …}` (docs/protocol.md).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::money::{apply, same_currency};
use super::{parse_body, Caller, OperatorDoor};
use crate::app::App;
use crate::ids::{CampaignId, PlayerId};
use crate::money::{Currency, Money};
use crate::server::HttpError;
use crate::wallet::{Applied, FreeRoundEvent, FreeRounds, FreeRoundsGrant, Movement};
use croupier_ledger::free_rounds::MAX_FREE_ROUNDS_PER_GRANT;

/// Longest a grant may run, from now: a promotion, not a standing balance (regulators expect
/// bonus terms of weeks, not years).
const MAX_LIFETIME_MS: i64 = 366 * 24 * 3_600 * 1_000;

/// A grant of free rounds.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GrantRequest {
    /// The operator's campaign id: 1-64 of `A-Z a-z 0-9 _ . -`; with the player, the
    /// idempotency key.
    #[schema(example = "welcome-10")]
    campaign_id: String,
    /// A slot game (`GET /v1/games`).
    #[schema(example = "starfall")]
    game: String,
    /// How many rounds: 1 to 1,000.
    #[schema(example = 10)]
    rounds: u32,
    /// The bet of each round: a decimal string within the game's limits and a multiple of its
    /// step.
    #[schema(example = "0.20")]
    bet: String,
    #[schema(example = "EUR")]
    currency: String,
    /// When the rounds not yet played lapse: Unix ms, in the future, at most 366 days away.
    #[schema(example = 1798000000000_i64)]
    expires_at: i64,
}

/// A grant as it stands.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct GrantAnswer {
    campaign_id: String,
    player_id: String,
    game: String,
    currency: String,
    bet: String,
    /// Rounds given.
    rounds: u32,
    /// Rounds that may still be played (0 once cancelled or expired).
    remaining: u32,
    /// `active`, `cancelled` or `expired` (`active` with nothing remaining is used up).
    #[schema(example = "active")]
    status: String,
    expires_at: i64,
    created_at: i64,
    /// When it was cancelled or expired.
    closed_at: Option<i64>,
    /// Whether a round may be played now.
    playable: bool,
}

impl GrantAnswer {
    fn of(g: &FreeRounds, currency: &Currency) -> Result<GrantAnswer, HttpError> {
        Ok(GrantAnswer {
            campaign_id: g.campaign.to_string(),
            player_id: g.player.name().to_string(),
            game: g.game.clone(),
            currency: currency.code().to_string(),
            bet: Money::from_minor(g.bet_minor, currency)?.to_string(),
            rounds: g.granted,
            remaining: g.remaining,
            status: g.status.as_str().to_string(),
            expires_at: g.expires_at_ms,
            created_at: g.created_at_ms,
            closed_at: g.closed_at_ms,
            playable: g.playable(crate::clock::now_ms()),
        })
    }
}

/// One event of a grant.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct EventView {
    seq: i64,
    /// `grant`, `play`, `void` (a played round voided and given back), `cancel` or `expire`.
    #[schema(example = "play")]
    kind: String,
    /// Rounds it gave, took or closed.
    rounds: u32,
    /// The round played or voided.
    round_id: Option<String>,
    at: i64,
}

/// One grant with its history.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct GrantDetail {
    #[serde(flatten)]
    grant: GrantAnswer,
    events: Vec<EventView>,
}

/// A player's grants, newest first (at most 200).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct GrantList {
    player_id: String,
    grants: Vec<GrantAnswer>,
}

/// A grant request, checked against the operator and the game: the grant, and its currency.
fn check(
    app: &App,
    caller: &Caller,
    r: &GrantRequest,
) -> Result<(FreeRoundsGrant, Currency), HttpError> {
    let campaign =
        CampaignId::parse(&r.campaign_id).map_err(|e| HttpError::BadRequest(e.to_string()))?;
    let game = app
        .play()
        .games
        .slot(&r.game)
        .cloned()
        .ok_or_else(|| HttpError::UnknownGame(r.game.chars().take(64).collect()))?;
    if !(1..=MAX_FREE_ROUNDS_PER_GRANT).contains(&r.rounds) {
        return Err(HttpError::BadRequest(format!(
            "rounds must be between 1 and {MAX_FREE_ROUNDS_PER_GRANT}"
        )));
    }
    let currency = caller.currency(&r.currency)?;
    let bet = Money::parse_positive(&r.bet, &currency)?;
    game.check_bet(&bet)
        .map_err(|e| HttpError::BetOutOfLimits(e.to_string()))?;
    let now = crate::clock::now_ms();
    if r.expires_at <= now || r.expires_at > now.saturating_add(MAX_LIFETIME_MS) {
        return Err(HttpError::BadRequest(
            "expires_at must be Unix milliseconds in the future, at most 366 days away".into(),
        ));
    }
    let grant = FreeRoundsGrant {
        campaign,
        game: game.id().to_string(),
        bet_minor: bet.minor(),
        rounds: r.rounds,
        expires_at_ms: r.expires_at,
    };
    Ok((grant, currency))
}

/// Gives one of the operator's players free rounds of a game.
#[utoipa::path(
    post,
    path = "/v1/operator/players/{player}/free-rounds",
    tag = "free rounds",
    params(("player" = String, Path, description = "the operator's player")),
    request_body = GrantRequest,
    responses(
        (status = 201, description = "granted, or the same grant asked again, as it stands (header Idempotent-Replayed: true)", body = GrantAnswer),
        (status = 400, description = "bad body, campaign id, rounds, expiry or amount; unknown_game, bet_out_of_limits, wrong_currency; more than 50 open campaigns", body = super::ErrorBody),
        (status = 403, description = "currency_not_allowed", body = super::ErrorBody),
        (status = 409, description = "idempotency_conflict: the campaign was granted to this player with other details", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn grant(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let body = crate::server::read_body(&app, payload).await?;
    let player = caller.player(&path)?;
    let request: GrantRequest = parse_body("free-rounds grant", &body)?;
    let (grant, currency) = check(&app, &caller, &request)?;
    // A grant may come before any deposit: it opens the account in its currency, as one does.
    let account = app
        .wallet
        .ledger()
        .ensure_account(&player, currency.code())
        .await?;
    same_currency(&player, &account.currency, &currency)?;
    let campaign = grant.campaign.to_string();
    let movement = Movement::GrantFreeRounds {
        player: player.clone(),
        grant,
    };
    let conflict = || format!("campaign {campaign} was granted to this player with other details");
    match apply(&app, movement, conflict).await? {
        Applied::FreeRoundsGranted { grant, replayed } => {
            let mut response = HttpResponse::Created();
            if replayed {
                response.insert_header(("Idempotent-Replayed", "true"));
            }
            Ok(response.json(GrantAnswer::of(&grant, &currency)?))
        }
        other => Err(HttpError::Unexpected(format!(
            "a free-rounds grant answered {other:?}"
        ))),
    }
}

/// The account and currency of a player the operator asks about.
async fn player_of(
    app: &App,
    caller: &Caller,
    name: &str,
) -> Result<(PlayerId, Currency), HttpError> {
    let player = caller.player(name)?;
    let account = caller.account(app, &player).await?;
    let currency = app.currencies.get(&account.currency)?;
    Ok((player, currency))
}

/// The player's grants, newest first.
#[utoipa::path(
    get,
    path = "/v1/operator/players/{player}/free-rounds",
    tag = "free rounds",
    params(("player" = String, Path, description = "the operator's player")),
    responses(
        (status = 200, body = GrantList),
        (status = 404, description = "unknown_player", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn list(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let (player, currency) = player_of(&app, &caller, &path).await?;
    let grants = app.wallet.ledger().free_rounds(&player, None).await?;
    Ok(HttpResponse::Ok().json(GrantList {
        player_id: player.name().to_string(),
        grants: grants
            .iter()
            .map(|g| GrantAnswer::of(g, &currency))
            .collect::<Result<_, _>>()?,
    }))
}

fn campaign_of(text: &str) -> Result<CampaignId, HttpError> {
    CampaignId::parse(text).map_err(|e| HttpError::BadRequest(e.to_string()))
}

fn unknown(campaign: &CampaignId) -> HttpError {
    HttpError::UnknownCampaign(format!("no campaign {campaign} for this player"))
}

/// One grant with every event of it.
#[utoipa::path(
    get,
    path = "/v1/operator/players/{player}/free-rounds/{campaign}",
    tag = "free rounds",
    params(
        ("player" = String, Path, description = "the operator's player"),
        ("campaign" = String, Path, description = "the campaign id"),
    ),
    responses(
        (status = 200, body = GrantDetail),
        (status = 404, description = "unknown_player, unknown_campaign", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn detail(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let (player, currency) = player_of(&app, &caller, &path.0).await?;
    let campaign = campaign_of(&path.1)?;
    let ledger = app.wallet.ledger();
    let events = ledger.free_round_events(&player, &campaign).await?;
    // Read after the events: the count shown is never older than the history shown.
    let grant = ledger
        .free_rounds(&player, None)
        .await?
        .into_iter()
        .find(|g| g.campaign == campaign)
        .ok_or_else(|| unknown(&campaign))?;
    Ok(HttpResponse::Ok().json(GrantDetail {
        grant: GrantAnswer::of(&grant, &currency)?,
        events: events.iter().map(event_view).collect(),
    }))
}

fn event_view(e: &FreeRoundEvent) -> EventView {
    EventView {
        seq: e.seq,
        kind: e.kind.as_str().to_string(),
        rounds: e.rounds,
        round_id: e.round_id.clone(),
        at: e.created_at_ms,
    }
}

/// Cancels the rounds of a campaign not yet played; a round already started still settles.
#[utoipa::path(
    delete,
    path = "/v1/operator/players/{player}/free-rounds/{campaign}",
    tag = "free rounds",
    params(
        ("player" = String, Path, description = "the operator's player"),
        ("campaign" = String, Path, description = "the campaign id"),
    ),
    responses(
        (status = 200, description = "cancelled, or already closed (cancelled or expired): the grant as it stands", body = GrantAnswer),
        (status = 404, description = "unknown_player, unknown_campaign", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn cancel(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let (player, currency) = player_of(&app, &caller, &path.0).await?;
    let campaign = campaign_of(&path.1)?;
    let movement = Movement::CancelFreeRounds {
        player,
        campaign: campaign.clone(),
    };
    let conflict = || format!("campaign {campaign} could not be cancelled");
    match apply(&app, movement, conflict).await {
        Ok(Applied::FreeRoundsCancelled { grant, .. }) => {
            Ok(HttpResponse::Ok().json(GrantAnswer::of(&grant, &currency)?))
        }
        Err(HttpError::Wallet(crate::wallet::WalletError::Refused(
            crate::wallet::MovementError::UnknownCampaign(_),
        ))) => Err(unknown(&campaign)),
        Ok(other) => Err(HttpError::Unexpected(format!(
            "a free-rounds cancel answered {other:?}"
        ))),
        Err(e) => Err(e),
    }
}
