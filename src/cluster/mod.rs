//! What the nodes of a cluster share besides the ledger. So far: the event bus that carries
//! jackpot win announcements to every node's players (pool values need no bus: every node reads
//! them from the shared ledger). Redis pub/sub when `cluster.redis_url` is set; in process
//! otherwise (one node).
//!
//! Still to come here (docs/operations.md): sessions and the reply cache in Redis, presence,
//! and live-table leases with fencing tokens.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// The one pub/sub channel of a deployment's events.
pub const EVENTS_CHANNEL: &str = "croupier:events";
/// Events a node buffers for its local subscribers (a lagging one skips to the latest).
pub const LOCAL_EVENTS: usize = 256;
/// Wait before re-subscribing after Redis went away (bounded retry forever, one at a time).
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Events published anywhere in the cluster reach every node's local subscribers.
#[derive(Clone)]
pub struct Bus {
    local: broadcast::Sender<Arc<str>>,
    redis: Option<redis::aio::ConnectionManager>,
}

impl Bus {
    /// A bus for one node: events stay in this process.
    pub fn in_process() -> Bus {
        let (local, _) = broadcast::channel(LOCAL_EVENTS);
        Bus { local, redis: None }
    }

    /// A bus over Redis pub/sub: a multiplexed connection manager publishes (it reconnects by
    /// itself), and a subscriber task relays the channel to this node's subscribers until
    /// `stop`, re-subscribing whenever Redis comes back.
    pub async fn redis(url: &str, stop: CancellationToken) -> Result<Bus, BusError> {
        let client = redis::Client::open(url)?;
        let manager = client.get_connection_manager().await?;
        let (local, _) = broadcast::channel(LOCAL_EVENTS);
        let relay = local.clone();
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if let Err(error) = pubsub.subscribe(EVENTS_CHANNEL).await {
                            tracing::warn!(%error, "bus: cannot subscribe");
                        } else {
                            let mut messages = pubsub.on_message();
                            loop {
                                tokio::select! {
                                    _ = stop.cancelled() => return,
                                    message = messages.next() => match message {
                                        Some(m) => {
                                            if let Ok(text) = m.get_payload::<String>() {
                                                let _ = relay.send(Arc::from(text));
                                            }
                                        }
                                        None => break,
                                    },
                                }
                            }
                            tracing::warn!("bus: redis subscription ended; re-subscribing");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "bus: redis unreachable; retrying"),
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
                }
            }
        });
        Ok(Bus {
            local,
            redis: Some(manager),
        })
    }

    /// Publishes to every node (this one included). Over Redis, a failure is reported and the
    /// event is delivered locally only: announcements are informational, money never rides here.
    pub async fn publish(&self, event: Arc<str>) {
        match &self.redis {
            None => {
                let _ = self.local.send(event);
            }
            Some(manager) => {
                let mut conn = manager.clone();
                let sent: Result<i64, _> = redis::cmd("PUBLISH")
                    .arg(EVENTS_CHANNEL)
                    .arg(event.as_ref())
                    .query_async(&mut conn)
                    .await;
                if let Err(error) = sent {
                    tracing::warn!(%error, "bus: publish failed; delivering on this node only");
                    let _ = self.local.send(event);
                }
            }
        }
    }

    /// Delivers to this node's subscribers only (what every node computes for itself).
    pub fn publish_local(&self, event: Arc<str>) {
        let _ = self.local.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.local.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(rx: &mut broadcast::Receiver<Arc<str>>) -> String {
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("event within 10 s")
            .expect("open channel");
        got.to_string()
    }

    #[tokio::test]
    async fn in_process_events_reach_every_local_subscriber() {
        let bus = Bus::in_process();
        let (mut a, mut b) = (bus.subscribe(), bus.subscribe());
        bus.publish(Arc::from("won")).await;
        assert_eq!(next(&mut a).await, "won");
        assert_eq!(next(&mut b).await, "won");
    }

    /// Two nodes' buses on one Redis (the test script's, `CROUPIER_TEST_REDIS`): an event
    /// published on one reaches the other's subscribers, and its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_events_reach_every_node() {
        let Ok(url) = std::env::var("CROUPIER_TEST_REDIS") else {
            assert!(
                std::env::var_os("CROUPIER_REQUIRE_SERVICES").is_none(),
                "CROUPIER_TEST_REDIS is not set: run the suite with scripts/test.sh"
            );
            eprintln!("skipped: CROUPIER_TEST_REDIS is not set (scripts/test.sh sets it)");
            return;
        };
        let stop = CancellationToken::new();
        let one = Bus::redis(&url, stop.clone()).await.unwrap();
        let two = Bus::redis(&url, stop.clone()).await.unwrap();
        let (mut on_one, mut on_two) = (one.subscribe(), two.subscribe());
        // The subscriber tasks subscribe asynchronously: publish until the other node hears.
        let mut heard = None;
        for i in 0..100 {
            one.publish(Arc::from(format!("won-{i}"))).await;
            if let Ok(Ok(text)) =
                tokio::time::timeout(Duration::from_millis(100), on_two.recv()).await
            {
                heard = Some(text.to_string());
                break;
            }
        }
        let heard = heard.expect("node two heard node one");
        assert!(heard.starts_with("won-"), "{heard}");
        two.publish(Arc::from("back")).await;
        let mut got = next(&mut on_one).await;
        while got != "back" {
            got = next(&mut on_one).await;
        }
        stop.cancel();
    }
}
