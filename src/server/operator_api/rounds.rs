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
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct EntryView {
    seq: i64,
    transaction_id: String,
    /// `deposit`, `withdrawal`, `bet`, `win`, `refund` or `jackpot`.
    kind: &'static str,
    /// Signed: negative for a bet or a withdrawal.
    amount: String,
    balance_after: String,
    round_id: Option<String>,
    created_at_ms: i64,
}

impl EntryView {
    pub(super) fn of(entry: &Entry, currency: &Currency) -> EntryView {
        EntryView {
            seq: entry.seq,
            transaction_id: entry.tx_id.clone(),
            kind: entry.kind.as_str(),
            amount: minor_text(entry.amount_minor, currency),
            balance_after: minor_text(entry.balance_after_minor, currency),
            round_id: entry.round_id.clone(),
            created_at_ms: entry.created_at_ms,
        }
    }
}

/// A jackpot level the round won.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct AwardView {
    pool: String,
    level: String,
    cycle: i64,
    amount: String,
    /// `trigger`, `mystery` or `ceiling`.
    reason: &'static str,
}

/// What the round's bet gave its pool, and what it won.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct JackpotView {
    pool: Option<String>,
    /// Exact: fractions of a minor unit kept.
    contribution: String,
    awards: Vec<AwardView>,
}

/// The whole record of one round.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct RecallAnswer {
    round_id: String,
    player_id: String,
    /// The slot game or the live table.
    game: String,
    /// `slot` or `table`.
    kind: &'static str,
    /// `open`, `settled` or `void`.
    status: &'static str,
    currency: String,
    bet: String,
    stake: String,
    win: String,
    /// One of the game's own free spins (from a scatter).
    free_spin: bool,
    multiplier: u32,
    /// The operator's campaign, when the round was one of its free rounds (nothing debited,
    /// `stake` is the campaign's bet).
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<String>,
    balance_after: String,
    /// The RNG's draws: `{"reel_stops": [...]}` for a slot, `{"table_result": ...}` for a table
    /// bet; with `"jackpot"`, each level's draw when the round fed a pool (its trigger, and its
    /// mystery draw: the odds `numerator / denominator` and the value `drawn` in
    /// `0..denominator`, a hit when below the numerator).
    #[schema(value_type = Object)]
    draws: Value,
    /// What the draws showed, as stored (a slot's `spin_result.outcome`; a table bet's bet and result).
    #[schema(value_type = Object)]
    outcome: Value,
    jackpot: JackpotView,
    entries: Vec<EntryView>,
    created_at_ms: i64,
    settled_at_ms: Option<i64>,
    node: Option<String>,
}

/// Micro-units (millionths of a minor unit) as a decimal amount of the currency.
fn micro_text(micro: i64, currency: &Currency) -> String {
    (Decimal::new(micro, 6) * currency.minor_unit())
        .normalize()
        .to_string()
}

fn recall_view(app: &App, recall: &RoundRecall, currency: &Currency) -> RecallAnswer {
    let r = &recall.round;
    let outcome: Value = r
        .outcome_json
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let slot = app.play().games.slot(&r.game).is_some();
    // A slot stores its reel stops, a table bet its round's result: the RNG's draws; and the
    // jackpot draws of a round that fed a pool.
    let mut draws = if slot {
        json!({ "reel_stops": outcome.get("stops") })
    } else {
        json!({ "table_result": outcome.get("result") })
    };
    if !recall.jackpot_draws.is_empty() {
        draws["jackpot"] = json!(recall.jackpot_draws);
    }
    RecallAnswer {
        round_id: r.round_id.to_string(),
        player_id: r.player.name().to_string(),
        game: r.game.clone(),
        kind: if slot { "slot" } else { "table" },
        status: r.status.as_str(),
        currency: currency.code().to_string(),
        bet: minor_text(r.bet_minor, currency),
        stake: minor_text(r.stake_minor, currency),
        win: minor_text(r.win_minor, currency),
        free_spin: r.free_spin,
        multiplier: r.multiplier,
        campaign: r.campaign.clone(),
        balance_after: minor_text(r.balance_after_minor, currency),
        draws,
        outcome,
        jackpot: JackpotView {
            pool: recall.jackpot_pool.clone(),
            contribution: micro_text(recall.jackpot_micro, currency),
            awards: recall
                .awards
                .iter()
                .map(|w| AwardView {
                    pool: w.pool.clone(),
                    level: w.level.clone(),
                    cycle: w.cycle,
                    amount: minor_text(w.amount_minor, currency),
                    reason: w.reason.as_str(),
                })
                .collect(),
        },
        entries: recall
            .entries
            .iter()
            .map(|e| EntryView::of(e, currency))
            .collect(),
        created_at_ms: r.created_at_ms,
        settled_at_ms: recall.settled_at_ms,
        node: r.node.clone(),
    }
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

/// The whole record of one round of the operator's players.
#[utoipa::path(
    get,
    path = "/v1/operator/rounds/{round_id}",
    tag = "rounds",
    params(("round_id" = String, Path, description = "a round id from a statement or a frame")),
    responses(
        (status = 200, body = RecallAnswer),
        (status = 404, description = "unknown_round", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn recall(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let (recall, currency) = own_round(&app, &caller, &path).await?;
    Ok(HttpResponse::Ok().json(recall_view(&app, &recall, &currency)))
}

/// Refunds a round that is still open, exactly once; answers the round as it now is.
#[utoipa::path(
    post,
    path = "/v1/operator/rounds/{round_id}/void",
    tag = "rounds",
    params(("round_id" = String, Path, description = "the open round")),
    responses(
        (status = 200, description = "voided, or voided before (header Idempotent-Replayed: true)", body = RecallAnswer),
        (status = 404, description = "unknown_round", body = super::ErrorBody),
        (status = 409, description = "round_not_open", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn void(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
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
