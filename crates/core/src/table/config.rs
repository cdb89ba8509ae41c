//! Table definitions from `config/tables.toml`: game, currency, limits per bet type, seats
//! and phase timings, validated with messages that name the table and the key.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use super::round::Timings;
use crate::games::{baccarat, roulette};
use crate::money::{Currency, CurrencyTable, Money};

/// Upper bounds that keep a misconfigured table from running rounds too fast or too slow.
pub const MAX_PHASE_SECONDS: u64 = 600;
pub const MIN_BETTING_SECONDS: u64 = 1;
/// Seats per table; 0 in the file means unlimited watchers up to this.
pub const MAX_SEATS: u32 = 100_000;
pub const MAX_TABLES: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tables.toml: {key}: {message}")]
pub struct TableConfigError {
    pub key: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableGame {
    EuropeanRoulette,
    Baccarat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommissionRule {
    Standard,
    NoCommission,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    min: String,
    max: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    id: String,
    game: TableGame,
    currency: String,
    #[serde(default)]
    max_seats: u32,
    betting_seconds: u64,
    closed_seconds: u64,
    result_seconds: u64,
    settle_seconds: u64,
    #[serde(default)]
    commission: Option<CommissionRule>,
    /// The studio's video of the table (HLS or WebRTC, served by the studio's own system).
    #[serde(default)]
    stream_url: Option<String>,
    limits: BTreeMap<String, RawLimit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    table: Vec<RawTable>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BetLimit {
    pub min: Money,
    pub max: Money,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableConfig {
    pub id: String,
    pub game: TableGame,
    pub currency: Currency,
    pub max_seats: u32,
    pub timings: Timings,
    pub commission: CommissionRule,
    /// Limits by bet kind (`straight`, `banker` …); a kind without limits cannot be bet.
    pub limits: BTreeMap<String, BetLimit>,
    /// Where players watch the table's video ([`check_stream_url`]): shown in `GET /v1/tables`
    /// and the join reply; croupier serves no video itself.
    pub stream_url: Option<String>,
}

/// Longest `stream_url` taken: a URL, not a payload.
pub const MAX_STREAM_URL_LEN: usize = 2048;

/// A table's `stream_url`, checked: an absolute `https://` URL (or `http://`, for a studio on
/// a private network) with a host, no credentials in it, no whitespace or control
/// characters, at most [`MAX_STREAM_URL_LEN`] bytes. Players' browsers load it, so nothing
/// else (no `javascript:`, no `data:`, no relative path) is ever passed to them.
pub fn check_stream_url(text: &str) -> Result<(), String> {
    if text.len() > MAX_STREAM_URL_LEN {
        return Err(format!("at most {MAX_STREAM_URL_LEN} bytes"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("no spaces or control characters".into());
    }
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or("must start with https:// (or http://)")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("no user name or password in the URL".into());
    }
    let v6 = authority.starts_with('[');
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 address: `[...]`, then an optional port.
        Some(v6) => match v6.split_once(']') {
            Some((address, after)) => (address, after.strip_prefix(':').unwrap_or(after)),
            None => return Err("an IPv6 address needs its closing ]".into()),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, port),
            None => (authority, ""),
        },
    };
    let host_ok = !host.is_empty()
        && host.chars().all(|c| match v6 {
            true => c.is_ascii_hexdigit() || c == ':' || c == '.',
            false => c.is_ascii_alphanumeric() || c == '.' || c == '-',
        });
    if !host_ok {
        return Err(format!("{host:?} is not a host name or address"));
    }
    if !port.chars().all(|c| c.is_ascii_digit()) || port.len() > 5 {
        return Err(format!("{port:?} is not a port"));
    }
    Ok(())
}

fn bet_kinds(game: TableGame) -> BTreeSet<&'static str> {
    match game {
        TableGame::EuropeanRoulette => roulette::all_bets().iter().map(|b| b.kind()).collect(),
        TableGame::Baccarat => ["player", "banker", "tie", "player_pair", "banker_pair"]
            .into_iter()
            .filter(|k| baccarat::BaccaratBet::parse(k).is_ok())
            .collect(),
    }
}

impl TableConfig {
    /// The game's name on the wire and in metrics.
    pub fn game_name(&self) -> &'static str {
        match self.game {
            TableGame::EuropeanRoulette => "european_roulette",
            TableGame::Baccarat => "baccarat",
        }
    }
}

/// Reads and validates a tables file.
pub fn load(
    path: &std::path::Path,
    currencies: &CurrencyTable,
) -> Result<Vec<TableConfig>, TableConfigError> {
    let text = crate::data::read_data_file(path)
        .map_err(|(key, message)| TableConfigError { key, message })?;
    parse(&text, currencies)
}

pub fn parse(text: &str, currencies: &CurrencyTable) -> Result<Vec<TableConfig>, TableConfigError> {
    let raw: RawFile = crate::data::toml_with_key(text)
        .map_err(|(key, message)| TableConfigError { key, message })?;
    if raw.table.len() > MAX_TABLES {
        return Err(TableConfigError {
            key: "table".into(),
            message: format!("at most {MAX_TABLES} tables"),
        });
    }
    let mut seen = BTreeSet::new();
    raw.table
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let fail = |key: &str, message: String| TableConfigError {
                key: format!("table[{i}].{key}"),
                message,
            };
            if !crate::data::is_data_id(&t.id) {
                return Err(fail("id", "must be 1-64 characters of a-z 0-9 _".into()));
            }
            if !seen.insert(t.id.clone()) {
                return Err(fail("id", format!("duplicate table id {:?}", t.id)));
            }
            let currency = currencies
                .get(&t.currency)
                .map_err(|e| fail("currency", e.to_string()))?;
            if t.max_seats > MAX_SEATS {
                return Err(fail(
                    "max_seats",
                    format!("at most {MAX_SEATS} (0 = unlimited)"),
                ));
            }
            for (key, value, min) in [
                ("betting_seconds", t.betting_seconds, MIN_BETTING_SECONDS),
                ("closed_seconds", t.closed_seconds, 0),
                ("result_seconds", t.result_seconds, 0),
                ("settle_seconds", t.settle_seconds, 0),
            ] {
                if !(min..=MAX_PHASE_SECONDS).contains(&value) {
                    return Err(fail(
                        key,
                        format!("must be {min} to {MAX_PHASE_SECONDS}, got {value}"),
                    ));
                }
            }
            let commission = match (t.game, t.commission) {
                (TableGame::Baccarat, Some(rule)) => rule,
                (TableGame::Baccarat, None) => CommissionRule::Standard,
                (TableGame::EuropeanRoulette, None) => CommissionRule::Standard,
                (TableGame::EuropeanRoulette, Some(_)) => {
                    return Err(fail(
                        "commission",
                        "only baccarat tables take a commission".into(),
                    ))
                }
            };
            let kinds = bet_kinds(t.game);
            if t.limits.is_empty() {
                return Err(fail("limits", "at least one bet kind needs limits".into()));
            }
            let mut limits = BTreeMap::new();
            for (kind, limit) in t.limits {
                let key = format!("limits.{kind}");
                if !kinds.contains(kind.as_str()) {
                    let known: Vec<&str> = kinds.iter().copied().collect();
                    return Err(fail(
                        &key,
                        format!("unknown bet kind; known: {}", known.join(", ")),
                    ));
                }
                let min = Money::parse_positive(&limit.min, &currency)
                    .map_err(|e| fail(&format!("{key}.min"), e.to_string()))?;
                let max = Money::parse_positive(&limit.max, &currency)
                    .map_err(|e| fail(&format!("{key}.max"), e.to_string()))?;
                if min.amount() > max.amount() {
                    return Err(fail(&key, format!("min {min} is above max {max}")));
                }
                limits.insert(kind, BetLimit { min, max });
            }
            Ok(TableConfig {
                id: t.id,
                game: t.game,
                currency,
                max_seats: t.max_seats,
                timings: Timings {
                    betting: Duration::from_secs(t.betting_seconds),
                    closed: Duration::from_secs(t.closed_seconds),
                    result: Duration::from_secs(t.result_seconds),
                    settle: Duration::from_secs(t.settle_seconds),
                },
                commission,
                limits,
                stream_url: match t.stream_url {
                    None => None,
                    Some(url) => {
                        check_stream_url(&url).map_err(|m| fail("stream_url", m))?;
                        Some(url)
                    }
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../../config/tables.toml");

    fn currencies() -> CurrencyTable {
        CurrencyTable([("EUR".to_string(), 2u32)].into_iter().collect())
    }

    #[test]
    fn a_stream_url_is_an_absolute_web_url_or_refused_with_its_key() {
        for good in [
            "https://video.example.com/live/roulette_1.m3u8",
            "https://studio-7.example.com:8443/webrtc?table=baccarat_1#t",
            "http://10.0.0.7:8080/hls/r1.m3u8",
            "https://[2001:db8::7]:8443/r1",
        ] {
            assert_eq!(check_stream_url(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "javascript:alert(1)",
            "data:text/html,hi",
            "/live/r1.m3u8",
            "ftp://video.example.com/r1",
            "https://",
            "https://user:pass@video.example.com/r1",
            "https://video example.com/r1",
            "https://video.example.com/r1\n",
            "https://vid<eo>.example.com/",
            "https://video.example.com:80a/r1",
            "https://[2001:db8::7/r1",
        ] {
            assert!(check_stream_url(bad).is_err(), "{bad:?}");
        }
        let long = format!(
            "https://video.example.com/{}",
            "a".repeat(MAX_STREAM_URL_LEN)
        );
        assert!(check_stream_url(&long).is_err());
        let text = SHIPPED.replacen(
            "max_seats = 0",
            "max_seats = 0\nstream_url = \"javascript:alert(1)\"",
            1,
        );
        let error = parse(&text, &currencies()).unwrap_err();
        assert_eq!(error.key, "table[0].stream_url", "{error}");
        let text = SHIPPED.replacen(
            "max_seats = 0",
            "max_seats = 0\nstream_url = \"https://video.example.com/r1.m3u8\"",
            1,
        );
        let tables = parse(&text, &currencies()).unwrap();
        assert_eq!(
            tables[0].stream_url.as_deref(),
            Some("https://video.example.com/r1.m3u8")
        );
        assert_eq!(tables[1].stream_url, None);
    }

    #[test]
    fn shipped_tables_are_valid() {
        let tables = parse(SHIPPED, &currencies()).unwrap();
        assert!(tables.iter().any(|t| t.game == TableGame::EuropeanRoulette));
        assert!(tables.iter().any(|t| t.game == TableGame::Baccarat));
        let roulette = tables
            .iter()
            .find(|t| t.game == TableGame::EuropeanRoulette)
            .unwrap();
        assert_eq!(
            roulette.limits.len(),
            13,
            "every roulette bet kind has limits"
        );
    }

    fn error_for(from: &str, to: &str) -> String {
        assert!(SHIPPED.contains(from), "edit target exists: {from}");
        parse(&SHIPPED.replacen(from, to, 1), &currencies())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_tables_are_refused_naming_the_key() {
        let e = error_for("betting_seconds = 15", "betting_seconds = 0");
        assert!(e.contains("table[0].betting_seconds"), "{e}");
        let e = error_for("straight = { min = \"0.10\"", "streight = { min = \"0.10\"");
        assert!(
            e.contains("limits.streight") && e.contains("unknown bet kind"),
            "{e}"
        );
        let e = error_for(
            "straight = { min = \"0.10\"",
            "straight = { min = \"0.101\"",
        );
        assert!(e.contains("limits.straight.min"), "{e}");
        let e = error_for("currency = \"EUR\"", "currency = \"XXX\"");
        assert!(e.contains("table[0].currency"), "{e}");
        let e = error_for("game = \"european_roulette\"", "game = \"craps\"");
        assert!(e.contains("game"), "{e}");
        let e = error_for("id = \"roulette_1\"", "id = \"baccarat_1\"");
        assert!(e.contains("duplicate"), "{e}");
    }
}
