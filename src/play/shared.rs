//! The cluster's play bundle, kept in Redis: every node plays the bundle stored there, so one
//! reload reaches every node and a node that starts later plays the same version as the rest.
//!
//! The bundle (every play file, as [`Bundle`]) is stored sealed (`cluster::Seal`, the HMAC
//! of `auth.secret`) beside its version in one hash. A reload on any node checks the files,
//! applies them there, stores them and says so on the bus's play channel; every other node
//! reads the version on that signal and every [`POLL_EVERY`] (a signal lost while Redis was
//! away), and applies a bundle whose version is not its own. The first node of a deployment
//! stores its own files; a later node with other files plays the cluster's and says so in
//! its log (a reload from it puts its files in force everywhere).

use std::time::Duration;

use super::Bundle;
use crate::cluster::{ClusterError, RedisLink, Seal};

/// How often a node compares its version with the cluster's (besides the bus's signal).
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// The hash holding the bundle: fields `version` and `bundle` (sealed JSON).
const KEY: &str = "play";

/// Stores the bundle only where none is stored yet: `1` if stored, `0` if one was there.
const PUT_IF_ABSENT: &str = r"
if redis.call('HEXISTS', KEYS[1], 'version') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'bundle', ARGV[2])
return 1
";

/// The cluster's bundle in Redis, as one node reaches it.
#[derive(Clone)]
pub struct PlayStore {
    link: RedisLink,
    seal: Seal,
}

impl PlayStore {
    pub fn new(link: RedisLink, seal: Seal) -> PlayStore {
        PlayStore { link, seal }
    }

    /// The version the cluster plays, if a bundle is stored.
    pub async fn version(&self) -> Result<Option<String>, ClusterError> {
        let key = self.link.key(KEY);
        self.link
            .query("play_get", redis::cmd("HGET").arg(&key).arg("version"))
            .await
    }

    /// The bundle the cluster plays, if one is stored. One whose seal does not open (another
    /// `auth.secret`, or written by something else) is refused, never played.
    pub async fn bundle(&self) -> Result<Option<Bundle>, ClusterError> {
        let key = self.link.key(KEY);
        let sealed: Option<String> = self
            .link
            .query("play_get", redis::cmd("HGET").arg(&key).arg("bundle"))
            .await?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let corrupt = |message: String| ClusterError::Corrupt {
            key: key.clone(),
            message,
        };
        let body = self.seal.open_stored(&sealed).ok_or_else(|| {
            corrupt(
                "the play bundle's seal does not open (the same auth.secret on every node?)".into(),
            )
        })?;
        let bundle: Bundle = serde_json::from_str(body).map_err(|e| corrupt(e.to_string()))?;
        Ok(Some(bundle))
    }

    /// Stores `bundle` as the cluster's, replacing any other (a reload).
    pub async fn put(&self, bundle: &Bundle) -> Result<(), ClusterError> {
        let (key, sealed) = (self.link.key(KEY), self.sealed(bundle));
        let mut set = redis::cmd("HSET");
        set.arg(&key)
            .arg("version")
            .arg(bundle.version())
            .arg("bundle")
            .arg(sealed);
        self.link.query::<()>("play_put", &set).await
    }

    /// Stores `bundle` if the cluster has none yet (the first node of a deployment); whether
    /// it was stored.
    pub async fn put_if_absent(&self, bundle: &Bundle) -> Result<bool, ClusterError> {
        let script = redis::Script::new(PUT_IF_ABSENT);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.link.key(KEY))
            .arg(bundle.version())
            .arg(self.sealed(bundle));
        let stored: i64 = self.link.script("play_put", &invocation).await?;
        Ok(stored == 1)
    }

    fn sealed(&self, bundle: &Bundle) -> String {
        // A bundle is plain strings in a map: it always serialises.
        let json = serde_json::to_string(bundle).unwrap_or_default();
        self.seal.sign_stored(&json)
    }
}
