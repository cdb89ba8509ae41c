//! The heartbeat: every [`HEARTBEAT_EVERY`] this node writes what it is (a [`NodeInfo`]) and
//! which players are on it into the shared state, and counts the live nodes. What the node
//! is comes from the caller (`describe`), so this module needs nothing of the node's insides.

use std::sync::Arc;

use prometheus::IntGauge;
use tokio_util::sync::CancellationToken;

use super::store::{NodeInfo, SharedState, HEARTBEAT_EVERY, NODE_TTL};
use crate::ids::PlayerId;

/// Starts the heartbeat; it stops at `stop`. `describe` gives this node's description and
/// its connected players (in any order, duplicates allowed; `info.players` is counted here)
/// at each beat; `nodes` is set to
/// the number of live nodes (`croupier_cluster_nodes`).
pub fn start_heartbeat(
    shared: Arc<dyn SharedState>,
    describe: impl Fn() -> (NodeInfo, Vec<PlayerId>) + Send + 'static,
    nodes: IntGauge,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(HEARTBEAT_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let (mut info, mut players) = describe();
            players.sort();
            players.dedup();
            info.players = players.len() as u64;
            let beat = shared.heartbeat(&info, &players, NODE_TTL).await;
            let live = match beat {
                Ok(()) => shared.nodes().await,
                Err(e) => Err(e),
            };
            match live {
                Ok(live) => {
                    failing = false;
                    nodes.set(live.len() as i64);
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "heartbeat not written; retrying");
                    }
                    failing = true;
                }
            }
        }
    });
}
