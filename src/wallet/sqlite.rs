//! The embedded ledger: SQLite in WAL mode through sqlx.
//!
//! One writer connection applies batches (SQLite has one writer; a second would only wait for
//! the lock), a small pool serves reads. Statements use `$N` placeholders, which SQLite and
//! PostgreSQL both accept, so the PostgreSQL ledger can share this SQL.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::ledger::{
    Account, Applied, AuditReport, Entry, EntryKind, FreeSpins, Ledger, LedgerError, Movement,
    MovementError, RoundRecord, RoundStatus,
};
use crate::ids::{PlayerId, ReqId, RoundId};

/// How long a statement waits for SQLite's lock before failing (a reader checkpointing, say).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Read connections: history and balance queries run beside the writer in WAL mode.
const READ_CONNECTIONS: u32 = 4;

/// How hard SQLite syncs a commit to disk (`ledger.synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// fsync on every commit: survives power loss.
    Full,
    /// WAL default: survives a process crash (kill -9), may lose the last commits on power loss.
    Normal,
}

pub struct SqliteLedger {
    writer: SqlitePool,
    reader: SqlitePool,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl SqliteLedger {
    pub async fn open(path: &Path, durability: Durability) -> Result<Self, LedgerError> {
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }
}

fn round_from_row(row: &SqliteRow) -> Result<RoundRecord, LedgerError> {
    let bad = |what: &str| LedgerError::Invariant(format!("rounds row has invalid {what}"));
    let status: String = row.try_get("status")?;
    Ok(RoundRecord {
        round_id: RoundId::parse(&row.try_get::<String, _>("round_id")?)
            .map_err(|_| bad("round_id"))?,
        player: PlayerId::parse(&row.try_get::<String, _>("player_id")?)
            .map_err(|_| bad("player_id"))?,
        req_id: ReqId::parse(&row.try_get::<String, _>("req_id")?).map_err(|_| bad("req_id"))?,
        game: row.try_get("game")?,
        status: RoundStatus::parse(&status).ok_or_else(|| bad("status"))?,
        bet_minor: row.try_get("bet_minor")?,
        stake_minor: row.try_get("stake_minor")?,
        win_minor: row.try_get("win_minor")?,
        free_spin: row.try_get::<i64, _>("free_spin")? != 0,
        multiplier: u32::try_from(row.try_get::<i64, _>("multiplier")?)
            .map_err(|_| bad("multiplier"))?,
        balance_after_minor: row.try_get("balance_after_minor")?,
        outcome_json: row.try_get("outcome")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

const ROUND_COLUMNS: &str = "round_id, player_id, req_id, game, status, bet_minor, stake_minor, \
     win_minor, free_spin, multiplier, balance_after_minor, outcome, created_at_ms";

/// Adds `delta` to a balance unless it would go negative; returns the new balance.
async fn adjust_balance(
    conn: &mut SqliteConnection,
    player: &PlayerId,
    delta: i64,
) -> Result<Option<i64>, LedgerError> {
    let row = sqlx::query(
        "UPDATE accounts SET balance_minor = balance_minor + $1 \
         WHERE player_id = $2 AND balance_minor + $1 >= 0 RETURNING balance_minor",
    )
    .bind(delta)
    .bind(player.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let balance = row.map(|r| r.try_get::<i64, _>(0)).transpose()?;
    if let Some(b) = balance {
        if b < 0 {
            return Err(LedgerError::Invariant(format!("{player} balance {b} < 0")));
        }
    }
    Ok(balance)
}

async fn balance_of(conn: &mut SqliteConnection, player: &PlayerId) -> Result<Option<i64>, LedgerError> {
    let row = sqlx::query("SELECT balance_minor FROM accounts WHERE player_id = $1")
        .bind(player.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
}

async fn insert_entry(
    conn: &mut SqliteConnection,
    tx_id: &str,
    player: &PlayerId,
    kind: EntryKind,
    amount_minor: i64,
    balance_after_minor: i64,
    round_id: Option<&RoundId>,
    now: i64,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO ledger_entries \
         (tx_id, player_id, kind, amount_minor, balance_after_minor, round_id, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx_id)
    .bind(player.as_str())
    .bind(kind.as_str())
    .bind(amount_minor)
    .bind(balance_after_minor)
    .bind(round_id.map(|r| r.as_str()))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn fetch_round(
    conn: &mut SqliteConnection,
    round_id: &RoundId,
) -> Result<Option<RoundRecord>, LedgerError> {
    let sql = format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE round_id = $1");
    let row = sqlx::query(&sql)
        .bind(round_id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(round_from_row).transpose()
}

async fn entry_by_tx(
    conn: &mut SqliteConnection,
    tx_id: &str,
) -> Result<Option<(String, String, i64, i64)>, LedgerError> {
    let row = sqlx::query(
        "SELECT player_id, kind, amount_minor, balance_after_minor FROM ledger_entries WHERE tx_id = $1",
    )
    .bind(tx_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row
        .map(|r| -> Result<_, sqlx::Error> {
            Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
        })
        .transpose()?)
}

type Outcome = Result<Result<Applied, MovementError>, LedgerError>;

async fn deposit(
    conn: &mut SqliteConnection,
    tx_id: &str,
    player: &PlayerId,
    amount_minor: i64,
    now: i64,
) -> Outcome {
    if amount_minor <= 0 {
        return Ok(Err(MovementError::NonPositiveAmount));
    }
    if let Some((owner, kind, amount, balance_after)) = entry_by_tx(conn, tx_id).await? {
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
    let Some(balance) = adjust_balance(conn, player, amount_minor).await? else {
        return Ok(Err(MovementError::UnknownAccount(player.to_string())));
    };
    insert_entry(conn, tx_id, player, EntryKind::Deposit, amount_minor, balance, None, now).await?;
    Ok(Ok(Applied::Deposited {
        balance_minor: balance,
        replayed: false,
    }))
}

async fn take_free_spin(
    conn: &mut SqliteConnection,
    player: &PlayerId,
    game: &str,
) -> Result<Option<(i64, u32, u32)>, LedgerError> {
    let row = sqlx::query(
        "UPDATE free_spins SET remaining = remaining - 1 \
         WHERE player_id = $1 AND game = $2 AND remaining > 0 \
         RETURNING bet_minor, multiplier, remaining",
    )
    .bind(player.as_str())
    .bind(game)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    sqlx::query("DELETE FROM free_spins WHERE player_id = $1 AND game = $2 AND remaining = 0")
        .bind(player.as_str())
        .bind(game)
        .execute(&mut *conn)
        .await?;
    let bad = |_| LedgerError::Invariant("free_spins row out of range".into());
    let multiplier = u32::try_from(row.try_get::<i64, _>(1)?).map_err(bad)?;
    let remaining = u32::try_from(row.try_get::<i64, _>(2)?).map_err(bad)?;
    Ok(Some((row.try_get(0)?, multiplier, remaining)))
}

async fn give_free_spins(
    conn: &mut SqliteConnection,
    player: &PlayerId,
    spins: &FreeSpins,
) -> Result<(), LedgerError> {
    // A retrigger adds spins at the bet and multiplier already held.
    sqlx::query(
        "INSERT INTO free_spins (player_id, game, remaining, bet_minor, multiplier) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (player_id, game) DO UPDATE SET remaining = free_spins.remaining + excluded.remaining",
    )
    .bind(player.as_str())
    .bind(&spins.game)
    .bind(i64::from(spins.remaining))
    .bind(spins.bet_minor)
    .bind(i64::from(spins.multiplier))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn open_round(
    conn: &mut SqliteConnection,
    round_id: &RoundId,
    player: &PlayerId,
    req_id: &ReqId,
    game: &str,
    bet_minor: Option<i64>,
    try_free_spin: bool,
    now: i64,
) -> Outcome {
    let existing = sqlx::query("SELECT round_id FROM rounds WHERE player_id = $1 AND req_id = $2")
        .bind(player.as_str())
        .bind(req_id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = existing {
        let id = RoundId::parse(&row.try_get::<String, _>(0)?)
            .map_err(|_| LedgerError::Invariant("rounds.round_id invalid".into()))?;
        let round = fetch_round(conn, &id)
            .await?
            .ok_or_else(|| LedgerError::Invariant(format!("round {id} vanished")))?;
        let balance = balance_of(conn, player).await?.unwrap_or(0);
        return Ok(Ok(Applied::RoundOpened {
            round,
            balance_minor: balance,
            free_spins_left: 0,
            replayed: true,
        }));
    }
    let free = if try_free_spin {
        take_free_spin(conn, player, game).await?
    } else {
        None
    };
    let (debit, stake, multiplier) = match (free, bet_minor) {
        (Some((stake, multiplier, _)), _) => (0, stake, multiplier),
        (None, Some(bet)) if bet > 0 => (bet, bet, 1),
        (None, Some(_)) => return Ok(Err(MovementError::NonPositiveAmount)),
        (None, None) => return Ok(Err(MovementError::BetRequired)),
    };
    let balance = if debit > 0 {
        match adjust_balance(conn, player, -debit).await? {
            Some(b) => b,
            None => {
                return Ok(Err(match balance_of(conn, player).await? {
                    Some(balance_minor) => MovementError::InsufficientFunds {
                        balance_minor,
                        needed_minor: debit,
                    },
                    None => MovementError::UnknownAccount(player.to_string()),
                }))
            }
        }
    } else {
        match balance_of(conn, player).await? {
            Some(b) => b,
            None => return Ok(Err(MovementError::UnknownAccount(player.to_string()))),
        }
    };
    if debit > 0 {
        insert_entry(
            conn,
            &round_id.tx("bet"),
            player,
            EntryKind::Bet,
            -debit,
            balance,
            Some(round_id),
            now,
        )
        .await?;
    }
    sqlx::query(
        "INSERT INTO rounds (round_id, player_id, req_id, game, status, bet_minor, stake_minor, \
         win_minor, free_spin, multiplier, balance_after_minor, outcome, created_at_ms) \
         VALUES ($1, $2, $3, $4, 'open', $5, $6, 0, $7, $8, $9, NULL, $10)",
    )
    .bind(round_id.as_str())
    .bind(player.as_str())
    .bind(req_id.as_str())
    .bind(game)
    .bind(debit)
    .bind(stake)
    .bind(i64::from(free.is_some()))
    .bind(i64::from(multiplier))
    .bind(balance)
    .bind(now)
    .execute(&mut *conn)
    .await?;
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
    }))
}

async fn settle_round(
    conn: &mut SqliteConnection,
    round_id: &RoundId,
    player: &PlayerId,
    win_minor: i64,
    outcome_json: &str,
    free_spins_awarded: Option<&FreeSpins>,
    now: i64,
) -> Outcome {
    let Some(round) = fetch_round(conn, round_id).await? else {
        return Ok(Err(MovementError::UnknownRound(round_id.to_string())));
    };
    if &round.player != player || win_minor < 0 {
        return Ok(Err(MovementError::TxConflict(round_id.tx("win"))));
    }
    match round.status {
        RoundStatus::Open => {}
        RoundStatus::Settled
            if round.win_minor == win_minor
                && round.outcome_json.as_deref() == Some(outcome_json) =>
        {
            return Ok(Ok(Applied::RoundSettled {
                balance_minor: round.balance_after_minor,
                replayed: true,
            }))
        }
        RoundStatus::Settled => return Ok(Err(MovementError::TxConflict(round_id.tx("win")))),
        RoundStatus::Void => return Ok(Err(MovementError::RoundNotOpen(round_id.to_string()))),
    }
    let Some(balance) = adjust_balance(conn, player, win_minor).await? else {
        return Ok(Err(MovementError::UnknownAccount(player.to_string())));
    };
    if win_minor > 0 {
        let tx = round_id.tx("win");
        insert_entry(conn, &tx, player, EntryKind::Win, win_minor, balance, Some(round_id), now)
            .await?;
    }
    if let Some(spins) = free_spins_awarded {
        give_free_spins(conn, player, spins).await?;
    }
    let updated = sqlx::query(
        "UPDATE rounds SET status = 'settled', win_minor = $1, outcome = $2, \
         balance_after_minor = $3, settled_at_ms = $4 WHERE round_id = $5 AND status = 'open'",
    )
    .bind(win_minor)
    .bind(outcome_json)
    .bind(balance)
    .bind(now)
    .bind(round_id.as_str())
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(LedgerError::Invariant(format!(
            "round {round_id} changed under the writer"
        )));
    }
    Ok(Ok(Applied::RoundSettled {
        balance_minor: balance,
        replayed: false,
    }))
}

async fn void_round(
    conn: &mut SqliteConnection,
    round_id: &RoundId,
    player: &PlayerId,
    now: i64,
) -> Outcome {
    let Some(round) = fetch_round(conn, round_id).await? else {
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
        let Some(balance) = adjust_balance(conn, player, round.bet_minor).await? else {
            return Ok(Err(MovementError::UnknownAccount(player.to_string())));
        };
        let tx = round_id.tx("refund");
        insert_entry(conn, &tx, player, EntryKind::Refund, round.bet_minor, balance, Some(round_id), now)
            .await?;
        balance
    } else {
        balance_of(conn, player).await?.unwrap_or(0)
    };
    if round.free_spin {
        let spin = FreeSpins {
            game: round.game.clone(),
            remaining: 1,
            bet_minor: round.stake_minor,
            multiplier: round.multiplier,
        };
        give_free_spins(conn, player, &spin).await?;
    }
    sqlx::query(
        "UPDATE rounds SET status = 'void', balance_after_minor = $1, settled_at_ms = $2 \
         WHERE round_id = $3 AND status = 'open'",
    )
    .bind(balance)
    .bind(now)
    .bind(round_id.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(Ok(Applied::RoundVoided {
        balance_minor: balance,
        replayed: false,
    }))
}

async fn apply(conn: &mut SqliteConnection, movement: &Movement, now: i64) -> Outcome {
    match movement {
        Movement::Deposit {
            tx_id,
            player,
            amount_minor,
        } => deposit(conn, tx_id, player, *amount_minor, now).await,
        Movement::OpenRound {
            round_id,
            player,
            req_id,
            game,
            bet_minor,
            try_free_spin,
        } => {
            open_round(conn, round_id, player, req_id, game, *bet_minor, *try_free_spin, now).await
        }
        Movement::SettleRound {
            round_id,
            player,
            win_minor,
            outcome_json,
            free_spins_awarded,
        } => {
            settle_round(
                conn,
                round_id,
                player,
                *win_minor,
                outcome_json,
                free_spins_awarded.as_ref(),
                now,
            )
            .await
        }
        Movement::VoidRound { round_id, player } => void_round(conn, round_id, player, now).await,
    }
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn ensure_account(&self, player: &PlayerId, currency: &str) -> Result<Account, LedgerError> {
        sqlx::query(
            "INSERT INTO accounts (player_id, currency, balance_minor, created_at_ms) \
             VALUES ($1, $2, 0, $3) ON CONFLICT (player_id) DO NOTHING",
        )
        .bind(player.as_str())
        .bind(currency)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        let row = sqlx::query("SELECT currency, balance_minor FROM accounts WHERE player_id = $1")
            .bind(player.as_str())
            .fetch_one(&self.writer)
            .await?;
        Ok(Account {
            player: player.clone(),
            currency: row.try_get(0)?,
            balance_minor: row.try_get(1)?,
        })
    }

    async fn account(&self, player: &PlayerId) -> Result<Option<Account>, LedgerError> {
        let row = sqlx::query("SELECT currency, balance_minor FROM accounts WHERE player_id = $1")
            .bind(player.as_str())
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let balance_minor: i64 = row.try_get(1)?;
        if balance_minor < 0 {
            return Err(LedgerError::Invariant(format!("{player} balance {balance_minor} < 0")));
        }
        Ok(Some(Account {
            player: player.clone(),
            currency: row.try_get(0)?,
            balance_minor,
        }))
    }

    async fn commit_batch(
        &self,
        batch: &[Movement],
    ) -> Result<Vec<Result<Applied, MovementError>>, LedgerError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        for movement in batch {
            results.push(apply(&mut tx, movement, now).await?);
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn round(&self, round_id: &RoundId) -> Result<Option<RoundRecord>, LedgerError> {
        let mut conn = self.reader.acquire().await?;
        fetch_round(&mut conn, round_id).await
    }

    async fn round_by_req(
        &self,
        player: &PlayerId,
        req_id: &ReqId,
    ) -> Result<Option<RoundRecord>, LedgerError> {
        let sql = format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE player_id = $1 AND req_id = $2");
        let row = sqlx::query(&sql)
            .bind(player.as_str())
            .bind(req_id.as_str())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(round_from_row).transpose()
    }

    async fn history(&self, player: &PlayerId, limit: u32) -> Result<Vec<RoundRecord>, LedgerError> {
        let sql = format!(
            "SELECT {ROUND_COLUMNS} FROM rounds WHERE player_id = $1 \
             ORDER BY created_at_ms DESC, round_id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(player.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(round_from_row).collect()
    }

    async fn free_spins(&self, player: &PlayerId) -> Result<Vec<FreeSpins>, LedgerError> {
        let rows = sqlx::query(
            "SELECT game, remaining, bet_minor, multiplier FROM free_spins \
             WHERE player_id = $1 AND remaining > 0 ORDER BY game",
        )
        .bind(player.as_str())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let bad = |_| LedgerError::Invariant("free_spins row out of range".into());
                Ok(FreeSpins {
                    game: r.try_get(0)?,
                    remaining: u32::try_from(r.try_get::<i64, _>(1)?).map_err(bad)?,
                    bet_minor: r.try_get(2)?,
                    multiplier: u32::try_from(r.try_get::<i64, _>(3)?).map_err(bad)?,
                })
            })
            .collect()
    }

    async fn open_rounds(&self) -> Result<Vec<RoundRecord>, LedgerError> {
        let sql = format!("SELECT {ROUND_COLUMNS} FROM rounds WHERE status = 'open' ORDER BY round_id");
        let rows = sqlx::query(&sql).fetch_all(&self.writer).await?;
        rows.iter().map(round_from_row).collect()
    }

    async fn entries(&self, player: &PlayerId) -> Result<Vec<Entry>, LedgerError> {
        let rows = sqlx::query(
            "SELECT seq, tx_id, kind, amount_minor, balance_after_minor, round_id, created_at_ms \
             FROM ledger_entries WHERE player_id = $1 ORDER BY seq",
        )
        .bind(player.as_str())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(2)?;
                Ok(Entry {
                    seq: r.try_get(0)?,
                    tx_id: r.try_get(1)?,
                    player: player.clone(),
                    kind: EntryKind::parse(&kind)
                        .ok_or_else(|| LedgerError::Invariant(format!("entry kind {kind}")))?,
                    amount_minor: r.try_get(3)?,
                    balance_after_minor: r.try_get(4)?,
                    round_id: r.try_get(5)?,
                    created_at_ms: r.try_get(6)?,
                })
            })
            .collect()
    }

    async fn audit(&self) -> Result<AuditReport, LedgerError> {
        let mut report = AuditReport::default();
        let rows = sqlx::query(
            "SELECT a.player_id, a.balance_minor, COALESCE(SUM(e.amount_minor), 0), COUNT(e.seq) \
             FROM accounts a LEFT JOIN ledger_entries e ON e.player_id = a.player_id \
             GROUP BY a.player_id, a.balance_minor",
        )
        .fetch_all(&self.writer)
        .await?;
        for row in &rows {
            let player: String = row.try_get(0)?;
            let balance: i64 = row.try_get(1)?;
            let sum: i64 = row.try_get(2)?;
            let count: i64 = row.try_get(3)?;
            report.accounts += 1;
            report.entries += count as u64;
            if balance != sum || balance < 0 {
                report
                    .mismatches
                    .push(format!("{player}: balance {balance} but entries sum to {sum}"));
            }
        }
        // Each entry's balance_after must chain: previous balance_after + amount.
        let chain = sqlx::query(
            "SELECT player_id, tx_id, amount_minor, balance_after_minor FROM ledger_entries \
             ORDER BY player_id, seq",
        )
        .fetch_all(&self.writer)
        .await?;
        let mut last: Option<(String, i64)> = None;
        for row in &chain {
            let player: String = row.try_get(0)?;
            let tx: String = row.try_get(1)?;
            let amount: i64 = row.try_get(2)?;
            let after: i64 = row.try_get(3)?;
            let before = match &last {
                Some((p, b)) if *p == player => *b,
                _ => 0,
            };
            if before + amount != after {
                report.mismatches.push(format!(
                    "{player}: entry {tx} moves {amount} from {before} but records {after}"
                ));
            }
            last = Some((player, after));
        }
        let open: i64 = sqlx::query("SELECT COUNT(*) FROM rounds WHERE status = 'open'")
            .fetch_one(&self.writer)
            .await?
            .try_get(0)?;
        report.open_rounds = open as u64;
        Ok(report)
    }
}
