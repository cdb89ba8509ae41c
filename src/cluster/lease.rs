//! Table leases: which node runs each live table's rounds. A lease is `SET NX PX` on
//! `croupier:table:<id>:lease`, renewed by its holder every [`LEASE_RENEW_EVERY`] and left to
//! expire when the holder dies. Its value names the holder and the fencing token it runs the
//! table under: `<node>|<token>`.
//!
//! The token does not come from Redis. A node that takes a free lease holds it as
//! `<node>|0` ([`TAKING`]), raises the table's token in the ledger (`Ledger::next_fence`, the
//! system of record, where tokens only grow), then [`Leases::stamp`]s the lease with it. Redis
//! only says who *should* run the table; the ledger refuses every table movement of an older
//! token, so a node paused past its lease cannot take or pay a bet when it wakes up believing
//! it still owns the table — also after Redis lost every key (a restart without persistence,
//! a flush, a failover to a replica that missed the last writes), when two nodes may each
//! take a "free" lease: each gets its own token, and only the newer one moves money.
//!
//! Followers read the holder with its token: a new token means a new `LiveTable`, even on the
//! same node, with none of the old one's seats, so they seat their players again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{ClusterError, RedisLink};

/// How often a holder renews its leases and other nodes look for free ones.
pub const LEASE_RENEW_EVERY: Duration = Duration::from_millis(1000);

/// The token of a lease just taken, while its holder raises the real one in the ledger.
pub const TAKING: i64 = 0;

/// Who holds a table's lease, and under which fencing token ([`TAKING`] while it is being
/// taken over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node: String,
    pub token: i64,
}

/// Sets the lease to `ARGV[2]` (with a fresh expiry) if it is still `ARGV[1]`.
const SWAP: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0";

const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Where leases live: one implementation per back end, the same cases tested on both.
#[async_trait]
pub trait Leases: Send + Sync {
    /// How long a lease lasts unrenewed.
    fn ttl(&self) -> Duration;

    /// Takes the table's lease if nobody holds it, as `node` with the token [`TAKING`];
    /// `false` if someone does. The caller raises the token in the ledger, then
    /// [`stamp`](Leases::stamp)s it.
    async fn acquire(&self, table: &str, node: &str) -> Result<bool, ClusterError>;

    /// Writes the ledger's `token` into a lease `node` has just taken; `false` if the lease
    /// is no longer `node`'s (expired, or Redis lost it meanwhile): the caller must not run
    /// the table under it.
    async fn stamp(&self, table: &str, node: &str, token: i64) -> Result<bool, ClusterError>;

    /// Extends the lease if `node` still holds it with `token`; `false` if it has lost it.
    async fn renew(&self, table: &str, node: &str, token: i64) -> Result<bool, ClusterError>;

    /// Gives the lease up (a clean stop), so another node takes the table at once.
    async fn release(&self, table: &str, node: &str, token: i64) -> Result<(), ClusterError>;

    /// The table's holder now, if any.
    async fn holder(&self, table: &str) -> Result<Option<Holder>, ClusterError>;
}

/// Leases in this process's memory: the conformance cases' reference for [`RedisLeases`].
pub struct InProcessLeases {
    held: Mutex<HashMap<String, (Holder, Instant)>>,
    ttl: Duration,
}

impl InProcessLeases {
    pub fn new(ttl: Duration) -> InProcessLeases {
        InProcessLeases {
            held: Mutex::default(),
            ttl,
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Holder, Instant)>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The live lease of `table` if `node` holds it with `token`.
    fn live<'a>(
        held: &'a mut HashMap<String, (Holder, Instant)>,
        table: &str,
        node: &str,
        token: i64,
    ) -> Option<&'a mut (Holder, Instant)> {
        held.get_mut(table).filter(|(holder, until)| {
            *until > Instant::now() && holder.node == node && holder.token == token
        })
    }
}

#[async_trait]
impl Leases for InProcessLeases {
    fn ttl(&self) -> Duration {
        self.ttl
    }

    async fn acquire(&self, table: &str, node: &str) -> Result<bool, ClusterError> {
        let mut held = self.held();
        let now = Instant::now();
        if held.get(table).is_some_and(|(_, until)| *until > now) {
            return Ok(false);
        }
        let holder = Holder {
            node: node.to_string(),
            token: TAKING,
        };
        held.insert(table.to_string(), (holder, now + self.ttl));
        Ok(true)
    }

