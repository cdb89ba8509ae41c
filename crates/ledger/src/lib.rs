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
//!  sql         SqlTx: the one face both databases answer (exec, row, rows, locking)
//!  ledger_sql  every money statement and rule, once, over SqlTx (open, settle, void, fence)
//!  jackpot_sql pool contributions folded per batch, claims exactly once per (pool, level, cycle)
//!  sqlite      SqliteLedger: WAL, one writer thread, readers beside it, migrations
//!  postgres    PgLedger: an sqlx pool, a transaction per batch, migrations under a lock
//!  recovery    which open rounds start-up recovery and the sweepers refund (pure rules)
//!  tests       the conformance suite: every case on SQLite and on PostgreSQL
//! ```
//! The schema is in `migrations/` beside this crate, one folder per database.

mod jackpot_sql;
pub mod ledger;
mod ledger_sql;
pub mod postgres;
pub mod recovery;
mod sql;
pub mod sqlite;
#[cfg(test)]
mod tests;

use croupier_core::{clock, ids, jackpot};

pub use ledger::{
    Account, Applied, AuditReport, ClaimReason, Entry, EntryKind, Fence, FreeSpins, JackpotClaim,
    JackpotFeed, JackpotWin, Ledger, LedgerError, LevelFeed, LevelSeen, Movement, MovementError,
    PoolSpec, PoolState, ReconcileReport, RoundRecord, RoundStatus,
};
