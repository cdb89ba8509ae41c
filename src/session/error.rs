//! What can go wrong playing a frame ([`PlayError`], each variant knowing its client code),
//! who is asking ([`Caller`]), and the one way a session writes an amount. Shared by the frame
//! handler and the live-table frames, which import this and never each other's internals.

use crate::ids::PlayerId;
use crate::money::{Currency, MoneyError};
use crate::protocol::ErrorCode;
use crate::rng::RngError;
use crate::wallet::{LedgerError, MovementError, WalletError};

/// Everything that can go wrong playing a frame, each mapped once to a client error code.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("unknown game {0:?}")]
    UnknownGame(String),
    #[error("bad bet: {0}")]
    BadAmount(#[from] MoneyError),
    #[error("a bet amount is required (no free spins on this game)")]
    BetRequired,
    #[error("{0}")]
    BetOutOfLimits(String),
    #[error("balance {balance} is less than the bet {bet}")]
    InsufficientFunds { balance: String, bet: String },
    #[error("{0}")]
    Wallet(#[from] WalletError),
    #[error("{0}")]
    Rng(#[from] RngError),
    #[error("round {0} was voided and its stake refunded")]
    RoundVoid(String),
    #[error("this request is still being processed; retry with the same req_id")]
    InProgress,
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Refused(MovementError),
    /// The settlement of a round already open was refused (voided meanwhile): the round
    /// began, so its start is not given back.
    #[error("{0}")]
    SettleRefused(MovementError),
    #[error("unknown table {0:?}")]
    UnknownTable(String),
    #[error("{0}")]
    Table(#[from] crate::table::TableError),
    #[error("{0}")]
    Rules(#[from] crate::table::rules::RulesError),
    #[error("table {table} plays in {table_currency}; your account is in {yours}")]
    WrongCurrency {
        table: String,
        table_currency: String,
        yours: String,
    },
    #[error("the table did not answer in time; retry with the same req_id")]
    TableBusy,
    #[error("at most {0} tables per connection")]
    TooManyTables(usize),
    #[error("you are not seated at table {0}")]
    NotJoined(String),
    #[error("{0}")]
    Ask(#[from] crate::table::cluster::AskError),
    #[error("{0}")]
    Fair(#[from] crate::fair::FairError),
    #[error("{0}")]
    Seed(#[from] crate::fair::SeedError),
    #[error("{0}")]
    Jurisdiction(#[from] crate::jurisdiction::JurisdictionError),
    #[error("a reality check is waiting: answer it (reality_check_ack) to play on")]
    RealityCheckPending,
    #[error("no reality check is waiting")]
    NoRealityCheck,
}

impl PlayError {
    /// The client's error code: the wrapped domain error's own, or this layer's.
    pub fn code(&self) -> ErrorCode {
        match self {
            PlayError::UnknownGame(_) => ErrorCode::UnknownGame,
            PlayError::BadAmount(e) => e.code(),
            PlayError::BetRequired => ErrorCode::BadAmount,
            PlayError::BetOutOfLimits(_) => ErrorCode::BetOutOfLimits,
            PlayError::InsufficientFunds { .. } => ErrorCode::InsufficientFunds,
            PlayError::Wallet(e) => e.code(),
            PlayError::Rng(e) => e.code(),
            PlayError::RoundVoid(_) => ErrorCode::RoundVoid,
            PlayError::InProgress | PlayError::TableBusy => ErrorCode::ServerBusy,
            PlayError::Ledger(e) => e.code(),
            PlayError::Refused(e) | PlayError::SettleRefused(e) => e.code(),
            PlayError::UnknownTable(_) => ErrorCode::UnknownTable,
            PlayError::Table(e) => e.code(),
            PlayError::Rules(e) => e.code(),
            PlayError::WrongCurrency { .. } => ErrorCode::WrongCurrency,
            PlayError::TooManyTables(_) => ErrorCode::BadRequest,
            PlayError::NotJoined(_) => ErrorCode::NotSeated,
            PlayError::Ask(e) => e.code(),
            PlayError::Fair(e) => e.code(),
            PlayError::Seed(e) => e.code(),
            PlayError::Jurisdiction(e) => e.code(),
            PlayError::RealityCheckPending => ErrorCode::RealityCheckPending,
            PlayError::NoRealityCheck => ErrorCode::BadRequest,
        }
    }

    /// When the request may succeed, for the error frame's `retry_after_ms`.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            PlayError::Jurisdiction(e) => e.retry_after_ms(),
            _ => None,
        }
    }

    /// The player's limit a `limit_reached` refusal would have crossed, for the error frame.
    pub fn limit(&self, currency: &Currency) -> Option<croupier_core::protocol::PlayerLimitView> {
        match self {
            PlayError::Refused(MovementError::LimitReached {
                kind,
                period,
                limit,
                resets_at_ms,
            }) => Some(crate::limits::hit_view(
                *kind,
                *period,
                *limit,
                *resets_at_ms,
                currency,
            )),
            _ => None,
        }
    }

    /// Whether the frame was refused before any round began or any money moved (a claimed
    /// round start is then given back).
    pub fn refused_before_play(&self) -> bool {
        matches!(
            self,
            PlayError::BadAmount(_)
                | PlayError::BetRequired
                | PlayError::BetOutOfLimits(_)
                | PlayError::InsufficientFunds { .. }
                | PlayError::Refused(_)
                | PlayError::UnknownGame(_)
                | PlayError::Jurisdiction(_)
        )
    }
}

/// Whether an error reply may be cached for resends: transient failures must not be, so the
/// client's retry with the same `req_id` runs again.
pub fn is_transient(code: ErrorCode) -> bool {
    // `too_fast`, `limit_reached` and `reality_check_pending` pass with time: a resend after the wait must run, not
    // replay the refusal.
    matches!(
        code,
        ErrorCode::ServerBusy
            | ErrorCode::ServiceUnavailable
            | ErrorCode::Internal
            | ErrorCode::TooFast
            | ErrorCode::LimitReached
            | ErrorCode::RealityCheckPending
    )
}

/// Who is asking: fixed for the life of a connection.
#[derive(Debug, Clone)]
pub struct Caller {
    pub player: PlayerId,
    pub currency: Currency,
    pub session_id: String,
    /// When the token expires (Unix seconds).
    pub expires_at: u64,
    /// The jurisdiction rules the session plays under.
    pub rules: std::sync::Arc<croupier_core::jurisdiction::SessionRules>,
    /// When the session began (its launch, Unix ms), for a session-time limit; `None` for a
    /// bet another node asks for from a node that does not say.
    pub session_started_ms: Option<i64>,
}

/// `minor` units of `currency` as the client sees them ("12.50").
pub(super) fn money(minor: i64, currency: &Currency) -> String {
    crate::money::minor_text(minor, currency)
}
