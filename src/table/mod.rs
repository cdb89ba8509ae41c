//! Live tables: roulette and baccarat rounds that every seated player sees at the same moment.
//!
//! | piece | owns |
//! |---|---|
//! | [`config`] | `config/tables.toml`: games, currencies, limits, seats, phase timings (core crate) |
//! | [`round`] | the pure round state machine (betting open → closed → result → settled) (core crate) |
//! | [`book`] | the pure bet book of one round: reserved → confirmed / cancelled, then closed (core crate) |
//! | [`rules`] | one face over roulette and baccarat: parse a bet, draw, settle (pure, core crate) |
//! | [`actor`] | `LiveTable`: ticks the machine, draws on an RNG shard, settles through the wallet, fans out |
//!
//! A bet's money: the session's request task validates the bet (pure), *reserves* it at the
//! table (betting open, seated), debits it (`<bet>:bet`, idempotent by `req_id`) and
//! *confirms* it. At settlement the table closes the book and credits each bet
//! (`<bet>:win`, zero for a loss); a debit that commits after that is refunded at once
//! (`<bet>:refund`). A round that cannot complete is voided and every bet refunded; bets left
//! open by a crash are refunded by start-up recovery, like any open round.

pub mod actor;
pub mod cluster;
pub mod host;
pub mod seat;
pub use croupier_core::table::{book, config, round, rules};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

pub use actor::{LiveTable, TableDeps, TableError};
pub use config::TableConfig;

use crate::ids::PlayerId;
use crate::protocol::TableView;
use crate::wallet::Fence;
pub use seat::{PushError, Pusher};

/// Longest a session waits for a table's answer; a table answers in microseconds unless its
/// mailbox is flooded, which this turns into `server_busy`.
pub const TABLE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest shutdown waits for each table's refunds and settlements to commit.
pub const TABLE_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Who runs a table's rounds, as this node knows it.
#[derive(Clone)]
pub enum Run {
    /// This node: its `LiveTable` actor (with the lease's fence and outbox in a cluster).
    Here {
        addr: Addr<LiveTable>,
        running: Option<actor::Running>,
    },
    /// Another node holds the lease under `token`: joins and bets are asked of it over the
    /// bus. A new token is a new `LiveTable` there, which this node seats its players at again.
    There { node: String, token: i64 },
    /// Nobody yet (start-up, or an owner's lease not yet expired after it died).
    Nobody,
}

/// A connection of this node seated at a table (whoever runs it).
#[derive(Clone)]
pub struct LocalSeat {
    pub player: PlayerId,
    pub pusher: Pusher,
}

/// One table as this node sees it.
pub struct TableSlot {
    pub config: Arc<TableConfig>,
    pub rules: rules::TableRules,
    arbiter: ArbiterHandle,
    run: RwLock<Run>,
    /// This node's connections at the table, by session id: whoever runs the table, these are
    /// the players this node delivers its events to (bounded by the table's seats).
    seats: Mutex<HashMap<Arc<str>, LocalSeat>>,
}

