//! Every WebSocket message, in one place: client frames are parsed into [`ClientFrame`] (or a
//! precise [`FrameError`]), server frames are [`ServerFrame`]s, and [`ErrorCode`] is the one
//! list of stable error codes clients see. `docs/protocol.md` documents each with an example.
//!
//! About 950 lines, on purpose: the whole wire contract in one file, so a frame, its parser and
//! its error code are read and changed together (the parser's tests are in `protocol/tests.rs`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{CampaignId, ReqId};
use crate::rng::fair::ClientSeed;

/// Stable client-facing error codes. Every domain error maps to exactly one of these through
/// its own `code()`. Each code is written once, as its variant: serde and strum derive the
/// same `snake_case` string from it (a unit test holds them together).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    BadFrame,
    UnknownType,
    BadReqId,
    UnknownGame,
    BadAmount,
    BetOutOfLimits,
    InsufficientFunds,
    FrameTooLarge,
    RateLimited,
    DuplicateRequest,
    RoundVoid,
    ServerBusy,
    ServiceUnavailable,
    Internal,
    InvalidToken,
    BadRequest,
    Unauthorized,
    UnknownTable,
    BettingClosed,
    TableFull,
    NotSeated,
    BadBet,
    WrongCurrency,
    /// Operator API: no such player of this operator.
    UnknownPlayer,
    /// Operator API: a transaction id already used with another body.
    IdempotencyConflict,
    /// Operator API: a currency the operator may not use (operators.toml).
    CurrencyNotAllowed,
    /// Operator API: no such round of this operator's players.
    UnknownRound,
    /// Operator API: a void of a round already settled.
    RoundNotOpen,
    /// Operator API: no such free-rounds campaign for this player.
    UnknownCampaign,
    /// A spin of a campaign that cannot be played: unknown, of another game, expired,
    /// cancelled or used up.
    FreeRoundsUnavailable,
    /// A campaign spin while the game's own free spins are held: they are played first, so
    /// the two are never mixed.
    FreeSpinsPending,
    /// `fair_seed` or `rotate_seed` from a player whose rounds are not provably fair.
    FairNotOffered,
    /// A client seed that is not 1 to 64 printable ASCII characters without `:`.
    BadClientSeed,
    /// A rotation raced another one (another tab, another node): the seed shown is no longer
    /// the one in force; ask `fair_seed` again.
    SeedChanged,
    /// `GET /v1/fair/rounds/{id}` of a round whose seed is still in force: rotate it first.
    SeedNotRevealed,
    /// A slot round asked before the jurisdiction's minimum time since the start of the
    /// player's last one (on any node); `retry_after_ms` says when the next may start.
    TooFast,
    /// A stake over the jurisdiction's cap per slot spin or per table bet.
    StakeLimit,
    /// Operator API: a launch of a player on a time-out or self-excluded.
    PlayerExcluded,
    /// A round (a spin, a table bet) while a reality check waits for `reality_check_ack`.
    RealityCheckPending,
    /// A stake or deposit that would cross one of the player's limits (loss, wager, deposit,
    /// session time); the error's `limit` says which, and when it resets.
    LimitReached,
    /// A game (an RTP variant) the session's jurisdiction profile does not offer: it is not in
    /// the session's games list either.
    GameNotOffered,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub fn all() -> impl Iterator<Item = ErrorCode> {
        <ErrorCode as strum::IntoEnumIterator>::iter()
    }

    /// The code as clients see it, e.g. `"insufficient_funds"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Largest `history.limit`: the game-recall window.
pub const MAX_HISTORY: u32 = 50;
/// Most numbers a table bet may list: a six line covers six.
pub const MAX_BET_NUMBERS: usize = 6;

