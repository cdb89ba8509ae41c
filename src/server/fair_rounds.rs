//! `GET /v1/fair/rounds/{round_id}` on the players' listener: a provably fair round checked
//! against its revealed seed (`fair::verify`), for anyone holding the round's id. It names no
//! player and shows nothing the round's player was not shown; a round whose seed is still in
//! force answers 409 `seed_not_revealed` (the seed stays secret until its player rotates it).

use actix_web::{web, HttpResponse};

use super::HttpError;
use crate::app::App;
use crate::fair::verify::{verify, VerifyError};
use crate::ids::RoundId;

pub async fn verify_round(
    app: web::Data<App>,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let round_id = RoundId::parse(&path).map_err(|e| HttpError::BadRequest(e.to_string()))?;
    let unknown = || HttpError::UnknownRound(format!("no provably fair round {round_id}"));
    let ledger = app.wallet.ledger();
    let fair = ledger.fair_round(&round_id).await?.ok_or_else(unknown)?;
    let account = ledger
        .account(&fair.round.player)
        .await?
        .ok_or_else(unknown)?;
    let currency = app
        .currencies
        .get(&account.currency)
        .map_err(|e| HttpError::Unexpected(format!("currency {}: {e}", account.currency)))?;
    match verify(&app.play().games, &fair, &currency, None) {
        Ok(verdict) => Ok(HttpResponse::Ok().json(verdict)),
        Err(e @ VerifyError::NotRevealed(_)) => Err(HttpError::SeedNotRevealed(e.to_string())),
        Err(VerifyError::UnknownGame { game, .. }) => Err(HttpError::UnknownGame(game)),
        Err(e) => Err(HttpError::Unexpected(e.to_string())),
    }
}
