//! The cluster's pub/sub: the events channel (jackpot wins, to every player of every node),
//! the sessions and play channels, each live table's channel (its owner's events to the
//! players seated on other nodes) and ask channel (other nodes' joins and bets to its owner),
//! and this node's own channel (answers to its asks). Over Redis a subscriber task relays
//! every channel to this node's local receivers, re-subscribing whenever Redis comes back; the
//! table channels come through one pattern (`table:*`), so a table a reload adds is heard
//! without subscribing again. In process, a publish reaches the local receivers directly.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{ClusterError, RedisLink, Seal};

/// The pub/sub channel of a deployment's player-wide events. Channel names here are logical:
/// on Redis each is prefixed with the namespace (`croupier:events` by default).
pub const EVENTS_CHANNEL: &str = "events";
/// The channel of session control: sessions an operator ended, whose connections every node
/// closes at once. Sealed by the bus, like the events channel.
pub const SESSIONS_CHANNEL: &str = "sessions";
/// The channel of play reloads: a new play bundle is in Redis (`play::shared`), every node
/// applies it. Sealed by the bus.
pub const PLAY_CHANNEL: &str = "play";
/// Channels the bus itself seals and opens (the table channels are sealed by their users).
const SEALED_CHANNELS: [&str; 3] = [EVENTS_CHANNEL, SESSIONS_CHANNEL, PLAY_CHANNEL];
/// Events a node buffers for its local subscribers (a lagging one skips to the latest).
pub const LOCAL_EVENTS: usize = 256;
/// Messages buffered per table or node channel for its one local reader (a relay task that
/// never waits): a burst beyond this is dropped and counted as lagged.
pub const CHANNEL_BUFFER: usize = 4096;
/// Wait before re-subscribing after Redis went away (bounded retry forever, one at a time).
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Messages published anywhere in the cluster reach every node's local receivers.
#[derive(Clone)]
pub struct Bus {
    /// By channel name: the fixed ones from the start, a table's when it is first listened
    /// to (bounded by the tables, `MAX_TABLES`, two channels each).
    channels: Arc<DashMap<String, broadcast::Sender<Arc<str>>>>,
    redis: Option<RedisLink>,
    /// Seals the events channel over Redis (the table channels are sealed by their users).
    seal: Option<Seal>,
}

/// The prefix of every table channel (`table:<id>`, `table:<id>:ask`): one pattern for all.
const TABLE_CHANNELS: &str = "table:";

fn senders(extra: &[String]) -> DashMap<String, broadcast::Sender<Arc<str>>> {
    let map = DashMap::new();
    for name in SEALED_CHANNELS {
        map.insert(name.to_string(), broadcast::channel(LOCAL_EVENTS).0);
    }
    for name in extra {
        map.insert(name.clone(), broadcast::channel(CHANNEL_BUFFER).0);
    }
    map
}

impl Bus {
    /// A bus for one node with only the events channel: events stay in this process.
    pub fn in_process() -> Bus {
        Bus::in_process_with(&[])
    }

    /// A bus for one node with these channels besides the events channel.
    pub fn in_process_with(channels: &[String]) -> Bus {
        Bus {
            channels: Arc::new(senders(channels)),
            redis: None,
            seal: None,
        }
    }