/// A client frame that passed parsing: every field has a valid shape (values such as the bet
/// amount are checked against the game and the currency by the session). Serialised, it is
/// the frame a client sends (the load tester does): [`parse_client_frame`] reads it back.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Spin {
        req_id: ReqId,
        game: String,
        /// The bet as sent (a decimal string), `None` when omitted (free spins, free rounds).
        #[serde(skip_serializing_if = "Option::is_none")]
        bet: Option<String>,
        /// The operator's free-rounds campaign this spin plays (its bet is the campaign's).
        #[serde(skip_serializing_if = "Option::is_none")]
        campaign: Option<CampaignId>,
    },
    Balance {
        req_id: ReqId,
    },
    Games {
        req_id: ReqId,
    },
    History {
        req_id: ReqId,
        limit: u32,
    },
    Ping {
        req_id: ReqId,
    },
    Tables {
        req_id: ReqId,
    },
    JoinTable {
        req_id: ReqId,
        table: String,
    },
    LeaveTable {
        req_id: ReqId,
        table: String,
    },
    TableBet {
        req_id: ReqId,
        table: String,
        kind: String,
        /// The numbers a roulette bet covers (empty for outside and baccarat bets).
        numbers: Vec<u8>,
        /// The stake as sent (a decimal string).
        amount: String,
    },
    /// The player's provably fair seed in force: its commitment, client seed and next nonce.
    FairSeed {
        req_id: ReqId,
    },
    /// Reveals the seed in force and starts the next one, with `client_seed` (or, omitted, a
    /// fresh random one).
    RotateSeed {
        req_id: ReqId,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_seed: Option<ClientSeed>,
    },
    /// The player's safer-gambling limits: each in force, what it has used, a change waiting.
    Limits {
        req_id: ReqId,
    },
    /// The player has seen the `reality_check` pushed to them: play may go on.
    RealityCheckAck {
        req_id: ReqId,
    },
}

impl ClientFrame {
    pub fn req_id(&self) -> &ReqId {
        match self {
            ClientFrame::Spin { req_id, .. }
            | ClientFrame::Balance { req_id }
            | ClientFrame::Games { req_id }
            | ClientFrame::History { req_id, .. }
            | ClientFrame::Ping { req_id }
            | ClientFrame::Tables { req_id }
            | ClientFrame::JoinTable { req_id, .. }
            | ClientFrame::LeaveTable { req_id, .. }
            | ClientFrame::TableBet { req_id, .. }
            | ClientFrame::FairSeed { req_id }
            | ClientFrame::Limits { req_id }
            | ClientFrame::RealityCheckAck { req_id }
            | ClientFrame::RotateSeed { req_id, .. } => req_id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Spin { .. } => "spin",
            ClientFrame::Balance { .. } => "balance",
            ClientFrame::Games { .. } => "games",
            ClientFrame::History { .. } => "history",
            ClientFrame::Ping { .. } => "ping",
            ClientFrame::Tables { .. } => "tables",
            ClientFrame::JoinTable { .. } => "join_table",
            ClientFrame::LeaveTable { .. } => "leave_table",
            ClientFrame::TableBet { .. } => "table_bet",
            ClientFrame::FairSeed { .. } => "fair_seed",
            ClientFrame::RotateSeed { .. } => "rotate_seed",
            ClientFrame::Limits { .. } => "limits",
            ClientFrame::RealityCheckAck { .. } => "reality_check_ack",
        }
    }
}

/// Why a frame was refused; `req_id` is echoed when it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub req_id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

fn frame_error(req_id: Option<&ReqId>, code: ErrorCode, message: impl Into<String>) -> FrameError {
    FrameError {
        req_id: req_id.map(|r| r.to_string()),
        code,
        message: message.into(),
    }
}

/// Bytes at the start of a frame refused before parsing (rate limited, too large) that are
/// searched for its `req_id`: bounds what a refused frame costs the node.
pub const REQ_ID_SNIFF_BYTES: usize = 512;

/// The `req_id` of a frame that will not be parsed (it was rate limited, or is too large), if
/// `"req_id":"<valid id>"` appears within its first [`REQ_ID_SNIFF_BYTES`] bytes: so the
/// client waiting for that reply gets its error instead of hanging. A cheap scan, not a parse;
/// the id must still be a valid `ReqId`.
pub fn sniff_req_id(text: &str) -> Option<ReqId> {
    const KEY: &[u8] = b"\"req_id\"";
    let head = &text.as_bytes()[..text.len().min(REQ_ID_SNIFF_BYTES)];
    let mut from = 0;
    while let Some(at) = head[from..].windows(KEY.len()).position(|w| w == KEY) {
        let start = from + at;
        from = start + KEY.len();
        if start > 0 && head[start - 1] == b'\\' {
            continue; // inside another string, escaped
        }
        let rest = &head[from..];
        let skip_ws = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(bytes.len())
        };
        let rest = &rest[skip_ws(rest)..];
        let Some(rest) = rest.strip_prefix(b":") else {
            continue;
        };
        let rest = &rest[skip_ws(rest)..];
        let rest = rest.strip_prefix(b"\"")?;
        let end = rest.iter().position(|&b| b == b'"')?;
        let id = std::str::from_utf8(&rest[..end]).ok()?;
        return ReqId::parse(id).ok();
    }
    None
}

