//! How the load tester speaks croupier's protocol (docs/protocol.md). The frames themselves are
//! the core crate's (`croupier_core::protocol`): the tester sends `ClientFrame`s and parses
//! every reply as a `ServerFrame`, then keeps what it needs as `Decimal` (parsed from the
//! protocol's decimal strings only; a JSON number is refused, never turned into a float). The
//! HTTP session bodies and the echo server's two frames are the tester's own.

use croupier_core::ids::ReqId;
use croupier_core::protocol::{ClientFrame, ServerFrame as Wire};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Body of `POST /v1/sessions`: a demo session names no player (the server chooses it).
#[derive(Debug, Serialize)]
pub struct SessionRequest<'a> {
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

/// A `spin` frame: croupier's own (the core crate's `ClientFrame`), or, in echo mode, the same
/// frame padded by `pad` to the size of a real spin result (the echo server's protocol, not
/// croupier's).
pub fn spin_text(req_id: &str, game: &str, bet: Decimal, pad: Option<&str>) -> String {
    match pad {
        None => client_text(ClientFrame::Spin {
            req_id: req_id_of(req_id),
            game: game.to_string(),
            bet: Some(bet.to_string()),
            campaign: None,
        }),
        Some(pad) => serde_json::to_string(&EchoSpin {
            kind: "spin",
            req_id,
            game,
            bet: bet.to_string(),
            pad,
        })
        .unwrap_or_default(),
    }
}

/// The padded spin of an echo run, its fields in this order: the echo server sends it back
/// unchanged, and [`ServerFrame::parse`] knows it by its first field.
#[derive(Serialize)]
struct EchoSpin<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    req_id: &'a str,
    game: &'a str,
    bet: String,
    pad: &'a str,
}

/// A `balance` frame.
pub fn balance_text(req_id: &str) -> String {
    client_text(ClientFrame::Balance {
        req_id: req_id_of(req_id),
    })
}

/// The tester's req_ids are valid by construction (`is_valid_id` is checked at start).
fn req_id_of(req_id: &str) -> ReqId {
    ReqId::parse(req_id).unwrap_or_else(|_| ReqId::parse("invalid-req-id").expect("a valid id"))
}

fn client_text(frame: ClientFrame) -> String {
    // Plain strings and numbers: serialising cannot fail.
    serde_json::to_string(&frame).unwrap_or_default()
}

/// Limits the server announces in `welcome`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub max_frame_bytes: Option<u64>,
    pub rate_per_second: Option<u64>,
    pub burst: Option<u64>,
}

/// One result of a spin: what the round debited and credited, and the balance after it.
#[derive(Debug, Clone)]
pub struct SpinResult {
    pub req_id: String,
    pub round_id: Option<String>,
    pub game: Option<String>,
    pub bet: Decimal,
    pub win: Decimal,
    pub balance: Decimal,
    pub free_spin: bool,
    /// Jackpot levels won by the spin, credited on top of `win`.
    pub jackpot_wins: Vec<JackpotWin>,
}

/// One jackpot level won, as a spin result reports it.
#[derive(Debug, Clone)]
pub struct JackpotWin {
    pub level: String,
    pub amount: Decimal,
}

impl SpinResult {
    /// Everything the spin credited: the slot win and any jackpots.
    pub fn credited(&self) -> Decimal {
        self.win + self.jackpot_wins.iter().map(|j| j.amount).sum::<Decimal>()
    }
}

/// What the tester reads of a frame: croupier's frames parsed with the core crate's types
/// (`croupier_core::protocol::ServerFrame`), their amounts as `Decimal`; the echo server's
/// two frames; everything else (table and jackpot pushes, pongs…) as `Other`.
#[derive(Debug, Clone)]
pub enum ServerFrame {
    Welcome {
        balance: Option<Decimal>,
        limits: Option<Limits>,
        /// Set by our echo server, absent on croupier.
        mode: Option<String>,
    },
    SpinResult(SpinResult),
    Balance {
        req_id: String,
        balance: Decimal,
    },
    Error {
        req_id: Option<String>,
        code: String,
        message: String,
    },
    Reconnect {
        reason: String,
    },
    /// Our own `spin` frame, sent back by the echo server.
    Spin {
        req_id: String,
    },
    Other,
}

/// The echo server's frames: its greeting and our padded spin sent back.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EchoFrame {
    Welcome { mode: String },
    Spin { req_id: String },
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

fn decimal(text: &str, field: &str) -> Result<Decimal, Unreadable> {
    Decimal::from_str_exact(text)
        .map_err(|e| Unreadable(format!("{field} {text:?} is not a decimal amount: {e}")))
}

