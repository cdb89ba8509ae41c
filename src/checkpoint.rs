//! The ledger's checkpoint on a schedule: every `ledger.checkpoint_log_seconds` the node reads
//! every chain's head (docs/integrity.md) and logs one line with their digest, so logs shipped
//! off the node keep checkpoints of the tamper-evident ledger that croupier cannot rewrite.
//! The heads are read a page at a time (`croupier_ledger::chain_sql` `DIGEST_PAGE`), so the
//! line costs bounded memory whatever the number of players.
//! The full list behind a digest comes from `croupier heads` (or the operator API's
//! `GET /v1/operator/ledger/heads` for one operator's players); `croupier audit --heads FILE`
//! checks it.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;

/// Logs the first checkpoint this long after start-up (not at once: a node restarting in a
/// loop should not scan the accounts each time), then every `every`.
const FIRST_AFTER: Duration = Duration::from_secs(30);

/// Starts the schedule; `every` zero: never.
pub fn start(app: &Arc<App>, every: Duration) {
    if every.is_zero() {
        return;
    }
    let app = app.clone();
    actix::spawn(async move {
        let start = tokio::time::Instant::now() + FIRST_AFTER.min(every);
        let mut tick = tokio::time::interval_at(start, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let taken_at_ms = crate::clock::now_ms();
            match app.wallet.ledger().heads_digest().await {
                Ok((digest, chains, links)) => tracing::info!(
                    %digest, chains, links, taken_at_ms,
                    "ledger chain checkpoint"
                ),
                Err(error) => tracing::warn!(%error, "ledger chain checkpoint failed; next time"),
            }
        }
    });
}
