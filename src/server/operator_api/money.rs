//! Money in and out of a transfer wallet: `POST …/deposits`, `POST …/withdrawals` and
//! `GET …/balance` of one of the operator's players; and [`apply`], how every operator
//! movement is applied (tried again on a failed batch, a conflict answered as such).
//!
//! Exactly once by the operator's own `transaction_id`, like Stripe's idempotency keys: the
//! same id with the same body answers the first answer again (with `Idempotent-Replayed:
//! true`), after a restart and from any node, since the ledger entry is the record; the same
//! id with another body (player, direction, amount) is `409 idempotency_conflict`. A call the
//! ledger refused (insufficient funds) moved nothing and used no id up.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{parse_body, Caller, OperatorDoor};
use crate::app::App;
use crate::ids::{PlayerId, ReqId};
use crate::money::{Currency, Money};
use crate::server::HttpError;
use crate::wallet::{Applied, Movement, MovementError, WalletError, WalletFailure};

/// Tries of one movement whose batch failed in the database (a conflicting concurrent batch on
/// another node): the movement is idempotent, so trying again is safe, and the next try finds
/// the first one's entry.
const TRANSFER_ATTEMPTS: u32 = 3;
/// Pause between those tries.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// A deposit or a withdrawal.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Transfer {
    /// The operator's own id of this transfer: 1-64 of `A-Z a-z 0-9 _ . : -`, unique within
    /// the operator; the idempotency key.
    #[schema(example = "op-7781")]
    transaction_id: String,
    /// A positive decimal string at the currency's scale.
    #[schema(example = "50.00")]
    amount: String,
    #[schema(example = "EUR")]
    currency: String,
}

/// A transfer as the ledger applied it (the first time, or again for a replay).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct TransferAnswer {
    transaction_id: String,
    player_id: String,
    currency: String,
    amount: String,
    /// The balance this transfer left.
    balance: String,
}

/// A player's balance.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct BalanceAnswer {
    player_id: String,
    currency: String,
    balance: String,
}

/// A checked transfer request: its ledger transaction id, account, currency and amount.
struct Checked {
    transaction_id: ReqId,
    player: PlayerId,
    currency: Currency,
    amount: Money,
}

impl Checked {
    fn read(caller: &Caller, player: &str, body: &[u8]) -> Result<Checked, HttpError> {
        let player = caller.player(player)?;
        let request: Transfer = parse_body("transfer", body)?;
        let transaction_id = ReqId::parse(&request.transaction_id).map_err(|e| {
            HttpError::BadRequest(e.to_string().replacen("req_id", "transaction_id", 1))
        })?;
        let currency = caller.currency(&request.currency)?;
        let amount = Money::parse_positive(&request.amount, &currency)?;
        Ok(Checked {
            transaction_id,
            player,
            currency,
            amount,
        })
    }

    /// The ledger's id of this transfer: the operator's id, namespaced by operator.
    fn ledger_tx(&self) -> String {
        let operator = self.player.operator().unwrap_or_default();
        format!("operator:{operator}:{}", self.transaction_id)
    }

    fn answer(&self, balance_minor: i64, replayed: bool) -> Result<HttpResponse, HttpError> {
        let balance = Money::from_minor(balance_minor, &self.currency)?;
        let mut response = HttpResponse::Created();
        if replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        Ok(response.json(TransferAnswer {
            transaction_id: self.transaction_id.to_string(),
            player_id: self.player.name().to_string(),
            currency: self.currency.code().to_string(),
            amount: self.amount.to_string(),
            balance: balance.to_string(),
        }))
    }
}

/// The account's currency must be the request's: money never changes currency here.
pub(super) fn same_currency(
    player: &PlayerId,
    held: &str,
    asked: &Currency,
) -> Result<(), HttpError> {
    if held == asked.code() {
        return Ok(());
    }
    Err(HttpError::WrongCurrency(format!(
        "player {} holds {held}, not {}",
        player.name(),
        asked.code()
    )))
}

