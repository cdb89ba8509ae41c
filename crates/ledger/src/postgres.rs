//! The cluster ledger: PostgreSQL through an sqlx pool, the same schema and the same SQL and
//! money logic as the embedded one (`ledger_sql`, `jackpot_sql`).
//!
//! Each wallet shard's batch is one database transaction (group commit per shard); shards run
//! their transactions concurrently, players never span shards, and the jackpot rows are locked
//! in one order (see `jackpot_sql`), so concurrent batches on many nodes serialise only where
//! they share a pool. Migrations run at start-up under an advisory lock, so nodes starting
//! together apply them once.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::apply_sql;
use super::chain_sql;
use super::jackpot_sql::JackpotBatch;
use super::ledger::{LedgerError, Movement};
use super::query::{Answer, Change, Query};
use super::sql::{args, PgTx, SqlTx};
use super::sql_ledger::{Backend, BatchResult, SqlLedger};
use crate::clock::now_ms;

const MIGRATIONS: [&str; 11] = [
    include_str!("../migrations/postgres/0001_ledger.sql"),
    include_str!("../migrations/postgres/0002_jackpots.sql"),
    include_str!("../migrations/postgres/0003_table_fences.sql"),
    include_str!("../migrations/postgres/0004_round_node.sql"),
    include_str!("../migrations/postgres/0005_operators.sql"),
    include_str!("../migrations/postgres/0006_free_rounds.sql"),
    include_str!("../migrations/postgres/0007_chain.sql"),
    include_str!("../migrations/postgres/0008_fair.sql"),
    include_str!("../migrations/postgres/0009_exclusions.sql"),
    include_str!("../migrations/postgres/0010_limits.sql"),
    include_str!("../migrations/postgres/0011_harm_flags.sql"),
];
/// Key of the advisory lock that orders concurrent migrations (any constant will do).
const MIGRATION_LOCK: i64 = 0x6372_6f75_7069_6572; // "croupier"
/// Longest a request waits for a pooled connection before the ledger counts as unavailable.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates a database on the server at `server_url` (an existing database's URL): for test
/// harnesses and first deployments. `name` must be a plain identifier.
pub async fn create_database(server_url: &str, name: &str) -> Result<(), LedgerError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(LedgerError::Invariant(format!(
            "bad database name {name:?}"
        )));
    }
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(server_url)
        .await?;
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// The cluster ledger: [`SqlLedger`] on [`Postgres`].
pub type PgLedger = SqlLedger<Postgres>;

/// The PostgreSQL back end: a pool of connections.
pub struct Postgres {
    pool: PgPool,
}

impl PgLedger {
    /// Connects (a pool of at most `max_connections`) and brings the schema up to date.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, LedgerError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        migrate(&pool).await?;
        Ok(SqlLedger::new(Postgres { pool }))
    }
}

/// Brings the schema up to date, under an advisory lock so nodes starting together apply each
/// step once.
async fn migrate(pool: &PgPool) -> Result<(), LedgerError> {
    let mut tx = pool.begin().await?;
    let mut pg = PgTx::new(&mut tx);
    pg.exec("SELECT pg_advisory_xact_lock($1)", args![MIGRATION_LOCK])
        .await?;
    pg.exec(
        "CREATE TABLE IF NOT EXISTS ledger_schema (version BIGINT NOT NULL)",
        args![],
    )
    .await?;
    let version = pg
        .row(
            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM ledger_schema",
            args![],
        )
        .await?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    if version > MIGRATIONS.len() as i64 {
        return Err(LedgerError::Invariant(format!(
            "ledger schema version {version} is newer than this build ({})",
            MIGRATIONS.len()
        )));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        let mut pg = PgTx::new(&mut tx);
        pg.exec(
            "INSERT INTO ledger_schema (version) VALUES ($1)",
            args![step as i64 + 1],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[async_trait]
impl Backend for Postgres {
    async fn commit(&self, batch: &[Movement]) -> BatchResult {
        let at = now_ms();
        let mut tx = self.pool.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        {
            let mut pg = PgTx::new(&mut tx);
            let mut jackpots = JackpotBatch::default();
            for movement in batch {
                results.push(apply_sql::apply(&mut pg, movement, at, &mut jackpots).await?);
            }
            jackpots.flush(&mut pg, at).await?;
            chain_sql::flush(&mut pg).await?;
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn read(&self, query: Query) -> Result<Answer, LedgerError> {
        if query.needs_snapshot() {
            // One snapshot for every statement (a chain's head and its links agree).
            let mut tx = self.pool.begin().await?;
            let mut pg = PgTx::new(&mut tx);
            pg.exec(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY",
                args![],
            )
            .await?;
            let answer = query.run(&mut pg).await?;
            tx.rollback().await?;
            return Ok(answer);
        }
        let mut conn = self.pool.acquire().await?;
        query.run(&mut PgTx::new(&mut conn)).await
    }

    async fn change(&self, change: Change) -> Result<Answer, LedgerError> {
        let mut tx = self.pool.begin().await?;
        let mut pg = PgTx::new(&mut tx);
        let answer = change.run(&mut pg, now_ms()).await?;
        chain_sql::flush(&mut pg).await?;
        tx.commit().await?;
        Ok(answer)
    }
}
