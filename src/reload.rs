//! Putting a new play in force on a running node, all or nothing, at clean boundaries
//! (`croupier reload`, `POST /v1/admin/reload`, SIGHUP, or the cluster's bundle changing).
//!
//! 1. **Check** ([`prepare`]): every file parses and agrees with the others (`Play::parse`),
//!    the change is one a running node may make (`Changes::between`), and the ledger has
//!    every new jackpot level. Any failure changes nothing and says which file and key.
//! 2. **Put in force** ([`commit`], which cannot fail): the pools, then the tables, then the
//!    games, profiles and operators are swapped in. What takes effect when:
//!    - a slot round reads the play once when it starts, and finishes under what it read;
//!      its record names its game's version (`game_version` in the outcome);
//!    - a bet feeds the pool in force when it is placed and claims against that pool;
//!    - a table takes its new limits, seats and timings when its round under way has
//!      settled; a removed table finishes that round (its bets settle, none is refunded for
//!      this) and stops; a new table opens its first round at once (in a cluster, on the
//!      node that takes its lease; a removed table's node gives its lease back once the
//!      table has stopped);
//!    - a removed pool's money stays in the ledger (`reconcile`, the pool metrics);
//!    - a session reads its profile again at its next request (`session::actor`); an
//!      operator's keys and rates hold from its next API call.
//! 3. **Spread** (cluster): the node that reloads stores its bundle in Redis before putting
//!    it in force, and the others follow (`play::shared`, [`start_follower`]).
//!
//! What the files say and how they are checked is `play`'s; this module is the node's side.

use std::sync::Arc;

use serde::Serialize;

use crate::app::App;
use crate::cluster::ClusterError;
use crate::metrics::Metrics;
use crate::money::CurrencyTable;
use crate::play::diff::Changes;
use crate::play::{Play, PlayError};
use crate::wallet::LedgerError;

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Invalid(#[from] PlayError),
    #[error("the ledger did not take the new jackpot levels: {0}")]
    Ledger(#[from] LedgerError),
    #[error("the cluster's play store: {0}")]
    Cluster(#[from] ClusterError),
}

impl ReloadError {
    /// The stable code the admin API answers with.
    pub fn code(&self) -> &'static str {
        match self {
            ReloadError::Invalid(_) => "bad_config",
            ReloadError::Ledger(_) | ReloadError::Cluster(_) => "service_unavailable",
        }
    }
}

/// What a reload did.
#[derive(Debug, Serialize)]
pub struct Reloaded {
    /// The version in force now.
    pub version: String,
    /// The version before.
    pub previous: String,
    pub changes: Changes,
}

/// Creates the metric series of `play`'s games, tables, pools and profiles at zero (at start,
/// and for whatever a reload adds).
pub fn init_series(metrics: &Metrics, play: &Play, currencies: &CurrencyTable) {
    let game_ids: Vec<&str> = play.games.slots().map(|g| g.id()).collect();
    let currency_codes: Vec<&str> = currencies.0.keys().map(String::as_str).collect();
    metrics.init_series(&game_ids, &currency_codes);
    metrics.init_harm_series(play.profiles.ids());
    let series: Vec<(&str, Vec<&str>)> = play
        .tables
        .iter()
        .map(|t| (t.id.as_str(), t.limits.keys().map(String::as_str).collect()))
        .collect();
    metrics.init_table_series(&series);
    let table_ids: Vec<&str> = play.tables.iter().map(|t| t.id.as_str()).collect();
    metrics.init_cluster_series(&table_ids);
    let levels: Vec<(&str, &str)> = play
        .pools
        .iter()
        .flat_map(|p| p.levels.iter().map(|l| (p.id.as_str(), l.name.as_str())))
        .collect();
    metrics.init_jackpot_series(&levels);
    for pool in &play.pools {
        for level in &pool.levels {
            if let Some(ceiling) = level.must_drop_by_micro {
                metrics
                    .jackpots
                    .ceiling
                    .with_label_values(&[&pool.id, &level.name])
                    .set(ceiling / crate::jackpot::math::MICRO_PER_MINOR);
            }
        }
    }
}

/// Step 1: checks `next` against the play in force and readies the ledger for it. `None`:
/// `next` is the play in force already.
pub async fn prepare(app: &App, next: &Play) -> Result<Option<Changes>, ReloadError> {
    let current = app.play_arc();
    if current.version == next.version {
        return Ok(None);
    }
    let changes = Changes::between(&current, next)?;
    app.wallet
        .ledger()
        .ensure_pools(&crate::jackpot::specs(&next.pools))
        .await?;
    Ok(Some(changes))
}

/// Step 2: puts `next` in force (checked by [`prepare`]); the caller holds `app.reloading`.
pub fn commit(app: &Arc<App>, next: Play, changes: Changes) -> Reloaded {
    init_series(&app.metrics, &next, &app.currencies);
    app.jackpots.reconfigure(next.pools.clone());
    let retabled = app.tables.reconfigure(&next.tables);
    if let Some(cluster) = app.tables.cluster() {
        // A new table's relay, ask server and lease; whichever node takes the lease runs it.
        let host = app.clone() as Arc<dyn crate::table::host::TableHost>;
        for id in retabled.added {
            crate::table::cluster::start_table(&host, cluster, id);
        }
    }
    for (table, wait) in retabled.retiring {
        tokio::spawn(async move {
            let _ = wait.await;
            tracing::info!(table = %table, "removed table stopped: its last round's money has committed");
        });
    }
    let version = next.version.to_string();
    let previous = app.swap_play(next);
    let info = &app.metrics.cluster.config_info;
    let _ = info.remove_label_values(&[&previous.version]);
    info.with_label_values(&[&version]).set(1);
    tracing::info!(
        version = %version,
        previous = %previous.version,
        changes = %serde_json::to_string(&changes).unwrap_or_default(),
        "play configuration reloaded"
    );
    Reloaded {
        version,
        previous: previous.version.to_string(),
        changes,
    }
}

/// Reads this node's play files and puts them in force here and, in a cluster, on every
/// node: the outcome is logged and counted whatever it is. `origin` says who asked (logs).
pub async fn from_files(app: &Arc<App>, origin: &'static str) -> Result<Reloaded, ReloadError> {
    let result = match Play::read(&app.config) {
        Ok(next) => apply(app, next, true).await,
        Err(error) => {
            let refused = &app.metrics.cluster.config_reloads;
            refused.with_label_values(&["refused"]).inc();
            Err(error.into())
        }
    };
    match &result {
        Ok(r) => tracing::info!(origin, version = %r.version, "reload done"),
        Err(error) => tracing::warn!(origin, %error, "reload refused: nothing changed"),
    }
    result
}

/// Checks and puts `next` in force on this node; `spread`: also stores it as the cluster's
/// (first, so a node never plays a bundle the cluster does not have).
async fn apply(app: &Arc<App>, next: Play, spread: bool) -> Result<Reloaded, ReloadError> {
    let _one_at_a_time = app.reloading.lock().await;
    let counted = |result: &'static str| {
        app.metrics
            .cluster
            .config_reloads
            .with_label_values(&[result])
            .inc()
    };
    let changes = match prepare(app, &next).await {
        Ok(Some(changes)) => changes,
        Ok(None) => {
            counted("unchanged");
            let version = next.version.to_string();
            return Ok(Reloaded {
                previous: version.clone(),
                version,
                changes: Changes::default(),
            });
        }
        Err(error) => {
            counted("refused");
            return Err(error);
        }
    };
    if spread {
        if let Some(store) = &app.play_store {
            if let Err(error) = store.put(&next.bundle).await {
                counted("refused");
                return Err(error.into());
            }
            let version: Arc<str> = next.version.clone();
            app.bus
                .publish_sealed(crate::cluster::PLAY_CHANNEL, version)
                .await;
        }
    }
    counted("applied");
    Ok(commit(app, next, changes))
}