/// Fields each frame type allows; anything else is refused so typos do not pass silently.
fn allowed_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "spin" => &["type", "req_id", "game", "bet", "campaign"],
        "balance" | "games" | "ping" | "tables" | "fair_seed" | "limits" | "reality_check_ack" => {
            &["type", "req_id"]
        }
        "rotate_seed" => &["type", "req_id", "client_seed"],
        "join_table" | "leave_table" => &["type", "req_id", "table"],
        "table_bet" => &["type", "req_id", "table", "kind", "numbers", "amount"],
        "history" => &["type", "req_id", "limit"],
        _ => return None,
    })
}

pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| frame_error(None, ErrorCode::BadFrame, format!("not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(frame_error(
            None,
            ErrorCode::BadFrame,
            "a frame must be a JSON object",
        ));
    };
    let req_id = match object.get("req_id") {
        Some(Value::String(s)) => {
            ReqId::parse(s).map_err(|e| frame_error(None, ErrorCode::BadReqId, e.to_string()))?
        }
        Some(_) => {
            return Err(frame_error(
                None,
                ErrorCode::BadReqId,
                "req_id must be a string",
            ))
        }
        None => return Err(frame_error(None, ErrorCode::BadReqId, "req_id is missing")),
    };
    let rid = Some(&req_id);
    let kind = match object.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(frame_error(
                rid,
                ErrorCode::BadFrame,
                "type must be a string",
            ))
        }
        None => return Err(frame_error(rid, ErrorCode::BadFrame, "type is missing")),
    };
    let Some(allowed) = allowed_fields(kind) else {
        let shown: String = kind.chars().take(32).collect();
        return Err(frame_error(
            rid,
            ErrorCode::UnknownType,
            format!("unknown frame type {shown:?}"),
        ));
    };
    if let Some(extra) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        let shown: String = extra.chars().take(32).collect();
        return Err(frame_error(
            rid,
            ErrorCode::BadFrame,
            format!("unexpected field {shown:?} in a {kind} frame"),
        ));
    }
    let string_field = |name: &str| match object.get(name) {
        Some(Value::String(v)) => Ok(v.clone()),
        Some(_) => Err(frame_error(
            rid,
            ErrorCode::BadFrame,
            format!("{name} must be a string"),
        )),
        None => Err(frame_error(
            rid,
            ErrorCode::BadFrame,
            format!("{name} is missing"),
        )),
    };
    let frame = match kind {
        "tables" => ClientFrame::Tables { req_id },
        "join_table" => ClientFrame::JoinTable {
            table: string_field("table")?,
            req_id,
        },
        "leave_table" => ClientFrame::LeaveTable {
            table: string_field("table")?,
            req_id,
        },
        "table_bet" => {
            let numbers = match object.get("numbers") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) if items.len() <= MAX_BET_NUMBERS => items
                    .iter()
                    .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| {
                        frame_error(
                            rid,
                            ErrorCode::BadBet,
                            "numbers must be small non-negative integers",
                        )
                    })?,
                Some(_) => {
                    return Err(frame_error(
                        rid,
                        ErrorCode::BadBet,
                        format!("numbers must be an array of at most {MAX_BET_NUMBERS} integers"),
                    ))
                }
            };
            let amount = match object.get("amount") {
                Some(Value::String(a)) => a.clone(),
                Some(Value::Number(_)) => {
                    return Err(frame_error(
                        rid,
                        ErrorCode::BadAmount,
                        "amount must be a decimal string such as \"1.00\", not a number",
                    ))
                }
                _ => return Err(frame_error(rid, ErrorCode::BadAmount, "amount is missing")),
            };
            ClientFrame::TableBet {
                table: string_field("table")?,
                kind: string_field("kind")?,
                numbers,
                amount,
                req_id,
            }
        }
        "spin" => {
            let game = match object.get("game") {
                Some(Value::String(g)) => g.clone(),
                Some(_) => {
                    return Err(frame_error(
                        rid,
                        ErrorCode::BadFrame,
                        "game must be a string",
                    ))
                }
                None => return Err(frame_error(rid, ErrorCode::BadFrame, "game is missing")),
            };
            let bet = match object.get("bet") {
                Some(Value::String(b)) => Some(b.clone()),
                None | Some(Value::Null) => None,
                Some(_) => {
                    return Err(frame_error(
                        rid,
                        ErrorCode::BadAmount,
                        "bet must be a decimal string such as \"1.00\", not a number",
                    ))
                }
            };
            let campaign = match object.get("campaign") {
                None | Some(Value::Null) => None,
                Some(Value::String(c)) => Some(CampaignId::parse(c).map_err(|e| {
                    frame_error(rid, ErrorCode::BadFrame, format!("campaign: {e}"))
                })?),
                Some(_) => {
                    return Err(frame_error(
                        rid,
                        ErrorCode::BadFrame,
                        "campaign must be a string",
                    ))
                }
            };
            if campaign.is_some() && bet.is_some() {
                return Err(frame_error(
                    rid,
                    ErrorCode::BadFrame,
                    "a free round is played at its campaign's bet: omit bet",
                ));
            }
            ClientFrame::Spin {
                req_id,
                game,
                bet,
                campaign,
            }
        }
        "fair_seed" => ClientFrame::FairSeed { req_id },
        "rotate_seed" => {
            let client_seed = match object.get("client_seed") {
                None | Some(Value::Null) => None,
                Some(Value::String(c)) => Some(ClientSeed::parse(c).map_err(|e| {
                    frame_error(rid, ErrorCode::BadClientSeed, format!("client_seed: {e}"))
                })?),
                Some(_) => {
                    return Err(frame_error(
                        rid,
                        ErrorCode::BadClientSeed,
                        "client_seed must be a string",
                    ))
                }
            };
            ClientFrame::RotateSeed {
                req_id,
                client_seed,
            }
        }
        "balance" => ClientFrame::Balance { req_id },
        "limits" => ClientFrame::Limits { req_id },
        "reality_check_ack" => ClientFrame::RealityCheckAck { req_id },
        "games" => ClientFrame::Games { req_id },
        "ping" => ClientFrame::Ping { req_id },
        "history" => {
            let limit = match object.get("limit") {
                None | Some(Value::Null) => MAX_HISTORY,
                Some(Value::Number(n)) => match n.as_u64() {
                    Some(l) if (1..=u64::from(MAX_HISTORY)).contains(&l) => l as u32,
                    _ => {
                        return Err(frame_error(
                            rid,
                            ErrorCode::BadFrame,
                            format!("limit must be an integer from 1 to {MAX_HISTORY}"),
                        ))
                    }
                },
                Some(_) => {
                    return Err(frame_error(
                        rid,
                        ErrorCode::BadFrame,
                        "limit must be an integer",
                    ))
                }
            };
            ClientFrame::History { req_id, limit }
        }
        _ => unreachable!("allowed_fields() knows every type matched here"),
    };
    Ok(frame)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreeSpinsView {
    pub game: String,
    pub remaining: u32,
    pub bet: String,
    pub multiplier: u32,
}

