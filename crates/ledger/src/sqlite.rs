//! The embedded ledger: SQLite in WAL mode, written by ONE dedicated thread.
//!
//! SQLite has a single writer, so every wallet shard's batch goes to one writer thread, which
//! takes everything queued and commits it in one transaction (group commit across shards):
//! one fsync for many movements, and no thread hop per statement (sqlx-sqlite paid ~50 µs per
//! statement for its hop; see docs/benchmarks.md). Reads run on the blocking pool with their
//! own connections, beside the writer, as WAL allows. The SQL and the money logic live in
//! `ledger_sql` and `jackpot_sql`, shared with the PostgreSQL ledger.
//!
//! With `synchronous = "full"` the fsync is pipelined ([`run_syncer`]): the writer commits a
//! group (its WAL frames written, not yet synced) and goes straight on to the next, while a
//! syncer thread fsyncs the WAL file and only then sends the group's answers. So no answer
//! leaves before its commit is on disk, as with SQLite's own FULL, but the writer no longer
//! sits idle through every fsync. Reads wait the same way: an answer is returned once every
//! commit it may have seen is durable ([`Durable`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot, watch};

use super::apply_sql;
use super::chain_sql;
use super::jackpot_sql::JackpotBatch;
use super::ledger::{Applied, LedgerError, Movement, MovementError};
use super::query::{Answer, Change, Query};
use super::sql::LiteTx;
use super::sql_ledger::{Backend, BatchResult, SqlLedger};