/// Cluster: follows the cluster's bundle. On the bus's play signal and every
/// `shared::POLL_EVERY`, compares the cluster's version with this node's and applies the
/// cluster's bundle when they differ. A bundle this node cannot play is logged once per
/// version and counted; the node keeps its play (and `CroupierConfigMismatch` fires).
pub fn start_follower(app: Arc<App>) {
    let Some(store) = app.play_store.clone() else {
        return;
    };
    let mut signals = app
        .bus
        .listen(crate::cluster::PLAY_CHANNEL)
        .unwrap_or_else(|| tokio::sync::broadcast::channel(1).1);
    tokio::spawn(async move {
        let mut refused: Option<String> = None;
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => return,
                _ = signals.recv() => {}
                _ = tokio::time::sleep(crate::play::shared::POLL_EVERY) => {}
            }
            let Ok(Some(version)) = store.version().await else {
                continue; // Redis away or empty: keep playing, look again later
            };
            if *version == *app.play().version || refused.as_deref() == Some(&version) {
                continue;
            }
            let next = match store.bundle().await {
                Ok(Some(bundle)) => Play::parse(bundle, &app.config).map_err(ReloadError::from),
                Ok(None) => continue,
                Err(error) => Err(error.into()),
            };
            match next {
                Ok(next) => match apply(&app, next, false).await {
                    Ok(done) => {
                        tracing::info!(version = %done.version, "playing the cluster's new play files");
                        refused = None;
                    }
                    Err(error) => {
                        tracing::error!(version = %version, %error, "cannot play the cluster's play files; keeping mine");
                        refused = Some(version);
                    }
                },
                Err(error) => {
                    app.metrics
                        .cluster
                        .config_reloads
                        .with_label_values(&["refused"])
                        .inc();
                    tracing::error!(version = %version, %error, "cannot play the cluster's play files; keeping mine");
                    refused = Some(version);
                }
            }
        }
    });
}
