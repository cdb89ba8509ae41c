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

pub use bus::{Bus, EVENTS_CHANNEL};
pub use heartbeat::start_heartbeat;
pub use lease::{InProcessLeases, Leases, RedisLeases, LEASE_RENEW_EVERY};
pub use store::{InProcessState, NodeInfo, RedisState, SessionRecord, SharedState};

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
/// HMAC-SHA256 under `auth.secret`, which every node of a deployment shares: a Redis client
/// without the secret can neither place a bet in a player's name nor show players a result
/// that the table did not draw.
#[derive(Clone)]
pub struct Seal {
    key: hmac::Hmac<sha2::Sha256>,
}

/// Hex digits of a seal (HMAC-SHA256).
const SEAL_HEX: usize = 64;

impl Seal {
    pub fn new(secret: &str) -> Seal {
        use hmac::Mac;
        let key = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        Seal { key }
    }

    /// `<seal>\t<body>`.
    pub fn seal(&self, body: &str) -> String {
        use hmac::Mac;
        let mut mac = self.key.clone();
        mac.update(body.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = String::with_capacity(SEAL_HEX + 1 + body.len());
        for byte in tag {
            out.push_str(&format!("{byte:02x}"));
        }
        out.push('\t');
        out.push_str(body);
        out
    }

    /// The body of a sealed message, if the seal is right (checked in constant time).
    pub fn open<'a>(&self, text: &'a str) -> Option<&'a str> {
        use hmac::Mac;
        let (tag, body) = text.split_once('\t')?;
        if tag.len() != SEAL_HEX {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..SEAL_HEX)
            .step_by(2)
            .map(|i| u8::from_str_radix(tag.get(i..i + 2)?, 16).ok())
            .collect();
        let mut mac = self.key.clone();
        mac.update(body.as_bytes());
        mac.verify_slice(&bytes?).ok()?;
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
    use super::Seal;

    #[test]
    fn only_a_node_with_the_secret_can_seal_a_message() {
        let seal = Seal::new("the deployment's secret");
        let sealed = seal.seal("{\"op\":\"bet\"}\tand a tab");
        assert_eq!(seal.open(&sealed), Some("{\"op\":\"bet\"}\tand a tab"));
        let tampered = sealed.replace("bet", "win");
        assert_eq!(seal.open(&tampered), None, "a changed body");
        assert_eq!(
            Seal::new("another secret").open(&sealed),
            None,
            "another key"
        );
        for junk in [
            "",
            "no tab",
            "\t",
            "zz\tbody",
            &format!("{}\tbody", "g".repeat(64)),
        ] {
            assert_eq!(seal.open(junk), None, "{junk:?}");
        }
    }
}