/// Free rounds an operator gave the player (a campaign), playable until `expires_at` (Unix ms)
/// with `{"type": "spin", "game": ..., "campaign": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreeRoundsView {
    pub campaign: String,
    pub game: String,
    pub remaining: u32,
    pub bet: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitsView {
    pub max_frame_bytes: usize,
    pub rate_per_second: u32,
    pub burst: u32,
}

/// One of the player's limits (docs/jurisdictions.md, "Player limits"): in an error
/// `limit_reached`, the one crossed and when it resets; in `limits`, each with what it used.
/// `amount` (money, in the account's currency) or `minutes` (a session time) says how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayerLimitView {
    /// `loss`, `wager`, `deposit` or `session_time`.
    pub kind: String,
    /// `day`, `week` or `month` (rolling), or `session`.
    pub period: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
    /// What the window has used (money limits, in `limits` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<String>,
    /// When the refused stake would fit again (Unix ms; absent: not within this window or
    /// session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at_ms: Option<i64>,
    /// A looser change waiting for its cooling-off (in `limits` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingLimitView>,
}

/// The session so far, as a reality check and (where the profile asks) every spin result show
/// it: time since the session's launch, and what its rounds staked and won (`net` = won -
/// staked, negative for a loss), in the session's currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionView {
    pub elapsed_ms: i64,
    pub staked: String,
    pub won: String,
    pub net: String,
}

/// A looser limit, or a removal (neither `amount` nor `minutes`), applying at `from_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingLimitView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
    pub from_ms: i64,
}

