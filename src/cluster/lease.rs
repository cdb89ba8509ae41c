//! Table leases: which node runs each live table's rounds. A lease is `SET NX PX` on
//! `croupier:table:<id>:lease`, taken together with a fencing token (`INCR` on
//! `croupier:table:<id>:fence`) in one script, renewed by its holder every
//! [`LEASE_RENEW_EVERY`] and left to expire when the holder dies. The token is what protects
//! money: the new holder raises it in the ledger, which then refuses every table movement of
//! an older token (see `Ledger::raise_fence`), so a node paused past its lease cannot take or
//! pay a bet when it wakes up believing it still owns the table.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{ClusterError, RedisLink};

/// How often a holder renews its leases and other nodes look for free ones.
pub const LEASE_RENEW_EVERY: Duration = Duration::from_millis(1000);

/// Who holds a table's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node: String,
    pub token: i64,
}

enum Back {
    InProcess(Mutex<InProcess>),
    Redis(RedisLink),
}

#[derive(Default)]
struct InProcess {
    held: HashMap<String, (Holder, Instant)>,
    fences: HashMap<String, i64>,
}

pub struct Leases {
    back: Back,
    ttl: Duration,
}

fn lease_key(link: &RedisLink, table: &str) -> String {
    link.key(&format!("table:{table}:lease"))
}
fn fence_key(link: &RedisLink, table: &str) -> String {
    link.key(&format!("table:{table}:fence"))
}

const ACQUIRE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
  return token
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

fn value(node: &str, token: i64) -> String {
    format!("{node}|{token}")
}

impl Leases {
    pub fn in_process(ttl: Duration) -> Leases {
        Leases {
            back: Back::InProcess(Mutex::default()),
            ttl,
        }
    }