/// How long a statement waits for SQLite's lock (a reader checkpointing, say) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Batches the writer may have queued: beyond this the shards wait (their own queues are
/// bounded by `ledger.wallet_queue`, so this only smooths bursts).
const WRITER_QUEUE: usize = 1024;
/// Committed groups waiting for the syncer's fsync: past this the writer waits for it (each
/// group's answers are held until its fsync, so this bounds the commits not yet durable).
const SYNC_QUEUE: usize = 64;
/// Batches one wallet shard may have queued at the writer or committing (the writer's queue,
/// [`WRITER_QUEUE`], bounds them all together).
const SHARD_BATCHES_IN_FLIGHT: usize = 64;
/// Most movements the writer folds into one transaction, across all shards' batches.
const MAX_MOVEMENTS_PER_COMMIT: usize = 4096;
/// Read connections kept open for reuse (more are opened under load and then dropped).
const IDLE_READERS: usize = 8;
/// Prepared statements cached per connection: more than the ledger has.
const STATEMENT_CACHE: usize = 64;
/// SQLite's page cache per connection, in KiB (`PRAGMA cache_size` takes a negative count of
/// KiB). SQLite's default of 2 MiB made the writer re-read index pages from the OS on every
/// commit (a third of its time copying pages in; docs/benchmarks.md); 64 MiB holds the hot
/// B-tree levels of the rounds, entries and accounts indexes. Readers keep the default.
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// How often the checkpointer thread copies committed WAL frames into the database file, on
/// its own connection, beside the writer (a PASSIVE checkpoint never blocks it). SQLite's
/// automatic checkpoint inside the writer's commits took an eighth of the writer's time
/// (`perf`, docs/benchmarks.md); with this thread doing the copying, the writer's own
/// checkpoint (below) only copies the frames of the last moments.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// WAL frames after which the writer checkpoints itself (SQLite's `wal_autocheckpoint`). A
/// checkpoint from the writer is what lets the next transaction restart the WAL from its
/// start: the background thread alone never catches up with a busy writer, and the WAL file
/// grew by 128 MB/s without it. 4096 frames is 16 MiB.
const WRITER_CHECKPOINT_FRAMES: i64 = 4096;
/// The WAL file is truncated back to this size after a checkpoint has reset it, so a burst
/// does not leave a huge file behind.
const WAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// Schema steps in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: [&str; 11] = [
    include_str!("../migrations/sqlite/0001_ledger.sql"),
    include_str!("../migrations/sqlite/0002_jackpots.sql"),
    include_str!("../migrations/sqlite/0003_table_fences.sql"),
    include_str!("../migrations/sqlite/0004_round_node.sql"),
    include_str!("../migrations/sqlite/0005_operators.sql"),
    include_str!("../migrations/sqlite/0006_free_rounds.sql"),
    include_str!("../migrations/sqlite/0007_chain.sql"),
    include_str!("../migrations/sqlite/0008_fair.sql"),
    include_str!("../migrations/sqlite/0009_exclusions.sql"),
    include_str!("../migrations/sqlite/0010_limits.sql"),
    include_str!("../migrations/sqlite/0011_harm_flags.sql"),
];
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How hard SQLite syncs a commit to disk (`ledger.synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// fsync on every commit: survives power loss.
    Full,
    /// WAL default: survives a process crash (kill -9), may lose the last commits on power loss.
    Normal,
}

struct WriteJob {
    batch: Vec<Movement>,
    reply: oneshot::Sender<BatchResult>,
}

/// The embedded ledger: [`SqlLedger`] on [`Sqlite`].
pub type SqliteLedger = SqlLedger<Sqlite>;

/// The SQLite back end: the writer thread's queue, the idle read connections and how far
/// the commits are durable.
pub struct Sqlite {
    path: PathBuf,
    writer: mpsc::Sender<WriteJob>,
    readers: Arc<Mutex<Vec<Connection>>>,
    durable: Durable,
}

/// How far the writer's commits are on disk: the writer counts its commits, the syncer
/// publishes the count its last fsync covered. With `synchronous = "normal"` there is no
/// syncer and a commit counts as durable at once (SQLite's own promise for that setting).
#[derive(Clone)]
struct Durable {
    committed: Arc<AtomicU64>,
    synced: watch::Receiver<u64>,
    pipelined: bool,
}

impl Durable {
    /// Waits until every commit made so far is on disk (so an answer read now shows nothing
    /// that a power cut could take back). Err: the syncer stopped.
    async fn settled(&self) -> Result<(), LedgerError> {
        if !self.pipelined {
            return Ok(());
        }
        let upto = self.committed.load(Ordering::Acquire);
        let mut synced = self.synced.clone();
        synced
            .wait_for(|done| *done >= upto)
            .await
            .map(|_| ())
            .map_err(|_| LedgerError::WriterStopped)
    }
}

/// A committed group on its way to the syncer: its answers and the commit count it ends at.
struct Synced {
    upto: u64,
    answers: Vec<(oneshot::Sender<BatchResult>, BatchResult)>,
}

use crate::clock::now_ms;

/// The WAL file SQLite keeps beside the database (`<file>-wal`).
fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

fn connect(path: &Path, durability: Durability) -> Result<Connection, LedgerError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), LedgerError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(LedgerError::Invariant(format!(
            "ledger schema version {version} is newer than this build ({SCHEMA_VERSION})"
        )));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

impl SqliteLedger {
    /// Opens (creating if missing) the ledger file, brings its schema up to date and starts
    /// the writer thread.
    pub async fn open(path: &Path, durability: Durability) -> Result<Self, LedgerError> {
        let path = path.to_path_buf();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, LedgerError> {
            // With FULL the syncer thread fsyncs the WAL after each commit: the writer's own
            // commits only write their frames (NORMAL still syncs around checkpoints).
            let mut conn = connect(&opened, Durability::Normal)?;
            conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
            conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_FRAMES)?;
            conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
            migrate(&mut conn)?;
            Ok(conn)
        })
        .await
        .map_err(|_| LedgerError::WriterStopped)??;
        let (writer, jobs) = mpsc::channel(WRITER_QUEUE);
        let committed = Arc::new(AtomicU64::new(0));
        let (synced_tx, synced) = watch::channel(0u64);
        let pipelined = durability == Durability::Full;
        let failed = Arc::new(AtomicBool::new(false));
        // With FULL the answers wait for the syncer's fsync; with NORMAL the writer sends them.
        let to_syncer = if pipelined {
            let (to_syncer, sync_jobs) = std_mpsc::sync_channel::<Synced>(SYNC_QUEUE);
            let (wal, failed) = (wal_path(&path), failed.clone());
            std::thread::Builder::new()
                .name("ledger-sync".into())
                .spawn(move || run_syncer(&wal, sync_jobs, synced_tx, &failed))
                .map_err(|e| LedgerError::Invariant(format!("cannot start the syncer: {e}")))?;
            Some(to_syncer)
        } else {
            None
        };
        let counter = committed.clone();
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || run_writer(conn, jobs, &counter, &to_syncer, &failed))
            .map_err(|e| LedgerError::Invariant(format!("cannot start the ledger writer: {e}")))?;
        let checkpointer = connect(&path, durability)?;
        let alive = writer.downgrade();
        std::thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn(move || run_checkpointer(checkpointer, alive))
            .map_err(|e| LedgerError::Invariant(format!("cannot start the checkpointer: {e}")))?;
        Ok(SqlLedger::new(Sqlite {
            path,
            writer,
            readers: Arc::new(Mutex::new(Vec::new())),
            durable: Durable {
                committed,
                synced,
                pipelined,
            },
        }))
    }
}

/// The writer thread: takes every queued batch and commits them in one transaction. If that
/// transaction fails, each batch is retried in a transaction of its own, so one bad batch
/// cannot fail the others. The answers go to the syncer (`to_syncer`, with FULL), which sends
/// them once the commit is on disk, or straight out (NORMAL); after a failed fsync (`failed`)
/// nothing more is written.
fn run_writer(
    mut conn: Connection,
    mut jobs: mpsc::Receiver<WriteJob>,
    committed: &AtomicU64,
    to_syncer: &Option<std_mpsc::SyncSender<Synced>>,
    failed: &AtomicBool,
) {
    while let Some(first) = jobs.blocking_recv() {
        let mut group = vec![first];
        let mut movements = group[0].batch.len();
        while movements < MAX_MOVEMENTS_PER_COMMIT {
            match jobs.try_recv() {
                Ok(job) => {
                    movements += job.batch.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        if failed.load(Ordering::Acquire) {
            for job in group {
                let _ = job.reply.send(Err(LedgerError::WriterStopped));
            }
            continue;
        }
        // Counted before the commit, so a reader that sees it waits for its fsync too.
        let upto = committed.fetch_add(1, Ordering::AcqRel) + 1;
        let answers = match commit_group(&mut conn, &group) {
            Ok(results) => group
                .into_iter()
                .zip(results)
                .map(|(job, result)| (job.reply, Ok(result)))
                .collect(),
            Err(_) if group.len() > 1 => group
                .into_iter()
                .map(|job| {
                    let result = commit_group(&mut conn, std::slice::from_ref(&job))
                        .map(|mut r| r.remove(0));
                    (job.reply, result)
                })
                .collect(),
            Err(error) => group
                .into_iter()
                .map(|job| (job.reply, Err(LedgerError::Invariant(error.to_string()))))
                .collect(),
        };
        let group = Synced { upto, answers };
        match to_syncer {
            Some(syncer) => {
                if syncer.send(group).is_err() {
                    return; // the syncer stopped: its failure is logged
                }
            }
            None => answer(group),
        }
    }
}

fn answer(group: Synced) {
    for (reply, result) in group.answers {
        let _ = reply.send(result);
    }
}

/// The syncer thread (`synchronous = "full"`): takes every committed group queued, fsyncs the
/// WAL file once for all of them (`fdatasync`: every frame written before the call is then on
/// disk, and SQLite's recovery keeps every commit whose frames are), then sends their answers
/// and publishes how far the commits are durable. The file is opened for each sync, so a WAL
/// SQLite deleted and made again is still the one synced. A failed fsync stops the ledger:
/// the kernel may have dropped the pages it could not write, so a later fsync proving nothing,
/// the answers of that group and every later one are errors and the writer writes no more.
fn run_syncer(
    wal: &Path,
    groups: std_mpsc::Receiver<Synced>,
    synced: watch::Sender<u64>,
    failed: &AtomicBool,
) {
    while let Ok(first) = groups.recv() {
        let mut batch = vec![first];
        while let Ok(more) = groups.try_recv() {
            batch.push(more);
        }
        let upto = batch.last().map_or(0, |g| g.upto);
        let result = if failed.load(Ordering::Acquire) {
            Err(std::io::Error::other("an earlier fsync failed"))
        } else {
            std::fs::OpenOptions::new()
                .write(true)
                .open(wal)
                .and_then(|file| file.sync_data())
        };
        match result {
            Ok(()) => {
                let _ = synced.send(upto);
                batch.into_iter().for_each(answer);
            }
            Err(error) => {
                if !failed.swap(true, Ordering::AcqRel) {
                    tracing::error!(%error, wal = %wal.display(), "ledger fsync failed: the ledger stops writing");
                }
                for group in batch {
                    for (reply, _) in group.answers {
                        let _ = reply.send(Err(LedgerError::WriterStopped));
                    }
                }
            }
        }
    }
}

/// The checkpointer thread: a PASSIVE checkpoint every [`CHECKPOINT_EVERY`] while the
/// ledger is open (it stops once the writer's queue has no sender left). A failed checkpoint
/// is logged and retried next time: the frames stay in the WAL, nothing is lost.
fn run_checkpointer(conn: Connection, alive: mpsc::WeakSender<WriteJob>) {
    while alive.upgrade().is_some() {
        std::thread::sleep(CHECKPOINT_EVERY);
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        if let Err(error) = result {
            tracing::warn!(%error, "ledger checkpoint failed; retrying");
        }
    }
}

type MovementResults = Vec<Result<Applied, MovementError>>;

/// Runs ledger logic on SQLite to completion, here and now: its statements never wait, so the
/// future is ready at the first poll (anything else is a bug, reported, never a hang).
fn now<F: std::future::Future<Output = Result<T, LedgerError>>, T>(f: F) -> Result<T, LedgerError> {
    f.now_or_never().unwrap_or_else(|| {
        Err(LedgerError::Invariant(
            "SQLite ledger logic tried to wait".into(),
        ))
    })
}

fn commit_group(
    conn: &mut Connection,
    group: &[WriteJob],
) -> Result<Vec<MovementResults>, LedgerError> {
    let at = now_ms();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut jackpots = JackpotBatch::default();
    let mut all = Vec::with_capacity(group.len());
    {
        let mut lite = LiteTx::new(&tx);
        for job in group {
            let mut results = Vec::with_capacity(job.batch.len());
            for movement in &job.batch {
                results.push(now(apply_sql::apply(
                    &mut lite,
                    movement,
                    at,
                    &mut jackpots,
                ))?);
            }
            all.push(results);
        }
        now(jackpots.flush(&mut lite, at))?;
        now(chain_sql::flush(&mut lite))?;
    }
    tx.commit()?;
    Ok(all)
}

#[async_trait]
impl Backend for Sqlite {
    /// Every batch joins the writer's one queue in the order it is sent, and the writer folds
    /// whatever is queued into its next transaction: a shard need not wait for its last batch
    /// (doing so only added a wait before the writer's own).
    fn batches_in_flight(&self) -> usize {
        SHARD_BATCHES_IN_FLIGHT
    }

    async fn commit(&self, batch: &[Movement]) -> BatchResult {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(WriteJob {
                batch: batch.to_vec(),
                reply,
            })
            .await
            .map_err(|_| LedgerError::WriterStopped)?;
        answer.await.map_err(|_| LedgerError::WriterStopped)?
    }

    async fn read(&self, query: Query) -> Result<Answer, LedgerError> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().ok().and_then(|mut r| r.pop());
            let conn = match pooled {
                Some(conn) => conn,
                None => connect(&path, Durability::Normal)?,
            };
            let result = if query.needs_snapshot() {
                // One read transaction: every statement sees the same state.
                (|| {
                    let tx = conn.unchecked_transaction()?;
                    let answer = now(query.run(&mut LiteTx::new(&tx)));
                    tx.finish()?;
                    answer
                })()
            } else {
                now(query.run(&mut LiteTx::new(&conn)))
            };
            if let Ok(mut idle) = readers.lock() {
                if idle.len() < IDLE_READERS {
                    idle.push(conn);
                }
            }
            result
        })
        .await
        .map_err(|_| LedgerError::WriterStopped)??;
        // What the read saw is shown only once it is on disk.
        self.durable.settled().await?;
        Ok(answer)
    }

    async fn change(&self, change: Change) -> Result<Answer, LedgerError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> Result<Answer, LedgerError> {
            // Rare (a table changing hands, start-up), beside the writer thread: SQLite's lock
            // orders the two.
            let mut conn = connect(&path, Durability::Full)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut lite = LiteTx::new(&tx);
            let answer = now(change.run(&mut lite, now_ms()))?;
            now(chain_sql::flush(&mut lite))?;
            drop(lite);
            tx.commit()?;
            Ok(answer)
        })
        .await
        .map_err(|_| LedgerError::WriterStopped)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the syncer on `wal` for one committed group and returns what it answered, how far
    /// it says commits are durable, and whether it stopped the ledger.
    fn sync_once(wal: &Path) -> (BatchResult, u64, bool) {
        let (to_syncer, groups) = std_mpsc::sync_channel(SYNC_QUEUE);
        let (synced_tx, synced) = watch::channel(0u64);
        let failed = AtomicBool::new(false);
        let (reply, answer) = oneshot::channel();
        to_syncer
            .send(Synced {
                upto: 7,
                answers: vec![(reply, Ok(Vec::new()))],
            })
            .unwrap();
        drop(to_syncer);
        run_syncer(wal, groups, synced_tx, &failed);
        let answered = answer.blocking_recv().unwrap();
        let upto = *synced.borrow();
        (answered, upto, failed.load(Ordering::Acquire))
    }

    #[test]
    fn a_group_is_answered_after_its_fsync_and_marks_its_commits_durable() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("l.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let (answered, upto, failed) = sync_once(&wal);
        assert!(answered.is_ok());
        assert_eq!(upto, 7);
        assert!(!failed);
    }

    #[test]
    fn a_failed_fsync_answers_errors_and_stops_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let (answered, upto, failed) = sync_once(&dir.path().join("missing").join("l.db-wal"));
        assert!(matches!(answered, Err(LedgerError::WriterStopped)));
        assert_eq!(upto, 0, "nothing was made durable");
        assert!(failed);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_full_durability_every_answered_commit_is_synced() {
        use crate::ledger::{Ledger, Movement};
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(&dir.path().join("l.db"), Durability::Full)
            .await
            .unwrap();
        let player = crate::ids::PlayerId::parse("p1").unwrap();
        ledger.ensure_account(&player, "EUR").await.unwrap();
        for i in 0..20 {
            let deposit = Movement::Deposit {
                player: player.clone(),
                tx_id: format!("d{i}"),
                amount_minor: 100,
            };
            ledger.commit_batch(&[deposit]).await.unwrap();
            let durable = &ledger.backend().durable;
            let committed = durable.committed.load(Ordering::Acquire);
            assert!(
                *durable.synced.borrow() >= committed,
                "answered before its fsync"
            );
        }
        let account = ledger.account(&player).await.unwrap().unwrap();
        assert_eq!(account.balance_minor, 2000);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_normal_durability_the_writer_answers_itself() {
        use crate::ledger::{Ledger, Movement};
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(&dir.path().join("l.db"), Durability::Normal)
            .await
            .unwrap();
        let player = crate::ids::PlayerId::parse("p1").unwrap();
        ledger.ensure_account(&player, "EUR").await.unwrap();
        for i in 0..20 {
            let deposit = Movement::Deposit {
                player: player.clone(),
                tx_id: format!("d{i}"),
                amount_minor: 100,
            };
            ledger.commit_batch(&[deposit]).await.unwrap();
        }
        let account = ledger.account(&player).await.unwrap().unwrap();
        assert_eq!(account.balance_minor, 2000);
    }
}
