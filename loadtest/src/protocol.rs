//! The subset of croupier's wire protocol (docs/protocol.md) the load tester speaks: the frames
//! it sends, the frames it reads, and the HTTP session bodies. Money is `Decimal`, parsed from
//! the protocol's decimal strings only (a JSON number is rejected, never turned into a float).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Body of `POST /v1/sessions`.
#[derive(Debug, Serialize)]
pub struct SessionRequest<'a> {
    pub player_id: &'a str,
    pub currency: &'a str,
}

/// Reply of `POST /v1/sessions` (201).
#[derive(Debug, Clone, Deserialize)]
pub struct SessionReply {
    pub token: String,
    pub player_id: String,
    pub currency: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub balance: Decimal,
}

/// HTTP error body: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// A `spin` client frame. In echo mode `pad` grows it to the size of a real spin result.
#[derive(Debug, Serialize)]
pub struct SpinFrame<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub req_id: &'a str,
    pub game: &'a str,
    #[serde(with = "rust_decimal::serde::str")]
    pub bet: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pad: Option<&'a str>,
}

/// A `balance` client frame.
#[derive(Debug, Serialize)]
pub struct BalanceFrame<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub req_id: &'a str,
}

/// Limits the server announces in `welcome`.
#[derive(Debug, Clone, Copy, Deserialize, Default)]
pub struct Limits {
    #[serde(default)]
    pub max_frame_bytes: Option<u64>,
    #[serde(default)]
    pub rate_per_second: Option<u64>,
    #[serde(default)]
    pub burst: Option<u64>,
}

/// One result of a spin: what the round debited and credited, and the balance after it.
#[derive(Debug, Clone, Deserialize)]
pub struct SpinResult {
    pub req_id: String,
    #[serde(default)]
    pub round_id: Option<String>,
    #[serde(default)]
    pub game: Option<String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub bet: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub win: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub balance: Decimal,
    #[serde(default)]
    pub free_spin: bool,
    /// Jackpot levels won by the spin, credited on top of `win`.
    #[serde(default)]
    pub jackpot_wins: Vec<JackpotWin>,
}

/// One jackpot level won, as a spin result reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct JackpotWin {
    pub level: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

impl SpinResult {
    /// Everything the spin credited: the slot win and any jackpots.
    pub fn credited(&self) -> Decimal {
        self.win + self.jackpot_wins.iter().map(|j| j.amount).sum::<Decimal>()
    }
}

/// Every frame the tester may read. Unknown types parse as `Other` and are ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome {
        #[serde(default, with = "rust_decimal::serde::str_option")]
        balance: Option<Decimal>,
        #[serde(default)]
        limits: Option<Limits>,
        /// Set by our echo server, absent on croupier.
        #[serde(default)]
        mode: Option<String>,
    },
    SpinResult(SpinResult),
    Balance {
        req_id: String,
        #[serde(with = "rust_decimal::serde::str")]
        balance: Decimal,
    },
    Error {
        #[serde(default)]
        req_id: Option<String>,
        code: String,
        #[serde(default)]
        message: String,
    },
    Reconnect {
        #[serde(default)]
        reason: String,
    },
    /// Our own `spin` frame, sent back by the echo server.
    Spin {
        req_id: String,
    },
    #[serde(other)]
    Other,
}

impl ServerFrame {
    /// The `req_id` this frame answers, if it is a reply.
    pub fn req_id(&self) -> Option<&str> {
        match self {
            ServerFrame::SpinResult(r) => Some(&r.req_id),
            ServerFrame::Balance { req_id, .. } | ServerFrame::Spin { req_id } => Some(req_id),
            ServerFrame::Error { req_id, .. } => req_id.as_deref(),
            _ => None,
        }
    }
}

/// The `spin_result` example of docs/protocol.md: its size is what an echo frame is padded to, so
/// the transport ceiling moves as many bytes per round trip as a real spin reply.
pub const EXAMPLE_SPIN_RESULT: &str = r#"{"type": "spin_result", "req_id": "r-1", "round_id": "0193a5c4-8b00-7c11-a2b3-000000000001", "game": "classic_sevens", "bet": "1.00", "win": "2.00", "balance": "1001.00", "free_spin": false, "outcome": {"stops": [3, 17, 9], "grid": [["BAR", "SEVEN", "CHERRY"], ["CHERRY", "CHERRY", "CHERRY"], ["BELL", "BAR", "PLUM"]], "line_wins": [{"line": 1, "symbol": "CHERRY", "count": 3, "pay": 10}], "scatter_win": null, "free_spins_awarded": 0, "multiplier": 1, "win_multiple": "2"}, "free_spins_remaining": 0}"#;

/// Whether `s` is a valid `req_id` / `player_id` token (1–64 of `A-Z a-z 0-9 _ . : -`).
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn parses_protocol_examples() {
        let f: ServerFrame = serde_json::from_str(EXAMPLE_SPIN_RESULT).expect("spin_result");
        match f {
            ServerFrame::SpinResult(r) => {
                assert_eq!(r.bet, Decimal::from_str("1.00").expect("dec"));
                assert_eq!(r.balance, Decimal::from_str("1001.00").expect("dec"));
                assert!(!r.free_spin);
            }
            other => panic!("wrong frame {other:?}"),
        }
        let w = r#"{"type": "welcome", "session_id": "x", "player_id": "alice",
 "currency": "EUR", "balance": "1000.00",
 "free_spins": [{"game": "starfall", "remaining": 8, "bet": "1.00", "multiplier": 2}],
 "limits": {"max_frame_bytes": 4096, "rate_per_second": 20, "burst": 40}}"#;
        match serde_json::from_str::<ServerFrame>(w).expect("welcome") {
            ServerFrame::Welcome {
                balance, limits, ..
            } => {
                assert_eq!(balance, Some(Decimal::from_str("1000.00").expect("dec")));
                assert_eq!(limits.and_then(|l| l.rate_per_second), Some(20));
            }
            other => panic!("wrong frame {other:?}"),
        }
        let e =
            r#"{"type": "error", "req_id": "r-1", "code": "insufficient_funds", "message": "m"}"#;
        let f: ServerFrame = serde_json::from_str(e).expect("error");
        assert_eq!(f.req_id(), Some("r-1"));
        let p = r#"{"type": "pong", "req_id": "r-5", "server_time": 1}"#;
        assert!(matches!(
            serde_json::from_str::<ServerFrame>(p).expect("pong"),
            ServerFrame::Other
        ));
    }

    #[test]
    fn money_as_number_is_rejected() {
        let bad = r#"{"type": "balance", "req_id": "b", "balance": 10.5}"#;
        assert!(serde_json::from_str::<ServerFrame>(bad).is_err());
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("lt-abc-1"));
        assert!(is_valid_id("s:1.x_y"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id(&"a".repeat(65)));
    }
}