impl TableSlot {
    pub fn run(&self) -> Run {
        self.run
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_run(&self, run: Run) {
        *self
            .run
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = run;
    }

    /// The local actor, when this node runs the table.
    pub fn local(&self) -> Option<Addr<LiveTable>> {
        match self.run() {
            Run::Here { addr, .. } => Some(addr),
            _ => None,
        }
    }

    /// The fence bets and settlements carry (`None` on one node).
    pub fn fence(&self) -> Option<Fence> {
        match self.run() {
            Run::Here { running, .. } => running.map(|r| r.fence),
            _ => None,
        }
    }

    fn seats(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, LocalSeat>> {
        self.seats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_seat(&self, seat: LocalSeat) {
        self.seats().insert(seat.pusher.connection.clone(), seat);
    }

    pub fn remove_seat(&self, connection: &str) -> Option<LocalSeat> {
        self.seats().remove(connection)
    }

    /// Whether the connection `connection` of this node is seated at the table.
    pub fn has_seat(&self, connection: &str) -> bool {
        self.seats().contains_key(connection)
    }

    pub fn local_seats(&self) -> Vec<LocalSeat> {
        self.seats().values().cloned().collect()
    }

    fn start_here(&self, deps: &TableDeps, running: Option<actor::Running>) -> Addr<LiveTable> {
        let (c, d, r) = (self.config.clone(), deps.clone(), running.clone());
        let addr = LiveTable::start_in_arbiter(&self.arbiter, move |_| LiveTable::running(c, d, r));
        self.set_run(Run::Here {
            addr: addr.clone(),
            running,
        });
        addr
    }
}

/// Every table of this node. One node: every table runs here from the start. Cluster: each
/// table runs on the node holding its lease ([`cluster`]); the others relay.
pub struct TableRegistry {
    tables: BTreeMap<String, TableSlot>,
    deps: TableDeps,
    /// Kept so the arbiters outlive the start-up call.
    _arbiters: Vec<Arbiter>,
    cluster: Option<Arc<cluster::TableCluster>>,
}

impl TableRegistry {
    /// One node: starts one `LiveTable` per config, spread over `threads` arbiters.
    pub fn start(configs: Vec<TableConfig>, deps: TableDeps, threads: usize) -> Self {
        let registry = Self::slots(configs, deps, threads, None);
        for slot in registry.tables.values() {
            slot.start_here(&registry.deps, None);
            let owned = &registry.deps.metrics.tables.owned;
            owned.with_label_values(&[&slot.config.id]).set(1);
        }
        registry
    }

    /// Cluster: no table runs until [`cluster::start`] takes its lease.
    pub fn clustered(
        configs: Vec<TableConfig>,
        deps: TableDeps,
        threads: usize,
        cluster: Arc<cluster::TableCluster>,
    ) -> Self {
        Self::slots(configs, deps, threads, Some(cluster))
    }

    fn slots(
        configs: Vec<TableConfig>,
        deps: TableDeps,
        threads: usize,
        cluster: Option<Arc<cluster::TableCluster>>,
    ) -> Self {
        let arbiters: Vec<Arbiter> = (0..threads.max(1)).map(|_| Arbiter::new()).collect();
        let tables = configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| {
                let slot = TableSlot {
                    rules: rules::TableRules::of(&config),
                    config: Arc::new(config),
                    arbiter: arbiters[i % arbiters.len()].handle(),
                    run: RwLock::new(Run::Nobody),
                    seats: Mutex::default(),
                };
                (slot.config.id.clone(), slot)
            })
            .collect();
        Self {
            tables,
            deps,
            _arbiters: arbiters,
            cluster,
        }
    }

    pub fn get(&self, id: &str) -> Option<&TableSlot> {
        self.tables.get(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    pub fn configs(&self) -> impl Iterator<Item = &TableConfig> {
        self.tables.values().map(|t| t.config.as_ref())
    }

    pub fn deps(&self) -> &TableDeps {
        &self.deps
    }

    pub fn cluster(&self) -> Option<&Arc<cluster::TableCluster>> {
        self.cluster.as_ref()
    }

    /// Tables this node runs now.
    pub fn running_here(&self) -> Vec<String> {
        self.tables
            .iter()
            .filter(|(_, slot)| matches!(slot.run(), Run::Here { .. }))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Every table as it is now, asked of whichever node runs it; a table that does not
    /// answer in time (or has no owner at the moment) is left out.
    pub async fn views(&self) -> Vec<TableView> {
        let asks = self.tables.values().map(|slot| async move {
            match slot.run() {
                Run::Here { addr, .. } => {
                    tokio::time::timeout(TABLE_REPLY_TIMEOUT, addr.send(actor::Describe))
                        .await
                        .ok()?
                        .ok()
                }
                Run::There { node, .. } => {
                    let cluster = self.cluster.as_ref()?;
                    let op = cluster::AskOp::Describe;
                    let value = cluster.ask(&slot.config.id, &node, op).await.ok()?;
                    serde_json::from_value(value).ok()
                }
                Run::Nobody => None,
            }
        });
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// A connection left (or closed): free its seat here and at the table's node. Best
    /// effort: a seat whose connection is gone is also removed at the next push.
    pub fn leave(&self, table: &str, connection: &str) {
        let Some(slot) = self.tables.get(table) else {
            return;
        };
        slot.remove_seat(connection);
        match slot.run() {
            Run::Here { addr, .. } => {
                let _ = addr.try_send(actor::Leave {
                    connection: connection.to_string(),
                });
            }
            Run::There { node, .. } => {
                if let Some(cluster) = self.cluster.clone() {
                    let (table, session) = (table.to_string(), connection.to_string());
                    tokio::spawn(async move {
                        let op = cluster::AskOp::Leave { session };
                        cluster.tell(&table, &node, op).await;
                    });
                }
            }
            Run::Nobody => {}
        }
    }

    /// Stops every table this node runs: rounds in flight are voided and refunded; returns
    /// once their money has committed (or the timeout passed: recovery refunds the rest).
    /// In a cluster the leases are then given up, so other nodes take the tables at once.
    pub async fn stop_all(&self, reason: &'static str) {
        if let Some(cluster) = &self.cluster {
            cluster.stop_taking();
        }
        let waits = self.tables.values().map(|slot| async move {
            if let Run::Here { addr, running } = slot.run() {
                stop_table(&addr, reason).await;
                slot.set_run(Run::Nobody);
                if let (Some(cluster), Some(running)) = (&self.cluster, running) {
                    cluster.release(&slot.config.id, running.fence.token).await;
                }
            }
        });
        futures_util::future::join_all(waits).await;
    }
}

/// Stops one table actor and waits (bounded) for its refunds and settlements to commit.
async fn stop_table(addr: &Addr<LiveTable>, reason: &'static str) {
    let (done, wait) = oneshot::channel();
    let stop = addr.send(actor::Stop { reason, done });
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
        let wallet = WalletPool::start(2, ledger.clone(), metrics.clone(), 4096, 256, true);
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