/// Applies an operator's movement, trying again when its batch failed in the database (it is
/// idempotent); a conflict answers `idempotency_conflict` with `conflict()`'s message.
pub(super) async fn apply(
    app: &App,
    movement: Movement,
    conflict: impl Fn() -> String,
) -> Result<Applied, HttpError> {
    let mut attempt = 1;
    loop {
        match app.wallet.apply(movement.clone()).await {
            Err(WalletError::Failed(WalletFailure::Unavailable(why)))
                if attempt < TRANSFER_ATTEMPTS =>
            {
                tracing::warn!(%why, attempt, "transfer batch failed; trying again");
                attempt += 1;
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(WalletError::Refused(MovementError::TxConflict(_))) => {
                return Err(HttpError::IdempotencyConflict(conflict()))
            }
            Err(WalletError::Refused(MovementError::UnknownAccount(_))) => {
                return Err(HttpError::UnknownPlayer("no such player".into()))
            }
            other => return Ok(other?),
        }
    }
}

/// Which way a transfer goes: its ledger movement and how the ledger answers it.
#[derive(Clone, Copy)]
enum Way {
    Deposit,
    Withdrawal,
}

/// Money in: credits the player (creating the account in this currency if it is new).
#[utoipa::path(
    post,
    path = "/v1/operator/players/{player}/deposits",
    tag = "money",
    params(("player" = String, Path, description = "the operator's player")),
    request_body = Transfer,
    responses(
        (status = 201, description = "applied, or the first answer again (header Idempotent-Replayed: true)", body = TransferAnswer),
        (status = 400, description = "bad body, amount or id; wrong_currency", body = super::ErrorBody),
        (status = 403, description = "currency_not_allowed", body = super::ErrorBody),
        (status = 409, description = "idempotency_conflict", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn deposit(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    move_money(&app, &door, &req, &path, payload, Way::Deposit).await
}

/// Money out: debits the player, never below zero.
#[utoipa::path(
    post,
    path = "/v1/operator/players/{player}/withdrawals",
    tag = "money",
    params(("player" = String, Path, description = "the operator's player")),
    request_body = Transfer,
    responses(
        (status = 201, description = "applied, or the first answer again (header Idempotent-Replayed: true)", body = TransferAnswer),
        (status = 400, description = "bad body, amount or id; wrong_currency", body = super::ErrorBody),
        (status = 404, description = "unknown_player", body = super::ErrorBody),
        (status = 409, description = "idempotency_conflict, insufficient_funds", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn withdraw(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    move_money(&app, &door, &req, &path, payload, Way::Withdrawal).await
}

async fn move_money(
    app: &App,
    door: &OperatorDoor,
    req: &HttpRequest,
    player: &str,
    payload: web::Payload,
    way: Way,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(app, req)?;
    let body = crate::server::read_body(app, payload).await?;
    let t = Checked::read(&caller, player, &body)?;
    let ledger = app.wallet.ledger();
    let account = match way {
        // A deposit opens the account in its currency (an operator funds before it launches).
        Way::Deposit => ledger.ensure_account(&t.player, t.currency.code()).await?,
        Way::Withdrawal => caller.account(app, &t.player).await?,
    };
    same_currency(&t.player, &account.currency, &t.currency)?;
    let (tx_id, player, amount_minor) = (t.ledger_tx(), t.player.clone(), t.amount.minor());
    let movement = match way {
        Way::Deposit => Movement::Deposit {
            tx_id,
            player,
            amount_minor,
        },
        Way::Withdrawal => Movement::Withdraw {
            tx_id,
            player,
            amount_minor,
        },
    };
    let conflict = || {
        format!(
            "transaction {} was already used with another player, direction or amount",
            t.transaction_id
        )
    };
    let applied = match apply(app, movement, conflict).await {
        Err(HttpError::Wallet(WalletError::Refused(MovementError::LimitReached {
            kind,
            period,
            limit,
            resets_at_ms,
        }))) => {
            let hit = crate::limits::hit_view(kind, period, limit, resets_at_ms, &t.currency);
            return Err(HttpError::LimitReached(crate::limits::describe(
                &hit,
                &t.currency,
            )));
        }
        other => other?,
    };
    match (way, applied) {
        (
            Way::Deposit,
            Applied::Deposited {
                balance_minor,
                replayed,
            },
        )
        | (
            Way::Withdrawal,
            Applied::Withdrawn {
                balance_minor,
                replayed,
            },
        ) => t.answer(balance_minor, replayed),
        (_, other) => Err(HttpError::Unexpected(format!(
            "a transfer answered {other:?}"
        ))),
    }
}

/// The player's balance.
#[utoipa::path(
    get,
    path = "/v1/operator/players/{player}/balance",
    tag = "money",
    params(("player" = String, Path, description = "the operator's player")),
    responses(
        (status = 200, body = BalanceAnswer),
        (status = 404, description = "unknown_player", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn balance(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let player = caller.player(&path)?;
    let account = caller.account(&app, &player).await?;
    let currency = app.currencies.get(&account.currency)?;
    Ok(HttpResponse::Ok().json(BalanceAnswer {
        player_id: player.name().to_string(),
        currency: currency.code().to_string(),
        balance: Money::from_minor(account.balance_minor, &currency)?.to_string(),
    }))
}
