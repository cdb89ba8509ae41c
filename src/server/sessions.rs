//! `POST /v1/sessions`: who may open which session. Two doors:
//!
//! - **The operator** (`Authorization: Bearer <auth.operator_key>`) opens a real session for a
//!   player it names, in the player's currency; no money is added.
//! - **Demo play** (no key, `auth.demo_mode` on): the server chooses a fresh demo player
//!   (`demo-<32 hex>`), funds it once with `auth.demo_balance`, and answers its token; only
//!   that token resumes it. A caller cannot name a player, and no real player can be a demo
//!   one: ids starting with `demo-` are refused at the operator's door.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::HttpError;
use crate::app::App;
use crate::auth::{operator_key_matches, AuthError};
use crate::ids::PlayerId;
use crate::money::Money;
use crate::wallet::{Applied, Movement};

/// Every demo player's id starts with this; operators cannot open players named so.
pub const DEMO_PREFIX: &str = "demo-";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSession {
    player_id: Option<String>,
    currency: Option<String>,
}

/// Whether a player id belongs to demo play.
pub fn is_demo(player: &PlayerId) -> bool {
    player.as_str().starts_with(DEMO_PREFIX)
}

/// A fresh demo player id (random, never chosen by a caller).
fn new_demo_player() -> PlayerId {
    let id = format!("{DEMO_PREFIX}{}", uuid::Uuid::new_v4().simple());
    PlayerId::parse(&id).expect("demo- and 32 hex digits make a valid player id")
}

pub(super) async fn open_session(
    app: web::Data<App>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    if !app.is_ready() {
        return Err(HttpError::NotReady);
    }
    let operator = req.headers().contains_key("authorization");
    if operator {
        check_operator(&app, &req)?;
    } else if !app.config.auth.demo_mode {
        return Err(AuthError::BadOperatorKey.into());
    }
    let body = super::read_body(&app, payload).await?;
    let request: NewSession = if body.is_empty() && !operator {
        NewSession {
            player_id: None,
            currency: None,
        }
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| HttpError::BadRequest(format!("invalid session request: {e}")))?
    };
    let player = match (operator, request.player_id) {
        (true, Some(id)) => {
            let player = PlayerId::parse(&id).map_err(|e| HttpError::BadRequest(e.to_string()))?;
            if is_demo(&player) {
                return Err(HttpError::BadRequest(format!(
                    "player ids starting with {DEMO_PREFIX} belong to demo play"
                )));
            }
            player
        }
        (true, None) => {
            return Err(HttpError::BadRequest(
                "invalid session request: player_id is required".into(),
            ))
        }
        (false, None) => {
            // Each demo sign-up creates and funds an account: bounded per address and node.
            app.admission.signup(req.peer_addr().map(|a| a.ip()))?;
            new_demo_player()
        }
        (false, Some(_)) => {
            return Err(HttpError::BadRequest(
                "demo mode chooses the player id: send no player_id (a demo player is resumed \
                 with its token)"
                    .into(),
            ))
        }
    };
    let demo = !operator;
    let currency_code = request
        .currency
        .unwrap_or_else(|| app.demo_currency.code().to_string());
    let currency = app.currencies.get(&currency_code)?;
    let ledger = app.wallet.ledger();
    let account = ledger.ensure_account(&player, currency.code()).await?;
    if account.currency != currency.code() {
        return Err(HttpError::BadRequest(format!(
            "player {player} plays in {}, not {}",
            account.currency,
            currency.code()
        )));
    }
    let mut balance_minor = account.balance_minor;
    if demo {
        // Fun money once per demo player: the deposit's transaction id makes it exactly-once.
        let amount = Money::parse(&app.config.auth.demo_balance, &currency)?;
        if !amount.is_zero() {
            let deposit = Movement::Deposit {
                tx_id: format!("demo:{player}"),
                player: player.clone(),
                amount_minor: amount.minor(),
            };
            if let Applied::Deposited {
                replayed: false,
                balance_minor: b,
            } = app.wallet.apply(deposit).await?
            {
                balance_minor = b;
            }
        }
    }
    let (token, claims) = app.tokens.issue(&player, currency.code(), demo)?;
    let record = crate::cluster::SessionRecord {
        session_id: claims.sid.clone(),
        player: player.clone(),
        currency: currency.code().to_string(),
        opened_at_ms: crate::clock::now_ms(),
        expires_at: claims.exp,
    };
    app.shared.open_session(&record).await?;
    app.metrics.server.sessions_opened.inc();
    Ok(HttpResponse::Created().json(serde_json::json!({
        "token": token,
        "player_id": player.as_str(),
        "currency": currency.code(),
        "demo": demo,
        "balance": Money::from_minor(balance_minor, &currency)?.to_string(),
        "expires_at": claims.exp,
    })))
}

fn bearer_matches(req: &HttpRequest, key: &str) -> Result<(), HttpError> {
    let given = super::bearer(req).unwrap_or("");
    if operator_key_matches(given, key) {
        Ok(())
    } else {
        Err(AuthError::BadOperatorKey.into())
    }
}

/// The operator's back end: opening real sessions, revoking them (`auth.operator_key`).
pub(super) fn check_operator(app: &App, req: &HttpRequest) -> Result<(), HttpError> {
    bearer_matches(req, &app.config.auth.operator_key)
}

/// Node administration on the admin listener: draining, presence (`auth.admin_key`).
pub(super) fn check_admin(app: &App, req: &HttpRequest) -> Result<(), HttpError> {
    bearer_matches(req, &app.config.auth.admin_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_players_are_fresh_and_marked() {
        let a = new_demo_player();
        let b = new_demo_player();
        assert_ne!(a, b);
        assert!(is_demo(&a) && is_demo(&b));
        assert!(!is_demo(&PlayerId::parse("alice").unwrap()));
        assert!(!is_demo(&PlayerId::parse("demo").unwrap()));
    }
}
