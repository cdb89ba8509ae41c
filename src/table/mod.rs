//! Live tables: roulette and baccarat rounds that every seated player sees at the same moment.
//!
//! | piece | owns |
//! |---|---|
//! | [`config`] | `config/tables.toml`: games, currencies, limits, seats, phase timings |
//! | [`round`] | the pure round state machine (betting open → closed → result → settled) |
//! | [`book`] | the pure bet book of one round: reserved → confirmed / cancelled, then closed |
//! | [`rules`] | one face over roulette and baccarat: parse a bet, draw, settle (pure) |
//! | [`actor`] | `LiveTable`: ticks the machine, draws on an RNG shard, settles through the wallet, fans out |
//!
//! A bet's money: the session's request task validates the bet (pure), *reserves* it at the
//! table (betting open, seated), debits it (`<bet>:bet`, idempotent by `req_id`) and
//! *confirms* it. At settlement the table closes the book and credits each bet
//! (`<bet>:win`, zero for a loss); a debit that commits after that is refunded at once
//! (`<bet>:refund`). A round that cannot complete is voided and every bet refunded; bets left
//! open by a crash are refunded by start-up recovery, like any open round.

pub mod actor;
pub mod book;
pub mod config;
pub mod round;
pub mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

pub use actor::{LiveTable, TableDeps, TableError};
pub use config::TableConfig;

use crate::protocol::TableView;

/// Longest a session waits for a table's answer; a table answers in microseconds unless its
/// mailbox is flooded, which this turns into `server_busy`.
pub const TABLE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest shutdown waits for each table's refunds and settlements to commit.
pub const TABLE_STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TableHandle {
    pub config: Arc<TableConfig>,
    pub rules: rules::TableRules,
    pub addr: Addr<LiveTable>,
}

/// Every table of this node, started once at boot; read-only afterwards, so no lock.
#[derive(Default)]
pub struct TableRegistry {
    tables: BTreeMap<String, TableHandle>,
}

impl TableRegistry {
    /// Starts one `LiveTable` per config, spread over `threads` arbiters.
    pub fn start(configs: Vec<TableConfig>, deps: TableDeps, threads: usize) -> Self {
        let arbiters: Vec<Arbiter> = (0..threads.max(1)).map(|_| Arbiter::new()).collect();
        let tables = configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| {
                let config = Arc::new(config);
                let (c, d) = (config.clone(), deps.clone());
                let arbiter = &arbiters[i % arbiters.len()];
                let addr =
                    LiveTable::start_in_arbiter(&arbiter.handle(), move |_| LiveTable::new(c, d));
                let handle = TableHandle {
                    rules: rules::TableRules::of(&config),
                    config,
                    addr,
                };
                (handle.config.id.clone(), handle)
            })
            .collect();
        Self { tables }
    }

    pub fn get(&self, id: &str) -> Option<&TableHandle> {
        self.tables.get(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    pub fn configs(&self) -> impl Iterator<Item = &TableConfig> {
        self.tables.values().map(|t| t.config.as_ref())
    }

    /// Every table as it is now; a table that does not answer in time is left out.
    pub async fn views(&self) -> Vec<TableView> {
        let asks = self.tables.values().map(|t| {
            let ask = t.addr.send(actor::Describe);
            tokio::time::timeout(TABLE_REPLY_TIMEOUT, ask)
        });
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .filter_map(|r| r.ok()?.ok())
            .collect()
    }

    /// A connection left (or closed): free its seat. Best effort: a seat whose connection is
    /// gone is also removed at the next push.
    pub fn leave(&self, table: &str, session_id: &str) {
        if let Some(t) = self.tables.get(table) {
            let _ = t.addr.try_send(actor::Leave {
                session_id: session_id.to_string(),
            });
        }
    }

    /// Stops every table: rounds in flight are voided and refunded; returns once their money
    /// has committed (or the timeout passed: start-up recovery refunds the rest).
    pub async fn stop_all(&self, reason: &'static str) {
        let waits = self.tables.values().map(|t| {
            let (done, wait) = oneshot::channel();
            let stop = t.addr.send(actor::Stop { reason, done });
            async move {
                let stopped = async {
                    if stop.await.is_ok() {
                        let _ = wait.await;
                    }
                };
                if tokio::time::timeout(TABLE_STOP_TIMEOUT, stopped)
                    .await
                    .is_err()
                {
                    tracing::warn!("a table did not finish its refunds in time; recovery will");
                }
            }
        });
        futures_util::future::join_all(waits).await;
    }
}

/// A table's dependencies on a fresh embedded ledger, for tests and benchmarks that drive
/// `LiveTable`s in-process (real SQLite, wallet and RNG actors; no server).
#[doc(hidden)]
pub mod testing {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use super::TableDeps;
    use crate::metrics::Metrics;
    use crate::rng::{ReseedPolicy, RngPool};
    use crate::wallet::sqlite::{Durability, SqliteLedger};
    use crate::wallet::{Ledger, WalletPool};

    pub async fn embedded_deps(ledger_path: &Path) -> (TableDeps, Arc<dyn Ledger>) {
        let ledger: Arc<dyn Ledger> = Arc::new(
            SqliteLedger::open(ledger_path, Durability::Normal)
                .await
                .expect("ledger opens"),
        );
        let metrics = Arc::new(Metrics::new());
        let wallet = WalletPool::start(2, ledger.clone(), metrics.clone(), 4096, 256);
        let policy = ReseedPolicy {
            after_draws: 100_000_000,
            after: Duration::from_secs(3600),
        };
        let rng = RngPool::start(1, 1024, policy, metrics.clone()).expect("OS randomness");
        let deps = TableDeps {
            wallet,
            rng,
            metrics,
            jackpots: Arc::new(crate::jackpot::Jackpots::new(
                Vec::new(),
                crate::cluster::Bus::in_process(),
            )),
        };
        (deps, ledger)
    }

    /// The shipped `tables.toml` with `betting` seconds of betting and 1 s result and settle
    /// pauses, so a round takes `betting + 3` seconds.
    pub fn fast_tables_text(betting: u64) -> String {
        include_str!("../../config/tables.toml")
            .replace(
                "betting_seconds = 15",
                &format!("betting_seconds = {betting}"),
            )
            .replace("result_seconds = 4", "result_seconds = 1")
            .replace("result_seconds = 6", "result_seconds = 1")
            .replace("settle_seconds = 3", "settle_seconds = 1")
    }

    /// [`fast_tables_text`], parsed.
    pub fn fast_tables(betting: u64) -> Vec<super::TableConfig> {
        let currencies =
            crate::money::CurrencyTable([("EUR".to_string(), 2u32)].into_iter().collect());
        super::config::parse(&fast_tables_text(betting), &currencies).expect("tables parse")
    }
}
