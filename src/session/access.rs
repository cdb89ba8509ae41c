//! Who may be connected, and for how long. A token alone opens nothing: the WebSocket upgrade
//! also needs the session record it names (same player, same currency), so a session an
//! operator ended, or one this deployment never opened, is refused. While connected, each
//! node's watcher closes a connection whose session is revoked (at once, from the sessions
//! channel of the bus; and every [`RECHECK_EVERY`] from the revocation markers, in case that
//! message was missed) or whose token has expired.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth::{AuthError, Claims};
use crate::cluster::{ClusterError, SessionRecord, SESSIONS_CHANNEL};
use crate::ids::PlayerId;
use crate::table::seat::Kick;

/// How often a node checks every connection it holds against the revocation markers and the
/// token's expiry (one pipelined lookup per [`crate::cluster::store::REVOKED_BATCH`]).
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);
/// Sessions one revocation may end (a player's sessions are bounded by token lifetime and
/// sign-ups; this bounds the work of one operator call).
pub const MAX_REVOKED_AT_ONCE: usize = 10_000;

/// Why a connection is closed by the watcher (the close frame's reason).
pub const REVOKED: &str = "session revoked";
/// The player was put on a time-out or self-excluded (operator API).
pub const EXCLUDED: &str = "player excluded";
pub const EXPIRED: &str = "session expired";

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Cluster(#[from] ClusterError),
}

/// The record behind a verified token, if it matches the token exactly.
pub async fn session_for(app: &App, claims: &Claims) -> Result<SessionRecord, AccessError> {
    let record = app
        .shared
        .session(&claims.sid)
        .await?
        .ok_or(AuthError::SessionEnded)?;
    if record.player != claims.sub || record.currency != claims.cur {
        return Err(AuthError::SessionEnded.into());
    }
    Ok(record)
}

/// A message on the sessions channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ended {
    pub sessions: Vec<String>,
    /// Ended because the player was excluded (the close frame says so); a node of an older
    /// version sends none.
    #[serde(default)]
    pub excluded: bool,
}

/// What an operator asks to end.
#[derive(Debug, Clone)]
pub enum Revoke {
    Session(String),
    Player(PlayerId),
}

/// Ends the sessions named, for every node: the records go (no new connection), the markers
/// stay, and every node is told to close their connections now. The ids ended.
pub async fn revoke(app: &App, what: &Revoke) -> Result<Vec<String>, ClusterError> {
    revoke_for(app, what, REVOKED).await
}

/// [`revoke`], the connections closed with `reason` ([`REVOKED`] or [`EXCLUDED`]).
pub async fn revoke_for(
    app: &App,
    what: &Revoke,
    reason: &'static str,
) -> Result<Vec<String>, ClusterError> {
    let sids = match what {
        Revoke::Session(sid) => vec![sid.clone()],
        Revoke::Player(player) => app.shared.player_sessions(player).await?,
    };
    let mut ended = Vec::with_capacity(sids.len().min(MAX_REVOKED_AT_ONCE));
    for sid in sids.into_iter().take(MAX_REVOKED_AT_ONCE) {
        let had = app.shared.revoke_session(&sid).await?;
        if had.is_some() || matches!(what, Revoke::Session(_)) {
            ended.push(sid);
        }
    }
    let message = serde_json::to_string(&Ended {
        sessions: ended.clone(),
        excluded: reason == EXCLUDED,
    })
    .unwrap_or_default();
    app.bus
        .publish_sealed(SESSIONS_CHANNEL, Arc::from(message))
        .await;
    Ok(ended)
}

/// Closes this node's connections of these sessions with `reason`; how many.
fn close(app: &App, sids: &[&str], reason: &'static str) -> usize {
    let mut closed = 0;
    for entry in app.connected.iter() {
        if sids.contains(&entry.value().session_id.as_ref()) {
            entry.value().kick.do_send(Kick(reason));
            closed += 1;
        }
    }
    closed
}

/// This node's session watcher: closes connections of ended sessions as the bus announces
/// them, and every [`RECHECK_EVERY`] those revoked (markers) or expired. Runs until shutdown.
pub fn start_watcher(app: Arc<App>) {
    let mut ended = app.bus.sessions();
    let watcher = app.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = watcher.shutdown.cancelled() => return,
                message = ended.recv() => match message {
                    Ok(text) => match serde_json::from_str::<Ended>(&text) {
                        Ok(Ended { sessions, excluded }) => {
                            let sids: Vec<&str> = sessions.iter().map(String::as_str).collect();
                            let reason = if excluded { EXCLUDED } else { REVOKED };
                            let closed = close(&watcher, &sids, reason);
                            if closed > 0 {
                                tracing::info!(closed, "connections of revoked sessions closed");
                            }
                        }
                        Err(error) => tracing::warn!(%error, "sessions channel: message not understood"),
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RECHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = app.shutdown.cancelled() => return,
                _ = every.tick() => recheck(&app).await,
            }
        }
    });
}

async fn recheck(app: &App) {
    let now = crate::clock::unix_now();
    let mut live: Vec<Arc<str>> = Vec::with_capacity(app.connected.len());
    let mut expired: Vec<Arc<str>> = Vec::new();
    for entry in app.connected.iter() {
        let c = entry.value();
        if c.expires_at <= now {
            expired.push(c.session_id.clone());
        } else {
            live.push(c.session_id.clone());
        }
    }
    if !expired.is_empty() {
        let sids: Vec<&str> = expired.iter().map(|s| s.as_ref()).collect();
        close(app, &sids, EXPIRED);
    }
    live.sort_unstable();
    live.dedup();
    match app.shared.revoked(&live).await {
        Ok(revoked) if !revoked.is_empty() => {
            let sids: Vec<&str> = revoked.iter().map(|s| s.as_ref()).collect();
            let closed = close(app, &sids, REVOKED);
            tracing::info!(closed, "connections of revoked sessions closed (recheck)");
        }
        Ok(_) => {}
        // The shared state is away: connections stay (their token and record were checked at
        // connect); the next recheck tries again.
        Err(error) => tracing::debug!(%error, "session recheck skipped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sessions_message_is_strict() {
        let m = Ended {
            sessions: vec!["a".into()],
            excluded: true,
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Ended>(&text).unwrap(), m);
        // From a node that predates exclusions: a plain revocation.
        let old: Ended = serde_json::from_str(r#"{"sessions":["a"]}"#).unwrap();
        assert!(!old.excluded);
        assert!(serde_json::from_str::<Ended>(r#"{"sessions":[],"x":1}"#).is_err());
    }
}