impl ServerFrame {
    /// Parses one text frame. A croupier frame must parse as the core's `ServerFrame` (unknown
    /// fields, a missing field or money as a JSON number are errors); the echo server's
    /// frames are recognised by their type first, so the ceiling run parses each frame once.
    pub fn parse(text: &str) -> Result<ServerFrame, Unreadable> {
        if text.starts_with(r#"{"type":"spin","#) || text.starts_with(r#"{"type":"welcome","mode""#)
        {
            if let Ok(echo) = serde_json::from_str::<EchoFrame>(text) {
                return Ok(match echo {
                    EchoFrame::Welcome { mode } => ServerFrame::Welcome {
                        balance: None,
                        limits: None,
                        mode: Some(mode),
                    },
                    EchoFrame::Spin { req_id } => ServerFrame::Spin { req_id },
                });
            }
        }
        let wire: Wire = serde_json::from_str(text).map_err(|e| Unreadable(e.to_string()))?;
        Self::from_wire(wire)
    }

    fn from_wire(wire: Wire) -> Result<ServerFrame, Unreadable> {
        Ok(match wire {
            Wire::Welcome {
                balance, limits, ..
            } => ServerFrame::Welcome {
                balance: Some(decimal(&balance, "balance")?),
                limits: Some(Limits {
                    max_frame_bytes: Some(limits.max_frame_bytes as u64),
                    rate_per_second: Some(u64::from(limits.rate_per_second)),
                    burst: Some(u64::from(limits.burst)),
                }),
                mode: None,
            },
            Wire::SpinResult {
                req_id,
                round_id,
                game,
                bet,
                win,
                balance,
                free_spin,
                jackpot_wins,
                ..
            } => ServerFrame::SpinResult(SpinResult {
                bet: decimal(&bet, "bet")?,
                win: decimal(&win, "win")?,
                balance: decimal(&balance, "balance")?,
                jackpot_wins: jackpot_wins
                    .into_iter()
                    .map(|j| {
                        Ok(JackpotWin {
                            amount: decimal(&j.amount, "jackpot amount")?,
                            level: j.level,
                        })
                    })
                    .collect::<Result<_, Unreadable>>()?,
                req_id,
                round_id: Some(round_id),
                game: Some(game),
                free_spin,
            }),
            Wire::Balance {
                req_id, balance, ..
            } => ServerFrame::Balance {
                balance: decimal(&balance, "balance")?,
                req_id,
            },
            Wire::Error {
                req_id,
                code,
                message,
                ..
            } => ServerFrame::Error {
                req_id,
                code: code.as_str().to_string(),
                message,
            },
            Wire::Reconnect { reason } => ServerFrame::Reconnect { reason },
            _ => ServerFrame::Other,
        })
    }

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
        let f = ServerFrame::parse(EXAMPLE_SPIN_RESULT).expect("spin_result");
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
        match ServerFrame::parse(w).expect("welcome") {
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
        let f = ServerFrame::parse(e).expect("error");
        assert_eq!(f.req_id(), Some("r-1"));
        let p = r#"{"type": "pong", "req_id": "r-5", "server_time": 1}"#;
        assert!(matches!(
            ServerFrame::parse(p).expect("pong"),
            ServerFrame::Other
        ));
    }

    #[test]
    fn frames_sent_are_the_cores_and_echoes_are_read_back() {
        let bet = Decimal::from_str("0.20").expect("dec");
        let spin = spin_text("s-1", "starfall", bet, None);
        assert_eq!(
            croupier_core::protocol::parse_client_frame(&spin).expect("croupier parses it"),
            ClientFrame::Spin {
                req_id: ReqId::parse("s-1").expect("id"),
                game: "starfall".into(),
                bet: Some("0.20".into()),
                campaign: None,
            }
        );
        let padded = spin_text("s-2", "starfall", bet, Some("xxxx"));
        assert!(matches!(
            ServerFrame::parse(&padded).expect("an echo"),
            ServerFrame::Spin { req_id } if req_id == "s-2"
        ));
        let echo_welcome = crate::echo::WELCOME;
        assert!(matches!(
            ServerFrame::parse(echo_welcome).expect("the echo welcome"),
            ServerFrame::Welcome { mode: Some(m), .. } if m == "echo"
        ));
        let balance = balance_text("b-1");
        assert!(croupier_core::protocol::parse_client_frame(&balance).is_ok());
        // A croupier frame with a field the protocol does not have is unreadable, not ignored.
        let odd = r#"{"type":"balance","req_id":"b","currency":"EUR","balance":"1.00","x":1}"#;
        assert!(ServerFrame::parse(odd).is_err());
    }

    #[test]
    fn money_as_number_is_rejected() {
        let bad = r#"{"type": "balance", "req_id": "b", "balance": 10.5}"#;
        assert!(ServerFrame::parse(bad).is_err());
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
