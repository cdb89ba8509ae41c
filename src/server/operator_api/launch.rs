//! `POST /v1/operator/launch`: the operator opens a session for one of its players on a game
//! or a table, and gets the token and the URL to open on the player's device.
//!
//! The launch URL is `<players' public URL>/play/?game=…&lang=…&lobby=…#token=…`: the token
//! rides in the fragment, which browsers never send to a server, so it stays out of every
//! access log; the page (the web client) reads it and opens the WebSocket with it. Until the
//! web client is served, the token in the answer opens the WebSocket as any session token.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{parse_body, OperatorDoor};
use crate::app::App;
use crate::server::sessions::{start_demo, start_session, Jurisdiction};
use crate::server::HttpError;
use croupier_core::jurisdiction::AgeBand;

/// Longest lobby URL accepted: it is echoed into the launch URL.
const MAX_LOBBY_URL: usize = 2048;

/// A launch: who plays what, where.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LaunchRequest {
    #[schema(example = "alice")]
    player_id: String,
    #[schema(example = "EUR")]
    currency: String,
    /// A slot game id (exactly one of `game` and `table`).
    #[schema(example = "starfall")]
    game: Option<String>,
    /// A live table id.
    table: Option<String>,
    /// `en`, `de`, `pt-BR`.
    #[schema(example = "de")]
    language: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "DE")]
    country: String,
    /// An http(s) URL of at most 2,048 characters.
    lobby_url: Option<String>,
    mode: Mode,
    /// `"18-24"` or `"25+"`, as the operator verified it: required where the player's
    /// jurisdiction caps stakes by age (Great Britain).
    #[schema(example = "25+")]
    age_band: Option<String>,
}

/// A launched session.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct LaunchAnswer {
    /// The session token (also in the launch URL's fragment).
    token: String,
    /// `<public URL>/play/?game=…&lang=…&lobby=…#token=…`
    launch_url: String,
    player_id: String,
    currency: String,
    mode: Mode,
    balance: String,
    /// Unix seconds.
    expires_at: u64,
    /// The jurisdiction profile the session plays under (the country's, else the operator's).
    jurisdiction: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum Mode {
    /// The player's own money, in its account `<operator>:<player>`.
    Real,
    /// Fun money on a fresh demo player (needs `auth.demo_mode`).
    Demo,
}

/// A language tag as launches give it: `en`, `de`, `pt-BR`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Language(String);

impl Language {
    fn parse(text: &str) -> Result<Language, HttpError> {
        let (lang, region) = text.split_once('-').unwrap_or((text, ""));
        let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
        let region_ok = region.is_empty()
            || (region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase()));
        if lang_ok && region_ok && (region.is_empty() != text.contains('-')) {
            Ok(Language(text.to_string()))
        } else {
            Err(HttpError::BadRequest(format!(
                "language must be a tag such as en, de or pt-BR, got {text:?}"
            )))
        }
    }
}

/// An ISO 3166-1 alpha-2 country code: where the player plays from (the jurisdiction rules
/// will read it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Country(String);

impl Country {
    fn parse(text: &str) -> Result<Country, HttpError> {
        if text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Country(text.to_string()))
        } else {
            Err(HttpError::BadRequest(format!(
                "country must be an ISO 3166-1 alpha-2 code such as GB or DE, got {text:?}"
            )))
        }
    }
}

/// Where the player starts: one slot game or one live table.
enum Start {
    Game(String),
    Table(String),
}

impl Start {
    fn read(app: &App, game: Option<String>, table: Option<String>) -> Result<Start, HttpError> {
        match (game, table) {
            (Some(game), None) if app.play().games.slot(&game).is_some() => Ok(Start::Game(game)),
            (Some(game), None) => Err(HttpError::BadRequest(format!("no game {game:?}"))),
            (None, Some(table)) if app.tables.get(&table).is_some() => Ok(Start::Table(table)),
            (None, Some(table)) => Err(HttpError::BadRequest(format!("no table {table:?}"))),
            _ => Err(HttpError::BadRequest(
                "name exactly one of game or table".into(),
            )),
        }
    }
}

fn lobby(text: Option<String>) -> Result<Option<url::Url>, HttpError> {
    let Some(text) = text else { return Ok(None) };
    let bad = |why: &str| HttpError::BadRequest(format!("lobby_url {why}"));
    if text.len() > MAX_LOBBY_URL {
        return Err(bad(&format!("is over {MAX_LOBBY_URL} characters")));
    }
    let url = url::Url::parse(&text).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("must be an http or https URL"));
    }
    Ok(Some(url))
}

/// A player on a time-out or self-excluded opens no session, real or demo.
async fn refuse_excluded(app: &App, player: &crate::ids::PlayerId) -> Result<(), HttpError> {
    let found = app.wallet.ledger().exclusion(player).await?;
    match found {
        Some(e) if e.in_force(crate::clock::now_ms()) => {
            Err(HttpError::Excluded(match e.until_ms {
                Some(until) => format!(
                    "player {} is excluded ({}) until {until} (Unix ms)",
                    player.name(),
                    e.reason.as_str()
                ),
                None => format!(
                    "player {} is excluded ({}) indefinitely",
                    player.name(),
                    e.reason.as_str()
                ),
            }))
        }
        _ => Ok(()),
    }
}

