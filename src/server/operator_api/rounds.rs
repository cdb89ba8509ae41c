//! One round, for a complaint or a regulator: `GET /v1/operator/rounds/{round_id}` (the whole
//! record: game or table, stake, the RNG's draws and what they showed, win, jackpot share and
//! awards, every ledger entry, times, node) and `POST /v1/operator/rounds/{round_id}/void`
//! (refund a round still open, exactly once). Only rounds of the operator's own players; any
//! other answers `404 unknown_round`, like a round that does not exist.

use actix_web::{web, HttpRequest, HttpResponse};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{Caller, OperatorDoor};
use crate::app::App;
use crate::ids::RoundId;
use crate::money::{minor_text, Currency};
use crate::server::HttpError;
use crate::wallet::{Applied, Entry, Movement, MovementError, RoundRecall, WalletError};

/// A ledger entry as the operator API shows it.
pub(super) fn entry_view(entry: &Entry, currency: &Currency) -> Value {
    json!({
        "seq": entry.seq,
        "transaction_id": entry.tx_id,
        "kind": entry.kind.as_str(),
        "amount": minor_text(entry.amount_minor, currency),
        "balance_after": minor_text(entry.balance_after_minor, currency),
        "round_id": entry.round_id,
        "created_at_ms": entry.created_at_ms,
    })
}

/// Micro-units (millionths of a minor unit) as a decimal amount of the currency.
fn micro_text(micro: i64, currency: &Currency) -> String {
    (Decimal::new(micro, 6) * currency.minor_unit())
        .normalize()
        .to_string()
}

/// The draws the RNG made for a round, as stored: a slot's reel stops (one per reel, in reel
/// order), a table bet's result (the round's pocket or coup).
fn draws(app: &App, recall: &RoundRecall, outcome: &Value) -> Value {
    if app.games.slot(&recall.round.game).is_some() {
        return json!({ "reel_stops": outcome.get("stops") });
    }
    json!({ "table_result": outcome.get("result") })
}

fn recall_view(app: &App, recall: &RoundRecall, currency: &Currency) -> Value {
    let r = &recall.round;
    let outcome: Value = r
        .outcome_json
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    json!({
        "round_id": r.round_id.as_str(),
        "player_id": r.player.name(),
        "game": r.game,
        "kind": if app.games.slot(&r.game).is_some() { "slot" } else { "table" },
        "status": r.status.as_str(),
        "currency": currency.code(),
        "bet": minor_text(r.bet_minor, currency),
        "stake": minor_text(r.stake_minor, currency),
        "win": minor_text(r.win_minor, currency),
        "free_spin": r.free_spin,
        "multiplier": r.multiplier,
        "balance_after": minor_text(r.balance_after_minor, currency),
        "draws": draws(app, recall, &outcome),
        "outcome": outcome,
        "jackpot": {
            "pool": recall.jackpot_pool,
            "contribution": micro_text(recall.jackpot_micro, currency),
            "awards": recall.awards.iter().map(|w| json!({
                "pool": w.pool, "level": w.level, "cycle": w.cycle,
                "amount": minor_text(w.amount_minor, currency), "reason": w.reason.as_str(),
            })).collect::<Vec<_>>(),
        },
        "entries": recall.entries.iter().map(|e| entry_view(e, currency)).collect::<Vec<_>>(),
        "created_at_ms": r.created_at_ms,
        "settled_at_ms": recall.settled_at_ms,
        "node": r.node,
    })
}

/// The round if it is one of the caller's players', with the currency it played in.
async fn own_round(
    app: &App,
    caller: &Caller,
    round_id: &str,
) -> Result<(RoundRecall, Currency), HttpError> {
    let unknown = || HttpError::UnknownRound(format!("no round {round_id}"));
    let id = RoundId::parse(round_id).map_err(|e| HttpError::BadRequest(e.to_string()))?;
    let ledger = app.wallet.ledger();
    let recall = ledger.recall(&id).await?.ok_or_else(unknown)?;
    if recall.round.player.operator() != Some(caller.0.id.as_str()) {
        return Err(unknown());
    }
    let account = ledger
        .account(&recall.round.player)
        .await?
        .ok_or_else(unknown)?;
    let currency = app.currencies.get(&account.currency)?;
    Ok((recall, currency))
}

pub(super) async fn recall(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&req)?;
    let (recall, currency) = own_round(&app, &caller, &path).await?;
    Ok(HttpResponse::Ok().json(recall_view(&app, &recall, &currency)))
}

pub(super) async fn void(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&req)?;
    let (recall, currency) = own_round(&app, &caller, &path).await?;
    let round = &recall.round;
    let movement = Movement::VoidRound {
        round_id: round.round_id.clone(),
        player: round.player.clone(),
    };
    let replayed = match app.wallet.apply(movement).await {
        Ok(Applied::RoundVoided { replayed, .. }) => replayed,
        Ok(other) => return Err(HttpError::Unexpected(format!("void answered {other:?}"))),
        Err(WalletError::Refused(MovementError::RoundNotOpen(_))) => {
            return Err(HttpError::RoundNotOpen(format!(
                "round {} is {}: only an open round can be voided",
                round.round_id,
                round.status.as_str()
            )))
        }
        Err(other) => return Err(other.into()),
    };
    tracing::info!(operator = %caller.0.id, round = %round.round_id, replayed, "round voided by the operator");
    let (recall, _) = own_round(&app, &caller, &path).await?;
    let mut response = HttpResponse::Ok();
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(recall_view(&app, &recall, &currency)))
}
