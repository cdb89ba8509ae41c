//! What the nodes of a cluster share besides the ledger, behind one face with two back ends:
//! in process (one node, nothing installed) and Redis (`cluster.redis_url`). Money never lives
//! here: Redis replication is asynchronous, so everything in it may be lost and rebuilt.
//!
//! | piece | owns | in Redis |
//! |---|---|---|
//! | [`bus`] | pub/sub: jackpot wins, live-table events and asks between nodes | `PUBLISH` / `SUBSCRIBE` |
//! | [`store`] | sessions, the `req_id` reply log, presence and the node registry | hashes, sorted sets, keys with TTL |
//! | `heartbeat` | writes this node's [`NodeInfo`] and its players' presence every 2 s | through [`store`] |
//! | [`lease`] | which node runs each live table, with the fencing token it raised in the ledger | `SET NX PX`, stamped, renewed |
//!
//! Every Redis command goes through [`RedisLink`]: one multiplexed connection manager per node
//! (it reconnects by itself), a timeout on each command, and latency and error metrics.

pub mod bus;
mod heartbeat;
pub mod lease;
pub mod store;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use bus::{Bus, EVENTS_CHANNEL, PLAY_CHANNEL, SESSIONS_CHANNEL};
pub use heartbeat::start_heartbeat;
pub use lease::{InProcessLeases, Leases, RedisLeases, LEASE_RENEW_EVERY};
pub use store::{
    InProcessState, NodeInfo, RedisState, SessionRecord, SharedState, MAX_TOKEN_SECONDS,
};

use crate::metrics::Metrics;

/// Longest one Redis command (or pipeline) may take before it counts as failed: a node that
/// lost Redis answers `service_unavailable` quickly instead of hanging its callers.
pub const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a (re)connection attempt to Redis may take.
const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("unexpected data in redis at {key}: {message}")]
    Corrupt { key: String, message: String },
}

impl ClusterError {
    /// The client's error code: whatever went wrong with Redis, the shared state is away.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        crate::protocol::ErrorCode::ServiceUnavailable
    }
}

/// A node's way to Redis. Cloning shares the connection.
#[derive(Clone)]
pub struct RedisLink {
    client: redis::Client,
    manager: redis::aio::ConnectionManager,
    metrics: Arc<Metrics>,
    /// Prefix of every key and channel (`cluster.namespace`): deployments sharing one Redis
    /// never see each other's data.
    namespace: Arc<str>,
}

impl RedisLink {
    pub async fn connect(
        url: &str,
        namespace: &str,
        metrics: Arc<Metrics>,
    ) -> Result<RedisLink, ClusterError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_CONNECT_TIMEOUT)
            .set_response_timeout(REDIS_COMMAND_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(1000);
        let manager = tokio::time::timeout(
            REDIS_CONNECT_TIMEOUT * 2,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| ClusterError::Timeout(REDIS_CONNECT_TIMEOUT * 2))??;
        Ok(RedisLink {
            client,
            manager,
            metrics,
            namespace: Arc::from(namespace),
        })
    }

    /// `<namespace>:<name>`: the Redis name of a key or channel.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.namespace)
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Runs one command; `op` names it in the metrics (a fixed word, never a key).
    pub async fn query<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, ClusterError> {
        let mut conn = self.manager.clone();
        self.observe(op, cmd.query_async(&mut conn)).await
    }

    /// Runs a pipeline in one round trip.
    pub async fn pipeline<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        pipe: &redis::Pipeline,
    ) -> Result<T, ClusterError> {
        let mut conn = self.manager.clone();
        self.observe(op, pipe.query_async(&mut conn)).await
    }

    /// Runs a Lua script (atomic on the server).
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, ClusterError> {
        let mut conn = self.manager.clone();
        self.observe(op, invocation.invoke_async(&mut conn)).await
    }

    async fn observe<T>(
        &self,
        op: &'static str,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, ClusterError> {
        let started = Instant::now();
        let result = match tokio::time::timeout(REDIS_COMMAND_TIMEOUT, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(ClusterError::Redis(e)),
            Err(_) => Err(ClusterError::Timeout(REDIS_COMMAND_TIMEOUT)),
        };
        self.metrics
            .cluster
            .redis_command_seconds
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.metrics
                .cluster
                .redis_errors
                .with_label_values(&[op])
                .inc();
        }
        result
    }
}

/// Signs and checks what nodes tell each other over Redis (asks, answers, table events) with
/// HMAC-SHA256 under the seal key derived from `auth.secret` (never the token key), which every
/// node of a deployment shares: a Redis client without the secret can neither place a bet in a
/// player's name nor show players a result that the table did not draw. Each seal carries its
/// key id (a rotation accepts the previous secrets' keys), the time it was made and a nonce: a
/// message older than [`SEAL_MAX_AGE`], or one this node has already opened, is refused, so a
/// captured message cannot be replayed.
#[derive(Clone)]
pub struct Seal {
    ring: Arc<crate::secrets::KeyRing>,
    /// This seal's nonce prefix (random per process) and counter: nonces never repeat.
    prefix: Arc<str>,
    counter: Arc<std::sync::atomic::AtomicU64>,
    /// Nonces opened within the last [`SEAL_MAX_AGE`], bounded by [`SEEN_NONCES`].
    seen: moka::sync::Cache<Box<str>, ()>,
}

