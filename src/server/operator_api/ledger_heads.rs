//! `GET /v1/operator/ledger/heads?limit=…&cursor=…`: the heads of the tamper-evident chains of
//! the operator's players (docs/integrity.md), a page at a time, each page with the digest of
//! its heads. An operator stores the pages it fetches; later `croupier audit --heads PAGE.json`
//! proves the ledger still extends each head (no entry or round before it was edited, removed
//! or reordered), even by someone who could rewrite the database and recompute its hashes.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::OperatorDoor;
use crate::app::App;
use crate::server::HttpError;
use crate::wallet::HeadsScope;

/// Heads of a page when the caller asks for no `limit`.
const DEFAULT_PAGE: u32 = 1_000;
/// Most heads one page holds: a page is one indexed read of that many accounts.
pub const MAX_HEADS_PAGE: u32 = 10_000;
/// How a cursor begins: opaque to callers (hex of the last account id), any other is refused.
const CURSOR_PREFIX: &str = "h";

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct Page {
    /// 1 to 10,000, default 1,000.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One chain's head.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct HeadView {
    /// `player:<account id>` (the account id is `<operator>:<player>`).
    #[schema(example = "player:casino_a:p1")]
    chain: String,
    /// Links in the chain: the player's entries and finalised rounds.
    links: i64,
    /// SHA-256 of the last link, 64 hex digits.
    head: String,
}

/// A page of heads: save it as it is, `croupier audit --heads` reads it back.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct HeadsAnswer {
    taken_at_ms: i64,
    /// SHA-256 over this page's heads (docs/integrity.md gives the encoding).
    digest: String,
    heads: Vec<HeadView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

fn parse_cursor(cursor: Option<&str>) -> Result<Option<String>, HttpError> {
    let Some(text) = cursor else { return Ok(None) };
    text.strip_prefix(CURSOR_PREFIX)
        .and_then(|h| hex::decode(h).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|id| !id.is_empty())
        .map(Some)
        .ok_or_else(|| HttpError::BadRequest(format!("cursor {text:?} is not one this API gave")))
}

/// The heads of the operator's players' chains, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/operator/ledger/heads",
    tag = "integrity",
    params(Page),
    responses(
        (status = 200, body = HeadsAnswer),
        (status = 400, description = "bad limit or cursor", body = super::ErrorBody),
    ),
    security(("operator_key" = []))
)]
pub(super) async fn heads(
    app: web::Data<App>,
    door: web::Data<OperatorDoor>,
    req: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let caller = door.admit(&app, &req)?;
    let page: Page = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| HttpError::BadRequest(format!("invalid heads query: {e}")))?;
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_HEADS_PAGE).contains(&limit) {
        return Err(HttpError::BadRequest(format!(
            "limit must be between 1 and {MAX_HEADS_PAGE}"
        )));
    }
    let after = parse_cursor(page.cursor.as_deref())?;
    let scope = HeadsScope::Operator {
        operator: caller.0.id.to_string(),
        after,
        limit,
    };
    let heads = app.wallet.ledger().chain_heads(scope).await?;
    Ok(HttpResponse::Ok().json(HeadsAnswer {
        taken_at_ms: heads.taken_at_ms,
        digest: heads.digest,
        heads: heads
            .heads
            .into_iter()
            .map(|h| HeadView {
                chain: h.chain,
                links: h.links,
                head: h.head,
            })
            .collect(),
        next_cursor: heads
            .next_cursor
            .map(|id| format!("{CURSOR_PREFIX}{}", hex::encode(id))),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cursors_this_api_gave_are_read() {
        assert_eq!(parse_cursor(None).unwrap(), None);
        let given = format!("h{}", hex::encode("casino_a:p1"));
        assert_eq!(
            parse_cursor(Some(&given)).unwrap().as_deref(),
            Some("casino_a:p1")
        );
        for bad in ["", "h", "hzz", "e42", "h0", "cGxheWVy", "hff"] {
            assert!(parse_cursor(Some(bad)).is_err(), "{bad:?} accepted");
        }
    }
}
