//! The `Ledger` trait: the one system of record for money, and the movements it applies.
//!
//! A movement is one atomic change to one player's money and rounds. Every movement has a
//! unique transaction id; applying the same movement twice returns the first result and
//! changes nothing, and a different movement under a used id is refused. Amounts are integer
//! minor units here (the storage form); conversion to `Money` happens at the edges.
//!
//! About 900 lines, on purpose: the whole vocabulary of the system of record (every movement,
//! what it answers, why it is refused, every record read back, and the trait) in one place, so
//! a movement and its answer are read and changed together.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::fair::{FairNonce, FairSeed, NewSeed, Reveal};
pub use crate::free_rounds::{
    FreeRoundEvent, FreeRoundEventKind, FreeRounds, FreeRoundsGrant, FreeRoundsStatus,
};
use crate::ids::{CampaignId, PlayerId, ReqId, RoundId};
pub use crate::jackpot::{ClaimReason, JackpotClaim, JackpotWin, LevelDraw};
use croupier_core::protocol::ErrorCode;

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Deposit,
    /// Money the operator took out of the player's balance.
    Withdrawal,
    Bet,
    Win,
    Refund,
    /// A jackpot level won by the round.
    Jackpot,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Deposit => "deposit",
            EntryKind::Withdrawal => "withdrawal",
            EntryKind::Bet => "bet",
            EntryKind::Win => "win",
            EntryKind::Refund => "refund",
            EntryKind::Jackpot => "jackpot",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "deposit" => EntryKind::Deposit,
            "withdrawal" => EntryKind::Withdrawal,
            "bet" => EntryKind::Bet,
            "win" => EntryKind::Win,
            "refund" => EntryKind::Refund,
            "jackpot" => EntryKind::Jackpot,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundStatus {
    Open,
    Settled,
    Void,
}

impl RoundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RoundStatus::Open => "open",
            RoundStatus::Settled => "settled",
            RoundStatus::Void => "void",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "open" => RoundStatus::Open,
            "settled" => RoundStatus::Settled,
            "void" => RoundStatus::Void,
            _ => return None,
        })
    }
}

/// Free spins a player holds on one game: played at `bet_minor`, wins times `multiplier`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeSpins {
    pub game: String,
    pub remaining: u32,
    pub bet_minor: i64,
    pub multiplier: u32,
}

/// What a paid bet gives a jackpot pool: each level's contribution and reserve share, in
/// parts per million of the debit (see `jackpot::math`). Applied in the bet's own transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JackpotFeed {
    pub pool: String,
    pub levels: Vec<LevelFeed>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelFeed {
    pub level: String,
    pub contribution_ppm: i64,
    pub reserve_ppm: i64,
    /// The level's must-drop-by ceiling: a one-step spin's transaction claims the level when
    /// the bet takes it there (see [`Movement::PlayRound`]).
    pub must_drop_by_micro: Option<i64>,
}

/// A level as a bet left it: the cycle it contributed to and the value right after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelSeen {
    pub level: String,
    pub cycle: i64,
    pub value_micro: i64,
    pub contribution_micro: i64,
}

/// A pool level as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolState {
    pub pool: String,
    pub level: String,
    pub currency: String,
    pub cycle: i64,
    pub value_micro: i64,
    pub reserve_micro: i64,
    pub seed_micro: i64,
    pub last_won_at_ms: Option<i64>,
}

/// A pool level as configured, for [`Ledger::ensure_pools`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub pool: String,
    pub level: String,
    pub currency: String,
    pub seed_micro: i64,
}

