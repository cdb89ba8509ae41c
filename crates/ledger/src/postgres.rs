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

use super::jackpot_sql::{self, JackpotBatch};
use super::ledger::{
    Account, Applied, AuditReport, Entry, FreeSpins, JackpotWin, Ledger, LedgerError, Movement,
    MovementError, PoolSpec, PoolState, ReconcileReport, RoundRecord,
};
use super::ledger_sql;
use super::sql::{args, PgTx, SqlTx};
use crate::clock::now_ms;
use crate::ids::{PlayerId, ReqId, RoundId};

const MIGRATIONS: [&str; 4] = [
    include_str!("../migrations/postgres/0001_ledger.sql"),
    include_str!("../migrations/postgres/0002_jackpots.sql"),
    include_str!("../migrations/postgres/0003_table_fences.sql"),
    include_str!("../migrations/postgres/0004_round_node.sql"),
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

pub struct PgLedger {
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
        let ledger = Self { pool };
        ledger.migrate().await?;
        Ok(ledger)
    }

    async fn migrate(&self) -> Result<(), LedgerError> {
        let mut tx = self.pool.begin().await?;
        let mut pg = PgTx(&mut tx);
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
            let mut pg = PgTx(&mut tx);
            pg.exec(
                "INSERT INTO ledger_schema (version) VALUES ($1)",
                args![step as i64 + 1],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn read<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        F: for<'c> FnOnce(PgTx<'c>) -> futures_util::future::BoxFuture<'c, Result<T, LedgerError>>,
    {
        let mut conn = self.pool.acquire().await?;
        f(PgTx(&mut conn)).await
    }
}

#[async_trait]
impl Ledger for PgLedger {
    async fn ensure_account(
        &self,
        player: &PlayerId,
        currency: &str,
    ) -> Result<Account, LedgerError> {
        let movement = Movement::EnsureAccount {
            player: player.clone(),
            currency: currency.to_string(),
        };
        match self.commit_batch(&[movement]).await?.pop() {
            Some(Ok(Applied::AccountReady(account))) => Ok(account),
            other => Err(LedgerError::Invariant(format!(
                "ensure_account answered {other:?}"
            ))),
        }
    }

    async fn account(&self, player: &PlayerId) -> Result<Option<Account>, LedgerError> {
        let player = player.clone();
        self.read(move |mut tx| {
            Box::pin(async move { ledger_sql::account(&mut tx, &player).await })
        })
        .await
    }

    async fn commit_batch(
        &self,
        batch: &[Movement],
    ) -> Result<Vec<Result<Applied, MovementError>>, LedgerError> {
        let at = now_ms();
        let mut tx = self.pool.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        {
            let mut pg = PgTx(&mut tx);
            let mut jackpots = JackpotBatch::default();
            for movement in batch {
                results.push(ledger_sql::apply(&mut pg, movement, at, &mut jackpots).await?);
            }
            jackpots.flush(&mut pg, at).await?;
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn round(&self, round_id: &RoundId) -> Result<Option<RoundRecord>, LedgerError> {
        let round_id = round_id.clone();
        self.read(move |mut tx| {
            Box::pin(async move { ledger_sql::fetch_round(&mut tx, &round_id).await })
        })
        .await
    }

    async fn round_by_req(
        &self,
        player: &PlayerId,
        req_id: &ReqId,
    ) -> Result<Option<RoundRecord>, LedgerError> {
        let (player, req_id) = (player.clone(), req_id.clone());
        self.read(move |mut tx| {
            Box::pin(async move { ledger_sql::round_by_req(&mut tx, &player, &req_id).await })
        })
        .await
    }

    async fn history(
        &self,
        player: &PlayerId,
        limit: u32,
    ) -> Result<Vec<RoundRecord>, LedgerError> {
        let player = player.clone();
        self.read(move |mut tx| {
            Box::pin(async move { ledger_sql::history(&mut tx, &player, limit).await })
        })
        .await
    }

    async fn free_spins(&self, player: &PlayerId) -> Result<Vec<FreeSpins>, LedgerError> {
        let player = player.clone();
        self.read(move |mut tx| {
            Box::pin(async move { ledger_sql::free_spins(&mut tx, &player).await })
        })
        .await
    }

    async fn open_rounds(&self) -> Result<Vec<RoundRecord>, LedgerError> {
        self.read(|mut tx| Box::pin(async move { ledger_sql::open_rounds(&mut tx).await }))
            .await
    }

    async fn entries(&self, player: &PlayerId) -> Result<Vec<Entry>, LedgerError> {
        let player = player.clone();
        self.read(move |mut tx| {
            Box::pin(async move { ledger_sql::entries(&mut tx, &player).await })
        })
        .await
    }

    async fn audit(&self) -> Result<AuditReport, LedgerError> {
        self.read(|mut tx| Box::pin(async move { ledger_sql::audit(&mut tx).await }))
            .await
    }

    async fn next_fence(&self, table: &str) -> Result<i64, LedgerError> {
        let mut tx = self.pool.begin().await?;
        let token = ledger_sql::next_fence(&mut PgTx(&mut tx), table, now_ms()).await?;
        tx.commit().await?;
        Ok(token)
    }

    async fn ensure_pools(&self, specs: &[PoolSpec]) -> Result<(), LedgerError> {
        let mut tx = self.pool.begin().await?;
        jackpot_sql::ensure_pools(&mut PgTx(&mut tx), specs, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pools(&self) -> Result<Vec<PoolState>, LedgerError> {
        self.read(|mut tx| Box::pin(async move { jackpot_sql::pools(&mut tx).await }))
            .await
    }

    async fn jackpot_wins(&self, round_id: &RoundId) -> Result<Vec<JackpotWin>, LedgerError> {
        let round_id = round_id.clone();
        self.read(move |mut tx| {
            Box::pin(async move { jackpot_sql::wins_for_round(&mut tx, &round_id).await })
        })
        .await
    }

    async fn reconcile(&self) -> Result<ReconcileReport, LedgerError> {
        self.read(|mut tx| Box::pin(async move { jackpot_sql::reconcile(&mut tx).await }))
            .await
    }
}