    async fn stamp(&self, table: &str, node: &str, token: i64) -> Result<bool, ClusterError> {
        let mut held = self.held();
        let Some((holder, until)) = Self::live(&mut held, table, node, TAKING) else {
            return Ok(false);
        };
        holder.token = token;
        *until = Instant::now() + self.ttl;
        Ok(true)
    }

    async fn renew(&self, table: &str, node: &str, token: i64) -> Result<bool, ClusterError> {
        let mut held = self.held();
        let Some((_, until)) = Self::live(&mut held, table, node, token) else {
            return Ok(false);
        };
        *until = Instant::now() + self.ttl;
        Ok(true)
    }

    async fn release(&self, table: &str, node: &str, token: i64) -> Result<(), ClusterError> {
        let mut held = self.held();
        if held
            .get(table)
            .is_some_and(|(h, _)| h.node == node && h.token == token)
        {
            held.remove(table);
        }
        Ok(())
    }

    async fn holder(&self, table: &str) -> Result<Option<Holder>, ClusterError> {
        Ok(self
            .held()
            .get(table)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(h, _)| h.clone()))
    }
}

/// Leases on the cluster's Redis: `SET NX PX`, then compare-and-set scripts.
pub struct RedisLeases {
    link: RedisLink,
    ttl: Duration,
}

fn value(node: &str, token: i64) -> String {
    format!("{node}|{token}")
}

impl RedisLeases {
    pub fn new(link: RedisLink, ttl: Duration) -> RedisLeases {
        RedisLeases { link, ttl }
    }

    fn key(&self, table: &str) -> String {
        self.link.key(&format!("table:{table}:lease"))
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs one of the compare-and-set scripts on the table's lease; its integer answer.
    async fn compare_and(
        &self,
        op: &'static str,
        script: &str,
        table: &str,
        args: &[String],
    ) -> Result<i64, ClusterError> {
        let script = redis::Script::new(script);
        let mut invocation = script.prepare_invoke();
        invocation.key(self.key(table));
        for arg in args {
            invocation.arg(arg);
        }
        self.link.script(op, &invocation).await
    }
}

#[async_trait]
impl Leases for RedisLeases {
    fn ttl(&self) -> Duration {
        self.ttl
    }