/// One atomic change to a player's money and rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Movement {
    /// Credits money from outside the games (demo funding, operator deposit).
    Deposit {
        tx_id: String,
        player: PlayerId,
        amount_minor: i64,
    },
    /// Debits money leaving the games (an operator's withdrawal), never below zero.
    Withdraw {
        tx_id: String,
        player: PlayerId,
        amount_minor: i64,
    },
    /// Opens a round and takes its stake: consumes one free spin on `game` when
    /// `try_free_spin` and the player has one, else debits `bet_minor`.
    /// Exactly once per `(player, req_id)`. Transaction id: `<round>:bet`.
    OpenRound {
        round_id: RoundId,
        player: PlayerId,
        req_id: ReqId,
        game: String,
        bet_minor: Option<i64>,
        try_free_spin: bool,
        /// The jackpot pool this game feeds: a paid bet contributes to it in this transaction.
        jackpot: Option<JackpotFeed>,
        /// What was bet, kept as the round's outcome until it settles (a table bet: its table,
        /// table round, bet and amount, so whoever voids it can tell the player); `None` for
        /// a spin, whose outcome is drawn before it opens.
        opened_json: Option<String>,
        /// The node opening it (cluster mode): if that node leaves the cluster with the round
        /// still open, the others refund it at once.
        node: Option<String>,
        /// When the player's session began (Unix ms), for a session-time limit.
        session_started_ms: Option<i64>,
    },
    /// Credits the win, stores the outcome and any free spins awarded. Transaction id `<round>:win`.
    /// Each jackpot claim resets its level and credits it (`<round>:jackpot:<level>`).
    SettleRound {
        round_id: RoundId,
        player: PlayerId,
        win_minor: i64,
        outcome_json: String,
        free_spins_awarded: Option<FreeSpins>,
        jackpot_claims: Vec<JackpotClaim>,
        /// The jackpot draws the claims came from (every level's, mystery values included),
        /// kept with the round for its recall.
        jackpot_draws: Vec<LevelDraw>,
    },
    /// A whole paid spin in ONE transaction: opens the round and takes the stake (feeding the
    /// jackpot) exactly as `OpenRound`, then credits the win and settles exactly as
    /// `SettleRound`: the same rows, the same transaction ids (`<round>:bet`, `<round>:win`).
    /// Used by the embedded ledger only, under a hold the player's wallet shard took before
    /// the draw, so the stake cannot be spent meanwhile. The draw's jackpot decisions become
    /// claims here, at the cycle this bet fed, with the ceiling checked on the level as this
    /// bet leaves it. A `req_id` that already has a round answers that round (`replayed`),
    /// and the new draw is not used.
    PlayRound {
        round_id: RoundId,
        player: PlayerId,
        req_id: ReqId,
        game: String,
        bet_minor: i64,
        jackpot: Option<JackpotFeed>,
        node: Option<String>,
        win_minor: i64,
        outcome_json: String,
        free_spins_awarded: Option<FreeSpins>,
        jackpot_draws: Vec<LevelDraw>,
        /// When the player's session began (Unix ms), for a session-time limit.
        session_started_ms: Option<i64>,
    },
    /// Opens a free round of an operator's campaign: takes one of its rounds (it must be
    /// active, unexpired, of this game, with rounds left, and the player must hold no free
    /// spins of the game's own), debits nothing, and stakes the campaign's bet; settled by
    /// `SettleRound` like any round. No jackpot is fed (nothing is debited). Exactly once per
    /// `(player, req_id)`, like `OpenRound`.
    OpenFreeRound {
        round_id: RoundId,
        player: PlayerId,
        req_id: ReqId,
        game: String,
        campaign: CampaignId,
        node: Option<String>,
    },
    /// Gives the player a campaign's free rounds; the same grant again answers the first
    /// (`replayed`), the campaign again with other details is `TxConflict`.
    GrantFreeRounds {
        player: PlayerId,
        grant: FreeRoundsGrant,
    },
    /// Cancels the rounds of a campaign not yet played (a round already opened still settles).
    CancelFreeRounds {
        player: PlayerId,
        campaign: CampaignId,
    },
    /// Voids an open round: refunds its stake (or gives back its free spin). Tx `<round>:refund`.
    VoidRound { round_id: RoundId, player: PlayerId },
    /// Creates the player's account at zero if it does not exist (no money moves).
    EnsureAccount { player: PlayerId, currency: String },
    /// A provably fair round: `movement` (an `OpenRound` or an `OpenFreeRound`) takes the
    /// next nonce of the player's seed in force in its own transaction, so the round's draw is
    /// fixed (seed, client seed, nonce) before it is made; a replayed open answers the nonce
    /// its round took. Refused `NoFairSeed` when the player has no seed in force.
    Fair { movement: Box<Movement> },
    /// Starts one of the player's seeds: the first (no `reveal`), or the next one, revealing
    /// the seed in force in the same transaction. The same rotation again answers what it left
    /// (`replayed`); one that no longer fits (another rotation came first) is `StaleSeed`.
    RotateSeed {
        player: PlayerId,
        reveal: Option<Reveal>,
        next: NewSeed,
    },
    /// A live-table movement taken under the table's lease: applied only while `fence` is
    /// the table's current token (see [`Ledger::next_fence`]), else refused with nothing changed.
    Fenced {
        fence: Fence,
        movement: Box<Movement>,
    },
}

