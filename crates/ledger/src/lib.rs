//! # croupier-ledger — the one system of record for money
//!
//! One SQL schema and one set of statements over two databases: the embedded SQLite file (one
//! node, nothing to install, written by one thread with group commit) and PostgreSQL (a
//! cluster's shared ledger). The server's wallet shards submit [`Movement`]s here; nothing else
//! writes money.
//!
//! ## Map
//! ```text
//!  ledger      the Ledger trait, Movement / Applied, errors, round and entry records
//!  exclusion   a player's time-out or self-exclusion (type); exclusion_sql: set, never shortened
//!  limits      a player's loss, wager, deposit and session-time limits: the rules (pure)
//!  limits_sql  limits set, limited players' activity counted per hour, stakes checked in their tx
//!  fair        provably fair seeds as stored: in force, revealed, a round's nonce (types, rules)
//!  fair_sql    seeds started and revealed, a fair round's nonce taken, fair rounds read back
//!  free_rounds an operator's free rounds: grants, their events, what is playable (pure rules)
//!  free_rounds_sql granting, taking, giving back, cancelling and expiring free rounds
//!  sql         SqlTx: the one face both databases answer (exec, row, rows, locking)
//!  chain       the tamper-evident chain: links, their SHA-256, verifying a chain (pure)
//!  chain_sql   heads read and written per transaction, links appended, the chain audit, heads
//!  apply_sql   one movement in the caller's transaction: its fence, then its kind's rule
//!  ledger_sql  every money statement and rule, once, over SqlTx (open, settle, void, fence)
//!  transfer_sql deposits and withdrawals: exactly once by transaction id, never below zero
//!  play_sql    a one-step spin: open and settle in one transaction, jackpot claims decided there
//!  recall_sql  what an operator reads back: a player's statement (paged), one round's record
//!  read_sql    every read, once, over SqlTx (rounds, accounts, entries, free spins, audit)
//!  harm_sql    harm flags raised once per session and rule, a player's flags read back
//!  jackpot_sql pool contributions folded per batch, claims exactly once per (pool, level, cycle)
//!  query       every read and out-of-batch write as data (Query, Change), answered once over SqlTx
//!  sql_ledger  SqlLedger<B>: the one Ledger, generic over a Backend (how to commit, where to read)
//!  sqlite      the SQLite Backend (SqliteLedger): WAL, one writer thread, readers, migrations
//!  postgres    the PostgreSQL Backend (PgLedger): an sqlx pool, a transaction per batch, migrations
//!  recovery    which open rounds start-up recovery and the sweepers refund (pure rules)
//!  tests       the conformance suite: every case on SQLite and on PostgreSQL
//! ```
//! The schema is in `migrations/` beside this crate, one folder per database.

mod apply_sql;
pub mod chain;
mod chain_sql;
pub mod exclusion;
mod exclusion_sql;
pub use chain_sql::{heads_digest, MAX_BREAKS_LISTED};
pub mod fair;
mod fair_sql;
pub mod free_rounds;
mod free_rounds_sql;
mod harm_sql;
mod jackpot_sql;
pub mod ledger;
mod ledger_sql;
pub mod limits;
mod limits_sql;
mod play_sql;
pub mod postgres;
mod query;
mod read_sql;
mod recall_sql;
pub use recall_sql::MAX_STATEMENT_PAGE;
pub mod recovery;
mod sql;
mod sql_ledger;
pub mod sqlite;
#[cfg(test)]
mod tests;
mod transfer_sql;

use croupier_core::{clock, ids, jackpot};

pub use exclusion::{Exclusion, ExclusionReason};
pub use fair::{FairNonce, FairSeed, NewSeed, Reveal};
pub use ledger::{
    Account, Applied, AuditReport, Books, ChainHead, ChainHeads, ChainReport, ClaimReason, Entry,
    EntryKind, FairRound, Fence, FreeRoundEvent, FreeRoundEventKind, FreeRounds, FreeRoundsGrant,
    FreeRoundsStatus, FreeSpins, HarmFlagRecord, HeadsScope, JackpotClaim, JackpotFeed, JackpotWin,
    Ledger, LedgerError, LevelDraw, LevelFeed, LevelSeen, Movement, MovementError, PoolSpec,
    PoolState, ReconcileReport, RoundRecall, RoundRecord, RoundStatus, SessionTotals,
    StatementLine, StatementPage,
};
pub use limits::{
    LimitKey, LimitKeyError, LimitKind, LimitsReport, Pending, Period, PlayerLimit, Usage,
};
pub use postgres::PgLedger;
pub use query::{Answer, Change, Query};
pub use sql_ledger::{Backend, BatchResult, SqlLedger};
pub use sqlite::SqliteLedger;
