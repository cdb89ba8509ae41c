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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

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
    pub id: String,
    /// The table's config for the round being played: a reload's new config is put here by
    /// the table itself when its round ends (`actor::Reconfigure`), or at once by a node not
    /// running the table (whose checks are only a first look: the running node decides).
    config: Arc<ArcSwap<TableConfig>>,
    /// Cancelled when a reload removed the table: it takes no new player, finishes its round
    /// and stops; its cluster tasks end.
    pub retired: CancellationToken,
    arbiter: ArbiterHandle,
    run: RwLock<Run>,
    /// This node's connections at the table, by session id: whoever runs the table, these are
    /// the players this node delivers its events to (bounded by the table's seats).
    seats: Mutex<HashMap<Arc<str>, LocalSeat>>,
}

impl TableSlot {
    fn new(config: TableConfig, arbiter: ArbiterHandle) -> TableSlot {
        TableSlot {
            id: config.id.clone(),
            config: Arc::new(ArcSwap::from_pointee(config)),
            retired: CancellationToken::new(),
            arbiter,
            run: RwLock::new(Run::Nobody),
            seats: Mutex::default(),
        }
    }

    /// The table's config for the round being played.
    pub fn config(&self) -> Arc<TableConfig> {
        self.config.load_full()
    }

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
        let addr = LiveTable::start_in_arbiter(&self.arbiter, move |_| {
            LiveTable::running(c.load_full(), d, r).showing(c)
        });
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
    /// By id, swapped whole when a reload adds or removes a table: a lookup takes no lock.
    tables: ArcSwap<BTreeMap<String, Arc<TableSlot>>>,
    deps: TableDeps,
    /// The arbiters tables run on, kept so they outlive the start-up call; a new table goes
    /// to the next one in turn.
    arbiters: Vec<Arbiter>,
    next_arbiter: AtomicUsize,
    cluster: Option<Arc<cluster::TableCluster>>,
    /// Tables a reload removed, still settling their last round here: shutdown stops them
    /// too (voiding that round) rather than leaving it to recovery. Pruned at each reload;
    /// bounded by the tables ever configured (`MAX_TABLES` per file).
    retiring: Mutex<Vec<Arc<TableSlot>>>,
}

/// What a reload did to the tables of this node.
#[derive(Debug, Default)]
pub struct Retabled {
    /// Tables new to this node (in a cluster their lease tasks are still to start).
    pub added: Vec<String>,
    /// Tables retired: each finishes its round and stops; the waits end when they have.
    pub retiring: Vec<(String, oneshot::Receiver<()>)>,
}

impl TableRegistry {
    /// One node: starts one `LiveTable` per config, spread over `threads` arbiters.
    pub fn start(configs: Vec<TableConfig>, deps: TableDeps, threads: usize) -> Self {
        let registry = Self::slots(configs, deps, threads, None);
        for slot in registry.tables.load().values() {
            registry.start_alone(slot);
        }
        registry
    }

    fn start_alone(&self, slot: &TableSlot) {
        slot.start_here(&self.deps, None);
        let owned = &self.deps.metrics.tables.owned;
        owned.with_label_values(&[&slot.id]).set(1);
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
        let registry = Self {
            tables: ArcSwap::from_pointee(BTreeMap::new()),
            deps,
            arbiters,
            next_arbiter: AtomicUsize::new(0),
            cluster,
            retiring: Mutex::default(),
        };
        let tables = configs
            .into_iter()
            .map(|config| {
                let slot = TableSlot::new(config, registry.arbiter());
                (slot.id.clone(), Arc::new(slot))
            })
            .collect();
        registry.tables.store(Arc::new(tables));
        registry
    }

    fn arbiter(&self) -> ArbiterHandle {
        let i = self.next_arbiter.fetch_add(1, Ordering::Relaxed);
        self.arbiters[i % self.arbiters.len()].handle()
    }

    pub fn get(&self, id: &str) -> Option<Arc<TableSlot>> {
        self.tables.load().get(id).cloned()
    }

    /// Every table of this node, in id order.
    pub fn all(&self) -> Vec<Arc<TableSlot>> {
        self.tables.load().values().cloned().collect()
    }

    pub fn ids(&self) -> Vec<String> {
        self.tables.load().keys().cloned().collect()
    }

    /// The tables' configs for the rounds being played.
    pub fn configs(&self) -> Vec<Arc<TableConfig>> {
        self.tables.load().values().map(|t| t.config()).collect()
    }

    /// Puts a reload's tables in force (the caller holds the node's reload lock, and has
    /// checked that no kept table changes its game or currency):
    /// - a changed table takes its new config when its round ends (limits, seats, timings
    ///   hold from its next round);
    /// - a new table starts (on one node at once; in a cluster its lease tasks are the
    ///   caller's to start, from [`Retabled::added`]);
    /// - a removed table takes no new player, settles the round under way and stops; it is
    ///   gone from the registry at once (lookups find nothing) but its actor runs on until
    ///   its money has committed.
    pub fn reconfigure(&self, configs: &[TableConfig]) -> Retabled {
        let current = self.tables.load_full();
        let mut next = BTreeMap::new();
        let mut done = Retabled::default();
        for config in configs {
            match current.get(&config.id) {
                Some(slot) => {
                    if *slot.config() != *config {
                        let config = Arc::new(config.clone());
                        match slot.local() {
                            Some(addr) => addr.do_send(actor::Reconfigure { config }),
                            None => slot.config.store(config),
                        }
                    }
                    next.insert(config.id.clone(), slot.clone());
                }
                None => {
                    let slot = Arc::new(TableSlot::new(config.clone(), self.arbiter()));
                    if self.cluster.is_none() {
                        self.start_alone(&slot);
                    }
                    done.added.push(config.id.clone());
                    next.insert(config.id.clone(), slot);
                }
            }
        }
        for (id, slot) in current.iter() {
            if next.contains_key(id) {
                continue;
            }
            slot.retired.cancel();
            self.retiring_slots().push(slot.clone());
            let (tell, wait) = oneshot::channel();
            match slot.local() {
                Some(addr) => addr.do_send(actor::Retire { done: tell }),
                None => {
                    let _ = tell.send(());
                }
            }
            done.retiring.push((id.clone(), wait));
        }
        self.tables.store(Arc::new(next));
        // Those whose actor has stopped are done with.
        self.retiring_slots()
            .retain(|slot| slot.local().is_some_and(|addr| addr.connected()));
        done
    }

    fn retiring_slots(&self) -> std::sync::MutexGuard<'_, Vec<Arc<TableSlot>>> {
        self.retiring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
            .load()
            .iter()
            .filter(|(_, slot)| matches!(slot.run(), Run::Here { .. }))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Every table as it is now, asked of whichever node runs it; a table that does not
    /// answer in time (or has no owner at the moment) is left out.
    pub async fn views(&self) -> Vec<TableView> {
        let tables = self.all();
        let asks = tables.iter().map(|slot| async move {
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
                    let value = cluster.ask(&slot.id, &node, op).await.ok()?;
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
        let Some(slot) = self.get(table) else {
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
        let mut tables = self.all();
        tables.extend(self.retiring_slots().iter().cloned());
        let waits = tables.iter().map(|slot| async move {
            if let Run::Here { addr, running } = slot.run() {
                stop_table(&addr, reason).await;
                slot.set_run(Run::Nobody);
                if let (Some(cluster), Some(running)) = (&self.cluster, running) {
                    cluster.release(&slot.id, running.fence.token).await;
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