/// A live table's fencing token, as the node running its rounds holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub table: String,
    pub token: i64,
}

impl Movement {
    /// The movement's kind, as labelled in the metrics (a fenced one by what it fences).
    pub fn kind(&self) -> &'static str {
        match self {
            Movement::Deposit { .. } => "deposit",
            Movement::Withdraw { .. } => "withdraw",
            Movement::OpenRound { .. } => "open_round",
            Movement::SettleRound { .. } => "settle_round",
            Movement::PlayRound { .. } => "play_round",
            Movement::OpenFreeRound { .. } => "open_free_round",
            Movement::GrantFreeRounds { .. } => "grant_free_rounds",
            Movement::CancelFreeRounds { .. } => "cancel_free_rounds",
            Movement::VoidRound { .. } => "void_round",
            Movement::EnsureAccount { .. } => "ensure_account",
            Movement::RotateSeed { .. } => "rotate_seed",
            Movement::Fenced { movement, .. } | Movement::Fair { movement } => movement.kind(),
        }
    }

    /// This movement, fenced by `fence` when there is one (a table under a cluster lease).
    pub fn fenced(self, fence: Option<&Fence>) -> Movement {
        match fence {
            Some(fence) => Movement::Fenced {
                fence: fence.clone(),
                movement: Box::new(self),
            },
            None => self,
        }
    }
}

impl Movement {
    pub fn player(&self) -> &PlayerId {
        match self {
            Movement::Deposit { player, .. }
            | Movement::Withdraw { player, .. }
            | Movement::OpenRound { player, .. }
            | Movement::SettleRound { player, .. }
            | Movement::PlayRound { player, .. }
            | Movement::VoidRound { player, .. }
            | Movement::OpenFreeRound { player, .. }
            | Movement::GrantFreeRounds { player, .. }
            | Movement::CancelFreeRounds { player, .. }
            | Movement::EnsureAccount { player, .. }
            | Movement::RotateSeed { player, .. } => player,
            Movement::Fenced { movement, .. } | Movement::Fair { movement } => movement.player(),
        }
    }
}

