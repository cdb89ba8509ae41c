//! The operators' back-office API on its own listener (`server.operator_listen`): every call
//! carries an operator's key (`Authorization: Bearer crk_…`), reaches only that operator's
//! players, and counts against that operator's `requests_per_second` on this node.
//!
//! | route | file |
//! |---|---|
//! | `POST /v1/operator/launch` | `launch.rs`: a session and a launch URL for a player |
//! | `POST /v1/operator/players/{id}/deposits`, `/withdrawals`, `GET …/balance` | `money.rs` |
//! | `GET /v1/operator/players/{id}/statement` | `statement.rs`: movements between two times, paged |
//! | `GET /v1/operator/rounds/{id}`, `POST …/void` | `rounds.rs`: a round's whole record; refund an open one |
//! | `POST`, `GET /v1/operator/players/{id}/free-rounds`, `GET`, `DELETE …/{campaign}` | `free_rounds.rs`: grant, list, one grant's events, cancel |
//! | `POST /v1/operator/sessions/revoke` | `revoke.rs` |
//! | `POST`, `GET /v1/operator/players/{id}/exclusion` | `exclusion.rs`: time-outs and self-exclusions |
//! | `POST`, `GET /v1/operator/players/{id}/limits` | `limits.rs`: loss, wager, deposit and session-time limits |
//! | `GET /v1/operator/players/{id}/harm-flags` | `harm_flags.rs`: the harm flags a player's sessions raised |
//! | `GET /v1/operator/ledger/heads` | `ledger_heads.rs`: the heads of the players' tamper-evident chains, paged |
//! | `GET /v1/operator/openapi.json` | here: the OpenAPI 3 document, generated from the handlers |
//!
//! Every answer is JSON; every error is `{"code", "message"}` with a stable code, and a
//! refused call changes nothing (docs/operator-api.md).

use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::{web, HttpRequest};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::HttpError;
use crate::app::App;
use crate::auth::AuthError;
use crate::ids::{PlayerId, PlayerName};
use crate::operator::Operator;

mod exclusion;
mod free_rounds;
mod harm_flags;
mod launch;
mod ledger_heads;
mod limits;
mod money;
mod revoke;
mod rounds;
mod statement;

/// Who is calling, checked: the operator of the key, within its rate.
pub(super) struct Caller(pub Arc<Operator>);

impl Caller {
    /// The account of the operator's player named in a path or body: only its own players.
    pub fn player(&self, name: &str) -> Result<PlayerId, HttpError> {
        let name = PlayerName::parse(name).map_err(|e| HttpError::BadRequest(e.to_string()))?;
        Ok(PlayerId::of(&self.0.id, &name))
    }

    /// The account of `player` (one of this operator's), or `404 unknown_player`.
    pub async fn account(
        &self,
        app: &crate::app::App,
        player: &PlayerId,
    ) -> Result<crate::wallet::Account, HttpError> {
        app.wallet
            .ledger()
            .account(player)
            .await?
            .ok_or_else(|| HttpError::UnknownPlayer(format!("no player {}", player.name())))
    }

