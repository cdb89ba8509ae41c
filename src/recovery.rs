//! Refunding what a crash or a lost node left open, exactly once: start-up recovery (before
//! the node takes players), the stale-round sweeper (rounds open past
//! `ledger.stale_round_seconds`) and, in a cluster, the lost-node sweeper (spins of nodes that
//! left the Redis registry, within seconds). Which rounds qualify is the ledger crate's pure
//! rule (`croupier_ledger::recovery`); every refund is a `VoidRound` through the wallet shards,
//! idempotent by its transaction id.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::wallet::{LedgerError, Movement, RoundRecord};

/// Voids `round` and refunds its stake once (counted as `cause`); a failure is logged and
/// left to recovery.
pub async fn void(app: &App, round: &RoundRecord, cause: &str) {
    let movement = Movement::VoidRound {
        round_id: round.round_id.clone(),
        player: round.player.clone(),
    };
    match app.wallet.apply(movement).await {
        Ok(_) => {
            app.metrics
                .wallet
                .rounds_voided
                .with_label_values(&[cause])
                .inc();
            tracing::warn!(round = %round.round_id, cause, "round voided and refunded");
        }
        Err(error) => {
            tracing::error!(round = %round.round_id, %error, "void failed; start-up recovery will refund it")
        }
    }
}

/// Voids rounds left open by a crash: the stake is refunded (or the free spin given back)
/// exactly once, by the ledger's transaction id. Runs before the node accepts players. With
/// `older_than_ms` 0 (the embedded ledger: this node owns every round) all of them; on a shared
/// ledger only those older than that, since younger ones may be in flight on other nodes.
pub async fn recover_open_rounds(
    app: &Arc<App>,
    older_than_ms: i64,
    cause: &str,
) -> Result<usize, LedgerError> {
    let open = app.wallet.ledger().open_rounds().await?;
    let now = crate::clock::now_ms();
    let mut count = 0;
    for round in open {
        if croupier_ledger::recovery::open_at_least(&round, now, older_than_ms) {
            void(app, &round, cause).await;
            count += 1;
        }
    }
    Ok(count)
}

/// How long a round must have been open before its node's absence from the node registry
/// counts: a registry entry outlives its node's last heartbeat by this much, so a node that is
/// alive, or only just started, is never taken for lost.
pub const NODE_LOST_GRACE: Duration = crate::cluster::store::NODE_TTL;

/// Whether `round`, open at `now_ms`, was opened by a node that has left the cluster (see
/// `croupier_ledger::recovery::opened_by_a_lost_node`); `false` when that cannot be told.
pub async fn lost(app: &App, round: &RoundRecord, now_ms: i64) -> bool {
    live_nodes(app).await.is_some_and(|live| {
        croupier_ledger::recovery::opened_by_a_lost_node(
            round,
            &app.node,
            &live,
            now_ms,
            grace_ms(),
        )
    })
}

fn grace_ms() -> i64 {
    i64::try_from(NODE_LOST_GRACE.as_millis()).unwrap_or(i64::MAX)
}

/// The nodes alive in the cluster, this one included; `None` when that cannot be told (not a
/// cluster, Redis unreachable, or the registry does not list this node yet, as just after Redis
/// came back empty): then nobody is taken for lost.
async fn live_nodes(app: &App) -> Option<std::collections::HashSet<String>> {
    if !app.shared.is_shared() {
        return None;
    }
    let live: std::collections::HashSet<String> = match app.shared.nodes().await {
        Ok(nodes) => nodes.into_iter().map(|n| n.node).collect(),
        Err(error) => {
            tracing::debug!(%error, "node registry unreadable; no round judged lost");
            return None;
        }
    };
    live.contains(app.node.as_ref()).then_some(live)
}

/// Refunds the open spins of nodes that left the cluster (killed, crashed, partitioned past
/// their registry entry) every [`crate::cluster::store::HEARTBEAT_EVERY`], instead of after
/// `ledger.stale_round_seconds`: a player who resumes elsewhere gets an answer within seconds.
pub fn start_lost_node_sweeper(app: &Arc<App>) {
    if !app.shared.is_shared() {
        return;
    }
    let app = app.clone();
    actix::spawn(async move {
        let mut tick = tokio::time::interval(crate::cluster::store::HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            match sweep_lost_nodes(&app).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    voided = n,
                    "rounds of nodes that left the cluster voided and refunded"
                ),
                Err(error) => tracing::warn!(%error, "lost-node sweep failed; next time"),
            }
        }
    });
}

async fn sweep_lost_nodes(app: &App) -> Result<usize, LedgerError> {
    let open = app.wallet.ledger().open_rounds().await?;
    let now = crate::clock::now_ms();
    let candidates: Vec<RoundRecord> = open
        .into_iter()
        .filter(|r| app.tables.get(&r.game).is_none())
        .filter(|r| croupier_ledger::recovery::open_at_least(r, now, grace_ms()))
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let Some(live) = live_nodes(app).await else {
        return Ok(0);
    };
    let mut count = 0;
    for round in candidates {
        if croupier_ledger::recovery::opened_by_a_lost_node(
            &round,
            &app.node,
            &live,
            now,
            grace_ms(),
        ) {
            void(app, &round, "node_lost").await;
            count += 1;
        }
    }
    Ok(count)
}

/// Voids rounds whose node died (open longer than `ledger.stale_round_seconds`), every half
/// of that, until shutdown: on a cluster the survivors refund a dead node's rounds. The same
/// tick closes operators' free rounds whose expiry has passed (they are unplayable from the
/// instant they expire either way; the sweep records what each lost).
pub fn start_stale_sweeper(app: &Arc<App>) {
    let app = app.clone();
    actix::spawn(async move {
        let every = std::time::Duration::from_millis((app.stale_round_ms() / 2).max(1_000) as u64);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // The first sweep prunes: a node that restarts often still does.
        let mut last_prune: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            match recover_open_rounds(&app, app.stale_round_ms(), "stale").await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(voided = n, "stale rounds voided and refunded"),
                Err(error) => tracing::warn!(%error, "stale-round sweep failed; next time"),
            }
            expire_free_rounds(&app).await;
            if last_prune.map_or(true, |at| at.elapsed() >= PRUNE_ACTIVITY_EVERY) {
                last_prune = Some(std::time::Instant::now());
                match app.wallet.ledger().prune_activity().await {
                    Ok(0) => {}
                    Ok(rows) => tracing::info!(rows, "limited players' old activity pruned"),
                    Err(error) => tracing::warn!(%error, "activity pruning failed; next time"),
                }
            }
        }
    });
}

/// How often the sweeper drops limited players' activity older than the longest limit window
/// (a month): hourly buckets age out one an hour, so once an hour keeps the table bounded.
const PRUNE_ACTIVITY_EVERY: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Most expiry batches one sweep runs (each at most `EXPIRE_BATCH` grants): the rest waits for
/// the next tick, so a backlog never holds the sweeper for long.
const EXPIRY_BATCHES_PER_SWEEP: usize = 10;

async fn expire_free_rounds(app: &App) {
    for _ in 0..EXPIRY_BATCHES_PER_SWEEP {
        match app.wallet.ledger().expire_free_rounds().await {
            Ok(0) => return,
            Ok(closed) => {
                tracing::info!(closed, "expired free rounds closed");
                if closed < u64::from(croupier_ledger::free_rounds::EXPIRE_BATCH) {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "free-rounds expiry failed; next time");
                return;
            }
        }
    }
}
