//! The embedded ledger: SQLite in WAL mode, written by ONE dedicated thread.
//!
//! SQLite has a single writer, so every wallet shard's batch goes to one writer thread, which
//! takes everything queued and commits it in one transaction (group commit across shards):
//! one fsync for many movements, and no thread hop per statement (sqlx-sqlite paid ~50 µs per
//! statement for its hop; see docs/benchmarks.md). Reads run on the blocking pool with their
//! own connections, beside the writer, as WAL allows. Statements use `$N` placeholders, which
//! SQLite and PostgreSQL both accept, so the PostgreSQL ledger shares this SQL.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::jackpot_sql::{self, JackpotBatch};
use super::ledger::{
    Account, Applied, AuditReport, Entry, EntryKind, FreeSpins, JackpotClaim, JackpotFeed,
    JackpotWin, Ledger, LedgerError, Movement, MovementError, PoolSpec, PoolState, ReconcileReport,
    RoundRecord, RoundStatus,
};
use crate::ids::{PlayerId, ReqId, RoundId};

/// How long a statement waits for SQLite's lock (a reader checkpointing, say) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Batches the writer may have queued: beyond this the shards wait (their own queues are
/// bounded by `ledger.wallet_queue`, so this only smooths bursts).
const WRITER_QUEUE: usize = 1024;
/// Most movements the writer folds into one transaction, across all shards' batches.
const MAX_MOVEMENTS_PER_COMMIT: usize = 4096;
/// Read connections kept open for reuse (more are opened under load and then dropped).
const IDLE_READERS: usize = 8;
/// Prepared statements cached per connection: more than the ledger has.
const STATEMENT_CACHE: usize = 64;