    /// The currency `code` if this operator may use it.
    pub fn currency(&self, code: &str) -> Result<crate::money::Currency, HttpError> {
        self.0.currency(code).cloned().ok_or_else(|| {
            HttpError::CurrencyNotAllowed(format!(
                "operator {} may not use {code:?} (its currencies: {})",
                self.0.id,
                self.0
                    .currencies
                    .iter()
                    .map(|c| c.code())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

/// Each operator's request budget on this node. The operators themselves are read from the
/// play in force at every call, so a reload's new keys and rates hold from the next request.
#[derive(Default)]
pub struct OperatorDoor {
    /// By operator id: the rate the budget was made for, and the budget. Bounded by the
    /// operators file (`MAX_OPERATORS`); a removed operator's entry is never used again.
    budgets: dashmap::DashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>,
}

impl OperatorDoor {
    pub fn new() -> OperatorDoor {
        OperatorDoor::default()
    }

    /// The calling operator, from the request's bearer key; refused past its rate.
    fn admit(&self, app: &App, req: &HttpRequest) -> Result<Caller, HttpError> {
        let key = super::bearer(req).unwrap_or("");
        let operator = app
            .play()
            .operators
            .authenticate(key)
            .cloned()
            .ok_or(AuthError::BadKey)?;
        let rate = operator.requests_per_second;
        let budget = {
            let mut entry = self
                .budgets
                .entry(operator.id.to_string())
                .or_insert_with(|| (rate, Arc::new(budget(rate))));
            if entry.0 != rate {
                *entry = (rate, Arc::new(budget(rate)));
            }
            entry.1.clone()
        };
        if budget.check().is_err() {
            return Err(HttpError::OverRate(rate));
        }
        Ok(Caller(operator))
    }
}

fn budget(per_second: u32) -> DefaultDirectRateLimiter {
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct(Quota::per_second(rate))
}

/// Every error the API answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code (docs/operator-api.md).
    #[schema(example = "idempotency_conflict")]
    code: String,
    message: String,
}

/// The bearer scheme of operator keys.
struct OperatorKey;

impl utoipa::Modify for OperatorKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The operator API's OpenAPI 3 document, generated from the handlers' own declarations and
/// the types they read and answer; served at `/v1/operator/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "croupier operator API",
        description = "Launch, money in and out, statements, round recall and void, free \
                       rounds, sessions, ledger checkpoints. \
                       Every call carries `Authorization: Bearer <operator key>`. docs/operator-api.md"
    ),
    paths(
        launch::launch,
        money::deposit,
        money::withdraw,
        money::balance,
        statement::statement,
        rounds::recall,
        rounds::void,
        free_rounds::grant,
        free_rounds::list,
        free_rounds::detail,
        free_rounds::cancel,
        revoke::revoke_sessions,
        exclusion::exclude,
        exclusion::exclusion,
        limits::set,
        limits::get,
        harm_flags::list,
        ledger_heads::heads,
    ),
    modifiers(&OperatorKey)
)]
pub struct OperatorApiDoc;

async fn openapi() -> actix_web::HttpResponse {
    use utoipa::OpenApi;
    actix_web::HttpResponse::Ok().json(OperatorApiDoc::openapi())
}

/// Reads the JSON body of an operator call into `T`, saying what was wrong with it.
fn parse_body<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, HttpError> {
    serde_json::from_slice(body).map_err(|e| HttpError::BadRequest(format!("invalid {what}: {e}")))
}

/// The operator API's routes, for the operator listener's app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/operator/openapi.json", web::get().to(openapi))
        .route("/v1/operator/launch", web::post().to(launch::launch))
        .route(
            "/v1/operator/players/{player}/deposits",
            web::post().to(money::deposit),
        )
        .route(
            "/v1/operator/players/{player}/withdrawals",
            web::post().to(money::withdraw),
        )
        .route(
            "/v1/operator/players/{player}/balance",
            web::get().to(money::balance),
        )
        .route(
            "/v1/operator/players/{player}/statement",
            web::get().to(statement::statement),
        )
        .route("/v1/operator/rounds/{round}", web::get().to(rounds::recall))
        .route(
            "/v1/operator/rounds/{round}/void",
            web::post().to(rounds::void),
        )
        .route(
            "/v1/operator/players/{player}/free-rounds",
            web::post().to(free_rounds::grant),
        )
        .route(
            "/v1/operator/players/{player}/free-rounds",
            web::get().to(free_rounds::list),
        )
        .route(
            "/v1/operator/players/{player}/free-rounds/{campaign}",
            web::get().to(free_rounds::detail),
        )
        .route(
            "/v1/operator/players/{player}/free-rounds/{campaign}",
            web::delete().to(free_rounds::cancel),
        )
        .route(
            "/v1/operator/sessions/revoke",
            web::post().to(revoke::revoke_sessions),
        )
        .route(
            "/v1/operator/players/{player}/exclusion",
            web::post().to(exclusion::exclude),
        )
        .route(
            "/v1/operator/players/{player}/exclusion",
            web::get().to(exclusion::exclusion),
        )
        .route(
            "/v1/operator/players/{player}/limits",
            web::post().to(limits::set),
        )
        .route(
            "/v1/operator/players/{player}/limits",
            web::get().to(limits::get),
        )
        .route(
            "/v1/operator/players/{player}/harm-flags",
            web::get().to(harm_flags::list),
        )
        .route(
            "/v1/operator/ledger/heads",
            web::get().to(ledger_heads::heads),
        );
}