/// The jurisdiction rules of a session, as its welcome tells the client (docs/jurisdictions.md):
/// what the server enforces (interval, caps, jackpots, reality checks) and what the client
/// must not offer (autoplay, turbo, celebrating a win below the stake).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesView {
    pub profile: String,
    pub min_round_interval_ms: u64,
    /// The largest stake of one spin in the session's currency (none: the game's own limits).
    pub slot_stake_cap: Option<String>,
    pub table_stake_cap: Option<String>,
    pub jackpots: bool,
    pub autoplay: bool,
    pub turbo: bool,
    pub celebrate_wins_below_stake: bool,
    pub reality_check_minutes: u32,
    pub show_net_position: bool,
    pub show_elapsed_time: bool,
}

impl Default for RulesView {
    /// The permissive rules (a server that predates jurisdictions sends none).
    fn default() -> Self {
        RulesView {
            profile: "default".to_string(),
            min_round_interval_ms: 0,
            slot_stake_cap: None,
            table_stake_cap: None,
            jackpots: true,
            autoplay: true,
            turbo: true,
            celebrate_wins_below_stake: true,
            reality_check_minutes: 0,
            show_net_position: false,
            show_elapsed_time: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GameView {
    /// What a spin names (`starfall`, or a variant's own id such as `starfall_94`).
    pub id: String,
    /// The game this is a variant of (the id of its game file).
    #[serde(default)]
    pub family: String,
    /// Its RTP variant, when the game ships several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The theoretical return to player it states (e.g. "0.9602"), from its PAR sheet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtp: Option<String>,
    pub name: String,
    pub reels: usize,
    pub rows: usize,
    pub lines: usize,
    pub min_bet: String,
    pub max_bet: String,
    pub bet_step: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundView {
    pub round_id: String,
    pub game: String,
    pub bet: String,
    pub win: String,
    pub free_spin: bool,
    pub status: String,
    pub created_at: i64,
    pub outcome: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitView {
    pub min: String,
    pub max: String,
}

/// A live table as listed by `tables` and `GET /v1/tables`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableView {
    pub id: String,
    pub game: String,
    pub currency: String,
    pub round_id: String,
    pub phase: String,
    pub time_left_ms: i64,
    pub seated: usize,
    /// 0 = unlimited watchers.
    pub max_seats: u32,
    pub limits: std::collections::BTreeMap<String, LimitView>,
    /// The table's video, where the studio has one (`tables.toml` `stream_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_url: Option<String>,
}

/// One of the caller's bets in a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableBetView {
    pub bet_id: String,
    pub kind: String,
    pub numbers: Vec<u8>,
    pub amount: String,
    /// `accepted` once debited, `pending` while the debit commits.
    pub status: String,
}

/// One jackpot level's current value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolView {
    pub pool: String,
    pub level: String,
    pub currency: String,
    /// Whole minor units (the fraction below a cent stays in the pool).
    pub value: String,
    /// Increases by one each time the level is won.
    pub cycle: i64,
}

/// A jackpot level won by this round, in the winner's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JackpotWinView {
    pub pool: String,
    pub level: String,
    pub amount: String,
}

/// A provably fair seed in force, as the player sees it (docs/fairness.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairSeedView {
    pub seed_index: i64,
    /// SHA-256 of the server seed (hex): compare it with `server_seed` once revealed.
    pub commitment: String,
    pub client_seed: String,
    /// The nonce the next provably fair round takes.
    pub next_nonce: i64,
}

/// A seed a rotation revealed: with it the player recomputes every round it played (nonces
/// `0 .. rounds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealedSeedView {
    pub seed_index: i64,
    pub commitment: String,
    pub server_seed: String,
    pub client_seed: String,
    pub rounds: i64,
}

