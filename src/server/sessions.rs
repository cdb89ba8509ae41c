//! Opening sessions. Two doors, one way to start a session ([`start_session`]):
//!
//! - **Demo play** (`POST /v1/sessions`, no key, `auth.demo_mode` on): the server chooses a
//!   fresh demo player (`demo-<32 hex>`), funds it once with `auth.demo_balance`, and answers
//!   its token; only that token resumes it. A caller cannot name a player.
//! - **An operator's launch** (`POST /v1/operator/launch` on the operator listener,
//!   `operator_api::launch`): a real session for the operator's own player, whose account is
//!   `<operator>:<player>`, or a demo session for it. No demo player has an operator, and no
//!   operator's player is a demo one.
//!
//! Also here: the admin key check of the admin listener.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::HttpError;
use crate::app::App;
use crate::auth::{key_matches, AuthError};
use crate::ids::PlayerId;
use crate::money::{Currency, Money};
use crate::wallet::{Applied, Movement};
use croupier_core::jurisdiction::AgeBand;

/// Every demo player's id starts with this; an operator's player ids never do (they are
/// `<operator>:<player>`).
pub const DEMO_PREFIX: &str = "demo-";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSession {
    player_id: Option<String>,
    currency: Option<String>,
}

/// A fresh demo player id (random, never chosen by a caller).
fn new_demo_player() -> PlayerId {
    let id = format!("{DEMO_PREFIX}{}", uuid::Uuid::new_v4().simple());
    PlayerId::parse(&id).expect("demo- and 32 hex digits make a valid player id")
}

/// A session that has just been opened: its token and what it was opened for.
pub(super) struct Started {
    pub token: String,
    pub player: PlayerId,
    pub currency: Currency,
    pub demo: bool,
    pub balance: Money,
    pub expires_at: u64,
}

/// Opens a session for `player` in `currency`: creates the account if it is new (refusing a
/// player who plays in another currency), funds a demo player once, signs the token and
/// records the session for every node.
pub(super) async fn start_session(
    app: &App,
    player: PlayerId,
    currency: Currency,
    demo: bool,
    jurisdiction: Jurisdiction,
) -> Result<Started, HttpError> {
    // A session its profile cannot serve (a capped market in another currency, an age band
    // missing) is refused before anything is created.
    crate::jurisdiction::session_rules(
        &app.play().profiles,
        &jurisdiction.profile,
        &currency,
        jurisdiction.age_band,
    )?;
    let ledger = app.wallet.ledger();
    let account = ledger.ensure_account(&player, currency.code()).await?;
    if account.currency != currency.code() {
        return Err(HttpError::WrongCurrency(format!(
            "player {} plays in {}, not {}",
            player.name(),
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
        profile: jurisdiction.profile,
        age_band: jurisdiction.age_band,
    };
    app.shared.open_session(&record).await?;
    app.metrics.server.sessions_opened.inc();
    Ok(Started {
        token,
        balance: Money::from_minor(balance_minor, &currency)?,
        player,
        currency,
        demo,
        expires_at: claims.exp,
    })
}

/// The jurisdiction a session opens under: a profile of the jurisdictions file and the
/// player's age band if the launch gave it.
pub(super) struct Jurisdiction {
    pub profile: String,
    pub age_band: Option<AgeBand>,
}

impl Jurisdiction {
    /// The default profile: demo sign-ups on the players' listener.
    fn default_profile() -> Jurisdiction {
        Jurisdiction {
            profile: croupier_core::jurisdiction::DEFAULT_PROFILE.to_string(),
            age_band: None,
        }
    }
}

/// A fresh, funded demo player's session (`currency`: the demo currency when `None`); each
/// sign-up creates and funds an account, so it is bounded per address and node. A launched
/// demo plays under the launch's jurisdiction; a sign-up under the default one.
pub(super) async fn start_demo(
    app: &App,
    currency: Option<&str>,
    peer: Option<std::net::IpAddr>,
    jurisdiction: Option<Jurisdiction>,
) -> Result<Started, HttpError> {
    if !app.config.auth.demo_mode {
        return Err(HttpError::BadRequest(
            "demo play is off on this deployment (auth.demo_mode)".into(),
        ));
    }
    let currency = app
        .currencies
        .get(currency.unwrap_or(app.demo_currency.code()))?;
    let jurisdiction = jurisdiction.unwrap_or_else(Jurisdiction::default_profile);
    app.admission.signup(peer)?;
    start_session(app, new_demo_player(), currency, true, jurisdiction).await
}

pub(super) async fn open_session(
    app: web::Data<App>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    if !app.is_ready() {
        return Err(HttpError::NotReady);
    }
    if req.headers().contains_key("authorization") {
        return Err(HttpError::BadRequest(
            "POST /v1/sessions opens demo sessions only; an operator launches its players with \
             POST /v1/operator/launch on the operator listener"
                .into(),
        ));
    }
    if !app.config.auth.demo_mode {
        return Err(AuthError::BadKey.into());
    }
    let body = super::read_body(&app, payload).await?;
    let request: NewSession = if body.is_empty() {
        NewSession {
            player_id: None,
            currency: None,
        }
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| HttpError::BadRequest(format!("invalid session request: {e}")))?
    };
    if request.player_id.is_some() {
        return Err(HttpError::BadRequest(
            "demo mode chooses the player id: send no player_id (a demo player is resumed \
             with its token)"
                .into(),
        ));
    }
    let peer = req.peer_addr().map(|a| a.ip());
    let started = start_demo(&app, request.currency.as_deref(), peer, None).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "token": started.token,
        "player_id": started.player.as_str(),
        "currency": started.currency.code(),
        "demo": true,
        "balance": started.balance.to_string(),
        "expires_at": started.expires_at,
    })))
}

/// Node administration on the admin listener: draining, presence (`auth.admin_key`).
pub(super) fn check_admin(app: &App, req: &HttpRequest) -> Result<(), HttpError> {
    let given = super::bearer(req).unwrap_or("");
    if key_matches(given, &app.config.auth.admin_key) {
        Ok(())
    } else {
        Err(AuthError::BadKey.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_players_are_fresh_and_marked() {
        let a = new_demo_player();
        let b = new_demo_player();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with(DEMO_PREFIX) && b.as_str().starts_with(DEMO_PREFIX));
        assert_eq!(a.operator(), None, "no demo player has an operator");
    }
}
