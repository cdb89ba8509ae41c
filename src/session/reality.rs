//! A connection's reality checks and the session display (docs/jurisdictions.md, "Reality
//! checks"): the clock shared by the actor (which polls it and pushes `reality_check`) and the
//! frame tasks (which refuse rounds while a check waits and take `reality_check_ack`), and the
//! session's figures, read from the ledger when they are shown so they count every round of
//! the session on every node, slot and table alike. The clock's rules are the core's
//! `jurisdiction::reality`.

use std::sync::{Arc, Mutex};

use croupier_core::jurisdiction::RealityClock;

use super::error::{money, Caller, PlayError};
use crate::app::App;
use crate::protocol::{ServerFrame, SessionView};

/// How often a connection's clock is polled: a check is pushed at most this late.
pub const REALITY_POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A connection's reality-check clock; `None` inside when the profile has none.
#[derive(Clone, Default)]
pub struct Reality(Option<Arc<Mutex<RealityClock>>>);

impl Reality {
    /// The clock of a connection of `caller`'s session (none without reality checks, or for
    /// a connection whose session start is unknown).
    pub fn new(caller: &Caller) -> Self {
        let minutes = caller.rules.profile.reality_check_minutes;
        let clock = caller
            .session_started_ms
            .and_then(|started| RealityClock::new(minutes, started));
        Reality(clock.map(|c| Arc::new(Mutex::new(c))))
    }

    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    fn with<T>(&self, f: impl FnOnce(&mut RealityClock) -> T) -> Option<T> {
        let clock = self.0.as_ref()?;
        let mut guard = match clock.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        Some(f(&mut guard))
    }

    /// `true` once when a check falls due now: the caller pushes it.
    pub fn poll(&self) -> bool {
        self.with(|c| c.poll(crate::clock::now_ms()))
            .unwrap_or(false)
    }

    /// Refuses a new round while a check waits for its acknowledgement.
    pub fn check_may_play(&self) -> Result<(), PlayError> {
        match self.with(|c| c.waiting()) {
            Some(true) => Err(PlayError::RealityCheckPending),
            _ => Ok(()),
        }
    }

    /// The player's acknowledgement: when the next check is due, or an error if none waited.
    pub fn ack(&self) -> Result<i64, PlayError> {
        self.with(|c| c.ack(crate::clock::now_ms()))
            .flatten()
            .ok_or(PlayError::NoRealityCheck)
    }

    pub fn interval_minutes(&self) -> u32 {
        self.with(|c| (c.interval_ms() / 60_000) as u32)
            .unwrap_or(0)
    }
}

/// The session so far: time since its launch and what its rounds staked and won, from the
/// ledger (every node's rounds of the player since the session began).
pub async fn figures(app: &App, caller: &Caller) -> Result<SessionView, PlayError> {
    let now = crate::clock::now_ms();
    let started = caller.session_started_ms.unwrap_or(now);
    let totals = app
        .wallet
        .ledger()
        .session_totals(&caller.player, started)
        .await?;
    let currency = &caller.currency;
    Ok(SessionView {
        elapsed_ms: (now - started).max(0),
        staked: money(totals.staked_minor, currency),
        won: money(totals.won_minor, currency),
        net: money(totals.won_minor - totals.staked_minor, currency),
    })
}

/// The `reality_check` frame of a check that fell due.
pub async fn check_frame(app: &App, caller: &Caller, reality: &Reality) -> ServerFrame {
    match figures(app, caller).await {
        Ok(session) => ServerFrame::RealityCheck {
            session,
            interval_minutes: reality.interval_minutes(),
        },
        Err(error) => {
            // The check stands (no round starts) and is pushed with what is known.
            tracing::warn!(player = %caller.player, %error, "reality check figures unavailable");
            ServerFrame::RealityCheck {
                session: SessionView {
                    elapsed_ms: caller
                        .session_started_ms
                        .map_or(0, |s| (crate::clock::now_ms() - s).max(0)),
                    staked: String::new(),
                    won: String::new(),
                    net: String::new(),
                },
                interval_minutes: reality.interval_minutes(),
            }
        }
    }
}

/// Adds the session's figures to a spin result where the profile asks for them.
pub async fn with_session(app: &App, caller: &Caller, mut frame: ServerFrame) -> ServerFrame {
    let wanted = caller.rules.profile.show_net_position || caller.rules.profile.show_elapsed_time;
    if let (true, ServerFrame::SpinResult { session, .. }) = (wanted, &mut frame) {
        match figures(app, caller).await {
            Ok(figures) => *session = Some(figures),
            Err(error) => tracing::warn!(%error, "session figures unavailable for a spin result"),
        }
    }
    frame
}
