//! The jurisdiction rules in the server: the profiles file loaded at start-up, a session's
//! rules rebuilt from its record on any node, and the speed-of-play check: each slot round
//! start is claimed on the shared state (Redis in a cluster, so reconnecting to another node
//! does not reset it) and given back when the spin is refused before any money moves. The
//! rules themselves are pure, in `croupier_core::jurisdiction`.

use std::path::Path;
use std::sync::Arc;

use croupier_core::jurisdiction::{
    AgeBand, Paced, ProfileError, Profiles, RulesError, SessionRules,
};

use crate::app::App;
use crate::cluster::ClusterError;
use crate::ids::{PlayerId, ReqId};
use crate::money::{Currency, CurrencyTable};
use crate::protocol::ErrorCode;
use crate::wallet::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum JurisdictionError {
    #[error(
        "a slot round may start {interval_ms} ms after the last one under profile {profile}; \
         retry in {retry_after_ms} ms"
    )]
    TooFast {
        profile: String,
        interval_ms: u64,
        retry_after_ms: u64,
    },
    #[error("{0}")]
    Rules(#[from] RulesError),
    #[error("jurisdiction profile {0:?} is not configured on this node")]
    UnknownProfile(String),
    #[error("{0}")]
    Cluster(#[from] ClusterError),
    #[error("{0}")]
    Ledger(#[from] LedgerError),
}

impl JurisdictionError {
    pub fn code(&self) -> ErrorCode {
        match self {
            JurisdictionError::TooFast { .. } => ErrorCode::TooFast,
            JurisdictionError::Rules(e) => e.code(),
            JurisdictionError::UnknownProfile(_) => ErrorCode::InvalidToken,
            JurisdictionError::Cluster(e) => e.code(),
            JurisdictionError::Ledger(e) => e.code(),
        }
    }

    /// When the request may succeed (`too_fast`).
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            JurisdictionError::TooFast { retry_after_ms, .. } => Some(*retry_after_ms),
            _ => None,
        }
    }
}

/// Reads and checks the jurisdictions file; an empty path: only the permissive default.
pub fn load(path: &Path, currencies: &CurrencyTable) -> Result<Profiles, ProfileError> {
    if path.as_os_str().is_empty() {
        return Ok(Profiles::default());
    }
    let text = croupier_core::data::read_data_file(path)
        .map_err(|(key, message)| ProfileError { key, message })?;
    Profiles::parse(&text, currencies)
}

/// The rules of a session from what its record names: the same on every node (they share
/// the file). A profile this node does not know ends the session rather than play it under
/// other rules.
pub fn session_rules(
    profiles: &Profiles,
    profile: &str,
    currency: &Currency,
    age_band: Option<AgeBand>,
) -> Result<Arc<SessionRules>, JurisdictionError> {
    let profile = profiles
        .get(profile)
        .ok_or_else(|| JurisdictionError::UnknownProfile(profile.to_string()))?;
    Ok(Arc::new(SessionRules::new(
        profile.clone(),
        currency,
        age_band,
    )?))
}

/// A claimed slot round start, to give back if the spin is refused before money moves.
#[must_use]
pub struct RoundStart {
    claim: Option<(PlayerId, String)>,
}

impl RoundStart {
    /// Claims the start of a slot round of `player`, or says how long to wait. A resend of
    /// a request whose round already exists answers that round however soon it comes (the
    /// interval is between round starts, and a resend starts none).
    pub async fn claim(
        app: &App,
        player: &PlayerId,
        rules: &SessionRules,
        req_id: &ReqId,
    ) -> Result<RoundStart, JurisdictionError> {
        let interval_ms = rules.min_round_interval_ms();
        if interval_ms == 0 {
            return Ok(RoundStart { claim: None });
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        match app
            .shared
            .claim_round_start(player, interval_ms, &token)
            .await?
        {
            Paced::Go => Ok(RoundStart {
                claim: Some((player.clone(), token)),
            }),
            Paced::Wait { retry_after_ms } => {
                let ledger = app.wallet.ledger();
                if ledger.round_by_req(player, req_id).await?.is_some() {
                    return Ok(RoundStart { claim: None });
                }
                Err(JurisdictionError::TooFast {
                    profile: rules.profile.id.clone(),
                    interval_ms,
                    retry_after_ms,
                })
            }
        }
    }

    /// Gives the start back: the spin was refused and no round began. A shared state that is
    /// away leaves the claim to expire by itself (at most one interval).
    pub async fn give_back(self, app: &App) {
        if let Some((player, token)) = self.claim {
            if let Err(error) = app.shared.release_round_start(&player, &token).await {
                tracing::debug!(%error, "round start not given back; it expires by itself");
            }
        }
    }
}
