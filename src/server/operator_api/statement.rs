//! `GET /v1/operator/players/{id}/statement?from=…&to=…&limit=…&cursor=…`: every movement of
//! one of the operator's players between two times (Unix milliseconds, `from` included, `to`
//! excluded), in the order the ledger wrote them, which never changes, a page at a time. Each
//! line is a ledger entry (deposit, withdrawal, bet, win, refund, jackpot) with its round's
//! game and status; `next_cursor` continues after the last line, `null` on the last page.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::rounds::EntryView;
use super::OperatorDoor;
use crate::app::App;
use crate::server::HttpError;
use crate::wallet::MAX_STATEMENT_PAGE;

/// Lines of a page when the caller asks for no `limit`.
const DEFAULT_PAGE: u32 = 100;
/// How a cursor begins: it is opaque to callers, and a cursor of another kind is refused.
const CURSOR_PREFIX: &str = "e";

/// Which lines: `[from, to)` in Unix milliseconds, a page of `limit`, after `cursor`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct Window {
    /// Unix ms, included (default 0).
    from: Option<i64>,
    /// Unix ms, excluded (default: no end).
    to: Option<i64>,
    /// 1 to 500, default 100.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One line: an entry, with its round's game and status.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Line {
    #[serde(flatten)]
    entry: EntryView,
    game: Option<String>,
    round_status: Option<String>,
    /// The campaign, when the round was a free round (its win is the line; nothing was staked).
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<String>,
}

/// A page of a statement.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct StatementAnswer {
    player_id: String,
    currency: String,
    from: i64,
    to: i64,
    lines: Vec<Line>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

fn parse_cursor(cursor: Option<&str>) -> Result<i64, HttpError> {
    let Some(text) = cursor else { return Ok(0) };
    text.strip_prefix(CURSOR_PREFIX)
        .and_then(|seq| seq.parse::<i64>().ok())
        .filter(|seq| *seq > 0)
        .ok_or_else(|| HttpError::BadRequest(format!("cursor {text:?} is not one this API gave")))
}

/// Every movement of one of the operator's players between two times, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/operator/players/{player}/statement",
    tag = "money",
    params(("player" = String, Path, description = "the operator's player"), Window),
    responses(
        (status = 200, body = StatementAnswer),
        (status = 400, description = "bad window, limit or cursor", body = super::ErrorBody),
        (status = 404, description = "unknown_player", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn statement(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let player = caller.player(&path)?;
    let window: Window = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| HttpError::BadRequest(format!("invalid statement query: {e}")))?;
    let (from, to) = (window.from.unwrap_or(0), window.to.unwrap_or(i64::MAX));
    if from < 0 || to <= from {
        return Err(HttpError::BadRequest(
            "from and to are Unix milliseconds with 0 <= from < to".into(),
        ));
    }
    let limit = window.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_STATEMENT_PAGE).contains(&limit) {
        return Err(HttpError::BadRequest(format!(
            "limit must be between 1 and {MAX_STATEMENT_PAGE}"
        )));
    }
    let after = parse_cursor(window.cursor.as_deref())?;
    let account = caller.account(&app, &player).await?;
    let currency = app.currencies.get(&account.currency)?;
    let page = app
        .wallet
        .ledger()
        .statement(&player, (from, to), after, limit)
        .await?;
    let lines = page
        .lines
        .iter()
        .map(|line| Line {
            entry: EntryView::of(&line.entry, &currency),
            game: line.game.clone(),
            round_status: line.round_status.clone(),
            campaign: line.campaign.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(StatementAnswer {
        player_id: player.name().to_string(),
        currency: currency.code().to_string(),
        from,
        to,
        lines,
        next_cursor: page.next_after.map(|seq| format!("{CURSOR_PREFIX}{seq}")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cursors_this_api_gave_are_read() {
        assert_eq!(parse_cursor(None).unwrap(), 0);
        assert_eq!(parse_cursor(Some("e42")).unwrap(), 42);
        for bad in [
            "",
            "42",
            "e",
            "e-1",
            "e0",
            "x42",
            "e4.2",
            "e99999999999999999999",
        ] {
            assert!(parse_cursor(Some(bad)).is_err(), "{bad}");
        }
    }
}