/// Schema steps in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: [&str; 2] = [
    include_str!("../../migrations/sqlite/0001_ledger.sql"),
    include_str!("../../migrations/sqlite/0002_jackpots.sql"),
];
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How hard SQLite syncs a commit to disk (`ledger.synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// fsync on every commit: survives power loss.
    Full,
    /// WAL default: survives a process crash (kill -9), may lose the last commits on power loss.
    Normal,
}

type BatchResult = Result<Vec<Result<Applied, MovementError>>, LedgerError>;

struct WriteJob {
    batch: Vec<Movement>,
    reply: oneshot::Sender<BatchResult>,
}

pub struct SqliteLedger {
    path: PathBuf,
    writer: mpsc::Sender<WriteJob>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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
    pub async fn open(path: &Path, durability: Durability) -> Result<Self, LedgerError> {
        let path = path.to_path_buf();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, LedgerError> {
            let mut conn = connect(&opened, durability)?;
            migrate(&mut conn)?;
            Ok(conn)
        })
        .await
        .map_err(|_| LedgerError::WriterStopped)??;
        let (writer, jobs) = mpsc::channel(WRITER_QUEUE);
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || run_writer(conn, jobs))
            .map_err(|e| LedgerError::Invariant(format!("cannot start the ledger writer: {e}")))?;
        Ok(Self {
            path,
            writer,
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Runs `f` on a read connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().ok().and_then(|mut r| r.pop());
            let conn = match pooled {
                Some(conn) => conn,
                None => connect(&path, Durability::Normal)?,
            };
            let result = f(&conn);
            if let Ok(mut idle) = readers.lock() {
                if idle.len() < IDLE_READERS {
                    idle.push(conn);
                }
            }
            result
        })
        .await
        .map_err(|_| LedgerError::WriterStopped)?
    }

    async fn write(&self, batch: Vec<Movement>) -> BatchResult {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(WriteJob { batch, reply })
            .await
            .map_err(|_| LedgerError::WriterStopped)?;
        answer.await.map_err(|_| LedgerError::WriterStopped)?
    }
}

/// The writer thread: takes every queued batch and commits them in one transaction. If that
/// transaction fails, each batch is retried in a transaction of its own, so one bad batch
/// cannot fail the others.
fn run_writer(mut conn: Connection, mut jobs: mpsc::Receiver<WriteJob>) {
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
        match commit_group(&mut conn, &group) {
            Ok(results) => {
                for (job, result) in group.into_iter().zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            Err(_) if group.len() > 1 => {
                for job in group {
                    let result = commit_group(&mut conn, std::slice::from_ref(&job))
                        .map(|mut r| r.remove(0));
                    let _ = job.reply.send(result);
                }
            }
            Err(error) => {
                for job in group {
                    let _ = job
                        .reply
                        .send(Err(LedgerError::Invariant(error.to_string())));
                }
            }
        }
    }
}

type MovementResults = Vec<Result<Applied, MovementError>>;

fn commit_group(
    conn: &mut Connection,
    group: &[WriteJob],
) -> Result<Vec<MovementResults>, LedgerError> {
    let now = now_ms();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut jackpots = JackpotBatch::default();
    let mut all = Vec::with_capacity(group.len());
    for job in group {
        let mut results = Vec::with_capacity(job.batch.len());
        for movement in &job.batch {
            results.push(apply(&tx, movement, now, &mut jackpots)?);
        }
        all.push(results);
    }
    jackpots.flush(&tx, now)?;
    tx.commit()?;
    Ok(all)
}

const ROUND_COLUMNS: &str = "round_id, player_id, req_id, game, status, bet_minor, stake_minor, \
     win_minor, free_spin, multiplier, balance_after_minor, outcome, created_at_ms";

fn invalid(what: &str) -> LedgerError {
    LedgerError::Invariant(format!("stored value out of range: {what}"))
}

fn round_from_row(row: &Row) -> rusqlite::Result<Result<RoundRecord, LedgerError>> {
    let round_id: String = row.get(0)?;
    let player: String = row.get(1)?;
    let req_id: String = row.get(2)?;
    let status: String = row.get(4)?;
    let multiplier: i64 = row.get(9)?;
    let parsed = (|| {
        Ok(RoundRecord {
            round_id: RoundId::parse(&round_id).map_err(|_| invalid("round_id"))?,
            player: PlayerId::parse(&player).map_err(|_| invalid("player_id"))?,
            req_id: ReqId::parse(&req_id).map_err(|_| invalid("req_id"))?,
            game: row.get(3)?,
            status: RoundStatus::parse(&status).ok_or_else(|| invalid("status"))?,
            bet_minor: row.get(5)?,
            stake_minor: row.get(6)?,
            win_minor: row.get(7)?,
            free_spin: row.get::<_, i64>(8)? != 0,
            multiplier: u32::try_from(multiplier).map_err(|_| invalid("multiplier"))?,
            balance_after_minor: row.get(10)?,
            outcome_json: row.get(11)?,
            created_at_ms: row.get(12)?,
        })
    })();
    Ok(parsed)
}

fn query_round(
    conn: &Connection,
    where_clause: &str,
    args: impl rusqlite::Params,
) -> Result<Option<RoundRecord>, LedgerError> {
    let sql = format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE {where_clause}");
    let mut stmt = conn.prepare_cached(&sql)?;
    match stmt.query_row(args, round_from_row).optional()? {
        Some(parsed) => Ok(Some(parsed?)),
        None => Ok(None),
    }
}

fn fetch_round(conn: &Connection, round_id: &RoundId) -> Result<Option<RoundRecord>, LedgerError> {
    query_round(conn, "round_id = $1", params![round_id.as_str()])
}

/// Adds `delta` to a balance unless it would go negative; returns the new balance.
fn adjust_balance(
    tx: &Transaction,
    player: &PlayerId,
    delta: i64,
) -> Result<Option<i64>, LedgerError> {
    let balance: Option<i64> = tx
        .prepare_cached(
            "UPDATE accounts SET balance_minor = balance_minor + $1 \
             WHERE player_id = $2 AND balance_minor + $1 >= 0 RETURNING balance_minor",
        )?
        .query_row(params![delta, player.as_str()], |r| r.get(0))
        .optional()?;
    if let Some(b) = balance {
        if b < 0 {
            return Err(LedgerError::Invariant(format!("{player} balance {b} < 0")));
        }
    }
    Ok(balance)
}

fn balance_of(conn: &Connection, player: &PlayerId) -> Result<Option<i64>, LedgerError> {
    Ok(conn
        .prepare_cached("SELECT balance_minor FROM accounts WHERE player_id = $1")?
        .query_row(params![player.as_str()], |r| r.get(0))
        .optional()?)
}

/// One ledger entry; its `balance_after` is checked against the balance the entry implies.
#[allow(clippy::too_many_arguments)]
fn insert_entry(
    tx: &Transaction,
    tx_id: &str,
    player: &PlayerId,
    kind: EntryKind,
    amount_minor: i64,
    balance_after_minor: i64,
    round_id: Option<&RoundId>,
    now: i64,
) -> Result<(), LedgerError> {
    let sign_ok = match kind {
        EntryKind::Bet => amount_minor < 0,
        EntryKind::Deposit | EntryKind::Win | EntryKind::Refund | EntryKind::Jackpot => {
            amount_minor > 0
        }
    };
    if !sign_ok || balance_after_minor < 0 {
        return Err(LedgerError::Invariant(format!(
            "entry {tx_id}: {} of {amount_minor} leaving {balance_after_minor}",
            kind.as_str()
        )));
    }
    tx.prepare_cached(
        "INSERT INTO ledger_entries \
         (tx_id, player_id, kind, amount_minor, balance_after_minor, round_id, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )?
    .execute(params![
        tx_id,
        player.as_str(),
        kind.as_str(),
        amount_minor,
        balance_after_minor,
        round_id.map(|r| r.as_str()),
        now
    ])?;
    Ok(())
}

type Outcome = Result<Result<Applied, MovementError>, LedgerError>;

fn deposit(
    tx: &Transaction,
    tx_id: &str,
    player: &PlayerId,
    amount_minor: i64,
    now: i64,
) -> Outcome {
    if amount_minor <= 0 {
        return Ok(Err(MovementError::NonPositiveAmount));
    }
    let existing: Option<(String, String, i64, i64)> = tx
        .prepare_cached(
            "SELECT player_id, kind, amount_minor, balance_after_minor FROM ledger_entries \
             WHERE tx_id = $1",
        )?
        .query_row(params![tx_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    if let Some((owner, kind, amount, balance_after)) = existing {
        let same = owner == player.as_str() && kind == "deposit" && amount == amount_minor;
        return Ok(if same {
            Ok(Applied::Deposited {
                balance_minor: balance_after,
                replayed: true,
            })
        } else {
            Err(MovementError::TxConflict(tx_id.to_string()))
        });
    }
    let Some(balance) = adjust_balance(tx, player, amount_minor)? else {
        return Ok(Err(MovementError::UnknownAccount(player.to_string())));
    };
    insert_entry(
        tx,
        tx_id,
        player,
        EntryKind::Deposit,
        amount_minor,
        balance,
        None,
        now,
    )?;
    Ok(Ok(Applied::Deposited {
        balance_minor: balance,
        replayed: false,
    }))
}

/// Takes one free spin on `game` if the player holds any: `(bet, multiplier, remaining after)`.
fn take_free_spin(
    tx: &Transaction,
    player: &PlayerId,
    game: &str,
) -> Result<Option<(i64, u32, u32)>, LedgerError> {
    let taken: Option<(i64, i64, i64)> = tx
        .prepare_cached(
            "UPDATE free_spins SET remaining = remaining - 1 \
             WHERE player_id = $1 AND game = $2 AND remaining > 0 \
             RETURNING bet_minor, multiplier, remaining",
        )?
        .query_row(params![player.as_str(), game], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((bet, multiplier, remaining)) = taken else {
        return Ok(None);
    };
    if remaining == 0 {
        tx.prepare_cached(
            "DELETE FROM free_spins WHERE player_id = $1 AND game = $2 AND remaining = 0",
        )?
        .execute(params![player.as_str(), game])?;
    }
    let multiplier = u32::try_from(multiplier).map_err(|_| invalid("free_spins.multiplier"))?;
    let remaining = u32::try_from(remaining).map_err(|_| invalid("free_spins.remaining"))?;
    Ok(Some((bet, multiplier, remaining)))
}

fn give_free_spins(
    tx: &Transaction,
    player: &PlayerId,
    spins: &FreeSpins,
) -> Result<(), LedgerError> {
    // A retrigger adds spins at the bet and multiplier already held.
    tx.prepare_cached(
        "INSERT INTO free_spins (player_id, game, remaining, bet_minor, multiplier) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (player_id, game) DO UPDATE SET remaining = free_spins.remaining + excluded.remaining",
    )?
    .execute(params![
        player.as_str(),
        spins.game,
        i64::from(spins.remaining),
        spins.bet_minor,
        i64::from(spins.multiplier)
    ])?;
    Ok(())
}

/// The round already opened under `(player, req_id)`, for a replayed OpenRound.
fn replayed_round(tx: &Transaction, player: &PlayerId, req_id: &ReqId) -> Outcome {
    let round = query_round(
        tx,
        "player_id = $1 AND req_id = $2",
        params![player.as_str(), req_id.as_str()],
    )?
    .ok_or_else(|| LedgerError::Invariant(format!("round of {player}/{req_id} vanished")))?;
    Ok(Ok(Applied::RoundOpened {
        balance_minor: round.balance_after_minor,
        round,
        free_spins_left: 0,
        replayed: true,
        jackpot: Vec::new(),
    }))
}

fn round_exists(tx: &Transaction, player: &PlayerId, req_id: &ReqId) -> Result<bool, LedgerError> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM rounds WHERE player_id = $1 AND req_id = $2")?
        .exists(params![player.as_str(), req_id.as_str()])?)
}

/// Opens a round in as few statements as possible: the stake is taken first with conditional
/// writes, and the rare paths (a replayed `req_id`, insufficient funds) undo or look up after.
#[allow(clippy::too_many_arguments)]
fn open_round(
    tx: &Transaction,
    round_id: &RoundId,
    player: &PlayerId,
    req_id: &ReqId,
    game: &str,
    bet_minor: Option<i64>,
    try_free_spin: bool,
    feed: Option<&JackpotFeed>,
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Outcome {
    let free = if try_free_spin {
        take_free_spin(tx, player, game)?
    } else {
        None
    };
    let (debit, stake, multiplier) = match (free, bet_minor) {
        (Some((stake, multiplier, _)), _) => (0, stake, multiplier),
        (None, Some(bet)) if bet > 0 => (bet, bet, 1),
        (None, _) if round_exists(tx, player, req_id)? => {
            return replayed_round(tx, player, req_id)
        }
        (None, Some(_)) => return Ok(Err(MovementError::NonPositiveAmount)),
        (None, None) => return Ok(Err(MovementError::BetRequired)),
    };
    let balance = if debit > 0 {
        match adjust_balance(tx, player, -debit)? {
            Some(b) => b,
            None if round_exists(tx, player, req_id)? => return replayed_round(tx, player, req_id),
            None => {
                return Ok(Err(match balance_of(tx, player)? {
                    Some(balance_minor) => MovementError::InsufficientFunds {
                        balance_minor,
                        needed_minor: debit,
                    },
                    None => MovementError::UnknownAccount(player.to_string()),
                }))
            }
        }
    } else {
        match balance_of(tx, player)? {
            Some(b) => b,
            None => return Ok(Err(MovementError::UnknownAccount(player.to_string()))),
        }
    };
    // Only a paid bet feeds a jackpot: a free spin debits nothing.
    let feed = feed.filter(|_| debit > 0);
    let taken_micro: i64 = feed.map_or(0, |f| {
        f.levels
            .iter()
            .map(|l| debit.saturating_mul(l.contribution_ppm + l.reserve_ppm))
            .sum()
    });
    let inserted = tx
        .prepare_cached(
            "INSERT INTO rounds (round_id, player_id, req_id, game, status, bet_minor, stake_minor, \
             win_minor, free_spin, multiplier, balance_after_minor, outcome, created_at_ms, \
             jackpot_pool, jackpot_micro) \
             VALUES ($1, $2, $3, $4, 'open', $5, $6, 0, $7, $8, $9, NULL, $10, $11, $12) \
             ON CONFLICT (player_id, req_id) DO NOTHING",
        )?
        .execute(params![
            round_id.as_str(),
            player.as_str(),
            req_id.as_str(),
            game,
            debit,
            stake,
            i64::from(free.is_some()),
            i64::from(multiplier),
            balance,
            now,
            feed.map(|f| f.pool.as_str()),
            taken_micro
        ])?;
    if inserted == 0 {
        // A replayed req_id: give back what was just taken, return the original round.
        if debit > 0 {
            adjust_balance(tx, player, debit)?;
        }
        if let Some((bet_minor, multiplier, _)) = free {
            let spin = FreeSpins {
                game: game.to_string(),
                remaining: 1,
                bet_minor,
                multiplier,
            };
            give_free_spins(tx, player, &spin)?;
        }
        return replayed_round(tx, player, req_id);
    }
    if debit > 0 {
        let tx_id = round_id.tx("bet");
        insert_entry(
            tx,
            &tx_id,
            player,
            EntryKind::Bet,
            -debit,
            balance,
            Some(round_id),
            now,
        )?;
    }
    let jackpot = match feed {
        Some(feed) => {
            let (taken, seen) = jackpots.contribute(tx, feed, debit)?;
            if taken != taken_micro {
                return Err(LedgerError::Invariant(format!(
                    "round {round_id}: jackpot share {taken} != recorded {taken_micro}"
                )));
            }
            seen
        }
        None => Vec::new(),
    };
    let round = RoundRecord {
        round_id: round_id.clone(),
        player: player.clone(),
        req_id: req_id.clone(),
        game: game.to_string(),
        status: RoundStatus::Open,
        bet_minor: debit,
        stake_minor: stake,
        win_minor: 0,
        free_spin: free.is_some(),
        multiplier,
        balance_after_minor: balance,
        outcome_json: None,
        created_at_ms: now,
    };
    Ok(Ok(Applied::RoundOpened {
        round,
        balance_minor: balance,
        free_spins_left: free.map_or(0, |f| f.2),
        replayed: false,
        jackpot,
    }))
}

/// Settles in two or three statements; a round that is not open (a replay, a conflict) is
/// found out by the conditional update, and the credit is undone in that rare case.
fn settle_round(
    tx: &Transaction,
    round_id: &RoundId,
    player: &PlayerId,
    win_minor: i64,
    outcome_json: &str,
    free_spins_awarded: Option<&FreeSpins>,
    claims: &[JackpotClaim],
    now: i64,
    jackpots: &mut JackpotBatch,
) -> Outcome {
    if win_minor < 0 {
        return Ok(Err(MovementError::NonPositiveAmount));
    }
    let Some(balance) = adjust_balance(tx, player, win_minor)? else {
        return Ok(Err(MovementError::UnknownAccount(player.to_string())));
    };
    let updated = tx
        .prepare_cached(
            "UPDATE rounds SET status = 'settled', win_minor = $1, outcome = $2, \
             balance_after_minor = $3, settled_at_ms = $4 \
             WHERE round_id = $5 AND player_id = $6 AND status = 'open'",
        )?
        .execute(params![
            win_minor,
            outcome_json,
            balance,
            now,
            round_id.as_str(),
            player.as_str()
        ])?;
    if updated != 1 {
        adjust_balance(tx, player, -win_minor)?;
        let Some(round) = fetch_round(tx, round_id)? else {
            return Ok(Err(MovementError::UnknownRound(round_id.to_string())));
        };
        let same = &round.player == player
            && round.win_minor == win_minor
            && round.outcome_json.as_deref() == Some(outcome_json);
        return Ok(match round.status {
            RoundStatus::Settled if same => Ok(Applied::RoundSettled {
                balance_minor: round.balance_after_minor,
                replayed: true,
                jackpot_wins: jackpot_sql::wins_for_round(tx, round_id)?,
            }),
            RoundStatus::Void => Err(MovementError::RoundNotOpen(round_id.to_string())),
            _ => Err(MovementError::TxConflict(round_id.tx("win"))),
        });
    }
    if win_minor > 0 {
        let tx_id = round_id.tx("win");
        insert_entry(
            tx,
            &tx_id,
            player,
            EntryKind::Win,
            win_minor,
            balance,
            Some(round_id),
            now,
        )?;
    }
    if let Some(spins) = free_spins_awarded {
        give_free_spins(tx, player, spins)?;
    }
    let mut balance = balance;
    let mut jackpot_wins = Vec::with_capacity(claims.len());
    for claim in claims {
        let won = jackpots.claim(tx, claim, round_id, player, now)?;
        if won.amount_minor > 0 {
            balance = adjust_balance(tx, player, won.amount_minor)?
                .ok_or_else(|| LedgerError::Invariant(format!("{player} vanished mid-round")))?;
            let tx_id = format!("{round_id}:jackpot:{}:{}", won.pool, won.level);
            insert_entry(
                tx,
                &tx_id,
                player,
                EntryKind::Jackpot,
                won.amount_minor,
                balance,
                Some(round_id),
                now,
            )?;
        }
        jackpot_wins.push(won);
    }
    if !jackpot_wins.is_empty() {
        tx.prepare_cached("UPDATE rounds SET balance_after_minor = $1 WHERE round_id = $2")?
            .execute(params![balance, round_id.as_str()])?;
    }
    Ok(Ok(Applied::RoundSettled {
        balance_minor: balance,
        replayed: false,
        jackpot_wins,
    }))
}

fn void_round(tx: &Transaction, round_id: &RoundId, player: &PlayerId, now: i64) -> Outcome {
    let Some(round) = fetch_round(tx, round_id)? else {
        return Ok(Err(MovementError::UnknownRound(round_id.to_string())));
    };
    if &round.player != player {
        return Ok(Err(MovementError::TxConflict(round_id.tx("refund"))));
    }
    match round.status {
        RoundStatus::Open => {}
        RoundStatus::Void => {
            return Ok(Ok(Applied::RoundVoided {
                balance_minor: round.balance_after_minor,
                replayed: true,
            }))
        }
        RoundStatus::Settled => return Ok(Err(MovementError::RoundNotOpen(round_id.to_string()))),
    }
    let balance = if round.bet_minor > 0 {
        let Some(balance) = adjust_balance(tx, player, round.bet_minor)? else {
            return Ok(Err(MovementError::UnknownAccount(player.to_string())));
        };
        let tx_id = round_id.tx("refund");
        insert_entry(
            tx,
            &tx_id,
            player,
            EntryKind::Refund,
            round.bet_minor,
            balance,
            Some(round_id),
            now,
        )?;
        balance
    } else {
        balance_of(tx, player)?.unwrap_or(0)
    };
    if round.free_spin {
        let spin = FreeSpins {
            game: round.game.clone(),
            remaining: 1,
            bet_minor: round.stake_minor,
            multiplier: round.multiplier,
        };
        give_free_spins(tx, player, &spin)?;
    }
    tx.prepare_cached(
        "UPDATE rounds SET status = 'void', balance_after_minor = $1, settled_at_ms = $2 \
         WHERE round_id = $3 AND status = 'open'",
    )?
    .execute(params![balance, now, round_id.as_str()])?;
    Ok(Ok(Applied::RoundVoided {
        balance_minor: balance,
        replayed: false,
    }))
}

fn ensure_account(
    tx: &Transaction,
    player: &PlayerId,
    currency: &str,
    now: i64,
) -> Result<Account, LedgerError> {
    tx.prepare_cached(
        "INSERT INTO accounts (player_id, currency, balance_minor, created_at_ms) \
         VALUES ($1, $2, 0, $3) ON CONFLICT (player_id) DO NOTHING",
    )?
    .execute(params![player.as_str(), currency, now])?;
    let (currency, balance_minor) = tx
        .prepare_cached("SELECT currency, balance_minor FROM accounts WHERE player_id = $1")?
        .query_row(params![player.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(Account {
        player: player.clone(),
        currency,
        balance_minor,
    })
}

fn apply(tx: &Transaction, movement: &Movement, now: i64, jackpots: &mut JackpotBatch) -> Outcome {
    match movement {
        Movement::Deposit {
            tx_id,
            player,
            amount_minor,
        } => deposit(tx, tx_id, player, *amount_minor, now),
        Movement::OpenRound {
            round_id,
            player,
            req_id,
            game,
            bet_minor,
            try_free_spin,
            jackpot,
        } => open_round(
            tx,
            round_id,
            player,
            req_id,
            game,
            *bet_minor,
            *try_free_spin,
            jackpot.as_ref(),
            now,
            jackpots,
        ),
        Movement::SettleRound {
            round_id,
            player,
            win_minor,
            outcome_json,
            free_spins_awarded,
            jackpot_claims,
        } => settle_round(
            tx,
            round_id,
            player,
            *win_minor,
            outcome_json,
            free_spins_awarded.as_ref(),
            jackpot_claims,
            now,
            jackpots,
        ),
        Movement::VoidRound { round_id, player } => void_round(tx, round_id, player, now),
        Movement::EnsureAccount { player, currency } => {
            let account = ensure_account(tx, player, currency, now)?;
            Ok(Ok(Applied::AccountReady(account)))
        }
    }
}

fn entry_from_row(player: &PlayerId, r: &Row) -> rusqlite::Result<Result<Entry, LedgerError>> {
    let kind: String = r.get(2)?;
    let Some(kind) = EntryKind::parse(&kind) else {
        return Ok(Err(invalid("ledger_entries.kind")));
    };
    Ok(Ok(Entry {
        seq: r.get(0)?,
        tx_id: r.get(1)?,
        player: player.clone(),
        kind,
        amount_minor: r.get(3)?,
        balance_after_minor: r.get(4)?,
        round_id: r.get(5)?,
        created_at_ms: r.get(6)?,
    }))
}

fn audit(conn: &Connection) -> Result<AuditReport, LedgerError> {
    let mut report = AuditReport::default();
    let mut stmt = conn.prepare(
        "SELECT a.player_id, a.balance_minor, COALESCE(SUM(e.amount_minor), 0), COUNT(e.seq) \
         FROM accounts a LEFT JOIN ledger_entries e ON e.player_id = a.player_id \
         GROUP BY a.player_id, a.balance_minor",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    for row in rows {
        let (player, balance, sum, count) = row?;
        report.accounts += 1;
        report.entries += count as u64;
        if balance != sum || balance < 0 {
            report.mismatches.push(format!(
                "{player}: balance {balance} but entries sum to {sum}"
            ));
        }
    }
    // Each entry's balance_after must chain: previous balance_after + amount.
    let mut stmt = conn.prepare(
        "SELECT player_id, tx_id, amount_minor, balance_after_minor FROM ledger_entries \
         ORDER BY player_id, seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut last: Option<(String, i64)> = None;
    for row in rows {
        let (player, tx_id, amount, after) = row?;
        let before = match &last {
            Some((p, b)) if *p == player => *b,
            _ => 0,
        };
        if before + amount != after {
            report.mismatches.push(format!(
                "{player}: entry {tx_id} moves {amount} from {before} but records {after}"
            ));
        }
        last = Some((player, after));
    }
    let open: i64 = conn.query_row(
        "SELECT COUNT(*) FROM rounds WHERE status = 'open'",
        [],
        |r| r.get(0),
    )?;
    report.open_rounds = open as u64;
    Ok(report)
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn ensure_account(
        &self,
        player: &PlayerId,
        currency: &str,
    ) -> Result<Account, LedgerError> {
        let movement = Movement::EnsureAccount {
            player: player.clone(),
            currency: currency.to_string(),
        };
        match self.write(vec![movement]).await?.pop() {
            Some(Ok(Applied::AccountReady(account))) => Ok(account),
            other => Err(LedgerError::Invariant(format!(
                "ensure_account answered {other:?}"
            ))),
        }
    }

    async fn account(&self, player: &PlayerId) -> Result<Option<Account>, LedgerError> {
        let player = player.clone();
        self.read(move |conn| {
            let row: Option<(String, i64)> = conn
                .prepare_cached(
                    "SELECT currency, balance_minor FROM accounts WHERE player_id = $1",
                )?
                .query_row(params![player.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((currency, balance_minor)) = row else {
                return Ok(None);
            };
            if balance_minor < 0 {
                return Err(LedgerError::Invariant(format!(
                    "{player} balance {balance_minor} < 0"
                )));
            }
            Ok(Some(Account {
                player,
                currency,
                balance_minor,
            }))
        })
        .await
    }

    async fn commit_batch(&self, batch: &[Movement]) -> BatchResult {
        self.write(batch.to_vec()).await
    }

    async fn round(&self, round_id: &RoundId) -> Result<Option<RoundRecord>, LedgerError> {
        let round_id = round_id.clone();
        self.read(move |conn| fetch_round(conn, &round_id)).await
    }

    async fn round_by_req(
        &self,
        player: &PlayerId,
        req_id: &ReqId,
    ) -> Result<Option<RoundRecord>, LedgerError> {
        let (player, req_id) = (player.clone(), req_id.clone());
        self.read(move |conn| {
            query_round(
                conn,
                "player_id = $1 AND req_id = $2",
                params![player.as_str(), req_id.as_str()],
            )
        })
        .await
    }

    async fn history(
        &self,
        player: &PlayerId,
        limit: u32,
    ) -> Result<Vec<RoundRecord>, LedgerError> {
        let player = player.clone();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {ROUND_COLUMNS} FROM rounds WHERE player_id = $1 \
                 ORDER BY created_at_ms DESC, round_id DESC LIMIT $2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows =
                stmt.query_map(params![player.as_str(), i64::from(limit)], round_from_row)?;
            let mut rounds = Vec::new();
            for row in rows {
                rounds.push(row??);
            }
            Ok(rounds)
        })
        .await
    }

    async fn free_spins(&self, player: &PlayerId) -> Result<Vec<FreeSpins>, LedgerError> {
        let player = player.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT game, remaining, bet_minor, multiplier FROM free_spins \
                 WHERE player_id = $1 AND remaining > 0 ORDER BY game",
            )?;
            let rows = stmt.query_map(params![player.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut all = Vec::new();
            for row in rows {
                let (game, remaining, bet_minor, multiplier) = row?;
                all.push(FreeSpins {
                    game,
                    remaining: u32::try_from(remaining)
                        .map_err(|_| invalid("free_spins.remaining"))?,
                    bet_minor,
                    multiplier: u32::try_from(multiplier)
                        .map_err(|_| invalid("free_spins.multiplier"))?,
                });
            }
            Ok(all)
        })
        .await
    }

    async fn open_rounds(&self) -> Result<Vec<RoundRecord>, LedgerError> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {ROUND_COLUMNS} FROM rounds WHERE status = 'open' ORDER BY round_id"
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], round_from_row)?;
            let mut rounds = Vec::new();
            for row in rows {
                rounds.push(row??);
            }
            Ok(rounds)
        })
        .await
    }

    async fn entries(&self, player: &PlayerId) -> Result<Vec<Entry>, LedgerError> {
        let player = player.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, tx_id, kind, amount_minor, balance_after_minor, round_id, created_at_ms \
                 FROM ledger_entries WHERE player_id = $1 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![player.as_str()], |r| entry_from_row(&player, r))?;
            let mut entries = Vec::new();
            for row in rows {
                entries.push(row??);
            }
            Ok(entries)
        })
        .await
    }

    async fn audit(&self) -> Result<AuditReport, LedgerError> {
        self.read(|conn| audit(conn)).await
    }

    async fn ensure_pools(&self, specs: &[PoolSpec]) -> Result<(), LedgerError> {
        let (path, specs) = (self.path.clone(), specs.to_vec());
        tokio::task::spawn_blocking(move || -> Result<(), LedgerError> {
            // Start-up only, beside the writer thread: SQLite's lock orders the two.
            let mut conn = connect(&path, Durability::Full)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            jackpot_sql::ensure_pools(&tx, &specs, now_ms())?;
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(|_| LedgerError::WriterStopped)?
    }

    async fn pools(&self) -> Result<Vec<PoolState>, LedgerError> {
        self.read(|conn| jackpot_sql::pools(conn)).await
    }

    async fn jackpot_wins(&self, round_id: &RoundId) -> Result<Vec<JackpotWin>, LedgerError> {
        let round_id = round_id.clone();
        self.read(move |conn| jackpot_sql::wins_for_round(conn, &round_id))
            .await
    }

    async fn reconcile(&self) -> Result<ReconcileReport, LedgerError> {
        self.read(|conn| jackpot_sql::reconcile(conn)).await
    }
}