/// Hex digits of a seal (HMAC-SHA256).
const SEAL_HEX: usize = 64;
/// The word in a stored value's seal where a message's has its time ([`Seal::sign_stored`]).
const STORED: &str = "stored";
/// How old a sealed message may be when it is opened: pub/sub delivers in milliseconds; the
/// rest is clock skew between nodes.
pub const SEAL_MAX_AGE: Duration = Duration::from_secs(30);
/// Nonces remembered for replay checks (about 80 bytes each): a cluster's table traffic over
/// [`SEAL_MAX_AGE`] with room to spare. Past it the oldest are forgotten early.
pub const SEEN_NONCES: u64 = 1_000_000;

impl Seal {
    pub fn new(ring: crate::secrets::KeyRing) -> Seal {
        let prefix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        Seal {
            ring: Arc::new(ring),
            prefix: Arc::from(prefix),
            counter: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            seen: moka::sync::Cache::builder()
                .max_capacity(SEEN_NONCES)
                .time_to_live(SEAL_MAX_AGE * 2)
                .build(),
        }
    }

    fn tag(key: &crate::secrets::DerivedKey, head: &str, body: &str) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.bytes())
            .expect("HMAC takes keys of any length");
        mac.update(head.as_bytes());
        mac.update(b"\t");
        mac.update(body.as_bytes());
        mac
    }

    /// `<key id>\t<unix ms>\t<nonce>\t<seal>\t<body>`.
    pub fn seal(&self, body: &str) -> String {
        self.seal_at(body, crate::clock::now_ms())
    }

    fn seal_at(&self, body: &str, now_ms: i64) -> String {
        use hmac::Mac;
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = &self.ring.current;
        let head = format!("{}\t{now_ms}\t{}{n:x}", key.id(), self.prefix);
        let tag = Self::tag(key, &head, body).finalize().into_bytes();
        let mut out = String::with_capacity(head.len() + SEAL_HEX + 2 + body.len());
        out.push_str(&head);
        out.push('\t');
        out.push_str(&hex::encode(tag));
        out.push('\t');
        out.push_str(body);
        out
    }

    /// A value stored in Redis and read many times (the play bundle): `<key id>\tstored\t
    /// <seal>\t<body>`, with no age or nonce. The word `stored` keeps it from ever opening as
    /// a message, and a message from ever passing as a stored value.
    pub fn sign_stored(&self, body: &str) -> String {
        use hmac::Mac;
        let key = &self.ring.current;
        let head = format!("{}\t{STORED}", key.id());
        let tag = Self::tag(key, &head, body).finalize().into_bytes();
        format!("{head}\t{}\t{body}", hex::encode(tag))
    }

    /// The body of a value [`Seal::sign_stored`] made, if its seal is right (checked in
    /// constant time) under this deployment's keys.
    pub fn open_stored<'a>(&self, text: &'a str) -> Option<&'a str> {
        use hmac::Mac;
        let mut parts = text.splitn(4, '\t');
        let (kid, word, tag, body) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if word != STORED || tag.len() != SEAL_HEX {
            return None;
        }
        let key = self.ring.find(kid)?;
        let head = &text[..kid.len() + word.len() + 1];
        let bytes = hex::decode(tag).ok()?;
        Self::tag(key, head, body).verify_slice(&bytes).ok()?;
        Some(body)
    }

    /// The body of a sealed message, if the seal is right (checked in constant time), fresh,
    /// and not opened before on this node.
    pub fn open<'a>(&self, text: &'a str) -> Option<&'a str> {
        self.open_at(text, crate::clock::now_ms())
    }

    fn open_at<'a>(&self, text: &'a str, now_ms: i64) -> Option<&'a str> {
        use hmac::Mac;
        let mut parts = text.splitn(5, '\t');
        let (kid, at, nonce, tag, body) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if tag.len() != SEAL_HEX {
            return None;
        }
        let key = self.ring.find(kid)?;
        let head = &text[..kid.len() + at.len() + nonce.len() + 2];
        let bytes = hex::decode(tag).ok()?;
        Self::tag(key, head, body).verify_slice(&bytes).ok()?;
        let at: i64 = at.parse().ok()?;
        if (now_ms - at).unsigned_abs() > SEAL_MAX_AGE.as_millis() as u64 {
            return None;
        }
        let nonce: Box<str> = Box::from(nonce);
        if self.seen.contains_key(&nonce) {
            return None;
        }
        self.seen.insert(nonce, ());
        Some(body)
    }
}