/// The result of a movement the ledger accepted (or had already accepted: `replayed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A deposit or a withdrawal (`replayed`: its transaction id was applied before, with
    /// the same details; the balance is the one it left then).
    Deposited {
        balance_minor: i64,
        replayed: bool,
    },
    Withdrawn {
        balance_minor: i64,
        replayed: bool,
    },
    RoundOpened {
        round: RoundRecord,
        balance_minor: i64,
        /// Free spins still held on the round's game after this one was taken (0 if paid).
        free_spins_left: u32,
        /// A free round's campaign: its rounds left after this one was taken.
        free_rounds_left: Option<u32>,
        /// The round's `(player, req_id)` already existed: this is that round, nothing changed.
        replayed: bool,
        /// The jackpot levels this bet fed, as it left them.
        jackpot: Vec<LevelSeen>,
        /// A provably fair round (`Movement::Fair`): the nonce it took.
        fair: Option<FairNonce>,
    },
    RoundSettled {
        balance_minor: i64,
        replayed: bool,
        jackpot_wins: Vec<JackpotWin>,
    },
    RoundVoided {
        balance_minor: i64,
        replayed: bool,
    },
    /// A `PlayRound`: the round as settled (or, `replayed`, the round its `req_id` opened
    /// before, in whatever state it is: nothing changed), the levels the bet fed and the
    /// levels it won.
    RoundPlayed {
        round: RoundRecord,
        balance_minor: i64,
        replayed: bool,
        jackpot: Vec<LevelSeen>,
        jackpot_wins: Vec<JackpotWin>,
    },
    AccountReady(Account),
    /// A rotation: the seed it revealed (none for a first seed) and the seed now in force.
    SeedRotated {
        revealed: Option<FairSeed>,
        current: FairSeed,
        replayed: bool,
    },
    /// The grant as it stands (`replayed`: it existed with the same details).
    FreeRoundsGranted {
        grant: FreeRounds,
        replayed: bool,
    },
    /// The grant as cancelling left it (`replayed`: it was already closed, nothing changed).
    FreeRoundsCancelled {
        grant: FreeRounds,
        replayed: bool,
    },
}

/// Why the ledger refused one movement; the rest of the batch is unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MovementError {
    #[error("no account for player {0}")]
    UnknownAccount(String),
    #[error("balance {balance_minor} is less than the stake {needed_minor} (minor units)")]
    InsufficientFunds {
        balance_minor: i64,
        needed_minor: i64,
    },
    #[error("a bet amount is required (no free spins held on this game)")]
    BetRequired,
    #[error("transaction {0} already exists with different details")]
    TxConflict(String),
    #[error("round {0} is not open")]
    RoundNotOpen(String),
    #[error("round {0} does not exist")]
    UnknownRound(String),
    #[error("amount must be positive")]
    NonPositiveAmount,
    #[error("no free-rounds campaign {0} for this player")]
    UnknownCampaign(String),
    #[error("campaign {campaign} cannot be played: {reason}")]
    FreeRoundsUnavailable { campaign: String, reason: String },
    #[error("free spins of {0} are held: they are played first (without a campaign)")]
    FreeSpinsPending(String),
    #[error("the player already holds {0} open campaigns")]
    TooManyCampaigns(u32),
    #[error("the player has no provably fair seed in force")]
    NoFairSeed,
    #[error("seed {0} is no longer the seed in force (another rotation came first)")]
    StaleSeed(i64),
    #[error("table {table} has moved to another node (fence {token}, current {current})")]
    Fenced {
        table: String,
        token: i64,
        current: i64,
    },
    /// A stake or deposit that would cross a limit in force (`limit`: minor units, or minutes
    /// for a session time); `resets_at_ms`: when it would fit again (`None`: not in this
    /// window or session).
    #[error("{} limit per {} of {limit} reached", kind.as_str(), period.as_str())]
    LimitReached {
        kind: crate::limits::LimitKind,
        period: crate::limits::Period,
        limit: i64,
        resets_at_ms: Option<i64>,
    },
}

/// Why a whole batch failed: nothing of it was written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("ledger database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the ledger writer stopped")]
    WriterStopped,
    #[error("ledger migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("ledger invariant broken: {0}")]
    Invariant(String),
}