    /// A bus over Redis pub/sub with these channels besides the events channel: publishing
    /// goes through the node's `RedisLink`, and a subscriber task relays every channel to this
    /// node's receivers until `stop`, re-subscribing whenever Redis comes back.
    pub fn redis(link: RedisLink, channels: &[String], seal: Seal, stop: CancellationToken) -> Bus {
        let map = Arc::new(senders(channels));
        let relay = map.clone();
        let opener = seal.clone();
        let client = link.client().clone();
        let names: Vec<String> = map
            .iter()
            .map(|entry| entry.key().clone())
            .filter(|name| !name.starts_with(TABLE_CHANNELS))
            .map(|name| link.key(&name))
            .collect();
        let tables = link.key(&format!("{TABLE_CHANNELS}*"));
        let prefix = link.key("");
        tokio::spawn(async move {
            let mut failing = false;
            while !stop.is_cancelled() {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if failing {
                            tracing::info!("bus: redis is back; subscribed again");
                        }
                        failing = false;
                        let subscribed = match pubsub.subscribe(&names).await {
                            Ok(()) => pubsub.psubscribe(&tables).await,
                            Err(error) => Err(error),
                        };
                        if let Err(error) = subscribed {
                            tracing::warn!(%error, "bus: cannot subscribe");
                        } else {
                            let mut messages = pubsub.on_message();
                            loop {
                                tokio::select! {
                                    _ = stop.cancelled() => return,
                                    message = messages.next() => match message {
                                        Some(m) => {
                                            let channel = m.get_channel_name();
                                            let channel = channel.strip_prefix(prefix.as_str()).unwrap_or(channel);
                                            let sender = relay.get(channel).map(|s| s.value().clone());
                                            if let (Some(sender), Ok(text)) = (sender, m.get_payload::<String>()) {
                                                if !SEALED_CHANNELS.contains(&channel) {
                                                    let _ = sender.send(Arc::from(text));
                                                } else if let Some(body) = opener.open(&text) {
                                                    let _ = sender.send(Arc::from(body));
                                                } else {
                                                    tracing::warn!("bus: event with a wrong seal ignored (same auth.secret on every node?)");
                                                }
                                            }
                                        }
                                        None => break,
                                    },
                                }
                            }
                            tracing::warn!("bus: redis subscription ended; re-subscribing");
                        }
                    }
                    Err(error) => {
                        if !failing {
                            tracing::warn!(%error, "bus: redis unreachable; retrying every second");
                        }
                        failing = true;
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
                }
            }
        });
        Bus {
            channels: map,
            redis: Some(link),
            seal: Some(seal),
        }
    }

    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Publishes a player-wide event to every node (this one included). Over Redis, a failure
    /// is reported and the event is delivered locally only: announcements are informational,
    /// money never rides here.
    pub async fn publish(&self, event: Arc<str>) {
        self.publish_sealed(EVENTS_CHANNEL, event).await
    }

    /// Publishes on one of the bus's sealed channels (events, sessions) to every node, this
    /// one included; on failure, to this node only (reported).
    pub async fn publish_sealed(&self, channel: &'static str, event: Arc<str>) {
        let sealed = match &self.seal {
            Some(seal) => Arc::from(seal.seal(&event)),
            None => event.clone(),
        };
        if let Err(error) = self.publish_on(channel, &[sealed]).await {
            tracing::warn!(%error, channel, "bus: publish failed; delivering on this node only");
            if let Some(sender) = self.channels.get(channel) {
                let _ = sender.send(event);
            }
        }
    }

    /// Publishes messages, in order, on one channel (one round trip over Redis).
    pub async fn publish_on(
        &self,
        channel: &str,
        messages: &[Arc<str>],
    ) -> Result<(), ClusterError> {
        match &self.redis {
            None => {
                if let Some(sender) = self.channels.get(channel) {
                    for m in messages {
                        let _ = sender.send(m.clone());
                    }
                }
                Ok(())
            }
            Some(link) => {
                let mut pipe = redis::pipe();
                let channel = link.key(channel);
                for m in messages {
                    pipe.cmd("PUBLISH").arg(&channel).arg(m.as_ref()).ignore();
                }
                link.pipeline::<()>("publish", &pipe).await
            }
        }
    }

    /// Delivers to this node's subscribers only (what every node computes for itself).
    pub fn publish_local(&self, event: Arc<str>) {
        if let Some(sender) = self.channels.get(EVENTS_CHANNEL) {
            let _ = sender.send(event);
        }
    }

    /// The sessions channel, as this node receives it.
    pub fn sessions(&self) -> broadcast::Receiver<Arc<str>> {
        self.listen(SESSIONS_CHANNEL)
            .unwrap_or_else(|| broadcast::channel(1).1)
    }

    /// The events channel, as this node receives it.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.listen(EVENTS_CHANNEL)
            .unwrap_or_else(|| broadcast::channel(1).1)
    }

    /// A channel as this node receives it: one given at start, or a table's (made now, and
    /// heard through the table pattern).
    pub fn listen(&self, channel: &str) -> Option<broadcast::Receiver<Arc<str>>> {
        if let Some(sender) = self.channels.get(channel) {
            return Some(sender.subscribe());
        }
        if !channel.starts_with(TABLE_CHANNELS) {
            return None;
        }
        let sender = self
            .channels
            .entry(channel.to_string())
            .or_insert_with(|| broadcast::channel(CHANNEL_BUFFER).0);
        Some(sender.subscribe())
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
        let Some(first) = crate::cluster::test_redis().await else {
            return;
        };
        let second = crate::cluster::test_redis().await.expect("the same Redis");
        let stop = CancellationToken::new();
        // Each node has its own seal (its own nonces seen) over the shared secret.
        let seal = || {
            Seal::new(crate::secrets::KeyRing::new(
                "bus-test-secret-5ad015a3bf4f1b2b0b822cd1",
                &[],
                crate::secrets::Purpose::Seals,
            ))
        };
        let one = Bus::redis(first, &["t".into()], seal(), stop.clone());
        let two = Bus::redis(second, &["t".into()], seal(), stop.clone());
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
        // And back, once node one's subscription is up too (it may come later than two's).
        let mut back = false;
        'publishing: for i in 0..100 {
            two.publish(Arc::from(format!("back-{i}"))).await;
            let until = tokio::time::Instant::now() + Duration::from_millis(100);
            while let Ok(Ok(text)) = tokio::time::timeout_at(until, on_one.recv()).await {
                if text.starts_with("back-") {
                    back = true;
                    break 'publishing;
                }
            }
        }
        assert!(back, "node one heard node two");
        // An event someone without the secret publishes straight on Redis is dropped.
        let forged: Arc<str> = Arc::from("{\"type\":\"jackpot_won\",\"amount\":\"1000000.00\"}");
        one.publish_on(EVENTS_CHANNEL, &[forged]).await.unwrap();
        two.publish(Arc::from("after")).await;
        loop {
            let got = next(&mut on_one).await;
            if got == "after" {
                break;
            }
            // Later "back-" messages may still be queued; nothing else may come.
            assert!(got.starts_with("back-"), "the forged event arrived: {got}");
        }
        // Other channels are kept apart, in order, several messages per round trip.
        let mut table_on_two = two.listen("t").unwrap();
        let batch: Vec<Arc<str>> = vec![Arc::from("a"), Arc::from("b")];
        one.publish_on("t", &batch).await.unwrap();
        assert_eq!(next(&mut table_on_two).await, "a");
        assert_eq!(next(&mut table_on_two).await, "b");
        assert!(two.listen("not-given").is_none());
        stop.cancel();
    }
}