/// The test script's Redis (`CROUPIER_TEST_REDIS`), or `None` with a note when it is not set;
/// under the test script (`CROUPIER_REQUIRE_SERVICES=1`) a missing Redis fails.
#[cfg(test)]
pub(crate) async fn test_redis() -> Option<RedisLink> {
    let Ok(url) = std::env::var("CROUPIER_TEST_REDIS") else {
        assert!(
            std::env::var_os("CROUPIER_REQUIRE_SERVICES").is_none(),
            "CROUPIER_TEST_REDIS is not set: run the suite with scripts/test.sh"
        );
        eprintln!("skipped on Redis: CROUPIER_TEST_REDIS is not set (scripts/test.sh sets it)");
        return None;
    };
    let metrics = Arc::new(Metrics::new());
    Some(
        RedisLink::connect(&url, "croupier-test", metrics)
            .await
            .expect("the test Redis answers"),
    )
}

/// A node's name in the cluster: `cluster.node_id`, or generated at start.
pub fn node_id(configured: &str) -> Arc<str> {
    if configured.is_empty() {
        let host = std::env::var("HOSTNAME").unwrap_or_default();
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let host: String = host
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(32)
            .collect();
        if host.is_empty() {
            Arc::from(format!("node-{suffix}"))
        } else {
            Arc::from(format!("{host}-{suffix}"))
        }
    } else {
        Arc::from(configured)
    }
}

#[cfg(test)]
mod seal_tests {
    use super::{Seal, SEAL_MAX_AGE};
    use crate::secrets::{KeyRing, Purpose};

    const SECRET: &str = "the-deployment-secret-5ad015a3bf4f1b2b0b8";

    fn seal(secret: &str, previous: &[String]) -> Seal {
        Seal::new(KeyRing::new(secret, previous, Purpose::Seals))
    }

    #[test]
    fn only_a_node_with_the_secret_can_seal_a_message() {
        let one = seal(SECRET, &[]);
        let two = seal(SECRET, &[]);
        let sealed = one.seal("{\"op\":\"bet\"}\tand a tab");
        assert_eq!(two.open(&sealed), Some("{\"op\":\"bet\"}\tand a tab"));
        let tampered = one.seal("{\"op\":\"bet\"}").replace("bet", "win");
        assert_eq!(two.open(&tampered), None, "a changed body");
        let other = seal("another-secret-5ad015a3bf4f1b2b0b822cd1", &[]);
        assert_eq!(other.open(&one.seal("x")), None, "another key");
        // A seal under the token key (same secret, other purpose) is no seal.
        let tokens = Seal::new(KeyRing::new(SECRET, &[], Purpose::Tokens));
        assert_eq!(two.open(&tokens.seal("x")), None, "the token key");
        for junk in [
            "",
            "no tab",
            "\t",
            "zz\tbody",
            "a\tb\tc\td\te",
            &format!("{}\tbody", "g".repeat(64)),
        ] {
            assert_eq!(two.open(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn a_captured_message_cannot_be_replayed() {
        let one = seal(SECRET, &[]);
        let two = seal(SECRET, &[]);
        let sealed = one.seal("bet 10");
        assert_eq!(two.open(&sealed), Some("bet 10"));
        assert_eq!(two.open(&sealed), None, "opened once only");
        let now = crate::clock::now_ms();
        let old = one.seal_at("bet 10", now - SEAL_MAX_AGE.as_millis() as i64 - 1_000);
        assert_eq!(two.open(&old), None, "too old");
        let future = one.seal_at("bet 10", now + SEAL_MAX_AGE.as_millis() as i64 + 1_000);
        assert_eq!(two.open(&future), None, "from the future");
        // Every seal has its own nonce: the same body sealed twice opens twice.
        assert_eq!(two.open(&one.seal("bet 10")), Some("bet 10"));
        assert_eq!(two.open(&one.seal("bet 10")), Some("bet 10"));
    }

    #[test]
    fn a_stored_value_opens_every_time_and_never_as_a_message() {
        let one = seal(SECRET, &[]);
        let two = seal(SECRET, &[]);
        let stored = one.sign_stored("{\"files\":{}}\twith a tab");
        for _ in 0..3 {
            assert_eq!(two.open_stored(&stored), Some("{\"files\":{}}\twith a tab"));
        }
        assert_eq!(two.open(&stored), None, "a stored value is no message");
        assert_eq!(
            two.open_stored(&one.seal("x")),
            None,
            "a message is no stored value"
        );
        let tampered = stored.replace("files", "filez");
        assert_eq!(two.open_stored(&tampered), None, "a changed body");
        let other = seal("another-secret-5ad015a3bf4f1b2b0b822cd1", &[]);
        assert_eq!(other.open_stored(&stored), None, "another key");
        for junk in ["", "a\tstored", "a\tstored\tzz\tbody"] {
            assert_eq!(two.open_stored(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn seals_of_the_previous_secret_open_during_a_rotation() {
        let old = seal(SECRET, &[]);
        let new = seal("the-new-secret-5ad015a3bf4f1b2b0b822cd1", &[SECRET.into()]);
        assert_eq!(new.open(&old.seal("x")), Some("x"));
        assert_eq!(
            old.open(&new.seal("y")),
            None,
            "the old node lacks the new key"
        );
    }
}