    pub fn redis(link: RedisLink, ttl: Duration) -> Leases {
        Leases {
            back: Back::Redis(link),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Takes the table's lease if nobody holds it: the new fencing token, or `None`.
    pub async fn acquire(&self, table: &str, node: &str) -> Result<Option<i64>, ClusterError> {
        match &self.back {
            Back::InProcess(state) => {
                let mut state = state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                if state.held.get(table).is_some_and(|(_, until)| *until > now) {
                    return Ok(None);
                }
                let token = {
                    let fence = state.fences.entry(table.to_string()).or_default();
                    *fence += 1;
                    *fence
                };
                let holder = Holder {
                    node: node.to_string(),
                    token,
                };
                state
                    .held
                    .insert(table.to_string(), (holder, now + self.ttl));
                Ok(Some(token))
            }
            Back::Redis(link) => {
                let script = redis::Script::new(ACQUIRE);
                let mut invocation = script.prepare_invoke();
                invocation
                    .key(lease_key(link, table))
                    .key(fence_key(link, table))
                    .arg(node)
                    .arg(self.ttl.as_millis() as u64);
                let token: i64 = link.script("lease_acquire", &invocation).await?;
                Ok((token > 0).then_some(token))
            }
        }
    }

    /// Extends the lease if `node` still holds it with `token`; `false` if it has lost it.
    pub async fn renew(&self, table: &str, node: &str, token: i64) -> Result<bool, ClusterError> {
        match &self.back {
            Back::InProcess(state) => {
                let mut state = state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                match state.held.get_mut(table) {
                    Some((holder, until))
                        if *until > now && holder.node == node && holder.token == token =>
                    {
                        *until = now + self.ttl;
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            }
            Back::Redis(link) => {
                let script = redis::Script::new(RENEW);
                let mut invocation = script.prepare_invoke();
                invocation
                    .key(lease_key(link, table))
                    .arg(value(node, token))
                    .arg(self.ttl.as_millis() as u64);
                let renewed: i64 = link.script("lease_renew", &invocation).await?;
                Ok(renewed == 1)
            }
        }
    }

    /// Gives the lease up (a clean stop), so another node takes the table at once.
    pub async fn release(&self, table: &str, node: &str, token: i64) -> Result<(), ClusterError> {
        match &self.back {
            Back::InProcess(state) => {
                let mut state = state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if state
                    .held
                    .get(table)
                    .is_some_and(|(h, _)| h.node == node && h.token == token)
                {
                    state.held.remove(table);
                }
                Ok(())
            }
            Back::Redis(link) => {
                let script = redis::Script::new(RELEASE);
                let mut invocation = script.prepare_invoke();
                invocation
                    .key(lease_key(link, table))
                    .arg(value(node, token));
                link.script::<i64>("lease_release", &invocation).await?;
                Ok(())
            }
        }
    }

    /// The table's holder now, if any.
    pub async fn holder(&self, table: &str) -> Result<Option<Holder>, ClusterError> {
        match &self.back {
            Back::InProcess(state) => {
                let state = state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Ok(state
                    .held
                    .get(table)
                    .filter(|(_, until)| *until > Instant::now())
                    .map(|(h, _)| h.clone()))
            }
            Back::Redis(link) => {
                let key = lease_key(link, table);
                let got: Option<String> =
                    link.query("lease_get", redis::cmd("GET").arg(&key)).await?;
                let Some(got) = got else { return Ok(None) };
                let parsed = got
                    .rsplit_once('|')
                    .and_then(|(node, token)| Some((node, token.parse::<i64>().ok()?)));
                match parsed {
                    Some((node, token)) => Ok(Some(Holder {
                        node: node.to_string(),
                        token,
                    })),
                    // Between the script's two SETs nobody can read (scripts are atomic).
                    None => Err(ClusterError::Corrupt {
                        key,
                        message: format!("lease value {got:?}"),
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The same cases on the in-process leases and on Redis (`CROUPIER_TEST_REDIS`).
    use super::*;

    async fn redis_leases(ttl: Duration) -> Option<Leases> {
        Some(Leases::redis(crate::cluster::test_redis().await?, ttl))
    }

    fn table() -> String {
        format!("t{}", uuid::Uuid::now_v7().simple())
    }

    async fn one_holder_and_tokens_only_grow(leases: &Leases) {
        let t = table();
        let first = leases.acquire(&t, "a").await.unwrap().expect("free lease");
        assert_eq!(leases.acquire(&t, "b").await.unwrap(), None, "held by a");
        assert_eq!(
            leases.holder(&t).await.unwrap(),
            Some(Holder {
                node: "a".into(),
                token: first
            })
        );
        assert!(leases.renew(&t, "a", first).await.unwrap());
        assert!(
            !leases.renew(&t, "b", first).await.unwrap(),
            "b does not hold it"
        );
        assert!(
            !leases.renew(&t, "a", first + 1).await.unwrap(),
            "wrong token"
        );
        leases.release(&t, "b", first).await.unwrap();
        assert!(
            leases.holder(&t).await.unwrap().is_some(),
            "only the holder releases"
        );
        leases.release(&t, "a", first).await.unwrap();
        assert_eq!(leases.holder(&t).await.unwrap(), None);
        let second = leases
            .acquire(&t, "b")
            .await
            .unwrap()
            .expect("released lease");
        assert!(second > first, "fencing tokens only grow");
    }

    async fn an_unrenewed_lease_expires_and_the_old_holder_cannot_renew(leases: &Leases) {
        let t = table();
        let first = leases.acquire(&t, "a").await.unwrap().unwrap();
        tokio::time::sleep(leases.ttl() + Duration::from_millis(100)).await;
        let second = leases
            .acquire(&t, "b")
            .await
            .unwrap()
            .expect("expired lease");
        assert!(second > first);
        assert!(!leases.renew(&t, "a", first).await.unwrap(), "a lost it");
        assert_eq!(leases.holder(&t).await.unwrap().unwrap().node, "b");
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
                        super::$case(&super::Leases::in_process($ttl)).await;
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
        one_holder_and_tokens_only_grow: super::HELD,
        an_unrenewed_lease_expires_and_the_old_holder_cannot_renew: super::SHORT
    );
}