impl MovementError {
    /// The client's error code. A refusal the session should have prevented (an unknown
    /// account or round, a zero amount) is `internal`: it is a bug, not the player's doing.
    pub fn code(&self) -> ErrorCode {
        match self {
            MovementError::TxConflict(_) => ErrorCode::DuplicateRequest,
            MovementError::InsufficientFunds { .. } => ErrorCode::InsufficientFunds,
            // The table moved to another node: retry there.
            MovementError::Fenced { .. } => ErrorCode::ServerBusy,
            MovementError::UnknownCampaign(_) => ErrorCode::UnknownCampaign,
            MovementError::FreeRoundsUnavailable { .. } => ErrorCode::FreeRoundsUnavailable,
            MovementError::FreeSpinsPending(_) => ErrorCode::FreeSpinsPending,
            MovementError::TooManyCampaigns(_) => ErrorCode::BadRequest,
            MovementError::StaleSeed(_) => ErrorCode::SeedChanged,
            MovementError::LimitReached { .. } => ErrorCode::LimitReached,
            MovementError::UnknownAccount(_)
            | MovementError::BetRequired
            | MovementError::RoundNotOpen(_)
            | MovementError::UnknownRound(_)
            | MovementError::NonPositiveAmount
            | MovementError::NoFairSeed => ErrorCode::Internal,
        }
    }
}

impl LedgerError {
    /// The client's error code: the database being away is `service_unavailable` (retry);
    /// a broken invariant is `internal`.
    pub fn code(&self) -> ErrorCode {
        match self {
            LedgerError::Invariant(_) => ErrorCode::Internal,
            LedgerError::Database(_)
            | LedgerError::Sqlite(_)
            | LedgerError::WriterStopped
            | LedgerError::Migration(_) => ErrorCode::ServiceUnavailable,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub player: PlayerId,
    pub currency: String,
    pub balance_minor: i64,
}

/// A harm flag as kept: the session and rule that raised it (`loss_chasing`, `long_session`),
/// under which profile, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarmFlagRecord {
    pub player: PlayerId,
    pub session_id: String,
    pub rule: String,
    pub profile: String,
    pub raised_at_ms: i64,
}

/// What a player staked and won since a time (a session's reality check and net position):
/// every round begun since then that was not voided (slot and table alike), and the jackpots
/// won since then. Minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionTotals {
    pub staked_minor: i64,
    pub won_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRecord {
    pub round_id: RoundId,
    pub player: PlayerId,
    pub req_id: ReqId,
    pub game: String,
    pub status: RoundStatus,
    /// What was debited: the bet, or 0 for a free spin.
    pub bet_minor: i64,
    /// The stake the outcome pays on: the bet, or the free spins' bet.
    pub stake_minor: i64,
    pub win_minor: i64,
    pub free_spin: bool,
    /// Free-spin multiplier applied to this round's wins (1 for paid spins).
    pub multiplier: u32,
    /// Balance right after the round's last movement (open, settle or void).
    pub balance_after_minor: i64,
    pub outcome_json: Option<String>,
    pub created_at_ms: i64,
    /// The node that opened it, where recorded (cluster mode).
    pub node: Option<String>,
    /// The operator's campaign, for a free round.
    pub campaign: Option<String>,
}

/// A fair round as `croupier verify` and `GET /v1/fair/rounds/{id}` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairRound {
    pub round: RoundRecord,
    pub nonce: i64,
    pub seed: FairSeed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub tx_id: String,
    pub player: PlayerId,
    pub kind: EntryKind,
    pub amount_minor: i64,
    pub balance_after_minor: i64,
    pub round_id: Option<String>,
    pub created_at_ms: i64,
}

/// One line of a player's statement: a ledger entry, with its round's game and status when it
/// belongs to a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub entry: Entry,
    pub game: Option<String>,
    pub round_status: Option<String>,
    /// The campaign, when the round was a free round.
    pub campaign: Option<String>,
}

/// A page of a statement; `next_after` is the `seq` to continue after, if more lines follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementPage {
    pub lines: Vec<StatementLine>,
    pub next_after: Option<i64>,
}

