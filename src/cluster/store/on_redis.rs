//! [`RedisState`]: the shared state of a cluster, on Redis (keys and layout in the parent
//! module's map). Replies are written behind the reply by a batching task; everything else is
//! one command or one pipeline per call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{
    NodeInfo, SessionRecord, SharedState, PRESENCE_BATCH, REPLIES_PER_PLAYER, REPLY_LOG_BATCH,
    REPLY_LOG_QUEUE, REPLY_LOG_TTL,
};
use crate::clock::now_ms;
use crate::cluster::{ClusterError, RedisLink};
use crate::ids::{PlayerId, ReqId};
use croupier_core::jurisdiction::Paced;

struct ReplyWrite {
    player: PlayerId,
    member: String,
}

/// The store on Redis.
pub struct RedisState {
    link: RedisLink,
    replies: mpsc::Sender<ReplyWrite>,
}

impl RedisState {
    /// Starts the reply-log writer (it ends when the store is dropped).
    pub fn new(link: RedisLink) -> RedisState {
        let (replies, queue) = mpsc::channel(REPLY_LOG_QUEUE);
        tokio::spawn(write_replies(link.clone(), queue));
        RedisState { link, replies }
    }
}

fn session_key(link: &RedisLink, sid: &str) -> String {
    link.key(&format!("session:{sid}"))
}
fn player_sessions_key(link: &RedisLink, player: &PlayerId) -> String {
    link.key(&format!("player-sessions:{player}"))
}
fn ticket_key(link: &RedisLink, ticket: &str) -> String {
    link.key(&format!("ticket:{ticket}"))
}
fn revoked_key(link: &RedisLink, sid: &str) -> String {
    link.key(&format!("revoked:{sid}"))
}
fn replies_key(link: &RedisLink, player: &PlayerId) -> String {
    link.key(&format!("replies:{player}"))
}
fn node_key(link: &RedisLink, node: &str) -> String {
    link.key(&format!("node:{node}"))
}
fn round_start_key(link: &RedisLink, player: &PlayerId) -> String {
    link.key(&format!("round-start:{player}"))
}
/// Claims a round start: set for the interval unless set; -1 if claimed, else the ms left.
const CLAIM_ROUND_START: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return -1 end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then return 1 end
return left
"#;
/// Deletes a claim only if it is still this token's.
const RELEASE_ROUND_START: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;
fn presence_key(link: &RedisLink, player: &PlayerId) -> String {
    link.key(&format!("presence:{player}"))
}
fn nodes_key(link: &RedisLink) -> String {
    link.key("nodes")
}

fn member(req_id: &ReqId, reply: &str) -> String {
    format!("{req_id}\n{reply}")
}

fn parse_member(member: &str) -> Option<(String, Arc<str>)> {
    let (req_id, reply) = member.split_once('\n')?;
    Some((req_id.to_string(), Arc::from(reply)))
}

#[async_trait]
impl SharedState for RedisState {
    fn is_shared(&self) -> bool {
        true
    }