    async fn acquire(&self, table: &str, node: &str) -> Result<bool, ClusterError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(table))
            .arg(value(node, TAKING))
            .arg("NX")
            .arg("PX")
            .arg(self.ttl_ms());
        let set: Option<String> = self.link.query("lease_acquire", &cmd).await?;
        Ok(set.is_some())
    }

    async fn stamp(&self, table: &str, node: &str, token: i64) -> Result<bool, ClusterError> {
        let args = [
            value(node, TAKING),
            value(node, token),
            self.ttl_ms().to_string(),
        ];
        Ok(self.compare_and("lease_stamp", SWAP, table, &args).await? == 1)
    }

    async fn renew(&self, table: &str, node: &str, token: i64) -> Result<bool, ClusterError> {
        let args = [value(node, token), self.ttl_ms().to_string()];
        Ok(self.compare_and("lease_renew", RENEW, table, &args).await? == 1)
    }

    async fn release(&self, table: &str, node: &str, token: i64) -> Result<(), ClusterError> {
        let args = [value(node, token)];
        self.compare_and("lease_release", RELEASE, table, &args)
            .await?;
        Ok(())
    }

    async fn holder(&self, table: &str) -> Result<Option<Holder>, ClusterError> {
        let key = self.key(table);
        let got: Option<String> = self
            .link
            .query("lease_get", redis::cmd("GET").arg(&key))
            .await?;
        let Some(got) = got else { return Ok(None) };
        let parsed = got
            .rsplit_once('|')
            .and_then(|(node, token)| Some((node, token.parse::<i64>().ok()?)));
        match parsed {
            Some((node, token)) if token >= TAKING => Ok(Some(Holder {
                node: node.to_string(),
                token,
            })),
            _ => Err(ClusterError::Corrupt {
                key,
                message: format!("lease value {got:?}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The same cases on the in-process leases and on Redis (`CROUPIER_TEST_REDIS`).
    use super::*;

    async fn redis_leases(ttl: Duration) -> Option<RedisLeases> {
        Some(RedisLeases::new(crate::cluster::test_redis().await?, ttl))
    }

    fn table() -> String {
        format!("t{}", uuid::Uuid::now_v7().simple())
    }

    async fn one_holder_taken_then_stamped_with_its_token(leases: &dyn Leases) {
        let t = table();
        assert!(leases.acquire(&t, "a").await.unwrap(), "free lease");
        assert!(!leases.acquire(&t, "b").await.unwrap(), "held by a");
        assert_eq!(
            leases.holder(&t).await.unwrap(),
            Some(Holder {
                node: "a".into(),
                token: TAKING
            }),
            "taken, its token not raised yet"
        );
        assert!(
            !leases.stamp(&t, "b", 7).await.unwrap(),
            "b does not hold it"
        );
        assert!(leases.stamp(&t, "a", 7).await.unwrap());
        assert!(!leases.stamp(&t, "a", 8).await.unwrap(), "stamped once");
        assert_eq!(
            leases.holder(&t).await.unwrap(),
            Some(Holder {
                node: "a".into(),
                token: 7
            })
        );
        assert!(leases.renew(&t, "a", 7).await.unwrap());
        assert!(
            !leases.renew(&t, "b", 7).await.unwrap(),
            "b does not hold it"
        );
        assert!(!leases.renew(&t, "a", 8).await.unwrap(), "wrong token");
        leases.release(&t, "b", 7).await.unwrap();
        assert!(
            leases.holder(&t).await.unwrap().is_some(),
            "only the holder releases"
        );
        leases.release(&t, "a", 7).await.unwrap();
        assert_eq!(leases.holder(&t).await.unwrap(), None);
        assert!(leases.acquire(&t, "b").await.unwrap(), "released lease");
    }

    async fn an_unrenewed_lease_expires_and_the_old_holder_cannot_renew(leases: &dyn Leases) {
        let t = table();
        assert!(leases.acquire(&t, "a").await.unwrap());
        assert!(leases.stamp(&t, "a", 1).await.unwrap());
        tokio::time::sleep(leases.ttl() + Duration::from_millis(100)).await;
        assert!(leases.acquire(&t, "b").await.unwrap(), "expired lease");
        assert!(!leases.renew(&t, "a", 1).await.unwrap(), "a lost it");
        assert!(leases.stamp(&t, "b", 2).await.unwrap());
        assert_eq!(
            leases.holder(&t).await.unwrap(),
            Some(Holder {
                node: "b".into(),
                token: 2
            })
        );
    }

    async fn a_lease_that_expires_while_being_taken_cannot_be_stamped(leases: &dyn Leases) {
        let t = table();
        assert!(leases.acquire(&t, "a").await.unwrap());
        tokio::time::sleep(leases.ttl() + Duration::from_millis(100)).await;
        assert!(leases.acquire(&t, "b").await.unwrap());
        assert!(
            !leases.stamp(&t, "a", 1).await.unwrap(),
            "a's raise came too late: b holds the lease"
        );
        assert!(leases.stamp(&t, "b", 2).await.unwrap());
    }

    /// A lease the case expects to keep: far longer than any stall of a busy test machine.
    const HELD: Duration = Duration::from_secs(10);
    /// A lease the case lets expire (it sleeps past it).
    const SHORT: Duration = Duration::from_millis(300);

    macro_rules! both {
        ($($case:ident: $ttl:expr),*) => {
            mod in_process {
                $(
                    #[tokio::test]
                    async fn $case() {
                        super::$case(&super::InProcessLeases::new($ttl)).await;
                    }
                )*
            }
            mod on_redis {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        if let Some(l) = super::redis_leases($ttl).await {
                            super::$case(&l).await;
                        }
                    }
                )*
            }
        };
    }

    both!(
        one_holder_taken_then_stamped_with_its_token: super::HELD,
        an_unrenewed_lease_expires_and_the_old_holder_cannot_renew: super::SHORT,
        a_lease_that_expires_while_being_taken_cannot_be_stamped: super::SHORT
    );
}