/// What the ledger holds about one round: the round, when it settled, what its bet gave its
/// jackpot pool (micro-units), every entry it moved, and the levels it won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRecall {
    pub round: RoundRecord,
    pub settled_at_ms: Option<i64>,
    pub jackpot_pool: Option<String>,
    pub jackpot_micro: i64,
    /// Every level's jackpot draw for this round (empty if it fed no pool).
    pub jackpot_draws: Vec<LevelDraw>,
    pub entries: Vec<Entry>,
    pub awards: Vec<JackpotWin>,
}

/// What `reconcile` found: every pool recomputed from its entries, every award paid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub pools: u64,
    pub contributions_micro: i64,
    pub payouts_micro: i64,
    pub seeds_micro: i64,
    pub awards: u64,
    pub mismatches: Vec<String>,
}

/// What `audit` found: every balance must equal the sum of its entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub accounts: u64,
    pub entries: u64,
    pub open_rounds: u64,
    pub mismatches: Vec<String>,
    /// The books of each operator and currency (operator `None`: players of no operator).
    pub books: Vec<Books>,
    /// Free-rounds grants whose count was checked against their events.
    pub free_round_grants: u64,
    /// The tamper-evident chains walked (their breaks are in `mismatches` too).
    pub chain: ChainReport,
}

/// What walking the chains found (`crate::chain`): every break is also an audit mismatch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// Chains walked: one per account, one per jackpot level.
    pub chains: u64,
    pub links: u64,
    /// Rows written before the chain began (schema version 7): they carry no link.
    pub before_chain: u64,
    /// Chains (or unlinked rows) found broken; the first [`crate::MAX_BREAKS_LISTED`]
    /// are described in `breaks`, each naming the first row that breaks its chain.
    pub broken_chains: u64,
    pub breaks: Vec<String>,
}

/// One chain's head as exported for a checkpoint kept outside croupier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    /// `player:<id>` or `jackpot:<pool>:<level>`.
    pub chain: String,
    /// How many links the chain had.
    pub links: i64,
    /// The hash of its last link (64 hex digits; all zeros for an empty chain).
    pub head: String,
}

/// Which heads [`Ledger::chain_heads`] exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadsScope {
    /// Every player's and every jackpot level's (the command line, the scheduled log line).
    All,
    /// A page of one operator's players, by account id after `after`, at most `limit`.
    Operator {
        operator: String,
        after: Option<String>,
        limit: u32,
    },
}

/// A checkpoint: heads sorted by chain name, and the digest that vouches for the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHeads {
    pub taken_at_ms: i64,
    /// Over `heads` only ([`crate::heads_digest`]).
    pub digest: String,
    pub heads: Vec<ChainHead>,
    /// On a page of an operator's players: where the next page starts, when one follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One operator's money in one currency, from its entries, against its balances (minor
/// units): deposits - withdrawals - stakes + wins + refunds + jackpots = balances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Books {
    pub operator: Option<String>,
    pub currency: String,
    pub accounts: u64,
    pub deposits: i64,
    pub withdrawals: i64,
    pub stakes: i64,
    pub wins: i64,
    pub refunds: i64,
    pub jackpots: i64,
    pub balances: i64,
}

impl Books {
    /// What the entries say the balances must sum to.
    pub fn expected_balances(&self) -> i64 {
        self.deposits - self.withdrawals - self.stakes + self.wins + self.refunds + self.jackpots
    }
}