    async fn open_session(&self, record: &SessionRecord) -> Result<(), ClusterError> {
        let key = session_key(&self.link, &record.session_id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("player", record.player.as_str()),
                    ("currency", record.currency.as_str()),
                    ("opened_at_ms", &record.opened_at_ms.to_string()),
                    ("expires_at", &record.expires_at.to_string()),
                    ("profile", record.profile.as_str()),
                    ("age_band", age_band_text(record.age_band)),
                ],
            )
            .ignore()
            .cmd("EXPIREAT")
            .arg(&key)
            .arg(record.expires_at)
            .ignore();
        // Every token has the same lifetime: the newest session expires last.
        let index = player_sessions_key(&self.link, &record.player);
        pipe.cmd("SADD")
            .arg(&index)
            .arg(&record.session_id)
            .ignore()
            .cmd("EXPIREAT")
            .arg(&index)
            .arg(record.expires_at)
            .ignore();
        self.link.pipeline("session_open", &pipe).await
    }

    async fn revoke_session(&self, sid: &str) -> Result<Option<SessionRecord>, ClusterError> {
        let record = self.session(sid).await?;
        // Unknown or expired: still marked, for as long as any token could live.
        let until = record.as_ref().map_or(
            crate::clock::unix_now() + crate::cluster::store::MAX_TOKEN_SECONDS,
            |r| r.expires_at,
        );
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(revoked_key(&self.link, sid))
            .arg(1)
            .arg("EXAT")
            .arg(until.max(crate::clock::unix_now() + 1))
            .ignore()
            .cmd("DEL")
            .arg(session_key(&self.link, sid))
            .ignore();
        if let Some(r) = &record {
            pipe.cmd("SREM")
                .arg(player_sessions_key(&self.link, &r.player))
                .arg(sid)
                .ignore();
        }
        self.link.pipeline::<()>("session_revoke", &pipe).await?;
        Ok(record)
    }

    async fn player_sessions(&self, player: &PlayerId) -> Result<Vec<String>, ClusterError> {
        let sids: Vec<String> = self
            .link
            .query(
                "player_sessions",
                redis::cmd("SMEMBERS").arg(player_sessions_key(&self.link, player)),
            )
            .await?;
        let mut live = Vec::with_capacity(sids.len());
        for sid in sids {
            if self.session(&sid).await?.is_some() {
                live.push(sid);
            }
        }
        Ok(live)
    }

    async fn put_ticket(
        &self,
        ticket: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<(), ClusterError> {
        self.link
            .query(
                "ticket_put",
                redis::cmd("SET")
                    .arg(ticket_key(&self.link, ticket))
                    .arg(token)
                    .arg("PX")
                    .arg(ttl.as_millis() as u64)
                    .arg("NX"),
            )
            .await
            .map(|_: Option<String>| ())
    }

    async fn take_ticket(&self, ticket: &str) -> Result<Option<String>, ClusterError> {
        self.link
            .query(
                "ticket_take",
                redis::cmd("GETDEL").arg(ticket_key(&self.link, ticket)),
            )
            .await
    }

    async fn revoked(&self, sids: &[Arc<str>]) -> Result<Vec<Arc<str>>, ClusterError> {
        let mut revoked = Vec::new();
        for chunk in sids.chunks(crate::cluster::store::REVOKED_BATCH) {
            let mut pipe = redis::pipe();
            for sid in chunk {
                pipe.cmd("EXISTS").arg(revoked_key(&self.link, sid));
            }
            let found: Vec<bool> = self.link.pipeline("session_revoked", &pipe).await?;
            revoked.extend(
                chunk
                    .iter()
                    .zip(found)
                    .filter(|(_, gone)| *gone)
                    .map(|(sid, _)| sid.clone()),
            );
        }
        Ok(revoked)
    }

    async fn session(&self, sid: &str) -> Result<Option<SessionRecord>, ClusterError> {
        let now = crate::clock::unix_now();
        let key = session_key(&self.link, sid);
        let fields: HashMap<String, String> = self
            .link
            .query("session_get", redis::cmd("HGETALL").arg(&key))
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let corrupt = |message: String| ClusterError::Corrupt {
            key: key.clone(),
            message,
        };
        let field = |name: &str| {
            fields
                .get(name)
                .cloned()
                .ok_or_else(|| corrupt(format!("no field {name}")))
        };
        let number = |name: &str| -> Result<i64, ClusterError> {
            field(name)?
                .parse()
                .map_err(|_| corrupt(format!("{name} is not a number")))
        };
        Ok(Some(SessionRecord {
            session_id: sid.to_string(),
            player: PlayerId::parse(&field("player")?).map_err(|e| corrupt(e.to_string()))?,
            currency: field("currency")?,
            opened_at_ms: number("opened_at_ms")?,
            expires_at: number("expires_at")?.max(0) as u64,
            // Records written before jurisdictions have neither: the default profile.
            profile: fields
                .get("profile")
                .cloned()
                .unwrap_or_else(|| croupier_core::jurisdiction::DEFAULT_PROFILE.to_string()),
            age_band: match fields.get("age_band").map(String::as_str) {
                None | Some("") => None,
                Some(text) => Some(
                    croupier_core::jurisdiction::AgeBand::parse(text)
                        .ok_or_else(|| corrupt(format!("age_band {text:?}")))?,
                ),
            },
        })
        .filter(|s| s.expires_at > now))
    }

    fn record_reply(&self, player: &PlayerId, req_id: &ReqId, reply: &str) -> bool {
        self.replies
            .try_send(ReplyWrite {
                player: player.clone(),
                member: member(req_id, reply),
            })
            .is_ok()
    }

    async fn recent_replies(
        &self,
        player: &PlayerId,
    ) -> Result<Vec<(String, Arc<str>)>, ClusterError> {
        let members: Vec<String> = self
            .link
            .query(
                "replies_get",
                redis::cmd("ZRANGE")
                    .arg(replies_key(&self.link, player))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        Ok(members.iter().filter_map(|m| parse_member(m)).collect())
    }

    async fn heartbeat(
        &self,
        info: &NodeInfo,
        players: &[PlayerId],
        ttl: Duration,
    ) -> Result<(), ClusterError> {
        let now = now_ms();
        let expires = now + ttl.as_millis() as i64;
        let json = serde_json::to_string(info).map_err(|e| ClusterError::Corrupt {
            key: node_key(&self.link, &info.node),
            message: e.to_string(),
        })?;
        let px = ttl.as_millis() as u64;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(node_key(&self.link, &info.node))
            .arg(json)
            .arg("PX")
            .arg(px)
            .ignore()
            .cmd("ZADD")
            .arg(nodes_key(&self.link))
            .arg(expires)
            .arg(&info.node)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(nodes_key(&self.link))
            .arg("-inf")
            .arg(now)
            .ignore();
        self.link.pipeline::<()>("heartbeat", &pipe).await?;
        for chunk in players.chunks(PRESENCE_BATCH) {
            let mut pipe = redis::pipe();
            for p in chunk {
                pipe.cmd("SET")
                    .arg(presence_key(&self.link, p))
                    .arg(&info.node)
                    .arg("PX")
                    .arg(px)
                    .ignore();
            }
            self.link.pipeline::<()>("presence", &pipe).await?;
        }
        Ok(())
    }

    async fn presence(&self, player: &PlayerId) -> Result<Option<String>, ClusterError> {
        self.link
            .query(
                "presence_get",
                redis::cmd("GET").arg(presence_key(&self.link, player)),
            )
            .await
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        let now = now_ms();
        let names: Vec<String> = self
            .link
            .query(
                "nodes_get",
                redis::cmd("ZRANGEBYSCORE")
                    .arg(nodes_key(&self.link))
                    .arg(now)
                    .arg("+inf"),
            )
            .await?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = names.iter().map(|n| node_key(&self.link, n)).collect();
        let infos: Vec<Option<String>> = self
            .link
            .query("nodes_get", redis::cmd("MGET").arg(&keys))
            .await?;
        let mut live: Vec<NodeInfo> = infos
            .into_iter()
            .flatten()
            .filter_map(|json| serde_json::from_str(&json).ok())
            .collect();
        live.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(live)
    }

    async fn forget_node(&self, node: &str) -> Result<(), ClusterError> {
        let mut pipe = redis::pipe();
        pipe.cmd("ZREM")
            .arg(nodes_key(&self.link))
            .arg(node)
            .ignore();
        pipe.cmd("DEL").arg(node_key(&self.link, node)).ignore();
        self.link.pipeline("heartbeat", &pipe).await
    }

    async fn claim_round_start(
        &self,
        player: &PlayerId,
        interval_ms: u64,
        token: &str,
    ) -> Result<Paced, ClusterError> {
        if interval_ms == 0 {
            return Ok(Paced::Go);
        }
        let script = redis::Script::new(CLAIM_ROUND_START);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(round_start_key(&self.link, player))
            .arg(token)
            .arg(interval_ms);
        let left: i64 = self.link.script("round_start", &invocation).await?;
        Ok(if left < 0 {
            Paced::Go
        } else {
            Paced::Wait {
                retry_after_ms: left.max(1) as u64,
            }
        })
    }

    async fn release_round_start(
        &self,
        player: &PlayerId,
        token: &str,
    ) -> Result<(), ClusterError> {
        let script = redis::Script::new(RELEASE_ROUND_START);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(round_start_key(&self.link, player))
            .arg(token);
        let _: i64 = self.link.script("round_start", &invocation).await?;
        Ok(())
    }
}

/// A reply's score in its log: time in ms × 1000 (exact in a double), and always above the
/// previous score, so replies written in the same millisecond (in one batch or two) keep their
/// order and trimming drops the oldest.
fn reply_score(now_ms: i64, last: i64) -> i64 {
    (now_ms * 1000).max(last + 1)
}

/// The reply-log writer: waits for one reply, takes whatever else is queued (up to a batch),
/// and writes them all in one pipeline. A failed batch is dropped and counted.
async fn write_replies(link: RedisLink, mut queue: mpsc::Receiver<ReplyWrite>) {
    let keep = -(REPLIES_PER_PLAYER as i64) - 1;
    let ttl = REPLY_LOG_TTL.as_millis() as u64;
    let mut failing = false;
    let mut last_score = 0i64;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < REPLY_LOG_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        for write in &batch {
            last_score = reply_score(now_ms(), last_score);
            let key = replies_key(&link, &write.player);
            pipe.cmd("ZADD")
                .arg(&key)
                .arg(last_score)
                .arg(&write.member)
                .ignore();
            pipe.cmd("ZREMRANGEBYRANK")
                .arg(&key)
                .arg(0)
                .arg(keep)
                .ignore();
            pipe.cmd("PEXPIRE").arg(&key).arg(ttl).ignore();
        }
        match link.pipeline::<()>("reply_log", &pipe).await {
            Ok(()) => failing = false,
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, replies = batch.len(), "reply log: batches not written until redis is back; the ledger answers those resends");
                }
                failing = true;
            }
        }
    }
}

/// An age band as a hash field ("" for none).
fn age_band_text(band: Option<croupier_core::jurisdiction::AgeBand>) -> &'static str {
    match band {
        None => "",
        Some(croupier_core::jurisdiction::AgeBand::From18To24) => "18-24",
        Some(croupier_core::jurisdiction::AgeBand::From25) => "25+",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_scores_only_grow_even_within_one_millisecond() {
        let first = reply_score(1_000, 0);
        let same_ms = reply_score(1_000, first);
        let next_batch_same_ms = reply_score(1_000, same_ms);
        assert!(first < same_ms && same_ms < next_batch_same_ms);
        assert_eq!(
            reply_score(2_000, next_batch_same_ms),
            2_000_000,
            "time moves on"
        );
        assert!(
            reply_score(999, 2_000_000) > 2_000_000,
            "a clock step back changes no order"
        );
    }
}
