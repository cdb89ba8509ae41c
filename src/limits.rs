//! A player's safer-gambling limits as the server takes and shows them: a request from the
//! operator API read into a ledger limit ([`LimitRequest`]), the limits and their use as the
//! player and the operator see them ([`report_views`]), and a refusal's limit as the error frame
//! carries it ([`hit_view`]). The rules (what a raise waits for, how windows roll, when a stake
//! is refused) are the ledger's `limits`; every stake is checked there, in its own transaction.

use croupier_core::protocol::{PendingLimitView, PlayerLimitView};

use crate::money::{Currency, Money, MoneyError};
use crate::wallet::{LimitKey, LimitKind, LimitsReport, Period};

/// The longest session-time limit: a day (longer is no limit, and says so).
pub const MAX_SESSION_MINUTES: i64 = 24 * 60;

/// What was wrong with a limit request, each a clear message for a 400.
#[derive(Debug, thiserror::Error)]
pub enum LimitRequestError {
    #[error("kind must be loss, wager, deposit or session_time, got {0:?}")]
    Kind(String),
    #[error("period must be day, week or month (session for session_time), got {0:?}")]
    Period(String),
    #[error("{0}")]
    Key(#[from] crate::wallet::LimitKeyError),
    #[error("a {0} limit takes an amount (a decimal string), not minutes")]
    AmountExpected(&'static str),
    #[error("a session_time limit takes minutes (1 to {MAX_SESSION_MINUTES}), not an amount")]
    MinutesExpected,
    #[error("minutes must be from 1 to {MAX_SESSION_MINUTES}, got {0}")]
    Minutes(i64),
    #[error("amount: {0}")]
    Amount(#[from] MoneyError),
}

/// One limit to set, parsed: which, and its new amount in minor units (or minutes), `None` to
/// remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRequest {
    pub key: LimitKey,
    pub amount: Option<i64>,
}

impl LimitRequest {
    /// Reads `kind`, `period` (a session time's may be omitted) and the amount (money kinds,
    /// in `currency`) or the minutes (a session time); neither removes the limit.
    pub fn parse(
        kind: &str,
        period: Option<&str>,
        amount: Option<&str>,
        minutes: Option<i64>,
        currency: &Currency,
    ) -> Result<Self, LimitRequestError> {
        let kind_ = LimitKind::parse(kind).ok_or_else(|| LimitRequestError::Kind(kind.into()))?;
        let period = match (kind_, period) {
            (LimitKind::SessionTime, None) => Period::Session,
            (_, Some(p)) => Period::parse(p).ok_or_else(|| LimitRequestError::Period(p.into()))?,
            (_, None) => return Err(LimitRequestError::Period(String::new())),
        };
        let key = LimitKey::new(kind_, period)?;
        let amount = match (kind_, amount, minutes) {
            (LimitKind::SessionTime, Some(_), _) => return Err(LimitRequestError::MinutesExpected),
            (LimitKind::SessionTime, None, Some(m)) if !(1..=MAX_SESSION_MINUTES).contains(&m) => {
                return Err(LimitRequestError::Minutes(m))
            }
            (LimitKind::SessionTime, None, m) => m,
            (_, _, Some(_)) => return Err(LimitRequestError::AmountExpected(kind_.as_str())),
            (_, Some(text), None) => Some(Money::parse_positive(text, currency)?.minor()),
            (_, None, None) => None,
        };
        Ok(Self { key, amount })
    }
}

/// `amount` of a limit of `kind` as a view says it: money or minutes.
fn how_much(kind: LimitKind, amount: i64, currency: &Currency) -> (Option<String>, Option<i64>) {
    match kind {
        LimitKind::SessionTime => (None, Some(amount)),
        _ => (Some(crate::money::minor_text(amount, currency)), None),
    }
}

/// The limit a refused stake or deposit would have crossed, for the error frame.
pub fn hit_view(
    kind: LimitKind,
    period: Period,
    limit: i64,
    resets_at_ms: Option<i64>,
    currency: &Currency,
) -> PlayerLimitView {
    let (amount, minutes) = how_much(kind, limit, currency);
    PlayerLimitView {
        kind: kind.as_str().to_string(),
        period: period.as_str().to_string(),
        amount,
        minutes,
        used: None,
        resets_at_ms,
        pending: None,
    }
}

/// A refusal's limit in words: "deposit limit of 15.00 EUR per day reached; it allows more
/// from 1767225600000 (Unix ms)".
pub fn describe(hit: &PlayerLimitView, currency: &Currency) -> String {
    let how_much = match (&hit.amount, hit.minutes) {
        (Some(amount), _) => format!("{amount} {}", currency.code()),
        (None, Some(minutes)) => format!("{minutes} minutes"),
        (None, None) => "?".to_string(),
    };
    let when = match hit.resets_at_ms {
        Some(at) => format!("; it allows more from {at} (Unix ms)"),
        None if hit.period == "session" => "; a new session starts it again".to_string(),
        None => "; the amount is over the limit itself".to_string(),
    };
    format!(
        "{} limit of {how_much} per {} reached{when}",
        hit.kind, hit.period
    )
}

/// Every limit in force or waiting, with what its window has used; a limit removed (none in
/// force, none waiting) is not listed.
pub fn report_views(report: &LimitsReport, currency: &Currency) -> Vec<PlayerLimitView> {
    let now = report.at_ms;
    report
        .limits
        .iter()
        .filter_map(|limit| {
            let kind = limit.key.kind();
            let in_force = limit.in_force(now);
            let waiting = limit.waiting(now);
            if in_force.is_none() && waiting.is_none() {
                return None;
            }
            let (amount, minutes) = in_force.map_or((None, None), |a| how_much(kind, a, currency));
            let used = report
                .used(limit.key.period())
                .map(|u| crate::money::minor_text(u.used(kind), currency));
            let pending = waiting.map(|p| {
                let (amount, minutes) = p
                    .amount
                    .map_or((None, None), |a| how_much(kind, a, currency));
                PendingLimitView {
                    amount,
                    minutes,
                    from_ms: p.from_ms,
                }
            });
            Some(PlayerLimitView {
                kind: kind.as_str().to_string(),
                period: limit.key.period().as_str().to_string(),
                amount,
                minutes,
                used,
                resets_at_ms: None,
                pending,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::{PlayerLimit, Usage};

    fn eur() -> Currency {
        Currency::new("EUR", 2).unwrap()
    }

    #[test]
    fn requests_parse_into_ledger_limits_or_say_what_is_wrong() {
        let r = LimitRequest::parse("loss", Some("day"), Some("25.50"), None, &eur()).unwrap();
        assert_eq!(
            (r.key.kind(), r.key.period(), r.amount),
            (LimitKind::Loss, Period::Day, Some(2550))
        );
        let removal = LimitRequest::parse("wager", Some("month"), None, None, &eur()).unwrap();
        assert_eq!(removal.amount, None);
        let session = LimitRequest::parse("session_time", None, None, Some(90), &eur()).unwrap();
        assert_eq!(
            (session.key.period(), session.amount),
            (Period::Session, Some(90))
        );
        for (kind, period, amount, minutes) in [
            ("fun", Some("day"), Some("1"), None),
            ("loss", Some("year"), Some("1"), None),
            ("loss", None, Some("1"), None),
            ("loss", Some("session"), Some("1"), None),
            ("session_time", Some("day"), None, Some(5)),
            ("session_time", None, Some("5"), None),
            ("session_time", None, None, Some(0)),
            ("session_time", None, None, Some(MAX_SESSION_MINUTES + 1)),
            ("deposit", Some("week"), None, Some(5)),
            ("deposit", Some("week"), Some("-1"), None),
            ("deposit", Some("week"), Some("0"), None),
            ("deposit", Some("week"), Some("1.001"), None),
            ("deposit", Some("week"), Some("lots"), None),
        ] {
            assert!(
                LimitRequest::parse(kind, period, amount, minutes, &eur()).is_err(),
                "{kind} {period:?} {amount:?} {minutes:?}"
            );
        }
    }

    #[test]
    fn views_show_what_is_in_force_used_and_waiting() {
        let player = crate::ids::PlayerId::parse("p").unwrap();
        let key = LimitKey::new(LimitKind::Loss, Period::Week).unwrap();
        let first = PlayerLimit::request(None, &player, key, Some(1_000), 0, 100);
        let raised = PlayerLimit::request(Some(&first), &player, key, Some(5_000), 10, 100);
        let time = LimitKey::new(LimitKind::SessionTime, Period::Session).unwrap();
        let gone = PlayerLimit::request(None, &player, time, None, 0, 100);
        let report = LimitsReport {
            limits: vec![raised, gone],
            usage: [
                Usage::default(),
                Usage {
                    wagered: 700,
                    won: 200,
                    deposited: 0,
                },
                Usage::default(),
            ],
            at_ms: 50,
        };
        let views = report_views(&report, &eur());
        assert_eq!(
            views.len(),
            1,
            "a limit with nothing in force or waiting is not listed"
        );
        let v = &views[0];
        assert_eq!((v.kind.as_str(), v.period.as_str()), ("loss", "week"));
        assert_eq!(
            (v.amount.as_deref(), v.used.as_deref()),
            (Some("10.00"), Some("5.00"))
        );
        let pending = v.pending.as_ref().unwrap();
        assert_eq!(
            (pending.amount.as_deref(), pending.from_ms),
            (Some("50.00"), 110)
        );
        let hit = hit_view(LimitKind::SessionTime, Period::Session, 60, None, &eur());
        assert_eq!((hit.amount, hit.minutes), (None, Some(60)));
    }
}