/// The jurisdiction a launch opens under: the profile covering the player's country, else the
/// operator's own; the age band as given (checked against the profile when the session opens).
fn jurisdiction(
    app: &App,
    operators_profile: &str,
    country: &Country,
    age_band: Option<String>,
) -> Result<Jurisdiction, HttpError> {
    let play = app.play();
    let profile = play
        .profiles
        .for_launch(&country.0, operators_profile)
        .ok_or_else(|| HttpError::Unexpected(format!("no profile {operators_profile:?}")))?;
    let age_band = match age_band {
        None => None,
        Some(text) => Some(AgeBand::parse(&text).ok_or_else(|| {
            HttpError::BadRequest(format!(
                "age_band must be \"18-24\" or \"25+\", got {text:?}"
            ))
        })?),
    };
    Ok(Jurisdiction {
        profile: profile.id.clone(),
        age_band,
    })
}

/// A session for one of the operator's players on a game or a table, and its launch URL.
#[utoipa::path(
    post,
    path = "/v1/operator/launch",
    tag = "sessions",
    request_body = LaunchRequest,
    responses(
        (status = 201, body = LaunchAnswer),
        (status = 400, description = "bad body, game, table, language, country, lobby URL or mode; wrong_currency", body = super::ErrorBody),
        (status = 403, description = "currency_not_allowed; player_excluded; game_not_offered (an RTP variant the player's jurisdiction profile does not offer)", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn launch(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    if !app.is_ready() {
        return Err(HttpError::NotReady);
    }
    let body = crate::server::read_body(&app, payload).await?;
    let request: LaunchRequest = parse_body("launch request", &body)?;
    let player = caller.player(&request.player_id)?;
    refuse_excluded(&app, &player).await?;
    let currency = caller.currency(&request.currency)?;
    let start = Start::read(&app, request.game, request.table)?;
    let language = Language::parse(&request.language)?;
    let country = Country::parse(&request.country)?;
    let lobby = lobby(request.lobby_url)?;
    let jurisdiction = jurisdiction(&app, &caller.0.jurisdiction, &country, request.age_band)?;
    let profile = jurisdiction.profile.clone();
    if let Start::Game(game) = &start {
        // A game the profile does not offer (an RTP variant it excludes) cannot be launched.
        let offered = app
            .play()
            .profiles
            .get(&profile)
            .zip(app.play().games.slot(game))
            .is_some_and(|(p, g)| p.offers(g));
        if !offered {
            return Err(crate::jurisdiction::JurisdictionError::from(
                croupier_core::jurisdiction::RulesError::GameNotOffered {
                    profile: profile.clone(),
                    game: game.clone(),
                },
            )
            .into());
        }
    }
    let started = match request.mode {
        Mode::Real => start_session(&app, player.clone(), currency, false, jurisdiction).await?,
        Mode::Demo => start_demo(&app, Some(currency.code()), None, Some(jurisdiction)).await?,
    };
    let mut query = vec![match &start {
        Start::Game(game) => ("game", game.clone()),
        Start::Table(table) => ("table", table.clone()),
    }];
    query.push(("lang", language.0.clone()));
    if let Some(lobby) = &lobby {
        query.push(("lobby", lobby.to_string()));
    }
    let query = serde_urlencoded::to_string(&query)
        .map_err(|e| HttpError::Unexpected(format!("launch URL: {e}")))?;
    let launch_url = format!("{}/play/?{query}#token={}", app.public_url(), started.token);
    tracing::info!(
        operator = %caller.0.id,
        player = %player.name(),
        demo = started.demo,
        country = %country.0,
        jurisdiction = %profile,
        "game launched"
    );
    Ok(HttpResponse::Created().json(LaunchAnswer {
        launch_url,
        player_id: player.name().to_string(),
        currency: started.currency.code().to_string(),
        mode: if started.demo { Mode::Demo } else { Mode::Real },
        balance: started.balance.to_string(),
        expires_at: started.expires_at,
        token: started.token,
        jurisdiction: profile,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_and_countries_are_tags() {
        for good in ["en", "de", "pt-BR", "fil"] {
            assert!(Language::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "", "EN", "e", "english", "pt-br", "pt-", "-BR", "pt-BRA", "en_GB", "en-GB-x",
        ] {
            assert!(Language::parse(bad).is_err(), "{bad}");
        }
        assert!(Country::parse("GB").is_ok());
        for bad in ["", "gb", "GBR", "G1", "UK "] {
            assert!(Country::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lobby_urls_are_web_urls_of_bounded_length() {
        assert!(lobby(None).unwrap().is_none());
        assert!(lobby(Some("https://casino.example/lobby?x=1".into()))
            .unwrap()
            .is_some());
        for bad in [
            "javascript:alert(1)",
            "not a url",
            "ftp://x.example/",
            "/lobby",
        ] {
            assert!(lobby(Some(bad.into())).is_err(), "{bad}");
        }
        let long = format!("https://x.example/{}", "a".repeat(MAX_LOBBY_URL));
        assert!(lobby(Some(long)).is_err());
    }
}