/// A past round's result as shown on the table's board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastRound {
    pub round_id: String,
    pub result: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerFrame {
    Welcome {
        session_id: String,
        player_id: String,
        currency: String,
        balance: String,
        free_spins: Vec<FreeSpinsView>,
        /// The operator's free rounds the player may play now.
        #[serde(default)]
        free_rounds: Vec<FreeRoundsView>,
        limits: LimitsView,
        /// The jurisdiction rules the session plays under.
        #[serde(default)]
        rules: RulesView,
    },
    SpinResult {
        req_id: String,
        round_id: String,
        game: String,
        bet: String,
        win: String,
        balance: String,
        free_spin: bool,
        outcome: Value,
        free_spins_remaining: u32,
        /// The campaign this round was a free round of, and its rounds left after it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        free_rounds_remaining: Option<u32>,
        /// Jackpot levels this spin won, credited on top of `win` (`balance` includes them).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        jackpot_wins: Vec<JackpotWinView>,
        /// The session's elapsed time and net position, where the profile asks for them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionView>,
    },
    Balance {
        req_id: String,
        currency: String,
        balance: String,
    },
    Games {
        req_id: String,
        games: Vec<GameView>,
        /// The operator's free rounds the player may play now.
        #[serde(default)]
        free_rounds: Vec<FreeRoundsView>,
    },
    History {
        req_id: String,
        rounds: Vec<RoundView>,
    },
    Pong {
        req_id: String,
        server_time: i64,
    },
    Error {
        req_id: Option<String>,
        code: ErrorCode,
        message: String,
        /// `too_fast`: milliseconds until the request may succeed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// `limit_reached`: the limit the request would cross, and when it resets.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<PlayerLimitView>,
    },
    Reconnect {
        reason: String,
    },
    Tables {
        req_id: String,
        tables: Vec<TableView>,
    },
    /// The reply to `join_table`: everything needed to draw the table now.
    TableState {
        req_id: String,
        table: TableView,
        your_bets: Vec<TableBetView>,
        recent: Vec<PastRound>,
    },
    LeftTable {
        req_id: String,
        table: String,
    },
    BetAccepted {
        req_id: String,
        table: String,
        round_id: String,
        bet_id: String,
        kind: String,
        numbers: Vec<u8>,
        amount: String,
        balance: String,
    },
    /// Pushed to every seated player: a new round takes bets until `closes_at` (Unix ms).
    BettingOpen {
        table: String,
        round_id: String,
        closes_at: i64,
        closes_in_ms: i64,
    },
    /// Pushed once a second while betting is open.
    BettingCountdown {
        table: String,
        round_id: String,
        seconds_left: i64,
    },
    BettingClosed {
        table: String,
        round_id: String,
    },
    /// The drawn outcome, the same frame to every seated player.
    RoundResult {
        table: String,
        round_id: String,
        result: Value,
    },
    /// The round's bets are paid: totals for everyone (each player's own bets come as
    /// `bet_settled`).
    RoundSettled {
        table: String,
        round_id: String,
        bets: usize,
        returned: String,
    },
    /// The round could not complete: every bet of it is refunded exactly once.
    RoundVoid {
        table: String,
        round_id: String,
        reason: String,
    },
    /// The table was taken out of play (a reload removed it): its last round has settled, it
    /// takes no more bets, and its seats are gone.
    TableClosed {
        table: String,
        reason: String,
    },
    /// Pushed to every player when a pool's values changed (at most every 500 ms).
    JackpotUpdate {
        pools: Vec<PoolView>,
    },
    /// Pushed to every player when a level is won; the winner is masked.
    JackpotWon {
        pool: String,
        level: String,
        cycle: i64,
        amount: String,
        currency: String,
        game: String,
        winner: String,
    },
    /// Pushed every `rules.reality_check_minutes`: the session so far. No round starts until
    /// the client answers `reality_check_ack`.
    RealityCheck {
        session: SessionView,
        interval_minutes: u32,
    },
    /// The answer to `reality_check_ack`: play goes on; the next check is due at `next_at_ms`.
    RealityCheckAcked {
        req_id: String,
        next_at_ms: i64,
    },
    /// The answer to `limits`: every limit in force or waiting (none: an empty list).
    Limits {
        req_id: String,
        currency: String,
        limits: Vec<PlayerLimitView>,
    },
    /// The answer to `fair_seed`.
    FairSeed {
        req_id: String,
        seed: FairSeedView,
    },
    /// The answer to `rotate_seed`: the seed revealed and the one now in force.
    SeedRotated {
        req_id: String,
        revealed: RevealedSeedView,
        seed: FairSeedView,
    },
    /// Pushed to the player who placed the bet: what it returned (`void`: the refund).
    BetSettled {
        table: String,
        round_id: String,
        bet_id: String,
        kind: String,
        amount: String,
        outcome: String,
        returned: String,
        balance: String,
        /// Jackpot levels the bet won, credited on top of `returned`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        jackpot_wins: Vec<JackpotWinView>,
    },
}

impl ServerFrame {
    pub fn error(req_id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            req_id,
            code,
            message: message.into(),
            retry_after_ms: None,
            limit: None,
        }
    }

    /// Serialises the frame. Every field is a string, number, bool or JSON value, so this
    /// cannot fail; the fallback keeps the connection alive if it ever did.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","req_id":null,"code":"internal","message":"serialisation failed"}"#
                .to_string()
        })
    }
}

#[cfg(test)]
mod tests;