#[async_trait]
pub trait Ledger: Send + Sync + 'static {
    /// Raises the live table's fencing token and returns the new one: strictly greater than
    /// every token this ledger handed out before for that table, whatever Redis says. Every
    /// movement fenced by an older token is refused from then on (see [`Movement::Fenced`]).
    async fn next_fence(&self, table: &str) -> Result<i64, LedgerError>;

    /// Creates the account if missing (idempotent); returns it as stored.
    async fn ensure_account(
        &self,
        player: &PlayerId,
        currency: &str,
    ) -> Result<Account, LedgerError>;

    async fn account(&self, player: &PlayerId) -> Result<Option<Account>, LedgerError>;

    /// How many batches one caller (a wallet shard) may have committing at once. 1: each
    /// batch waits for the one before (PostgreSQL runs batches on separate connections, so two
    /// in flight could commit in either order). More where the back end queues every batch in
    /// arrival order onto one writer (SQLite), which then groups them itself.
    fn batches_in_flight(&self) -> usize {
        1
    }

    /// Applies movements in order in ONE database transaction (group commit). A refused
    /// movement changes nothing and does not stop the others.
    async fn commit_batch(
        &self,
        batch: &[Movement],
    ) -> Result<Vec<Result<Applied, MovementError>>, LedgerError>;

    async fn round(&self, round_id: &RoundId) -> Result<Option<RoundRecord>, LedgerError>;

    async fn round_by_req(
        &self,
        player: &PlayerId,
        req_id: &ReqId,
    ) -> Result<Option<RoundRecord>, LedgerError>;

    /// The player's latest rounds, newest first.
    async fn history(&self, player: &PlayerId, limit: u32)
        -> Result<Vec<RoundRecord>, LedgerError>;

    async fn free_spins(&self, player: &PlayerId) -> Result<Vec<FreeSpins>, LedgerError>;

    /// The player's free-rounds grants, newest first (at most `MAX_GRANTS_LISTED`); with
    /// `playable_at`, only those playable at that time.
    async fn free_rounds(
        &self,
        player: &PlayerId,
        playable_at: Option<i64>,
    ) -> Result<Vec<FreeRounds>, LedgerError>;

    /// One grant's events, in order (empty if there is no such grant).
    async fn free_round_events(
        &self,
        player: &PlayerId,
        campaign: &CampaignId,
    ) -> Result<Vec<FreeRoundEvent>, LedgerError>;

    /// Closes every grant whose expiry has passed, recording what each lost; returns how many.
    async fn expire_free_rounds(&self) -> Result<u64, LedgerError>;

    /// Every round left open (debited, not settled): to be voided at start-up.
    async fn open_rounds(&self) -> Result<Vec<RoundRecord>, LedgerError>;

    async fn entries(&self, player: &PlayerId) -> Result<Vec<Entry>, LedgerError>;

    /// A page of the player's statement: entries created in `[from_ms, to_ms)` after the
    /// entry `after_seq`, in the order they were written (see [`StatementPage`]).
    async fn statement(
        &self,
        player: &PlayerId,
        span_ms: (i64, i64),
        after_seq: i64,
        limit: u32,
    ) -> Result<StatementPage, LedgerError>;

    /// Everything about one round, or `None` if there is no such round.
    async fn recall(&self, round_id: &RoundId) -> Result<Option<RoundRecall>, LedgerError>;

    /// Recomputes every balance from the entries, walks every chain, and reports any
    /// difference.
    async fn audit(&self) -> Result<AuditReport, LedgerError>;

    /// Chains' heads now, for a checkpoint kept outside croupier: every chain, or a page of
    /// one operator's players ([`HeadsScope`]).
    async fn chain_heads(&self, scope: HeadsScope) -> Result<ChainHeads, LedgerError>;

    /// The digest of every chain's head (as `chain_heads(HeadsScope::All)` gives it), read a
    /// page at a time so memory stays bounded: `(digest, chains, links)`.
    async fn heads_digest(&self) -> Result<(String, u64, i64), LedgerError>;

    /// Checks a checkpoint taken earlier: its digest, and each head still on its chain. What
    /// does not hold, one line each (empty: the ledger still extends that checkpoint).
    async fn check_heads(&self, heads: ChainHeads) -> Result<Vec<String>, LedgerError>;

    /// Creates missing pool levels at their seed (cycle 1) and records new seeds for the next
    /// cycle of existing ones; idempotent.
    async fn ensure_pools(&self, specs: &[PoolSpec]) -> Result<(), LedgerError>;

    async fn pools(&self) -> Result<Vec<PoolState>, LedgerError>;

    /// Levels a round won.
    async fn jackpot_wins(&self, round_id: &RoundId) -> Result<Vec<JackpotWin>, LedgerError>;

    /// Recomputes every pool level from its entries and checks every award was paid.
    async fn reconcile(&self) -> Result<ReconcileReport, LedgerError>;

    /// The player's provably fair seed in force, if any.
    async fn fair_seed(&self, player: &PlayerId) -> Result<Option<FairSeed>, LedgerError>;

    /// A provably fair round with its nonce and its seed (revealed or not); `None` if there is
    /// no such round or it was not a fair one.
    async fn fair_round(&self, round_id: &RoundId) -> Result<Option<FairRound>, LedgerError>;

    /// Records a harm flag; `true` if new (a session raises each rule at most once).
    async fn raise_harm_flag(&self, flag: HarmFlagRecord) -> Result<bool, LedgerError>;

    /// The player's harm flags, newest first.
    async fn harm_flags(&self, player: &PlayerId) -> Result<Vec<HarmFlagRecord>, LedgerError>;

    /// What the player staked and won in rounds begun since `since_ms` (jackpots included).
    async fn session_totals(
        &self,
        player: &PlayerId,
        since_ms: i64,
    ) -> Result<SessionTotals, LedgerError>;

    /// The player's limits (in force, waiting, removed) and what each window has used now.
    async fn limits(&self, player: &PlayerId) -> Result<crate::limits::LimitsReport, LedgerError>;

    /// Sets one limit (`amount` `None`: remove it): a tighter or new one applies at once, a
    /// looser one or a removal after `cooling_off_ms`. The limit as it stands; `None`: the
    /// player has no account.
    async fn set_limit(
        &self,
        player: &PlayerId,
        key: crate::limits::LimitKey,
        amount: Option<i64>,
        cooling_off_ms: i64,
    ) -> Result<Option<crate::limits::PlayerLimit>, LedgerError>;

    /// Drops limited players' activity older than the longest window; how many rows went.
    async fn prune_activity(&self) -> Result<u64, LedgerError>;

    /// Excludes the player until `until_ms` (`None`: indefinitely) unless an exclusion in
    /// force already ends later (an exclusion is never shortened); the one that stands.
    async fn exclude(
        &self,
        player: &PlayerId,
        until_ms: Option<i64>,
        reason: crate::exclusion::ExclusionReason,
    ) -> Result<crate::exclusion::Exclusion, LedgerError>;

    /// The player's exclusion, in force or ended (`None`: never excluded).
    async fn exclusion(
        &self,
        player: &PlayerId,
    ) -> Result<Option<crate::exclusion::Exclusion>, LedgerError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal and failure knows the code the player sees; the session and HTTP layers
    /// only call `code()`.
    #[test]
    fn every_refusal_and_failure_knows_its_client_code() {
        let fenced = MovementError::Fenced {
            table: "roulette_1".into(),
            token: 1,
            current: 2,
        };
        let short = MovementError::InsufficientFunds {
            balance_minor: 1,
            needed_minor: 2,
        };
        assert_eq!(fenced.code(), ErrorCode::ServerBusy);
        assert_eq!(short.code(), ErrorCode::InsufficientFunds);
        assert_eq!(
            MovementError::TxConflict("t".into()).code(),
            ErrorCode::DuplicateRequest
        );
        assert_eq!(MovementError::NonPositiveAmount.code(), ErrorCode::Internal);
        assert_eq!(
            LedgerError::WriterStopped.code(),
            ErrorCode::ServiceUnavailable
        );
        assert_eq!(
            LedgerError::Invariant("x".into()).code(),
            ErrorCode::Internal
        );
    }
}
