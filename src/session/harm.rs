//! Watching a connection's rounds for harm (docs/jurisdictions.md, "Watching for harm"): the
//! profile's rules applied by the core's `jurisdiction::harm` watcher to every slot round this
//! connection settles, and a flag it raises recorded in the ledger (once per session and rule),
//! counted in `croupier_harm_flags_total{rule, profile}` (never by player) and logged.

use std::sync::{Arc, Mutex};

use croupier_core::jurisdiction::HarmWatch;

use super::error::Caller;
use crate::app::App;
use crate::money::Money;
use crate::protocol::ServerFrame;
use crate::wallet::HarmFlagRecord;

/// A connection's watcher; empty when its profile sets no harm rule.
#[derive(Clone, Default)]
pub struct Harm(Option<Arc<Mutex<HarmWatch>>>);

impl Harm {
    pub fn new(caller: &Caller) -> Self {
        let watch = HarmWatch::new(caller.rules.profile.harm);
        Harm(watch.watching().then(|| Arc::new(Mutex::new(watch))))
    }

    /// Feeds a settled spin's stake and win; records each flag it raises for the first time.
    pub async fn observe(&self, app: &App, caller: &Caller, frame: &ServerFrame) {
        let Some(watch) = &self.0 else { return };
        let ServerFrame::SpinResult { bet, win, .. } = frame else {
            return;
        };
        let minor = |text: &str| Money::parse(text, &caller.currency).map(|m| m.minor());
        let (Ok(stake), Ok(won)) = (minor(bet), minor(win)) else {
            return;
        };
        let now = crate::clock::now_ms();
        let elapsed = caller.session_started_ms.map_or(0, |s| (now - s).max(0));
        let raised = match watch.lock() {
            Ok(mut w) => w.round(stake, won, elapsed),
            Err(poisoned) => poisoned.into_inner().round(stake, won, elapsed),
        };
        for flag in raised {
            let profile = caller.rules.profile.id.clone();
            let record = HarmFlagRecord {
                player: caller.player.clone(),
                session_id: caller.session_id.clone(),
                rule: flag.as_str().to_string(),
                profile: profile.clone(),
                raised_at_ms: now,
            };
            match app.wallet.ledger().raise_harm_flag(record).await {
                Ok(true) => {
                    app.metrics
                        .play
                        .harm_flags
                        .with_label_values(&[flag.as_str(), &profile])
                        .inc();
                    tracing::info!(
                        player = %caller.player, session = %caller.session_id,
                        rule = flag.as_str(), profile, "harm flag raised"
                    );
                }
                // Another connection of the session raised it first.
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, rule = flag.as_str(), "harm flag not recorded")
                }
            }
        }
    }
}
